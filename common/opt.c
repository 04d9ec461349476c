#include "opt.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "err.h"

void
usage_exit(const char *usage)
{
	fputs(usage, stderr);
	exit(AUR_EXIT_USAGE);
}

void
opt_refused(int c, char *const argv[], const char *usage)
{
	const char *given = argv[optind - 1];
	bool long_option;

	/*
	 * getopt_long sets optopt to 0 for an unknown long option, and to the
	 * letter for a short one, whose cluster it may not have left yet (so
	 * argv[optind - 1] is not always it).  An option missing its value
	 * ends its argument, whichever it is.
	 */
	if (c == ':')
		long_option = !strncmp(given, "--", 2);
	else
		long_option = optopt == 0;
	if (long_option)
		warnf("%.*s: %s", (int)strcspn(given, "="), given,
		    c == ':' ? "needs a value" : "unknown option");
	else
		warnf("-%c: %s", optopt, c == ':' ? "needs a value" : "unknown option");
	usage_exit(usage);
}

int
opt_long(const char *name, const char *arg, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < lo || v > hi) {
		warnf("%s: expected %ld..%ld, not '%s'", name, lo, hi, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int
opt_double(const char *name, const char *arg, double lo, double hi, double *out)
{
	double v;
	const char *p = arg;
	int neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (parse_decimal(p, &v) < 0) {
		/* 4.05e1 is 40.5 to strtod, but not to us: say what is taken. */
		warnf("%s: expected a decimal number (digits and at most one '.') in %g..%g, not '%s'",
		    name, lo, hi, arg);
		return -1;
	}
	if ((neg ? -v : v) < lo || (neg ? -v : v) > hi) {
		warnf("%s: expected %g..%g, not '%s'", name, lo, hi, arg);
		return -1;
	}
	*out = neg ? -v : v;
	return 0;
}

int
opt_u64(const char *name, const char *arg, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (!*arg || *end || errno || strchr(arg, '-')) {
		warnf("%s: expected 0..18446744073709551615, not '%s'", name, arg);
		return -1;
	}
	*out = v;
	return 0;
}
