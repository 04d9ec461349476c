/*
 * shm.c - the shared-memory registry (docs/shared-memory.md).
 *
 * The segment is a 4096-byte header followed by SHM_SLOTS slots of one
 * fixed layout.  The first 24 bytes of the header -- magic, version, size --
 * keep their places in every layout version, so that any version can tell
 * that a segment is of another one.
 *
 * A slot's owner word is (state << 32 | pid).  Claiming is one compare-and-
 * swap from 0 (free), or from the word of a dead process, to CLAIMING with
 * our pid; the claimer then sets the slot up inside a sequence lock (gen is
 * odd meanwhile: readers retry) and stores LIVE.  Only the owner writes its
 * slot's counters, so increments are relaxed atomic adds that never wait.
 *
 * Counts are never moved or reset.  A slot's counters run on across its
 * owners, and each claim copies them into base[]: one owner's counts are
 * counter - base, and the total of everything ever counted is the plain sum
 * over all slots.  A process that dies loses nothing, and a reader needs no
 * consistency protocol for totals: each counter is exact when it is read.
 *
 * A slot's detail (a line of text about what its owner does) has a
 * sequence lock of its own, detail_gen, so that rewriting it disturbs
 * neither the slot's gen nor the session ring's consumer, which watches gen.
 *
 * The session ring in each slot is a single-producer single-consumer queue:
 * the slot's owner (aur-compose) writes an entry, then publishes head with
 * release; the consumer (the aur-chunk of the same session, in another
 * process) reads head with acquire, copies the entry, and moves tail on
 * with a compare-and-swap, which fails harmlessly if a new owner of the
 * slot reset the ring meanwhile.  A full ring drops the new record and
 * counts it; it never overwrites one that was not read.
 *
 * The segment must be ours alone.  Before anything is mapped, an opener
 * checks that the object belongs to our effective user and that its mode
 * lets nobody else in: a segment that another user made first could list
 * our sessions, feed acks and errors into their rings, or be shrunk under
 * us.  A new one is made with O_CREAT | O_EXCL and mode 0600, so that it
 * is never someone else's; glibc's shm_open adds O_NOFOLLOW.
 *
 * Every mapping of a segment is guarded: should the object shrink under us
 * (ftruncate by a process of our own user, or root), touching a page past
 * its end raises SIGBUS.  The handler, when the address is inside a guarded
 * mapping, maps anonymous zeros over the whole of it (MAP_FIXED), marks it
 * detached, warns once with one write(2) of a message made beforehand, and
 * returns: the access runs again and lands in memory of our own, so the
 * counts go nowhere and the process goes on.  Every other SIGBUS gets the
 * action that was there before ours.
 *
 * The registry is three files over one private header, shm_layout.h (the
 * layout): this one, the segment and its slots (names, guarded mappings,
 * opening, claiming and releasing, the names of what is counted, the
 * drain); shm_write.c, what a slot's owner writes; and shm_read.c, what
 * readers see.
 */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "shm_layout.h"

static char user_name[32];              /* "/auralis-UID", made once */
static once_flag user_name_once = ONCE_FLAG_INIT;

static void
user_name_make(void)
{
	snprintf(user_name, sizeof user_name, "%s%lu", SHM_NAME_PREFIX,
		(unsigned long)geteuid());
}

const char *
shm_user_name(void)
{
	call_once(&user_name_once, user_name_make);
	return user_name;
}

const char *
shm_default_name(void)
{
	const char *name = getenv("AURALIS_SHM");

	return name && *name ? name : shm_user_name();
}

/* --- guarded mappings: a segment shrunk under us costs the counts, not the process --- */

#define GUARDS 64                       /* mappings guarded at once */

enum guard_state { GUARD_FREE, GUARD_TAKEN, GUARD_ARMED };

/*
 * One guarded mapping.  The handler reads an entry only when its state is
 * ARMED (acquire); start, len and message are written before it is armed
 * and not changed until it is freed.  Everything the handler touches is a
 * lock-free atomic or such a published field.
 */
struct guard {
	_Atomic int state;
	_Atomic uintptr_t start;
	_Atomic size_t len;
	_Atomic bool detached;          /* zeros are mapped over it now */
	bool warn;                      /* say so, once */
	char message[400];              /* "prog: shared memory NAME: counters detached..." */
	size_t message_len;
};

