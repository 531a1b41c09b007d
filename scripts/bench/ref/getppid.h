/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The records shared by getppid.bpf.c and getppid_ref.c: 32 bytes, or
 * with --full the 160 bytes of lbpf's event for this tracepoint (struct
 * lbpf_event, <lbpf/probe.h>, and the 16-byte tracepoint record). */
#ifndef GETPPID_REF_H
#define GETPPID_REF_H

struct getppid_record {
	__u32 pid;
	__u32 tid;
	__u64 ts;
	char comm[16];
};

struct getppid_full {
	__u32 source;
	__u32 cpu;
	__u64 ts;
	__u32 attach;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 truncated;
	__u64 cgroup;
	__s64 ret;
	__u64 args[6];
	__s32 kstack;
	__s32 ustack;
	char comm[16];
	__u16 data_size;
	__u16 str_len[4];
	__u16 pad[3];
	__u8 data[16];         /* the tracepoint's record */
};

#endif
