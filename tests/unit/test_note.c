/*
 * test_note.c - the note-event parser and reader on tables of good and bad
 * lines, with the exact messages users see.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "note.h"

struct parse_case {
	const char *line;
	int rc;                 /* 1 event, 0 nothing, -1 bad */
	const char *text;       /* note_format of the event, or the message */
};

static const struct parse_case parse_cases[] = {
	{ "0.000 program 0 0", 1, "0.000 program 0 0\n" },
	{ "0 program 1 89 8", 1, "0.000 program 1 89 8\n" },
	{ "0.000 note 1 50 58 8.000   # pad", 1, "0.000 note 1 50 58 8.000\n" },
	{ "0.5 note 0 69 74 1.5", 1, "0.500 note 0 69 74 1.500\n" },
	{ "0.0004 note 0 69 74 0.0004", 1, "0.000 note 0 69 74 0.001\n" },  /* a note written reads back */
	{ "\t1.25\ton 15 127 127", 1, "1.250 on 15 127 127\n" },
	{ "2 off 0 0", 1, "2.000 off 0 0\n" },
	{ "3 cc 1 91 100", 1, "3.000 cc 1 91 100\n" },
	{ "4.000 tick", 1, "4.000 tick\n" },
	{ "8.000 end\r", 1, "8.000 end\n" },
	{ "", 0, "" },
	{ "   ", 0, "" },
	{ "# a comment", 0, "" },
	{ "0.000 note 0 60 300 1", -1, "velocity 300 is out of 0..127" },
	{ "0.000 note 0 128 64 1", -1, "key 128 is out of 0..127" },
	{ "0.000 note 16 60 64 1", -1, "channel 16 is out of 0..15" },
	{ "0.000 note -1 60 64 1", -1, "channel -1 is out of 0..15" },
	{ "0.000 note 0 60 64 0", -1, "duration 0 is out of (0, 1e+07] seconds" },
	{ "0.000 note 0 60 64 -1", -1, "expected a duration in seconds, not '-1'" },
	{ "0.000 note 0 60 64", -1, "'note' takes CHANNEL KEY VELOCITY DURATION" },
	{ "0.000 note 0 sixty 64 1", -1, "key 'sixty' is not a whole number" },
	{ "0.000 program 0 128", -1, "program 128 is out of 0..127" },
	{ "0.000 program 0 1 20000", -1, "bank 20000 is out of 0..16383" },
	{ "0.000 cc 0 128 1", -1, "controller 128 is out of 0..127" },
	{ "0.000 cc 0 7 200", -1, "value 200 is out of 0..127" },
	{ "0.000 tick 5", -1, "'tick' takes no arguments" },
	{ "0.000 play 0 60", -1,
	  "unknown event 'play' (expected program, note, on, off, cc, tick or end)" },
	{ "-1 tick", -1, "expected a time in seconds, not '-1'" },
	{ "1e3 tick", -1, "expected a time in seconds, not '1e3'" },
	{ "nan tick", -1, "expected a time in seconds, not 'nan'" },
	{ "0x10 tick", -1, "expected a time in seconds, not '0x10'" },
	{ "1.2.3 tick", -1, "expected a time in seconds, not '1.2.3'" },
	{ "20000000 tick", -1, "time 20000000 is beyond 1e+07 seconds" },
	{ "5", -1, "expected an event after the time" },
	{ "note 0 60 64 1", -1, "expected a time in seconds, not 'note'" },
	{ "0 note 0 60 64 1 2 3 4", -1, "too many fields" },
};

static void
test_parse_table(void)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++) {
		const struct parse_case *c = &parse_cases[i];
		struct note_event ev;
		char err[256] = "", text[NOTE_LINE_MAX] = "";
		int rc = note_parse_line(c->line, &ev, err, sizeof err);

		if (rc != c->rc)
			fprintf(stderr, "case \"%s\": rc %d, want %d (%s)\n", c->line, rc, c->rc, err);
		CHECK(rc == c->rc);
		if (rc == 1) {
			note_format(&ev, text, sizeof text);
			CHECK_STR(text, c->text);
		} else if (rc == -1) {
			CHECK_STR(err, c->text);
		}
	}
}

