/* kcsi — writing files below one directory.  See safeout.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/safeout.h"
#include "base/util.h"

static void pathmap_free(struct kcsi_pathmap *m);

kcsi_code kcsi_outdir_open(kcsi_outdir *d, const char *path, bool force, kcsi_error *err)
{
	d->force = force;
	d->made = NULL;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", path, strerror(errno));
	return KCSI_OK;
}

void kcsi_outdir_close(kcsi_outdir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	pathmap_free(d->made);
	d->made = NULL;
}

bool kcsi_outdir_empty(kcsi_outdir *d)
{
	int fd = dup(d->fd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	bool empty = true;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (empty && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = false;
	closedir(dir);
	return empty;
}

int kcsi_outdir_create(kcsi_outdir *d, const char *rel, kcsi_error *err)
{
	char path[4096];
	char *p, *slash;
	int dir = dup(d->fd), fd;

	if (dir < 0) {
		kcsi_error_set(err, KCSI_ERR_IO, "dup: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s", rel);
	p = path;
	while ((slash = strchr(p, '/'))) {
		int next;
		*slash = '\0';
		if (mkdirat(dir, p, 0700) != 0 && errno != EEXIST) {
			kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot create directory: %s", rel, strerror(errno));
			close(dir);
			return -1;
		}
		next = openat(dir, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			kcsi_error_set(err, errno == ELOOP || errno == ENOTDIR ? KCSI_ERR_UNSAFE : KCSI_ERR_IO,
				       "%s: '%s' is not a plain directory (%s): refused", rel, p, strerror(errno));
			close(dir);
			return -1;
		}
		close(dir);
		dir = next;
		p = slash + 1;
	}
	fd = openat(dir, p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (d->force ? O_TRUNC : O_EXCL), 0600);
	if (fd < 0) {
		if (errno == EEXIST) {
			kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: exists already (replaced only when forced)", rel);
			kcsi_error_param(err, "force");
		}
		else if (errno == ELOOP)
			kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: is a symbolic link: refused", rel);
		else
			kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", rel, strerror(errno));
	} else {
		struct stat st;
		if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
			close(fd);
			kcsi_error_set(err, KCSI_ERR_UNSAFE, "%s: not a regular file: refused", rel);
			fd = -1;
		} else if (d->force && ftruncate(fd, 0) != 0) {
			close(fd);
			kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", rel, strerror(errno));
			fd = -1;
		}
	}
	close(dir);
	return fd;
}

kcsi_code kcsi_write_at(int fd, const void *buf, size_t len, uint64_t off, const char *what, kcsi_error *err)
{
	const char *p = buf;
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO, "%s: %s", what,
					      strerror(errno));
		}
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return KCSI_OK;
}

/* ---- placing the files of one run ---- */

/* Relative paths this run placed a file at, or a directory under another
 * name than wanted: open addressing on an FNV-1a hash. */
struct pathmap_slot {
	char *key;
	bool file;          /* a file of this run is at key */
	uint32_t next_file; /* the suffix to try first for a file wanted at key (0: 1) */
	uint32_t dir;       /* the suffix the directory wanted at key was given (0: 1) */
	unsigned dir_why;   /* and why (KCSI_PLACE_* bits) */
};

struct kcsi_pathmap {
	struct pathmap_slot *s;
	size_t cap, n;
};

static uint64_t path_hash(const char *k)
{
	uint64_t h = 1469598103934665603ull;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return h;
}

static void pathmap_free(struct kcsi_pathmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++)
		free(m->s[i].key);
	free(m->s);
	free(m);
}

static struct pathmap_slot *pathmap_find(struct kcsi_pathmap *m, const char *key)
{
	if (!m || !m->cap)
		return NULL;
	for (size_t i = path_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->s[i].key)
			return NULL;
		if (strcmp(m->s[i].key, key) == 0)
			return &m->s[i];
	}
}

/* The slot of key, made when absent; NULL when memory is short. */
static struct pathmap_slot *pathmap_get(struct kcsi_outdir *d, const char *key)
{
	struct kcsi_pathmap *m = d->made;
	struct pathmap_slot *sl;
	size_t i;

