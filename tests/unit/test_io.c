/*
 * test_io.c - full writes: short writes are continued, and a stopping
 * writer gives up on a reader that takes nothing, but not on one that reads;
 * and what a failed write of standard output means for a tool's exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "err.h"
#include "io.h"

static volatile sig_atomic_t stop;

static void
on_alarm(int sig)
{
	stop = sig;
}

/*
 * Forks a reader of the pipe fds that reads to the end and exits 0 when it
 * got exactly expect bytes; closes the parent's read end.
 */
static pid_t
reader_start(int fds[2], size_t expect)
{
	pid_t child = fork();

	if (child == 0) {
		char buf[4096];
		size_t total = 0;
		ssize_t n;

		close(fds[1]);
		while ((n = read(fds[0], buf, sizeof buf)) > 0)
			total += (size_t)n;
		_exit(total == expect ? 0 : 1);
	}
	close(fds[0]);
	return child;
}

/*
 * out_end_note on errno err and stop signal stop, with stderr caught:
 * the status it gives, and whether it said anything (into said[len]).
 */
static int
end_noted(struct out_end *end, int err, int stop_sig, char *said, size_t len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), status;
	size_t n = 0;

	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	status = out_end_note(end, err, stop_sig);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(said, 1, len - 1, tmp);
	said[n] = '\0';
	fclose(tmp);
	return status;
}

/* A failed write of standard output: EPIPE and a stop are quiet, the rest is said. */
static void
test_out_end(void)
{
	static const struct {
		int err, stop;
		int status;
		const char *said;
	} cases[] = {
		{ EPIPE, 0, AUR_EXIT_OK, "" },
		{ EPIPE, SIGTERM, AUR_EXIT_OK, "" },
		{ EINTR, SIGTERM, 128 + SIGTERM, "" },
		{ EINTR, SIGINT, 128 + SIGINT, "" },
		{ EINTR, 0, AUR_EXIT_FAILURE, "test_io: standard output: Interrupted system call\n" },
		{ ENOSPC, 0, AUR_EXIT_FAILURE, "test_io: standard output: No space left on device\n" },
		{ EIO, SIGTERM, AUR_EXIT_FAILURE, "test_io: standard output: Input/output error\n" },
	};
	char said[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct out_end end = { 0 };

		CHECK(end_noted(&end, cases[i].err, cases[i].stop, said, sizeof said) == cases[i].status);
		CHECK(end.ended && end.status == cases[i].status);
		CHECK_STR(said, cases[i].said);
		/* Only the first failure counts, and it is said once. */
		CHECK(end_noted(&end, ENOSPC, 0, said, sizeof said) == cases[i].status);
		CHECK_STR(said, "");
	}
}

static bool
reader_got_all(pid_t child)
{
	int status;

	return waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int
main(void)
{
	static char big[1 << 20];
	struct sigaction sa = { .sa_handler = on_alarm };
	int fds[2];
	int64_t t0, took_ms;
	pid_t child;

	err_init("test_io");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);          /* no SA_RESTART */
	io_ignore_sigpipe();

	/* 1 MiB through a 64 KiB pipe: many short writes, all of it arrives. */
	CHECK(pipe(fds) == 0);
	child = reader_start(fds, sizeof big);
	CHECK(write_full(fds[1], big, sizeof big) == 0);
	close(fds[1]);
	CHECK(reader_got_all(child));

	/* A reader that never reads: the signal ends the blocked write soon. */
	CHECK(pipe(fds) == 0);
	stop = 0;
	ualarm(200000, 0);
	t0 = clock_now_ns();
	CHECK(write_full_or_stop(fds[1], big, sizeof big, &stop) == -1);
	CHECK(errno == EINTR);
	took_ms = (clock_now_ns() - t0) / 1000000;
	CHECK(stop == SIGALRM);
	CHECK(took_ms >= 150 && took_ms < 2000);
	close(fds[0]);
	close(fds[1]);

	/* Once stopped, a reader that goes on reading still gets everything. */
	CHECK(pipe(fds) == 0);
	child = reader_start(fds, sizeof big);
	stop = SIGTERM;
	CHECK(write_full_or_stop(fds[1], big, sizeof big, &stop) == 0);
	close(fds[1]);
	CHECK(reader_got_all(child));

	/* A reader that stops reading: ETIMEDOUT after the stall time. */
	CHECK(pipe(fds) == 0);
	stop = 0;
	t0 = clock_now_ns();
	CHECK(write_full_within(fds[1], big, sizeof big, &stop, 300) == -1);
	CHECK(errno == ETIMEDOUT);
	took_ms = (clock_now_ns() - t0) / 1000000;
	CHECK(took_ms >= 290 && took_ms < 3000);
	close(fds[0]);
	close(fds[1]);

	/* A reader that is gone: EPIPE, stopping or not. */
	CHECK(pipe(fds) == 0);
	close(fds[0]);
	CHECK(write_full_or_stop(fds[1], "x", 1, &stop) == -1 && errno == EPIPE);
	stop = 0;
	CHECK(write_full_within(fds[1], "x", 1, &stop, 100) == -1 && errno == EPIPE);
	CHECK(write_full(fds[1], "x", 1) == -1 && errno == EPIPE);
	close(fds[1]);

	test_out_end();
	return check_done("io");
}
