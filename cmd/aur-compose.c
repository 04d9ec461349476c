/*
 * aur-compose - compose endless generative ambient music as note events.
 *
 * The music comes from the engine in compose/compose.c (docs/composer.md);
 * this file does the rest: options, the header, pacing, control messages
 * and their answers.
 *
 * Offline (--duration or --bars) the events are written as fast as
 * possible through one large buffer.  Live (--live) each line is written
 * when the monotonic clock reaches its music time minus --lookahead; the
 * first 0.3 s of music go out at once so that playback can start.  Between
 * lines the loop sleeps in poll() on standard input, so a control message
 * is read the moment it arrives and acts on the very next line.
 *
 * In both modes a `tick` is written whenever 50 ms of music time would
 * otherwise pass without a line, so a renderer downstream can render
 * through silence without waiting.  The lines depend only on the seed, the
 * options and (live) the control messages, never on the clock: a live
 * stream without controls equals the offline stream byte for byte.
 *
 * A control takes effect at the time of the last line written, which is
 * the earliest music time not yet promised: the next line already
 * reflects it.  Every message with an id is answered through
 * control_report(), an ack with the music time of the first event written
 * after the change, or an error with the reason; a bad message changes
 * nothing and the music goes on.  The messages are checked in
 * compose/control.c; what they change is applied here.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "compose.h"
#include "control.h"
#include "config.h"
#include "detail.h"
#include "err.h"
#include "io.h"
#include "jsonout.h"
#include "note.h"
#include "opt.h"
#include "shm.h"
#include "stop.h"
#include "stream.h"

#define TICK_US STREAM_TICK_US          /* the longest silence between two lines */
#define PREFILL_US STREAM_PREFILL_US    /* written at once when a live stream starts */
#define ACKS_PENDING_MAX 256            /* messages waiting for their first event */
#define OUT_BUF_SIZE 65536
#define DURATION_MAX 604800             /* seconds: a week of music offline */

static const char usage_text[] =
	"usage: aur-compose [options]\n"
	"\n"
	"Compose generative ambient music, a piano melody over pad chords, and\n"
	"write it as note events (docs/note-format.md) on standard output.\n"
	"Offline it writes --duration or --bars of music as fast as it can; with\n"
	"--live it writes each event shortly before it is due, forever, and reads\n"
	"control messages (JSON lines) on standard input. docs/composer.md tells\n"
	"how the music is made.\n"
	"\n"
	"options:\n"
	"  -d, --duration SECONDS  compose this much music, then `end`\n"
	"  -b, --bars N            compose N bars (of 4 beats at the first tempo)\n"
	"  -l, --live              pace the events by the clock, read controls\n"
	"  -p, --preset NAME       key, mode, tempo, intensity and sounds at once:\n"
	"                          one of --list-presets (default: the first)\n"
	"  -k, --key KEY           tonic: C, C#, Db, D, ... Bb, B\n"
	"  -m, --mode MODE         ionian (major), dorian, phrygian, lydian,\n"
	"                          mixolydian or aeolian (minor)\n"
	"      --bpm BPM           tempo, 40..120\n"
	"  -i, --intensity X       0..1: density, loudness, register, pad layers\n"
	"  -s, --seed N            the same seed and options give the same bytes\n"
	"                          (default: from the clock; the header tells it)\n"
	"      --lookahead SECONDS live: how early an event is written, 0..10\n"
	"                          (default 0.15)\n"
	"      --ack-log FILE      live: answer control messages in FILE too\n"
	"      --list-presets      print the presets as a JSON array, one object a\n"
	"                          line: name, label, key, mode, bpm, intensity,\n"
	"                          default (the first) and sounds (GM programs)\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"Options after --preset override it, whatever their order.\n"
	"\n"
	"controls (--live), one JSON object a line on standard input:\n"
	"  {\"type\":\"control\",\"id\":7,\"key\":\"D\",\"mode\":\"dorian\",\"bpm\":72,\"intensity\":0.4}\n"
	"  {\"type\":\"preset\",\"id\":8,\"name\":\"sleep\"}\n"
	"  {\"type\":\"stats\",\"buffer_ms\":180,\"underruns\":0,\"jitter_ms\":4,\"latency_ms\":320}\n"
	"answers, in the --ack-log FILE:\n"
	"  {\"type\":\"ack\",\"id\":7,\"t\":12.345}           music time of the first event changed\n"
	"  {\"type\":\"error\",\"id\":7,\"message\":\"...\"}   the message was rejected\n"
	"Rejections are also reported on standard error as 'stdin:LINE: reason':\n"
	"the first 20, then one every 10 s, and how many more were not.\n"
	"\n"
	"exit status: 0 done, or standard input closed (live), or the reader of\n"
	"the output went away; 1 write or read error; 2 usage; 130/143 stopped by\n"
	"SIGINT or SIGTERM (the stream still ends with `end`).\n";

