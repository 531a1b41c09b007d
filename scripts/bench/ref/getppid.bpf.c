// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The libbpf references of scripts/bench/tracing.sh: on every
 * sys_enter_getppid of one process, a 32-byte record into a 4 MiB ring buffer.
 * With default wake-ups (one per record), as a hand-written libbpf tool would;
 * or, with `batched` set, with lbpf's own wake-up policy (bpf/record.bpf.h:
 * no wake-up until the ring is more than a quarter full), for a consumer that
 * drains on a timer as lbpf does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "getppid.h"

const volatile __u32 target_pid = 0;
const volatile bool batched = false;
__u64 lost = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct getppid_record *r;

	if (id >> 32 != target_pid)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	if (batched)
		bpf_ringbuf_submit(r, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
				      bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4 ?
				      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	else
		bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
