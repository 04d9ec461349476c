/*
 * shm_post - a stand-in for aur-compose's side of the session ring, for
 * tests/cli/chunk.bats.
 *
 *   shm-post [--wait SECONDS] SESSION [ack ID T | error ID|null MESSAGE | quality ID|null KBPS]... -- COMMAND [ARG...]
 *
 * Claims a compose slot for SESSION in the segment named by $AURALIS_SHM,
 * posts the records, and runs COMMAND with our standard output (its own
 * standard output is then closed, so that the reader sees the end when
 * COMMAND ends).  After COMMAND it holds the slot, as a live composer
 * would, until the consumer has read every record or SECONDS (default 5)
 * have passed.  Exits with COMMAND's status.  Prints how many records were
 * dropped (the ring was full) on standard error.
 *
 *   shm-post --totals
 *
 * prints the segment's totals, one "name value" a line: every counter,
 * COUNT_count for each histogram, live_ROLE, dead, sessions_total.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "opt.h"
#include "shm.h"

static int
print_totals(void)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(shm_default_name(), err, sizeof err);
	struct shm_totals tot;

	if (!seg)
		dief(AUR_EXIT_FAILURE, "%s", err);
	shm_read_totals(seg, &tot);
	for (int c = 0; c < SHM_COUNTERS; c++)
		printf("%s %llu\n", shm_counter_name(c), (unsigned long long)tot.counter[c]);
	for (int h = 0; h < SHM_HISTS; h++)
		printf("%s_count %llu\n", shm_hist_name(h), (unsigned long long)tot.hist[h].count);
	for (int r = 1; r < SHM_ROLES; r++)
		printf("live_%s %u\n", shm_role_name(r), tot.live[r]);
	printf("dead %u\nsessions_total %llu\n", tot.dead, (unsigned long long)tot.sessions_total);
	shm_segment_close(seg);
	return 0;
}

static noreturn void
usage(void)
{
	dief(AUR_EXIT_USAGE, "usage: shm-post [--wait SECONDS] SESSION "
		"[ack ID T | error ID|null MESSAGE | quality ID|null KBPS]... -- COMMAND [ARG...]");
}

/* Posts the records in argv[i...] up to "--".  Returns the index of "--". */
static int
post_records(struct shm_slot *slot, int argc, char **argv, int i)
{
	int dropped = 0;

	for (; i < argc && strcmp(argv[i], "--"); i += 3) {
		long long id = SHM_ID_NONE;
		double t = 0;

		if (i + 2 >= argc)
			usage();
		if (strcmp(argv[i + 1], "null"))
			id = strtoll(argv[i + 1], NULL, 10);
		if (!strcmp(argv[i], "ack")) {
			if (opt_double("t", argv[i + 2], 0, 1e7, &t) < 0)
				usage();
			dropped += shm_session_post_ack(slot, id, t) < 0;
		} else if (!strcmp(argv[i], "error")) {
			dropped += shm_session_post_error(slot, id, argv[i + 2]) < 0;
		} else if (!strcmp(argv[i], "quality")) {
			/* Any u32: aur-chunk must refuse a bitrate out of range itself. */
			dropped += shm_session_post_quality(slot, id,
			    (uint32_t)strtoul(argv[i + 2], NULL, 10)) < 0;
		} else {
			usage();
		}
	}
	if (i + 1 >= argc)
		usage();
	if (dropped)
		warnf("%d dropped", dropped);
	return i;
}

int
main(int argc, char **argv)
{
	struct shm_slot *slot;
	double wait_s = 5;
	int i = 1, status, null;
	int64_t deadline;
	pid_t pid;

	err_init(argv[0]);
	if (argc == 2 && !strcmp(argv[1], "--totals"))
		return print_totals();
	if (argc > 2 && !strcmp(argv[1], "--wait")) {
		if (opt_double("--wait", argv[2], 0, 60, &wait_s) < 0)
			usage();
		i = 3;
	}
	if (argc - i < 3)
		usage();
	if (!(slot = shm_attach(SHM_ROLE_COMPOSE, argv[i])))
		return AUR_EXIT_FAILURE;
	i = post_records(slot, argc, argv, i + 1);
	if ((pid = fork()) < 0)
		dief(AUR_EXIT_FAILURE, "fork:");
	if (pid == 0) {
		execvp(argv[i + 1], argv + i + 1);
		warnf("%s:", argv[i + 1]);
		_exit(127);
	}
	/* The command's output alone keeps the reader's pipe open. */
	if ((null = open("/dev/null", O_WRONLY)) >= 0) {
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	while (waitpid(pid, &status, 0) < 0)
		;
	deadline = clock_now_ns() + (int64_t)(wait_s * 1e9);
	while (shm_session_unread(slot) > 0 && clock_now_ns() < deadline)
		clock_sleep_until(clock_now_ns() + 5000000);
	return WIFEXITED(status) ? WEXITSTATUS(status) : AUR_EXIT_FAILURE;
}