struct options {
	struct compose_params params;
	const char *preset;
	uint64_t seed;
	bool seed_given;
	int64_t end_us;                 /* 0: endless */
	double duration;
	long bars;
	bool live;
	double lookahead;
	bool lookahead_given;
	const char *ack_log;
};

/* The answer to one control message, whatever sink it goes to. */
struct control_result {
	unsigned long line;             /* of standard input */
	bool has_id;
	int64_t id;
	bool ok;                        /* an ack; else an error */
	int64_t t_us;                   /* ack: music time of the first event that reflects it */
	char message[CONTROL_ERROR_MAX]; /* error: why the message was rejected */
};

struct pending_ack {
	unsigned long line;
	int64_t id;
};

struct session {
	struct composer *composer;
	const struct options *opt;
	int64_t written_us;             /* music time of the last line written */
	bool wrote_any;
	bool failed;                    /* standard input failed */

	char out[OUT_BUF_SIZE];
	size_t out_len;
	struct out_end out_end;         /* standard output failed or its reader left */

	/* control input */
	char in[CONTROL_LINE_MAX + 1];  /* the longest line and its newline */
	size_t in_len;
	unsigned long in_line;
	bool in_skipping;               /* inside an over-long line */
	bool in_open;

	struct pending_ack acks[ACKS_PENDING_MAX];
	int nacks;
	int ack_fd;                     /* -1: no --ack-log */
	struct shm_slot *slot;          /* counters and the session ring; may be NULL */
	double client_underruns;        /* the client's count at its last stats */
	const char *preset;             /* the last preset applied */
};

/*
 * Rejections on standard error, held to a budget: the client gets every
 * one in its stream anyway, and under websocketd each line of standard
 * error becomes a log line that carries the session's whole URL.  The first
 * REJECT_LOG_BURST are written, then one every REJECT_LOG_EVERY_NS; the
 * rest are counted and the count is written with the next line let
 * through, and at exit.
 */
#define REJECT_LOG_BURST 20
#define REJECT_LOG_EVERY_NS (10 * 1000000000LL)

static struct {
	int tokens;
	int64_t refilled_ns;
	unsigned long unreported;
} reject_log = { .tokens = REJECT_LOG_BURST };

static void
reject_log_unreported(void)
{
	if (!reject_log.unreported)
		return;
	warnf("stdin: %lu more rejected messages were not reported here", reject_log.unreported);
	reject_log.unreported = 0;
}

/* True when a rejection may be written now; counts it when not. */
static bool
reject_log_take(void)
{
	int64_t now = clock_now_ns();

	if (!reject_log.refilled_ns)
		reject_log.refilled_ns = now;
	while (reject_log.tokens < REJECT_LOG_BURST &&
	    now - reject_log.refilled_ns >= REJECT_LOG_EVERY_NS) {
		reject_log.tokens++;
		reject_log.refilled_ns += REJECT_LOG_EVERY_NS;
	}
	if (reject_log.tokens == REJECT_LOG_BURST)
		reject_log.refilled_ns = now;
	if (!reject_log.tokens) {
		reject_log.unreported++;
		return false;
	}
	reject_log.tokens--;
	reject_log_unreported();
	return true;
}

/* --- output --- */

/*
 * Writes what is buffered.  A write that fails ends the output
 * (out_end_note): run() stops, and nothing more is written.
 */
static void
out_flush(struct session *s)
{
	if (s->out_len && !s->out_end.ended &&
	    write_full_or_stop(STDOUT_FILENO, s->out, s->out_len, &stop_signal) < 0)
		out_end_note(&s->out_end, errno, stop_signal);
	s->out_len = 0;
}

static void
out_text(struct session *s, const char *text, size_t len)
{
	if (s->out_end.ended)
		return;
	if (s->out_len + len > sizeof s->out)
		out_flush(s);
	memcpy(s->out + s->out_len, text, len);
	s->out_len += len;
}

