/*
 * fuzz_note.c - libFuzzer target for the note-event reader (common/note.c).
 *
 * Each input is read three ways: line by line through note_parse_line(),
 * whole through the streaming reader, and through the reader again in
 * small pieces, one read() each, as from a slow pipe (the pieces' sizes
 * come from a hash of the input, so a run is reproducible).  Checked:
 *
 *  - the two reader runs see the same events and the same errors on the
 *    same lines: the reader takes its input in any split;
 *  - every event is in range, and the reader's times never decrease and
 *    nothing follows `end`;
 *  - an event formatted by note_format() parses back to the same event
 *    (times to the millisecond, as the format writes them, and a note at
 *    least 1 ms long);
 *  - a first line that the reader takes as the header is the header.
 *
 * Any failed check aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX 65536                 /* one pipe's worth: writes never block */

#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_note: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* What a reader run saw, one record per call, compared between runs. */
struct transcript {
	char *text;
	size_t len, cap;
};

static void
transcript_add(struct transcript *tr, const char *s, size_t n)
{
	if (tr->len + n > tr->cap) {
		tr->cap = (tr->len + n) * 2;
		tr->text = realloc(tr->text, tr->cap);
		REQUIRE(tr->text);
	}
	memcpy(tr->text + tr->len, s, n);
	tr->len += n;
}

static void
check_ranges(const struct note_event *ev)
{
	REQUIRE(isfinite(ev->t) && ev->t >= 0 && ev->t <= NOTE_TIME_MAX);
	switch (ev->type) {
	case NOTE_PROGRAM:
		REQUIRE(ev->a >= 0 && ev->a <= 127 && ev->b >= 0 && ev->b <= 16383);
		break;
	case NOTE_NOTE:
		REQUIRE(isfinite(ev->duration) && ev->duration > 0 && ev->duration <= NOTE_TIME_MAX);
		/* fall through */
	case NOTE_ON:
	case NOTE_CC:
		REQUIRE(ev->a >= 0 && ev->a <= 127 && ev->b >= 0 && ev->b <= 127);
		break;
	case NOTE_OFF:
		REQUIRE(ev->a >= 0 && ev->a <= 127);
		break;
	case NOTE_TICK:
	case NOTE_END:
		return;
	default:
		REQUIRE(!"an event of no known type");
	}
	REQUIRE(ev->channel >= 0 && ev->channel <= 15);
}

/* note_format(ev) reads back as ev, to the millisecond the format keeps. */
static void
check_round_trip(const struct note_event *ev)
{
	char line[NOTE_LINE_MAX], err[256];
	struct note_event back;
	size_t n = note_format(ev, line, sizeof line);

	REQUIRE(n > 0 && line[n - 1] == '\n');
	line[n - 1] = '\0';
	if (note_parse_line(line, &back, err, sizeof err) != 1) {
		fprintf(stderr, "fuzz_note: '%s' does not read back: %s\n", line, err);
		abort();
	}
	REQUIRE(back.type == ev->type && back.channel == ev->channel);
	REQUIRE(back.a == ev->a && back.b == ev->b);
	REQUIRE(fabs(back.t - ev->t) <= 0.0005 + ev->t * 1e-15);
	if (ev->type == NOTE_NOTE)
		REQUIRE(fabs(back.duration - fmax(ev->duration, 0.001)) <= 0.0005 + ev->duration * 1e-15);
}

/* Each line alone, as note_parse_line sees it. */
static void
parse_lines(const uint8_t *data, size_t size)
{
	static char line[INPUT_MAX + 1];
	size_t start = 0;

	while (start <= size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
		struct note_event ev;
		char err[256] = "";
		int rc;

		memcpy(line, data + start, len);
		line[len] = '\0';
		rc = note_parse_line(line, &ev, err, sizeof err);
		REQUIRE(rc >= -1 && rc <= 1);
		if (rc == 1) {
			check_ranges(&ev);
			check_round_trip(&ev);
		} else if (rc == -1) {
			REQUIRE(err[0] != '\0');
		}
		start += len + 1;
	}
}

