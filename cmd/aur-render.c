/*
 * aur-render - render note events to 16-bit stereo PCM with FluidSynth.
 *
 * Time is music time (docs/note-format.md): an event at t seconds is
 * handed to the synthesizer when exactly round(t * rate) frames have been
 * rendered, so the output depends only on the events and never on when
 * they arrived.  FluidSynth itself starts voices on its 64-frame block
 * grid, which is deterministic too: the audible onset is at most 63
 * frames (1.4 ms at 44.1 kHz) after the event's frame.
 *
 * The loop reads one event, renders up to its frame, applies it, and goes
 * on.  `note` events schedule their release in a small heap of pending
 * note-offs, which are applied in time order between input events.  Output
 * goes out whenever the reader would block, so a live pipe hears each
 * event as soon as it is read; nothing is held back to fill a block.
 *
 * FluidSynth renders each MIDI channel dry into a stereo pair of its own;
 * common/mix.c gives each its level, filter and reverb send, and runs the
 * reverb, the compressor and the DC blocker (docs/sound.md).  A channel may take its
 * programs from a SoundFont of its own (--soundfont CH,...:FILE).
 *
 * At `end` (or the end of the input) every sounding note is released and
 * the tail is rendered until the signal has stayed below -70 dBFS for
 * half a second, or --tail seconds have passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fluidsynth.h>

#include "aur-render.h"
#include "audiofile.h"
#include "clock.h"
#include "config.h"
#include "err.h"
#include "io.h"
#include "mix.h"
#include "note.h"
#include "opt.h"
#include "schedule.h"
#include "shm.h"
#include "stop.h"
#include "soundfont.h"

#define QUIET_LEVEL 10                  /* |sample| <= this is below -70 dBFS */
#define QUIET_SECONDS 0.5
#define SOFT_KNEE 0.708f                /* -3 dBFS */

static const char usage_text[] =
	"usage: aur-render [options] [FILE...]\n"
	"\n"
	"Render note events (docs/note-format.md) from the FILEs in sequence, or\n"
	"from standard input, to 16-bit stereo PCM: raw s16le on standard output,\n"
	"or a WAV, FLAC, Ogg Vorbis or Ogg Opus file with -o (the format follows\n"
	"the extension).\n"
	"\n"
	"options:\n"
	"  -o, --output FILE     write FILE (.wav, .flac, .ogg, .opus) instead of raw PCM\n"
	"  -r, --rate HZ         sample rate, 8000..192000 (default 44100; for .opus\n"
	"                        48000, and only 8000, 12000, 16000, 24000 or 48000)\n"
	"  -b, --bitrate KBPS    bitrate of an .opus file, 16..512 (default 128)\n"
	"  -s, --soundfont [CH,...:]FILE\n"
	"                        SoundFont (.sf2, .sf3) to use (see below); with\n"
	"                        channels, those channels take their programs\n"
	"                        from FILE (repeatable, e.g. 0:piano.sf2)\n"
	"  -p, --polyphony N     voices at once, 1..1024 (default 256)\n"
	"  -g, --gain G          synthesizer gain, 0..10 (default 4.8)\n"
	"      --piano PROGRAM   General MIDI program of channel 0 (default 0, piano)\n"
	"      --pad PROGRAM     General MIDI program of channel 1 (default 94, halo pad)\n"
	"      --no-reverb       the dry sound only, no reverb\n"
	"      --no-compressor   leave the loudness of sections as it is\n"
	"  -t, --tail SECONDS    longest tail after the end, 0..600 (default 10)\n"
	"  -q, --quiet           no progress on standard error\n"
	"      --serve SOCKET    be the warm renderer: load the SoundFont once, then\n"
	"                        render each stream that aur-handoff hands over on\n"
	"                        the Unix socket SOCKET, at 44100 and 48000 Hz (or\n"
	"                        at --rate only), until SIGTERM or SIGINT\n"
	"      --playing-nice N  once a second of music is rendered, lower this\n"
	"                        process's priority by N nice steps, 0..19 (default 0):\n"
	"                        a live stream that plays yields to those that start\n"
	"                        (with --serve, each stream's aur-handoff says)\n"
	"  -h, --help            show this help\n"
	"  -V, --version         show the version\n"
	"\n"
	"SoundFont for every channel not given one: the last --soundfont without\n"
	"channels, else $AURALIS_SOUNDFONT, else the first\n"
	"soundfonts/*.sf2 of the source tree, else /usr/share/sounds/sf2/FluidR3_GM.sf2,\n"
	"else /usr/share/sounds/sf2/default-GM.sf2 ($AURALIS_SOUNDFONT_SEARCH, a\n"
	"colon-separated list of files and globs, replaces those last three).\n"
	"\n"
	"exit status: 0 done (also when the reader of the output went away),\n"
	"1 runtime failure, 2 usage, 3 bad note data (every bad line is reported),\n"
	"4 cannot open an input, 5 no usable SoundFont, 130/143 interrupted (the\n"
	"file is finished).  With any other failure no file is written: a FILE\n"
	"that exists stays as it was.\n";

