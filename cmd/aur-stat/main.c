/*
 * main.c - aur-stat: its options, the segment made when missing, the
 * listening socket, libmicrohttpd started, and the main thread's loop
 * that keeps the health window until SIGINT or SIGTERM.  How the whole
 * works, and which part does what: stat.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "err.h"
#include "io.h"
#include "opt.h"
#include "stat.h"

static const char usage_text[] =
	"usage: aur-stat [options]\n"
	"\n"
	"Serve the status and metrics of every live Auralis session over HTTP,\n"
	"from the shared memory that the aur-* tools count into (docs/stat.md):\n"
	"\n"
	"  GET /api/status    health, sessions, SoundFont and sample rate (JSON)\n"
	"  GET /api/metrics   every counter, histogram summaries, live sessions (JSON)\n"
	"  GET /metrics       the same for Prometheus (text format 0.0.4)\n"
	"\n"
	"options:\n"
	"  -a, --address ADDR      IPv4 or IPv6 address to listen on, and only there\n"
	"                          (default 127.0.0.1)\n"
	"  -p, --port N            TCP port, 0..65535 (default 8081); 0 picks a free one\n"
	"      --port-file FILE    write the port to FILE once listening\n"
	"      --cors-origin LIST  web pages that may read the answers: origins such\n"
	"                          as https://example.org:8443, comma-separated, or *\n"
	"                          for any; repeatable.  Pages served over http from\n"
	"                          the address aur-stat listens on (any port; and\n"
	"                          localhost, 127.0.0.1 and [::1] when it is a\n"
	"                          loopback one) are always allowed.\n"
	"  -s, --soundfont FILE    the SoundFont the sessions use, found as aur-render\n"
	"                          finds it (see aur-render --help)\n"
	"  -r, --rate HZ           the sessions' sample rate, 8000..192000 (default 44100)\n"
	"  -w, --window SECONDS    health looks at the last SECONDS, 1..3600 (default 60)\n"
	"  -t, --threads N         threads that answer requests, 1..64 (default 4)\n"
	"      --header-timeout S  a connection must send a whole request head within\n"
	"                          S seconds of being ready for one, 1..600 (default 10)\n"
	"      --max-sessions N    the node is full at N live sessions, 0..512\n"
	"                          (default 0: no limit); as websocketd's --maxforks\n"
	"      --drain SECONDS     do not serve: mark the node draining and exit.  New\n"
	"                          listeners are sent on at once, those playing after\n"
	"                          SECONDS (the balancer's time to notice), 0..3600\n"
	"      --undrain           do not serve: end a drain and exit\n"
	"  -h, --help              show this help\n"
	"  -V, --version           show the version\n"
	"\n"
	"A client address may hold 64 connections; the last 16 of all are kept\n"
	"for clients on 127.0.0.1 or ::1, such as a local health check.\n"
	"\n"
	"Only GET and HEAD are served, and OPTIONS for CORS preflight requests;\n"
	"other methods get 405, other paths 404, both with a JSON body.  On start\n"
	"it says \"aur-stat: listening on http://ADDR:PORT/\" on standard error.\n"
	"\n"
	"\"ready\" in /api/status is true when the node takes new listeners: health\n"
	"is ok, it is not draining, and it is not full.  A load balancer's health\n"
	"check looks for it (deploy/haproxy.cfg).  The shared memory is made at\n"
	"start if it is missing, so an idle node is ready.\n"
	"\n"
	"Health is \"degraded\" when the shared memory cannot be read, no SoundFont\n"
	"is found, or in the window: over 1 % of chunks were late, a client\n"
	"reported an underrun, or the render time of a block was over 80 % of its\n"
	"duration at p99.\n"
	"\n"
	"environment: AURALIS_SHM (shared memory name, default /auralis-UID,\n"
	"UID the effective user id, as for every aur-* tool),\n"
	"AURALIS_SOUNDFONT and AURALIS_SOUNDFONT_SEARCH (as aur-render).\n"
	"\n"
	"exit status: 0 stopped by SIGINT or SIGTERM (a server's normal end), or\n"
	"--drain/--undrain done; 1 cannot listen or start, or cannot open the\n"
	"shared memory to drain it; 2 usage.\n";

struct options opt;
int64_t started_ns;

/* Adds the origins of a --cors-origin LIST; false for a malformed one. */
static bool
origins_add(char *list)
{
	char *save = NULL;

	for (char *o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		const char *rest = !strncasecmp(o, "http://", 7) ? o + 7 :
		    !strncasecmp(o, "https://", 8) ? o + 8 : NULL;
		char host[300];

		if (!strcmp(o, "*")) {
			opt.any_origin = true;
			continue;
		}
		if (!rest || !host_part(rest, host, sizeof host)) {
			warnf("--cors-origin: expected http://HOST[:PORT], https://HOST[:PORT] or *, "
			    "not '%s'", o);
			return false;
		}
		if (opt.norigins == ORIGINS_MAX) {
			warnf("--cors-origin: at most %d origins", ORIGINS_MAX);
			return false;
		}
		opt.origins[opt.norigins++] = o;
	}
	return true;
}

