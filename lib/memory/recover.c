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

#include "reader/ckpt_int.h"
#include "kcsi/jsonw.h"
#include "kcsi/recover.h"
#include "base/safeout.h"

struct rctx {
	kcsi_ckpt *c;
	kcsi_outdir d;
	uint64_t max_file;
	uint64_t unpack_bound; /* KCSI_MAX_UNPACKED: decompressed bytes of the whole run */
	uint64_t unpacked;     /* decompressed so far: the checkpoint's members, then inner tars */
	size_t max_items;
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
	it = &x->r->items[x->r->n];
	memset(it, 0, sizeof(*it));
	if (!(it->source = strdup(source ? source : "")))
		return NULL;
	x->r->n++;
	it->origin = origin;
	it->pid = it->fd = -1;
	it->type = "file";
	return it;
}

static kcsi_code nomem(kcsi_error *err)
{
	return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
}

/* Record why the item was not written (whole); the last reason given wins. */
static void refuse(struct rctx *x, kcsi_item *it, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(struct rctx *x, kcsi_item *it, const char *fmt, ...)
{
	char *buf = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&buf, fmt, ap) < 0)
		buf = NULL;
	va_end(ap);
	if (!it->refused)
		x->r->refused++;
	free(it->refused);
	it->refused = buf ? buf : strdup("refused");
}

/* An error that concerns one item: recorded as its refusal, and the run
 * goes on.  Only running out of memory stops it. */
static kcsi_code item_error(struct rctx *x, kcsi_item *it, kcsi_error *err)
{
	if (err->code == KCSI_ERR_NOMEM)
		return KCSI_ERR_NOMEM;
	refuse(x, it, "%s", err->msg);
	kcsi_error_clear(err);
	return KCSI_OK;
}

/* A source (an image, an inner tar) that could not be read (further): an
 * item of its own, refused with the reason. */
static kcsi_code source_failed(struct rctx *x, const char *origin, const char *source, kcsi_error *err)
{
	kcsi_item *it;
	if (err->code == KCSI_ERR_NOMEM)
		return KCSI_ERR_NOMEM;
	if (!(it = add_item(x, origin, source)))
		return nomem(err);
	it->type = "archive";
	return item_error(x, it, err);
}

static const char *max_file_text(void)
{
	return "more than the bound on the data of one recovered file (max_file)";
}

/* Create the item's file below prefix/; sets it->file and it->renamed.
 * f->fd < 0 when the item was refused (recorded). */
static kcsi_code open_item(struct rctx *x, kcsi_item *it, const char *prefix, const char *path, kcsi_outfile *f,
			   kcsi_error *err)
{
	unsigned why;
	int fd = kcsi_outdir_place(&x->d, prefix, path, &it->file, &why, err);
	kcsi_outfile_init(f, fd, it->file);
	if (fd < 0)
		return item_error(x, it, err);
	if (why && !(it->renamed = kcsi_place_why(why))) {
		kcsi_outfile_close(f);
		return nomem(err);
	}
	return KCSI_OK;
}

/* Size the file (UINT64_MAX: as written), hash it, record it, close it. */
static kcsi_code finish_item(struct rctx *x, kcsi_item *it, kcsi_outfile *f, uint64_t size, kcsi_error *err)
{
	kcsi_filesum s;
	kcsi_code rc = kcsi_outfile_finish(f, size, &s, err);
	if (rc != KCSI_OK && rc != KCSI_ERR_NOMEM && size != UINT64_MAX) {
		/* e.g. an apparent size the file system cannot make */
		refuse(x, it, "%s (the file holds the data written, no more)", err->msg);
		kcsi_error_clear(err);
		rc = kcsi_outfile_finish(f, UINT64_MAX, &s, err);
	}
	kcsi_outfile_close(f);
	if (rc != KCSI_OK)
		return item_error(x, it, err);
	it->size = s.size;
	memcpy(it->sha256, s.sha256, sizeof(it->sha256));
	if (s.held < s.size) {
		it->sparse = true;
		memcpy(it->data_sha256, s.data_sha256, sizeof(it->data_sha256));
		it->extents = s.ext;
		it->nextents = s.n;
	} else {
		free(s.ext);
	}
	return KCSI_OK;
}

