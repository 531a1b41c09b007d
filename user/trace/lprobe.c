// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Tracing probes: lbpf.tracepoint, raw_tracepoint, kprobe, kretprobe, uprobe,
 * uretprobe, usdt and latency. One call loads one bpf/probe.bpf.c object and attaches it to every
 * point its spec matches (wildcards match many), each with the BPF cookie of
 * its config. fn(ev) receives events through the runtime's ring buffer as a
 * view that is valid during the call only; aggregations stay in the kernel
 * until read.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "core/internal.h"
#include "core/metric.h"
#include "probe_lua.h"
#include "probe.skel.h"
#include "probe_direct.skel.h"
#include "symbols.h"
#include "usdt.h"

#define MAX_POINTS 4096

_Static_assert(offsetof(struct lbpf_event, data) == sizeof(struct lbpf_event),
	       "event data must start right after the header");

static const lbpf_class_t probe_class;
static const char view_key = 'v';

LBPF_PRIVATECHECKER(checkprobe, struct probe, &probe_class)

static const char *const type_names[] = {
	"tracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe", "raw_tracepoint", "usdt",
};

/* ---- finding the attach points ---- */

static int add_point(struct probe *p, const char *target, uint64_t offset)
{
	struct attach_point *ap;

	if (p->npoints == MAX_POINTS)
		return -E2BIG;
	if (!(p->npoints & (p->npoints - 1))) {
		int cap = p->npoints ? p->npoints * 2 : 1;
		struct attach_point *v = realloc(p->points, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->points = v;
	}
	ap = &p->points[p->npoints++];
	memset(ap, 0, sizeof(*ap));
	ap->fields_ref = LUA_NOREF;
	ap->offset = offset;
	snprintf(ap->target, sizeof(ap->target), "%s", target);
	if (p->type == PROBE_UPROBE || p->type == PROBE_URETPROBE || p->type == PROBE_USDT)
		snprintf(ap->name, sizeof(ap->name), "%s:%.120s:%.120s", type_names[p->type], p->binary, target);
	else
		snprintf(ap->name, sizeof(ap->name), "%s:%s", type_names[p->type], target);
	return 0;
}

static int add_tracepoint(const char *cat, const char *name, void *ctx)
{
	struct probe *p = ctx;
	char target[192];
	int err;

	snprintf(target, sizeof(target), "%s:%s", cat, name);
	err = add_point(p, target, 0);
	if (!err)
		err = tracefs_format_read(cat, name, &p->points[p->npoints - 1].format);
	return err;
}

static int add_function(const char *name, void *ctx)
{
	return add_point(ctx, name, 0);
}

static int add_symbol(const char *name, uint64_t addr, void *ctx)
{
	return add_point(ctx, name, 0);
}

static void find_tracepoints(lua_State *L, struct probe *p)
{
	char cat[128];
	size_t n = strcspn(p->spec, ":/");
	int err;

	if (!p->spec[n] || n == 0 || n >= sizeof(cat) || !p->spec[n + 1])
		luaL_error(L, "tracepoint '%s': expected \"category:name\" (or category/name)", p->spec);
	memcpy(cat, p->spec, n);
	cat[n] = '\0';
	err = tracefs_glob_tracepoints(cat, p->spec + n + 1, add_tracepoint, p);
	if (err == 0)
		luaL_error(L, "tracepoint '%s' matches nothing (see /sys/kernel/tracing/events)", p->spec);
	if (err < 0)
		lbpf_throw(L, err, "find tracepoint %s", p->spec);
}

/* A raw tracepoint, by name: its arguments come from the kernel's BTF. */
static void find_raw_tracepoint(lua_State *L, struct probe *p)
{
	char msg[512];
	int err;

	if (tracefs_is_glob(p->spec) || !*p->spec)
		luaL_error(L, "raw_tracepoint '%s': expected one tracepoint's name, like "
			      "\"sched_switch\" (no wildcards)", p->spec);
	lbpf_try(L, add_point(p, p->spec, 0));
	err = probe_load_args(p, &p->points[0], msg, sizeof(msg));
	if (err)
		luaL_error(L, "%s", msg);
}

static bool kprobes_available(void)
{
	return access("/sys/bus/event_source/devices/kprobe/type", F_OK) == 0;
}

/* Whether one kernel function may be reached through fentry/fexit rather
 * than a kprobe: not for wildcards, latency pairs or stacks (whose first
 * frame differs), and only when BTF types it with at most 6 arguments.
 * NULL, or why not. */
static const char *fentry_refusal(struct probe *p, char *msg, size_t size)
{
	struct attach_point *ap = &p->points[0];

	if (p->type != PROBE_KPROBE && p->type != PROBE_KRETPROBE)
		return "not a kernel function";
	if (p->npoints != 1 || tracefs_is_glob(p->spec))
		return "wildcards attach kprobes";
	if (p->latency)
		return "latency pairs use kprobes";
	if (ap->config.kstack || ap->config.ustack)
		return "stacks are taken at kprobes";
	if (probe_load_args(p, ap, msg, size))
		return msg;
	if (ap->args.n > 6)
		return "the function has more than 6 arguments";
	return NULL;
}

static const char *const no_kprobes =
	"kprobes are not available on this kernel (CONFIG_KPROBES)";

/* Settles p->fentry once the options are compiled (opts.via). */
static void choose_fentry(lua_State *L, struct probe *p)
{
	char msg[512];
	const char *why;

	if (p->type != PROBE_KPROBE && p->type != PROBE_KRETPROBE)
		return;
	why = p->via == VIA_KPROBE ? "via = \"kprobe\"" : fentry_refusal(p, msg, sizeof(msg));
	p->fentry = !why;
	if (why && p->via == VIA_FENTRY)
		luaL_error(L, "%s '%s': via = \"fentry\": %s", type_names[p->type], p->spec, why);
	if (why && !kprobes_available())
		luaL_error(L, "%s '%s': %s", type_names[p->type], p->spec, no_kprobes);
}

/* Why p's paths cannot be read by checked loads, or NULL. */
static const char *direct_refusal(struct probe *p, char *msg, size_t size)
{
	const struct attach_point *ap = &p->points[0];
	int i, id;

	if (!p->npoints || !ap->npaths)
		return "the probe has no fields";
	if (p->npoints > 1)
		return "the probe has more than one attach point";
	for (i = 0; i < ap->npaths; i++) {
		if (ap->paths[i].bp.direct)
			continue;
		snprintf(msg, size, "fields.%s reads through a pointer to a type that is not a "
			 "struct or union of vmlinux's BTF", ap->paths[i].name);
		return msg;
	}
	id = btf_kernel_func_id(p->kernel_btf, "bpf_rdonly_cast");
	if (id < 0)
		return "the kernel has no bpf_rdonly_cast (Linux 6.2)";
	p->rdonly_cast_id = id;
	return NULL;
}

/* Settles p->direct once the paths are compiled (opts.path_reads). */
static void choose_direct(lua_State *L, struct probe *p)
{
	char msg[256];
	const char *why = p->path_reads == PATH_READS_HELPER ? "path_reads = \"helper\"" :
			  direct_refusal(p, msg, sizeof(msg));

	p->direct = !why;
	if (why && p->path_reads == PATH_READS_DIRECT)
		luaL_error(L, "%s '%s': path_reads = \"direct\": %s", type_names[p->type], p->spec,
			   why);
}

static void find_functions(lua_State *L, struct probe *p)
{
	int err;

	/* one function may be reached through fentry (choose_fentry) */
	if (!kprobes_available() && (tracefs_is_glob(p->spec) || p->via == VIA_KPROBE))
		luaL_error(L, "%s '%s': kprobes are not available on this kernel (CONFIG_KPROBES)",
			   type_names[p->type], p->spec);
	if (!tracefs_is_glob(p->spec)) {
		lbpf_try(L, add_point(p, p->spec, 0));
		return;
	}
	err = tracefs_glob_functions(p->spec, add_function, p);
	if (err == 0)
		luaL_error(L, "%s '%s' matches no kernel function", type_names[p->type], p->spec);
	if (err < 0)
		lbpf_throw(L, err, "find kernel functions %s", p->spec);
}

/* The binary p->spec names, an ELF file, into p->binary; messages name
 * the probe (what) when given. */
static void find_binary(lua_State *L, struct probe *p, const char *what)
{
	char path[256], type[256];
	int err = elf_resolve_path(p->spec, path, sizeof(path));

	snprintf(type, sizeof(type), what ? "%s '%.200s'" : "%s", type_names[p->type], what);
	if (err)
		lbpf_throw(L, err, "%s: find binary %s", type, p->spec);
	err = elf_check(path);
	if (err == -ENOEXEC)
		lbpf_throw(L, err, "%s: %s is not an ELF file", type, path);
	if (err)
		lbpf_throw(L, err, "%s: open %s", type, path);
	snprintf(p->binary, sizeof(p->binary), "%s", path);
}

static void find_symbols(lua_State *L, struct probe *p, int ix)
{
	const char *path = p->binary;
	int err;

	find_binary(L, p, NULL);
	if (lua_isinteger(L, ix)) {
		lua_Integer off = lua_tointeger(L, ix);
		char name[32];

		luaL_argcheck(L, off > 0, ix, "offset must be > 0");
		snprintf(name, sizeof(name), "0x%llx", (unsigned long long)off);
		lbpf_try(L, add_point(p, name, off));
		return;
	}
	const char *sym = luaL_checkstring(L, ix);

	if (!tracefs_is_glob(sym)) {
		lbpf_try(L, add_point(p, sym, 0));
		return;
	}
	err = elf_glob_functions(path, sym, add_symbol, p);
	if (err == 0)
		luaL_error(L, "%s '%s:%s' matches no function", type_names[p->type], path, sym);
	if (err < 0)
		lbpf_throw(L, err, "read symbols of %s", path);
}

/* The first probes of a binary, "a:b, c:d, ... (N in all)", for a message. */
static const char *some_probes(const struct usdt_probes *probes, char *buf, size_t size)
{
	size_t len = 0, i;

	buf[0] = '\0';
	for (i = 0; i < probes->n && i < 6 && len < size; i++)
		len += snprintf(buf + len, size - len, "%s%s:%s", i ? ", " : "", probes->v[i].provider,
				probes->v[i].name);
	if (i < probes->n && len < size)
		snprintf(buf + len, size - len, ", ... (%zu in all)", probes->n);
	return buf;
}

/* Adds the probes of p->binary that "provider:name" (globs in either part)
 * matches; or a message into msg. 0, or -errno with the message. */
static int add_usdt_probes(struct probe *p, const char *spec, const struct usdt_probes *probes,
			   char *msg, size_t size)
{
	char provider[64], some[512];
	const char *name = strchr(spec, ':');
	size_t i;
	int err;

	if (!name || name == spec || !name[1] || (size_t)(name - spec) >= sizeof(provider)) {
		snprintf(msg, size, "usdt '%s': expected \"provider:name\" (globs allowed, like "
			 "\"python:*\"); %s has %s", spec, p->binary, some_probes(probes, some, sizeof(some)));
		return -EINVAL;
	}
	snprintf(provider, sizeof(provider), "%.*s", (int)(name++ - spec), spec);
	for (i = 0; i < probes->n; i++) {
		const struct usdt_probe *u = &probes->v[i];
		char target[192];

		if (fnmatch(provider, u->provider, 0) || fnmatch(name, u->name, 0))
			continue;
		snprintf(target, sizeof(target), "%s:%s", u->provider, u->name);
		err = add_point(p, target, 0);
		if (err) {
			snprintf(msg, size, "usdt '%s': %s", spec, strerror(-err));
			return err;
		}
		p->points[p->npoints - 1].usdt = *u;
	}
	if (!p->npoints) {
		snprintf(msg, size, "usdt '%s' matches no probe of %s (it has %s; readelf -n lists "
			 "them)", spec, p->binary, some_probes(probes, some, sizeof(some)));
		return -ENOENT;
	}
	return 0;
}

/* The USDT probes of the binary at 1 that the spec at 2 matches. */
static void find_usdt(lua_State *L, struct probe *p)
{
	const char *spec = luaL_checkstring(L, 2);
	struct usdt_probes probes;
	char msg[1024];
	int err;

	find_binary(L, p, spec);
	err = usdt_probes_read(p->binary, &probes);
	if (err == -ENODATA)
		snprintf(msg, sizeof(msg), "usdt '%s': %s has no USDT probes (no .note.stapsdt "
			 "section)", spec, p->binary);
	else if (err)
		snprintf(msg, sizeof(msg), "usdt '%s': read the notes of %s: %s", spec, p->binary,
			 strerror(-err));
	else
		err = add_usdt_probes(p, spec, &probes, msg, sizeof(msg));
	usdt_probes_free(&probes);
	if (err)
		luaL_error(L, "%s", msg);
}

/* opts.pid of a uprobe or USDT probe: a process that maps the binary. */
static void check_pid(lua_State *L, struct probe *p)
{
	int err;

	if (p->pid == -1)
		return;
	if (p->pid <= 0)
		luaL_error(L, "%s %s: pid: expected a process id > 0, got %d", type_names[p->type],
			   p->spec, p->pid);
	err = usdt_pid_maps(p->pid, p->binary);
	if (err == -ESRCH)
		luaL_error(L, "%s %s: pid %d: no such process", type_names[p->type], p->spec, p->pid);
	if (err == -ENOENT)
		luaL_error(L, "%s %s: pid %d does not map %s", type_names[p->type], p->spec, p->pid,
			   p->binary);
	if (err)
		lbpf_throw(L, err, "%s %s: read /proc/%d/maps", type_names[p->type], p->spec, p->pid);
}

/* ---- loading and attaching ---- */

/* The program that serves p's attach points. */
static struct bpf_program *main_prog(const struct probe *p)
{
	bool ret = probe_is_return(p);

	switch (p->type) {
	case PROBE_TRACEPOINT:
		return p->skel->progs.lbpf_tracepoint;
	case PROBE_RAW_TRACEPOINT:
		return p->skel->progs.lbpf_raw;
	case PROBE_USDT:
		return p->skel->progs.lbpf_usdt;
	case PROBE_KPROBE:
	case PROBE_KRETPROBE:
		if (p->fentry)
			return ret ? p->skel->progs.lbpf_fexit : p->skel->progs.lbpf_fentry;
		/* fall through */
	default:
		return ret ? p->skel->progs.lbpf_return : p->skel->progs.lbpf_entry;
	}
}

/* Loads the main program only, and the latency pair's entry half. */
static void autoload(struct probe *p)
{
	struct bpf_program *prog, *main = main_prog(p);

	bpf_object__for_each_program(prog, p->skel->obj)
		bpf_program__set_autoload(prog, prog == main ||
					  (prog == p->skel->progs.lbpf_start && p->latency));
}

/* The two builds of bpf/probe.bpf.c have the same maps, programs and
 * globals, so probe.skel.h's types serve both. */
_Static_assert(sizeof(struct probe_bpf__rodata) == sizeof(struct probe_direct_bpf__rodata),
	       "probe.bpf.c's two builds differ in their read-only globals");

/* probe.skel.h's skeleton over the object the probe needs: the
 * direct-read build's when its paths are read by checked loads. NULL with
 * errno. */
static struct probe_bpf *open_skel(const struct probe *p)
{
	struct probe_bpf *skel;
	int err;

	if (!p->direct)
		return probe_bpf__open();
	skel = calloc(1, sizeof(*skel));
	if (!skel) {
		errno = ENOMEM;
		return NULL;
	}
	err = probe_bpf__create_skeleton(skel);
	if (!err) {
		skel->skeleton->data = (void *)probe_direct_bpf__elf_bytes(&skel->skeleton->data_sz);
		err = bpf_object__open_skeleton(skel->skeleton, NULL);
	}
	if (err) {
		probe_bpf__destroy(skel);
		errno = -err;
		return NULL;
	}
	return skel;
}

/* Turns the direct-read build's calls of LBPF_RDONLY_CAST_CALL into calls
 * of the kfunc bpf_rdonly_cast, by its id in vmlinux's BTF. */
static int patch_rdonly_cast(struct probe *p)
{
	struct bpf_program *prog = main_prog(p);
	size_t i, n = bpf_program__insn_cnt(prog);
	struct bpf_insn *insns = malloc(n * sizeof(*insns));
	int err;

	if (!insns)
		return -ENOMEM;
	memcpy(insns, bpf_program__insns(prog), n * sizeof(*insns));
	for (i = 0; i < n; i++) {
		if (insns[i].code != (BPF_JMP | BPF_CALL) || insns[i].src_reg != 0 ||
		    insns[i].imm != LBPF_RDONLY_CAST_CALL)
			continue;
		insns[i].src_reg = BPF_PSEUDO_KFUNC_CALL;
		insns[i].imm = p->rdonly_cast_id;
		insns[i].off = 0; /* vmlinux's BTF */
	}
	err = bpf_program__set_insns(prog, insns, n);
	free(insns);
	return err;
}

static bool needs_stacks(const struct probe *p)
{
	int i;

	for (i = 0; i < p->npoints; i++)
		if (p->points[i].config.kstack || p->points[i].config.ustack)
			return true;
	return false;
}

static bool ro_uses_hash(const struct probe *p)
{
	return p->agg != AGG_NONE && !p->by_point;
}

/* Tells the verifier what this probe never does, so it drops that code. */
static void set_uses(struct probe *p)
{
	struct probe_bpf__rodata *ro = p->skel->rodata;
	int i;

	ro->use_filters = ro->use_fields = ro->use_paths = 0;
	if (p->type == PROBE_RAW_TRACEPOINT || p->fentry)
		ro->raw_nargs = p->points[0].args.n < 6 ? p->points[0].args.n : 6;
	ro->use_agg = p->agg != AGG_NONE && !p->by_point;
	ro->use_emit = p->fn_ref != LUA_NOREF;
	ro->use_latency = p->latency;
	for (i = 0; i < p->npoints; i++) {
		ro->use_filters |= p->points[i].config.nfilters > 0;
		ro->use_fields |= p->points[i].config.read_fields;
		ro->use_paths |= p->points[i].config.npaths > 0;
	}
	ro->direct_npaths = 0;
	if (!p->direct)
		return;
	ro->direct_npaths = p->points[0].npaths;
	for (i = 0; i < p->points[0].npaths; i++) {
		const struct btf_path *bp = &p->points[0].paths[i].bp;

		ro->direct_paths[i] = p->points[0].config.paths[i];
		memcpy((void *)ro->direct_casts[i], bp->casts, sizeof(bp->casts));
	}
}

/* libbpf's USDT maps, made only for a USDT probe (only lbpf_usdt uses them;
 * its .kconfig map is made always, as libbpf maps it into memory):
 * a spec per site of every probe (libbpf gives each distinct spec and
 * cookie its own); the map from addresses to specs is for kernels without
 * BPF cookies, which lbpf needs anyway. */
static void set_usdt_maps(struct probe *p)
{
	bool usdt = p->type == PROBE_USDT;
	int i, sites = 0;

	for (i = 0; usdt && i < p->npoints; i++)
		sites += p->points[i].usdt.nsites;
	bpf_map__set_max_entries(p->skel->maps.__bpf_usdt_specs, sites ? sites : 1);
	bpf_map__set_max_entries(p->skel->maps.__bpf_usdt_ip_to_spec_id, 1);
	bpf_map__set_autocreate(p->skel->maps.__bpf_usdt_specs, usdt);
	bpf_map__set_autocreate(p->skel->maps.__bpf_usdt_ip_to_spec_id, usdt);
}

/* Opens the object, sizes its maps, shares the runtime's ring buffer, loads. */
static int probe_load(struct probe *p)
{
	int err;

	p->skel = open_skel(p);
	if (!p->skel)
		return -errno;
	bpf_map__set_max_entries(p->skel->maps.configs, p->npoints);
	bpf_map__set_max_entries(p->skel->maps.stats, p->npoints);
	if (ro_uses_hash(p)) {
		bool comm = false;
		int i;

		for (i = 0; i < p->nkeys; i++)
			comm |= p->points[0].config.keys[i].source == LBPF_SRC_COMM;
		bpf_map__set_max_entries(p->skel->maps.aggs, 10240);
		/* hash only the parts in use: bucket, numbers, then comm */
		bpf_map__set_key_size(p->skel->maps.aggs, comm ? sizeof(struct lbpf_agg_key) :
					offsetof(struct lbpf_agg_key, parts[p->nkeys]));
	}
	if (needs_stacks(p))
		bpf_map__set_max_entries(p->skel->maps.stacks, 16384);
	if (p->latency)
		bpf_map__set_max_entries(p->skel->maps.starts, 16384);
	set_usdt_maps(p);
	/* only a probe with a callback shares the runtime's ring buffer; one
	 * that counts keeps the object's small placeholder, never written */
	if (p->source > 0) {
		err = bpf_map__reuse_fd(p->skel->maps.lbpf_events, lbpf_ringbuf_fd(p->rt));
		if (err)
			return err;
	} else {
		bpf_map__set_max_entries(p->skel->maps.lbpf_events, 4096);
	}
	err = lbpf_runtime_gate(p->rt, p->skel->maps.lbpf_runtimes,
				(uint64_t *)&p->skel->rodata->lbpf_runtime_id);
	if (err)
		return err;
	autoload(p);
	set_uses(p);
	if (p->direct) {
		err = patch_rdonly_cast(p);
		if (err)
			return err;
	}
	if (p->fentry) {
		err = bpf_program__set_attach_target(main_prog(p), 0, p->points[0].target);
		if (err)
			return err;
	}
	lbpf_libbpf_log_clear();
	lbpf_verifier_stats(p->skel->obj);
	return probe_bpf__load(p->skel);
}

/* Completes the configs once the ring buffer subscription is known. */
static void prepare_configs(struct probe *p)
{
	int i;

	for (i = 0; i < p->npoints; i++) {
		p->points[i].config.source = p->source;
		p->points[i].config.emit = p->source > 0;
	}
	probe_config_finish(p);
}

static int write_configs(struct probe *p)
{
	int fd = bpf_map__fd(p->skel->maps.configs), i;

	for (i = 0; i < p->npoints; i++) {
		__u32 key = i;

		if (bpf_map_update_elem(fd, &key, &p->points[i].config, BPF_ANY))
			return -errno;
	}
	return 0;
}

static struct bpf_link *attach_one(struct probe *p, struct attach_point *ap, int i,
				   struct bpf_program *prog, bool ret)
{
	LIBBPF_OPTS(bpf_tracepoint_opts, tp_opts, .bpf_cookie = i);
	LIBBPF_OPTS(bpf_kprobe_opts, k_opts, .bpf_cookie = i, .retprobe = ret);
	LIBBPF_OPTS(bpf_uprobe_opts, u_opts, .bpf_cookie = i, .retprobe = ret);
	LIBBPF_OPTS(bpf_usdt_opts, usdt_opts, .usdt_cookie = i);
	char cat[192], *name;

	switch (p->type) {
	case PROBE_TRACEPOINT:
		snprintf(cat, sizeof(cat), "%s", ap->target);
		name = strchr(cat, ':');
		*name++ = '\0';
		return bpf_program__attach_tracepoint_opts(prog, cat, name, &tp_opts);
	case PROBE_RAW_TRACEPOINT:
		return bpf_program__attach_raw_tracepoint(prog, ap->target);
	case PROBE_KPROBE:
	case PROBE_KRETPROBE:
		return bpf_program__attach_kprobe_opts(prog, ap->target, &k_opts);
	case PROBE_USDT:
		return bpf_program__attach_usdt(prog, p->pid, p->binary, ap->usdt.provider,
						ap->usdt.name, &usdt_opts);
	default:
		u_opts.func_name = ap->offset ? NULL : ap->target;
		return bpf_program__attach_uprobe_opts(prog, p->pid, p->binary, ap->offset, &u_opts);
	}
}

/* Attaches every point; on failure returns -errno with *failed set. */
static int probe_attach(struct probe *p, int *failed)
{
	bool ret = p->type == PROBE_KRETPROBE || p->type == PROBE_URETPROBE;
	struct bpf_program *prog = main_prog(p);
	int i;

	if (p->fentry) {
		*failed = 0;
		p->points[0].link = bpf_program__attach_trace(prog);
		return p->points[0].link ? 0 : -errno;
	}

	for (i = 0; i < p->npoints; i++) {
		struct attach_point *ap = &p->points[i];

		*failed = i;
		if (p->latency) {
			ap->start_link = attach_one(p, ap, i, p->skel->progs.lbpf_start, false);
			if (!ap->start_link)
				return -errno;
		}
		ap->link = attach_one(p, ap, i, prog, ret);
		if (!ap->link)
			return -errno;
	}
	return 0;
}

static void probe_detach(struct probe *p)
{
	int i;

	lbpf_metric_source_remove(p->metrics); /* no collect runs after this */
	p->metrics = NULL;
	for (i = 0; i < p->npoints; i++) {
		bpf_link__destroy(p->points[i].link);
		bpf_link__destroy(p->points[i].start_link);
		p->points[i].link = p->points[i].start_link = NULL;
	}
	if (p->attached) {
		p->attached = false;
		lbpf_loop_hold(lbpf_runtime_getloop(p->rt), -1);
		lbpf_loop_timer_cancel(lbpf_runtime_getloop(p->rt), &p->lost_timer);
	}
	if (p->source > 0) {
		if (!lbpf_runtime_stopping(p->rt))
			lbpf_ringbuf_drain(p->rt); /* deliver what is already queued */
		lbpf_ringbuf_unsubscribe(p->rt, p->source);
		p->source = 0;
	}
}

/* The probe's counters for lbpfd's /metrics (a metric source): called from
 * the thread that serves the page, while the probe is attached. */
static void probe_collect(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit,
			  void *emit_ctx)
{
	struct probe *p = ctx;
	struct lbpf_probe_stats st;
	char labels[640] = "", name[600];

	if (!p->skel || probe_read_stats(p, &st))
		return;
	snprintf(name, sizeof(name), "%s:%s", type_names[p->type], p->spec);
	lbpf_metric_label(labels, sizeof(labels), "probe", name);
	emit(emit_ctx, rt, "lbpf_probe_events_total", "Hits of a probe that passed its filters.",
	     LBPF_METRIC_COUNTER, labels, st.events);
	emit(emit_ctx, rt, "lbpf_probe_lost_total",
	     "Events of a probe that the full ring buffer refused.", LBPF_METRIC_COUNTER, labels,
	     st.lost);
	emit(emit_ctx, rt, "lbpf_probe_filtered_total",
	     "Hits of a probe that its in-kernel filters dropped.", LBPF_METRIC_COUNTER, labels,
	     st.filtered);
}

/* An attached record: people see "attached N probes for ..." when a spec
 * matched several points; a JSON reader sees each probe. */
static void report_attached(struct probe *p, enum probe_type type)
{
	struct lbpf_output rec = { .kind = LBPF_OUTPUT_ATTACHED };
	char name[sizeof(p->spec) + 32];

	snprintf(name, sizeof(name), "%s:%s", type_names[type], p->spec);
	rec.attached.probe = name;
	rec.attached.points = p->npoints;
	lbpf_output(p->rt, &rec);
}

/* ---- lost events are never silent ---- */

static void report_lost(struct probe *p, bool final)
{
	struct lbpf_probe_stats st;

	if (!p->skel || probe_read_stats(p, &st))
		return;
	if (st.lost > p->lost_reported)
		lbpf_runtime_count_lost(p->rt, st.lost - p->lost_reported);
	if ((!final && st.lost > p->lost_reported) || (final && st.lost)) {
		struct lbpf_output rec = { .kind = LBPF_OUTPUT_LOST };

		rec.lost.probe = p->spec;
		rec.lost.events = st.lost > p->lost_reported ? st.lost - p->lost_reported : 0;
		rec.lost.total = st.lost;
		rec.lost.final = final;
		lbpf_output(p->rt, &rec);
	}
	p->lost_reported = st.lost;
}

static void lost_tick(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct probe *p = container_of(node, struct probe, lost_timer);

	report_lost(p, false);
	lbpf_loop_timer_at(loop, node, lbpf_now() + 1000000000ull);
}

/* ---- events: views valid during the callback only ---- */

struct view {
	const struct lbpf_event *e;   /* NULL outside a callback */
	size_t size;
	struct probe *p;
};

/* A new view on L's top, NULL, with its metatable. */
static struct view *new_view(lua_State *L, struct probe *p)
{
	struct view *v = lua_newuserdatauv(L, sizeof(*v), 0);

	*v = (struct view){ NULL, 0, p };
	lua_rawgetp(L, LUA_REGISTRYINDEX, &view_key);
	lua_setmetatable(L, -2);
	return v;
}

/* Pushes the view for the next event: the probe's own one, made once and
 * pointed at each event in turn (as Lunatik's data objects are), or a
 * fresh one when a drain inside a callback nests a second event. */
static struct view *push_view(lua_State *L, struct probe *p)
{
	struct view *v;

	if (p->view_busy)
		return new_view(L, p);
	if (p->view) {
		lbpf_pushref(L, p->view_ref);
		return p->view;
	}
	v = new_view(L, p);
	lua_pushvalue(L, -1);
	p->view_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	p->view = v;
	return v;
}

static void on_event(void *ctx, const void *data, size_t size)
{
	struct probe *p = ctx;
	const struct lbpf_event *e = data;
	lua_State *L = lbpf_runtime_state(p->rt);
	struct view *v;
	bool own;

	if (size < sizeof(*e) || e->attach >= (unsigned)p->npoints || p->fn_ref == LUA_NOREF)
		return;
	lbpf_pushref(L, p->fn_ref);
	v = push_view(L, p);
	v->e = e;
	v->size = size;
	own = v == p->view;
	if (own) {
		p->view_busy = true;
	} else {
		lua_pushvalue(L, -1);
		lua_insert(L, -3); /* a copy keeps it alive to invalidate it */
	}
	lbpf_callback_call(L, &p->callback, 1);
	v->e = NULL;
	if (own)
		p->view_busy = false;
	else
		lua_pop(L, 1);
}

static struct view *checkview(lua_State *L, int ix)
{
	struct view *v = luaL_checkudata(L, ix, "lbpf.event");

	if (!v->e)
		luaL_error(L, "event used after its callback returned; keep ev:table() instead");
	return v;
}

/* Where the tracepoint data ends: the record's data_size, but never past
 * the record the ring buffer holds. */
static size_t event_data_end(const struct view *v)
{
	size_t room = v->size - sizeof(*v->e);

	return v->e->data_size < room ? v->e->data_size : room;
}

static const char *event_string(const struct view *v, int i, size_t *len)
{
	const struct lbpf_event *e = v->e;
	size_t off = event_data_end(v);
	int j;

	for (j = 0; j < i; j++)
		off += e->str_len[j];
	if (!e->str_len[i] || sizeof(*e) + off + e->str_len[i] > v->size) {
		*len = 0;
		return "";
	}
	*len = strnlen((const char *)e->data + off, e->str_len[i]);
	return (const char *)e->data + off;
}

static void push_field(lua_State *L, const struct view *v, const struct tp_field *f)
{
	const struct lbpf_event *e = v->e;
	const __u8 *base = e->data;
	size_t end = event_data_end(v);

	if (f->offset + f->size > end) {
		lua_pushnil(L);
	} else if (f->is_data_loc) {
		__u32 loc = *(const __u32 *)(base + f->offset);
		size_t off = loc & 0xffff, len = loc >> 16;

		if (off + len > end)
			len = off < end ? end - off : 0;
		lua_pushlstring(L, (const char *)base + off, len ? strnlen((const char *)base + off, len) : 0);
	} else if (f->is_string) {
		lua_pushlstring(L, (const char *)base + f->offset, strnlen((const char *)base + f->offset, f->size));
	} else if (strchr(f->type, '[')) { /* u8 addr[4] and friends: the raw bytes */
		lua_pushlstring(L, (const char *)base + f->offset, f->size);
	} else {
		__s64 x = 0;

		switch (f->value_size) {
		case 1: x = f->is_signed ? (__s64)*(const __s8 *)(base + f->offset) : (__s64)*(const __u8 *)(base + f->offset); break;
		case 2: x = f->is_signed ? (__s64)*(const __s16 *)(base + f->offset) : (__s64)*(const __u16 *)(base + f->offset); break;
		case 4: x = f->is_signed ? (__s64)*(const __s32 *)(base + f->offset) : (__s64)*(const __u32 *)(base + f->offset); break;
		default: memcpy(&x, base + f->offset, 8);
		}
		lua_pushinteger(L, x);
	}
}

static void push_truncated(lua_State *L, const struct view *v)
{
	const struct attach_point *ap = &v->p->points[v->e->attach];
	int i;

	if (!v->e->truncated) {
		lua_pushnil(L);
		return;
	}
	lua_newtable(L);
	for (i = 0; i < LBPF_MAX_STRINGS; i++) {
		if (v->e->truncated & (1u << i)) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, ap->strings[i]);
		}
	}
}

