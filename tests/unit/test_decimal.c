/*
 * test_decimal.c - parse_decimal: what a person writes is taken, what
 * only a C library would read (exponents, hex, inf, a locale) is not.
 */
#include "check.h"
#include "decimal.h"

static const struct {
	const char *text;
	int ok;
	double want;
} cases[] = {
	{ "0", 1, 0 },
	{ "12", 1, 12 },
	{ "0.1", 1, 0.1 },
	{ "123.456", 1, 123.456 },
	{ "3.000", 1, 3 },
	{ ".5", 1, 0.5 },
	{ "5.", 1, 5 },
	{ "+2.5", 1, 2.5 },
	{ "000000000000000000001", 1, 1 },      /* leading zeros are not significant */
	{ "123456789012345", 1, 123456789012345 },
	{ "0.000000000000001", 1, 1e-15 },
	{ "1234567890123456", 0, 0 },           /* 16 significant digits */
	{ "1.234567890123456", 0, 0 },
	{ "", 0, 0 },
	{ ".", 0, 0 },
	{ "+", 0, 0 },
	{ "-1", 0, 0 },                         /* the sign is the caller's */
	{ "1.2.3", 0, 0 },
	{ "1e3", 0, 0 },
	{ "0x10", 0, 0 },
	{ "inf", 0, 0 },
	{ "nan", 0, 0 },
	{ "1,5", 0, 0 },                        /* no locale */
	{ " 1", 0, 0 },
	{ "1 ", 0, 0 },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double d = -7;
		int r = parse_decimal(cases[i].text, &d);

		if ((r == 0) != cases[i].ok)
			fprintf(stderr, "'%s': %d\n", cases[i].text, r);
		CHECK((r == 0) == cases[i].ok);
		CHECK(cases[i].ok ? d == cases[i].want : r == -1 && d == -7);
	}
	return check_done("decimal");
}