static void
out_event(struct session *s, const struct note_event *ev)
{
	char line[NOTE_LINE_MAX];

	out_text(s, line, note_format(ev, line, sizeof line));
	if (ev->type != NOTE_TICK)
		shm_count(s->slot, SHM_EVENTS, 1);
	shm_gauge_set(s->slot, SHM_GAUGE_MUSIC_S, ev->t);
}

/* --- answers to control messages --- */

/* Writes the answer, in the browser protocol's form, to the --ack-log file. */
static void
ack_log_write(struct session *s, const struct control_result *r)
{
	char line[JSONOUT_ANSWER_MAX];
	size_t n;

	if (s->ack_fd < 0)
		return;
	n = jsonout_answer(line, sizeof line, r->has_id, r->id, (double)r->t_us / COMPOSE_US,
	    r->ok ? NULL : r->message);
	if (write_full(s->ack_fd, line, n) < 0) {
		warnf("%s:", s->opt->ack_log);
		close(s->ack_fd);
		s->ack_fd = -1;
	}
}

/*
 * Every answer to a control message goes through here: rejections to
 * standard error, acks and rejections to the --ack-log file and to the
 * session's shared-memory ring, from which aur-chunk sends them to the
 * browser in audio order.
 */
static void
control_report(struct session *s, const struct control_result *r)
{
	int64_t id = r->has_id ? (int64_t)r->id : SHM_ID_NONE;

	if (!r->ok && reject_log_take())
		warn_at("stdin", r->line, "%s", r->message);
	ack_log_write(s, r);
	if (r->ok) {
		shm_session_post_ack(s->slot, id, (double)r->t_us / COMPOSE_US);
	} else {
		shm_session_post_error(s->slot, id, r->message);
		shm_count(s->slot, SHM_CONTROLS_REJECTED, 1);
	}
}

static void
control_reject(struct session *s, struct control_result *r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
control_reject(struct session *s, struct control_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->message, sizeof r->message, fmt, ap);
	va_end(ap);
	r->ok = false;
	control_report(s, r);
}

/* Answers every waiting message with the time of the event just written. */
static void
acks_answer(struct session *s, int64_t t_us)
{
	for (int i = 0; i < s->nacks; i++) {
		struct control_result r = {
			.line = s->acks[i].line, .has_id = true, .id = s->acks[i].id,
			.ok = true, .t_us = t_us,
		};

		control_report(s, &r);
	}
	s->nacks = 0;
}

/* --- control messages --- */

/* Shows aur-stat what the session plays now, in its slot's detail. */
static void
detail_publish(struct session *s)
{
	const struct compose_params *p = composer_params(s->composer);
	char text[SHM_DETAIL_MAX + 1];
	struct detail d;

	detail_clear(&d);
	snprintf(d.preset, sizeof d.preset, "%s", s->preset);
	snprintf(d.key, sizeof d.key, "%s", compose_key_name(p->key));
	snprintf(d.mode, sizeof d.mode, "%s", compose_mode_name(p->mode));
	d.bpm = p->bpm;
	d.intensity = p->intensity;
	detail_format(text, sizeof text, &d);
	shm_set_detail(s->slot, text);
}

/*
 * Applies a new set of parameters at the time of the last line written,
 * and notes the change in the stream as a comment.
 */
static void
params_apply(struct session *s, const struct compose_params *p, const struct compose_sounds *sounds)
{
	struct composer *c = s->composer;
	const struct compose_params *now = composer_params(c);
	char line[160];
	int n;

	if (p->key == now->key && p->mode == now->mode && p->bpm == now->bpm &&
	    p->intensity == now->intensity &&
	    (!sounds || !memcmp(sounds, &now->sounds, sizeof *sounds)))
		return;
	composer_set_bpm(c, p->bpm, s->written_us);
	composer_set_harmony(c, p->key, p->mode, s->written_us);
	composer_set_intensity(c, p->intensity, s->written_us);
	if (sounds)
		composer_set_sounds(c, sounds);
	n = snprintf(line, sizeof line, "# from %.3f: key=%s mode=%s bpm=%.15g intensity=%.15g\n",
	    (double)s->written_us / COMPOSE_US, compose_key_name(p->key),
	    compose_mode_name(p->mode), p->bpm, p->intensity);
	out_text(s, line, (size_t)n);
	detail_publish(s);
}

