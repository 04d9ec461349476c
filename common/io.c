#include "io.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#define STOP_GRACE_MS 100      /* how long a stopping writer waits for its reader */

int
write_full(int fd, const void *buf, size_t len)
{
	return write_full_or_stop(fd, buf, len, NULL);
}

int
write_full_or_stop(int fd, const void *buf, size_t len, const volatile sig_atomic_t *stop)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n;

		if (stop && *stop) {
			/*
			 * Stopping: go on only while the reader takes data.  After
			 * POLLOUT a pipe has room for PIPE_BUF bytes, so a write of at
			 * most that never blocks.
			 */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int ready = poll(&pfd, 1, STOP_GRACE_MS);

			if (ready < 0 && errno == EINTR)
				continue;
			if (ready <= 0 || !(pfd.revents & POLLOUT)) {
				if (pfd.revents & (POLLERR | POLLHUP))
					errno = EPIPE;
				else
					errno = EINTR;
				return -1;
			}
			n = write(fd, p, len < PIPE_BUF ? len : PIPE_BUF);
		} else {
			n = write(fd, p, len);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;       /* the loop looks at *stop again */
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
