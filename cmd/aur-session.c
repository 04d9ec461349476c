/*
 * aur-session - one listener's stream; websocketd runs it (through
 * scripts/ws/stream) for every WebSocket connection.
 *
 *   aur-compose --live ARGS  |  renderer  |  aur-chunk ARGS
 *
 * Standard input carries the browser's control messages to aur-compose,
 * and aur-chunk's standard output carries hello, audio, ack and error
 * messages back.  The query string ($QUERY_STRING) may choose the start
 * (preset, key, mode, bpm, intensity, seed) and the audio: codec=pcm (the
 * default, at 44.1 kHz) or codec=opus (rendered at 48 kHz, coded by
 * aur-chunk) with kbps=6..510 to start at.  A bad one is answered with an
 * error message of the protocol, and the session ends with status 0.  A
 * query string of more than QUERY_MAX bytes or PARAMS_MAX parameters is
 * refused: websocketd writes the whole URL into every line it logs.
 *
 * Start-up is what a burst of listeners pays for, so this is one small
 * process without a shell.  It starts aur-compose and aur-chunk with
 * posix_spawn (no page tables copied), and hands the render to the warm
 * renderer (aur-render --serve, common/handoff.h) itself: the notes
 * pipe's read end, the PCM pipe's write end and our standard error go
 * over the socket, and a child of the warm renderer renders between them.
 * Without a warm renderer, or when it refuses, aur-render runs here.
 * The start settings are checked by the live aur-compose itself, not by
 * a second one: until it writes its first notes its standard error comes
 * here, and if it ends before, its first line goes to the browser.  After
 * that its standard error is copied to ours as long as it lives.
 *
 * Every process of the session ends when the browser goes: its closed
 * standard input ends aur-compose, and then this stops aur-chunk, whose
 * end ends the render (a tail nobody hears is not rendered).  websocketd's
 * SIGINT, SIGTERM and SIGHUP do the same at once.  Nothing depends on
 * this process living to the end: the session makes no file, this keeps
 * no end of the pipeline's pipes once they are handed on (a renderer that
 * died must make aur-compose's writes fail), and if it is killed outright
 * its processes end by themselves: aur-compose at the end of its input,
 * the render at the end of its own or when its reader is gone, aur-chunk
 * when websocketd closes its output or after its stall timeout.
 */
#define _GNU_SOURCE             /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "handoff.h"
#include "io.h"
#include "opt.h"
#include "stop.h"
#include "stream.h"

#define QUERY_MAX 1024          /* bytes of a query string */
#define PARAMS_MAX 32           /* parameters of a query string, ours or not */
#define VALUE_MAX 32            /* bytes of a parameter's value, decoded */
#define MESSAGE_MAX 1200        /* bytes of an error message for the browser */
#define SESSION_BYTES 12        /* random bytes of a session id: 24 hex digits */
#define PCM_RATE 44100          /* Hz: the stream's rate with PCM */
#define OPUS_RATE 48000         /* Hz: Opus codes at 48 kHz */
#define OPUS_RATE_ARG "48000"
/* --playing-nice of the render and aur-chunk: STREAM_PLAYING_NICE. */
#define STR(x) #x
#define XSTR(x) STR(x)
#define PLAYING_NICE_ARG XSTR(STREAM_PLAYING_NICE)

