/*
 * compose.c - the generative composer (docs/composer.md).
 *
 * Time moves in steps of an eighth note on a grid anchored at the last
 * change of tempo or harmony: step n falls at anchor + round(n * eighth),
 * in whole microseconds, so the grid never drifts and never depends on
 * floating-point accumulation.  Each step does three things, in the order
 * their events are written: it sends program changes when the sounds
 * changed, moves the pad to the next chord when the chord's time is up,
 * and lets the melody play, hold or rest.
 *
 * Harmony.  A progression of 8, 12 or 16 bars is drawn from the mode's
 * order-2 chord chain (compose_tables.c), one or two bars a chord, its last
 * chord chosen so that it leads back to the first; it is played twice,
 * then the chain goes on into the next one.  Each chord is a triad, a
 * seventh, an add9 or a sus chord, voiced for the pad in the low-middle
 * register (B2..A#4) by trying every octave placement of its tones and
 * keeping the one that moves least from the chord before (tones in common
 * are held, not struck again).  At high intensity a second pad doubles
 * the root in the bass and the top voice.
 *
 * The pad uses `on` and `off` events, not `note`: a chord's length is not
 * known when it starts, because a control can cut it short.  When the key
 * or mode changes, every pad note is released at the time of the change
 * and a chord of the new key's tonic starts at that same time, with the
 * grid anchored there.
 *
 * Melody.  The piano plays phrases of 3 to 10 notes with rests between
 * them.  At each free step a note starts with probability 0.5 + 0.3 *
 * intensity.  Its pitch is chosen under constraints: first its kind (a
 * tone of the sounding chord, another tone of the scale, or a chromatic
 * passing tone), then among the pitches of that kind within a fifth of the
 * last note and inside the register, weighted to favour steps, to turn
 * back after a leap, and to stay near the centre of the register.  A
 * chromatic tone is only taken between two scale tones a whole step
 * apart, lasts an eighth, and the next step plays the scale tone it
 * leads to.  Phrase endings are long chord tones.  Velocities follow an
 * arch over the phrase around a level set by intensity.
 *
 * Two generators, one for harmony and one for melody, are seeded from the
 * same seed: the chords do not change when only the melody's choices do.
 */
#include "compose.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compose_tables.h"
#include "rng.h"

#define SLOTS_PER_BAR 8                 /* eighths in a 4/4 bar */
#define PROGRESSION_MAX 16              /* chords: at most 16 bars of at least one */
#define PROGRESSION_PLAYS 2
#define VOICES_MAX 4
#define PAD_LOW 47                      /* B2: every pitch class twice up to A#4 */
#define PAD_HIGH 70
#define BASS_LOW 36                     /* the layer's root: C2..B2 */
#define LAYER_INTENSITY 0.6             /* the layer joins above this intensity */
#define MELODY_MIN_US 100000            /* shortest melody note */
#define MELODY_MAX_US 6000000           /* longest: the piano has died away */
#define CODA_US 2000000                 /* no new melody notes this close to the end */

struct voicing {
	int n;
	int key[VOICES_MAX];            /* ascending */
};

struct chord {
	int degree;                     /* 0..6 */
	enum chord_kind kind;
	int bars;
};

struct composer {
	struct compose_params p;
	unsigned scale;                 /* pitch-class mask of key and mode */
	struct rng harmony_rng, melody_rng;

	/* the grid */
	int64_t anchor_us;              /* time of step 0 after the last change */
	int64_t slot_n;                 /* steps since the anchor */
	double slot_us;                 /* an eighth note at p.bpm */
	int64_t next_us;                /* the next step, -1 after `end` */
	int64_t last_us;                /* the step run last */
	int64_t end_us, melody_end_us;  /* 0: endless */
	bool restart;                   /* release and start the harmony afresh */
	bool refresh;                   /* strike the sounding chord again (tempo, intensity) */
	bool sounds_due;                /* program changes at the next step */
	bool closing;                   /* the next step is the last */

	/* harmony */
	struct chord prog[PROGRESSION_MAX];
	int prog_len, prog_i, plays_left;
	int chord_slots_left;           /* steps until the next chord */
	int bar_slot;                   /* 0..7 within the bar */
	int before, last;               /* the chain's memory: the two chords played last */
	int chord_root;                 /* pitch class */
	unsigned chord_pcs;             /* pitch-class mask of the sounding chord */
	struct voicing pad, layer;      /* keys sounding on the pad and layer channels */

