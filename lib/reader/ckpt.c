/* kcsi — opening a checkpoint: layout, images, process tree.
 * See include/kcsi/ckpt.h. */
#include <archive.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader/ckpt_int.h"

int ck_own(kcsi_ckpt *c, void *msg)
{
	if (c->nowned == c->capowned) {
		size_t ncap = c->capowned ? c->capowned * 2 : 64;
		ProtobufCMessage **p = realloc(c->owned, ncap * sizeof(*p));
		if (!p)
			return -1;
		c->owned = p;
		c->capowned = ncap;
	}
	c->owned[c->nowned++] = msg;
	return 0;
}

static char *keep_str(kcsi_ckpt *c, char *s)
{
	if (!s)
		return NULL;
	if (c->nstrs == c->capstrs) {
		size_t ncap = c->capstrs ? c->capstrs * 2 : 64;
		char **p = realloc(c->strs, ncap * sizeof(*p));
		if (!p) {
			free(s);
			return NULL;
		}
		c->strs = p;
		c->capstrs = ncap;
	}
	c->strs[c->nstrs++] = s;
	return s;
}

char *ck_strdup(kcsi_ckpt *c, const char *s)
{
	return s ? keep_str(c, strdup(s)) : NULL;
}

char *ck_strndup(kcsi_ckpt *c, const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return keep_str(c, p);
}

char *ck_printf(kcsi_ckpt *c, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return keep_str(c, s);
}

kcsi_code ck_image_data(kcsi_ckpt *c, const char *name, const unsigned char **data, size_t *size,
			bool *present, kcsi_error *err)
{
	char full[512];
	const kcsi_member *m;
	kcsi_code rc;

	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	*data = NULL;
	*size = 0;
	*present = false;
	m = kcsi_archive_find(c->ar, full);
	if (!m || m->is_dir)
		return KCSI_OK;
	if ((rc = kcsi_member_data(c->ar, m, data, err)) != KCSI_OK)
		return rc;
	*size = (size_t)m->size;
	*present = true;
	return KCSI_OK;
}

kcsi_code ck_once_replay(const struct ck_once *o, kcsi_error *err)
{
	if (o->rc != KCSI_OK)
		kcsi_error_set(err, o->rc, "%s", o->msg ? o->msg : kcsi_strerror(o->rc));
	return o->rc;
}

kcsi_code ck_once_store(struct ck_once *o, kcsi_code rc, const kcsi_error *e, kcsi_error *err)
{
	o->done = true;
	o->rc = rc;
	free(o->msg);
	o->msg = rc != KCSI_OK && e ? strdup(e->msg) : NULL;
	return ck_once_replay(o, err);
}

void ck_once_free(struct ck_once *o)
{
	free(o->msg);
	o->msg = NULL;
}

static int cmp_idref(const void *a, const void *b)
{
	const struct ck_idref *x = a, *y = b;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

void ck_index_sort(struct ck_idref *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_idref);
}

const struct ck_idref *ck_index_find(const struct ck_idref *v, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* the first entry with v[i].id >= id */
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].id == id ? &v[lo] : NULL;
}

/* An image decoded (as one kind) once per open checkpoint. */
struct ck_decoded {
	struct ck_decoded *next;  /* the same member read as another kind */
	const kcsi_image_desc *desc;
	bool first_only;          /* only the first entry (a payload follows it) */
	struct ck_once once;
	ProtobufCMessage **msgs;  /* owned by the checkpoint, like the messages */
	size_t n;
	size_t end;               /* offset after the entries read */
};

static kcsi_code decode_entries(kcsi_ckpt *c, const char *full, const unsigned char *data, size_t size,
				struct ck_decoded *d, kcsi_error *err)
{
	kcsi_image img;
	size_t cap = 0;
	kcsi_code rc;

