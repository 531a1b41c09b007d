/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The tracing probe, shared by the binding (lprobe.c), the option compiler
 * (probe_config.c) and the aggregation reader (probe_read.c). */
#ifndef LBPF_USER_PROBE_H
#define LBPF_USER_PROBE_H

#include <lbpf/lbpf.h>
#include <lbpf/probe.h>

#include "tracefs.h"

enum probe_type {
	PROBE_TRACEPOINT,
	PROBE_KPROBE,
	PROBE_KRETPROBE,
	PROBE_UPROBE,
	PROBE_URETPROBE,
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
	VIEW_STRING = 1000,    /* + index of a captured string */
};

struct attach_point {
	char name[256];                /* "tracepoint:syscalls:sys_enter_openat" */
	char target[192];              /* function, symbol or "category:name" */
	uint64_t offset;               /* uprobes: offset in the binary, 0 = by name */
	struct tp_format format;       /* tracepoints */
	struct bpf_link *link;
	struct bpf_link *start_link;   /* entry half of a latency pair */
	struct lbpf_attach_config config;
	char strings[LBPF_MAX_STRINGS][64]; /* names of captured strings */
	int fields_ref;                /* Lua table: name -> view code */
};

struct probe_bpf;
struct ksyms;
struct usyms;

struct probe {
	lbpf_runtime_t *rt;
	lbpf_object_t *object;
	enum probe_type type;
	char spec[256];                /* as the user wrote it, for messages */
	char binary[256];              /* uprobes */
	int pid;                       /* uprobes: opts.pid, -1 = all */
	struct attach_point *points;
	int npoints;
	struct probe_bpf *skel;
	int fn_ref;
	int source;                    /* ring buffer subscription, 0 = none */
	bool attached;
	bool enabled;
	bool print;                    /* print the aggregation at detach */
	bool latency;                  /* entry+return pair measuring ns */
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
};

/* probe_config.c: compiles opts (table at index `opts`, or 0) into every
 * attach point's config and the probe's aggregation description. Raises a
 * Lua error naming the option on misuse. */
void probe_compile(lua_State *L, struct probe *p, int opts);
/* Sets what BPF must fetch per hit, once emit is known. */
void probe_config_finish(struct probe *p);
/* Builds each attach point's Lua table name -> view code (fields_ref). */
void probe_build_fields(lua_State *L, struct probe *p);

/* probe_read.c */
/* Pushes the aggregation as Lua values (see lprobe.c's methods). */
void probe_push_aggregation(lua_State *L, struct probe *p);
int probe_clear_aggregation(struct probe *p);
/* Prints the aggregation the way bpftrace prints maps at exit. */
void probe_print_aggregation(lua_State *L, struct probe *p);
/* lbpf.print_hist(h[, title]) */
int probe_print_hist(lua_State *L);
/* Sums the per-CPU stats of all attach points. */
int probe_read_stats(struct probe *p, struct lbpf_probe_stats *total);
/* Pushes a stack (by id) as a table of symbolized frames, or nil. */
void probe_push_stack(lua_State *L, struct probe *p, int id, bool user, int pid);

#endif /* LBPF_USER_PROBE_H */
