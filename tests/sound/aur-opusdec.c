/*
 * aur-opusdec - decode an Opus stream of the browser protocol, as a
 * browser does, for the tests and scripts/bench.
 *
 * Standard input is what aur-chunk --codec opus writes (docs/protocol.md):
 * a hello, then audio messages whose packets are fed, in order, to one
 * libopus decoder.  The first pre_skip frames decoded are dropped, so that
 * frame round(t x rate) of the output is music time t; the output is
 * s16le interleaved PCM on standard output (or a WAV file with --wav).
 * Other messages (acks, errors) pass by.
 *
 * It checks what a client relies on, and fails (exit 1) naming the line:
 * a hello with codec opus first, seq from 0 without a gap, chunk_ms /
 * frame_ms packets of valid base64 in each audio message, each decoding
 * to frame_ms of audio.  At the end one JSON line goes to standard error:
 * {"chunks":N,"bytes":B,"kbps":[K,...]} with B the packets' bytes and
 * the bitrates the audio messages named, each once, in order.
 *
 * With --ref FILE (s16le PCM at the stream's rate and channels: the same
 * music, rendered without the codec) the figures gain "snr_db": the
 * energy of the reference over the energy of the difference, sample by
 * sample over the frames both have.  It is only high when the decoded
 * stream lines up with the reference to the frame.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <opus.h>
#include <sndfile.h>

#include "base64.h"
#include "err.h"

#define KBPS_SEEN_MAX 64

struct decoder {
	OpusDecoder *dec;
	long rate;
	int channels;
	long chunk_ms, frame_ms;
	long skip;              /* frames still to drop */
	long long seq;          /* the next expected */
	long long bytes;
	int kbps_seen[KBPS_SEEN_MAX];
	int nkbps;
	int16_t *pcm;
	SNDFILE *wav;
	FILE *ref;
	double ref_energy, diff_energy;
};

/* Adds frames of decoded PCM to the comparison with the reference. */
static void
compare(struct decoder *d, const int16_t *pcm, long frames)
{
	size_t n = (size_t)frames * (size_t)d->channels;
	int16_t ref[2 * 960 * 8];

	while (n > 0) {
		size_t want = n < sizeof ref / sizeof *ref ? n : sizeof ref / sizeof *ref;
		size_t got = fread(ref, sizeof *ref, want, d->ref);

		for (size_t i = 0; i < got; i++) {
			double r = ref[i], e = r - pcm[i];

			d->ref_energy += r * r;
			d->diff_energy += e * e;
		}
		if (got < want)
			return;                 /* the reference has ended */
		pcm += got;
		n -= got;
	}
}

static long
int_field(json_t *msg, const char *name, long lineno)
{
	json_t *v = json_object_get(msg, name);

	if (!json_is_integer(v))
		dief(AUR_EXIT_FAILURE, "stdin:%ld: %s is missing or not an integer", lineno, name);
	return (long)json_integer_value(v);
}

static void
hello(struct decoder *d, json_t *msg, long lineno)
{
	json_t *codec = json_object_get(msg, "codec");
	int rc;

	if (!json_is_string(codec) || strcmp(json_string_value(codec), "opus"))
		dief(AUR_EXIT_FAILURE, "stdin:%ld: the hello's codec is not opus", lineno);
	d->rate = int_field(msg, "sample_rate", lineno);
	d->channels = (int)int_field(msg, "channels", lineno);
	d->chunk_ms = int_field(msg, "chunk_ms", lineno);
	d->frame_ms = int_field(msg, "frame_ms", lineno);
	d->skip = int_field(msg, "pre_skip", lineno);
	if (d->frame_ms <= 0 || d->chunk_ms % d->frame_ms || d->skip < 0)
		dief(AUR_EXIT_FAILURE, "stdin:%ld: chunk_ms %ld, frame_ms %ld, pre_skip %ld do not fit",
		    lineno, d->chunk_ms, d->frame_ms, d->skip);
	d->dec = opus_decoder_create((opus_int32)d->rate, d->channels, &rc);
	if (!d->dec)
		dief(AUR_EXIT_FAILURE, "stdin:%ld: no decoder for %ld Hz, %d channels: %s", lineno,
		    d->rate, d->channels, opus_strerror(rc));
	d->pcm = malloc((size_t)(d->rate * d->frame_ms / 1000 * d->channels) * sizeof *d->pcm);
	if (!d->pcm)
		dief(AUR_EXIT_FAILURE, "out of memory");
}

static void
output(struct decoder *d, const int16_t *pcm, long frames)
{
	if (d->ref)
		compare(d, pcm, frames);
	if (d->wav) {
		if (sf_writef_short(d->wav, pcm, frames) != frames)
			dief(AUR_EXIT_FAILURE, "--wav: %s", sf_strerror(d->wav));
	} else if (fwrite(pcm, sizeof *pcm * (size_t)d->channels, (size_t)frames, stdout) !=
	    (size_t)frames) {
		dief(AUR_EXIT_FAILURE, "standard output:");
	}
}

