/*
 * shm_read.c - what readers see (docs/shared-memory.md): the totals over
 * every slot, each live slot read whole inside its sequence lock (aur-stat),
 * the session ring's consumer's side (aur-chunk), and the reaping of slots
 * whose owners died.  Readers never block the owners: a slot caught while
 * it changes hands is read again, READ_TRIES times at most.
 */
#include "shm.h"

#include <sched.h>
#include <string.h>

#include "shm_layout.h"

/*
 * Reads the slot's detail into out[SHM_DETAIL_MAX + 1]; "" when every try
 * met the owner writing it.
 */
static void
detail_load(struct slot_mem *m, char *out)
{
	uint64_t words[DETAIL_WORDS];

	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint32_t gen = atomic_load_explicit(&m->detail_gen, memory_order_acquire);

		if (gen & 1) {
			sched_yield();
			continue;
		}
		for (int i = 0; i < DETAIL_WORDS; i++)
			words[i] = atomic_load_explicit(&m->detail[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&m->detail_gen, memory_order_relaxed) == gen) {
			memcpy(out, words, SHM_DETAIL_MAX);
			out[SHM_DETAIL_MAX] = '\0';
			return;
		}
	}
	out[0] = '\0';
}

static bool
session_equal(struct slot_mem *m, const uint64_t words[SESSION_WORDS])
{
	for (int i = 0; i < SESSION_WORDS; i++)
		if (atomic_load_explicit(&m->session[i], memory_order_relaxed) != words[i])
			return false;
	return true;
}

/*
 * The live compose slot of self's session, found again whenever the one
 * found last changed hands.  NULL when there is none.
 */
static struct slot_mem *
find_producer(struct shm_slot *self)
{
	struct shm_segment *seg = self->seg;

	if (self->session[0] == 0)
		return NULL;
	if (self->producer >= 0) {
		struct slot_mem *m = &seg->slots[self->producer];
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);

		if (owner_state(o) == STATE_LIVE &&
		    atomic_load_explicit(&m->gen, memory_order_acquire) == self->producer_gen)
			return m;
		self->producer = -1;
	}
	for (int i = 0; i < SHM_SLOTS; i++) {
		struct slot_mem *m = &seg->slots[i];
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);
		uint32_t gen;
		bool match;

		if (owner_state(o) != STATE_LIVE || m == self->m)
			continue;
		gen = atomic_load_explicit(&m->gen, memory_order_acquire);
		match = !(gen & 1) &&
			atomic_load_explicit(&m->role, memory_order_relaxed) == SHM_ROLE_COMPOSE &&
			session_equal(m, self->session);
		atomic_thread_fence(memory_order_acquire);
		if (match && atomic_load_explicit(&m->gen, memory_order_relaxed) == gen) {
			self->producer = i;
			self->producer_gen = gen;
			return m;
		}
	}
	return NULL;
}

int
shm_session_poll(struct shm_slot *self, struct shm_record *rec)
{
	struct slot_mem *m;
	struct ring_mem *r;
	const struct ring_entry *e;
	uint64_t head, tail;

	if (!self || !(m = find_producer(self)))
		return 0;
	r = &m->ring;
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	if (head == tail || head - tail > SHM_RING_RECORDS)
		return 0;
	e = &r->entry[tail % SHM_RING_RECORDS];
	rec->kind = (enum shm_record_kind)e->kind;
	rec->kbps = e->kbps;
	rec->id = e->id;
	rec->t = e->t;
	memcpy(rec->message, e->message, SHM_MESSAGE_MAX);
	rec->message[SHM_MESSAGE_MAX] = '\0';
	/* Fails only when a new owner reset the ring: then the record is stale. */
	return atomic_compare_exchange_strong_explicit(&r->tail, &tail, tail + 1,
		memory_order_release, memory_order_relaxed) ? 1 : 0;
}

uint64_t
shm_session_dropped(struct shm_slot *self)
{
	struct slot_mem *m;

	if (!self || !(m = find_producer(self)))
		return 0;
	return atomic_load_explicit(&m->counter[SHM_RING_DROPS], memory_order_relaxed) -
		atomic_load_explicit(&m->base_counter[SHM_RING_DROPS], memory_order_relaxed);
}

/* Reading. */

static void
hist_read(struct hist_mem *hm, struct shm_hist_snap *out, bool add)
{
	const memory_order rlx = memory_order_relaxed;

	if (!add)
		memset(out, 0, sizeof *out);
	for (int i = 0; i < SHM_HIST_BUCKETS; i++)
		out->bucket[i] += atomic_load_explicit(&hm->bucket[i], rlx);
	out->count += atomic_load_explicit(&hm->count, rlx);
	out->sum_us += atomic_load_explicit(&hm->sum_us, rlx);
}

