// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The generic tracing program behind lbpf.tracepoint, raw_tracepoint, kprobe,
 * kretprobe, uprobe, uretprobe, usdt and latency. Every hit:
 *   1. finds its attach point's config through the BPF cookie (a raw
 *      tracepoint has one point, 0: its kernels may lack cookies);
 *   2. runs the in-kernel filters (a filtered hit only counts as filtered),
 *      and walks its field paths (offsets from BTF) after them, or before
 *      them when a filter reads a path: with bpf_probe_read_kernel, or,
 *      built with LBPF_DIRECT (build/bpf/probe_direct.bpf.o, for probes
 *      that read paths where the kernel allows it), with loads the verifier
 *      checks against the kernel's types (walk_path_direct);
 *   3. updates the aggregation (per-CPU hash: count, log2/linear histogram,
 *      sum/min/max) with no trip to userspace;
 *   4. if Lua asked for events, builds one in a per-CPU scratch buffer and
 *      copies exactly its size into the runtime's ring buffer, waking the
 *      consumer only past the watermark (bpf/record.bpf.h).
 * Tracepoint records are copied once into the scratch buffer and every field
 * is read from that copy, since the verifier forbids variable offsets into
 * the context.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <lbpf/probe.h>

#include "record.bpf.h"

/* KIND_RAW: a raw tracepoint or fentry, args in a u64 array at ctx;
 * KIND_FEXIT: fexit, the same array, the return value after the args
 * (read with bpf_get_func_ret);
 * KIND_USDT: a USDT probe, args where its note says, its point in the
 * USDT cookie (libbpf takes the BPF cookie for its spec). */
enum kind { KIND_TP, KIND_ENTRY, KIND_RETURN, KIND_RAW, KIND_FEXIT, KIND_USDT };

/* What this probe uses at all, set before load: the verifier drops the
 * code of everything else, which keeps the hot path short. */
const volatile __u32 use_filters = 1;
const volatile __u32 use_agg = 1;
const volatile __u32 use_emit = 1;
const volatile __u32 use_fields = 1;
const volatile __u32 use_latency = 1;
const volatile __u32 use_paths = 1;
/* The paths of the probe's one attach point for the direct-read build
 * (LBPF_DIRECT), here rather than in its config so that the verifier knows
 * every offset and type; direct_casts[n][i] is the BTF id (vmlinux's) of the
 * struct or union that path n's read i reads from. Both builds have them,
 * so that their globals lie alike. */
const volatile __u32 direct_npaths = 0;
const volatile struct lbpf_path direct_paths[LBPF_MAX_PATHS];
const volatile __u32 direct_casts[LBPF_MAX_PATHS][LBPF_MAX_STEPS];
/* A raw tracepoint's or fentry/fexit function's argument count: reading
 * past it makes the load or the attach fail, so only these are read. */
const volatile __u32 raw_nargs = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);        /* set to the number of attach points */
	__type(key, __u32);
	__type(value, struct lbpf_attach_config);
} configs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);        /* one slot per attach point */
	__type(key, __u32);
	__type(value, struct lbpf_probe_stats);
} stats SEC(".maps");

/* an event header followed by its data, contiguous */
struct scratch {
	__u8 event[sizeof(struct lbpf_event)] __attribute__((aligned(8)));
	__u8 data[LBPF_SCRATCH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);        /* 10240 when the probe aggregates */
	__type(key, struct lbpf_agg_key);
	__type(value, struct lbpf_agg_value);
} aggs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);        /* 16384 when stacks are asked for */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);        /* 16384 for latency */
	__type(key, __u32);            /* tid */
	__type(value, __u64);          /* entry time */
} starts SEC(".maps");

/* What one hit knows while it is judged. */
struct hit {
	void *ctx;
	enum kind kind;
	__u64 pid_tgid;
	__u64 uid_gid;
	__u64 latency;
	__u32 attach;
	struct scratch *s;
	__s64 args[6];             /* kprobe/uprobe registers, read once up front */
	__s64 rc;
};

/* x86-64's struct pt_regs as the uapi fixes it. Reading it through this
 * layout instead of vmlinux.h's CO-RE-relocated one spares libbpf parsing the
 * kernel's BTF at every load: about 12 ms and 10 MB. */
