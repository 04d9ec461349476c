/*
 * aur-chunk - frame raw PCM into the browser protocol's JSON messages.
 *
 * Standard input is raw s16le interleaved PCM from aur-render; standard
 * output gets one JSON message a line (docs/protocol.md): a hello, then an
 * audio message for every chunk (100 ms by default), each line written
 * whole with one write and so flushed at once.  The chunk's audio is the
 * PCM itself in base64, or with --codec opus its 20 ms Opus packets, each
 * in base64, from one encoder for the whole stream.
 *
 * aur-chunk has no clock of its own to pace by (DESIGN.md, decision 2): it
 * blocks in read(2) until a whole chunk is buffered and sends it at once.
 * It does read the clock to measure: the stream starts when the first byte
 * arrives, chunk seq is due at start + seq * chunk (at start for chunks
 * inside the prefill, which the composer sends all at once), and the
 * lateness of each chunk goes into a histogram and, past 150 ms, the
 * late-chunk counter of its shared-memory slot.
 *
 * Acknowledgements and errors for control messages come from aur-compose
 * through the session ring in shared memory.  Before each chunk the ring
 * is drained: errors go out with that chunk, and an ack waits for the
 * first chunk that contains its music time, so that the browser hears the
 * change when it reads the ack.  All lines for one chunk go out in one
 * write.  A request for another Opus bitrate comes the same way; it is
 * applied to the chunk about to be coded and acknowledged after it.  The
 * answers are written by common/jsonout.c, as aur-compose's --ack-log is.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base64.h"
#include "clock.h"
#include "config.h"
#include "detail.h"
#include "err.h"
#include "io.h"
#include "jsonout.h"
#include "opt.h"
#include "opusstream.h"
#include "rng.h"
#include "shm.h"
#include "stop.h"
#include "stream.h"

#define PROTOCOL_VERSION 1
#define LATE_NS (150 * 1000000LL)       /* a chunk sent later than due + this is late */
#define PENDING_MAX 64                  /* acks waiting for their chunk */
#define LINE_SLACK 256                  /* an audio line without its data */
#define ACK_LINE_MAX 96                 /* jsonout_answer's longest ack, with room */
#define PACKET_B64_MAX (4 * ((OPUS_STREAM_PACKET_MAX + 2) / 3))

static const char usage_text[] =
	"usage: aur-chunk [options] < PCM\n"
	"\n"
	"Frame raw s16le interleaved PCM from standard input into the browser\n"
	"protocol (docs/protocol.md): one JSON message a line on standard output,\n"
	"a hello first, then an audio message per chunk with the PCM in base64,\n"
	"and the session's control acks and errors in audio order.  A last partial\n"
	"chunk is padded with silence and marked \"last\":true with its \"frames\".\n"
	"With --codec opus each audio message carries the chunk's 20 ms Opus\n"
	"packets instead, in base64, and the bitrate may change on request.\n"
	"\n"
	"options:\n"
	"  -C, --codec NAME       pcm (default) or opus\n"
	"  -b, --kbps N           Opus bitrate to start at, 6..510 kbit/s (default 96)\n"
	"  -x, --complexity N     Opus encoder effort, 0..10 (default 4)\n"
	"  -r, --rate HZ          sample rate, 8000..192000 (default 44100; Opus takes\n"
	"                         8000, 12000, 16000, 24000 or 48000, default 48000)\n"
	"  -c, --channels N       interleaved channels, 1..8 (default 2)\n"
	"  -m, --chunk-ms MS      chunk length, 10..1000 ms, a whole number of frames\n"
	"                         (Opus: of 20 ms packets) (default 100)\n"
	"  -p, --prefill SECONDS  music the composer sends at once, 0..10 (default 0.3):\n"
	"                         chunks inside it are due at the start\n"
	"  -s, --session ID       session id, 1..64 bytes (default $AURALIS_SESSION,\n"
	"                         else a random one)\n"
	"  -t, --stall-timeout SECONDS  give up on a reader that takes nothing for\n"
	"                         this long, 0..3600, 0 never (default 10)\n"
	"  -n, --playing-nice N   once a second of music is sent, lower this process's\n"
	"                         priority by N nice steps, 0..19 (default 0): a live\n"
	"                         stream that plays yields to those that start\n"
	"  -h, --help             show this help\n"
	"  -V, --version          show the version\n"
	"\n"
	"environment: AURALIS_SESSION (the session id that aur-compose posts acks\n"
	"under), AURALIS_SHM (shared memory name, default /auralis-UID).\n"
	"\n"
	"When the node drains (aur-stat --drain), a stream that starts gets only a\n"
	"bye message, and a stream under way gets one after its chunk at the move\n"
	"time; either then ends with status 0.\n"
	"\n"
	"exit status: 0 end of input, or a bye sent (also when the reader of the\n"
	"output went away), 1 runtime failure or a stalled reader, 2 usage, 3 the input\n"
	"ended inside a frame (the stray bytes are dropped), 130/143 interrupted.\n";

