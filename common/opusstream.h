/*
 * opusstream.h - the Opus encoder of a live stream: interleaved 16-bit PCM
 * in, one Opus packet (RFC 6716) per 20 ms frame out, at a bitrate that
 * may change between any two packets without a gap.  The packets of one
 * encoder, in order, are one stream for one decoder.
 */
#ifndef AUR_OPUSSTREAM_H
#define AUR_OPUSSTREAM_H

#include <stddef.h>
#include <stdint.h>

#define OPUS_STREAM_FRAME_MS 20         /* the duration of a packet */
#define OPUS_STREAM_PACKET_MAX 1275     /* bytes of the largest one-frame packet */
#define OPUS_STREAM_KBPS_MIN 6          /* the bitrates libopus codes, kbit/s */
#define OPUS_STREAM_KBPS_MAX 510
#define OPUS_STREAM_KBPS 96             /* the bitrate when none is asked for */
#define OPUS_STREAM_COMPLEXITY 4        /* the encoder's effort when none is asked for (docs/performance.md) */

struct opus_stream;

/*
 * True when Opus codes at rate Hz: 8000, 12000, 16000, 24000 or 48000 (for
 * the live stream and for .opus files alike; no libopus call, so a tool
 * that does not link libopus may ask too).
 */
static inline int
opus_stream_rate_ok(long rate)
{
	return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

/*
 * A new encoder for channels (1 or 2) at rate Hz, kbps kbit/s and
 * complexity 0..10, set for music.  Returns NULL with the reason in
 * err[errlen] when libopus refuses or memory runs out.
 */
struct opus_stream *opus_stream_new(long rate, int channels, int kbps, int complexity,
    char *err, size_t errlen);

void opus_stream_free(struct opus_stream *os);

/* Frames of PCM in a packet: rate * OPUS_STREAM_FRAME_MS / 1000. */
size_t opus_stream_frame_frames(const struct opus_stream *os);

/*
 * The encoder's delay in frames: a decoder's first this many frames are
 * not music (RFC 7845's pre-skip, at the encoder's rate).
 */
int opus_stream_pre_skip(const struct opus_stream *os);

/* Sets the bitrate from the next packet on.  Returns 0, or -1 when libopus refuses. */
int opus_stream_set_kbps(struct opus_stream *os, int kbps);

int opus_stream_kbps(const struct opus_stream *os);

/*
 * Codes one packet's frames of s16le interleaved PCM (bytes as they come
 * from aur-render) into packet[OPUS_STREAM_PACKET_MAX].  Returns the
 * packet's length in bytes, or -1 when libopus fails.
 */
int opus_stream_encode(struct opus_stream *os, const unsigned char *pcm,
    unsigned char packet[OPUS_STREAM_PACKET_MAX]);

#endif
