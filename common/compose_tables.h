/*
 * compose_tables.h - the composer's musical data (compose_tables.c): the
 * modes, the order-2 chord chains, the chord colours and the melody's
 * proportions.  Only the engine (compose.c) and its tests read these.
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

#endif
