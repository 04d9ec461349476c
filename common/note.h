/*
 * note.h - the note-event text format (docs/note-format.md): a streaming
 * reader and a writer.
 *
 * The reader pulls lines from a file descriptor through its own buffer,
 * one at a time, so it never holds more than one line of the input and
 * works the same on a file, a pipe or a terminal.  It validates each line
 * completely; a bad line is reported through note_reader_error() and the
 * reader goes on with the next one, so a caller can report every bad line
 * of a file in one pass.
 */
#ifndef AUR_NOTE_H
#define AUR_NOTE_H

#include <stdbool.h>
#include <stddef.h>

#define NOTE_FORMAT_VERSION 1
#define NOTE_HEADER "# auralis-notes 1"
#define NOTE_LINE_MAX 1024      /* bytes, without the newline */
#define NOTE_TIME_MAX 1e7       /* seconds: about 115 days of music */

enum note_type {
	NOTE_PROGRAM,   /* t program CH PROGRAM [BANK] */
	NOTE_NOTE,      /* t note CH KEY VELOCITY DURATION */
	NOTE_ON,        /* t on CH KEY VELOCITY */
	NOTE_OFF,       /* t off CH KEY */
	NOTE_CC,        /* t cc CH CONTROLLER VALUE */
	NOTE_TICK,      /* t tick */
	NOTE_END,       /* t end */
};

struct note_event {
	double t;               /* seconds from the stream's start */
	enum note_type type;
	int channel;            /* 0..15 */
	int a;                  /* key, program or controller number: 0..127 */
	int b;                  /* velocity or controller value 0..127; bank 0..16383 */
	double duration;        /* NOTE_NOTE only: seconds, > 0 */
};

struct note_reader;

/*
 * Makes a reader over fd (not closed by the reader).  name is used in
 * messages ("calm.notes", "-" for stdin) and is not copied.  Returns NULL
 * when out of memory.
 */
struct note_reader *note_reader_new(int fd, const char *name);

/* Frees the reader. */
void note_reader_free(struct note_reader *r);

/*
 * Reads the next event into *ev.  Returns 1 for an event, 0 at the end of
 * the input, -1 for a bad line (the message is note_reader_error(), the
 * line note_reader_line()), -2 for a read error (errno set; EINTR when a
 * signal interrupted the read, and calling again goes on).  After a bad
 * line the next call goes on with the following line.  Times are checked
 * against the last good event: never decreasing.  An event after `end` is
 * a bad line.
 */
int note_reader_next(struct note_reader *r, struct note_event *ev);

/* The message for the last bad line, without position. */
const char *note_reader_error(const struct note_reader *r);

/* The number of the line read last (1-based). */
unsigned long note_reader_line(const struct note_reader *r);

/* How many bytes of the input have been consumed (for progress). */
unsigned long long note_reader_offset(const struct note_reader *r);

/* The name given to note_reader_new. */
const char *note_reader_name(const struct note_reader *r);

/*
 * True when a whole line is already buffered, so note_reader_next will not
 * block.  A streaming consumer flushes its output when this is false.
 */
bool note_reader_ready(const struct note_reader *r);

/*
 * Parses one line (without its newline) into *ev.  Returns 1 for an event,
 * 0 for a blank or comment line, -1 for a bad line with a message in
 * err[errlen].  No time ordering is checked.  Used by the reader and tests.
 */
int note_parse_line(const char *line, struct note_event *ev, char *err, size_t errlen);

/*
 * Formats ev as one line with a trailing newline into buf (at least
 * NOTE_LINE_MAX bytes).  Times are written with millisecond precision,
 * and a note lasts at least 1 ms, so that note_parse_line() reads every
 * line back.  Returns the length.
 */
size_t note_format(const struct note_event *ev, char *buf, size_t len);

#endif
