/*
 * compose_tables.c - the composer's musical data, kept apart from the
 * engine so that a musician can read and change it.
 *
 * The chord chains are order-2 Markov chains over the degrees of the mode:
 * the next chord depends on the two before it.  Each table lists rows
 * "before, last -> weights of the next chord".  A row whose `before` is ANY
 * is the default for its `last` chord; rows with a real `before` override
 * it where two chords in a row call for something particular (a cadence,
 * a loop worth finishing).  Weights are relative; 0 never happens.
 *
 * Rules every table keeps (tests/unit/test_compose.c checks them): the
 * diminished chord of the mode is never chosen (its column and row are
 * empty: it has no stable place in music meant to float), a chord never
 * follows itself (a progression moves every chord), and every usable chord
 * has a default row, so the chain can never get stuck.
 *
 * Locrian is not offered: its tonic triad is diminished, so the chain would
 * have no home chord to rest on.  An ambient piece "in locrian" would drift
 * into the major key a semitone up, which --key can ask for honestly.
 */
#include "compose_tables.h"

enum { I, II, III, IV, V, VI, VII, ANY = DEGREE_ANY };

/*
 * Ionian (major): I ii iii IV V vi (vii° unused).
 * Plagal and deceptive motion more than dominant drive: IV and vi are
 * the usual ways on, V mostly goes home or to vi.
 */
static const struct chord_rule ionian_rules[] = {
	/* before  last      I  ii iii  IV   V  vi vii */
	{ ANY,     I,     {  0,  3,  1,  5,  3,  4,  0 } },
	{ ANY,     II,    {  1,  0,  1,  2,  5,  2,  0 } },
	{ ANY,     III,   {  1,  1,  0,  4,  1,  4,  0 } },
	{ ANY,     IV,    {  5,  2,  1,  0,  4,  3,  0 } },
	{ ANY,     V,     {  5,  1,  1,  3,  0,  4,  0 } },
	{ ANY,     VI,    {  2,  3,  2,  5,  3,  0,  0 } },
	{ IV,      V,     {  5,  0,  1,  0,  0,  5,  0 } },  /* IV V: home, or deceptive to vi */
	{ II,      V,     {  8,  0,  0,  1,  0,  3,  0 } },  /* ii V: a cadence */
	{ VI,      IV,    {  5,  2,  0,  0,  4,  0,  0 } },  /* vi IV: then I or V */
	{ V,       VI,    {  1,  3,  2,  6,  0,  0,  0 } },  /* after the deceptive cadence */
	{ I,       VI,    {  0,  4,  2,  5,  1,  0,  0 } },
	{ IV,      I,     {  0,  2,  1,  1,  3,  4,  0 } },  /* no endless I IV I IV */
	{ III,     VI,    {  1,  3,  0,  5,  1,  0,  0 } },
};

/*
 * Dorian: i ii bIII IV v bVII (vi° unused).
 * The major IV is the colour of the mode: i IV is its heartbeat.
 */
static const struct chord_rule dorian_rules[] = {
	/* before  last      i  ii bIII IV   v  vi bVII */
	{ ANY,     I,     {  0,  2,  3,  6,  2,  0,  4 } },
	{ ANY,     II,    {  2,  0,  3,  1,  3,  0,  2 } },
	{ ANY,     III,   {  2,  1,  0,  5,  2,  0,  4 } },
	{ ANY,     IV,    {  6,  1,  2,  0,  2,  0,  3 } },
	{ ANY,     V,     {  4,  1,  2,  3,  0,  0,  3 } },
	{ ANY,     VII,   {  5,  1,  2,  4,  1,  0,  0 } },
	{ I,       IV,    {  5,  1,  2,  0,  2,  0,  4 } },
	{ IV,      I,     {  0,  2,  3,  2,  2,  0,  4 } },  /* the vamp, but not forever */
	{ III,     IV,    {  5,  0,  0,  0,  2,  0,  3 } },
	{ VII,     IV,    {  6,  0,  1,  0,  1,  0,  0 } },
	{ IV,      VII,   {  5,  0,  2,  1,  0,  0,  0 } },
};

/*
 * Phrygian: i bII bIII iv bVI bvii (v° unused).
 * The half step above the tonic, bII, is everything: it leans on i.
 */
static const struct chord_rule phrygian_rules[] = {
	/* before  last      i bII bIII iv  v bVI bvii */
	{ ANY,     I,     {  0,  6,  3,  3,  0,  3,  4 } },
	{ ANY,     II,    {  7,  0,  2,  1,  0,  0,  2 } },
	{ ANY,     III,   {  2,  4,  0,  3,  0,  2,  1 } },
	{ ANY,     IV,    {  4,  2,  2,  0,  0,  2,  3 } },
	{ ANY,     VI,    {  2,  4,  2,  2,  0,  0,  4 } },
	{ ANY,     VII,   {  6,  3,  1,  1,  0,  2,  0 } },
	{ I,       II,    {  6,  0,  2,  0,  0,  0,  3 } },
	{ II,      I,     {  0,  2,  2,  3,  0,  3,  4 } },
	{ VI,      VII,   {  6,  2,  0,  0,  0,  0,  0 } },
	{ VII,     II,    {  7,  0,  0,  0,  0,  0,  0 } },
};

