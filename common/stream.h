/*
 * stream.h - the numbers a live stream's tools agree on (docs/protocol.md,
 * docs/performance.md "On time"): what the composer writes at once and
 * how far ahead, how often it writes when nothing plays, how much music a
 * message carries, how much aur-render renders at most in one call, and
 * when a stream counts as playing.  The page has its own copies in web/js
 * (engine.js, buffering.js).
 */
#ifndef AUR_STREAM_H
#define AUR_STREAM_H

#include <stdint.h>

/* Music the composer writes at once when a live stream starts. */
#define STREAM_PREFILL_US 300000
/* After that, how far ahead of its time it writes each event (--lookahead). */
#define STREAM_LOOKAHEAD_US 150000
/* The longest silence between two of its lines: a `tick` otherwise. */
#define STREAM_TICK_US 50000
/* Music in one audio message (aur-chunk --chunk-ms). */
#define STREAM_CHUNK_MS 100
/* Frames aur-render renders at most in one call: the unit of its timing. */
#define STREAM_RENDER_BLOCK_FRAMES 1024

/*
 * A stream that has delivered this much music is playing: the listener
 * holds a buffer of it, while a stream that starts has none.  Its render
 * and aur-chunk then lower their priority by STREAM_PLAYING_NICE nice
 * steps (aur-session asks it of them), so that when many listeners come at
 * once the CPU goes first to the streams that have yet to sound
 * (docs/performance.md, "Starting under load").
 */
#define STREAM_PLAYING_MS 1000
#define STREAM_PLAYING_NICE 10

/*
 * Called as a stream's music goes out, music_ms of it so far: once that is
 * STREAM_PLAYING_MS, lowers the calling process's priority by *by nice
 * steps (the nice value stops at 19), and sets *by to 0, so that it
 * happens once; 0 does nothing.  Warns when the kernel refuses.
 */
void stream_playing_check(int *by, int64_t music_ms);

#endif
