/* kcsi — finding a literal in a large buffer (lib/base/find.c). */
#ifndef KCSI_BASE_FIND_H
#define KCSI_BASE_FIND_H

#include <stddef.h>

/* The first occurrence of needle[0, m) in hay[0, n), or NULL (m 0: hay).
 * The same answer as memmem(3); faster on the megabytes of memory a scan
 * hands it. */
const unsigned char *kcsi_find(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m);

#endif
