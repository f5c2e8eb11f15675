/* kcsi — open files: fdinfo-N.img against files.img, remaps (deleted files),
 * ghost files, memfd inodes, cwd/root and mapped files. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "reader/ckpt_int.h"

static const char *const fd_type_names[] = {
	[FD_TYPES__UND] = "UND", [FD_TYPES__REG] = "REG", [FD_TYPES__PIPE] = "PIPE",
	[FD_TYPES__FIFO] = "FIFO", [FD_TYPES__INETSK] = "INETSK", [FD_TYPES__UNIXSK] = "UNIXSK",
	[FD_TYPES__EVENTFD] = "EVENTFD", [FD_TYPES__EVENTPOLL] = "EVENTPOLL",
	[FD_TYPES__INOTIFY] = "INOTIFY", [FD_TYPES__SIGNALFD] = "SIGNALFD",
	[FD_TYPES__PACKETSK] = "PACKETSK", [FD_TYPES__TTY] = "TTY", [FD_TYPES__FANOTIFY] = "FANOTIFY",
	[FD_TYPES__NETLINKSK] = "NETLINKSK", [FD_TYPES__NS] = "NS", [FD_TYPES__TUNF] = "TUNF",
	[FD_TYPES__EXT] = "EXT", [FD_TYPES__TIMERFD] = "TIMERFD", [FD_TYPES__MEMFD] = "MEMFD",
	[FD_TYPES__BPFMAP] = "BPFMAP", [FD_TYPES__PIDFD] = "PIDFD",
};

const char *ck_fd_type_name(uint32_t type)
{
	if (type < sizeof(fd_type_names) / sizeof(fd_type_names[0]) && fd_type_names[type])
		return fd_type_names[type];
	if (type == FD_TYPES__CTL_TTY)
		return "CTL_TTY";
	if (type == FD_TYPES__AUTOFS_PIPE)
		return "AUTOFS_PIPE";
	return "UNKNOWN";
}

RemapFilePathEntry *ck_remap(const kcsi_ckpt *c, uint32_t file_id)
{
	const struct ck_idref *r = ck_index_find(c->remap_ix, c->nremaps, file_id);
	return r ? r->p : NULL;
}

/* memfd inodes (memfd.img, MEMFD_INODE) by inode id; the index is made on
 * first use (a broken memfd.img leaves it empty) */
MemfdInodeEntry *ck_memfd_inode(kcsi_ckpt *c, uint32_t inode_id)
{
	if (!c->memfd_once.done) {
		ProtobufCMessage **all;
		size_t n;
		kcsi_error e;
		kcsi_code rc;
		kcsi_error_clear(&e);
		rc = ck_read_all(c, "memfd.img", "MEMFD_INODE", &all, &n, &e);
		if (rc == KCSI_OK && n && !(c->memfd_ix = malloc(n * sizeof(*c->memfd_ix))))
			rc = kcsi_error_set(&e, KCSI_ERR_NOMEM, "out of memory");
		if (rc == KCSI_OK) {
			for (size_t i = 0; i < n; i++)
				c->memfd_ix[i] = (struct ck_idref){((MemfdInodeEntry *)all[i])->inode_id, i, all[i], NULL};
			c->nmemfd_ix = n;
			ck_index_sort(c->memfd_ix, n);
		}
		ck_once_store(&c->memfd_once, rc, &e, NULL);
	}
	const struct ck_idref *r = ck_index_find(c->memfd_ix, c->nmemfd_ix, inode_id);
	return r ? r->p : NULL;
}