static const char usage_text[] =
	"usage: aur-session\n"
	"\n"
	"One listener's stream, as websocketd runs it for each WebSocket\n"
	"connection: aur-compose --live | aur-render | aur-chunk, with the\n"
	"browser's control messages on standard input and the stream's messages\n"
	"on standard output.  The query string chooses the start: preset, key,\n"
	"mode, bpm, intensity, seed (as aur-compose's options), codec (pcm or\n"
	"opus) and kbps (6..510, only with codec=opus); other parameters are\n"
	"ignored.  A bad one is answered with an error message on standard\n"
	"output.\n"
	"\n"
	"environment:\n"
	"  QUERY_STRING           the connection's query string (websocketd's)\n"
	"  AURALIS_BIN            where the aur-* tools are (default: beside this one)\n"
	"  AURALIS_RENDER_SOCKET  render in this warm renderer (aur-render --serve)\n"
	"  AURALIS_STALL_TIMEOUT  seconds a listener may take nothing (default 10)\n"
	"  AURALIS_NOTES_DIR      keep each session's note events there, as SESSION.notes\n"
	"  AURALIS_SHM            the counters' shared memory, for every tool\n"
	"It sets AURALIS_SESSION, a new random id, for the session's tools.\n"
	"\n"
	"options:\n"
	"  -h, --help      show this help\n"
	"  -V, --version   show the version\n"
	"\n"
	"exit status: 0 the stream ended (the listener left, a signal stopped it,\n"
	"or a bad query string was answered), 1 runtime failure (the stream could\n"
	"not start, or broke), 2 usage.\n";

/* The start the query string chose. */
struct start {
	const char *compose_args[2 * PARAMS_MAX];   /* "--key", "D", ... */
	int ncompose_args;
	char values[PARAMS_MAX][VALUE_MAX + 1];
	bool opus;
	char kbps[VALUE_MAX + 1];                   /* "" when not given */
};

/* An error message for the browser, any bytes, cut at MESSAGE_MAX. */
struct message {
	char text[MESSAGE_MAX];
	size_t len;
};

/* The session's processes (0 once reaped) and what this holds of them. */
struct session {
	char bin[PATH_MAX];     /* where the tools are */
	char id[2 * SESSION_BYTES + 1];
	pid_t compose, chunk;
	int compose_status;     /* aur-compose's wait status, once reaped */
	int compose_err;        /* read end of aur-compose's standard error, or -1 */
	int sigfd;              /* SIGCHLD and the stop signals */
	int stop;               /* the stop signal that came, -1 when poll failed, or 0 */
};

/* The query parameters that are ours, and aur-compose's options for them; any other is ignored. */
static const struct param {
	const char *name;
	const char *option;     /* NULL: not aur-compose's */
} params[] = {
	{ "preset", "--preset" }, { "key", "--key" }, { "mode", "--mode" }, { "bpm", "--bpm" },
	{ "intensity", "--intensity" }, { "seed", "--seed" }, { "codec", NULL }, { "kbps", NULL },
};

/* --- the browser's words --- */

static void
message_add(struct message *m, const char *s, size_t len)
{
	if (len > sizeof m->text - m->len)
		len = sizeof m->text - m->len;
	memcpy(m->text + m->len, s, len);
	m->len += len;
}

