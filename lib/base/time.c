/* kcsi — RFC 3339 time text and the clocks (see base/time.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/time.h"
#include "kcsi/timefmt.h"

size_t kcsi_rfc3339(char *buf, size_t cap, int64_t sec, uint32_t nsec, int frac_digits)
{
	static const uint32_t div[] = {1000000000u, 100000000u, 10000000u, 1000000u, 100000u, 10000u, 1000u, 100u,
				       10u, 1u};
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n;
	int k;

	if (cap)
		buf[0] = '\0';
	if (!gmtime_r(&t, &tm) || !cap)
		return 0;
	n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!n)
		return 0;
	if (frac_digits > 0 && frac_digits <= 9) {
		k = snprintf(buf + n, cap - n, ".%0*uZ", frac_digits, (unsigned)(nsec % 1000000000u / div[frac_digits]));
	} else {
		k = snprintf(buf + n, cap - n, "Z");
	}
	if (k < 0 || (size_t)k >= cap - n) {
		buf[0] = '\0';
		return 0;
	}
	return n + (size_t)k;
}

size_t kcsi_rfc3339_now(char *buf, size_t cap, int frac_digits)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return kcsi_rfc3339(buf, cap, (int64_t)ts.tv_sec, (uint32_t)ts.tv_nsec, frac_digits);
}

size_t kcsi_utc_compact(char *buf, size_t cap, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n = 0;
	if (cap)
		buf[0] = '\0';
	if (gmtime_r(&t, &tm) && cap)
		n = strftime(buf, cap, "%Y%m%dt%H%M%Sz", &tm);
	return n;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t kcsi_wall_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t kcsi_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

const char *kcsi_time_text(char *buf, size_t cap, int64_t sec, bool human)
{
	size_t n = kcsi_rfc3339(buf, cap, sec, 0, 0);
	if (n && human) {
		char *t = strchr(buf, 'T');
		if (t)
			*t = ' ';
		buf[n - 1] = '\0'; /* the 'Z' */
	}
	return buf;
}
