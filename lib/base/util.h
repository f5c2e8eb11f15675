/* kcsi — the small internal helpers every layer uses, in one include: the
 * bounded buffer, Base64, sizes, the string map (a header each), the tar
 * reader and two inline byte helpers. */
#ifndef KCSI_UTIL_H
#define KCSI_UTIL_H
#ifndef KCSI_INTERNAL
#error "util.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"
#include "base/base64.h"
#include "base/buf.h"
#include "base/size.h"
#include "base/strmap.h"

/* A libarchive reader for tar (and GNU tar) with the decompressors built
 * into libarchive (gzip, bzip2, xz/lzma, zstd) and no other: libarchive's
 * "all" filters would run external programs (lrzip, lzop, grzip, lz4 ...)
 * on what an archive says it is.  NULL when memory is short.
 * (reader/archive.c) */
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