static void __attribute__((format(printf, 2, 3)))
message_printf(struct message *m, const char *fmt, ...)
{
	char buf[MESSAGE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		message_add(m, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/*
 * Writes m to standard output as {"type":"error","id":null,"message":...}:
 * \ and " escaped, and every byte that is not printable ASCII (a control
 * byte, a NUL, a byte of UTF-8) as '?', so that no byte of a URL can break
 * the JSON.  A failed write is not reported: the browser is gone.
 */
static void
send_error(const struct message *m)
{
	static const char head[] = "{\"type\":\"error\",\"id\":null,\"message\":\"", tail[] = "\"}\n";
	char line[sizeof head + 2 * MESSAGE_MAX + sizeof tail];
	size_t n = sizeof head - 1;

	memcpy(line, head, n);
	for (size_t i = 0; i < m->len; i++) {
		unsigned char c = (unsigned char)m->text[i];

		if (c == '\\' || c == '"')
			line[n++] = '\\';
		line[n++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	memcpy(line + n, tail, sizeof tail - 1);
	n += sizeof tail - 1;
	(void)write_full(STDOUT_FILENO, line, n);
}

/* --- the query string --- */

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the len bytes at s, '+' as a space and %XX as the byte XX, into
 * out (room for len bytes).  A '%' without two hex digits stays as it is.
 * Returns the decoded length; the result may hold any byte, NUL too.
 */
static size_t
url_decode(const char *s, size_t len, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			out[n++] = ' ';
		} else if (s[i] == '%' && i + 2 < len && hex_digit(s[i + 1]) >= 0 &&
		    hex_digit(s[i + 2]) >= 0) {
			out[n++] = (char)(hex_digit(s[i + 1]) << 4 | hex_digit(s[i + 2]));
			i += 2;
		} else {
			out[n++] = s[i];
		}
	}
	return n;
}

/* A value as the tools may see it: 1..VALUE_MAX of [A-Za-z0-9.#_-]. */
static bool
value_ok(const char *v, size_t len)
{
	if (len < 1 || len > VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '#' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* A bitrate in 1..3 digits, 6..510 kbit/s (OPUS_STREAM_KBPS_MIN..MAX). */
static bool
kbps_ok(const char *v)
{
	size_t len = strlen(v);
	long kbps;

	if (len < 1 || len > 3 || strspn(v, "0123456789") != len)
		return false;
	kbps = strtol(v, NULL, 10);
	return kbps >= 6 && kbps <= 510;
}

/* Our parameter named by the len bytes at name, or NULL when it is not ours. */
static const struct param *
param_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
		if (strlen(params[i].name) == len && memcmp(params[i].name, name, len) == 0)
			return &params[i];
	return NULL;
}

/*
 * The parameters of query, counted as a shell's `IFS='&' read -a` counts
 * them: each '&' separates two, but a last '&' starts none.
 */
static size_t
params_count(const char *query, size_t len)
{
	size_t n = 1;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += query[i] == '&';
	return query[len - 1] == '&' ? n - 1 : n;
}

/*
 * Reads the start from query into *st: its parameters in their order, a
 * later one of a name over an earlier one.  A parameter without '=' is its
 * own value.  Returns 0, or -1 with the words for the browser in *why.
 */
static int
parse_query(const char *query, struct start *st, struct message *why)
{
	size_t len = strlen(query), count = params_count(query, len);
	char value[QUERY_MAX];
	const char *pair, *end;

	if (len > QUERY_MAX) {
		message_printf(why, "query string: %zu bytes is more than %d", len, QUERY_MAX);
		return -1;
	}
	if (count > PARAMS_MAX) {
		message_printf(why, "query string: %zu parameters is more than %d", count, PARAMS_MAX);
		return -1;
	}
	for (pair = query; *pair; pair = *end ? end + 1 : end) {
		const struct param *param;
		const char *eq, *raw;
		size_t n;

		end = strchr(pair, '&');
		if (!end)
			end = pair + strlen(pair);
		eq = memchr(pair, '=', (size_t)(end - pair));
		param = param_find(pair, (size_t)((eq ? eq : end) - pair));
		if (!param)
			continue;       /* cache busters and the like are not ours */
		raw = eq ? eq + 1 : pair;
		n = url_decode(raw, (size_t)(end - raw), value);
		if (!value_ok(value, n)) {
			message_printf(why, "query parameter %s: '", param->name);
			message_add(why, value, n);
			message_printf(why, "' is not a valid value");
			return -1;
		}
		value[n] = '\0';
		if (param->option) {
			/* At most PARAMS_MAX parameters, counted above. */
			char *v = st->values[st->ncompose_args / 2];

			memcpy(v, value, n + 1);
			st->compose_args[st->ncompose_args++] = param->option;
			st->compose_args[st->ncompose_args++] = v;
		} else if (strcmp(param->name, "codec") == 0) {
			if (strcmp(value, "pcm") != 0 && strcmp(value, "opus") != 0) {
				message_printf(why, "query parameter codec: '%s' is not one of pcm, opus", value);
				return -1;
			}
			st->opus = strcmp(value, "opus") == 0;
		} else {
			if (!kbps_ok(value)) {
				message_printf(why, "query parameter kbps: '%s' is not a bitrate in 6..510 kbit/s",
				    value);
				return -1;
			}
			memcpy(st->kbps, value, n + 1);
		}
	}
	if (st->kbps[0] && !st->opus) {
		message_printf(why, "query parameter kbps: only for codec=opus");
		return -1;
	}
	return 0;
}

/* --- processes --- */

/*
 * Starts the program at path (searched in $PATH when search) with argv,
 * taking in, out and err as its standard input, output and error (-1:
 * ours), with no signal blocked or ignored.  Every other descriptor of
 * ours is close-on-exec.  Returns its pid, or -1 with errno (it could not
 * be run).
 */
static pid_t
spawn(const char *path, const char *const argv[], int in, int out, int err, bool search)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&actions);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
	if (err >= 0)
		posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = (search ? posix_spawnp : posix_spawn)(&pid, path, &actions, &attr,
	    (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	if (rc) {
		errno = rc;
		return -1;
	}
	return pid;
}

/* Reaps every child that has ended; forgets aur-compose and aur-chunk when they have. */
static void
reap(struct session *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->compose) {
			s->compose = 0;
			s->compose_status = status;
		}
		if (pid == s->chunk)
			s->chunk = 0;
	}
}

/* Takes the signals that came: reaps on SIGCHLD, notes a stop signal in s->stop. */
static void
signals_take(struct session *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD)
			reap(s);
		else
			s->stop = (int)si.ssi_signo;
	}
}

