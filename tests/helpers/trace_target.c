// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A workload with known behaviour for the tracing tests
 * (tests/integration/test_tracing.sh, tests/vm/test_kprobe.sh):
 *
 *   trace_target [-s] [-k] COMMAND ARGS...
 *
 *   getppid N            N getppid() system calls
 *   paced N USEC         N getppid() calls, USEC microseconds apart (a probe's
 *                        first hit shows when it attached, at little CPU cost)
 *   read SIZE...         one read() of SIZE bytes from /dev/zero each
 *   open PATH...         one openat(O_RDONLY | O_CLOEXEC) each, closed when it worked
 *   sum3 A B C N         N calls of tt_sum3(A, B, C), which returns A+B+C
 *   sum2 A B N           N calls of tt_sum2(A, B), which returns A+B
 *   sleep1ms N           N calls of tt_sleep_1ms(), each a 1 ms nanosleep
 *   stack N              N getppid() system calls made by tt_stack_inner,
 *                        called by tt_stack_outer (for user stacks)
 *
 * With -s it prints its pid and waits for SIGUSR1 before working, so a tracer
 * can attach a probe filtered on that pid first. SIGUSR1 is blocked before the
 * pid is printed, so a signal sent at once is not lost. At the end it prints
 * "done"; with -k it then waits for another SIGUSR1 before exiting, so a
 * tracer can still read its /proc/PID/maps (to symbolize user stacks). The
 * tt_* functions are not inlined and keep frame pointers, so uprobes find
 * them and user stacks walk through them.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TRACED __attribute__((noinline, used, optimize("no-omit-frame-pointer")))

TRACED long tt_sum3(long a, long b, long c)
{
	__asm__ volatile("" ::: "memory");
	return a + b + c;
}

TRACED long tt_sum2(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

TRACED void tt_sleep_1ms(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

TRACED long tt_noop(long x)
{
	__asm__ volatile("" ::: "memory");
	return x;
}

/* getppid through the syscall instruction here, so the user stack of the
 * sys_enter_getppid tracepoint starts in this function; the call after it
 * makes this a function with a frame, so the stack walk finds its caller. */
TRACED long tt_stack_inner(void)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return tt_noop(ret) + 1; /* not a tail call */
}

TRACED long tt_stack_outer(void)
{
	long r = tt_stack_inner();

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static void wait_for_usr1(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigwait(&set, &sig);
}

static void block_usr1(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (!*s || *end) {
		fprintf(stderr, "trace_target: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static int run(int argc, char **argv)
{
	const char *cmd = argv[0];
	bool counted = strcmp(cmd, "read") && strcmp(cmd, "open") && strcmp(cmd, "paced");
	long i, n = counted && argc > 1 ? num(argv[argc - 1]) : 0;
	volatile long sink = 0;

	if (!strcmp(cmd, "getppid")) {
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
	} else if (!strcmp(cmd, "paced") && argc == 3) {
		n = num(argv[1]);
		for (i = 0; i < n; i++) {
			syscall(SYS_getppid);
			usleep(num(argv[2]));
		}
	} else if (!strcmp(cmd, "read")) {
		static char buf[1 << 20];
		int fd = open("/dev/zero", O_RDONLY);

		for (i = 1; i < argc && fd >= 0; i++)
			if (read(fd, buf, num(argv[i]) & ((1 << 20) - 1)) < 0)
				perror("read");
		close(fd);
	} else if (!strcmp(cmd, "open")) {
		for (i = 1; i < argc; i++) {
			int fd = openat(AT_FDCWD, argv[i], O_RDONLY | O_CLOEXEC);

			if (fd >= 0)
				close(fd);
		}
	} else if (!strcmp(cmd, "sum3") && argc == 5) {
		for (i = 0; i < n; i++)
			sink += tt_sum3(num(argv[1]), num(argv[2]), num(argv[3]));
	} else if (!strcmp(cmd, "sum2") && argc == 4) {
		for (i = 0; i < n; i++)
			sink += tt_sum2(num(argv[1]), num(argv[2]));
	} else if (!strcmp(cmd, "sleep1ms")) {
		for (i = 0; i < n; i++)
			tt_sleep_1ms();
	} else if (!strcmp(cmd, "stack")) {
		for (i = 0; i < n; i++)
			sink += tt_stack_outer();
	} else {
		fprintf(stderr, "usage: trace_target [-s] [-k] getppid N | paced N USEC | read SIZE... | "
				"open PATH... | sum3 A B C N | sum2 A B N | sleep1ms N | stack N\n");
		return 2;
	}
	(void)sink;
	return 0;
}

int main(int argc, char **argv)
{
	bool start = false, keep = false;
	int rc;

	for (argv++, argc--; argc > 0 && argv[0][0] == '-'; argv++, argc--) {
		start |= !strcmp(argv[0], "-s");
		keep |= !strcmp(argv[0], "-k");
	}
	if (argc < 1)
		return run(1, (char *[]){ "help", NULL });
	if (start || keep)
		block_usr1();
	if (start) {
		printf("%d\n", getpid());
		fflush(stdout);
		wait_for_usr1();
	}
	rc = run(argc, argv);
	if (rc == 0)
		printf("done\n");
	fflush(stdout);
	if (keep)
		wait_for_usr1();
	return rc;
}
