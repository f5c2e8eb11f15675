/* kcsi — the content objects of a checkpoint besides process memory, through
 * one interface (include/kcsi/sources.h): TCP queues, ghost files, memfd
 * contents, rootfs diff and /dev/shm files, files of the tmpfs mounts CRIU
 * dumped.
 *
 * Bytes the archive holds in place are handed out in place; tar members are
 * read as libarchive decompresses them, under one budget for the walk (the
 * archive's KCSI_MAX_UNPACKED bound), so an inner archive cannot make the walk
 * unbounded. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kcsi/archive.h"
#include "kcsi/sources.h"
#include "reader/ckpt_int.h"

struct walk {
	kcsi_ckpt *c;
	const kcsi_object_cbs *cb;
	void *ctx;
	uint64_t budget; /* decompressed bytes the tar members may still take */
};

/* begin, the pieces, end; 1 when the consumer stopped the walk */
static int deliver(struct walk *w, const kcsi_object *o, const kcsi_memrun *runs, size_t n)
{
	if (w->cb->begin && w->cb->begin(w->ctx, o))
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t len = runs[i].len;
		/* a memfd's last page goes past its size: not content */
		if (o->kind == KCSI_SRC_MEMFD && runs[i].vaddr + len > o->size)
			len = runs[i].vaddr < o->size ? o->size - runs[i].vaddr : 0;
		if (len && w->cb->data && w->cb->data(w->ctx, o, runs[i].vaddr, runs[i].data, (size_t)len))
			return 1;
	}
	return w->cb->end && w->cb->end(w->ctx, o) ? 1 : 0;
}

static kcsi_code walk_queues(struct walk *w, kcsi_error *err)
{
	kcsi_sock *s = NULL;
	size_t n = 0;
	kcsi_strmap seen = {0}; /* one socket, several descriptors: once */
	kcsi_code rc = kcsi_ckpt_socks(w->c, &s, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char path[200];
		if (!s[i].has_queues || kcsi_strmap_get(&seen, (const char *)&s[i].ino, sizeof(s[i].ino), 0))
			continue;
		if (kcsi_strmap_put(&seen, (const char *)&s[i].ino, sizeof(s[i].ino), 1)) {
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			break;
		}
		snprintf(path, sizeof(path), "%s:%u->%s:%u", s[i].src, s[i].sport, s[i].dst, s[i].dport);
		for (int dir = 0; dir < 2; dir++) {
			kcsi_memrun run = {0, dir ? s[i].outq_len : s[i].inq_len, dir ? s[i].outq : s[i].inq};
			kcsi_object o = {KCSI_SRC_QUEUE, "queue", path, dir ? "send" : "recv", s[i].pid, s[i].fd, run.len,
					 s[i].ino, 0};
			if (!run.len || !run.data)
				continue;
			if (deliver(w, &o, &run, 1))
				goto out;
		}
	}
out:
	kcsi_strmap_free(&seen);
	free(s);
	return rc;
}

/* A ghost file's content: whole after its entry, or chunks at offsets. */
static int ghost_pieces(struct walk *w, const kcsi_object *o, kcsi_image *img, const GhostFileEntry *g,
			kcsi_error *err)
{
	if (!g->has_chunks || !g->chunks) {
		kcsi_memrun r = {0, img->size - img->pos, img->data + img->pos};
		return deliver(w, o, &r, 1);
	}
	if (w->cb->begin && w->cb->begin(w->ctx, o))
		return 0;
	for (;;) {
		ProtobufCMessage *m;
		const unsigned char *p;
		uint64_t off, len;
		if (kcsi_image_next(img, &ghost_chunk_entry__descriptor, &m, err) != KCSI_OK) {
			kcsi_error_clear(err); /* a damaged chunk list ends this file */
			break;
		}
		if (!m)
			break;
		off = ((GhostChunkEntry *)m)->off;
		len = ((GhostChunkEntry *)m)->len;
		protobuf_c_message_free_unpacked(m, NULL);
		if (kcsi_image_raw(img, len, &p, err) != KCSI_OK) {
			kcsi_error_clear(err);
			break;
		}
		if (len && w->cb->data && w->cb->data(w->ctx, o, off, p, (size_t)len))
			return 1;
	}
	return w->cb->end && w->cb->end(w->ctx, o) ? 1 : 0;
}

