/*
 * test_shm.c - the shared-memory registry: racing creators, exact totals
 * from many counting processes, a killed process's slot taken back without
 * losing its counts, layout checks, the histogram buckets, the session
 * ring in one process and across two, a slot's detail text (never torn),
 * opening for readers only, the default name of each user, segments that
 * are not ours alone (another user's, as root; a loose mode), and a
 * segment that shrinks under the processes that map it (SIGBUS).
 *
 * Each test uses its own segment, /auralis-test-PID-N, removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "shm.h"

enum { WORKERS = 8, INCREMENTS = 100000 };

static char names[32][64];
static int nnames;

static const char *
new_name(void)
{
	char *name = names[nnames++];

	snprintf(name, sizeof names[0], "/auralis-test-%ld-%d", (long)getpid(), nnames);
	shm_unlink(name);
	return name;
}

static struct shm_segment *
open_ok(const char *name)
{
	char err[512] = "";
	struct shm_segment *seg = shm_segment_open(name, err, sizeof err);

	if (!seg)
		fprintf(stderr, "shm_segment_open: %s\n", err);
	CHECK(seg != NULL);
	return seg;
}

static void
wait_ok(pid_t pid)
{
	int status;

	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* One slot, its own counts, its release. */
static void
test_basics(void)
{
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_slot *a, *b;
	struct shm_slot_info info;
	struct shm_totals tot;
	char err[512];
	int pos = 0;

	if (!seg)
		return;
	a = shm_claim(seg, SHM_ROLE_CHUNK, "abc");
	b = shm_claim(seg, SHM_ROLE_RENDER, NULL);
	CHECK(a && b);
	shm_count(a, SHM_CHUNKS, 3);
	shm_count(a, SHM_BYTES, 100);
	shm_count(b, SHM_BYTES, 5);
	shm_observe_us(a, SHM_HIST_LATENESS, 1000);
	shm_observe_us(a, SHM_HIST_LATENESS, -5);
	shm_gauge_set(a, SHM_GAUGE_MUSIC_S, 12.5);
	/* A NULL slot is how a tool goes on without counters. */
	shm_count(NULL, SHM_CHUNKS, 1);
	shm_observe_us(NULL, SHM_HIST_RENDER, 1);
	shm_gauge_set(NULL, SHM_GAUGE_MUSIC_S, 1);
	CHECK(shm_session_post_ack(NULL, 1, 0) == -1);

	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(info.index == 0 && info.role == SHM_ROLE_CHUNK && info.pid == getpid());
	CHECK(info.alive);
	CHECK_STR(info.session, "abc");
	CHECK(info.counter[SHM_CHUNKS] == 3 && info.counter[SHM_BYTES] == 100);
	CHECK(info.hist[SHM_HIST_LATENESS].count == 2);
	CHECK(info.hist[SHM_HIST_LATENESS].sum_us == 1000);
	CHECK(info.hist[SHM_HIST_LATENESS].bucket[0] == 1);
	CHECK(info.hist[SHM_HIST_LATENESS].bucket[shm_hist_bucket(1000)] == 1);
	CHECK(info.gauge[SHM_GAUGE_MUSIC_S] == 12.5);
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(info.index == 1 && info.role == SHM_ROLE_RENDER);
	CHECK_STR(info.session, "");
	CHECK(shm_read_next(seg, &pos, &info) == 0);

	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_BYTES] == 105);
	CHECK(tot.live[SHM_ROLE_CHUNK] == 1 && tot.live[SHM_ROLE_RENDER] == 1);
	CHECK(tot.sessions_total == 1 && tot.dead == 0 && tot.slots == SHM_SLOTS);

	/* A released slot is free again; its counts stay in the totals. */
	shm_release(a);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1 && info.index == 1);
	a = shm_claim(seg, SHM_ROLE_CHUNK, "def");
	CHECK(a != NULL);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(info.index == 0 && info.counter[SHM_CHUNKS] == 0);
	CHECK(info.hist[SHM_HIST_LATENESS].count == 0 && info.gauge[SHM_GAUGE_MUSIC_S] == 0);
	shm_count(a, SHM_CHUNKS, 1);
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_CHUNKS] == 4 && tot.sessions_total == 2);
	CHECK(tot.hist[SHM_HIST_LATENESS].count == 2);

	/* Session ids are bounded. */
	{
		char long_id[SHM_SESSION_MAX + 2];

		memset(long_id, 'x', sizeof long_id - 1);
		long_id[sizeof long_id - 1] = '\0';
		errno = 0;
		CHECK(shm_claim(seg, SHM_ROLE_CHUNK, long_id) == NULL && errno == EINVAL);
		long_id[SHM_SESSION_MAX] = '\0';
		shm_release(b);
		b = shm_claim(seg, SHM_ROLE_CHUNK, long_id);
		pos = 1;
		CHECK(b && shm_read_next(seg, &pos, &info) == 1 && strlen(info.session) == SHM_SESSION_MAX);
	}
	shm_release(a);
	shm_release(b);
	shm_segment_close(seg);

	/* Names: a slash and then no other. */
	CHECK(shm_segment_open("auralis", err, sizeof err) == NULL);
	CHECK(strstr(err, "expected a slash") != NULL);
	CHECK(shm_segment_open("/a/b", err, sizeof err) == NULL);
	CHECK(shm_segment_open("/", err, sizeof err) == NULL);
}