static void push_code(lua_State *L, const struct view *v, int code)
{
	const struct lbpf_event *e = v->e;
	const struct attach_point *ap = &v->p->points[e->attach];
	size_t len = 0;

	switch (code) {
	case VIEW_PID: lua_pushinteger(L, e->pid); return;
	case VIEW_TID: lua_pushinteger(L, e->tid); return;
	case VIEW_UID: lua_pushinteger(L, e->uid); return;
	case VIEW_GID: lua_pushinteger(L, e->gid); return;
	case VIEW_CPU: lua_pushinteger(L, e->hdr.cpu); return;
	case VIEW_CGROUP: lua_pushinteger(L, (lua_Integer)e->cgroup); return;
	case VIEW_TS: lua_pushinteger(L, (lua_Integer)e->hdr.ts); return;
	case VIEW_COMM: lua_pushlstring(L, e->comm, strnlen(e->comm, sizeof(e->comm))); return;
	case VIEW_PROBE: lua_pushstring(L, ap->name); return;
	case VIEW_RET: lua_pushinteger(L, e->ret); return;
	case VIEW_KSTACK: probe_push_stack(L, v->p, e->kstack, false, e->pid); return;
	case VIEW_USTACK: probe_push_stack(L, v->p, e->ustack, true, e->pid); return;
	case VIEW_TRUNCATED: push_truncated(L, v); return;
	}
	if (code >= VIEW_ARG1 && code <= VIEW_ARG6) {
		lua_pushinteger(L, (lua_Integer)e->args[code - VIEW_ARG1]);
	} else if (code >= VIEW_STRING) {
		const char *str = event_string(v, code - VIEW_STRING, &len);

		lua_pushlstring(L, str, len);
	} else if (code >= VIEW_PATH) {
		const struct probe_path *pp = &ap->paths[code - VIEW_PATH];
		size_t end = event_data_end(v);

		probe_push_path(L, v->p, pp, e->data + pp->bp.steps.dest,
				end > pp->bp.steps.dest ? end - pp->bp.steps.dest : 0);
	} else {
		push_field(L, v, &ap->format.fields[code - VIEW_FIELD]);
	}
}