/* Writing an item failed half-way (err says why): the file keeps what was
 * written, and the refusal says the item is not whole. */
static kcsi_code item_failed(struct rctx *x, kcsi_item *it, kcsi_outfile *f, kcsi_error *err)
{
	char *why;
	kcsi_code rc;
	if (err->code == KCSI_ERR_NOMEM) {
		kcsi_outfile_close(f);
		return KCSI_ERR_NOMEM;
	}
	if (!(why = strdup(err->msg))) {
		kcsi_outfile_close(f);
		return nomem(err);
	}
	kcsi_error_clear(err);
	rc = finish_item(x, it, f, UINT64_MAX, err);
	refuse(x, it, "%s (not whole: the file holds the %llu bytes written before)", why,
	       (unsigned long long)it->size);
	free(why);
	return rc;
}

static kcsi_code write_bytes(struct rctx *x, kcsi_item *it, const char *prefix, const char *path,
			     const void *p, uint64_t n, kcsi_error *err)
{
	kcsi_outfile f;
	kcsi_code rc;
	if (n > x->max_file) {
		refuse(x, it, "%s: %llu bytes, %s", path, (unsigned long long)n, max_file_text());
		it->size = n;
		return KCSI_OK;
	}
	if ((rc = open_item(x, it, prefix, path, &f, err)) != KCSI_OK || f.fd < 0)
		return rc;
	if (kcsi_outfile_write(&f, p, (size_t)n, 0, err) != KCSI_OK)
		return item_failed(x, it, &f, err);
	return finish_item(x, it, &f, n, err);
}

/* ---- ghost files ---- */

/* A chunked ghost file: (off, len) records, each followed by len bytes;
 * what no chunk covers is a hole. */
static kcsi_code ghost_chunks(struct rctx *x, kcsi_item *it, const char *path, kcsi_image *img,
			      const GhostFileEntry *g, kcsi_error *err)
{
	kcsi_image scan = *img;
	uint64_t held = 0, end = 0;
	ProtobufCMessage *m;
	const unsigned char *p;
	kcsi_outfile f;
	kcsi_code rc;

	/* the bytes held, first: a damaged record ends the count (the second
	 * pass reports it) */
	for (;;) {
		uint64_t off, len;
		if ((rc = kcsi_image_next(&scan, &ghost_chunk_entry__descriptor, &m, err)) != KCSI_OK) {
			if (rc == KCSI_ERR_NOMEM)
				return rc;
			kcsi_error_clear(err);
			break;
		}
		if (!m)
			break;
		off = ((GhostChunkEntry *)m)->off;
		len = ((GhostChunkEntry *)m)->len;
		protobuf_c_message_free_unpacked(m, NULL);
		if (kcsi_image_raw(&scan, len, &p, err) != KCSI_OK) {
			kcsi_error_clear(err);
			break;
		}
		held += len;
		if (off + len > end)
			end = off + len;
	}
	if (held > x->max_file) {
		refuse(x, it, "%s: %llu bytes of data, %s", path, (unsigned long long)held, max_file_text());
		it->size = g->has_size && g->size > end ? g->size : end;
		return KCSI_OK;
	}
	if ((rc = open_item(x, it, "ghost", path, &f, err)) != KCSI_OK || f.fd < 0)
		return rc;
	end = 0;
	for (;;) {
		uint64_t off, len;
		if ((rc = kcsi_image_next(img, &ghost_chunk_entry__descriptor, &m, err)) != KCSI_OK)
			return item_failed(x, it, &f, err);
		if (!m)
			break;
		off = ((GhostChunkEntry *)m)->off;
		len = ((GhostChunkEntry *)m)->len;
		protobuf_c_message_free_unpacked(m, NULL);
		if (kcsi_image_raw(img, len, &p, err) != KCSI_OK ||
		    kcsi_outfile_write(&f, p, (size_t)len, off, err) != KCSI_OK)
			return item_failed(x, it, &f, err);
		if (off + len > end)
			end = off + len;
	}
	/* data past the size the entry gives is kept, not cut */
	return finish_item(x, it, &f, g->has_size && g->size > end ? g->size : end, err);
}

