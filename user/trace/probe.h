/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The tracing probe engine, plain C: the option compiler (probe_config.c) and
 * the aggregation reader (probe_read.c), under the binding (lprobe.c, with
 * its Lua side in probe_lua.c). Functions return 0 or -errno; those that
 * take (errbuf, errlen) also leave there the message a user sees.
 */
#ifndef LBPF_USER_PROBE_H
#define LBPF_USER_PROBE_H

#include <lbpf/lbpf.h>
#include <lbpf/probe.h>

#include "btf_path.h"
#include "tracefs.h"
#include "usdt.h"

enum probe_type {
	PROBE_TRACEPOINT,
	PROBE_KPROBE,
	PROBE_KRETPROBE,
	PROBE_UPROBE,
	PROBE_URETPROBE,
	PROBE_RAW_TRACEPOINT,
	PROBE_USDT,
};

/* How a kprobe or kretprobe reaches its kernel function (opts.via). */
enum probe_via {
	VIA_AUTO,              /* fentry/fexit where the kernel allows, else kprobes */
	VIA_KPROBE,
	VIA_FENTRY,            /* fentry/fexit or an error */
};

/* How a probe's field paths are read (opts.path_reads). */
enum probe_path_reads {
	PATH_READS_AUTO,       /* direct where the kernel and the paths allow, else helper */
	PATH_READS_DIRECT,     /* loads the verifier checks (bpf_rdonly_cast), or an error */
	PATH_READS_HELPER,     /* bpf_probe_read_kernel, one call per read */
};

enum probe_agg_kind {
	AGG_NONE,
	AGG_COUNT,
	AGG_HIST,
	AGG_LHIST,
	AGG_SUM,
	AGG_MIN,
	AGG_MAX,
	AGG_AVG,
};

/* A name an event answers to: ev.<name>. */
enum view_code {
	VIEW_PID = 1, VIEW_TID, VIEW_UID, VIEW_GID, VIEW_CPU, VIEW_CGROUP, VIEW_TS, VIEW_COMM,
	VIEW_PROBE, VIEW_ARG1, VIEW_ARG6 = VIEW_ARG1 + 5, VIEW_RET, VIEW_KSTACK, VIEW_USTACK,
	VIEW_TRUNCATED,
	VIEW_FIELD = 100,      /* + index of a tracepoint field */
	VIEW_PATH = 900,       /* + index of a field path */
	VIEW_STRING = 1000,    /* + index of a captured string */
};

/* How a field path's value shows (opts.fields = {name = {path, format}}). */
enum probe_field_format {
	FIELD_PLAIN,           /* by its type */
	FIELD_IPV4,            /* 4 bytes in network order as "a.b.c.d" */
	FIELD_IPV6,            /* 16 bytes as IPv6 text */
	FIELD_PORT,            /* a network-order u16, swapped in BPF */
	FIELD_USER,            /* a char * into user memory */
};

/* A field path of one attach point: opts.fields' name, compiled. */
struct probe_path {
	char name[64];
	struct btf_path bp;            /* bp.steps.dest: where its value lies */
	enum probe_field_format format;
	int string;                    /* char *: index of its captured string, else -1 */
};

struct attach_point {
	char name[256];                /* "tracepoint:syscalls:sys_enter_openat" */
	char target[192];              /* function, symbol, "category:name" or "provider:name" */
	uint64_t offset;               /* uprobes: offset in the binary, 0 = by name */
	struct tp_format format;       /* tracepoints */
	struct bpf_link *link;
	struct bpf_link *start_link;   /* entry half of a latency pair */
	struct lbpf_attach_config config;
	char strings[LBPF_MAX_STRINGS][64]; /* names of captured strings */
	int fields_ref;                /* Lua table: name -> view code */
	struct btf_args args;          /* typed arguments, when BTF was read */
	bool have_args;
	struct probe_path paths[LBPF_MAX_PATHS];
	int npaths;
	struct usdt_probe usdt;        /* USDT: its note's arguments (arg1..argN, N <= 6) */
};

struct probe_bpf;
struct ksyms;
struct usyms;

/* opts.name's size, with its NUL */
#define PROBE_NAME_MAX 64

struct probe {
	lbpf_runtime_t *rt;
	lbpf_object_t *object;
	enum probe_type type;
	char spec[256];                /* as the user wrote it, for messages */
	char binary[256];              /* uprobes and USDT */
	int pid;                       /* uprobes and USDT: opts.pid, -1 = all */
	struct attach_point *points;
	int npoints;
	struct probe_bpf *skel;
	int fn_ref;
	lbpf_callback_t *callback;     /* fn_ref's parked task (on_event) */
	struct view *view;             /* the event view on_event reuses */
	int view_ref;                  /* its registry anchor, LUA_NOREF until made */
	bool view_busy;                /* a callback is using it (a nested drain) */
	int source;                    /* ring buffer subscription, 0 = none */
	bool attached;
	bool enabled;
	bool print;                    /* print the aggregation at detach */
	char name[PROBE_NAME_MAX];     /* opts.name: printed as "@name"; "" = the spec */
	bool latency;                  /* entry+return pair measuring ns */
	enum probe_via via;
	bool fentry;                   /* a kprobe/kretprobe served by fentry/fexit */
	enum probe_path_reads path_reads;
	bool direct;                   /* paths read by checked loads (probe_direct.bpf.o) */
	int rdonly_cast_id;            /* bpf_rdonly_cast's id in vmlinux's BTF, when direct */
	enum probe_agg_kind agg;
	bool by_point;                 /* count = "probe": the per-point event
					* counters are the counts, no hash map */
	int nkeys;
	char keys[LBPF_MAX_KEYS][64];  /* key names, for rendering */
	char value[64];                /* aggregated value's name */
	uint64_t lost_reported;
	lbpf_timer_node_t lost_timer;
	struct ksyms *ksyms;
	struct usyms *usyms;
	struct lbpf_metric_source *metrics; /* its counters for /metrics, while attached */
	struct btf_kernel *kernel_btf; /* read only when a probe needs types */
	int key_path[LBPF_MAX_KEYS];   /* a key's field path at point 0, or -1 */
};

