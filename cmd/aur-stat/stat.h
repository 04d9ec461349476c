/*
 * stat.h - what the parts of aur-stat share.  aur-stat serves the status
 * and metrics of every live session over HTTP; its parts are:
 *
 *   segment.c     the shared-memory segment, opened again when its name moves on
 *   health.c      the health window and the SoundFont, kept by the main thread
 *   view.c        what a request sees: one consistent reading of the segment
 *   json.c        /api/status and /api/metrics
 *   prometheus.c  /metrics, the Prometheus text format 0.0.4
 *   http.c        the HTTP side: libmicrohttpd's callbacks, limits and CORS
 *   main.c        options, the listening socket, start and stop
 *
 * How it works, as a whole:
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
#ifndef AUR_STAT_H
#define AUR_STAT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "detail.h"
#include "shm.h"

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

extern struct options opt;
extern int64_t started_ns;              /* when aur-stat started, clock_now_ns */

/* --- segment.c --- */

struct seg_ref {
	struct shm_segment *seg;
	int refs;               /* readers now, + 1 while it is the current one */
};

/* Guards seg_current and every seg_ref's count. */
extern pthread_mutex_t seg_lock;
extern struct seg_ref *seg_current;

/* Drops a reference, with seg_lock held; the last one closes the segment. */
void seg_unref_locked(struct seg_ref *r);

/*
 * The segment that the name refers to now, opened if need be.  Returns a
 * reference for segment_put, or NULL with the reason in err (errlen bytes).
 */
struct seg_ref *segment_get(char *err, size_t errlen);
void segment_put(struct seg_ref *r);

/* --- health.c --- */

/* What health looks at, summed over every slot. */
struct snapshot {
	int64_t at_ns;
	int64_t created_unix_ms;        /* which segment it was */
	uint64_t chunks, late, underruns;
	struct shm_hist_snap render;
};

void snapshot_of(const struct shm_totals *tot, int64_t now_ns, struct snapshot *s);

/*
 * The counts since the start of the window into *delta; returns the
 * window's length in seconds.
 */
double window_counts(const struct snapshot *now, int64_t created_ns_ago, struct snapshot *delta);

/* Takes a snapshot of the totals into the ring, and looks for the SoundFont. */
void keep_up(void);

/* The SoundFont found, "" if none, and what is wrong when none is. */
void kept_soundfont(char *path, size_t pathlen, char *problem, size_t problemlen);

/* --- view.c --- */

/* A live session: its aur-chunk slot, joined with its aur-compose slot by id. */
struct session_row {
	char id[SHM_SESSION_MAX + 1];
	int64_t start_unix_ms;
	uint64_t chunks, late, bytes;
	struct detail coding;           /* the framer's detail: codec and kbps */
	bool composer;                  /* a compose slot of the session was found */
	int64_t composer_start_ms;
	struct detail play;             /* the composer's detail: preset ... intensity */
	bool play_given;                /* it gave at least one field */
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

/* Reads the segment into a new view (with its sessions when asked); NULL when out of memory. */
struct view *view_read(bool with_sessions);
void view_free(struct view *v);
uint64_t hist_count(const struct shm_hist_snap *h);

/* The q-quantile in microseconds of a histogram of count observations. */
double hist_quantile_us(const struct shm_hist_snap *h, uint64_t count, double q);

/*
 * s as valid UTF-8: every byte that does not start a valid character
 * becomes U+FFFD.  Returns a malloc'd string, or NULL.
 */
char *utf8_clean(const char *s);

/* --- json.c --- */

/* The histograms by their names in the API, in docs/stat.md's order. */
struct hist_name {
	enum shm_hist hist;
	const char *json;               /* in milliseconds */
	const char *prom;               /* in seconds */
	const char *help;
};
extern const struct hist_name hists[];
extern const size_t nhists;

/* Sets key of o to v (taking it); clears *ok when either failed. */
void put(bool *ok, json_t *o, const char *key, json_t *v);
/* A JSON string of s, made valid UTF-8. */
json_t *json_text(const char *s);
json_t *status_json(bool *ok, const struct view *v);
json_t *metrics_json(bool *ok, const struct view *v);
/* doc as one line and a newline, taking doc; NULL when !ok or out of memory. */
char *json_body(json_t *doc, bool ok, size_t *len);

/* --- prometheus.c --- */

struct text {
	char *buf;
	size_t len, cap;
	bool failed;
};

void tprintf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

char *prometheus_body(const struct view *v, size_t *len);

/* --- http.c --- */

/* The host of an origin or Host header, without its port, into out. */
bool host_part(const char *s, char *out, size_t outlen);
void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code);
void on_completed(void *cls, struct MHD_Connection *conn, void **state,
    enum MHD_RequestTerminationCode code);
/* Forgets the addresses that hold no connection any more. */
void guard_sweep(void);
enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len);
enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data, size_t *upload_data_size,
    void **state);
void on_mhd_log(void *cls, const char *fmt, va_list ap);

#endif
