/* kcsi detonate — confinement by construction: what of the archive may reach
 * the restore.
 *
 * A checkpoint comes from a compromised container, so nothing in it decides
 * what of the host the restored process sees.  The restore copy that podman
 * imports is built here from an allow-list:
 *   - config.dump and spec.dump are never copied: a podman container config
 *     and an OCI spec are written from scratch (a fresh id and name, the
 *     image kcsi resolved, the archive's command, environment, working
 *     directory and user; kernel filesystems; namespaces pid, ipc, uts and
 *     mount; a default container's capabilities; no hooks, devices, sysctls,
 *     annotations, id mappings or host paths).  Every bind mount gets a
 *     sandbox-owned source on a size-capped tmpfs (an empty directory, or a
 *     sparse stand-in of each file the processes held open there);
 *   - the CRIU images are checked: every process must live in its own pid,
 *     mount, ipc and uts namespaces (else CRIU would restore it into the
 *     host's); mounts may only be kernel filesystems, the container's root or
 *     external binds (which take their source from the spec above); sysfs,
 *     cgroup and proc sub-mounts are made read-only and /proc/sys must be
 *     masked; capabilities beyond a default container's are dropped (the core
 *     images are re-encoded); cgroup paths may not climb; device nodes other
 *     than a container's standard ones are dropped from tmpfs contents;
 *   - rootfs-diff.tar, devshm-checkpoint.tar and deleted.files are rewritten:
 *     no absolute or climbing names, no whiteouts, no devices, no hard link
 *     to outside the tar, and no name that reaches through a symbolic link
 *     (of the tar itself or of the image's root file system), because podman
 *     applies them on the host before the container exists;
 *   - every other member (network.status, stats-dump, logs, volumes,
 *     artifacts ...) is left out.
 * Each decision is recorded for the report (sandbox.confinement).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader/ckpt_int.h"
#include "sandbox/sandbox_int.h"
#include "sandbox/confine_int.h"
#include "base/safeout.h"

/* ---- small helpers ---- */

kcsi_code det_cf_nomem(kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

void det_cf_note(det_confine *cf, const char *list, json_t *item)
{
	json_t *a = json_object_get(cf->report, list);
	if (!a) {
		a = json_array();
		json_object_set_new(cf->report, list, a);
	}
	/* bounded: an archive cannot grow the report without end */
	if (json_array_size(a) < 1000)
		json_array_append_new(a, item);
	else
		json_decref(item);
}

static bool has_dotdot(const char *p)
{
	for (const char *s = p; s && *s;) {
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		while (*s == '/')
			s++;
	}
	return false;
}

kcsi_code det_cf_add_repl(det_confine *cf, const char *name, unsigned char *data, size_t len, const char *file,
			  kcsi_error *err)
{
	struct det_repl *r = realloc(cf->repl, (cf->nrepl + 1) * sizeof(*r));
	if (!r) {
		free(data);
		return det_cf_nomem(err);
	}
	cf->repl = r;
	r = &cf->repl[cf->nrepl++];
	r->name = strdup(name);
	r->data = data;
	r->len = len;
	r->file = file ? strdup(file) : NULL;
	if (!r->name || (file && !r->file))
		return det_cf_nomem(err);
	return KCSI_OK;
}

static const struct det_repl *find_repl(const det_confine *cf, const char *name)
{
	for (size_t i = 0; i < cf->nrepl; i++)
		if (!strcmp(cf->repl[i].name, name))
			return &cf->repl[i];
	return NULL;
}

/* Re-encode an image: its header (magics) as found in data, then the messages. */
static kcsi_code repack(const unsigned char *data, ProtobufCMessage **msgs, size_t n, unsigned char **out, size_t *len,
			kcsi_error *err)
{
	size_t hdr, total;
	unsigned char *b, *p;
	/* the header is what precedes the first entry: 4 or 8 bytes */
	hdr = (kcsi_le32(data) == KCSI_IMG_COMMON_MAGIC || kcsi_le32(data) == KCSI_IMG_SERVICE_MAGIC) ? 8 : 4;
	total = hdr;
	for (size_t i = 0; i < n; i++)
		total += 4 + protobuf_c_message_get_packed_size(msgs[i]);
	if (!(b = malloc(total)))
		return det_cf_nomem(err);
	memcpy(b, data, hdr);
	p = b + hdr;
	for (size_t i = 0; i < n; i++) {
		size_t sz = protobuf_c_message_get_packed_size(msgs[i]);
		p[0] = (unsigned char)sz;
		p[1] = (unsigned char)(sz >> 8);
		p[2] = (unsigned char)(sz >> 16);
		p[3] = (unsigned char)(sz >> 24);
		protobuf_c_message_pack(msgs[i], p + 4);
		p += 4 + sz;
	}
	*out = b;
	*len = total;
	return KCSI_OK;
}

/* Every entry of the image member MEMBER (full member name), decoded by the
 * checkpoint (which owns the messages: edits to them are edits for the
 * restore copy only); *msgs is a copy of the list, the caller's to free;
 * *data the image's bytes, for its header. */
static kcsi_code read_image(kcsi_ckpt *c, const char *member, const char *kind, const unsigned char **data,
			    ProtobufCMessage ***msgs, size_t *n, kcsi_error *err)
{
	const char *name = member + strlen(kcsi_ckpt_image_dir(c));
	ProtobufCMessage **all;
	size_t size;
	bool present;
	kcsi_code rc;
	*msgs = NULL;
	*n = 0;
	if ((rc = ck_image_data(c, name, data, &size, &present, err)))
		return rc;
	if (!present || size < 4)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: no image", kcsi_archive_path(c->ar), member);
	if ((rc = ck_read_all(c, name, kind, &all, n, err)))
		return rc;
	if (*n && !(*msgs = malloc(*n * sizeof(**msgs))))
		return det_cf_nomem(err);
	if (*n)
		memcpy(*msgs, all, *n * sizeof(**msgs));
	return KCSI_OK;
}

/* Members under the image prefix whose base name matches PATTERN. */
typedef kcsi_code (*member_fn)(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err);

static kcsi_code each_image(kcsi_ckpt *c, det_confine *cf, const char *pattern, member_fn fn, kcsi_error *err)
{
	const char *prefix = kcsi_ckpt_image_dir(c);
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < kcsi_archive_count(c->ar); i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		kcsi_code rc;
		if (m->is_dir || strncmp(m->name, prefix, plen) || strchr(m->name + plen, '/') ||
		    fnmatch(pattern, m->name + plen, 0))
			continue;
		if ((rc = fn(c, cf, m, err)))
			return rc;
	}
	return KCSI_OK;
}