static struct guard guards[GUARDS];
static struct sigaction guard_old;      /* the SIGBUS action before ours */
static once_flag guard_once = ONCE_FLAG_INIT;

/*
 * The SIGBUS handler.  Async-signal-safe: it reads atomics and fields
 * published before them, and calls only mmap (a plain system call on
 * Linux; POSIX does not list it, but glibc's wrapper takes no lock and
 * touches no state of its own), write, sigaction and raise.  errno is
 * kept.  Two threads that fault at once may both map zeros: the second
 * mapping replaces the first, and nothing in either mattered any more.
 */
static void
guard_on_sigbus(int sig, siginfo_t *si, void *context)
{
	uintptr_t addr = (uintptr_t)si->si_addr;
	bool fault = si->si_code == BUS_ADRERR || si->si_code == BUS_ADRALN ||
		si->si_code == BUS_OBJERR;
	int saved = errno;

	(void)context;
	for (int i = 0; fault && i < GUARDS; i++) {
		struct guard *g = &guards[i];
		uintptr_t start;

		if (atomic_load_explicit(&g->state, memory_order_acquire) != GUARD_ARMED)
			continue;
		start = atomic_load_explicit(&g->start, memory_order_relaxed);
		if (addr - start >= atomic_load_explicit(&g->len, memory_order_relaxed))
			continue;
		if (mmap((void *)start, atomic_load_explicit(&g->len, memory_order_relaxed),
				PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				-1, 0) == MAP_FAILED)
			break;          /* no memory for zeros: die as we would have */
		if (!atomic_exchange_explicit(&g->detached, true, memory_order_relaxed) && g->warn) {
			ssize_t w = write(STDERR_FILENO, g->message, g->message_len);

			(void)w;        /* nothing to be done about a lost warning here */
		}
		errno = saved;
		return;         /* the access runs again, into our zeros */
	}
	/*
	 * Not ours: as though we had never been here.  A fault happens again
	 * when we return, under the old action; a signal that was sent, or
	 * that the access will not raise again, is raised anew (SIGBUS is
	 * blocked in here, so it arrives as we return).  Our handler is gone
	 * from then on: the process dies of it, unless an older handler that
	 * recovers was there, which no Auralis tool has.
	 */
	sigaction(sig, &guard_old, NULL);
	if (!fault)
		raise(sig);
	errno = saved;
}

static void
guard_install(void)
{
	struct sigaction sa = { .sa_sigaction = guard_on_sigbus, .sa_flags = SA_SIGINFO | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &guard_old);
}

/*
 * Guards len bytes at addr, a mapping of the segment name.  With warn, the
 * first shrink is told on standard error.  Returns the entry, or -1 when
 * all are taken: the mapping then works unguarded.
 */
static int
guard_add(void *addr, size_t len, const char *name, bool warn)
{
	call_once(&guard_once, guard_install);
	for (int i = 0; i < GUARDS; i++) {
		struct guard *g = &guards[i];
		int expected = GUARD_FREE;
		int n;

		if (!atomic_compare_exchange_strong(&g->state, &expected, GUARD_TAKEN))
			continue;
		atomic_store_explicit(&g->start, (uintptr_t)addr, memory_order_relaxed);
		atomic_store_explicit(&g->len, len, memory_order_relaxed);
		atomic_store_explicit(&g->detached, false, memory_order_relaxed);
		g->warn = warn;
		n = snprintf(g->message, sizeof g->message, "%s: shared memory %s: counters detached: "
			"the segment shrank; going on without them\n", err_prog(), name);
		g->message_len = n < 0 ? 0 : (size_t)n < sizeof g->message ? (size_t)n :
			sizeof g->message - 1;
		atomic_store_explicit(&g->state, GUARD_ARMED, memory_order_release);
		return i;
	}
	return -1;
}

/* Ends guard i (-1: none); call it before the mapping goes. */
static void
guard_remove(int i)
{
	if (i >= 0)
		atomic_store_explicit(&guards[i].state, GUARD_FREE, memory_order_release);
}

static bool
guard_detached(int i)
{
	return i >= 0 && atomic_load_explicit(&guards[i].detached, memory_order_relaxed);
}

