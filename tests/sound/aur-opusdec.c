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
 * stream lines up with the reference to the frame.  A perceptual codec
 * keeps the spectrum rather than the waveform (Opus's CELT layer codes the
 * energy of each band and fills in the fine structure), so three spectral
 * figures say more about what is heard:
 *
 *   band_db       the mean |level difference| in dB over the 1/3-octave
 *                 bands (25, centred from 50 Hz to 12.7 kHz) of every
 *                 2048-frame block (Hann window, mono sum), counting a band
 *                 where the reference is above -90 dBFS and within 60 dB of
 *                 the block's loudest band: how far the coded spectrum
 *                 strays, moment by moment.
 *   band_p95_db   the same, its 95th percentile.
 *   ltas_max_db   the largest |difference| of the long-term average level of
 *                 one band over the whole file: a lasting colouring.
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
#define BLOCK 2048                      /* frames of one spectrum */
#define BANDS 25                        /* 1/3 octaves centred from 50 Hz to 12.7 kHz */
#define RELATIVE_FLOOR 1e-6             /* a band 60 dB under the block's loudest is masked */
#define DIFF_BINS 400                   /* the histogram of band differences: 0.05 dB each */

/* The spectral comparison: blocks of the mono sums of both streams. */
struct spectra {
	double ref[BLOCK], dec[BLOCK];
	int fill;
	double window[BLOCK];
	double ltas_ref[BANDS], ltas_dec[BANDS];
	double diff_sum;
	uint64_t diff_count;
	uint64_t diff_hist[DIFF_BINS + 1];
	int band_lo[BANDS], band_hi[BANDS];     /* FFT bins [lo, hi) */
};

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
	struct spectra *sp;
};

/* In-place radix-2 FFT of re[], im[] (n a power of two). */
static void
fft(double *re, double *im, int n)
{
	for (int i = 1, j = 0; i < n; i++) {
		int bit = n >> 1;

		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double t = re[i]; re[i] = re[j]; re[j] = t;
			t = im[i]; im[i] = im[j]; im[j] = t;
		}
	}
	for (int len = 2; len <= n; len <<= 1) {
		double a = -2 * M_PI / len;

		for (int i = 0; i < n; i += len) {
			for (int k = 0; k < len / 2; k++) {
				double wr = cos(a * k), wi = sin(a * k);
				double *ur = &re[i + k], *ui = &im[i + k];
				double *vr = &re[i + k + len / 2], *vi = &im[i + k + len / 2];
				double xr = *vr * wr - *vi * wi, xi = *vr * wi + *vi * wr;

				*vr = *ur - xr;
				*vi = *ui - xi;
				*ur += xr;
				*ui += xi;
			}
		}
	}
}

static void
spectra_init(struct spectra *sp, long rate)
{
	for (int i = 0; i < BLOCK; i++)
		sp->window[i] = 0.5 - 0.5 * cos(2 * M_PI * i / BLOCK);
	for (int b = 0; b < BANDS; b++) {
		double centre = 50 * pow(2, b / 3.0), edge = pow(2, 1 / 6.0);

		sp->band_lo[b] = (int)ceil(centre / edge * BLOCK / (double)rate);
		sp->band_hi[b] = (int)ceil(centre * edge * BLOCK / (double)rate);
		if (sp->band_hi[b] <= sp->band_lo[b])
			sp->band_hi[b] = sp->band_lo[b] + 1;
		if (sp->band_hi[b] > BLOCK / 2)
			sp->band_hi[b] = BLOCK / 2;
	}
}

/* The band energies of one block of x[] into e[] (power, full scale 1). */
static void
band_energies(const struct spectra *sp, const double *x, double e[BANDS])
{
	static double re[BLOCK], im[BLOCK];

	for (int i = 0; i < BLOCK; i++) {
		re[i] = x[i] * sp->window[i] / 32768;
		im[i] = 0;
	}
	fft(re, im, BLOCK);
	for (int b = 0; b < BANDS; b++) {
		e[b] = 0;
		for (int k = sp->band_lo[b]; k < sp->band_hi[b]; k++)
			e[b] += re[k] * re[k] + im[k] * im[k];
	}
}

/* Compares the spectra of the block now full. */
static void
spectra_block(struct spectra *sp)
{
	/* Full-scale sine through the Hann window: (BLOCK / 4)^2 in its bin. */
	const double floor_energy = pow(10, -90 / 10.0) * (BLOCK / 4.0) * (BLOCK / 4.0);
	double er[BANDS], ed[BANDS];

	double loudest = 0;

	band_energies(sp, sp->ref, er);
	band_energies(sp, sp->dec, ed);
	for (int b = 0; b < BANDS; b++)
		loudest = fmax(loudest, er[b]);
	for (int b = 0; b < BANDS; b++) {
		double diff;
		int bin;

		sp->ltas_ref[b] += er[b];
		sp->ltas_dec[b] += ed[b];
		if (er[b] < floor_energy || er[b] < loudest * RELATIVE_FLOOR)
			continue;
		diff = fabs(10 * log10((ed[b] + 1e-30) / er[b]));
		sp->diff_sum += diff;
		sp->diff_count++;
		bin = diff >= DIFF_BINS * 0.05 ? DIFF_BINS : (int)(diff / 0.05);
		sp->diff_hist[bin]++;
	}
	sp->fill = 0;
}

static void
spectra_print(const struct spectra *sp)
{
	double ltas_max = 0, p95 = DIFF_BINS * 0.05;
	uint64_t seen = 0;

	for (int b = 0; b < BANDS; b++)
		if (sp->ltas_ref[b] > 0 && sp->ltas_dec[b] > 0)
			ltas_max = fmax(ltas_max, fabs(10 * log10(sp->ltas_dec[b] / sp->ltas_ref[b])));
	for (int i = 0; i <= DIFF_BINS; i++) {
		seen += sp->diff_hist[i];
		if (seen >= 0.95 * (double)sp->diff_count) {
			p95 = (i + 1) * 0.05;
			break;
		}
	}
	fprintf(stderr, ",\"band_db\":%.3f,\"band_p95_db\":%.2f,\"ltas_max_db\":%.3f",
	    sp->diff_count ? sp->diff_sum / (double)sp->diff_count : 0, p95, ltas_max);
}

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
		for (size_t i = 0; i + (size_t)d->channels <= got; i += (size_t)d->channels) {
			struct spectra *sp = d->sp;
			double r = 0, x = 0;

			for (int c = 0; c < d->channels; c++) {
				r += ref[i + (size_t)c];
				x += pcm[i + (size_t)c];
			}
			sp->ref[sp->fill] = r / d->channels;
			sp->dec[sp->fill] = x / d->channels;
			if (++sp->fill == BLOCK)
				spectra_block(sp);
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
			if (d.ref) {
				if (!(d.sp = calloc(1, sizeof *d.sp)))
					dief(AUR_EXIT_FAILURE, "out of memory");
				spectra_init(d.sp, d.rate);
			}
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
		spectra_print(d.sp);
		fclose(d.ref);
	}
	fputs("}\n", stderr);
	if (d.wav && sf_close(d.wav))
		dief(AUR_EXIT_FAILURE, "%s: cannot close", wav_path);
	opus_decoder_destroy(d.dec);
	free(d.sp);
	free(d.pcm);
	free(line);
	if (fflush(stdout))
		dief(AUR_EXIT_FAILURE, "standard output:");
	return AUR_EXIT_OK;
}
