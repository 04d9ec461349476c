/*
 * prometheus.c - /metrics in the Prometheus text format, version 0.0.4
 * (stat.h, docs/stat.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "stat.h"



void
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

static void
prom_sessions(struct text *t, const struct view *v, const char *name, const char *type,
	const char *help, enum session_value what)
{
	prom_family(t, name, type, help);
	for (int i = 0; i < v->nrows; i++) {
		const struct session_row *row = &v->rows[i];
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
			if (isnan(x = row->coding.kbps))
				continue;
			break;
		case SV_BUFFER:
			if (!row->has[SHM_GAUGE_BUFFER_MS])
				continue;
			x = row->gauge[SHM_GAUGE_BUFFER_MS] / 1000;
			break;
		case SV_INFO:
			if (!row->play_given)
				continue;
			x = 1;
			break;
		case SV_BPM:
		case SV_INTENSITY:
			if (isnan(x = what == SV_BPM ? row->play.bpm : row->play.intensity))
				continue;
			break;
		}
		tprintf(t, "%s{", name);
		prom_label(t, "session", row->id, true);
		if (what == SV_INFO) {
			prom_label(t, "preset", row->play.preset, false);
			prom_label(t, "key", row->play.key, false);
			prom_label(t, "mode", row->play.mode, false);
			prom_label(t, "codec", row->coding.codec, false);
		}
		tprintf(t, "} ");
		prom_value(t, x);
	}
}

char *
prometheus_body(const struct view *v, size_t *len)
{
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
		prom_simple(&t, name, "counter", shm_counter_help(c), (double)v->tot.counter[c]);
	}
	for (size_t i = 0; i < nhists; i++)
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
