/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rng.h - deterministic pseudo-random numbers for the unit tests
 *
 * xorshift64* (Vigna): independent of libc's rand(), the same sequence on every machine, so that a
 * failure can be replayed. A test program may define RNG_SEED before including this to get its
 * own sequence, and may overwrite rng_state (e.g. from an environment variable) before use; the
 * state must never be 0. Include once per test program (the state is static).
 */
#ifndef BPASST_TEST_RNG_H
#define BPASST_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifndef RNG_SEED
#define RNG_SEED 0x9e3779b97f4a7c15ULL
#endif

static uint64_t rng_state = RNG_SEED;

static inline uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* len bytes of the sequence (the low byte of each draw). */
static inline void rng_fill(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rng();
}

#endif /* BPASST_TEST_RNG_H */
