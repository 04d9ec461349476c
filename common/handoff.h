/*
 * handoff.h - handing a stream to the warm renderer (docs/warm-start.md).
 *
 * `aur-render --serve SOCKET` loads the SoundFont once and listens on a
 * Unix socket of kind SOCK_SEQPACKET, where each message arrives whole.
 * A client (aur-handoff) connects and sends one request: the stream's
 * settings, with its standard input, output and error attached as
 * SCM_RIGHTS.  The server forks a child that renders from that input to
 * that output exactly as `aur-render` would, and answers twice on the
 * same connection: once when the child has started (or with the reason it
 * could not), and once when the child has ended, with its exit status.
 * Both ends are of one build, so the messages are fixed-size structs; the
 * version field catches a client and a server of different builds.
 *
 * Only a process of the server's own user may connect: the server checks
 * SO_PEERCRED, and the socket's directory is the caller's to make private.
 */
#ifndef AUR_HANDOFF_H
#define AUR_HANDOFF_H

#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

#define HANDOFF_VERSION 2
#define HANDOFF_FDS 3           /* standard input, output and error, in that order */
#define HANDOFF_SHM_MAX 255     /* bytes of a shared-memory name, without the NUL */
#define HANDOFF_MESSAGE_MAX 200 /* bytes of a refusal, without the NUL */

struct handoff_request {
	uint32_t version;       /* HANDOFF_VERSION */
	uint32_t rate;          /* Hz: one the server has prepared */
	char session[SHM_SESSION_MAX + 1];     /* $AURALIS_SESSION, or "" */
	char shm[HANDOFF_SHM_MAX + 1];         /* $AURALIS_SHM, or "" for the default */
	uint32_t playing_nice;  /* nice steps the child lowers itself by once playing (stream.h) */
};

enum handoff_answer {
	HANDOFF_STARTED = 1,    /* pid is the render child */
	HANDOFF_REFUSED = 2,    /* message says why; nothing was read or written */
	HANDOFF_ENDED = 3,      /* the child exited with status (or died of a signal: 128 + it) */
};

struct handoff_reply {
	uint32_t version;
	uint32_t answer;        /* enum handoff_answer */
	int32_t pid;
	int32_t status;
	char message[HANDOFF_MESSAGE_MAX + 1];
};

/*
 * Connects to the warm renderer listening at path.  Returns the socket
 * (close-on-exec), or -1 with errno (ENAMETOOLONG for a path that does not
 * fit a Unix socket address).
 */
int handoff_connect(const char *path);

/*
 * A request for a stream at rate Hz, counted under session and in the
 * shared memory shm (either NULL or too long: none, the default), whose
 * child lowers its priority by playing_nice once the stream plays
 * (aur-render --playing-nice).
 */
struct handoff_request handoff_request_make(uint32_t rate, const char *session, const char *shm,
    uint32_t playing_nice);

/*
 * Why a stream did not start, for a warning: the reply's own message, or
 * what rc from handoff_recv_reply says (errno's text when rc < 0).
 */
const char *handoff_refusal(int rc, const struct handoff_reply *reply);

/*
 * Sends req on the connected socket sock with fds[HANDOFF_FDS] attached.
 * Returns 0, or -1 with errno.
 */
int handoff_send_request(int sock, const struct handoff_request *req, const int fds[HANDOFF_FDS]);

/*
 * Receives one request and its descriptors (close-on-exec) into *req and
 * fds.  Returns 0; -1 with errno for a failed read, EPROTO for a message
 * of the wrong size or without exactly HANDOFF_FDS descriptors (any that
 * came are closed), EPROTONOSUPPORT for another version.  The strings in
 * *req are NUL-terminated.
 */
int handoff_recv_request(int sock, struct handoff_request *req, int fds[HANDOFF_FDS]);

/* Sends a reply (never raising SIGPIPE).  Returns 0, or -1 with errno. */
int handoff_send_reply(int sock, enum handoff_answer answer, pid_t pid, int status,
    const char *message);

/*
 * Receives one reply.  Returns 1, 0 at the end of the connection, or -1
 * with errno (EPROTO for a malformed reply).  The message is NUL-terminated.
 */
int handoff_recv_reply(int sock, struct handoff_reply *reply);

#endif
