/*
 * aur-render-serve.c - the warm renderer, `aur-render --serve SOCKET`
 * (docs/warm-start.md).
 *
 * A fresh aur-render spends a quarter of a second of CPU opening the
 * SoundFont and loading samples before its first frame; forty listeners
 * arriving at once queue for seconds behind that work.  The warm renderer
 * does it once: it prepares one renderer for each rate the live stream
 * uses, with every sample of the SoundFont loaded and the default
 * programs chosen, and never renders with them itself.  For each stream
 * that aur-handoff hands over (common/handoff.h) it forks; the child
 * takes the stream's pipes as its standard input, output and error and
 * runs the very loop that aur-render runs.  After fork the samples are
 * shared copy-on-write and FluidSynth only reads them, so a listener costs
 * the child's own voices and buffers, not a copy of the SoundFont; and as
 * the child starts from the state a fresh aur-render reaches after the
 * same preparation, its PCM is the same, byte for byte.
 *
 * The server is one thread and one poll loop over a signalfd (SIGCHLD and
 * the stop signals) and the listening socket.  It keeps each request's
 * connection until the child ends, to tell the client its exit status.
 * On SIGTERM or SIGINT it stops taking streams at once, removes the
 * socket, and waits up to STOP_WAIT_S for its children to end, relaying
 * their statuses; a second signal, or that wait running out, ends it
 * (children go on to the end of their own streams, unwatched).
 */
#define _GNU_SOURCE            /* accept4, struct ucred */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aur-render.h"
#include "clock.h"
#include "err.h"
#include "handoff.h"
#include "io.h"
#include "stop.h"

#define RATES_MAX 2
#define STOP_WAIT_S 5
#define REQUEST_TIMEOUT_MS 1000 /* a client sends its request as it connects */
#define WAITING_MAX 256         /* connections accepted whose request has not come */

/* A prepared renderer: one for each rate served. */
struct warm {
	struct options opt;
	struct renderer r;
};

/* A stream being rendered: the child, and the client waiting for its end. */
struct stream {
	pid_t pid;
	int sock;
};

/* A connection accepted, its request not yet read. */
struct waiter {
	int sock;
	pid_t pid;              /* the client, for messages */
	int64_t deadline_ns;    /* the request is due by then */
};

static struct warm warm[RATES_MAX];
static struct waiter waiting[WAITING_MAX];
static struct waiter ready[WAITING_MAX];       /* taken from waiting, being served */
static size_t nwaiting, nready;
static int nwarm;
static struct stream *streams;
static size_t nstreams, streams_cap;

static struct warm *
warm_at(uint32_t rate)
{
	for (int i = 0; i < nwarm; i++)
		if (warm[i].opt.rate == (long)rate)
			return &warm[i];
	return NULL;
}

/*
 * Makes the listening socket at path, mode 0700 (connecting needs write).  A socket file left by a
 * server that is gone is replaced; one that answers is another server's,
 * and refused.  Returns the socket, or -1 with the reason reported.
 */
static int
listen_at(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t mask;
	int sock, rc;

	if (strlen(path) >= sizeof addr.sun_path) {
		warnf("%s: a socket path has at most %zu bytes", path, sizeof addr.sun_path - 1);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	sock = handoff_connect(path);
	if (sock >= 0) {
		warnf("%s: another warm renderer is listening there", path);
		close(sock);
		return -1;
	}
	if (errno == ECONNREFUSED)
		unlink(path);           /* left by a server that is gone */
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sock < 0) {
		warnf("socket:");
		return -1;
	}
	mask = umask(0077);
	rc = bind(sock, (struct sockaddr *)&addr, sizeof addr);
	umask(mask);
	if (rc < 0 || listen(sock, SOMAXCONN) < 0) {
		warnf("%s:", path);
		close(sock);
		return -1;
	}
	return sock;
}

static int
streams_add(pid_t pid, int sock)
{
	if (nstreams == streams_cap) {
		size_t cap = streams_cap ? 2 * streams_cap : 64;
		struct stream *s = realloc(streams, cap * sizeof *s);

		if (!s)
			return -1;
		streams = s;
		streams_cap = cap;
	}
	streams[nstreams++] = (struct stream){ .pid = pid, .sock = sock };
	return 0;
}

/* Tells the client of a child that ended, and forgets the stream. */
static void
stream_ended(pid_t pid, int wstatus)
{
	int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);

	for (size_t i = 0; i < nstreams; i++) {
		if (streams[i].pid != pid)
			continue;
		(void)handoff_send_reply(streams[i].sock, HANDOFF_ENDED, pid, status, NULL);
		close(streams[i].sock);
		streams[i] = streams[--nstreams];
		return;
	}
}

static void
reap(void)
{
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		stream_ended(pid, wstatus);
}

/*
 * The child: takes the stream's descriptors as its own 0, 1 and 2 and
 * renders as aur-render does.  Does not return.
 */
