/*
 * handoff.c - the warm renderer's request and replies (handoff.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff.h"

int
handoff_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int sock;

	if (strlen(path) >= sizeof addr.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -1;
	if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
		int e = errno;

		close(sock);
		errno = e;
		return -1;
	}
	return sock;
}

struct handoff_request
handoff_request_make(uint32_t rate, const char *session, const char *shm, uint32_t playing_nice)
{
	struct handoff_request req = {
		.version = HANDOFF_VERSION, .rate = rate, .playing_nice = playing_nice,
	};

	if (session && strlen(session) < sizeof req.session)
		memcpy(req.session, session, strlen(session) + 1);
	if (shm && strlen(shm) < sizeof req.shm)
		memcpy(req.shm, shm, strlen(shm) + 1);
	return req;
}

const char *
handoff_refusal(int rc, const struct handoff_reply *reply)
{
	if (rc < 0)
		return strerror(errno);
	if (rc == 0)
		return "it closed the connection";
	return reply->message[0] ? reply->message : "refused";
}

int
handoff_send_request(int sock, const struct handoff_request *req, const int fds[HANDOFF_FDS])
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * HANDOFF_FDS)];
	} control;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = sizeof *req };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof control.buf,
	};
	struct cmsghdr *c;
	ssize_t n;

	memset(&control, 0, sizeof control);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * HANDOFF_FDS);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * HANDOFF_FDS);
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof *req) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Closes every descriptor that came with msg. */
static void
close_passed(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; (i + 1) * sizeof(int) <= c->cmsg_len - CMSG_LEN(0); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
			close(fd);
		}
	}
}

int
handoff_recv_request(int sock, struct handoff_request *req, int fds[HANDOFF_FDS])
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * (HANDOFF_FDS + 1))];
	} control;
	struct iovec iov = { .iov_base = req, .iov_len = sizeof *req };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buf, .msg_controllen = sizeof control.buf,
	};
	struct cmsghdr *c;
	ssize_t n;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if ((size_t)n != sizeof *req || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !c ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int) * HANDOFF_FDS) || CMSG_NXTHDR(&msg, c)) {
		close_passed(&msg);
		errno = EPROTO;
		return -1;
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * HANDOFF_FDS);
	if (req->version != HANDOFF_VERSION) {
		for (int i = 0; i < HANDOFF_FDS; i++)
			close(fds[i]);
		errno = EPROTONOSUPPORT;
		return -1;
	}
	req->session[sizeof req->session - 1] = '\0';
	req->shm[sizeof req->shm - 1] = '\0';
	return 0;
}

int
handoff_send_reply(int sock, enum handoff_answer answer, pid_t pid, int status, const char *message)
{
	struct handoff_reply reply = {
		.version = HANDOFF_VERSION, .answer = (uint32_t)answer, .pid = pid, .status = status,
	};
	ssize_t n;

	if (message)
		snprintf(reply.message, sizeof reply.message, "%s", message);
	do
		n = send(sock, &reply, sizeof reply, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != sizeof reply) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
handoff_recv_reply(int sock, struct handoff_reply *reply)
{
	ssize_t n;

	do
		n = recv(sock, reply, sizeof *reply, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof *reply || reply->version != HANDOFF_VERSION ||
	    reply->answer < HANDOFF_STARTED || reply->answer > HANDOFF_ENDED) {
		errno = EPROTO;
		return -1;
	}
	reply->message[sizeof reply->message - 1] = '\0';
	return 1;
}
