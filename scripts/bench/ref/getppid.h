/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The record shared by getppid.bpf.c and getppid_ref.c: 32 bytes. */
#ifndef GETPPID_REF_H
#define GETPPID_REF_H

struct getppid_record {
	__u32 pid;
	__u32 tid;
	__u64 ts;
	char comm[16];
};

#endif
