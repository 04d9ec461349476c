/*
 * aur-stat - status and metrics of every live session, over HTTP.
 *
 * It reads the shared-memory segment that every aur-* process counts into
 * (docs/shared-memory.md) and answers three GETs (docs/stat.md):
 * /api/status and /api/metrics in JSON, for people and web/debug.html, and
 * /metrics in the Prometheus text format, for a scraper.  It is a reader:
 * it claims no slot and writes nothing into the segment, so a session
 * never waits for it, and it never creates the segment: a missing one, or
 * one of another layout version or of another user, is news to report.
 * A segment that shrinks while it is read (the reader's mapping turns to
 * zeros, docs/shared-memory.md) is reported so, and opened again.
 *
 * libmicrohttpd answers on a small pool of threads; each request reads the
 * segment afresh.  The segment stays mapped between requests and is opened
 * again when its name has come to refer to another one (it was removed,
 * and perhaps made again by a newer process).  Mappings are reference
 * counted, so a request still reading the old one keeps it until it is
 * done.  The mutex that guards this is aur-stat's own: no writer ever
 * takes it.
 *
 * Health is judged over the last minute (--window), not the segment's
 * whole life: the main thread, which otherwise only waits for SIGINT or
 * SIGTERM, snapshots the totals every window/12, and a request compares
 * the totals now with the oldest snapshot inside the window.  The same
 * thread looks for the SoundFont, so that requests do no file searching.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "io.h"
#include "opt.h"
#include "shm.h"
#include "soundfont.h"
#include "stop.h"
#include "stream.h"
#include "utf8.h"

#define LATE_PERCENT 1                  /* degraded above 1 % late chunks */
#define RENDER_LIMIT 0.8                /* degraded when p99 render > 80 % of a block */
#define SNAPSHOTS 13                    /* the window, in 12 steps, and its start */
#define ORIGINS_MAX 32                  /* --cors-origin entries */
#define CONNECTIONS_PER_THREAD 256
#define CONNECTION_TIMEOUT_S 30         /* libmicrohttpd's: since the last byte */
#define PER_ADDRESS_MAX 64              /* connections from one client address */
#define LOOPBACK_RESERVE 16             /* connections only loopback clients may take */
#define REASONS_MAX 8
#define REASON_LEN 320
#define NS 1000000000LL
#define SEG_RETRY_NS NS

static const char usage_text[] =
	"usage: aur-stat [options]\n"
	"\n"
	"Serve the status and metrics of every live Auralis session over HTTP,\n"
	"from the shared memory that the aur-* tools count into (docs/stat.md):\n"
	"\n"
	"  GET /api/status    health, sessions, SoundFont and sample rate (JSON)\n"
	"  GET /api/metrics   every counter, histogram summaries, live sessions (JSON)\n"
	"  GET /metrics       the same for Prometheus (text format 0.0.4)\n"
	"\n"
	"options:\n"
	"  -a, --address ADDR      IPv4 or IPv6 address to listen on, and only there\n"
	"                          (default 127.0.0.1)\n"
	"  -p, --port N            TCP port, 0..65535 (default 8081); 0 picks a free one\n"
	"      --port-file FILE    write the port to FILE once listening\n"
	"      --cors-origin LIST  web pages that may read the answers: origins such\n"
	"                          as https://example.org:8443, comma-separated, or *\n"
	"                          for any; repeatable.  Pages served over http from\n"
	"                          the address aur-stat listens on (any port; and\n"
	"                          localhost, 127.0.0.1 and [::1] when it is a\n"
	"                          loopback one) are always allowed.\n"
	"  -s, --soundfont FILE    the SoundFont the sessions use, found as aur-render\n"
	"                          finds it (see aur-render --help)\n"
	"  -r, --rate HZ           the sessions' sample rate, 8000..192000 (default 44100)\n"
	"  -w, --window SECONDS    health looks at the last SECONDS, 1..3600 (default 60)\n"
	"  -t, --threads N         threads that answer requests, 1..64 (default 4)\n"
	"      --header-timeout S  a connection must send a whole request head within\n"
	"                          S seconds of being ready for one, 1..600 (default 10)\n"
	"      --max-sessions N    the node is full at N live sessions, 0..512\n"
	"                          (default 0: no limit); as websocketd's --maxforks\n"
	"      --drain SECONDS     do not serve: mark the node draining and exit.  New\n"
	"                          listeners are sent on at once, those playing after\n"
	"                          SECONDS (the balancer's time to notice), 0..3600\n"
	"      --undrain           do not serve: end a drain and exit\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"A client address may hold 64 connections; the last 16 of all are kept\n"
	"for clients on 127.0.0.1 or ::1, such as a local health check.\n"
	"\n"
	"Only GET and HEAD are served, and OPTIONS for CORS preflight requests;\n"
	"other methods get 405, other paths 404, both with a JSON body.  On start\n"
	"it says \"aur-stat: listening on http://ADDR:PORT/\" on standard error.\n"
	"\n"
	"\"ready\" in /api/status is true when the node takes new listeners: health\n"
	"is ok, it is not draining, and it is not full.  A load balancer's health\n"
	"check looks for it (deploy/haproxy.cfg).  The shared memory is made at\n"
	"start if it is missing, so an idle node is ready.\n"
	"\n"
	"Health is \"degraded\" when the shared memory cannot be read, no SoundFont\n"
	"is found, or in the window: over 1 % of chunks were late, a client\n"
	"reported an underrun, or the render time of a block was over 80 % of its\n"
	"duration at p99.\n"
	"\n"
	"environment: AURALIS_SHM (shared memory name, default /auralis-UID,\n"
	"UID the effective user id, as for every aur-* tool),\n"
	"AURALIS_SOUNDFONT and AURALIS_SOUNDFONT_SEARCH (as aur-render).\n"
	"\n"
	"exit status: 0 stopped by SIGINT or SIGTERM (a server's normal end), or\n"
	"--drain/--undrain done; 1 cannot listen or start, or cannot open the\n"
	"shared memory to drain it; 2 usage.\n";

struct options {
	const char *address;
	long port;
	const char *port_file;
	const char *soundfont;
	long rate;
	double window_s;
	long threads;
	double header_timeout_s;
	const char *origins[ORIGINS_MAX];
	int norigins;
	bool any_origin;
	long max_sessions;      /* 0: no limit */
	double drain_s;         /* --drain: the move time; < 0 when not given */
	bool undrain;
};

static struct options opt;
static int64_t started_ns;

/* --- the segment, opened again when its name moves on --- */

struct seg_ref {
	struct shm_segment *seg;
	int refs;               /* readers now, + 1 while it is the current one */
};

static pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct seg_ref *seg_current;
/*
 * Why the last open failed, other than a missing segment, and when.  Such
 * an open can take a second (a segment never initialised), and the answer
 * rarely changes: it is given again for SEG_RETRY_NS without a new try.
 */
static char seg_error[512];
static int64_t seg_error_ns;

static void
seg_unref_locked(struct seg_ref *r)
{
	if (--r->refs == 0) {
		shm_segment_close(r->seg);
		free(r);
	}
}

/*
 * The segment that the name refers to now, opened if need be.  Returns a
 * reference for segment_put, or NULL with the reason in err (errlen bytes).
 */
static struct seg_ref *
segment_get(char *err, size_t errlen)
{
	struct seg_ref *r;

	pthread_mutex_lock(&seg_lock);
	if (seg_current && shm_segment_replaced(seg_current->seg)) {
		seg_unref_locked(seg_current);
		seg_current = NULL;
	}
	if (!seg_current && seg_error_ns && clock_now_ns() - seg_error_ns < SEG_RETRY_NS) {
		snprintf(err, errlen, "%s", seg_error);
	} else if (!seg_current) {
		struct shm_segment *seg = shm_segment_open_existing(shm_default_name(), err, errlen);

		seg_error_ns = 0;
		if (!seg && errno != ENOENT) {
			snprintf(seg_error, sizeof seg_error, "%s", err);
			seg_error_ns = clock_now_ns();
		}
		if (seg && !(seg_current = malloc(sizeof *seg_current))) {
			shm_segment_close(seg);
			snprintf(err, errlen, "out of memory");
		} else if (seg) {
			seg_current->seg = seg;
			seg_current->refs = 1;
		}
	}
	if ((r = seg_current))
		r->refs++;
	pthread_mutex_unlock(&seg_lock);
	return r;
}