static void
audio(struct decoder *d, json_t *msg, long lineno)
{
	json_t *packets = json_object_get(msg, "packets"), *p;
	long frame_frames = d->rate * d->frame_ms / 1000;
	long long seq = int_field(msg, "seq", lineno);
	int kbps = (int)int_field(msg, "kbps", lineno);
	size_t i;

	if (!d->dec)
		dief(AUR_EXIT_FAILURE, "stdin:%ld: audio before the hello", lineno);
	if (seq != d->seq)
		dief(AUR_EXIT_FAILURE, "stdin:%ld: seq %lld where %lld was due", lineno, seq, d->seq);
	d->seq++;
	if (!d->nkbps || d->kbps_seen[d->nkbps - 1] != kbps) {
		if (d->nkbps == KBPS_SEEN_MAX)
			dief(AUR_EXIT_FAILURE, "stdin:%ld: more than %d bitrate changes", lineno,
			    KBPS_SEEN_MAX);
		d->kbps_seen[d->nkbps++] = kbps;
	}
	if (!json_is_array(packets) || (long)json_array_size(packets) != d->chunk_ms / d->frame_ms)
		dief(AUR_EXIT_FAILURE, "stdin:%ld: expected %ld packets", lineno,
		    d->chunk_ms / d->frame_ms);
	json_array_foreach(packets, i, p) {
		unsigned char packet[1600];
		const char *b64 = json_string_value(p);
		long n;
		int frames;

		if (!b64 || json_string_length(p) > 4 * sizeof packet / 3 ||
		    (n = base64_decode(packet, b64, json_string_length(p))) < 0)
			dief(AUR_EXIT_FAILURE, "stdin:%ld: packet %zu is not base64 of at most %zu bytes",
			    lineno, i, sizeof packet);
		d->bytes += n;
		frames = opus_decode(d->dec, packet, (opus_int32)n, d->pcm, (int)frame_frames, 0);
		if (frames != frame_frames)
			dief(AUR_EXIT_FAILURE, "stdin:%ld: packet %zu: %s", lineno, i,
			    frames < 0 ? opus_strerror(frames) : "not one frame long");
		if (d->skip >= frames) {
			d->skip -= frames;
			continue;
		}
		output(d, d->pcm + d->skip * d->channels, frames - d->skip);
		d->skip = 0;
	}
}

int
main(int argc, char **argv)
{
	struct decoder d = { 0 };
	const char *wav_path = NULL, *ref_path = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lineno = 0;

	err_init(argv[0]);
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 < argc && !strcmp(argv[i], "--wav")) {
			wav_path = argv[i + 1];
		} else if (i + 1 < argc && !strcmp(argv[i], "--ref")) {
			ref_path = argv[i + 1];
		} else {
			fputs("usage: aur-opusdec [--wav FILE] [--ref PCM] < STREAM.jsonl > PCM\n", stderr);
			return AUR_EXIT_USAGE;
		}
	}
	if (ref_path && !(d.ref = fopen(ref_path, "rb")))
		dief(AUR_EXIT_FAILURE, "%s:", ref_path);
	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t jerr;
		json_t *msg = json_loadb(line, (size_t)len, 0, &jerr), *type;

		lineno++;
		if (!msg || !(type = json_object_get(msg, "type")) || !json_is_string(type))
			dief(AUR_EXIT_FAILURE, "stdin:%ld: not a message: %s", lineno,
			    msg ? "no type" : jerr.text);
		if (!strcmp(json_string_value(type), "hello")) {
			if (d.dec)
				dief(AUR_EXIT_FAILURE, "stdin:%ld: a second hello", lineno);
			hello(&d, msg, lineno);
			if (wav_path) {
				SF_INFO info = { .samplerate = (int)d.rate, .channels = d.channels,
					.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16 };

				if (!(d.wav = sf_open(wav_path, SFM_WRITE, &info)))
					dief(AUR_EXIT_FAILURE, "%s: %s", wav_path, sf_strerror(NULL));
			}
		} else if (!strcmp(json_string_value(type), "audio")) {
			audio(&d, msg, lineno);
		}
		json_decref(msg);
	}
	if (!d.dec)
		dief(AUR_EXIT_FAILURE, "stdin: no hello");
	fprintf(stderr, "{\"chunks\":%lld,\"bytes\":%lld,\"kbps\":[", d.seq, d.bytes);
	for (int i = 0; i < d.nkbps; i++)
		fprintf(stderr, "%s%d", i ? "," : "", d.kbps_seen[i]);
	fputs("]", stderr);
	if (d.ref) {
		if (!d.ref_energy || !d.diff_energy)
			dief(AUR_EXIT_FAILURE, "%s: no SNR: %s", ref_path,
			    d.ref_energy ? "the decoded stream equals it" : "silent or empty");
		fprintf(stderr, ",\"snr_db\":%.2f", 10 * log10(d.ref_energy / d.diff_energy));
		fclose(d.ref);
	}
	fputs("}\n", stderr);
	if (d.wav && sf_close(d.wav))
		dief(AUR_EXIT_FAILURE, "%s: cannot close", wav_path);
	opus_decoder_destroy(d.dec);
	free(d.pcm);
	free(line);
	if (fflush(stdout))
		dief(AUR_EXIT_FAILURE, "standard output:");
	return AUR_EXIT_OK;
}
