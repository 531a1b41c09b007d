// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The libbpf references of scripts/bench/tracing.sh: on every
 * sys_enter_getppid of one process, a 32-byte record into a 4 MiB ring buffer.
 * With default wake-ups (one per record), as a hand-written libbpf tool would;
 * or, with `batched` set, with lbpf's own wake-up policy (bpf/record.bpf.h:
 * no wake-up until the ring is more than a quarter full), for a consumer that
 * drains on a timer as lbpf does. With `full` set, each record is what lbpf
 * records for this tracepoint (struct getppid_full: uid, gid, cgroup id,
 * CPU, the tracepoint's record), written in place, so a C consumer does the
 * work lbpf's BPF side does.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "getppid.h"

const volatile __u32 target_pid = 0;
const volatile bool batched = false;
const volatile bool full = false;
__u64 lost = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

static __always_inline __u64 wakeup_flags(void)
{
	if (!batched)
		return 0;
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >
	       bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 4 ? BPF_RB_FORCE_WAKEUP :
							        BPF_RB_NO_WAKEUP;
}

static __always_inline int on_getppid_full(void *ctx, __u64 id)
{
	struct getppid_full *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	__u64 ids = bpf_get_current_uid_gid();
	int i;

	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	r->source = 1;
	r->cpu = bpf_get_smp_processor_id();
	r->ts = bpf_ktime_get_ns();
	r->attach = 0;
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->uid = (__u32)ids;
	r->gid = ids >> 32;
	r->truncated = 0;
	r->cgroup = bpf_get_current_cgroup_id();
	r->ret = 0;
	for (i = 0; i < 6; i++)
		r->args[i] = 0;
	r->kstack = r->ustack = -1;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	r->data_size = sizeof(r->data);
	for (i = 0; i < 4; i++)
		r->str_len[i] = 0;
	for (i = 0; i < 3; i++)
		r->pad[i] = 0;
	bpf_probe_read_kernel(r->data, sizeof(r->data), ctx);
	bpf_ringbuf_submit(r, wakeup_flags());
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct getppid_record *r;

	if (id >> 32 != target_pid)
		return 0;
	if (full)
		return on_getppid_full(ctx, id);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	r->pid = id >> 32;
	r->tid = (__u32)id;
	r->ts = bpf_ktime_get_ns();
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, wakeup_flags());
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
