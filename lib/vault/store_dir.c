/* kcsi vault — the directory store.
 *
 * STORE/vault.json, ledger.jsonl, ledger.head, lock, objects/XX/KEY (0400 in
 * 0700 directories), tmp/ (files being written; a file there whose flock
 * can be taken belongs to a dead writer and is removed).
 *
 * Concurrency: writers hold `lock` exclusively (flock) while they load,
 * check and append to the ledger and link objects; readers hold it shared
 * while they read the ledger (and list objects), so they see whole entries
 * and a head that matches them.  A file in tmp/ is flock'd by its writer
 * before it has a name there (O_TMPFILE, then linkat), so no other
 * process's clean-up can take it while it is in use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/vault_int.h"

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

typedef struct dir_store {
	kv_store base;
	char *root;
	int lockfd;
} dir_store;

struct kv_upload {
	dir_store *d;
	int fd;
	char *tmp;
	uint64_t written;
};

static char *path_of(dir_store *d, const char *name)
{
	size_t n = strlen(d->root) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", d->root, name);
	return p;
}

static kcsi_code io_err(kcsi_error *err, const char *what, const char *path)
{
	int e = errno;
	if (e == ENOSPC || e == EDQUOT)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s %s: no space left on the vault's filesystem", what, path);
	return kcsi_error_set(err, e == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s %s: %s", what, path,
			      strerror(e));
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void sync_dir(const char *path)
{
	char *d = strdup(path), *slash;
	int fd;
	if (!d)
		return;
	slash = strrchr(d, '/');
	if (slash)
		*slash = '\0';
	fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(d);
}

/* mkdir -p for the parents of name (relative to the root), mode 0700 */
static int mkparents(dir_store *d, const char *name)
{
	char *p = path_of(d, name);
	size_t rl = strlen(d->root);
	if (!p)
		return -1;
	for (char *s = p + rl + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

static kcsi_code d_read_file(kv_store *s, const char *name, kcsi_buf *out, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, name), buf[65536];
	int fd;
	ssize_t n;
	kcsi_code rc = KCSI_OK;

	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = io_err(err, "opening", p);
		free(p);
		return rc;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (kcsi_buf_add(out, buf, (size_t)n) != 0) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: too large", p);
			break;
		}
	if (n < 0)
		rc = io_err(err, "reading", p);
	close(fd);
	free(p);
	return rc;
}

/* Create a file in tmp/ named PREFIX-RANDOM that is flock'd by this process
 * before any other can see it: an O_TMPFILE is locked, then linked in.
 * Where O_TMPFILE is not supported, mkstemp's file is locked and then
 * checked to be still the one under that name (a clean-up may have taken it
 * in between; then another is made). */
static kcsi_code claim_tmp(dir_store *d, const char *prefix, int *fdp, char **pathp, kcsi_error *err)
{
	char *dir = path_of(d, "tmp"), *path = NULL;
	kcsi_code rc = KCSI_OK;
	int fd = -1;

	if (!dir)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	for (int tries = 0; tries < 100 && rc == KCSI_OK; tries++) {
		unsigned char rnd[12];
		char hex[25], proc[64];
		struct stat a, b;
		free(path);
		randombytes_buf(rnd, sizeof(rnd));
		kcsi_hex(rnd, sizeof(rnd), hex);
		if (!(path = malloc(strlen(dir) + strlen(prefix) + 32))) {
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
			break;
		}
		sprintf(path, "%s/%s-%s", dir, prefix, hex);
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0) {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			if (flock(fd, LOCK_EX) == 0 &&
			    (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0 ||
			     linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)) {
				*fdp = fd;
				*pathp = path;
				free(dir);
				return KCSI_OK;
			}
			int e = errno;
			close(fd);
			if (e == EEXIST)
				continue;
			if (e == ENOSPC || e == EDQUOT || e == EROFS || e == EACCES) {
				errno = e;
				rc = io_err(err, "creating", path);
				break;
			}
			/* no way to link it (no /proc): a named file then */
		} else if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
			rc = io_err(err, "creating a file in", dir);
			break;
		}
		sprintf(path, "%s/%s-XXXXXX", dir, prefix);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0) {
			rc = io_err(err, "creating", path);
			break;
		}
		if (flock(fd, LOCK_EX) == 0 && fstat(fd, &a) == 0 && a.st_nlink > 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			*fdp = fd;
			*pathp = path;
			free(dir);
			return KCSI_OK;
		}
		close(fd);
	}
	if (rc == KCSI_OK)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: no temporary file could be claimed", dir);
	free(path);
	free(dir);
	return rc;
}

