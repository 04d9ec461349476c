/*
 * compose_melody.c - the composer's melody: the piano on channel 0
 * (docs/composer.md).
 *
 * The piano plays phrases of 3 to 10 notes with rests between them that
 * breathe: 3 to 10 s when calm, 0.5 to 3 s when busy, and up to two and a
 * half times longer in the form's low sections.  At each free step a note
 * starts with a chance that grows with the intensity heard (c->x, the
 * preset's intensity moved by the form), and the register's centre rises
 * with it.  A pitch is chosen under constraints: first its kind (a tone of
 * the sounding chord, another tone of the scale, or a chromatic passing
 * tone), then among the pitches of that kind within a fifth of the last
 * note and inside the register, weighted to favour steps, to turn back
 * after a leap, and to stay near the centre of the register.  A chromatic
 * tone is only taken between two scale tones a whole step apart, lasts an
 * eighth, and the next step plays the scale tone it leads to.  Phrase
 * endings are long chord tones.  Velocities follow an arch over the phrase
 * around a level that intensity moves only a little.
 *
 * The composer remembers the notes it wrote until they end.  When the key
 * or mode changes, each one still sounding outside the new scale gets an
 * `off` at the change, and its key is not struck again before the note's
 * scheduled end (with a margin for times written to the millisecond), so
 * that a renderer's late note-off for the old note can never cut a new
 * one.  A note ending within that margin of the change is left to end.  No note starts when COMPOSE_NOTES_MAX would sound.
 *
 * The ending: when the closing tonic starts, the phrase under way ends
 * within two notes (or a short phrase is played), the last note on the
 * tonic if it lies within a fifth, else on another tone of the tonic
 * chord, softer as the music fades; then the piano is silent.
 */
#include <stdlib.h>

#include "compose_internal.h"

#define PRINTED_US 2000                 /* times and durations are written to the ms: a margin */

enum tone_kind { TONE_CHORD, TONE_SCALE, TONE_CHROMATIC, TONE_ROOT };

/* --- what is sounding --- */

/* Forgets the notes over by t. */
static void
ringing_prune(struct composer *c, int64_t t)
{
	int kept = 0;

	for (int i = 0; i < c->nringing; i++)
		if (c->ringing[i].end_us > t)
			c->ringing[kept++] = c->ringing[i];
	c->nringing = kept;
}

int
melody_sounding(struct composer *c, int64_t t)
{
	int n = 0;

	ringing_prune(c, t);
	for (int i = 0; i < c->nringing; i++)
		n += !c->ringing[i].released;
	return n;
}

/* True while key waits for the scheduled end of a note released early. */
static bool
key_blocked(const struct composer *c, int key)
{
	for (int i = 0; i < c->nringing; i++)
		if (c->ringing[i].released && c->ringing[i].key == key)
			return true;
	return false;
}

void
melody_release_clashes(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	ringing_prune(c, t);
	for (int i = 0; i < c->nringing; i++) {
		struct ringing *r = &c->ringing[i];

		if (r->released || compose_in_mask(c->scale, r->key) || r->end_us <= t + PRINTED_US)
			continue;
		compose_emit(out, n, t, NOTE_OFF, COMPOSE_CH_PIANO, r->key, 0);
		r->released = true;
		r->end_us += PRINTED_US;        /* its note-off may fall that much later */
	}
}

/* --- pitch --- */

static int
melody_centre(const struct composer *c)
{
	const struct melody_register *r = &melody_register;

	return r->centre + (int)(r->rise * c->x + r->energy_rise * c->energy + 0.5);
}

static bool
tone_is(const struct composer *c, int key, enum tone_kind kind)
{
	switch (kind) {
	case TONE_CHORD: return compose_in_mask(c->chord_pcs, key);
	case TONE_ROOT: return key % 12 == c->chord_root;
	case TONE_SCALE:
		return compose_in_mask(c->scale, key) && !compose_in_mask(c->chord_pcs, key);
	default: return !compose_in_mask(c->scale, key);
	}
}

/*
 * Picks a pitch of the given kind within a fifth of the last note and in
 * the register.  Returns -1 when there is none.
 */
static int
melody_pick_pitch(struct composer *c, enum tone_kind kind)
{
	int centre = melody_centre(c);
	int low = centre - melody_register.below, high = centre + melody_register.above;
	int prev = c->prev_pitch >= 0 ? c->prev_pitch : centre;
	double w[2 * MELODY_MAX_LEAP + 1];
	bool rising = 2 * c->phrase_i < c->phrase_len;
	int k;

	/* A line left outside the register (intensity moved it) walks back in. */
	if (prev < low)
		low = prev;
	if (prev > high)
		high = prev;
	for (int i = 0; i < 2 * MELODY_MAX_LEAP + 1; i++) {
		int step = i - MELODY_MAX_LEAP, key = prev + step;
		double off = (key - centre) / melody_register.spread;

		w[i] = 0;
		if (key < low || key > high || !tone_is(c, key, kind) || key_blocked(c, key))
			continue;
		w[i] = melody_interval_weight[abs(step)] / (1 + off * off);
		if (c->prev_pitch < 0)
			w[i] = 1 / (1 + off * off);
		else if (abs(c->prev_step) >= melody_contour.leap && step)     /* turn back after a leap */
			w[i] *= (step > 0) != (c->prev_step > 0) ?
			    melody_contour.turn_back : melody_contour.onward;
		else if (step)                                  /* an arch over the phrase */
			w[i] *= (step > 0) == rising ? melody_contour.arch : 1.0;
	}
	k = rng_weighted(&c->melody_rng, w, 2 * MELODY_MAX_LEAP + 1);
	return k < 0 ? -1 : prev + k - MELODY_MAX_LEAP;
}

