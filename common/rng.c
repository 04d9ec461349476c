#include "rng.h"

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void
rng_seed(struct rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
rng_next(struct rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint32_t
rng_below(struct rng *rng, uint32_t n)
{
	/* Lemire's multiply-and-reject method: no modulo bias. */
	uint64_t m = (uint64_t)(uint32_t)(rng_next(rng) >> 32) * n;
	uint32_t low = (uint32_t)m;

	if (low < n) {
		uint32_t threshold = (uint32_t)-n % n;

		while (low < threshold) {
			m = (uint64_t)(uint32_t)(rng_next(rng) >> 32) * n;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

double
rng_unit(struct rng *rng)
{
	return (double)(rng_next(rng) >> 11) * 0x1.0p-53;
}

int
rng_chance(struct rng *rng, double p)
{
	return rng_unit(rng) < p;
}

int
rng_weighted(struct rng *rng, const double *weights, int n)
{
	double total = 0, x;
	int last = -1;

	for (int i = 0; i < n; i++) {
		if (weights[i] > 0) {
			total += weights[i];
			last = i;
		}
	}
	if (last < 0)
		return -1;
	x = rng_unit(rng) * total;
	for (int i = 0; i < n; i++) {
		if (weights[i] <= 0)
			continue;
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return last;
}