/*
 * Maps len bytes of fd and guards them as a mapping of name (*guard, -1
 * when unguarded).  MAP_FAILED with errno as mmap's.
 */
static void *
map_guarded(int fd, size_t len, int prot, const char *name, bool warn, int *guard)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	*guard = p == MAP_FAILED ? -1 : guard_add(p, len, name, warn);
	return p;
}

static void
unmap_guarded(void *p, size_t len, int guard)
{
	guard_remove(guard);
	munmap(p, len);
}

/*
 * The state and start time (field 22, clock ticks after boot) of a process,
 * from /proc/PID/stat.  Returns 0 when it cannot be read.
 */
static uint64_t
proc_start(pid_t pid, char *state)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip to the last ')'. */
	if (!(p = strrchr(buf, ')')) || p[1] != ' ')
		return 0;
	p += 2;
	if (state)
		*state = *p;
	for (int field = 3; field < 22; field++) {
		if (!(p = strchr(p, ' ')))
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

/* True when pid is gone, a zombie, or now a different process. */
static bool
process_dead(pid_t pid, uint64_t started)
{
	char state = '?';
	uint64_t now;

	if (pid <= 0)
		return true;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	now = proc_start(pid, &state);
	if (now == 0)
		return false;
	return state == 'Z' || state == 'X' || (started && now != started);
}

/*
 * True when the process in owner word o of slot m is dead.  Its recorded
 * start time is trusted only in a LIVE slot: while a claimer sets the slot
 * up, proc_start may still be its last owner's.  Reading o with acquire
 * before proc_start pairs with the claimer's release store of LIVE.
 */
bool
owner_dead(struct slot_mem *m, uint64_t o)
{
	uint64_t started = 0;

	if (owner_state(o) == STATE_LIVE)
		started = atomic_load_explicit(&m->proc_start, memory_order_relaxed);
	return process_dead(owner_pid(o), started);
}

static void
session_pack(const char *session, uint64_t words[SESSION_WORDS])
{
	char bytes[SESSION_WORDS * 8] = { 0 };

	if (session)
		memcpy(bytes, session, strlen(session));
	memcpy(words, bytes, sizeof bytes);
}

/* Validates a segment name: "/", then 1..254 bytes without a slash. */
static bool
name_ok(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '/' && len >= 2 && len < 256 && !strchr(name + 1, '/');
}

/*
 * True when st is an object of our own effective user that nobody else may
 * open: a regular file, mode 0600 or less.  Otherwise false, errno EACCES,
 * and why in err, with the owner, the mode and what to do.
 */
static bool
stat_ours(const struct stat *st, const char *name, char *err, size_t errlen)
{
	uid_t me = geteuid();
	char owner[128], buf[1024];
	struct passwd pw, *found = NULL;

	if (S_ISREG(st->st_mode) && st->st_uid == me && !(st->st_mode & 077))
		return true;
	if (getpwuid_r(st->st_uid, &pw, buf, sizeof buf, &found) == 0 && found)
		snprintf(owner, sizeof owner, "user %s (uid %lu)", found->pw_name,
			(unsigned long)st->st_uid);
	else
		snprintf(owner, sizeof owner, "uid %lu", (unsigned long)st->st_uid);
	snprintf(err, errlen, "shared memory %s belongs to %s with mode %04o%s; only a segment "
		"of our own (uid %lu) with mode 0600 is used: remove it%s with: rm /dev/shm/%s%s",
		name, owner, (unsigned)(st->st_mode & 07777),
		S_ISREG(st->st_mode) ? "" : " and is not a file",
		(unsigned long)me, st->st_uid == me ? "" : " as root or its owner", name + 1,
		st->st_uid == me ? "" : ", or name another with AURALIS_SHM");
	errno = EACCES;
	return false;
}

/* stat_ours on an open descriptor: before anything of it is mapped. */
static bool
fd_ours(int fd, const char *name, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "shared memory %s: %s", name, strerror(e));
		errno = e;
		return false;
	}
	return stat_ours(&st, name, err, errlen);
}

/*
 * Why shm_open failed with errno e: for a segment that we may not open
 * (another user's, mode 0600) or that is a symbolic link (O_NOFOLLOW),
 * the owner and mode as stat_ours gives them; else the system's reason.
 * Linux keeps the segments in /dev/shm.  Sets errno.
 */
