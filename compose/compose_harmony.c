/*
 * compose_harmony.c - the composer's harmony: chord chains, progressions,
 * the pad's voicings, the layer and the ending (docs/composer.md).
 *
 * A progression of 4 to 6 chords is drawn from the mode's order-2 chord
 * chain (compose_tables.c), its last chord chosen so that it leads back
 * to the first.  Each chord lasts a whole number of bars drawn from
 * chord_seconds: 12..26 s when calm, 4..9 s when busy.  A progression is
 * played twice, and the second time it comes back varied: its chords'
 * lengths drawn again, about half their colours changed (at least one
 * chord is always different), and the pad's voicings leaning a major third
 * up or down, so that other inversions win.  Then the chain goes on into
 * the next progression.
 *
 * Each chord is a triad, a seventh, an add9 or a sus chord, voiced for the
 * pad in the low-middle register (B2..A#4) by trying every octave
 * placement of its tones and keeping the one that moves least from the
 * chord before.  Tones in common are held, not struck again; the others
 * are released and struck at the same time.  This holds for a change of
 * key or mode too: the pad moves voice-led to the new tonic, with no gap.
 *
 * The layer (channel 2) plays where the form's energy is above a threshold
 * that falls with intensity: the root in the bass octave and the pad's top
 * voice, an octave higher when the music is calm.  It is chosen at each
 * chord change.
 *
 * The ending.  When the music has an end, the chord whose time is up close
 * to it is replaced: first a chord drawn from the chain toward the tonic,
 * then the tonic triad, which lasts to the end (at least 8 s, and a chord
 * and a half's length).  Over its last 12 s pad and layer fade by
 * expression (CC 11) before `end` releases them.
 *
 * The pad uses `on` and `off` events, not `note`: a chord's length is not
 * known when it starts, because a control can cut it short.
 */
#include <stdlib.h>

#include "compose_internal.h"

_Static_assert(PROGRESSION_CHORDS_MAX <= PROGRESSION_MAX, "a progression fits c->prog");

static bool
voicing_has(const struct voicing *v, int key)
{
	for (int i = 0; i < v->n; i++)
		if (v->key[i] == key)
			return true;
	return false;
}

/* The tone `above` degrees over degree's root, in semitones above the tonic. */
static int
degree_tone(enum compose_mode mode, int degree, int above)
{
	int d = degree + above;

	return compose_modes[mode].steps[d % DEGREES] + 12 * (d / DEGREES);
}

static bool
chord_kind_fits(enum compose_mode mode, int degree, enum chord_kind kind)
{
	int root = degree_tone(mode, degree, 0);

	switch (kind) {
	case CHORD_ADD9:
	case CHORD_SUS2:
		return degree_tone(mode, degree, 1) - root == 2;
	case CHORD_SUS4:
		return degree_tone(mode, degree, 3) - root == 5;
	default:
		return true;
	}
}

/* The pitch classes of a chord, root first.  Returns how many. */
static int
chord_tones(int key, enum compose_mode mode, const struct chord *ch, int pcs[VOICES_MAX])
{
	int above[VOICES_MAX], n = 0;

	above[n++] = 0;
	switch (ch->kind) {
	case CHORD_TRIAD:   above[n++] = 2; above[n++] = 4; break;
	case CHORD_SEVENTH: above[n++] = 2; above[n++] = 4; above[n++] = 6; break;
	case CHORD_ADD9:    above[n++] = 2; above[n++] = 4; above[n++] = 1; break;
	case CHORD_SUS2:    above[n++] = 1; above[n++] = 4; break;
	case CHORD_SUS4:    above[n++] = 3; above[n++] = 4; break;
	default: break;
	}
	for (int i = 0; i < n; i++)
		pcs[i] = (key + degree_tone(mode, ch->degree, above[i])) % 12;
	return n;
}

static const struct chord_rule *
chain_row(enum compose_mode mode, int before, int last)
{
	const struct mode_def *m = &compose_modes[mode];
	const struct chord_rule *fallback = NULL;

	for (size_t i = 0; i < m->nrules; i++) {
		if (m->rules[i].last != last)
			continue;
		if (m->rules[i].before == before)
			return &m->rules[i];
		if (m->rules[i].before == DEGREE_ANY)
			fallback = &m->rules[i];
	}
	return fallback;
}

/*
 * Draws the chord after (before, last).  With toward >= 0 it prefers
 * chords from which the chain can move to degree toward, so that a
 * progression's last chord leads back to its first.
 */