static void
segment_put(struct seg_ref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&seg_lock);
	seg_unref_locked(r);
	pthread_mutex_unlock(&seg_lock);
}

/* --- the health window and the SoundFont, kept by the main thread --- */

/* What health looks at, summed over every slot. */
struct snapshot {
	int64_t at_ns;
	int64_t created_unix_ms;        /* which segment it was */
	uint64_t chunks, late, underruns;
	struct shm_hist_snap render;
};

static struct {
	pthread_mutex_t lock;
	struct snapshot ring[SNAPSHOTS];
	unsigned taken;                 /* ever; ring[taken % SNAPSHOTS] is the next */
	char soundfont[4096];           /* "" when none is found */
	char soundfont_problem[REASON_LEN];
} kept = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
snapshot_of(const struct shm_totals *tot, int64_t now_ns, struct snapshot *s)
{
	s->at_ns = now_ns;
	s->created_unix_ms = tot->created_unix_ms;
	s->chunks = tot->counter[SHM_CHUNKS];
	s->late = tot->counter[SHM_CHUNKS_LATE];
	s->underruns = tot->counter[SHM_UNDERRUNS];
	s->render = tot->hist[SHM_HIST_RENDER];
}

/* True when base may be subtracted from now: the same segment, no count gone back. */
static bool
snapshot_before(const struct snapshot *base, const struct snapshot *now)
{
	if (base->created_unix_ms != now->created_unix_ms || base->chunks > now->chunks ||
	    base->late > now->late || base->underruns > now->underruns)
		return false;
	for (int i = 0; i < SHM_HIST_BUCKETS; i++)
		if (base->render.bucket[i] > now->render.bucket[i])
			return false;
	return true;
}

/*
 * The counts since the start of the window: now minus the oldest snapshot
 * of the same segment taken inside it (or, should none be, the newest one
 * before it).  Without one (the segment is newer than every snapshot) the
 * window starts with the segment: base is zero.  Returns the window's
 * length in seconds.
 */
static double
window_counts(const struct snapshot *now, int64_t created_ns_ago, struct snapshot *delta)
{
	const struct snapshot *base = NULL;
	int64_t from = now->at_ns - (int64_t)(opt.window_s * NS);
	double seconds;

	*delta = *now;
	pthread_mutex_lock(&kept.lock);
	for (unsigned k = kept.taken > SNAPSHOTS ? kept.taken - SNAPSHOTS : 0; k < kept.taken; k++) {
		const struct snapshot *s = &kept.ring[k % SNAPSHOTS];

		if (!snapshot_before(s, now))
			continue;
		base = s;               /* the newest so far, older than the window */
		if (s->at_ns >= from)
			break;          /* the oldest inside it */
	}
	if (base) {
		delta->chunks -= base->chunks;
		delta->late -= base->late;
		delta->underruns -= base->underruns;
		delta->render.count = 0;
		for (int i = 0; i < SHM_HIST_BUCKETS; i++) {
			delta->render.bucket[i] -= base->render.bucket[i];
			delta->render.count += delta->render.bucket[i];
		}
		delta->render.sum_us -= base->render.sum_us;
		seconds = (double)(now->at_ns - base->at_ns) / NS;
	} else {
		double uptime = (double)(now->at_ns - started_ns) / NS;

		seconds = fmin(uptime, fmax(0, (double)created_ns_ago / NS));
	}
	pthread_mutex_unlock(&kept.lock);
	return seconds;
}

/* Looks for the SoundFont as aur-render would, and says what is wrong if none. */
static void
soundfont_look(void)
{
	char *found, problem[REASON_LEN] = "", reason[256];
	const char *env = getenv("AURALIS_SOUNDFONT");

	errno = 0;
	if (!(found = soundfont_find_quiet(opt.soundfont))) {
		strerror_r(errno ? errno : ENOENT, reason, sizeof reason);
		if (opt.soundfont)
			snprintf(problem, sizeof problem, "SoundFont %s (--soundfont) cannot be read: %s",
			    opt.soundfont, reason);
		else if (env && *env)
			snprintf(problem, sizeof problem, "SoundFont %s ($AURALIS_SOUNDFONT) cannot be "
			    "read: %s", env, reason);
		else
			snprintf(problem, sizeof problem, "no SoundFont found in %s",
			    soundfont_search_list());
	}
	pthread_mutex_lock(&kept.lock);
	snprintf(kept.soundfont, sizeof kept.soundfont, "%s", found ? found : "");
	snprintf(kept.soundfont_problem, sizeof kept.soundfont_problem, "%s", problem);
	pthread_mutex_unlock(&kept.lock);
	free(found);
}

/* Takes a snapshot of the totals into the ring, and looks for the SoundFont. */
static void
keep_up(void)
{
	char err[512];
	struct seg_ref *r = segment_get(err, sizeof err);

	soundfont_look();
	if (r) {
		struct shm_totals tot;
		struct snapshot s;
		bool shrank;

		shm_read_totals(r->seg, &tot);
		shrank = shm_segment_detached(r->seg);  /* then tot is zeros */
		segment_put(r);
		if (shrank)
			return;
		snapshot_of(&tot, clock_now_ns(), &s);
		pthread_mutex_lock(&kept.lock);
		kept.ring[kept.taken++ % SNAPSHOTS] = s;
		pthread_mutex_unlock(&kept.lock);
	}
}

/* --- what a request sees --- */

/* A live session: its aur-chunk slot, joined with its aur-compose slot by id. */
struct session_row {
	char id[SHM_SESSION_MAX + 1];
	int64_t start_unix_ms;
	uint64_t chunks, late, bytes;
	char coding[SHM_DETAIL_MAX + 1]; /* the framer's detail: "codec=opus kbps=96" */
	bool composer;                  /* a compose slot of the session was found */
	int64_t composer_start_ms;
	char detail[SHM_DETAIL_MAX + 1];
	uint64_t underruns;
	bool has[SHM_GAUGES];           /* the client reported this gauge */
	double gauge[SHM_GAUGES];
};

struct view {
	int64_t now_ns, now_unix_ms;
	double uptime_s;
	bool shm_ok;
	char shm_error[512];
	struct shm_totals tot;          /* zeros when !shm_ok */
	struct session_row *rows;
	int nrows;
	char soundfont[4096];
	double window_s;
	struct snapshot window;         /* counts within the window */
	double render_p99_ms;           /* in the window; NAN with no blocks */
	double render_limit_ms;
	char reasons[REASONS_MAX][REASON_LEN];
	int nreasons;
	bool draining;                  /* aur-stat --drain marked the node */
	bool full;                      /* --max-sessions reached */
	bool ready;                     /* healthy, not draining, not full */
};

