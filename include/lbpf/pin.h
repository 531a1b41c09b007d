/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The two BPF maps lbpfd pins under its bpffs folder, which mirror the
 * lifetimes of runtimes and of the objects they own; shared by the daemon,
 * the CLI (`lbpf list --offline`) and the BPF programs.
 *
 * The built-in programs consult the runtimes map (bpf/record.bpf.h): a
 * program loaded for runtime ID pushes events to the ring buffer only while
 * runtimes[ID].state is LOADING or RUNNING. The id is rodata, 0 outside
 * lbpfd (no lookup at all). Anything that can write the pinned map (root,
 * bpftool) can thus pause a policy's events: set its state to STOPPED.
 */
#ifndef LBPF_PIN_H
#define LBPF_PIN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LBPF_DAEMON_NAME_MAX  64

/* Pinned BPF maps under the bpffs folder (BPF_MAP_TYPE_HASH). */
#define LBPF_PIN_RUNTIMES "runtimes"  /* __u64 runtime id -> struct lbpf_runtime_entry */
#define LBPF_PIN_OBJECTS  "objects"   /* __u64 object id -> struct lbpf_object_entry */
#define LBPF_PIN_MAX_ENTRIES 4096
#define LBPF_PIN_FILTERS  "filters"   /* folder of the policies' pinned filters */

enum lbpf_runtime_state {
	LBPF_STATE_LOADING = 0,
	LBPF_STATE_RUNNING = 1,
	LBPF_STATE_STOPPED = 2,
	LBPF_STATE_FAILED = 3,
};

struct lbpf_runtime_entry {
	char name[LBPF_DAEMON_NAME_MAX];
	__u32 state;               /* enum lbpf_runtime_state */
	__u32 generation;          /* 1 at load, +1 per reload */
	__u32 pid;                 /* the daemon's */
	__u32 pad;
	__u64 created_ns;          /* CLOCK_REALTIME */
};

struct lbpf_object_entry {
	__u64 runtime_id;          /* key of the owner in the runtimes map */
	char kind[24];             /* class name, e.g. "lbpf.probe" */
	__u32 prog_id;             /* kernel ids of what it holds, else 0 */
	__u32 map_id;
	__u32 link_id;
	__u32 refs;
};

#endif /* LBPF_PIN_H */