static int
chain_next(struct composer *c, int before, int last, int toward)
{
	const struct chord_rule *row = chain_row(c->p.mode, before, last);
	double w[DEGREES], led[DEGREES];
	bool any_led = false;
	int d;

	for (d = 0; d < DEGREES; d++) {
		w[d] = row ? row->weight[d] : 0;
		led[d] = 0;
		if (toward >= 0 && w[d] > 0) {
			const struct chord_rule *next = chain_row(c->p.mode, last, d);

			if (next && next->weight[toward] > 0) {
				led[d] = w[d] * (1 + next->weight[toward]);
				any_led = true;
			}
		}
	}
	d = rng_weighted(&c->harmony_rng, any_led ? led : w, DEGREES);
	return d >= 0 ? d : 0;
}

static enum chord_kind
chord_kind_pick(struct composer *c, int degree)
{
	double w[CHORD_KINDS];
	int k;

	for (k = 0; k < CHORD_KINDS; k++)
		w[k] = chord_kind_fits(c->p.mode, degree, k) ?
		    compose_mix(chord_kind_weight[0], chord_kind_weight[1], k, c->x) : 0;
	k = rng_weighted(&c->harmony_rng, w, CHORD_KINDS);
	return k >= 0 ? (enum chord_kind)k : CHORD_TRIAD;
}

/* The intensity that sets chord lengths: the form moves it half as far. */
static double
chord_intensity(const struct composer *c)
{
	return compose_clamp(c->p.intensity + 0.5 * section_swing * c->energy, 0, 1);
}

/* A typical chord's length now, in microseconds. */
static double
chord_typical_us(const struct composer *c)
{
	double x = chord_intensity(c);

	return 0.5 * COMPOSE_US * (compose_mix(chord_seconds[0], chord_seconds[1], 0, x) +
	    compose_mix(chord_seconds[0], chord_seconds[1], 1, x));
}

/* A chord's length in bars, drawn from chord_seconds at the intensity now. */
static int
chord_bars_draw(struct composer *c)
{
	double x = chord_intensity(c);
	double lo = compose_mix(chord_seconds[0], chord_seconds[1], 0, x);
	double hi = compose_mix(chord_seconds[0], chord_seconds[1], 1, x);
	double us = (lo + rng_unit(&c->harmony_rng) * (hi - lo)) * COMPOSE_US;
	int bars = (int)(us / compose_bar_us(c) + 0.5);

	return bars < 1 ? 1 : bars;
}

/* Plans the next progression; from the tonic after a change of harmony. */
static void
progression_plan(struct composer *c, bool from_tonic)
{
	int len = PROGRESSION_CHORDS_MIN +
	    (int)rng_below(&c->harmony_rng, PROGRESSION_CHORDS_MAX - PROGRESSION_CHORDS_MIN + 1);
	int before = c->before, last = c->last;

	for (c->prog_len = 0; c->prog_len < len; c->prog_len++) {
		struct chord *ch = &c->prog[c->prog_len];
		bool final = c->prog_len == len - 1;

		ch->bars = chord_bars_draw(c);
		if (c->prog_len == 0 && (from_tonic || last < 0))
			ch->degree = 0;
		else
			ch->degree = chain_next(c, before, last, final ? c->prog[0].degree : -1);
		ch->kind = chord_kind_pick(c, ch->degree);
		before = last;
		last = ch->degree;
	}
	c->prog_i = 0;
	c->plays_left = PROGRESSION_PLAYS;
	c->voicing_bias = 0;
}

/*
 * The progression once more, varied: new lengths, about half the colours
 * drawn again (at least one chord always differs), and voicings that
 * lean up or down a major third.
 */
static void
progression_vary(struct composer *c)
{
	bool changed = false;

	for (int i = 0; i < c->prog_len; i++) {
		struct chord *ch = &c->prog[i];
		int bars = chord_bars_draw(c);

		changed |= bars != ch->bars;
		ch->bars = bars;
		if (rng_chance(&c->harmony_rng, progression_vary_colour)) {
			enum chord_kind kind = chord_kind_pick(c, ch->degree);

			changed |= kind != ch->kind;
			ch->kind = kind;
		}
	}
	if (!changed) {
		struct chord *ch = &c->prog[rng_below(&c->harmony_rng, (uint32_t)c->prog_len)];

		ch->kind = ch->kind == CHORD_TRIAD ? CHORD_SEVENTH : CHORD_TRIAD;
	}
	c->voicing_bias = rng_chance(&c->harmony_rng, 0.5) ? REPEAT_LEAN : -REPEAT_LEAN;
	c->prog_i = 0;
}

