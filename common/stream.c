/*
 * stream.c - what a live stream's tools do alike (stream.h).
 */
#include "stream.h"

#include <errno.h>
#include <sys/resource.h>

#include "err.h"

/* Lowers our priority by `by` nice steps.  Returns 0, or -1 with errno. */
static int
lower_priority(int by)
{
	int now;

	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);     /* -1 is also a nice value */
	if (now == -1 && errno != 0)
		return -1;
	return setpriority(PRIO_PROCESS, 0, now + by > 19 ? 19 : now + by);
}

void
stream_playing_check(int *by, int64_t music_ms)
{
	if (*by <= 0 || music_ms < STREAM_PLAYING_MS)
		return;
	if (lower_priority(*by) < 0)
		warnf("--playing-nice:");
	*by = 0;
}