static kcsi_code d_write_file(kv_store *s, const char *name, const void *data, size_t n, bool excl,
			      kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, name), *tmp = NULL;
	kcsi_code rc = KCSI_OK;
	int fd;

	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if ((rc = claim_tmp(d, "file", &fd, &tmp, err)) != KCSI_OK)
		goto out;
	if (write_all(fd, data, n) != 0 || fsync(fd) != 0 || fchmod(fd, 0400) != 0) {
		rc = io_err(err, "writing", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (excl ? link(tmp, p) : rename(tmp, p)) {
		if (errno == EEXIST)
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "%s already exists", p);
		else
			rc = io_err(err, "writing", p);
		unlink(tmp);
	} else if (excl) {
		unlink(tmp);
	}
	close(fd);
	sync_dir(p);
out:
	free(p);
	free(tmp);
	return rc;
}

/* remove the files of writers that died (their flock is free) */
static void clean_tmp(dir_store *d)
{
	char *t = path_of(d, "tmp");
	DIR *dh = t ? opendir(t) : NULL;
	struct dirent *e;
	if (!dh) {
		free(t);
		return;
	}
	while ((e = readdir(dh))) {
		struct stat a, b;
		int fd;
		if (strncmp(e->d_name, "put-", 4) != 0 && strncmp(e->d_name, "file-", 5) != 0)
			continue;
		fd = openat(dirfd(dh), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		/* still the file locked, under that name */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &a) == 0 &&
		    fstatat(dirfd(dh), e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			unlinkat(dirfd(dh), e->d_name, 0);
		close(fd);
	}
	closedir(dh);
	free(t);
}

static kcsi_code d_obj_begin(kv_store *s, kv_upload **out, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	kv_upload *u = calloc(1, sizeof(*u));
	kcsi_code rc;
	if (!u)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	clean_tmp(d);
	u->d = d;
	if ((rc = claim_tmp(d, "put", &u->fd, &u->tmp, err)) != KCSI_OK) {
		free(u);
		return rc;
	}
	*out = u;
	return KCSI_OK;
}

static kcsi_code d_obj_write(kv_upload *u, const void *p, size_t n, kcsi_error *err)
{
	if (write_all(u->fd, p, n) != 0)
		return io_err(err, "writing", u->tmp);
	u->written += n;
	return KCSI_OK;
}

static void d_obj_abort(kv_upload *u)
{
	if (!u)
		return;
	close(u->fd);
	unlink(u->tmp);
	free(u->tmp);
	free(u);
}

static kcsi_code d_obj_commit(kv_upload *u, const char *key, bool *existed, kcsi_error *err)
{
	dir_store *d = u->d;
	char *p = path_of(d, key);
	kcsi_code rc = KCSI_OK;

	*existed = false;
	if (!p) {
		d_obj_abort(u);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	if (fsync(u->fd) != 0 || fchmod(u->fd, 0400) != 0) {
		rc = io_err(err, "writing", u->tmp);
		goto out;
	}
	if (mkparents(d, key) != 0) {
		rc = io_err(err, "creating the directory of", p);
		goto out;
	}
	if (link(u->tmp, p) != 0) {
		if (errno == EEXIST)
			*existed = true;
		else
			rc = io_err(err, "storing", p);
	}
	if (rc == KCSI_OK)
		sync_dir(p);
out:
	d_obj_abort(u);
	free(p);
	return rc;
}

static kcsi_code d_obj_read(kv_store *s, const char *key, kv_sink sink, void *ctx, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, key);
	unsigned char *buf = malloc(1 << 20);
	kcsi_code rc = KCSI_OK;
	ssize_t n;
	int fd = -1;

	if (!p || !buf) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = io_err(err, "opening", p);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while ((n = read(fd, buf, 1 << 20)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = io_err(err, "reading", p);
			break;
		}
		if (sink(ctx, buf, (size_t)n, err) != 0) {
			rc = err ? err->code : KCSI_ERR_IO;
			break;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(p);
	return rc;
}

static kcsi_code d_obj_stat(kv_store *s, const char *key, uint64_t *size, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, key);
	struct stat st;
	kcsi_code rc = KCSI_OK;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (stat(p, &st) != 0)
		rc = io_err(err, "reading", p);
	else
		*size = (uint64_t)st.st_size;
	free(p);
	return rc;
}

static kcsi_code d_obj_delete(kv_store *s, const char *key, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, key);
	kcsi_code rc = KCSI_OK;
	if (!p)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	/* the content is ciphertext; overwriting it too is cheap hygiene */
	{
		bool ow;
		kcsi_error e2;
		if (chmod(p, 0600) == 0)
			rc = kcsi_secure_delete(p, &ow, &e2);
		else
			rc = kcsi_error_set(&e2, errno == ENOENT ? KCSI_ERR_NOTFOUND : KCSI_ERR_IO, "%s: %s", p,
					    strerror(errno));
		if (rc != KCSI_OK && err)
			*err = e2;
	}
	if (rc == KCSI_OK)
		sync_dir(p);
	free(p);
	return rc;
}

/* ledger.head first, then the lines (see kv_ledger_raw) */
static kcsi_code d_ledger_read(kv_store *s, kv_ledger_raw *out, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	kcsi_error herr;
	char *p = path_of(d, "ledger.jsonl");
	unsigned char *buf = malloc(1 << 16);
	kcsi_code rc = KCSI_OK;
	struct stat st;
	uint64_t total = 0;
	kv_line line;
	ssize_t n;
	int fd = -1;

	kv_line_init(&line);
	out->lines = json_array();
	if (!p || !buf || !out->lines) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	kcsi_error_clear(&herr);
	out->head_rc = d_read_file(s, "ledger.head", &out->head, &herr);
	snprintf(out->head_why, sizeof(out->head_why), "%s", herr.msg);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = io_err(err, "opening", p);
		goto out;
	}
	if ((uint64_t)st.st_size > KV_LEDGER_MAX) {
		rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: %llu bytes, more than a ledger may hold (%llu)", p,
				    (unsigned long long)st.st_size, (unsigned long long)KV_LEDGER_MAX);
		goto out;
	}
	while ((n = read(fd, buf, 1 << 16)) != 0) {
		size_t i = 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = io_err(err, "reading", p);
			goto out;
		}
		total += (uint64_t)n;
		if (total > KV_LEDGER_MAX) {
			rc = kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: more than a ledger may hold (%llu bytes)", p,
					    (unsigned long long)KV_LEDGER_MAX);
			goto out;
		}
		while (i < (size_t)n) {
			unsigned char *nl = memchr(buf + i, '\n', (size_t)n - i);
			size_t e = nl ? (size_t)(nl - buf) : (size_t)n;
			if (kv_line_add(&line, buf + i, e - i) != 0 || (nl && kv_line_take(&line, out->lines) != 0)) {
				rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "%s: out of memory", p);
				goto out;
			}
			i = e + (nl ? 1 : 0);
		}
	}
	if (line.len) {
		out->torn = true;
		if (kv_line_take(&line, out->lines) != 0)
			rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "%s: out of memory", p);
	}
