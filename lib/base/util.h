/* kcsi — small internal helpers shared by the library's modules. */
#ifndef KCSI_UTIL_H
#define KCSI_UTIL_H
#ifndef KCSI_INTERNAL
#error "util.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"

/* "123", "64K", "256M", "1G", "2T" -> bytes.  0 on success, -1 on error. */
int kcsi_parse_size(const char *s, uint64_t *out);

/* A growable byte buffer with a maximum size fixed at creation. */
typedef struct kcsi_buf {
	char *data;
	size_t len, cap, max;
} kcsi_buf;

void kcsi_buf_init(kcsi_buf *b, size_t max);
void kcsi_buf_free(kcsi_buf *b);
/* -1 when the buffer would exceed its maximum or memory is short. */
int kcsi_buf_add(kcsi_buf *b, const void *p, size_t n);
int kcsi_buf_addc(kcsi_buf *b, char c);
int kcsi_buf_printf(kcsi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminated contents (an empty string for an empty buffer). */
const char *kcsi_buf_str(kcsi_buf *b);

/* Base64 (RFC 4648).  `lines` = true gives Python's base64.encodebytes
 * layout (a newline after every 76 characters and at the end), which is what
 * crit prints. */
int kcsi_base64(kcsi_buf *out, const unsigned char *p, size_t n, bool lines);

/* A map from byte strings to ints (open addressing; keys are copied).
 * Zero-initialise, then put/get; kcsi_strmap_free() frees the keys. */
typedef struct kcsi_strmap {
	char **keys;
	size_t *lens;
	int *vals;
	size_t n, cap;
} kcsi_strmap;
/* 0, or -1 when memory is short.  An existing key gets the new value. */
int kcsi_strmap_put(kcsi_strmap *m, const char *key, size_t len, int val);
/* The value, or `missing` when the key is absent. */
int kcsi_strmap_get(const kcsi_strmap *m, const char *key, size_t len, int missing);
void kcsi_strmap_free(kcsi_strmap *m);

/* A libarchive reader for tar (and GNU tar) with the decompressors built
 * into libarchive (gzip, bzip2, xz/lzma, zstd) and no other: libarchive's
 * "all" filters would run external programs (lrzip, lzop, grzip, lz4 ...)
 * on what an archive says it is.  NULL when memory is short. */
struct archive *kcsi_tar_reader(void);

/* Read a little-endian u32 from p. */
static inline uint32_t kcsi_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Does [off, off+len) fit in a buffer of size total?  Overflow-safe. */
static inline bool kcsi_fits(uint64_t off, uint64_t len, uint64_t total)
{
	return off <= total && len <= total - off;
}

#endif
