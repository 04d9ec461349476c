/*
 * opt.h - bounded parsers for option values, and how every tool refuses a
 * command line.  On a bad value the parsers print "prog: --rate: expected
 * 8000..192000" and return -1.
 */
#ifndef AUR_OPT_H
#define AUR_OPT_H

#include <stdnoreturn.h>

/* Prints usage (the tool's usage text) on stderr and exits with AUR_EXIT_USAGE. */
noreturn void usage_exit(const char *usage);

/*
 * For what getopt_long returned that no case took, with opterr = 0 and an
 * optstring that starts with ':' (so that a missing value is ':'): prints
 * "prog: --bogus: unknown option" or "prog: --rate: needs a value" (the
 * option as given, without "=value"; a short one as "-x" even in a
 * cluster) and exits through usage_exit.
 */
noreturn void opt_refused(int c, char *const argv[], const char *usage);

/* Parses a decimal integer in [lo, hi] into *out.  Returns 0 or -1. */
int opt_long(const char *name, const char *arg, long lo, long hi, long *out);

/*
 * Parses a finite decimal number in [lo, hi] into *out: a '-' and then
 * what parse_decimal (decimal.h) takes.  Returns 0 or -1.
 */
int opt_double(const char *name, const char *arg, double lo, double hi, double *out);

/* Parses an unsigned 64-bit decimal integer (a seed).  Returns 0 or -1. */
int opt_u64(const char *name, const char *arg, unsigned long long *out);

#endif
