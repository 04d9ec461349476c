/*
 * test_mix.c - the renderer's mix: the DC blocker, the filters, the
 * reverb's decay time and its high-passed send, determinism across block
 * sizes, the CC 91 send, and the settings it refuses.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mix.h"

#define RATE 44100
#define SECONDS_MAX 8

static float dry_buf[2 * MIX_CHANNELS][MIX_BLOCK_MAX];
static float out_l[RATE * SECONDS_MAX], out_r[RATE * SECONDS_MAX];

/* What a channel plays: a function of the frame index. */
typedef float (*source_fn)(long frame);

/*
 * Runs m for `frames` frames with `source` on channel ch (both sides) in
 * blocks of `block` frames; the result is in out_l and out_r.
 */
static void
run(struct mix *m, int ch, source_fn source, long frames, size_t block)
{
	float *dry[2 * MIX_CHANNELS];

	for (int i = 0; i < 2 * MIX_CHANNELS; i++)
		dry[i] = dry_buf[i];
	for (long at = 0; at < frames; at += (long)block) {
		size_t n = frames - at < (long)block ? (size_t)(frames - at) : block;

		memset(dry_buf, 0, sizeof dry_buf);
		for (size_t i = 0; i < n; i++)
			dry[2 * ch][i] = dry[2 * ch + 1][i] = source(at + (long)i);
		mix_process(m, dry, 1u << ch, n, out_l + at, out_r + at);
	}
}

static double
energy(const float *x, long from, long to)
{
	double e = 0;

	for (long i = from; i < to; i++)
		e += (double)x[i] * x[i];
	return e;
}

static float constant(long f) { (void)f; return 0.5f; }
/* 20 ms of 500 Hz under a Hann window: a tap in the band music lives in. */
static float
burst(long f)
{
	long len = RATE / 50;

	if (f >= len)
		return 0;
	return (float)(sin(2 * M_PI * 500 * f / RATE) * (0.5 - 0.5 * cos(2 * M_PI * f / len)));
}
static float sine_50(long f) { return (float)(0.5 * sin(2 * M_PI * 50 * f / RATE)); }
static float sine_60(long f) { return (float)(0.5 * sin(2 * M_PI * 60 * f / RATE)); }
static float sine_1k(long f) { return (float)(0.5 * sin(2 * M_PI * 1000 * f / RATE)); }
static float noise(long f)
{
	uint32_t x = (uint32_t)f * 2654435761u;

	x ^= x >> 13;
	x *= 0x5bd1e995u;
	x ^= x >> 15;
	return (float)((double)x / 4294967296.0 - 0.5);
}

static struct mix *
mix_with(void (*change)(struct mix_settings *))
{
	struct mix_settings s;

	mix_defaults(&s, RATE);
	if (change)
		change(&s);
	return mix_new(&s);
}

/* A constant offset is gone within a second: the DC blocker is always on. */
static void
test_dc_blocked(void)
{
	struct mix *m = mix_with(NULL);
	double mean = 0;

	run(m, 0, constant, 2 * RATE, MIX_BLOCK_MAX);
	for (long i = RATE; i < 2 * RATE; i++)
		mean += out_l[i];
	mean /= RATE;
	CHECK(fabs(mean) < 1e-4);               /* -80 dB below the offset's 0.5 */
	mix_free(m);
}

static void
uncompressed(struct mix_settings *s)
{
	s->comp_ratio = 1;
}

static void
dry_only(struct mix_settings *s)
{
	s->reverb = false;
	uncompressed(s);
}

/*
 * The reverb's part alone, into out_l and out_r: the default mix less the
 * same mix without reverb (the mix is linear).  cc91 is the channel's
 * reverb send controller.
 */
static void
run_wet(int ch, source_fn source, long frames, int cc91)
{
	static float dry_l[RATE * SECONDS_MAX], dry_r[RATE * SECONDS_MAX];
	struct mix *m = mix_with(dry_only);

	run(m, ch, source, frames, MIX_BLOCK_MAX);
	memcpy(dry_l, out_l, sizeof dry_l[0] * (size_t)frames);
	memcpy(dry_r, out_r, sizeof dry_r[0] * (size_t)frames);
	mix_free(m);
	m = mix_with(uncompressed);
	mix_set_send_cc(m, ch, cc91);
	run(m, ch, source, frames, MIX_BLOCK_MAX);
	for (long i = 0; i < frames; i++) {
		out_l[i] -= dry_l[i];
		out_r[i] -= dry_r[i];
	}
	mix_free(m);
}