/* ---- namespaces ---- */

static kcsi_code check_namespaces(kcsi_ckpt *c, det_confine *cf, kcsi_error *err)
{
	const TaskKobjIdsEntry *root = c->inv ? c->inv->root_ids : NULL;
	if (!root || !root->has_pid_ns_id || !root->has_mnt_ns_id)
		return kcsi_error_set(err, KCSI_ERR_UNSAFE,
				      "%s: inventory.img does not say which namespaces were the host's: refusing to restore",
				      kcsi_archive_path(c->ar));
	for (size_t i = 0; i < c->nprocs; i++) {
		const struct proc_priv *p = &c->procs[i];
		const TaskKobjIdsEntry *id = p->ids;
		const char *shared = NULL;
		if (!id || !id->has_pid_ns_id || !id->has_mnt_ns_id)
			shared = "pid and mount (not recorded)";
		else if (id->pid_ns_id == root->pid_ns_id)
			shared = "pid";
		else if (id->mnt_ns_id == root->mnt_ns_id)
			shared = "mount";
		else if (root->has_ipc_ns_id && id->has_ipc_ns_id && id->ipc_ns_id == root->ipc_ns_id)
			shared = "ipc";
		else if (root->has_uts_ns_id && id->has_uts_ns_id && id->uts_ns_id == root->uts_ns_id)
			shared = "uts";
		if (shared)
			return kcsi_error_set(err, KCSI_ERR_UNSAFE,
					      "%s: process %u shares the checkpointing host's %s namespace: a restore would "
					      "put it in the host's; refusing to restore",
					      kcsi_archive_path(c->ar), p->pub.pid, shared);
	}
	json_object_set_new(cf->report, "namespaces",
			    json_pack("{s:[ssss], s:s}", "private", "pid", "mount", "ipc", "uts", "network",
				      "the sandbox's (no route out)"));
	return KCSI_OK;
}

/* ---- mounts ---- */

static const char *fs_name(uint32_t t)
{
	switch (t) {
	case FS_PROC: return "proc";
	case FS_SYSFS: return "sysfs";
	case FS_TMPFS: return "tmpfs";
	case FS_DEVPTS: return "devpts";
	case FS_CGROUP: return "cgroup";
	case FS_MQUEUE: return "mqueue";
	case FS_OVERLAY: return "overlay";
	case FS_CGROUP2: return "cgroup2";
	default: return NULL;
	}
}

static kcsi_code add_bind(det_confine *cf, const char *dest, kcsi_error *err)
{
	for (size_t i = 0; i < cf->nbinds; i++)
		if (!strcmp(cf->binds[i].dest, dest))
			return KCSI_OK;
	struct det_bind *b = realloc(cf->binds, (cf->nbinds + 1) * sizeof(*b));
	if (!b)
		return det_cf_nomem(err);
	cf->binds = b;
	b = &cf->binds[cf->nbinds++];
	memset(b, 0, sizeof(*b));
	if (!(b->dest = strdup(dest)))
		return det_cf_nomem(err);
	return KCSI_OK;
}

/* Is there a read-only proc mount (or any mask) at PARENT/NAME? */
static bool masked(MntEntry **all, size_t n, const char *parent, const char *name)
{
	char want[4200];
	snprintf(want, sizeof(want), "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", name);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i]->mountpoint, want) &&
		    (all[i]->fstype != FS_PROC || (all[i]->flags & MS_RDONLY_FLAG)))
			return true;
	return false;
}

/* A read-only bind of proc's NAME over PROC/NAME, as runc's read-only paths
 * make it: the same super block (root_dev), root "/NAME", a fresh mount id. */