static int view_table(lua_State *L);

/* ev.<name>: a field, or the method table(). Unknown names are errors. */
static int view_index(lua_State *L)
{
	struct view *v = checkview(L, 1);
	const struct attach_point *ap = &v->p->points[v->e->attach];

	lbpf_pushref(L, ap->fields_ref);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, -2) == LUA_TNUMBER) {
		push_code(L, v, (int)lua_tointeger(L, -1));
		return 1;
	}
	if (lua_type(L, 2) == LUA_TSTRING && !strcmp(lua_tostring(L, 2), "table")) {
		lua_pushcfunction(L, view_table);
		return 1;
	}
	return luaL_error(L, "event of %s has no field '%s'", ap->name, luaL_tolstring(L, 2, NULL));
}

/* ev:table() -> a plain table copy that outlives the callback */
static int view_table(lua_State *L)
{
	struct view *v = checkview(L, 1);
	const struct attach_point *ap = &v->p->points[v->e->attach];

	lua_newtable(L);
	lbpf_pushref(L, ap->fields_ref);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		push_code(L, v, (int)lua_tointeger(L, -2));
		lua_settable(L, -6);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 1;
}

static int view_tostring(lua_State *L)
{
	struct view *v = luaL_checkudata(L, 1, "lbpf.event");

	if (!v->e)
		lua_pushliteral(L, "lbpf.event (expired)");
	else
		lua_pushfstring(L, "lbpf.event (%s pid %d)", v->p->points[v->e->attach].name, v->e->pid);
	return 1;
}

