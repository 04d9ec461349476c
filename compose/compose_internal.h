/*
 * compose_internal.h - the composer's state and the calls between its
 * parts: compose.c (names, the grid, the form, the public calls),
 * compose_harmony.c (chords, progressions, the pad and the layer) and
 * compose_melody.c (the piano).  Nothing outside these files includes it,
 * except the unit test that reads the tables.
 */
#ifndef AUR_COMPOSE_INTERNAL_H
#define AUR_COMPOSE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "compose.h"
#include "compose_tables.h"
#include "rng.h"

#define SLOTS_PER_BAR 8                 /* eighths in a 4/4 bar */
#define PROGRESSION_MAX 16              /* chords in one progression */
#define VOICES_MAX 4
#define LAYER_VOICES 2
#define RINGING_MAX COMPOSE_NOTES_MAX   /* melody notes the composer remembers */
#define FOREVER_SLOTS (1 << 30)         /* a chord that lasts to the end */
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

/* A melody note written and perhaps still sounding. */
struct ringing {
	int key;
	int64_t end_us;                 /* its scheduled end */
	bool released;                  /* cut short by an `off`: its key waits for end_us */
};

struct composer {
	struct compose_params p;
	unsigned scale;                 /* pitch-class mask of key and mode */
	struct rng harmony_rng, melody_rng, form_rng;

	/* the grid */
	int64_t anchor_us;              /* time of step 0 after the last change */
	int64_t slot_n;                 /* steps since the anchor */
	double slot_us;                 /* an eighth note at p.bpm */
	int64_t next_us;                /* the next step, -1 after `end` */
	int64_t last_us;                /* the step run last */
	int64_t end_us, melody_end_us;  /* 0: endless */
	bool restart;                   /* start the harmony afresh from the tonic */
	bool refresh;                   /* move on to the next chord at once (tempo, intensity) */
	bool sounds_due;                /* program changes at the next step */
	bool started;                   /* the first step has run */
	bool closing;                   /* the next step is the last */

	/* the form: sections of minutes, each with an energy -1..1 */
	int64_t section_start_us, section_end_us;
	double section_from, section_to;        /* energy at the start and after the ramp */
	int section_level;                      /* SECTION_LOW.. of the section now */
	int sections_since_high;
	double energy;                          /* at the step now */
	double x;                               /* effective intensity now: p.intensity moved by the form */

	/* harmony */
	struct chord prog[PROGRESSION_MAX];
	int prog_len, prog_i, plays_left;
	int voicing_bias;               /* semitones the pad's centre leans, varied on a repeat */
	int chord_slots_left;           /* steps until the next chord */
	int bar_slot;                   /* 0..7 within the bar */
	int before, last;               /* the chain's memory: the two chords played last */
	int chord_root;                 /* pitch class */
	unsigned chord_pcs;             /* pitch-class mask of the sounding chord */
	struct voicing pad, layer;      /* keys sounding on the pad and layer channels */
	bool final;                     /* the closing tonic sounds */
	int64_t fade_from_us;           /* the fade of the ending starts here (0: none) */
	int expression;                 /* CC 11 last sent to pad and layer */

	/* melody */
	int prev_pitch;                 /* -1 before the first note */
	int prev_step;                  /* signed interval into prev_pitch */
	int hold;                       /* steps the last note still fills */
	int rest;                       /* steps of rest before the next phrase */
	int phrase_len, phrase_i;       /* notes in the phrase, notes played */
	int resolve_dir;                /* +1/-1: the next note resolves a chromatic tone */
	bool melody_closing;            /* the last phrase: it ends on the tonic chord */
	bool melody_done;               /* the last phrase has ended */
	struct ringing ringing[RINGING_MAX];
	int nringing;
};

/* compose.c */
double compose_mix(const double *at0, const double *at1, int i, double intensity);
int64_t compose_round_us(double us);
void compose_emit(struct note_event *out, int *n, int64_t t_us, enum note_type type, int channel,
    int a, int b);
bool compose_in_mask(unsigned mask, int key);
double compose_clamp(double x, double lo, double hi);
double compose_bar_us(const struct composer *c);

/* compose_harmony.c */
void harmony_step(struct composer *c, int64_t t, struct note_event *out, int *n);
void harmony_release(struct composer *c, int64_t t, struct note_event *out, int *n);
void harmony_fade_step(struct composer *c, int64_t t, struct note_event *out, int *n);

/* compose_melody.c */
void melody_start(struct composer *c);
void melody_step(struct composer *c, int64_t t, struct note_event *out, int *n);
void melody_release_clashes(struct composer *c, int64_t t, struct note_event *out, int *n);
int melody_sounding(struct composer *c, int64_t t);

#endif