/*
 * WORKERS processes open the same new segment at once (one creates it, the
 * others wait for its magic), and count INCREMENTS each while the parent
 * reads: the totals are exact and never go backwards.
 */
static void
test_many_writers(void)
{
	const char *name = new_name();
	struct shm_segment *seg;
	struct shm_totals tot;
	pid_t pids[WORKERS];
	int go[2];
	uint64_t last = 0;
	bool monotonic = true;

	CHECK(pipe(go) == 0);
	for (int w = 0; w < WORKERS; w++) {
		if ((pids[w] = fork()) == 0) {
			char err[512], c;
			struct shm_slot *slot;

			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			if (!(seg = shm_segment_open(name, err, sizeof err))) {
				fprintf(stderr, "worker: %s\n", err);
				_exit(1);
			}
			if (!(slot = shm_claim(seg, SHM_ROLE_OTHER, NULL)))
				_exit(2);
			for (int i = 0; i < INCREMENTS; i++) {
				shm_count(slot, SHM_CHUNKS, 1);
				shm_count(slot, SHM_BYTES, 3);
				shm_observe_us(slot, SHM_HIST_RENDER, i % 5000);
			}
			shm_release(slot);
			shm_segment_close(seg);
			_exit(0);
		}
	}
	/* Closing the write end lets every worker go at the same moment. */
	close(go[0]);
	close(go[1]);
	clock_sleep_until(clock_now_ns() + 20000000);
	seg = open_ok(name);
	if (!seg)
		return;
	for (int i = 0; i < 200; i++) {
		shm_read_totals(seg, &tot);
		if (tot.counter[SHM_CHUNKS] < last)
			monotonic = false;
		last = tot.counter[SHM_CHUNKS];
	}
	for (int w = 0; w < WORKERS; w++)
		wait_ok(pids[w]);
	CHECK(monotonic);
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_CHUNKS] == (uint64_t)WORKERS * INCREMENTS);
	CHECK(tot.counter[SHM_BYTES] == (uint64_t)WORKERS * INCREMENTS * 3);
	CHECK(tot.hist[SHM_HIST_RENDER].count == (uint64_t)WORKERS * INCREMENTS);
	{
		uint64_t sum = 0, buckets = 0;

		for (int i = 0; i < INCREMENTS; i++)
			sum += (uint64_t)(i % 5000);
		CHECK(tot.hist[SHM_HIST_RENDER].sum_us == sum * WORKERS);
		for (int i = 0; i < SHM_HIST_BUCKETS; i++)
			buckets += tot.hist[SHM_HIST_RENDER].bucket[i];
		CHECK(buckets == (uint64_t)WORKERS * INCREMENTS);
	}
	CHECK(tot.live[SHM_ROLE_OTHER] == 0 && tot.dead == 0);
	shm_segment_close(seg);
}

/*
 * WORKERS processes claim and release slots as fast as they can: a slot is
 * never held by two of them at once (a claimer must not take a slot that
 * another claimer is still setting up), and every count arrives.
 */
static void
test_claim_churn(void)
{
	enum { ROUNDS = 2000 };
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_totals tot;
	pid_t pids[WORKERS];

	if (!seg)
		return;
	for (int w = 0; w < WORKERS; w++) {
		if ((pids[w] = fork()) == 0) {
			int stolen = 0;

			for (int r = 0; r < ROUNDS; r++) {
				enum shm_role role = r % 2 ? SHM_ROLE_COMPOSE : SHM_ROLE_CHUNK;
				struct shm_slot *slot = shm_claim(seg, role, "churn");
				struct shm_slot_info info;
				int pos;

				if (!slot)
					_exit(2);
				shm_count(slot, SHM_EVENTS, 1);
				/* Find our slot: it must be ours alone until we free it. */
				for (pos = 0; shm_read_next(seg, &pos, &info) == 1;)
					if (info.pid == getpid())
						break;
				if (info.pid != getpid() || info.role != role || info.counter[SHM_EVENTS] != 1)
					stolen++;
				shm_release(slot);
			}
			_exit(stolen ? 1 : 0);
		}
	}
	for (int w = 0; w < WORKERS; w++)
		wait_ok(pids[w]);
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_EVENTS] == (uint64_t)WORKERS * ROUNDS);
	CHECK(tot.reclaimed_total == 0);
	CHECK(tot.live[SHM_ROLE_CHUNK] == 0 && tot.live[SHM_ROLE_COMPOSE] == 0 && tot.dead == 0);
	shm_segment_close(seg);
}

/*
 * A process killed while it holds a slot: readers see it dead, the next
 * claimer takes its slot back -- even before the parent has reaped the
 * zombie -- and its counts stay in the totals.
 */
