/*
 * compose.c - the generative composer (docs/composer.md): names and
 * parameters, the grid, the form, and the public calls.  The harmony (the
 * chord chains, the pad and the layer) is compose_harmony.c, the melody
 * compose_melody.c; their shared state is struct composer in
 * compose_internal.h, and every musical figure is in compose_tables.c.
 *
 * Time moves in steps of an eighth note on a grid anchored at the last
 * change of tempo or harmony: step n falls at anchor + round(n * eighth),
 * in whole microseconds, so the grid never drifts and never depends on
 * floating-point accumulation.  Each step does, in the order its events
 * are written: program changes when the sounds changed (and, at the very
 * start, full expression on pad and layer), the release of melody notes
 * that clash with a new key, the pad's move to the next chord when the
 * chord's time is up, the ending's fade, and the melody's note, hold or
 * rest.
 *
 * The form.  Above the steps the music moves through sections of 100 to
 * 240 s, each low, middle or high in energy (never the same level twice in
 * a row, a high one at least every third).  The energy glides to the new
 * level over the first 45 s of a section, and moves the intensity the
 * harmony and melody hear (c->x) by up to 0.3 around the preset's: so
 * density, register, velocity and chord colour rise and fall over minutes,
 * the rests between phrases stretch in the low sections, and the layer
 * joins where the energy passes a threshold that falls with intensity.
 * The form has a generator of its own, so the chords and the melody draw
 * the same numbers whatever it does.
 *
 * Three generators, for harmony, melody and form, are seeded from the
 * same seed: the chords do not change when only the melody's choices do.
 */
#include "compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compose_internal.h"

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

char *
compose_preset_names(char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < compose_preset_count && len < size; i++) {
		const char *sep = i == 0 ? "" : i == compose_preset_count - 1 ? " or " : ", ";
		int n = snprintf(buf + len, size - len, "%s%s", sep, compose_presets[i].name);

		if (n < 0)
			break;
		len += (size_t)n;
	}
	return buf;
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

/* --- small helpers, for all the composer's files --- */

bool
compose_in_mask(unsigned mask, int key)
{
	return mask >> (key % 12) & 1;
}

double
compose_mix(const double *at0, const double *at1, int i, double intensity)
{
	return at0[i] + (at1[i] - at0[i]) * intensity;
}

double
compose_clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

int64_t
compose_round_us(double us)
{
	return (int64_t)(us + 0.5);
}

double
compose_bar_us(const struct composer *c)
{
	return SLOTS_PER_BAR * c->slot_us;
}

void
compose_emit(struct note_event *out, int *n, int64_t t_us, enum note_type type, int channel,
    int a, int b)
{
	struct note_event *ev = &out[(*n)++];

	memset(ev, 0, sizeof *ev);
	ev->t = (double)t_us / COMPOSE_US;
	ev->type = type;
	ev->channel = channel;
	ev->a = a;
	ev->b = b;
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
	c->next_us = c->anchor_us + compose_round_us((double)c->slot_n * c->slot_us);
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

/* --- the form --- */

/* Starts the next section at start_us: its level, its length. */
static void
form_section_next(struct composer *c, int64_t start_us, bool first)
{
	double seconds = section_seconds[0] +
	    rng_unit(&c->form_rng) * (section_seconds[1] - section_seconds[0]);
	int level;

	if (first)                              /* a piece starts calm */
		level = rng_chance(&c->form_rng, 0.5) ? SECTION_LOW : SECTION_MID;
	else if (c->sections_since_high >= SECTION_HIGH_EVERY - 1)
		level = SECTION_HIGH;
	else                                    /* one of the two other levels */
		level = (c->section_level + 1 + (int)rng_below(&c->form_rng, 2)) % SECTION_LEVELS;
	c->sections_since_high = level == SECTION_HIGH ? 0 : c->sections_since_high + 1;
	c->section_level = level;
	c->section_from = first ? section_energy[level] : c->energy;
	c->section_to = section_energy[level];
	c->section_start_us = start_us;
	c->section_end_us = start_us + compose_round_us(seconds * COMPOSE_US);
}

/* The energy and the intensity heard at time t. */
static void
form_step(struct composer *c, int64_t t)
{
	double r;

	while (t >= c->section_end_us)
		form_section_next(c, c->section_end_us, false);
	r = compose_clamp((double)(t - c->section_start_us) / (section_ramp_seconds * COMPOSE_US), 0, 1);
	r = r * r * (3 - 2 * r);                /* smooth at both ends */
	c->energy = c->section_from + (c->section_to - c->section_from) * r;
	c->x = compose_clamp(c->p.intensity + section_swing * c->energy, 0, 1);
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
	rng_seed(&c->form_rng, seed ^ 0x666f726d00000000u);    /* "form" */
	c->slot_us = 30.0 * COMPOSE_US / c->p.bpm;
	c->end_us = end_us > 0 ? end_us : 0;
	if (c->end_us) {
		int64_t coda = c->end_us / 4 < CODA_US ? c->end_us / 4 : CODA_US;

		c->melody_end_us = c->end_us - coda;
	}
	c->restart = true;
	c->sounds_due = true;
	c->before = c->last = DEGREE_ANY;
	form_section_next(c, 0, true);
	form_step(c, 0);
	melody_start(c);
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

/*
 * Program changes, each with the channel volume and reverb send that even
 * out its level and its wetness;
 * at the very start also full expression on pad and layer.
 */
static void
sounds_step(struct composer *c, int64_t t, struct note_event *out, int *n)
{
	const int channel[3] = { COMPOSE_CH_PIANO, COMPOSE_CH_PAD, COMPOSE_CH_LAYER };
	const int program[3] = { c->p.sounds.piano, c->p.sounds.pad, c->p.sounds.layer };

	for (int i = 0; i < 3; i++) {
		compose_emit(out, n, t, NOTE_PROGRAM, channel[i], program[i], 0);
		compose_emit(out, n, t, NOTE_CC, channel[i], 7, compose_program_volume(program[i]));
		compose_emit(out, n, t, NOTE_CC, channel[i], 91, compose_program_reverb(program[i]));
	}
	if (!c->started) {
		/* The ending fades by expression: a renderer may have heard one before. */
		compose_emit(out, n, t, NOTE_CC, COMPOSE_CH_PAD, 11, 127);
		compose_emit(out, n, t, NOTE_CC, COMPOSE_CH_LAYER, 11, 127);
		c->expression = 127;
	}
	c->sounds_due = false;
}

int
composer_step(struct composer *c, struct note_event out[COMPOSE_STEP_EVENTS])
{
	int64_t t = c->next_us;
	int n = 0;

	if (t < 0)
		return 0;
	if (c->sounds_due)
		sounds_step(c, t, out, &n);
	c->started = true;
	c->last_us = t;
	if (c->closing) {
		harmony_release(c, t, out, &n);
		compose_emit(out, &n, t, NOTE_END, 0, 0, 0);
		c->next_us = -1;
		return n;
	}
	form_step(c, t);
	if (c->restart)
		melody_release_clashes(c, t, out, &n);
	harmony_step(c, t, out, &n);
	harmony_fade_step(c, t, out, &n);
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
