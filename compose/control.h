/*
 * control.h - the control messages a browser sends to aur-compose
 * (docs/protocol.md): one JSON object a line, checked into a plain struct,
 * and the answers to them in the protocol's form.
 *
 * Parsing is pure: no session, no clock, no I/O, so the same checks serve
 * aur-compose, the unit tests and the fuzzer.  What a message does to the
 * music, the pending acks and the counters stays in cmd/aur-compose.c;
 * the answers are written by jsonout_answer (common/jsonout.h).
 */
#ifndef AUR_CONTROL_H
#define AUR_CONTROL_H

/* Ids a browser can hold exactly (JavaScript's safe integers). */
#define CONTROL_ID_MAX 9007199254740991LL

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compose.h"

#define CONTROL_LINE_MAX 65536          /* bytes of a message, without its newline */
#define CONTROL_ERROR_MAX 256           /* bytes of a rejection, with its NUL */

enum control_type {
	CONTROL_NONE,           /* nothing: a blank line, or a rejected message */
	CONTROL_CHANGE,         /* "type":"control": key, mode, bpm, intensity */
	CONTROL_PRESET,         /* "type":"preset": a preset by name */
	CONTROL_STATS,          /* "type":"stats": the client's health */
	CONTROL_QUALITY,        /* "type":"quality": the Opus bitrate */
};


/* Bits of control_msg.given for a CONTROL_CHANGE: the fields the message sets. */
enum {
	CONTROL_KEY = 1 << 0,
	CONTROL_MODE = 1 << 1,
	CONTROL_BPM = 1 << 2,
	CONTROL_INTENSITY = 1 << 3,
};

/* The figures of a stats message; bit 1 << i of control_msg.given says stat[i] is there. */
enum control_stat {
	CONTROL_STAT_BUFFER_MS,
	CONTROL_STAT_UNDERRUNS,
	CONTROL_STAT_JITTER_MS,
	CONTROL_STAT_LATENCY_MS,
	CONTROL_STAT_COUNT
};

/*
 * What a client can truthfully report (docs/protocol.md, stats): no
 * millisecond figure is over a minute, and a client cannot run dry more
 * than once a chunk.  A stats message past them is rejected whole.
 */
#define CONTROL_STAT_MS_MAX 60000.0             /* buffer_ms, jitter_ms, latency_ms */
#define CONTROL_CHUNK_US 100000                 /* the stream's chunk: 100 ms */

/*
 * The most underruns a client can have had when music_us microseconds of
 * music have been written for it: one for each chunk begun, the first
 * included.  0 for nothing written.
 */
uint64_t control_underruns_max(int64_t music_us);

struct control_msg {
	enum control_type type;
	bool has_id;                    /* an integer id, which the answer repeats */
	int64_t id;
	unsigned given;                 /* CHANGE: CONTROL_KEY...; STATS: 1 << control_stat */

	/* CONTROL_CHANGE, each where given */
	int key;                        /* pitch class 0..11 */
	enum compose_mode mode;
	double bpm;                     /* COMPOSE_BPM_MIN..COMPOSE_BPM_MAX */
	double intensity;               /* 0..1 */

	/* CONTROL_PRESET */
	const struct compose_preset *preset;    /* one of compose_presets[] */

	/* CONTROL_STATS, each where given: >= 0, and <= CONTROL_STAT_MS_MAX for the _ms figures */
	double stat[CONTROL_STAT_COUNT];

	/* CONTROL_QUALITY */
	int kbps;                       /* OPUS_STREAM_KBPS_MIN..OPUS_STREAM_KBPS_MAX */
};

/*
 * Checks one message, line[0..len-1] without its newline (it need not be
 * NUL-terminated; a NUL byte inside is an error).  Returns 1 with *msg
 * filled for a good message, 0 for a blank line (spaces, tabs and \r only:
 * no message, no answer), -1 for a bad one with the reason in err[errlen]
 * (CONTROL_ERROR_MAX is enough), printable ASCII, as docs/composer.md and
 * tests/cli/compose.bats give them.  A bad message still sets msg->has_id
 * and msg->id when its id was usable, so that the answer can name it;
 * nothing else of *msg is meaningful then.
 */
int control_parse(const char *line, size_t len, struct control_msg *msg, char *err, size_t errlen);

/* The field name of a stats figure: "buffer_ms", "underruns", ... */
const char *control_stat_name(enum control_stat stat);

#endif