struct lbpf_pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

/* libbpf's USDT support: its maps (__bpf_usdt_specs, sized by lprobe.c, and
 * __bpf_usdt_ip_to_spec_id, unused where BPF cookies exist), its .kconfig
 * and bpf_usdt_arg(), which reads an argument where its note's spec says and
 * extends it to 64 bits by the spec's size and sign. Its PT_REGS_IP (on
 * kernels without cookies) reads through the uapi layout above: through
 * vmlinux.h's it would be a CO-RE relocation, which makes libbpf parse the
 * kernel's BTF for every probe. */
#undef PT_REGS_IP
#define PT_REGS_IP(x) (((const struct lbpf_pt_regs *)(x))->ip)
#include <bpf/usdt.bpf.h>

/* The verifier wants constant offsets from the context pointer, so the
 * registers are read once, in straight-line code, and used from h->args. */
static __always_inline void read_regs(struct hit *h, void *ctx)
{
	const struct lbpf_pt_regs *regs = ctx;

	h->args[0] = regs->di;
	h->args[1] = regs->si;
	h->args[2] = regs->dx;
	h->args[3] = regs->cx;
	h->args[4] = regs->r8;
	h->args[5] = regs->r9;
	h->rc = regs->ax;
}

/* A raw tracepoint's arguments, at constant offsets, as many as it has. */
static __always_inline void read_raw_args(struct hit *h, void *ctx)
{
	const __u64 *a = ctx;

	if (raw_nargs > 0) h->args[0] = a[0];
	if (raw_nargs > 1) h->args[1] = a[1];
	if (raw_nargs > 2) h->args[2] = a[2];
	if (raw_nargs > 3) h->args[3] = a[3];
	if (raw_nargs > 4) h->args[4] = a[4];
	if (raw_nargs > 5) h->args[5] = a[5];
}

/* fexit: the return value, which follows the arguments in ctx. Read from
 * its slot, it would carry the BTF type of the function's return: a pointer
 * (do_filp_open's struct file *) the verifier refuses in the filters' and
 * keys' arithmetic ("math between ptr_ pointer and register", EINVAL).
 * bpf_get_func_ret (5.17, inlined by the verifier) gives it as a number. */
static __always_inline void read_fexit_ret(struct hit *h, void *ctx)
{
	__u64 rc = 0;

	bpf_get_func_ret(ctx, &rc);
	h->rc = rc;
}

/* A USDT probe's first six arguments, as many as its note has. */
static __always_inline void read_usdt_args(struct hit *h, void *ctx)
{
	int i, n = bpf_usdt_arg_cnt(ctx);
	long v;

	for (i = 0; i < 6; i++) {
		if (i >= n)
			break;
		bpf_usdt_arg(ctx, i, &v);
		h->args[i] = v;
	}
}

/* Whether a hit of this kind has arguments in h->args. */
static __always_inline bool has_args(enum kind kind)
{
	return kind == KIND_ENTRY || kind == KIND_RAW || kind == KIND_USDT;
}

static __always_inline __s64 read_arg(struct hit *h, __u32 n)
{
	return n < 6 ? h->args[n] : 0;
}

/* One field path into the event data at its dest: pointer reads, then the
 * value's bytes. A failed read (a NULL pointer on the way) zeroes what it
 * would have written, so the value reads as 0. */
static __always_inline void walk_path(struct hit *h, const struct lbpf_path *pa)
{
	__u64 v = pa->arg == LBPF_PATH_RET ? h->rc : read_arg(h, pa->arg);
	__u32 dest = pa->dest, size = pa->size, i;
	__u8 *out;

	if (dest > LBPF_MAX_DATA - LBPF_MAX_PATH_BYTES)
		return;
	out = &h->s->data[dest];
	if (pa->nreads == 0) {
		*(__u64 *)out = v;
		return;
	}
	for (i = 0; i < LBPF_MAX_STEPS - 1; i++) {
		if (i + 1 >= pa->nreads)
			break;
		if (bpf_probe_read_kernel(&v, sizeof(v), (void *)(v + pa->offsets[i])))
			v = 0;
	}
	if (size == 0 || size > LBPF_MAX_PATH_BYTES)
		return;
	bpf_probe_read_kernel(out, size, (void *)(v + pa->offsets[i]));
	if (pa->flags & LBPF_PATH_SWAP16)
		*(__u16 *)out = __builtin_bswap16(*(__u16 *)out);
}

