/*
 * aur-meter - measure a rendered audio file: the figures the sound check
 * (tests/sound/sound.bats) and scripts/sound-report hold Auralis to.
 *
 * The file is read whole with libsndfile as doubles in [-1, 1) (a 10-minute
 * stereo render is 420 MB of doubles at most; the sound check renders 2
 * minutes).  --from and --until cut the span that is measured, so a piece's
 * release tail can be left out.  One JSON object is printed:
 *
 *   lufs            EBU R128 integrated loudness (libebur128, BS.1770-4,
 *                   gated); a stereo sine of peak -20 dBFS reads -20 LUFS,
 *                   a mono one -23 LUFS.
 *   lra             loudness range, LU (libebur128).
 *   peak_dbfs       the largest |sample| over every channel.
 *   true_peak_dbfs  libebur128's 4x oversampled true peak.
 *   dc_dbfs         the largest |mean| over the channels.
 *   rms_dbfs        the RMS over every sample of every channel (a sine of
 *                   peak -20 dBFS reads -23 dBFS, as sox's "RMS lev dB").
 *   over_3db        samples (of any channel) whose |x| is above -3 dBFS.
 *   gap_max_s       the longest stretch in which the RMS of the mixed signal
 *                   ((L+R)/2) over 400 ms windows, hop 100 ms, stays under
 *                   --gap-db: a run of n quiet windows is 0.4 + (n-1) x 0.1
 *                   seconds, no quiet window is 0.  Only windows wholly
 *                   inside the measured span count.
 *   clicks          broadband transients (see count_clicks below).
 *   seconds         the length of the measured span.
 *
 * Every level is in dBFS, with full scale 1.0; a level of nothing (-inf) is
 * written -200 so that the output stays JSON.
 *
 * aur-meter --minus A B prints {"share": E(B-A)/E(B)}: the energy of the
 * sample-wise difference over the energy of B, the shorter file padded with
 * silence.  With A a render without reverb and B the same notes with it,
 * that is the share of the energy the reverb carries.
 */
#include <ebur128.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sndfile.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "opt.h"

#define DB_FLOOR -200.0          /* what a level of nothing is written as */
#define GAP_WINDOW_S 0.4
#define GAP_HOP_S 0.1
#define CLICK_WINDOW_S 0.001
#define CLICK_SPAN 25            /* windows each side of the median's span: 50 ms */
#define CLICK_JUMP_DB 20.0
#define CLICK_FLOOR_DB -60.0     /* no click quieter than this (diff RMS, dBFS) */
#define CLICK_MERGE 10           /* flagged windows this close are one click */

static const char usage_text[] =
	"usage: aur-meter [--from S] [--until S] [--gap-db DB] FILE\n"
	"       aur-meter --minus A B\n"
	"\n"
	"Measure an audio file (WAV, FLAC, OGG: anything libsndfile reads) and\n"
	"print one JSON object: lufs (EBU R128 integrated), lra (loudness range),\n"
	"peak_dbfs, true_peak_dbfs, dc_dbfs (largest |mean| of a channel), rms_dbfs,\n"
	"over_3db (samples above -3 dBFS), gap_max_s (longest stretch where the\n"
	"400 ms RMS of (L+R)/2 stays under --gap-db), clicks (broadband\n"
	"transients) and seconds.  Levels of nothing are written as -200.\n"
	"With --minus, print {\"share\": E(B-A)/E(B)}: the energy of B - A, sample\n"
	"by sample, over the energy of B (A dry, B with reverb: the wet share).\n"
	"\n"
	"options:\n"
	"      --from S      measure from S seconds on (default 0)\n"
	"      --until S     measure up to S seconds (default the end)\n"
	"      --gap-db DB   the level under which a stretch is a gap, -200..0\n"
	"                    (default -45)\n"
	"      --minus       compare two files, as above\n"
	"  -h, --help        show this help\n"
	"  -V, --version     show the version\n"
	"\n"
	"exit status: 0 done, 1 a file cannot be read or measured, 2 usage.\n";

/* A file read whole: frames x channels interleaved doubles. */
struct audio {
	double *x;
	long frames;
	int channels;
	int rate;
};