/*
 * Lydian: I II iii V vi vii (#iv° unused).
 * The major II over the tonic is the raised fourth made audible.
 */
static const struct chord_rule lydian_rules[] = {
	/* before  last      I  II iii #iv  V  vi vii */
	{ ANY,     I,     {  0,  6,  1,  0,  2,  3,  2 } },
	{ ANY,     II,    {  6,  0,  2,  0,  2,  2,  2 } },
	{ ANY,     III,   {  2,  4,  0,  0,  1,  3,  1 } },
	{ ANY,     V,     {  4,  3,  1,  0,  0,  3,  1 } },
	{ ANY,     VI,    {  3,  4,  2,  0,  2,  0,  1 } },
	{ ANY,     VII,   {  4,  2,  2,  0,  1,  3,  0 } },
	{ I,       II,    {  6,  0,  2,  0,  0,  2,  3 } },
	{ II,      I,     {  0,  3,  1,  0,  2,  3,  2 } },
	{ VI,      II,    {  5,  0,  1,  0,  2,  0,  0 } },
	{ VII,     I,     {  0,  5,  0,  0,  0,  2,  0 } },
};

/*
 * Mixolydian: I ii IV v vi bVII (iii° unused).
 * bVII to I, the flattened seventh resolving home, is the mode's cadence.
 */
static const struct chord_rule mixolydian_rules[] = {
	/* before  last      I  ii iii  IV   v  vi bVII */
	{ ANY,     I,     {  0,  1,  0,  4,  3,  2,  6 } },
	{ ANY,     II,    {  2,  0,  0,  3,  3,  1,  3 } },
	{ ANY,     IV,    {  6,  1,  0,  0,  2,  2,  3 } },
	{ ANY,     V,     {  3,  2,  0,  4,  0,  3,  3 } },
	{ ANY,     VI,    {  2,  3,  0,  4,  2,  0,  3 } },
	{ ANY,     VII,   {  6,  1,  0,  5,  2,  1,  0 } },
	{ I,       VII,   {  5,  0,  0,  5,  2,  1,  0 } },
	{ VII,     IV,    {  8,  0,  0,  0,  2,  0,  0 } },  /* bVII IV I */
	{ IV,      VII,   {  6,  0,  0,  0,  2,  1,  0 } },
	{ V,       IV,    {  5,  0,  0,  0,  0,  0,  3 } },
};

/*
 * Aeolian (natural minor): i bIII iv v bVI bVII (ii° unused).
 * The long loop i bVI bIII bVII carries much of the ambient repertoire.
 */
static const struct chord_rule aeolian_rules[] = {
	/* before  last      i ii bIII  iv   v bVI bVII */
	{ ANY,     I,     {  0,  0,  3,  4,  2,  5,  4 } },
	{ ANY,     III,   {  2,  0,  0,  3,  1,  4,  5 } },
	{ ANY,     IV,    {  5,  0,  2,  0,  3,  3,  4 } },
	{ ANY,     V,     {  5,  0,  1,  2,  0,  4,  2 } },
	{ ANY,     VI,    {  2,  0,  4,  3,  2,  0,  6 } },
	{ ANY,     VII,   {  5,  0,  5,  2,  1,  2,  0 } },
	{ I,       VI,    {  0,  0,  4,  3,  1,  0,  6 } },
	{ VI,      III,   {  1,  0,  0,  2,  0,  0,  7 } },
	{ III,     VII,   {  6,  0,  0,  2,  0,  2,  0 } },
	{ VI,      VII,   {  8,  0,  3,  0,  0,  0,  0 } },
	{ IV,      V,     {  5,  0,  0,  0,  0,  4,  0 } },
	{ I,       IV,    {  2,  0,  1,  0,  3,  3,  4 } },
};

#define RULES(r) r, sizeof r / sizeof r[0]