/*
 * A chromatic passing tone from the last note: a semitone to a pitch
 * outside the scale that lies between two scale tones.  Returns the
 * direction (+1 or -1) or 0 when there is no such tone.
 */
static int
melody_passing_dir(struct composer *c)
{
	int prev = c->prev_pitch, first = rng_chance(&c->melody_rng, 0.5) ? 1 : -1;

	if (prev < 0 || !compose_in_mask(c->scale, prev))
		return 0;
	for (int d = first, i = 0; i < 2; i++, d = -d)
		if (!compose_in_mask(c->scale, prev + d) && compose_in_mask(c->scale, prev + 2 * d) &&
		    !key_blocked(c, prev + d))
			return d;
	return 0;
}

/* The scale tone a chromatic tone at key resolves to, a step away, dir first. */
static int
melody_resolution(const struct composer *c, int key, int dir)
{
	static const int tries[4] = { 1, -1, 2, -2 };

	for (int i = 0; i < 4; i++)
		if (compose_in_mask(c->scale, key + tries[i] * dir) && !key_blocked(c, key + tries[i] * dir))
			return key + tries[i] * dir;
	return key + dir;
}

/* --- rhythm and dynamics --- */

static int
melody_length_pick(struct composer *c, bool phrase_end)
{
	double w[MELODY_LENGTHS];

	for (int i = 0; i < MELODY_LENGTHS; i++) {
		w[i] = compose_mix(melody_length_weight[0], melody_length_weight[1], i, c->x);
		if (phrase_end && melody_length[i] < 4)
			w[i] = 0;
	}
	return melody_length[rng_weighted(&c->melody_rng, w, MELODY_LENGTHS)];
}

/* The rest after a phrase, in steps: longer when calm and in low sections. */
static int
melody_rest_steps(struct composer *c)
{
	double lo = compose_mix(phrase_rest_seconds[0], phrase_rest_seconds[1], 0, c->x);
	double hi = compose_mix(phrase_rest_seconds[0], phrase_rest_seconds[1], 1, c->x);
	double stretch = 1 + (section_rest_stretch - 1) * (1 - c->energy) / 2;
	double us = (lo + rng_unit(&c->melody_rng) * (hi - lo)) * stretch * COMPOSE_US;
	int steps = (int)(us / c->slot_us + 0.5);

	return steps < 1 ? 1 : steps;
}

static int
melody_velocity(struct composer *c, int64_t t, bool passing)
{
	const struct melody_accent *a = &melody_accent;
	double x = c->phrase_len > 1 ? (double)c->phrase_i / (c->phrase_len - 1) : 0.5;
	double arch = 4 * x * (1 - x);
	double v = compose_mix(melody_velocity_level, melody_velocity_level + 1, 0, c->x) + melody_velocity_arch * arch;

	v += (int)rng_below(&c->melody_rng, (uint32_t)(2 * a->jitter + 1)) - a->jitter;
	if (c->bar_slot == 0)
		v += a->downbeat;
	if (passing)
		v -= a->passing;
	if (c->final && c->end_us > c->fade_from_us && t > c->fade_from_us)
		v *= 1 - a->fade_drop * (double)(t - c->fade_from_us) /
		    (double)(c->end_us - c->fade_from_us);
	return v < a->lowest ? a->lowest : v > a->highest ? a->highest : (int)(v + 0.5);
}

static void
melody_phrase_start(struct composer *c)
{
	const struct melody_phrase *p = &melody_phrase;

	c->phrase_len = p->notes_min + (int)rng_below(&c->melody_rng, (uint32_t)p->notes_more[0] +
	    (uint32_t)((p->notes_more[1] - p->notes_more[0]) * c->x));
	c->phrase_i = 0;
}

void
melody_start(struct composer *c)
{
	c->prev_pitch = -1;
	melody_phrase_start(c);
}

/* The closing tonic has started: the phrase under way ends soon, or a short one is played. */
static void
melody_close(struct composer *c)
{
	c->melody_closing = true;
	if (c->phrase_i == 0) {
		c->phrase_len = melody_phrase.closing_min +
		    (int)rng_below(&c->melody_rng, (uint32_t)melody_phrase.closing_more);
		if (c->rest > melody_phrase.closing_rest)
			c->rest = melody_phrase.closing_rest;
	} else if (c->phrase_len > c->phrase_i + 2) {
		c->phrase_len = c->phrase_i + 2;
	}
}