	if (!m && !(m = d->made = calloc(1, sizeof(*m))))
		return NULL;
	if ((sl = pathmap_find(m, key)))
		return sl;
	if ((m->n + 1) * 10 > m->cap * 7) {
		size_t ncap = m->cap ? m->cap * 2 : 256;
		struct pathmap_slot *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return NULL;
		for (size_t k = 0; k < m->cap; k++) {
			if (!m->s[k].key)
				continue;
			for (i = path_hash(m->s[k].key) & (ncap - 1); ns[i].key; i = (i + 1) & (ncap - 1))
				;
			ns[i] = m->s[k];
		}
		free(m->s);
		m->s = ns;
		m->cap = ncap;
	}
	for (i = path_hash(key) & (m->cap - 1); m->s[i].key; i = (i + 1) & (m->cap - 1))
		;
	if (!(m->s[i].key = strdup(key)))
		return NULL;
	m->n++;
	return &m->s[i];
}

#define NAME_MAX_BYTES 255
#define PLACE_PATH_MAX 4095
#define PLACE_MAX_SUFFIX 1000000u

/* Candidate K (1: the name itself, else with "~K") for component comp,
 * shortened when it does not fit in NAME_MAX_BYTES: its first
 * SHORT_NAME_KEEP bytes (not cutting a UTF-8 sequence), '~' and 16 hex
 * digits of its SHA-256; the same for every K. */
#define SHORT_NAME_KEEP 200
static void place_candidate(const char *comp, uint32_t k, char out[NAME_MAX_BYTES + 1], unsigned *why)
{
	char suffix[16] = "", hex[65];
	size_t len = strlen(comp), room, keep;

	if (k > 1)
		snprintf(suffix, sizeof(suffix), "~%u", k);
	room = NAME_MAX_BYTES - strlen(suffix);
	if (len <= room) {
		memcpy(out, comp, len);
		strcpy(out + len, suffix);
		return;
	}
	*why |= KCSI_PLACE_LONG_NAME;
	kcsi_sha256_hex(comp, len, hex);
	keep = SHORT_NAME_KEEP;
	while (keep > 0 && ((unsigned char)comp[keep] & 0xC0) == 0x80)
		keep--;
	memcpy(out, comp, keep);
	out[keep] = '~';
	memcpy(out + keep + 1, hex, 16);
	strcpy(out + keep + 17, suffix);
}

/* parent + "/" + name into b (b reset first); -1 when memory is short. */
static int join_path(kcsi_buf *b, const char *parent, const char *name)
{
	b->len = 0;
	if (*parent && (kcsi_buf_add(b, parent, strlen(parent)) != 0 || kcsi_buf_addc(b, '/') != 0))
		return -1;
	return kcsi_buf_add(b, name, strlen(name));
}

/* Enter (making it when needed) the directory for component comp below dir,
 * whose path is parent; parent receives the path used.  Returns the new
 * directory fd or -1 with *err set. */
static int place_dir(kcsi_outdir *d, int dir, kcsi_buf *parent, const char *comp, unsigned *why,
		     kcsi_error *err)
{
	kcsi_buf key, cand;
	struct pathmap_slot *sl;
	uint32_t k;
	int next = -1;

	kcsi_buf_init(&key, SIZE_MAX);
	kcsi_buf_init(&cand, SIZE_MAX);
	if (join_path(&key, kcsi_buf_str(parent), comp) != 0)
		goto nomem;
	sl = pathmap_find(d->made, kcsi_buf_str(&key));
	if (sl && sl->dir > 1)
		*why |= sl->dir_why; /* as when the directory was first renamed */
	for (k = sl && sl->dir ? sl->dir : 1; k <= PLACE_MAX_SUFFIX; k++) {
		char name[NAME_MAX_BYTES + 1];
		place_candidate(comp, k, name, why);
		if (join_path(&cand, kcsi_buf_str(parent), name) != 0)
			goto nomem;
		if ((sl = pathmap_find(d->made, kcsi_buf_str(&cand))) && sl->file) {
			*why |= KCSI_PLACE_NOT_DIR;
			continue;
		}
		if (mkdirat(dir, name, 0700) != 0 && errno != EEXIST) {
			kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO,
				       "%s: cannot create directory: %s", kcsi_buf_str(&cand), strerror(errno));
			goto out;
		}
		next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next >= 0)
			break;
		if (errno != ENOTDIR && errno != ELOOP) {
			kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", kcsi_buf_str(&cand), strerror(errno));
			goto out;
		}
		*why |= KCSI_PLACE_NOT_DIR;
	}
	if (next < 0) {
		kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: no free name", kcsi_buf_str(&key));
		goto out;
	}
	if (k > 1) {
		if (!(sl = pathmap_get(d, kcsi_buf_str(&key)))) {
			close(next);
			next = -1;
			goto nomem;
		}
		sl->dir = k;
		sl->dir_why = *why;
	}
	parent->len = 0;
	if (kcsi_buf_add(parent, cand.data, cand.len) != 0) {
		close(next);
		next = -1;
		goto nomem;
	}
	goto out;
