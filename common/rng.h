/*
 * rng.h - the seeded random number generator (xoshiro256**, seeded through
 * splitmix64).  The same seed gives the same sequence on every machine;
 * the C library's rand() is never used for music.
 */
#ifndef AUR_RNG_H
#define AUR_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds rng from a 64-bit seed; any seed, 0 included, is valid. */
void rng_seed(struct rng *rng, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *rng);

/* A uniform integer in [0, n); n must be > 0.  Unbiased. */
uint32_t rng_below(struct rng *rng, uint32_t n);

/* A uniform double in [0, 1) with 53 random bits. */
double rng_unit(struct rng *rng);

/* True with probability p (p <= 0 never, p >= 1 always). */
int rng_chance(struct rng *rng, double p);

/*
 * Picks an index from weights[0..n-1] (non-negative, not all zero) with
 * probability proportional to its weight.  Returns -1 when all are zero.
 */
int rng_weighted(struct rng *rng, const double *weights, int n);

#endif