static int
rows_by_age(const void *a, const void *b)
{
	const struct session_row *x = a, *y = b;

	if (x->start_unix_ms != y->start_unix_ms)
		return x->start_unix_ms < y->start_unix_ms ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The gauges that only mean something once the client has reported them. */
static const struct {
	enum shm_gauge gauge;
	enum shm_hist hist;             /* observed with each report */
} client_gauges[] = {
	{ SHM_GAUGE_BUFFER_MS, SHM_HIST_BUFFER },
	{ SHM_GAUGE_JITTER_MS, SHM_HIST_JITTER },
	{ SHM_GAUGE_LATENCY_MS, SHM_HIST_LATENCY },
};

/* What a session's row takes from its aur-compose slot. */
struct composer {
	char session[SHM_SESSION_MAX + 1];
	int64_t start_unix_ms;
	char detail[SHM_DETAIL_MAX + 1];
	uint64_t underruns;
	bool has[SHM_GAUGES];
	double gauge[SHM_GAUGES];
};

static void
composer_of(const struct shm_slot_info *info, struct composer *c)
{
	memcpy(c->session, info->session, sizeof c->session);
	c->start_unix_ms = info->start_unix_ms;
	memcpy(c->detail, info->detail, sizeof c->detail);
	c->underruns = info->counter[SHM_UNDERRUNS];
	for (size_t i = 0; i < sizeof client_gauges / sizeof client_gauges[0]; i++) {
		enum shm_gauge g = client_gauges[i].gauge;

		c->has[g] = info->hist[client_gauges[i].hist].count > 0;
		c->gauge[g] = info->gauge[g];
	}
}

/* Copies a compose slot's details into the session row. */
static void
row_join(struct session_row *row, const struct composer *c)
{
	/* The newest composer wins: aur-session runs a brief check first. */
	if (row->composer && row->composer_start_ms > c->start_unix_ms)
		return;
	row->composer = true;
	row->composer_start_ms = c->start_unix_ms;
	memcpy(row->detail, c->detail, sizeof row->detail);
	row->underruns = c->underruns;
	memcpy(row->has, c->has, sizeof row->has);
	memcpy(row->gauge, c->gauge, sizeof row->gauge);
}

/*
 * The live sessions of the segment: every aur-chunk slot whose process is
 * alive, with what its session's aur-compose slot says.  Returns -1 when
 * out of memory.
 */
static int
sessions_read(struct shm_segment *seg, struct view *v)
{
	struct shm_slot_info *info = malloc(sizeof *info);
	struct composer *composers;
	int pos = 0, ncomposers = 0;

	v->rows = calloc(SHM_SLOTS, sizeof *v->rows);
	composers = malloc(SHM_SLOTS * sizeof *composers);
	if (!info || !v->rows || !composers) {
		free(info);
		free(composers);
		return -1;
	}
	while (shm_read_next(seg, &pos, info)) {
		if (!info->alive || !info->session[0])
			continue;
		if (info->role == SHM_ROLE_COMPOSE) {
			composer_of(info, &composers[ncomposers++]);
		} else if (info->role == SHM_ROLE_CHUNK) {
			struct session_row *row = &v->rows[v->nrows++];

			memcpy(row->id, info->session, sizeof row->id);
			row->start_unix_ms = info->start_unix_ms;
			row->chunks = info->counter[SHM_CHUNKS];
			row->late = info->counter[SHM_CHUNKS_LATE];
			row->bytes = info->counter[SHM_BYTES];
			memcpy(row->coding, info->detail, sizeof row->coding);
		}
	}
	for (int i = 0; i < v->nrows; i++)
		for (int k = 0; k < ncomposers; k++)
			if (!strcmp(v->rows[i].id, composers[k].session))
				row_join(&v->rows[i], &composers[k]);
	qsort(v->rows, (size_t)v->nrows, sizeof *v->rows, rows_by_age);
	free(info);
	free(composers);
	return 0;
}

/*
 * A quantile (0 < q < 1) of a histogram, in microseconds, from its
 * buckets: the bucket that holds the observation of rank q * count, and
 * within it a geometric interpolation between its bounds, which suits
 * log-spaced buckets (docs/stat.md).  The answer lies in the same bucket
 * as the truth, so within a factor of sqrt(2) of it; in the first bucket
 * (0..1 us) within 1 us; in the last (above 8.4 s) it is that bucket's
 * lower bound.  NAN when the histogram is empty.
 */
static double
hist_quantile_us(const struct shm_hist_snap *h, uint64_t count, double q)
{
	double rank = q * (double)count;
	uint64_t below = 0;

	if (count == 0)
		return NAN;
	for (int i = 0; i < SHM_HIST_BUCKETS; i++) {
		uint64_t n = h->bucket[i];
		double lo, hi, f;

		if (n == 0 || (double)(below + n) < rank) {
			below += n;
			continue;
		}
		f = fmin(1, fmax(0, (rank - (double)below) / (double)n));
		hi = shm_hist_bound_us(i);
		if (i == 0)
			return f * hi;
		lo = shm_hist_bound_us(i - 1);
		if (isinf(hi))
			return lo;
		return lo * pow(hi / lo, f);
	}
	return shm_hist_bound_us(SHM_HIST_BUCKETS - 2);
}

/* The count of a histogram as the sum of its buckets: what they add up to. */
static uint64_t
hist_count(const struct shm_hist_snap *h)
{
	uint64_t n = 0;

	for (int i = 0; i < SHM_HIST_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

static void
reason_add(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reason_add(struct view *v, const char *fmt, ...)
{
	va_list ap;

	if (v->nreasons == REASONS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(v->reasons[v->nreasons++], REASON_LEN, fmt, ap);
	va_end(ap);
}

/* The rules of docs/stat.md, "Health". */
static void
health_judge(struct view *v, const char *soundfont_problem)
{
	const struct snapshot *w = &v->window;
	char last[32];

	/* "58 s", or "0.4 s" when aur-stat has only just started. */
	snprintf(last, sizeof last, v->window_s < 9.95 ? "%.1f s" : "%.0f s", v->window_s);

	if (!v->shm_ok)
		reason_add(v, "%s", v->shm_error);
	if (soundfont_problem[0])
		reason_add(v, "%s", soundfont_problem);
	if (w->late * 100 > w->chunks * LATE_PERCENT)
		reason_add(v, "%llu of %llu chunks (%.1f %%) were late in the last %s, over 1 %%",
		    (unsigned long long)w->late, (unsigned long long)w->chunks,
		    100.0 * (double)w->late / (double)w->chunks, last);
	if (w->underruns > 0)
		reason_add(v, "clients reported %llu underrun%s in the last %s",
		    (unsigned long long)w->underruns, w->underruns == 1 ? "" : "s", last);
	if (!isnan(v->render_p99_ms) && v->render_p99_ms > v->render_limit_ms)
		reason_add(v, "render time per block is %.1f ms at p99 in the last %s, over 80 %% "
		    "of a block's %.1f ms", v->render_p99_ms, last, v->render_limit_ms / RENDER_LIMIT);
}

/*
 * Reads everything a request needs into a new view (sessions too when
 * asked): the totals, the window, the health.  NULL when out of memory.
 */
static struct view *
view_read(bool with_sessions)
{
	struct view *v = calloc(1, sizeof *v);
	struct seg_ref *r;
	struct snapshot now;
	char soundfont_problem[REASON_LEN];

	if (!v)
		return NULL;
	v->now_ns = clock_now_ns();
	v->now_unix_ms = clock_unix_ms();
	v->uptime_s = (double)(v->now_ns - started_ns) / NS;
	v->render_limit_ms = RENDER_LIMIT * STREAM_RENDER_BLOCK_FRAMES * 1000.0 / (double)opt.rate;
	if ((r = segment_get(v->shm_error, sizeof v->shm_error))) {
		v->shm_ok = true;
		shm_read_totals(r->seg, &v->tot);
		if (with_sessions && sessions_read(r->seg, v) < 0) {
			segment_put(r);
			free(v->rows);
			free(v);
			return NULL;
		}
		/* Shrunk while read: what was read is zeros, and says nothing. */
		if (shm_segment_detached(r->seg)) {
			v->shm_ok = false;
			free(v->rows);
			v->rows = NULL;
			v->nrows = 0;
			memset(&v->tot, 0, sizeof v->tot);
			snprintf(v->shm_error, sizeof v->shm_error, "shared memory %s shrank "
			    "while it was read; it is opened again at the next request",
			    shm_default_name());
		}
		segment_put(r);
	}
	v->tot.slots = SHM_SLOTS;
	snapshot_of(&v->tot, v->now_ns, &now);
	v->window_s = v->shm_ok ? window_counts(&now,
	    (v->now_unix_ms - v->tot.created_unix_ms) * 1000000, &v->window) : 0;
	if (!v->shm_ok)
		memset(&v->window, 0, sizeof v->window);
	v->render_p99_ms = hist_quantile_us(&v->window.render, hist_count(&v->window.render),
	    0.99) / 1000;
	pthread_mutex_lock(&kept.lock);
	memcpy(v->soundfont, kept.soundfont, sizeof v->soundfont);
	memcpy(soundfont_problem, kept.soundfont_problem, sizeof soundfont_problem);
	pthread_mutex_unlock(&kept.lock);
	health_judge(v, soundfont_problem);
	v->draining = v->tot.drain_since_unix_ms != 0;
	v->full = opt.max_sessions > 0 && v->tot.live[SHM_ROLE_CHUNK] >= (unsigned long)opt.max_sessions;
	v->ready = v->shm_ok && v->nreasons == 0 && !v->draining && !v->full;
	return v;
}

static void
view_free(struct view *v)
{
	if (v)
		free(v->rows);
	free(v);
}

/* --- text that must be valid UTF-8 --- */

/*
 * s as valid UTF-8: every byte that does not start a valid character
 * becomes U+FFFD.  Returns a malloc'd string, or NULL.
 */
static char *
utf8_clean(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(3 * n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		size_t len = utf8_char((const unsigned char *)s + i, n - i);

		if (len) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* --- JSON --- */

/* Sets o[key] = v, noting a failure (v NULL: out of memory) in *ok. */
static void
put(bool *ok, json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		*ok = false;
}

static void
push(bool *ok, json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) < 0)
		*ok = false;
}

/* Any text as a JSON string. */
static json_t *
json_text(const char *s)
{
	char *clean = utf8_clean(s);
	json_t *j = clean ? json_string(clean) : NULL;

	free(clean);
	return j;
}

/* A number rounded to 1/1000 (milliseconds of seconds, microseconds of ms); null if none. */
static json_t *
json_num3(double x)
{
	return isfinite(x) ? json_real(round(x * 1000) / 1000) : json_null();
}

static json_t *
json_count(uint64_t n)
{
	return json_integer(n > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* {"count","mean","p50","p95","p99"} of a histogram, in milliseconds. */
static json_t *
hist_json(bool *ok, const struct shm_hist_snap *h)
{
	json_t *o = json_object();
	uint64_t n = hist_count(h);

	if (!o)
		return NULL;
	put(ok, o, "count", json_count(n));
	put(ok, o, "mean", json_num3(n ? (double)h->sum_us / (double)n / 1000 : NAN));
	put(ok, o, "p50", json_num3(hist_quantile_us(h, n, 0.50) / 1000));
	put(ok, o, "p95", json_num3(hist_quantile_us(h, n, 0.95) / 1000));
	put(ok, o, "p99", json_num3(hist_quantile_us(h, n, 0.99) / 1000));
	return o;
}

/* What the segment is: name, whether it could be read, why not. */
static json_t *
shm_json(bool *ok, const struct view *v)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(ok, o, "name", json_text(shm_default_name()));
	put(ok, o, "ok", json_boolean(v->shm_ok));
	put(ok, o, "error", v->shm_ok ? json_null() : json_text(v->shm_error));
	put(ok, o, "layout_version", json_integer(SHM_LAYOUT_VERSION));
	put(ok, o, "age_s", v->shm_ok ?
	    json_num3((double)(v->now_unix_ms - v->tot.created_unix_ms) / 1000) : json_null());
	return o;
}

static json_t *
status_json(bool *ok, const struct view *v)
{
	json_t *o = json_object(), *reasons = json_array(), *w = json_object();

	if (!o || !reasons || !w) {
		json_decref(o);
		json_decref(reasons);
		json_decref(w);
		return NULL;
	}
	put(ok, o, "version", json_string(AURALIS_VERSION));
	put(ok, o, "uptime_s", json_num3(v->uptime_s));
	put(ok, o, "sessions_active", json_integer(v->tot.live[SHM_ROLE_CHUNK]));
	put(ok, o, "sessions_total", json_count(v->tot.sessions_total));
	put(ok, o, "soundfont", v->soundfont[0] ? json_text(v->soundfont) : json_null());
	put(ok, o, "sample_rate", json_integer(opt.rate));
	put(ok, o, "health", json_string(v->nreasons ? "degraded" : "ok"));
	put(ok, o, "ready", json_boolean(v->ready));
	put(ok, o, "draining", json_boolean(v->draining));
	put(ok, o, "max_sessions", opt.max_sessions ? json_integer(opt.max_sessions) : json_null());
	for (int i = 0; i < v->nreasons; i++)
		push(ok, reasons, json_text(v->reasons[i]));
	put(ok, o, "reasons", reasons);
	put(ok, o, "shm", shm_json(ok, v));
	put(ok, w, "seconds", json_num3(v->window_s));
	put(ok, w, "chunks", json_count(v->window.chunks));
	put(ok, w, "chunks_late", json_count(v->window.late));
	put(ok, w, "underruns", json_count(v->window.underruns));
	put(ok, w, "render_p99_ms", json_num3(v->render_p99_ms));
	put(ok, w, "render_limit_ms", json_num3(v->render_limit_ms));
	put(ok, o, "window", w);
	return o;
}

/* Splits a detail "preset=focus key=D ..." into the row's JSON fields. */
static void
detail_json(bool *ok, json_t *o, const char *detail)
{
	static const char *const text_fields[] = { "preset", "key", "mode" };
	static const char *const number_fields[] = { "bpm", "intensity" };
	char copy[SHM_DETAIL_MAX + 1], *save = NULL;

	for (size_t i = 0; i < 3; i++)
		put(ok, o, text_fields[i], json_null());
	for (size_t i = 0; i < 2; i++)
		put(ok, o, number_fields[i], json_null());
	snprintf(copy, sizeof copy, "%s", detail);
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		double x;

		if (!eq)
			continue;
		*eq++ = '\0';
		for (size_t i = 0; i < 3; i++)
			if (!strcmp(tok, text_fields[i]))
				put(ok, o, text_fields[i], json_text(eq));
		for (size_t i = 0; i < 2; i++)
			if (!strcmp(tok, number_fields[i]) && parse_decimal(eq, &x) == 0)
				put(ok, o, number_fields[i], x == floor(x) && x < 1e15 ?
				    json_integer((json_int_t)x) : json_real(x));
	}
}

static const char *detail_field(const char *detail, const char *name, char *buf, size_t buflen);

/*
 * What the framer sends: its codec and Opus bitrate, from its slot detail,
 * and kbit/s on the wire over the session's life so far.
 */
static void
coding_json(bool *ok, json_t *o, const struct view *v, const struct session_row *row)
{
	char codec[SHM_DETAIL_MAX + 1], kbps[SHM_DETAIL_MAX + 1];
	int64_t age_ms = v->now_unix_ms - row->start_unix_ms;
	double x;

	put(ok, o, "codec", detail_field(row->coding, "codec", codec, sizeof codec) ?
	    json_text(codec) : json_null());
	put(ok, o, "kbps", detail_field(row->coding, "kbps", kbps, sizeof kbps) &&
	    parse_decimal(kbps, &x) == 0 ? json_integer((json_int_t)x) : json_null());
	put(ok, o, "sent_kbps", age_ms > 0 ?
	    json_num3((double)row->bytes * 8 / (double)age_ms) : json_null());
}

static json_t *
session_json(bool *ok, const struct view *v, const struct session_row *row)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(ok, o, "id", json_text(row->id));
	put(ok, o, "age_s", json_num3((double)(v->now_unix_ms - row->start_unix_ms) / 1000));
	detail_json(ok, o, row->detail);
	coding_json(ok, o, v, row);
	put(ok, o, "chunks", json_count(row->chunks));
	put(ok, o, "late_chunks", json_count(row->late));
	put(ok, o, "buffer_ms", row->has[SHM_GAUGE_BUFFER_MS] ?
	    json_num3(row->gauge[SHM_GAUGE_BUFFER_MS]) : json_null());
	put(ok, o, "jitter_ms", row->has[SHM_GAUGE_JITTER_MS] ?
	    json_num3(row->gauge[SHM_GAUGE_JITTER_MS]) : json_null());
	put(ok, o, "latency_ms", row->has[SHM_GAUGE_LATENCY_MS] ?
	    json_num3(row->gauge[SHM_GAUGE_LATENCY_MS]) : json_null());
	put(ok, o, "underruns", json_count(row->underruns));
	return o;
}

/* The histograms by their names in the API, in docs/stat.md's order. */
static const struct {
	enum shm_hist hist;
	const char *json;               /* in milliseconds */
	const char *prom;               /* in seconds */
	const char *help;
} hists[] = {
	{ SHM_HIST_RENDER, "render_ms", "auralis_render_block_seconds",
	  "Wall time aur-render took to render one block of at most 1024 frames." },
	{ SHM_HIST_LATENESS, "lateness_ms", "auralis_chunk_lateness_seconds",
	  "How long after it was due aur-chunk sent an audio chunk (0 when early)." },
	{ SHM_HIST_BUFFER, "client_buffer_ms", "auralis_client_buffer_seconds",
	  "Audio buffered in the browser, as its clients report it." },
	{ SHM_HIST_JITTER, "client_jitter_ms", "auralis_client_jitter_seconds",
	  "Jitter of audio arrivals in the browser, as its clients report it." },
	{ SHM_HIST_LATENCY, "control_latency_ms", "auralis_control_latency_seconds",
	  "Control-to-sound latency, as the clients measure it." },
};

#define NHISTS (sizeof hists / sizeof hists[0])

static json_t *
metrics_json(bool *ok, const struct view *v)
{
	json_t *o = json_object(), *counters = json_object(), *h = json_object();
	json_t *sessions = json_array(), *procs = json_object();

	if (!o || !counters || !h || !sessions || !procs) {
		json_decref(o);
		json_decref(counters);
		json_decref(h);
		json_decref(sessions);
		json_decref(procs);
		return NULL;
	}
	put(ok, o, "uptime_s", json_num3(v->uptime_s));
	for (int c = 0; c < SHM_COUNTERS; c++)
		put(ok, counters, shm_counter_name(c), json_count(v->tot.counter[c]));
	put(ok, o, "counters", counters);
	put(ok, o, "sessions_active", json_integer(v->tot.live[SHM_ROLE_CHUNK]));
	put(ok, o, "sessions_total", json_count(v->tot.sessions_total));
	for (size_t i = 0; i < NHISTS; i++)
		put(ok, h, hists[i].json, hist_json(ok, &v->tot.hist[hists[i].hist]));
	put(ok, o, "histograms", h);
	for (int i = 0; i < v->nrows; i++)
		push(ok, sessions, session_json(ok, v, &v->rows[i]));
	put(ok, o, "sessions", sessions);
	for (int r = SHM_ROLE_COMPOSE; r < SHM_ROLES; r++)
		put(ok, procs, shm_role_name(r), json_integer(v->tot.live[r]));
	put(ok, o, "processes", procs);
	put(ok, o, "dead_slots", json_integer(v->tot.dead));
	put(ok, o, "reclaimed_total", json_count(v->tot.reclaimed_total));
	put(ok, o, "shm", shm_json(ok, v));
	return o;
}

/* Serialises a document (and frees it) into a malloc'd body with a newline. */
static char *
json_body(json_t *doc, bool ok, size_t *len)
{
	char *text = ok && doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
	char *body = NULL;

	json_decref(doc);
	if (text) {
		*len = strlen(text);
		if ((body = realloc(text, *len + 2))) {
			body[(*len)++] = '\n';
			body[*len] = '\0';
		} else {
			free(text);
		}
	}
	return body;
}

/* --- the Prometheus text format, version 0.0.4 --- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

static void
tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tprintf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = (t->cap + (size_t)n + 1) * 2;
			char *buf = realloc(t->buf, cap);

			if (!buf) {
				t->failed = true;
				return;
			}
			t->buf = buf;
			t->cap = cap;
		}
	}
}

/* A sample value: integers as such, other numbers with 15 digits, +Inf, NaN. */
static void
prom_value(struct text *t, double x)
{
	if (isnan(x))
		tprintf(t, "NaN\n");
	else if (isinf(x))
		tprintf(t, "%sInf\n", x > 0 ? "+" : "-");
	else if (x == floor(x) && fabs(x) < 1e15)
		tprintf(t, "%.0f\n", x);
	else
		tprintf(t, "%.15g\n", x);
}

static void
prom_family(struct text *t, const char *name, const char *type, const char *help)
{
	tprintf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped: backslash, double quote and newline; UTF-8 made valid. */
static void
prom_label(struct text *t, const char *name, const char *value, bool first)
{
	char *clean = utf8_clean(value);

	if (!clean) {
		t->failed = true;
		return;
	}
	tprintf(t, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = clean; *p; p++) {
		if (*p == '\\')
			tprintf(t, "\\\\");
		else if (*p == '"')
			tprintf(t, "\\\"");
		else if (*p == '\n')
			tprintf(t, "\\n");
		else
			tprintf(t, "%c", *p);
	}
	tprintf(t, "\"");
	free(clean);
}

static void
prom_simple(struct text *t, const char *name, const char *type, const char *help, double x)
{
	prom_family(t, name, type, help);
	tprintf(t, "%s ", name);
	prom_value(t, x);
}

/* A histogram from the shm buckets: bounds in seconds, cumulative, +Inf = _count. */
static void
prom_hist(struct text *t, const char *name, const char *help, const struct shm_hist_snap *h)
{
	uint64_t cum = 0;

	prom_family(t, name, "histogram", help);
	for (int i = 0; i < SHM_HIST_BUCKETS - 1; i++) {
		cum += h->bucket[i];
		/* 12 digits: every bound exact to well under a microsecond. */
		tprintf(t, "%s_bucket{le=\"%.12g\"} %llu\n", name, shm_hist_bound_us(i) / 1e6,
		    (unsigned long long)cum);
	}
	cum += h->bucket[SHM_HIST_BUCKETS - 1];
	tprintf(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	tprintf(t, "%s_sum ", name);
	prom_value(t, (double)h->sum_us / 1e6);
	tprintf(t, "%s_count %llu\n", name, (unsigned long long)cum);
}

/*
 * A per-session family: one sample per session that has the value.  A
 * session id held by two aur-chunk processes (a misconfiguration) is shown
 * once, so that no series is repeated.
 */
enum session_value {
	SV_AGE, SV_CHUNKS, SV_LATE, SV_BYTES, SV_KBPS, SV_BUFFER, SV_INFO, SV_BPM, SV_INTENSITY
};

/* The value of field name in a detail text, or NULL; into buf. */
static const char *
detail_field(const char *detail, const char *name, char *buf, size_t buflen)
{
	size_t n = strlen(name);

	for (const char *p = detail; p && *p; p = strchr(p, ' '), p = p ? p + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			size_t len = strcspn(p + n + 1, " ");

			snprintf(buf, buflen, "%.*s", (int)len, p + n + 1);
			return buf;
		}
	}
	return NULL;
}

static void
prom_sessions(struct text *t, const struct view *v, const char *name, const char *type,
	const char *help, enum session_value what)
{
	prom_family(t, name, type, help);
	for (int i = 0; i < v->nrows; i++) {
		const struct session_row *row = &v->rows[i];
		char preset[SHM_DETAIL_MAX + 1], key[SHM_DETAIL_MAX + 1], mode[SHM_DETAIL_MAX + 1];
		char number[SHM_DETAIL_MAX + 1];
		double x = 0;
		bool seen = false;

		for (int k = 0; k < i && !seen; k++)
			seen = !strcmp(v->rows[k].id, row->id);
		if (seen)
			continue;
		switch (what) {
		case SV_AGE: x = (double)(v->now_unix_ms - row->start_unix_ms) / 1000; break;
		case SV_CHUNKS: x = (double)row->chunks; break;
		case SV_LATE: x = (double)row->late; break;
		case SV_BYTES: x = (double)row->bytes; break;
		case SV_KBPS:
			if (!detail_field(row->coding, "kbps", number, sizeof number) ||
			    parse_decimal(number, &x) < 0)
				continue;
			break;
		case SV_BUFFER:
			if (!row->has[SHM_GAUGE_BUFFER_MS])
				continue;
			x = row->gauge[SHM_GAUGE_BUFFER_MS] / 1000;
			break;
		case SV_INFO:
			if (!row->detail[0])
				continue;
			x = 1;
			break;
		case SV_BPM:
		case SV_INTENSITY:
			if (!detail_field(row->detail, what == SV_BPM ? "bpm" : "intensity",
			    number, sizeof number) || parse_decimal(number, &x) < 0)
				continue;
			break;
		}
		tprintf(t, "%s{", name);
		prom_label(t, "session", row->id, true);
		if (what == SV_INFO) {
			prom_label(t, "preset", detail_field(row->detail, "preset", preset,
			    sizeof preset) ? preset : "", false);
			prom_label(t, "key", detail_field(row->detail, "key", key, sizeof key) ?
			    key : "", false);
			prom_label(t, "mode", detail_field(row->detail, "mode", mode, sizeof mode) ?
			    mode : "", false);
			prom_label(t, "codec", detail_field(row->coding, "codec", number,
			    sizeof number) ? number : "", false);
		}
		tprintf(t, "} ");
		prom_value(t, x);
	}
}

static char *
prometheus_body(const struct view *v, size_t *len)
{
	static const char *const counter_help[SHM_COUNTERS] = {
		[SHM_CHUNKS] = "Audio chunks sent to browsers.",
		[SHM_CHUNKS_LATE] = "Audio chunks sent more than 150 ms after they were due.",
		[SHM_BYTES] = "Bytes the aur-* tools wrote on their standard output.",
		[SHM_ACKS] = "Control acknowledgements sent to browsers.",
		[SHM_ERRORS] = "Error messages sent to browsers.",
		[SHM_EVENTS] = "Note events composed.",
		[SHM_CONTROLS_APPLIED] = "Control and preset messages applied.",
		[SHM_CONTROLS_REJECTED] = "Messages from browsers answered with an error.",
		[SHM_STATS_MESSAGES] = "Stats messages from browsers.",
		[SHM_UNDERRUNS] = "Playback underruns that browsers reported.",
		[SHM_RING_DROPS] = "Control replies lost because a session ring was full.",
	};
	struct text t = { 0 };
	char name[96];

	tprintf(&t, "# Auralis %s: counts since the shared memory %s was made.\n",
	    AURALIS_VERSION, v->shm_ok ? "segment" : "(missing now)");
	prom_family(&t, "auralis_build_info", "gauge", "The version of aur-stat; always 1.");
	tprintf(&t, "auralis_build_info{version=\"%s\"} 1\n", AURALIS_VERSION);
	prom_simple(&t, "auralis_up", "gauge",
	    "1 when the shared memory can be read, 0 when it is missing or of another layout.",
	    v->shm_ok);
	prom_simple(&t, "auralis_healthy", "gauge",
	    "1 when /api/status says ok, 0 when it says degraded.", v->nreasons == 0);
	prom_simple(&t, "auralis_ready", "gauge",
	    "1 when the node takes new listeners: healthy, not draining, not full.", v->ready);
	prom_simple(&t, "auralis_draining", "gauge",
	    "1 while the node drains (aur-stat --drain).", v->draining);
	if (opt.max_sessions)
		prom_simple(&t, "auralis_sessions_max", "gauge",
		    "The sessions the node takes at most (--max-sessions).", (double)opt.max_sessions);
	prom_simple(&t, "auralis_uptime_seconds", "gauge", "Seconds since aur-stat started.",
	    round(v->uptime_s * 1000) / 1000);
	prom_simple(&t, "auralis_sessions_active", "gauge",
	    "Live sessions: aur-chunk processes that are alive.", v->tot.live[SHM_ROLE_CHUNK]);
	prom_simple(&t, "auralis_sessions_total", "counter", "Sessions ever started.",
	    (double)v->tot.sessions_total);
	prom_family(&t, "auralis_processes", "gauge", "Live aur-* processes by role.");
	for (int r = SHM_ROLE_COMPOSE; r < SHM_ROLES; r++)
		tprintf(&t, "auralis_processes{role=\"%s\"} %u\n", shm_role_name(r), v->tot.live[r]);
	prom_simple(&t, "auralis_dead_slots", "gauge",
	    "Shared-memory slots still held by processes that died.", v->tot.dead);
	prom_simple(&t, "auralis_slots_reclaimed_total", "counter",
	    "Shared-memory slots taken back from processes that died.",
	    (double)v->tot.reclaimed_total);
	for (int c = 0; c < SHM_COUNTERS; c++) {
		snprintf(name, sizeof name, "auralis_%s_total", shm_counter_name(c));
		prom_simple(&t, name, "counter", counter_help[c], (double)v->tot.counter[c]);
	}
	for (size_t i = 0; i < NHISTS; i++)
		prom_hist(&t, hists[i].prom, hists[i].help, &v->tot.hist[hists[i].hist]);
	prom_sessions(&t, v, "auralis_session_age_seconds", "gauge",
	    "Seconds since the session started.", SV_AGE);
	prom_sessions(&t, v, "auralis_session_chunks_total", "counter",
	    "Audio chunks sent in the session.", SV_CHUNKS);
	prom_sessions(&t, v, "auralis_session_chunks_late_total", "counter",
	    "Audio chunks of the session sent more than 150 ms after due.", SV_LATE);
	prom_sessions(&t, v, "auralis_session_sent_bytes_total", "counter",
	    "Bytes of messages sent to the session's browser.", SV_BYTES);
	prom_sessions(&t, v, "auralis_session_opus_kbps", "gauge",
	    "The bitrate the session's Opus encoder is set to, kbit/s (Opus sessions only).", SV_KBPS);
	prom_sessions(&t, v, "auralis_session_buffer_seconds", "gauge",
	    "Audio buffered in the session's browser, as it last reported.", SV_BUFFER);
	prom_sessions(&t, v, "auralis_session_info", "gauge",
	    "The session's last preset, its key and mode, and its codec; always 1.", SV_INFO);
	prom_sessions(&t, v, "auralis_session_bpm", "gauge", "The session's tempo.", SV_BPM);
	prom_sessions(&t, v, "auralis_session_intensity", "gauge",
	    "The session's intensity, 0 to 1.", SV_INTENSITY);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}

/* --- HTTP --- */

enum route { ROUTE_NONE, ROUTE_STATUS, ROUTE_METRICS, ROUTE_PROMETHEUS };

static enum route
route_find(const char *url)
{
	if (!strcmp(url, "/api/status"))
		return ROUTE_STATUS;
	if (!strcmp(url, "/api/metrics"))
		return ROUTE_METRICS;
	if (!strcmp(url, "/metrics"))
		return ROUTE_PROMETHEUS;
	return ROUTE_NONE;
}

/*
 * The host part of "host[:port]" or "[v6]:port" at s, into out; false if
 * it is not of that form: a name or address, then nothing or a colon and
 * at most five digits.
 */
static bool
host_part(const char *s, char *out, size_t outlen)
{
	const char *end;
	size_t len;

	if (*s == '[') {
		end = s + 1 + strspn(s + 1, "0123456789abcdefABCDEF:.");
		if (*end != ']')
			return false;
		end++;
	} else {
		end = s + strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
	}
	len = (size_t)(end - s);
	if (len == 0 || len >= outlen)
		return false;
	if (*end == ':') {
		if (!end[1] || strspn(end + 1, "0123456789") != strlen(end + 1) || strlen(end + 1) > 5)
			return false;
	} else if (*end) {
		return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* True when host (as in a URL: "[::1]" for IPv6) names the address we listen on. */
static bool
host_is_ours(const char *host)
{
	static const char *const loopback[] = { "127.0.0.1", "localhost", "[::1]" };
	bool ours_loopback = !strcmp(opt.address, "127.0.0.1") || !strcmp(opt.address, "::1");
	size_t n = strlen(opt.address);

	if (ours_loopback) {
		for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
			if (!strcasecmp(host, loopback[i]))
				return true;
		return false;
	}
	if (host[0] == '[')
		return strlen(host) == n + 2 && !strncasecmp(host + 1, opt.address, n) && host[n + 1] == ']';
	return !strcasecmp(host, opt.address);
}

/*
 * The Access-Control-Allow-Origin to answer a request with, or NULL:
 * "*" with --cors-origin '*', the Origin itself when it is listed, or when
 * it is http on the address we listen on (any port): the page from
 * websocketd on another port of this machine.  Not the Host header's name:
 * a page of evil.example whose name has been pointed at this machine (DNS
 * rebinding) sends Host: evil.example, and must not read the answers.
 */
static const char *
cors_origin(struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	char origin_host[300];

	if (!origin)
		return NULL;
	if (opt.any_origin)
		return "*";
	for (int i = 0; i < opt.norigins; i++)
		if (!strcasecmp(origin, opt.origins[i]))
			return origin;
	if (!strncasecmp(origin, "http://", 7) &&
	    host_part(origin + 7, origin_host, sizeof origin_host) && host_is_ours(origin_host))
		return origin;
	return NULL;
}

/*
 * Queues a response: body (malloc'd, taken over; NULL for none) of type,
 * with the headers every answer has.  allow: the Allow header, or NULL.
 */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
	const char *allow)
{
	struct MHD_Response *res;
	const char *origin = cors_origin(conn);
	enum MHD_Result ret;

	res = body ? MHD_create_response_from_buffer_with_free_callback(len, body, free) :
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!res) {
		free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, MHD_HTTP_HEADER_VARY, "Origin");
	if (allow)
		MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, allow);
	if (origin) {
		MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
		if (status == MHD_HTTP_NO_CONTENT) {
			MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS,
			    "GET, HEAD, OPTIONS");
			MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "600");
		}
	}
	ret = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return ret;
}

#define JSON_TYPE "application/json"
#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define ALLOWED "GET, HEAD, OPTIONS"

static enum MHD_Result
respond_json(struct MHD_Connection *conn, unsigned status, json_t *doc, bool ok,
	const char *allow)
{
	size_t len = 0;
	char *body = json_body(doc, ok, &len);

	if (!body) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_TYPE, strdup(oom),
		    sizeof oom - 1, NULL);
	}
	return respond(conn, status, JSON_TYPE, body, len, allow);
}

