/*
 * note.c - the note-event reader and writer.
 *
 * The reader keeps a fixed buffer of input and hands out one line at a
 * time.  A line longer than NOTE_LINE_MAX is reported once and its rest is
 * skipped up to the next newline, so a runaway line cannot make the reader
 * grow.  Parsing is strict and locale-free: times are plain decimals,
 * numbers plain integers; every field is range-checked and the message
 * names the field, its value and the accepted range.
 */
#include "note.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decimal.h"

#define BUF_SIZE (64 * 1024)

struct note_reader {
	int fd;
	const char *name;
	char *buf;
	size_t start, end;      /* unread bytes are buf[start..end) */
	bool eof;
	bool skipping;          /* inside the rest of an over-long line */
	bool ended;             /* an `end` event was read */
	bool have_prev;
	double prev_t;
	unsigned long line;
	unsigned long long consumed;   /* bytes read from fd so far */
	char err[256];
};

struct note_reader *
note_reader_new(int fd, const char *name)
{
	struct note_reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->buf = malloc(BUF_SIZE);
	if (!r->buf) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->name = name;
	return r;
}

void
note_reader_free(struct note_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r);
}

const char *
note_reader_error(const struct note_reader *r)
{
	return r->err;
}

unsigned long
note_reader_line(const struct note_reader *r)
{
	return r->line;
}

const char *
note_reader_name(const struct note_reader *r)
{
	return r->name;
}

unsigned long long
note_reader_offset(const struct note_reader *r)
{
	return r->consumed - (r->end - r->start);
}

bool
note_reader_ready(const struct note_reader *r)
{
	return r->eof || memchr(r->buf + r->start, '\n', r->end - r->start) != NULL;
}