static __always_inline void walk_paths(struct hit *h, const struct lbpf_attach_config *c)
{
	int i;

	for (i = 0; i < LBPF_MAX_PATHS; i++) {
		if (i >= c->npaths)
			break;
		walk_path(h, &c->paths[i]);
	}
}

#ifdef LBPF_DIRECT
/* bpf_rdonly_cast(obj, btf_id) (Linux 6.2): obj as an untrusted pointer to
 * the struct btf_id, which the verifier then lets the program load from,
 * member by member, and inlines to a move. Loads through such a pointer are
 * the JIT's fault-safe loads (PROBE_MEM): a bad or NULL pointer reads as 0,
 * as a failed bpf_probe_read_kernel does, for the cost of a load rather
 * than of a helper call. Called by a helper number that lprobe.c patches
 * into the kfunc's id, which spares libbpf reading the kernel's BTF to
 * resolve an extern at every probe's load. */
static void *(*rdonly_cast)(const void *obj, __u32 btf_id) = (void *)LBPF_RDONLY_CAST_CALL;

/* walk_path from the rodata copy of path n, every read a checked load. */
static __always_inline void walk_path_direct(struct hit *h, __u32 n)
{
	__u32 dest = direct_paths[n].dest, size = direct_paths[n].size, i;
	__u32 nreads = direct_paths[n].nreads, arg = direct_paths[n].arg;
	__u64 v = arg == LBPF_PATH_RET ? h->rc : read_arg(h, arg);
	__u8 *out, *p;

	if (dest > LBPF_MAX_DATA - LBPF_MAX_PATH_BYTES)
		return;
	out = &h->s->data[dest];
	if (nreads == 0) {
		*(__u64 *)out = v;
		return;
	}
	for (i = 0; i < LBPF_MAX_STEPS - 1; i++) {
		if (i + 1 >= nreads)
			break;
		p = rdonly_cast((void *)v, direct_casts[n][i]);
		v = *(__u64 *)(p + direct_paths[n].offsets[i]);
	}
	p = (__u8 *)rdonly_cast((void *)v, direct_casts[n][i]) + direct_paths[n].offsets[i];
	if (size == 8)
		*(__u64 *)out = *(__u64 *)p;
	else if (size == 4)
		*(__u32 *)out = *(__u32 *)p;
	else if (size == 2)
		*(__u16 *)out = *(__u16 *)p;
	else if (size == 1)
		*out = *p;
	else if (size <= LBPF_MAX_PATH_BYTES) /* char[N], a struct, an array */
		bpf_probe_read_kernel(out, size, p);
	if (direct_paths[n].flags & LBPF_PATH_SWAP16)
		*(__u16 *)out = __builtin_bswap16(*(__u16 *)out);
}

static __always_inline void walk_paths_direct(struct hit *h)
{
	if (direct_npaths > 0) walk_path_direct(h, 0);
	if (direct_npaths > 1) walk_path_direct(h, 1);
	if (direct_npaths > 2) walk_path_direct(h, 2);
	if (direct_npaths > 3) walk_path_direct(h, 3);
	if (direct_npaths > 4) walk_path_direct(h, 4);
	if (direct_npaths > 5) walk_path_direct(h, 5);
	if (direct_npaths > 6) walk_path_direct(h, 6);
	if (direct_npaths > 7) walk_path_direct(h, 7);
}
#endif

static __always_inline void walk_any_paths(struct hit *h, const struct lbpf_attach_config *c)
{
#ifdef LBPF_DIRECT
	walk_paths_direct(h);
#else
	walk_paths(h, c);
#endif
}

