/* kcsi — instants as text for the front ends, from the library's one
 * formatter (RFC 3339 in UTC). */
#ifndef KCSI_TIMEFMT_H
#define KCSI_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any instant kcsi_time_text writes. */
#define KCSI_TIME_TEXT_MAX 40

/* sec (seconds since the epoch) as "2026-03-04T10:15:01Z", or with human
 * "2026-03-04 10:15:01" (UTC, for tables).  Returns buf; "" when the time
 * cannot be shown. */
const char *kcsi_time_text(char *buf, size_t cap, int64_t sec, bool human);

#endif
