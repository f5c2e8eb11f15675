/* kcsi — finding a literal in a large buffer (base/find.h).
 *
 * memgrep's literal search.  With SSE2, 16 candidate positions are tested
 * at once (32 with AVX2, where the CPU has it): a position is a candidate only when the needle's first byte is
 * there and its last byte is m - 1 bytes further, so random memory gives one
 * candidate in 65,536 and the buffer is read at close to memory speed;
 * candidates are confirmed with memcmp.  The last bytes of the buffer, short
 * needles and other architectures go through memchr or memmem. */
#include <string.h>

#include "base/find.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/* The same test 32 positions at a time, on CPUs with AVX2 (chosen at run
 * time); returns where the SSE2 loop is to go on, or the match in *hit. */
__attribute__((target("avx2"))) static size_t find_avx2(const unsigned char *hay, size_t n, const unsigned char *needle,
							size_t m, const unsigned char **hit)
{
	const __m256i first = _mm256_set1_epi8((char)needle[0]), last = _mm256_set1_epi8((char)needle[m - 1]);
	size_t i = 0;
	for (; i + m - 1 + 32 <= n; i += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(hay + i + m - 1));
		unsigned mask = (unsigned)_mm256_movemask_epi8(
			_mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last)));
		while (mask) {
			unsigned bit = (unsigned)__builtin_ctz(mask);
			if (memcmp(hay + i + bit + 1, needle + 1, m - 2) == 0) {
				*hit = hay + i + bit;
				return i;
			}
			mask &= mask - 1;
		}
	}
	return i;
}
#endif

const unsigned char *kcsi_find(const unsigned char *hay, size_t n, const unsigned char *needle, size_t m)
{
	size_t i = 0;
	if (m == 0)
		return hay;
	if (m > n)
		return NULL;
	if (m == 1)
		return memchr(hay, needle[0], n);
#ifdef HAVE_AVX2_PATH
	if (__builtin_cpu_supports("avx2")) {
		const unsigned char *hit = NULL;
		i = find_avx2(hay, n, needle, m, &hit);
		if (hit)
			return hit;
	}
#endif
#ifdef __SSE2__
	const __m128i first = _mm_set1_epi8((char)needle[0]), last = _mm_set1_epi8((char)needle[m - 1]);
	for (; i + m - 1 + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(hay + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(hay + i + m - 1));
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
		while (mask) {
			unsigned bit = (unsigned)__builtin_ctz(mask);
			if (memcmp(hay + i + bit + 1, needle + 1, m - 2) == 0)
				return hay + i + bit;
			mask &= mask - 1;
		}
	}
#endif
	return memmem(hay + i, n - i, needle, m);
}