static void
test_killed_process(void)
{
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_slot_info info;
	struct shm_totals tot;
	struct shm_slot *slot;
	int ready[2], pos = 0, status;
	char c;
	pid_t pid;

	if (!seg)
		return;
	CHECK(pipe(ready) == 0);
	if ((pid = fork()) == 0) {
		struct shm_slot *s = shm_claim(seg, SHM_ROLE_CHUNK, "doomed");

		shm_count(s, SHM_CHUNKS, 12345);
		shm_observe_us(s, SHM_HIST_LATENESS, 200000);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(read(ready[0], &c, 1) == 1);
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(info.pid == pid && info.alive && info.counter[SHM_CHUNKS] == 12345);
	CHECK_STR(info.session, "doomed");

	kill(pid, SIGKILL);
	/* Not reaped yet: a zombie counts as dead. */
	for (int i = 0; i < 500; i++) {
		shm_read_totals(seg, &tot);
		if (tot.dead == 1)
			break;
		clock_sleep_until(clock_now_ns() + 2000000);
	}
	CHECK(tot.dead == 1 && tot.live[SHM_ROLE_CHUNK] == 0);
	CHECK(tot.counter[SHM_CHUNKS] == 12345);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1 && !info.alive);

	slot = shm_claim(seg, SHM_ROLE_COMPOSE, "next");
	CHECK(slot != NULL);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(info.index == 0 && info.pid == getpid() && info.role == SHM_ROLE_COMPOSE);
	CHECK(info.counter[SHM_CHUNKS] == 0 && info.hist[SHM_HIST_LATENESS].count == 0);
	shm_count(slot, SHM_CHUNKS, 5);
	shm_read_totals(seg, &tot);
	CHECK(tot.reclaimed_total == 1 && tot.dead == 0);
	CHECK(tot.counter[SHM_CHUNKS] == 12350);
	CHECK(tot.hist[SHM_HIST_LATENESS].count == 1);
	CHECK(tot.hist[SHM_HIST_LATENESS].sum_us == 200000);
	CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));

	/* shm_reap frees the slots of the dead without taking them. */
	if ((pid = fork()) == 0) {
		shm_claim(seg, SHM_ROLE_RENDER, NULL);
		_exit(0);       /* no release: it dies holding the slot */
	}
	wait_ok(pid);
	shm_read_totals(seg, &tot);
	CHECK(tot.dead == 1);
	CHECK(shm_reap(seg) == 1);
	shm_read_totals(seg, &tot);
	CHECK(tot.dead == 0 && tot.reclaimed_total == 2);
	shm_release(slot);
	close(ready[0]);
	close(ready[1]);
	shm_segment_close(seg);
}

/* Makes a raw segment of size bytes with the stable prefix given. */
static void
make_raw(const char *name, uint64_t magic, uint32_t version, uint64_t size)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	unsigned char *p;

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 4096) == 0);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	memcpy(p + 8, &version, sizeof version);
	memcpy(p + 16, &size, sizeof size);
	memcpy(p, &magic, sizeof magic);
	munmap(p, 4096);
	close(fd);
}

static void
test_layout_checks(void)
{
	const char *name = new_name();
	char err[512], want[256];
	int64_t t0;

	make_raw(name, SHM_MAGIC, 3, 4096);
	CHECK(shm_segment_open(name, err, sizeof err) == NULL);
	snprintf(want, sizeof want, "shared memory %s has layout version 3, expected %d; "
		"remove it with: rm /dev/shm/%s", name, SHM_LAYOUT_VERSION, name + 1);
	CHECK_STR(err, want);
	shm_unlink(name);

	make_raw(name, SHM_MAGIC, SHM_LAYOUT_VERSION, 4096);
	CHECK(shm_segment_open(name, err, sizeof err) == NULL);
	CHECK(strstr(err, "is 4096 bytes, expected") != NULL);
	shm_unlink(name);

	make_raw(name, 0x1234, 1, 4096);
	CHECK(shm_segment_open(name, err, sizeof err) == NULL);
	CHECK(strstr(err, "is not an Auralis segment") != NULL);
	shm_unlink(name);

	/* No magic: the opener waits for it, briefly, then says so. */
	make_raw(name, 0, 0, 0);
	t0 = clock_now_ns();
	CHECK(shm_segment_open(name, err, sizeof err) == NULL);
	CHECK(strstr(err, "was never initialised") != NULL);
	CHECK(clock_now_ns() - t0 >= 900000000);
	shm_unlink(name);
}

static void
test_buckets(void)
{
	static const struct { int64_t us; int bucket; } table[] = {
		{ -7, 0 }, { 0, 0 }, { 1, 0 }, { 2, 2 }, { 3, 4 }, { 4, 4 }, { 5, 5 },
		{ 6, 6 }, { 1000, 20 }, { 1024, 20 }, { 1025, 21 }, { 100000, 34 },
		{ 1 << 23, 46 }, { (1 << 23) + 1, 47 }, { (int64_t)1 << 40, 47 },
	};

	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		int b = shm_hist_bucket(table[i].us);

		if (b != table[i].bucket)
			fprintf(stderr, "bucket(%lld) = %d, want %d\n",
				(long long)table[i].us, b, table[i].bucket);
		CHECK(b == table[i].bucket);
	}
	/* Every value falls in (bound(i - 1), bound(i)]. */
	for (int64_t v = 1; v < (int64_t)1 << 25; v += 1 + v / 97) {
		int b = shm_hist_bucket(v);
		bool inside = (double)v <= shm_hist_bound_us(b) &&
			(b == 0 || (double)v > shm_hist_bound_us(b - 1));

		CHECK(inside);
		if (!inside) {
			fprintf(stderr, "value %lld in bucket %d\n", (long long)v, b);
			break;
		}
	}
	CHECK(shm_hist_bound_us(0) == 1 && shm_hist_bound_us(2) == 2);
	CHECK(fabs(shm_hist_bound_us(1) - sqrt(2)) < 1e-12);
	CHECK(isinf(shm_hist_bound_us(SHM_HIST_BUCKETS - 1)));
	CHECK_STR(shm_counter_name(SHM_CHUNKS_LATE), "chunks_late");
	CHECK_STR(shm_hist_name(SHM_HIST_LATENCY), "latency");
	CHECK_STR(shm_gauge_name(SHM_GAUGE_UNDERRUNS), "underruns");
	CHECK_STR(shm_role_name(SHM_ROLE_CHUNK), "chunk");
}

