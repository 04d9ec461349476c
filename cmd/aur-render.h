/*
 * aur-render.h - what the renderer's two halves share: aur-render.c renders
 * one stream, aur-render-serve.c keeps a prepared renderer warm and forks
 * it for each stream handed to it (common/handoff.h).
 */
#ifndef AUR_RENDER_H
#define AUR_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fluidsynth.h>

#include "io.h"
#include "mix.h"
#include "schedule.h"
#include "shm.h"
#include "stream.h"

#define BLOCK_FRAMES STREAM_RENDER_BLOCK_FRAMES /* the most rendered in one call */
_Static_assert(BLOCK_FRAMES <= MIX_BLOCK_MAX, "a block is mixed in one call");
#define OUT_BUF_FRAMES 16384            /* raw output buffered before a write */
#define FONTS_MAX 8                     /* --soundfont given at most this often */

/* A --soundfont: a file, and the channels that take their programs from it. */
struct font_choice {
	const char *path;
	unsigned channels;      /* bit per channel; 0: every channel not bound elsewhere */
};

struct options {
	const char *output;
	const char *soundfont;  /* the last --soundfont without channels, or NULL */
	struct font_choice fonts[FONTS_MAX];
	int nfonts;
	long rate;              /* 0 until given: then the default of the output */
	bool rate_given;
	long bitrate;           /* kbit/s, for .opus */
	long polyphony;
	double gain;
	long piano, pad;
	bool reverb;
	bool compressor;
	double tail;
	bool quiet;
	const char *serve;      /* --serve SOCKET: the warm renderer */
	long playing_nice;      /* 0..19 */
};

struct renderer {
	const struct options *opt;
	fluid_synth_t *synth;
	fluid_settings_t *settings;
	struct mix *mix;
	int font_of[16];        /* the SoundFont id each channel takes its programs from */
	unsigned program_set;   /* a bit for each channel that has a program */
	unsigned channels_used; /* a bit for each channel that has played a note */
	int64_t frame;          /* frames rendered so far */
	int playing_nice;       /* steps to lower the priority by once playing; 0 once done */
	int sounding[16][128];  /* how many notes hold each key */
	int held_by_on[16][128];        /* of those, how many `on` events */

	struct note_queue offs; /* note-offs scheduled by `note` events */

	float dry[2 * MIX_CHANNELS][BLOCK_FRAMES];   /* FluidSynth's output, a pair a channel */
	float left[BLOCK_FRAMES], right[BLOCK_FRAMES];
	int16_t out[OUT_BUF_FRAMES * 2];
	size_t out_frames;      /* buffered for stdout */
	struct audiofile *file; /* with -o */
	struct shm_slot *slot;  /* counters; NULL without shared memory */

	int peak;               /* largest |sample| written */
	int voices_max;         /* most voices sounding at once */
	uint64_t clipped;       /* samples that hit the int16 limits */
	struct out_end out_end; /* standard output failed or its reader left */
	bool failed;
};

/*
 * Makes r's synthesizer and mix at r->opt->rate, loads the SoundFonts
 * (every sample of them when whole_font, else each program's when it is
 * first chosen) and chooses the default programs.  Returns 0, or an exit
 * status with the reason reported; what was made is freed by
 * renderer_free in either case.
 */
int renderer_prepare(struct renderer *r, const char *soundfont, bool whole_font);

/* Frees the synthesizer and the mix of r. */
void renderer_free(struct renderer *r);

/*
 * Renders the nfiles files (standard input when nfiles is 0) in sequence,
 * then the tail, to r's output, counting into the shared memory of
 * $AURALIS_SHM under $AURALIS_SESSION.  Returns the exit status.
 */
int render_inputs(struct renderer *r, int nfiles, char **files);

/*
 * The warm renderer: prepares a renderer for each rate a live stream
 * uses, listens on the Unix socket at path and renders each stream handed
 * to it in a child of its own.  Returns the exit status when stopped.
 */
int render_serve(const char *path, struct options *opt, const char *soundfont);

#endif