nomem:
	kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
out:
	kcsi_buf_free(&key);
	kcsi_buf_free(&cand);
	return next;
}

/* Open an existing file of an earlier run to replace it: a plain file with
 * no other link only.  -1 with errno EEXIST otherwise. */
static int reuse_earlier(int dir, const char *name)
{
	struct stat st;
	int fd = openat(dir, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || ftruncate(fd, 0) != 0) {
		close(fd);
		errno = EEXIST;
		return -1;
	}
	return fd;
}

/* Create the file for component comp in dir (path parent); *written set. */
static int place_file(kcsi_outdir *d, int dir, const char *parent, const char *comp, char **written,
		      unsigned *why, kcsi_error *err)
{
	kcsi_buf key, cand;
	struct pathmap_slot *sl;
	uint32_t k;
	int fd = -1;

	kcsi_buf_init(&key, SIZE_MAX);
	kcsi_buf_init(&cand, SIZE_MAX);
	if (join_path(&key, parent, comp) != 0)
		goto nomem;
	sl = pathmap_find(d->made, kcsi_buf_str(&key));
	if (sl && sl->next_file > 1)
		*why |= KCSI_PLACE_TAKEN; /* the names before were placed in this run */
	for (k = sl && sl->next_file ? sl->next_file : 1; k <= PLACE_MAX_SUFFIX; k++) {
		char name[NAME_MAX_BYTES + 1];
		struct stat st;
		place_candidate(comp, k, name, why);
		if (join_path(&cand, parent, name) != 0)
			goto nomem;
		if ((sl = pathmap_find(d->made, kcsi_buf_str(&cand))) && sl->file) {
			*why |= KCSI_PLACE_TAKEN;
			continue;
		}
		fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno != EEXIST) {
			kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO, "%s: %s",
				       kcsi_buf_str(&cand), strerror(errno));
			goto out;
		}
		if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
			*why |= KCSI_PLACE_IS_DIR;
			continue;
		}
		if (d->force && (fd = reuse_earlier(dir, name)) >= 0)
			break;
		*why |= KCSI_PLACE_OCCUPIED;
	}
	if (fd < 0) {
		kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: no free name", kcsi_buf_str(&key));
		goto out;
	}
	if (!(sl = pathmap_get(d, kcsi_buf_str(&cand))))
		goto nomem;
	sl->file = true;
	if (!(sl = pathmap_get(d, kcsi_buf_str(&key))))
		goto nomem;
	sl->next_file = k + 1;
	if (!(*written = strdup(kcsi_buf_str(&cand))))
		goto nomem;
	goto out;
nomem:
	kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (fd >= 0)
		close(fd);
	fd = -1;
out:
	kcsi_buf_free(&key);
	kcsi_buf_free(&cand);
	return fd;
}

