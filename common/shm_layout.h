/*
 * shm_layout.h - the segment's layout, and what the three files of the
 * shared-memory registry share: shm.c (the segment and its slots: names,
 * guarded mappings, opening, claiming, the drain), shm_write.c (what a
 * slot's owner writes: counts, histograms, gauges, its detail, the session
 * ring's producer) and shm_read.c (what readers see: totals, slots, the
 * session ring's consumer).  Private to them: every tool uses shm.h.
 * docs/shared-memory.md gives the layout byte for byte.
 */
#ifndef AUR_SHM_LAYOUT_H
#define AUR_SHM_LAYOUT_H

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

#define HEADER_SIZE 4096
#define SESSION_WORDS ((SHM_SESSION_MAX + 8) / 8)
#define DETAIL_WORDS ((SHM_DETAIL_MAX + 8) / 8)
#define OPEN_WAIT_NS 1000000000 /* how long a tool waits for the magic */
#define READ_WAIT_NS 20000000   /* how long a reader (aur-stat) waits: it must answer */
#define READ_TRIES 1000         /* a slot read again while it changes hands */

enum slot_state { STATE_FREE = 0, STATE_CLAIMING = 1, STATE_LIVE = 2 };

static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to be shared");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free to be shared");

struct hist_mem {
	_Atomic uint64_t bucket[SHM_HIST_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_us;
};

struct ring_entry {
	uint32_t kind;
	uint32_t kbps;
	int64_t id;
	double t;
	char message[SHM_MESSAGE_MAX + 8];
};

struct ring_mem {
	alignas(64) _Atomic uint64_t head;      /* written by the producer */
	alignas(64) _Atomic uint64_t tail;      /* written by the consumer */
	struct ring_entry entry[SHM_RING_RECORDS];
};

struct slot_mem {
	alignas(64) _Atomic uint64_t owner;     /* state << 32 | pid; 0 when free */
	_Atomic uint32_t gen;                   /* odd while the owner sets the slot up */
	_Atomic uint32_t role;
	_Atomic int64_t start_unix_ms;
	_Atomic uint64_t proc_start;            /* /proc start time of pid, 0 if unknown */
	_Atomic uint64_t session[SESSION_WORDS]; /* NUL-padded bytes */
	_Atomic uint64_t gauge[SHM_GAUGES];     /* double bit patterns */
	_Atomic uint64_t base_counter[SHM_COUNTERS];
	struct hist_mem base_hist[SHM_HISTS];
	alignas(64) _Atomic uint64_t counter[SHM_COUNTERS];
	struct hist_mem hist[SHM_HISTS];
	struct ring_mem ring;
	_Atomic uint32_t detail_gen;            /* odd while the owner rewrites detail */
	_Atomic uint64_t detail[DETAIL_WORDS];  /* NUL-padded bytes */
};

struct shm_header {
	_Atomic uint64_t magic;                 /* offset 0 in every version; stored last */
	uint32_t version;                       /* offset 8 in every version */
	uint32_t header_size;
	uint64_t size;                          /* offset 16 in every version */
	uint32_t slots;
	uint32_t slot_size;
	int64_t created_unix_ms;
	_Atomic uint64_t sessions_total;
	_Atomic uint64_t reclaimed_total;
	/*
	 * The node's drain (shm_drain_set): unix ms, 0 while it serves.  Added
	 * within layout 2: a segment made before them holds zeros here.
	 */
	_Atomic int64_t drain_since_unix_ms;
	_Atomic int64_t drain_move_unix_ms;
};

static_assert(offsetof(struct shm_header, magic) == 0, "stable prefix");
static_assert(offsetof(struct shm_header, version) == 8, "stable prefix");
static_assert(offsetof(struct shm_header, size) == 16, "stable prefix");
static_assert(sizeof(struct shm_header) <= HEADER_SIZE, "header fits its page");

#define SEGMENT_SIZE (HEADER_SIZE + (size_t)SHM_SLOTS * sizeof(struct slot_mem))

struct shm_segment {
	struct shm_header *hdr;
	struct slot_mem *slots;
	size_t size;
	int guard;                              /* its entry in guards[], or -1 */
	dev_t dev;                              /* the shared-memory object mapped */
	ino_t ino;
	char name[256];
};

struct shm_slot {
	struct shm_segment *seg;
	struct slot_mem *m;
	int index;
	pid_t pid;
	enum shm_role role;
	uint64_t session[SESSION_WORDS];
	int producer;                           /* consumer: the compose slot, or -1 */
	uint32_t producer_gen;
};

static inline uint64_t
owner_word(enum slot_state state, pid_t pid)
{
	return (uint64_t)state << 32 | (uint32_t)pid;
}

static inline enum slot_state
owner_state(uint64_t o)
{
	return (enum slot_state)(o >> 32);
}

static inline pid_t
owner_pid(uint64_t o)
{
	return (pid_t)(uint32_t)o;
}

/* shm.c: true when the process in owner word o of slot m is dead. */
bool owner_dead(struct slot_mem *m, uint64_t o);

/*
 * shm_write.c: writes text (cut to SHM_DETAIL_MAX bytes at a character
 * boundary) into the slot's detail inside its sequence lock.  The owner only.
 */
void detail_store(struct slot_mem *m, const char *text);

#endif
