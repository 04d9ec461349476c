/*
 * opt.h - bounded parsers for option values.  On a bad value they print
 * "prog: --rate: expected 8000..192000" and return -1.
 */
#ifndef AUR_OPT_H
#define AUR_OPT_H

/* Parses a decimal integer in [lo, hi] into *out.  Returns 0 or -1. */
int opt_long(const char *name, const char *arg, long lo, long hi, long *out);

/*
 * Parses a finite decimal number in [lo, hi] into *out (no hex, no inf,
 * no nan; the C locale's '.').  Returns 0 or -1.
 */
int opt_double(const char *name, const char *arg, double lo, double hi, double *out);

/* Parses an unsigned 64-bit decimal integer (a seed).  Returns 0 or -1. */
int opt_u64(const char *name, const char *arg, unsigned long long *out);

/*
 * Parses a plain decimal number ("12", "0.5", "3.000") without the locale:
 * digits, at most one '.', at most 15 significant digits.  Returns 0 and
 * sets *out, or -1.  Shared by the options and the note reader.
 */
int parse_decimal(const char *s, double *out);

#endif
