/*
 * io.h - full writes for pipes and files.
 */
#ifndef AUR_IO_H
#define AUR_IO_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes all len bytes of buf to fd, retrying on EINTR and advancing on
 * short writes.  Returns 0, or -1 with errno set (EPIPE when the reader
 * is gone).  Callers ignore SIGPIPE so that EPIPE arrives here.
 */
int write_full(int fd, const void *buf, size_t len);

/*
 * Ignores SIGPIPE, so that a closed downstream shows up as EPIPE from
 * write_full and the tool can finish quietly.
 */
void io_ignore_sigpipe(void);

#endif