enum codec { CODEC_PCM, CODEC_OPUS };

static const char *const codec_names[] = { [CODEC_PCM] = "pcm", [CODEC_OPUS] = "opus" };

struct options {
	enum codec codec;
	long kbps;
	long complexity;
	long rate;
	long channels;
	long chunk_ms;
	double prefill;
	double stall_timeout;   /* seconds; 0: wait for the reader for ever */
	const char *session;
	long playing_nice;
};

/* An ack waiting for the chunk that holds its music time. */
struct pending_ack {
	int64_t id;
	int64_t frame;          /* round(t * rate) */
	double t;
};

struct chunker {
	const struct options *opt;
	int playing_nice;       /* --playing-nice until the stream plays, then 0 */
	size_t frames;          /* frames per chunk */
	size_t frame_bytes;
	size_t chunk_bytes;
	unsigned char *pcm;     /* one chunk */
	char *out;              /* the lines of one chunk */
	size_t out_len, out_cap;
	uint64_t seq;           /* of the next chunk */
	int64_t start_ns;       /* first data arrival; 0 before */
	struct pending_ack pending[PENDING_MAX];
	int npending;
	struct shm_record errors[SHM_RING_RECORDS + 1]; /* for the chunk being sent */
	int nerrors;
	struct shm_slot *slot;
	uint64_t drops_told;    /* ring drops already reported */
	struct opus_stream *opus; /* --codec opus */
	struct out_end out_end; /* standard output failed or its reader left */
};

