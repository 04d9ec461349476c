/* test_schedule.c - frame placement and the order of scheduled note-offs. */
#include <stdint.h>

#include "check.h"
#include "schedule.h"

static const struct {
	double t;
	long rate;
	long long frame;
} placements[] = {
	{ 0.0, 44100, 0 },
	{ 0.5, 44100, 22050 },
	{ 1.0, 44100, 44100 },
	{ 0.001, 44100, 44 },           /* 44.1 rounds down */
	{ 0.0005, 44100, 22 },          /* 22.05 */
	{ 0.0115, 44100, 507 },         /* 507.15 */
	{ 0.0125, 48000, 600 },
	{ 1.0 / 3.0, 48000, 16000 },
	{ 0.00001, 44100, 0 },          /* 0.441 */
	{ 0.0000114, 44100, 1 },        /* 0.50274 */
	{ 3600.0, 44100, 158760000 },   /* an hour in */
	{ 28800.123, 44100, 1270085424 }, /* eight hours in: 1270085424.3 */
	{ 9999999.999, 192000, 1919999999808 },
};

int
main(void)
{
	static struct note_queue q;
	int64_t last = -1;
	int order[6], n = 0;

	for (size_t i = 0; i < sizeof placements / sizeof placements[0]; i++) {
		long long f = (long long)schedule_frame(placements[i].t, placements[i].rate);
		if (f != placements[i].frame)
			fprintf(stderr, "t=%.7f rate=%ld: frame %lld, want %lld\n", placements[i].t,
			    placements[i].rate, f, placements[i].frame);
		CHECK(f == placements[i].frame);
	}

	/* Earliest first; at the same frame, in the order pushed. */
	CHECK(note_queue_push(&q, 300, 0, 1) == 0);
	CHECK(note_queue_push(&q, 100, 0, 2) == 0);
	CHECK(note_queue_push(&q, 300, 0, 3) == 0);
	CHECK(note_queue_push(&q, 200, 0, 4) == 0);
	CHECK(note_queue_push(&q, 100, 0, 5) == 0);
	CHECK(note_queue_push(&q, 300, 0, 6) == 0);
	CHECK(note_queue_peek(&q)->key == 2);
	while (q.len > 0) {
		struct note_off off = note_queue_pop(&q);
		CHECK(off.frame >= last);
		last = off.frame;
		order[n++] = off.key;
	}
	CHECK(n == 6);
	CHECK(order[0] == 2 && order[1] == 5 && order[2] == 4 && order[3] == 1 && order[4] == 3 &&
	    order[5] == 6);

	/* Full: the push is refused, nothing is lost. */
	for (int i = 0; i < NOTE_QUEUE_MAX; i++)
		CHECK(note_queue_push(&q, NOTE_QUEUE_MAX - i, 1, i % 128) == 0);
	CHECK(note_queue_push(&q, 0, 1, 0) == -1);
	CHECK(q.len == NOTE_QUEUE_MAX);
	last = -1;
	while (q.len > 0) {
		struct note_off off = note_queue_pop(&q);
		CHECK(off.frame > last);
		last = off.frame;
	}

	/*
	 * Cancelling takes the earliest release of that key on that channel
	 * and keeps the rest in order: pseudo-random frames, keys 0..3 on two
	 * channels, a cancel every third push.
	 */
	{
		int64_t cancelled_frame = -1;
		uint32_t x = 12345;
		int pushed = 0, cancelled = 0;

		for (int i = 0; i < 600; i++) {
			x = x * 1103515245u + 12345u;
			CHECK(note_queue_push(&q, (int64_t)(x >> 8) % 5000, i % 2, (int)(x >> 4) % 4) == 0);
			pushed++;
			if (i % 3 == 2) {
				int64_t earliest = -1;

				for (int j = 0; j < q.len; j++)
					if (q.heap[j].channel == 1 && q.heap[j].key == 2 &&
					    (earliest < 0 || q.heap[j].frame < earliest))
						earliest = q.heap[j].frame;
				int at_earliest = 0, left = 0;

				for (int j = 0; j < q.len; j++)
					at_earliest += q.heap[j].channel == 1 && q.heap[j].key == 2 &&
					    q.heap[j].frame == earliest;
				if (note_queue_cancel(&q, 1, 2) == 0) {
					cancelled++;
					cancelled_frame = earliest;
					/* One entry at the earliest frame is gone, nothing else. */
					for (int j = 0; j < q.len; j++)
						left += q.heap[j].channel == 1 && q.heap[j].key == 2 &&
						    q.heap[j].frame == cancelled_frame;
					CHECK(left == at_earliest - 1);
				} else {
					CHECK(earliest < 0);
				}
			}
		}
		CHECK(cancelled > 0);
		CHECK(q.len == pushed - cancelled);
		last = -1;
		while (q.len > 0) {
			struct note_off off = note_queue_pop(&q);
			CHECK(off.frame >= last);
			last = off.frame;
		}
		CHECK(note_queue_cancel(&q, 0, 0) == -1);
	}
	return check_done("schedule");
}
