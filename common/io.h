/*
 * io.h - full writes for pipes and files.
 */
#ifndef AUR_IO_H
#define AUR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

/*
 * Writes all len bytes of buf to fd, retrying on EINTR and advancing on
 * short writes.  Returns 0, or -1 with errno set (EPIPE when the reader
 * is gone).  Callers ignore SIGPIPE so that EPIPE arrives here.
 */
int write_full(int fd, const void *buf, size_t len);

/*
 * As write_full, but once *stop is non-zero (a signal handler set it) the
 * write goes on only while the reader takes data: when it has taken
 * nothing for 100 ms, returns -1 with errno EINTR.  So a tool still writes
 * its last block when stopped, yet obeys SIGTERM when its reader stopped
 * reading.  The handler must be installed without SA_RESTART, so that a
 * blocked write is interrupted.
 */
int write_full_or_stop(int fd, const void *buf, size_t len, const volatile sig_atomic_t *stop);

/*
 * As write_full_or_stop, and besides, when the reader takes nothing for
 * stall_ms milliseconds (>= 0), returns -1 with errno ETIMEDOUT.  For a
 * writer that must not wait for ever on a reader that stopped reading.
 */
int write_full_within(int fd, const void *buf, size_t len, const volatile sig_atomic_t *stop,
    int stall_ms);

/*
 * Ignores SIGPIPE, so that a closed downstream shows up as EPIPE from
 * write_full and the tool can finish quietly.
 */
void io_ignore_sigpipe(void);

/*
 * How a tool's standard output ended, the one way every tool handles a
 * write that failed (DESIGN.md, decision 6).  A tool keeps one, zeroed;
 * the first failed write is noted with out_end_note, after which the tool
 * writes nothing more, leaves its loop the ordinary way (so that it still
 * frees, removes and reports what it would at any other end), and exits
 * with `status` unless a signal or its input says otherwise.  No helper
 * calls exit().
 */
struct out_end {
	bool ended;             /* a write failed: the output is over */
	int status;             /* the exit status that calls for */
};

/*
 * Notes a failed write to standard output, the first one only: err is
 * the errno that write_full and its kin left, stop the stop signal (0 if
 * none).  EPIPE, the reader went away: AUR_EXIT_OK, quietly.  EINTR while
 * stopping, the reader was not reading: 128 + stop, quietly.  Anything
 * else: "prog: standard output: reason" on stderr and AUR_EXIT_FAILURE.
 * Returns end->status.
 */
int out_end_note(struct out_end *end, int err, int stop);

/*
 * Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed, so
 * that no descriptor opened or received later lands there (and is then
 * taken for a standard stream).
 */
void io_std_open(void);

#endif