static void create_view_metatable(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &view_key) == LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	luaL_newmetatable(L, "lbpf.event");
	lua_pushcfunction(L, view_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, view_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &view_key);
}

/* ---- constructors ---- */

static void probe_release(void *private)
{
	struct probe *p = private;
	int i;

	if (p->skel && p->print && p->rt && !lbpf_runtime_closing(p->rt) && p->agg != AGG_NONE)
		probe_print_aggregation(lbpf_runtime_state(p->rt), p);
	probe_detach(p);
	lbpf_callback_free(p->callback);
	p->callback = NULL;
	if (p->skel)
		report_lost(p, true);
	for (i = 0; i < p->npoints; i++) {
		tracefs_format_free(&p->points[i].format);
		if (!lbpf_runtime_closing(p->rt))
			luaL_unref(lbpf_runtime_state(p->rt), LUA_REGISTRYINDEX, p->points[i].fields_ref);
	}
	if (!lbpf_runtime_closing(p->rt)) {
		luaL_unref(lbpf_runtime_state(p->rt), LUA_REGISTRYINDEX, p->fn_ref);
		luaL_unref(lbpf_runtime_state(p->rt), LUA_REGISTRYINDEX, p->view_ref);
	}
	if (p->view)
		p->view->e = NULL;
	p->view = NULL;
	probe_bpf__destroy(p->skel);
	ksyms_free(p->ksyms);
	usyms_free(p->usyms);
	btf_kernel_free(p->kernel_btf);
	free(p->points);
}

