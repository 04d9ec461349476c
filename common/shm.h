/*
 * shm.h - the shared-memory registry: the only state that Auralis
 * processes share (DESIGN.md, decision 5; docs/shared-memory.md).
 *
 * One POSIX shared-memory segment, named by $AURALIS_SHM (default
 * "/auralis-UID", UID our effective user id), mode 0600 and of our own
 * user only, holds a header and SHM_SLOTS fixed-size slots.
 * Every aur-* process claims one slot with a compare-and-swap on the
 * slot's owner word, counts into it with relaxed C11 atomic increments,
 * and frees it at exit; a slot whose process died is taken back by the
 * next claimer.  Nothing locks: writers never wait, readers never stop a
 * writer.
 *
 * Counters and histograms in a slot are cumulative over every process that
 * ever held the slot; each claim records a baseline.  So the sum over all
 * slots is the exact total since the segment was created -- nothing is
 * moved anywhere when a process exits or dies -- and one process's own
 * values are its slot's values minus the baseline.
 *
 * The slot of an aur-compose also carries a session ring: a single-
 * producer, single-consumer queue of control acknowledgements and errors
 * that the aur-chunk of the same session (the same $AURALIS_SESSION) reads
 * and sends to the browser in audio order.
 *
 * Every function that takes a struct shm_slot * accepts NULL and then does
 * nothing, so a tool that could not attach goes on without counters.
 *
 * A segment that another user made, or whose mode lets other users in, is
 * refused before any of it is mapped.  A segment that shrinks under a
 * process (SIGBUS) is replaced in that process by zeros: it warns once and
 * goes on without counters (docs/shared-memory.md, "Trust").
 */
#ifndef AUR_SHM_H
#define AUR_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHM_NAME_PREFIX "/auralis-" /* the default name: this, then the effective uid */
#define SHM_LAYOUT_VERSION 2
#define SHM_MAGIC 0x0053494c41525541ull /* "AURALIS\0" in little-endian memory */
#define SHM_SLOTS 512
#define SHM_SESSION_MAX 64      /* bytes of a session id, without the NUL */
#define SHM_MESSAGE_MAX 200     /* bytes of an error message, without the NUL */
#define SHM_DETAIL_MAX 95       /* bytes of a slot's detail text, without the NUL */
#define SHM_RING_RECORDS 16     /* records in a session ring */
#define SHM_HIST_BUCKETS 48     /* see shm_hist_bound_us */
#define SHM_ID_NONE INT64_MIN   /* an error that answers no message id */

/* What a process does; one slot per process. */
enum shm_role {
	SHM_ROLE_NONE,
	SHM_ROLE_COMPOSE,
	SHM_ROLE_RENDER,
	SHM_ROLE_CHUNK,         /* one per live session */
	SHM_ROLE_STAT,
	SHM_ROLE_OTHER,         /* tests and tools */
	SHM_ROLES
};

/* Monotonic counters, added to with shm_count. */
/*
 * The counters, in the segment's order: SHM_COUNTER(ENUM, name, help) for
 * each, the one list that the enum, shm_counter_name, /api/metrics and
 * /metrics (auralis_NAME_total, with its help) are made from.  A new
 * counter goes at the end, and changes the layout version.
 */
#define SHM_COUNTER_LIST \
	/* aur-chunk */ \
	SHM_COUNTER(SHM_CHUNKS, "chunks", "Audio chunks sent to browsers.") \
	SHM_COUNTER(SHM_CHUNKS_LATE, "chunks_late", \
	    "Audio chunks sent more than 150 ms after they were due.") \
	SHM_COUNTER(SHM_BYTES, "bytes", "Bytes the aur-* tools wrote on their standard output.") \
	SHM_COUNTER(SHM_ACKS, "acks", "Control acknowledgements sent to browsers.") \
	SHM_COUNTER(SHM_ERRORS, "errors", "Error messages sent to browsers.") \
	/* aur-compose */ \
	SHM_COUNTER(SHM_EVENTS, "events", "Note events composed.") \
	SHM_COUNTER(SHM_CONTROLS_APPLIED, "controls_applied", "Control and preset messages applied.") \
	SHM_COUNTER(SHM_CONTROLS_REJECTED, "controls_rejected", \
	    "Messages from browsers answered with an error.") \
	SHM_COUNTER(SHM_STATS_MESSAGES, "stats_messages", "Stats messages from browsers.") \
	SHM_COUNTER(SHM_UNDERRUNS, "underruns", "Playback underruns that browsers reported.") \
	SHM_COUNTER(SHM_RING_DROPS, "ring_drops", \
	    "Control replies lost because a session ring was full.")

