/* kcsi — carving evidence out of a checkpoint.  See include/kcsi/recover.h. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt_int.h"
#include "kcsi/jsonw.h"
#include "kcsi/recover.h"
#include "safeout.h"

struct rctx {
	kcsi_ckpt *c;
	kcsi_outdir d;
	uint64_t max_file;
	kcsi_recovery *r;
	size_t cap;
};

static kcsi_item *add_item(struct rctx *x, const char *origin, const char *source)
{
	kcsi_item *it;
	if (x->r->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 32;
		kcsi_item *q = realloc(x->r->items, ncap * sizeof(*q));
		if (!q)
			return NULL;
		x->r->items = q;
		x->cap = ncap;
	}
	it = &x->r->items[x->r->n++];
	memset(it, 0, sizeof(*it));
	it->origin = origin;
	it->source = strdup(source ? source : "");
	it->pid = it->fd = -1;
	it->type = "file";
	return it;
}

static void refuse(struct rctx *x, kcsi_item *it, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(struct rctx *x, kcsi_item *it, const char *fmt, ...)
{
	char *buf = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&buf, fmt, ap) < 0)
		buf = NULL;
	va_end(ap);
	free(it->refused);
	it->refused = buf ? buf : strdup("refused");
	x->r->refused++;
}

/* Open the item's file below the output directory; sets it->file. */
static int open_item(struct rctx *x, kcsi_item *it, const char *prefix, const char *path, kcsi_error *err)
{
	char clean[4096], rel[4200];
	if (kcsi_clean_relpath(path, clean, sizeof(clean)) != 0) {
		refuse(x, it, "path '%s' leaves the output directory or is empty: refused", path);
		return -2;
	}
	snprintf(rel, sizeof(rel), "%s/%s", prefix, clean);
	int fd = kcsi_outdir_create(&x->d, rel, err);
	if (fd < 0) {
		if (err->code == KCSI_ERR_UNSAFE) {
			refuse(x, it, "%s", err->msg);
			kcsi_error_clear(err);
			return -2;
		}
		return -1;
	}
	it->file = strdup(rel);
	return fd;
}

static kcsi_code finish_item(kcsi_item *it, int fd, kcsi_error *err)
{
	struct stat st;
	kcsi_code rc = kcsi_sha256_fd(fd, it->sha256, err);
	if (rc == KCSI_OK && fstat(fd, &st) == 0)
		it->size = (uint64_t)st.st_size;
	close(fd);
	return rc;
}

static kcsi_code write_bytes(struct rctx *x, kcsi_item *it, const char *prefix, const char *path,
			     const void *p, uint64_t n, kcsi_error *err)
{
	int fd;
	kcsi_code rc;
	if (n > x->max_file) {
		refuse(x, it, "%s: larger than the bound on recovered files (--max-file)", path);
		it->size = n;
		return KCSI_OK;
	}
	fd = open_item(x, it, prefix, path, err);
	if (fd == -2)
		return KCSI_OK;
	if (fd < 0)
		return err->code;
	if ((rc = kcsi_write_at(fd, p, (size_t)n, 0, it->file, err)) != KCSI_OK) {
		close(fd);
		return rc;
	}
	return finish_item(it, fd, err);
}

/* ---- ghost files ---- */

