/*
 * test_compose.c - the composer engine: names, the chord tables, determinism,
 * controls, a harmony analysis of two hours of music in every key and
 * mode, and the form: chord lengths, varied repeats, sections, the layer,
 * endings and live key changes.
 *
 * The analysis knows nothing of the engine's insides.  It reads the events
 * as a listener would: which pad notes sound when a melody note starts,
 * which scale the key and mode make, what follows a chromatic note, how far
 * each voice moves when the chord changes, how many notes sound at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compose.h"
#include "compose_tables.h"
#include "note.h"

#define HOURS_US (3600LL * COMPOSE_US)
#define VOICE_MOVE_MAX 5                /* semitones: a fourth */
#define RINGING_MAX 256

/* A melody note that was written, until its end or its `off`. */
struct melody_note {
	int key;
	double end;
};

struct analysis {
	long melody;                    /* melody notes */
	long in_scale, chord_tone, chromatic, resolved;
	int max_leap;
	long chord_changes, voice_moves, voice_move_sum;
	int max_voice_move;
	long order_errors, velocity_errors, pairing_errors, unended;
	double last_t;
	int sounding[16][128];
	struct melody_note ringing[RINGING_MAX];        /* melody notes not yet over */
	int nringing;
	int most_sounding;              /* the most notes sounding at once, every channel */
	int prev_key;                   /* the last melody note, -1 before the first */
	bool prev_chromatic;
	bool ended;
	unsigned scale;
};

static void
analysis_init(struct analysis *a, unsigned scale)
{
	memset(a, 0, sizeof *a);
	a->prev_key = -1;
	a->scale = scale;
}

static bool
pc_in(unsigned mask, int key)
{
	return mask >> (key % 12) & 1;
}

static unsigned
pad_mask(const struct analysis *a)
{
	unsigned mask = 0;

	for (int key = 0; key < 128; key++)
		if (a->sounding[COMPOSE_CH_PAD][key] || a->sounding[COMPOSE_CH_LAYER][key])
			mask |= 1u << (key % 12);
	return mask;
}

static void
analyse_melody(struct analysis *a, const struct note_event *ev)
{
	int key = ev->a;
	bool in_scale = pc_in(a->scale, key);

	a->melody++;
	if (in_scale)
		a->in_scale++;
	if (pc_in(pad_mask(a), key))
		a->chord_tone++;
	if (a->prev_chromatic) {
		int step = abs(key - a->prev_key);

		if (in_scale && step >= 1 && step <= 2)
			a->resolved++;
	}
	if (a->prev_key >= 0 && abs(key - a->prev_key) > a->max_leap)
		a->max_leap = abs(key - a->prev_key);
	a->prev_chromatic = !in_scale;
	if (!in_scale)
		a->chromatic++;
	a->prev_key = key;
}

/* Forgets the melody notes over by t; returns how many notes sound, every channel. */
static int
sounding_now(struct analysis *a, double t)
{
	int kept = 0, n = 0;

	for (int i = 0; i < a->nringing; i++)
		if (a->ringing[i].end > t + 1e-9)
			a->ringing[kept++] = a->ringing[i];
	a->nringing = kept;
	for (int ch = 0; ch < 16; ch++)
		for (int key = 0; key < 128; key++)
			n += a->sounding[ch][key];
	return n + kept;
}

/* An `off` on the piano: it ends one melody note of its key still sounding. */
static void
melody_off(struct analysis *a, const struct note_event *ev)
{
	sounding_now(a, ev->t);
	for (int i = 0; i < a->nringing; i++)
		if (a->ringing[i].key == ev->a) {
			a->ringing[i] = a->ringing[--a->nringing];
			return;
		}
	a->pairing_errors++;
}

static void
analyse_event(struct analysis *a, const struct note_event *ev, double end_t)
{
	int n;

	if (ev->t < a->last_t || a->ended)
		a->order_errors++;
	a->last_t = ev->t;
	switch (ev->type) {
	case NOTE_NOTE:
		if (ev->b < 20 || ev->b > 100)
			a->velocity_errors++;
		if (ev->duration <= 0 || (end_t > 0 && ev->t + ev->duration > end_t + 1e-9))
			a->unended++;
		if (ev->channel == COMPOSE_CH_PIANO)
			analyse_melody(a, ev);
		n = sounding_now(a, ev->t);
		if (a->nringing < RINGING_MAX)
			a->ringing[a->nringing++] = (struct melody_note){ ev->a, ev->t + ev->duration };
		if (n + 1 > a->most_sounding)
			a->most_sounding = n + 1;
		break;
	case NOTE_ON:
		if (ev->b < 20 || ev->b > 100)
			a->velocity_errors++;
		if (a->sounding[ev->channel][ev->a]++)
			a->pairing_errors++;
		n = sounding_now(a, ev->t);
		if (n > a->most_sounding)
			a->most_sounding = n;
		break;
	case NOTE_OFF:
		if (ev->channel == COMPOSE_CH_PIANO)
			melody_off(a, ev);
		else if (a->sounding[ev->channel][ev->a]-- != 1)
			a->pairing_errors++;
		break;
	case NOTE_END:
		a->ended = true;
		for (int ch = 0; ch < 16; ch++)
			for (int key = 0; key < 128; key++)
				if (a->sounding[ch][key])
					a->unended++;
		break;
	default:
		break;
	}
}

