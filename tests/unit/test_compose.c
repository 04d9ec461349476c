/*
 * test_compose.c - the composer engine: names, the chord tables, determinism,
 * controls, and a harmony analysis of two hours of music in every key and
 * mode.
 *
 * The analysis knows nothing of the engine's insides.  It reads the events
 * as a listener would: which pad notes sound when a melody note starts,
 * which scale the key and mode make, what follows a chromatic note, how far
 * each voice moves when the chord changes.
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

struct analysis {
	long melody;                    /* melody notes */
	long in_scale, chord_tone, chromatic, resolved;
	int max_leap;
	long chord_changes, voice_moves, voice_move_sum;
	int max_voice_move;
	long order_errors, velocity_errors, pairing_errors, unended;
	double last_t;
	int sounding[16][128];
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

static void
analyse_event(struct analysis *a, const struct note_event *ev, double end_t)
{
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
		break;
	case NOTE_ON:
		if (ev->b < 20 || ev->b > 100)
			a->velocity_errors++;
		if (a->sounding[ev->channel][ev->a]++)
			a->pairing_errors++;
		break;
	case NOTE_OFF:
		if (a->sounding[ev->channel][ev->a]-- != 1)
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
	/* The first events: the three sounds, then the tonic chord of D dorian. */
	CHECK(!strncmp(a, "0.000 program 0 0\n0.000 program 1 89\n0.000 program 2 92\n0.000 on 1 ", 67));
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

static void
test_harmony_change(void)
{
	struct compose_params p = compose_presets[0].params;   /* D dorian */
	struct composer *c = composer_new(&p, 7, 0);
	struct note_event ev[COMPOSE_STEP_EVENTS];
	struct analysis *a = malloc(sizeof *a);
	int64_t at, t;
	int n, offs = 0, ons = 0;
	bool order_ok = true;

	analysis_init(a, compose_scale_mask(p.key, p.mode));
	/* A change lands between steps, at the last time written (here a tick). */
	at = run_until(a, c, 60LL * COMPOSE_US) + 50000;
	composer_set_harmony(c, 6, MODE_LYDIAN, at);           /* F# lydian: far away */
	CHECK(composer_next_us(c) == at);
	n = analyse_step(a, c, ev, 0);
	for (int i = 0; i < n; i++) {
		CHECK(ev[i].t == (double)at / COMPOSE_US);
		if (ev[i].type == NOTE_OFF && ev[i].channel == COMPOSE_CH_PAD) {
			offs++;
			order_ok &= ons == 0;
		}
		if (ev[i].type == NOTE_ON && ev[i].channel == COMPOSE_CH_PAD) {
			ons++;
			CHECK(pc_in(compose_scale_mask(6, MODE_LYDIAN), ev[i].a));
		}
	}
	CHECK(offs >= 3 && ons >= 3);
	CHECK(pc_in(pad_mask(a), 6) && pc_in(pad_mask(a), 1));  /* F# and C#: the new tonic */
	CHECK(order_ok);                        /* the old chord is released first */
	/* From here on, the melody is in the new scale. */
	analysis_init(a, compose_scale_mask(6, MODE_LYDIAN));
	memset(a->sounding[COMPOSE_CH_PAD], 0, sizeof a->sounding[COMPOSE_CH_PAD]);
	for (int i = 0; i < n; i++)
		if (ev[i].type == NOTE_ON)
			a->sounding[ev[i].channel][ev[i].a]++;
	a->last_t = (double)at / COMPOSE_US;
	run_until(a, c, at + 1200LL * COMPOSE_US);
	printf("after a change to F# lydian: in-scale %.1f %%, chord tones %.1f %% of %ld notes\n",
	    pct(a->in_scale, a->melody), pct(a->chord_tone, a->melody), a->melody);
	CHECK(a->melody > 100);
	CHECK(pct(a->in_scale, a->melody) >= 95);
	CHECK(a->resolved == a->chromatic);
	CHECK(a->order_errors == 0 && a->pairing_errors == 0);

	/*
	 * A tempo change is heard at once: the next step is at the change, the
	 * sounding chord struck again, and the steps after it at the new tempo.
	 */
	t = run_until(a, c, at + 1300LL * COMPOSE_US);
	{
		int64_t now = t + 10000, second;
		int restruck = 0;

		composer_set_bpm(c, p.bpm / 2, now);
		CHECK(composer_next_us(c) == now);
		n = analyse_step(a, c, ev, 0);
		for (int i = 0; i < n; i++)
			restruck += ev[i].type == NOTE_ON && ev[i].channel == COMPOSE_CH_PAD &&
			    ev[i].t == (double)now / COMPOSE_US;
		CHECK(restruck >= 3);
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
	int n, programs = 0, layer_ons = 0;

	for (int i = 0; i < 100; i++)
		composer_step(c, ev);
	composer_set_sounds(c, &s);
	n = composer_step(c, ev);
	for (int i = 0; i < n; i++)
		if (ev[i].type == NOTE_PROGRAM) {
			CHECK(ev[i].a == (ev[i].channel == 0 ? 4 : ev[i].channel == 1 ? 88 : 94));
			programs++;
		}
	CHECK(programs == 3);
	/* Full intensity brings the layer in at once: the next step is now. */
	composer_set_intensity(c, 1.0, composer_next_us(c) - 1000);
	n = composer_step(c, ev);
	for (int i = 0; i < n; i++)
		layer_ons += ev[i].type == NOTE_ON && ev[i].channel == COMPOSE_CH_LAYER;
	CHECK(layer_ons == 2);
	composer_free(c);
}

int
main(void)
{
	test_names();
	test_tables();
	test_determinism();
	test_sounds_and_intensity();
	test_harmony_change();
	test_harmony();
	return check_done("compose");
}
