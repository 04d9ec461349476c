/*
 * schedule.h - where events land in the sample stream.
 *
 * schedule_frame() is the one place that turns music time into a frame
 * number: round(t * rate), halves away from zero.  A note_queue keeps the
 * note-offs that `note` events schedule, ordered by frame and, at the same
 * frame, by the order they were pushed, so rendering is deterministic.
 */
#ifndef AUR_SCHEDULE_H
#define AUR_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#define NOTE_QUEUE_MAX 4096

/* The frame at which an event at t seconds takes effect, at rate Hz. */
int64_t schedule_frame(double t, long rate);

struct note_off {
	int64_t frame;
	uint64_t seq;
	int channel, key;
};

/* A fixed-size min-heap of note-offs; zero-initialise it to start empty. */
struct note_queue {
	struct note_off heap[NOTE_QUEUE_MAX];
	int len;
	uint64_t next_seq;
};

/* Adds a note-off.  Returns 0, or -1 when NOTE_QUEUE_MAX are pending. */
int note_queue_push(struct note_queue *q, int64_t frame, int channel, int key);

/* The earliest note-off; only when len > 0. */
const struct note_off *note_queue_peek(const struct note_queue *q);

/* Removes and returns the earliest note-off; only when len > 0. */
struct note_off note_queue_pop(struct note_queue *q);

/*
 * Removes the earliest note-off of key on channel, as when an `off` ends
 * a `note` before its time.  Returns 0, or -1 when none is pending.
 */
int note_queue_cancel(struct note_queue *q, int channel, int key);

#endif