/* The session ring within one process: order, kinds, overflow, isolation. */
static void
test_ring(void)
{
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_slot *chunk, *compose, *other, *compose2;
	struct shm_record rec;
	char longmsg[300];

	if (!seg)
		return;
	chunk = shm_claim(seg, SHM_ROLE_CHUNK, "s1");
	other = shm_claim(seg, SHM_ROLE_CHUNK, "s2");
	CHECK(shm_session_poll(chunk, &rec) == 0);     /* no compose yet */
	CHECK(shm_session_dropped(chunk) == 0);
	compose = shm_claim(seg, SHM_ROLE_COMPOSE, "s1");
	CHECK(chunk && other && compose);
	CHECK(shm_session_poll(chunk, &rec) == 0);

	CHECK(shm_session_unread(compose) == 0);
	CHECK(shm_session_post_ack(compose, 7, 1.25) == 0);
	CHECK(shm_session_post_error(compose, 8, "unknown mode \"x\"") == 0);
	CHECK(shm_session_post_error(compose, SHM_ID_NONE, "not JSON") == 0);
	CHECK(shm_session_unread(compose) == 3);
	CHECK(shm_session_poll(other, &rec) == 0);     /* another session's */
	CHECK(shm_session_poll(chunk, &rec) == 1);
	CHECK(rec.kind == SHM_RECORD_ACK && rec.id == 7 && rec.t == 1.25);
	CHECK(shm_session_poll(chunk, &rec) == 1);
	CHECK(rec.kind == SHM_RECORD_ERROR && rec.id == 8);
	CHECK_STR(rec.message, "unknown mode \"x\"");
	CHECK(shm_session_poll(chunk, &rec) == 1);
	CHECK(rec.kind == SHM_RECORD_ERROR && rec.id == SHM_ID_NONE);
	CHECK_STR(rec.message, "not JSON");
	CHECK(shm_session_poll(chunk, &rec) == 0);
	CHECK(shm_session_unread(compose) == 0);

	/* Full: new records are dropped and counted, the old ones kept. */
	for (int i = 0; i < SHM_RING_RECORDS + 4; i++)
		CHECK(shm_session_post_ack(compose, i, i * 0.1) == (i < SHM_RING_RECORDS ? 0 : -1));
	CHECK(shm_session_dropped(chunk) == 4);
	for (int i = 0; i < SHM_RING_RECORDS; i++)
		CHECK(shm_session_poll(chunk, &rec) == 1 && rec.id == i);
	CHECK(shm_session_poll(chunk, &rec) == 0);
	/* Around the ring many times. */
	for (int i = 0; i < 10 * SHM_RING_RECORDS; i++) {
		CHECK(shm_session_post_ack(compose, 1000 + i, i) == 0);
		CHECK(shm_session_poll(chunk, &rec) == 1 && rec.id == 1000 + i && rec.t == i);
	}
	CHECK(shm_session_dropped(chunk) == 4);

	/* Long messages are cut at a character boundary. */
	memset(longmsg, 'a', sizeof longmsg);
	memcpy(longmsg + SHM_MESSAGE_MAX - 1, "\xc3\xa9", 2);      /* an e-acute across the cut */
	longmsg[sizeof longmsg - 1] = '\0';
	CHECK(shm_session_post_error(compose, 9, longmsg) == 0);
	CHECK(shm_session_poll(chunk, &rec) == 1);
	CHECK(strlen(rec.message) == SHM_MESSAGE_MAX - 1);

	/* A new compose of the session starts with an empty ring. */
	CHECK(shm_session_post_ack(compose, 1, 0) == 0);
	shm_release(compose);
	CHECK(shm_session_poll(chunk, &rec) == 0);
	compose2 = shm_claim(seg, SHM_ROLE_COMPOSE, "s1");
	CHECK(shm_session_poll(chunk, &rec) == 0);
	CHECK(shm_session_dropped(chunk) == 0);
	CHECK(shm_session_post_ack(compose2, 2, 0.5) == 0);
	CHECK(shm_session_poll(chunk, &rec) == 1 && rec.id == 2);
	/* A slot without a session has no ring to read. */
	{
		struct shm_slot *anon = shm_claim(seg, SHM_ROLE_CHUNK, NULL);

		CHECK(shm_session_poll(anon, &rec) == 0);
		shm_release(anon);
	}
	shm_release(compose2);
	shm_release(chunk);
	shm_release(other);
	shm_segment_close(seg);
}

/*
 * The ring across two processes, as aur-compose and aur-chunk use it: every
 * record arrives once, in order and whole, or was counted as dropped.
 */