/* How far the pad's voices moved: each new voice from the nearest old one. */
static void
analyse_chord_change(struct analysis *a, const int *before, const int *after)
{
	int worst = 0, nb = 0, na = 0;

	for (int key = 0; key < 128; key++) {
		nb += before[key] > 0;
		na += after[key] > 0;
	}
	if (!nb || !na || !memcmp(before, after, 128 * sizeof *before))
		return;
	a->chord_changes++;
	for (int key = 0; key < 128; key++) {
		int best = 128;

		if (!after[key])
			continue;
		for (int old = 0; old < 128; old++)
			if (before[old] && abs(key - old) < best)
				best = abs(key - old);
		a->voice_moves++;
		a->voice_move_sum += best;
		if (best > worst)
			worst = best;
	}
	if (worst > a->max_voice_move)
		a->max_voice_move = worst;
}

/* How many notes hold key on the pad. */
static int
a_pad(const struct analysis *a, int key)
{
	return a->sounding[COMPOSE_CH_PAD][key];
}

/* Runs one step through the analysis; returns its events in out. */
static int
analyse_step(struct analysis *a, struct composer *c, struct note_event *out, double end_t)
{
	int before[128], n;

	memcpy(before, a->sounding[COMPOSE_CH_PAD], sizeof before);
	n = composer_step(c, out);
	for (int i = 0; i < n; i++)
		analyse_event(a, &out[i], end_t);
	analyse_chord_change(a, before, a->sounding[COMPOSE_CH_PAD]);
	return n;
}

static double
pct(long part, long whole)
{
	return whole ? 100.0 * part / whole : 0;
}

/* --- names, presets and tables --- */

static void
test_names(void)
{
	static const struct { const char *name; int pc; } keys[] = {
		{ "C", 0 }, { "C#", 1 }, { "Db", 1 }, { "d", 2 }, { "Eb", 3 }, { "E", 4 },
		{ "E#", 5 }, { "Fb", 4 }, { "F#", 6 }, { "Gb", 6 }, { "Ab", 8 }, { "A", 9 },
		{ "Bb", 10 }, { "B", 11 }, { "Cb", 11 }, { "B#", 0 },
		{ "H", -1 }, { "", -1 }, { "C##", -1 }, { "Cx", -1 }, { "#", -1 }, { "do", -1 },
	};

	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		CHECK(compose_key_parse(keys[i].name) == keys[i].pc);
	for (int pc = 0; pc < 12; pc++)
		CHECK(compose_key_parse(compose_key_name(pc)) == pc);
	CHECK_STR(compose_key_name(3), "Eb");
	CHECK(compose_mode_parse("Dorian") == MODE_DORIAN);
	CHECK(compose_mode_parse("major") == MODE_IONIAN);
	CHECK(compose_mode_parse("minor") == MODE_AEOLIAN);
	CHECK(compose_mode_parse("locrian") == -1);
	CHECK(compose_mode_parse("") == -1);
	for (int m = 0; m < MODE_COUNT; m++)
		CHECK(compose_mode_parse(compose_mode_name(m)) == m);
	CHECK(compose_scale_mask(0, MODE_IONIAN) == 0xab5);    /* C D E F G A B */
	CHECK(compose_scale_mask(2, MODE_DORIAN) == compose_scale_mask(0, MODE_IONIAN));
	CHECK(compose_scale_mask(9, MODE_AEOLIAN) == compose_scale_mask(0, MODE_IONIAN));

	CHECK(compose_preset_count == 4);
	CHECK(compose_preset_find("focus") == &compose_presets[0]);
	CHECK(compose_preset_find("Sleep") != NULL);
	CHECK(compose_preset_find("meditation") != NULL);
	CHECK(compose_preset_find("bright") != NULL);
	CHECK(compose_preset_find("loud") == NULL);
	for (int i = 0; i < compose_preset_count; i++)
		CHECK(compose_params_valid(&compose_presets[i].params));

	/* The names for messages come from the same table, whole or cut short. */
	char names[COMPOSE_PRESET_NAMES_MAX];
	CHECK(!strcmp(compose_preset_names(names, sizeof names), "focus, meditation, sleep or bright"));
	CHECK(!strcmp(compose_preset_names(names, 9), "focus, m"));
	CHECK(!strcmp(compose_preset_names(names, 1), ""));
	CHECK(compose_preset_names(names, 0) == names);
}