/* FluidSynth's own messages, in our format; its chatter is dropped. */
static void
on_fluid_log(int level, const char *message, void *data)
{
	(void)data;
	if (level <= FLUID_WARN)
		warnf("fluidsynth: %s", message);
}

/* --- output --- */

static void
flush_output(struct renderer *r)
{
	if (r->out_frames == 0 || r->file)
		return;
	if (!r->out_end.ended && write_full_or_stop(STDOUT_FILENO, r->out,
	    r->out_frames * 2 * sizeof r->out[0], &stop_signal) < 0)
		out_end_note(&r->out_end, errno, stop_signal);
	r->out_frames = 0;
}

/*
 * Converts one sample.  Above SOFT_KNEE (-3 dBFS) a smooth curve bends the
 * rare loud peak so that it never reaches full scale: no hard clipping.
 */
static inline int16_t
to_s16(struct renderer *r, float x)
{
	float a = fabsf(x);
	long v;

	if (a > SOFT_KNEE) {
		a = SOFT_KNEE + (1.0f - SOFT_KNEE) * tanhf((a - SOFT_KNEE) / (1.0f - SOFT_KNEE));
		x = copysignf(a, x);
	}
	v = lrintf(x * 32768.0f);

	if (v > 32767 || v < -32768) {
		r->clipped++;
		v = v > 0 ? 32767 : -32768;
	}
	if (labs(v) > r->peak)
		r->peak = (int)labs(v);
	return (int16_t)v;
}

/* Converts the first n rendered frames to int16 and sends them on. */
static void
emit_frames(struct renderer *r, size_t n)
{
	int16_t block[BLOCK_FRAMES * 2];

	for (size_t i = 0; i < n; i++) {
		block[2 * i] = to_s16(r, r->left[i]);
		block[2 * i + 1] = to_s16(r, r->right[i]);
	}
	if (r->file) {
		if (audiofile_write(r->file, block, n) < 0)
			r->failed = true;
	} else {
		memcpy(r->out + r->out_frames * 2, block, n * 2 * sizeof block[0]);
		r->out_frames += n;
		if (r->out_frames + BLOCK_FRAMES > OUT_BUF_FRAMES)
			flush_output(r);
	}
}

/* Renders n <= BLOCK_FRAMES frames into left/right, timing the call. */
static void
synth_block(struct renderer *r, size_t n)
{
	int64_t started = clock_now_ns();
	float *dry[2 * MIX_CHANNELS];
	/*
	 * Buffers up to the highest channel that has played: FluidSynth wraps
	 * the channels beyond them around onto them (channel c into pair c mod
	 * nout / 2), and those have never sounded, so they add nothing but
	 * zeros.  The composer plays three channels: 6 buffers to clear and
	 * write rather than 32.
	 */
	int nout = 2;

	while (nout < 2 * MIX_CHANNELS && r->channels_used >> (nout / 2))
		nout += 2;
	/* fluid_synth_process adds to what the buffers hold. */
	for (int i = 0; i < 2 * MIX_CHANNELS; i++)
		dry[i] = r->dry[i];
	for (int i = 0; i < nout; i++)
		memset(dry[i], 0, n * sizeof dry[i][0]);
	if (fluid_synth_process(r->synth, (int)n, 0, NULL, nout, dry) != FLUID_OK) {
		warnf("fluidsynth failed to render");
		memset(r->dry, 0, sizeof r->dry);
		r->failed = true;
	}
	mix_process(r->mix, dry, r->channels_used, n, r->left, r->right);
	shm_observe_us(r->slot, SHM_HIST_RENDER, (clock_now_ns() - started) / 1000);
	if (fluid_synth_get_active_voice_count(r->synth) > r->voices_max)
		r->voices_max = fluid_synth_get_active_voice_count(r->synth);
}