static kcsi_code recover_ghosts(struct rctx *x, kcsi_error *err)
{
	kcsi_ckpt *c = x->c;
	for (size_t i = 0; i < c->nremaps; i++) {
		RemapFilePathEntry *r = c->remaps[i];
		FileEntry *f = ck_file(c, r->orig_id);
		char full[600];
		kcsi_image img;
		GhostFileEntry *g;
		kcsi_item *it;
		kcsi_code rc;
		const char *path;

		if (!r->has_remap_type || r->remap_type != REMAP_TYPE__GHOST)
			continue;
		path = f && f->reg && f->reg->name ? f->reg->name : "unknown";
		if (!(it = add_item(x, "ghost", path)))
			return nomem(err);
		ck_file_holder(c, r->orig_id, &it->pid, &it->fd);
		if ((rc = ck_ghost_open(c, r->remap_id, full, sizeof(full), &img, &g, err)) != KCSI_OK) {
			if (item_error(x, it, err) != KCSI_OK)
				return KCSI_ERR_NOMEM;
			continue;
		}
		it->mode = g->mode;
		if (S_ISLNK(g->mode) || g->symlnk_target) {
			it->type = "symlink";
			if (!(it->target = strdup(g->symlnk_target ? g->symlnk_target : "")))
				return nomem(err);
			continue;
		}
		if (S_ISDIR(g->mode)) {
			it->type = "dir";
			continue;
		}
		if (!g->has_chunks || !g->chunks)
			rc = write_bytes(x, it, "ghost", path, img.data + img.pos, img.size - img.pos, err);
		else
			rc = ghost_chunks(x, it, path, &img, g, err);
		if (rc != KCSI_OK)
			return rc;
	}
	return KCSI_OK;
}

/* ---- memfd contents ---- */

/* One memfd inode: its pages where the checkpoint has them, holes elsewhere. */
static kcsi_code recover_memfd(struct rctx *x, kcsi_item *it, const MemfdInodeEntry *ino, const char *rel,
			       kcsi_error *err)
{
	const kcsi_memrun *runs = NULL;
	size_t nr = 0;
	uint64_t held = 0;
	kcsi_outfile f;
	kcsi_code rc = kcsi_ckpt_shmem(x->c, ino->shmid, &runs, &nr, err);

	if (rc == KCSI_ERR_NOTFOUND) {
		kcsi_error_clear(err);
		nr = 0; /* an empty memfd has no pages */
	} else if (rc != KCSI_OK) {
		return item_error(x, it, err);
	}
	for (size_t k = 0; k < nr; k++)
		if (runs[k].vaddr < ino->size)
			held += runs[k].len < ino->size - runs[k].vaddr ? runs[k].len : ino->size - runs[k].vaddr;
	if (held > x->max_file) {
		refuse(x, it, "%s: %llu bytes of data, %s", it->source, (unsigned long long)held, max_file_text());
		it->size = ino->size;
		return KCSI_OK;
	}
	if ((rc = open_item(x, it, "memfd", rel, &f, err)) != KCSI_OK || f.fd < 0)
		return rc;
	for (size_t k = 0; k < nr; k++) {
		uint64_t len = runs[k].len;
		if (runs[k].vaddr >= ino->size)
			continue;
		if (len > ino->size - runs[k].vaddr)
			len = ino->size - runs[k].vaddr;
		if (kcsi_outfile_write(&f, runs[k].data, (size_t)len, runs[k].vaddr, err) != KCSI_OK)
			return item_failed(x, it, &f, err);
	}
	return finish_item(x, it, &f, ino->size, err);
}

