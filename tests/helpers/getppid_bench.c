// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Workload for tracing benchmarks: N getppid() calls in a tight loop, then
 * prints "calls rate_per_second". Waits for a newline on stdin first when
 * given -w, so a tracer can attach before the loop starts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[argc - 1]) : 2000000, i;
	struct timespec a, b;
	double secs;

	if (argc > 2 && !strcmp(argv[1], "-w")) {
		char line[16];

		printf("%d\n", getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	printf("%ld %.0f\n", n, n / secs);
	return 0;
}