static void
parse_options(int argc, char **argv)
{
	enum { OPT_PORT_FILE = 256, OPT_CORS, OPT_HEADER_TIMEOUT, OPT_MAX_SESSIONS, OPT_DRAIN,
		OPT_UNDRAIN };
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "cors-origin", required_argument, NULL, OPT_CORS },
		{ "soundfont", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "threads", required_argument, NULL, 't' },
		{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
		{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
		{ "drain", required_argument, NULL, OPT_DRAIN },
		{ "undrain", no_argument, NULL, OPT_UNDRAIN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	int c;

	opt = (struct options){
		.address = "127.0.0.1", .port = 8081, .rate = 44100, .window_s = 60, .threads = 4,
		.header_timeout_s = 10, .drain_s = -1,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:p:s:r:w:t:hV", longopts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'a': opt.address = optarg; break;
		case 'p': bad = opt_long("--port", optarg, 0, 65535, &opt.port); break;
		case OPT_PORT_FILE: opt.port_file = optarg; break;
		case OPT_CORS: bad = !origins_add(optarg); break;
		case OPT_HEADER_TIMEOUT:
			bad = opt_double("--header-timeout", optarg, 1, 600, &opt.header_timeout_s);
			break;
		case OPT_MAX_SESSIONS:
			bad = opt_long("--max-sessions", optarg, 0, SHM_SLOTS, &opt.max_sessions);
			break;
		case OPT_DRAIN: bad = opt_double("--drain", optarg, 0, 3600, &opt.drain_s); break;
		case OPT_UNDRAIN: opt.undrain = true; break;
		case 's': opt.soundfont = optarg; break;
		case 'r': bad = opt_long("--rate", optarg, 8000, 192000, &opt.rate); break;
		case 'w': bad = opt_double("--window", optarg, 1, 3600, &opt.window_s); break;
		case 't': bad = opt_long("--threads", optarg, 1, 64, &opt.threads); break;
		case 'h': fputs(usage_text, stdout); exit(AUR_EXIT_OK);
		case 'V': printf("aur-stat %s\n", AURALIS_VERSION); exit(AUR_EXIT_OK);
		default: opt_refused(c, argv, usage_text);
		}
		if (bad)
			usage_exit(usage_text);
	}
	if (optind < argc) {
		warnf("unexpected argument '%s'", argv[optind]);
		usage_exit(usage_text);
	}
	if (opt.drain_s >= 0 && opt.undrain) {
		warnf("--drain and --undrain: one or the other");
		usage_exit(usage_text);
	}
}

/*
 * --drain and --undrain: marks the node's shared memory (made if missing)
 * and exits.  Returns the exit status.
 */
static int
drain_command(void)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(shm_default_name(), err, sizeof err);

	if (!seg) {
		warnf("%s", err);
		return AUR_EXIT_FAILURE;
	}
	if (opt.undrain) {
		shm_drain_clear(seg);
		warnf("%s: serving: new listeners are taken again", shm_default_name());
	} else {
		shm_drain_set(seg, (int64_t)llround(opt.drain_s * 1000));
		warnf("%s: draining: no new listeners; those playing are sent on in %g s",
		    shm_default_name(), opt.drain_s);
	}
	shm_segment_close(seg);
	return AUR_EXIT_OK;
}

/*
 * Makes the node's shared memory if it is missing, so that an idle node
 * that nobody has listened to yet is healthy: a balancer's health check
 * passes before the first listener comes.  A failure is only warned of;
 * /api/status then says why.
 */