/*
 * The decay time at 500 Hz from the energy decay curve of a tone burst
 * (Schroeder's backward integral): the time from -5 to -35 dB, doubled
 * (T30).  The highs die sooner, on purpose, as in a room.
 */
static void
test_reverb_decay(void)
{
	long frames = 6 * RATE, t5 = -1, t35 = -1;
	static double curve[6 * RATE];
	double tail = 0, t60;

	run_wet(0, burst, frames, 100);
	for (long i = frames - 1; i >= 0; i--)
		curve[i] = tail += (double)out_l[i] * out_l[i] + (double)out_r[i] * out_r[i];
	for (long i = 0; i < frames; i++) {
		double db = 10 * log10(curve[i] / curve[0]);

		if (t5 < 0 && db <= -5)
			t5 = i;
		if (t35 < 0 && db <= -35)
			t35 = i;
	}
	CHECK(t5 > 0 && t35 > t5);
	t60 = 2.0 * (double)(t35 - t5) / RATE;
	if (!(t60 > 2.5 && t60 < 3.5))
		fprintf(stderr, "reverb T60 %.2f s, want 3 +- 0.5\n", t60);
	CHECK(t60 > 2.5 && t60 < 3.5);
	/* Both sides carry the tail, but not the same signal: a wide reverb. */
	CHECK(energy(out_r, 0, frames) > 0.5 * energy(out_l, 0, frames));
	CHECK(memcmp(out_l, out_r, sizeof out_l[0] * (size_t)frames) != 0);
}

/* The lows stay out of the reverb: 60 Hz reaches it 12 dB less than 1 kHz. */
static void
test_send_highpass(void)
{
	double low, mid;

	run_wet(0, sine_60, 3 * RATE, 100);
	low = energy(out_l, RATE, 3 * RATE);
	run_wet(0, sine_1k, 3 * RATE, 100);
	mid = energy(out_l, RATE, 3 * RATE);
	CHECK(mid > 0 && 10 * log10(low / mid) < -12);
}

/* The pad's mud is cut: 50 Hz on the pad is 15 dB down on the piano's. */
static void
test_pad_highpass(void)
{
	struct mix *m = mix_with(dry_only);
	struct mix_settings s;
	double piano, pad;

	mix_defaults(&s, RATE);
	run(m, 0, sine_50, 2 * RATE, MIX_BLOCK_MAX);
	piano = energy(out_l, RATE, 2 * RATE) / (s.channel[0].gain * s.channel[0].gain);
	mix_free(m);
	m = mix_with(dry_only);
	run(m, 1, sine_50, 2 * RATE, MIX_BLOCK_MAX);
	pad = energy(out_l, RATE, 2 * RATE) / (s.channel[1].gain * s.channel[1].gain);
	CHECK(piano > 0 && 10 * log10(pad / piano) < -15);
	mix_free(m);
}

/*
 * The same input gives the same output, whatever the block sizes: a frame
 * at a time, as the network is defined, or in blocks longer than the
 * stretch it runs at once; at 8 kHz its shortest line (260 frames) is
 * barely longer than that stretch (256), and shorter than a block.
 */
static void
test_blocks_do_not_matter(void)
{
	static float first_l[3 * RATE], first_r[3 * RATE];
	static const double rates[] = { RATE, 8000 };
	static const size_t blocks[] = { 77, 1 };

	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
		struct mix_settings s;
		struct mix *m;

		mix_defaults(&s, rates[r]);
		m = mix_new(&s);
		CHECK(m != NULL);
		run(m, 1, noise, 3 * RATE, MIX_BLOCK_MAX);
		memcpy(first_l, out_l, sizeof first_l);
		memcpy(first_r, out_r, sizeof first_r);
		CHECK(energy(first_l, 2 * RATE, 3 * RATE) > 0);
		mix_free(m);
		for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
			m = mix_new(&s);
			run(m, 1, noise, 3 * RATE, blocks[b]);
			CHECK(memcmp(first_l, out_l, sizeof first_l) == 0);
			CHECK(memcmp(first_r, out_r, sizeof first_r) == 0);
			mix_free(m);
		}
	}
}

