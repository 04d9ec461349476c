/*
 * test_utf8.c - utf8_char on the edges of RFC 3629: each length at its
 * lowest and highest code point, overlong forms, surrogates, past
 * U+10FFFF, stray and missing continuation bytes, a sequence cut short.
 */
#include <string.h>

#include "check.h"
#include "utf8.h"

static const struct {
	const char *bytes;
	size_t want;            /* utf8_char of the whole string; 0: invalid */
} cases[] = {
	{ "A", 1 },
	{ "\x7f", 1 },
	{ "\xc2\x80", 2 },              /* U+0080 */
	{ "\xdf\xbf", 2 },              /* U+07FF */
	{ "\xe0\xa0\x80", 3 },          /* U+0800 */
	{ "\xed\x9f\xbf", 3 },          /* U+D7FF, below the surrogates */
	{ "\xee\x80\x80", 3 },          /* U+E000, above them */
	{ "\xef\xbf\xbd", 3 },          /* U+FFFD */
	{ "\xf0\x90\x80\x80", 4 },      /* U+10000 */
	{ "\xf4\x8f\xbf\xbf", 4 },      /* U+10FFFF */
	{ "\x80", 0 },                  /* a continuation byte alone */
	{ "\xc0\x80", 0 },              /* overlong NUL */
	{ "\xc1\xbf", 0 },              /* overlong */
	{ "\xe0\x9f\xbf", 0 },          /* overlong U+07FF */
	{ "\xf0\x8f\xbf\xbf", 0 },      /* overlong U+FFFF */
	{ "\xed\xa0\x80", 0 },          /* U+D800 */
	{ "\xed\xbf\xbf", 0 },          /* U+DFFF */
	{ "\xf4\x90\x80\x80", 0 },      /* U+110000 */
	{ "\xf5\x80\x80\x80", 0 },
	{ "\xff", 0 },
	{ "\xc3\x28", 0 },              /* the second byte is not a continuation */
	{ "\xe2\x82", 0 },              /* cut short */
	{ "\xf0\x9f\x8e", 0 },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const unsigned char *s = (const unsigned char *)cases[i].bytes;
		size_t n = strlen(cases[i].bytes), got = utf8_char(s, n);

		if (got != cases[i].want)
			fprintf(stderr, "case %zu: got %zu, want %zu\n", i, got, cases[i].want);
		CHECK(got == cases[i].want);
		/* With a byte fewer to read, no valid character of two or more. */
		if (cases[i].want >= 2)
			CHECK(utf8_char(s, n - 1) == 0);
	}
	/* Only n bytes are read: a valid start with its tail past n. */
	CHECK(utf8_char((const unsigned char *)"\xe2\x82\xac", 2) == 0);
	CHECK(utf8_char((const unsigned char *)"\xe2\x82\xac", 3) == 3);
	return check_done("utf8");
}
