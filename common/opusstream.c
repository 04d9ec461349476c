/*
 * opusstream.c - the Opus encoder of a live stream (opusstream.h), over
 * libopus.
 */
#include "opusstream.h"

#include <stdio.h>
#include <stdlib.h>

#include <opus.h>

struct opus_stream {
	OpusEncoder *enc;
	int channels;
	size_t frame_frames;
	int kbps;
	int pre_skip;
	int16_t *pcm;                   /* one packet's samples, host order */
};

struct opus_stream *
opus_stream_new(long rate, int channels, int kbps, int complexity, char *err, size_t errlen)
{
	struct opus_stream *os;
	int rc;

	if (!opus_stream_rate_ok(rate)) {
		snprintf(err, errlen, "Opus codes at 8000, 12000, 16000, 24000 or 48000 Hz, not %ld", rate);
		return NULL;
	}
	if (!(os = calloc(1, sizeof *os))) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	os->channels = channels;
	os->frame_frames = (size_t)(rate * OPUS_STREAM_FRAME_MS / 1000);
	os->pcm = malloc(os->frame_frames * (size_t)channels * sizeof *os->pcm);
	os->enc = opus_encoder_create((opus_int32)rate, channels, OPUS_APPLICATION_AUDIO, &rc);
	if (!os->pcm || !os->enc) {
		snprintf(err, errlen, "cannot make an Opus encoder: %s",
		    os->pcm ? opus_strerror(rc) : "out of memory");
		opus_stream_free(os);
		return NULL;
	}
	/*
	 * Music, variable bitrate held to its average over a short window
	 * (libopus's default, constrained VBR), no forward error correction:
	 * the WebSocket loses nothing.
	 */
	if (opus_encoder_ctl(os->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_MUSIC)) != OPUS_OK ||
	    opus_encoder_ctl(os->enc, OPUS_SET_COMPLEXITY(complexity)) != OPUS_OK ||
	    opus_encoder_ctl(os->enc, OPUS_SET_VBR(1)) != OPUS_OK ||
	    opus_encoder_ctl(os->enc, OPUS_SET_VBR_CONSTRAINT(1)) != OPUS_OK ||
	    opus_encoder_ctl(os->enc, OPUS_GET_LOOKAHEAD(&os->pre_skip)) != OPUS_OK ||
	    opus_stream_set_kbps(os, kbps) < 0) {
		snprintf(err, errlen, "cannot set up the Opus encoder (%d kbit/s, complexity %d)",
		    kbps, complexity);
		opus_stream_free(os);
		return NULL;
	}
	return os;
}

void
opus_stream_free(struct opus_stream *os)
{
	if (!os)
		return;
	if (os->enc)
		opus_encoder_destroy(os->enc);
	free(os->pcm);
	free(os);
}

size_t
opus_stream_frame_frames(const struct opus_stream *os)
{
	return os->frame_frames;
}

int
opus_stream_pre_skip(const struct opus_stream *os)
{
	return os->pre_skip;
}

int
opus_stream_set_kbps(struct opus_stream *os, int kbps)
{
	if (kbps < OPUS_STREAM_KBPS_MIN || kbps > OPUS_STREAM_KBPS_MAX ||
	    opus_encoder_ctl(os->enc, OPUS_SET_BITRATE((opus_int32)kbps * 1000)) != OPUS_OK)
		return -1;
	os->kbps = kbps;
	return 0;
}

int
opus_stream_kbps(const struct opus_stream *os)
{
	return os->kbps;
}

int
opus_stream_encode(struct opus_stream *os, const unsigned char *pcm,
    unsigned char packet[OPUS_STREAM_PACKET_MAX])
{
	size_t n = os->frame_frames * (size_t)os->channels;
	opus_int32 len;

	for (size_t i = 0; i < n; i++)
		os->pcm[i] = (int16_t)(uint16_t)(pcm[2 * i] | pcm[2 * i + 1] << 8);
	len = opus_encode(os->enc, os->pcm, (int)os->frame_frames, packet, OPUS_STREAM_PACKET_MAX);
	return len < 0 ? -1 : (int)len;
}
