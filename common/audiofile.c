/*
 * audiofile.c - the audio files aur-render writes (audiofile.h).
 */
#include "audiofile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "err.h"

int
audiofile_format(const char *path)
{
	static const struct { const char *ext; int format; } formats[] = {
		{ ".wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16 },
		{ ".flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16 },
		{ ".ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS },
		{ ".oga", SF_FORMAT_OGG | SF_FORMAT_VORBIS },
		{ ".opus", SF_FORMAT_OGG | SF_FORMAT_OPUS },
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof formats / sizeof formats[0]; i++)
		if (!strcasecmp(dot, formats[i].ext))
			return formats[i].format;
	return 0;
}

bool
audiofile_is_opus(const char *path)
{
	return path && (audiofile_format(path) & SF_FORMAT_SUBMASK) == SF_FORMAT_OPUS;
}

int
audiofile_settings(const char *path, long *rate, long *kbps, char *err, size_t errlen)
{
	static const long opus_rates[] = { 8000, 12000, 16000, 24000, 48000 };

	if (!audiofile_is_opus(path)) {
		if (*kbps) {
			snprintf(err, errlen, "--bitrate: only for an .opus output");
			return -1;
		}
		if (!*rate)
			*rate = AUDIOFILE_RATE;
		return 0;
	}
	if (!*rate)
		*rate = AUDIOFILE_OPUS_RATE;
	if (!*kbps)
		*kbps = AUDIOFILE_OPUS_KBPS;
	for (size_t i = 0; i < sizeof opus_rates / sizeof opus_rates[0]; i++)
		if (*rate == opus_rates[i])
			return 0;
	snprintf(err, errlen, "--rate: an .opus file takes 8000, 12000, 16000, 24000 or 48000, not %ld",
	    *rate);
	return -1;
}

SNDFILE *
audiofile_open(const char *path, long rate, long kbps)
{
	SF_INFO info = { .samplerate = (int)rate, .channels = 2, .format = audiofile_format(path) };
	SNDFILE *file = sf_open(path, SFM_WRITE, &info);

	if (file && audiofile_is_opus(path)) {
		/*
		 * libsndfile sets an Opus file's bitrate from a compression level
		 * in 0..1, linear from about 512 kbit/s (0) to 12 kbit/s (1) for
		 * stereo: measured, 0.768 gives 129.6 kbit/s on ambient music.
		 */
		double level = (512.0 - (double)kbps) / 500.0;
		int mode = SF_BITRATE_MODE_VARIABLE;

		if (level < 0)
			level = 0;
		sf_command(file, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
		if (sf_command(file, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level) != SF_TRUE)
			warnf("%s: cannot set the bitrate: %s", path, sf_strerror(file));
	}
	return file;
}