static void
parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "codec", required_argument, NULL, 'C' },
		{ "kbps", required_argument, NULL, 'b' },
		{ "complexity", required_argument, NULL, 'x' },
		{ "rate", required_argument, NULL, 'r' },
		{ "channels", required_argument, NULL, 'c' },
		{ "chunk-ms", required_argument, NULL, 'm' },
		{ "prefill", required_argument, NULL, 'p' },
		{ "session", required_argument, NULL, 's' },
		{ "stall-timeout", required_argument, NULL, 't' },
		{ "playing-nice", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	bool kbps_given = false, complexity_given = false;
	const char *env;
	int c;

	*opt = (struct options){
		.codec = CODEC_PCM, .kbps = OPUS_STREAM_KBPS, .complexity = OPUS_STREAM_COMPLEXITY,
		.channels = 2, .chunk_ms = STREAM_CHUNK_MS, .prefill = STREAM_PREFILL_US / 1e6, .stall_timeout = 10,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":C:b:x:r:c:m:p:s:t:n:hV", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'C':
			if (!strcmp(optarg, "pcm")) {
				opt->codec = CODEC_PCM;
			} else if (!strcmp(optarg, "opus")) {
				opt->codec = CODEC_OPUS;
			} else {
				warnf("--codec: expected pcm or opus, not '%s'", optarg);
				bad = 1;
			}
			break;
		case 'b':
			bad = opt_long("--kbps", optarg, OPUS_STREAM_KBPS_MIN, OPUS_STREAM_KBPS_MAX, &opt->kbps);
			kbps_given = true;
			break;
		case 'x':
			bad = opt_long("--complexity", optarg, 0, 10, &opt->complexity);
			complexity_given = true;
			break;
		case 'r': bad = opt_long("--rate", optarg, 8000, 192000, &opt->rate); break;
		case 'c': bad = opt_long("--channels", optarg, 1, 8, &opt->channels); break;
		case 'm': bad = opt_long("--chunk-ms", optarg, 10, 1000, &opt->chunk_ms); break;
		case 'p': bad = opt_double("--prefill", optarg, 0, 10, &opt->prefill); break;
		case 's': opt->session = optarg; break;
		case 't': bad = opt_double("--stall-timeout", optarg, 0, 3600, &opt->stall_timeout); break;
		case 'n': bad = opt_long("--playing-nice", optarg, 0, 19, &opt->playing_nice); break;
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-chunk %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
		if (bad)
			usage_exit(usage_text);
	}
	if (optind < argc) {
		warnf("unexpected argument '%s'", argv[optind]);
		usage_exit(usage_text);
	}
	if (!opt->rate)
		opt->rate = opt->codec == CODEC_OPUS ? 48000 : 44100;
	if (opt->codec == CODEC_PCM && (kbps_given || complexity_given)) {
		warnf("%s: only for --codec opus", kbps_given ? "--kbps" : "--complexity");
		usage_exit(usage_text);
	}
	if (opt->codec == CODEC_OPUS && !opus_stream_rate_ok(opt->rate)) {
		warnf("--rate: Opus takes 8000, 12000, 16000, 24000 or 48000, not %ld", opt->rate);
		usage_exit(usage_text);
	}
	if (opt->codec == CODEC_OPUS && opt->channels > 2) {
		warnf("--channels: Opus here codes 1 or 2, not %ld", opt->channels);
		usage_exit(usage_text);
	}
	if (opt->codec == CODEC_OPUS && opt->chunk_ms % OPUS_STREAM_FRAME_MS) {
		warnf("--chunk-ms: %ld ms is not a whole number of %d ms Opus packets",
			opt->chunk_ms, OPUS_STREAM_FRAME_MS);
		usage_exit(usage_text);
	}
	if (opt->rate * opt->chunk_ms % 1000) {
		warnf("--chunk-ms: %ld ms is not a whole number of frames at %ld Hz",
			opt->chunk_ms, opt->rate);
		usage_exit(usage_text);
	}
	if (!opt->session && (env = getenv("AURALIS_SESSION")) && *env)
		opt->session = env;
	if (opt->session && (!*opt->session || strlen(opt->session) > SHM_SESSION_MAX)) {
		warnf("--session: expected 1..%d bytes, not '%s'", SHM_SESSION_MAX, opt->session);
		usage_exit(usage_text);
	}
}

/* A new session id: 32 hex digits from the kernel's random source. */
static void
session_generate(char id[33])
{
	unsigned char bytes[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != (ssize_t)sizeof bytes) {
		struct rng rng;

		rng_seed(&rng, (uint64_t)clock_now_ns() ^ (uint64_t)getpid() << 40);
		for (size_t i = 0; i < sizeof bytes; i++)
			bytes[i] = (unsigned char)rng_next(&rng);
	}
	for (size_t i = 0; i < sizeof bytes; i++) {
		id[2 * i] = hex[bytes[i] >> 4];
		id[2 * i + 1] = hex[bytes[i] & 15];
	}
	id[32] = '\0';
}

/* Output lines.  The buffer is sized for the most one chunk can need. */

static void
out_add(struct chunker *ck, const char *s, size_t n)
{
	if (n > ck->out_cap - ck->out_len)
		n = ck->out_cap - ck->out_len;  /* cannot happen: out_cap is a bound */
	memcpy(ck->out + ck->out_len, s, n);
	ck->out_len += n;
}

static void __attribute__((format(printf, 2, 3)))
out_printf(struct chunker *ck, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(ck->out + ck->out_len, ck->out_cap - ck->out_len, fmt, ap);
	va_end(ap);
	/* out_cap bounds what one chunk writes, so this never truncates. */
	if (n > 0 && (size_t)n < ck->out_cap - ck->out_len)
		ck->out_len += (size_t)n;
}

