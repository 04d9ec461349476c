/*
 * audiofile.h - the audio files aur-render writes, through libsndfile:
 * the format follows the file name's extension (.wav, .flac, .ogg or .oga
 * for Vorbis, .opus), 16-bit stereo where the format has a sample size.
 * Opus codes at 8, 12, 16, 24 or 48 kHz only, at a bitrate of our choice.
 *
 * A .wav is RF64 that downgrades itself: a plain RIFF WAVE while it holds
 * less than 4 GiB (6 h 45 min at 44.1 kHz), RF64 past that, where the
 * 32-bit sizes of RIFF would wrap.  The length is known only at the end.
 *
 * A file is written under a temporary name in its own directory,
 * .NAME.XXXXXX, and takes its name only when audiofile_finish has written,
 * closed and synced it: a render that fails, or is stopped before the end,
 * leaves a file of that name as it was.  audiofile_discard, and an exit()
 * before either, remove the temporary; a SIGKILL or a crash leaves it.
 */
#ifndef AUR_AUDIOFILE_H
#define AUR_AUDIOFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sndfile.h>

#define AUDIOFILE_RATE 44100            /* the rate when none is asked for */
#define AUDIOFILE_OPUS_RATE 48000       /* the same, for .opus */
#define AUDIOFILE_OPUS_KBPS 128         /* the bitrate when none is asked for */

/* An audio file being written; audiofile_finish or audiofile_discard ends it. */
struct audiofile;

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
 * Starts writing path, stereo at rate Hz (and kbps kbit/s for Opus), as
 * settled by audiofile_settings: opens its temporary beside it.  When path
 * is a symbolic link, the file it points to is the one replaced.  Returns
 * the file, or NULL with the reason reported (prog: path: ...): path is a
 * directory or another thing than a regular file, or its directory takes
 * no new file.  A bitrate that libsndfile refuses is only warned about:
 * the file is written at its own.
 */
struct audiofile *audiofile_create(const char *path, long rate, long kbps);

/*
 * Writes n frames of interleaved stereo.  Returns 0, or -1 with the reason
 * reported (a full disk, a file-size limit): the file can then only be
 * discarded.
 */
int audiofile_write(struct audiofile *f, const int16_t *frames, size_t n);

/*
 * Completes the file and gives it its name: closes it (libsndfile writes
 * the header and flushes the encoder), checks that every write arrived,
 * sets the mode (that of the file it replaces, else 0666 less the umask),
 * syncs it, renames it over path and syncs the directory.  Returns 0, or
 * -1 with the reason reported, the temporary removed and path as it was.
 * Frees f either way.
 */
int audiofile_finish(struct audiofile *f);

/* Closes f, removes its temporary and frees it: path stays as it was. */
void audiofile_discard(struct audiofile *f);

/* The libsndfile handle, for what goes beyond writing frames (seeking, in tests). */
SNDFILE *audiofile_sndfile(struct audiofile *f);

#endif