/* A control message: the fields it gives over the parameters in force. */
static void
change_apply(struct session *s, const struct control_msg *m)
{
	struct compose_params p = *composer_params(s->composer);

	if (m->given & CONTROL_KEY)
		p.key = m->key;
	if (m->given & CONTROL_MODE)
		p.mode = m->mode;
	if (m->given & CONTROL_BPM)
		p.bpm = m->bpm;
	if (m->given & CONTROL_INTENSITY)
		p.intensity = m->intensity;
	params_apply(s, &p, NULL);
}

/*
 * The client's health report into the session's counters: gauges for the
 * latest figures, histograms for their spread, and the growth of the
 * client's underrun count.  The parser has bounded each figure; here the
 * count is held to what the music written so far allows, one underrun a
 * chunk (control_underruns_max): a report past that is rejected whole,
 * with the reason in r, and false is returned.  Only growth is counted,
 * from the last report accepted, so no claim lasts beyond its own rise.
 */
static bool
stats_apply(struct session *s, const struct control_msg *m, struct control_result *r)
{
	static const enum shm_gauge gauge[CONTROL_STAT_COUNT] = {
		[CONTROL_STAT_BUFFER_MS] = SHM_GAUGE_BUFFER_MS,
		[CONTROL_STAT_UNDERRUNS] = SHM_GAUGE_UNDERRUNS,
		[CONTROL_STAT_JITTER_MS] = SHM_GAUGE_JITTER_MS,
		[CONTROL_STAT_LATENCY_MS] = SHM_GAUGE_LATENCY_MS,
	};
	static const int hist[CONTROL_STAT_COUNT] = {
		[CONTROL_STAT_BUFFER_MS] = SHM_HIST_BUFFER,
		[CONTROL_STAT_UNDERRUNS] = -1,
		[CONTROL_STAT_JITTER_MS] = SHM_HIST_JITTER,
		[CONTROL_STAT_LATENCY_MS] = SHM_HIST_LATENCY,
	};
	double underruns = m->stat[CONTROL_STAT_UNDERRUNS];
	bool told = m->given & 1u << CONTROL_STAT_UNDERRUNS;
	uint64_t most = control_underruns_max(s->written_us);

	if (told && underruns > (double)most) {
		control_reject(s, r, "underruns %.15g is more than one per 100 ms chunk of the "
		    "music so far (at most %llu)", underruns, (unsigned long long)most);
		return false;
	}
	shm_count(s->slot, SHM_STATS_MESSAGES, 1);
	for (int i = 0; i < CONTROL_STAT_COUNT; i++) {
		if (!(m->given & 1u << i))
			continue;
		shm_gauge_set(s->slot, gauge[i], m->stat[i]);
		if (hist[i] >= 0)       /* at most CONTROL_STAT_MS_MAX: the cast is safe */
			shm_observe_us(s->slot, (enum shm_hist)hist[i], (int64_t)(m->stat[i] * 1000));
	}
	if (told && underruns > s->client_underruns) {
		shm_count(s->slot, SHM_UNDERRUNS, (uint64_t)underruns - (uint64_t)s->client_underruns);
		s->client_underruns = underruns;
	}
	return true;
}

/*
 * Reads, checks and applies one control message: line[0..len-1].  A
 * message with an id then waits for the next event to be written, which
 * acks it.
 */
static void
control_line(struct session *s, const char *line, size_t len)
{
	struct control_result r = { .line = s->in_line };
	struct control_msg m;
	int rc = control_parse(line, len, &m, r.message, sizeof r.message);

	if (rc == 0)
		return;                                 /* a blank line says nothing */
	r.has_id = m.has_id;
	r.id = m.id;
	if (rc < 0) {
		control_report(s, &r);
		return;
	}
	if (m.has_id && s->nacks == ACKS_PENDING_MAX) {
		control_reject(s, &r, "more than %d messages are waiting for the music to move on",
		    ACKS_PENDING_MAX);
		return;
	}
	switch (m.type) {
	case CONTROL_CHANGE:
		change_apply(s, &m);
		shm_count(s->slot, SHM_CONTROLS_APPLIED, 1);
		break;
	case CONTROL_PRESET:
		s->preset = m.preset->name;
		params_apply(s, &m.preset->params, &m.preset->params.sounds);
		shm_count(s->slot, SHM_CONTROLS_APPLIED, 1);
		break;
	case CONTROL_STATS:
		if (!stats_apply(s, &m, &r))
			return;
		break;
	case CONTROL_QUALITY:
		/* The bitrate is aur-chunk's: it answers, from the chunk it codes. */
		shm_session_post_quality(s->slot, m.has_id ? m.id : SHM_ID_NONE, (uint32_t)m.kbps);
		return;
	case CONTROL_NONE:
		return;
	}
	if (m.has_id)
		s->acks[s->nacks++] = (struct pending_ack){ .line = r.line, .id = m.id };
}