/* {"error": what, name: value} */
static enum MHD_Result
respond_error(struct MHD_Connection *conn, unsigned status, const char *what, const char *name,
	const char *value, const char *allow)
{
	json_t *doc = json_object();
	bool ok = doc != NULL;

	if (doc) {
		put(&ok, doc, "error", json_string(what));
		put(&ok, doc, name, json_text(value));
	}
	return respond_json(conn, status, doc, ok, allow);
}

/*
 * Slow clients.  libmicrohttpd's timeout counts from a connection's last
 * byte, so a client that trickles a header line every few seconds holds
 * its connection for ever, and a thousand such clients every connection
 * there is.  So each connection has a deadline for a whole request head,
 * --header-timeout from when it is ready for one (accepted, or its last
 * answer sent): once a second the main thread shuts down the socket of a
 * connection past it, and libmicrohttpd then closes the connection.  The
 * list is guarded by a mutex that libmicrohttpd's notification of a closed
 * connection takes too, and it calls that before it closes the socket:
 * so a descriptor in the list is never one that has been closed and
 * perhaps reused.  Each client address may hold PER_ADDRESS_MAX
 * connections (libmicrohttpd counts them), and the last LOOPBACK_RESERVE
 * of the whole are kept for clients on 127.0.0.1 or ::1: a local health
 * check still gets in when the rest of the world holds every other one.
 */
