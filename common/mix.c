/*
 * mix.c - levels, filters, the reverb, the compressor and the DC blocker
 * (mix.h).
 *
 * Filters are RBJ biquads in transposed direct form II, kept in double so
 * that a low corner stays exact.  The DC blocker is the one-pole, one-zero
 * high-pass y[n] = x[n] - x[n-1] + R y[n-1].
 *
 * The reverb is a feedback delay network: eight delay lines of 32 to 66 ms
 * (at 44.1 kHz; scaled with the rate), mixed through an 8x8 Householder
 * matrix, each line with a gain that makes it lose 60 dB in
 * reverb_seconds and a one-pole low-pass that makes the highs die sooner,
 * as in a real room.  Before the network the mono send passes a pre-delay
 * and four Schroeder all-passes that smear each onset into a dense wash.
 * The left and right returns tap the lines with orthogonal signs
 * (+-+-+-+- and ++--++--), so they are decorrelated and the tail is wide.
 */
#include "mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REVERB_LINES 8
#define DIFFUSERS 4
#define DIFFUSION 0.6f
#define LINE_FRAMES_MAX 16384           /* a power of two above every line at 192 kHz */
/*
 * Added to what enters the network: the tail then settles at about 1e-19
 * instead of sinking into denormal numbers, which are slow on many CPUs.
 * It is 300 dB below full scale, and the DC blocker takes it out.
 */
#define ANTI_DENORMAL 1e-20f
#define COMP_STEP 32                    /* frames between two gain computations */
#define COMP_RMS_S 0.05                 /* the level detector's time constant */

static const int line_frames_44k[REVERB_LINES] = {
	1433, 1601, 1867, 2053, 2251, 2399, 2617, 2903,
};
static const int diffuser_frames_44k[DIFFUSERS] = { 142, 107, 379, 277 };

struct biquad {
	double b0, b1, b2, a1, a2;
	double z1, z2;
};

struct delay {
	float *buf;
	size_t len, pos;
};

struct mix {
	struct mix_settings s;
	struct biquad channel_hp[MIX_CHANNELS][2];
	struct biquad send_hp;
	struct delay predelay;
	struct delay diffuser[DIFFUSERS];
	float *lines;                   /* REVERB_LINES rings of LINE_FRAMES_MAX */
	size_t line_len[REVERB_LINES];
	size_t write;                   /* where every ring is written now */
	float line_gain[REVERB_LINES];
	float line_lp[REVERB_LINES];    /* the low-pass's state */
	float damp;                     /* its coefficient */
	float send_scale[MIX_CHANNELS]; /* CC 91 / 100 */
	double dc_r, dc_x[2], dc_y[2];
	double comp_rms;                /* the detector's coefficient a frame */
	double comp_attack, comp_release;       /* the gain's coefficients a step */
	double comp_env;                /* mean square of the sum, smoothed */
	double comp_target;             /* the gain wanted, after attack or release */
	double comp_gain, comp_step;    /* gain now, and its change a frame */
	int comp_phase;                 /* frames since the last gain computation */
	float send[MIX_BLOCK_MAX];
};

void
mix_defaults(struct mix_settings *s, double rate)
{
	memset(s, 0, sizeof *s);
	s->rate = rate;
	for (int ch = 0; ch < MIX_CHANNELS; ch++)
		s->channel[ch] = (struct mix_channel){ .gain = 1.0, .send = 0.5 };
	/* The piano leads; the pads sit under it, their low mud cut. */
	s->channel[0] = (struct mix_channel){ .gain = 1.0, .highpass_hz = 0, .send = 0.55 };
	s->channel[1] = (struct mix_channel){ .gain = 0.26, .highpass_hz = 120, .send = 0.45 };
	s->channel[2] = (struct mix_channel){ .gain = 0.22, .highpass_hz = 55, .send = 0.45 };
	s->reverb = true;
	s->reverb_seconds = 3.0;
	s->reverb_damp_hz = rate * 0.45 < 6000 ? rate * 0.45 : 6000;
	s->reverb_predelay_s = 0.02;
	s->send_highpass_hz = 220;
	s->wet = 0.36;
	s->dc_hz = 5;
	s->comp_threshold_db = -24;
	s->comp_ratio = 2.5;
	s->comp_knee_db = 6;
	s->comp_attack_s = 0.02;
	s->comp_release_s = 0.3;
}