/* Parses ([opts], [fn]) from index ix; returns the opts index or 0. */
static int parse_tail(lua_State *L, struct probe *p, int ix, int nargs)
{
	int opts = 0;

	if (ix <= nargs && lua_istable(L, ix))
		opts = ix++;
	else if (ix <= nargs && !lua_isnil(L, ix) && !lua_isfunction(L, ix))
		luaL_typeerror(L, ix, "options table or function");
	if (ix <= nargs && lua_isfunction(L, ix)) {
		lua_pushvalue(L, ix);
		p->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	} else if (ix <= nargs && !lua_isnil(L, ix)) {
		luaL_typeerror(L, ix, "function");
	}
	if (ix + 1 <= nargs)
		luaL_argerror(L, ix + 1, "too many arguments");
	return opts;
}

/* Releases the probe and raises its attach error; for USDT probes, with the
 * last line libbpf logged (an argument spec it cannot read, for one). */
static void fail_attach(lua_State *L, struct probe *p, int err, int failed)
{
	char name[256], why[512] = "";
	bool tracepoint = p->type == PROBE_TRACEPOINT;
	const char *log = lbpf_libbpf_log();

	snprintf(name, sizeof(name), "%s", failed >= 0 && failed < p->npoints ? p->points[failed].name : p->spec);
	if (p->type == PROBE_USDT && *log)
		snprintf(why, sizeof(why), " (%.*s)", (int)strcspn(lbpf_libbpf_log_tail(1), "\n"),
			 lbpf_libbpf_log_tail(1));
	lbpf_releaseobject(p->object); /* nothing stays attached or subscribed; frees p */
	if (err == -ENOENT && !tracepoint && !*why)
		lbpf_throw(L, err, "attach %s (no such function or symbol)", name);
	lbpf_throw(L, err, "attach %s%s", name, why);
}