/*
 * A poll that failed other than by a signal ends the session as a stop
 * signal would, so that its children are still stopped and reaped.
 */
static void
poll_failed(struct session *s)
{
	if (errno == EINTR)
		return;
	warnf("poll:");
	s->stop = -1;
}

/*
 * Polls fd for events and the signal descriptor, taking the signals.
 * Returns fd's revents (0 when only a signal came).
 */
static short
poll_with_signals(struct session *s, int fd, short events)
{
	struct pollfd pfd[2] = {
		{ .fd = s->sigfd, .events = POLLIN },
		{ .fd = fd, .events = events },
	};

	if (poll(pfd, fd >= 0 ? 2 : 1, -1) < 0) {
		poll_failed(s);
		return 0;
	}
	if (pfd[0].revents)
		signals_take(s);
	return fd >= 0 ? pfd[1].revents : 0;
}

/*
 * Reads what aur-compose wrote on its standard error into heard, or with
 * a NULL heard copies it to ours; closes the pipe at its end.
 */
static void
compose_err_read(struct session *s, struct message *heard)
{
	char buf[4096];
	ssize_t n = read(s->compose_err, buf, sizeof buf);

	if (n > 0 && heard) {
		message_add(heard, buf, (size_t)n);
	} else if (n > 0) {
		(void)write_full(STDERR_FILENO, buf, (size_t)n);
	} else if (n == 0 || errno != EINTR) {
		close(s->compose_err);
		s->compose_err = -1;
	}
}

/*
 * Stops the session: SIGTERM to aur-compose and aur-chunk while they run,
 * the rest of aur-compose's standard error copied, and every child
 * reaped, the render that runs here and tee too (they end at the end of
 * their input or output).  Signals stay blocked meanwhile: websocketd's
 * must not cut the reaping short.
 */
static void
session_stop(struct session *s)
{
	if (s->compose > 0)
		kill(s->compose, SIGTERM);
	if (s->chunk > 0)
		kill(s->chunk, SIGTERM);
	while (s->compose_err >= 0)
		compose_err_read(s, NULL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	s->compose = s->chunk = 0;
}

/* --- the start --- */

/*
 * Starts aur-compose --live with the start's options, our standard input
 * as its own, its output on a new pipe whose read end goes in *notes, and
 * its standard error on one that s->compose_err reads.  Returns 0, or -1
 * with a warning.
 */
static int
compose_start(struct session *s, const struct start *st, int *notes)
{
	const char *argv[3 + 2 * PARAMS_MAX];
	char path[PATH_MAX + 16];
	int out[2], err[2], n = 0;

	snprintf(path, sizeof path, "%s/aur-compose", s->bin);
	argv[n++] = path;
	argv[n++] = "--live";
	for (int i = 0; i < st->ncompose_args; i++)
		argv[n++] = st->compose_args[i];
	argv[n] = NULL;
	if (pipe2(out, O_CLOEXEC) < 0)
		goto fail;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		goto fail;
	}
	s->compose = spawn(path, argv, -1, out[1], err[1], false);
	close(out[1]);
	close(err[1]);
	if (s->compose < 0) {
		warnf("%s:", path);
		s->compose = 0;
		close(out[0]);
		close(err[0]);
		return -1;
	}
	*notes = out[0];
	s->compose_err = err[0];
	return 0;
fail:
	warnf("pipe:");
	return -1;
}