/* Appends s as a JSON string (common/jsonout.h), at most max bytes of it. */
static void
out_string(struct chunker *ck, const char *s, size_t max)
{
	ck->out_len += jsonout_string(ck->out + ck->out_len, ck->out_cap - ck->out_len, s, max);
}

/* Appends a time in seconds: 0.25, 3. */
static void
out_seconds(struct chunker *ck, double t)
{
	ck->out_len += jsonout_seconds(ck->out + ck->out_len, ck->out_cap - ck->out_len, t);
}

/* Appends the answer to a control message (common/jsonout.h). */
static void
out_answer(struct chunker *ck, int64_t id, double t, const char *message)
{
	ck->out_len += jsonout_answer(ck->out + ck->out_len, ck->out_cap - ck->out_len,
	    id != SHM_ID_NONE, id, t, message);
}

static int
write_out(struct chunker *ck)
{
	int stall_ms = ck->opt->stall_timeout > 0 ? (int)(ck->opt->stall_timeout * 1000) : -1;
	int r = write_full_within(STDOUT_FILENO, ck->out, ck->out_len, &stop_signal, stall_ms);

	if (r == 0)
		shm_count(ck->slot, SHM_BYTES, ck->out_len);
	ck->out_len = 0;
	return r;
}

static void
hello(struct chunker *ck, const char *session)
{
	out_printf(ck, "{\"type\":\"hello\",\"version\":%d,\"codec\":\"%s\",\"sample_rate\":%ld,"
		"\"channels\":%ld,\"chunk_ms\":%ld,", PROTOCOL_VERSION, codec_names[ck->opt->codec],
		ck->opt->rate, ck->opt->channels, ck->opt->chunk_ms);
	if (ck->opus)
		out_printf(ck, "\"frame_ms\":%d,\"pre_skip\":%d,\"kbps\":%d,", OPUS_STREAM_FRAME_MS,
			opus_stream_pre_skip(ck->opus), opus_stream_kbps(ck->opus));
	out_add(ck, "\"session\":", 10);
	out_string(ck, session, SHM_SESSION_MAX);
	out_add(ck, "}\n", 2);
}

/*
 * A draining node's word to the listener: go, and connect again at once
 * (docs/protocol.md, "bye").  Returns as write_out.
 */
static int
bye(struct chunker *ck)
{
	static const char line[] = "{\"type\":\"bye\",\"reason\":\"draining\",\"reconnect\":true}\n";

	out_add(ck, line, sizeof line - 1);
	return write_out(ck);
}

/* Keeps an ack until the chunk that holds its music time. */
static void
ack_hold(struct chunker *ck, const struct shm_record *rec)
{
	double t = isfinite(rec->t) && rec->t > 0 ? rec->t : 0;
	struct pending_ack *a = &ck->pending[ck->npending++];

	a->id = rec->id;
	a->t = rec->t;
	a->frame = (int64_t)llround(fmin(t, 1e9) * (double)ck->opt->rate);
}

/* Keeps an error for the chunk being sent. */
static void
error_hold(struct chunker *ck, int64_t id, const char *message)
{
	struct shm_record *e = &ck->errors[ck->nerrors++];

	e->id = id;
	snprintf(e->message, sizeof e->message, "%s", message);
}

/* Shows aur-stat the stream's codec and bitrate, in the slot's detail. */
static void
coding_publish(struct chunker *ck)
{
	char text[SHM_DETAIL_MAX + 1];
	struct detail d;

	detail_clear(&d);
	snprintf(d.codec, sizeof d.codec, "%s", codec_names[ck->opt->codec]);
	if (ck->opus)
		d.kbps = opus_stream_kbps(ck->opus);
	detail_format(text, sizeof text, &d);
	shm_set_detail(ck->slot, text);
}

/*
 * The music time of chunk seq's first frame, in seconds: whole seconds and
 * milliseconds apart, so that 0.1, 0.2 ... print as written.
 */