static kcsi_code add_proc_mask(det_confine *cf, MntEntry ***all, size_t *n, const MntEntry *proc, const char *name,
			       kcsi_error *err)
{
	uint32_t id = 0;
	MntEntry **grown = realloc(*all, (*n + 1) * sizeof(*grown));
	MntEntry *e = calloc(1, sizeof(*e));
	char *root = malloc(strlen(name) + 2), *mp = malloc(strlen(proc->mountpoint) + strlen(name) + 2);
	if (!grown || !e || !root || !mp) {
		free(e);
		free(root);
		free(mp);
		if (grown)
			*all = grown;
		return det_cf_nomem(err);
	}
	*all = grown;
	for (size_t i = 0; i < *n; i++)
		if (grown[i]->mnt_id > id)
			id = grown[i]->mnt_id;
	mnt_entry__init(e);
	sprintf(root, "/%s", name);
	sprintf(mp, "%s%s%s", proc->mountpoint, strcmp(proc->mountpoint, "/") ? "/" : "", name);
	e->fstype = FS_PROC;
	e->mnt_id = id + 1 + (uint32_t)cf->nmasks;
	e->root_dev = proc->root_dev;
	e->parent_mnt_id = proc->mnt_id;
	e->flags = proc->flags | MS_RDONLY_FLAG | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	e->root = root;
	e->mountpoint = mp;
	e->source = proc->source;
	e->options = proc->options;
	e->has_shared_id = proc->has_shared_id;
	e->shared_id = proc->shared_id;
	e->has_master_id = proc->has_master_id;
	e->master_id = proc->master_id;
	e->has_sb_flags = proc->has_sb_flags;
	e->sb_flags = proc->sb_flags;
	grown[(*n)++] = e;
	/* kept until the plan is freed: the messages are packed later */
	struct det_mask *mk = realloc(cf->masks, (cf->nmasks + 1) * sizeof(*mk));
	if (!mk) {
		(*n)--;
		free(e);
		free(root);
		free(mp);
		return det_cf_nomem(err);
	}
	cf->masks = mk;
	cf->masks[cf->nmasks++] = (struct det_mask){e, root, mp};
	det_cf_note(cf, "masks_added", json_pack("{s:s, s:s}", "mountpoint", mp, "how", "read-only bind of proc"));
	return KCSI_OK;
}

static kcsi_code check_mount_image(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	const unsigned char *img;
	bool changed = false;
	bool sysrq = access("/proc/sysrq-trigger", F_OK) == 0;
	kcsi_code rc;
	if ((rc = read_image(c, m->name, "MNTS", &img, &msgs, &n, err)))
		return rc;
	MntEntry **all = (MntEntry **)msgs;
	for (size_t i = 0; i < n && !rc; i++) {
		MntEntry *e = all[i];
		const char *fs = fs_name(e->fstype);
		bool ext = e->ext_key || (e->has_ext_mount && e->ext_mount);
		if (!e->mountpoint || !e->root || e->mountpoint[0] != '/' || has_dotdot(e->mountpoint) ||
		    has_dotdot(e->root)) {
			rc = kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: %s: mount %u has a climbing path: refusing to restore",
					    kcsi_archive_path(c->ar), m->name, e->mnt_id);
			break;
		}
		if (ext) {
			/* CRIU takes the source from the runtime's map: the spec's bind
			 * mounts (ours) by destination, and /dev/null for masked paths */
			const char *key = e->ext_key ? e->ext_key : e->mountpoint;
			if (strcmp(key, "/dev/null"))
				rc = add_bind(cf, key, err);
			continue;
		}
		if (!fs || (e->fstype == FS_OVERLAY && strcmp(e->mountpoint, "/"))) {
			rc = kcsi_error_set(err, KCSI_ERR_UNSAFE,
					    "%s: %s: mount %u at %s is a %s file system with source %s: a restore would "
					    "give the process a file system of the host; refusing to restore",
					    kcsi_archive_path(c->ar), m->name, e->mnt_id, e->mountpoint,
					    e->fsname ? e->fsname : fs ? fs : "host", e->source ? e->source : "?");
			break;
		}
		bool force_ro = e->fstype == FS_SYSFS || e->fstype == FS_CGROUP || e->fstype == FS_CGROUP2 ||
				(e->fstype == FS_PROC && strcmp(e->root, "/"));
		if (force_ro && !(e->flags & MS_RDONLY_FLAG)) {
			e->flags |= MS_RDONLY_FLAG;
			changed = true;
			det_cf_note(cf, "mounts_forced_read_only", json_pack("{s:s, s:s}", "mountpoint", e->mountpoint, "type", fs));
		}
	}
	/* every proc mount of its own gets /proc/sys (and the SysRq trigger)
	 * read-only: the runtime that made the checkpoint may not have masked
	 * them, and a restore does not apply the spec's read-only paths */
	size_t nall = n;
	for (size_t i = 0; i < nall && !rc; i++) {
		MntEntry *e = all[i];
		static const char *const hide[] = {"sys", "sysrq-trigger"};
		if (e->fstype != FS_PROC || strcmp(e->root, "/"))
			continue;
		for (size_t h = 0; h < 2 && !rc; h++) {
			if (masked(all, n, e->mountpoint, hide[h]) || (h == 1 && !sysrq))
				continue;
			rc = add_proc_mask(cf, &all, &n, e, hide[h], err);
			msgs = (ProtobufCMessage **)all;
			changed = true;
		}
	}
	if (!rc && changed) {
		unsigned char *b;
		size_t len;
		if (!(rc = repack(img, msgs, n, &b, &len, err)))
			rc = det_cf_add_repl(cf, m->name, b, len, NULL, err);
	}
	free(msgs);
	return rc;
}

