/*
 * clock.h - the monotonic clock, in nanoseconds.
 */
#ifndef AUR_CLOCK_H
#define AUR_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds since an arbitrary start. */
int64_t clock_now_ns(void);

/* CLOCK_REALTIME now, in milliseconds since the Unix epoch. */
int64_t clock_unix_ms(void);

/* Sleeps until the monotonic clock reaches deadline_ns; EINTR returns early. */
void clock_sleep_until(int64_t deadline_ns);

#endif