enum start_result { START_PLAYING, START_REFUSED, START_ENDED, START_STOPPED };

/*
 * Waits until aur-compose has written its first notes (START_PLAYING), or
 * has ended without any, reaped: with a failure status it refused the
 * start (START_REFUSED, the first line it wrote on standard error in
 * *said, without its "aur-compose: "), else the listener went or a signal
 * came (START_ENDED); or until a stop signal came (START_STOPPED).  notes
 * is only polled, never read: the renderer reads it from the start.  What
 * aur-compose said before a good start goes to our standard error.
 *
 * The warm renderer is asked only after this check.  Asking it first, so
 * that its fork overlapped aur-compose's start, was measured: in a burst
 * of 40 both cores are busy either way, and the last first audio came no
 * sooner (1.33..1.55 s in six bursts, against 1.32..1.45 s), at the price
 * of a render child forked in vain for every refused start and a check
 * that must watch the PCM too (a render quicker to read the notes than
 * this to look at them would hide them).
 */
static enum start_result
compose_started(struct session *s, int notes, struct message *said)
{
	static const char prefix[] = "aur-compose: ";
	struct message heard = { .len = 0 };
	const char *line = heard.text, *nl;
	int status;

	while (!s->stop) {
		struct pollfd pfd[3] = {
			{ .fd = s->sigfd, .events = POLLIN },
			{ .fd = notes, .events = POLLIN },
			{ .fd = s->compose_err, .events = POLLIN },
		};

		if (poll(pfd, s->compose_err >= 0 ? 3 : 2, -1) < 0) {
			poll_failed(s);
			continue;
		}
		if (pfd[0].revents)
			signals_take(s);
		if (s->compose_err >= 0 && pfd[2].revents)
			compose_err_read(s, &heard);
		if (pfd[1].revents & POLLIN) {
			(void)write_full(STDERR_FILENO, heard.text, heard.len);
			return START_PLAYING;
		}
		if (pfd[1].revents)
			break;          /* its output closed empty: it is ending */
	}
	if (s->stop)
		return START_STOPPED;
	/* Its standard error ends when it does. */
	while (s->compose_err >= 0)
		compose_err_read(s, &heard);
	if (s->compose > 0 && waitpid(s->compose, &s->compose_status, 0) == s->compose)
		s->compose = 0;
	status = s->compose_status;
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 0) {
		/* Not a refusal (the listener went, or a signal): nothing to answer. */
		(void)write_full(STDERR_FILENO, heard.text, heard.len);
		return START_ENDED;
	}
	nl = memchr(heard.text, '\n', heard.len);
	if (heard.len >= sizeof prefix - 1 && memcmp(heard.text, prefix, sizeof prefix - 1) == 0)
		line += sizeof prefix - 1;
	said->len = 0;
	message_add(said, line, (size_t)((nl ? nl : heard.text + heard.len) - line));
	return START_REFUSED;
}

/*
 * Hands the render to the warm renderer at path: a child of it reads the
 * notes from in, writes the PCM at rate to out, and its messages to our
 * standard error.  Returns 1 when it started there, 0 when it did not
 * (with a warning; nothing was read from in), -1 when a stop signal came
 * first.  The connection is not kept: the child's end is not awaited.
 */
