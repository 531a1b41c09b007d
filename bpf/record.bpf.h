/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The runtime's shared ring buffer, as BPF programs see it. Userspace swaps
 * this placeholder for the runtime's map with bpf_map__reuse_fd() before
 * load. Wake-ups are adaptive: a record wakes the consumer only when the
 * ring is more than a quarter full; otherwise userspace's drain timer picks
 * it up. A wake-up per record costs microseconds (see KERNEL-NOTES).
 */
#ifndef LBPF_RECORD_BPF_H
#define LBPF_RECORD_BPF_H

#include <lbpf/record.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} lbpf_events SEC(".maps");

static __always_inline __u64 lbpf_wakeup_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&lbpf_events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&lbpf_events, BPF_RB_RING_SIZE);

	return avail > size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Fills the header of a reserved record. */
static __always_inline void lbpf_record_init(struct lbpf_record *rec, __u32 source)
{
	rec->source = source;
	rec->cpu = bpf_get_smp_processor_id();
	rec->ts = bpf_ktime_get_ns();
}

static __always_inline void lbpf_record_submit(void *rec)
{
	bpf_ringbuf_submit(rec, lbpf_wakeup_flags());
}

#endif /* LBPF_RECORD_BPF_H */
