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
 *
 * Every live stream runs its own mix, so its cost is paid once a listener
 * (docs/performance.md).  The network runs a stretch of frames at a time:
 * each line's shortest delay is longer than the stretch, so what the lines
 * return over it was written before it began, and can be read first, in
 * one pass a line; the eight lines are then computed side by side, a frame
 * at a time, and written back in one pass a line.  Each operation is the
 * one a frame-by-frame loop would do, in the same order, so the sound does
 * not depend on how the work is cut.
 */
#include "mix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REVERB_LINES 8
#define DIFFUSERS 4
#define DIFFUSION 0.6f
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

/*
 * Frames of the network run at a time: the longest stretch read ahead.
 * It must not exceed the shortest line, 260 frames at the lowest rate,
 * 8 kHz; mix_new bounds it by the lines all the same.
 */
#define STRETCH_MAX 256

struct mix {
	struct mix_settings s;
	struct biquad channel_hp[MIX_CHANNELS][2];
	struct biquad send_hp;
	struct delay predelay;
	struct delay diffuser[DIFFUSERS];
	float *lines;                   /* REVERB_LINES rings of ring_frames each */
	size_t ring_frames;             /* a power of two above the longest line */
	size_t line_len[REVERB_LINES];
	size_t stretch;                 /* frames run at a time: <= the shortest line */
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
	float tap[REVERB_LINES][STRETCH_MAX];   /* what the lines return */
	float feed[REVERB_LINES][STRETCH_MAX];  /* what goes back into them */
	float sum[STRETCH_MAX];                 /* the Householder sum, 2/N of it */
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

/*
 * Filters the pair x[0..n-1] and y[0..n-1] with f[0] and f[1] (left and
 * right, the same coefficients): the two sides run side by side, as one
 * vector of two.
 */
static void
biquad_run2(struct biquad f[2], float *restrict x, float *restrict y, size_t n)
{
	double z1[2] = { f[0].z1, f[1].z1 }, z2[2] = { f[0].z2, f[1].z2 };
	const double b0 = f[0].b0, b1 = f[0].b1, b2 = f[0].b2, a1 = f[0].a1, a2 = f[0].a2;

	for (size_t i = 0; i < n; i++) {
		double in[2] = { x[i], y[i] }, out[2];

		for (int c = 0; c < 2; c++) {
			out[c] = b0 * in[c] + z1[c];
			z1[c] = b1 * in[c] - a1 * out[c] + z2[c];
			z2[c] = b2 * in[c] - a2 * out[c];
			/* A silent channel's state decays toward denormals: flush it,
			 * sample by sample, so that block sizes change nothing. */
			z1[c] = fabs(z1[c]) < 1e-30 ? 0 : z1[c];
			z2[c] = fabs(z2[c]) < 1e-30 ? 0 : z2[c];
		}
		x[i] = (float)out[0];
		y[i] = (float)out[1];
	}
	f[0].z1 = z1[0];
	f[0].z2 = z2[0];
	f[1].z1 = z1[1];
	f[1].z2 = z2[1];
}

/* Filters x[0..n-1] with f. */
static void
biquad_run(struct biquad *f, float *x, size_t n)
{
	double z1 = f->z1, z2 = f->z2;
	const double b0 = f->b0, b1 = f->b1, b2 = f->b2, a1 = f->a1, a2 = f->a2;

	for (size_t i = 0; i < n; i++) {
		double in = x[i], out = b0 * in + z1;

		z1 = b1 * in - a1 * out + z2;
		z2 = b2 * in - a2 * out;
		z1 = fabs(z1) < 1e-30 ? 0 : z1;
		z2 = fabs(z2) < 1e-30 ? 0 : z2;
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

/*
 * Delays x[0..n-1] by d's length, in place: each sample comes out as the
 * one written len frames before it.  The buffer is walked in runs up to
 * its end, so that the loop does not test for the wrap at every sample.
 */
static void
delay_run(struct delay *d, float *x, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t run = d->len - d->pos < n - i ? d->len - d->pos : n - i;
		float *buf = d->buf + d->pos;

		for (size_t j = 0; j < run; j++) {
			float out = buf[j];

			buf[j] = x[i + j];
			x[i + j] = out;
		}
		i += run;
		d->pos = (d->pos + run) % d->len;
	}
}

/* A Schroeder all-pass on x[0..n-1], in place: flat in level, smeared in time. */
static void
diffuser_run(struct delay *d, float *x, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t run = d->len - d->pos < n - i ? d->len - d->pos : n - i;
		float *buf = d->buf + d->pos;

		for (size_t j = 0; j < run; j++) {
			float held = buf[j], v = x[i + j] + DIFFUSION * held;

			buf[j] = v;
			x[i + j] = held - DIFFUSION * v;
		}
		i += run;
		d->pos = (d->pos + run) % d->len;
	}
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
	m->ring_frames = 1;
	m->stretch = STRETCH_MAX;
	for (int i = 0; i < REVERB_LINES; i++) {
		m->line_len[i] = scaled(line_frames_44k[i], s->rate);
		/* -60 dB after reverb_seconds: 10^(-3 * delay / T60) a trip. */
		m->line_gain[i] = (float)pow(10, -3.0 * (double)m->line_len[i] /
		    (s->reverb_seconds * s->rate));
		while (m->ring_frames <= m->line_len[i])
			m->ring_frames *= 2;
		if (m->stretch > m->line_len[i])
			m->stretch = m->line_len[i];
	}
	m->lines = calloc(REVERB_LINES * m->ring_frames, sizeof *m->lines);
	bad |= m->lines ? 0 : -1;
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

/* Copies n frames of a ring of `size` frames from position `from` to dst. */
static void
ring_read(const float *ring, size_t size, size_t from, float *dst, size_t n)
{
	size_t first = size - from < n ? size - from : n;

	memcpy(dst, ring + from, first * sizeof *dst);
	memcpy(dst + first, ring, (n - first) * sizeof *dst);
}

/* Copies src[0..n-1] into a ring of `size` frames from position `to` on. */
static void
ring_write(float *ring, size_t size, size_t to, const float *src, size_t n)
{
	size_t first = size - to < n ? size - to : n;

	memcpy(ring + to, src, first * sizeof *src);
	memcpy(ring, src + first, (n - first) * sizeof *src);
}

/*
 * The network over n <= m->stretch frames: x[0..n-1] is the diffused send;
 * the return is added to left and right.  Only the lines' low-passes are
 * serial in time, and they run first, the eight side by side; the
 * Householder sum, the feedback and the taps are then loops over the
 * frames, which the compiler turns into vector code.  Each frame's
 * arithmetic is the same, in the same order, as a frame-by-frame loop's.
 */
static void
network_run(struct mix *m, const float *restrict x, size_t n, float *restrict left,
    float *restrict right)
{
	const float wet = (float)m->s.wet, damp = m->damp, keep = 1 - damp;
	const size_t ring = m->ring_frames, w = m->write;
	float (*restrict tap)[STRETCH_MAX] = m->tap, (*restrict feed)[STRETCH_MAX] = m->feed;
	float *restrict sum = m->sum;
	float lp[REVERB_LINES], gain[REVERB_LINES];

	/* What each line returns now was written line_len frames ago: before this stretch. */
	for (int k = 0; k < REVERB_LINES; k++) {
		ring_read(m->lines + (size_t)k * ring, ring, (w - m->line_len[k]) & (ring - 1), tap[k], n);
		lp[k] = m->line_lp[k];
		gain[k] = m->line_gain[k];
	}
	/* Each line's damping low-pass and gain, into feed: serial in time, the eight lines side by side. */
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < REVERB_LINES; k++) {
			lp[k] = keep * tap[k][i] + damp * lp[k];
			feed[k][i] = lp[k] * gain[k];
		}
	/*
	 * The Householder matrix: each line gets its own minus 2/N of the sum.
	 * Summed as a tree, not a chain: eight additions in a row would be
	 * most of the network's time.
	 */
	for (size_t i = 0; i < n; i++) {
		sum[i] = ((feed[0][i] + feed[1][i]) + (feed[2][i] + feed[3][i])) +
		    ((feed[4][i] + feed[5][i]) + (feed[6][i] + feed[7][i]));
		sum[i] *= 2.0f / REVERB_LINES;
	}
	for (int k = 0; k < REVERB_LINES; k++)
		for (size_t i = 0; i < n; i++)
			feed[k][i] = feed[k][i] - sum[i] + x[i];
	for (size_t i = 0; i < n; i++) {
		left[i] += wet * ((tap[0][i] + tap[2][i] + tap[4][i] + tap[6][i]) -
		    (tap[1][i] + tap[3][i] + tap[5][i] + tap[7][i]));
		right[i] += wet * ((tap[0][i] + tap[1][i] + tap[4][i] + tap[5][i]) -
		    (tap[2][i] + tap[3][i] + tap[6][i] + tap[7][i]));
	}
	for (int k = 0; k < REVERB_LINES; k++) {
		ring_write(m->lines + (size_t)k * ring, ring, w, feed[k], n);
		m->line_lp[k] = lp[k];
	}
	m->write = (w + n) & (ring - 1);
}

/* Adds the reverb of m->send[0..n-1] to left and right. */
static void
reverb_run(struct mix *m, size_t n, float *left, float *right)
{
	if (m->s.send_highpass_hz > 0)
		biquad_run(&m->send_hp, m->send, n);
	delay_run(&m->predelay, m->send, n);
	for (size_t i = 0; i < n; i++)
		m->send[i] += ANTI_DENORMAL;
	for (int d = 0; d < DIFFUSERS; d++)
		diffuser_run(&m->diffuser[d], m->send, n);
	for (size_t at = 0; at < n; at += m->stretch) {
		size_t len = n - at < m->stretch ? n - at : m->stretch;

		network_run(m, m->send + at, len, left + at, right + at);
	}
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

/* The DC blocker on the pair, the two sides side by side, as one vector of two. */
static void
dc_block(struct mix *m, float *restrict left, float *restrict right, size_t n)
{
	double x1[2] = { m->dc_x[0], m->dc_x[1] }, y1[2] = { m->dc_y[0], m->dc_y[1] };
	const double r = m->dc_r;

	for (size_t i = 0; i < n; i++) {
		double in[2] = { left[i], right[i] }, out[2];

		for (int c = 0; c < 2; c++) {
			out[c] = in[c] - x1[c] + r * y1[c];
			x1[c] = in[c];
			y1[c] = fabs(out[c]) < 1e-30 ? 0 : out[c];
		}
		left[i] = (float)out[0];
		right[i] = (float)out[1];
	}
	m->dc_x[0] = x1[0];
	m->dc_y[0] = y1[0];
	m->dc_x[1] = x1[1];
	m->dc_y[1] = y1[1];
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
		if (c->highpass_hz > 0)
			biquad_run2(m->channel_hp[ch], dl, dr, n);
		for (size_t i = 0; i < n; i++) {
			left[i] += gain * dl[i];
			right[i] += gain * dr[i];
			m->send[i] += send * (dl[i] + dr[i]);
		}
	}
	if (m->s.reverb)
		reverb_run(m, n, left, right);
	compress(m, left, right, n);
	dc_block(m, left, right, n);
}