struct guarded {
	int fd;
	int64_t waiting_ns;             /* ready for a request since; 0 while in one */
	struct guarded *prev, *next;
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct guarded guard_list = { .prev = &guard_list, .next = &guard_list };
static unsigned guard_count;

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	enum MHD_ConnectionNotificationCode code)
{
	struct guarded *g = *socket_context;
	const union MHD_ConnectionInfo *info;

	(void)cls;
	pthread_mutex_lock(&guard_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info && (g = calloc(1, sizeof *g))) {
			g->fd = info->connect_fd;
			g->waiting_ns = clock_now_ns();
			g->next = &guard_list;
			g->prev = guard_list.prev;
			g->prev->next = g;
			guard_list.prev = g;
			*socket_context = g;
		}
		guard_count++;
	} else {
		if (g) {
			g->prev->next = g->next;
			g->next->prev = g->prev;
			free(g);
			*socket_context = NULL;
		}
		guard_count--;
	}
	pthread_mutex_unlock(&guard_lock);
}

/* Marks the connection of a request as in one (waiting false) or ready for the next. */
static void
guard_mark(struct MHD_Connection *conn, bool waiting)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guarded *g = info ? info->socket_context : NULL;

	if (!g)
		return;
	pthread_mutex_lock(&guard_lock);
	g->waiting_ns = waiting ? clock_now_ns() : 0;
	pthread_mutex_unlock(&guard_lock);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **state,
	enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)state;
	(void)code;
	guard_mark(conn, true);
}