/* The diminished degree of a mode: its fifth is a tritone. */
static bool
degree_diminished(const struct mode_def *m, int d)
{
	int root = m->steps[d], fifth = m->steps[(d + 4) % DEGREES] + ((d + 4) >= DEGREES ? 12 : 0);

	return fifth - root == 6;
}

static void
test_tables(void)
{
	for (int mode = 0; mode < MODE_COUNT; mode++) {
		const struct mode_def *m = &compose_modes[mode];
		int diminished = 0;

		for (int d = 0; d < DEGREES; d++)
			diminished += degree_diminished(m, d);
		CHECK(diminished == 1);
		for (size_t i = 0; i < m->nrules; i++) {
			const struct chord_rule *r = &m->rules[i];

			CHECK(r->last >= 0 && r->last < DEGREES);
			CHECK(!degree_diminished(m, r->last));
			CHECK(r->before == DEGREE_ANY || !degree_diminished(m, r->before));
			CHECK(r->weight[r->last] == 0);         /* a chord never follows itself */
			for (int d = 0; d < DEGREES; d++)
				if (degree_diminished(m, d))
					CHECK(r->weight[d] == 0);
		}
		/* Every usable chord has a default row that leads somewhere. */
		for (int d = 0; d < DEGREES; d++) {
			int found = 0, sum = 0;

			if (degree_diminished(m, d))
				continue;
			for (size_t i = 0; i < m->nrules; i++)
				if (m->rules[i].before == DEGREE_ANY && m->rules[i].last == d) {
					found++;
					for (int e = 0; e < DEGREES; e++)
						sum += m->rules[i].weight[e];
				}
			if (found != 1 || sum == 0)
				fprintf(stderr, "mode %s: degree %s has %d default rows\n", m->name,
				    m->numerals[d], found);
			CHECK(found == 1 && sum > 0);
		}
	}

	/* The melody's and the pad's figures keep the engine within its bounds. */
	CHECK(melody_phrase.notes_min >= 1 && melody_phrase.notes_more[0] >= 1 &&
	    melody_phrase.notes_more[1] >= melody_phrase.notes_more[0]);
	CHECK(melody_phrase.closing_min >= 1 && melody_phrase.closing_more >= 1 &&
	    melody_phrase.closing_rest >= 0);
	CHECK(melody_ring.note > 0 && melody_ring.passing > 0 && melody_ring.phrase_end > 0);
	CHECK(MELODY_MIN_US > 0 && MELODY_MIN_US < MELODY_MAX_US);
	CHECK(melody_accent.jitter >= 0 && melody_accent.fade_drop >= 0 && melody_accent.fade_drop < 1);
	CHECK(melody_accent.lowest >= 1 && melody_accent.lowest <= melody_accent.highest &&
	    melody_accent.highest <= 127);
	CHECK(melody_register.centre - melody_register.below - (int)melody_register.energy_rise >= 0);
	CHECK(melody_register.centre + (int)(melody_register.rise + melody_register.energy_rise) +
	    melody_register.above + MELODY_MAX_LEAP <= 127);
	CHECK(melody_register.spread > 0 && melody_contour.leap >= 1);
	CHECK(melody_offbeat_wait >= 0 && melody_offbeat_wait < 1);
	CHECK(progression_vary_colour >= 0 && progression_vary_colour <= 1);
	CHECK(PROGRESSION_CHORDS_MIN >= 2 && PROGRESSION_CHORDS_MIN <= PROGRESSION_CHORDS_MAX &&
	    PROGRESSION_PLAYS >= 1);
	CHECK(PAD_HIGH - PAD_LOW >= 23);        /* every pitch class twice: any chord has a voicing */
	CHECK(PAD_CENTRE > PAD_LOW && PAD_CENTRE < PAD_HIGH && BASS_LOW + 11 <= PAD_LOW);
}

/* --- determinism --- */

/* Formats every event of the first seconds of music into one string. */
static char *
render_text(const struct compose_params *p, uint64_t seed, int64_t end_us)
{
	struct composer *c = composer_new(p, seed, end_us);
	struct note_event ev[COMPOSE_STEP_EVENTS];
	size_t cap = 1 << 20, len = 0;
	char *text = malloc(cap);

	while (composer_next_us(c) >= 0) {
		int n = composer_step(c, ev);

		for (int i = 0; i < n; i++) {
			if (cap - len < NOTE_LINE_MAX) {
				cap *= 2;
				text = realloc(text, cap);
			}
			len += note_format(&ev[i], text + len, cap - len);
		}
	}
	composer_free(c);
	text[len] = '\0';
	return text;
}

