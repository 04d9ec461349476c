/*
 * err.h - diagnostics in the form "prog: message" and "prog: source:line: message".
 *
 * Every tool calls err_init(argv[0]) once.  A format that ends in ':' gets
 * ": strerror(errno)" appended, as in suckless sbase's eprintf.
 */
#ifndef AUR_ERR_H
#define AUR_ERR_H

#include <stdnoreturn.h>

/* Exit codes shared by every tool.  docs and README list them. */
enum aur_exit {
	AUR_EXIT_OK = 0,
	AUR_EXIT_FAILURE = 1,   /* runtime failure: synth, write error, signal */
	AUR_EXIT_USAGE = 2,     /* bad option or argument */
	AUR_EXIT_DATA = 3,      /* bad input data (every bad line was reported) */
	AUR_EXIT_NOINPUT = 4,   /* an input file could not be opened */
	AUR_EXIT_NOSOUNDFONT = 5, /* no usable SoundFont */
};

/* Sets the program name used in messages to the basename of argv0. */
void err_init(const char *argv0);

/* The program name set by err_init ("auralis" before it). */
const char *err_prog(void);

/* Prints "prog: message\n" on stderr. */
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "prog: source:line: message\n" on stderr (line 0 omits it). */
void warn_at(const char *source, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* warnf, then exit(status). */
noreturn void dief(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
