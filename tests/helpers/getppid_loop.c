// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Workload for the counter tests: makes N (argv[1]) getppid() system calls,
 * through syscall(2) so that no libc caching can skip one, and prints N. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long i, n = argc > 1 ? atol(argv[1]) : 1000;

	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	printf("%ld\n", n);
	return 0;
}