static void
test_determinism(void)
{
	const struct compose_params *p = &compose_presets[0].params;
	char *a = render_text(p, 42, 600LL * COMPOSE_US);
	char *b = render_text(p, 42, 600LL * COMPOSE_US);
	char *other = render_text(p, 43, 600LL * COMPOSE_US);

	CHECK(strlen(a) > 10000);
	CHECK(!strcmp(a, b));
	CHECK(strcmp(a, other) != 0);
	/* The first events: the three sounds and their volumes, then the tonic chord of D dorian. */
	{
		const char *start = "0.000 program 0 0\n0.000 cc 0 7 100\n0.000 cc 0 91 100\n"
		    "0.000 program 1 94\n0.000 cc 1 7 100\n0.000 cc 1 91 100\n"
		    "0.000 program 2 42\n0.000 cc 2 7 100\n0.000 cc 2 91 100\n"
		    "0.000 cc 1 11 127\n0.000 cc 2 11 127\n0.000 on 1 ";

		CHECK(!strncmp(a, start, strlen(start)));
	}
	CHECK(strstr(a, "600.000 end\n") == a + strlen(a) - strlen("600.000 end\n"));
	free(a);
	free(b);
	free(other);
}

/* --- the long analysis --- */

struct totals {
	long melody, in_scale, chord_tone, chromatic, resolved;
	long voice_moves, voice_move_sum;
	int max_leap, max_voice_move;
	double min_in_scale, min_chord, max_chord;
};

static void
test_harmony(void)
{
	struct note_event ev[COMPOSE_STEP_EVENTS];
	struct totals all = { .min_in_scale = 100, .min_chord = 100 };
	int run = 0;

	printf("harmony: 2 hours of music in each of 12 keys x %d modes\n", MODE_COUNT);
	for (int mode = 0; mode < MODE_COUNT; mode++) {
		struct totals mt = { .min_in_scale = 100, .min_chord = 100 };

		for (int key = 0; key < 12; key++, run++) {
			struct compose_params p = compose_presets[0].params;
			struct analysis *a = malloc(sizeof *a);
			struct composer *c;
			double in_scale, chord;

			p.key = key;
			p.mode = mode;
			p.bpm = COMPOSE_BPM_MIN + (run * 37) % (COMPOSE_BPM_MAX - COMPOSE_BPM_MIN + 1);
			p.intensity = (run % 11) / 10.0;
			c = composer_new(&p, 1000 + (uint64_t)run, 2 * HOURS_US);
			analysis_init(a, compose_scale_mask(key, mode));
			while (composer_next_us(c) >= 0)
				analyse_step(a, c, ev, 2.0 * 3600);
			composer_free(c);

			in_scale = pct(a->in_scale, a->melody);
			chord = pct(a->chord_tone, a->melody);
			if (in_scale < 95 || chord < 65 || chord > 75 || a->resolved != a->chromatic ||
			    a->max_leap > MELODY_MAX_LEAP || a->max_voice_move > VOICE_MOVE_MAX)
				fprintf(stderr, "%s %s bpm %g intensity %.1f: in-scale %.1f %%, chord tones "
				    "%.1f %%, resolved %ld of %ld, max leap %d, max voice move %d\n",
				    compose_key_name(key), compose_mode_name(mode), p.bpm, p.intensity,
				    in_scale, chord, a->resolved, a->chromatic, a->max_leap,
				    a->max_voice_move);
			CHECK(a->melody > 1000);
			CHECK(a->chord_changes > 100);
			CHECK(in_scale >= 95);
			CHECK(chord >= 65 && chord <= 75);
			CHECK(a->resolved == a->chromatic);
			CHECK(a->max_leap <= MELODY_MAX_LEAP);
			CHECK(a->max_voice_move <= VOICE_MOVE_MAX);
			CHECK(a->most_sounding <= COMPOSE_NOTES_MAX);
			CHECK(a->order_errors == 0);
			CHECK(a->velocity_errors == 0);
			CHECK(a->pairing_errors == 0);
			CHECK(a->unended == 0);
			CHECK(a->ended);

			mt.melody += a->melody;
			mt.in_scale += a->in_scale;
			mt.chord_tone += a->chord_tone;
			mt.chromatic += a->chromatic;
			mt.resolved += a->resolved;
			mt.voice_moves += a->voice_moves;
			mt.voice_move_sum += a->voice_move_sum;
			if (a->max_leap > mt.max_leap)
				mt.max_leap = a->max_leap;
			if (a->max_voice_move > mt.max_voice_move)
				mt.max_voice_move = a->max_voice_move;
			if (in_scale < mt.min_in_scale)
				mt.min_in_scale = in_scale;
			if (chord < mt.min_chord)
				mt.min_chord = chord;
			if (chord > mt.max_chord)
				mt.max_chord = chord;
			free(a);
		}
		printf("  %-10s in-scale %.1f %% (min %.1f), chord tones %.1f %% (%.1f..%.1f), "
		    "chromatic %.1f %% (resolved by step %.0f %%), max leap %d, "
		    "voice movement mean %.2f max %d semitones, %ld notes\n",
		    compose_mode_name(mode), pct(mt.in_scale, mt.melody), mt.min_in_scale,
		    pct(mt.chord_tone, mt.melody), mt.min_chord, mt.max_chord,
		    pct(mt.chromatic, mt.melody), pct(mt.resolved, mt.chromatic), mt.max_leap,
		    (double)mt.voice_move_sum / mt.voice_moves, mt.max_voice_move, mt.melody);
		all.melody += mt.melody;
		all.in_scale += mt.in_scale;
		all.chord_tone += mt.chord_tone;
		all.chromatic += mt.chromatic;
		all.resolved += mt.resolved;
		all.voice_moves += mt.voice_moves;
		all.voice_move_sum += mt.voice_move_sum;
		if (mt.max_leap > all.max_leap)
			all.max_leap = mt.max_leap;
		if (mt.max_voice_move > all.max_voice_move)
			all.max_voice_move = mt.max_voice_move;
		if (mt.min_in_scale < all.min_in_scale)
			all.min_in_scale = mt.min_in_scale;
		if (mt.min_chord < all.min_chord)
			all.min_chord = mt.min_chord;
		if (mt.max_chord > all.max_chord)
			all.max_chord = mt.max_chord;
	}
	printf("  %-10s in-scale %.1f %% (min %.1f), chord tones %.1f %% (%.1f..%.1f), "
	    "other scale tones %.1f %%, chromatic %.1f %% (resolved by step %.0f %%), max leap %d, "
	    "voice movement mean %.2f max %d semitones, %ld notes; events in order, "
	    "velocities 20..100, every note ends\n",
	    "all", pct(all.in_scale, all.melody), all.min_in_scale,
	    pct(all.chord_tone, all.melody), all.min_chord, all.max_chord,
	    pct(all.in_scale - all.chord_tone, all.melody), pct(all.chromatic, all.melody),
	    pct(all.resolved, all.chromatic), all.max_leap,
	    (double)all.voice_move_sum / all.voice_moves, all.max_voice_move, all.melody);
}