/* Shuts down the connections that took too long over a request head. */
static void
guard_sweep(void)
{
	int64_t limit = (int64_t)(opt.header_timeout_s * NS), now = clock_now_ns();

	pthread_mutex_lock(&guard_lock);
	for (struct guarded *g = guard_list.next; g != &guard_list; g = g->next)
		if (g->waiting_ns && now - g->waiting_ns > limit) {
			shutdown(g->fd, SHUT_RDWR);
			g->waiting_ns = 0;      /* once is enough */
		}
	pthread_mutex_unlock(&guard_lock);
}

/* 127.0.0.1 or ::1 (also as ::ffff:127.0.0.1): where a local health check comes from. */
static bool
address_is_local(const struct sockaddr *addr, socklen_t len)
{
	static const unsigned char v4[4] = { 127, 0, 0, 1 };

	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) == INADDR_LOOPBACK;
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		    (IN6_IS_ADDR_V4MAPPED(a) && !memcmp(a->s6_addr + 12, v4, 4));
	}
	return false;
}

/* Keeps the last LOOPBACK_RESERVE connections for local clients. */
static enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	unsigned limit = (unsigned)(CONNECTIONS_PER_THREAD * opt.threads) - LOOPBACK_RESERVE;
	unsigned n;

	(void)cls;
	pthread_mutex_lock(&guard_lock);
	n = guard_count;
	pthread_mutex_unlock(&guard_lock);
	return n < limit || address_is_local(addr, len) ? MHD_YES : MHD_NO;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	enum route route = route_find(url);
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	struct view *v;
	bool ok = true;
	json_t *doc;

	if (!*state)
		guard_mark(conn, false);        /* the head is in */
	/* Answered at once, on the first call: a request body is never read. */
	if (!get && strcmp(method, MHD_HTTP_METHOD_OPTIONS))
		return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
		    "method", method, ALLOWED);
	/* The rest on the second, when the request is complete: so it can be kept alive. */
	if (!*state) {
		*state = conn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;          /* a body that a GET should not have */
		return MHD_YES;
	}
	if (route == ROUTE_NONE)
		return respond_error(conn, MHD_HTTP_NOT_FOUND, "not found", "path", url, NULL);
	if (!get)       /* OPTIONS: a CORS preflight, or a question about methods */
		return respond(conn, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, ALLOWED);
	if (!(v = view_read(route != ROUTE_STATUS)))
		return respond_json(conn, MHD_HTTP_OK, NULL, false, NULL);
	if (route == ROUTE_PROMETHEUS) {
		size_t len = 0;
		char *body = prometheus_body(v, &len);

		view_free(v);
		if (!body)
			return respond_json(conn, MHD_HTTP_OK, NULL, false, NULL);
		return respond(conn, MHD_HTTP_OK, PROMETHEUS_TYPE, body, len, NULL);
	}
	doc = route == ROUTE_STATUS ? status_json(&ok, v) : metrics_json(&ok, v);
	view_free(v);
	return respond_json(conn, MHD_HTTP_OK, doc, ok, NULL);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	warnf("%s", line);
}