/*
 * How far the voices of a are from the nearest voices of b: the sum, with
 * each move beyond a major third counted three times over, so that no one
 * voice jumps while the others sit still.
 */
static int
voicing_distance(const struct voicing *a, const struct voicing *b)
{
	int sum = 0;

	for (int i = 0; i < a->n; i++) {
		int best = 128;

		for (int j = 0; j < b->n; j++)
			if (abs(a->key[i] - b->key[j]) < best)
				best = abs(a->key[i] - b->key[j]);
		sum += best > 4 ? 4 + 3 * (best - 4) : best;
	}
	return sum;
}

static double
voicing_cost(const struct voicing *from, const struct voicing *v, int bias)
{
	double cost = 0, centre = 0;
	int span = v->key[v->n - 1] - v->key[0];

	if (from->n)
		cost += voicing_distance(v, from) + voicing_distance(from, v);
	for (int i = 0; i < v->n; i++)
		centre += v->key[i];
	centre = centre / v->n - (PAD_CENTRE + bias);
	cost += 0.5 * (centre < 0 ? -centre : centre);         /* stay low-middle */
	if (span > 16)
		cost += 3;                                      /* keep the pad close */
	for (int i = 1; i < v->n; i++)
		if (v->key[i] - v->key[i - 1] == 1)
			cost += 2;                              /* a rub, not a cluster */
	if (v->n > 1 && v->key[1] - v->key[0] < 3 && v->key[0] < 55)
		cost += 2;                                      /* mud at the bottom */
	return cost;
}

/*
 * Voices the pitch classes pcs[0..n-1] in PAD_LOW..PAD_HIGH, moving as
 * little as possible from `from` (or near the middle when from is empty).
 */
static void
voice_lead(const struct voicing *from, const int *pcs, int n, int bias, struct voicing *out)
{
	double best = 1e9;

	for (unsigned octaves = 0; octaves < 1u << n; octaves++) {
		struct voicing v = { .n = n };

		for (int i = 0; i < n; i++) {
			int key = PAD_LOW + ((pcs[i] - PAD_LOW) % 12 + 12) % 12;

			v.key[i] = key + (octaves >> i & 1 ? 12 : 0);
		}
		for (int i = 1; i < n; i++)             /* insertion sort, ascending */
			for (int j = i; j > 0 && v.key[j] < v.key[j - 1]; j--) {
				int t = v.key[j];

				v.key[j] = v.key[j - 1];
				v.key[j - 1] = t;
			}
		if (v.key[n - 1] > PAD_HIGH)
			continue;
		double cost = voicing_cost(from, &v, bias);

		if (cost < best) {
			best = cost;
			*out = v;
		}
	}
}

/*
 * The layer where the form's energy passes the threshold: the root in the
 * bass and the pad's top voice, an octave up when calm.
 */
static void
layer_for(const struct composer *c, const struct voicing *pad, struct voicing *out)
{
	double threshold = compose_mix(layer_threshold, layer_threshold + 1, 0, c->p.intensity);

	out->n = 0;
	if (c->energy <= threshold || !pad->n)
		return;
	out->key[out->n++] = BASS_LOW + c->chord_root;
	out->key[out->n++] = pad->key[pad->n - 1] + (c->x < LAYER_HALO_BELOW ? 12 : 0);
}

static int
pad_velocity(const struct composer *c)
{
	return (int)(compose_mix(pad_velocity_level, pad_velocity_level + 1, 0, c->x) + 0.5);
}

/*
 * Makes the pad and layer sound `pad` and `layer`: releases what is not in
 * them and starts what is new, at the same time.  Tones in common are held.
 */
static void
sound_sync(struct composer *c, int64_t t, const struct voicing *pad, const struct voicing *layer,
    struct note_event *out, int *n)
{
	int vel = pad_velocity(c);

	for (int i = 0; i < c->pad.n; i++)
		if (!voicing_has(pad, c->pad.key[i]))
			compose_emit(out, n, t, NOTE_OFF, COMPOSE_CH_PAD, c->pad.key[i], 0);
	for (int i = 0; i < c->layer.n; i++)
		if (!voicing_has(layer, c->layer.key[i]))
			compose_emit(out, n, t, NOTE_OFF, COMPOSE_CH_LAYER, c->layer.key[i], 0);
	for (int i = 0; i < pad->n; i++)
		if (!voicing_has(&c->pad, pad->key[i]))
			compose_emit(out, n, t, NOTE_ON, COMPOSE_CH_PAD, pad->key[i], vel);
	for (int i = 0; i < layer->n; i++)
		if (!voicing_has(&c->layer, layer->key[i]))
			compose_emit(out, n, t, NOTE_ON, COMPOSE_CH_LAYER, layer->key[i],
			    vel - layer_velocity_drop);
	c->pad = *pad;
	c->layer = *layer;
}

