/*
 * http.c - the HTTP side: requests, their limits per address and for
 * slow clients, and CORS (stat.h, docs/stat.md).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "err.h"
#include "stat.h"

enum route { ROUTE_NONE, ROUTE_STATUS, ROUTE_METRICS, ROUTE_PROMETHEUS };

static enum route
route_find(const char *url)
{
	if (!strcmp(url, "/api/status"))
		return ROUTE_STATUS;
	if (!strcmp(url, "/api/metrics"))
		return ROUTE_METRICS;
	if (!strcmp(url, "/metrics"))
		return ROUTE_PROMETHEUS;
	return ROUTE_NONE;
}

/*
 * The host part of "host[:port]" or "[v6]:port" at s, into out; false if
 * it is not of that form: a name or address, then nothing or a colon and
 * at most five digits.
 */
bool
host_part(const char *s, char *out, size_t outlen)
{
	const char *end;
	size_t len;

	if (*s == '[') {
		end = s + 1 + strspn(s + 1, "0123456789abcdefABCDEF:.");
		if (*end != ']')
			return false;
		end++;
	} else {
		end = s + strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_");
	}
	len = (size_t)(end - s);
	if (len == 0 || len >= outlen)
		return false;
	if (*end == ':') {
		if (!end[1] || strspn(end + 1, "0123456789") != strlen(end + 1) || strlen(end + 1) > 5)
			return false;
	} else if (*end) {
		return false;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

/* True when host (as in a URL: "[::1]" for IPv6) names the address we listen on. */
static bool
host_is_ours(const char *host)
{
	static const char *const loopback[] = { "127.0.0.1", "localhost", "[::1]" };
	bool ours_loopback = !strcmp(opt.address, "127.0.0.1") || !strcmp(opt.address, "::1");
	size_t n = strlen(opt.address);

	if (ours_loopback) {
		for (size_t i = 0; i < sizeof loopback / sizeof *loopback; i++)
			if (!strcasecmp(host, loopback[i]))
				return true;
		return false;
	}
	if (host[0] == '[')
		return strlen(host) == n + 2 && !strncasecmp(host + 1, opt.address, n) && host[n + 1] == ']';
	return !strcasecmp(host, opt.address);
}

/*
 * The Access-Control-Allow-Origin to answer a request with, or NULL:
 * "*" with --cors-origin '*', the Origin itself when it is listed, or when
 * it is http on the address we listen on (any port): the page from
 * websocketd on another port of this machine.  Not the Host header's name:
 * a page of evil.example whose name has been pointed at this machine (DNS
 * rebinding) sends Host: evil.example, and must not read the answers.
 */
static const char *
cors_origin(struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	char origin_host[300];

	if (!origin)
		return NULL;
	if (opt.any_origin)
		return "*";
	for (int i = 0; i < opt.norigins; i++)
		if (!strcasecmp(origin, opt.origins[i]))
			return origin;
	if (!strncasecmp(origin, "http://", 7) &&
	    host_part(origin + 7, origin_host, sizeof origin_host) && host_is_ours(origin_host))
		return origin;
	return NULL;
}

/*
 * Queues a response: body (malloc'd, taken over; NULL for none) of type,
 * with the headers every answer has.  allow: the Allow header, or NULL.
 */
static enum MHD_Result
respond(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len,
	const char *allow)
{
	struct MHD_Response *res;
	const char *origin = cors_origin(conn);
	enum MHD_Result ret;

	res = body ? MHD_create_response_from_buffer_with_free_callback(len, body, free) :
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!res) {
		free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(res, MHD_HTTP_HEADER_VARY, "Origin");
	if (allow)
		MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, allow);
	if (origin) {
		MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, origin);
		if (status == MHD_HTTP_NO_CONTENT) {
			MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_METHODS,
			    "GET, HEAD, OPTIONS");
			MHD_add_response_header(res, MHD_HTTP_HEADER_ACCESS_CONTROL_MAX_AGE, "600");
		}
	}
	ret = MHD_queue_response(conn, status, res);
	MHD_destroy_response(res);
	return ret;
}

#define JSON_TYPE "application/json"
#define PROMETHEUS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define ALLOWED "GET, HEAD, OPTIONS"

static enum MHD_Result
respond_json(struct MHD_Connection *conn, unsigned status, json_t *doc, bool ok,
	const char *allow)
{
	size_t len = 0;
	char *body = json_body(doc, ok, &len);

	if (!body) {
		static const char oom[] = "{\"error\":\"out of memory\"}\n";

		return respond(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, JSON_TYPE, strdup(oom),
		    sizeof oom - 1, NULL);
	}
	return respond(conn, status, JSON_TYPE, body, len, allow);
}

/* {"error": what, name: value} */
static enum MHD_Result
respond_error(struct MHD_Connection *conn, unsigned status, const char *what, const char *name,
	const char *value, const char *allow)
{
	json_t *doc = json_object();
	bool ok = doc != NULL;

	if (doc) {
		put(&ok, doc, "error", json_string(what));
		put(&ok, doc, name, json_text(value));
	}
	return respond_json(conn, status, doc, ok, allow);
}