static bool
stopping(const struct renderer *r)
{
	return stop_signal || r->out_end.ended || r->failed;
}

/* Renders up to (not including) frame `to`. */
static void
render_to(struct renderer *r, int64_t to)
{
	while (r->frame < to && !stopping(r)) {
		size_t n = (size_t)(to - r->frame < BLOCK_FRAMES ? to - r->frame : BLOCK_FRAMES);

		synth_block(r, n);
		emit_frames(r, n);
		r->frame += (int64_t)n;
		stream_playing_check(&r->playing_nice, r->frame * 1000 / r->opt->rate);
	}
}

static void
key_release(struct renderer *r, int channel, int key)
{
	if (r->sounding[channel][key] > 0 && --r->sounding[channel][key] > 0)
		return;
	fluid_synth_noteoff(r->synth, channel, key);
}

/*
 * Selects a program from the channel's own SoundFont (never another one
 * of the stack: a program missing from it is an error, not a surprise).
 * Channel 9 is the General MIDI percussion channel: its bank 0 means the
 * drum kits' bank 128, as FluidSynth itself would take it.
 */
static int
set_program(struct renderer *r, int channel, int bank, int program)
{
	if (channel == 9 && bank == 0)
		bank = 128;
	if (fluid_synth_program_select(r->synth, channel, r->font_of[channel], bank, program) != FLUID_OK)
		return -1;
	r->program_set |= 1u << channel;
	return 0;
}

/*
 * Starts a key.  A channel that was never given a program plays General
 * MIDI's default, program 0; it is chosen only now, so that channels
 * nobody plays load no samples.
 */
static void
key_strike(struct renderer *r, int channel, int key, int velocity)
{
	if (!(r->program_set >> channel & 1))
		(void)set_program(r, channel, 0, 0);
	r->sounding[channel][key]++;
	r->channels_used |= 1u << channel;
	fluid_synth_noteon(r->synth, channel, key, velocity);
}

/*
 * An `off` event: it ends one holding of the key, an `on` if one holds it,
 * else the `note` that would end first, whose scheduled release is
 * cancelled so that it cannot cut a later note of the same key short.
 */
static void
key_off_event(struct renderer *r, int channel, int key)
{
	if (r->held_by_on[channel][key] > 0)
		r->held_by_on[channel][key]--;
	else if (note_queue_cancel(&r->offs, channel, key) < 0)
		return;                 /* nothing holds it */
	key_release(r, channel, key);
}

/* Renders up to frame `to`, applying every pending note-off due by then. */
static void
advance_to(struct renderer *r, int64_t to)
{
	while (r->offs.len > 0 && note_queue_peek(&r->offs)->frame <= to && !stopping(r)) {
		struct note_off off = note_queue_pop(&r->offs);

		render_to(r, off.frame);
		key_release(r, off.channel, off.key);
	}
	render_to(r, to);
}

/* Releases every sounding note now. */
static void
release_all(struct renderer *r)
{
	r->offs.len = 0;
	for (int ch = 0; ch < 16; ch++) {
		for (int key = 0; key < 128; key++) {
			r->held_by_on[ch][key] = 0;
			if (r->sounding[ch][key] > 0) {
				r->sounding[ch][key] = 0;
				fluid_synth_noteoff(r->synth, ch, key);
			}
		}
	}
}

/*
 * Renders the release and reverb tail: until the output has stayed below
 * -70 dBFS for QUIET_SECONDS, or the --tail limit.
 */