	/* melody */
	int prev_pitch;                 /* -1 before the first note */
	int prev_step;                  /* signed interval into prev_pitch */
	int hold;                       /* steps the last note still fills */
	int rest;                       /* steps of rest before the next phrase */
	int phrase_len, phrase_i;       /* notes in the phrase, notes played */
	int resolve_dir;                /* +1/-1: the next note resolves a chromatic tone */
};

/* --- names and parameters --- */

static const char *const key_names[12] = {
	"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
};

int
compose_key_parse(const char *name)
{
	static const int natural[7] = { 9, 11, 0, 2, 4, 5, 7 };  /* A..G */
	int letter, pc;

	if (!name || !name[0])
		return -1;
	letter = name[0] >= 'a' ? name[0] - 'a' : name[0] - 'A';
	if (letter < 0 || letter > 6)
		return -1;
	pc = natural[letter];
	if (name[1] == '#')
		pc++;
	else if (name[1] == 'b')
		pc--;
	else if (name[1])
		return -1;
	if (name[1] && name[2])
		return -1;
	return (pc + 12) % 12;
}

const char *
compose_key_name(int pc)
{
	return key_names[((pc % 12) + 12) % 12];
}

int
compose_mode_parse(const char *name)
{
	if (!name)
		return -1;
	for (int m = 0; m < MODE_COUNT; m++)
		if (!strcasecmp(name, compose_modes[m].name))
			return m;
	if (!strcasecmp(name, "major"))
		return MODE_IONIAN;
	if (!strcasecmp(name, "minor"))
		return MODE_AEOLIAN;
	return -1;
}

const char *
compose_mode_name(enum compose_mode mode)
{
	return compose_modes[mode].name;
}

const struct compose_preset *
compose_preset_find(const char *name)
{
	for (int i = 0; name && i < compose_preset_count; i++)
		if (!strcasecmp(name, compose_presets[i].name))
			return &compose_presets[i];
	return NULL;
}

unsigned
compose_scale_mask(int key, enum compose_mode mode)
{
	unsigned mask = 0;

	for (int d = 0; d < DEGREES; d++)
		mask |= 1u << ((key + compose_modes[mode].steps[d]) % 12);
	return mask;
}

static bool
program_valid(int program)
{
	return program >= 0 && program <= 127;
}

bool
compose_params_valid(const struct compose_params *p)
{
	return p->key >= 0 && p->key < 12 && (int)p->mode >= 0 && p->mode < MODE_COUNT &&
	    p->bpm >= COMPOSE_BPM_MIN && p->bpm <= COMPOSE_BPM_MAX &&
	    p->intensity >= 0 && p->intensity <= 1 &&
	    program_valid(p->sounds.piano) && program_valid(p->sounds.pad) &&
	    program_valid(p->sounds.layer);
}

/* --- small helpers --- */

static bool
in_mask(unsigned mask, int key)
{
	return mask >> (key % 12) & 1;
}

static double
mix(const double *at0, const double *at1, int i, double intensity)
{
	return at0[i] + (at1[i] - at0[i]) * intensity;
}

static int64_t
round_us(double us)
{
	return (int64_t)(us + 0.5);
}

static void
emit(struct note_event *out, int *n, int64_t t_us, enum note_type type, int channel, int a, int b)
{
	struct note_event *ev = &out[(*n)++];

	memset(ev, 0, sizeof *ev);
	ev->t = (double)t_us / COMPOSE_US;
	ev->type = type;
	ev->channel = channel;
	ev->a = a;
	ev->b = b;
}

static bool
voicing_has(const struct voicing *v, int key)
{
	for (int i = 0; i < v->n; i++)
		if (v->key[i] == key)
			return true;
	return false;
}

/* --- the grid --- */

static void
grid_anchor(struct composer *c, int64_t at_us)
{
	c->anchor_us = at_us;
	c->slot_n = 0;
	c->next_us = at_us;
	if (c->end_us && c->next_us >= c->end_us) {
		c->next_us = c->end_us;
		c->closing = true;
	}
}