/* ---- capabilities ---- */

static bool mask_caps(uint32_t *w, size_t n, uint64_t *dropped)
{
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		uint32_t allowed = i == 0 ? (uint32_t)DET_CAPS_ALLOWED : i == 1 ? (uint32_t)(DET_CAPS_ALLOWED >> 32) : 0;
		if (w[i] & ~allowed) {
			if (i < 2)
				*dropped |= (uint64_t)(w[i] & ~allowed) << (32 * i);
			w[i] &= allowed;
			changed = true;
		}
	}
	return changed;
}

static kcsi_code cap_core(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	const unsigned char *img;
	kcsi_code rc;
	uint64_t dropped = 0;
	bool changed = false;
	if ((rc = read_image(c, m->name, "CORE", &img, &msgs, &n, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		CoreEntry *core = (CoreEntry *)msgs[i];
		CredsEntry *cr = core->thread_core ? core->thread_core->creds : NULL;
		if (!cr)
			continue;
		changed |= mask_caps(cr->cap_inh, cr->n_cap_inh, &dropped);
		changed |= mask_caps(cr->cap_prm, cr->n_cap_prm, &dropped);
		changed |= mask_caps(cr->cap_eff, cr->n_cap_eff, &dropped);
		changed |= mask_caps(cr->cap_bnd, cr->n_cap_bnd, &dropped);
		changed |= mask_caps(cr->cap_amb, cr->n_cap_amb, &dropped);
	}
	if (changed) {
		unsigned char *b;
		size_t len;
		unsigned tid = 0;
		json_t *caps = json_array();
		sscanf(m->name + strlen(kcsi_ckpt_image_dir(c)), "core-%u.img", &tid);
		for (unsigned bit = 0; bit < 64; bit++)
			if (dropped & (1ull << bit)) {
				const char *nm = kcsi_cap_name(bit);
				json_array_append_new(caps, nm ? json_string(nm) : json_sprintf("CAP_%u", bit));
			}
		det_cf_note(cf, "capabilities_dropped", json_pack("{s:i, s:o}", "tid", (int)tid, "capabilities", caps));
		if (!(rc = repack(img, msgs, n, &b, &len, err)))
			rc = det_cf_add_repl(cf, m->name, b, len, NULL, err);
	}
	free(msgs);
	return rc;
}

/* ---- cgroups ---- */

struct dir_stack {
	CgroupDirEntry **v;
	size_t n, cap;
};

static int dir_push(struct dir_stack *st, CgroupDirEntry *e)
{
	if (st->n == st->cap) {
		size_t ncap = st->cap ? st->cap * 2 : 64;
		CgroupDirEntry **nv = realloc(st->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		st->v = nv;
		st->cap = ncap;
	}
	st->v[st->n++] = e;
	return 0;
}

static kcsi_code check_cgroup_image(kcsi_ckpt *c, det_confine *cf, const kcsi_member *m, kcsi_error *err)
{
	ProtobufCMessage **msgs;
	size_t n;
	const unsigned char *img;
	struct dir_stack st = {0};
	kcsi_code rc;
	(void)cf;
	if ((rc = read_image(c, m->name, "CGROUP", &img, &msgs, &n, err)))
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		CgroupEntry *cg = (CgroupEntry *)msgs[i];
		for (size_t s = 0; s < cg->n_sets && !rc; s++)
			for (size_t k = 0; k < cg->sets[s]->n_ctls && !rc; k++)
				if (has_dotdot(cg->sets[s]->ctls[k]->path))
					rc = kcsi_error_set(err, KCSI_ERR_UNSAFE,
							    "%s: cgroup.img: cgroup path %s climbs: refusing to restore",
							    kcsi_archive_path(c->ar), cg->sets[s]->ctls[k]->path);
		/* the directory trees, walked with an explicit stack */
		for (size_t k = 0; k < cg->n_controllers && !rc; k++)
			for (size_t d = 0; d < cg->controllers[k]->n_dirs && !rc; d++) {
				st.n = 0;
				if (dir_push(&st, cg->controllers[k]->dirs[d]))
					rc = det_cf_nomem(err);
				while (st.n && !rc) {
					CgroupDirEntry *e = st.v[--st.n];
					if (has_dotdot(e->dir_name))
						rc = kcsi_error_set(err, KCSI_ERR_UNSAFE,
								    "%s: cgroup.img: cgroup directory %s climbs: refusing to restore",
								    kcsi_archive_path(c->ar), e->dir_name);
					for (size_t ch = 0; ch < e->n_children && !rc; ch++)
						if (dir_push(&st, e->children[ch]))
							rc = det_cf_nomem(err);
				}
			}
	}
	free(st.v);
	free(msgs);
	return rc;
}

/* ---- the container's config and OCI spec, from scratch ---- */

static bool safe_token(const char *s, size_t max)
{
	if (!s || !*s || strlen(s) > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._-=:,/+", *s)))
			return false;
	return true;
}

static json_t *string_array(const json_t *src, size_t max_items)
{
	json_t *a = json_array(), *v;
	size_t i;
	json_array_foreach(src, i, v) {
		if (i >= max_items)
			break;
		if (json_is_string(v))
			json_array_append(a, v);
	}
	return a;
}

static json_t *caps_list(void)
{
	json_t *a = json_array();
	for (unsigned bit = 0; bit < 64; bit++)
		if (DET_CAPS_ALLOWED & (1ull << bit))
			json_array_append_new(a, json_string(kcsi_cap_name(bit)));
	return a;
}

static const char *const kernel_fs[] = {"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", NULL};

static bool is_kernel_fs(const char *t)
{
	for (size_t i = 0; t && kernel_fs[i]; i++)
		if (!strcmp(t, kernel_fs[i]))
			return true;
	return false;
}

/* The spec's mounts: kernel file systems with sanitised options, and a
 * sandbox-owned source for every bind (of the spec or of CRIU's images). */
static json_t *build_mounts(const json_t *spec, det_confine *cf)
{
	json_t *out = json_array(), *m;
	size_t i;
	json_array_foreach(json_object_get(spec, "mounts"), i, m) {
		const char *dest = json_string_value(json_object_get(m, "destination"));
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		json_t *opts = json_array(), *o;
		size_t k;
		bool bind = type && !strcmp(type, "bind");
		json_array_foreach(json_object_get(m, "options"), k, o) {
			const char *s = json_string_value(o);
			if (s && (!strcmp(s, "bind") || !strcmp(s, "rbind")))
				bind = true;
		}
		if (!dest || dest[0] != '/' || has_dotdot(dest) || strlen(dest) > 1024) {
			json_decref(opts);
			det_cf_note(cf, "mounts", json_pack("{s:s?, s:s?, s:s?, s:s, s:s}", "destination", dest, "type", type, "source",
						     src, "action", "dropped", "reason", "bad destination"));
			continue;
		}
		if (!bind && is_kernel_fs(type) && (!src || src[0] != '/')) {
			bool ro = false;
			json_array_foreach(json_object_get(m, "options"), k, o)
				if (safe_token(json_string_value(o), 64) && strcmp(json_string_value(o), "rw")) {
					json_array_append(opts, o);
					ro |= !strcmp(json_string_value(o), "ro");
				}
			if (!ro && (!strcmp(type, "sysfs") || !strncmp(type, "cgroup", 6)))
				json_array_append_new(opts, json_string("ro"));
			json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type,
							     "source", type, "options", opts));
			det_cf_note(cf, "mounts", json_pack("{s:s, s:s, s:s?, s:s}", "destination", dest, "type", type, "source", src,
						     "action", "restored"));
			continue;
		}
		json_decref(opts);
		if (!bind) {
			det_cf_note(cf, "mounts", json_pack("{s:s, s:s?, s:s?, s:s, s:s}", "destination", dest, "type", type, "source",
						     src, "action", "dropped", "reason",
						     "not a kernel file system nor a bind mount"));
			continue;
		}
		add_bind(cf, dest, NULL);
		det_cf_note(cf, "mounts", json_pack("{s:s, s:s, s:s?, s:s, s:s+}", "destination", dest, "type", "bind", "source", src,
					     "action", "replaced", "replacement", "mounts", dest));
	}
	return out;
}

static json_t *build_spec(const json_t *src, det_confine *cf, const char *netns_path)
{
	const json_t *proc = json_object_get(src, "process");
	const json_t *user = json_object_get(proc, "user");
	const char *cwd = json_string_value(json_object_get(proc, "cwd"));
	const char *host = json_string_value(json_object_get(src, "hostname"));
	json_t *caps = caps_list();
	json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type", "uts", "type",
			       "mount");
	bool had_netns = false;
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(src, "linux"), "namespaces"), i, v) {
		const char *t = json_string_value(json_object_get(v, "type"));
		if (t && !strcmp(t, "network"))
			had_netns = true;
		if (t && !strcmp(t, "cgroup"))
			json_array_append_new(ns, json_pack("{s:s}", "type", "cgroup"));
	}
	/* a container with a network namespace of its own (a pod's) had it as an
	 * external namespace: the sandbox's takes its place */
	if (had_netns && netns_path)
		json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path", netns_path));
	json_int_t uid = json_integer_value(json_object_get(user, "uid"));
	json_int_t gid = json_integer_value(json_object_get(user, "gid"));
	json_t *spec = json_pack(
		"{s:s, s:{s:b, s:{s:I, s:I, s:I}, s:o, s:o, s:s, s:{s:O, s:O, s:O}, s:[{s:s, s:i, s:i}, {s:s, s:i, s:i}]},"
		" s:{s:s}, s:s, s:o, s:{s:o, s:{s:[{s:b, s:s}], s:{s:i}}, s:[sssssssssss], s:[ssssss]}}",
		"ociVersion", "1.0.2-dev", "process", "terminal", 0, "user", "uid", uid >= 0 && uid <= 0xffffffffLL ? uid : 0,
		"gid", gid >= 0 && gid <= 0xffffffffLL ? gid : 0, "umask", (json_int_t)18, "args",
		string_array(json_object_get(proc, "args"), 4096), "env", string_array(json_object_get(proc, "env"), 4096),
		"cwd", cwd && cwd[0] == '/' && strlen(cwd) < 4096 ? cwd : "/", "capabilities", "bounding", caps, "effective",
		caps, "permitted", caps, "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "type",
		"RLIMIT_NPROC", "hard", 4096, "soft", 4096, "root", "path", "/nonexistent/kcsi-sandbox-root", "hostname",
		safe_token(host, 63) && !strchr(host, '/') ? host : "sandbox", "mounts", build_mounts(src, cf), "linux",
		"namespaces", ns, "resources", "devices", "allow", 0, "access", "rwm", "pids", "limit", 2048,
		"maskedPaths", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux", "/sys/dev/block",
		"readonlyPaths", "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
	json_decref(caps);
	return spec;
}