static kcsi_code recover_memfds(struct rctx *x, kcsi_error *err)
{
	kcsi_ckpt *c = x->c;
	ProtobufCMessage **all;
	size_t n;
	kcsi_code rc;

	if ((rc = ck_read_all(c, "memfd.img", "MEMFD_INODE", &all, &n, err)) != KCSI_OK)
		return source_failed(x, "memfd", "memfd.img", err);
	for (size_t i = 0; i < n && rc == KCSI_OK; i++) {
		MemfdInodeEntry *ino = (MemfdInodeEntry *)all[i];
		char src[300], rel[300], safe[256];
		kcsi_item *it;

		snprintf(safe, sizeof(safe), "%s", ino->name ? ino->name : "");
		for (size_t k = 0; safe[k]; k++)
			if (safe[k] == '/')
				safe[k] = '_';
		snprintf(src, sizeof(src), "memfd:%s", ino->name ? ino->name : "");
		snprintf(rel, sizeof(rel), "%llu-%s", (unsigned long long)ino->inode_id, safe[0] ? safe : "memfd");
		if (!(it = add_item(x, "memfd", src)))
			return nomem(err);
		it->mode = ino->has_mode ? ino->mode : 0;
		for (size_t f = 0; f < c->nfiles; f++)
			if (c->files[f]->type == FD_TYPES__MEMFD && c->files[f]->memfd &&
			    c->files[f]->memfd->inode_id == ino->inode_id) {
				ck_file_holder(c, c->files[f]->id, &it->pid, &it->fd);
				if (it->pid >= 0)
					break;
			}
		rc = recover_memfd(x, it, ino, rel, err);
	}
	return rc;
}

/* ---- TCP queues ---- */

static kcsi_code recover_queues(struct rctx *x, kcsi_error *err)
{
	kcsi_sock *v;
	size_t n;
	kcsi_code rc = kcsi_ckpt_socks(x->c, &v, &n, err);
	if (rc != KCSI_OK)
		return source_failed(x, "tcp-queue", "sockets", err);
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
				rc = nomem(err);
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

/* Bytes of data a tar entry carries: its size, or what its sparse map holds. */
static uint64_t entry_held(struct archive_entry *e, uint64_t size)
{
	la_int64_t off, len;
	uint64_t held = 0;
	if (archive_entry_sparse_reset(e) == 0)
		return size;
	while (archive_entry_sparse_next(e, &off, &len) == ARCHIVE_OK)
		if (len > 0)
			held += (uint64_t)len;
	return held < size ? held : size;
}

/* Is the inner tar compressed?  Known once its first header is read. */
static bool tar_compressed(struct archive *a)
{
	return archive_filter_count(a) > 1 && archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
}

/* Bytes of the inner tar decompressed so far (0 when it is not compressed:
 * then its bytes are the checkpoint's, counted when it was opened). */
static uint64_t tar_unpacked(struct archive *a)
{
	return tar_compressed(a) ? (uint64_t)archive_filter_bytes(a, 0) : 0;
}

/* The data of the current regular entry into the item's file.  Returns
 * KCSI_OK (item done or refused), KCSI_ERR_FORMAT when the tar cannot be read
 * further (err set), or KCSI_ERR_NOMEM. */
static kcsi_code tar_entry_data(struct rctx *x, kcsi_item *it, struct archive *a, const char *member,
				const char *prefix, const char *name, uint64_t base, kcsi_error *err)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	kcsi_outfile f;
	kcsi_code rc;
	int r;

	if ((rc = open_item(x, it, prefix, name, &f, err)) != KCSI_OK || f.fd < 0)
		return rc;
	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		if (off < 0 || (uint64_t)off + len > it->size) {
			kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: data of '%s' runs past its size", member, name);
			break;
		}
		if (base + tar_unpacked(a) > x->unpack_bound) {
			kcsi_error_set(err, KCSI_ERR_LIMIT,
				       "%s: '%s': more than %llu bytes decompressed in this run (KCSI_MAX_UNPACKED)",
				       member, name, (unsigned long long)x->unpack_bound);
			break;
		}
		if (kcsi_outfile_write(&f, blk, len, (uint64_t)off, err) != KCSI_OK)
			return item_failed(x, it, &f, err); /* the next header skips the rest */
	}
	if (r != ARCHIVE_EOF) {
		char *why;
		if (r != ARCHIVE_OK)
			kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: '%s': %s", member, name,
				       archive_error_string(a) ? archive_error_string(a) : "read error");
		if (!(why = strdup(err->msg))) {
			kcsi_outfile_close(&f);
			return nomem(err);
		}
		if ((rc = item_failed(x, it, &f, err)) == KCSI_OK)
			rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s", why);
		free(why);
		return rc;
	}
	return finish_item(x, it, &f, it->size, err);
}