/* --- start and stop --- */

/* Adds the origins of a --cors-origin LIST; false for a malformed one. */
static bool
origins_add(char *list)
{
	char *save = NULL;

	for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		const char *rest = !strncasecmp(o, "http://", 7) ? o + 7 :
		    !strncasecmp(o, "https://", 8) ? o + 8 : NULL;
		char host[300];

		if (!strcmp(o, "*")) {
			opt.any_origin = true;
			continue;
		}
		if (!rest || !host_part(rest, host, sizeof host)) {
			warnf("--cors-origin: expected http://HOST[:PORT], https://HOST[:PORT] or *, "
			    "not '%s'", o);
			return false;
		}
		if (opt.norigins == ORIGINS_MAX) {
			warnf("--cors-origin: at most %d origins", ORIGINS_MAX);
			return false;
		}
		opt.origins[opt.norigins++] = o;
	}
	return true;
}

static void
parse_options(int argc, char **argv)
{
	enum { OPT_PORT_FILE = 256, OPT_CORS, OPT_HEADER_TIMEOUT, OPT_MAX_SESSIONS, OPT_DRAIN,
		OPT_UNDRAIN };
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "cors-origin", required_argument, NULL, OPT_CORS },
		{ "soundfont", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
		{ "drain", required_argument, NULL, OPT_DRAIN },
		{ "undrain", no_argument, NULL, OPT_UNDRAIN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	opt = (struct options){
		.address = "127.0.0.1", .port = 8081, .rate = 44100, .window_s = 60, .threads = 4,
		.header_timeout_s = 10, .drain_s = -1,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:p:s:r:w:t:hV", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'a': opt.address = optarg; break;
		case 'p': bad = opt_long("--port", optarg, 0, 65535, &opt.port); break;
		case OPT_PORT_FILE: opt.port_file = optarg; break;
		case OPT_CORS: bad = !origins_add(optarg); break;
		case OPT_HEADER_TIMEOUT:
			bad = opt_double("--header-timeout", optarg, 1, 600, &opt.header_timeout_s);
			break;
		case OPT_MAX_SESSIONS:
			bad = opt_long("--max-sessions", optarg, 0, SHM_SLOTS, &opt.max_sessions);
			break;
		case OPT_DRAIN: bad = opt_double("--drain", optarg, 0, 3600, &opt.drain_s); break;
		case OPT_UNDRAIN: opt.undrain = true; break;
		case 's': opt.soundfont = optarg; break;
		case 'r': bad = opt_long("--rate", optarg, 8000, 192000, &opt.rate); break;
		case 'w': bad = opt_double("--window", optarg, 1, 3600, &opt.window_s); break;
		case 't': bad = opt_long("--threads", optarg, 1, 64, &opt.threads); break;
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-stat %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
		if (bad)
			usage_exit(usage_text);
	}
	if (optind < argc) {
		warnf("unexpected argument '%s'", argv[optind]);
		usage_exit(usage_text);
	}
	if (opt.drain_s >= 0 && opt.undrain) {
		warnf("--drain and --undrain: one or the other");
		usage_exit(usage_text);
	}
}

/*
 * --drain and --undrain: marks the node's shared memory (made if missing)
 * and exits.  Returns the exit status.
 */
static int
drain_command(void)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(shm_default_name(), err, sizeof err);

	if (!seg) {
		warnf("%s", err);
		return AUR_EXIT_FAILURE;
	}
	if (opt.undrain) {
		shm_drain_clear(seg);
		warnf("%s: serving: new listeners are taken again", shm_default_name());
	} else {
		shm_drain_set(seg, (int64_t)llround(opt.drain_s * 1000));
		warnf("%s: draining: no new listeners; those playing are sent on in %g s",
		    shm_default_name(), opt.drain_s);
	}
	shm_segment_close(seg);
	return AUR_EXIT_OK;
}