/* A tracepoint field or a path's value, from the data in scratch. */
static __always_inline __s64 read_field(struct hit *h, const struct lbpf_ref *ref)
{
	__u32 off = ref->offset;
	__u8 *p;

	if (off > LBPF_MAX_DATA - 8 || !h->s)
		return 0;
	p = &h->s->data[off];
	switch (ref->size) {
	case 1: return ref->is_signed ? (__s64)*(__s8 *)p : (__s64)*(__u8 *)p;
	case 2: return ref->is_signed ? (__s64)*(__s16 *)p : (__s64)*(__u16 *)p;
	case 4: return ref->is_signed ? (__s64)*(__s32 *)p : (__s64)*(__u32 *)p;
	default: return *(__s64 *)p;
	}
}

static __always_inline __s64 stack_id(struct hit *h, bool user)
{
	return bpf_get_stackid(h->ctx, &stacks, user ? BPF_F_USER_STACK : 0);
}

static __always_inline __s64 read_ref(struct hit *h, const struct lbpf_ref *ref)
{
	switch (ref->source) {
	case LBPF_SRC_PID: return h->pid_tgid >> 32;
	case LBPF_SRC_TID: return (__u32)h->pid_tgid;
	case LBPF_SRC_UID: return (__u32)h->uid_gid;
	case LBPF_SRC_GID: return h->uid_gid >> 32;
	case LBPF_SRC_CPU: return bpf_get_smp_processor_id();
	case LBPF_SRC_CGROUP: return bpf_get_current_cgroup_id();
	case LBPF_SRC_PROBE: return h->attach;
	case LBPF_SRC_ARG:
		return has_args(h->kind) ? read_arg(h, ref->arg) : 0;
	case LBPF_SRC_RET: return h->kind == KIND_RETURN || h->kind == KIND_FEXIT ? h->rc : 0;
	case LBPF_SRC_FIELD: return use_fields ? read_field(h, ref) : 0;
	case LBPF_SRC_LATENCY: return h->latency;
	case LBPF_SRC_KSTACK: return stack_id(h, false);
	case LBPF_SRC_USTACK: return stack_id(h, true);
	default: return 0;
	}
}

static __always_inline bool comm_equal(const char *a, const char *b)
{
	int i;

	for (i = 0; i < 16; i++) {
		if (a[i] != b[i])
			return false;
		if (!a[i])
			break;
	}
	return true;
}

static __always_inline bool filter_pass(struct hit *h, const struct lbpf_filter *f)
{
	char comm[16];
	__s64 v;

	if (f->op == LBPF_OP_STREQ) {
		bpf_get_current_comm(comm, sizeof(comm));
		return comm_equal(comm, f->str);
	}
	v = read_ref(h, &f->ref);
	switch (f->op) {
	case LBPF_OP_EQ: return v == f->value;
	case LBPF_OP_NE: return v != f->value;
	case LBPF_OP_LT: return v < f->value;
	case LBPF_OP_LE: return v <= f->value;
	case LBPF_OP_GT: return v > f->value;
	case LBPF_OP_GE: return v >= f->value;
	case LBPF_OP_AND: return (v & f->value) != 0;
	default: return false;
	}
}

static __always_inline bool filters_pass(struct hit *h, const struct lbpf_attach_config *c)
{
	int i;

	for (i = 0; i < LBPF_MAX_FILTERS; i++) {
		if (i >= c->nfilters)
			break;
		if (!filter_pass(h, &c->filters[i]))
			return false;
	}
	return true;
}

/* floor(log2(v)) + 1 for v > 0: bucket b holds [2^(b-1), 2^b). */
static __always_inline __s64 log2_bucket(__s64 v)
{
	__u64 x = v;
	__s64 b = 1;

	if (v < 0)
		return -1;
	if (v == 0)
		return 0;
	if (x >> 32) { x >>= 32; b += 32; }
	if (x >> 16) { x >>= 16; b += 16; }
	if (x >> 8) { x >>= 8; b += 8; }
	if (x >> 4) { x >>= 4; b += 4; }
	if (x >> 2) { x >>= 2; b += 2; }
	if (x >> 1) { b += 1; }
	return b;
}