	if ((rc = kcsi_image_open(&img, full, data, size, d->desc, err)) != KCSI_OK)
		return rc;
	while (!(d->first_only && d->n == 1)) {
		const ProtobufCMessageDescriptor *md = NULL;
		ProtobufCMessage *m;
		if (d->desc->payload == KCSI_PL_PAGEMAP) /* a head, then the entries */
			md = d->n == 0 ? &pagemap_head__descriptor : &pagemap_entry__descriptor;
		if ((rc = kcsi_image_next(&img, md, &m, err)) != KCSI_OK)
			return rc;
		if (!m)
			break;
		if (ck_own(c, m) != 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		if (d->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			ProtobufCMessage **p = realloc(d->msgs, ncap * sizeof(*p));
			if (!p)
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			d->msgs = p;
			cap = ncap;
		}
		d->msgs[d->n++] = m;
	}
	d->end = img.pos;
	return KCSI_OK;
}

/* The image NAME decoded as KIND: from the checkpoint's cache, or decoded
 * now and kept there.  *out NULL when the image is absent. */
static kcsi_code ck_decoded_get(kcsi_ckpt *c, const char *name, const char *kind, bool first_only,
				struct ck_decoded **out, kcsi_error *err)
{
	char full[512];
	const kcsi_member *m;
	const kcsi_image_desc *desc = kcsi_image_desc_by_name(kind);
	struct ck_decoded *d;

	*out = NULL;
	snprintf(full, sizeof(full), "%s%s", c->prefix, name);
	m = kcsi_archive_find(c->ar, full);
	if (!m || m->is_dir)
		return KCSI_OK;
	if (!desc)
		return kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: no image kind %s", full, kind);
	size_t idx = kcsi_archive_index(c->ar, m);
	for (d = c->decoded[idx]; d; d = d->next)
		if (d->desc == desc && d->first_only == first_only)
			break;
	if (!d) {
		if (!(d = calloc(1, sizeof(*d))))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		d->desc = desc;
		d->first_only = first_only;
		d->next = c->decoded[idx];
		c->decoded[idx] = d;
	}
	if (!d->once.done) {
		const unsigned char *data;
		kcsi_error e;
		kcsi_code rc;
		kcsi_error_clear(&e);
		rc = kcsi_member_data(c->ar, m, &data, &e);
		if (rc == KCSI_OK)
			rc = decode_entries(c, full, data, (size_t)m->size, d, &e);
		if (kcsi_archive_check(c->ar, &e) != KCSI_OK) /* read while the file shrank */
			rc = e.code;
		if (rc != KCSI_OK) { /* the messages read stay owned by the checkpoint */
			free(d->msgs);
			d->msgs = NULL;
			d->n = 0;
		}
		ck_once_store(&d->once, rc, &e, NULL);
	}
	*out = d;
	return ck_once_replay(&d->once, err);
}

static void ck_decoded_free(struct ck_decoded *d)
{
	while (d) {
		struct ck_decoded *next = d->next;
		ck_once_free(&d->once);
		free(d->msgs);
		free(d);
		d = next;
	}
}

kcsi_code ck_read_all(kcsi_ckpt *c, const char *name, const char *kind, ProtobufCMessage ***out,
		      size_t *n, kcsi_error *err)
{
	struct ck_decoded *d;
	kcsi_code rc = ck_decoded_get(c, name, kind, false, &d, err);

	*out = NULL;
	*n = 0;
	if (rc != KCSI_OK || !d)
		return rc;
	*out = d->msgs;
	*n = d->n;
	return KCSI_OK;
}

kcsi_code ck_read_first(kcsi_ckpt *c, const char *name, const char *kind, const char *img_name,
			kcsi_image *img, ProtobufCMessage **out, bool *present, kcsi_error *err)
{
	struct ck_decoded *d;
	const unsigned char *data;
	size_t size;
	kcsi_code rc = ck_decoded_get(c, name, kind, true, &d, err);

	*out = NULL;
	*present = d != NULL;
	if (rc != KCSI_OK || !d)
		return rc;
	if ((rc = ck_image_data(c, name, &data, &size, present, err)) != KCSI_OK ||
	    (rc = kcsi_image_open(img, img_name, data, size, d->desc, err)) != KCSI_OK)
		return rc;
	img->pos = d->end;
	img->entry = (unsigned)d->n;
	*out = d->n ? d->msgs[0] : NULL;
	return KCSI_OK;
}

kcsi_code ck_read_one(kcsi_ckpt *c, const char *name, const char *kind, ProtobufCMessage **out,
		      kcsi_error *err)
{
	ProtobufCMessage **all;
	size_t n;
	kcsi_code rc = ck_read_all(c, name, kind, &all, &n, err);
	*out = NULL;
	if (rc != KCSI_OK)
		return rc;
	if (n > 0)
		*out = all[0];
	return KCSI_OK;
}

/* The `id` field every per-type file record has. */
static uint32_t ck_msg_id(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *fd =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "id");
	if (!fd || fd->type != PROTOBUF_C_TYPE_UINT32 || fd->label == PROTOBUF_C_LABEL_REPEATED)
		return 0;
	return *(const uint32_t *)((const char *)m + fd->offset);
}