const struct mode_def compose_modes[MODE_COUNT] = {
	[MODE_IONIAN] = { "ionian", { 0, 2, 4, 5, 7, 9, 11 },
	    { "I", "ii", "iii", "IV", "V", "vi", "vii°" }, RULES(ionian_rules) },
	[MODE_DORIAN] = { "dorian", { 0, 2, 3, 5, 7, 9, 10 },
	    { "i", "ii", "bIII", "IV", "v", "vi°", "bVII" }, RULES(dorian_rules) },
	[MODE_PHRYGIAN] = { "phrygian", { 0, 1, 3, 5, 7, 8, 10 },
	    { "i", "bII", "bIII", "iv", "v°", "bVI", "bvii" }, RULES(phrygian_rules) },
	[MODE_LYDIAN] = { "lydian", { 0, 2, 4, 6, 7, 9, 11 },
	    { "I", "II", "iii", "#iv°", "V", "vi", "vii" }, RULES(lydian_rules) },
	[MODE_MIXOLYDIAN] = { "mixolydian", { 0, 2, 4, 5, 7, 9, 10 },
	    { "I", "ii", "iii°", "IV", "v", "vi", "bVII" }, RULES(mixolydian_rules) },
	[MODE_AEOLIAN] = { "aeolian", { 0, 2, 3, 5, 7, 8, 10 },
	    { "i", "ii°", "bIII", "iv", "v", "bVI", "bVII" }, RULES(aeolian_rules) },
};

/*
 * Chord colours: triad, seventh, add9, sus2, sus4.  Higher intensity asks
 * for richer chords.  A colour is only used where the mode gives it the
 * right interval (a major ninth for add9 and sus2, a perfect fourth for
 * sus4); a seventh is always diatonic (maj7, m7 or dominant 7).
 */
const double chord_kind_weight[2][CHORD_KINDS] = {
	/* triad  seventh  add9  sus2  sus4 */
	{  3.0,   2.5,     2.0,  1.2,  0.8 },       /* intensity 0 */
	{  1.8,   3.2,     2.8,  1.2,  0.8 },       /* intensity 1 */
};

/*
 * What the melody reaches for at each note.  Phrase endings always land on
 * a chord tone and a chromatic tone is followed by its resolution, so
 * these are a little off the shares heard: about 70 % chord tones, 25 %
 * other tones of the scale and 4 % chromatic passing tones, which keeps
 * the melody above 95 % in the scale.
 */
const struct melody_mix melody_mix = {
	.chord = 0.645,
	.scale = 0.31,
	.chromatic = 0.045,
};

/* Steps before skips; the tritone almost never; nothing beyond a fifth. */
const double melody_interval_weight[13] = {
	/* unison  m2   M2   m3   M3   P4   tritone  P5  m6 M6 m7 M7 octave */
	   0.5,    3.0, 3.2, 1.8, 1.5, 1.0, 0.15,    0.6, 0, 0, 0, 0, 0,
};

/*
 * The melody's register: centred on D#4 when calm, ten semitones higher
 * when busy, and two either way with the form's energy; a pitch is chosen
 * from 8 below to 10 above the centre, a sixth away weighing half.
 */
const struct melody_register melody_register = {
	.centre = 63, .rise = 10, .energy_rise = 2, .below = 8, .above = 10, .spread = 6.0,
};

/* A leap of a minor third or more turns back; else the phrase arches up, then down. */
const struct melody_contour melody_contour = {
	.leap = 3, .turn_back = 2.0, .onward = 0.6, .arch = 1.2,
};

/* Note lengths in eighths: long and ringing when calm, shorter when busy. */
const int melody_length[MELODY_LENGTHS] = { 1, 2, 3, 4, 6, 8 };
const double melody_length_weight[2][MELODY_LENGTHS] = {
	{ 0.4, 3.0, 1.2, 2.6, 1.0, 0.6 },           /* intensity 0 */
	{ 2.4, 3.6, 1.0, 1.6, 0.3, 0.1 },           /* intensity 1 */
};

/* A note rings 1.3 times its length, a passing tone 0.9, a phrase's last 1.8. */
const struct melody_ring melody_ring = { .note = 1.3, .passing = 0.9, .phrase_end = 1.8 };

/*
 * Phrases of 3 to 6 notes when calm, 3 to 10 when busy; the last one 1 or
 * 2 notes, after at most half a bar of rest.
 */
const struct melody_phrase melody_phrase = {
	.notes_min = 3, .notes_more = { 4, 8 },
	.closing_min = 1, .closing_more = 2,
	.closing_rest = 4,
};

/* Phrases like to start on a beat. */
const double melody_offbeat_wait = 0.6;

/* A repeated progression draws about half its colours again. */
const double progression_vary_colour = 0.5;

/*
 * Presets: a key, mode, tempo and intensity, and the General MIDI programs
 * of piano, pad and the layer that joins the pad at high intensity.
 * docs/composer.md lists them; focus is the default.
 */