static void
open_failed(int e, const char *name, char *err, size_t errlen)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof path, "/dev/shm%s", name);
	if ((e == EACCES || e == EPERM || e == ELOOP) && lstat(path, &st) == 0 &&
	    !stat_ours(&st, name, err, errlen))
		return;
	snprintf(err, errlen, "shared memory %s: %s", name, strerror(e));
	errno = e;
}

/*
 * The creator's half: size, initialise, publish the magic last.  The
 * mapping is guarded (*guard).
 */
static struct shm_header *
segment_create(int fd, const char *name, int *guard, char *err, size_t errlen)
{
	struct shm_header *hdr;

	if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)SEGMENT_SIZE) < 0) {
		snprintf(err, errlen, "shared memory %s: %s", name, strerror(errno));
		shm_unlink(name);
		return NULL;
	}
	hdr = map_guarded(fd, SEGMENT_SIZE, PROT_READ | PROT_WRITE, name, true, guard);
	if (hdr == MAP_FAILED) {
		snprintf(err, errlen, "shared memory %s: mmap: %s", name, strerror(errno));
		shm_unlink(name);
		return NULL;
	}
	/* A new segment is all zeros: every slot is free, every count 0. */
	hdr->version = SHM_LAYOUT_VERSION;
	hdr->header_size = HEADER_SIZE;
	hdr->size = SEGMENT_SIZE;
	hdr->slots = SHM_SLOTS;
	hdr->slot_size = sizeof(struct slot_mem);
	hdr->created_unix_ms = clock_unix_ms();
	atomic_store_explicit(&hdr->magic, SHM_MAGIC, memory_order_release);
	return hdr;
}

/*
 * The opener's half: wait up to wait_ns for the magic, then check the
 * layout.  A creator takes microseconds; a segment whose creator died
 * before it finished never gets one.  The segment was found ours
 * (fd_ours) before this maps any of it; every mapping is guarded, the
 * one returned in *guard.
 */
static struct shm_header *
segment_attach(int fd, const char *name, int64_t wait_ns, int *guard, char *err, size_t errlen)
{
	const char *base = name + 1;
	int64_t deadline = clock_now_ns() + wait_ns;
	struct shm_header *hdr;
	struct stat st;
	uint64_t magic = 0;
	int peek;

	for (;;) {
		if (fstat(fd, &st) < 0) {
			snprintf(err, errlen, "shared memory %s: %s", name, strerror(errno));
			return NULL;
		}
		if (st.st_size >= 24) {
			/* Shrunk while we look, it reads as zeros: no magic yet. */
			hdr = map_guarded(fd, HEADER_SIZE, PROT_READ, name, false, &peek);
			if (hdr == MAP_FAILED) {
				snprintf(err, errlen, "shared memory %s: mmap: %s", name, strerror(errno));
				return NULL;
			}
			magic = atomic_load_explicit(&hdr->magic, memory_order_acquire);
			if (magic) {
				uint32_t version = hdr->version;
				uint64_t size = hdr->size;

				unmap_guarded(hdr, HEADER_SIZE, peek);
				if (magic != SHM_MAGIC) {
					snprintf(err, errlen, "shared memory %s is not an Auralis segment; "
						"remove it with: rm /dev/shm/%s", name, base);
					return NULL;
				}
				if (version != SHM_LAYOUT_VERSION) {
					snprintf(err, errlen, "shared memory %s has layout version %u, "
						"expected %u; remove it with: rm /dev/shm/%s",
						name, version, SHM_LAYOUT_VERSION, base);
					return NULL;
				}
				if (size != SEGMENT_SIZE || (uint64_t)st.st_size != SEGMENT_SIZE) {
					snprintf(err, errlen, "shared memory %s is %llu bytes, expected %llu "
						"for layout version %u; remove it with: rm /dev/shm/%s",
						name, (unsigned long long)st.st_size,
						(unsigned long long)SEGMENT_SIZE, SHM_LAYOUT_VERSION, base);
					return NULL;
				}
				break;
			}
			unmap_guarded(hdr, HEADER_SIZE, peek);
		}
		if (clock_now_ns() >= deadline) {
			snprintf(err, errlen, "shared memory %s was never initialised (did its "
				"creator die?); remove it with: rm /dev/shm/%s", name, base);
			return NULL;
		}
		/* The creator is between shm_open and its store of the magic. */
		clock_sleep_until(clock_now_ns() + 1000000);
	}
	hdr = map_guarded(fd, SEGMENT_SIZE, PROT_READ | PROT_WRITE, name, true, guard);
	if (hdr == MAP_FAILED) {
		snprintf(err, errlen, "shared memory %s: mmap: %s", name, strerror(errno));
		return NULL;
	}
	/* Pairs with the creator's release: its header stores are visible. */
	atomic_load_explicit(&hdr->magic, memory_order_acquire);
	return hdr;
}

