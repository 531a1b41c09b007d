// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A workload with USDT probes of known arguments, for the USDT tests
 * (tests/integration/test_usdt.sh, tests/vm/test_usdt.sh):
 *
 *   usdt_target [-s] [-k] fire N     N rounds, i = 1..N, each firing once:
 *     lbpf_test:small  (int8_t -1, uint8_t 255, int16_t -2, uint16_t 65535)
 *     lbpf_test:big    (int32_t -3, uint32_t 4294967295, int64_t -4, uint64_t i)
 *     lbpf_test:str    (const char *"hello", int i)
 *     lbpf_test:seven  (long 1, 2, 3, 4, 5, 6, 7)
 *     lbpf_test:none   ()
 *     lbpf_other:tick  (int i) in odd rounds, (long i) in even ones: two sites
 *
 * -s and -k as for trace_target: print the pid and wait for SIGUSR1 before
 * working; after "done", wait for another SIGUSR1 before exiting. The values
 * come from volatile locals, so the notes say where they lie (registers or
 * the stack) rather than holding constants. Built without <sys/sdt.h>
 * (systemtap-sdt-dev), it has no probes and says so.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __has_include(<sys/sdt.h>)
#include <sys/sdt.h>
#define HAVE_SDT 1
#else
#define HAVE_SDT 0
#endif

static void wait_usr1(const sigset_t *set)
{
	int sig;

	sigwait(set, &sig);
}

#if HAVE_SDT
static void fire(long n)
{
	volatile int8_t s8 = -1;
	volatile uint8_t u8 = 255;
	volatile int16_t s16 = -2;
	volatile uint16_t u16 = 65535;
	volatile int32_t s32 = -3;
	volatile uint32_t u32 = 4294967295u;
	volatile int64_t s64 = -4;
	const char *volatile hello = "hello";
	long i;

	for (i = 1; i <= n; i++) {
		uint64_t u64 = i;
		int ii = i;

		DTRACE_PROBE4(lbpf_test, small, s8, u8, s16, u16);
		DTRACE_PROBE4(lbpf_test, big, s32, u32, s64, u64);
		DTRACE_PROBE2(lbpf_test, str, hello, ii);
		DTRACE_PROBE7(lbpf_test, seven, 1L, 2L, 3L, 4L, 5L, 6L, 7L);
		DTRACE_PROBE(lbpf_test, none);
		/* two sites of one probe, odd rounds at one, even rounds at the
		 * other, with arguments of 4 and 8 bytes */
		if (i % 2)
			DTRACE_PROBE1(lbpf_other, tick, ii);
		else
			DTRACE_PROBE1(lbpf_other, tick, i);
	}
}
#endif

int main(int argc, char **argv)
{
	int opt, stop = 0, keep = 0;
	sigset_t set;

	while ((opt = getopt(argc, argv, "sk")) != -1) {
		if (opt == 's')
			stop = 1;
		else if (opt == 'k')
			keep = 1;
		else
			return 2;
	}
	if (argc - optind != 2 || strcmp(argv[optind], "fire")) {
		fprintf(stderr, "usage: usdt_target [-s] [-k] fire N\n");
		return 2;
	}
	if (!HAVE_SDT) {
		fprintf(stderr, "usdt_target: built without <sys/sdt.h> (systemtap-sdt-dev)\n");
		return 3;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (stop) {
		printf("%d\n", (int)getpid());
		fflush(stdout);
		wait_usr1(&set);
	}
#if HAVE_SDT
	fire(atol(argv[optind + 1]));
#endif
	printf("done\n");
	fflush(stdout);
	if (keep)
		wait_usr1(&set);
	return 0;
}
