#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

#define STOP_GRACE_MS 100      /* how long a stopping writer waits for its reader */

int
write_full(int fd, const void *buf, size_t len)
{
	return write_full_or_stop(fd, buf, len, NULL);
}

int
write_full_or_stop(int fd, const void *buf, size_t len, const volatile sig_atomic_t *stop)
{
	return write_full_within(fd, buf, len, stop, -1);
}

int
write_full_within(int fd, const void *buf, size_t len, const volatile sig_atomic_t *stop,
    int stall_ms)
{
	const char *p = buf;

	while (len > 0) {
		bool stopping = stop && *stop;
		ssize_t n;

		if (stopping || stall_ms >= 0) {
			/*
			 * Wait for room, but not for ever.  After POLLOUT a pipe has
			 * room for PIPE_BUF bytes, so a write of at most that never
			 * blocks.
			 */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int ready = poll(&pfd, 1, stopping ? STOP_GRACE_MS : stall_ms);

			if (ready < 0 && errno == EINTR)
				continue;       /* the loop looks at *stop again */
			if (ready < 0)
				return -1;
			if (ready == 0) {
				errno = stopping ? EINTR : ETIMEDOUT;
				return -1;
			}
			if (!(pfd.revents & POLLOUT)) {
				errno = EPIPE;  /* POLLERR or POLLHUP: the reader is gone */
				return -1;
			}
			n = write(fd, p, len < PIPE_BUF ? len : PIPE_BUF);
		} else {
			n = write(fd, p, len);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
io_ignore_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

void
io_std_open(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

int
out_end_note(struct out_end *end, int err, int stop)
{
	if (end->ended)
		return end->status;
	end->ended = true;
	if (err == EPIPE) {
		end->status = AUR_EXIT_OK;
	} else if (err == EINTR && stop) {
		end->status = 128 + stop;
	} else {
		warnf("standard output: %s", strerror(err));
		end->status = AUR_EXIT_FAILURE;
	}
	return end->status;
}
