/* kcsi — relative paths from untrusted text (archive member names, paths
 * the evidence names), normalised by one rule. */
#ifndef KCSI_PATH_H
#define KCSI_PATH_H
#ifndef KCSI_INTERNAL
#error "path.h is private to libkcsi"
#endif

#include <stddef.h>

enum {
	KCSI_PATH_OK = 0,
	KCSI_PATH_EMPTY = 1,   /* nothing left: "", "/", ".", "./." (the root) */
	KCSI_PATH_UNSAFE = -1, /* a ".." component, or absolute without KCSI_PATH_CONFINE */
	KCSI_PATH_LONG = -2,   /* the result does not fit in cap */
};

/* flags */
enum {
	/* leading '/' are dropped (the path is confined below a directory);
	 * without it an absolute path is KCSI_PATH_UNSAFE */
	KCSI_PATH_CONFINE = 1u << 0,
};

/* The normal form of a relative path: empty and "." components dropped,
 * runs of '/' made one, no leading or trailing '/'; ".." refused.  Writes
 * into out (cap bytes, NUL-terminated) and returns a KCSI_PATH_* value. */
int kcsi_path_normalise(const char *in, unsigned flags, char *out, size_t cap);

/* kcsi_path_normalise(in, KCSI_PATH_CONFINE, ...) as 0 (a non-empty path)
 * or -1 (anything else). */
int kcsi_clean_relpath(const char *in, char *out, size_t cap);

#endif