static kcsi_code recover_ghosts(struct rctx *x, kcsi_error *err)
{
	kcsi_ckpt *c = x->c;
	for (size_t i = 0; i < c->nremaps; i++) {
		RemapFilePathEntry *r = c->remaps[i];
		FileEntry *f = ck_file(c, r->orig_id);
		char full[600];
		const unsigned char *data;
		size_t size;
		kcsi_image img;
		ProtobufCMessage *m;
		GhostFileEntry *g;
		kcsi_item *it;
		kcsi_code rc;
		const char *path;

		if (!r->has_remap_type || r->remap_type != REMAP_TYPE__GHOST)
			continue;
		path = f && f->reg && f->reg->name ? f->reg->name : "unknown";
		if (!(it = add_item(x, "ghost", path)))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		ck_file_holder(c, r->orig_id, &it->pid, &it->fd);
		rc = ck_ghost_open(c, r->remap_id, full, sizeof(full), &img, &g, err);
		if (rc == KCSI_ERR_NOTFOUND) {
			refuse(x, it, "%s", err->msg);
			kcsi_error_clear(err);
			continue;
		}
		if (rc != KCSI_OK)
			return rc;
		data = img.data;
		size = img.size;
		it->mode = g->mode;
		if (S_ISLNK(g->mode) || g->symlnk_target) {
			it->type = "symlink";
			it->target = strdup(g->symlnk_target ? g->symlnk_target : "");
			continue;
		}
		if (S_ISDIR(g->mode)) {
			it->type = "dir";
			continue;
		}
		if (!g->has_chunks || !g->chunks) {
			uint64_t n = size - img.pos;
			if ((rc = write_bytes(x, it, "ghost", path, data + img.pos, n, err)) != KCSI_OK)
				return rc;
			continue;
		}
		/* chunked: (off, len) records each followed by len bytes; holes are zeros */
		uint64_t total = g->has_size ? g->size : 0;
		if (total > x->max_file) {
			refuse(x, it, "%s: larger than the bound on recovered files (--max-file)", path);
			it->size = total;
			continue;
		}
		int fd = open_item(x, it, "ghost", path, err);
		if (fd == -2)
			continue;
		if (fd < 0)
			return err->code;
		for (;;) {
			const unsigned char *p;
			if ((rc = kcsi_image_next(&img, &ghost_chunk_entry__descriptor, &m, err)) != KCSI_OK) {
				close(fd);
				return rc;
			}
			if (!m)
				break;
			GhostChunkEntry *ch = (GhostChunkEntry *)m;
			uint64_t off = ch->off, len = ch->len;
			protobuf_c_message_free_unpacked(m, NULL);
			if (off > x->max_file || len > x->max_file - off) {
				close(fd);
				return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: chunk at %llu of %llu bytes passes --max-file",
						      full, (unsigned long long)off, (unsigned long long)len);
			}
			if ((rc = kcsi_image_raw(&img, len, &p, err)) != KCSI_OK ||
			    (rc = kcsi_write_at(fd, p, (size_t)len, off, it->file, err)) != KCSI_OK) {
				close(fd);
				return rc;
			}
		}
		if (total && ftruncate(fd, (off_t)total) != 0) {
			close(fd);
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", it->file, strerror(errno));
		}
		if ((rc = finish_item(it, fd, err)) != KCSI_OK)
			return rc;
	}
	return KCSI_OK;
}

/* ---- memfd contents ---- */

static kcsi_code recover_memfds(struct rctx *x, kcsi_error *err)
{
	kcsi_ckpt *c = x->c;
	ProtobufCMessage **all;
	size_t n;
	kcsi_code rc;

	if ((rc = ck_read_all(c, "memfd.img", "MEMFD_INODE", &all, &n, err)) != KCSI_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		MemfdInodeEntry *ino = (MemfdInodeEntry *)all[i];
		const kcsi_memrun *runs;
		size_t nr;
		char src[300], rel[300], safe[256];
		kcsi_item *it;
		int fd;
		size_t k;

		snprintf(safe, sizeof(safe), "%s", ino->name ? ino->name : "");
		for (k = 0; safe[k]; k++)
			if (safe[k] == '/')
				safe[k] = '_';
		snprintf(src, sizeof(src), "memfd:%s", ino->name ? ino->name : "");
		snprintf(rel, sizeof(rel), "%llu-%s", (unsigned long long)ino->inode_id, safe[0] ? safe : "memfd");
		if (!(it = add_item(x, "memfd", src)))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		it->mode = ino->has_mode ? ino->mode : 0;
		for (size_t f = 0; f < c->nfiles; f++)
			if (c->files[f]->type == FD_TYPES__MEMFD && c->files[f]->memfd &&
			    c->files[f]->memfd->inode_id == ino->inode_id) {
				ck_file_holder(c, c->files[f]->id, &it->pid, &it->fd);
				if (it->pid >= 0)
					break;
			}
		if (ino->size > x->max_file) {
			refuse(x, it, "%s: larger than the bound on recovered files (--max-file)", src);
			it->size = ino->size;
			continue;
		}
		rc = kcsi_ckpt_shmem(c, ino->shmid, &runs, &nr, err);
		if (rc == KCSI_ERR_NOTFOUND) {
			kcsi_error_clear(err);
			nr = 0; /* an empty memfd has no pages */
		} else if (rc != KCSI_OK) {
			return rc;
		}
		fd = open_item(x, it, "memfd", rel, err);
		if (fd == -2)
			continue;
		if (fd < 0)
			return err->code;
		for (k = 0; k < nr; k++) {
			uint64_t len = runs[k].len;
			if (runs[k].vaddr >= ino->size)
				continue;
			if (len > ino->size - runs[k].vaddr)
				len = ino->size - runs[k].vaddr;
			if ((rc = kcsi_write_at(fd, runs[k].data, (size_t)len, runs[k].vaddr, it->file, err)) != KCSI_OK) {
				close(fd);
				return rc;
			}
		}
		if (ftruncate(fd, (off_t)ino->size) != 0) {
			close(fd);
			return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", it->file, strerror(errno));
		}
		if ((rc = finish_item(it, fd, err)) != KCSI_OK)
			return rc;
	}
	return KCSI_OK;
}