static void
hist_subtract(struct shm_hist_snap *a, const struct shm_hist_snap *b)
{
	for (int i = 0; i < SHM_HIST_BUCKETS; i++)
		a->bucket[i] -= b->bucket[i];
	a->count -= b->count;
	a->sum_us -= b->sum_us;
}

void
shm_read_totals(struct shm_segment *seg, struct shm_totals *out)
{
	memset(out, 0, sizeof *out);
	out->slots = SHM_SLOTS;
	out->created_unix_ms = seg->hdr->created_unix_ms;
	out->drain_since_unix_ms = atomic_load_explicit(&seg->hdr->drain_since_unix_ms,
	    memory_order_relaxed);
	out->drain_move_unix_ms = atomic_load_explicit(&seg->hdr->drain_move_unix_ms,
	    memory_order_relaxed);
	out->sessions_total = atomic_load_explicit(&seg->hdr->sessions_total, memory_order_relaxed);
	out->reclaimed_total = atomic_load_explicit(&seg->hdr->reclaimed_total, memory_order_relaxed);
	for (int i = 0; i < SHM_SLOTS; i++) {
		struct slot_mem *m = &seg->slots[i];
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);

		/* Free slots count too: they keep what their past owners counted. */
		for (int c = 0; c < SHM_COUNTERS; c++)
			out->counter[c] += atomic_load_explicit(&m->counter[c], memory_order_relaxed);
		for (int h = 0; h < SHM_HISTS; h++)
			hist_read(&m->hist[h], &out->hist[h], true);
		if (owner_state(o) != STATE_LIVE)
			continue;
		if (owner_dead(m, o))
			out->dead++;
		else {
			uint32_t role = atomic_load_explicit(&m->role, memory_order_relaxed);

			out->live[role < SHM_ROLES ? role : SHM_ROLE_OTHER]++;
		}
	}
}

/* Reads a live slot consistently.  Returns false when it is not live. */
static bool
slot_read(struct slot_mem *m, int index, struct shm_slot_info *info)
{
	const memory_order rlx = memory_order_relaxed;

	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint32_t gen = atomic_load_explicit(&m->gen, memory_order_acquire);
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);
		uint64_t words[SESSION_WORDS], base[SHM_COUNTERS];
		struct shm_hist_snap bh;

		if (owner_state(o) != STATE_LIVE)
			return false;
		if (gen & 1) {
			sched_yield();
			continue;
		}
		info->index = index;
		info->pid = owner_pid(o);
		info->role = (enum shm_role)atomic_load_explicit(&m->role, rlx);
		info->start_unix_ms = atomic_load_explicit(&m->start_unix_ms, rlx);
		for (int i = 0; i < SESSION_WORDS; i++)
			words[i] = atomic_load_explicit(&m->session[i], rlx);
		for (int g = 0; g < SHM_GAUGES; g++) {
			uint64_t bits = atomic_load_explicit(&m->gauge[g], rlx);

			memcpy(&info->gauge[g], &bits, sizeof bits);
		}
		for (int c = 0; c < SHM_COUNTERS; c++)
			base[c] = atomic_load_explicit(&m->base_counter[c], rlx);
		for (int h = 0; h < SHM_HISTS; h++) {
			hist_read(&m->base_hist[h], &bh, false);
			hist_read(&m->hist[h], &info->hist[h], false);
			hist_subtract(&info->hist[h], &bh);
		}
		for (int c = 0; c < SHM_COUNTERS; c++)
			info->counter[c] = atomic_load_explicit(&m->counter[c], rlx) - base[c];
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&m->gen, rlx) != gen)
			continue;
		memcpy(info->session, words, SHM_SESSION_MAX);
		info->session[SHM_SESSION_MAX] = '\0';
		detail_load(m, info->detail);
		/* A detail read across a change of hands may be the last owner's. */
		if (atomic_load_explicit(&m->gen, memory_order_acquire) != gen)
			continue;
		info->alive = !owner_dead(m, o);
		return true;
	}
	return false;
}

int
shm_read_next(struct shm_segment *seg, int *pos, struct shm_slot_info *info)
{
	for (int i = *pos < 0 ? 0 : *pos; i < SHM_SLOTS; i++) {
		if (slot_read(&seg->slots[i], i, info)) {
			*pos = i + 1;
			return 1;
		}
	}
	*pos = SHM_SLOTS;
	return 0;
}

int
shm_reap(struct shm_segment *seg)
{
	int reaped = 0;

	for (int i = 0; i < SHM_SLOTS; i++) {
		struct slot_mem *m = &seg->slots[i];
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);

		if (o == 0 || !owner_dead(m, o))
			continue;
		if (atomic_compare_exchange_strong_explicit(&m->owner, &o, 0,
				memory_order_acq_rel, memory_order_relaxed)) {
			atomic_fetch_add_explicit(&seg->hdr->reclaimed_total, 1, memory_order_relaxed);
			reaped++;
		}
	}
	return reaped;
}