static json_t *build_config(const json_t *src_cfg, json_t *spec, const det_confine *cf, const char *image_name,
			    const char *image_id)
{
	unsigned char rnd[32];
	char id[65];
	const char *created = json_string_value(json_object_get(src_cfg, "createdTime"));
	if (!created)
		created = json_string_value(json_object_get(src_cfg, "createdAt"));
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:b, s:s, s:s, s:s, s:i, s:i, s:s, s:b, s:b, s:b, s:b, "
			 "s:O}",
			 "id", id, "name", cf->name, "rootfsImageID", image_id, "rootfsImageName", image_name, "RawImageName",
			 image_name, "createdTime", safe_token(created, 64) ? created : "1970-01-01T00:00:00Z", "command",
			 json_object_get(json_object_get(spec, "process"), "args"), "createNetNS", 0, "runtime", "runc",
			 "cgroupManager", "cgroupfs", "logDriver", "k8s-file", "stopSignal", 15, "stopTimeout", 10, "umask",
			 "0022", "passwd", 1, "UseImageResolvConf", 0, "UseImageHosts", 0, "privileged", 0, "spec", spec);
}

/* ---- sandbox-owned bind sources ---- */

static bool member_is_file(kcsi_ckpt *c, const char *dest)
{
	static const char *const files[] = {"/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv",
					    NULL};
	struct archive *a = NULL;
	struct archive_entry *e;
	kcsi_error ignore;
	bool file = false;
	for (size_t i = 0; files[i]; i++)
		if (!strcmp(dest, files[i]))
			return true;
	/* the mountpoint as the runtime made it in the container's rootfs */
	kcsi_error_clear(&ignore);
	if (ck_member_tar(c, "rootfs-diff.tar", &a, &ignore) || !a)
		return false;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		char clean[4096];
		if (kcsi_clean_relpath(archive_entry_pathname(e), clean, sizeof(clean)) == 0 && !strcmp(clean, dest + 1)) {
			file = archive_entry_filetype(e) == AE_IFREG;
			break;
		}
	}
	archive_read_free(a);
	return file;
}