enum shm_counter {
#define SHM_COUNTER(e, name, help) e,
	SHM_COUNTER_LIST
#undef SHM_COUNTER
	SHM_COUNTERS
};

/* Histograms of durations, in microseconds, added to with shm_observe_us. */
enum shm_hist {
	SHM_HIST_LATENESS,      /* aur-chunk: chunk sent minus chunk due (0 when early) */
	SHM_HIST_RENDER,        /* aur-render: wall time to render one block */
	SHM_HIST_BUFFER,        /* client-reported buffered audio */
	SHM_HIST_JITTER,        /* client-reported arrival jitter */
	SHM_HIST_LATENCY,       /* client-measured control-to-sound latency */
	SHM_HISTS
};

/* Last values, set with shm_gauge_set; they belong to the process only. */
enum shm_gauge {
	SHM_GAUGE_MUSIC_S,      /* music time reached, seconds */
	SHM_GAUGE_BUFFER_MS,    /* the client's last reported buffer */
	SHM_GAUGE_JITTER_MS,    /* ... jitter */
	SHM_GAUGE_LATENCY_MS,   /* ... control latency */
	SHM_GAUGE_UNDERRUNS,    /* ... underruns since it connected */
	SHM_GAUGES
};

/* An open segment, and a claimed slot in it: process-local handles. */
struct shm_segment;
struct shm_slot;

/*
 * Our user's segment name: SHM_NAME_PREFIX and the effective uid,
 * "/auralis-1000" (root's is "/auralis-0").  A static string.
 */
const char *shm_user_name(void);

/* $AURALIS_SHM if set and not empty, else shm_user_name(). */
const char *shm_default_name(void);

/*
 * Opens the segment name ("/auralis-1000": a slash, then no other slash),
 * creating it when it does not exist: with O_CREAT | O_EXCL and mode 0600,
 * so that a new segment is never anyone else's.  An existing one is used
 * only when it belongs to our effective user and its mode has no group or
 * other bits; that is checked before any of it is mapped, and a refusal
 * (errno EACCES) names the owner and the mode.  The creator sizes and
 * initialises it and publishes SHM_MAGIC last; an opener that finds it
 * half made waits for the magic up to one second.  Returns NULL with a
 * one-line message in err[errlen] (without the program name) for a bad
 * name, a system error, a segment not ours, another layout version, a
 * foreign or never initialised segment: the message ends in how to remove
 * it.  The mapping is guarded against a shrink (shm_segment_detached).
 * The handle is freed by shm_segment_close.
 */
struct shm_segment *shm_segment_open(const char *name, char *err, size_t errlen);

/*
 * As shm_segment_open, for readers: opens the segment only if it exists,
 * never creates it.  When there is none, returns NULL with errno ENOENT
 * and "shared memory NAME is missing" in err; other failures as
 * shm_segment_open, with errno EACCES for a segment of another user or
 * open to others, EINVAL for one that is not ours to read (another layout
 * version, foreign, never initialised).
 */
struct shm_segment *shm_segment_open_existing(const char *name, char *err, size_t errlen);

/*
 * True when the segment shrank under this process: touching a page past
 * its new end raised SIGBUS, and the handler mapped zeros over the whole
 * mapping.  What is read from seg since is zeros, what is written goes
 * nowhere; the handle stays valid until shm_segment_close.  The first
 * such shrink of a mapping warns once on standard error, "prog: shared
 * memory NAME: counters detached: the segment shrank; going on without
 * them".  True for NULL.
 */
bool shm_segment_detached(const struct shm_segment *seg);

/*
 * True when the segment's name no longer refers to the memory seg maps:
 * it was removed (and perhaps made again by a newer process), or it shrank
 * (shm_segment_detached).  The mapping stays valid; a reader that wants
 * the current counts opens the name again.  One shm_open and fstat; never
 * blocks a writer.
 */
bool shm_segment_replaced(const struct shm_segment *seg);

/* Unmaps the segment and frees the handle (not the slots claimed in it). */
void shm_segment_close(struct shm_segment *seg);

