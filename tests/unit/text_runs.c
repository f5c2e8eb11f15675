/* kcsi unit test — az_text_runs (lib/triage/netdata.c) against the plain
 * definition: every maximal run of text bytes (printable ASCII, tab, LF,
 * CR) of min bytes or more that starts before own, in order.  The library
 * classifies 64 bytes at a time with SSE2 and skips what cannot hold a run;
 * this compares both on random buffers of every text density, with runs
 * across 64-byte blocks and at the buffer's ends.  Exit 0 when they agree;
 * run by tests/test_triage.py and `meson test`. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triage/netdata.h"

#define MAX_RUNS 8192

struct runs {
	size_t off[MAX_RUNS], len[MAX_RUNS], n;
};

static void collect(void *ctx, size_t off, size_t len)
{
	struct runs *r = ctx;
	if (r->n < MAX_RUNS) {
		r->off[r->n] = off;
		r->len[r->n] = len;
	}
	r->n++;
}

static bool is_text(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r';
}

/* the definition, a byte at a time */
static void reference(const unsigned char *p, size_t n, size_t own, size_t min, struct runs *r)
{
	size_t i = 0;
	if (!min)
		min = 1;
	while (i < own && i < n) {
		size_t j = i;
		if (!is_text(p[i])) {
			i++;
			continue;
		}
		while (j < n && is_text(p[j]))
			j++;
		if (j - i >= min)
			collect(r, i, j - i);
		i = j;
	}
}

/* xorshift: the same buffers on every run */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

int main(void)
{
	static const size_t mins[] = {0, 1, 2, 5, 6, 8, 16, 31, 32, 33, 64};
	static unsigned char buf[4096];
	static struct runs got, want;
	unsigned long cases = 0;

	for (int it = 0; it < 100000; it++) {
		size_t n = (size_t)(rnd() % sizeof(buf)), own, min = mins[rnd() % (sizeof(mins) / sizeof(mins[0]))];
		unsigned density = (unsigned)(rnd() % 101); /* percent of text bytes */
		for (size_t i = 0; i < n; i++) {
			uint64_t x = rnd();
			if (x % 100 < density) /* printable, or now and then a tab, LF or CR */
				buf[i] = x % 17 ? (unsigned char)(0x20 + (x >> 8) % 95) : (unsigned char)"\t\n\r"[(x >> 8) % 3];
			else /* control bytes, DEL and above */
				buf[i] = (unsigned char)((x >> 16) % 4 ? (x >> 24) % 32 : 0x7f + (x >> 24) % 129);
		}
		own = rnd() % 4 ? n : (size_t)(rnd() % (n + 1));
		got.n = want.n = 0;
		az_text_runs(buf, n, own, min, collect, &got);
		reference(buf, n, own, min, &want);
		cases++;
		if (got.n != want.n || memcmp(got.off, want.off, (want.n < MAX_RUNS ? want.n : MAX_RUNS) * sizeof(size_t)) ||
		    memcmp(got.len, want.len, (want.n < MAX_RUNS ? want.n : MAX_RUNS) * sizeof(size_t))) {
			printf("case %d: n %zu own %zu min %zu density %u%%: %zu runs, the definition gives %zu\n", it, n, own,
			       min, density, got.n, want.n);
			for (size_t k = 0; k < want.n && k < 8; k++)
				printf("  want [%zu, +%zu)  got [%zu, +%zu)\n", want.off[k], want.len[k],
				       k < got.n ? got.off[k] : 0, k < got.n ? got.len[k] : 0);
			return 1;
		}
	}
	printf("az_text_runs: %lu cases agree with the definition\n", cases);
	return 0;
}