/* mkdir -p below root (no symlink is followed: the tree is ours and new) */
static int make_parents(const char *path)
{
	char p[5200];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return 0;
}

static kcsi_code make_bind_sources(kcsi_ckpt *c, det_confine *cf, kcsi_error *err)
{
	kcsi_fd *fds = NULL;
	size_t nfds = 0;
	kcsi_code rc;
	if (!cf->nbinds)
		return KCSI_OK;
	snprintf(cf->bind_root, sizeof(cf->bind_root), "%s/mounts", cf->work);
	if (mkdir(cf->bind_root, 0700) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", cf->bind_root, strerror(errno));
	if (mount("kcsi-sandbox", cf->bind_root, "tmpfs", MS_NOSUID | MS_NODEV, DET_BIND_TMPFS_SIZE) != 0)
		return kcsi_error_set(err, KCSI_ERR_UNSUPPORTED, "cannot build the sandbox: tmpfs for mount sources: %s",
				      strerror(errno));
	cf->bind_mounted = true;
	if ((rc = kcsi_ckpt_fds(c, 0, &fds, &nfds, err)))
		return rc;
	for (size_t b = 0; b < cf->nbinds && !rc; b++) {
		struct det_bind *bd = &cf->binds[b];
		char path[1700];
		size_t dl = strlen(bd->dest);
		bd->is_file = member_is_file(c, bd->dest);
		/* the source sits at the destination's own path below the tmpfs */
		snprintf(path, sizeof(path), "%s%s", cf->bind_root, bd->dest);
		if (!(bd->source = strdup(path)) || make_parents(path) != 0) {
			rc = bd->source ? kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno)) : det_cf_nomem(err);
			break;
		}
		if (bd->is_file) {
			int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (fd < 0) {
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
				break;
			}
			if (!strcmp(bd->dest, "/etc/hosts") && write(fd, "127.0.0.1 localhost\n", 20) != 20)
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
			else if (!strcmp(bd->dest, "/etc/resolv.conf") &&
				 write(fd, "nameserver " DET_SINK_ADDR "\n", 22) != 22)
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
			close(fd);
			continue;
		}
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
			break;
		}
		/* stand-ins for the files the processes held open there: CRIU
		 * reopens them by path and checks their size */
		for (size_t i = 0; i < nfds; i++) {
			const kcsi_fd *f = &fds[i];
			char stub[5200], rel[4096];
			int fd;
			if (!f->path || strcmp(f->type, "REG") || f->deleted || strncmp(f->path, bd->dest, dl) ||
			    f->path[dl] != '/' || kcsi_clean_relpath(f->path + dl, rel, sizeof(rel)) != 0 || !rel[0])
				continue;
			if ((size_t)snprintf(stub, sizeof(stub), "%s/%s", path, rel) >= sizeof(stub) || make_parents(stub) != 0)
				continue;
			fd = open(stub, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, (f->mode & 0777) ? f->mode & 0777 : 0644);
			if (fd < 0)
				continue;
			if (f->has_size && ftruncate(fd, (off_t)(f->size < (1ull << 40) ? f->size : 0)) != 0) {
				/* a stand-in that cannot take the size: CRIU will say so */
			}
			close(fd);
			det_cf_note(cf, "stand_ins", json_pack("{s:s, s:I}", "path", f->path, "size", (json_int_t)f->size));
		}
	}
	free(fds);
	return rc;
}