/* Decides what the next note is; returns its pitch or -1 for a rest now. */
static int
melody_choose(struct composer *c, int64_t t, int *length, double *ring, bool *passing)
{
	bool phrase_end = c->phrase_i + 1 >= c->phrase_len;
	bool room = !c->end_us || t + compose_round_us(3 * c->slot_us) < c->melody_end_us;
	double r;
	enum tone_kind kind;
	int key;

	*passing = false;
	*ring = melody_ring.note;
	if (c->resolve_dir) {
		key = melody_resolution(c, c->prev_pitch, c->resolve_dir);
		c->resolve_dir = 0;
		*length = melody_length_pick(c, phrase_end);
		return key;
	}
	r = rng_unit(&c->melody_rng) * (melody_mix.chord + melody_mix.scale + melody_mix.chromatic);
	kind = r < melody_mix.chord ? TONE_CHORD :
	    r < melody_mix.chord + melody_mix.scale ? TONE_SCALE : TONE_CHROMATIC;
	if (kind == TONE_CHROMATIC) {
		int dir = !phrase_end && room ? melody_passing_dir(c) : 0;

		if (dir) {
			c->resolve_dir = dir;
			*passing = true;
			*length = 1;
			*ring = melody_ring.passing;
			return c->prev_pitch + dir;
		}
		/* None here: choose between the others in their proportion. */
		kind = rng_unit(&c->melody_rng) * (melody_mix.chord + melody_mix.scale) < melody_mix.chord ?
		    TONE_CHORD : TONE_SCALE;
	}
	if (phrase_end) {
		kind = c->melody_closing && c->final ? TONE_ROOT : TONE_CHORD;
		*ring = melody_ring.phrase_end;
	}
	key = melody_pick_pitch(c, kind);
	if (key < 0 && kind == TONE_ROOT)
		key = melody_pick_pitch(c, kind = TONE_CHORD);
	if (key < 0)
		key = melody_pick_pitch(c, kind == TONE_CHORD ? TONE_SCALE : TONE_CHORD);
	*length = melody_length_pick(c, phrase_end);
	return key;
}

/* True when the melody plays nothing at this step. */
static bool
melody_waits(struct composer *c, int64_t t)
{
	if (c->resolve_dir)
		return false;
	if (c->rest > 0) {
		c->rest--;
		return true;
	}
	if (c->melody_done || (c->end_us && t >= c->melody_end_us))
		return true;
	if (c->melody_closing)
		return false;                           /* the last notes come without delay */
	if (c->phrase_i == 0 && c->bar_slot % 2 && rng_chance(&c->melody_rng, melody_offbeat_wait))
		return true;                            /* phrases like to start on a beat */
	return !rng_chance(&c->melody_rng,
	    compose_mix(melody_note_chance, melody_note_chance + 1, 0, c->x));
}

/* Writes the note and remembers it until it ends. */
static void
melody_write(struct composer *c, int64_t t, int key, int vel, int64_t dur, struct note_event *out,
    int *n)
{
	compose_emit(out, n, t, NOTE_NOTE, COMPOSE_CH_PIANO, key, vel);
	out[*n - 1].duration = (double)dur / COMPOSE_US;
	c->ringing[c->nringing++] = (struct ringing){ .key = key, .end_us = t + dur };
}

/* The melody's part of a step: a note, a held note, or a rest. */
void
melody_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	int key, length;
	double ring;
	bool passing;
	int64_t dur;

	if (c->hold > 0) {
		c->hold--;
		return;
	}
	if (c->final && !c->melody_closing && !c->melody_done)
		melody_close(c);
	if (melody_waits(c, t))
		return;
	if (melody_sounding(c, t) + c->pad.n + c->layer.n >= COMPOSE_NOTES_MAX ||
	    c->nringing >= RINGING_MAX)
		return;
	key = melody_choose(c, t, &length, &ring, &passing);
	if (key < 0)
		return;
	dur = compose_round_us(length * c->slot_us * ring);
	if (dur < MELODY_MIN_US)
		dur = MELODY_MIN_US;
	if (dur > MELODY_MAX_US)
		dur = MELODY_MAX_US;
	if (c->end_us && t + dur > c->end_us)
		dur = c->end_us - t;
	if (dur < MELODY_MIN_US)
		return;
	melody_write(c, t, key, melody_velocity(c, t, passing), dur, out, n);

	c->prev_step = c->prev_pitch >= 0 ? key - c->prev_pitch : 0;
	c->prev_pitch = key;
	c->hold = length - 1;
	if (++c->phrase_i >= c->phrase_len && !c->resolve_dir) {
		if (c->melody_closing)
			c->melody_done = true;
		c->rest = melody_rest_steps(c);
		melody_phrase_start(c);
	}
}