/*
 * Reads what standard input has and handles each complete line.  A line
 * longer than CONTROL_LINE_MAX is rejected once and skipped to its end,
 * so the buffer never grows.  At the end of the input a last line without
 * a newline still counts.
 */
static void
input_read(struct session *s)
{
	size_t start = 0;
	char *nl;
	ssize_t n = read(STDIN_FILENO, s->in + s->in_len, sizeof s->in - s->in_len);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		warnf("standard input:");
		s->failed = true;
		n = 0;
	}
	if (n == 0) {
		s->in_open = false;
		if (s->in_len && !s->in_skipping) {
			s->in[s->in_len] = '\0';
			s->in_line++;
			control_line(s, s->in, s->in_len);
		}
		s->in_len = 0;
		return;
	}
	s->in_len += (size_t)n;
	while ((nl = memchr(s->in + start, '\n', s->in_len - start))) {
		size_t len = (size_t)(nl - (s->in + start));

		*nl = '\0';
		if (s->in_skipping) {
			s->in_skipping = false;
		} else {
			s->in_line++;
			control_line(s, s->in + start, len);
		}
		start += len + 1;
	}
	s->in_len -= start;
	memmove(s->in, s->in + start, s->in_len);
	if (s->in_len == sizeof s->in) {
		if (!s->in_skipping) {
			struct control_result r = { .line = ++s->in_line };

			control_reject(s, &r, "line is longer than %d bytes", CONTROL_LINE_MAX);
			s->in_skipping = true;
		}
		s->in_len = 0;
	}
}

/* --- pacing --- */

/* When a line at music time t_us is due on the monotonic clock. */
static int64_t
due_ns(const struct session *s, int64_t start_ns, int64_t t_us)
{
	int64_t ahead = t_us - (int64_t)(s->opt->lookahead * COMPOSE_US + 0.5);

	if (t_us <= PREFILL_US || ahead <= 0)
		return start_ns;
	return start_ns + ahead * 1000;
}

/* Sleeps until deadline_ns, or until standard input has something to read. */
static void
wait_for_input(struct session *s, int64_t deadline_ns)
{
	int64_t left_ms = (deadline_ns - clock_now_ns() + 999999) / 1000000;
	int timeout = left_ms <= 0 ? 0 : left_ms > INT_MAX ? INT_MAX : (int)left_ms;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

	if (poll(&pfd, 1, timeout) > 0)
		input_read(s);
}

/* Writes the next line: a tick, or the events of the next step. */
static void
write_next(struct session *s, int64_t next_us)
{
	struct note_event ev[COMPOSE_STEP_EVENTS];
	int n;

	if (s->wrote_any && next_us > s->written_us + TICK_US) {
		struct note_event tick = { .type = NOTE_TICK };

		s->written_us += TICK_US;
		tick.t = (double)s->written_us / COMPOSE_US;
		out_event(s, &tick);
		return;
	}
	n = composer_step(s->composer, ev);
	for (int i = 0; i < n; i++)
		out_event(s, &ev[i]);
	if (n > 0) {
		s->written_us = next_us;
		s->wrote_any = true;
		if (s->nacks)
			acks_answer(s, next_us);
	}
}

/* The line after the last one written: a tick, or the next step. */
static int64_t
line_next_us(const struct session *s, int64_t next_us)
{
	return s->wrote_any && next_us > s->written_us + TICK_US ? s->written_us + TICK_US : next_us;
}

/*
 * The loop: writes lines as they fall due until the composer ends, and
 * in between reads control messages.  A signal or the end of standard
 * input (live) ends the music at the last line written; the end of the
 * output ends the loop at once.
 */
static void
run(struct session *s)
{
	int64_t start_ns = clock_now_ns(), next_us;
	bool stopping = false;

	while (!s->out_end.ended && (next_us = composer_next_us(s->composer)) >= 0) {
		if (!stopping && (stop_signal || (s->opt->live && !s->in_open))) {
			composer_stop(s->composer, s->written_us);
			stopping = true;
			continue;
		}
		if (s->opt->live && !stopping) {
			int64_t due = due_ns(s, start_ns, line_next_us(s, next_us));

			if (clock_now_ns() < due) {
				out_flush(s);
				wait_for_input(s, due);
				continue;
			}
		}
		write_next(s, next_us);
	}
	out_flush(s);
}