/* One condition of opts.filter: name op value, or comm == "name" (the
 * filter named comm compares the process name, whatever op says). */
struct probe_filter_opt {
	const char *name;
	enum lbpf_op op;
	int64_t value;
	char comm[16];
};

/* Where a captured string's pointer points; by default user memory for
 * syscall tracepoints and uprobes, kernel memory for the rest. */
enum probe_memory { PROBE_MEMORY_DEFAULT, PROBE_MEMORY_USER, PROBE_MEMORY_KERNEL };

/* One pointer argument or field of opts.strings to capture as a string. */
struct probe_string_opt {
	const char *name;
	enum probe_memory memory;
};

/* One field path of opts.fields. */
struct probe_field_opt {
	const char *name;
	const char *path;
	enum probe_field_format format;
};

/* A probe's options, what the Lua table of lbpf.tracepoint(spec, opts)
 * says. The names point to strings the caller keeps during probe_compile. */
struct probe_opts {
	bool kstack, ustack;           /* every event carries its stacks */
	bool print;                    /* print the aggregation at detach */
	const char *name;              /* printed aggregations' name, or NULL */
	enum probe_agg_kind agg;
	const char *keys[LBPF_MAX_KEYS]; /* count's keys, or by's */
	int nkeys;
	const char *value;             /* what hist, lhist, sum, ... aggregate */
	int64_t lhist_min, lhist_max, lhist_step;
	struct probe_filter_opt filters[LBPF_MAX_FILTERS];
	int nfilters;
	int64_t strlen;                /* 2..LBPF_MAX_STRLEN (Lua's default: 256) */
	struct probe_string_opt strings[LBPF_MAX_STRINGS];
	int nstrings;
	struct probe_field_opt fields[LBPF_MAX_PATHS];
	int nfields;
	enum probe_via via;
	enum probe_path_reads path_reads;
};

/* probe_config.c */
/* Compiles opts into every attach point's config and the probe's
 * aggregation description; names resolve per attach point. 0, or -EINVAL
 * with a message that names the option and the point. */
int probe_compile(struct probe *p, const struct probe_opts *opts, char *errbuf, size_t errlen);
/* Sets what BPF must fetch per hit, once emit is known. */
void probe_config_finish(struct probe *p);
/* Reads the kernel's BTF into p->kernel_btf if not yet, and ap's typed
 * arguments (kprobes: the function's prototype; raw tracepoints:
 * btf_trace_<name>), from vmlinux's BTF or a loaded module's.
 * 0 or -errno with the message. */
int probe_load_args(struct probe *p, struct attach_point *ap, char *errbuf, size_t errlen);
/* True for kretprobes and uretprobes: ret and latency exist, args not. */
bool probe_is_return(const struct probe *p);
/* The option that names an aggregation: "count", "hist", ...; "" for none. */
const char *probe_agg_name(enum probe_agg_kind agg);

/* probe_read.c */
/* An aggregation's entry: its key (and bucket), summed over the CPUs. */
struct probe_entry {
	struct lbpf_agg_key key;
	struct lbpf_agg_value value;
};

struct probe_entries {
	struct probe_entry *v;
	size_t n, cap;
};

/* Every entry of the aggregation, sorted by key then bucket; free out->v
 * (set even on failure). 0 or -errno with the message. */
int probe_read_entries(struct probe *p, struct probe_entries *out, char *errbuf, size_t errlen);
/* True when two entries have the same key (buckets of one histogram). */
bool probe_same_key(const struct probe_entry *a, const struct probe_entry *b);
/* Bucket b of the probe's histogram as [lo, hi); infinities at open ends. */
void probe_bucket_bounds(const struct probe *p, int64_t b, double *lo, double *hi);
int probe_clear_aggregation(struct probe *p);
/* Attach point i's counters, and all points' counters, summed over CPUs. */
int probe_read_point_stats(struct probe *p, int i, struct lbpf_probe_stats *sum);
int probe_read_stats(struct probe *p, struct lbpf_probe_stats *total);

#define PROBE_MAX_FRAMES 127
/* The frames of stack `id` into ips: their number, or -errno (-ENOENT when
 * there is no such stack, id < 0 included). */
int probe_read_stack(struct probe *p, int id, uint64_t ips[PROBE_MAX_FRAMES]);
/* A frame's symbol ("func+0xoff", of pid's binary when user), or its
 * address in hex; symbol tables load on first use. Returns buf. */
const char *probe_frame_name(struct probe *p, bool user, int pid, uint64_t ip, char *buf,
			     size_t size);

#endif /* LBPF_USER_PROBE_H */
