/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The runtime's shared ring buffer, as BPF programs see it. Userspace swaps
 * this placeholder for the runtime's map with bpf_map__reuse_fd() before
 * load. Wake-ups are adaptive: a record wakes the consumer only when the
 * ring is more than a quarter full; otherwise userspace's drain timer picks
 * it up. A wake-up per record costs microseconds (see KERNEL-NOTES).
 *
 * Under lbpfd a program is loaded for one runtime (lbpf_runtime_id) and
 * consults the daemon's pinned runtimes map (<lbpf/pin.h>) before it pushes
 * a record: a stopped or failed runtime gets nothing. Outside lbpfd the id
 * is 0 and the verifier drops the lookup.
 */
#ifndef LBPF_RECORD_BPF_H
#define LBPF_RECORD_BPF_H

#include <lbpf/pin.h>
#include <lbpf/record.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} lbpf_events SEC(".maps");

const volatile __u64 lbpf_runtime_id = 0;

/* Swapped for lbpfd's pinned map with bpf_map__reuse_fd(); unused otherwise. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, struct lbpf_runtime_entry);
} lbpf_runtimes SEC(".maps");

/* Whether the runtime this program serves still takes events. */
static __always_inline bool lbpf_runtime_live(void)
{
	const struct lbpf_runtime_entry *e;
	__u64 id = lbpf_runtime_id;

	if (!id)
		return true;
	e = bpf_map_lookup_elem(&lbpf_runtimes, &id);
	return e && e->state <= LBPF_STATE_RUNNING;
}

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