/* fentry/fexit was refused (err): says so once per process, and loads the
 * probe as a kprobe instead, where kprobes exist. */
/* probe_load; where the verifier refuses the direct program that
 * path_reads = "auto" chose, the paths are read with the helper instead. */
static int probe_load_paths(struct probe *p)
{
	int err = probe_load(p);

	if (err && p->direct && p->path_reads == PATH_READS_AUTO &&
	    (err == -EACCES || err == -EINVAL)) {
		probe_bpf__destroy(p->skel);
		p->skel = NULL;
		p->direct = false;
		err = probe_load(p);
	}
	return err;
}

static int fall_back_to_kprobe(lua_State *L, struct probe *p, int err)
{
	static bool told;
	char msg[512];

	if (!kprobes_available()) {
		/* the message first: releasing the object frees p */
		snprintf(msg, sizeof(msg), "%s '%s': %s, and fentry was refused: %s (%s)",
			 type_names[p->type], p->spec, no_kprobes, lbpf_strerror(err),
			 lbpf_errname(err));
		lbpf_releaseobject(p->object);
		luaL_error(L, "%s", msg);
	}
	if (!told)
		lbpf_log(p->rt, "fentry/fexit refused for %s (%s); kernel functions are traced with "
			 "kprobes (via = \"fentry\" shows the verifier's reason)", p->spec,
			 lbpf_errname(err));
	told = true;
	probe_bpf__destroy(p->skel);
	p->skel = NULL;
	p->fentry = false;
	return probe_load_paths(p);
}

