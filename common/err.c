/*
 * err.c - diagnostics.  Messages are formatted into one buffer and written
 * with a single write(2), so lines from the processes of a pipeline that
 * share a stderr do not interleave.
 */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "auralis";

void
err_init(const char *argv0)
{
	const char *slash;

	if (!argv0 || !*argv0)
		return;
	slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *
err_prog(void)
{
	return prog;
}

static void
emit(const char *source, unsigned long line, const char *fmt, va_list ap)
{
	char buf[2048];
	size_t n = 0, fmtlen = strlen(fmt);
	int saved = errno, r;

	r = snprintf(buf, sizeof buf, "%s: ", prog);
	n = (size_t)r;
	if (source) {
		if (line)
			r = snprintf(buf + n, sizeof buf - n, "%s:%lu: ", source, line);
		else
			r = snprintf(buf + n, sizeof buf - n, "%s: ", source);
		if (r > 0)
			n += (size_t)r;
	}
	if (n < sizeof buf) {
		r = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (fmtlen && fmt[fmtlen - 1] == ':' && n < sizeof buf) {
		r = snprintf(buf + n, sizeof buf - n, " %s", strerror(saved));
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	/* Best effort: there is nowhere left to report a failing stderr. */
	while (write(STDERR_FILENO, buf, n) < 0 && errno == EINTR)
		;
	errno = saved;
}

void
warnf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(NULL, 0, fmt, ap);
	va_end(ap);
}

void
warn_at(const char *source, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(source ? source : "-", line, fmt, ap);
	va_end(ap);
}

void
dief(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(NULL, 0, fmt, ap);
	va_end(ap);
	exit(status);
}
