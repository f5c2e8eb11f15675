/* kcsi — sizes as people write them ("64K", "256M", "1G"). */
#ifndef KCSI_SIZE_H
#define KCSI_SIZE_H
#ifndef KCSI_INTERNAL
#error "size.h is private to libkcsi"
#endif

#include <stdint.h>

/* "123", "64K", "256M", "1G", "2T" (an optional "i" and/or "B" after the
 * unit) -> bytes.  0 on success, -1 on error. */
int kcsi_parse_size(const char *s, uint64_t *out);

#endif