out:
	if (fd >= 0)
		close(fd);
	kv_line_free(&line);
	free(buf);
	free(p);
	return rc;
}

static kcsi_code d_ledger_append(kv_store *s, uint64_t seq, const char *line, size_t n, bool *lost,
				 kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, "ledger.jsonl"), *buf = malloc(n + 1);
	kcsi_code rc = KCSI_OK;
	struct stat st;
	int fd;

	*lost = false; /* appends are serialised by the lock */
	if (!p || !buf) {
		free(p);
		free(buf);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	memcpy(buf, line, n);
	buf[n] = '\n';
	fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = io_err(err, "opening", p);
	} else if (write_all(fd, buf, n + 1) != 0 || fdatasync(fd) != 0) {
		rc = io_err(err, "appending to", p);
		/* never leave half an entry */
		if (ftruncate(fd, st.st_size) != 0)
			rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: a partial entry %llu could not be removed: %s",
					    p, (unsigned long long)seq, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	free(p);
	free(buf);
	return rc;
}

/* Writers lock exclusively; readers shared.  A reader that cannot open the
 * lock file (a read-only copy of the store) reads without it. */
static kcsi_code d_lock(kv_store *s, enum kv_lock_mode mode, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	if (d->lockfd < 0) {
		char *p = path_of(d, "lock");
		if (!p)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		d->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (d->lockfd < 0 && mode == KV_LOCK_SHARED)
			d->lockfd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (d->lockfd < 0) {
			kcsi_code rc = mode == KV_LOCK_SHARED && (errno == EACCES || errno == EROFS || errno == ENOENT)
					       ? KCSI_OK
					       : io_err(err, "opening", p);
			free(p);
			return rc;
		}
		free(p);
	}
	while (flock(d->lockfd, mode == KV_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) != 0)
		if (errno != EINTR)
			return kcsi_error_set(err, KCSI_ERR_IO, "%s/lock: %s", d->root, strerror(errno));
	s->lock_held = 1 + (int)mode;
	s->lock_gen++;
	return KCSI_OK;
}

