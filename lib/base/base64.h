/* kcsi — Base64 (RFC 4648) into a bounded buffer. */
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

#endif