static double
chunk_seconds(const struct chunker *ck, uint64_t seq)
{
	int64_t t_ms = (int64_t)seq * ck->opt->chunk_ms;

	return (double)(t_ms / 1000) + (double)(t_ms % 1000) / 1000;
}

/*
 * A request for another bitrate: the Opus encoder takes it from the chunk
 * about to be coded, seq, whose music time the ack names.
 */
static void
quality_apply(struct chunker *ck, const struct shm_record *rec)
{
	struct shm_record ack = { .kind = SHM_RECORD_ACK, .id = rec->id };

	if (!ck->opus) {
		error_hold(ck, rec->id, "quality: this stream is PCM, which has no bitrate to set "
		    "(ask for codec=opus)");
		return;
	}
	if (opus_stream_set_kbps(ck->opus, (int)rec->kbps) < 0) {
		char msg[96];

		snprintf(msg, sizeof msg, "kbps %u is out of %d..%d", rec->kbps,
		    OPUS_STREAM_KBPS_MIN, OPUS_STREAM_KBPS_MAX);
		error_hold(ck, rec->id, msg);
		return;
	}
	coding_publish(ck);
	if (rec->id == SHM_ID_NONE)
		return;
	ack.t = chunk_seconds(ck, ck->seq);
	ack_hold(ck, &ack);
}

/* Writes the held errors. */
static void
errors_out(struct chunker *ck)
{
	for (int i = 0; i < ck->nerrors; i++) {
		out_answer(ck, ck->errors[i].id, 0, ck->errors[i].message);
		shm_count(ck->slot, SHM_ERRORS, 1);
	}
	ck->nerrors = 0;
}

/*
 * Drains the session ring: errors go out with this chunk, acks wait in
 * pending[] for theirs.  Stops while pending[] is full, which leaves the
 * rest in the ring, where the producer counts what no longer fits.
 */
static void
drain_ring(struct chunker *ck)
{
	struct shm_record rec;
	uint64_t dropped;

	for (int i = 0; i < SHM_RING_RECORDS && ck->npending < PENDING_MAX; i++) {
		if (shm_session_poll(ck->slot, &rec) != 1)
			break;
		if (rec.kind == SHM_RECORD_ACK)
			ack_hold(ck, &rec);
		else if (rec.kind == SHM_RECORD_QUALITY)
			quality_apply(ck, &rec);
		else
			error_hold(ck, rec.id, rec.message);
	}
	dropped = shm_session_dropped(ck->slot);
	if (dropped > ck->drops_told) {
		char msg[128];

		snprintf(msg, sizeof msg, "%llu control replies were lost: the session ring was full",
			(unsigned long long)(dropped - ck->drops_told));
		error_hold(ck, SHM_ID_NONE, msg);
		ck->drops_told = dropped;
	} else if (dropped < ck->drops_told) {
		ck->drops_told = dropped;       /* a new composer for the session */
	}
}

/* Writes the acks whose music time falls before end_frame, in order. */
static void
acks_through(struct chunker *ck, int64_t end_frame)
{
	int kept = 0;

	for (int i = 0; i < ck->npending; i++) {
		struct pending_ack *a = &ck->pending[i];

		if (a->frame < end_frame) {
			out_answer(ck, a->id, a->t, NULL);
			shm_count(ck->slot, SHM_ACKS, 1);
		} else {
			ck->pending[kept++] = *a;
		}
	}
	ck->npending = kept;
}

/* When chunk seq is due, by the clock of the first data arrival. */
static int64_t
chunk_due_ns(const struct chunker *ck, uint64_t seq)
{
	int64_t t_ns = (int64_t)seq * ck->opt->chunk_ms * 1000000;

	return ck->start_ns + (t_ns < (int64_t)llround(ck->opt->prefill * 1e9) ? 0 : t_ns);
}

/*
 * Appends the chunk's Opus packets as "packets":["...",...].  Returns 0,
 * or -1 when the encoder fails.
 */