/* The root directory: CRIU checks its mode at restore, and the image kcsi
 * restores on may differ from the one the checkpoint ran on (a registry's
 * layer has 0755 where podman import made 0555).  The files image is told
 * the mode of the image's root. */
static kcsi_code adjust_root_mode(kcsi_ckpt *c, det_confine *cf, int image_root, kcsi_error *err)
{
	char member[600];
	struct stat st;
	ProtobufCMessage **msgs;
	size_t n;
	const unsigned char *img;
	bool changed = false;
	uint32_t was = 0;
	kcsi_code rc;
	snprintf(member, sizeof(member), "%sfiles.img", kcsi_ckpt_image_dir(c));
	if (image_root < 0 || fstat(image_root, &st) != 0 || !kcsi_archive_find(c->ar, member))
		return KCSI_OK;
	if ((rc = read_image(c, member, "FILES", &img, &msgs, &n, err)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		FileEntry *f = (FileEntry *)msgs[i];
		RegFileEntry *r = f->reg;
		if (!r || !r->name || strcmp(r->name, "/") || !r->has_mode || (r->mode & S_IFMT) != S_IFDIR ||
		    (r->mode & 07777) == (st.st_mode & 07777))
			continue;
		was = r->mode;
		r->mode = S_IFDIR | (st.st_mode & 07777);
		changed = true;
	}
	if (changed) {
		unsigned char *b;
		size_t len;
		json_object_set_new(cf->report, "root_mode_adjusted",
				    json_sprintf("the root directory was mode %04o in the checkpoint, %04o in the image", was & 07777,
						 (unsigned)(st.st_mode & 07777)));
		if (!(rc = repack(img, msgs, n, &b, &len, err)))
			rc = det_cf_add_repl(cf, member, b, len, NULL, err);
	}
	free(msgs);
	return rc;
}

/* ---- the plan ---- */

kcsi_code det_confine_plan(kcsi_ckpt *c, const det_confine_opts *o, det_confine **out, kcsi_error *err)
{
	det_confine *cf = calloc(1, sizeof(*cf));
	const json_t *spec = kcsi_ckpt_spec(c);
	int image_root = -1;
	kcsi_code rc;
	*out = cf;
	if (!cf)
		return det_cf_nomem(err);
	snprintf(cf->work, sizeof(cf->work), "%s", o->work);
	snprintf(cf->name, sizeof(cf->name), "%s", o->container_name);
	cf->report = json_object();
	if (!json_is_object(spec))
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no readable spec.dump: cannot restore",
				      kcsi_archive_path(c->ar));
	if ((rc = check_namespaces(c, cf, err)) || (rc = each_image(c, cf, "mountpoints-*.img", check_mount_image, err)) ||
	    (rc = each_image(c, cf, "core-*.img", cap_core, err)) ||
	    (rc = each_image(c, cf, "cgroup.img", check_cgroup_image, err)) ||
	    (rc = each_image(c, cf, "tmpfs-*.tar.gz.img", det_sanitise_tmpfs, err)))
		return rc;
	if (o->image_root && (image_root = open(o->image_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", o->image_root, strerror(errno));
	rc = det_sanitise_host_members(c, cf, image_root, err);
	if (!rc)
		rc = adjust_root_mode(c, cf, image_root, err);
	if (image_root >= 0)
		close(image_root);
	if (rc)
		return rc;
	cf->spec = build_spec(spec, cf, o->netns_path);
	if ((rc = make_bind_sources(c, cf, err)))
		return rc;
	/* the bind sources are known now */
	for (size_t b = 0; b < cf->nbinds; b++)
		json_array_append_new(json_object_get(cf->spec, "mounts"),
				      json_pack("{s:s, s:s, s:s, s:[sss]}", "destination", cf->binds[b].dest, "type", "bind",
						"source", cf->binds[b].source, "options", "rbind", "rprivate", "nosuid"));
	cf->config = build_config(kcsi_ckpt_config(c), cf->spec, cf, o->image_name, o->image_id);
	if (!cf->spec || !cf->config)
		return det_cf_nomem(err);
	return KCSI_OK;
}

/* ---- the restore copy ---- */

static kcsi_code put_member(struct archive *w, const char *name, const unsigned char *data, uint64_t len,
			    const char *file, kcsi_error *err)
{
	struct archive_entry *e = archive_entry_new();
	kcsi_code rc = KCSI_OK;
	if (!e)
		return det_cf_nomem(err);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(w, e) != ARCHIVE_OK)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "restore copy: %s", archive_error_string(w));
	archive_entry_free(e);
	if (rc)
		return rc;
	if (file) {
		char buf[1 << 16];
		ssize_t n;
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", file, strerror(errno));
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(w, buf, (size_t)n) < 0) {
				rc = kcsi_error_set(err, KCSI_ERR_IO, "restore copy: %s", archive_error_string(w));
				break;
			}
		close(fd);
		return rc;
	}
	for (uint64_t off = 0; off < len;) {
		size_t chunk = len - off > (1u << 24) ? (1u << 24) : (size_t)(len - off);
		la_ssize_t n = archive_write_data(w, data + off, chunk);
		if (n <= 0)
			return kcsi_error_set(err, KCSI_ERR_IO, "restore copy: %s", archive_error_string(w));
		off += (uint64_t)n;
	}
	return KCSI_OK;
}