/* Creates the probe object for `type` from spec at 1 and options after. */
static int probe_new(lua_State *L, enum probe_type type, int tail, bool latency)
{
	int nargs = lua_gettop(L);
	lbpf_object_t *object = lbpf_newobject(L, &probe_class, sizeof(struct probe));
	struct probe *p = object->private;
	int opts, err, failed = -1, ud = lua_gettop(L);
	struct probe_opts o;
	char msg[4096];

	p->rt = lbpf_toruntime(L);
	p->object = object;
	p->type = type;
	p->fn_ref = p->view_ref = LUA_NOREF;
	p->pid = -1;
	p->enabled = true;
	p->latency = latency;
	p->lost_timer.fn = lost_tick;
	p->lost_timer.weak = true;
	snprintf(p->spec, sizeof(p->spec), "%s", luaL_checkstring(L, 1));
	opts = parse_tail(L, p, tail, nargs);
	probe_check_opts(L, opts, &o);
	p->via = o.via;
	p->path_reads = o.path_reads;
	if (o.via != VIA_AUTO && type != PROBE_KPROBE && type != PROBE_KRETPROBE)
		luaL_error(L, "via: only kprobes and kretprobes choose how they attach");
	if (opts && lua_getfield(L, opts, "pid") != LUA_TNIL) {
		luaL_argcheck(L, type == PROBE_UPROBE || type == PROBE_URETPROBE ||
			      type == PROBE_USDT, opts,
			      "pid: only uprobes and USDT probes take a pid; use filter = {pid = N}");
		p->pid = (int)luaL_checkinteger(L, -1);
	}
	if (type == PROBE_TRACEPOINT)
		find_tracepoints(L, p);
	else if (type == PROBE_RAW_TRACEPOINT)
		find_raw_tracepoint(L, p);
	else if (type == PROBE_KPROBE || type == PROBE_KRETPROBE)
		find_functions(L, p);
	else if (type == PROBE_USDT)
		find_usdt(L, p);
	else
		find_symbols(L, p, 2);
	if (type == PROBE_UPROBE || type == PROBE_URETPROBE || type == PROBE_USDT) {
		/* messages name the symbol or probe too */
		snprintf(p->spec, sizeof(p->spec), "%.120s:%.120s", p->binary,
			 lua_isinteger(L, 2) ? p->points[0].target : lua_tostring(L, 2));
		check_pid(L, p);
	}
	if (probe_compile(p, &o, msg, sizeof(msg)))
		luaL_error(L, "%s", msg);
	choose_fentry(L, p);
	choose_direct(L, p);
	probe_build_fields(L, p);
	if (p->fn_ref != LUA_NOREF && (p->source = lbpf_ringbuf_subscribe(p->rt, on_event, p)) < 0)
		lbpf_throw(L, p->source, "subscribe %s to the ring buffer", p->spec);
	prepare_configs(p);
	err = probe_load_paths(p);
	if (err && p->fentry && p->via == VIA_AUTO)
		err = fall_back_to_kprobe(L, p, err);
	if (err) {
		lbpf_releaseobject(object);
		luaL_error(L, "load probe for %s: %s (%s)%s%s", luaL_checkstring(L, 1), lbpf_strerror(err),
			   lbpf_errname(err), *lbpf_libbpf_log() ? "; the verifier said:\n" : "",
			   lbpf_libbpf_log_tail(12));
	}
	err = write_configs(p);
	lbpf_libbpf_log_clear();
	if (!err)
		err = probe_attach(p, &failed);
	if (err)
		fail_attach(L, p, err, failed);
	p->attached = true;
	lbpf_loop_hold(lbpf_runtime_getloop(p->rt), 1);
	lbpf_loop_timer_at(lbpf_runtime_getloop(p->rt), &p->lost_timer, lbpf_now() + 1000000000ull);
	p->metrics = lbpf_metric_source_add(p->rt, probe_collect, p); /* NULL: none */
	report_attached(p, type);
	lua_settop(L, ud);
	lbpf_registerobject(L, -1, object);
	return 1;
}

/* lbpf.tracepoint("category:name", [opts], [fn]) -> probe */
static int lbpf_tracepoint(lua_State *L)
{
	return probe_new(L, PROBE_TRACEPOINT, 2, false);
}

/* lbpf.raw_tracepoint(name, [opts], [fn]) -> probe: arguments typed by BTF */
static int lbpf_raw_tracepoint(lua_State *L)
{
	return probe_new(L, PROBE_RAW_TRACEPOINT, 2, false);
}

/* lbpf.kprobe(symbol, [opts], [fn]) -> probe */
static int lbpf_kprobe(lua_State *L)
{
	return probe_new(L, PROBE_KPROBE, 2, false);
}

/* lbpf.kretprobe(symbol, [opts], [fn]) -> probe */
static int lbpf_kretprobe(lua_State *L)
{
	return probe_new(L, PROBE_KRETPROBE, 2, false);
}

/* lbpf.uprobe(binary, symbol_or_offset, [opts], [fn]) -> probe */
static int lbpf_uprobe(lua_State *L)
{
	return probe_new(L, PROBE_UPROBE, 3, false);
}

/* lbpf.uretprobe(binary, symbol_or_offset, [opts], [fn]) -> probe */
static int lbpf_uretprobe(lua_State *L)
{
	return probe_new(L, PROBE_URETPROBE, 3, false);
}

/* lbpf.usdt(binary, "provider:name", [opts], [fn]) -> probe: arg1..argN
 * typed by the probe's note */
static int lbpf_usdt(lua_State *L)
{
	luaL_checkstring(L, 1);
	luaL_checkstring(L, 2); /* before probe_new pushes its object */
	return probe_new(L, PROBE_USDT, 3, false);
}

/* lbpf.latency("func" | "/path/binary:symbol", [opts]) -> probe whose hist()
 * is the latency of each call in ns, entry paired with return per thread. */
static int lbpf_latency(lua_State *L)
{
	const char *spec = luaL_checkstring(L, 1);
	const char *colon = strrchr(spec, ':');
	int top = lua_gettop(L);

	luaL_argcheck(L, top < 2 || lua_istable(L, 2) || lua_isnil(L, 2), 2, "options table expected");
	lua_settop(L, 2);
	if (lua_isnil(L, 2)) {
		lua_newtable(L);
		lua_replace(L, 2);
	}
	if (lua_getfield(L, 2, "hist") == LUA_TNIL) {
		lua_pushliteral(L, "latency");
		lua_setfield(L, 2, "hist");
	}
	lua_pop(L, 1);
	if (!strncmp(spec, "uprobe:", 7))
		spec += 7;
	if (spec[0] == '/' && colon) {
		/* "/path/binary:symbol" -> (binary, symbol, opts) for the uprobe path */
		lua_pushlstring(L, spec, colon - spec);
		lua_pushstring(L, colon + 1);
		lua_pushvalue(L, 2);
		lua_remove(L, 1);
		lua_remove(L, 1);
		return probe_new(L, PROBE_URETPROBE, 3, true);
	}
	return probe_new(L, PROBE_KRETPROBE, 2, true);
}