static noreturn void usage(int status)
{
	fputs(usage_text, status == 0 ? stdout : stderr);
	exit(status);
}

static double db(double power_ratio_or_amplitude, double scale)
{
	if (!(power_ratio_or_amplitude > 0))
		return DB_FLOOR;
	double d = scale * log10(power_ratio_or_amplitude);
	return d < DB_FLOOR ? DB_FLOOR : d;
}

/*
 * Reads PATH whole into *a, or prints "aur-meter: PATH: reason" and returns
 * -1.  The caller frees a->x.
 */
static int audio_read(const char *path, struct audio *a)
{
	SF_INFO info = { 0 };
	FILE *probe = fopen(path, "rb");     /* for errno's message, not libsndfile's */
	if (!probe) {
		warnf("%s:", path);
		return -1;
	}
	fclose(probe);
	SNDFILE *f = sf_open(path, SFM_READ, &info);
	if (!f) {
		warnf("%s: %s", path, sf_strerror(NULL));
		return -1;
	}
	if (info.channels < 1 || info.frames < 0 || info.frames > 200L * 60 * 192000) {
		warnf("%s: %d channels, %lld frames: not something to measure", path,
			info.channels, (long long)info.frames);
		sf_close(f);
		return -1;
	}
	a->channels = info.channels;
	a->rate = info.samplerate;
	a->x = malloc(((size_t)info.frames + 1) * (size_t)info.channels * sizeof *a->x);
	if (!a->x) {
		warnf("%s: out of memory", path);
		sf_close(f);
		return -1;
	}
	sf_command(f, SFC_SET_NORM_DOUBLE, NULL, SF_TRUE);
	a->frames = (long)sf_readf_double(f, a->x, info.frames);
	int error = sf_error(f);
	if (error) {
		warnf("%s: %s", path, sf_error_number(error));
		sf_close(f);
		free(a->x);
		return -1;
	}
	sf_close(f);
	return 0;
}

/* The mixed signal (L+R)/2 (the mean of every channel) at frame i. */
static double mixed(const struct audio *a, long i)
{
	double s = 0;
	for (int c = 0; c < a->channels; c++)
		s += a->x[i * a->channels + c];
	return s / a->channels;
}

/*
 * The longest stretch, in seconds, where the RMS of the mixed signal over
 * 400 ms windows (hop 100 ms) in frames [from, until) stays under gap_db.
 */