static _Noreturn void
render_child(struct warm *w, const struct handoff_request *req, const int fds[HANDOFF_FDS],
    int listener, int sigfd, int sock)
{
	sigset_t none;
	int status;

	close(listener);
	close(sigfd);
	close(sock);
	for (size_t i = 0; i < nstreams; i++)
		close(streams[i].sock);
	for (size_t i = 0; i < nwaiting; i++)
		close(waiting[i].sock);
	for (size_t i = 0; i < nready; i++)
		close(ready[i].sock);
	for (int i = 0; i < HANDOFF_FDS; i++) {
		if (dup2(fds[i], i) < 0)
			_exit(AUR_EXIT_FAILURE);
		if (fds[i] != i)
			close(fds[i]);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	stop_on_signals();
	signal(SIGXFSZ, SIG_IGN);
	if (req->session[0])
		setenv("AURALIS_SESSION", req->session, 1);
	else
		unsetenv("AURALIS_SESSION");
	if (req->shm[0])
		setenv("AURALIS_SHM", req->shm, 1);
	else
		unsetenv("AURALIS_SHM");
	w->r.playing_nice = req->playing_nice > 19 ? 19 : (int)req->playing_nice;
	status = render_inputs(&w->r, 0, NULL);
	/*
	 * _exit: the exit handlers are the server's, inherited (and under the
	 * sanitizers a leak check that cannot stop the server's threads).
	 */
	shm_detach();
	_exit(status);
}

/*
 * Serves the request waiting on wt->sock: a child for it, and the first
 * answer.  Returns false while the request has not come.
 */
static bool
serve_request(const struct waiter *wt, int listener, int sigfd)
{
	struct handoff_request req;
	int fds[HANDOFF_FDS], sock = wt->sock;
	struct warm *w;
	char why[HANDOFF_MESSAGE_MAX + 1];
	pid_t pid;

	if (handoff_recv_request(sock, &req, fds) < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		warnf("a handoff from pid %ld:", (long)wt->pid);
		close(sock);
		return true;
	}
	w = warm_at(req.rate);
	if (!w) {
		snprintf(why, sizeof why, "no renderer at %u Hz here (it serves %ld%s%.0ld Hz)",
		    req.rate, warm[0].opt.rate, nwarm > 1 ? " and " : "", nwarm > 1 ? warm[1].opt.rate : 0);
		(void)handoff_send_reply(sock, HANDOFF_REFUSED, 0, 0, why);
		goto done;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(why, sizeof why, "fork: %s", strerror(errno));
		(void)handoff_send_reply(sock, HANDOFF_REFUSED, 0, 0, why);
		goto done;
	}
	if (pid == 0)
		render_child(w, &req, fds, listener, sigfd, sock);
	(void)handoff_send_reply(sock, HANDOFF_STARTED, pid, 0, NULL);
	if (streams_add(pid, sock) < 0)
		warnf("out of memory: the client of pid %ld will not hear its end", (long)pid);
	else
		sock = -1;
done:
	for (int i = 0; i < HANDOFF_FDS; i++)
		close(fds[i]);
	if (sock >= 0)
		close(sock);
	return true;
}

/* Closes the connections whose request was not read: their clients render themselves. */
static void
waiting_drop(void)
{
	for (size_t i = 0; i < nwaiting; i++)
		close(waiting[i].sock);
	nwaiting = 0;
}

/*
 * Serves each waiting connection that pfd (one entry a waiter, in order)
 * says is readable, and drops those whose request is overdue.  The ones
 * to serve leave `waiting` first, for `ready`: a child forked meanwhile
 * closes every socket of both, and no other.
 */
static void
serve_waiting(const struct pollfd *pfd, int listener, int sigfd)
{
	int64_t now = clock_now_ns();
	size_t kept = 0;

	nready = 0;
	for (size_t i = 0; i < nwaiting; i++) {
		if (pfd[i].revents) {
			ready[nready++] = waiting[i];
		} else if (now >= waiting[i].deadline_ns) {
			warnf("a handoff from pid %ld: no request within %d ms", (long)waiting[i].pid,
			    REQUEST_TIMEOUT_MS);
			close(waiting[i].sock);
		} else {
			waiting[kept++] = waiting[i];
		}
	}
	nwaiting = kept;
	while (nready > 0) {
		struct waiter wt = ready[--nready];

		if (!serve_request(&wt, listener, sigfd))
			waiting[nwaiting++] = wt;       /* woken, but nothing to read yet */
	}
}

/*
 * Accepts the connections waiting, up to the room in `waiting`, and serves
 * each whose request has come.  A client sends its request as soon as it
 * is connected, but it may not have run yet: reading here would make
 * every later listener wait on it, so its connection waits in `waiting`.
 */
static void
accept_streams(int listener, int sigfd)
{
	struct ucred cred;
	socklen_t len;
	int sock;

	while (nwaiting < WAITING_MAX) {
		struct waiter wt;

		sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (sock < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				warnf("accept:");
			return;
		}
		len = sizeof cred;
		if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
			close(sock);    /* not our user: not a word */
			continue;
		}
		wt = (struct waiter){ .sock = sock, .pid = cred.pid,
		    .deadline_ns = clock_now_ns() + (int64_t)REQUEST_TIMEOUT_MS * 1000000 };
		if (!serve_request(&wt, listener, sigfd))
			waiting[nwaiting++] = wt;
	}
}

