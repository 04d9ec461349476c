/*
 * compose_tables.h - the composer's musical data (compose_tables.c): the
 * modes, the order-2 chord chains, the chord colours, the progressions and
 * the pad's register, the melody's proportions, register, contour, phrases
 * and ring, the form's sections, the time scales and the velocities.
 * Only the engine (compose*.c) and its tests read these.
 */
#ifndef AUR_COMPOSE_TABLES_H
#define AUR_COMPOSE_TABLES_H

#include <stddef.h>

#include "compose.h"

#define DEGREES 7
#define DEGREE_ANY (-1)

/*
 * One row of a chord chain: when the two chords before were `before` and
 * `last` (scale degrees 0..6; before may be DEGREE_ANY), the next chord is
 * degree d with probability weight[d] / sum(weight).  A row with a real
 * `before` wins over the DEGREE_ANY row of the same `last`.
 */
struct chord_rule {
	signed char before, last;
	unsigned char weight[DEGREES];
};

struct mode_def {
	const char *name;
	int steps[DEGREES];             /* semitones of each degree above the tonic */
	const char *numerals[DEGREES];  /* "I", "ii", "bIII", ... for messages */
	const struct chord_rule *rules;
	size_t nrules;
};

extern const struct mode_def compose_modes[MODE_COUNT];

/* The chord colours a pad chord can take. */
enum chord_kind {
	CHORD_TRIAD,
	CHORD_SEVENTH,
	CHORD_ADD9,
	CHORD_SUS2,
	CHORD_SUS4,
	CHORD_KINDS
};

/* How often each colour is chosen (where it fits), at intensity 0 and 1. */
extern const double chord_kind_weight[2][CHORD_KINDS];

/*
 * Progressions: 4 to 6 chords, each played twice, the second time with
 * about this share of the colours drawn again and the voicings leaning
 * REPEAT_LEAN semitones up or down.
 */
#define PROGRESSION_CHORDS_MIN 4
#define PROGRESSION_CHORDS_MAX 6
#define PROGRESSION_PLAYS 2
#define REPEAT_LEAN 4                   /* semitones a repeat's voicings lean */
extern const double progression_vary_colour;

/* The pad's register, and the layer's. */
#define PAD_LOW 47                      /* B2: every pitch class twice up to A#4 */
#define PAD_HIGH 70
#define PAD_CENTRE 58.5
#define BASS_LOW 36                     /* the layer's root: C2..B2 */
#define LAYER_HALO_BELOW 0.5            /* below this intensity the layer's top is an octave up */

/* The melody's choice of pitch, before the rules of voice leading. */
struct melody_mix {
	double chord;                   /* a tone of the sounding chord */
	double scale;                   /* another tone of the scale */
	double chromatic;               /* a passing tone outside the scale */
};

extern const struct melody_mix melody_mix;

/* Weight of a melodic interval of 0..12 semitones (larger: not taken). */
extern const double melody_interval_weight[13];

#define MELODY_MAX_LEAP 7               /* semitones: a fifth */

/*
 * The melody's register: its centre (a MIDI key) rises with the intensity
 * heard and moves with the form's energy; a pitch is chosen within
 * below..above of it, and drawn toward it, a pitch `spread` semitones
 * away weighing half as much.
 */
struct melody_register {
	int centre;                     /* at intensity 0 and energy 0 */
	double rise;                    /* semitones higher at intensity 1 */
	double energy_rise;             /* semitones higher at energy 1 (lower at -1) */
	int below, above;               /* semitones of room around the centre */
	double spread;
};

extern const struct melody_register melody_register;

/*
 * The melody's line: after a leap of `leap` semitones or more, a step
 * back weighs turn_back times, one onward `onward` times; else a step
 * that follows the phrase's arch (up in its first half, down after)
 * weighs `arch` times.
 */
struct melody_contour {
	int leap;
	double turn_back, onward, arch;
};

extern const struct melody_contour melody_contour;

/* Rhythmic values of melody notes, in eighths, and their weights at intensity 0 and 1. */
#define MELODY_LENGTHS 6
extern const int melody_length[MELODY_LENGTHS];
extern const double melody_length_weight[2][MELODY_LENGTHS];

/*
 * How long a melody note sounds, as a factor of its written length: an
 * ordinary note rings past it, a chromatic passing tone is detached, a
 * phrase's last note is left to ring.  Never shorter than MELODY_MIN_US or
 * longer than MELODY_MAX_US.
 */
struct melody_ring {
	double note, passing, phrase_end;
};

extern const struct melody_ring melody_ring;

#define MELODY_MIN_US 100000            /* shortest melody note */
#define MELODY_MAX_US 6000000           /* longest: the piano has died away */

/*
 * Notes in a phrase: notes_min, and a draw below notes_more (at intensity
 * 0 and 1) more.  The last phrase, when the closing tonic starts with none
 * under way: closing_min and a draw below closing_more, after a rest of
 * at most closing_rest steps.
 */
struct melody_phrase {
	int notes_min, notes_more[2];
	int closing_min, closing_more;
	int closing_rest;
};

extern const struct melody_phrase melody_phrase;

/* The chance that a phrase due to start off the beat waits for it. */
extern const double melody_offbeat_wait;

/*
 * The form.  The music moves through sections of a few minutes, each low,
 * middle or high in energy; the energy (-1..1) glides from one section's
 * level to the next over the ramp, and moves the intensity heard by up to
 * section_swing either way.
 */
enum section_level { SECTION_LOW, SECTION_MID, SECTION_HIGH, SECTION_LEVELS };

extern const double section_energy[SECTION_LEVELS];
extern const double section_seconds[2];         /* shortest and longest section */
extern const double section_ramp_seconds;
extern const double section_swing;
#define SECTION_HIGH_EVERY 3                    /* a high section at least every third */

/* The layer plays where the energy is above this, at intensity 0 and 1. */
extern const double layer_threshold[2];

/* How long a chord lasts, in seconds: shortest and longest, at intensity 0 and 1. */
extern const double chord_seconds[2][2];

/* The closing tonic chord: at least this many seconds, and as many chords' length. */
extern const double final_chord_seconds_min;
extern const double final_chord_chords;
extern const double fade_seconds_max;           /* the fade over the closing chord */
extern const int fade_expression_end;           /* CC 11 of pad and layer when the music ends */

/* The melody's density: the chance that a free step starts a note, at intensity 0 and 1. */
extern const double melody_note_chance[2];

/* Rests between phrases, in seconds: shortest and longest, at intensity 0 and 1. */
extern const double phrase_rest_seconds[2][2];

/* Rests at the lowest energy are this many times those at the highest. */
extern const double section_rest_stretch;

/* Velocities at intensity 0 and 1: intensity mainly changes density and colour, not level. */
extern const double melody_velocity_level[2];         /* the level the phrase arches from */
extern const double melody_velocity_arch;       /* added at the top of the arch */

/*
 * The small moves of a melody note's velocity: a random spread of
 * +-jitter, more on the bar's downbeat, less for a passing tone, the last
 * notes up to fade_drop softer as the music fades, and always within
 * lowest..highest.
 */
struct melody_accent {
	int jitter, downbeat, passing;
	double fade_drop;
	int lowest, highest;
};

extern const struct melody_accent melody_accent;
extern const double pad_velocity_level[2];
extern const int layer_velocity_drop;           /* the layer under the pad */

/* The channel volume (CC 7, 0..127) that goes with General MIDI program p. */
int compose_program_volume(int program);

/* The reverb send (CC 91, 0..127) that goes with General MIDI program p. */
int compose_program_reverb(int program);

#endif