/*
 * Slow clients.  libmicrohttpd's timeout counts from a connection's last
 * byte, so a client that trickles a header line every few seconds holds
 * its connection for ever, and a thousand such clients every connection
 * there is.  So each connection has a deadline for a whole request head,
 * --header-timeout from when it is ready for one (accepted, or its last
 * answer sent): once a second the main thread shuts down the socket of a
 * connection past it, and libmicrohttpd then closes the connection.  The
 * list is guarded by a mutex that libmicrohttpd's notification of a closed
 * connection takes too, and it calls that before it closes the socket:
 * so a descriptor in the list is never one that has been closed and
 * perhaps reused.  Each client address may hold PER_ADDRESS_MAX
 * connections (libmicrohttpd counts them), and the last LOOPBACK_RESERVE
 * of the whole are kept for clients on 127.0.0.1 or ::1: a local health
 * check still gets in when the rest of the world holds every other one.
 */
struct guarded {
	int fd;
	int64_t waiting_ns;             /* ready for a request since; 0 while in one */
	struct guarded *prev, *next;
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct guarded guard_list = { .prev = &guard_list, .next = &guard_list };
static unsigned guard_count;

void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
	enum MHD_ConnectionNotificationCode code)
{
	struct guarded *g = *socket_context;
	const union MHD_ConnectionInfo *info;

	(void)cls;
	pthread_mutex_lock(&guard_lock);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info && (g = calloc(1, sizeof *g))) {
			g->fd = info->connect_fd;
			g->waiting_ns = clock_now_ns();
			g->next = &guard_list;
			g->prev = guard_list.prev;
			g->prev->next = g;
			guard_list.prev = g;
			*socket_context = g;
		}
		guard_count++;
	} else {
		if (g) {
			g->prev->next = g->next;
			g->next->prev = g->prev;
			free(g);
			*socket_context = NULL;
		}
		guard_count--;
	}
	pthread_mutex_unlock(&guard_lock);
}

/* Marks the connection of a request as in one (waiting false) or ready for the next. */
static void
guard_mark(struct MHD_Connection *conn, bool waiting)
{
	const union MHD_ConnectionInfo *info =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct guarded *g = info ? info->socket_context : NULL;

	if (!g)
		return;
	pthread_mutex_lock(&guard_lock);
	g->waiting_ns = waiting ? clock_now_ns() : 0;
	pthread_mutex_unlock(&guard_lock);
}

void
on_completed(void *cls, struct MHD_Connection *conn, void **state,
	enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)state;
	(void)code;
	guard_mark(conn, true);
}

/* Shuts down the connections that took too long over a request head. */
void
guard_sweep(void)
{
	int64_t limit = (int64_t)(opt.header_timeout_s * NS), now = clock_now_ns();

	pthread_mutex_lock(&guard_lock);
	for (struct guarded *g = guard_list.next; g != &guard_list; g = g->next)
		if (g->waiting_ns && now - g->waiting_ns > limit) {
			shutdown(g->fd, SHUT_RDWR);
			g->waiting_ns = 0;      /* once is enough */
		}
	pthread_mutex_unlock(&guard_lock);
}

/* 127.0.0.1 or ::1 (also as ::ffff:127.0.0.1): where a local health check comes from. */
static bool
address_is_local(const struct sockaddr *addr, socklen_t len)
{
	static const unsigned char v4[4] = { 127, 0, 0, 1 };

	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) == INADDR_LOOPBACK;
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		    (IN6_IS_ADDR_V4MAPPED(a) && !memcmp(a->s6_addr + 12, v4, 4));
	}
	return false;
}

/* Keeps the last LOOPBACK_RESERVE connections for local clients. */
enum MHD_Result
on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	unsigned limit = (unsigned)(CONNECTIONS_PER_THREAD * opt.threads) - LOOPBACK_RESERVE;
	unsigned n;

	(void)cls;
	pthread_mutex_lock(&guard_lock);
	n = guard_count;
	pthread_mutex_unlock(&guard_lock);
	return n < limit || address_is_local(addr, len) ? MHD_YES : MHD_NO;
}

enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
	enum route route = route_find(url);
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	struct view *v;
	bool ok = true;
	json_t *doc;

	if (!*state)
		guard_mark(conn, false);        /* the head is in */
	/* Answered at once, on the first call: a request body is never read. */
	if (!get && strcmp(method, MHD_HTTP_METHOD_OPTIONS))
		return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
		    "method", method, ALLOWED);
	/* The rest on the second, when the request is complete: so it can be kept alive. */
	if (!*state) {
		*state = conn;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;          /* a body that a GET should not have */
		return MHD_YES;
	}
	if (route == ROUTE_NONE)
		return respond_error(conn, MHD_HTTP_NOT_FOUND, "not found", "path", url, NULL);
	if (!get)       /* OPTIONS: a CORS preflight, or a question about methods */
		return respond(conn, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, ALLOWED);
	if (!(v = view_read(route != ROUTE_STATUS)))
		return respond_json(conn, MHD_HTTP_OK, NULL, false, NULL);
	if (route == ROUTE_PROMETHEUS) {
		size_t len = 0;
		char *body = prometheus_body(v, &len);

		view_free(v);
		if (!body)
			return respond_json(conn, MHD_HTTP_OK, NULL, false, NULL);
		return respond(conn, MHD_HTTP_OK, PROMETHEUS_TYPE, body, len, NULL);
	}
	doc = route == ROUTE_STATUS ? status_json(&ok, v) : metrics_json(&ok, v);
	view_free(v);
	return respond_json(conn, MHD_HTTP_OK, doc, ok, NULL);
}

void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	vsnprintf(line, sizeof line, fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	warnf("%s", line);
}