static __always_inline __s64 linear_bucket(const struct lbpf_attach_config *c, __s64 v)
{
	if (v < c->lhist_min)
		return -1;
	if (v >= c->lhist_max)
		return (__u64)(c->lhist_max - c->lhist_min) / (__u64)c->lhist_step;
	return (__u64)(v - c->lhist_min) / (__u64)c->lhist_step;
}

static __always_inline void aggregate(struct hit *h, const struct lbpf_attach_config *c,
				      struct lbpf_probe_stats *st)
{
	struct lbpf_agg_key key = {};
	struct lbpf_agg_value *val, zero = {};
	__s64 v = 0;
	int i;

	for (i = 0; i < LBPF_MAX_KEYS; i++) {
		if (i >= c->nkeys)
			break;
		if (c->keys[i].source == LBPF_SRC_COMM)
			bpf_get_current_comm(key.comm, sizeof(key.comm));
		else
			key.parts[i] = read_ref(h, &c->keys[i]);
	}
	if (c->agg != LBPF_AGG_COUNT)
		v = read_ref(h, &c->agg_value);
	if (c->agg == LBPF_AGG_HIST)
		key.bucket = log2_bucket(v);
	else if (c->agg == LBPF_AGG_LHIST && c->lhist_step > 0)
		key.bucket = linear_bucket(c, v);
	val = bpf_map_lookup_elem(&aggs, &key);
	if (!val) {
		/* EEXIST when another CPU just created it: the lookup finds it */
		bpf_map_update_elem(&aggs, &key, &zero, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&aggs, &key);
		if (!val) {
			st->agg_dropped++;
			return;
		}
	}
	/* a per-CPU slot another CPU created starts at zero: count 0 means unset */
	if (!val->count || v < val->min)
		val->min = v;
	if (!val->count || v > val->max)
		val->max = v;
	val->count++;
	val->sum += v;
}

static __always_inline __u32 capture_string(struct hit *h, const struct lbpf_strcap *sc,
					    __u32 off, __u32 limit, __u32 *truncated, int i)
{
	const void *ptr = (const void *)read_ref(h, &sc->ref);
	long n;

	if (off > LBPF_SCRATCH - LBPF_MAX_STRLEN - 1 || limit == 0)
		return 0;
	limit = ((limit - 1) & (LBPF_MAX_STRLEN - 1)) + 1; /* 1..1024, in a way the verifier sees */
	if (sc->user)
		n = bpf_probe_read_user_str(&h->s->data[off], limit, ptr);
	else
		n = bpf_probe_read_kernel_str(&h->s->data[off], limit, ptr);
	if (n <= 0) {
		h->s->data[off] = 0;
		return 1;
	}
	/* a string that filled the limit was probably cut */
	if (n == limit)
		*truncated |= 1u << i;
	return n;
}

static __always_inline void emit(struct hit *h, const struct lbpf_attach_config *c,
				 struct lbpf_probe_stats *st)
{
	struct lbpf_event *e = (struct lbpf_event *)h->s->event;
	__u32 off = h->kind == KIND_TP || use_paths ? c->data_size : 0, truncated = 0, size;
	int i;

	if (off > LBPF_MAX_DATA)
		off = LBPF_MAX_DATA;
	lbpf_record_init(&e->hdr, c->source);
	e->attach = h->attach;
	e->pid = h->pid_tgid >> 32;
	e->tid = (__u32)h->pid_tgid;
	e->uid = (__u32)h->uid_gid;
	e->gid = h->uid_gid >> 32;
	e->cgroup = bpf_get_current_cgroup_id();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->ret = h->kind == KIND_RETURN || h->kind == KIND_FEXIT ? h->rc : 0;
	for (i = 0; i < 6; i++)
		e->args[i] = has_args(h->kind) ? h->args[i] : 0;
	e->kstack = c->kstack ? stack_id(h, false) : -1;
	e->ustack = c->ustack ? stack_id(h, true) : -1;
	e->data_size = off;
	for (i = 0; i < LBPF_MAX_STRINGS; i++) {
		__u32 n = 0;

		if (i < c->nstrings)
			n = capture_string(h, &c->strings[i], off, c->strlen, &truncated, i);
		e->str_len[i] = n;
		off += n;
	}
	e->truncated = truncated;
	size = sizeof(*e) + off;
	if (size > sizeof(struct scratch))
		return;
	if (bpf_ringbuf_output(&lbpf_events, e, size, lbpf_wakeup_flags()))
		st->lost++;
}