/* --- controls --- */

/* Steps until music time t_us; returns the time of the last step run. */
static int64_t
run_until(struct analysis *a, struct composer *c, int64_t t_us)
{
	struct note_event ev[COMPOSE_STEP_EVENTS];
	int64_t last = 0;

	while (composer_next_us(c) >= 0 && composer_next_us(c) < t_us) {
		last = composer_next_us(c);
		analyse_step(a, c, ev, 0);
	}
	return last;
}

/*
 * A key change heard as a listener would: pad notes the old and new chords
 * share are held (no `off`), the others move at the change, and every
 * melody note still sounding outside the new scale gets an `off` within
 * 100 ms.  Returns how many pad notes were held.
 */
static int
check_key_change(struct analysis *a, struct composer *c, int64_t at, int key, enum compose_mode mode,
    long *clashes, long *clashes_released)
{
	struct note_event ev[COMPOSE_STEP_EVENTS];
	unsigned scale = compose_scale_mask(key, mode);
	int pad_before[128], held = 0, n;
	struct melody_note clash[RINGING_MAX];
	int nclash = 0;
	double t = (double)at / COMPOSE_US;

	memcpy(pad_before, a->sounding[COMPOSE_CH_PAD], sizeof pad_before);
	sounding_now(a, t);
	for (int i = 0; i < a->nringing; i++)
		if (!pc_in(scale, a->ringing[i].key))
			clash[nclash++] = a->ringing[i];
	*clashes += nclash;
	composer_set_harmony(c, key, mode, at);
	CHECK(composer_next_us(c) == at);
	a->scale = scale;
	while (composer_next_us(c) >= 0 && composer_next_us(c) <= at + 100000) {
		n = analyse_step(a, c, ev, 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].type == NOTE_OFF && ev[i].channel == COMPOSE_CH_PIANO) {
				for (int j = 0; j < nclash; j++)
					if (clash[j].key == ev[i].a) {
						clash[j] = clash[--nclash];
						++*clashes_released;
						break;
					}
			}
			if (ev[i].type == NOTE_OFF && ev[i].channel == COMPOSE_CH_PAD && ev[i].t == t &&
			    pad_before[ev[i].a] && a->sounding[COMPOSE_CH_PAD][ev[i].a])
				CHECK(!"a pad note common to both chords was released");
			if (ev[i].type == NOTE_ON && ev[i].channel == COMPOSE_CH_PAD)
				CHECK(pc_in(scale, ev[i].a));
		}
		if (ev[0].t == t)
			for (int k = 0; k < 128; k++)
				held += pad_before[k] && a->sounding[COMPOSE_CH_PAD][k];
	}
	CHECK(pc_in(pad_mask(a), key));                 /* the new tonic sounds */
	return held;
}