/*
 * Claims a free slot, or the first slot of a dead process, for this
 * process (getpid()) with role and session (NULL or "" for none; at most
 * SHM_SESSION_MAX bytes).  The slot's own values start at zero and a
 * compose slot's ring starts empty.  Returns a handle, or NULL with errno
 * EINVAL (session too long), ENOSPC (every slot is live) or ENOMEM.  One
 * process may hold several slots (tests do); the handle is freed by
 * shm_release.
 */
struct shm_slot *shm_claim(struct shm_segment *seg, enum shm_role role, const char *session);

/*
 * Frees the slot for the next claimer and frees the handle.  The slot's
 * counts stay in the segment's totals.  Does nothing to the slot (but
 * frees the handle) when called from a process that is not its owner,
 * such as a forked child.
 */
void shm_release(struct shm_slot *slot);

/*
 * What a tool calls once at start: opens shm_default_name(), claims a slot
 * and releases it at exit (atexit).  On any failure it warns once,
 * "prog: shared memory /auralis-1000: ...; going on without counters", and
 * returns NULL, which every shm_* writer accepts.  AURALIS_SHM=off returns
 * NULL without a word: a run that must not count.  Should the segment
 * shrink later, the slot counts into zeros (shm_segment_detached).
 */
struct shm_slot *shm_attach(enum shm_role role, const char *session);

/*
 * Releases what shm_attach took, now, as its exit handler would: for a
 * process that ends with _exit (a forked child that must not run the exit
 * handlers it inherited).  Does nothing when nothing is attached.
 */
void shm_detach(void);

/* Adds n to counter c of the slot (relaxed atomic; never blocks). */
void shm_count(struct shm_slot *slot, enum shm_counter c, uint64_t n);

/* Adds one observation of us microseconds (negative counts as 0) to h. */
void shm_observe_us(struct shm_slot *slot, enum shm_hist h, int64_t us);

/* Sets gauge g of the slot to v. */
void shm_gauge_set(struct shm_slot *slot, enum shm_gauge g, double v);

/*
 * Sets the slot's detail: a short line of text that says what the owner
 * is doing, for aur-stat ("preset=focus key=D mode=dorian bpm=72
 * intensity=0.45" from aur-compose).  Text longer than SHM_DETAIL_MAX
 * bytes is cut at a UTF-8 character boundary.  The owner only; it never
 * waits: readers that catch it half written read again.  A new claim
 * starts with an empty detail.
 */
void shm_set_detail(struct shm_slot *slot, const char *text);

/*
 * The histogram buckets.  Bucket i counts values v (in whole microseconds)
 * with bound(i - 1) < v <= bound(i), where bound(i) = 2^(i/2) us for
 * i < SHM_HIST_BUCKETS - 1: 1, 1.41, 2, 2.83, 4 ... 8388608 us (8.4 s).
 * The last bucket counts everything above, its bound is INFINITY.
 */
int shm_hist_bucket(int64_t us);
double shm_hist_bound_us(int i);

/* The session ring. */
enum shm_record_kind {
	SHM_RECORD_ACK = 1,     /* a control change is first heard at music time t */
	SHM_RECORD_ERROR = 2,   /* message id was rejected: message */
	SHM_RECORD_QUALITY = 3, /* message id asks for Opus at kbps kbit/s */
};

struct shm_record {
	enum shm_record_kind kind;
	int64_t id;             /* the client's message id, or SHM_ID_NONE */
	double t;               /* music time, seconds (acks) */
	uint32_t kbps;          /* bitrate, kbit/s (quality) */
	char message[SHM_MESSAGE_MAX + 1]; /* NUL-terminated (errors) */
};

/*
 * Producer side, called by the aur-compose of a session on its own slot:
 * queues an ack of message id heard from music time t.  Returns 0, or -1
 * when the ring is full: the record is dropped and SHM_RING_DROPS counted
 * (never an older record).  Records keep their order.
 */
int shm_session_post_ack(struct shm_slot *self, int64_t id, double t);

/*
 * Queues an error for message id (SHM_ID_NONE when it had none).  A message
 * longer than SHM_MESSAGE_MAX bytes is cut at a UTF-8 character boundary.
 * Returns as shm_session_post_ack.
 */
int shm_session_post_error(struct shm_slot *self, int64_t id, const char *message);

/*
 * Queues a request of message id for a bitrate of kbps kbit/s, for an
 * aur-chunk that codes Opus.  Returns as shm_session_post_ack.
 */
int shm_session_post_quality(struct shm_slot *self, int64_t id, uint32_t kbps);

