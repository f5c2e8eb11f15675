/* kcsi unit test — kcsi_find (lib/base/find.c) against memmem(3): the same
 * first occurrence for needles of 1 to 40 bytes in random buffers over small
 * alphabets (many partial matches, matches at both ends and across the
 * 16-byte blocks the SSE2 path tests at once).  Exit 0 when they agree; run
 * by tests/test_memory.py and `meson test`. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rng.h"
#include "base/find.h"

int main(void)
{
	rnd_seed(0x2545f4914f6cdd1du);
	static unsigned char hay[2048], needle[48];
	unsigned long cases = 0, found = 0;
	for (int it = 0; it < 300000; it++) {
		size_t n = (size_t)(rnd() % sizeof(hay)), m = 1 + (size_t)(rnd() % 40);
		unsigned alphabet = 1 + (unsigned)(rnd() % 4 ? rnd() % 4 : rnd() % 256);
		for (size_t i = 0; i < n; i++)
			hay[i] = (unsigned char)('a' + rnd() % alphabet);
		if (n >= m && rnd() % 2) { /* a needle taken from the buffer: it is there */
			size_t at = (size_t)(rnd() % (n - m + 1));
			memcpy(needle, hay + at, m);
		} else {
			for (size_t i = 0; i < m; i++)
				needle[i] = (unsigned char)('a' + rnd() % alphabet);
		}
		const unsigned char *want = memmem(hay, n, needle, m), *got = kcsi_find(hay, n, needle, m);
		cases++;
		found += want != NULL;
		if (got != want) {
			printf("case %d: n %zu m %zu alphabet %u: kcsi_find at %td, memmem at %td\n", it, n, m, alphabet,
			       got ? got - hay : -1, want ? want - hay : -1);
			return 1;
		}
	}
	printf("kcsi_find: %lu cases (%lu with a match) agree with memmem\n", cases, found);
	return 0;
}
