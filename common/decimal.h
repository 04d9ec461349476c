/*
 * decimal.h - the plain decimal numbers that people write: the times and
 * durations of note files (common/note.c) and the number options of every
 * tool (opt_double, common/opt.c).  No locale, no exponent, no hex, no inf
 * or nan, so that "1e3" or "0x10" is never taken for a number a person
 * meant, and the same text reads the same everywhere.
 */
#ifndef AUR_DECIMAL_H
#define AUR_DECIMAL_H

/*
 * Parses a plain decimal number ("12", "0.5", "3.000", ".5", "5.", "+2"):
 * an optional '+', digits, at most one '.', at least one digit, at most
 * 15 significant digits, nothing else (no sign '-': the caller takes it).
 * Returns 0 and sets *out, or -1 and leaves *out alone.
 */
int parse_decimal(const char *s, double *out);

#endif
