/*
 * health.c - the health window and the SoundFont, kept by the main thread
 * (stat.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "soundfont.h"
#include "stat.h"


static struct {
	pthread_mutex_t lock;
	struct snapshot ring[SNAPSHOTS];
	unsigned taken;                 /* ever; ring[taken % SNAPSHOTS] is the next */
	char soundfont[4096];           /* "" when none is found */
	char soundfont_problem[REASON_LEN];
} kept = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
snapshot_of(const struct shm_totals *tot, int64_t now_ns, struct snapshot *s)
{
	s->at_ns = now_ns;
	s->created_unix_ms = tot->created_unix_ms;
	s->chunks = tot->counter[SHM_CHUNKS];
	s->late = tot->counter[SHM_CHUNKS_LATE];
	s->underruns = tot->counter[SHM_UNDERRUNS];
	s->render = tot->hist[SHM_HIST_RENDER];
}

/* True when base may be subtracted from now: the same segment, no count gone back. */
static bool
snapshot_before(const struct snapshot *base, const struct snapshot *now)
{
	if (base->created_unix_ms != now->created_unix_ms || base->chunks > now->chunks ||
	    base->late > now->late || base->underruns > now->underruns)
		return false;
	for (int i = 0; i < SHM_HIST_BUCKETS; i++)
		if (base->render.bucket[i] > now->render.bucket[i])
			return false;
	return true;
}

/*
 * The counts since the start of the window: now minus the oldest snapshot
 * of the same segment taken inside it (or, should none be, the newest one
 * before it).  Without one (the segment is newer than every snapshot) the
 * window starts with the segment: base is zero.  Returns the window's
 * length in seconds.
 */
double
window_counts(const struct snapshot *now, int64_t created_ns_ago, struct snapshot *delta)
{
	const struct snapshot *base = NULL;
	int64_t from = now->at_ns - (int64_t)(opt.window_s * NS);
	double seconds;

	*delta = *now;
	pthread_mutex_lock(&kept.lock);
	for (unsigned k = kept.taken > SNAPSHOTS ? kept.taken - SNAPSHOTS : 0; k < kept.taken; k++) {
		const struct snapshot *s = &kept.ring[k % SNAPSHOTS];

		if (!snapshot_before(s, now))
			continue;
		base = s;               /* the newest so far, older than the window */
		if (s->at_ns >= from)
			break;          /* the oldest inside it */
	}
	if (base) {
		delta->chunks -= base->chunks;
		delta->late -= base->late;
		delta->underruns -= base->underruns;
		delta->render.count = 0;
		for (int i = 0; i < SHM_HIST_BUCKETS; i++) {
			delta->render.bucket[i] -= base->render.bucket[i];
			delta->render.count += delta->render.bucket[i];
		}
		delta->render.sum_us -= base->render.sum_us;
		seconds = (double)(now->at_ns - base->at_ns) / NS;
	} else {
		double uptime = (double)(now->at_ns - started_ns) / NS;

		seconds = fmin(uptime, fmax(0, (double)created_ns_ago / NS));
	}
	pthread_mutex_unlock(&kept.lock);
	return seconds;
}

/* Looks for the SoundFont as aur-render would, and says what is wrong if none. */
static void
soundfont_look(void)
{
	char *found, problem[REASON_LEN] = "", reason[256];
	const char *env = getenv("AURALIS_SOUNDFONT");

	errno = 0;
	if (!(found = soundfont_find_quiet(opt.soundfont))) {
		strerror_r(errno ? errno : ENOENT, reason, sizeof reason);
		if (opt.soundfont)
			snprintf(problem, sizeof problem, "SoundFont %s (--soundfont) cannot be read: %s",
			    opt.soundfont, reason);
		else if (env && *env)
			snprintf(problem, sizeof problem, "SoundFont %s ($AURALIS_SOUNDFONT) cannot be "
			    "read: %s", env, reason);
		else
			snprintf(problem, sizeof problem, "no SoundFont found in %s",
			    soundfont_search_list());
	}
	pthread_mutex_lock(&kept.lock);
	snprintf(kept.soundfont, sizeof kept.soundfont, "%s", found ? found : "");
	snprintf(kept.soundfont_problem, sizeof kept.soundfont_problem, "%s", problem);
	pthread_mutex_unlock(&kept.lock);
	free(found);
}

/* Takes a snapshot of the totals into the ring, and looks for the SoundFont. */
void
keep_up(void)
{
	char err[512];
	struct seg_ref *r = segment_get(err, sizeof err);

	soundfont_look();
	if (r) {
		struct shm_totals tot;
		struct snapshot s;
		bool shrank;

		shm_read_totals(r->seg, &tot);
		shrank = shm_segment_detached(r->seg);  /* then tot is zeros */
		segment_put(r);
		if (shrank)
			return;
		snapshot_of(&tot, clock_now_ns(), &s);
		pthread_mutex_lock(&kept.lock);
		kept.ring[kept.taken++ % SNAPSHOTS] = s;
		pthread_mutex_unlock(&kept.lock);
	}
}

void
kept_soundfont(char *path, size_t pathlen, char *problem, size_t problemlen)
{
	pthread_mutex_lock(&kept.lock);
	snprintf(path, pathlen, "%s", kept.soundfont);
	snprintf(problem, problemlen, "%s", kept.soundfont_problem);
	pthread_mutex_unlock(&kept.lock);
}