/* CC 91 at 0 sends nothing to the reverb; at 100, the settings' send. */
static void
test_send_cc(void)
{
	run_wet(0, noise, RATE, 0);
	CHECK(energy(out_l, 0, RATE) < 1e-12);   /* the anti-denormal floor only */
	run_wet(0, noise, RATE, 100);
	CHECK(energy(out_l, 0, RATE) > 1e-3);
}

static double level;                    /* the sine's amplitude for sine_level */
static float sine_level(long f) { return (float)(level * sin(2 * M_PI * 440 * f / RATE)); }

/* RMS level in dBFS of out_l over the last second of `frames`, against the input. */
static double
gain_db(long frames)
{
	double rms = sqrt(energy(out_l, frames - RATE, frames) / RATE);

	return 20 * log10(rms / (level * M_SQRT1_2));
}

/*
 * The compressor leaves quiet music alone and brings a loud passage down
 * by (1 - 1/ratio) of its excess over the threshold, with no step in gain.
 */
static void
test_compressor(void)
{
	struct mix_settings s;
	struct mix *m;
	double excess, want;

	mix_defaults(&s, RATE);
	s.reverb = false;
	s.channel[0].gain = 1;
	level = pow(10, (s.comp_threshold_db - 15) / 20) * M_SQRT2;    /* RMS 15 dB under */
	m = mix_new(&s);
	run(m, 0, sine_level, 3 * RATE, MIX_BLOCK_MAX);
	CHECK(fabs(gain_db(3 * RATE)) < 0.01);
	mix_free(m);

	excess = 16;
	level = pow(10, (s.comp_threshold_db + excess) / 20) * M_SQRT2;
	m = mix_new(&s);
	run(m, 0, sine_level, 3 * RATE, MIX_BLOCK_MAX);
	want = -(1 - 1 / s.comp_ratio) * excess;
	if (fabs(gain_db(3 * RATE) - want) > 0.5)
		fprintf(stderr, "compressor gain %.2f dB, want %.2f\n", gain_db(3 * RATE), want);
	CHECK(fabs(gain_db(3 * RATE) - want) < 0.5);
	mix_free(m);

	/*
	 * The gain ramps, it never steps: a passage that leaps 30 dB up makes
	 * the gain fall over the attack, by less than 0.2 % from one frame to
	 * the next (the gain is out/in where the sine is far from zero).
	 */
	level = pow(10, (s.comp_threshold_db - 20) / 20) * M_SQRT2;
	s.dc_hz = 0.01;                 /* no phase shift at 440 Hz to blur out/in */
	m = mix_new(&s);
	run(m, 0, sine_level, RATE, MIX_BLOCK_MAX);
	level *= pow(10, 30.0 / 20);
	run(m, 0, sine_level, RATE / 2, MIX_BLOCK_MAX);
	{
		double last = -1, fell = 0;
		int steps = 0;

		for (long i = 0; i < RATE / 2; i++) {
			double in = sine_level(i);

			if (fabs(in) < 0.5 * level)
				continue;
			double g = out_l[i] / in;

			if (last >= 0 && i > 0 && fabs(sine_level(i - 1)) >= 0.5 * level) {
				if (fabs(g - last) > 0.002 * last) {
					if (!steps)
						fprintf(stderr, "gain %.5f after %.5f at frame %ld\n", g, last, i);
					steps++;
				}
				fell += last - g;
			}
			last = g;
		}
		CHECK(steps == 0);
		CHECK(fell > 0.3);              /* it did come down, by more than 3 dB */
	}
	mix_free(m);
}

static void bad_rate(struct mix_settings *s) { s->rate = 1000; }
static void bad_decay(struct mix_settings *s) { s->reverb_seconds = 0; }
static void bad_highpass(struct mix_settings *s) { s->channel[3].highpass_hz = RATE; }
static void bad_dc(struct mix_settings *s) { s->dc_hz = 0; }
static void bad_ratio(struct mix_settings *s) { s->comp_ratio = 0.5; }

static void
test_bad_settings(void)
{
	void (*bad[])(struct mix_settings *) = { bad_rate, bad_decay, bad_highpass, bad_dc, bad_ratio };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(mix_with(bad[i]) == NULL);
	struct mix *m = mix_with(NULL);

	CHECK(m != NULL);
	mix_free(m);
	mix_free(NULL);
}

int
main(void)
{
	test_dc_blocked();
	test_reverb_decay();
	test_send_highpass();
	test_pad_highpass();
	test_blocks_do_not_matter();
	test_send_cc();
	test_compressor();
	test_bad_settings();
	return check_done("mix");
}
