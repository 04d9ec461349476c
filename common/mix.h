/*
 * mix.h - the renderer's mix (docs/sound.md): what happens to the dry
 * sound of each MIDI channel between FluidSynth and the output.
 *
 * FluidSynth renders every channel dry into a stereo pair of its own.  The
 * mix gives each channel a level, an optional high-pass (to keep a pad's
 * low mud out) and a send to the reverb; the sends are summed, high-passed
 * (the lows stay out of the reverb) and fed to a feedback-delay-network
 * reverb whose decay time is set in seconds.  Dry channels and reverb
 * return are summed, pass a slow compressor that keeps loud sections from
 * running far above quiet ones, and go through a DC blocker, always on.
 *
 * Everything is deterministic, allocation happens only in mix_new, and
 * mix_process neither blocks nor allocates: it is called from the render
 * loop.
 */
#ifndef AUR_MIX_H
#define AUR_MIX_H

#include <stdbool.h>
#include <stddef.h>

#define MIX_CHANNELS 16                 /* MIDI channels, each a dry stereo pair */
#define MIX_BLOCK_MAX 1024              /* most frames per mix_process call */

struct mix_channel {
	double gain;                    /* linear level of the dry sound */
	double highpass_hz;             /* 12 dB/octave high-pass; 0 for none */
	double send;                    /* into the reverb, after gain (post-fader) */
};

struct mix_settings {
	double rate;                    /* Hz */
	struct mix_channel channel[MIX_CHANNELS];
	bool reverb;                    /* false: dry only */
	double reverb_seconds;          /* RT60 of the lows and mids */
	double reverb_damp_hz;          /* above this the tail dies faster */
	double reverb_predelay_s;
	double send_highpass_hz;        /* the lows kept out of the reverb */
	double wet;                     /* linear level of the reverb return */
	double dc_hz;                   /* corner of the DC blocker */
	/* A slow compressor on the sum: it evens out loud sections, not notes. */
	double comp_threshold_db;       /* RMS level, dBFS, where it starts */
	double comp_ratio;              /* 1..20; 1 is off */
	double comp_knee_db;            /* width of the soft knee */
	double comp_attack_s, comp_release_s;
};

/* The Auralis mix at rate Hz: piano on 0, pad on 1, layer on 2. */
void mix_defaults(struct mix_settings *s, double rate);

struct mix;

/*
 * Makes a mix for settings s (copied).  Returns NULL when out of memory or
 * when a setting is out of range (rate 8000..192000, frequencies below
 * rate / 2, reverb_seconds 0.1..30).  Free with mix_free.
 */
struct mix *mix_new(const struct mix_settings *s);

void mix_free(struct mix *m);

/*
 * Scales channel ch's reverb send by a MIDI reverb-send controller value
 * (CC 91, 0..127): 100, the value every channel starts with, keeps the
 * send of the settings; 0 sends nothing.
 */
void mix_set_send_cc(struct mix *m, int ch, int value);

/*
 * Mixes n <= MIX_BLOCK_MAX frames.  dry holds 2 * MIX_CHANNELS planar
 * buffers (left and right of channel 0, then of channel 1, ...), each of n
 * frames; they are used as scratch and changed.  Only the channels whose
 * bit is set in `channels` are read: the others must have been silent
 * since the mix was made (a channel that never played a note), so that
 * skipping them changes nothing.  The result is written to left[0..n-1]
 * and right[0..n-1].
 */
void mix_process(struct mix *m, float *const dry[2 * MIX_CHANNELS], unsigned channels, size_t n,
    float *left, float *right);

#endif