/*
 * Producer side: how many of its records the consumer has not taken yet.
 * A composer that is about to exit can wait a little for this to reach 0,
 * so that its last acks are not lost with its slot.
 */
unsigned shm_session_unread(struct shm_slot *self);

/*
 * Consumer side, called by the aur-chunk of a session on its own slot:
 * takes the oldest record from the ring of the live compose slot with the
 * same session id into *rec.  Returns 1, or 0 when the ring is empty or no
 * such slot is live (yet).  Never blocks.
 */
int shm_session_poll(struct shm_slot *self, struct shm_record *rec);

/*
 * Consumer side: how many records the session's producer has dropped
 * since it claimed its slot (0 when there is none).
 */
uint64_t shm_session_dropped(struct shm_slot *self);

/*
 * Draining a node (docs/deploy.md): `aur-stat --drain` marks the segment,
 * and every session of the node reads the mark.  A draining node takes no
 * new listeners -- a session that starts on it is told to go at once --
 * and, from the move time on, tells the listeners it has to go too, so
 * that they reconnect through the balancer to another node.  The time
 * between is the balancer's to notice that the node stopped being ready.
 */
enum shm_drain {
	SHM_SERVING,            /* not draining */
	SHM_DRAINING,           /* new sessions go; older ones play on until the move time */
	SHM_MOVING,             /* every session goes */
};

/* Marks the segment draining from now, moving in move_after_ms (negative: 0). */
void shm_drain_set(struct shm_segment *seg, int64_t move_after_ms);

/* Ends a drain: the node serves again. */
void shm_drain_clear(struct shm_segment *seg);

/* The drain state of slot's segment now; SHM_SERVING for NULL. */
enum shm_drain shm_drain_state(struct shm_slot *slot);

/* Reading, for aur-stat and tests.  Readers take no slot and write nothing. */

struct shm_hist_snap {
	uint64_t bucket[SHM_HIST_BUCKETS];
	uint64_t count;
	uint64_t sum_us;
};

struct shm_totals {
	uint64_t counter[SHM_COUNTERS];    /* every process since the segment was made */
	struct shm_hist_snap hist[SHM_HISTS];
	uint64_t sessions_total;           /* chunk slots ever claimed */
	uint64_t reclaimed_total;          /* slots taken back from dead processes */
	unsigned live[SHM_ROLES];          /* slots whose process is alive, per role */
	unsigned dead;                     /* slots still held by a dead process */
	unsigned slots;                    /* SHM_SLOTS */
	int64_t created_unix_ms;
	int64_t drain_since_unix_ms;       /* see shm_drain_set; 0 while serving */
	int64_t drain_move_unix_ms;
};

/*
 * Sums every slot into *out.  live[SHM_ROLE_CHUNK] is the number of active
 * sessions.  Each counter is exact as of the moment it was read.
 */
void shm_read_totals(struct shm_segment *seg, struct shm_totals *out);

struct shm_slot_info {
	int index;
	enum shm_role role;
	pid_t pid;
	bool alive;                        /* kill(pid, 0) finds the process */
	char session[SHM_SESSION_MAX + 1];
	int64_t start_unix_ms;
	uint64_t counter[SHM_COUNTERS];    /* this process's own */
	struct shm_hist_snap hist[SHM_HISTS];
	double gauge[SHM_GAUGES];
	char detail[SHM_DETAIL_MAX + 1];   /* see shm_set_detail; "" if none */
};

/*
 * Reads the next claimed slot with index >= *pos into *info and sets *pos
 * past it.  Returns 1, or 0 when there are no more.  A slot that changes
 * hands while it is read is read again.
 */
int shm_read_next(struct shm_segment *seg, int *pos, struct shm_slot_info *info);

/* Frees the slots of dead processes.  Returns how many. */
int shm_reap(struct shm_segment *seg);

/* "compose", "render", "chunk", "stat", "other" ("none" for 0). */
const char *shm_role_name(enum shm_role role);

/* "chunks", "chunks_late", "bytes", ...: names for metrics ("?" out of range). */
const char *shm_counter_name(enum shm_counter c);

/* What the counter counts, a sentence for /metrics' HELP ("" out of range). */
const char *shm_counter_help(enum shm_counter c);

/* "lateness", "render", "buffer", "jitter", "latency". */
const char *shm_hist_name(enum shm_hist h);

/* "music_s", "buffer_ms", "jitter_ms", "latency_ms", "underruns". */
const char *shm_gauge_name(enum shm_gauge g);

#endif
