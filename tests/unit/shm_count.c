/*
 * shm_count - a stand-in for any aur-* process's counting, for
 * tests/cli/stat.bats: what aur-stat reports, made to order.
 *
 *   shm-count [--role ROLE] [--session ID] [--detail TEXT] [--hold SECONDS]
 *             [counter NAME N | observe HIST US N | gauge NAME VALUE]...
 *
 * Claims a slot of ROLE (compose, render, chunk, other; default other) in
 * the segment named by $AURALIS_SHM, for session ID, sets its detail,
 * adds N to a counter (chunks, chunks_late, ...), observes US microseconds
 * N times in a histogram (lateness, render, buffer, jitter, latency), sets
 * a gauge (music_s, buffer_ms, ...).  With --hold it keeps the slot, as a
 * live process would, for SECONDS or until SIGINT or SIGTERM; then it
 * frees it and exits 0.  Its counts stay in the segment's totals.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "opt.h"
#include "shm.h"

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = sig;
}

static noreturn void
usage(void)
{
	dief(AUR_EXIT_USAGE, "usage: shm-count [--role ROLE] [--session ID] [--detail TEXT] "
		"[--hold SECONDS] [counter NAME N | observe HIST US N | gauge NAME VALUE]...");
}

/* The index of name among count names made by name_of, or -1. */
static int
lookup(const char *name, int count, const char *(*name_of)(int))
{
	for (int i = 0; i < count; i++)
		if (!strcmp(name, name_of(i)))
			return i;
	return -1;
}

static const char *counter_name(int i) { return shm_counter_name((enum shm_counter)i); }
static const char *hist_name(int i) { return shm_hist_name((enum shm_hist)i); }
static const char *gauge_name(int i) { return shm_gauge_name((enum shm_gauge)i); }
static const char *role_name(int i) { return shm_role_name((enum shm_role)i); }

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	enum shm_role role = SHM_ROLE_OTHER;
	const char *session = NULL, *detail = NULL;
	double hold = 0;
	struct shm_slot *slot;
	int i = 1;

	err_init(argv[0]);
	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--role")) {
			int r = lookup(argv[i + 1], SHM_ROLES, role_name);

			if (r <= 0)
				usage();
			role = (enum shm_role)r;
		} else if (!strcmp(argv[i], "--session")) {
			session = argv[i + 1];
		} else if (!strcmp(argv[i], "--detail")) {
			detail = argv[i + 1];
		} else if (!strcmp(argv[i], "--hold")) {
			if (opt_double("--hold", argv[i + 1], 0, 3600, &hold) < 0)
				usage();
		} else {
			usage();
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!(slot = shm_attach(role, session)))
		return AUR_EXIT_FAILURE;
	if (detail)
		shm_set_detail(slot, detail);
	for (; i < argc; i += 3) {
		long long n;
		double x;
		int k;

		if (i + 2 >= argc)
			usage();
		if (!strcmp(argv[i], "counter") && (k = lookup(argv[i + 1], SHM_COUNTERS, counter_name)) >= 0)
			shm_count(slot, (enum shm_counter)k, strtoull(argv[i + 2], NULL, 10));
		else if (!strcmp(argv[i], "gauge") && (k = lookup(argv[i + 1], SHM_GAUGES, gauge_name)) >= 0 &&
		    opt_double("gauge", argv[i + 2], -1e15, 1e15, &x) == 0)
			shm_gauge_set(slot, (enum shm_gauge)k, x);
		else if (!strcmp(argv[i], "observe") && i + 3 < argc &&
		    (k = lookup(argv[i + 1], SHM_HISTS, hist_name)) >= 0) {
			n = strtoll(argv[i + 3], NULL, 10);
			for (long long m = 0; m < n; m++)
				shm_observe_us(slot, (enum shm_hist)k, strtoll(argv[i + 2], NULL, 10));
			i++;
		} else
			usage();
	}
	for (int64_t until = clock_now_ns() + (int64_t)(hold * 1e9); !stop && clock_now_ns() < until;)
		clock_sleep_until(clock_now_ns() + 20000000);
	return AUR_EXIT_OK;
}