static void
grid_advance(struct composer *c)
{
	c->slot_n++;
	c->next_us = c->anchor_us + round_us((double)c->slot_n * c->slot_us);
	if (c->end_us && c->next_us >= c->end_us) {
		c->next_us = c->end_us;
		c->closing = true;
	}
}

/* Keeps a control's time between the last step and the next. */
static int64_t
control_time(const struct composer *c, int64_t at_us)
{
	if (at_us < c->last_us)
		at_us = c->last_us;
	if (at_us > c->next_us)
		at_us = c->next_us;
	return at_us;
}

/* A control heard at once: the next step is at its time (kept in range). */
static void
control_regrid(struct composer *c, int64_t at_us)
{
	if (!c->closing)
		grid_anchor(c, control_time(c, at_us));
}

/* --- harmony --- */

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
		    mix(chord_kind_weight[0], chord_kind_weight[1], k, c->p.intensity) : 0;
	k = rng_weighted(&c->harmony_rng, w, CHORD_KINDS);
	return k >= 0 ? (enum chord_kind)k : CHORD_TRIAD;
}

/* Plans the next progression; from the tonic after a change of harmony. */
static void
progression_plan(struct composer *c, bool from_tonic)
{
	int bars_left = 8 + 4 * (int)rng_below(&c->harmony_rng, 3);
	int before = c->before, last = c->last;
	/* Slow chords at fast tempi: a chord lasts some seconds either way. */
	double two_bars = 0.35 + 0.4 * (c->p.bpm - COMPOSE_BPM_MIN) / (COMPOSE_BPM_MAX - COMPOSE_BPM_MIN);

	c->prog_len = 0;
	while (bars_left > 0 && c->prog_len < PROGRESSION_MAX) {
		struct chord *ch = &c->prog[c->prog_len];
		bool final;

		ch->bars = bars_left >= 2 && rng_chance(&c->harmony_rng, two_bars) ? 2 : 1;
		final = ch->bars == bars_left && c->prog_len > 0;
		if (c->prog_len == 0 && (from_tonic || last < 0))
			ch->degree = 0;
		else
			ch->degree = chain_next(c, before, last, final ? c->prog[0].degree : -1);
		ch->kind = chord_kind_pick(c, ch->degree);
		before = last;
		last = ch->degree;
		bars_left -= ch->bars;
		c->prog_len++;
	}
	c->prog_i = 0;
	c->plays_left = PROGRESSION_PLAYS;
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
voicing_cost(const struct voicing *from, const struct voicing *v)
{
	double cost = 0, centre = 0;
	int span = v->key[v->n - 1] - v->key[0];

	if (from->n)
		cost += voicing_distance(v, from) + voicing_distance(from, v);
	for (int i = 0; i < v->n; i++)
		centre += v->key[i];
	centre = centre / v->n - 58.5;
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
voice_lead(const struct voicing *from, const int *pcs, int n, struct voicing *out)
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
		double cost = voicing_cost(from, &v);

		if (cost < best) {
			best = cost;
			*out = v;
		}
	}
}

/* The layer: the root in the bass and the pad's top voice, at high intensity. */
static void
layer_for(const struct composer *c, const struct voicing *pad, struct voicing *out)
{
	out->n = 0;
	if (c->p.intensity <= LAYER_INTENSITY || !pad->n)
		return;
	out->key[out->n++] = BASS_LOW + c->chord_root;
	out->key[out->n++] = pad->key[pad->n - 1];
}

static int
pad_velocity(const struct composer *c)
{
	return 36 + (int)(30 * c->p.intensity + 0.5);
}

/*
 * Makes the pad and layer sound `pad` and `layer`: releases what is not in
 * them, then starts what is new.  Tones in common are held.
 */
static void
sound_sync(struct composer *c, int64_t t, const struct voicing *pad, const struct voicing *layer,
    struct note_event *out, int *n)
{
	int vel = pad_velocity(c);