/*
 * Opens the segment name, creating it first when create is set and it does
 * not exist.  Without create, a missing segment fails with errno ENOENT.
 */
static struct shm_segment *
segment_open(const char *name, bool create, char *err, size_t errlen)
{
	struct shm_segment *seg;
	struct shm_header *hdr = NULL;
	struct stat st = { 0 };
	int guard = -1;

	if (!name_ok(name)) {
		snprintf(err, errlen, "shared memory name '%s': expected a slash and then a name "
			"without one, such as %s", name, shm_user_name());
		errno = EINVAL;
		return NULL;
	}
	/* Create it, or open the existing one; retry if it vanishes in between. */
	for (int tries = 0; tries < 3 && !hdr; tries++) {
		int fd = create ? shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;

		if (fd >= 0) {
			hdr = segment_create(fd, name, &guard, err, errlen);
			if (hdr && fstat(fd, &st) < 0)
				memset(&st, 0, sizeof st);
			close(fd);
			if (!hdr)
				return NULL;
			break;
		}
		if (create && errno != EEXIST)
			goto sys_error;
		if ((fd = shm_open(name, O_RDWR | O_CLOEXEC, 0)) < 0) {
			if (errno == ENOENT && create)
				continue;
			if (errno == ENOENT) {
				snprintf(err, errlen, "shared memory %s is missing", name);
				errno = ENOENT;
				return NULL;
			}
			goto sys_error;
		}
		/* Someone else's, or open to others: not a byte of it is read. */
		if (!fd_ours(fd, name, err, errlen)) {
			int e = errno;

			close(fd);
			errno = e;
			return NULL;
		}
		hdr = segment_attach(fd, name, create ? OPEN_WAIT_NS : READ_WAIT_NS, &guard,
			err, errlen);
		if (hdr && fstat(fd, &st) < 0)
			memset(&st, 0, sizeof st);
		close(fd);
		if (!hdr) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (!hdr) {
		snprintf(err, errlen, "shared memory %s keeps vanishing while it is opened", name);
		return NULL;
	}
	if (!(seg = calloc(1, sizeof *seg))) {
		unmap_guarded(hdr, SEGMENT_SIZE, guard);
		snprintf(err, errlen, "shared memory %s: %s", name, strerror(ENOMEM));
		return NULL;
	}
	seg->hdr = hdr;
	seg->slots = (struct slot_mem *)((char *)hdr + HEADER_SIZE);
	seg->size = SEGMENT_SIZE;
	seg->guard = guard;
	seg->dev = st.st_dev;
	seg->ino = st.st_ino;
	snprintf(seg->name, sizeof seg->name, "%s", name);
	return seg;

sys_error:
	open_failed(errno, name, err, errlen);
	return NULL;
}

struct shm_segment *
shm_segment_open(const char *name, char *err, size_t errlen)
{
	return segment_open(name, true, err, errlen);
}

struct shm_segment *
shm_segment_open_existing(const char *name, char *err, size_t errlen)
{
	return segment_open(name, false, err, errlen);
}

bool
shm_segment_detached(const struct shm_segment *seg)
{
	return !seg || guard_detached(seg->guard);
}

bool
shm_segment_replaced(const struct shm_segment *seg)
{
	struct stat st;
	bool same;
	int fd;

	if (!seg || guard_detached(seg->guard))
		return true;
	if ((fd = shm_open(seg->name, O_RDONLY | O_CLOEXEC, 0)) < 0)
		return errno == ENOENT;
	same = fstat(fd, &st) == 0 && st.st_dev == seg->dev && st.st_ino == seg->ino;
	close(fd);
	return !same;
}

void
shm_segment_close(struct shm_segment *seg)
{
	if (!seg)
		return;
	unmap_guarded(seg->hdr, seg->size, seg->guard);
	free(seg);
}

/* Sets up a slot that we own in state CLAIMING, inside its sequence lock. */
static void
slot_setup(struct slot_mem *m, enum shm_role role, const uint64_t session[SESSION_WORDS])
{
	uint32_t gen = (atomic_load_explicit(&m->gen, memory_order_relaxed) + 1) | 1;
	const memory_order rlx = memory_order_relaxed;

	atomic_store_explicit(&m->gen, gen, rlx);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&m->role, (uint32_t)role, rlx);
	atomic_store_explicit(&m->start_unix_ms, clock_unix_ms(), rlx);
	atomic_store_explicit(&m->proc_start, proc_start(getpid(), NULL), rlx);
	for (int i = 0; i < SESSION_WORDS; i++)
		atomic_store_explicit(&m->session[i], session[i], rlx);
	for (int g = 0; g < SHM_GAUGES; g++)
		atomic_store_explicit(&m->gauge[g], 0, rlx);
	/* The last owner's counts stay; ours are measured from here. */
	for (int c = 0; c < SHM_COUNTERS; c++)
		atomic_store_explicit(&m->base_counter[c], atomic_load_explicit(&m->counter[c], rlx), rlx);
	for (int h = 0; h < SHM_HISTS; h++) {
		struct hist_mem *b = &m->base_hist[h], *v = &m->hist[h];

		for (int i = 0; i < SHM_HIST_BUCKETS; i++)
			atomic_store_explicit(&b->bucket[i], atomic_load_explicit(&v->bucket[i], rlx), rlx);
		atomic_store_explicit(&b->count, atomic_load_explicit(&v->count, rlx), rlx);
		atomic_store_explicit(&b->sum_us, atomic_load_explicit(&v->sum_us, rlx), rlx);
	}
	detail_store(m, "");
	/* Records of the last owner are not ours to deliver. */
	atomic_store_explicit(&m->ring.tail, atomic_load_explicit(&m->ring.head, rlx),
		memory_order_release);
	atomic_store_explicit(&m->gen, gen + 1, memory_order_release);
}

