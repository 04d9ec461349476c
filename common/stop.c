#include "stop.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>

#include "err.h"
#include "io.h"

volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

void
stop_on_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	io_ignore_sigpipe();
}

int
stop_signalfd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	io_ignore_sigpipe();
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