static void
test_ring_processes(void)
{
	enum { RECORDS = 200000 };
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_slot *chunk;
	struct shm_record rec;
	int report[2], done[2];
	uint64_t counts[2] = { 0, 0 }; /* posted, dropped */
	int64_t last = -1;
	uint64_t received = 0;
	bool ordered = true, whole = true, reported = false;
	pid_t pid;

	if (!seg)
		return;
	CHECK(pipe(report) == 0 && pipe(done) == 0);
	chunk = shm_claim(seg, SHM_ROLE_CHUNK, "pair");
	if ((pid = fork()) == 0) {
		struct shm_slot *compose = shm_claim(seg, SHM_ROLE_COMPOSE, "pair");
		uint64_t mine[2] = { 0, 0 };
		char c;

		for (int i = 0; i < RECORDS; i++) {
			char msg[32];
			int r;

			snprintf(msg, sizeof msg, "m%d", i);
			r = i % 3 ? shm_session_post_ack(compose, i, i * 0.5) :
				shm_session_post_error(compose, i, msg);
			mine[r == 0 ? 0 : 1]++;
			/* Full: give the reader time, as a composer's clock would. */
			if (r != 0)
				clock_sleep_until(clock_now_ns() + 20000);
		}
		if (write(report[1], mine, sizeof mine) != sizeof mine)
			_exit(1);
		/* Hold the slot until the reader is done with the ring. */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		shm_release(compose);
		_exit(0);
	}
	fcntl(report[0], F_SETFL, O_NONBLOCK);
	while (!reported || received < counts[0]) {
		if (!reported && read(report[0], counts, sizeof counts) == sizeof counts)
			reported = true;
		while (shm_session_poll(chunk, &rec) == 1) {
			char msg[32];

			if (rec.id <= last)
				ordered = false;
			last = rec.id;
			snprintf(msg, sizeof msg, "m%lld", (long long)rec.id);
			if (rec.id % 3 ? (rec.kind != SHM_RECORD_ACK || rec.t != (double)rec.id * 0.5) :
			    (rec.kind != SHM_RECORD_ERROR || strcmp(rec.message, msg) != 0))
				whole = false;
			received++;
		}
	}
	CHECK(ordered && whole);
	CHECK(received == counts[0]);
	CHECK(counts[0] + counts[1] == RECORDS);
	CHECK(shm_session_dropped(chunk) == counts[1]);
	printf("ring: %llu records across processes, %llu dropped while full\n",
		(unsigned long long)received, (unsigned long long)counts[1]);
	CHECK(write(done[1], "x", 1) == 1);
	wait_ok(pid);
	shm_release(chunk);
	close(report[0]);
	close(report[1]);
	close(done[0]);
	close(done[1]);
	shm_segment_close(seg);
}

/*
 * A slot's detail: read back whole, cut at a character boundary, emptied
 * by a new claim; another process rewriting it as fast as it can never
 * shows a reader a mix of two texts, and leaves the session ring alone.
 */
static void
test_detail(void)
{
	static const char *const texts[2] = {
		"preset=focus key=D mode=dorian bpm=72 intensity=0.45",
		"preset=meditation key=C# mode=mixolydian bpm=120 intensity=1 more=xxxxxxxxxxxxxxxx",
	};
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	struct shm_slot *compose, *chunk;
	struct shm_slot_info info;
	struct shm_record rec;
	char longtext[200];
	int pos, ready[2], stop[2], torn = 0, seen[2] = { 0, 0 };
	pid_t pid;

	if (!seg)
		return;
	compose = shm_claim(seg, SHM_ROLE_COMPOSE, "d1");
	CHECK(compose != NULL);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK_STR(info.detail, "");
	shm_set_detail(compose, texts[0]);
	shm_set_detail(NULL, texts[0]);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK_STR(info.detail, texts[0]);

	memset(longtext, 'a', sizeof longtext);
	memcpy(longtext + SHM_DETAIL_MAX - 1, "\xc3\xa9", 2);   /* an e-acute across the cut */
	longtext[sizeof longtext - 1] = '\0';
	shm_set_detail(compose, longtext);
	pos = 0;
	CHECK(shm_read_next(seg, &pos, &info) == 1);
	CHECK(strlen(info.detail) == SHM_DETAIL_MAX - 1);
	shm_release(compose);

	/* A new claim of the same slot starts empty. */
	compose = shm_claim(seg, SHM_ROLE_COMPOSE, "d1");
	pos = 0;
	CHECK(compose && shm_read_next(seg, &pos, &info) == 1 && info.index == 0);
	CHECK_STR(info.detail, "");
	shm_release(compose);

	/* A writer in another process, racing a reader here. */
	chunk = shm_claim(seg, SHM_ROLE_CHUNK, "d2");
	CHECK(chunk && pipe(ready) == 0 && pipe(stop) == 0);
	if ((pid = fork()) == 0) {
		struct shm_slot *s = shm_claim(seg, SHM_ROLE_COMPOSE, "d2");
		struct pollfd pfd = { .fd = stop[0], .events = POLLIN };

		close(stop[1]);
		shm_set_detail(s, texts[0]);
		shm_session_post_ack(s, 1, 0.5);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		/* Until the parent closes the stop pipe. */
		for (long i = 0; i % 1024 || poll(&pfd, 1, 0) == 0; i++)
			shm_set_detail(s, texts[i % 2]);
		shm_release(s);
		_exit(0);
	}
	close(stop[0]);
	{
		char c;

		CHECK(read(ready[0], &c, 1) == 1);
	}
	for (int i = 0; i < 5000; i++) {
		pos = 0;
		while (shm_read_next(seg, &pos, &info) == 1 && info.role != SHM_ROLE_COMPOSE)
			;
		CHECK(info.role == SHM_ROLE_COMPOSE);
		if (info.role != SHM_ROLE_COMPOSE)
			break;
		if (!strcmp(info.detail, texts[0]))
			seen[0]++;
		else if (!strcmp(info.detail, texts[1]))
			seen[1]++;
		else if (info.detail[0])
			torn++;
	}
	/* Rewriting the detail does not make the ring's consumer lose its producer. */
	CHECK(shm_session_poll(chunk, &rec) == 1 && rec.id == 1);
	close(stop[1]);
	wait_ok(pid);
	CHECK(torn == 0);
	CHECK(seen[0] + seen[1] > 0);
	shm_release(chunk);
	close(ready[0]);
	close(ready[1]);
	shm_segment_close(seg);
}