static void d_unlock(kv_store *s)
{
	dir_store *d = (dir_store *)s;
	if (d->lockfd >= 0 && s->lock_held)
		flock(d->lockfd, LOCK_UN);
	s->lock_held = 0;
}

/* every name below folder that is not a directory (depth-bounded; symbolic
 * links are names, never followed) */
static int walk(int dfd, const char *rel, int depth, kv_name_fn fn, void *ctx)
{
	DIR *dh = fdopendir(dfd);
	struct dirent *e;
	int r = 0;
	if (!dh) {
		close(dfd);
		return fn(ctx, rel, -1);
	}
	while (r == 0 && (e = readdir(dh))) {
		char *name;
		int sub;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!(name = malloc(strlen(rel) + strlen(e->d_name) + 2)))
			return closedir(dh), -1;
		sprintf(name, "%s/%s", rel, e->d_name);
		sub = depth < 4 ? openat(dirfd(dh), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (sub >= 0) {
			r = walk(sub, name, depth + 1, fn, ctx);
		} else {
			struct stat st;
			r = fn(ctx, name, fstatat(dirfd(dh), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? (int64_t)st.st_mtime : -1);
		}
		free(name);
	}
	closedir(dh);
	return r;
}

static kcsi_code d_list(kv_store *s, const char *folder, kv_name_fn fn, void *ctx, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, folder), *rel = strdup(folder);
	kcsi_code rc = KCSI_OK;
	int fd;
	if (!p || !rel) {
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (rel[0] && rel[strlen(rel) - 1] == '/')
		rel[strlen(rel) - 1] = '\0';
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			rc = io_err(err, "listing", p);
		goto out;
	}
	if (walk(fd, rel, 1, fn, ctx) != 0)
		rc = kcsi_error_set(err, KCSI_ERR_NOMEM, "listing %s: out of memory", p);
out:
	free(p);
	free(rel);
	return rc;
}

static void d_close(kv_store *s)
{
	dir_store *d = (dir_store *)s;
	if (d->lockfd >= 0)
		close(d->lockfd);
	free(d->root);
	free(d->base.url);
	free(d);
}

static void d_where(kv_store *s, uint64_t index, char *buf, size_t cap)
{
	snprintf(buf, cap, "ledger.jsonl line %llu", (unsigned long long)index + 1);
}

static const struct kv_store_ops dir_ops = {
	.read_file = d_read_file,
	.write_file = d_write_file,
	.obj_begin = d_obj_begin,
	.obj_write = d_obj_write,
	.obj_commit = d_obj_commit,
	.obj_abort = d_obj_abort,
	.obj_read = d_obj_read,
	.obj_stat = d_obj_stat,
	.obj_delete = d_obj_delete,
	.list = d_list,
	.ledger_read = d_ledger_read,
	.ledger_append = d_ledger_append,
	.lock = d_lock,
	.unlock = d_unlock,
	.close = d_close,
	.ledger_where = d_where,
};

kcsi_code kv_dir_open(const char *path, bool create, kv_store **out, kcsi_error *err)
{
	dir_store *d = calloc(1, sizeof(*d));
	struct stat st;

	if (!d)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	d->base.ops = &dir_ops;
	d->base.has_lock = true;
	d->lockfd = -1;
	d->root = strdup(path);
	d->base.url = strdup(path);
	if (!d->root || !d->base.url) {
		d_close(&d->base);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	if (create) {
		static const char *const sub[] = {"objects", "tmp", "reports"};
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			kcsi_code rc = io_err(err, "creating", path);
			d_close(&d->base);
			return rc;
		}
		for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
			char *p = path_of(d, sub[i]);
			if (!p || (mkdir(p, 0700) != 0 && errno != EEXIST)) {
				kcsi_code rc = io_err(err, "creating", p ? p : path);
				free(p);
				d_close(&d->base);
				return rc;
			}
			free(p);
		}
	} else if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		kcsi_code rc = kcsi_error_set(err, KCSI_ERR_NOTFOUND, "%s: no vault here (kcsi vault init makes one)",
					      path);
		d_close(&d->base);
		return rc;
	}
	*out = &d->base;
	return KCSI_OK;
}