static void
test_harmony_change(void)
{
	struct compose_params p = compose_presets[0].params;   /* D dorian */
	struct composer *c = composer_new(&p, 7, 0);
	struct note_event ev[COMPOSE_STEP_EVENTS];
	struct analysis *a = malloc(sizeof *a);
	long clashes = 0, released = 0;
	int64_t at, t;
	int n, held = 0, changes = 0;

	analysis_init(a, compose_scale_mask(p.key, p.mode));
	/* A change lands between steps, at the last time written (here a tick). */
	at = run_until(a, c, 60LL * COMPOSE_US) + 50000;
	held += check_key_change(a, c, at, 6, MODE_LYDIAN, &clashes, &released);  /* F# lydian: far */
	changes++;
	/* From here on, the melody is in the new scale. */
	a->melody = a->in_scale = a->chord_tone = a->chromatic = a->resolved = 0;
	run_until(a, c, at + 1200LL * COMPOSE_US);
	printf("after a change to F# lydian: in-scale %.1f %%, chord tones %.1f %% of %ld notes\n",
	    pct(a->in_scale, a->melody), pct(a->chord_tone, a->melody), a->melody);
	CHECK(a->melody > 100);
	CHECK(pct(a->in_scale, a->melody) >= 95);
	CHECK(a->resolved == a->chromatic);
	CHECK(a->order_errors == 0 && a->pairing_errors == 0);

	/* Many changes, at odd times, to keys near and far. */
	for (int i = 0; i < 200; i++) {
		int key = (int)((i * 7 + 3) % 12);
		enum compose_mode mode = (enum compose_mode)(i * 5 % MODE_COUNT);

		t = run_until(a, c, composer_next_us(c) + (int64_t)(3 + i % 17) * COMPOSE_US);
		if (key == composer_params(c)->key && mode == composer_params(c)->mode)
			continue;
		held += check_key_change(a, c, t + 10000 * (i % 4), key, mode, &clashes, &released);
		changes++;
	}
	printf("%d key changes: %d pad notes held across them; %ld melody notes clashed with the new "
	    "scale, %ld released within 100 ms\n", changes, held, clashes, released);
	CHECK(held >= changes);                 /* common tones are held, not struck again */
	CHECK(clashes > 20 && released == clashes);
	CHECK(a->order_errors == 0 && a->pairing_errors == 0);

	/*
	 * A tempo change is heard at once: the next step is at the change, the
	 * pad moves on to its next chord, and the steps after it at the new tempo.
	 */
	t = run_until(a, c, composer_next_us(c) + 100LL * COMPOSE_US);
	{
		int64_t now = t + 10000, second;
		int struck = 0;

		composer_set_bpm(c, p.bpm / 2, now);
		CHECK(composer_next_us(c) == now);
		n = analyse_step(a, c, ev, 0);
		for (int i = 0; i < n; i++)
			struck += ev[i].type == NOTE_ON && ev[i].channel == COMPOSE_CH_PAD &&
			    ev[i].t == (double)now / COMPOSE_US;
		CHECK(struck >= 1);
		second = composer_next_us(c);
		CHECK(second == now + (int64_t)(30.0 * COMPOSE_US / (p.bpm / 2) + 0.5));
	}
	/* Stopping releases every pad note and ends at once. */
	t = composer_next_us(c) - 1000;
	composer_stop(c, t);
	CHECK(composer_next_us(c) == t);
	n = analyse_step(a, c, ev, 0);
	CHECK(n > 0 && ev[n - 1].type == NOTE_END && ev[n - 1].t == (double)t / COMPOSE_US);
	CHECK(a->ended && a->unended == 0);
	CHECK(composer_next_us(c) == -1);
	CHECK(composer_step(c, ev) == 0);
	free(a);
	composer_free(c);
}

static void
test_sounds_and_intensity(void)
{
	struct compose_params p = compose_presets[0].params;
	struct composer *c = composer_new(&p, 9, 0);
	struct note_event ev[COMPOSE_STEP_EVENTS];
	struct compose_sounds s = { 4, 88, 94 };
	struct analysis *a = malloc(sizeof *a);
	int n, programs = 0, layer = 0;

	analysis_init(a, compose_scale_mask(p.key, p.mode));
	for (int i = 0; i < 100; i++)
		analyse_step(a, c, ev, 0);
	composer_set_sounds(c, &s);
	n = analyse_step(a, c, ev, 0);
	for (int i = 0; i < n; i++)
		if (ev[i].type == NOTE_PROGRAM) {
			CHECK(ev[i].a == (ev[i].channel == 0 ? 4 : ev[i].channel == 1 ? 88 : 94));
			programs++;
		}
	CHECK(programs == 3);
	/* Full intensity brings the layer in at once: the next step is now. */
	composer_set_intensity(c, 1.0, composer_next_us(c) - 1000);
	analyse_step(a, c, ev, 0);
	for (int key = 0; key < 128; key++)
		layer += a->sounding[COMPOSE_CH_LAYER][key];
	CHECK(layer == 2);
	free(a);
	composer_free(c);
}

/* --- the form --- */

/* A chord as heard: the pad's keys and how long they sound unchanged. */
struct heard_chord {
	unsigned char keys[128];
	double start, length;
};