static __always_inline int handle(void *ctx, enum kind kind)
{
	/* a raw tracepoint or fentry/fexit probe has one point */
	__u32 attach = kind == KIND_RAW || kind == KIND_FEXIT ? 0 :
		       kind == KIND_USDT ? bpf_usdt_cookie(ctx) : bpf_get_attach_cookie(ctx);
	__u32 zero = 0;
	const struct lbpf_attach_config *c = bpf_map_lookup_elem(&configs, &attach);
	struct lbpf_probe_stats *st = bpf_map_lookup_elem(&stats, &attach);
	struct hit h = { .ctx = ctx, .kind = kind, .attach = attach };
	__u64 *start;

	if (!c || !st || !c->enabled)
		return 0;
	if (use_fields || use_emit || use_paths) {
		h.s = bpf_map_lookup_elem(&scratch, &zero);
		if (!h.s)
			return 0;
	}
	if (kind == KIND_RAW) {
		read_raw_args(&h, ctx);
	} else if (kind == KIND_FEXIT) {
		read_raw_args(&h, ctx);
		read_fexit_ret(&h, ctx);
	}
	else if (kind == KIND_USDT)
		read_usdt_args(&h, ctx);
	else if (kind != KIND_TP)
		read_regs(&h, ctx);
	h.pid_tgid = bpf_get_current_pid_tgid();
	if (c->read_ids)
		h.uid_gid = bpf_get_current_uid_gid();
	if (kind == KIND_TP && use_fields && c->read_fields && c->data_size)
		bpf_probe_read_kernel(h.s->data, c->data_size & (LBPF_MAX_DATA - 1) ?: LBPF_MAX_DATA, ctx);
	if (kind != KIND_TP && use_paths && c->npaths && c->filter_paths)
		walk_any_paths(&h, c);
	if ((kind == KIND_RETURN || kind == KIND_FEXIT) && use_latency &&
	    c->agg_value.source == LBPF_SRC_LATENCY) {
		__u32 tid = (__u32)h.pid_tgid;

		start = bpf_map_lookup_elem(&starts, &tid);
		if (!start)
			return 0; /* entered before we attached */
		h.latency = bpf_ktime_get_ns() - *start;
		bpf_map_delete_elem(&starts, &tid);
	}
	if (use_filters && !filters_pass(&h, c)) {
		st->filtered++;
		return 0;
	}
	if (kind != KIND_TP && use_paths && c->npaths && !c->filter_paths)
		walk_any_paths(&h, c);
	st->events++;
	if (use_agg && c->agg)
		aggregate(&h, c, st);
	/* under lbpfd, a stopped runtime takes no events */
	if (use_emit && c->emit && lbpf_runtime_live())
		emit(&h, c, st);
	return 0;
}

SEC("tracepoint")
int lbpf_tracepoint(void *ctx)
{
	return handle(ctx, KIND_TP);
}

SEC("raw_tp")
int lbpf_raw(void *ctx)
{
	return handle(ctx, KIND_RAW);
}

/* fentry/fexit: the target is set before load (bpf_program__set_attach_target) */
SEC("fentry")
int lbpf_fentry(void *ctx)
{
	return handle(ctx, KIND_RAW);
}

SEC("fexit")
int lbpf_fexit(void *ctx)
{
	return handle(ctx, KIND_FEXIT);
}

SEC("kprobe")
int lbpf_entry(void *ctx)
{
	return handle(ctx, KIND_ENTRY);
}

SEC("kprobe")
int lbpf_return(void *ctx)
{
	return handle(ctx, KIND_RETURN);
}

/* USDT: attached with bpf_program__attach_usdt, one link per probe name */
SEC("usdt")
int lbpf_usdt(struct pt_regs *ctx)
{
	return handle(ctx, KIND_USDT);
}

/* The entry half of a latency pair: remembers when this thread entered. */
SEC("kprobe")
int lbpf_start(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&starts, &tid, &now, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
