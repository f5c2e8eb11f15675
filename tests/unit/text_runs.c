/* kcsi unit test — az_text_runs and az_char_runs (lib/triage/netdata.c)
 * against the plain definition: every maximal run of text bytes (printable
 * ASCII, tab, LF, CR), or of line bytes (the same without LF and CR), of min
 * bytes or more that starts before own, in order.  The library classifies
 * 64 bytes at a time with SSE2 and skips what cannot hold a run; this
 * compares both on random buffers of every text density, with runs across
 * 64-byte blocks and at the buffer's ends.  Exit 0 when they agree; run by
 * tests/test_triage.py and `meson test`. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
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

/* lines: printable ASCII and tab; text: lines and line breaks */
static bool is_text(unsigned char c, bool breaks)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t' || (breaks && (c == '\n' || c == '\r'));
}

/* the definition, a byte at a time */
static void reference(const unsigned char *p, size_t n, size_t own, size_t min, bool breaks, struct runs *r)
{
	size_t i = 0;
	if (!min)
		min = 1;
	while (i < own && i < n) {
		size_t j = i;
		if (!is_text(p[i], breaks)) {
			i++;
			continue;
		}
		while (j < n && is_text(p[j], breaks))
			j++;
		if (j - i >= min)
			collect(r, i, j - i);
		i = j;
	}
}

/* xorshift: the same buffers on every run */
int main(void)
{
	rnd_seed(0x9e3779b97f4a7c15u);
	static const size_t mins[] = {0, 1, 2, 5, 6, 8, 16, 31, 32, 33, 64};
	static unsigned char buf[4096];
	static struct runs got, want;
	unsigned long cases = 0;

	for (int it = 0; it < 160000; it++) {
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
		bool breaks = it % 2; /* text runs, or lines (az_char_runs of AZ_CH_LINE) */
		got.n = want.n = 0;
		if (breaks)
			az_text_runs(buf, n, own, min, collect, &got);
		else
			az_char_runs(buf, n, own, min, AZ_CH_LINE, collect, &got);
		reference(buf, n, own, min, breaks, &want);
		cases++;
		if (got.n != want.n || memcmp(got.off, want.off, (want.n < MAX_RUNS ? want.n : MAX_RUNS) * sizeof(size_t)) ||
		    memcmp(got.len, want.len, (want.n < MAX_RUNS ? want.n : MAX_RUNS) * sizeof(size_t))) {
			printf("case %d (%s): n %zu own %zu min %zu density %u%%: %zu runs, the definition gives %zu\n", it,
			       breaks ? "text" : "lines", n, own, min, density, got.n, want.n);
			for (size_t k = 0; k < want.n && k < 8; k++)
				printf("  want [%zu, +%zu)  got [%zu, +%zu)\n", want.off[k], want.len[k],
				       k < got.n ? got.off[k] : 0, k < got.n ? got.len[k] : 0);
			return 1;
		}
	}
	printf("az_text_runs and az_char_runs (lines): %lu cases agree with the definition\n", cases);
	return 0;
}