static int
render_handoff(struct session *s, const char *path, uint32_t rate, int in, int out)
{
	struct handoff_request req = handoff_request_make(rate, s->id, getenv("AURALIS_SHM"),
	    STREAM_PLAYING_NICE);
	const int fds[HANDOFF_FDS] = { in, out, STDERR_FILENO };
	struct handoff_reply reply;
	int sock, rc;

	sock = handoff_connect(path);
	if (sock < 0 || handoff_send_request(sock, &req, fds) < 0) {
		warnf("warm renderer %s: %s; rendering here", path, strerror(errno));
		if (sock >= 0)
			close(sock);
		return 0;
	}
	while (!s->stop && !poll_with_signals(s, sock, POLLIN))
		;
	if (s->stop) {
		close(sock);    /* a child it starts yet ends with its pipes */
		return -1;
	}
	rc = handoff_recv_reply(sock, &reply);
	close(sock);
	if (rc <= 0 || reply.answer != HANDOFF_STARTED) {
		warnf("warm renderer %s: %s; rendering here", path, handoff_refusal(rc, &reply));
		return 0;
	}
	return 1;
}

/*
 * Starts the rest of the pipeline on aur-compose's output (notes): tee
 * into AURALIS_NOTES_DIR when set, the render (in the warm renderer, or
 * here), and aur-chunk on our standard output.  Closes notes; keeps no end
 * of any pipe.  Returns 0, -1 with a warning, or 1 when a stop signal came.
 */
static int
pipeline_start(struct session *s, const struct start *st, int notes)
{
	const char *socket_path = getenv("AURALIS_RENDER_SOCKET");
	const char *stall = getenv("AURALIS_STALL_TIMEOUT"), *dir = getenv("AURALIS_NOTES_DIR");
	const char *argv[16];
	char path[PATH_MAX + 16], kept[PATH_MAX + 64];
	int pcm[2], tee[2], n = 0, rc = 0;
	pid_t pid;

	if (pipe2(pcm, O_CLOEXEC) < 0) {
		warnf("pipe:");
		close(notes);
		return -1;
	}
	snprintf(path, sizeof path, "%s/aur-chunk", s->bin);
	argv[n++] = path;
	argv[n++] = "--session";
	argv[n++] = s->id;
	argv[n++] = "--stall-timeout";
	argv[n++] = stall && *stall ? stall : "10";
	argv[n++] = "--playing-nice";
	argv[n++] = PLAYING_NICE_ARG;
	if (st->opus) {
		argv[n++] = "--codec";
		argv[n++] = "opus";
		argv[n++] = "--rate";
		argv[n++] = OPUS_RATE_ARG;
		if (st->kbps[0]) {
			argv[n++] = "--kbps";
			argv[n++] = st->kbps;
		}
	}
	argv[n] = NULL;
	s->chunk = spawn(path, argv, pcm[0], -1, -1, false);
	close(pcm[0]);
	if (s->chunk < 0) {
		warnf("%s:", path);
		s->chunk = 0;
		rc = -1;
		goto out;
	}

	if (dir && *dir) {
		if (pipe2(tee, O_CLOEXEC) < 0) {
			warnf("pipe:");
			rc = -1;
			goto out;
		}
		snprintf(kept, sizeof kept, "%s/%s.notes", dir, s->id);
		pid = spawn("tee", (const char *[]){ "tee", kept, NULL }, notes, tee[1], -1, true);
		close(tee[1]);
		close(notes);
		notes = tee[0];
		if (pid < 0) {
			warnf("tee:");
			rc = -1;
			goto out;
		}
	}

	if (socket_path && *socket_path) {
		rc = render_handoff(s, socket_path, st->opus ? OPUS_RATE : PCM_RATE, notes, pcm[1]);
		if (rc != 0)
			goto out;       /* 1: started there; -1: stopped */
	}
	snprintf(path, sizeof path, "%s/aur-render", s->bin);
	if (st->opus)
		pid = spawn(path, (const char *[]){ path, "-q", "--rate", OPUS_RATE_ARG,
		    "--playing-nice", PLAYING_NICE_ARG, NULL }, notes, pcm[1], -1, false);
	else
		pid = spawn(path, (const char *[]){ path, "-q", "--playing-nice", PLAYING_NICE_ARG, NULL },
		    notes, pcm[1], -1, false);
	rc = 0;
	if (pid < 0) {
		warnf("%s:", path);
		rc = -1;
	}
out:
	close(notes);
	close(pcm[1]);
	return rc < 0 ? (s->stop ? 1 : -1) : 0;
}