int kcsi_outdir_place(kcsi_outdir *d, const char *prefix, const char *path, char **written, unsigned *why,
		      kcsi_error *err)
{
	size_t plen = strlen(path);
	char *clean = malloc(plen + 2), *full = NULL, *p;
	kcsi_buf parent;
	int dir = -1, fd = -1;

	*written = NULL;
	*why = 0;
	kcsi_buf_init(&parent, SIZE_MAX);
	if (!clean)
		goto nomem;
	if (kcsi_clean_relpath(path, clean, plen + 2) != 0) {
		kcsi_error_set(err, KCSI_ERR_UNSAFE, "path '%s' leaves the output directory or is empty: refused", path);
		goto out;
	}
	if (asprintf(&full, "%s/%s", prefix, clean) < 0) {
		full = NULL;
		goto nomem;
	}
	if (strlen(full) > PLACE_PATH_MAX) {
		char hex[65];
		free(full);
		kcsi_sha256_hex(path, plen, hex);
		if (asprintf(&full, "%s/~path-%s", prefix, hex) < 0) {
			full = NULL;
			goto nomem;
		}
		*why |= KCSI_PLACE_LONG_PATH;
	}
	if ((dir = dup(d->fd)) < 0) {
		kcsi_error_set(err, KCSI_ERR_IO, "dup: %s", strerror(errno));
		goto out;
	}
	for (p = full;;) {
		char *slash = strchr(p, '/');
		int next;
		if (!slash) {
			fd = place_file(d, dir, kcsi_buf_str(&parent), p, written, why, err);
			break;
		}
		*slash = '\0';
		next = place_dir(d, dir, &parent, p, why, err);
		if (next < 0)
			break;
		close(dir);
		dir = next;
		p = slash + 1;
	}
	goto out;
nomem:
	kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
out:
	if (dir >= 0)
		close(dir);
	free(clean);
	free(full);
	kcsi_buf_free(&parent);
	return fd;
}

char *kcsi_place_why(unsigned why)
{
	static const struct {
		unsigned bit;
		const char *text;
	} reasons[] = {
		{KCSI_PLACE_TAKEN, "another item of this run has that path"},
		{KCSI_PLACE_NOT_DIR, "a file is where a directory of the path is needed"},
		{KCSI_PLACE_IS_DIR, "a directory is where the file is needed"},
		{KCSI_PLACE_OCCUPIED, "something that is not a file of an earlier run is at that path"},
		{KCSI_PLACE_LONG_NAME, "a path component is over 255 bytes (shortened, with a hash of the name)"},
		{KCSI_PLACE_LONG_PATH, "the path is over 4095 bytes (written by the hash of the path)"},
	};
	kcsi_buf b;

	if (!why)
		return NULL;
	kcsi_buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (why & reasons[i].bit)
			kcsi_buf_printf(&b, "%s%s", b.len ? "; " : "", reasons[i].text);
	return b.data;
}

kcsi_code kcsi_outdir_replace(kcsi_outdir *d, const char *name, const void *buf, size_t len, kcsi_error *err)
{
	char tmp[300];
	kcsi_code rc;
	int fd = -1;

	for (unsigned i = 0; i < 1000 && fd < 0; i++) {
		snprintf(tmp, sizeof(tmp), ".%s.%ld.%u", name, (long)getpid(), i);
		fd = openat(d->fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO, "%s: %s", name, strerror(errno));
	rc = kcsi_write_at(fd, buf, len, 0, name, err);
	close(fd);
	if (rc == KCSI_OK && renameat(d->fd, tmp, d->fd, name) != 0)
		rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: %s", name, strerror(errno));
	if (rc != KCSI_OK)
		unlinkat(d->fd, tmp, 0);
	return rc;
}

/* ---- files with holes ---- */

void kcsi_outfile_init(kcsi_outfile *f, int fd, const char *what)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->what = what;
}

/* Note that [off, off + len) holds data. */
static int outfile_note(kcsi_outfile *f, uint64_t off, uint64_t len)
{
	if (f->n && f->ext[2 * f->n - 2] + f->ext[2 * f->n - 1] == off) {
		f->ext[2 * f->n - 1] += len;
		return 0;
	}
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		uint64_t *q = realloc(f->ext, ncap * 2 * sizeof(*q));
		if (!q)
			return -1;
		f->ext = q;
		f->cap = ncap;
	}
	f->ext[2 * f->n] = off;
	f->ext[2 * f->n + 1] = len;
	f->n++;
	return 0;
}

kcsi_code kcsi_outfile_write(kcsi_outfile *f, const void *buf, size_t len, uint64_t off, kcsi_error *err)
{
	const char *p = buf;
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return kcsi_error_set(err, KCSI_ERR_LIMIT, "%s: data at offset %llu is past the largest file", f->what,
				      (unsigned long long)off);
	while (len) {
		ssize_t w = pwrite(f->fd, p, len, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO, "%s: %s", f->what,
					      strerror(errno));
		}
		if (outfile_note(f, off, (uint64_t)w) != 0)
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return KCSI_OK;
}