const char *ck_file_path(kcsi_ckpt *c, FileEntry *f)
{
	switch (f->type) {
	case FD_TYPES__REG:
		return f->reg && f->reg->name ? f->reg->name : "?";
	case FD_TYPES__PIPE:
		return f->pipe ? ck_printf(c, "pipe:[%u]", f->pipe->pipe_id) : "pipe";
	case FD_TYPES__FIFO:
		if (f->fifo) {
			FileEntry *r = f->fifo->has_regf_id ? ck_file(c, f->fifo->regf_id) : NULL;
			if (r && r->reg && r->reg->name)
				return r->reg->name;
			return ck_printf(c, "pipe:[%u]", f->fifo->pipe_id);
		}
		return "fifo";
	case FD_TYPES__INETSK:
		return f->isk ? ck_printf(c, "socket:[%u]", f->isk->ino) : "socket";
	case FD_TYPES__UNIXSK:
		return f->usk ? ck_printf(c, "socket:[%u]", f->usk->ino) : "socket";
	case FD_TYPES__PACKETSK:
		return "socket:[packet]";
	case FD_TYPES__NETLINKSK:
		return f->nlsk ? ck_printf(c, "socket:[%u]", f->nlsk->ino) : "socket:[netlink]";
	case FD_TYPES__EVENTFD:
		return "anon_inode:[eventfd]";
	case FD_TYPES__EVENTPOLL:
		return "anon_inode:[eventpoll]";
	case FD_TYPES__SIGNALFD:
		return "anon_inode:[signalfd]";
	case FD_TYPES__TIMERFD:
		return "anon_inode:[timerfd]";
	case FD_TYPES__INOTIFY:
		return "anon_inode:inotify";
	case FD_TYPES__FANOTIFY:
		return "anon_inode:[fanotify]";
	case FD_TYPES__BPFMAP:
		return "anon_inode:bpf-map";
	case FD_TYPES__PIDFD:
		return "anon_inode:[pidfd]";
	case FD_TYPES__TUNF:
		return "/dev/net/tun";
	case FD_TYPES__NS:
		return f->nsf ? ck_printf(c, "ns:[%u]", f->nsf->ns_id) : "ns";
	case FD_TYPES__EXT:
		return "external";
	case FD_TYPES__TTY:
		if (f->tty && f->tty->has_regf_id) {
			FileEntry *r = ck_file(c, f->tty->regf_id);
			if (r && r->reg && r->reg->name)
				return r->reg->name;
		}
		return "tty";
	case FD_TYPES__MEMFD:
		if (f->memfd) {
			MemfdInodeEntry *ino = ck_memfd_inode(c, f->memfd->inode_id);
			return ck_printf(c, "/memfd:%s", ino && ino->name ? ino->name : "?");
		}
		return "memfd";
	default:
		return ck_printf(c, "%s", ck_fd_type_name(f->type));
	}
}

kcsi_code ck_ghost_open(kcsi_ckpt *c, uint32_t remap_id, char *name, size_t cap, kcsi_image *img,
			GhostFileEntry **g, kcsi_error *err)
{
	char member[64];
	bool present;
	ProtobufCMessage *m;
	kcsi_code rc;

	*g = NULL;
	snprintf(member, sizeof(member), "ghost-file-%u.img", remap_id);
	snprintf(name, cap, "%s%s", c->prefix, member);
	if ((rc = ck_read_first(c, member, "GHOST_FILE", name, img, &m, &present, err)) != KCSI_OK)
		return rc;
	if (!present)
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: not in the checkpoint", name);
	if (!m)
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: no entry", name);
	*g = (GhostFileEntry *)m;
	return KCSI_OK;
}

void ck_file_holder(const kcsi_ckpt *c, uint32_t file_id, int64_t *pid, int64_t *fd)
{
	const struct ck_idref *r = ck_index_find(c->holder_ix, c->nholder_ix, file_id);
	if (r) {
		*pid = ((const struct proc_priv *)r->p)->pub.pid;
		*fd = ((const FdinfoEntry *)r->q)->fd;
		return;
	}
	if ((r = ck_index_find(c->exe_ix, c->nexe_ix, file_id)))
		*pid = ((const struct proc_priv *)r->p)->pub.pid;
}