/* ---- methods ---- */

/* probe:detach(): idempotent; prints the aggregation when opts.print */
static int probe_detach_method(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);

	if (p->attached && p->print && p->agg != AGG_NONE)
		probe_print_aggregation(L, p);
	p->print = false;
	probe_detach(p);
	lbpf_unregisterobject(L, p->object);
	return 0;
}

/* probe:print(): prints the aggregation now, as print = true does at detach */
static int probe_print_method(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);

	if (p->agg == AGG_NONE)
		luaL_error(L, "probe:print(): %s has no aggregation (opts.count, hist, lhist, sum, "
			      "min, max or avg)", p->spec);
	luaL_argcheck(L, p->skel != NULL, 1, "probe is detached");
	probe_print_aggregation(L, p);
	return 0;
}

/* probe:enable(bool): a disabled probe stays attached but does nothing */
static int probe_enable(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);
	int fd, i;

	luaL_checktype(L, 2, LUA_TBOOLEAN);
	luaL_argcheck(L, p->attached, 1, "probe is detached");
	p->enabled = lua_toboolean(L, 2);
	fd = bpf_map__fd(p->skel->maps.configs);
	for (i = 0; i < p->npoints; i++) {
		__u32 key = i;

		p->points[i].config.enabled = p->enabled;
		if (bpf_map_update_elem(fd, &key, &p->points[i].config, BPF_ANY))
			lbpf_throw(L, -errno, "enable %s", p->points[i].name);
	}
	return 0;
}

/* probe:stats() -> {events=, lost=, filtered=, dropped=, attached=} */
static int probe_stats(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);
	struct lbpf_probe_stats st;

	lbpf_try(L, probe_read_stats(p, &st));
	lua_createtable(L, 0, 5);
	lua_pushinteger(L, st.events);
	lua_setfield(L, -2, "events");
	lua_pushinteger(L, st.lost);
	lua_setfield(L, -2, "lost");
	lua_pushinteger(L, st.filtered);
	lua_setfield(L, -2, "filtered");
	lua_pushinteger(L, st.agg_dropped);
	lua_setfield(L, -2, "dropped");
	lua_pushinteger(L, p->attached ? p->npoints : 0);
	lua_setfield(L, -2, "attached");
	return 1;
}

static struct probe *checkagg(lua_State *L, const char *method, bool hist)
{
	struct probe *p = checkprobe(L, 1);
	bool is_hist = p->agg == AGG_HIST || p->agg == AGG_LHIST;

	if (p->agg == AGG_NONE)
		luaL_error(L, "probe:%s(): %s has no aggregation (opts.count, hist, lhist, sum, "
			      "min, max or avg)", method, p->spec);
	if (hist != is_hist)
		luaL_error(L, "probe:%s(): %s aggregates with %s; use probe:%s()", method, p->spec,
			   is_hist ? "a histogram" : "count/sum/min/max/avg", is_hist ? "hist" : "counts");
	luaL_argcheck(L, p->skel != NULL, 1, "probe is detached");
	return p;
}

/* probe:counts() -> {key -> n} (count), {key -> value} or value (sum/min/max/avg) */
static int probe_counts(lua_State *L)
{
	probe_push_aggregation(L, checkagg(L, "counts", false));
	return 1;
}

/* probe:hist() -> histogram, or {key -> histogram} with opts.by */
static int probe_hist(lua_State *L)
{
	probe_push_aggregation(L, checkagg(L, "hist", true));
	return 1;
}

/* probe:clear(): empties the aggregation */
static int probe_clear(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);

	luaL_argcheck(L, p->skel && p->agg != AGG_NONE, 1, "probe has no aggregation to clear");
	lbpf_try(L, probe_clear_aggregation(p));
	return 0;
}

/* probe:points() -> {"tracepoint:syscalls:sys_enter_openat", ...} */
static int probe_points(lua_State *L)
{
	struct probe *p = checkprobe(L, 1);
	int i;

	lua_createtable(L, p->npoints, 0);
	for (i = 0; i < p->npoints; i++) {
		lua_pushstring(L, p->points[i].name);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

static const luaL_Reg probe_methods[] = {
	{ "detach", probe_detach_method },
	{ "enable", probe_enable },
	{ "stats", probe_stats },
	{ "counts", probe_counts },
	{ "values", probe_counts },
	{ "hist", probe_hist },
	{ "print", probe_print_method },
	{ "clear", probe_clear },
	{ "points", probe_points },
	{ NULL, NULL },
};

/* The program of its first attach point, that link, and its main map: the
 * aggregation when it aggregates in a hash, else the per-point counters. */
static void probe_kernel_ids(void *private, lbpf_kernel_ids_t *ids)
{
	struct probe *p = private;
	struct bpf_link_info info = { 0 };
	uint32_t len = sizeof(info);
	int fd;

	if (!p->skel || !p->npoints || !p->points[0].link)
		return;
	fd = bpf_link__fd(p->points[0].link);
	ids->link = lbpf_bpf_id(fd);
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		ids->prog = info.prog_id;
	ids->map = lbpf_bpf_id(bpf_map__fd(ro_uses_hash(p) ? p->skel->maps.aggs : p->skel->maps.stats));
}

static const lbpf_class_t probe_class = {
	.name = "lbpf.probe",
	.methods = probe_methods,
	.release = probe_release,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = probe_kernel_ids,
};

static const luaL_Reg probe_lib[] = {
	{ "tracepoint", lbpf_tracepoint },
	{ "raw_tracepoint", lbpf_raw_tracepoint },
	{ "kprobe", lbpf_kprobe },
	{ "kretprobe", lbpf_kretprobe },
	{ "uprobe", lbpf_uprobe },
	{ "uretprobe", lbpf_uretprobe },
	{ "usdt", lbpf_usdt },
	{ "latency", lbpf_latency },
	{ "print_hist", probe_print_hist },
	{ NULL, NULL },
};

static const lbpf_class_t *const probe_classes[] = { &probe_class, NULL };

int luaopen_lbpf_probe(lua_State *L);
int luaopen_lbpf_probe(lua_State *L)
{
	const lbpf_class_t *const *c;

	create_view_metatable(L);
	for (c = probe_classes; *c; c++) {
		lbpf_pushclass(L, *c);
		lua_pop(L, 1);
	}
	luaL_newlib(L, probe_lib);
	return 1;
}
