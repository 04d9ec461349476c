/*
 * compose.h - the generative composer: a pure, clock-free music engine.
 *
 * A composer turns parameters (key, mode, tempo, intensity, sounds) and a
 * seed into an endless stream of note events in time order
 * (docs/composer.md).  Music time is counted in whole microseconds, so step
 * times are exact and the same on every machine; the seeded generator of
 * rng.h is the only source of chance.  Nothing here reads a clock or does
 * I/O: aur-compose paces the stream, and tests drive it as fast as they
 * like.
 *
 * The music advances in steps, one per eighth note.  composer_next_us()
 * tells when the next step falls; composer_step() runs it and returns the
 * events it makes, all at that time.  A control (composer_set_*) changes
 * what the following step makes, so it is heard on the very next event.
 * Over minutes the music moves through sections that swell and thin its
 * density, register and layer; a piece with an end closes on the tonic
 * and fades.  At most COMPOSE_NOTES_MAX notes sound at once.
 */
#ifndef AUR_COMPOSE_H
#define AUR_COMPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "note.h"

#define COMPOSE_BPM_MIN 40
#define COMPOSE_BPM_MAX 120
#define COMPOSE_STEP_EVENTS 64          /* the most events one step makes */
#define COMPOSE_NOTES_MAX 32            /* the most notes sounding at once, every channel */
#define COMPOSE_US 1000000              /* microseconds in a second */

/* Channels of the stream. */
enum {
	COMPOSE_CH_PIANO = 0,           /* the melody */
	COMPOSE_CH_PAD = 1,             /* the chords */
	COMPOSE_CH_LAYER = 2,           /* a second pad, in the livelier sections */
};

enum compose_mode {
	MODE_IONIAN,
	MODE_DORIAN,
	MODE_PHRYGIAN,
	MODE_LYDIAN,
	MODE_MIXOLYDIAN,
	MODE_AEOLIAN,
	MODE_COUNT
};

/* General MIDI programs (0-based, bank 0) of the three channels. */
struct compose_sounds {
	int piano, pad, layer;
};

struct compose_params {
	int key;                        /* pitch class of the tonic, 0 = C .. 11 = B */
	enum compose_mode mode;
	double bpm;                     /* COMPOSE_BPM_MIN..COMPOSE_BPM_MAX */
	double intensity;               /* 0..1: density, loudness, register, layers */
	struct compose_sounds sounds;
};

struct compose_preset {
	const char *name;               /* "focus", "meditation", "sleep", "bright" */
	struct compose_params params;
};

/* The presets; the first one is the default. */
extern const struct compose_preset compose_presets[];
extern const int compose_preset_count;

/* The preset called name (any case), or NULL. */
const struct compose_preset *compose_preset_find(const char *name);

/*
 * The presets' names as a sentence for messages, "focus, meditation, sleep
 * or bright", in buf of size bytes (cut short, but terminated, when it does
 * not fit).  Returns buf.
 */
#define COMPOSE_PRESET_NAMES_MAX 128
char *compose_preset_names(char *buf, size_t size);

/*
 * Parses a key name: a letter A..G (any case) and an optional '#' or 'b'
 * ("C#", "Db", "e", "Cb" = B).  Returns the pitch class 0..11, or -1.
 */
int compose_key_parse(const char *name);

/* The usual name of pitch class pc: "C", "C#", "D", "Eb", ..., "Bb", "B". */
const char *compose_key_name(int pc);

/*
 * Parses a mode name (any case): ionian, dorian, phrygian, lydian,
 * mixolydian, aeolian, and "major" and "minor" for ionian and aeolian.
 * Returns the mode, or -1.
 */
int compose_mode_parse(const char *name);

/* "ionian", "dorian", ...; mode must be valid. */
const char *compose_mode_name(enum compose_mode mode);

/*
 * The pitch classes of the scale of key and mode, as a 12-bit mask (bit pc
 * set when pc is in the scale).
 */
unsigned compose_scale_mask(int key, enum compose_mode mode);

/* True when params are within their ranges. */
bool compose_params_valid(const struct compose_params *p);

struct composer;

/*
 * Makes a composer for params (copied; they must be valid) and seed.  With
 * end_us > 0 the music stops there: every note has ended by end_us and the
 * last event is `end` at end_us; with 0 it never ends.  Returns NULL when
 * out of memory.  Free with composer_free.
 */
struct composer *composer_new(const struct compose_params *params, uint64_t seed, int64_t end_us);

void composer_free(struct composer *c);

/* The parameters in force now. */
const struct compose_params *composer_params(const struct composer *c);

/* The music time of the next step, or -1 after `end` was made. */
int64_t composer_next_us(const struct composer *c);

/*
 * Runs the next step and stores its events, all at composer_next_us(),
 * in time order in out.  Returns how many (0 is common: a rest).  Returns
 * 0 and does nothing after `end`.
 */
int composer_step(struct composer *c, struct note_event out[COMPOSE_STEP_EVENTS]);

/*
 * Controls.  `at_us` is the music time of the last event already written:
 * not before the last step, not after the next.  A change of key or mode
 * starts the harmony again from its tonic at at_us: the pad moves there
 * voice-led (tones in common held, the others released and struck at
 * that time), and every melody note still sounding outside the new scale
 * gets an `off` at at_us; the melody goes on in the new scale.  A change
 * of tempo rescales only the time still to come before the next step; a
 * change of tempo or intensity moves the pad to the next chord at once.
 * Sounds act from the next step.  Setting what is already in force
 * changes nothing.  Values must be valid.
 */
void composer_set_harmony(struct composer *c, int key, enum compose_mode mode, int64_t at_us);
void composer_set_bpm(struct composer *c, double bpm, int64_t at_us);
void composer_set_intensity(struct composer *c, double intensity, int64_t at_us);
void composer_set_sounds(struct composer *c, const struct compose_sounds *sounds);

/*
 * Ends the music at at_us (as composer_set_harmony): the next step
 * releases every sounding pad note and makes `end`.
 */
void composer_stop(struct composer *c, int64_t at_us);

#endif
