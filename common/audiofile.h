/*
 * audiofile.h - the audio files aur-render writes, through libsndfile:
 * the format follows the file name's extension (.wav, .flac, .ogg or .oga
 * for Vorbis, .opus), 16-bit stereo where the format has a sample size.
 * Opus codes at 8, 12, 16, 24 or 48 kHz only, at a bitrate of our choice.
 */
#ifndef AUR_AUDIOFILE_H
#define AUR_AUDIOFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <sndfile.h>

#define AUDIOFILE_RATE 44100            /* the rate when none is asked for */
#define AUDIOFILE_OPUS_RATE 48000       /* the same, for .opus */
#define AUDIOFILE_OPUS_KBPS 128         /* the bitrate when none is asked for */

/* The libsndfile format for a file name, or 0 when its extension is not one of ours. */
int audiofile_format(const char *path);

/* True when path names an Ogg Opus file. */
bool audiofile_is_opus(const char *path);

/*
 * Settles the rate and bitrate for a file named path (NULL: raw PCM, no
 * file).  A 0 in *rate or *kbps is replaced by the default for the format.
 * Returns 0, or -1 with a message in err for the option that the format
 * cannot take ("--rate: ...", "--bitrate: ...").
 */
int audiofile_settings(const char *path, long *rate, long *kbps, char *err, size_t errlen);

/*
 * Opens path for writing stereo at rate Hz (and kbps kbit/s for Opus), as
 * settled by audiofile_settings.  Returns the file, or NULL with the reason
 * in sf_strerror(NULL).  A bitrate that libsndfile refuses is only warned
 * about (prog: path: ...): the file is written at its own.
 */
SNDFILE *audiofile_open(const char *path, long rate, long kbps);

#endif