kcsi_code ck_member_tar(kcsi_ckpt *c, const char *member, struct archive **out, kcsi_error *err)
{
	const kcsi_member *m = kcsi_archive_find(c->ar, member);
	const unsigned char *data;
	struct archive *a;
	kcsi_code rc;

	*out = NULL;
	if (!m || m->is_dir || m->size == 0)
		return KCSI_OK;
	if ((rc = kcsi_member_data(c->ar, m, &data, err)) != KCSI_OK)
		return rc;
	if (!(a = kcsi_tar_reader()))
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (archive_read_open_memory(a, data, (size_t)m->size) != ARCHIVE_OK) {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s", kcsi_archive_path(c->ar), member,
				    archive_error_string(a) ? archive_error_string(a) : "not a tar");
		archive_read_free(a);
		return rc;
	}
	*out = a;
	return KCSI_OK;
}

static int cmp_file(const void *a, const void *b)
{
	const FileEntry *x = *(FileEntry *const *)a, *y = *(FileEntry *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

FileEntry *ck_file(const kcsi_ckpt *c, uint32_t id)
{
	size_t lo = 0, hi = c->nfiles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->files[mid]->id == id)
			return c->files[mid];
		if (c->files[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct proc_priv *ck_proc(const kcsi_ckpt *c, uint32_t pid)
{
	size_t lo = 0, hi = c->nprocs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->procs[mid].pub.pid == pid)
			return &c->procs[mid];
		if (c->procs[mid].pub.pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Older CRIU wrote one image per file type instead of files.img.  Each entry
 * becomes a FileEntry of that type so the rest of kcsi sees one shape. */
static const struct legacy_files {
	const char *image, *kind;
	FdTypes type;
	size_t member; /* offset of the pointer in FileEntry */
} legacy_files[] = {
	{"reg-files.img", "REG_FILES", FD_TYPES__REG, offsetof(FileEntry, reg)},
	{"inetsk.img", "INETSK", FD_TYPES__INETSK, offsetof(FileEntry, isk)},
	{"unixsk.img", "UNIXSK", FD_TYPES__UNIXSK, offsetof(FileEntry, usk)},
	{"pipes.img", "PIPES", FD_TYPES__PIPE, offsetof(FileEntry, pipe)},
	{"fifo.img", "FIFO", FD_TYPES__FIFO, offsetof(FileEntry, fifo)},
	{"eventfd.img", "EVENTFD_FILE", FD_TYPES__EVENTFD, offsetof(FileEntry, efd)},
	{"eventpoll.img", "EVENTPOLL_FILE", FD_TYPES__EVENTPOLL, offsetof(FileEntry, epfd)},
	{"signalfd.img", "SIGNALFD", FD_TYPES__SIGNALFD, offsetof(FileEntry, sgfd)},
	{"timerfd.img", "TIMERFD", FD_TYPES__TIMERFD, offsetof(FileEntry, tfd)},
	{"inotify.img", "INOTIFY_FILE", FD_TYPES__INOTIFY, offsetof(FileEntry, ify)},
	{"fanotify.img", "FANOTIFY_FILE", FD_TYPES__FANOTIFY, offsetof(FileEntry, ffy)},
	{"packetsk.img", "PACKETSK", FD_TYPES__PACKETSK, offsetof(FileEntry, psk)},
	{"netlinksk.img", "NETLINK_SK", FD_TYPES__NETLINKSK, offsetof(FileEntry, nlsk)},
	{"tunfile.img", "TUNFILE", FD_TYPES__TUNF, offsetof(FileEntry, tunf)},
	{"tty.img", "TTY_FILES", FD_TYPES__TTY, offsetof(FileEntry, tty)},
	{"ext-files.img", "EXT_FILES", FD_TYPES__EXT, offsetof(FileEntry, ext)},
	{"ns-files.img", "NS_FILES", FD_TYPES__NS, offsetof(FileEntry, nsf)},
	{"memfd.img", "MEMFD_FILE", FD_TYPES__MEMFD, offsetof(FileEntry, memfd)},
};

static kcsi_code load_files(kcsi_ckpt *c, kcsi_error *err)
{
	ProtobufCMessage **all;
	size_t n, cap;
	kcsi_code rc;

	if ((rc = ck_read_all(c, "files.img", "FILES", &all, &n, err)) != KCSI_OK)
		return rc;
	c->files = malloc((n ? n : 1) * sizeof(FileEntry *));
	if (!c->files)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		c->files[i] = (FileEntry *)all[i];
	c->nfiles = n;
	cap = n ? n : 1;
	for (size_t t = 0; t < sizeof(legacy_files) / sizeof(legacy_files[0]); t++) {
		const kcsi_image_desc *d = kcsi_image_desc_by_name(legacy_files[t].kind);
		if (!d)
			continue;
		/* memfd.img holds MEMFD_INODE records in CRIU 4: only the legacy
		 * MEMFD_FILE magic is a file list */
		const unsigned char *data;
		size_t size;
		bool present;
		char full[512];
		kcsi_image img;
		if ((rc = ck_image_data(c, legacy_files[t].image, &data, &size, &present, err)) != KCSI_OK)
			return rc;
		if (!present)
			continue;
		snprintf(full, sizeof(full), "%s%s", c->prefix, legacy_files[t].image);
		if (kcsi_image_open(&img, full, data, size, d, NULL) != KCSI_OK)
			continue; /* same name, other kind (e.g. memfd inodes) */
		for (;;) {
			ProtobufCMessage *m;
			FileEntry *fe;
			if ((rc = kcsi_image_next(&img, NULL, &m, err)) != KCSI_OK)
				return rc;
			if (!m)
				break;
			fe = calloc(1, sizeof(*fe));
			if (!fe || ck_own(c, m) != 0) {
				free(fe);
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			}
			file_entry__init(fe);
			fe->type = legacy_files[t].type;
			fe->id = ck_msg_id(m);
			*(ProtobufCMessage **)((char *)fe + legacy_files[t].member) = m;
			if (!keep_str(c, (char *)fe))
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			if (c->nfiles == cap) {
				FileEntry **p = realloc(c->files, cap * 2 * sizeof(*p));
				if (!p)
					return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				c->files = p;
				cap *= 2;
			}
			c->files[c->nfiles++] = fe;
		}
	}
	qsort(c->files, c->nfiles, sizeof(FileEntry *), cmp_file);
	return KCSI_OK;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc_priv *x = a, *y = b;
	return x->pub.pid < y->pub.pid ? -1 : x->pub.pid > y->pub.pid;
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case 1: return "running";
	case 2: return "dead";
	case 3: return "stopped";
	case 6: return "zombie";
	default: return "unknown";
	}
}

static uint64_t cap_words(const uint32_t *w, size_t n)
{
	uint64_t v = 0;
	if (n > 0)
		v = w[0];
	if (n > 1)
		v |= (uint64_t)w[1] << 32;
	return v;
}

static kcsi_code load_proc(kcsi_ckpt *c, struct proc_priv *p, kcsi_error *err)
{
	char name[64];
	ProtobufCMessage *m;
	kcsi_code rc;
	kcsi_proc *pub = &p->pub;

	snprintf(name, sizeof(name), "core-%u.img", pub->pid);
	if ((rc = ck_read_one(c, name, "CORE", &m, err)) != KCSI_OK)
		return rc;
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s%s: missing (pstree.img lists pid %u)",
				      c->prefix, name, pub->pid);
	p->core = (CoreEntry *)m;
	if (p->core->tc) {
		pub->state = p->core->tc->task_state;
		pub->comm = p->core->tc->comm;
	}
	pub->state_name = state_name(pub->state);
	if (!pub->comm && p->core->thread_core)
		pub->comm = p->core->thread_core->comm;
	if (!pub->comm)
		pub->comm = "";
	if (p->core->thread_core && p->core->thread_core->creds) {
		CredsEntry *cr = p->core->thread_core->creds;
		pub->has_creds = true;
		pub->uid = cr->uid; pub->gid = cr->gid; pub->euid = cr->euid; pub->egid = cr->egid;
		pub->suid = cr->suid; pub->sgid = cr->sgid; pub->fsuid = cr->fsuid; pub->fsgid = cr->fsgid;
		pub->cap_inh = cap_words(cr->cap_inh, cr->n_cap_inh);
		pub->cap_prm = cap_words(cr->cap_prm, cr->n_cap_prm);
		pub->cap_eff = cap_words(cr->cap_eff, cr->n_cap_eff);
		pub->cap_bnd = cap_words(cr->cap_bnd, cr->n_cap_bnd);
		pub->lsm_profile = cr->lsm_profile;
	}
	if (p->core->thread_core && p->core->thread_core->has_seccomp_mode) {
		switch (p->core->thread_core->seccomp_mode) {
		case 1: pub->seccomp = "strict"; break;
		case 2: pub->seccomp = "filter"; break;
		default: pub->seccomp = "disabled"; break;
		}
	} else {
		pub->seccomp = "disabled";
	}
	p->ids = p->core->ids;
	if (!p->ids) {
		snprintf(name, sizeof(name), "ids-%u.img", pub->pid);
		if ((rc = ck_read_one(c, name, "IDS", &m, err)) != KCSI_OK)
			return rc;
		p->ids = (TaskKobjIdsEntry *)m;
	}
	if (p->ids) {
		pub->files_id = p->ids->files_id;
		pub->vm_id = p->ids->vm_id;
		pub->fs_id = p->ids->fs_id;
		pub->net_ns_id = p->ids->net_ns_id;
		pub->pid_ns_id = p->ids->pid_ns_id;
		pub->mnt_ns_id = p->ids->mnt_ns_id;
	}
	if (pub->state == 6)
		return KCSI_OK; /* zombies have no mm, fs or files */
	snprintf(name, sizeof(name), "mm-%u.img", pub->pid);
	if ((rc = ck_read_one(c, name, "MM", &m, err)) != KCSI_OK)
		return rc;
	p->mm = (MmEntry *)m;
	snprintf(name, sizeof(name), "fs-%u.img", pub->pid);
	if ((rc = ck_read_one(c, name, "FS", &m, err)) != KCSI_OK)
		return rc;
	p->fs = (FsEntry *)m;
	if (p->ids) {
		snprintf(name, sizeof(name), "fdinfo-%u.img", p->ids->files_id);
		if ((rc = ck_read_all(c, name, "FDINFO", &p->fdinfo, &p->nfdinfo, err)) != KCSI_OK)
			return rc;
	}
	if (p->mm) {
		FileEntry *f = ck_file(c, p->mm->exe_file_id);
		if (f) {
			RemapFilePathEntry *r = ck_remap(c, f->id);
			pub->exe = ck_file_path(c, f);
			pub->exe_memfd = f->type == FD_TYPES__MEMFD;
			pub->exe_deleted = r && r->has_remap_type ? r->remap_type != REMAP_TYPE__PROCFS : r != NULL;
		}
	}
	return KCSI_OK;
}

/* Who holds each file: descriptors by file id, executables by file id. */
static kcsi_code index_holders(kcsi_ckpt *c, kcsi_error *err)
{
	size_t nfd = 0, pos = 0;
	for (size_t i = 0; i < c->nprocs; i++)
		nfd += c->procs[i].nfdinfo;
	c->holder_ix = malloc((nfd ? nfd : 1) * sizeof(*c->holder_ix));
	c->exe_ix = malloc(c->nprocs * sizeof(*c->exe_ix));
	if (!c->holder_ix || !c->exe_ix)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->nprocs; i++) {
		struct proc_priv *p = &c->procs[i];
		for (size_t k = 0; k < p->nfdinfo; k++, pos++)
			c->holder_ix[pos] = (struct ck_idref){((FdinfoEntry *)p->fdinfo[k])->id, pos, p, p->fdinfo[k]};
		if (p->mm)
			c->exe_ix[c->nexe_ix++] = (struct ck_idref){p->mm->exe_file_id, i, p, NULL};
	}
	c->nholder_ix = nfd;
	ck_index_sort(c->holder_ix, c->nholder_ix);
	ck_index_sort(c->exe_ix, c->nexe_ix);
	return KCSI_OK;
}

static kcsi_code load_images(kcsi_ckpt *c, kcsi_error *err)
{
	ProtobufCMessage *m;
	kcsi_code rc;

	if ((rc = ck_read_one(c, "inventory.img", "INVENTORY", &m, err)) != KCSI_OK)
		return rc;
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %sinventory.img: empty image",
				      kcsi_archive_path(c->ar), c->prefix);
	c->inv = (InventoryEntry *)m;
	c->meta.img_version = c->inv->img_version;
	if ((rc = load_files(c, err)) != KCSI_OK || (rc = ck_load_uts(c, err)) != KCSI_OK)
		return rc;
	if ((rc = ck_read_all(c, "remap-fpath.img", "REMAP_FPATH", (ProtobufCMessage ***)&c->remaps,
			      &c->nremaps, err)) != KCSI_OK)
		return rc;
	if (c->nremaps) {
		if (!(c->remap_ix = calloc(c->nremaps, sizeof(*c->remap_ix))))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < c->nremaps; i++)
			c->remap_ix[i] = (struct ck_idref){c->remaps[i]->orig_id, i, c->remaps[i], NULL};
		ck_index_sort(c->remap_ix, c->nremaps);
	}
	if ((rc = ck_read_all(c, "pstree.img", "PSTREE", &c->pstree, &c->npstree, err)) != KCSI_OK)
		return rc;
	if (c->npstree == 0)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %spstree.img: missing or empty",
				      kcsi_archive_path(c->ar), c->prefix);
	c->procs = calloc(c->npstree, sizeof(*c->procs));
	if (!c->procs)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < c->npstree; i++) {
		PstreeEntry *pe = (PstreeEntry *)c->pstree[i];
		struct proc_priv *p = &c->procs[i];
		p->pst = pe;
		p->pub.pid = pe->pid;
		p->pub.ppid = pe->ppid;
		p->pub.pgid = pe->pgid;
		p->pub.sid = pe->sid;
		p->pub.nthreads = (uint32_t)pe->n_threads;
		p->pub.tids = pe->threads;
	}
	c->nprocs = c->npstree;
	qsort(c->procs, c->nprocs, sizeof(*c->procs), cmp_proc);
	for (size_t i = 1; i < c->nprocs; i++)
		if (c->procs[i].pub.pid == c->procs[i - 1].pub.pid)
			return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %spstree.img: pid %u listed twice",
					      kcsi_archive_path(c->ar), c->prefix, c->procs[i].pub.pid);
	for (size_t i = 0; i < c->nprocs; i++) {
		if ((rc = load_proc(c, &c->procs[i], err)) != KCSI_OK)
			return rc;
		if (c->flags & KCSI_CKPT_MEMORY) {
			if ((rc = ck_load_cmdline(c, &c->procs[i], err)) != KCSI_OK)
				return rc;
		}
	}
	return index_holders(c, err);
}