/* --- filters --- */

static void
biquad_highpass(struct biquad *f, double hz, double rate)
{
	/* Q = 1/sqrt(2): Butterworth, no bump at the corner; alpha = sin(w) / 2Q. */
	double w = 2 * M_PI * hz / rate, cw = cos(w), alpha = sin(w) * M_SQRT1_2;
	double a0 = 1 + alpha;

	f->b0 = (1 + cw) / 2 / a0;
	f->b1 = -(1 + cw) / a0;
	f->b2 = (1 + cw) / 2 / a0;
	f->a1 = -2 * cw / a0;
	f->a2 = (1 - alpha) / a0;
	f->z1 = f->z2 = 0;
}

static void
biquad_run(struct biquad *f, float *x, size_t n)
{
	double z1 = f->z1, z2 = f->z2;

	for (size_t i = 0; i < n; i++) {
		double in = x[i], out = f->b0 * in + z1;

		z1 = f->b1 * in - f->a1 * out + z2;
		z2 = f->b2 * in - f->a2 * out;
		/* A silent channel's state decays toward denormals: flush it,
		 * sample by sample, so that block sizes change nothing. */
		if (fabs(z1) < 1e-30)
			z1 = 0;
		if (fabs(z2) < 1e-30)
			z2 = 0;
		x[i] = (float)out;
	}
	f->z1 = z1;
	f->z2 = z2;
}

/* --- delays --- */

static int
delay_init(struct delay *d, size_t len)
{
	d->buf = calloc(len ? len : 1, sizeof *d->buf);
	d->len = len ? len : 1;
	d->pos = 0;
	return d->buf ? 0 : -1;
}

/* The sample written len frames ago; then x takes its place. */
static inline float
delay_swap(struct delay *d, float x)
{
	float out = d->buf[d->pos];

	d->buf[d->pos] = x;
	if (++d->pos == d->len)
		d->pos = 0;
	return out;
}

/* A Schroeder all-pass: flat in level, smeared in time. */
static inline float
diffuse(struct delay *d, float x)
{
	float held = d->buf[d->pos], v = x + DIFFUSION * held;

	d->buf[d->pos] = v;
	if (++d->pos == d->len)
		d->pos = 0;
	return held - DIFFUSION * v;
}

static size_t
scaled(int frames_44k, double rate)
{
	return (size_t)lround(frames_44k * rate / 44100.0);
}

/* --- the mix --- */

static bool
settings_valid(const struct mix_settings *s)
{
	double nyquist = s->rate / 2;

	if (!(s->rate >= 8000 && s->rate <= 192000))
		return false;
	for (int ch = 0; ch < MIX_CHANNELS; ch++)
		if (!(s->channel[ch].highpass_hz >= 0 && s->channel[ch].highpass_hz < nyquist))
			return false;
	return s->reverb_seconds >= 0.1 && s->reverb_seconds <= 30 &&
	    s->reverb_damp_hz > 0 && s->reverb_damp_hz < nyquist &&
	    s->send_highpass_hz >= 0 && s->send_highpass_hz < nyquist &&
	    s->reverb_predelay_s >= 0 && s->reverb_predelay_s <= 1 &&
	    s->dc_hz > 0 && s->dc_hz < nyquist &&
	    s->comp_threshold_db >= -90 && s->comp_threshold_db <= 0 &&
	    s->comp_ratio >= 1 && s->comp_ratio <= 20 &&
	    s->comp_knee_db >= 0 && s->comp_knee_db <= 24 &&
	    s->comp_attack_s > 0 && s->comp_attack_s <= 1 &&
	    s->comp_release_s > 0 && s->comp_release_s <= 10;
}