static void
segment_make(void)
{
	char err[512];
	struct shm_segment *seg = shm_segment_open(shm_default_name(), err, sizeof err);

	if (!seg)
		warnf("%s", err);
	shm_segment_close(seg);
}

/*
 * Binds and listens on opt.address and opt.port; url gets the address to
 * tell, with the port chosen.  Exits with a message when it cannot.
 */
static int
listen_socket(char *url, size_t urllen, unsigned *port)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	}, *ai;
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char host[INET6_ADDRSTRLEN + 64], service[8], shown[INET6_ADDRSTRLEN];
	size_t len = strlen(opt.address);
	int fd, one = 1;

	/* "[::1]" as in a URL is accepted too. */
	if (len >= 2 && len < sizeof host && opt.address[0] == '[' && opt.address[len - 1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)len - 2, opt.address + 1);
	else
		snprintf(host, sizeof host, "%s", opt.address);
	snprintf(service, sizeof service, "%ld", opt.port);
	if (getaddrinfo(host, service, &hints, &ai) != 0) {
		warnf("--address: expected an IPv4 or IPv6 address such as 127.0.0.1 or ::1, not '%s'",
		    opt.address);
		usage_exit(usage_text);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		dief(AUR_EXIT_FAILURE, "socket:");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0)
		dief(AUR_EXIT_FAILURE, "cannot listen on %s port %ld:", opt.address, opt.port);
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		dief(AUR_EXIT_FAILURE, "getsockname:");
	if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, shown, sizeof shown);
		*port = ntohs(in6->sin6_port);
		snprintf(url, urllen, "http://[%s]:%u/", shown, *port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&sa;

		inet_ntop(AF_INET, &in4->sin_addr, shown, sizeof shown);
		*port = ntohs(in4->sin_port);
		snprintf(url, urllen, "http://%s:%u/", shown, *port);
	}
	return fd;
}

/* Writes the port to --port-file, whole or not at all (a rename). */
static void
port_file_write(unsigned port)
{
	char tmp[4096];
	FILE *f;

	if (!opt.port_file)
		return;
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", opt.port_file, (long)getpid());
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 ||
	    rename(tmp, opt.port_file) < 0)
		dief(AUR_EXIT_FAILURE, "%s:", opt.port_file);
}

/* Room for every connection: the soft limit on open files up to the hard one. */
static void
files_limit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t stop_signals;
	char url[128];
	unsigned port;
	int fd, sig = 0;
	int64_t every, next_snapshot;

	err_init(argv[0]);
	parse_options(argc, argv);
	if (opt.drain_s >= 0 || opt.undrain)
		return drain_command();
	started_ns = clock_now_ns();
	io_ignore_sigpipe();
	files_limit_raise();
	/*
	 * Blocked here, so in every thread; the main thread takes them with
	 * sigtimedwait.  Not ignored, even when started in the background.
	 */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

	segment_make();
	fd = listen_socket(url, sizeof url, &port);
	every = (int64_t)(opt.window_s * NS / (SNAPSHOTS - 1));
	keep_up();
	daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG,
	    0, on_accept, NULL, on_request, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opt.threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(CONNECTIONS_PER_THREAD * opt.threads),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_ADDRESS_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_END);
	if (!daemon)
		dief(AUR_EXIT_FAILURE, "cannot start the HTTP server on %s", url);
	port_file_write(port);
	warnf("listening on %s", url);

	/* A snapshot every window/12, a sweep of slow connections every second. */
	next_snapshot = clock_now_ns() + every;
	while (sig != SIGINT && sig != SIGTERM) {
		int64_t wait = next_snapshot - clock_now_ns();
		struct timespec ts;

		wait = wait < 0 ? 0 : wait > NS ? NS : wait;
		ts = (struct timespec){ .tv_sec = wait / NS, .tv_nsec = wait % NS };
		sig = sigtimedwait(&stop_signals, NULL, &ts);
		if (sig >= 0 || errno != EAGAIN)
			continue;
		guard_sweep();
		if (clock_now_ns() >= next_snapshot) {
			keep_up();
			next_snapshot += every;
		}
	}
	MHD_stop_daemon(daemon);       /* closes fd too */
	pthread_mutex_lock(&seg_lock);
	if (seg_current)
		seg_unref_locked(seg_current);
	seg_current = NULL;
	pthread_mutex_unlock(&seg_lock);
	return AUR_EXIT_OK;
}
