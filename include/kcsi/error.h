/* kcsi — errors.
 *
 * Every library call that can fail takes a `kcsi_error *` and returns a
 * kcsi_code.  On failure the error holds the code and a one-line message that
 * names what broke: the archive, the member, the image, the entry and the byte
 * offset where known.  The CLI prints `kcsi: MESSAGE` and exits with the code,
 * so the numbers below are also kcsi's documented exit codes (see kcsi(1)).
 */
#ifndef KCSI_ERROR_H
#define KCSI_ERROR_H

#include <stddef.h>

typedef enum kcsi_code {
	KCSI_OK = 0,
	KCSI_ERR_GENERIC = 1,     /* an operation failed (see message) */
	KCSI_ERR_USAGE = 2,       /* bad command line or argument */
	KCSI_ERR_IO = 3,          /* a file could not be opened or read */
	KCSI_ERR_FORMAT = 4,      /* malformed archive, image or metadata */
	KCSI_ERR_UNSUPPORTED = 5, /* valid input kcsi cannot handle */
	KCSI_ERR_LIMIT = 6,       /* a size or count bound was exceeded */
	KCSI_ERR_NOMEM = 7,       /* out of memory */
	KCSI_ERR_NOTFOUND = 8,    /* the pid, image or member asked for is absent */
	KCSI_ERR_UNSAFE = 9,      /* hostile archive member (path escape, link) */
} kcsi_code;

#define KCSI_ERRMSG_MAX 1024

typedef struct kcsi_error {
	kcsi_code code;
	char msg[KCSI_ERRMSG_MAX];
	/* The caller's input the error is about, by the name of the API's
	 * parameter or setting ("reason", "keys", "image", "max_file", "force",
	 * "cert", ...), or NULL.  The library's messages never name a command
	 * line option; a front end can map this to one of its own and add it as
	 * a hint. */
	const char *param;
} kcsi_error;

/* Set *err (when err is not NULL) and return code.  The message is formatted
 * with printf rules and truncated to KCSI_ERRMSG_MAX - 1 bytes; param is
 * cleared. */
kcsi_code kcsi_error_set(kcsi_error *err, kcsi_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Name the parameter the error set last is about (a static string). */
void kcsi_error_param(kcsi_error *err, const char *param);

/* Put "PREFIX: " in front of the message already in *err (used by callers
 * that know the context the callee did not, e.g. the archive member name). */
void kcsi_error_prefix(kcsi_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void kcsi_error_clear(kcsi_error *err);

/* Short name of a code, e.g. "malformed input". */
const char *kcsi_strerror(kcsi_code code);

#endif
