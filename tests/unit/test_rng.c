/* test_rng.c - the seeded generator: fixed sequences and fair ranges. */
#include "check.h"
#include "rng.h"

int
main(void)
{
	struct rng a, b;
	int counts[7] = { 0 };
	double w[3] = { 1, 0, 3 };
	int wc[3] = { 0 };

	/* The sequence for a seed never changes: streams must stay reproducible. */
	rng_seed(&a, 7);
	rng_seed(&b, 7);
	for (int i = 0; i < 1000; i++)
		CHECK(rng_next(&a) == rng_next(&b));
	rng_seed(&a, 0);
	CHECK(rng_next(&a) == 0x99ec5f36cb75f2b4u);
	rng_seed(&a, 7);
	rng_seed(&b, 8);
	CHECK(rng_next(&a) != rng_next(&b));

	for (int i = 0; i < 70000; i++)
		counts[rng_below(&a, 7)]++;
	for (int i = 0; i < 7; i++)
		CHECK(counts[i] > 9400 && counts[i] < 10600);
	for (int i = 0; i < 1000; i++) {
		double u = rng_unit(&a);
		CHECK(u >= 0 && u < 1);
	}
	for (int i = 0; i < 40000; i++)
		wc[rng_weighted(&a, w, 3)]++;
	CHECK(wc[1] == 0);
	CHECK(wc[2] > 2.7 * wc[0] && wc[2] < 3.3 * wc[0]);
	CHECK(rng_weighted(&a, (double[]){ 0, 0 }, 2) == -1);
	CHECK(!rng_chance(&a, 0) && rng_chance(&a, 1));
	return check_done("rng");
}
