/*
 * mix.c - levels, filters, the reverb and the DC blocker (mix.h).
 *
 * Filters are RBJ biquads in transposed direct form II, kept in double so
 * that a low corner stays exact.  The DC blocker is the one-pole, one-zero
 * high-pass y[n] = x[n] - x[n-1] + R y[n-1].
 *
 * The reverb is a feedback delay network: eight delay lines of 32 to 66 ms
 * (at 44.1 kHz; scaled with the rate), mixed through an 8x8 Hadamard
 * matrix, each line with a gain that makes it lose 60 dB in
 * reverb_seconds and a one-pole low-pass that makes the highs die sooner,
 * as in a real room.  Before the network the mono send passes a pre-delay
 * and four Schroeder all-passes that smear each onset into a dense wash.
 * The left and right returns tap the lines with orthogonal signs, so they
 * are decorrelated and the tail is wide.
 */
#include "mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REVERB_LINES 8
#define DIFFUSERS 4
#define DIFFUSION 0.6f
#define DENORMAL 1e-18f                 /* below this a tail is silence */

static const int line_frames_44k[REVERB_LINES] = {
	1433, 1601, 1867, 2053, 2251, 2399, 2617, 2903,
};
static const int diffuser_frames_44k[DIFFUSERS] = { 142, 107, 379, 277 };
static const float tap_left[REVERB_LINES] = { 1, -1, 1, -1, 1, -1, 1, -1 };
static const float tap_right[REVERB_LINES] = { 1, 1, -1, -1, 1, 1, -1, -1 };

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
	struct delay line[REVERB_LINES];
	float line_gain[REVERB_LINES];
	float line_lp[REVERB_LINES];    /* the low-pass's state */
	float damp;                     /* its coefficient */
	float send_scale[MIX_CHANNELS]; /* CC 91 / 100 */
	double dc_r, dc_x[2], dc_y[2];
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
	s->channel[1] = (struct mix_channel){ .gain = 0.4, .highpass_hz = 160, .send = 0.45 };
	s->channel[2] = (struct mix_channel){ .gain = 0.36, .highpass_hz = 160, .send = 0.45 };
	s->reverb = true;
	s->reverb_seconds = 3.0;
	s->reverb_damp_hz = 6000;
	s->reverb_predelay_s = 0.02;
	s->send_highpass_hz = 220;
	s->wet = 0.15;
	s->dc_hz = 5;
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
		x[i] = (float)out;
	}
	/* A silent channel's state decays toward denormals: flush it. */
	f->z1 = fabs(z1) < 1e-30 ? 0 : z1;
	f->z2 = fabs(z2) < 1e-30 ? 0 : z2;
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

/* In-place 8-point Hadamard transform, scaled to keep energy. */
static inline void
hadamard8(float v[REVERB_LINES])
{
	for (int h = 1; h < REVERB_LINES; h *= 2)
		for (int i = 0; i < REVERB_LINES; i += 2 * h)
			for (int j = i; j < i + h; j++) {
				float a = v[j], b = v[j + h];

				v[j] = a + b;
				v[j + h] = a - b;
			}
	for (int i = 0; i < REVERB_LINES; i++)
		v[i] *= 0.35355339f;    /* 1 / sqrt(8) */
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
	    s->dc_hz > 0 && s->dc_hz < nyquist;
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
	for (int i = 0; i < REVERB_LINES; i++) {
		bad |= delay_init(&m->line[i], scaled(line_frames_44k[i], s->rate));
		/* -60 dB after reverb_seconds: 10^(-3 * delay / T60) a trip. */
		m->line_gain[i] = (float)pow(10, -3.0 * (double)m->line[i].len /
		    (s->reverb_seconds * s->rate));
	}
	m->damp = (float)exp(-2 * M_PI * s->reverb_damp_hz / s->rate);
	m->dc_r = exp(-2 * M_PI * s->dc_hz / s->rate);
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
	for (int i = 0; i < REVERB_LINES; i++)
		free(m->line[i].buf);
	free(m);
}

void
mix_set_send_cc(struct mix *m, int ch, int value)
{
	if (ch >= 0 && ch < MIX_CHANNELS && value >= 0 && value <= 127)
		m->send_scale[ch] = (float)value / 100;
}

/* Adds the reverb of m->send[0..n-1] to left and right. */
static void
reverb_run(struct mix *m, size_t n, float *left, float *right)
{
	float wet = (float)m->s.wet, keep = 1 - m->damp;

	if (m->s.send_highpass_hz > 0)
		biquad_run(&m->send_hp, m->send, n);
	for (size_t i = 0; i < n; i++) {
		float x = delay_swap(&m->predelay, m->send[i]);
		float v[REVERB_LINES], l = 0, r = 0;

		for (int d = 0; d < DIFFUSERS; d++)
			x = diffuse(&m->diffuser[d], x);
		for (int k = 0; k < REVERB_LINES; k++) {
			float out = m->line[k].buf[m->line[k].pos];
			float lp = m->line_lp[k] = keep * out + m->damp * m->line_lp[k];

			if (fabsf(lp) < DENORMAL)
				m->line_lp[k] = lp = 0;
			l += tap_left[k] * out;
			r += tap_right[k] * out;
			v[k] = lp * m->line_gain[k];
		}
		hadamard8(v);
		for (int k = 0; k < REVERB_LINES; k++)
			delay_swap(&m->line[k], v[k] + x);
		left[i] += wet * l;
		right[i] += wet * r;
	}
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
mix_process(struct mix *m, float *const dry[2 * MIX_CHANNELS], size_t n, float *left, float *right)
{
	if (n > MIX_BLOCK_MAX)
		n = MIX_BLOCK_MAX;
	memset(left, 0, n * sizeof *left);
	memset(right, 0, n * sizeof *right);
	memset(m->send, 0, n * sizeof *m->send);
	for (int ch = 0; ch < MIX_CHANNELS; ch++) {
		const struct mix_channel *c = &m->s.channel[ch];
		float *dl = dry[2 * ch], *dr = dry[2 * ch + 1];
		float gain = (float)c->gain, send = (float)(c->send * 0.5) * m->send_scale[ch];

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
	dc_block(m, left, 0, n);
	dc_block(m, right, 1, n);
}