/* Writes s to a pipe-free temporary file and returns its descriptor at 0. */
static int
temp_input(const char *s, size_t len)
{
	char path[] = "/tmp/test_note_XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	if (write(fd, s, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Reads the whole input; records "line:message" of every bad line. */
static int
read_all(const char *s, size_t len, char *report, size_t reportlen, int *events)
{
	int fd = temp_input(s, len);
	struct note_reader *r = note_reader_new(fd, "t.notes");
	struct note_event ev;
	int rc, bad = 0;
	size_t used = 0;

	report[0] = '\0';
	*events = 0;
	while ((rc = note_reader_next(r, &ev)) != 0) {
		if (rc == 1) {
			(*events)++;
			continue;
		}
		CHECK(rc == -1);
		if (rc != -1)
			break;
		bad++;
		used += (size_t)snprintf(report + used, reportlen - used, "%lu:%s|",
		    note_reader_line(r), note_reader_error(r));
	}
	note_reader_free(r);
	close(fd);
	return bad;
}

static void
test_reader_reports_every_bad_line(void)
{
	static const char input[] =
		"# auralis-notes 1\n"
		"0.000 program 0 0\n"
		"0.000 note 0 60 300 1\n"
		"\n"
		"1.000 note 0 62 64 1\n"
		"0.500 tick\n"
		"2.000 bogus\n"
		"3.000 end\n"
		"4.000 tick\n";
	char report[1024];
	int events;
	int bad = read_all(input, sizeof input - 1, report, sizeof report, &events);

	CHECK(bad == 4);
	CHECK(events == 3);
	CHECK_STR(report,
	    "3:velocity 300 is out of 0..127|"
	    "6:time 0.500 is before the previous event's 1.000|"
	    "7:unknown event 'bogus' (expected program, note, on, off, cc, tick or end)|"
	    "9:event after 'end'|");
}

static void
test_reader_header(void)
{
	char report[512];
	int events;

	CHECK(read_all("0 tick\n1 tick\n", 14, report, sizeof report, &events) == 1);
	CHECK_STR(report, "1:expected the header '# auralis-notes 1' on the first line|");
	CHECK(events == 1);
	CHECK(read_all("# auralis-notes 2\n0 tick\n", 25, report, sizeof report, &events) == 1);
	CHECK_STR(report, "1:note format version 2 is not supported (expected 1)|");
	/* The header exactly, blanks after it at most. */
	CHECK(read_all("# auralis-notes 1pro\n0 tick\n", 27, report, sizeof report, &events) == 1);
	CHECK_STR(report, "1:expected the header '# auralis-notes 1' on the first line|");
	CHECK(read_all("# auralis-notes 4294967297\n", 27, report, sizeof report, &events) == 1);
	CHECK_STR(report, "1:note format version 4294967297 is not supported (expected 1)|");
	CHECK(read_all("# auralis-notes 01\n", 19, report, sizeof report, &events) == 1);
	CHECK_STR(report, "1:note format version 01 is not supported (expected 1)|");
	CHECK(read_all("#auralis-notes 1\n", 17, report, sizeof report, &events) == 1);
	CHECK(read_all("# auralis-notes 1 \t\r\n0 tick\n", 28, report, sizeof report, &events) == 0);
	CHECK(events == 1);
	/* No newline at the end: the last line still counts. */
	CHECK(read_all("# auralis-notes 1\n0 tick\n1 end", 30, report, sizeof report, &events) == 0);
	CHECK(events == 2);
}

static void
test_reader_nul_and_long_lines(void)
{
	enum { big = 3 * 65536 + 17 };
	static char input[big + 4096];
	char report[512];
	int events;
	size_t n = 0;

	n += (size_t)sprintf(input + n, "# auralis-notes 1\n0 tick\n");
	memcpy(input + n, "1 ti\0ck\n", 8);
	n += 8;
	memset(input + n, 'x', big);    /* a runaway line larger than the buffer */
	n += big;
	n += (size_t)sprintf(input + n, "\n2 tick\n");
	memset(input + n, 'y', 2000);   /* a long line inside the buffer */
	n += 2000;
	n += (size_t)sprintf(input + n, "\n3 end\n");
	CHECK(read_all(input, n, report, sizeof report, &events) == 3);
	CHECK_STR(report, "3:NUL byte in line|4:line is longer than 1024 bytes|"
	    "6:line is longer than 1024 bytes|");
	CHECK(events == 3);
}

/* The reader takes input in any split, as from a pipe. */
static void
test_reader_from_pipe(void)
{
	static const char input[] = "# auralis-notes 1\n0 note 0 60 64 1\n0.5 tick\n1 end\n";
	int fds[2];
	struct note_reader *r;
	struct note_event ev;
	int events = 0, rc;

	CHECK(pipe(fds) == 0);
	if (fork() == 0) {
		for (size_t i = 0; i < sizeof input - 1; i++) {
			if (write(fds[1], input + i, 1) != 1)
				_exit(1);
			usleep(200);
		}
		_exit(0);
	}
	close(fds[1]);
	r = note_reader_new(fds[0], "-");
	while ((rc = note_reader_next(r, &ev)) == 1)
		events++;
	CHECK(rc == 0);
	CHECK(events == 3);
	CHECK(note_reader_line(r) == 4);
	note_reader_free(r);
	close(fds[0]);
}

int
main(void)
{
	test_parse_table();
	test_reader_reports_every_bad_line();
	test_reader_header();
	test_reader_nul_and_long_lines();
	test_reader_from_pipe();
	return check_done("note");
}