static int cmp_extent(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Sort, merge and clip the extents to size. */
static void outfile_merge(kcsi_outfile *f, uint64_t size)
{
	size_t o = 0;
	if (f->n > 1)
		qsort(f->ext, f->n, 2 * sizeof(uint64_t), cmp_extent);
	for (size_t i = 0; i < f->n; i++) {
		uint64_t off = f->ext[2 * i], end = off + f->ext[2 * i + 1];
		if (end > size)
			end = size;
		if (off >= end)
			continue;
		if (o && off <= f->ext[2 * o - 2] + f->ext[2 * o - 1]) {
			uint64_t prev = f->ext[2 * o - 2];
			if (end - prev > f->ext[2 * o - 1])
				f->ext[2 * o - 1] = end - prev;
			continue;
		}
		f->ext[2 * o] = off;
		f->ext[2 * o + 1] = end - off;
		o++;
	}
	f->n = o;
}

static void hash_zeros(EVP_MD_CTX *ctx, uint64_t n)
{
	static const unsigned char zeros[1 << 16];
	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		EVP_DigestUpdate(ctx, zeros, k);
		n -= k;
	}
}

kcsi_code kcsi_outfile_finish(kcsi_outfile *f, uint64_t size, kcsi_filesum *s, kcsi_error *err)
{
	EVP_MD_CTX *data = EVP_MD_CTX_new(), *whole = NULL;
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	uint64_t pos = 0;
	unsigned mdlen = 0;
	kcsi_code rc = KCSI_OK;

	memset(s, 0, sizeof(*s));
	if (size == UINT64_MAX) {
		size = 0;
		for (size_t i = 0; i < f->n; i++)
			if (f->ext[2 * i] + f->ext[2 * i + 1] > size)
				size = f->ext[2 * i] + f->ext[2 * i + 1];
	}
	if (!data)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	if (size > (uint64_t)INT64_MAX || ftruncate(f->fd, (off_t)size) != 0) {
		EVP_MD_CTX_free(data);
		return kcsi_error_set(err, errno == ENOSPC ? KCSI_ERR_LIMIT : KCSI_ERR_IO,
				      "%s: cannot make it %llu bytes long: %s", f->what, (unsigned long long)size,
				      size > (uint64_t)INT64_MAX ? "too large" : strerror(errno));
	}
	outfile_merge(f, size);
	for (size_t i = 0; i < f->n; i++)
		s->held += f->ext[2 * i + 1];
	s->size = size;
	EVP_DigestInit_ex(data, EVP_sha256(), NULL);
	if (size - s->held <= s->held + KCSI_HOLE_HASH_SLACK) {
		if (!(whole = EVP_MD_CTX_new())) {
			EVP_MD_CTX_free(data);
			return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
		}
		EVP_DigestInit_ex(whole, EVP_sha256(), NULL);
	}
	for (size_t i = 0; i < f->n && rc == KCSI_OK; i++) {
		uint64_t off = f->ext[2 * i], end = off + f->ext[2 * i + 1];
		if (whole)
			hash_zeros(whole, off - pos);
		while (off < end) {
			size_t want = end - off < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
			ssize_t r = pread(f->fd, buf, want, (off_t)off);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = kcsi_error_set(err, KCSI_ERR_IO, "%s: reading it back: %s", f->what,
						    r < 0 ? strerror(errno) : "shorter than written");
				break;
			}
			EVP_DigestUpdate(data, buf, (size_t)r);
			if (whole)
				EVP_DigestUpdate(whole, buf, (size_t)r);
			off += (uint64_t)r;
		}
		pos = end;
	}
	if (rc == KCSI_OK) {
		EVP_DigestFinal_ex(data, md, &mdlen);
		kcsi_hex(md, mdlen, s->data_sha256);
		if (whole) {
			hash_zeros(whole, size - pos);
			EVP_DigestFinal_ex(whole, md, &mdlen);
			kcsi_hex(md, mdlen, s->sha256);
		}
		s->ext = f->ext;
		s->n = f->n;
		f->ext = NULL;
		f->n = f->cap = 0;
	}
	EVP_MD_CTX_free(data);
	EVP_MD_CTX_free(whole);
	return rc;
}

void kcsi_outfile_close(kcsi_outfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->ext);
	f->ext = NULL;
	f->n = f->cap = 0;
}