struct shm_slot *
shm_claim(struct shm_segment *seg, enum shm_role role, const char *session)
{
	struct shm_slot *slot;
	pid_t pid = getpid();

	if (!seg) {
		errno = EINVAL;
		return NULL;
	}
	if (session && strlen(session) > SHM_SESSION_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (!(slot = calloc(1, sizeof *slot)))
		return NULL;
	session_pack(session, slot->session);
	for (int i = 0; i < SHM_SLOTS; i++) {
		struct slot_mem *m = &seg->slots[i];
		uint64_t o = atomic_load_explicit(&m->owner, memory_order_acquire);
		bool reclaim = false;

		if (o != 0) {
			if (owner_pid(o) == pid || !owner_dead(m, o))
				continue;
			reclaim = true;
		}
		if (!atomic_compare_exchange_strong_explicit(&m->owner, &o,
				owner_word(STATE_CLAIMING, pid),
				memory_order_acq_rel, memory_order_relaxed))
			continue;
		if (reclaim)
			atomic_fetch_add_explicit(&seg->hdr->reclaimed_total, 1, memory_order_relaxed);
		slot_setup(m, role, slot->session);
		if (role == SHM_ROLE_CHUNK)
			atomic_fetch_add_explicit(&seg->hdr->sessions_total, 1, memory_order_relaxed);
		atomic_store_explicit(&m->owner, owner_word(STATE_LIVE, pid), memory_order_release);
		slot->seg = seg;
		slot->m = m;
		slot->index = i;
		slot->pid = pid;
		slot->role = role;
		slot->producer = -1;
		return slot;
	}
	free(slot);
	errno = ENOSPC;
	return NULL;
}

void
shm_release(struct shm_slot *slot)
{
	uint64_t mine;

	if (!slot)
		return;
	/* A forked child holds a copy of its parent's handle: not its slot. */
	if (slot->pid == getpid()) {
		mine = owner_word(STATE_LIVE, slot->pid);
		atomic_compare_exchange_strong_explicit(&slot->m->owner, &mine, 0,
			memory_order_release, memory_order_relaxed);
	}
	free(slot);
}

static struct shm_segment *attached_seg;
static struct shm_slot *attached_slot;

static void
attach_release(void)
{
	shm_release(attached_slot);
	attached_slot = NULL;
	shm_segment_close(attached_seg);
	attached_seg = NULL;
}

void
shm_detach(void)
{
	attach_release();
}

struct shm_slot *
shm_attach(enum shm_role role, const char *session)
{
	const char *name = shm_default_name();
	char err[512];

	if (attached_slot)
		return attached_slot;
	if (!strcmp(name, "off"))
		return NULL;            /* AURALIS_SHM=off: no counters, on purpose */
	if (!(attached_seg = shm_segment_open(name, err, sizeof err))) {
		warnf("%s; going on without counters", err);
		return NULL;
	}
	if (!(attached_slot = shm_claim(attached_seg, role, session))) {
		if (errno == ENOSPC)
			warnf("shared memory %s: all %d slots are taken; going on without counters",
				name, SHM_SLOTS);
		else
			warnf("shared memory %s: cannot claim a slot: %s; going on without counters",
				name, strerror(errno));
		shm_segment_close(attached_seg);
		attached_seg = NULL;
		return NULL;
	}
	atexit(attach_release);
	return attached_slot;
}

const char *
shm_role_name(enum shm_role role)
{
	static const char *const names[SHM_ROLES] = {
		"none", "compose", "render", "chunk", "stat", "other",
	};

	return (unsigned)role < SHM_ROLES ? names[role] : "other";
}

/* The counters' names and help, from the one list in shm.h. */
static const struct {
	const char *name, *help;
} counter_text[SHM_COUNTERS] = {
#define SHM_COUNTER(e, name, help) [e] = { name, help },
	SHM_COUNTER_LIST
#undef SHM_COUNTER
};

const char *
shm_counter_name(enum shm_counter c)
{
	return (unsigned)c < SHM_COUNTERS ? counter_text[c].name : "?";
}

const char *
shm_counter_help(enum shm_counter c)
{
	return (unsigned)c < SHM_COUNTERS ? counter_text[c].help : "";
}

const char *
shm_hist_name(enum shm_hist h)
{
	static const char *const names[SHM_HISTS] = {
		"lateness", "render", "buffer", "jitter", "latency",
	};

	return (unsigned)h < SHM_HISTS ? names[h] : "?";
}

const char *
shm_gauge_name(enum shm_gauge g)
{
	static const char *const names[SHM_GAUGES] = {
		"music_s", "buffer_ms", "jitter_ms", "latency_ms", "underruns",
	};

	return (unsigned)g < SHM_GAUGES ? names[g] : "?";
}

/* --- draining --- */

void
shm_drain_set(struct shm_segment *seg, int64_t move_after_ms)
{
	int64_t now = clock_unix_ms();

	if (move_after_ms < 0)
		move_after_ms = 0;
	/* The move time first: a reader that sees the drain sees its move time. */
	atomic_store_explicit(&seg->hdr->drain_move_unix_ms, now + move_after_ms,
	    memory_order_relaxed);
	atomic_store_explicit(&seg->hdr->drain_since_unix_ms, now, memory_order_release);
}

void
shm_drain_clear(struct shm_segment *seg)
{
	atomic_store_explicit(&seg->hdr->drain_since_unix_ms, 0, memory_order_release);
	atomic_store_explicit(&seg->hdr->drain_move_unix_ms, 0, memory_order_relaxed);
}

enum shm_drain
shm_drain_state(struct shm_slot *slot)
{
	int64_t since, move;

	if (!slot)
		return SHM_SERVING;
	since = atomic_load_explicit(&slot->seg->hdr->drain_since_unix_ms, memory_order_acquire);
	if (since == 0)
		return SHM_SERVING;
	move = atomic_load_explicit(&slot->seg->hdr->drain_move_unix_ms, memory_order_relaxed);
	return clock_unix_ms() >= move ? SHM_MOVING : SHM_DRAINING;
}
