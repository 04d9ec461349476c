/*
 * stop.h - how a tool is asked to stop.
 *
 * SIGINT and SIGTERM only set stop_signal (the handler does nothing else);
 * the tool looks at it in its loop, finishes the block it has, and exits
 * with 128 + stop_signal.  The handlers are installed without SA_RESTART,
 * so a blocked read or write returns EINTR and the loop sees the flag.
 * SIGPIPE is ignored: a closed downstream shows up as EPIPE.
 */
#ifndef AUR_STOP_H
#define AUR_STOP_H

#include <signal.h>
#include <stdnoreturn.h>

/* The signal that asked the tool to stop, or 0. */
extern volatile sig_atomic_t stop_signal;

/* Installs the handlers described above. */
void stop_on_signals(void);

/*
 * For a process that waits for its children and its stop signals in one
 * poll loop: blocks SIGCHLD, SIGINT, SIGTERM and SIGHUP (in the calling
 * thread, and so in every thread it starts later: call it before any),
 * ignores SIGPIPE, and returns a signalfd (non-blocking, close-on-exec)
 * that reads them, or -1 with errno.
 */
int stop_signalfd(void);

#endif