/* The header as docs/note-format.md gives it: '# auralis-notes 1', blanks after. */
static bool
is_header(const uint8_t *data, size_t size)
{
	static const char header[] = NOTE_HEADER;
	size_t i = sizeof header - 1;

	if (size < i || memcmp(data, header, i))
		return false;
	for (; i < size && data[i] != '\n'; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r')
			return false;
	return true;
}

/* A tiny generator for the sizes of the pieces, seeded from the input. */
static uint64_t
piece_seed(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3u;
	return h | 1;
}

static size_t
piece_size(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x % 8 == 0 ? 1 + *x % 1500 : 1 + *x % 24;
}

/*
 * Runs the reader over data through a pipe, whole (pieces false) or in
 * pieces: a piece is written only when the reader has drained the pipe
 * and got EAGAIN, so each read() returns exactly one piece.
 */
static void
read_all(const uint8_t *data, size_t size, bool pieces, struct transcript *tr)
{
	int fds[2];
	struct note_reader *r;
	struct note_event ev;
	size_t off = 0;
	uint64_t x = piece_seed(data, size);
	bool have_prev = false, ended = false;
	double prev_t = 0;
	unsigned long last_line = 0;

	REQUIRE(pipe(fds) == 0);
	REQUIRE(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
	r = note_reader_new(fds[0], "fuzz");
	REQUIRE(r);
	for (;;) {
		char rec[NOTE_LINE_MAX + 300];
		int rc = note_reader_next(r, &ev), n;

		if (rc == -2) {
			/* It reads only when no whole line is buffered. */
			REQUIRE(errno == EAGAIN && !note_reader_ready(r));
			if (off < size) {
				size_t len = pieces ? piece_size(&x) : size;

				if (len > size - off)
					len = size - off;
				REQUIRE(write(fds[1], data + off, len) == (ssize_t)len);
				off += len;
			} else {
				REQUIRE(fds[1] >= 0);
				close(fds[1]);
				fds[1] = -1;
			}
			continue;
		}
		REQUIRE(rc >= -1 && rc <= 1);
		REQUIRE(note_reader_line(r) >= last_line);
		last_line = note_reader_line(r);
		if (rc == 0) {
			REQUIRE(off == size && fds[1] < 0);
			REQUIRE(note_reader_offset(r) == size);
			break;
		}
		if (rc == -1) {
			REQUIRE(note_reader_error(r)[0] != '\0');
			n = snprintf(rec, sizeof rec, "%lu: %s\n", last_line, note_reader_error(r));
		} else {
			char text[NOTE_LINE_MAX];

			check_ranges(&ev);
			REQUIRE(!ended);
			REQUIRE(!have_prev || ev.t >= prev_t);
			have_prev = true;
			prev_t = ev.t;
			ended = ev.type == NOTE_END;
			REQUIRE(last_line >= 2);
			note_format(&ev, text, sizeof text);
			/* The exact time, not just the three decimals of the format. */
			n = snprintf(rec, sizeof rec, "%lu: %a %a %s", last_line, ev.t, ev.duration, text);
		}
		transcript_add(tr, rec, (size_t)n);
	}
	note_reader_free(r);
	close(fds[0]);
}

/* True when the transcript has no record for line 1: the reader took it as the header. */
static bool
took_header(const struct transcript *tr, size_t size)
{
	return size > 0 && !(tr->len >= 3 && !memcmp(tr->text, "1: ", 3));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct transcript whole = { 0 }, pieces = { 0 };

	if (size > INPUT_MAX || !size)
		return 0;
	parse_lines(data, size);
	read_all(data, size, false, &whole);
	read_all(data, size, true, &pieces);
	if (whole.len != pieces.len || (whole.len && memcmp(whole.text, pieces.text, whole.len))) {
		fprintf(stderr, "fuzz_note: read whole:\n%.*s\nread in pieces:\n%.*s\n",
		    (int)whole.len, whole.text, (int)pieces.len, pieces.text);
		abort();
	}
	if (took_header(&whole, size) && !is_header(data, size)) {
		const uint8_t *nl = memchr(data, '\n', size);

		fprintf(stderr, "fuzz_note: the reader took this first line as the header: '%.*s'\n",
		    (int)(nl ? (size_t)(nl - data) : size), (const char *)data);
		abort();
	}
	free(whole.text);
	free(pieces.text);
	return 0;
}
