// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Workload for tracing benchmarks: N system calls in a tight loop, then
 * prints "calls rate_per_second".
 *   getppid_bench [-w] [-k] [N]
 * -w waits for a newline on stdin first (after printing its pid), so a
 * tracer can attach before the loop starts. -k makes each call
 * kill(getpid(), SIGWINCH) instead of getppid(): SIGWINCH is ignored by
 * default, so nothing is delivered, but the kernel still passes the
 * signal_generate tracepoint, whose raw arguments are typed (the target
 * task_struct). N defaults to 2,000,000. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = 2000000, i;
	int wait = 0, kill_self = 0, c;
	pid_t self = getpid();
	struct timespec a, b;
	double secs;

	while ((c = getopt(argc, argv, "wk")) != -1) {
		if (c == 'w')
			wait = 1;
		else if (c == 'k')
			kill_self = 1;
		else
			return 2;
	}
	if (optind < argc)
		n = atol(argv[optind]);
	if (kill_self)
		signal(SIGWINCH, SIG_DFL);
	if (wait) {
		char line[16];

		printf("%d\n", self);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (kill_self)
		for (i = 0; i < n; i++)
			syscall(SYS_kill, self, SIGWINCH);
	else
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%ld %.0f\n", n, n / secs);
	return 0;
}
