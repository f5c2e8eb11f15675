/* kcsi — instants as text: RFC 3339 in UTC, the one formatter of the
 * project (logs, ledgers, reports, names). */
#ifndef KCSI_TIME_H
#define KCSI_TIME_H
#ifndef KCSI_INTERNAL
#error "time.h is private to libkcsi"
#endif

#include <stddef.h>
#include <stdint.h>

/* Room for the longest form ("-YYYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" and a NUL). */
#define KCSI_TIME_MAX 40

/* "2026-03-04T10:15:01Z", with frac_digits (3, 6 or 9) digits of the
 * second after a '.' before the 'Z': ".123Z", ".123456Z", ".123456789Z"
 * (truncated, not rounded).  Returns the length, or 0 (buf "") when the
 * time cannot be broken down or does not fit. */
size_t kcsi_rfc3339(char *buf, size_t cap, int64_t sec, uint32_t nsec, int frac_digits);
/* The same for the time now (CLOCK_REALTIME). */
size_t kcsi_rfc3339_now(char *buf, size_t cap, int frac_digits);
/* The compact form for names: "20260304t101501z" (no separators, lower-case
 * 't' and 'z'). */
size_t kcsi_utc_compact(char *buf, size_t cap, int64_t sec);

/* Nanoseconds since the epoch (CLOCK_REALTIME) and of CLOCK_MONOTONIC. */
uint64_t kcsi_wall_ns(void);
uint64_t kcsi_mono_ns(void);

#endif
