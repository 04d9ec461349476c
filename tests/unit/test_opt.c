/* test_opt.c - the bounded option parsers. */
#include "check.h"
#include "err.h"
#include "opt.h"

int
main(void)
{
	long l;
	double d;
	unsigned long long u;

	err_init("test_opt");
	CHECK(opt_long("--rate", "44100", 8000, 192000, &l) == 0 && l == 44100);
	CHECK(opt_long("--rate", "7999", 8000, 192000, &l) < 0);
	CHECK(opt_long("--rate", "44100x", 8000, 192000, &l) < 0);
	CHECK(opt_long("--rate", "", 8000, 192000, &l) < 0);
	CHECK(opt_double("--gain", "0.25", 0, 10, &d) == 0 && d == 0.25);
	CHECK(opt_double("--gain", "-0.5", -1, 10, &d) == 0 && d == -0.5);
	CHECK(opt_double("--gain", "inf", 0, 10, &d) < 0);
	CHECK(opt_double("--gain", "1e1", 0, 10, &d) < 0);
	CHECK(opt_double("--gain", "10.5", 0, 10, &d) < 0);
	CHECK(opt_u64("--seed", "18446744073709551615", &u) == 0 && u == 18446744073709551615u);
	CHECK(opt_u64("--seed", "-1", &u) < 0);
	CHECK(opt_u64("--seed", "18446744073709551616", &u) < 0);
	return check_done("opt");
}
