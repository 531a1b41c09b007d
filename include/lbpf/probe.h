/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Structs shared by bpf/probe.bpf.c and user/lprobe.c. One loaded probe
 * object serves one lbpf.tracepoint/kprobe/uprobe call; each attach point of
 * it (a wildcard attaches many) has a struct lbpf_attach_config in the
 * `configs` array, found through the BPF cookie, which is its index.
 * Fixed-width types, explicit padding, no pointers.
 */
#ifndef LBPF_PROBE_H
#define LBPF_PROBE_H

#include <lbpf/record.h>

#define LBPF_MAX_FILTERS 8
#define LBPF_MAX_STRINGS 4
#define LBPF_MAX_KEYS 4
#define LBPF_MAX_DATA 512      /* tracepoint record bytes carried by an event */
#define LBPF_MAX_STRLEN 1024   /* longest captured string (opts.strlen) */
#define LBPF_SCRATCH 8192      /* per-CPU event buffer */
#define LBPF_MAX_PATHS 8       /* opts.fields: BTF field paths per probe */
#define LBPF_MAX_STEPS 6       /* reads one path makes, its last one included */
#define LBPF_MAX_PATH_BYTES 128 /* bytes a path's last read takes (char[N], a struct) */
#define LBPF_PATH_RET 6        /* a path's `arg` for the return value */
/* The helper number bpf/probe.bpf.c calls for bpf_rdonly_cast in its
 * direct-read programs; user/trace/lprobe.c turns each such call into a call
 * of the kfunc (by its id in the kernel's BTF) before load. No helper has
 * this number. */
#define LBPF_RDONLY_CAST_CALL 0x7ffff

/* Where a value comes from. */
enum lbpf_source {
	LBPF_SRC_NONE,
	LBPF_SRC_PID,
	LBPF_SRC_TID,
	LBPF_SRC_UID,
	LBPF_SRC_GID,
	LBPF_SRC_CPU,
	LBPF_SRC_CGROUP,
	LBPF_SRC_COMM,
	LBPF_SRC_PROBE,        /* the attach point's index */
	LBPF_SRC_ARG,          /* kprobe/uprobe argument `arg` (0..5) */
	LBPF_SRC_RET,          /* return value of a return probe */
	LBPF_SRC_FIELD,        /* tracepoint field or path value at offset, size, signedness */
	LBPF_SRC_LATENCY,      /* ns since the matching entry, return probes */
	LBPF_SRC_KSTACK,       /* stack id */
	LBPF_SRC_USTACK,
};

struct lbpf_ref {
	__u8 source;           /* enum lbpf_source */
	__u8 size;             /* FIELD: 1, 2, 4 or 8 bytes */
	__u8 is_signed;
	__u8 arg;
	__u16 offset;          /* FIELD: offset in the tracepoint record */
	__u16 pad;
};

enum lbpf_op {
	LBPF_OP_EQ,
	LBPF_OP_NE,
	LBPF_OP_LT,
	LBPF_OP_LE,
	LBPF_OP_GT,
	LBPF_OP_GE,
	LBPF_OP_AND,           /* (value & operand) != 0 */
	LBPF_OP_STREQ,         /* comm equals `str` */
};

struct lbpf_filter {
	struct lbpf_ref ref;
	__u32 op;
	__u32 pad;
	__s64 value;
	char str[16];
};

/* A field path compiled from BTF (user/trace/btf_path.c): start from
 * argument `arg` (or the return value); each of the first nreads - 1 reads
 * loads the pointer at value + offsets[i]; the last one copies `size` bytes
 * at value + offsets[nreads - 1] to the event data at `dest`. nreads 0 stores
 * the argument itself (8 bytes). */
enum lbpf_path_flags {
	LBPF_PATH_SWAP16 = 1,  /* a network-order 16-bit value (a port) */
};

struct lbpf_path {
	__u8 arg;              /* 0..5, or LBPF_PATH_RET */
	__u8 nreads;           /* 0..LBPF_MAX_STEPS */
	__u8 size;             /* 1..LBPF_MAX_PATH_BYTES */
	__u8 flags;            /* enum lbpf_path_flags */
	__u16 dest;            /* offset in the event data, 8-aligned */
	__u16 pad;
	__u32 offsets[LBPF_MAX_STEPS];
};

struct lbpf_strcap {
	struct lbpf_ref ref;   /* ARG, or FIELD holding a pointer */
	__u32 user;            /* 1: user memory, 0: kernel memory */
	__u32 pad;
};

enum lbpf_agg {
	LBPF_AGG_NONE,
	LBPF_AGG_COUNT,
	LBPF_AGG_HIST,
	LBPF_AGG_LHIST,
	LBPF_AGG_SUM,          /* sum, min, max and avg share one value layout */
};

struct lbpf_attach_config {
	__u32 enabled;
	__u32 emit;            /* push events to the ring buffer */
	__u32 source;          /* ring buffer subscription id */
	__u32 data_size;       /* tracepoint bytes to copy */
	__u32 nfilters;
	__u32 nstrings;
	__u32 nkeys;
	__u32 strlen;          /* cut captured strings here (<= LBPF_MAX_STRLEN) */
	__u32 kstack;
	__u32 ustack;
	__u32 agg;             /* enum lbpf_agg */
	__u32 is_return;       /* a return probe: RET and LATENCY are valid */
	__u32 read_fields;     /* copy the tracepoint record (fields used or emitted) */
	__u32 read_ids;        /* uid/gid needed */
	struct lbpf_ref agg_value;
	struct lbpf_ref keys[LBPF_MAX_KEYS];
	struct lbpf_filter filters[LBPF_MAX_FILTERS];
	struct lbpf_strcap strings[LBPF_MAX_STRINGS];
	__s64 lhist_min;
	__s64 lhist_max;
	__s64 lhist_step;
	__u32 npaths;          /* field paths walked at every hit that passes... */
	__u32 filter_paths;    /* ...every filter, or before them when one reads a path */
	struct lbpf_path paths[LBPF_MAX_PATHS];
};

struct lbpf_event {
	struct lbpf_record hdr;
	__u32 attach;          /* index of the attach point */
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 truncated;       /* bit i: string i was cut */
	__u64 cgroup;
	__s64 ret;
	__u64 args[6];
	__s32 kstack;          /* stack ids, < 0 when none */
	__s32 ustack;
	char comm[16];
	__u16 data_size;       /* tracepoint record or path values at data[0] */
	__u16 str_len[LBPF_MAX_STRINGS]; /* strings follow the data, back to back */
	__u16 pad[3];          /* data starts at sizeof(struct lbpf_event) */
	__u8 data[];
};

/* The aggs map's key size covers only the parts in use (bucket, then the
 * numeric parts, then comm), so short keys hash fast. */
struct lbpf_agg_key {
	__s64 bucket;          /* histogram bucket, 0 otherwise */
	__u64 parts[LBPF_MAX_KEYS];
	char comm[16];
};

struct lbpf_agg_value {
	__u64 count;
	__s64 sum;
	__s64 min;
	__s64 max;
};

struct lbpf_probe_stats {
	__u64 events;          /* hits that passed the filters */
	__u64 lost;            /* events the full ring buffer refused */
	__u64 filtered;        /* hits the filters dropped */
	__u64 agg_dropped;     /* aggregation updates refused (map full) */
};

#endif /* LBPF_PROBE_H */
