/*
 * json.c - /api/status and /api/metrics (stat.h, docs/stat.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stat.h"

/* Sets o[key] = v, noting a failure (v NULL: out of memory) in *ok. */
void
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
json_t *
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

json_t *
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

/* A detail's name, null when not given. */
static json_t *
detail_name_json(const char *name)
{
	return name[0] ? json_text(name) : json_null();
}

/* A detail's number, an integer when it is whole; null when not given. */
static json_t *
detail_number_json(double x)
{
	if (isnan(x))
		return json_null();
	return x == floor(x) && fabs(x) < 1e15 ? json_integer((json_int_t)x) : json_real(x);
}

/* What the composer plays, from its slot's detail. */
static void
play_json(bool *ok, json_t *o, const struct detail *play)
{
	put(ok, o, "preset", detail_name_json(play->preset));
	put(ok, o, "key", detail_name_json(play->key));
	put(ok, o, "mode", detail_name_json(play->mode));
	put(ok, o, "bpm", detail_number_json(play->bpm));
	put(ok, o, "intensity", detail_number_json(play->intensity));
}

/*
 * What the framer sends: its codec and Opus bitrate, from its slot detail,
 * and kbit/s on the wire over the session's life so far.
 */
static void
coding_json(bool *ok, json_t *o, const struct view *v, const struct session_row *row)
{
	int64_t age_ms = v->now_unix_ms - row->start_unix_ms;

	put(ok, o, "codec", detail_name_json(row->coding.codec));
	put(ok, o, "kbps", detail_number_json(row->coding.kbps));
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
	play_json(ok, o, &row->play);
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

const struct hist_name hists[] = {
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

const size_t nhists = sizeof hists / sizeof hists[0];

json_t *
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
	for (size_t i = 0; i < nhists; i++)
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
char *
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