/* Prepares a renderer at rate.  Returns 0 or an exit status. */
static int
warm_up(const struct options *opt, long rate, const char *soundfont)
{
	struct warm *w = &warm[nwarm];
	int status;

	w->opt = *opt;
	w->opt.rate = rate;
	w->opt.quiet = true;
	w->r.opt = &w->opt;
	status = renderer_prepare(&w->r, soundfont, true);
	if (status) {
		renderer_free(&w->r);
		return status;
	}
	nwarm++;
	return 0;
}

int
render_serve(const char *path, struct options *opt, const char *soundfont)
{
	static struct pollfd pfd[2 + WAITING_MAX];
	int64_t stop_by = 0;
	int listener, sigfd, status = AUR_EXIT_OK;

	/*
	 * The signals are blocked before anything starts a thread (FluidSynth
	 * loads samples with OpenMP, whose pool stays): a thread that did not
	 * block SIGCHLD would take it, and the signalfd never see it.
	 */
	sigfd = stop_signalfd();
	if (sigfd < 0) {
		warnf("signalfd:");
		return AUR_EXIT_FAILURE;
	}
	io_std_open();          /* a stream's descriptors never land on 0..2 */
	if (opt->rate_given) {
		status = warm_up(opt, opt->rate, soundfont);
	} else {
		status = warm_up(opt, 44100, soundfont);
		if (!status)
			status = warm_up(opt, 48000, soundfont);
	}
	if (status) {
		close(sigfd);
		goto out;
	}
	/*
	 * Loading left freed chunks in malloc's fast bins; the first child to
	 * malloc would merge them, writing (so copying) pages all over the
	 * heap.  Merged here, once, they stay shared.
	 */
	malloc_trim(0);

	/* The socket appears only now: whoever waits for it finds us ready. */
	listener = listen_at(path);
	if (listener < 0) {
		close(sigfd);
		status = AUR_EXIT_FAILURE;
		goto out;
	}

	for (;;) {
		int64_t now = clock_now_ns(), wake = INT64_MAX;
		int n, timeout;

		if (stop_by) {
			if (nstreams == 0 || now >= stop_by)
				break;
			wake = stop_by;
		}
		for (size_t i = 0; i < nwaiting; i++)
			wake = waiting[i].deadline_ns < wake ? waiting[i].deadline_ns : wake;
		if (wake == INT64_MAX)
			timeout = -1;
		else            /* a deadline already past: look, and drop it, at once */
			timeout = wake <= now ? 0 : (int)((wake - now) / 1000000 + 1);
		pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		/* A full waiting list leaves the rest in the listener's backlog. */
		pfd[1] = (struct pollfd){ .fd = nwaiting < WAITING_MAX ? listener : -1, .events = POLLIN };
		for (size_t i = 0; i < nwaiting; i++)
			pfd[2 + i] = (struct pollfd){ .fd = waiting[i].sock, .events = POLLIN };
		n = poll(pfd, 2 + nwaiting, timeout);
		if (n < 0 && errno != EINTR) {
			warnf("poll:");
			status = AUR_EXIT_FAILURE;
			break;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGCHLD)
					continue;
				if (stop_by) {
					stop_by = clock_now_ns();   /* a second signal: at once */
				} else {
					stop_by = clock_now_ns() + (int64_t)STOP_WAIT_S * 1000000000;
					close(listener);
					listener = -1;
					unlink(path);
					waiting_drop();
				}
				status = 128 + (int)si.ssi_signo;
			}
			reap();
		}
		if (nwaiting)
			serve_waiting(pfd + 2, listener, sigfd);
		/*
		 * Every connection waiting, not one a wake-up: in a burst of
		 * listeners this process competes for the CPU with every
		 * session, and each trip through poll can wait its turn.
		 */
		if (n > 0 && listener >= 0 && (pfd[1].revents & POLLIN))
			accept_streams(listener, sigfd);
	}
	waiting_drop();
	if (listener >= 0) {
		close(listener);
		unlink(path);
	}
	close(sigfd);
	for (size_t i = 0; i < nstreams; i++)
		close(streams[i].sock);
	free(streams);
out:
	for (int i = 0; i < nwarm; i++)
		renderer_free(&warm[i].r);
	return status;
}
