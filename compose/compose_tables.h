/*
 * compose_tables.h - the composer's musical data (compose_tables.c): the
 * modes, the order-2 chord chains, the chord colours, the melody's
 * proportions, the form's sections, the time scales and the velocities.
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

/* Rhythmic values of melody notes, in eighths, and their weights at intensity 0 and 1. */
#define MELODY_LENGTHS 6
extern const int melody_length[MELODY_LENGTHS];
extern const double melody_length_weight[2][MELODY_LENGTHS];

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
extern const double pad_velocity_level[2];
extern const int layer_velocity_drop;           /* the layer under the pad */

/* The channel volume (CC 7, 0..127) that goes with General MIDI program p. */
int compose_program_volume(int program);

/* The reverb send (CC 91, 0..127) that goes with General MIDI program p. */
int compose_program_reverb(int program);

#endif
