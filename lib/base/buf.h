/* kcsi — a growable byte buffer with a maximum size fixed at creation. */
#ifndef KCSI_BUF_H
#define KCSI_BUF_H
#ifndef KCSI_INTERNAL
#error "buf.h is private to libkcsi"
#endif

#include <stddef.h>

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
/* As much of p as fits below the maximum; returns how many bytes were kept
 * (fewer than n: the buffer is full, or memory is short). */
size_t kcsi_buf_add_some(kcsi_buf *b, const void *p, size_t n);
/* NUL-terminated contents (an empty string for an empty buffer). */
const char *kcsi_buf_str(kcsi_buf *b);
/* The contents as a malloc'd NUL-terminated string, the buffer emptied (its
 * maximum kept); NULL when memory is short. */
char *kcsi_buf_take(kcsi_buf *b);

#endif
