// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* The smallest built-in program: counts hits of whatever tracepoint it is
 * attached to, in a per-CPU slot so CPUs never contend. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("tracepoint")
int count_hit(void *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&hits, &key);

	if (value)
		(*value)++;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
