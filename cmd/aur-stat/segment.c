/*
 * segment.c - the shared-memory segment, opened again when its name moves on
 * (stat.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "stat.h"


pthread_mutex_t seg_lock = PTHREAD_MUTEX_INITIALIZER;
struct seg_ref *seg_current;
/*
 * Why the last open failed, other than a missing segment, and when.  Such
 * an open can take a second (a segment never initialised), and the answer
 * rarely changes: it is given again for SEG_RETRY_NS without a new try.
 */
static char seg_error[512];
static int64_t seg_error_ns;

void
seg_unref_locked(struct seg_ref *r)
{
	if (--r->refs == 0) {
		shm_segment_close(r->seg);
		free(r);
	}
}

/*
 * The segment that the name refers to now, opened if need be.  Returns a
 * reference for segment_put, or NULL with the reason in err (errlen bytes).
 */
struct seg_ref *
segment_get(char *err, size_t errlen)
{
	struct seg_ref *r;

	pthread_mutex_lock(&seg_lock);
	if (seg_current && shm_segment_replaced(seg_current->seg)) {
		seg_unref_locked(seg_current);
		seg_current = NULL;
	}
	if (!seg_current && seg_error_ns && clock_now_ns() - seg_error_ns < SEG_RETRY_NS) {
		snprintf(err, errlen, "%s", seg_error);
	} else if (!seg_current) {
		struct shm_segment *seg = shm_segment_open_existing(shm_default_name(), err, errlen);

		seg_error_ns = 0;
		if (!seg && errno != ENOENT) {
			snprintf(seg_error, sizeof seg_error, "%s", err);
			seg_error_ns = clock_now_ns();
		}
		if (seg && !(seg_current = malloc(sizeof *seg_current))) {
			shm_segment_close(seg);
			snprintf(err, errlen, "out of memory");
		} else if (seg) {
			seg_current->seg = seg;
			seg_current->refs = 1;
		}
	}
	if ((r = seg_current))
		r->refs++;
	pthread_mutex_unlock(&seg_lock);
	return r;
}

void
segment_put(struct seg_ref *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&seg_lock);
	seg_unref_locked(r);
	pthread_mutex_unlock(&seg_lock);
}