/* --- setup --- */

/*
 * --list-presets: compose_presets[] as a JSON array, one object a line, in
 * the table's order (the first is the default).  This is the one list of
 * the presets that the page reads (scripts/run serves it as presets.json)
 * and that scripts and tests compare against.  Exits.
 */
static noreturn void
list_presets(void)
{
	fputs("[\n", stdout);
	for (int i = 0; i < compose_preset_count; i++) {
		const struct compose_preset *p = &compose_presets[i];
		const struct compose_params *q = &p->params;

		printf("{\"name\":\"%s\",\"label\":\"%c%s\",\"key\":\"%s\",\"mode\":\"%s\","
		    "\"bpm\":%.15g,\"intensity\":%.15g,\"default\":%s,"
		    "\"sounds\":{\"piano\":%d,\"pad\":%d,\"layer\":%d}}%s\n",
		    p->name, toupper((unsigned char)p->name[0]), p->name + 1,
		    compose_key_name(q->key), compose_mode_name(q->mode), q->bpm, q->intensity,
		    i == 0 ? "true" : "false", q->sounds.piano, q->sounds.pad, q->sounds.layer,
		    i + 1 < compose_preset_count ? "," : "");
	}
	fputs("]\n", stdout);
	if (fflush(stdout) == EOF || ferror(stdout))
		dief(AUR_EXIT_FAILURE, "standard output:");
	exit(AUR_EXIT_OK);
}

static void
parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_BPM = 256, OPT_LOOKAHEAD, OPT_ACK_LOG, OPT_LIST_PRESETS };
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "bars", required_argument, NULL, 'b' },
		{ "live", no_argument, NULL, 'l' },
		{ "preset", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'm' },
		{ "bpm", required_argument, NULL, OPT_BPM },
		{ "intensity", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 's' },
		{ "lookahead", required_argument, NULL, OPT_LOOKAHEAD },
		{ "ack-log", required_argument, NULL, OPT_ACK_LOG },
		{ "list-presets", no_argument, NULL, OPT_LIST_PRESETS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *mode = NULL, *bpm = NULL, *intensity = NULL;
	const struct compose_preset *preset;
	unsigned long long seed;
	int c, bad = 0, k;
	bool list = false;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":d:b:lp:k:m:i:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			bad |= opt_double("--duration", optarg, 0.001, DURATION_MAX, &opt->duration);
			break;
		case 'b': bad |= opt_long("--bars", optarg, 1, 100000, &opt->bars); break;
		case 'l': opt->live = true; break;
		case 'p': opt->preset = optarg; break;
		case 'k': key = optarg; break;
		case 'm': mode = optarg; break;
		case OPT_BPM: bpm = optarg; break;
		case 'i': intensity = optarg; break;
		case 's':
			bad |= opt_u64("--seed", optarg, &seed);
			opt->seed = seed;
			opt->seed_given = true;
			break;
		case OPT_LOOKAHEAD:
			bad |= opt_double("--lookahead", optarg, 0, 10, &opt->lookahead);
			opt->lookahead_given = true;
			break;
		case OPT_ACK_LOG: opt->ack_log = optarg; break;
		case OPT_LIST_PRESETS: list = true; break;
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-compose %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
	}
	if (optind < argc) {
		warnf("unexpected argument '%s'", argv[optind]);
		usage_exit(usage_text);
	}
	if (list) {
		if (bad)
			usage_exit(usage_text);
		list_presets();
	}

	/* The preset first, then what was given explicitly. */
	preset = opt->preset ? compose_preset_find(opt->preset) : &compose_presets[0];
	if (!preset) {
		char names[COMPOSE_PRESET_NAMES_MAX];

		warnf("--preset: expected %s, not '%s'",
		    compose_preset_names(names, sizeof names), opt->preset);
		bad = 1;
		preset = &compose_presets[0];
	}
	opt->preset = preset->name;
	opt->params = preset->params;
	if (key && (k = compose_key_parse(key)) < 0) {
		warnf("--key: expected C, C#, Db, D, D#, Eb, E, F, F#, Gb, G, G#, Ab, A, A#, Bb or B, "
		    "not '%s'", key);
		bad = 1;
	} else if (key) {
		opt->params.key = k;
	}
	if (mode && (k = compose_mode_parse(mode)) < 0) {
		warnf("--mode: expected ionian, dorian, phrygian, lydian, mixolydian or aeolian "
		    "(or major, minor), not '%s'", mode);
		bad = 1;
	} else if (mode) {
		opt->params.mode = k;
	}
	if (bpm)
		bad |= opt_double("--bpm", bpm, COMPOSE_BPM_MIN, COMPOSE_BPM_MAX, &opt->params.bpm);
	if (intensity)
		bad |= opt_double("--intensity", intensity, 0, 1, &opt->params.intensity);

	if (opt->duration && opt->bars) {
		warnf("--duration and --bars exclude each other");
		bad = 1;
	}
	if (!opt->duration && !opt->bars && !opt->live) {
		warnf("how much music? give --duration, --bars or --live");
		bad = 1;
	}
	if (!opt->live && (opt->ack_log || opt->lookahead_given)) {
		warnf("%s needs --live", opt->ack_log ? "--ack-log" : "--lookahead");
		bad = 1;
	}
	if (bad)
		usage_exit(usage_text);
	if (opt->duration)
		opt->end_us = (int64_t)(opt->duration * COMPOSE_US + 0.5);
	if (opt->bars)
		opt->end_us = (int64_t)(opt->bars * 4 * 60.0 * COMPOSE_US / opt->params.bpm + 0.5);
}

