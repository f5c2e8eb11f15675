/* kcsi — SHA-256 (and HMAC-SHA-256) of buffers, descriptors and files, on
 * OpenSSL's libcrypto: the one hash library of the project (GnuTLS stays
 * where libmicrohttpd needs it, for TLS only). */
#ifndef KCSI_HASH_H
#define KCSI_HASH_H
#ifndef KCSI_INTERNAL
#error "hash.h is private to libkcsi"
#endif

#include <stddef.h>

#include "kcsi/error.h"

/* Lower-case hex of n bytes; out holds 2n+1 bytes. */
void kcsi_hex(const void *p, size_t n, char *out);

void kcsi_sha256(const void *p, size_t n, unsigned char out[32]);
void kcsi_sha256_hex(const void *p, size_t n, char hex[65]);
/* Of a descriptor's content from offset 0 (pread: the offset is left alone). */
kcsi_code kcsi_sha256_fd(int fd, char hex[65], kcsi_error *err);
/* Of a file's content (also declared in kcsi/respond.h for the CLI). */
kcsi_code kcsi_sha256_file(const char *path, char hex[65], kcsi_error *err);

/* HMAC-SHA-256 of p under key, as hex. */
void kcsi_hmac_sha256_hex(const void *key, size_t klen, const void *p, size_t n, char hex[65]);

#endif