static void
render_tail(struct renderer *r)
{
	int64_t quiet_needed = (int64_t)llround(QUIET_SECONDS * (double)r->opt->rate);
	int64_t limit = r->frame + (int64_t)llround(r->opt->tail * (double)r->opt->rate);
	int64_t quiet = 0;

	while (r->frame < limit && quiet < quiet_needed && !stopping(r)) {
		int64_t left = limit - r->frame;
		size_t n = (size_t)(left < BLOCK_FRAMES ? left : BLOCK_FRAMES);
		size_t keep = n;

		synth_block(r, n);
		/* Cut the block where the quiet stretch is complete. */
		for (size_t i = 0; i < n; i++) {
			if (fabsf(r->left[i]) * 32768.0f > QUIET_LEVEL + 0.5f ||
			    fabsf(r->right[i]) * 32768.0f > QUIET_LEVEL + 0.5f) {
				quiet = 0;
			} else if (++quiet >= quiet_needed) {
				keep = i + 1;
				break;
			}
		}
		emit_frames(r, keep);
		r->frame += (int64_t)keep;
	}
}

/* --- events --- */

static int64_t
frame_at(const struct renderer *r, double t)
{
	return schedule_frame(t, r->opt->rate);
}

/*
 * Applies one event at time t (already offset).  Returns 0, or -1 with a
 * message in err for an event the synthesizer cannot play.
 */
static int
apply_event(struct renderer *r, const struct note_event *ev, double t, char *err, size_t errlen)
{
	advance_to(r, frame_at(r, t));
	if (stopping(r))
		return 0;
	switch (ev->type) {
	case NOTE_PROGRAM:
		if (set_program(r, ev->channel, ev->b, ev->a) < 0) {
			snprintf(err, errlen, "the SoundFont has no program %d in bank %d", ev->a, ev->b);
			return -1;
		}
		break;
	case NOTE_NOTE:
		if (ev->b == 0)         /* a silent note: nothing sounds, nothing ends */
			break;
		if (note_queue_push(&r->offs, frame_at(r, t + ev->duration), ev->channel, ev->a) < 0) {
			snprintf(err, errlen, "more than %d notes sounding at once", NOTE_QUEUE_MAX);
			return -1;
		}
		key_strike(r, ev->channel, ev->a, ev->b);
		break;
	case NOTE_ON:
		if (ev->b == 0) {       /* MIDI's velocity 0: a note-off */
			key_off_event(r, ev->channel, ev->a);
			break;
		}
		r->held_by_on[ev->channel][ev->a]++;
		key_strike(r, ev->channel, ev->a, ev->b);
		break;
	case NOTE_OFF:
		key_off_event(r, ev->channel, ev->a);
		break;
	case NOTE_CC:
		if (ev->a == 91)        /* the reverb is ours: the send follows CC 91 */
			mix_set_send_cc(r->mix, ev->channel, ev->b);
		fluid_synth_cc(r->synth, ev->channel, ev->a, ev->b);
		break;
	case NOTE_TICK:
		break;
	case NOTE_END:
		release_all(r);
		break;
	}
	return 0;
}

/* --- progress --- */

struct progress {
	bool on;
	off_t total;            /* bytes of the inputs, when known */
	int64_t started_ns, last_ns;
};

