// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The sample object of lbpf.object's tests (tests/lua/test_object.lua,
 * tests/integration/test_object.sh): globals in .rodata, .data and .bss,
 * maps of each kind the typed views handle, a ring buffer of struct event,
 * and programs for a tracepoint, a raw tracepoint, XDP, tc and netfilter.
 * Built by the tests with clang -g -O2 -target bpf against vmlinux/x86.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 tgid;
	__u64 seen;
	char comm[16];
};

struct stats {
	__u64 hits;
	__u32 last_pid;
	char comm[16];
	__s16 delta;
	__u8 flags;
	__u32 low : 4, high : 12;
	__u16 pair[2];
};

struct name_key {
	char name[16];
};

/* BTF keeps the types of globals, maps and functions, not of locals: this
 * keeps struct event for obj:ringbuf("events", "struct event", fn). */
struct event *unused_event __attribute__((unused));

const volatile __u32 target_pid = 0;
const volatile __s8 small = -3;
__u32 ratio = 7;
__u64 seen = 0;
__u64 packets = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct stats);
} by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct stats);
} slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} percpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct name_key);
	__type(value, struct stats);
} by_name SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Each getppid() of target_pid's process: counted, and an event. */
SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, zero = 0;
	struct event *e;
	__u64 *n;

	if (target_pid && tgid != target_pid)
		return 0;
	__sync_fetch_and_add(&seen, 1);
	n = bpf_map_lookup_elem(&percpu, &zero);
	if (n)
		*n += 1;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = (__u32)id;
	e->tgid = tgid;
	e->seen = seen;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* sched_process_exec (raw): slot 1 counts execs of any process. */
SEC("raw_tracepoint/sched_process_exec")
int on_exec(void *ctx)
{
	__u32 one = 1;
	struct stats *s = bpf_map_lookup_elem(&slots, &one);

	if (s)
		__sync_fetch_and_add(&s->hits, 1);
	return 0;
}

SEC("xdp")
int count_xdp(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&packets, 1);
	return XDP_PASS;
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&packets, 1);
	return 0; /* TC_ACT_OK */
}

SEC("netfilter")
int count_nf(struct bpf_nf_ctx *ctx)
{
	__sync_fetch_and_add(&packets, 1);
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
