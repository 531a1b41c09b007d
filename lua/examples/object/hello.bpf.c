// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * hello.bpf.c: the BPF half of lua/examples/object/hello.lua, a CO-RE object
 * of your own for lbpf.object(). Each exec is counted per user in a hash map
 * and reported as a struct exec_event in a ring buffer; min_uid, a
 * read-only global, is set by the script before load.
 *
 *   clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I vmlinux/x86 \
 *         -c lua/examples/object/hello.bpf.c -o lua/examples/object/hello.bpf.o
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

struct exec_event {
	__u32 pid, ppid, uid;
	char comm[16];
};

/* BTF keeps the types of globals, not of locals: this keeps the event's
 * type for obj:ringbuf("execs", "struct exec_event", fn). */
struct exec_event *unused_exec_event __attribute__((unused));

const volatile __u32 min_uid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} execs_by_uid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} execs SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct exec_event *e;
	__u64 one = 1, *n;

	if (uid < min_uid)
		return 0;
	n = bpf_map_lookup_elem(&execs_by_uid, &uid);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&execs_by_uid, &uid, &one, BPF_NOEXIST);
	e = bpf_ringbuf_reserve(&execs, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid); /* CO-RE: fits any kernel's layout */
	e->uid = uid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