static kcsi_code recover_tar(struct rctx *x, const char *member, const char *origin, const char *prefix,
			     kcsi_error *err)
{
	struct archive *a;
	struct archive_entry *e;
	uint64_t base = x->unpacked;
	kcsi_code rc;
	int r;

	if ((rc = ck_member_tar(x->c, member, &a, err)) != KCSI_OK)
		return source_failed(x, origin, member, err);
	if (!a)
		return KCSI_OK;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);
		mode_t t = archive_entry_filetype(e);
		uint64_t held;
		kcsi_item *it;
		char *src;

		x->unpacked = base + tar_unpacked(a);
		if (!name)
			continue;
		if (x->unpacked > x->unpack_bound) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: more than %llu bytes decompressed in this run (KCSI_MAX_UNPACKED)",
					    member, (unsigned long long)x->unpack_bound);
			break;
		}
		if (x->r->n >= x->max_items) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: more than %zu items in this run", member, x->max_items);
			break;
		}
		if (t == AE_IFDIR && !archive_entry_hardlink(e))
			continue; /* directories are made as needed */
		if (asprintf(&src, "/%s", name[0] == '/' ? name + 1 : name) < 0)
			return nomem(err);
		it = add_item(x, origin, src);
		free(src);
		if (!it) {
			rc = nomem(err);
			break;
		}
		it->mode = archive_entry_mode(e);
		it->size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
		it->type = entry_type(t);
		held = entry_held(e, it->size);
		if (archive_entry_hardlink(e)) {
			it->type = "hardlink";
			if (!(it->target = strdup(archive_entry_hardlink(e)))) {
				rc = nomem(err);
				break;
			}
		} else if (t == AE_IFLNK) {
			if (!(it->target = strdup(archive_entry_symlink(e) ? archive_entry_symlink(e) : ""))) {
				rc = nomem(err);
				break;
			}
		} else if (t != AE_IFREG) {
			refuse(x, it, "%s: device, fifo or socket: not created", it->source);
		} else if (held > x->max_file) {
			refuse(x, it, "%s: %llu bytes of data, %s", it->source, (unsigned long long)held, max_file_text());
		}
		/* the entry's data is decompressed whether written or skipped */
		if (tar_compressed(a) && held > x->unpack_bound - x->unpacked) {
			refuse(x, it, "%s: not read: its %llu bytes would pass the bound of %llu bytes decompressed in this run (KCSI_MAX_UNPACKED)",
			       it->source, (unsigned long long)held, (unsigned long long)x->unpack_bound);
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: decompressing it passes KCSI_MAX_UNPACKED", member);
			break;
		}
		if (t != AE_IFREG || it->refused || archive_entry_hardlink(e))
			continue; /* recorded, never created; the next header skips the data */
		if ((rc = tar_entry_data(x, it, a, member, prefix, name, base, err)) != KCSI_OK)
			break;
	}
	x->unpacked = base + tar_unpacked(a);
	if (rc == KCSI_OK && r != ARCHIVE_EOF && r != ARCHIVE_OK && r != ARCHIVE_WARN)
		rc = kcsi_error_set(err, KCSI_ERR_FORMAT, "%s: %s", member,
				    archive_error_string(a) ? archive_error_string(a) : "bad tar header");
	archive_read_free(a);
	if (rc != KCSI_OK && rc != KCSI_ERR_NOMEM) {
		/* a damaged, hostile or too large inner tar: what came before is
		 * kept, the rest is an item of the manifest, the run goes on */
		kcsi_item *it = add_item(x, origin, member);
		if (!it)
			return nomem(err);
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
		if (!(it = add_item(x, "log", logs[i])))
			return nomem(err);
		it->mode = m->mode;
		if (kcsi_member_data(x->c->ar, m, &data, err) != KCSI_OK)
			rc = item_error(x, it, err);
		else
			rc = write_bytes(x, it, "log", logs[i], data, m->size, err);
		if (rc != KCSI_OK)
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

	if (!m || !m->size)
		return KCSI_OK;
	if (kcsi_member_data(x->c->ar, m, &data, err) != KCSI_OK)
		return source_failed(x, "deleted", "deleted.files", err);
	j = json_loadb((const char *)data, (size_t)m->size, 0, NULL);
	if (!json_is_array(j)) {
		json_decref(j);
		kcsi_error_set(err, KCSI_ERR_FORMAT, "deleted.files: not a JSON list");
		return source_failed(x, "deleted", "deleted.files", err);
	}
	json_array_foreach(j, i, v) {
		kcsi_item *it;
		if (!json_is_string(v))
			continue;
		if (!(it = add_item(x, "deleted", json_string_value(v)))) {
			json_decref(j);
			return nomem(err);
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

	if (!f)
		return nomem(err);
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
		if (it->renamed)
			kcsi_jw_kstr(&w, "renamed", it->renamed);
		if (it->sparse) {
			kcsi_jw_kbool(&w, "sparse", true);
			kcsi_jw_kstr(&w, "data_sha256", it->data_sha256);
			kcsi_jw_key(&w, "extents");
			kcsi_jw_arr(&w);
			for (size_t k = 0; k < it->nextents; k++) {
				kcsi_jw_arr(&w);
				kcsi_jw_uint(&w, it->extents[2 * k]);
				kcsi_jw_uint(&w, it->extents[2 * k + 1]);
				kcsi_jw_arr_end(&w);
			}
			kcsi_jw_arr_end(&w);
		}
		if (it->refused)
			kcsi_jw_kstr(&w, "refused", it->refused);
		kcsi_jw_obj_end(&w);
	}
	kcsi_jw_arr_end(&w);
	kcsi_jw_obj_end(&w);
	kcsi_jw_end(&w);
	if (fclose(f) != 0) {
		free(buf);
		return nomem(err);
	}
	rc = kcsi_outdir_replace(&x->d, "manifest.json", buf, len, err);
	free(buf);
	return rc;
}

/* Bytes the checkpoint's own members were decompressed to when it was
 * opened (none when they are read in place). */
static uint64_t ckpt_unpacked(const kcsi_archive *ar)
{
	uint64_t n = 0;
	if (kcsi_archive_in_place(ar))
		return 0;
	for (size_t i = 0; i < kcsi_archive_count(ar); i++)
		n += kcsi_archive_at(ar, i)->size;
	return n;
}

kcsi_code kcsi_recover(kcsi_ckpt *c, const kcsi_recover_opts *o, kcsi_recovery *out, kcsi_error *err)
{
	struct rctx x = {.c = c, .max_file = o->max_file ? o->max_file : (4ull << 30), .r = out};
	kcsi_archive_limits lim;
	kcsi_error merr;
	kcsi_code rc, mrc;

	memset(out, 0, sizeof(*out));
	kcsi_archive_default_limits(&lim);
	x.unpack_bound = lim.max_unpacked;
	x.max_items = lim.max_members;
	x.unpacked = ckpt_unpacked(c->ar);
	if ((rc = kcsi_outdir_open(&x.d, o->out_dir, o->force, err)) != KCSI_OK)
		return rc;
	if (!o->force && !kcsi_outdir_empty(&x.d)) {
		kcsi_outdir_close(&x.d);
		kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: exists already and is not empty (written into only when forced)",
			       o->out_dir);
		kcsi_error_param(err, "force");
		return KCSI_ERR_GENERIC;
	}
	/* each stage records what it could not recover and the run goes on;
	 * only running out of memory stops it, and the manifest is written
	 * in any case */
	if ((rc = recover_ghosts(&x, err)) == KCSI_OK &&
	    (rc = recover_memfds(&x, err)) == KCSI_OK &&
	    (rc = recover_queues(&x, err)) == KCSI_OK &&
	    (rc = recover_tar(&x, "rootfs-diff.tar", "rootfs-diff", "rootfs", err)) == KCSI_OK &&
	    (rc = recover_tar(&x, "devshm-checkpoint.tar", "devshm", "devshm", err)) == KCSI_OK &&
	    (rc = recover_logs(&x, err)) == KCSI_OK)
		rc = recover_deleted_list(&x, err);
	kcsi_error_clear(&merr);
	mrc = write_manifest(&x, &merr);
	if (rc == KCSI_OK && mrc != KCSI_OK) {
		*err = merr;
		rc = mrc;
	}
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
		free(r->items[i].renamed);
		free(r->items[i].extents);
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
