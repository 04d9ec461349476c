/*
 * stream.h - the numbers a live stream's tools agree on (docs/protocol.md,
 * docs/performance.md "On time"): what the composer writes at once and
 * how far ahead, how often it writes when nothing plays, how much music a
 * message carries, and how much aur-render renders at most in one call.
 * The page has its own copies in web/js (engine.js, buffering.js).
 */
#ifndef AUR_STREAM_H
#define AUR_STREAM_H

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

#endif
