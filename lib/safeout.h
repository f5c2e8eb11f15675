/* kcsi — writing files below one directory, and nowhere else. */
#ifndef KCSI_SAFEOUT_H
#define KCSI_SAFEOUT_H
#ifndef KCSI_INTERNAL
#error "safeout.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kcsi/error.h"

typedef struct kcsi_outdir {
	int fd;          /* the output directory */
	bool force;
} kcsi_outdir;

kcsi_code kcsi_outdir_open(kcsi_outdir *d, const char *path, bool force, kcsi_error *err);
void kcsi_outdir_close(kcsi_outdir *d);

/* Clean a relative path: leading '/' removed (confined), "." dropped, ".."
 * refused (-1).  Returns 0 and the cleaned path in out. */
int kcsi_clean_relpath(const char *in, char *out, size_t cap);

/* Create REL (already clean) below the directory: parents made 0700 without
 * following any symlink; the file made 0600, O_EXCL unless force.  Returns
 * an fd open for writing, or -1 with *err set. */
int kcsi_outdir_create(kcsi_outdir *d, const char *rel, kcsi_error *err);

/* Write all of buf at offset (pwrite loop). */
kcsi_code kcsi_write_at(int fd, const void *buf, size_t len, uint64_t off, const char *what, kcsi_error *err);

/* SHA-256 of a file's content (hex, 65 bytes). */
kcsi_code kcsi_sha256_fd(int fd, char hex[65], kcsi_error *err);
void kcsi_sha256_hex(const void *p, size_t n, char hex[65]);

#endif