/* Readers that must not create the segment, and a segment removed under them. */
static void
test_open_existing(void)
{
	const char *name = new_name();
	struct shm_segment *seg, *again, *made;
	struct shm_slot *slot;
	char err[512], want[256];

	errno = 0;
	CHECK(shm_segment_open_existing(name, err, sizeof err) == NULL && errno == ENOENT);
	snprintf(want, sizeof want, "shared memory %s is missing", name);
	CHECK_STR(err, want);
	CHECK(shm_segment_open_existing("no-slash", err, sizeof err) == NULL);
	CHECK(strstr(err, "expected a slash") != NULL);

	made = open_ok(name);
	seg = shm_segment_open_existing(name, err, sizeof err);
	CHECK(made && seg);
	if (!made || !seg)
		return;
	CHECK(!shm_segment_replaced(seg) && !shm_segment_replaced(made));

	/* Removed: the old mapping stays readable, and says it is stale. */
	slot = shm_claim(made, SHM_ROLE_OTHER, NULL);
	shm_count(slot, SHM_EVENTS, 3);
	shm_unlink(name);
	CHECK(shm_segment_replaced(seg));
	{
		struct shm_totals tot;

		shm_read_totals(seg, &tot);
		CHECK(tot.counter[SHM_EVENTS] == 3);
	}
	/* Made again by someone else: still not the one we map. */
	again = open_ok(name);
	CHECK(shm_segment_replaced(seg));
	shm_segment_close(seg);
	seg = shm_segment_open_existing(name, err, sizeof err);
	CHECK(seg && !shm_segment_replaced(seg));
	shm_segment_close(seg);
	shm_segment_close(again);
	shm_release(slot);              /* into the old mapping, which nobody else reads */
	shm_segment_close(made);
	shm_unlink(name);

	/* Another layout version is refused by name, with errno EINVAL. */
	make_raw(name, SHM_MAGIC, 3, 4096);
	errno = 0;
	CHECK(shm_segment_open_existing(name, err, sizeof err) == NULL && errno == EINVAL);
	CHECK(strstr(err, "has layout version 3, expected") != NULL);
	shm_unlink(name);
}

/* The default name: $AURALIS_SHM, else one of our own user's. */
static void
test_default_name(void)
{
	char want[64];
	const char *saved = getenv("AURALIS_SHM");
	char keep[256] = "";

	if (saved)
		snprintf(keep, sizeof keep, "%s", saved);
	snprintf(want, sizeof want, "/auralis-%lu", (unsigned long)geteuid());
	CHECK_STR(shm_user_name(), want);
	unsetenv("AURALIS_SHM");
	CHECK_STR(shm_default_name(), want);
	setenv("AURALIS_SHM", "", 1);
	CHECK_STR(shm_default_name(), want);
	setenv("AURALIS_SHM", "/auralis-elsewhere", 1);
	CHECK_STR(shm_default_name(), "/auralis-elsewhere");
	if (saved)
		setenv("AURALIS_SHM", keep, 1);
	else
		unsetenv("AURALIS_SHM");
}

/* The message that refuses name of owner uid with mode, as the opener words it. */
static void
refusal(char *buf, size_t len, const char *name, uid_t uid, unsigned mode)
{
	struct passwd *pw = getpwuid(uid);
	char owner[128];
	bool ours = uid == geteuid();

	if (pw)
		snprintf(owner, sizeof owner, "user %s (uid %lu)", pw->pw_name, (unsigned long)uid);
	else
		snprintf(owner, sizeof owner, "uid %lu", (unsigned long)uid);
	snprintf(buf, len, "shared memory %s belongs to %s with mode %04o; only a segment of our "
		"own (uid %lu) with mode 0600 is used: remove it%s with: rm /dev/shm/%s%s", name,
		owner, mode, (unsigned long)geteuid(), ours ? "" : " as root or its owner", name + 1,
		ours ? "" : ", or name another with AURALIS_SHM");
}

/*
 * Both openers refuse name with the refusal for uid and mode, errno
 * EACCES, and leave its bytes as they were: nothing was claimed in it.
 */
static void
check_refused(const char *name, uid_t uid, unsigned mode)
{
	struct shm_segment *seg;
	char err[512] = "", want[512];
	struct stat before, after;
	char path[128];

	snprintf(path, sizeof path, "/dev/shm%s", name);
	CHECK(stat(path, &before) == 0);
	refusal(want, sizeof want, name, uid, mode);
	errno = 0;
	CHECK((seg = shm_segment_open(name, err, sizeof err)) == NULL && errno == EACCES);
	CHECK_STR(err, want);
	shm_segment_close(seg);
	errno = 0;
	err[0] = '\0';
	CHECK((seg = shm_segment_open_existing(name, err, sizeof err)) == NULL && errno == EACCES);
	CHECK_STR(err, want);
	shm_segment_close(seg);
	CHECK(stat(path, &after) == 0);
	CHECK(after.st_mtime == before.st_mtime && after.st_size == before.st_size);
}