struct mix *
mix_new(const struct mix_settings *s)
{
	struct mix *m;
	int bad = 0;

	if (!settings_valid(s))
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->s = *s;
	for (int ch = 0; ch < MIX_CHANNELS; ch++)
		m->send_scale[ch] = 1;
	for (int ch = 0; ch < MIX_CHANNELS; ch++)
		for (int side = 0; side < 2; side++)
			if (s->channel[ch].highpass_hz > 0)
				biquad_highpass(&m->channel_hp[ch][side], s->channel[ch].highpass_hz, s->rate);
	if (s->send_highpass_hz > 0)
		biquad_highpass(&m->send_hp, s->send_highpass_hz, s->rate);
	bad |= delay_init(&m->predelay, (size_t)lround(s->reverb_predelay_s * s->rate));
	for (int i = 0; i < DIFFUSERS; i++)
		bad |= delay_init(&m->diffuser[i], scaled(diffuser_frames_44k[i], s->rate));
	m->lines = calloc(REVERB_LINES * LINE_FRAMES_MAX, sizeof *m->lines);
	bad |= m->lines ? 0 : -1;
	for (int i = 0; i < REVERB_LINES; i++) {
		m->line_len[i] = scaled(line_frames_44k[i], s->rate);
		/* -60 dB after reverb_seconds: 10^(-3 * delay / T60) a trip. */
		m->line_gain[i] = (float)pow(10, -3.0 * (double)m->line_len[i] /
		    (s->reverb_seconds * s->rate));
	}
	m->damp = (float)exp(-2 * M_PI * s->reverb_damp_hz / s->rate);
	m->dc_r = exp(-2 * M_PI * s->dc_hz / s->rate);
	m->comp_rms = 1 - exp(-1 / (COMP_RMS_S * s->rate));
	m->comp_attack = 1 - exp(-COMP_STEP / (s->comp_attack_s * s->rate));
	m->comp_release = 1 - exp(-COMP_STEP / (s->comp_release_s * s->rate));
	m->comp_gain = m->comp_target = 1;
	if (bad) {
		mix_free(m);
		return NULL;
	}
	return m;
}

void
mix_free(struct mix *m)
{
	if (!m)
		return;
	free(m->predelay.buf);
	for (int i = 0; i < DIFFUSERS; i++)
		free(m->diffuser[i].buf);
	free(m->lines);
	free(m);
}

void
mix_set_send_cc(struct mix *m, int ch, int value)
{
	if (ch >= 0 && ch < MIX_CHANNELS && value >= 0 && value <= 127)
		m->send_scale[ch] = (float)value / 100;
}

/*
 * Adds the reverb of m->send[0..n-1] to left and right.  The state is
 * copied into locals for the loop: the stores to left and right could
 * otherwise alias it, and the compiler would reload it every sample.
 */
static void
reverb_run(struct mix *m, size_t n, float *restrict left, float *restrict right)
{
	const float wet = (float)m->s.wet, damp = m->damp, keep = 1 - damp;
	const size_t mask = LINE_FRAMES_MAX - 1;
	float *restrict lines = m->lines;
	float lp[REVERB_LINES], gain[REVERB_LINES];
	size_t len[REVERB_LINES], w = m->write;

	if (m->s.send_highpass_hz > 0)
		biquad_run(&m->send_hp, m->send, n);
	for (int k = 0; k < REVERB_LINES; k++) {
		lp[k] = m->line_lp[k];
		gain[k] = m->line_gain[k];
		len[k] = m->line_len[k];
	}
	for (size_t i = 0; i < n; i++) {
		float x = delay_swap(&m->predelay, m->send[i]) + ANTI_DENORMAL;
		float out[REVERB_LINES], sum = 0;

		for (int d = 0; d < DIFFUSERS; d++)
			x = diffuse(&m->diffuser[d], x);
		for (int k = 0; k < REVERB_LINES; k++) {
			out[k] = lines[k * LINE_FRAMES_MAX + ((w - len[k]) & mask)];
			lp[k] = keep * out[k] + damp * lp[k];
			sum += lp[k] * gain[k];
		}
		/* The Householder matrix: each line gets its own minus 2/N of the sum. */
		sum *= 2.0f / REVERB_LINES;
		for (int k = 0; k < REVERB_LINES; k++)
			lines[k * LINE_FRAMES_MAX + w] = lp[k] * gain[k] - sum + x;
		w = (w + 1) & mask;
		left[i] += wet * ((out[0] + out[2] + out[4] + out[6]) - (out[1] + out[3] + out[5] + out[7]));
		right[i] += wet * ((out[0] + out[1] + out[4] + out[5]) - (out[2] + out[3] + out[6] + out[7]));
	}
	for (int k = 0; k < REVERB_LINES; k++)
		m->line_lp[k] = lp[k];
	m->write = w;
}

