/* kcsi — writing files below one directory.  See safeout.h. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safeout.h"

kcsi_code kcsi_outdir_open(kcsi_outdir *d, const char *path, bool force, kcsi_error *err)
{
	d->force = force;
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
}

int kcsi_clean_relpath(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	const char *p = in;
	while (*p) {
		const char *s;
		size_t len;
		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		if (o + len + 2 > cap)
			return -1;
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	out[o] = '\0';
	return o ? 0 : -1;
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
		if (errno == EEXIST)
			kcsi_error_set(err, KCSI_ERR_GENERIC, "%s: exists already (use --force to overwrite)", rel);
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

static void to_hex(const unsigned char *d, unsigned n, char *hex)
{
	static const char x[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		hex[2 * i] = x[d[i] >> 4];
		hex[2 * i + 1] = x[d[i] & 15];
	}
	hex[2 * n] = '\0';
}

void kcsi_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	to_hex(md, len, hex);
}

kcsi_code kcsi_sha256_fd(int fd, char hex[65], kcsi_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	off_t off = 0;
	ssize_t r;

	if (!ctx)
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while ((r = pread(fd, buf, sizeof(buf), off)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += r;
	}
	if (r < 0) {
		EVP_MD_CTX_free(ctx);
		return kcsi_error_set(err, KCSI_ERR_IO, "reading back a recovered file: %s", strerror(errno));
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	to_hex(md, len, hex);
	return KCSI_OK;
}