/* ---- TCP queues ---- */

static kcsi_code recover_queues(struct rctx *x, kcsi_error *err)
{
	kcsi_sock *v;
	size_t n;
	kcsi_code rc = kcsi_ckpt_socks(x->c, &v, &n, err);
	if (rc != KCSI_OK)
		return rc;
	for (size_t i = 0; i < n && rc == KCSI_OK; i++) {
		const kcsi_sock *s = &v[i];
		bool dup = false;
		if (!s->has_queues || (!s->inq_len && !s->outq_len))
			continue;
		for (size_t k = 0; k < i; k++)
			if (v[k].ino == s->ino && v[k].has_queues)
				dup = true;
		if (dup)
			continue;
		for (int q = 0; q < 2 && rc == KCSI_OK; q++) {
			uint64_t len = q ? s->outq_len : s->inq_len;
			char src[300], rel[300];
			kcsi_item *it;
			if (!len)
				continue;
			snprintf(src, sizeof(src), "%s %s:%u -> %s:%u %s queue", s->proto, s->src, s->sport, s->dst,
				 s->dport, q ? "send" : "receive");
			snprintf(rel, sizeof(rel), "pid%u-fd%d-%s_%u-%s_%u.%s", s->pid, s->fd, s->src, s->sport, s->dst,
				 s->dport, q ? "send" : "recv");
			if (!(it = add_item(x, "tcp-queue", src))) {
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				break;
			}
			it->pid = s->pid;
			it->fd = s->fd;
			rc = write_bytes(x, it, "tcp", rel, q ? s->outq : s->inq, len, err);
		}
	}
	free(v);
	return rc;
}

/* ---- tars inside the checkpoint ---- */

static const char *entry_type(mode_t t)
{
	switch (t) {
	case AE_IFREG: return "file";
	case AE_IFDIR: return "dir";
	case AE_IFLNK: return "symlink";
	case AE_IFCHR: return "char";
	case AE_IFBLK: return "block";
	case AE_IFIFO: return "fifo";
	case AE_IFSOCK: return "socket";
	default: return "other";
	}
}

static kcsi_code recover_tar(struct rctx *x, const char *member, const char *origin, const char *prefix,
			     kcsi_error *err)
{
	struct archive *a;
	struct archive_entry *e;
	kcsi_code rc;
	int r = ARCHIVE_OK;

	if ((rc = ck_member_tar(x->c, member, &a, err)) != KCSI_OK || !a)
		return rc;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);
		mode_t t = archive_entry_filetype(e);
		kcsi_item *it;
		char src[4200];
		int fd;

		if (!name)
			continue;
		snprintf(src, sizeof(src), "/%s", name[0] == '/' ? name + 1 : name);
		if (t == AE_IFDIR && !archive_entry_hardlink(e))
			continue; /* directories are made as needed */
		if (!(it = add_item(x, origin, src))) {
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			break;
		}
		it->mode = archive_entry_mode(e);
		it->size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
		it->type = entry_type(t);
		if (archive_entry_hardlink(e)) {
			it->type = "hardlink";
			it->target = strdup(archive_entry_hardlink(e));
			continue; /* recorded, never created */
		}
		if (t == AE_IFLNK) {
			it->target = strdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : "");
			continue;
		}
		if (t != AE_IFREG) {
			refuse(x, it, "%s: device, fifo or socket: not created", src);
			continue;
		}
		if (it->size > x->max_file) {
			refuse(x, it, "%s: larger than the bound on recovered files (--max-file)", src);
			continue;
		}
		fd = open_item(x, it, prefix, name, err);
		if (fd == -2)
			continue;
		if (fd < 0) {
			rc = err->code;
			break;
		}
		{
			const void *blk;
			size_t len;
			la_int64_t off;
			while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
				if (off < 0 || (uint64_t)off + len > it->size) {
					rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: data of '%s' runs past its size",
							    member, name);
					break;
				}
				if ((rc = kcsi_write_at(fd, blk, len, (uint64_t)off, it->file, err)) != KCSI_OK)
					break;
			}
			if (rc == KCSI_OK && r != ARCHIVE_EOF)
				rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: '%s': %s", member,
						    name, archive_error_string(a) ? archive_error_string(a) : "read error");
			if (rc == KCSI_OK && ftruncate(fd, (off_t)it->size) != 0)
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", it->file, strerror(errno));
		}
		if (rc != KCSI_OK) {
			close(fd);
			break;
		}
		if ((rc = finish_item(it, fd, err)) != KCSI_OK)
			break;
	}
	if (rc == KCSI_OK && r != ARCHIVE_EOF)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s", member,
				    archive_error_string(a) ? archive_error_string(a) : "bad tar header");
	archive_read_free(a);
	if (rc == KCSI_ERR_FORMAT) {
		/* a damaged or hostile inner tar: what came before it is kept, the
		 * damage is an entry of the manifest, the other evidence goes on */
		kcsi_item *it = add_item(x, origin, member);
		if (!it)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		it->type = "archive";
		refuse(x, it, "%s (the rest of %s was not read)", err->msg, member);
		kcsi_error_clear(err);
		return KCSI_OK;
	}
	return rc;
}

