/*
 * view.c - what a request sees: the segment read once, its sessions joined
 * and sorted, health judged (stat.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "soundfont.h"
#include "stat.h"
#include "stream.h"
#include "utf8.h"



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
	struct detail play;
	bool play_given;
	uint64_t underruns;
	bool has[SHM_GAUGES];
	double gauge[SHM_GAUGES];
};

static void
composer_of(const struct shm_slot_info *info, struct composer *c)
{
	memcpy(c->session, info->session, sizeof c->session);
	c->start_unix_ms = info->start_unix_ms;
	c->play_given = detail_parse(info->detail, &c->play) > 0;
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
	row->play = c->play;
	row->play_given = c->play_given;
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
			detail_parse(info->detail, &row->coding);
			detail_clear(&row->play);       /* until its composer is found */
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
double
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
uint64_t
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
struct view *
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
	kept_soundfont(v->soundfont, sizeof v->soundfont, soundfont_problem, sizeof soundfont_problem);
	health_judge(v, soundfont_problem);
	v->draining = v->tot.drain_since_unix_ms != 0;
	v->full = opt.max_sessions > 0 && v->tot.live[SHM_ROLE_CHUNK] >= (unsigned long)opt.max_sessions;
	v->ready = v->shm_ok && v->nreasons == 0 && !v->draining && !v->full;
	return v;
}

void
view_free(struct view *v)
{
	if (v)
		free(v->rows);
	free(v);
}

/*
 * s as valid UTF-8: every byte that does not start a valid character
 * becomes U+FFFD.  Returns a malloc'd string, or NULL.
 */
char *
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