	for (int i = 0; i < c->pad.n; i++)
		if (!voicing_has(pad, c->pad.key[i]))
			emit(out, n, t, NOTE_OFF, COMPOSE_CH_PAD, c->pad.key[i], 0);
	for (int i = 0; i < c->layer.n; i++)
		if (!voicing_has(layer, c->layer.key[i]))
			emit(out, n, t, NOTE_OFF, COMPOSE_CH_LAYER, c->layer.key[i], 0);
	for (int i = 0; i < pad->n; i++)
		if (!voicing_has(&c->pad, pad->key[i]))
			emit(out, n, t, NOTE_ON, COMPOSE_CH_PAD, pad->key[i], vel);
	for (int i = 0; i < layer->n; i++)
		if (!voicing_has(&c->layer, layer->key[i]))
			emit(out, n, t, NOTE_ON, COMPOSE_CH_LAYER, layer->key[i], vel - 8);
	c->pad = *pad;
	c->layer = *layer;
}

/* Releases everything the pad and layer hold. */
static void
sound_release(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	struct voicing none = { 0 };

	sound_sync(c, t, &none, &none, out, n);
}

/* Moves to the next chord of the progression and voices it into *pad. */
static void
chord_next(struct composer *c, const struct voicing *lead_from, struct voicing *pad)
{
	const struct chord *ch;
	int pcs[VOICES_MAX], npcs;

	if (c->prog_i >= c->prog_len) {
		if (--c->plays_left > 0)
			c->prog_i = 0;
		else
			progression_plan(c, false);
	}
	ch = &c->prog[c->prog_i++];
	c->chord_slots_left = ch->bars * SLOTS_PER_BAR;
	npcs = chord_tones(c->p.key, c->p.mode, ch, pcs);
	c->chord_root = pcs[0];
	c->chord_pcs = 0;
	for (int i = 0; i < npcs; i++)
		c->chord_pcs |= 1u << pcs[i];
	voice_lead(lead_from, pcs, npcs, pad);
	c->before = c->last;
	c->last = ch->degree;
}

/* The harmony's part of a step: a new chord when its time has come. */
static void
harmony_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	struct voicing pad = c->pad, layer;

	if (c->restart) {
		/* Voice-lead from the old chord, but strike the new one afresh. */
		struct voicing from = c->pad;

		sound_release(c, t, out, n);
		c->before = c->last = DEGREE_ANY;
		progression_plan(c, true);
		chord_next(c, &from, &pad);
		c->bar_slot = 0;
		c->restart = false;
	} else if (c->refresh) {
		/* The same chord, struck again at the new loudness and layering. */
		sound_release(c, t, out, n);
	} else if (c->chord_slots_left <= 0) {
		chord_next(c, &c->pad, &pad);
		c->bar_slot = 0;
	}
	c->refresh = false;
	layer_for(c, &pad, &layer);
	sound_sync(c, t, &pad, &layer, out, n);
}

/* --- melody --- */

enum tone_kind { TONE_CHORD, TONE_SCALE, TONE_CHROMATIC };

static int
melody_centre(const struct composer *c)
{
	return 64 + (int)(10 * c->p.intensity + 0.5);
}

static bool
tone_is(const struct composer *c, int key, enum tone_kind kind)
{
	switch (kind) {
	case TONE_CHORD: return in_mask(c->chord_pcs, key);
	case TONE_SCALE: return in_mask(c->scale, key) && !in_mask(c->chord_pcs, key);
	default: return !in_mask(c->scale, key);
	}
}

/*
 * Picks a pitch of the given kind within a fifth of the last note and in
 * the register.  Returns -1 when there is none.
 */
static int
melody_pick_pitch(struct composer *c, enum tone_kind kind)
{
	int centre = melody_centre(c), low = centre - 8, high = centre + 10;
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
		double off = (key - centre) / 6.0;

		w[i] = 0;
		if (key < low || key > high || !tone_is(c, key, kind))
			continue;
		w[i] = melody_interval_weight[abs(step)] / (1 + off * off);
		if (c->prev_pitch < 0)
			w[i] = 1 / (1 + off * off);
		else if (abs(c->prev_step) >= 3 && step)        /* turn back after a leap */
			w[i] *= (step > 0) != (c->prev_step > 0) ? 2.0 : 0.6;
		else if (step)                                  /* an arch over the phrase */
			w[i] *= (step > 0) == rising ? 1.2 : 1.0;
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

	if (prev < 0 || !in_mask(c->scale, prev))
		return 0;
	for (int d = first, i = 0; i < 2; i++, d = -d)
		if (!in_mask(c->scale, prev + d) && in_mask(c->scale, prev + 2 * d))
			return d;
	return 0;
}