/* Fill d from file entry f. */
static void describe(kcsi_ckpt *c, FileEntry *f, kcsi_fd *d)
{
	d->file_id = f->id;
	d->type = ck_fd_type_name(f->type);
	d->path = ck_file_path(c, f);
	switch (f->type) {
	case FD_TYPES__REG:
		if (f->reg) {
			d->flags = f->reg->flags;
			d->pos = f->reg->pos;
			if (f->reg->has_size) {
				d->size = f->reg->size;
				d->has_size = true;
			}
			if (f->reg->has_mode) {
				d->mode = f->reg->mode;
				if (S_ISDIR(f->reg->mode))
					d->type = "DIR";
				else if (S_ISCHR(f->reg->mode))
					d->type = "CHR";
				else if (S_ISBLK(f->reg->mode))
					d->type = "BLK";
			}
		}
		break;
	case FD_TYPES__MEMFD:
		if (f->memfd) {
			MemfdInodeEntry *ino = ck_memfd_inode(c, f->memfd->inode_id);
			d->flags = f->memfd->flags;
			d->pos = f->memfd->pos;
			if (ino) {
				d->size = ino->size;
				d->has_size = true;
			}
			d->mode = S_IFREG | 0777;
		}
		break;
	case FD_TYPES__PIPE:
		if (f->pipe)
			d->flags = f->pipe->flags;
		d->mode = S_IFIFO | 0600;
		break;
	case FD_TYPES__FIFO:
		d->mode = S_IFIFO;
		break;
	case FD_TYPES__INETSK:
		if (f->isk)
			d->flags = f->isk->flags;
		d->mode = S_IFSOCK | 0777;
		break;
	case FD_TYPES__UNIXSK:
		if (f->usk)
			d->flags = f->usk->flags;
		d->mode = S_IFSOCK | 0777;
		break;
	case FD_TYPES__EVENTFD:
		if (f->efd)
			d->flags = f->efd->flags;
		break;
	case FD_TYPES__TTY:
		if (f->tty)
			d->flags = f->tty->flags;
		d->mode = S_IFCHR | 0620;
		break;
	default:
		break;
	}
	RemapFilePathEntry *r = ck_remap(c, f->id);
	if (r) {
		RemapType t = r->has_remap_type ? r->remap_type : REMAP_TYPE__LINKED;
		d->remap = t == REMAP_TYPE__GHOST ? "ghost" : t == REMAP_TYPE__PROCFS ? "procfs" : "linked";
		d->deleted = t != REMAP_TYPE__PROCFS;
		if (t == REMAP_TYPE__GHOST) {
			char name[600];
			kcsi_image img;
			GhostFileEntry *g;
			if (ck_ghost_open(c, r->remap_id, name, sizeof(name), &img, &g, NULL) == KCSI_OK) {
				d->ghost_size = g->has_size ? g->size : img.size - img.pos;
				if (!d->mode)
					d->mode = g->mode;
			}
		}
	}
	if (f->type == FD_TYPES__MEMFD)
		d->deleted = false; /* memfds never had a name on disk */
}

/* The files p maps (VMA_FILE_PRIVATE / VMA_FILE_SHARED), each once, in
 * the order of their first area, appended to v (room is there). */
static kcsi_code mapped_files(kcsi_ckpt *c, struct proc_priv *p, kcsi_fd *v, size_t *cnt, kcsi_error *err)
{
	struct ck_idref *ix = malloc((p->mm->n_vmas ? p->mm->n_vmas : 1) * sizeof(*ix));
	size_t n = 0, keep = 0;

	if (!ix)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < p->mm->n_vmas; k++) {
		VmaEntry *vma = p->mm->vmas[k];
		FileEntry *f;
		if (!(vma->status & ((1u << 6) | (1u << 7))))
			continue;
		if ((f = ck_file(c, (uint32_t)vma->shmid)))
			ix[n++] = (struct ck_idref){f->id, k, f, NULL};
	}
	ck_index_sort(ix, n); /* by file id, then area: the first area of each file leads */
	for (size_t i = 0; i < n; i++)
		if (i == 0 || ix[i].id != ix[i - 1].id)
			ix[keep++] = (struct ck_idref){ix[i].pos, 0, ix[i].p, NULL};
	ck_index_sort(ix, keep); /* back into area order */
	for (size_t i = 0; i < keep; i++) {
		kcsi_fd *d = &v[(*cnt)++];
		memset(d, 0, sizeof(*d));
		d->pid = p->pub.pid;
		d->fd = -1;
		d->role = "mem";
		describe(c, ix[i].p, d);
	}
	free(ix);
	return KCSI_OK;
}