/* A seed nobody chose: the clocks and the process id, mixed. */
static uint64_t
seed_from_clock(void)
{
	uint64_t x = (uint64_t)clock_unix_ms() * 0x9e3779b97f4a7c15u;

	x ^= (uint64_t)clock_now_ns() + ((uint64_t)getpid() << 32);
	x ^= x >> 29;
	return x % 1000000000000u;              /* a seed a person can type */
}

static void
write_header(struct session *s)
{
	const struct options *opt = s->opt;
	char line[256];
	int n;

	n = snprintf(line, sizeof line,
	    NOTE_HEADER "\n# aur-compose %s seed=%llu key=%s mode=%s bpm=%.15g intensity=%.15g preset=%s",
	    AURALIS_VERSION, (unsigned long long)opt->seed, compose_key_name(opt->params.key),
	    compose_mode_name(opt->params.mode), opt->params.bpm, opt->params.intensity, opt->preset);
	out_text(s, line, (size_t)n);
	if (opt->bars)
		n = snprintf(line, sizeof line, " bars=%ld\n", opt->bars);
	else if (opt->duration)
		n = snprintf(line, sizeof line, " duration=%.15g\n", opt->duration);
	else
		n = snprintf(line, sizeof line, "\n");
	out_text(s, line, (size_t)n);
}

int
main(int argc, char **argv)
{
	static struct session s;
	struct options opt = { .lookahead = STREAM_LOOKAHEAD_US / 1e6 };

	err_init(argv[0]);
	parse_options(argc, argv, &opt);
	atexit(reject_log_unreported);
	if (!opt.seed_given)
		opt.seed = seed_from_clock();
	stop_on_signals();

	s.opt = &opt;
	s.ack_fd = -1;
	s.in_open = opt.live;
	if (opt.ack_log &&
	    (s.ack_fd = open(opt.ack_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
		dief(AUR_EXIT_FAILURE, "%s:", opt.ack_log);
	if (!(s.composer = composer_new(&opt.params, opt.seed, opt.end_us)))
		dief(AUR_EXIT_FAILURE, "out of memory");

	s.slot = shm_attach(SHM_ROLE_COMPOSE, getenv("AURALIS_SESSION"));
	s.preset = opt.preset;
	detail_publish(&s);
	write_header(&s);
	run(&s);
	/* Give aur-chunk a moment to take the last answers before the slot goes. */
	for (int i = 0; i < 50 && s.slot && shm_session_unread(s.slot) > 0; i++)
		clock_sleep_until(clock_now_ns() + 2000000);

	composer_free(s.composer);
	if (s.ack_fd >= 0 && close(s.ack_fd) < 0)
		dief(AUR_EXIT_FAILURE, "%s:", opt.ack_log);
	if (stop_signal)
		return 128 + stop_signal;
	if (s.out_end.ended)
		return s.out_end.status;
	return s.failed ? AUR_EXIT_FAILURE : AUR_EXIT_OK;
}