static void
progress_show(struct progress *p, const struct renderer *r, unsigned long long done, bool final)
{
	int64_t now = clock_now_ns();
	double music, wall;
	char line[128];
	int n;

	if (!p->on || (!final && now - p->last_ns < 250000000))
		return;
	p->last_ns = now;
	music = (double)r->frame / (double)r->opt->rate;
	wall = (double)(now - p->started_ns) / 1e9;
	if (p->total > 0 && !final)
		n = snprintf(line, sizeof line, "\r%s: %3.0f %%  %.1f s of music  %.1fx real time ",
		    err_prog(), 100.0 * (double)done / (double)p->total, music, wall > 0 ? music / wall : 0);
	else
		n = snprintf(line, sizeof line, "\r%s: %.1f s of music  %.1fx real time%s",
		    err_prog(), music, wall > 0 ? music / wall : 0, final ? "      \n" : " ");
	if (n > 0)
		(void)!write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* --- setup --- */

static fluid_synth_t *
synth_new(const struct options *opt, bool whole_font, fluid_settings_t **settings_out)
{
	fluid_settings_t *s = new_fluid_settings();
	fluid_synth_t *synth;

	if (!s)
		return NULL;
	fluid_settings_setnum(s, "synth.sample-rate", (double)opt->rate);
	fluid_settings_setint(s, "synth.polyphony", (int)opt->polyphony);
	fluid_settings_setnum(s, "synth.gain", opt->gain);
	fluid_settings_setint(s, "synth.threadsafe-api", 0);
	fluid_settings_setint(s, "synth.cpu-cores", 1);
	/* Every channel dry into a pair of its own: the mix does the rest. */
	fluid_settings_setint(s, "synth.audio-channels", MIX_CHANNELS);
	fluid_settings_setint(s, "synth.audio-groups", MIX_CHANNELS);
	fluid_settings_setint(s, "synth.chorus.active", 0);
	fluid_settings_setint(s, "synth.reverb.active", 0);
	/*
	 * One stream loads only the samples of the programs it chooses.  The
	 * warm renderer loads them all, once, for every child to share.
	 */
	fluid_settings_setint(s, "synth.dynamic-sample-loading", !whole_font);
	fluid_settings_setint(s, "synth.lock-memory", 0);
	synth = new_fluid_synth(s);
	if (!synth) {
		delete_fluid_settings(s);
		return NULL;
	}
	*settings_out = s;
	return synth;
}

/*
 * Loads the SoundFonts: the default for every channel, then those bound
 * to channels.  No program is selected yet (set_program, key_strike).
 * Returns 0, or AUR_EXIT_NOSOUNDFONT with the reason reported.
 */
static int
fonts_load(struct renderer *r, const char *default_font)
{
	const struct options *opt = r->opt;
	int id = fluid_synth_sfload(r->synth, default_font, 0);

	if (id == FLUID_FAILED) {
		warnf("%s: not a usable SoundFont", default_font);
		return AUR_EXIT_NOSOUNDFONT;
	}
	for (int ch = 0; ch < 16; ch++)
		r->font_of[ch] = id;
	for (int i = 0; i < opt->nfonts; i++) {
		const struct font_choice *f = &opt->fonts[i];
		int bound;

		if (!f->channels)
			continue;
		bound = fluid_synth_sfload(r->synth, f->path, 0);
		if (bound == FLUID_FAILED) {
			warnf("%s: not a usable SoundFont", f->path);
			return AUR_EXIT_NOSOUNDFONT;
		}
		for (int ch = 0; ch < 16; ch++)
			if (f->channels >> ch & 1)
				r->font_of[ch] = bound;
	}
	return 0;
}

/*
 * Parses a --soundfont argument, "FILE" or "CH[,CH...]:FILE" with channels
 * 0..15.  Returns 0, or -1 with the reason reported.
 */
static int
font_choice_parse(const char *arg, struct font_choice *f)
{
	const char *p = arg, *colon = strchr(arg, ':');

	f->path = arg;
	f->channels = 0;
	if (!colon || strspn(arg, "0123456789,") != (size_t)(colon - arg))
		return 0;               /* a plain file name */
	while (p < colon) {
		char *end;
		long ch = strtol(p, &end, 10);

		if (end == p || ch < 0 || ch > 15 || (*end != ',' && end != colon)) {
			warnf("--soundfont: expected channels 0..15 before ':', as in 0,2:piano.sf2, not '%s'", arg);
			return -1;
		}
		f->channels |= 1u << ch;
		p = *end == ',' ? end + 1 : end;
	}
	if (!colon[1]) {
		warnf("--soundfont: no file after '%.*s'", (int)(colon - arg + 1), arg);
		return -1;
	}
	f->path = colon + 1;
	return 0;
}

void
renderer_free(struct renderer *r)
{
	if (r->synth)
		delete_fluid_synth(r->synth);
	if (r->settings)
		delete_fluid_settings(r->settings);
	mix_free(r->mix);
	r->synth = NULL;
	r->settings = NULL;
	r->mix = NULL;
}

int
renderer_prepare(struct renderer *r, const char *soundfont, bool whole_font)
{
	const struct options *opt = r->opt;
	struct mix_settings mix;
	int status;

	mix_defaults(&mix, (double)opt->rate);
	mix.reverb = opt->reverb;
	if (!opt->compressor)
		mix.comp_ratio = 1;
	r->mix = mix_new(&mix);
	if (!r->mix) {
		warnf("cannot make the mix at %ld Hz", opt->rate);
		return AUR_EXIT_FAILURE;
	}
	r->synth = synth_new(opt, whole_font, &r->settings);
	if (!r->synth) {
		warnf("cannot start the synthesizer");
		return AUR_EXIT_FAILURE;
	}
	status = fonts_load(r, soundfont);
	if (status)
		return status;
	/* The Auralis defaults: a piano over a pad. */
	if (set_program(r, 0, 0, (int)opt->piano) < 0 || set_program(r, 1, 0, (int)opt->pad) < 0)
		warnf("%s: lacks the default programs %ld and %ld", soundfont, opt->piano, opt->pad);
	return 0;
}

/*
 * Gives the output file its name when the render succeeded or was stopped
 * by a signal (what was rendered is kept, as a recording is), and removes
 * it otherwise.  Returns the exit status, which a failure to finish makes
 * AUR_EXIT_FAILURE.
 */
static int
close_output(struct renderer *r, int status)
{
	bool keep = !r->failed && (status == AUR_EXIT_OK || stop_signal);
	struct audiofile *file = r->file;

	r->file = NULL;
	if (keep && audiofile_finish(file) == 0)
		return status;
	if (!keep)
		audiofile_discard(file);
	warnf("%s: not written", r->opt->output);
	return keep ? AUR_EXIT_FAILURE : status;
}

static void
parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_PIANO = 256, OPT_PAD, OPT_NO_REVERB, OPT_NO_COMPRESSOR, OPT_SERVE, OPT_PLAYING_NICE };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "rate", required_argument, NULL, 'r' },
		{ "bitrate", required_argument, NULL, 'b' },
		{ "soundfont", required_argument, NULL, 's' },
		{ "polyphony", required_argument, NULL, 'p' },
		{ "gain", required_argument, NULL, 'g' },
		{ "piano", required_argument, NULL, OPT_PIANO },
		{ "pad", required_argument, NULL, OPT_PAD },
		{ "no-reverb", no_argument, NULL, OPT_NO_REVERB },
		{ "no-compressor", no_argument, NULL, OPT_NO_COMPRESSOR },
		{ "tail", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "serve", required_argument, NULL, OPT_SERVE },
		{ "playing-nice", required_argument, NULL, OPT_PLAYING_NICE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char err[160];
	int c;

	*opt = (struct options){
		.rate = 0, .bitrate = 0, .polyphony = 256, .gain = 4.8, .piano = 0, .pad = 94,
		.reverb = true, .compressor = true, .tail = 10,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:r:b:s:p:g:t:qhV", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'o': opt->output = optarg; break;
		case 's':
			if (opt->nfonts == FONTS_MAX) {
				warnf("--soundfont: at most %d", FONTS_MAX);
				bad = 1;
			} else if (font_choice_parse(optarg, &opt->fonts[opt->nfonts]) < 0) {
				bad = 1;
			} else if (!opt->fonts[opt->nfonts++].channels) {
				opt->soundfont = opt->fonts[opt->nfonts - 1].path;
			}
			break;
		case 'r': bad = opt_long("--rate", optarg, 8000, 192000, &opt->rate); break;
		case 'b': bad = opt_long("--bitrate", optarg, 16, 512, &opt->bitrate); break;
		case 'p': bad = opt_long("--polyphony", optarg, 1, 1024, &opt->polyphony); break;
		case 'g': bad = opt_double("--gain", optarg, 0, 10, &opt->gain); break;
		case 't': bad = opt_double("--tail", optarg, 0, 600, &opt->tail); break;
		case OPT_PIANO: bad = opt_long("--piano", optarg, 0, 127, &opt->piano); break;
		case OPT_PAD: bad = opt_long("--pad", optarg, 0, 127, &opt->pad); break;
		case OPT_NO_REVERB: opt->reverb = false; break;
		case OPT_NO_COMPRESSOR: opt->compressor = false; break;
		case 'q': opt->quiet = true; break;
		case OPT_SERVE: opt->serve = optarg; break;
		case OPT_PLAYING_NICE:
			bad = opt_long("--playing-nice", optarg, 0, 19, &opt->playing_nice);
			break;
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-render %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
		if (bad)
			usage_exit(usage_text);
	}
	if (opt->output && !strcmp(opt->output, "-"))
		opt->output = NULL;
	if (opt->serve && (opt->output || optind < argc)) {
		warnf("--serve: the streams come from aur-handoff; no --output, no FILE");
		usage_exit(usage_text);
	}
	if (opt->serve && opt->playing_nice) {
		warnf("--serve: each stream's request says its --playing-nice (aur-handoff)");
		usage_exit(usage_text);
	}
	opt->rate_given = opt->rate != 0;
	if (opt->output && !audiofile_format(opt->output)) {
		warnf("--output: expected a .wav, .flac, .ogg or .opus file name, not '%s'", opt->output);
		usage_exit(usage_text);
	}
	if (audiofile_settings(opt->output, &opt->rate, &opt->bitrate, err, sizeof err) < 0) {
		warnf("%s", err);
		usage_exit(usage_text);
	}
}