kcsi_code kcsi_ckpt_open(const char *path, unsigned flags, kcsi_ckpt **out, kcsi_error *err)
{
	kcsi_ckpt *c;
	kcsi_code rc;
	unsigned arflags = (flags & (KCSI_CKPT_MEMORY | KCSI_CKPT_BULK)) ? KCSI_AR_BULK : 0;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	c->flags = flags;
	if ((rc = kcsi_archive_open(path, arflags, NULL, &c->ar, err)) != KCSI_OK) {
		free(c);
		return rc;
	}
	if (!(c->decoded = calloc(kcsi_archive_count(c->ar) + 1, sizeof(*c->decoded)))) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (kcsi_archive_find(c->ar, "checkpoint/inventory.img"))
		c->prefix = "checkpoint/";
	else if (kcsi_archive_find(c->ar, "inventory.img"))
		c->prefix = "";
	else {
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT,
				    "%s: no checkpoint/inventory.img: not a container checkpoint (no CRIU images)",
				    path);
		goto fail;
	}
	if ((rc = ck_load_meta(c, err)) != KCSI_OK ||
	    (!(flags & KCSI_CKPT_META_ONLY) && (rc = load_images(c, err)) != KCSI_OK) ||
	    (rc = kcsi_archive_check(c->ar, err)) != KCSI_OK)
		goto fail;
	*out = c;
	return KCSI_OK;