/* ---- logs and the deleted-files list ---- */

static kcsi_code recover_logs(struct rctx *x, kcsi_error *err)
{
	static const char *const logs[] = {"ctr.log", "dump.log", "checkpoint/dump.log", "container.log",
					   "io.kubernetes.cri-o.LogPath", "restore.log"};
	for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
		const kcsi_member *m = kcsi_archive_find(x->c->ar, logs[i]);
		const unsigned char *data;
		kcsi_item *it;
		kcsi_code rc;
		if (!m || m->is_dir)
			continue;
		if ((rc = kcsi_member_data(x->c->ar, m, &data, err)) != KCSI_OK)
			return rc;
		if (!(it = add_item(x, "log", logs[i])))
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		it->mode = m->mode;
		if ((rc = write_bytes(x, it, "log", logs[i], data, m->size, err)) != KCSI_OK)
			return rc;
	}
	return KCSI_OK;
}

static kcsi_code recover_deleted_list(struct rctx *x, kcsi_error *err)
{
	const kcsi_member *m = kcsi_archive_find(x->c->ar, "deleted.files");
	const unsigned char *data;
	json_t *j;
	json_t *v;
	size_t i;
	kcsi_code rc;

	if (!m || !m->size)
		return KCSI_OK;
	if ((rc = kcsi_member_data(x->c->ar, m, &data, err)) != KCSI_OK)
		return rc;
	j = json_loadb((const char *)data, (size_t)m->size, 0, NULL);
	if (!json_is_array(j)) {
		json_decref(j);
		return kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: deleted.files: not a JSON list", kcsi_archive_path(x->c->ar));
	}
	json_array_foreach(j, i, v) {
		kcsi_item *it;
		if (!json_is_string(v))
			continue;
		if (!(it = add_item(x, "deleted", json_string_value(v)))) {
			json_decref(j);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		it->type = "deleted";
	}
	json_decref(j);
	return KCSI_OK;
}

/* ---- manifest ---- */

static kcsi_code write_manifest(struct rctx *x, kcsi_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	kcsi_jsonw w;
	kcsi_code rc;
	int fd;

	if (!f)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	kcsi_jw_init(&w, f, 2);
	kcsi_jw_obj(&w);
	kcsi_jw_kstr(&w, "archive", kcsi_archive_path(x->c->ar));
	kcsi_jw_kuint(&w, "items_refused", x->r->refused);
	kcsi_jw_key(&w, "items");
	kcsi_jw_arr(&w);
	for (size_t i = 0; i < x->r->n; i++) {
		const kcsi_item *it = &x->r->items[i];
		kcsi_jw_obj(&w);
		kcsi_jw_kstr(&w, "file", it->file);
		kcsi_jw_kstr(&w, "origin", it->origin);
		kcsi_jw_kstr(&w, "source", it->source);
		kcsi_jw_kstr(&w, "type", it->type);
		kcsi_jw_key(&w, "pid");
		if (it->pid >= 0) kcsi_jw_int(&w, it->pid); else kcsi_jw_null(&w);
		kcsi_jw_key(&w, "fd");
		if (it->fd >= 0) kcsi_jw_int(&w, it->fd); else kcsi_jw_null(&w);
		kcsi_jw_kuint(&w, "size", it->size);
		kcsi_jw_kuint(&w, "mode", it->mode);
		kcsi_jw_kstr(&w, "sha256", it->sha256[0] ? it->sha256 : NULL);
		if (it->target)
			kcsi_jw_kstr(&w, "target", it->target);
		if (it->refused)
			kcsi_jw_kstr(&w, "refused", it->refused);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
	fclose(f);
	fd = kcsi_outdir_create(&x->d, "manifest.json", err);
	if (fd < 0) {
		free(buf);
		return err->code;
	}
	rc = kcsi_write_at(fd, buf, len, 0, "manifest.json", err);
	close(fd);
	free(buf);
	return rc;
}

kcsi_code kcsi_recover(kcsi_ckpt *c, const kcsi_recover_opts *o, kcsi_recovery *out, kcsi_error *err)
{
	struct rctx x = {.c = c, .max_file = o->max_file ? o->max_file : (4ull << 30), .r = out};
	kcsi_code rc;

	memset(out, 0, sizeof(*out));
	if ((rc = kcsi_outdir_open(&x.d, o->out_dir, o->force, err)) != KCSI_OK)
		return rc;
	if ((rc = recover_ghosts(&x, err)) == KCSI_OK &&
	    (rc = recover_memfds(&x, err)) == KCSI_OK &&
	    (rc = recover_queues(&x, err)) == KCSI_OK &&
	    (rc = recover_tar(&x, "rootfs-diff.tar", "rootfs-diff", "rootfs", err)) == KCSI_OK &&
	    (rc = recover_tar(&x, "devshm-checkpoint.tar", "devshm", "devshm", err)) == KCSI_OK &&
	    (rc = recover_logs(&x, err)) == KCSI_OK &&
	    (rc = recover_deleted_list(&x, err)) == KCSI_OK)
		rc = write_manifest(&x, err);
	kcsi_outdir_close(&x.d);
	return rc;
}

void kcsi_recovery_free(kcsi_recovery *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].file);
		free(r->items[i].source);
		free(r->items[i].target);
		free(r->items[i].refused);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* ---- listing the rootfs diff ---- */

kcsi_code kcsi_rootfs_list(kcsi_ckpt *c, kcsi_rootfs_entry **out, size_t *n, kcsi_error *err)
{
	const kcsi_member *dl = kcsi_archive_find(c->ar, "deleted.files");
	kcsi_rootfs_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	const unsigned char *data;
	struct archive *a;
	kcsi_code rc;

	*out = NULL;
	*n = 0;
	if ((rc = ck_member_tar(c, "rootfs-diff.tar", &a, err)) != KCSI_OK)
		return rc;
	if (a) {
		struct archive_entry *e;
		int r;
		while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
			kcsi_rootfs_entry *d;
			const char *name = archive_entry_pathname(e);
			if (!name)
				continue;
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				kcsi_rootfs_entry *q = realloc(v, ncap * sizeof(*q));
				if (!q) {
					rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
					break;
				}
				v = q;
				cap = ncap;
			}
			d = &v[cnt++];
			memset(d, 0, sizeof(*d));
			d->path = strdup(name);
			d->type = archive_entry_hardlink(e) ? "hardlink" : entry_type(archive_entry_filetype(e));
			d->mode = archive_entry_mode(e);
			d->uid = archive_entry_uid(e);
			d->gid = archive_entry_gid(e);
			d->size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
			d->mtime = archive_entry_mtime(e);
			if (archive_entry_hardlink(e))
				d->target = strdup(archive_entry_hardlink(e));
			else if (archive_entry_symlink(e))
				d->target = strdup(archive_entry_symlink(e));
		}
		if (rc == KCSI_OK && r != ARCHIVE_EOF)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: rootfs-diff.tar: %s", kcsi_archive_path(c->ar),
					    archive_error_string(a) ? archive_error_string(a) : "bad header");
		archive_read_free(a);
	}
	if (rc == KCSI_OK && dl && dl->size && (rc = kcsi_member_data(c->ar, dl, &data, err)) == KCSI_OK) {
		json_t *j = json_loadb((const char *)data, (size_t)dl->size, 0, NULL);
		json_t *s;
		size_t i;
		if (!json_is_array(j))
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: deleted.files: not a JSON list", kcsi_archive_path(c->ar));
		json_array_foreach(j, i, s) {
			kcsi_rootfs_entry *q;
			if (!json_is_string(s))
				continue;
			q = realloc(v, (cnt + 1) * sizeof(*q));
			if (!q) {
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
				break;
			}
			v = q;
			memset(&v[cnt], 0, sizeof(v[cnt]));
			v[cnt].path = strdup(json_string_value(s));
			v[cnt].type = "deleted";
			v[cnt].deleted = true;
			cnt++;
		}
		json_decref(j);
	}
	if (rc != KCSI_OK) {
		kcsi_rootfs_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return KCSI_OK;
}

void kcsi_rootfs_free(kcsi_rootfs_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].target);
	}
	free(v);
}