/*
 * Makes the node's shared memory if it is missing, so that an idle node
 * that nobody has listened to yet is healthy: a balancer's health check
 * passes before the first listener comes.  A failure is only warned of;
 * /api/status then says why.
 */
static void
segment_make(void)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(shm_default_name(), err, sizeof err);

	if (!seg)
		warnf("%s", err);
	shm_segment_close(seg);
}

/*
 * Binds and listens on opt.address and opt.port; url gets the address to
 * tell, with the port chosen.  Exits with a message when it cannot.
 */
static int
listen_socket(char *url, size_t urllen, unsigned *port)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	}, *ai;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char host[INET6_ADDRSTRLEN + 64], service[8], shown[INET6_ADDRSTRLEN];
	size_t len = strlen(opt.address);
	int fd, one = 1;

	/* "[::1]" as in a URL is accepted too. */
	if (len >= 2 && len < sizeof host && opt.address[0] == '[' && opt.address[len - 1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)len - 2, opt.address + 1);
	else
		snprintf(host, sizeof host, "%s", opt.address);
	snprintf(service, sizeof service, "%ld", opt.port);
	if (getaddrinfo(host, service, &hints, &ai) != 0) {
		warnf("--address: expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1, not '%s'",
		    opt.address);
		usage_exit(usage_text);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		dief(AUR_EXIT_FAILURE, "socket:");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
		dief(AUR_EXIT_FAILURE, "cannot listen on %s port %ld:", opt.address, opt.port);
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		dief(AUR_EXIT_FAILURE, "getsockname:");
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, shown, sizeof shown);
		*port = ntohs(in6->sin6_port);
		snprintf(url, urllen, "http://[%s]:%u/", shown, *port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &in4->sin_addr, shown, sizeof shown);
		*port = ntohs(in4->sin_port);
		snprintf(url, urllen, "http://%s:%u/", shown, *port);
	}
	return fd;
}

/* Writes the port to --port-file, whole or not at all (a rename). */
static void
port_file_write(unsigned port)
{
	char tmp[4096];
	FILE *f;

	if (!opt.port_file)
		return;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", opt.port_file, (long)getpid());
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp, opt.port_file) < 0)
		dief(AUR_EXIT_FAILURE, "%s:", opt.port_file);
}

/* Room for every connection: the soft limit on open files up to the hard one. */
static void
files_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t stop_signals;
	char url[128];
	unsigned port;
	int fd, sig = 0;
	int64_t every, next_snapshot;

	err_init(argv[0]);
	parse_options(argc, argv);
	if (opt.drain_s >= 0 || opt.undrain)
		return drain_command();
	started_ns = clock_now_ns();
	io_ignore_sigpipe();
	files_limit_raise();
	/*
	 * Blocked here, so in every thread; the main thread takes them with
	 * sigtimedwait.  Not ignored, even when started in the background.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	segment_make();
	fd = listen_socket(url, sizeof url, &port);
	every = (int64_t)(opt.window_s * NS / (SNAPSHOTS - 1));
	keep_up();
	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
	    0, on_accept, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt.threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(CONNECTIONS_PER_THREAD * opt.threads),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (!daemon)
		dief(AUR_EXIT_FAILURE, "cannot start the HTTP server on %s", url);
	port_file_write(port);
	warnf("listening on %s", url);

	/* A snapshot every window/12, a sweep of slow connections every second. */
	next_snapshot = clock_now_ns() + every;
	while (sig != SIGINT && sig != SIGTERM) {
		int64_t wait = next_snapshot - clock_now_ns();
		struct timespec ts;

		wait = wait < 0 ? 0 : wait > NS ? NS : wait;
		ts = (struct timespec){ .tv_sec = wait / NS, .tv_nsec = wait % NS };
		sig = sigtimedwait(&stop_signals, NULL, &ts);
		if (sig >= 0 || errno != EAGAIN)
			continue;
		guard_sweep();
		if (clock_now_ns() >= next_snapshot) {
			keep_up();
			next_snapshot += every;
		}
	}
	MHD_stop_daemon(daemon);       /* closes fd too */
	pthread_mutex_lock(&seg_lock);
	if (seg_current)
		seg_unref_locked(seg_current);
	seg_current = NULL;
	pthread_mutex_unlock(&seg_lock);
	return AUR_EXIT_OK;
}