/* Everything a listener can tell about a piece, step by step. */
struct piece {
	struct analysis a;
	struct heard_chord *chords;
	int nchords, cap;
	double melody_t[20000];                 /* melody note times */
	int melody_key[20000], nmelody;
	double layer_on[20000];
	int nlayer;
	int last_expression;                    /* CC 11 on the pad at the end */
	unsigned pad_at_end;                    /* pitch classes sounding just before `end` */
	double end_t;
};

static struct piece *
piece_run(const struct compose_params *p, uint64_t seed, int64_t end_us)
{
	struct piece *pc = calloc(1, sizeof *pc);
	struct composer *c = composer_new(p, seed, end_us);
	struct note_event ev[COMPOSE_STEP_EVENTS];
	unsigned char pad[128] = { 0 };

	pc->cap = 4096;
	pc->chords = calloc((size_t)pc->cap, sizeof *pc->chords);
	pc->last_expression = 127;
	analysis_init(&pc->a, compose_scale_mask(p->key, p->mode));
	while (composer_next_us(c) >= 0) {
		int n = analyse_step(&pc->a, c, ev, (double)end_us / COMPOSE_US);

		for (int i = 0; i < n; i++) {
			const struct note_event *e = &ev[i];

			if (e->type == NOTE_END) {
				pc->end_t = e->t;
				break;
			}
			if (e->type == NOTE_NOTE && pc->nmelody < 20000) {
				pc->melody_t[pc->nmelody] = e->t;
				pc->melody_key[pc->nmelody++] = e->a;
			}
			if (e->type == NOTE_ON && e->channel == COMPOSE_CH_LAYER && pc->nlayer < 20000)
				pc->layer_on[pc->nlayer++] = e->t;
			if (e->type == NOTE_CC && e->channel == COMPOSE_CH_PAD && e->a == 11)
				pc->last_expression = e->b;
		}
		if (pc->end_t > 0) {
			pc->pad_at_end = 0;
			for (int k = 0; k < 128; k++)
				if (pad[k])
					pc->pad_at_end |= 1u << (k % 12);
			break;
		}
		for (int k = 0; k < 128; k++)
			pad[k] = a_pad(&pc->a, k);
		if (n && ev[0].t >= 0 && (!pc->nchords ||
		    memcmp(pc->chords[pc->nchords - 1].keys, pad, sizeof pad))) {
			if (pc->nchords)
				pc->chords[pc->nchords - 1].length = ev[0].t - pc->chords[pc->nchords - 1].start;
			if (pc->nchords == pc->cap) {
				pc->cap *= 2;
				pc->chords = realloc(pc->chords, (size_t)pc->cap * sizeof *pc->chords);
			}
			memcpy(pc->chords[pc->nchords].keys, pad, sizeof pad);
			pc->chords[pc->nchords++].start = ev[0].t;
		}
	}
	if (pc->nchords)
		pc->chords[pc->nchords - 1].length = pc->end_t - pc->chords[pc->nchords - 1].start;
	composer_free(c);
	return pc;
}

static void
piece_free(struct piece *pc)
{
	free(pc->chords);
	free(pc);
}

static bool
chord_same(const struct heard_chord *x, const struct heard_chord *y)
{
	double d = x->length - y->length;

	return !memcmp(x->keys, y->keys, sizeof x->keys) && d < 0.01 && d > -0.01;
}

/* Blocks of len >= 3 chords played again at once, voicing and rhythm alike. */
static int
verbatim_repeats(const struct piece *pc)
{
	int found = 0;

	for (int len = 3; len <= 8; len++)
		for (int i = 0; i + 2 * len < pc->nchords; i++) {  /* the last chord may be cut short */
			int j = 0;

			while (j < len && chord_same(&pc->chords[i + j], &pc->chords[i + len + j]))
				j++;
			found += j == len;
		}
	return found;
}

/* Chords by length: how many of the whole chords last lo..hi seconds, in per cent. */
static double
chords_within(const struct piece *pc, double lo, double hi, double *median)
{
	int within = 0, n = pc->nchords - 1;
	double *len = malloc((size_t)(n > 0 ? n : 1) * sizeof *len);

	for (int i = 0; i < n; i++) {
		len[i] = pc->chords[i].length;
		within += len[i] >= lo - 0.01 && len[i] <= hi + 0.01;
	}
	for (int i = 1; i < n; i++)             /* insertion sort for the median */
		for (int j = i; j > 0 && len[j] < len[j - 1]; j--) {
			double t = len[j];

			len[j] = len[j - 1];
			len[j - 1] = t;
		}
	*median = n > 0 ? len[n / 2] : 0;
	free(len);
	return pct(within, n);
}