/* The compressor's gain in dB for a level in dB: a soft knee, then 1:ratio. */
static double
comp_gain_db(const struct mix_settings *s, double level_db)
{
	double over = level_db - s->comp_threshold_db, knee = s->comp_knee_db;
	double slope = 1 - 1 / s->comp_ratio;

	if (2 * over <= -knee)
		return 0;
	if (2 * over < knee)
		return -slope * (over + knee / 2) * (over + knee / 2) / (2 * knee);
	return -slope * over;
}

/*
 * The compressor: an RMS detector (50 ms), and every COMP_STEP frames the
 * gain that level calls for, approached with the attack time when the gain
 * must fall and the release time when it may rise, and ramped frame by
 * frame: one logarithm a step, and never a step in the gain.  The phase is
 * kept across calls, so block sizes do not change the result.
 */
static void
compress(struct mix *m, float *left, float *right, size_t n)
{
	double env = m->comp_env, gain = m->comp_gain, step = m->comp_step;
	int phase = m->comp_phase;

	if (m->s.comp_ratio <= 1)
		return;
	for (size_t i = 0; i < n; i++) {
		double ms = 0.5 * ((double)left[i] * left[i] + (double)right[i] * right[i]);

		env += m->comp_rms * (ms - env);
		if (env < 1e-30)        /* silence: no denormals */
			env = 0;
		if (phase == 0) {
			double want = pow(10, comp_gain_db(&m->s, 10 * log10(env + 1e-20)) / 20);

			m->comp_target += (want < m->comp_target ? m->comp_attack : m->comp_release) *
			    (want - m->comp_target);
			step = (m->comp_target - gain) / COMP_STEP;
		}
		phase = (phase + 1) % COMP_STEP;
		gain += step;
		left[i] = (float)(left[i] * gain);
		right[i] = (float)(right[i] * gain);
	}
	m->comp_env = env;
	m->comp_gain = gain;
	m->comp_step = step;
	m->comp_phase = phase;
}

static void
dc_block(struct mix *m, float *x, int side, size_t n)
{
	double x1 = m->dc_x[side], y1 = m->dc_y[side], r = m->dc_r;

	for (size_t i = 0; i < n; i++) {
		double y = x[i] - x1 + r * y1;

		x1 = x[i];
		y1 = fabs(y) < 1e-30 ? 0 : y;
		x[i] = (float)y;
	}
	m->dc_x[side] = x1;
	m->dc_y[side] = y1;
}

void
mix_process(struct mix *m, float *const dry[2 * MIX_CHANNELS], unsigned channels, size_t n,
    float *left, float *right)
{
	if (n > MIX_BLOCK_MAX)
		n = MIX_BLOCK_MAX;
	memset(left, 0, n * sizeof *left);
	memset(right, 0, n * sizeof *right);
	memset(m->send, 0, n * sizeof *m->send);
	for (int ch = 0; ch < MIX_CHANNELS; ch++) {
		const struct mix_channel *c = &m->s.channel[ch];
		float *dl = dry[2 * ch], *dr = dry[2 * ch + 1];
		float gain = (float)c->gain, send = (float)(c->gain * c->send * 0.5) * m->send_scale[ch];

		if (!(channels >> ch & 1))
			continue;
		if (c->highpass_hz > 0) {
			biquad_run(&m->channel_hp[ch][0], dl, n);
			biquad_run(&m->channel_hp[ch][1], dr, n);
		}
		for (size_t i = 0; i < n; i++) {
			left[i] += gain * dl[i];
			right[i] += gain * dr[i];
			m->send[i] += send * (dl[i] + dr[i]);
		}
	}
	if (m->s.reverb)
		reverb_run(m, n, left, right);
	compress(m, left, right, n);
	dc_block(m, left, 0, n);
	dc_block(m, right, 1, n);
}
