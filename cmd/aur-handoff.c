/*
 * aur-handoff - render through the warm renderer: aur-render's place in a
 * live pipeline, without its start-up cost.
 *
 * A fresh aur-render opens the SoundFont and loads its samples, a quarter
 * of a second of CPU and tens of megabytes for every listener.  A warm
 * renderer (`aur-render --serve SOCKET`) has done that once; this tool
 * hands it our standard input, output and error (handoff.h), so that a
 * child of the warm renderer reads the note events and writes the PCM
 * straight to our pipes, and then waits for that child to end and exits
 * with its status.  No byte passes through this process.  It links
 * neither FluidSynth nor anything else large, so it starts fast.
 *
 * When there is no warm renderer to use -- no socket given, or one that
 * does not answer or refuses -- it runs aur-render itself in its place,
 * with the same options, so a session never fails for want of one.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "handoff.h"
#include "opt.h"
#include "stop.h"

static const char usage_text[] =
	"usage: aur-handoff [options]\n"
	"\n"
	"Render note events from standard input to raw s16le stereo PCM on\n"
	"standard output, as aur-render does, in the warm renderer listening on\n"
	"SOCKET (aur-render --serve), which has its SoundFont loaded already.\n"
	"When there is none, or it cannot take the stream, aur-render runs here\n"
	"instead, with a warning when a socket was given.\n"
	"\n"
	"options:\n"
	"  -s, --socket SOCKET   the warm renderer (default $AURALIS_RENDER_SOCKET)\n"
	"  -r, --rate HZ         sample rate, 8000..192000 (default 44100)\n"
	"  -n, --playing-nice N  as aur-render's: once a second of music is rendered,\n"
	"                        the render lowers its priority by N, 0..19 (default 0)\n"
	"  -q, --quiet           accepted for aur-render's sake\n"
	"  -h, --help            show this help\n"
	"  -V, --version         show the version\n"
	"\n"
	"exit status: aur-render's (0 done, 1 runtime failure, 3 bad note data,\n"
	"5 no usable SoundFont, 128 + N stopped by signal N), or 2 usage.\n";

static volatile sig_atomic_t render_pid;  /* the warm renderer's child, once it started */
static volatile sig_atomic_t pending;     /* a stop signal that came before it */

/* A stop signal goes on to the render, which finishes as aur-render would. */
static void
on_stop(int sig)
{
	if (render_pid > 0)
		kill(render_pid, sig);
	else
		pending = sig;
}

/* Runs aur-render from our own directory in our place.  Does not return. */
static _Noreturn void
render_here(long rate, long playing_nice)
{
	char self[PATH_MAX], path[PATH_MAX + 16], rate_arg[32], nice_arg[32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n < 0)
		dief(AUR_EXIT_FAILURE, "/proc/self/exe:");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(path, sizeof path, "%s/aur-render", self);
	snprintf(rate_arg, sizeof rate_arg, "%ld", rate);
	snprintf(nice_arg, sizeof nice_arg, "%ld", playing_nice);
	execl(path, "aur-render", "-q", "--rate", rate_arg, "--playing-nice", nice_arg, (char *)NULL);
	dief(AUR_EXIT_FAILURE, "%s:", path);
}

/*
 * Hands the stream over and waits for the render to end.  Returns its exit
 * status, or -1 (with a warning) when the warm renderer did not start it:
 * then nothing of our input has been read.
 */
static int
hand_over(const char *path, long rate, long playing_nice)
{
	static const int fds[HANDOFF_FDS] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
	struct handoff_request req = handoff_request_make((uint32_t)rate, getenv("AURALIS_SESSION"),
	    getenv("AURALIS_SHM"), (uint32_t)playing_nice);
	struct handoff_reply reply;
	int sock, rc;

	sock = handoff_connect(path);
	if (sock < 0 || handoff_send_request(sock, &req, fds) < 0) {
		warnf("warm renderer %s: %s; rendering here", path, strerror(errno));
		if (sock >= 0)
			close(sock);
		return -1;
	}
	rc = handoff_recv_reply(sock, &reply);
	if (rc <= 0 || reply.answer != HANDOFF_STARTED) {
		warnf("warm renderer %s: %s; rendering here", path, handoff_refusal(rc, &reply));
		close(sock);
		return -1;
	}
	render_pid = reply.pid;
	if (pending)
		kill(reply.pid, pending);
	/* From here on our pipes are the child's: we only wait for its end. */
	while ((rc = handoff_recv_reply(sock, &reply)) < 0 && errno == EINTR)
		;
	close(sock);
	if (rc <= 0 || reply.answer != HANDOFF_ENDED) {
		/* The warm renderer went away; its child may go on without it. */
		warnf("warm renderer %s: %s before the render ended", path,
		    rc < 0 ? strerror(errno) : "it closed the connection");
		return AUR_EXIT_FAILURE;
	}
	return reply.status;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "playing-nice", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *path = getenv("AURALIS_RENDER_SOCKET");
	struct sigaction sa = { .sa_handler = on_stop };
	long rate = 44100, playing_nice = 0;
	int c, status;

	err_init(argv[0]);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:r:n:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'r':
			if (opt_long("--rate", optarg, 8000, 192000, &rate))
				usage_exit(usage_text);
			break;
		case 'n':
			if (opt_long("--playing-nice", optarg, 0, 19, &playing_nice))
				usage_exit(usage_text);
			break;
		case 'q': break;
		case 'h': fputs(usage_text, stdout); return AUR_EXIT_OK;
		case 'V': printf("aur-handoff %s\n", AURALIS_VERSION); return AUR_EXIT_OK;
		default: opt_refused(c, argv, usage_text);
		}
	}
	if (optind < argc) {
		warnf("%s: no FILE arguments: the note events come on standard input", argv[optind]);
		usage_exit(usage_text);
	}
	if (isatty(STDOUT_FILENO)) {
		warnf("will not write raw audio to a terminal; use a pipe");
		usage_exit(usage_text);
	}
	if (!path || !*path)
		render_here(rate, playing_nice);

	/* A stop signal is passed on, and the end of the render awaited. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	status = hand_over(path, rate, playing_nice);
	if (status < 0 && pending)
		return 128 + pending;   /* asked to stop before anything started */
	if (status < 0)
		render_here(rate, playing_nice);
	return status;
}
