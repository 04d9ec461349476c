/*
 * shm_write.c - what a slot's owner writes (docs/shared-memory.md): its
 * counters, histograms and gauges with relaxed atomic stores and adds that
 * never wait, its detail inside a sequence lock of its own, and the
 * records of its session ring, the producer's side.  Only the owner writes
 * its slot; a NULL slot (no shared memory) takes every call and does
 * nothing.
 */
#include "shm.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "shm_layout.h"

/*
 * Writes text (cut to SHM_DETAIL_MAX bytes at a character boundary) into
 * the slot's detail inside its sequence lock.  The owner only.
 */
void
detail_store(struct slot_mem *m, const char *text)
{
	char bytes[DETAIL_WORDS * 8] = { 0 };
	uint64_t words[DETAIL_WORDS];
	size_t len = strlen(text);
	uint32_t gen = atomic_load_explicit(&m->detail_gen, memory_order_relaxed);

	if (len > SHM_DETAIL_MAX) {
		len = SHM_DETAIL_MAX;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(bytes, text, len);
	memcpy(words, bytes, sizeof words);
	gen = (gen + 1) | 1;
	atomic_store_explicit(&m->detail_gen, gen, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < DETAIL_WORDS; i++)
		atomic_store_explicit(&m->detail[i], words[i], memory_order_relaxed);
	atomic_store_explicit(&m->detail_gen, gen + 1, memory_order_release);
}

void
shm_count(struct shm_slot *slot, enum shm_counter c, uint64_t n)
{
	if (slot && (unsigned)c < SHM_COUNTERS)
		atomic_fetch_add_explicit(&slot->m->counter[c], n, memory_order_relaxed);
}

int
shm_hist_bucket(int64_t us)
{
	uint64_t v, sq;
	int i;

	/* v <= 2^(i/2)  <=>  v^2 <= 2^i: i is the bit length of v^2 - 1. */
	if (us <= 1)
		return 0;
	if (us > (int64_t)1 << 24)
		return SHM_HIST_BUCKETS - 1;
	v = (uint64_t)us;
	sq = v * v - 1;
	i = 64 - __builtin_clzll(sq);
	return i < SHM_HIST_BUCKETS - 1 ? i : SHM_HIST_BUCKETS - 1;
}

double
shm_hist_bound_us(int i)
{
	if (i < 0)
		return 0;
	if (i >= SHM_HIST_BUCKETS - 1)
		return INFINITY;
	return ldexp(i % 2 ? 1.4142135623730951 : 1.0, i / 2);
}

void
shm_observe_us(struct shm_slot *slot, enum shm_hist h, int64_t us)
{
	struct hist_mem *hm;

	if (!slot || (unsigned)h >= SHM_HISTS)
		return;
	if (us < 0)
		us = 0;
	hm = &slot->m->hist[h];
	atomic_fetch_add_explicit(&hm->bucket[shm_hist_bucket(us)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hm->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hm->sum_us, (uint64_t)us, memory_order_relaxed);
}

void
shm_set_detail(struct shm_slot *slot, const char *text)
{
	if (slot && slot->pid == getpid())
		detail_store(slot->m, text ? text : "");
}

void
shm_gauge_set(struct shm_slot *slot, enum shm_gauge g, double v)
{
	uint64_t bits;

	if (!slot || (unsigned)g >= SHM_GAUGES)
		return;
	memcpy(&bits, &v, sizeof bits);
	atomic_store_explicit(&slot->m->gauge[g], bits, memory_order_relaxed);
}

/* The session ring: producer. */
static int
ring_post(struct shm_slot *self, enum shm_record_kind kind, int64_t id, double t,
	uint32_t kbps, const char *message)
{
	struct ring_mem *r;
	struct ring_entry *e;
	uint64_t head, tail;

	if (!self)
		return -1;
	r = &self->m->ring;
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (head - tail >= SHM_RING_RECORDS) {
		shm_count(self, SHM_RING_DROPS, 1);
		return -1;
	}
	e = &r->entry[head % SHM_RING_RECORDS];
	e->kind = (uint32_t)kind;
	e->kbps = kbps;
	e->id = id;
	e->t = t;
	memset(e->message, 0, sizeof e->message);
	if (message) {
		size_t len = strlen(message);

		/* Cut at a character boundary: never before a continuation byte. */
		if (len > SHM_MESSAGE_MAX) {
			len = SHM_MESSAGE_MAX;
			while (len > 0 && ((unsigned char)message[len] & 0xc0) == 0x80)
				len--;
		}
		memcpy(e->message, message, len);
	}
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return 0;
}

int
shm_session_post_ack(struct shm_slot *self, int64_t id, double t)
{
	return ring_post(self, SHM_RECORD_ACK, id, t, 0, NULL);
}

int
shm_session_post_error(struct shm_slot *self, int64_t id, const char *message)
{
	return ring_post(self, SHM_RECORD_ERROR, id, 0, 0, message);
}

int
shm_session_post_quality(struct shm_slot *self, int64_t id, uint32_t kbps)
{
	return ring_post(self, SHM_RECORD_QUALITY, id, 0, kbps, NULL);
}

unsigned
shm_session_unread(struct shm_slot *self)
{
	struct ring_mem *r;
	uint64_t head, tail;

	if (!self)
		return 0;
	r = &self->m->ring;
	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return head - tail <= SHM_RING_RECORDS ? (unsigned)(head - tail) : 0;
}