static double gap_max(const struct audio *a, long from, long until, double gap_db)
{
	long window = lround(GAP_WINDOW_S * a->rate), hop = lround(GAP_HOP_S * a->rate);
	double limit = pow(10, gap_db / 10) * (double)window;   /* energy, not RMS */
	long run = 0, longest = 0;
	for (long start = from; start + window <= until; start += hop) {
		double e = 0;
		for (long i = start; i < start + window; i++) {
			double m = mixed(a, i);
			e += m * m;
		}
		run = e < limit ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	return longest ? GAP_WINDOW_S + (double)(longest - 1) * GAP_HOP_S : 0;
}

/* The k-th smallest of v[0..n) (Hoare's selection; v is reordered). */
static double select_kth(double *v, long n, long k)
{
	long lo = 0, hi = n - 1;
	while (lo < hi) {
		double pivot = v[(lo + hi) / 2];
		long i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double t = v[i];
				v[i++] = v[j];
				v[j--] = t;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/*
 * Counts clicks: broadband transients such as a voice cut off mid-cycle
 * when it is stolen, or a discontinuity in the stream.
 *
 * The method: the first difference d[i] = x[i] - x[i-1] of each channel is
 * a high-pass (+6 dB/octave) that leaves music's low and mid energy small
 * and a step or an impulse whole.  Its energy is summed in 1 ms windows
 * (the loudest channel's counts).  A window is flagged when its energy is
 * more than 20 dB above the median of the windows within 25 ms on each side
 * (a 50 ms neighbourhood, centred), and its RMS is above -60 dBFS (quieter
 * than that, nothing is heard).  Centring the median is what lets a note's
 * attack pass: its bright onset is followed by a note that keeps most of
 * that brightness for more than 25 ms, so the median rises with it, while a
 * click is over within a window or two.  Flagged windows within 10 ms of
 * each other are one click.
 */
static long count_clicks(const struct audio *a, long from, long until)
{
	long window = lround(CLICK_WINDOW_S * a->rate);
	long n = (until - from) / window;
	if (window < 1 || n < 2 * CLICK_SPAN + 1)
		return 0;
	double *energy = calloc((size_t)n, sizeof *energy);
	double *sorted = malloc((2 * CLICK_SPAN + 1) * sizeof *sorted);
	if (!energy || !sorted)
		dief(AUR_EXIT_FAILURE, "out of memory");
	for (long w = 0; w < n; w++) {
		for (int c = 0; c < a->channels; c++) {
			double e = 0;
			for (long i = from + w * window; i < from + (w + 1) * window; i++) {
				double prev = i > 0 ? a->x[(i - 1) * a->channels + c] : 0;
				double d = a->x[i * a->channels + c] - prev;
				e += d * d;
			}
			if (e > energy[w])
				energy[w] = e;
		}
	}
	double jump = pow(10, CLICK_JUMP_DB / 10);
	double floor_energy = pow(10, CLICK_FLOOR_DB / 10) * (double)window;
	long clicks = 0, last = -CLICK_MERGE - 1;
	for (long w = 0; w < n; w++) {
		if (energy[w] < floor_energy)
			continue;
		long lo = w - CLICK_SPAN, hi = w + CLICK_SPAN;
		if (lo < 0) {
			hi -= lo;
			lo = 0;
		}
		if (hi >= n) {
			lo -= hi - (n - 1);
			hi = n - 1;
		}
		memcpy(sorted, energy + lo, (size_t)(hi - lo + 1) * sizeof *sorted);
		if (energy[w] > jump * select_kth(sorted, hi - lo + 1, (hi - lo) / 2)) {
			if (w - last > CLICK_MERGE)
				clicks++;
			last = w;
		}
	}
	free(sorted);
	free(energy);
	return clicks;
}

/*
 * The EBU R128 figures of frames [from, until): integrated loudness, range
 * and true peak.  Returns 0, or -1 after a message naming path.
 */
static int loudness(const char *path, const struct audio *a, long from, long until,
	double *lufs, double *lra, double *true_peak)
{
	ebur128_state *st = ebur128_init((unsigned)a->channels, (unsigned long)a->rate,
		EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_TRUE_PEAK);
	if (!st) {
		warnf("%s: libebur128 cannot measure %d channels at %d Hz", path, a->channels, a->rate);
		return -1;
	}
	int bad = ebur128_add_frames_double(st, a->x + from * a->channels, (size_t)(until - from));
	bad = bad || ebur128_loudness_global(st, lufs);
	bad = bad || ebur128_loudness_range(st, lra);
	*true_peak = 0;
	for (int c = 0; !bad && c < a->channels; c++) {
		double p;
		bad = ebur128_true_peak(st, (unsigned)c, &p);
		if (!bad && p > *true_peak)
			*true_peak = p;
	}
	ebur128_destroy(&st);
	if (bad) {
		warnf("%s: libebur128 failed", path);
		return -1;
	}
	if (!isfinite(*lufs) || *lufs < DB_FLOOR)
		*lufs = DB_FLOOR;
	if (!isfinite(*lra))
		*lra = 0;
	return 0;
}

/* Measures path over [from_s, until_s) and prints the JSON object. */
static int measure(const char *path, double from_s, double until_s, double gap_db)
{
	struct audio a;
	if (audio_read(path, &a) < 0)
		return AUR_EXIT_FAILURE;
	long from = lround(from_s * a.rate);
	long until = until_s < 0 ? a.frames : lround(until_s * a.rate);
	if (from > a.frames)
		from = a.frames;
	if (until > a.frames)
		until = a.frames;
	if (until < from)
		until = from;

	double lufs, lra, true_peak;
	if (loudness(path, &a, from, until, &lufs, &lra, &true_peak) < 0) {
		free(a.x);
		return AUR_EXIT_FAILURE;
	}
	double peak = 0, energy = 0, dc = 0, over = pow(10, -3.0 / 20);
	long over_3db = 0;
	for (int c = 0; c < a.channels; c++) {
		double sum = 0;
		for (long i = from; i < until; i++) {
			double s = a.x[i * a.channels + c];
			sum += s;
			energy += s * s;
			if (fabs(s) > peak)
				peak = fabs(s);
			over_3db += fabs(s) > over;
		}
		double mean = until > from ? fabs(sum) / (double)(until - from) : 0;
		if (mean > dc)
			dc = mean;
	}
	long samples = (until - from) * a.channels;
	printf("{\"lufs\":%.2f,\"lra\":%.2f,\"peak_dbfs\":%.2f,\"true_peak_dbfs\":%.2f,"
		"\"dc_dbfs\":%.2f,\"rms_dbfs\":%.2f,\"over_3db\":%ld,\"gap_max_s\":%.1f,"
		"\"clicks\":%ld,\"seconds\":%.3f}\n",
		lufs, lra, db(peak, 20), db(true_peak, 20), db(dc, 20),
		db(samples ? energy / (double)samples : 0, 10), over_3db,
		gap_max(&a, from, until, gap_db), count_clicks(&a, from, until),
		(double)(until - from) / a.rate);
	free(a.x);
	return AUR_EXIT_OK;
}

/* Prints {"share": E(B-A)/E(B)} for files a_path and b_path. */
static int minus(const char *a_path, const char *b_path)
{
	struct audio a, b;
	if (audio_read(a_path, &a) < 0)
		return AUR_EXIT_FAILURE;
	if (audio_read(b_path, &b) < 0) {
		free(a.x);
		return AUR_EXIT_FAILURE;
	}
	int status = AUR_EXIT_FAILURE;
	if (a.channels != b.channels || a.rate != b.rate) {
		warnf("%s: %d channels at %d Hz, but %s has %d at %d Hz", b_path, b.channels,
			b.rate, a_path, a.channels, a.rate);
	} else {
		double diff = 0, energy = 0;
		long frames = a.frames > b.frames ? a.frames : b.frames;
		for (long i = 0; i < frames * a.channels; i++) {
			double sa = i < a.frames * a.channels ? a.x[i] : 0;
			double sb = i < b.frames * b.channels ? b.x[i] : 0;
			diff += (sb - sa) * (sb - sa);
			energy += sb * sb;
		}
		if (energy > 0) {
			printf("{\"share\":%.4f}\n", diff / energy);
			status = AUR_EXIT_OK;
		} else {
			warnf("%s: silent: no share of nothing", b_path);
		}
	}
	free(a.x);
	free(b.x);
	return status;
}

int main(int argc, char **argv)
{
	enum { OPT_FROM = 256, OPT_UNTIL, OPT_GAP_DB, OPT_MINUS };
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "gap-db", required_argument, NULL, OPT_GAP_DB },
		{ "minus", no_argument, NULL, OPT_MINUS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	double from = 0, until = -1, gap_db = -45;
	bool subtract = false;
	int c, bad = 0;

	err_init(argv[0]);
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM: bad |= opt_double("--from", optarg, 0, 1e6, &from); break;
		case OPT_UNTIL: bad |= opt_double("--until", optarg, 0, 1e6, &until); break;
		case OPT_GAP_DB: bad |= opt_double("--gap-db", optarg, -200, 0, &gap_db); break;
		case OPT_MINUS: subtract = true; break;
		case 'h': usage(AUR_EXIT_OK);
		case 'V': printf("aur-meter %s\n", AURALIS_VERSION); return AUR_EXIT_OK;
		default: usage(AUR_EXIT_USAGE);
		}
	}
	if (bad)
		return AUR_EXIT_USAGE;
	if (subtract) {
		if (argc - optind != 2)
			usage(AUR_EXIT_USAGE);
		return minus(argv[optind], argv[optind + 1]);
	}
	if (argc - optind != 1)
		usage(AUR_EXIT_USAGE);
	if (until >= 0 && until <= from) {
		warnf("--until: expected more than --from (%g), not '%g'", from, until);
		return AUR_EXIT_USAGE;
	}
	int status = measure(argv[optind], from, until, gap_db);
	if (fflush(stdout) == EOF || ferror(stdout))
		dief(AUR_EXIT_FAILURE, "standard output:");
	return status;
}
