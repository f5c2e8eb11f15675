/* kcsi — Base64 (RFC 4648): encoding into a bounded buffer, and one decoder
 * for both alphabets (standard and URL-safe) that every reader shares. */
#ifndef KCSI_BASE64_H
#define KCSI_BASE64_H
#ifndef KCSI_INTERNAL
#error "base64.h is private to libkcsi"
#endif

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

/* `lines` = true gives Python's base64.encodebytes layout (a newline after
 * every 76 characters and at the end), which is what crit prints.  0, or -1
 * when the buffer is full. */
int kcsi_base64(kcsi_buf *out, const unsigned char *p, size_t n, bool lines);

/* The 6-bit value of a character of either alphabet ('+' and '-' are 62,
 * '/' and '_' are 63), or -1 for any other byte, '=' included. */
int kcsi_base64_value(unsigned char c);

/* Decode s[0..n) into out (at most cap bytes); padding is optional and the
 * first '=' ends the input.  Strict (lenient = false): -1 on a character of
 * neither alphabet or when out fills before the input ends — for validating
 * a token.  Lenient: stops quietly at the first such character or at a full
 * out — for carving a blob out of memory.  Otherwise the bytes written. */
long kcsi_unbase64(const char *s, size_t n, unsigned char *out, size_t cap, bool lenient);

#endif
