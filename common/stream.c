/*
 * stream.c - what a live stream's tools do alike (stream.h).
 */
#include "stream.h"

#include <errno.h>
#include <sys/resource.h>

int
stream_lower_priority(int by)
{
	int now;

	if (by <= 0)
		return 0;
	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);     /* -1 is also a nice value */
	if (now == -1 && errno != 0)
		return -1;
	return setpriority(PRIO_PROCESS, 0, now + by > 19 ? 19 : now + by);
}
