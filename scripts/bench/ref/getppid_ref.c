// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The libbpf consumers of scripts/bench/tracing.sh:
 *   getppid_ref [--batched [--full]] PID N
 * loads getppid.bpf.c filtered to PID, prints "attached", then consumes with
 * ring_buffer__poll() until N records were delivered or lost (or SIGINT or
 * SIGTERM), prints "delivered D lost L", and waits for the signal (so its
 * peak RSS can still be read).
 *
 * Plain: a wake-up per record, poll with a 100 ms timeout. --batched: the
 * best C consumer of lbpf's design, the same wake-up policy and the same
 * drain timer as lbpf (user/core/ringbuf.c): the BPF side wakes only past a
 * quarter full, and the poll timeout is the drain period, halving to 1 ms
 * while records come and doubling to 32 ms while none do; each drain
 * consumes everything pending. --full (with --batched): each record is the
 * 160 bytes lbpf records for this tracepoint, with the same helpers (uid,
 * gid, cgroup id, the tracepoint's record), so the BPF side does lbpf's work.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <linux/types.h>
#include "getppid.h"
#include "getppid.skel.h"

static volatile sig_atomic_t stop;
static unsigned long long delivered;

static void on_signal(int sig)
{
	stop = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct getppid_record *r = data;
	const struct getppid_full *f = data;

	if ((size == sizeof(*r) && r->pid) || (size == sizeof(*f) && f->pid))
		delivered++;
	return 0;
}

int main(int argc, char **argv)
{
	struct getppid_bpf *skel;
	struct ring_buffer *rb = NULL;
	unsigned long long n;
	bool batched = argc >= 4 && !strcmp(argv[1], "--batched");
	bool full = batched && argc == 5 && !strcmp(argv[2], "--full");
	int err = 1, period = 32, got;

	if (argc != 3 + batched + full) {
		fprintf(stderr, "usage: getppid_ref [--batched [--full]] PID N\n");
		return 2;
	}
	argv += batched + full;
	n = strtoull(argv[2], NULL, 10);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = getppid_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->target_pid = atoi(argv[1]);
	skel->rodata->batched = batched;
	skel->rodata->full = full;
	if (getppid_bpf__load(skel) || getppid_bpf__attach(skel))
		goto cleanup;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb)
		goto cleanup;
	printf("attached\n");
	fflush(stdout);
	while (!stop && delivered + skel->bss->lost < n) {
		got = ring_buffer__poll(rb, batched ? period : 100);
		if (got < 0)
			break;
		if (batched)
			period = got ? (period > 1 ? period / 2 : 1) : (period < 32 ? period * 2 : 32);
	}
	ring_buffer__consume(rb);
	printf("delivered %llu lost %llu\n", delivered, (unsigned long long)skel->bss->lost);
	fflush(stdout);
	while (!stop)
		usleep(20000);
	err = 0;
cleanup:
	ring_buffer__free(rb);
	getppid_bpf__destroy(skel);
	return err;
}