/*
 * Renders every event of one input; returns the input's length in music
 * time (its `end`, or its last event or note end), and counts bad lines.
 */
static double
render_input(struct renderer *r, struct note_reader *in, double offset, unsigned long *bad,
    struct progress *prog, unsigned long long done_before)
{
	struct note_event ev;
	double length = 0;
	char err[256];
	int rc;

	while (!stopping(r)) {
		if (!note_reader_ready(in))
			flush_output(r);        /* about to wait: send what we have */
		rc = note_reader_next(in, &ev);
		if (rc == 0)
			break;
		if (rc == -2) {
			if (errno == EINTR)
				continue;
			warnf("%s:", note_reader_name(in));
			r->failed = true;
			break;
		}
		if (rc < 0) {
			warn_at(note_reader_name(in), note_reader_line(in), "%s", note_reader_error(in));
			(*bad)++;
			continue;
		}
		if (apply_event(r, &ev, offset + ev.t, err, sizeof err) < 0) {
			warn_at(note_reader_name(in), note_reader_line(in), "%s", err);
			(*bad)++;
		}
		if (ev.t > length)
			length = ev.t;
		if (ev.type == NOTE_NOTE && ev.t + ev.duration > length)
			length = ev.t + ev.duration;
		if (ev.type == NOTE_END)
			length = ev.t;
		progress_show(prog, r, done_before + note_reader_offset(in), false);
	}
	return length;
}