/* --- setup --- */

/* Sets s->bin: $AURALIS_BIN, or the directory this program is in. */
static void
find_tools(struct session *s)
{
	const char *bin = getenv("AURALIS_BIN");
	ssize_t n;
	char *slash;

	if (bin && *bin) {
		if (strlen(bin) >= sizeof s->bin)
			dief(AUR_EXIT_FAILURE, "AURALIS_BIN: a path of more than %zu bytes",
			    sizeof s->bin - 1);
		memcpy(s->bin, bin, strlen(bin) + 1);
		return;
	}
	n = readlink("/proc/self/exe", s->bin, sizeof s->bin - 1);
	if (n < 0)
		dief(AUR_EXIT_FAILURE, "/proc/self/exe:");
	s->bin[n] = '\0';
	slash = strrchr(s->bin, '/');
	if (slash)
		*slash = '\0';
}

/* Sets s->id to SESSION_BYTES random bytes in hex. */
static void
session_id(struct session *s)
{
	unsigned char b[SESSION_BYTES];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t n = getrandom(b + got, sizeof b - got, 0);

		if (n < 0 && errno != EINTR)
			dief(AUR_EXIT_FAILURE, "getrandom:");
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(s->id + 2 * i, 3, "%02x", b[i]);
}

/*
 * Blocks the signals that the signal descriptor takes (SIGCHLD and the
 * stop signals) and ignores SIGPIPE; the children get neither.  Makes sure
 * descriptors 0..2 are open, so that no pipe of ours lands there.
 */
static void
setup_process(struct session *s)
{
	io_std_open();
	s->sigfd = stop_signalfd();
	if (s->sigfd < 0)
		dief(AUR_EXIT_FAILURE, "signalfd:");
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-session %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
	}
	if (optind < argc) {
		warnf("%s: no arguments: the start comes in $QUERY_STRING", argv[optind]);
		usage_exit(usage_text);
	}
}

int
main(int argc, char **argv)
{
	static struct session s = { .compose_err = -1, .sigfd = -1 };
	static struct start st;
	struct message words = { .len = 0 };
	const char *query = getenv("QUERY_STRING");
	enum start_result started;
	int notes, rc;

	err_init(argv[0]);
	parse_options(argc, argv);
	setup_process(&s);
	if (parse_query(query ? query : "", &st, &words) < 0) {
		send_error(&words);
		return AUR_EXIT_OK;
	}
	find_tools(&s);
	session_id(&s);
	if (setenv("AURALIS_SESSION", s.id, 1) < 0)
		dief(AUR_EXIT_FAILURE, "setenv:");

	if (compose_start(&s, &st, &notes) < 0)
		goto failed;
	started = compose_started(&s, notes, &words);
	if (started != START_PLAYING) {
		/* Until the music starts there is nothing to stop. */
		close(notes);
		if (started == START_REFUSED)
			send_error(&words);
		session_stop(&s);
		return s.stop < 0 ? AUR_EXIT_FAILURE : AUR_EXIT_OK;
	}
	rc = pipeline_start(&s, &st, notes);
	if (rc < 0)
		goto failed;
	/* The music plays until aur-compose ends or a stop signal comes. */
	while (s.compose > 0 && !s.stop) {
		if (poll_with_signals(&s, s.compose_err, POLLIN))
			compose_err_read(&s, NULL);
	}
	session_stop(&s);
	return s.stop < 0 ? AUR_EXIT_FAILURE : AUR_EXIT_OK;

failed:
	words.len = 0;
	message_printf(&words, "the server could not start the stream");
	send_error(&words);
	session_stop(&s);
	return AUR_EXIT_FAILURE;
}