fail:
	if (err && strncmp(err->msg, path, strlen(path)) != 0)
		kcsi_error_prefix(err, "%s", path);
	kcsi_ckpt_close(c);
	return rc;
}

void kcsi_ckpt_close(kcsi_ckpt *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nprocs; i++) {
		free(c->procs[i].runs);
		ck_once_free(&c->procs[i].runs_once);
		ck_once_free(&c->procs[i].pagemap_once);
		free(c->procs[i].pub.argv);
		free(c->procs[i].pub.env);
	}
	free(c->procs);
	for (size_t i = 0; i < c->nshmem; i++) {
		free(c->shmem[i].runs);
		ck_once_free(&c->shmem[i].once);
	}
	free(c->shmem);
	ck_once_free(&c->shmem_once);
	free(c->memfd_ix);
	ck_once_free(&c->memfd_once);
	free(c->remap_ix);
	free(c->holder_ix);
	free(c->exe_ix);
	for (size_t i = 0; c->decoded && i < kcsi_archive_count(c->ar); i++)
		ck_decoded_free(c->decoded[i]);
	free(c->decoded);
	for (size_t i = 0; i < c->nowned; i++)
		protobuf_c_message_free_unpacked(c->owned[i], NULL);
	free(c->owned);
	for (size_t i = 0; i < c->nstrs; i++)
		free(c->strs[i]);
	free(c->strs);
	free(c->files);
	json_decref(c->config);
	json_decref(c->spec);
	json_decref(c->network);
	json_decref(c->bind_mounts);
	kcsi_archive_close(c->ar);
	free(c);
}