int
render_inputs(struct renderer *r, int nfiles, char **files)
{
	const struct options *opt = r->opt;
	struct progress prog = { 0 };
	unsigned long bad = 0;
	unsigned long long done = 0;
	double offset = 0;
	int status, input_status = 0;

	r->slot = shm_attach(SHM_ROLE_RENDER, getenv("AURALIS_SESSION"));
	prog.on = opt->output && !opt->quiet && isatty(STDERR_FILENO);
	prog.started_ns = clock_now_ns();
	for (int i = 0; i < nfiles; i++) {
		struct stat st;

		if (strcmp(files[i], "-") != 0 && stat(files[i], &st) == 0)
			prog.total += st.st_size;
	}

	for (int i = 0; i < (nfiles ? nfiles : 1) && !stopping(r) && !input_status; i++) {
		const char *name = nfiles ? files[i] : "-";
		bool is_stdin = !strcmp(name, "-");
		int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC);
		struct note_reader *in;

		if (fd < 0) {
			warnf("%s:", name);
			input_status = AUR_EXIT_NOINPUT;
			break;
		}
		in = note_reader_new(fd, name);
		if (!in) {
			warnf("out of memory");
			r->failed = true;
			if (!is_stdin)
				close(fd);
			break;
		}
		offset += render_input(r, in, offset, &bad, &prog, done);
		done += note_reader_offset(in);
		note_reader_free(in);
		if (!is_stdin)
			close(fd);
		/* Notes still sounding at the end of one input go on into the next. */
	}
	if (!stopping(r)) {
		while (r->offs.len && !stopping(r))
			advance_to(r, note_queue_peek(&r->offs)->frame);
		release_all(r);
		render_tail(r);
	}
	flush_output(r);
	progress_show(&prog, r, done, true);

	if (r->clipped)
		warnf("%llu samples clipped (peak %.1f dBFS); lower --gain",
		    (unsigned long long)r->clipped, 20 * log10((double)r->peak / 32768.0));
	if (getenv("AURALIS_RENDER_REPORT"))
		warnf("peak %.2f dBFS, %lld frames, at most %d voices",
		    r->peak ? 20 * log10((double)r->peak / 32768.0) : -INFINITY, (long long)r->frame,
		    r->voices_max);

	if (stop_signal)
		status = 128 + stop_signal;
	else if (input_status)
		status = input_status;
	else if (r->failed)
		status = AUR_EXIT_FAILURE;
	else if (r->out_end.status)
		status = r->out_end.status;
	else if (bad)
		status = AUR_EXIT_DATA;
	else
		status = AUR_EXIT_OK;
	if (bad && !stop_signal)
		warnf("%lu bad line%s", bad, bad == 1 ? "" : "s");
	return status;
}

