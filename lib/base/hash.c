/* kcsi — SHA-256 and HMAC-SHA-256 on libcrypto (see base/hash.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"

void kcsi_hex(const void *p, size_t n, char *out)
{
	static const char x[] = "0123456789abcdef";
	const unsigned char *d = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = x[d[i] >> 4];
		out[2 * i + 1] = x[d[i] & 15];
	}
	out[2 * n] = '\0';
}

void kcsi_sha256(const void *p, size_t n, unsigned char out[32])
{
	unsigned len = 32;
	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void kcsi_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char md[32];
	kcsi_sha256(p, n, md);
	kcsi_hex(md, sizeof(md), hex);
}

kcsi_code kcsi_sha256_fd(int fd, char hex[65], kcsi_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[1 << 16], md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	off_t off = 0;
	ssize_t r;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(ctx);
		return kcsi_error_set(err, KCSI_ERR_NOMEM, "out of memory");
	}
	while ((r = pread(fd, buf, sizeof(buf), off)) > 0 || (r < 0 && errno == EINTR)) {
		if (r < 0)
			continue;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += r;
	}
	if (r < 0) {
		int e = errno;
		EVP_MD_CTX_free(ctx);
		return kcsi_error_set(err, KCSI_ERR_IO, "reading to hash: %s", strerror(e));
	}
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	kcsi_hex(md, len, hex);
	return KCSI_OK;
}

kcsi_code kcsi_sha256_file(const char *path, char hex[65], kcsi_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	kcsi_code rc;
	if (fd < 0)
		return kcsi_error_set(err, KCSI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	rc = kcsi_sha256_fd(fd, hex, err);
	close(fd);
	if (rc)
		kcsi_error_prefix(err, "%s", path);
	return rc;
}

void kcsi_hmac_sha256_hex(const void *key, size_t klen, const void *p, size_t n, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	if (!HMAC(EVP_sha256(), key, (int)klen, p, n, md, &len))
		len = 0;
	kcsi_hex(md, len, hex);
}
