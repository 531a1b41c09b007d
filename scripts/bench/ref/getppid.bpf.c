// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The plain libbpf reference of scripts/bench/tracing.sh: on every
 * sys_enter_getppid of one process, a 32-byte record into a 4 MiB ring buffer
 * with default wake-ups (one per record), as a hand-written libbpf tool would.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "getppid.h"

const volatile __u32 target_pid = 0;
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
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
