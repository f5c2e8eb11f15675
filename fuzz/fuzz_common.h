/* kcsi fuzz targets — what the harnesses share: the input as a file, a
 * private work directory, and checks on the JSON a library call returns. */
#ifndef KCSI_FUZZ_COMMON_H
#define KCSI_FUZZ_COMMON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The bytes in an anonymous memfd; path receives its /proc/self/fd/N name.
 * Returns the descriptor (close it); aborts when it cannot be made. */
int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap);

/* Write bytes to a file (created or truncated); aborts on failure. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* A directory of this process's own under $TMPDIR (default /tmp), made on
 * the first call and removed with everything in it at exit. */
const char *fuzz_workdir(void);

/* Remove everything below dir (not dir itself); never follows a link. */
void fuzz_clear_dir(const char *dir);

/* A result the library hands out must be JSON that every reader takes:
 * serialised and parsed back without error (no invalid UTF-8 slipped in
 * unchecked).  Aborts when it is not; NULL is accepted.  The reference is
 * not taken. */
void fuzz_check_json(const json_t *j);

/* Count the bytes of a string so that ASan checks it is terminated. */
void fuzz_touch(const char *s);

#endif