static void
test_chord_lengths(void)
{
	static const double bpms[] = { 44, 72, 120 };

	for (size_t i = 0; i < sizeof bpms / sizeof bpms[0]; i++) {
		struct compose_params p = compose_presets[0].params;
		struct piece *calm, *busy;
		double calm_share, calm_median, busy_median;

		p.bpm = bpms[i];
		p.intensity = 0.1;
		calm = piece_run(&p, 21 + i, HOURS_US);
		p.intensity = 1;
		busy = piece_run(&p, 21 + i, HOURS_US);
		calm_share = chords_within(calm, 10, 30, &calm_median);
		chords_within(busy, 0, 1e9, &busy_median);
		printf("chords at %g BPM: intensity 0.1 %.0f %% within 10..30 s (median %.1f s), "
		    "intensity 1 median %.1f s\n", p.bpm, calm_share, calm_median, busy_median);
		CHECK(calm_share >= 80);
		CHECK(busy_median >= 4 && busy_median < calm_median);
		piece_free(calm);
		piece_free(busy);
	}
}

static void
test_varied_repeats(void)
{
	for (int i = 0; i < compose_preset_count; i++) {
		for (uint64_t seed = 1; seed <= 3; seed++) {
			struct piece *pc = piece_run(&compose_presets[i].params, seed, HOURS_US);
			int repeats = verbatim_repeats(pc);

			if (repeats)
				fprintf(stderr, "%s seed %llu: %d blocks of chords played twice verbatim\n",
				    compose_presets[i].name, (unsigned long long)seed, repeats);
			CHECK(pc->nchords > 100);
			CHECK(repeats == 0);
			piece_free(pc);
		}
	}
}

/* Sections: density over 2-minute windows and the layer, over 20 minutes of each preset. */
static void
test_sections(void)
{
	for (int i = 0; i < compose_preset_count; i++) {
		struct piece *pc = piece_run(&compose_presets[i].params, 42, 1200LL * COMPOSE_US);
		int per_window[10] = { 0 }, layer_windows = 0, layer[10] = { 0 }, lo = 1 << 30, hi = 0;

		for (int k = 0; k < pc->nmelody; k++)
			per_window[(int)(pc->melody_t[k] / 120) % 10]++;
		for (int k = 0; k < pc->nlayer; k++)
			layer[(int)(pc->layer_on[k] / 120) % 10]++;
		printf("%-10s melody notes a minute per 2 minutes:", compose_presets[i].name);
		for (int w = 0; w < 10; w++) {
			printf(" %d", per_window[w] / 2);
			if (per_window[w] < lo)
				lo = per_window[w];
			if (per_window[w] > hi)
				hi = per_window[w];
			layer_windows += layer[w] > 0;
		}
		printf("; layer in %d of 10 windows; %.0f %% chord tones, %.1f %% in scale\n",
		    layer_windows, pct(pc->a.chord_tone, pc->a.melody),
		    pct(pc->a.in_scale, pc->a.melody));
		CHECK(lo > 0 && hi >= 1.6 * lo);        /* the density swells and thins */
		CHECK(layer_windows >= 1);              /* the layer plays in every preset */
		CHECK(layer_windows <= 9 || compose_presets[i].params.intensity > 0.5);
		CHECK(pc->a.most_sounding <= COMPOSE_NOTES_MAX);
		piece_free(pc);
	}
}

/* Pieces with an end close on the tonic, the melody settled on it, and fade. */
static void
test_endings(void)
{
	int runs = 0, on_root = 0;

	for (int i = 0; i < compose_preset_count; i++) {
		for (uint64_t seed = 1; seed <= 6; seed++) {
			const struct compose_params *p = &compose_presets[i].params;
			int64_t end = seed % 2 ? 600LL * COMPOSE_US :      /* --duration or --bars */
			    (int64_t)((40 + seed) * 4 * 60.0 * COMPOSE_US / p->bpm + 0.5);
			struct piece *pc = piece_run(p, seed, end);
			unsigned tonic = 1u << p->key | 1u << (p->key + compose_modes[p->mode].steps[2]) % 12 |
			    1u << (p->key + 7) % 12;
			int last = pc->melody_key[pc->nmelody - 1];
			const struct heard_chord *final = &pc->chords[pc->nchords - 1];

			CHECK(pc->pad_at_end == tonic);
			CHECK(pc_in(tonic, last));
			CHECK(pc->melody_t[pc->nmelody - 1] >= final->start);
			CHECK(final->length >= 8);
			CHECK(pc->last_expression < 70);
			CHECK(pc->a.unended == 0 && pc->a.ended);
			on_root += last % 12 == p->key;
			runs++;
			piece_free(pc);
		}
	}
	printf("endings: %d of %d pieces end on the tonic chord with the last note on its root, "
	    "the rest on another of its tones\n", on_root, runs);
	CHECK(on_root * 2 > runs);
}

int
main(void)
{
	test_names();
	test_tables();
	test_determinism();
	test_sounds_and_intensity();
	test_harmony_change();
	test_chord_lengths();
	test_varied_repeats();
	test_sections();
	test_endings();
	test_harmony();
	return check_done("compose");
}