static int
packets_out(struct chunker *ck)
{
	size_t step = opus_stream_frame_frames(ck->opus) * ck->frame_bytes;
	unsigned char packet[OPUS_STREAM_PACKET_MAX];

	out_add(ck, "\"packets\":[", 11);
	for (size_t off = 0; off < ck->chunk_bytes; off += step) {
		int n = opus_stream_encode(ck->opus, ck->pcm + off, packet);

		if (n < 0)
			return -1;
		out_add(ck, off ? ",\"" : "\"", off ? 2 : 1);
		ck->out_len += base64_encode(ck->out + ck->out_len, packet, (size_t)n);
		out_add(ck, "\"", 1);
	}
	out_add(ck, "]", 1);
	return 0;
}

/*
 * Sends the chunk in ck->pcm holding `frames` real frames (the rest is
 * padding when last): the audio line, the acks it reaches, the errors.
 * The ring is drained first, so that a new bitrate applies to this chunk.
 * Returns 0, -1 with errno from the write, or -2 when the encoder fails.
 */
static int
send_chunk(struct chunker *ck, size_t frames, bool last)
{
	uint64_t seq = ck->seq;
	int64_t t_ms = (int64_t)seq * ck->opt->chunk_ms;
	int64_t now, late;
	int r;

	drain_ring(ck);
	out_printf(ck, "{\"type\":\"audio\",\"seq\":%llu,\"t\":", (unsigned long long)seq);
	out_seconds(ck, chunk_seconds(ck, seq));
	out_printf(ck, ",\"timestamp\":%lld,\"duration_ms\":%ld,\"sample_rate\":%ld,"
		"\"channels\":%ld,", (long long)clock_unix_ms(), ck->opt->chunk_ms,
		ck->opt->rate, ck->opt->channels);
	if (last)
		out_printf(ck, "\"last\":true,\"frames\":%zu,", frames);
	if (ck->opus) {
		out_printf(ck, "\"kbps\":%d,", opus_stream_kbps(ck->opus));
		if (packets_out(ck) < 0) {
			ck->out_len = 0;
			return -2;
		}
		out_add(ck, "}\n", 2);
	} else {
		out_add(ck, "\"data\":\"", 8);
		ck->out_len += base64_encode(ck->out + ck->out_len, ck->pcm, ck->chunk_bytes);
		out_add(ck, "\"}\n", 3);
	}

	acks_through(ck, (int64_t)((seq + 1) * ck->frames));
	errors_out(ck);

	r = write_out(ck);
	now = clock_now_ns();
	if (r < 0)
		return -1;
	late = now - chunk_due_ns(ck, seq);
	shm_count(ck->slot, SHM_CHUNKS, 1);
	shm_observe_us(ck->slot, SHM_HIST_LATENESS, late / 1000);
	if (late > LATE_NS)
		shm_count(ck->slot, SHM_CHUNKS_LATE, 1);
	shm_gauge_set(ck->slot, SHM_GAUGE_MUSIC_S, (double)(t_ms + ck->opt->chunk_ms) / 1000);
	ck->seq++;
	stream_playing_check(&ck->playing_nice, (int64_t)ck->seq * ck->opt->chunk_ms);
	return 0;
}

/*
 * Reads until buf holds want bytes.  Returns 1 when it does, 0 at the end
 * of the input (*got says how much came), -1 on a read error, -2 when a
 * signal asked us to stop.
 */
static int
read_chunk(struct chunker *ck, size_t *got)
{
	*got = 0;
	while (*got < ck->chunk_bytes) {
		ssize_t n;

		if (stop_signal)
			return -2;
		n = read(STDIN_FILENO, ck->pcm + *got, ck->chunk_bytes - *got);
		if (stop_signal)
			return -2;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		if (ck->start_ns == 0)
			ck->start_ns = clock_now_ns();
		*got += (size_t)n;
	}
	return 1;
}

/*
 * The exit status after a write that failed: the Opus encoder's (sent is
 * -2) or the output's (-1, errno set), which ends the stream the one way
 * every tool ends it (out_end_note); a stalled reader is named first.
 */