static void
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* Parses a plain non-negative integer token of at most 9 digits. */
static int
parse_int(const char *s, long *out)
{
	long v = 0;
	int n = 0;

	if (*s == '+')
		s++;
	for (; *s; s++, n++) {
		if (*s < '0' || *s > '9' || n >= 9)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (!n)
		return -1;
	*out = v;
	return 0;
}

/* Parses field tok as an integer in [lo, hi], named what in messages. */
static int
field_int(const char *tok, const char *what, long lo, long hi, int *out, char *err, size_t errlen)
{
	long v;

	if (parse_int(tok, &v) < 0) {
		if (tok[0] == '-' && parse_int(tok + 1, &v) == 0)
			seterr(err, errlen, "%s %s is out of %ld..%ld", what, tok, lo, hi);
		else
			seterr(err, errlen, "%s '%.40s' is not a whole number", what, tok);
		return -1;
	}
	if (v < lo || v > hi) {
		seterr(err, errlen, "%s %s is out of %ld..%ld", what, tok, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

struct syntax {
	const char *word;
	enum note_type type;
	int min_args, max_args;
	const char *usage;
};

static const struct syntax syntaxes[] = {
	{ "program", NOTE_PROGRAM, 2, 3, "CHANNEL PROGRAM [BANK]" },
	{ "note",    NOTE_NOTE,    4, 4, "CHANNEL KEY VELOCITY DURATION" },
	{ "on",      NOTE_ON,      3, 3, "CHANNEL KEY VELOCITY" },
	{ "off",     NOTE_OFF,     2, 2, "CHANNEL KEY" },
	{ "cc",      NOTE_CC,      3, 3, "CHANNEL CONTROLLER VALUE" },
	{ "tick",    NOTE_TICK,    0, 0, "" },
	{ "end",     NOTE_END,     0, 0, "" },
};

#define MAX_TOKENS 8

int
note_parse_line(const char *line, struct note_event *ev, char *err, size_t errlen)
{
	char copy[NOTE_LINE_MAX + 1];
	char *tok[MAX_TOKENS];
	int ntok = 0, nargs;
	const struct syntax *syn = NULL;
	char *p;
	size_t len = strlen(line);

	if (len > NOTE_LINE_MAX) {
		seterr(err, errlen, "line is longer than %d bytes", NOTE_LINE_MAX);
		return -1;
	}
	memcpy(copy, line, len + 1);
	if ((p = strchr(copy, '#')))
		*p = '\0';
	for (p = strtok(copy, " \t\r\f\v"); p; p = strtok(NULL, " \t\r\f\v")) {
		if (ntok == MAX_TOKENS) {
			seterr(err, errlen, "too many fields");
			return -1;
		}
		tok[ntok++] = p;
	}
	if (!ntok)
		return 0;

	memset(ev, 0, sizeof *ev);
	if (parse_decimal(tok[0], &ev->t) < 0) {
		seterr(err, errlen, "expected a time in seconds, not '%.40s'", tok[0]);
		return -1;
	}
	if (ev->t > NOTE_TIME_MAX) {
		seterr(err, errlen, "time %s is beyond %g seconds", tok[0], NOTE_TIME_MAX);
		return -1;
	}
	if (ntok < 2) {
		seterr(err, errlen, "expected an event after the time");
		return -1;
	}
	for (size_t i = 0; i < sizeof syntaxes / sizeof syntaxes[0]; i++)
		if (!strcmp(tok[1], syntaxes[i].word))
			syn = &syntaxes[i];
	if (!syn) {
		seterr(err, errlen, "unknown event '%.40s' (expected program, note, on, off, cc, tick or end)",
		    tok[1]);
		return -1;
	}
	nargs = ntok - 2;
	if (nargs < syn->min_args || nargs > syn->max_args) {
		if (syn->max_args == 0)
			seterr(err, errlen, "'%s' takes no arguments", syn->word);
		else
			seterr(err, errlen, "'%s' takes %s", syn->word, syn->usage);
		return -1;
	}
	ev->type = syn->type;
	if (syn->max_args == 0)
		return 1;
	if (field_int(tok[2], "channel", 0, 15, &ev->channel, err, errlen) < 0)
		return -1;

	switch (ev->type) {
	case NOTE_PROGRAM:
		if (field_int(tok[3], "program", 0, 127, &ev->a, err, errlen) < 0)
			return -1;
		if (nargs == 3 && field_int(tok[4], "bank", 0, 16383, &ev->b, err, errlen) < 0)
			return -1;
		break;
	case NOTE_NOTE:
	case NOTE_ON:
		if (field_int(tok[3], "key", 0, 127, &ev->a, err, errlen) < 0 ||
		    field_int(tok[4], "velocity", 0, 127, &ev->b, err, errlen) < 0)
			return -1;
		if (ev->type == NOTE_ON)
			break;
		if (parse_decimal(tok[5], &ev->duration) < 0) {
			seterr(err, errlen, "expected a duration in seconds, not '%.40s'", tok[5]);
			return -1;
		}
		if (ev->duration <= 0 || ev->duration > NOTE_TIME_MAX) {
			seterr(err, errlen, "duration %s is out of (0, %g] seconds", tok[5], NOTE_TIME_MAX);
			return -1;
		}
		break;
	case NOTE_OFF:
		if (field_int(tok[3], "key", 0, 127, &ev->a, err, errlen) < 0)
			return -1;
		break;
	case NOTE_CC:
		if (field_int(tok[3], "controller", 0, 127, &ev->a, err, errlen) < 0 ||
		    field_int(tok[4], "value", 0, 127, &ev->b, err, errlen) < 0)
			return -1;
		break;
	case NOTE_TICK:
	case NOTE_END:
		break;
	}
	return 1;
}

/*
 * Checks the first line: '# auralis-notes', a space, the version in
 * digits, and nothing after it but blanks.  (sscanf's %d took "1pro" and
 * "4294967297" for version 1.)  Returns 0, or -1 with a message in err.
 */
static int
header_check(const char *line, char *err, size_t errlen)
{
	static const char prefix[] = "# auralis-notes ";
	const char *version = line + sizeof prefix - 1;
	size_t digits;

	if (strncmp(line, prefix, sizeof prefix - 1) ||
	    !(digits = strspn(version, "0123456789")) ||
	    version[digits + strspn(version + digits, " \t\r")] != '\0') {
		seterr(err, errlen, "expected the header '%s' on the first line", NOTE_HEADER);
		return -1;
	}
	if (digits != 1 || version[0] - '0' != NOTE_FORMAT_VERSION) {
		seterr(err, errlen, "note format version %.*s is not supported (expected %d)",
		    digits > 20 ? 20 : (int)digits, version, NOTE_FORMAT_VERSION);
		return -1;
	}
	return 0;
}

/*
 * Finds the next line.  Returns 1 with *line and *len set (NUL-terminated
 * in place), 0 at the end, -1 for an over-long line (skipped), -2 on a
 * read error.
 */
static int
next_line(struct note_reader *r, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		size_t avail = r->end - r->start;
		ssize_t n;

		if (nl || (r->eof && avail)) {
			char *s = r->buf + r->start;
			size_t l = nl ? (size_t)(nl - s) : avail;

			r->start += nl ? l + 1 : l;
			if (r->skipping) {
				r->skipping = false;
				continue;
			}
			r->line++;
			s[l] = '\0';
			*line = s;
			*len = l;
			if (l > NOTE_LINE_MAX)
				return -1;
			return 1;
		}
		if (r->eof)
			return 0;
		if (avail > NOTE_LINE_MAX) {
			/* Report the runaway line now and drop what we hold of it. */
			bool first = !r->skipping;

			r->start = r->end = 0;
			if (first) {
				r->skipping = true;
				r->line++;
				return -1;
			}
			avail = 0;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, avail);
			r->start = 0;
			r->end = avail;
		}
		/* Keep one byte for the terminating NUL of a last line without newline. */
		n = read(r->fd, r->buf + r->end, BUF_SIZE - 1 - r->end);
		if (n < 0)
			return -2;      /* EINTR too: the caller decides whether to go on */
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		r->consumed += (unsigned long long)n;
	}
}

int
note_reader_next(struct note_reader *r, struct note_event *ev)
{
	for (;;) {
		char *line;
		size_t len;
		int rc = next_line(r, &line, &len);

		if (rc == 0 || rc == -2)
			return rc;
		if (rc == -1) {
			seterr(r->err, sizeof r->err, "line is longer than %d bytes", NOTE_LINE_MAX);
			return -1;
		}
		if (memchr(line, '\0', len)) {
			seterr(r->err, sizeof r->err, "NUL byte in line");
			return -1;
		}
		if (r->line == 1) {
			if (header_check(line, r->err, sizeof r->err) < 0)
				return -1;
			continue;
		}
		rc = note_parse_line(line, ev, r->err, sizeof r->err);
		if (rc == 0)
			continue;
		if (rc < 0)
			return -1;
		if (r->ended) {
			seterr(r->err, sizeof r->err, "event after 'end'");
			return -1;
		}
		if (r->have_prev && ev->t < r->prev_t) {
			seterr(r->err, sizeof r->err, "time %.3f is before the previous event's %.3f",
			    ev->t, r->prev_t);
			return -1;
		}
		r->have_prev = true;
		r->prev_t = ev->t;
		if (ev->type == NOTE_END)
			r->ended = true;
		return 1;
	}
}

size_t
note_format(const struct note_event *ev, char *buf, size_t len)
{
	int n = 0;

	switch (ev->type) {
	case NOTE_PROGRAM:
		if (ev->b)
			n = snprintf(buf, len, "%.3f program %d %d %d\n", ev->t, ev->channel, ev->a, ev->b);
		else
			n = snprintf(buf, len, "%.3f program %d %d\n", ev->t, ev->channel, ev->a);
		break;
	case NOTE_NOTE:
		/* At least the 1 ms that three decimals can say, so that it reads back. */
		n = snprintf(buf, len, "%.3f note %d %d %d %.3f\n", ev->t, ev->channel, ev->a, ev->b,
		    ev->duration < 0.001 ? 0.001 : ev->duration);
		break;
	case NOTE_ON:
		n = snprintf(buf, len, "%.3f on %d %d %d\n", ev->t, ev->channel, ev->a, ev->b);
		break;
	case NOTE_OFF:
		n = snprintf(buf, len, "%.3f off %d %d\n", ev->t, ev->channel, ev->a);
		break;
	case NOTE_CC:
		n = snprintf(buf, len, "%.3f cc %d %d %d\n", ev->t, ev->channel, ev->a, ev->b);
		break;
	case NOTE_TICK:
		n = snprintf(buf, len, "%.3f tick\n", ev->t);
		break;
	case NOTE_END:
		n = snprintf(buf, len, "%.3f end\n", ev->t);
		break;
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}