/* The scale tone a chromatic tone at key resolves to, a step away, dir first. */
static int
melody_resolution(const struct composer *c, int key, int dir)
{
	static const int tries[4] = { 1, -1, 2, -2 };

	for (int i = 0; i < 4; i++)
		if (in_mask(c->scale, key + tries[i] * dir))
			return key + tries[i] * dir;
	return key + dir;
}

static int
melody_length_pick(struct composer *c, bool phrase_end)
{
	double w[MELODY_LENGTHS];

	for (int i = 0; i < MELODY_LENGTHS; i++) {
		w[i] = mix(melody_length_weight[0], melody_length_weight[1], i, c->p.intensity);
		if (phrase_end && melody_length[i] < 4)
			w[i] = 0;
	}
	return melody_length[rng_weighted(&c->melody_rng, w, MELODY_LENGTHS)];
}

static int
melody_velocity(struct composer *c, bool passing)
{
	double x = c->phrase_len > 1 ? (double)c->phrase_i / (c->phrase_len - 1) : 0.5;
	double arch = 4 * x * (1 - x);
	int v = 34 + (int)(36 * c->p.intensity + 14 * arch + 0.5);

	v += (int)rng_below(&c->melody_rng, 11) - 5;
	if (c->bar_slot == 0)
		v += 4;
	if (passing)
		v -= 6;
	return v < 20 ? 20 : v > 100 ? 100 : v;
}

static void
melody_phrase_start(struct composer *c)
{
	c->phrase_len = 3 + (int)rng_below(&c->melody_rng, 4 + (uint32_t)(4 * c->p.intensity));
	c->phrase_i = 0;
}

/* Decides what the next note is; returns its pitch or -1 for a rest now. */
static int
melody_choose(struct composer *c, int64_t t, int *length, double *ring, bool *passing)
{
	bool phrase_end = c->phrase_i + 1 >= c->phrase_len;
	bool room = !c->end_us || t + round_us(3 * c->slot_us) < c->melody_end_us;
	double r;
	enum tone_kind kind;
	int key;

	*passing = false;
	*ring = 1.3;
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
			*ring = 0.9;
			return c->prev_pitch + dir;
		}
		/* None here: choose between the others in their proportion. */
		kind = rng_unit(&c->melody_rng) * (melody_mix.chord + melody_mix.scale) < melody_mix.chord ?
		    TONE_CHORD : TONE_SCALE;
	}
	if (phrase_end) {
		kind = TONE_CHORD;
		*ring = 1.8;
	}
	key = melody_pick_pitch(c, kind);
	if (key < 0)
		key = melody_pick_pitch(c, kind == TONE_CHORD ? TONE_SCALE : TONE_CHORD);
	*length = melody_length_pick(c, phrase_end);
	return key;
}

/* The melody's part of a step: a note, a held note, or a rest. */
static void
melody_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	int key, length, vel;
	double ring;
	bool passing;
	int64_t dur;

	if (c->hold > 0) {
		c->hold--;
		return;
	}
	if (!c->resolve_dir) {
		if (c->rest > 0) {
			c->rest--;
			return;
		}
		if (c->end_us && t >= c->melody_end_us)
			return;
		if (c->phrase_i == 0 && c->bar_slot % 2 && rng_chance(&c->melody_rng, 0.6))
			return;                                 /* phrases like to start on a beat */
		if (!rng_chance(&c->melody_rng, 0.5 + 0.3 * c->p.intensity))
			return;
	}
	key = melody_choose(c, t, &length, &ring, &passing);
	if (key < 0)
		return;
	dur = round_us(length * c->slot_us * ring);
	if (dur < MELODY_MIN_US)
		dur = MELODY_MIN_US;
	if (dur > MELODY_MAX_US)
		dur = MELODY_MAX_US;
	if (c->end_us && t + dur > c->end_us)
		dur = c->end_us - t;
	if (dur < MELODY_MIN_US)
		return;
	vel = melody_velocity(c, passing);
	emit(out, n, t, NOTE_NOTE, COMPOSE_CH_PIANO, key, vel);
	out[*n - 1].duration = (double)dur / COMPOSE_US;

	c->prev_step = c->prev_pitch >= 0 ? key - c->prev_pitch : 0;
	c->prev_pitch = key;
	c->hold = length - 1;
	if (++c->phrase_i >= c->phrase_len && !c->resolve_dir) {
		c->rest = 2 + (int)rng_below(&c->melody_rng, 7 - (uint32_t)(4 * c->p.intensity));
		melody_phrase_start(c);
	}
}