void
harmony_release(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	struct voicing none = { 0 };

	sound_sync(c, t, &none, &none, out, n);
}

/* The closing tonic: how long it lasts at least, in microseconds. */
static double
final_us(const struct composer *c)
{
	double us = final_chord_chords * chord_typical_us(c);

	if (us < final_chord_seconds_min * COMPOSE_US)
		us = final_chord_seconds_min * COMPOSE_US;
	if (us < 2 * compose_bar_us(c))
		us = 2 * compose_bar_us(c);
	return us;
}

/*
 * Near the end, the chord the ending calls for at t: the tonic triad to
 * the end, or before it a chord drawn toward the tonic, lasting until the
 * tonic's time.  Returns false while the progression goes on.
 */
static bool
ending_chord(struct composer *c, int64_t t, struct chord *ch)
{
	double left = (double)(c->end_us - t), last_us = final_us(c), typical = chord_typical_us(c);

	if (!c->end_us || left > last_us + 1.5 * typical)
		return false;
	if (left > last_us + 0.5 * typical && c->last >= 0) {
		ch->degree = chain_next(c, c->before, c->last, 0);
		ch->kind = chord_kind_pick(c, ch->degree);
		ch->bars = (int)((left - last_us) / compose_bar_us(c) + 0.5);
		if (ch->degree != 0 && ch->bars >= 1)
			return true;
	}
	ch->degree = 0;
	ch->kind = CHORD_TRIAD;
	ch->bars = FOREVER_SLOTS / SLOTS_PER_BAR;
	c->final = true;
	c->fade_from_us = c->end_us - (int64_t)(fade_seconds_max * COMPOSE_US);
	if (c->fade_from_us < t)
		c->fade_from_us = t;
	return true;
}

/* Moves to the next chord and voices it into *pad. */
static void
chord_next(struct composer *c, int64_t t, const struct voicing *lead_from, struct voicing *pad)
{
	struct chord ending;
	const struct chord *ch;
	int pcs[VOICES_MAX], npcs;

	if (ending_chord(c, t, &ending)) {
		ch = &ending;
	} else {
		if (c->prog_i >= c->prog_len) {
			if (--c->plays_left > 0)
				progression_vary(c);
			else
				progression_plan(c, false);
		}
		ch = &c->prog[c->prog_i++];
	}
	c->chord_slots_left = ch->bars * SLOTS_PER_BAR;
	npcs = chord_tones(c->p.key, c->p.mode, ch, pcs);
	c->chord_root = pcs[0];
	c->chord_pcs = 0;
	for (int i = 0; i < npcs; i++)
		c->chord_pcs |= 1u << pcs[i];
	voice_lead(lead_from, pcs, npcs, c->voicing_bias, pad);
	c->before = c->last;
	c->last = ch->degree;
}

/*
 * The harmony's part of a step: a new chord when its time has come, at
 * once after a change of key or mode (from the new tonic) and after a
 * change of tempo or intensity.  The closing tonic stays to the end.
 */
void
harmony_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	struct voicing pad = c->pad, layer;

	if (c->restart) {
		c->before = c->last = DEGREE_ANY;
		c->final = false;
		progression_plan(c, true);
		chord_next(c, t, &c->pad, &pad);
		c->bar_slot = 0;
	} else if ((c->refresh && !c->final) || c->chord_slots_left <= 0) {
		chord_next(c, t, &c->pad, &pad);
		c->bar_slot = 0;
	} else {
		c->refresh = false;
		return;
	}
	c->restart = c->refresh = false;
	layer_for(c, &pad, &layer);
	sound_sync(c, t, &pad, &layer, out, n);
}

/* The ending's fade: pad and layer expression down to fade_expression_end. */
void
harmony_fade_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	double r;
	int expression;

	if (!c->final || t < c->fade_from_us || c->end_us <= c->fade_from_us)
		return;
	r = (double)(t - c->fade_from_us) / (double)(c->end_us - c->fade_from_us);
	expression = 127 - (int)((127 - fade_expression_end) * r + 0.5);
	if (expression == c->expression)
		return;
	compose_emit(out, n, t, NOTE_CC, COMPOSE_CH_PAD, 11, expression);
	compose_emit(out, n, t, NOTE_CC, COMPOSE_CH_LAYER, 11, expression);
	c->expression = expression;
}