static kcsi_code walk_ghosts(struct walk *w, kcsi_error *err)
{
	kcsi_ckpt *c = w->c;
	for (size_t i = 0; i < c->nremaps; i++) {
		RemapFilePathEntry *r = c->remaps[i];
		FileEntry *f = ck_file(c, r->orig_id);
		char full[600];
		kcsi_image img;
		GhostFileEntry *g;
		if (!r->has_remap_type || r->remap_type != REMAP_TYPE__GHOST)
			continue;
		if (ck_ghost_open(c, r->remap_id, full, sizeof(full), &img, &g, err) != KCSI_OK) {
			kcsi_error_clear(err); /* a damaged ghost image: the others still count */
			continue;
		}
		if (!S_ISREG(g->mode))
			continue;
		kcsi_object o = {KCSI_SRC_GHOST, "ghost", f && f->reg && f->reg->name ? f->reg->name : "unknown", NULL,
				 -1, -1, g->has_size ? g->size : img.size - img.pos, r->remap_id, g->mode};
		ck_file_holder(c, r->orig_id, &o.pid, &o.fd);
		if (ghost_pieces(w, &o, &img, g, err))
			return KCSI_OK;
	}
	return KCSI_OK;
}

static kcsi_code walk_memfds(struct walk *w, kcsi_error *err)
{
	kcsi_ckpt *c = w->c;
	ProtobufCMessage **all;
	size_t n;
	kcsi_strmap holder = {0}; /* memfd inode id -> a file id that refers to it */
	kcsi_code rc = ck_read_all(c, "memfd.img", "MEMFD_INODE", &all, &n, err);
	if (rc)
		return rc;
	for (size_t f = 0; f < c->nfiles; f++)
		if (c->files[f]->type == FD_TYPES__MEMFD && c->files[f]->memfd &&
		    kcsi_strmap_put(&holder, (const char *)&c->files[f]->memfd->inode_id,
				    sizeof(c->files[f]->memfd->inode_id), (int)f))
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n && !rc; i++) {
		MemfdInodeEntry *ino = (MemfdInodeEntry *)all[i];
		const kcsi_memrun *runs = NULL;
		size_t nr = 0;
		char path[300];
		if (kcsi_ckpt_shmem(c, ino->shmid, &runs, &nr, err) != KCSI_OK) {
			kcsi_error_clear(err);
			nr = 0;
		}
		snprintf(path, sizeof(path), "/memfd:%s", ino->name ? ino->name : "");
		kcsi_object o = {KCSI_SRC_MEMFD, "memfd", path, NULL, -1, -1, ino->size, ino->inode_id,
				 ino->has_mode ? ino->mode : 0};
		int f = kcsi_strmap_get(&holder, (const char *)&ino->inode_id, sizeof(ino->inode_id), -1);
		if (f >= 0)
			ck_file_holder(c, c->files[f]->id, &o.pid, &o.fd);
		if (deliver(w, &o, runs, nr))
			break;
	}
	kcsi_strmap_free(&holder);
	return rc;
}

static kcsi_code walk_tar(struct walk *w, const char *member, enum kcsi_source_kind kind, const char *kind_name,
			  const char *prefix, kcsi_error *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	kcsi_code rc = ck_member_tar(w->c, member, &a, err);
	int r;
	if (rc || !a)
		return rc;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char path[4200];
		const char *name = archive_entry_pathname(e);
		if (archive_entry_filetype(e) != AE_IFREG || !name)
			continue;
		while (name[0] == '.' && name[1] == '/')
			name += 2;
		snprintf(path, sizeof(path), "%s/%s", prefix, name[0] == '/' ? name + 1 : name);
		kcsi_object o = {kind, kind_name, path, NULL, -1, -1, (uint64_t)archive_entry_size(e), 0,
				 (uint32_t)archive_entry_mode(e)};
		if (w->cb->begin && w->cb->begin(w->ctx, &o))
			continue;
		for (;;) {
			const void *buf;
			size_t len;
			la_int64_t off;
			int d = archive_read_data_block(a, &buf, &len, &off);
			if (d == ARCHIVE_EOF)
				break;
			if (d != ARCHIVE_OK) {
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s", kcsi_archive_path(w->c->ar), member,
						    archive_error_string(a));
				goto out;
			}
			if (len > w->budget) {
				rc = kcsi_error_set(err, KCSI_ERR_LIMIT,
						    "%s: %s: more than KCSI_MAX_UNPACKED bytes unpacked: stopped",
						    kcsi_archive_path(w->c->ar), member);
				goto out;
			}
			w->budget -= len;
			if (len && w->cb->data && w->cb->data(w->ctx, &o, (uint64_t)off, buf, len))
				goto out;
		}
		if (w->cb->end && w->cb->end(w->ctx, &o))
			goto out;
	}
	if (r != ARCHIVE_EOF)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s: %s", kcsi_archive_path(w->c->ar), member,
				    archive_error_string(a));
