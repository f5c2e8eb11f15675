/* kcsi unit tests — the one pseudo-random source they share: xorshift64,
 * seeded by each test so that a failing case repeats exactly. */
#ifndef KCSI_UNIT_RNG_H
#define KCSI_UNIT_RNG_H

#include <stdint.h>

static uint64_t unit_rng_state = 0x9e3779b97f4a7c15u;

static inline void rnd_seed(uint64_t seed)
{
	unit_rng_state = seed ? seed : 0x9e3779b97f4a7c15u; /* xorshift never leaves 0 */
}

static inline uint64_t rnd(void)
{
	unit_rng_state ^= unit_rng_state << 13;
	unit_rng_state ^= unit_rng_state >> 7;
	unit_rng_state ^= unit_rng_state << 17;
	return unit_rng_state;
}

#endif