/* Ours, but open to others: whatever the bits, refused. */
static void
test_loose_mode(void)
{
	static const unsigned modes[] = { 0644, 0640, 0604, 0660, 0606, 0666, 0601, 0610, 0700 | 07 };
	const char *name = new_name();
	struct shm_segment *seg = open_ok(name);
	char path[128];

	shm_segment_close(seg);
	snprintf(path, sizeof path, "/dev/shm%s", name);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		CHECK(chmod(path, modes[i]) == 0);
		check_refused(name, geteuid(), modes[i]);
	}
	/* 0600 and less are ours alone. */
	CHECK(chmod(path, 0600) == 0);
	seg = open_ok(name);
	shm_segment_close(seg);
	CHECK(chmod(path, 0400) == 0);
	seg = open_ok(name);
	shm_segment_close(seg);
	shm_unlink(name);
}

/* Runs fn(name) in a child as user uid (root only); returns its exit status. */
static int
as_user(uid_t uid, void (*fn)(const char *), const char *name)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		check_failures = 0;             /* the child's own, for its exit status */
		if (setgroups(0, NULL) < 0 || setgid((gid_t)uid) < 0 || setuid(uid) < 0)
			_exit(99);
		fn(name);
		_exit(check_failures ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What another user does first: makes an Auralis segment of their own. */
static void
make_segment(const char *name)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(name, err, sizeof err);

	CHECK(seg != NULL);
	shm_segment_close(seg);
}

/* ... and opens it to everyone, to feed our rings. */
static void
make_segment_open_to_all(const char *name)
{
	char path[128];

	make_segment(name);
	snprintf(path, sizeof path, "/dev/shm%s", name);
	CHECK(chmod(path, 0666) == 0);
}

/* As another user: root's segment, mode 0600, cannot be opened and is named so. */
static void
open_roots(const char *name)
{
	char err[512] = "", want[512];

	refusal(want, sizeof want, name, 0, 0600);
	CHECK(shm_segment_open(name, err, sizeof err) == NULL && errno == EACCES);
	CHECK_STR(err, want);
}

/*
 * A segment that another user made before us is refused, whatever its
 * mode; and theirs is not ours to open.  Needs root, to be another user.
 */
static void
test_other_user(void)
{
	const uid_t nobody = 65534;
	const char *name = new_name();
	struct shm_segment *seg;

	if (geteuid() != 0) {
		printf("shm: skipped the other-user checks: they need root to become another user\n");
		return;
	}
	CHECK(as_user(nobody, make_segment, name) == 0);
	check_refused(name, nobody, 0600);
	shm_unlink(name);
	CHECK(as_user(nobody, make_segment_open_to_all, name) == 0);
	check_refused(name, nobody, 0666);
	shm_unlink(name);

	/* The other way round: ours, seen by someone else. */
	seg = open_ok(name);
	CHECK(as_user(nobody, open_roots, name) == 0);
	shm_segment_close(seg);
	shm_unlink(name);
}

/* Reads a child's standard error from fd until it closes, into buf. */
static void
read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(fd);
}

/*
 * Forks fn(name, size) with its standard error into err[errlen]; returns
 * its wait status.
 */
static int
run_child(void (*fn)(const char *, off_t), const char *name, off_t size, char *err, size_t errlen)
{
	int fds[2], status = -1;
	pid_t pid;

	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		check_failures = 0;             /* the child's own, for its exit status */
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		fn(name, size);
		_exit(check_failures ? 1 : 0);
	}
	close(fds[1]);
	read_all(fds[0], err, errlen);
	CHECK(waitpid(pid, &status, 0) == pid);
	return status;
}

static void
shrink(const char *name, off_t size)
{
	int fd = shm_open(name, O_RDWR, 0);

	CHECK(fd >= 0 && ftruncate(fd, size) == 0);
	close(fd);
}

/*
 * In a child: a writer and its slot count, the segment shrinks to size,
 * and they go on counting -- into zeros, without a second warning.  Each
 * failed CHECK goes to the pipe and to the exit status.
 */
static void
count_through_shrink(const char *name, off_t size)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(name, err, sizeof err);
	struct shm_slot *slot = shm_claim(seg, SHM_ROLE_CHUNK, "shrunk");
	struct shm_record rec;
	struct shm_totals tot;
	uint64_t chunks;

	CHECK(seg && slot);
	shm_count(slot, SHM_CHUNKS, 5);
	CHECK(!shm_segment_detached(seg) && !shm_segment_replaced(seg));
	shrink(name, size);
	/* One of these touches a page past the end, and every page turns to zeros. */
	shm_count(slot, SHM_CHUNKS, 1);
	shm_observe_us(slot, SHM_HIST_LATENESS, 1000);
	shm_set_detail(slot, "after the shrink");
	CHECK(shm_session_post_error(slot, 1, "nowhere") == 0);
	CHECK(shm_session_poll(slot, &rec) == 0);
	CHECK(shm_segment_detached(seg) && shm_segment_replaced(seg));
	shm_read_totals(seg, &tot);
	/* The add that faulted ran again, into the zeros: 1 or 0 is left. */
	CHECK(tot.counter[SHM_CHUNKS] <= 1 && tot.created_unix_ms == 0);
	chunks = tot.counter[SHM_CHUNKS];
	shm_count(slot, SHM_CHUNKS, 2);                 /* into zeros of our own */
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_CHUNKS] == chunks + 2);
	shm_release(slot);
	shm_segment_close(seg);
	/* A new open sees what is left, and says so: no fault. */
	CHECK(shm_segment_open_existing(name, err, sizeof err) == NULL);
	fprintf(stderr, "reopen: %s\n", err);
}