out:
	archive_read_free(a);
	return rc;
}

/* The tmpfs mounts CRIU dumped itself (not external): each superblock's
 * content is tmpfs-dev-<root_dev>.tar.gz.img, its files under the mount
 * point of the mount of that superblock's root. */
static kcsi_code walk_tmpfs(struct walk *w, kcsi_error *err)
{
	kcsi_ckpt *c = w->c;
	kcsi_strmap done = {0}; /* root_dev already walked */
	size_t plen = strlen(c->prefix);
	kcsi_code rc = KCSI_OK;
	for (size_t i = 0; i < kcsi_archive_count(c->ar) && !rc; i++) {
		const kcsi_member *m = kcsi_archive_at(c->ar, i);
		ProtobufCMessage **all;
		size_t na;
		if (strncmp(m->name, c->prefix, plen) || strncmp(m->name + plen, "mountpoints-", 12))
			continue;
		if (ck_read_all(c, m->name + plen, "MNTS", &all, &na, err) != KCSI_OK) {
			kcsi_error_clear(err); /* damaged mounts: no tmpfs content from them */
			continue;
		}
		for (size_t k = 0; k < na && !rc; k++) {
			const MntEntry *e = (const MntEntry *)all[k];
			char member[300];
			if (e->fstype != FSTYPE__TMPFS || (e->has_ext_mount && e->ext_mount) || e->ext_key || !e->mountpoint ||
			    !e->root || strcmp(e->root, "/") ||
			    kcsi_strmap_get(&done, (const char *)&e->root_dev, sizeof(e->root_dev), 0))
				continue;
			if (kcsi_strmap_put(&done, (const char *)&e->root_dev, sizeof(e->root_dev), 1)) {
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				break;
			}
			snprintf(member, sizeof(member), "%stmpfs-dev-%u.tar.gz.img", c->prefix, e->root_dev);
			rc = walk_tar(w, member, KCSI_SRC_TMPFS, "tmpfs", strcmp(e->mountpoint, "/") ? e->mountpoint : "",
				      err);
			if (rc == KCSI_ERR_FORMAT) { /* a damaged tmpfs tar ends that tar */
				kcsi_error_clear(err);
				rc = KCSI_OK;
			}
		}
	}
	kcsi_strmap_free(&done);
	return rc;
}

kcsi_code kcsi_walk_objects(kcsi_ckpt *c, unsigned kinds, const kcsi_object_cbs *cb, void *ctx, kcsi_error *err)
{
	kcsi_archive_limits lim;
	struct walk w = {c, cb, ctx, 0};
	kcsi_code rc = KCSI_OK;
	kcsi_archive_default_limits(&lim);
	w.budget = lim.max_unpacked;
	if (!rc && (kinds & KCSI_SRC_QUEUE))
		rc = walk_queues(&w, err);
	if (!rc && (kinds & KCSI_SRC_GHOST))
		rc = walk_ghosts(&w, err);
	if (!rc && (kinds & KCSI_SRC_MEMFD))
		rc = walk_memfds(&w, err);
	if (!rc && (kinds & KCSI_SRC_ROOTFS))
		rc = walk_tar(&w, "rootfs-diff.tar", KCSI_SRC_ROOTFS, "rootfs", "", err);
	if (!rc && (kinds & KCSI_SRC_DEVSHM))
		rc = walk_tar(&w, "devshm-checkpoint.tar", KCSI_SRC_DEVSHM, "devshm", "/dev/shm", err);
	if (!rc && (kinds & KCSI_SRC_TMPFS))
		rc = walk_tmpfs(&w, err);
	return rc;
}