kcsi_archive *kcsi_ckpt_archive(kcsi_ckpt *c) { return c->ar; }
const char *kcsi_ckpt_image_dir(const kcsi_ckpt *c) { return c->prefix; }
const kcsi_meta *kcsi_ckpt_meta(const kcsi_ckpt *c) { return &c->meta; }
const json_t *kcsi_ckpt_config(const kcsi_ckpt *c) { return c->config; }
const json_t *kcsi_ckpt_spec(const kcsi_ckpt *c) { return c->spec; }
const json_t *kcsi_ckpt_network(const kcsi_ckpt *c) { return c->network; }
const json_t *kcsi_ckpt_bind_mounts(const kcsi_ckpt *c) { return c->bind_mounts; }
size_t kcsi_ckpt_nprocs(const kcsi_ckpt *c) { return c->nprocs; }

const kcsi_proc *kcsi_ckpt_proc(const kcsi_ckpt *c, size_t i)
{
	return i < c->nprocs ? &c->procs[i].pub : NULL;
}

const kcsi_proc *kcsi_ckpt_proc_by_pid(const kcsi_ckpt *c, uint32_t pid)
{
	struct proc_priv *p = ck_proc(c, pid);
	return p ? &p->pub : NULL;
}

size_t kcsi_ckpt_proc_index(const kcsi_ckpt *c, uint32_t pid)
{
	struct proc_priv *p = ck_proc(c, pid);
	return p ? (size_t)(p - c->procs) : c->nprocs;
}

