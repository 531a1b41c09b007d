// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Workload for the daemon benchmark (scripts/bench/daemon.sh): makes N
 * (argv[2]) calls of one cheap system call without arguments, named by
 * argv[1] (getppid, getpid, gettid, getuid, geteuid, getgid, getegid,
 * getpgrp), through syscall(2) so that no libc caching can skip one, and
 * prints N. Each policy of the benchmark traces its own one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
	const char *name;
	long nr;
} calls[] = {
	{ "getppid", SYS_getppid }, { "getpid", SYS_getpid },   { "gettid", SYS_gettid },
	{ "getuid", SYS_getuid },   { "geteuid", SYS_geteuid }, { "getgid", SYS_getgid },
	{ "getegid", SYS_getegid }, { "getpgrp", SYS_getpgrp },
};

int main(int argc, char **argv)
{
	long i, n, nr = -1;
	size_t k;

	for (k = 0; argc == 3 && k < sizeof(calls) / sizeof(calls[0]); k++)
		if (!strcmp(argv[1], calls[k].name))
			nr = calls[k].nr;
	if (nr < 0) {
		fprintf(stderr, "usage: syscall_loop getppid|getpid|gettid|getuid|geteuid|getgid|"
			"getegid|getpgrp N\n");
		return 2;
	}
	n = atol(argv[2]);
	for (i = 0; i < n; i++)
		syscall(nr);
	printf("%ld\n", n);
	return 0;
}