static kcsi_code put_json(struct archive *w, const char *name, const json_t *j, kcsi_error *err)
{
	char *s = json_dumps(j, JSON_COMPACT);
	kcsi_code rc;
	if (!s)
		return det_cf_nomem(err);
	rc = put_member(w, name, (const unsigned char *)s, strlen(s), NULL, err);
	free(s);
	return rc;
}

kcsi_code det_confine_write_copy(kcsi_ckpt *c, det_confine *cf, const char *dst, kcsi_error *err)
{
	struct archive *w = archive_write_new();
	const char *prefix = kcsi_ckpt_image_dir(c);
	size_t plen = strlen(prefix);
	kcsi_code rc = KCSI_OK;
	static const char *const applied[] = {"rootfs-diff.tar", "devshm-checkpoint.tar", "deleted.files", NULL};
	if (!w)
		return det_cf_nomem(err);
	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_filename(w, dst) != ARCHIVE_OK) {
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", dst, archive_error_string(w));
		goto out;
	}
	if ((rc = put_json(w, "config.dump", cf->config, err)) || (rc = put_json(w, "spec.dump", cf->spec, err)))
		goto out;
	for (size_t i = 0; i < kcsi_archive_count(c->ar) && !rc; i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		const struct det_repl *r = find_repl(cf, m->name);
		bool image = plen && !strncmp(m->name, prefix, plen) && !strchr(m->name + plen, '/');
		bool apply = false;
		for (size_t k = 0; applied[k]; k++)
			apply |= !strcmp(m->name, applied[k]);
		if (m->is_dir)
			continue;
		if (!image && !apply) {
			if (strcmp(m->name, "config.dump") && strcmp(m->name, "spec.dump"))
				det_cf_note(cf, "members_left_out", json_string(m->name));
			continue;
		}
		char name[4200];
		snprintf(name, sizeof(name), "%s%s", image ? "checkpoint/" : "", image ? m->name + plen : m->name);
		if (r) {
			rc = put_member(w, name, r->data, r->len, r->file, err);
		} else if (apply) {
			/* an applied member that could not be read as a tar stays out */
			det_cf_note(cf, "members_left_out", json_string(m->name));
		} else {
			const unsigned char *data;
			if (!(rc = kcsi_member_data(c->ar, m, &data, err)))
				rc = put_member(w, name, data, m->size, NULL, err);
		}
	}
out:
	if (archive_write_close(w) != ARCHIVE_OK && !rc)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "restore copy: %s", archive_error_string(w));
	archive_write_free(w);
	return rc;
}

json_t *det_confine_report(det_confine *cf)
{
	return cf ? json_incref(cf->report) : NULL;
}

void det_confine_set_criu_config(det_confine *cf, const char *path)
{
	json_t *ann = json_object_get(cf->spec, "annotations");
	if (!path) {
		json_object_del(cf->spec, "annotations");
		return;
	}
	if (!ann) {
		ann = json_object();
		json_object_set_new(cf->spec, "annotations", ann);
	}
	json_object_set_new(ann, "org.criu.config", json_string(path));
}

const char *det_confine_container_id(const det_confine *cf)
{
	return cf ? json_string_value(json_object_get(cf->config, "id")) : NULL;
}

const char *det_confine_mount_root(const det_confine *cf)
{
	return cf && cf->bind_mounted ? cf->bind_root : NULL;
}

/* After the run (and after the caller saved what the processes wrote into
 * the replaced mounts): the list for the report, and the tmpfs goes. */
void det_confine_finish(det_confine *cf)
{
	if (!cf || !cf->bind_mounted)
		return;
	json_t *list = json_array();
	for (size_t b = 0; b < cf->nbinds; b++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "destination", cf->binds[b].dest, "saved_as",
						      cf->binds[b].source ? cf->binds[b].source + strlen(cf->work) + 1 : "",
						      "file", cf->binds[b].is_file));

	json_object_set_new(cf->report, "replaced_mount_contents", list);
	if (umount2(cf->bind_root, MNT_DETACH) == 0)
		cf->bind_mounted = false;
}

void det_confine_free(det_confine *cf)
{
	if (!cf)
		return;
	if (cf->bind_mounted)
		umount2(cf->bind_root, MNT_DETACH);
	json_decref(cf->report);
	json_decref(cf->config);
	json_decref(cf->spec);
	for (size_t i = 0; i < cf->nrepl; i++) {
		free(cf->repl[i].name);
		free(cf->repl[i].data);
		free(cf->repl[i].file);
	}
	free(cf->repl);
	for (size_t i = 0; i < cf->nbinds; i++) {
		free(cf->binds[i].dest);
		free(cf->binds[i].source);
	}
	free(cf->binds);
	for (size_t i = 0; i < cf->nmasks; i++) {
		free(cf->masks[i].e);
		free(cf->masks[i].root);
		free(cf->masks[i].mountpoint);
	}
	free(cf->masks);
	free(cf);
}