const struct compose_preset compose_presets[] = {
	/* name          key mode             bpm  intensity  piano  pad  layer */
	{ "focus",      { 2, MODE_DORIAN,     72,  0.45,    { 0,     94,  42 } } },  /* D; grand piano, halo pad, cello */
	{ "meditation", { 5, MODE_LYDIAN,     56,  0.25,    { 4,     91,  52 } } },  /* F; electric piano, space voice, choir aahs */
	{ "sleep",      { 9, MODE_AEOLIAN,    44,  0.10,    { 0,     92,  53 } } },  /* A; grand piano, bowed glass, voice oohs */
	{ "bright",     { 7, MODE_IONIAN,     96,  0.70,    { 1,     90,  102 } } }, /* G; bright grand, polysynth, echo drops */
};
const int compose_preset_count = sizeof compose_presets / sizeof compose_presets[0];

/*
 * The form.  Sections last 100 to 240 s; the energy glides to a new
 * section's level over 45 s, so a change is felt, not heard.  At the lowest
 * energy the music plays at the preset's intensity less 0.3 (with rests
 * two and a half times as long), at the highest 0.3 above it, with the
 * layer.  compose.c draws the levels: never the same twice in a row, a
 * high section at least every third, and a piece starts low or middle.
 */
const double section_energy[SECTION_LEVELS] = { -1.0, 0.0, 1.0 };
const double section_seconds[2] = { 100, 240 };
const double section_ramp_seconds = 45;
const double section_swing = 0.3;
const double section_rest_stretch = 2.5;

/*
 * The layer joins where the energy is above the threshold: Sleep and
 * Meditation in their high sections, Focus in all but the low ones, Bright
 * in the middle and high ones, and at intensity 1 always.
 */
const double layer_threshold[2] = { 0.45, -1.05 };

/*
 * Chords last 12..26 s when calm and 4..9 s when busy, drawn between the
 * two and rounded to whole bars (at least one).
 */
const double chord_seconds[2][2] = {
	{ 12.0, 26.0 },                         /* intensity 0 */
	{ 4.0, 9.0 },                           /* intensity 1 */
};

/*
 * The ending: the tonic for at least 8 s and a chord and a half's length,
 * pad and layer fading over its last 12 s to expression 56 (about -14 dB in
 * FluidSynth's curve) before the release.
 */
const double final_chord_seconds_min = 8;
const double final_chord_chords = 1.5;
const double fade_seconds_max = 12;
const int fade_expression_end = 56;

/* Density: a free step starts a note this often. */
const double melody_note_chance[2] = { 0.45, 0.8 };

/* Phrases breathe: 3..10 s of rest when calm, 0.5..3 s when busy. */
const double phrase_rest_seconds[2][2] = {
	{ 3.0, 10.0 },                          /* intensity 0 */
	{ 0.5, 3.0 },                           /* intensity 1 */
};

/*
 * Velocities move little with intensity (melody about 50..84, pad 50..66),
 * so a change of intensity changes density, register and colour more than
 * level, and the presets play at about the same loudness.
 */
const double melody_velocity_level[2] = { 50, 64 };
const double melody_velocity_arch = 12;

/*
 * Around that, a note is up to 4 louder or softer at random, 3 louder on
 * the downbeat, 6 softer as a passing tone, and the last notes are up to
 * 35 % softer as the music fades.
 */
const struct melody_accent melody_accent = {
	.jitter = 4, .downbeat = 3, .passing = 6, .fade_drop = 0.35, .lowest = 20, .highest = 100,
};
const double pad_velocity_level[2] = { 50, 66 };
const int layer_velocity_drop = 6;

/*
 * The channel volume (CC 7) and reverb send (CC 91) sent with each
 * program, to even out how loud and how wet the default SoundFont's
 * (FluidR3) programs are on the same notes, so that the piano leads the
 * pad by a few LU and the reverb carries about a quarter of the sound in
 * every preset (docs/sound.md).  MIDI volume is about 40 log10(v / 127)
 * dB: 100 is -4 dB, 84 is -7 dB.  A send of 100 is the renderer's own;
 * 80 is a fifth less.  Programs not listed get 100 and 100.
 */
static const struct program_trim {
	int program, volume, reverb;
} program_trims[] = {
	{ 4, 84, 100 },                         /* the Rhodes is 6.6 LU louder than the grand */
	{ 91, 100, 75 },                        /* space voice is airy already */
	{ 92, 85, 120 },                        /* bowed glass: under the sparse Sleep piano, and wetter */
};

static const struct program_trim *
program_trim(int program)
{
	for (size_t i = 0; i < sizeof program_trims / sizeof program_trims[0]; i++)
		if (program_trims[i].program == program)
			return &program_trims[i];
	return NULL;
}

int
compose_program_volume(int program)
{
	const struct program_trim *t = program_trim(program);

	return t ? t->volume : 100;
}

int
compose_program_reverb(int program)
{
	const struct program_trim *t = program_trim(program);

	return t ? t->reverb : 100;
}