struct fd_order {
	uint32_t pid;
	int64_t fd;   /* maps (-1) sort after every descriptor */
	size_t pos;   /* equal keys keep their order */
};

static int cmp_fd_order(const void *a, const void *b)
{
	const struct fd_order *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sort descriptors by (pid, fd) with maps last, keeping the order of equal
 * keys; -1 when out of memory. */
static int sort_fds(kcsi_fd *v, size_t n)
{
	struct fd_order *o;
	kcsi_fd *tmp;

	if (n < 2)
		return 0;
	o = malloc(n * sizeof(*o));
	tmp = malloc(n * sizeof(*tmp));
	if (!o || !tmp) {
		free(o);
		free(tmp);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		o[i] = (struct fd_order){v[i].pid, v[i].fd == -1 ? INT64_MAX : v[i].fd, i};
	qsort(o, n, sizeof(*o), cmp_fd_order);
	for (size_t i = 0; i < n; i++)
		tmp[i] = v[o[i].pos];
	memcpy(v, tmp, n * sizeof(*v));
	free(tmp);
	free(o);
	return 0;
}

kcsi_code kcsi_ckpt_fds(kcsi_ckpt *c, uint32_t pid, kcsi_fd **out, size_t *n, kcsi_error *err)
{
	kcsi_fd *v = NULL;
	size_t cnt = 0, cap = 0;
	kcsi_code rc;

	*out = NULL;
	*n = 0;
	if (pid && !ck_proc(c, pid))
		return kcsi_error_set(err, KCSI_ERR_NOTFOUND, "no process with pid %u in the checkpoint", pid);
	for (size_t i = 0; i < c->nprocs; i++) {
		struct proc_priv *p = &c->procs[i];
		/* role order: -4 root, -3 cwd, -2 exe, -1 unused, then fds, then maps */
		struct { int fd; const char *role; uint32_t id; bool want; } extra[3] = {
			{-4, "root", p->fs ? p->fs->root_id : 0, p->fs != NULL},
			{-3, "cwd", p->fs ? p->fs->cwd_id : 0, p->fs != NULL},
			{-2, "exe", p->mm ? p->mm->exe_file_id : 0,
			 p->mm != NULL},
		};
		size_t need;
		if (pid && p->pub.pid != pid)
			continue;
		need = cnt + 3 + p->nfdinfo + (p->mm ? p->mm->n_vmas : 0);
		if (need > cap) {
			kcsi_fd *q = realloc(v, need * 2 * sizeof(*q));
			if (!q) {
				free(v);
				return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			}
			v = q;
			cap = need * 2;
		}
		for (int k = 0; k < 3; k++) {
			FileEntry *f = extra[k].want ? ck_file(c, extra[k].id) : NULL;
			kcsi_fd *d;
			if (!f)
				continue;
			d = &v[cnt++];
			memset(d, 0, sizeof(*d));
			d->pid = p->pub.pid;
			d->fd = extra[k].fd;
			d->role = extra[k].role;
			describe(c, f, d);
		}
		for (size_t k = 0; k < p->nfdinfo; k++) {
			FdinfoEntry *fi = (FdinfoEntry *)p->fdinfo[k];
			FileEntry *f = ck_file(c, fi->id);
			kcsi_fd *d = &v[cnt++];
			memset(d, 0, sizeof(*d));
			d->pid = p->pub.pid;
			d->fd = (int)fi->fd;
			d->role = "fd";
			d->cloexec = fi->flags & 1;
			if (f) {
				describe(c, f, d);
			} else {
				d->type = ck_fd_type_name(fi->type);
				d->path = ck_printf(c, "(file id %u missing from files.img)", fi->id);
				d->file_id = fi->id;
			}
		}
		/* mapped files, each file once, in address order */
		if (p->mm && (rc = mapped_files(c, p, v, &cnt, err)) != KCSI_OK) {
			free(v);
			return rc;
		}
	}
	/* stable order: pid, then root/cwd/exe, fds ascending, maps last in
	 * address order */
	if (sort_fds(v, cnt) != 0) {
		free(v);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	*out = v;
	*n = cnt;
	return KCSI_OK;
}