static int
write_failed(struct chunker *ck, int sent)
{
	if (sent == -2) {
		warnf("the Opus encoder failed on chunk %llu", (unsigned long long)ck->seq);
		return AUR_EXIT_FAILURE;
	}
	if (errno == ETIMEDOUT && !ck->out_end.ended) {
		warnf("standard output: the reader took nothing for %g s; dropping the stream",
		    ck->opt->stall_timeout);
		ck->out_end.ended = true;
		ck->out_end.status = AUR_EXIT_FAILURE;
	}
	return out_end_note(&ck->out_end, errno, stop_signal);
}

/* The stream: hello, every chunk, the last one.  Returns the exit status. */
static int
stream(struct chunker *ck, const char *session)
{
	size_t got, stray;
	int r, sent;

	/* A node that drains takes no new listener: it sends it on at once. */
	if (shm_drain_state(ck->slot) != SHM_SERVING)
		return bye(ck) < 0 ? write_failed(ck, -1) : AUR_EXIT_OK;
	hello(ck, session);
	if (write_out(ck) < 0)
		return write_failed(ck, -1);
	while ((r = read_chunk(ck, &got)) == 1) {
		if ((sent = send_chunk(ck, ck->frames, false)) < 0)
			return write_failed(ck, sent);
		if (shm_drain_state(ck->slot) == SHM_MOVING)
			return bye(ck) < 0 ? write_failed(ck, -1) : AUR_EXIT_OK;
	}
	if (r == -2)
		return 128 + stop_signal;
	if (r == -1) {
		warnf("standard input:");
		return AUR_EXIT_FAILURE;
	}
	stray = got % ck->frame_bytes;
	if (got >= ck->frame_bytes) {
		memset(ck->pcm + got - stray, 0, ck->chunk_bytes - (got - stray));
		if ((sent = send_chunk(ck, got / ck->frame_bytes, true)) < 0)
			return write_failed(ck, sent);
	}
	if (stray) {
		warnf("standard input: the input ended inside a frame: %zu stray bytes dropped", stray);
		return AUR_EXIT_DATA;
	}
	return AUR_EXIT_OK;
}

int
main(int argc, char **argv)
{
	struct options opt;
	struct chunker ck = { .opt = &opt };
	char generated[33], err[160];
	int status;

	err_init(argv[0]);
	parse_options(argc, argv, &opt);
	stop_on_signals();      /* no SA_RESTART: a signal interrupts a blocking read */
	if (!opt.session) {
		session_generate(generated);
		opt.session = generated;
	}

	ck.playing_nice = (int)opt.playing_nice;
	ck.frames = (size_t)(opt.rate * opt.chunk_ms / 1000);
	ck.frame_bytes = 2 * (size_t)opt.channels;
	ck.chunk_bytes = ck.frames * ck.frame_bytes;
	ck.out_cap = LINE_SLACK + PENDING_MAX * ACK_LINE_MAX + (SHM_RING_RECORDS + 1) * JSONOUT_ANSWER_MAX;
	if (opt.codec == CODEC_OPUS) {
		ck.opus = opus_stream_new(opt.rate, (int)opt.channels, (int)opt.kbps,
		    (int)opt.complexity, err, sizeof err);
		if (!ck.opus)
			dief(AUR_EXIT_FAILURE, "%s", err);
		ck.out_cap += (size_t)(opt.chunk_ms / OPUS_STREAM_FRAME_MS) * (PACKET_B64_MAX + 3);
	} else {
		ck.out_cap += base64_encoded_len(ck.chunk_bytes);
	}
	ck.pcm = malloc(ck.chunk_bytes);
	ck.out = malloc(ck.out_cap);
	if (!ck.pcm || !ck.out)
		dief(AUR_EXIT_FAILURE, "out of memory");

	ck.slot = shm_attach(SHM_ROLE_CHUNK, opt.session);
	coding_publish(&ck);
	status = stream(&ck, opt.session);
	opus_stream_free(ck.opus);
	free(ck.pcm);
	free(ck.out);
	return status;
}