/* In a child: a reader that only reads, as aur-stat does. */
static void
read_through_shrink(const char *name, off_t size)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open_existing(name, err, sizeof err);
	struct shm_slot_info info;
	struct shm_totals tot;
	int pos = 0;

	CHECK(seg != NULL);
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_EVENTS] == 7 && !shm_segment_detached(seg));
	shrink(name, size);
	shm_read_totals(seg, &tot);             /* what is left, then zeros */
	CHECK(shm_segment_detached(seg) && shm_segment_replaced(seg));
	shm_read_totals(seg, &tot);
	CHECK(tot.counter[SHM_EVENTS] == 0 && tot.slots == SHM_SLOTS);
	CHECK(shm_read_next(seg, &pos, &info) == 0);
	shm_segment_close(seg);
}

/*
 * A segment truncated under the processes that map it (to nothing, or to
 * its header only) costs them their counters, not their lives: each warns
 * once and goes on.
 */
static void
test_shrink(void)
{
	static const off_t sizes[] = { 0, 4096, 4096 + 8192 };
	const char *name = new_name();
	char err[2048], want[512];

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct shm_segment *seg = open_ok(name);
		struct shm_slot *slot = shm_claim(seg, SHM_ROLE_OTHER, NULL);
		int status;

		shm_count(slot, SHM_EVENTS, 7);
		shm_release(slot);
		shm_segment_close(seg);

		status = run_child(read_through_shrink, name, sizes[i], err, sizeof err);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "reader, shrunk to %lld: status %#x: %s\n", (long long)sizes[i],
				status, err);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		snprintf(want, sizeof want, "auralis: shared memory %s: counters detached: the segment "
			"shrank; going on without them\n", name);
		CHECK_STR(err, want);
		shm_unlink(name);

		seg = open_ok(name);
		shm_segment_close(seg);
		status = run_child(count_through_shrink, name, sizes[i], err, sizeof err);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "writer, shrunk to %lld: status %#x: %s\n", (long long)sizes[i],
				status, err);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		snprintf(want, sizeof want, "auralis: shared memory %s: counters detached: the segment "
			"shrank; going on without them\nreopen: shared memory %s ", name, name);
		CHECK(!strncmp(err, want, strlen(want)));
		snprintf(want, sizeof want, "; remove it with: rm /dev/shm/%s\n", name + 1);
		CHECK(strlen(err) > strlen(want) && !strcmp(err + strlen(err) - strlen(want), want));
		shm_unlink(name);
	}
}

/* In a child that guards a segment: a SIGBUS of a file of its own. */
static void
fault_elsewhere(const char *name, off_t size)
{
	char err[512], path[] = "/tmp/auralis-test-shm-XXXXXX";
	struct shm_segment *seg = shm_segment_open(name, err, sizeof err);
	volatile char *p;
	int fd = mkstemp(path);

	CHECK(seg != NULL && fd >= 0);
	unlink(path);
	CHECK(ftruncate(fd, 8192) == 0);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	if (check_failures)
		return;
	p[0] = 1;
	CHECK(ftruncate(fd, size) == 0);
	p[4096] = 1;                            /* past the end: SIGBUS, not ours */
	_exit(0);
}

/* In a child that guards a segment: a SIGBUS sent to it. */
static void
sent_sigbus(const char *name, off_t size)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(name, err, sizeof err);

	(void)size;
	CHECK(seg != NULL);
	if (check_failures)
		return;
	kill(getpid(), SIGBUS);
	_exit(0);
}

/*
 * Every SIGBUS that is not a shrunk segment's keeps its old action: the
 * process dies of it.  (A sanitizer's own SIGBUS handler, when there is
 * one, reports it and exits with an error instead, or aborts: SIGABRT with
 * ASAN_OPTIONS=abort_on_error=1, as scripts/test --sanitize runs.)
 */
static void
test_other_sigbus(void)
{
	const char *name = new_name();
	char err[4096];
	int status;

	status = run_child(fault_elsewhere, name, 0, err, sizeof err);
#if defined(__SANITIZE_ADDRESS__)
	CHECK((WIFSIGNALED(status) && (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT)) ||
		(WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(err, "BUS")));
#else
	if (!WIFSIGNALED(status))
		fprintf(stderr, "a fault elsewhere: status %#x: %s\n", status, err);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
#endif
	CHECK(strstr(err, "counters detached") == NULL);
	status = run_child(sent_sigbus, name, 0, err, sizeof err);
#if defined(__SANITIZE_ADDRESS__)
	CHECK((WIFSIGNALED(status) && (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT)) ||
		(WIFEXITED(status) && WEXITSTATUS(status) != 0));
#else
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
#endif
	CHECK(strstr(err, "counters detached") == NULL);
	shm_unlink(name);
}

int
main(void)
{
	test_basics();
	test_many_writers();
	test_claim_churn();
	test_killed_process();
	test_layout_checks();
	test_buckets();
	test_ring();
	test_ring_processes();
	test_detail();
	test_open_existing();
	test_default_name();
	test_loose_mode();
	test_other_user();
	test_shrink();
	test_other_sigbus();
	for (int i = 0; i < nnames; i++)
		shm_unlink(names[i]);
	return check_done("shm");
}
