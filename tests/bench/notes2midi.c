/*
 * notes2midi - turn a note-event file into a Standard MIDI File (format 0),
 * so that `fluidsynth -F` can render the same music as aur-render for the
 * benchmark.  One tick is one millisecond (1000 ticks a quarter at 60 BPM).
 *
 *   notes2midi IN.notes OUT.mid
 *
 * A `note` becomes a note-on and a note-off; at equal times note-offs come
 * first, as in aur-render.  `tick` has no MIDI form and is dropped; `end`
 * becomes all-notes-off on every channel and the end of the track.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "note.h"

struct midi_event {
	uint32_t tick;
	uint32_t order;         /* 0 for note-offs, 1 for the rest: offs first */
	uint32_t seq;           /* then the order read */
	uint8_t bytes[3];
	uint8_t len;
};

static struct midi_event *events;
static size_t nevents, capevents;

static void
add(uint32_t tick, uint8_t a, uint8_t b, uint8_t c, uint8_t len)
{
	if (nevents == capevents) {
		capevents = capevents ? 2 * capevents : 4096;
		events = realloc(events, capevents * sizeof *events);
		if (!events)
			dief(AUR_EXIT_FAILURE, "out of memory");
	}
	events[nevents] = (struct midi_event){ tick, 1, (uint32_t)nevents, { a, b, c }, len };
	nevents++;
}

static int
by_time(const void *pa, const void *pb)
{
	const struct midi_event *a = pa, *b = pb;

	if (a->tick != b->tick)
		return a->tick < b->tick ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static uint32_t
ms(double t)
{
	return (uint32_t)(t * 1000.0 + 0.5);
}

static void
put_varlen(FILE *f, uint32_t v)
{
	uint8_t buf[5];
	int n = 0;

	buf[n++] = v & 0x7f;
	while ((v >>= 7))
		buf[n++] = (uint8_t)(0x80 | (v & 0x7f));
	while (n--)
		fputc(buf[n], f);
}

int
main(int argc, char **argv)
{
	struct note_event ev;
	struct note_reader *r;
	uint32_t end_tick = 0, last = 0;
	long track_start, track_end;
	int fd, rc;
	FILE *out;

	err_init(argv[0]);
	if (argc != 3)
		dief(AUR_EXIT_USAGE, "usage: notes2midi IN.notes OUT.mid");
	if ((fd = open(argv[1], O_RDONLY)) < 0)
		dief(AUR_EXIT_NOINPUT, "%s:", argv[1]);
	r = note_reader_new(fd, argv[1]);
	while ((rc = note_reader_next(r, &ev)) != 0) {
		uint32_t t;

		if (rc < 0)
			dief(AUR_EXIT_DATA, "%s:%lu: %s", argv[1], note_reader_line(r), note_reader_error(r));
		t = ms(ev.t);
		if (t > end_tick)
			end_tick = t;
		switch (ev.type) {
		case NOTE_PROGRAM:
			add(t, (uint8_t)(0xb0 | ev.channel), 0, (uint8_t)(ev.b >> 7), 3);
			add(t, (uint8_t)(0xb0 | ev.channel), 32, (uint8_t)(ev.b & 0x7f), 3);
			add(t, (uint8_t)(0xc0 | ev.channel), (uint8_t)ev.a, 0, 2);
			break;
		case NOTE_NOTE:
			add(t, (uint8_t)(0x90 | ev.channel), (uint8_t)ev.a, (uint8_t)ev.b, 3);
			add(ms(ev.t + ev.duration), (uint8_t)(0x80 | ev.channel), (uint8_t)ev.a, 0, 3);
			if (ms(ev.t + ev.duration) > end_tick)
				end_tick = ms(ev.t + ev.duration);
			break;
		case NOTE_ON:
			add(t, (uint8_t)(0x90 | ev.channel), (uint8_t)ev.a, (uint8_t)ev.b, 3);
			break;
		case NOTE_OFF:
			add(t, (uint8_t)(0x80 | ev.channel), (uint8_t)ev.a, 0, 3);
			break;
		case NOTE_CC:
			add(t, (uint8_t)(0xb0 | ev.channel), (uint8_t)ev.a, (uint8_t)ev.b, 3);
			break;
		case NOTE_TICK:
			break;
		case NOTE_END:
			for (int ch = 0; ch < 16; ch++)
				add(t, (uint8_t)(0xb0 | ch), 123, 0, 3);
			end_tick = t;
			break;
		}
	}
	note_reader_free(r);
	close(fd);
	/* Note-offs (and all-notes-off) sort before the rest at equal times. */
	for (size_t i = 0; i < nevents; i++)
		events[i].order = (events[i].bytes[0] & 0xf0) == 0x80 ||
		    ((events[i].bytes[0] & 0xf0) == 0xb0 && events[i].bytes[1] == 123) ? 0 : 1;
	qsort(events, nevents, sizeof *events, by_time);

	if (!(out = fopen(argv[2], "wb")))
		dief(AUR_EXIT_FAILURE, "%s:", argv[2]);
	fwrite("MThd\0\0\0\6\0\0\0\1\x03\xe8", 1, 14, out);     /* format 0, 1 track, 1000/quarter */
	fwrite("MTrk\0\0\0\0", 1, 8, out);
	track_start = ftell(out);
	fputc(0, out);                                          /* tempo: 1 s a quarter */
	fwrite("\xff\x51\x03\x0f\x42\x40", 1, 6, out);
	for (size_t i = 0; i < nevents; i++) {
		if (events[i].tick > end_tick)
			continue;
		put_varlen(out, events[i].tick - last);
		last = events[i].tick;
		fwrite(events[i].bytes, 1, events[i].len, out);
	}
	put_varlen(out, end_tick - last);
	fwrite("\xff\x2f\x00", 1, 3, out);
	track_end = ftell(out);
	fseek(out, track_start - 4, SEEK_SET);
	for (int shift = 24; shift >= 0; shift -= 8)
		fputc((int)(((track_end - track_start) >> shift) & 0xff), out);
	if (fclose(out) != 0)
		dief(AUR_EXIT_FAILURE, "%s:", argv[2]);
	free(events);
	return 0;
}
