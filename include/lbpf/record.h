/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The header of every record in a runtime's ring buffer; shared by BPF and
 * user code. `source` is the id lbpf_ringbuf_subscribe() returned. */
#ifndef LBPF_RECORD_H
#define LBPF_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

struct lbpf_record {
	__u32 source;
	__u32 cpu;
	__u64 ts;       /* bpf_ktime_get_ns(): CLOCK_MONOTONIC, as lbpf.now() */
};

#endif /* LBPF_RECORD_H */
