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
#include "base/hash.h" /* the hashes of what is written */
#include "base/path.h" /* kcsi_clean_relpath */

struct kcsi_pathmap;

typedef struct kcsi_outdir {
	int fd;          /* the output directory */
	bool force;
	struct kcsi_pathmap *made; /* paths placed by kcsi_outdir_place() in this run */
} kcsi_outdir;

kcsi_code kcsi_outdir_open(kcsi_outdir *d, const char *path, bool force, kcsi_error *err);
void kcsi_outdir_close(kcsi_outdir *d);

/* Create REL (already clean) below the directory: parents made 0700 without
 * following any symlink; the file made 0600, O_EXCL unless force.  Returns
 * an fd open for writing, or -1 with *err set. */
int kcsi_outdir_create(kcsi_outdir *d, const char *rel, kcsi_error *err);

/* True when the directory holds no entry besides "." and "..". */
bool kcsi_outdir_empty(kcsi_outdir *d);

/* Reasons why kcsi_outdir_place() did not use the wanted path as it is. */
enum {
	KCSI_PLACE_TAKEN = 1u << 0,     /* another file of this run has that path */
	KCSI_PLACE_NOT_DIR = 1u << 1,   /* a file (or link...) is where a directory is needed */
	KCSI_PLACE_IS_DIR = 1u << 2,    /* a directory is where the file is needed */
	KCSI_PLACE_OCCUPIED = 1u << 3,  /* something that is not a plain file of an earlier run is there */
	KCSI_PLACE_LONG_NAME = 1u << 4, /* a component over 255 bytes, shortened */
	KCSI_PLACE_LONG_PATH = 1u << 5, /* the path is over 4095 bytes: written flat */
};

/* Create a new regular file for one item wanted at PREFIX/PATH.  PATH is
 * cleaned as by kcsi_clean_relpath(); ".." makes it fail with
 * KCSI_ERR_UNSAFE.  Nothing placed earlier in the run is ever replaced, and
 * no symlink is followed: where the wanted path is taken or unusable, the
 * component in the way gets a "~N" suffix (N = 2, 3, ...); a component over
 * 255 bytes keeps its first 200 bytes, a '~' and 16 hex digits of its SHA-256; a
 * path over 4095 bytes becomes PREFIX/~path-<SHA-256 of the path>.  A file of
 * an earlier run is replaced (emptied) only with force, and never one with
 * other hard links.  Returns an fd open for writing with *written (malloc) set
 * to the path used below the directory and *why to KCSI_PLACE_* bits (0: as
 * wanted), or -1 with *err set. */
int kcsi_outdir_place(kcsi_outdir *d, const char *prefix, const char *path, char **written, unsigned *why,
		      kcsi_error *err);
/* The KCSI_PLACE_* bits as text ("; " between reasons); malloc, NULL when none. */
char *kcsi_place_why(unsigned why);

/* Write FILE below the directory in one step (a temporary file renamed over
 * it): a symlink or hard link there is replaced, never followed. */
kcsi_code kcsi_outdir_replace(kcsi_outdir *d, const char *name, const void *buf, size_t len, kcsi_error *err);

/* A file being written for one recovered item.  What was written is
 * tracked, so that the parts the evidence does not hold stay holes on disk
 * and hashing costs what was written, not the apparent size. */
typedef struct kcsi_outfile {
	int fd;
	const char *what;   /* name for messages */
	uint64_t *ext;      /* (offset, length) pairs written, in order */
	size_t n, cap;
} kcsi_outfile;

/* What a finished file holds. */
typedef struct kcsi_filesum {
	uint64_t size;        /* apparent size */
	uint64_t held;        /* bytes of data; the rest of size are holes (zeros) */
	char sha256[65];      /* SHA-256 of the whole content; "" when not made
			       * because the holes outweigh the data (see below) */
	char data_sha256[65]; /* SHA-256 of the extents' bytes, in offset order */
	uint64_t *ext;        /* merged (offset, length) pairs of the data (malloc) */
	size_t n;
} kcsi_filesum;

/* The whole-content SHA-256 is made when the holes are no larger than the
 * data plus this many bytes: hashing costs at most twice what was written. */
#define KCSI_HOLE_HASH_SLACK (64u << 10)

void kcsi_outfile_init(kcsi_outfile *f, int fd, const char *what);
kcsi_code kcsi_outfile_write(kcsi_outfile *f, const void *p, size_t len, uint64_t off, kcsi_error *err);
/* Give the file its size (UINT64_MAX: the end of what was written; past the
 * data the file is a hole), merge the extents, hash by reading the data back,
 * close the fd.  On error the fd is closed too. */
kcsi_code kcsi_outfile_finish(kcsi_outfile *f, uint64_t size, kcsi_filesum *s, kcsi_error *err);
/* Close without finishing (frees the extents). */
void kcsi_outfile_close(kcsi_outfile *f);

/* Write all of buf at offset (pwrite loop). */
kcsi_code kcsi_write_at(int fd, const void *buf, size_t len, uint64_t off, const char *what, kcsi_error *err);

#endif
