#include "schedule.h"

#include <math.h>

int64_t
schedule_frame(double t, long rate)
{
	return (int64_t)llround(t * (double)rate);
}

static bool
off_before(const struct note_off *a, const struct note_off *b)
{
	return a->frame < b->frame || (a->frame == b->frame && a->seq < b->seq);
}

static void
swap(struct note_off *a, struct note_off *b)
{
	struct note_off tmp = *a;

	*a = *b;
	*b = tmp;
}

int
note_queue_push(struct note_queue *q, int64_t frame, int channel, int key)
{
	int i;

	if (q->len == NOTE_QUEUE_MAX)
		return -1;
	i = q->len++;
	q->heap[i] = (struct note_off){ frame, q->next_seq++, channel, key };
	while (i > 0 && off_before(&q->heap[i], &q->heap[(i - 1) / 2])) {
		swap(&q->heap[i], &q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	return 0;
}

const struct note_off *
note_queue_peek(const struct note_queue *q)
{
	return &q->heap[0];
}

/* Moves the entry at i down until both children come after it. */
static void
sift_down(struct note_queue *q, int i)
{
	for (;;) {
		int l = 2 * i + 1, m = i;

		if (l < q->len && off_before(&q->heap[l], &q->heap[m]))
			m = l;
		if (l + 1 < q->len && off_before(&q->heap[l + 1], &q->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
}

struct note_off
note_queue_pop(struct note_queue *q)
{
	struct note_off top = q->heap[0];

	q->heap[0] = q->heap[--q->len];
	sift_down(q, 0);
	return top;
}

int
note_queue_cancel(struct note_queue *q, int channel, int key)
{
	int found = -1;

	for (int i = 0; i < q->len; i++)
		if (q->heap[i].channel == channel && q->heap[i].key == key &&
		    (found < 0 || off_before(&q->heap[i], &q->heap[found])))
			found = i;
	if (found < 0)
		return -1;
	q->heap[found] = q->heap[--q->len];
	if (found < q->len) {
		int i = found;

		while (i > 0 && off_before(&q->heap[i], &q->heap[(i - 1) / 2])) {
			swap(&q->heap[i], &q->heap[(i - 1) / 2]);
			i = (i - 1) / 2;
		}
		sift_down(q, i);
	}
	return 0;
}