int
main(int argc, char **argv)
{
	static struct renderer r;       /* large buffers: not on the stack */
	struct options opt;
	char *soundfont;
	int status;

	err_init(argv[0]);
	parse_options(argc, argv, &opt);
	if (!opt.output && !opt.serve && isatty(STDOUT_FILENO)) {
		warnf("will not write raw audio to a terminal; use -o FILE or a pipe");
		usage_exit(usage_text);
	}
	/* Open every input first, so a missing file costs no rendering. */
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") != 0 && access(argv[i], R_OK) != 0) {
			warnf("%s:", argv[i]);
			return AUR_EXIT_NOINPUT;
		}
	}

	fluid_set_log_function(FLUID_PANIC, on_fluid_log, NULL);
	fluid_set_log_function(FLUID_ERR, on_fluid_log, NULL);
	fluid_set_log_function(FLUID_WARN, on_fluid_log, NULL);
	fluid_set_log_function(FLUID_INFO, on_fluid_log, NULL);
	fluid_set_log_function(FLUID_DBG, on_fluid_log, NULL);
	for (int i = 0; i < opt.nfonts; i++) {
		if (opt.fonts[i].channels && access(opt.fonts[i].path, R_OK) != 0) {
			warnf("%s:", opt.fonts[i].path);
			return AUR_EXIT_NOSOUNDFONT;
		}
	}
	soundfont = soundfont_find(opt.soundfont);
	if (!soundfont) {
		if (opt.soundfont || getenv("AURALIS_SOUNDFONT"))
			warnf("%s:", opt.soundfont ? opt.soundfont : getenv("AURALIS_SOUNDFONT"));
		return AUR_EXIT_NOSOUNDFONT;
	}
	if (opt.serve) {
		status = render_serve(opt.serve, &opt, soundfont);
		free(soundfont);
		return status;
	}
	r.opt = &opt;
	r.playing_nice = (int)opt.playing_nice;
	status = renderer_prepare(&r, soundfont, false);
	free(soundfont);
	if (status) {
		renderer_free(&r);
		return status;
	}

	stop_on_signals();
	/* Past a file-size limit, a write fails (EFBIG) instead of killing us. */
	signal(SIGXFSZ, SIG_IGN);
	if (opt.output && !(r.file = audiofile_create(opt.output, opt.rate, opt.bitrate))) {
		renderer_free(&r);
		return AUR_EXIT_FAILURE;
	}
	status = render_inputs(&r, argc - optind, argv + optind);
	renderer_free(&r);
	if (r.file)
		status = close_output(&r, status);
	return status;
}