kcsi_code kcsi_ckpt_tree(const kcsi_ckpt *c, size_t **order, size_t **depth, kcsi_error *err)
{
	size_t n = c->nprocs, out = 0;
	size_t *first = malloc((n + 1) * sizeof(size_t)), *next = malloc((n + 1) * sizeof(size_t));
	size_t *ord = malloc((n + 1) * sizeof(size_t)), *dep = malloc((n + 1) * sizeof(size_t));
	struct item { size_t i, depth; } *stack = malloc((n + 1) * sizeof(*stack));
	bool *done = calloc(n + 1, 1);

	*order = *depth = NULL;
	if (!first || !next || !ord || !dep || !stack || !done) {
		free(ord);
		free(dep);
		ord = dep = NULL;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		first[i] = next[i] = n; /* n: none */
	for (size_t i = n; i-- > 0;) { /* children lists, in pid order */
		size_t parent = kcsi_ckpt_proc_index(c, c->procs[i].pub.ppid);
		if (parent < n && parent != i) {
			next[i] = first[parent];
			first[parent] = i;
		}
	}
	/* roots first (no parent in the checkpoint), then what is left */
	for (int pass = 0; pass < 2; pass++)
		for (size_t r = 0; r < n; r++) {
			size_t top = 0;
			if (done[r] || (pass == 0 && ck_proc(c, c->procs[r].pub.ppid)))
				continue;
			stack[top++] = (struct item){r, 0};
			while (top > 0) { /* at most one entry per process: each has one parent */
				struct item it = stack[--top];
				size_t k, j = 0;
				if (done[it.i])
					continue;
				done[it.i] = true;
				ord[out] = it.i;
				dep[out++] = it.depth;
				/* the children go on in reverse, so the lowest pid comes off first */
				for (k = first[it.i]; k < n; k = next[k])
					j++;
				top += j;
				j = 0;
				for (k = first[it.i]; k < n; k = next[k], j++)
					stack[top - 1 - j] = (struct item){k, it.depth + 1};
			}
		}
out:
	free(first);
	free(next);
	free(stack);
	free(done);
	if (!ord)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	*order = ord;
	*depth = dep;
	return KCSI_OK;
}

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

const char *kcsi_cap_name(unsigned bit)
{
	return bit < sizeof(cap_names) / sizeof(cap_names[0]) ? cap_names[bit] : NULL;
}
