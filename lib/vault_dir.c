/* kcsi vault — the directory store.
 *
 * STORE/vault.json, ledger.jsonl, ledger.head, lock, objects/XX/KEY (0400 in
 * 0700 directories), tmp/ (objects being written; a file there whose flock
 * can be taken belongs to a dead writer and is removed). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault_int.h"

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

static kcsi_code d_write_file(kv_store *s, const char *name, const void *data, size_t n, bool excl,
			      kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, name), *tmp = path_of(d, "tmp/file-XXXXXX");
	kcsi_code rc = KCSI_OK;
	int fd;

	if (!p || !tmp) {
		free(p);
		free(tmp);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = io_err(err, "creating", tmp);
		goto out;
	}
	if (write_all(fd, data, n) != 0 || fsync(fd) != 0 || fchmod(fd, 0400) != 0) {
		rc = io_err(err, "writing", tmp);
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (excl ? link(tmp, p) : rename(tmp, p)) {
		if (errno == EEXIST)
			rc = kcsi_error_set(err, KCSI_ERR_GENERIC, "%s already exists", p);
		else
			rc = io_err(err, "writing", p);
	}
	unlink(tmp);
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
		int fd;
		if (strncmp(e->d_name, "put-", 4) != 0)
			continue;
		fd = openat(dirfd(dh), e->d_name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
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
	if (!u)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	clean_tmp(d);
	u->d = d;
	u->tmp = path_of(d, "tmp/put-XXXXXX");
	if (!u->tmp) {
		free(u);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	u->fd = mkstemp(u->tmp);
	if (u->fd < 0) {
		kcsi_code rc = io_err(err, "creating", u->tmp);
		free(u->tmp);
		free(u);
		return rc;
	}
	flock(u->fd, LOCK_EX);
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

static kcsi_code d_ledger_read(kv_store *s, json_t **lines, kcsi_error *err)
{
	kcsi_buf b;
	kcsi_code rc;
	kcsi_buf_init(&b, (size_t)1 << 32);
	rc = d_read_file(s, "ledger.jsonl", &b, err);
	if (rc != KCSI_OK) {
		kcsi_buf_free(&b);
		return rc;
	}
	*lines = json_array();
	for (size_t i = 0; i < b.len;) {
		char *nl = memchr(b.data + i, '\n', b.len - i);
		size_t e = nl ? (size_t)(nl - b.data) : b.len;
		json_array_append_new(*lines, json_stringn_nocheck(b.data + i, e - i));
		i = e + 1;
	}
	kcsi_buf_free(&b);
	return KCSI_OK;
}

static kcsi_code d_ledger_append(kv_store *s, uint64_t seq, const char *line, size_t n, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	char *p = path_of(d, "ledger.jsonl"), *buf = malloc(n + 1);
	kcsi_code rc = KCSI_OK;
	struct stat st;
	int fd;

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

static kcsi_code d_lock(kv_store *s, kcsi_error *err)
{
	dir_store *d = (dir_store *)s;
	if (d->lockfd < 0) {
		char *p = path_of(d, "lock");
		d->lockfd = p ? open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
		if (d->lockfd < 0) {
			kcsi_code rc = io_err(err, "opening", p ? p : "lock");
			free(p);
			return rc;
		}
		free(p);
	}
	if (flock(d->lockfd, LOCK_EX) != 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s/lock: %s", d->root, strerror(errno));
	return KCSI_OK;
}

static void d_unlock(kv_store *s)
{
	dir_store *d = (dir_store *)s;
	if (d->lockfd >= 0)
		flock(d->lockfd, LOCK_UN);
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
	d_read_file, d_write_file, d_obj_begin, d_obj_write, d_obj_commit, d_obj_abort, d_obj_read,
	d_obj_stat, d_obj_delete, d_ledger_read, d_ledger_append, d_lock, d_unlock, d_close, d_where,
};

kcsi_code kv_dir_open(const char *path, bool create, kv_store **out, kcsi_error *err)
{
	dir_store *d = calloc(1, sizeof(*d));
	struct stat st;

	if (!d)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	d->base.ops = &dir_ops;
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
