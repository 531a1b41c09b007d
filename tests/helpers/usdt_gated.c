// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A USDT probe gated by a semaphore, as Python's are, for the USDT tests
 * (tests/integration/test_usdt.sh, run in the guests too):
 *
 *   usdt_gated [-s] fire N     N rounds, i = 1..N: when a tracer has raised
 *                              the semaphore of lbpf_gated:hit, fires it with
 *                              (int i); prints how many rounds fired it
 *
 * It also has lbpf_gated:indexed, never fired, whose argument is addressed
 * through an index register ("-8@(%rdx,%rax,8)"), which libbpf 1.1 cannot
 * read: attaching it shows how such a failure reads.
 *
 * -s as for usdt_target: print the pid and wait for SIGUSR1 before working.
 * Built without <sys/sdt.h>, it says so and exits 3.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if __has_include(<sys/sdt.h>)
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#define HAVE_SDT 1
/* the semaphore <sys/sdt.h> names provider_name_semaphore; a tracer adds to it */
volatile unsigned short lbpf_gated_hit_semaphore __attribute__((unused, section(".probes")));
volatile unsigned short lbpf_gated_indexed_semaphore __attribute__((unused, section(".probes")));
long lbpf_gated_table[16];
#else
#define HAVE_SDT 0
#endif

int main(int argc, char **argv)
{
	int stop = argc > 1 && !strcmp(argv[1], "-s"), sig;
	long i, n, fired = 0;
	sigset_t set;

	if (argc - stop != 3 || strcmp(argv[1 + stop], "fire")) {
		fprintf(stderr, "usage: usdt_gated [-s] fire N\n");
		return 2;
	}
	if (!HAVE_SDT) {
		fprintf(stderr, "usdt_gated: built without <sys/sdt.h> (systemtap-sdt-dev)\n");
		return 3;
	}
	n = atol(argv[2 + stop]);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (stop) {
		printf("%d\n", (int)getpid());
		fflush(stdout);
		sigwait(&set, &sig);
	}
#if HAVE_SDT
	for (i = 1; i <= n; i++) {
		int ii = i;

		if (lbpf_gated_hit_semaphore) {
			DTRACE_PROBE1(lbpf_gated, hit, ii);
			fired++;
		}
	}
	if (n < 0) /* never: only its note matters */
		DTRACE_PROBE1(lbpf_gated, indexed, lbpf_gated_table[n & 15]);
#endif
	printf("fired %ld\ndone\n", fired);
	fflush(stdout);
	return 0;
}