/* --- the composer --- */

struct composer *
composer_new(const struct compose_params *params, uint64_t seed, int64_t end_us)
{
	struct composer *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->p = *params;
	c->scale = compose_scale_mask(c->p.key, c->p.mode);
	rng_seed(&c->harmony_rng, seed);
	rng_seed(&c->melody_rng, seed ^ 0x6d656c6f64790000u);  /* "melody" */
	c->slot_us = 30.0 * COMPOSE_US / c->p.bpm;
	c->end_us = end_us > 0 ? end_us : 0;
	if (c->end_us) {
		int64_t coda = c->end_us / 4 < CODA_US ? c->end_us / 4 : CODA_US;

		c->melody_end_us = c->end_us - coda;
	}
	c->restart = true;
	c->sounds_due = true;
	c->before = c->last = DEGREE_ANY;
	c->prev_pitch = -1;
	melody_phrase_start(c);
	grid_anchor(c, 0);
	return c;
}

void
composer_free(struct composer *c)
{
	free(c);
}

const struct compose_params *
composer_params(const struct composer *c)
{
	return &c->p;
}

int64_t
composer_next_us(const struct composer *c)
{
	return c->next_us;
}

int
composer_step(struct composer *c, struct note_event out[COMPOSE_STEP_EVENTS])
{
	int64_t t = c->next_us;
	int n = 0;

	if (t < 0)
		return 0;
	if (c->sounds_due) {
		emit(out, &n, t, NOTE_PROGRAM, COMPOSE_CH_PIANO, c->p.sounds.piano, 0);
		emit(out, &n, t, NOTE_PROGRAM, COMPOSE_CH_PAD, c->p.sounds.pad, 0);
		emit(out, &n, t, NOTE_PROGRAM, COMPOSE_CH_LAYER, c->p.sounds.layer, 0);
		c->sounds_due = false;
	}
	c->last_us = t;
	if (c->closing) {
		sound_release(c, t, out, &n);
		emit(out, &n, t, NOTE_END, 0, 0, 0);
		c->next_us = -1;
		return n;
	}
	harmony_step(c, t, out, &n);
	melody_step(c, t, out, &n);
	c->chord_slots_left--;
	c->bar_slot = (c->bar_slot + 1) % SLOTS_PER_BAR;
	grid_advance(c);
	return n;
}

void
composer_set_harmony(struct composer *c, int key, enum compose_mode mode, int64_t at_us)
{
	if (c->next_us < 0 || (key == c->p.key && mode == c->p.mode))
		return;
	c->p.key = key;
	c->p.mode = mode;
	c->scale = compose_scale_mask(key, mode);
	c->restart = true;
	control_regrid(c, at_us);
}

void
composer_set_bpm(struct composer *c, double bpm, int64_t at_us)
{
	if (c->next_us < 0 || bpm == c->p.bpm)
		return;
	c->p.bpm = bpm;
	c->slot_us = 30.0 * COMPOSE_US / bpm;
	c->refresh = true;
	control_regrid(c, at_us);
}

void
composer_set_intensity(struct composer *c, double intensity, int64_t at_us)
{
	if (c->next_us < 0 || intensity == c->p.intensity)
		return;
	c->p.intensity = intensity;
	c->refresh = true;
	control_regrid(c, at_us);
}

void
composer_set_sounds(struct composer *c, const struct compose_sounds *sounds)
{
	if (memcmp(sounds, &c->p.sounds, sizeof *sounds)) {
		c->p.sounds = *sounds;
		c->sounds_due = true;
	}
}

void
composer_stop(struct composer *c, int64_t at_us)
{
	if (c->next_us < 0)
		return;
	at_us = control_time(c, at_us);
	c->end_us = at_us;
	c->melody_end_us = at_us;
	c->next_us = at_us;
	c->closing = true;
}
