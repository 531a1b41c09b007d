// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The packet filter's programs and maps: loading (sized by max_rules, the
 * rule-set maps mmap-ed for the compiler), the three attachments, the rule
 * list, counters, sets, flow decisions and BPF_PROG_TEST_RUN. No Lua here.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "filter.h"
#include "core/internal.h"
#include "filter.skel.h"

void (*filter_dry_run_hook)(void *ctx, struct filter_engine *e, const struct filter_place *at);
void *filter_dry_run_ctx;
int filter_dry_run_ct = FILTER_CT_NEW;

#define BPF_PROG_TYPE_NETFILTER_ 32
#define BPF_NETFILTER_           45
#define BPF_LINK_CREATE_         28

static int fail(struct filter_engine *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the first failure's message; returns err. */
static int fail(struct filter_engine *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->error, sizeof(e->error), fmt, ap);
	va_end(ap);
	return err;
}

void filter_spec_free(struct filter_spec *spec)
{
	if (!spec)
		return;
	free(spec->src);
	free(spec->dst);
	free(spec->sport);
	free(spec->dport);
	free(spec->iif);
	free(spec->icmp);
	free(spec->length);
	free(spec->comment);
	free(spec);
}

static size_t map_bytes(const struct bpf_map *map)
{
	size_t stride = (bpf_map__value_size(map) + 7) & ~7UL, page = sysconf(_SC_PAGESIZE);

	return (stride * bpf_map__max_entries(map) + page - 1) & ~(page - 1);
}

static void *map_mmap(const struct bpf_map *map)
{
	void *p = mmap(NULL, map_bytes(map), PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);

	return p == MAP_FAILED ? NULL : p;
}

static void map_munmap(const struct bpf_map *map, void *p)
{
	if (p)
		munmap(p, map_bytes(map));
}

/* Sizes the maps from max_rules (see include/lbpf/filter.h for the layout). */
static int size_maps(struct filter_engine *e)
{
	struct filter_bpf *s = e->skel;
	uint32_t r = e->max_rules;
	int err = 0;

	e->rule_cap = r;
	e->desc_cap = 16 * r + 4096;
	e->pool_cap = 24 * r + 65536; /* 16 words a rule do for little overlap */
	e->iv4_cap = 4 * (2 * r + 2) + 1024;
	e->iv6_cap = 4 * (r + 2) + 1024;
	s->rodata->rule_cap = e->rule_cap;
	s->rodata->desc_cap = e->desc_cap;
	s->rodata->pool_cap = e->pool_cap;
	s->rodata->iv4_cap = e->iv4_cap;
	s->rodata->iv6_cap = e->iv6_cap;
	err = err ?: bpf_map__set_max_entries(s->maps.filter_rules, 2 * e->rule_cap);
	err = err ?: bpf_map__set_max_entries(s->maps.filter_descs, 2 * e->desc_cap);
	err = err ?: bpf_map__set_max_entries(s->maps.filter_pool, 2 * e->pool_cap);
	err = err ?: bpf_map__set_max_entries(s->maps.filter_iv4, 2 * e->iv4_cap);
	err = err ?: bpf_map__set_max_entries(s->maps.filter_iv6, 2 * e->iv6_cap);
	err = err ?: bpf_map__set_max_entries(s->maps.filter_counters, e->rule_cap);
	return err;
}

static int mmap_maps(struct filter_engine *e)
{
	struct filter_bpf *s = e->skel;

	e->gens = map_mmap(s->maps.filter_gens);
	e->rules = map_mmap(s->maps.filter_rules);
	e->descs = map_mmap(s->maps.filter_descs);
	e->pool = map_mmap(s->maps.filter_pool);
	e->dense = map_mmap(s->maps.filter_dense);
	e->dirs = map_mmap(s->maps.filter_dirs);
	e->iv4 = map_mmap(s->maps.filter_iv4);
	e->iv6 = map_mmap(s->maps.filter_iv6);
	e->ports = map_mmap(s->maps.filter_ports);
	e->metas = map_mmap(s->maps.filter_metas);
	e->lens = map_mmap(s->maps.filter_lens);
	e->cts = map_mmap(s->maps.filter_cts);
	if (!e->gens || !e->rules || !e->descs || !e->pool || !e->dense || !e->dirs || !e->iv4 ||
	    !e->iv6 || !e->ports || !e->metas || !e->lens || !e->cts)
		return -errno;
	return 0;
}

static void munmap_maps(struct filter_engine *e)
{
	struct filter_bpf *s = e->skel;

	map_munmap(s->maps.filter_gens, e->gens);
	map_munmap(s->maps.filter_rules, e->rules);
	map_munmap(s->maps.filter_descs, e->descs);
	map_munmap(s->maps.filter_pool, e->pool);
	map_munmap(s->maps.filter_dense, e->dense);
	map_munmap(s->maps.filter_dirs, e->dirs);
	map_munmap(s->maps.filter_iv4, e->iv4);
	map_munmap(s->maps.filter_iv6, e->iv6);
	map_munmap(s->maps.filter_ports, e->ports);
	map_munmap(s->maps.filter_metas, e->metas);
	map_munmap(s->maps.filter_lens, e->lens);
	map_munmap(s->maps.filter_cts, e->cts);
}

#define POOL_MIN_WORDS 65536
#define POOL_MAX_WORDS (UINT32_MAX / 2) /* class offsets are 32 bits */

/* Uninstalls and frees generation gen's words past pool_cap. */
static void more_free(struct filter_engine *e, uint32_t gen)
{
	if (e->more[gen])
		munmap(e->more[gen], (size_t)e->more_words[gen] * sizeof(uint64_t));
	if (e->more_fd[gen] >= 0)
		close(e->more_fd[gen]);
	e->more[gen] = NULL;
	e->more_fd[gen] = -1;
	e->more_words[gen] = 0;
}

/* Replaces generation gen's words past pool_cap with n words (n = 0: none),
 * holding the first keep of them. */
static int more_resize(struct filter_engine *e, uint32_t gen, uint32_t n, uint32_t keep)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	struct bpf_map *outer = e->skel->maps.filter_pool_more;
	size_t bytes = (size_t)n * sizeof(uint64_t);
	void *mem;
	int fd, err;

	if (!n) {
		bpf_map__delete_elem(outer, &gen, sizeof(gen), 0);
		more_free(e, gen);
		return 0;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lbpf_fw_pool", sizeof(uint32_t),
			    sizeof(uint64_t), n, &o);
	if (fd < 0) {
		err = -errno;
		return fail(e, err, "rules: allocate %zu MiB more of class pool: %s", bytes >> 20,
			    strerror(-err));
	}
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		close(fd);
		return fail(e, err, "rules: mmap the class pool: %s", strerror(-err));
	}
	if (keep)
		memcpy(mem, e->more[gen], (size_t)keep * sizeof(uint64_t));
	err = bpf_map__update_elem(outer, &gen, sizeof(gen), &fd, sizeof(fd), 0);
	if (err) {
		munmap(mem, bytes);
		close(fd);
		return fail(e, err, "rules: install the class pool: %s", strerror(-err));
	}
	more_free(e, gen);
	e->more_fd[gen] = fd;
	e->more[gen] = mem;
	e->more_words[gen] = n;
	return 0;
}

int filter_pool_reserve(struct filter_engine *e, uint32_t gen, uint64_t words, uint32_t keep)
{
	uint64_t have = (uint64_t)e->pool_cap + e->more_words[gen];
	uint64_t n = e->more_words[gen] + e->more_words[gen] / 2;

	if (words <= have)
		return 0;
	if (words > POOL_MAX_WORDS)
		return fail(e, -E2BIG, "rules: the classes need %llu pool words (%u at most)",
			    (unsigned long long)words, POOL_MAX_WORDS);
	words -= e->pool_cap;
	n = n < words ? words : n;
	n = n < POOL_MIN_WORDS ? POOL_MIN_WORDS : n > POOL_MAX_WORDS ? POOL_MAX_WORDS : n;
	return more_resize(e, gen, n, keep > e->pool_cap ? keep - e->pool_cap : 0);
}

int filter_pool_fit(struct filter_engine *e, uint32_t gen, uint32_t used)
{
	uint32_t past = used > e->pool_cap ? used - e->pool_cap : 0;
	uint64_t n = past ? (uint64_t)past + past / 16 + POOL_MIN_WORDS : 0;

	if (e->more_words[gen] <= n + n / 4)
		return 0;
	return more_resize(e, gen, n, past);
}

static int new_set_map(const char *name, uint32_t max_entries)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, sizeof(struct filter_set_key),
				sizeof(uint64_t), max_entries, &o);

	return fd < 0 ? -errno : fd;
}

/* The programs push events only while lbpfd's runtimes map says their
 * runtime runs (bpf/record.bpf.h); outside lbpfd the rodata id stays 0 and
 * the object's own placeholder map is never read. 0 or -errno. */
static int take_gate(struct filter_bpf *s, const struct filter_engine_opts *o)
{
	if (!o->runtime_id || o->runtimes_fd <= 0) {
		s->rodata->lbpf_runtime_id = 0;
		return 0;
	}
	s->rodata->lbpf_runtime_id = o->runtime_id;
	return bpf_map__reuse_fd(s->maps.lbpf_runtimes, o->runtimes_fd);
}

/* Whether BTF (vmlinux, or the nf_conntrack module's) has the function. */
static bool kernel_has_func(struct btf *vmlinux, const char *name)
{
	struct btf *mod;
	bool found;

	if (btf__find_by_name_kind(vmlinux, name, BTF_KIND_FUNC) > 0)
		return true;
	mod = btf__load_module_btf("nf_conntrack", vmlinux);
	found = mod && btf__find_by_name_kind(mod, name, BTF_KIND_FUNC) > 0;
	btf__free(mod);
	return found;
}

/* The first conntrack kfunc the XDP (and, skb: the tc) programs would need
 * that this kernel lacks, or NULL. */
static const char *ct_kfunc_missing(bool skb)
{
	static const char *const names[] = { "bpf_xdp_ct_lookup", "bpf_ct_release",
					     "bpf_skb_ct_lookup" };
	struct btf *vmlinux;
	const char *missing = NULL;

	/* tests: behave as a kernel without the kfuncs (the plain programs) */
	if (getenv("LBPF_TEST_NO_CT_KFUNCS"))
		return names[skb ? 2 : 0];
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return names[0];
	for (size_t i = 0; i < (skb ? 3 : 2) && !missing; i++)
		if (!kernel_has_func(vmlinux, names[i]))
			missing = names[i];
	btf__free(vmlinux);
	return missing;
}

static int prepare_programs(struct filter_engine *e, const struct filter_engine_opts *o)
{
	struct filter_bpf *s = e->skel;
	int err = 0;

	/* the *_ct programs call the conntrack kfuncs: only where they exist */
	e->ct_missing = ct_kfunc_missing(o->hook == FILTER_HOOK_TC);
	e->xdp_prog = e->ct_missing ? s->progs.filter_xdp : s->progs.filter_xdp_ct;
	e->tc_prog = e->ct_missing ? s->progs.filter_tc : s->progs.filter_tc_ct;
	bpf_program__set_autoload(s->progs.filter_xdp, e->xdp_prog == s->progs.filter_xdp);
	bpf_program__set_autoload(s->progs.filter_xdp_ct, e->xdp_prog == s->progs.filter_xdp_ct);
	bpf_program__set_autoload(s->progs.filter_tc, o->hook == FILTER_HOOK_TC &&
				  e->tc_prog == s->progs.filter_tc);
	bpf_program__set_autoload(s->progs.filter_tc_ct, o->hook == FILTER_HOOK_TC &&
				  e->tc_prog == s->progs.filter_tc_ct);
	bpf_program__set_autoload(s->progs.filter_nf, o->hook == FILTER_HOOK_NF);
	/* `lbpf test` runs the tc and netfilter programs' test variants */
	s->rodata->test_ct_state = filter_dry_run_ct + 1;
	bpf_program__set_autoload(s->progs.filter_tc_test,
				  o->hook == FILTER_HOOK_TC && filter_dry_run_hook);
	bpf_program__set_autoload(s->progs.filter_nf_test,
				  o->hook == FILTER_HOOK_NF && filter_dry_run_hook);
	for (int i = 0; i < 2 && o->hook == FILTER_HOOK_NF && !err; i++) {
		struct bpf_program *nf = i ? s->progs.filter_nf_test : s->progs.filter_nf;

		err = bpf_program__set_type(nf, BPF_PROG_TYPE_NETFILTER_);
		err = err ?: bpf_program__set_expected_attach_type(nf, BPF_NETFILTER_);
	}
	if (!err && o->ringbuf_fd >= 0)
		err = bpf_map__reuse_fd(s->maps.lbpf_events, o->ringbuf_fd);
	if (!err)
		err = take_gate(s, o);
	return err;
}

void filter_kernel_ids(struct filter_engine *e, lbpf_kernel_ids_t *ids)
{
	struct filter_bpf *s = e->skel;
	const struct bpf_program *prog = e->hook == FILTER_HOOK_XDP ? e->xdp_prog :
					 e->hook == FILTER_HOOK_TC  ? e->tc_prog :
					 e->hook == FILTER_HOOK_NF  ? s->progs.filter_nf : NULL;

	ids->prog = prog ? lbpf_bpf_id(bpf_program__fd(prog)) : 0;
	ids->map = lbpf_bpf_id(bpf_map__fd(s->maps.filter_rules));
	ids->link = lbpf_bpf_id(e->xdp_link >= 0 ? e->xdp_link :
				e->nf_links[0] >= 0 ? e->nf_links[0] : e->nf_links[1]);
}

/* ---- pinned attachments (lbpfd) ---- */

/* Whether a netfilter hook at (hooknum, priority) runs after conntrack gave
 * the packet its entry: conntrack runs at -200 in prerouting and output
 * (NF_IP_PRI_CONNTRACK); input, forward and postrouting come after those. */
static bool nf_after_conntrack(int hooknum, int priority)
{
	return (hooknum != 0 /* PRE_ROUTING */ && hooknum != 3 /* LOCAL_OUT */) || priority > -200;
}

static const char *const nf_pin_names[2] = { "nf4", "nf6" };
#define STATS_PIN "stats"         /* the outcome counters (reuse_pinned_stats) */

/* A tc filter has no link: its program is pinned under a name that says
 * where the filter is, tc_IFINDEX_DIRECTION_HANDLE_PRIORITY (bpffs refuses
 * dots in names). */
struct tc_place {
	int ifindex;
	int attach_point;          /* BPF_TC_INGRESS or BPF_TC_EGRESS */
	uint32_t handle, priority;
};

#define TC_PIN_NAME_MAX 64

static void tc_pin_name(const struct tc_place *t, char *buf, size_t size)
{
	snprintf(buf, size, "tc_%d_%s_%u_%u", t->ifindex,
		 t->attach_point == BPF_TC_EGRESS ? "egress" : "ingress", t->handle, t->priority);
}

/* Reads a tc pin's name; false for any other name. */
static bool tc_pin_parse(const char *name, struct tc_place *t)
{
	char dir[8];
	int end = 0;

	if (sscanf(name, "tc_%d_%7[a-z]_%u_%u%n", &t->ifindex, dir, &t->handle, &t->priority,
		   &end) != 4 || name[end])
		return false;
	if (!strcmp(dir, "ingress"))
		t->attach_point = BPF_TC_INGRESS;
	else if (!strcmp(dir, "egress"))
		t->attach_point = BPF_TC_EGRESS;
	else
		return false;
	return true;
}

/* Where this engine's own tc filter is. */
static struct tc_place tc_own(const struct filter_engine *e)
{
	return (struct tc_place){ e->ifindex, e->tc_attach_point, e->tc_handle, e->tc_priority };
}

/* Where the tc filter this engine adopts is. */
static struct tc_place tc_adopted(const struct filter_engine *e)
{
	return (struct tc_place){ e->ifindex, e->tc_attach_point, e->adopt_tc_handle,
				  e->adopt_tc_priority };
}

/* Whether the tc filter at t is there and runs the program prog_fd: a pin
 * never detaches a filter someone else put at that handle and priority. */
static bool tc_runs(const struct tc_place *t, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex, .attach_point = t->attach_point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = t->handle, .priority = t->priority);
	uint32_t id = lbpf_bpf_id(prog_fd);

	return id && t->handle && t->priority && !bpf_tc_query(&hook, &opts) && opts.prog_id == id;
}

static void tc_detach_if_runs(const struct tc_place *t, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = t->ifindex, .attach_point = t->attach_point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = t->handle, .priority = t->priority);

	if (tc_runs(t, prog_fd))
		bpf_tc_detach(&hook, &opts);
}

/* Detaches and unpins what dir/name holds: a link, or a tc filter's
 * program. */
static void pin_entry_remove(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct tc_place t;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd >= 0 && tc_pin_parse(name, &t))
		tc_detach_if_runs(&t, fd);
	else if (fd >= 0)
		bpf_link_detach(fd);
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/* mkdir -p; 0 or -errno. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX], *slash;

	snprintf(path, sizeof(path), "%s", dir);
	for (slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
		if (slash)
			*slash = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		if (!slash)
			return 0;
		*slash = '/';
	}
}

static void pin_path(const struct filter_engine *e, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", e->pin_dir, name);
}

/* Pins fd (a link, or tc's program) as name, in place of whatever an
 * earlier engine pinned there. */
static int pin_fd(struct filter_engine *e, const char *name, int fd)
{
	char path[PATH_MAX];
	int err = make_dirs(e->pin_dir);

	pin_path(e, name, path, sizeof(path));
	unlink(path);
	if (!err && bpf_obj_pin(fd, path) < 0)
		err = -errno;
	if (err)
		return fail(e, err, "pin the filter at %s: %s", path, strerror(-err));
	e->pinned = true;
	return 0;
}

static void unpin(const struct filter_engine *e, const char *name)
{
	char path[PATH_MAX];

	pin_path(e, name, path, sizeof(path));
	unlink(path);
}

/* The object pinned as name, or -1. */
static int pinned_fd(const struct filter_engine *e, const char *name)
{
	char path[PATH_MAX];

	pin_path(e, name, path, sizeof(path));
	return bpf_obj_get(path);
}

/* Whether an earlier engine's pinned attachment waits for filter_adopt. */
static bool adopting(const struct filter_engine *e)
{
	return e->adopt_links[0] >= 0 || e->adopt_links[1] >= 0 || e->adopt_tc_prog >= 0;
}

/* The end of an engine whose attachments are pinned: they stay (a tc
 * filter holds no fd, it simply stays attached). */
static void close_pinned(struct filter_engine *e)
{
	if (e->xdp_link >= 0)
		close(e->xdp_link);
	if (e->adopt_tc_prog >= 0)
		close(e->adopt_tc_prog);
	for (int i = 0; i < 2; i++) {
		if (e->nf_links[i] >= 0)
			close(e->nf_links[i]);
		if (e->adopt_links[i] >= 0)
			close(e->adopt_links[i]);
		e->nf_links[i] = e->adopt_links[i] = -1;
	}
	e->xdp_link = e->adopt_tc_prog = -1;
	e->hook = FILTER_HOOK_NONE;
}

/* An old link loses its pin and its attachment (the new one is in place). */
static void retire_link(struct filter_engine *e, const char *name, int fd)
{
	unpin(e, name);
	bpf_link_detach(fd);
	close(fd);
}

/* The old tc filter this engine adopted loses its pin and, if it still
 * runs the pinned program, its attachment. */
static void retire_adopted_tc(struct filter_engine *e)
{
	struct tc_place old = tc_adopted(e);
	char name[TC_PIN_NAME_MAX];

	tc_detach_if_runs(&old, e->adopt_tc_prog);
	tc_pin_name(&old, name, sizeof(name));
	unpin(e, name);
	close(e->adopt_tc_prog);
	e->adopt_tc_prog = -1;
}

/* Whether name is one of this engine's own pins. */
static bool own_pin(const struct filter_engine *e, const char *name)
{
	struct tc_place t = tc_own(e);
	char tc[TC_PIN_NAME_MAX];

	if (!strcmp(name, STATS_PIN))
		return true;
	if (e->hook == FILTER_HOOK_XDP)
		return !strcmp(name, "link");
	if (e->hook == FILTER_HOOK_NF)
		return (e->nf_links[0] >= 0 && !strcmp(name, nf_pin_names[0])) ||
		       (e->nf_links[1] >= 0 && !strcmp(name, nf_pin_names[1]));
	tc_pin_name(&t, tc, sizeof(tc));
	return !strcmp(name, tc);
}

/* Retires what earlier engines pinned beside this engine's own pins: the
 * policy's n-th filter moved to another hook, device or direction. */
static void retire_others(struct filter_engine *e)
{
	DIR *dp = opendir(e->pin_dir);
	struct dirent *d;

	if (!dp)
		return;
	while ((d = readdir(dp)))
		if (d->d_name[0] != '.' && d->d_type != DT_DIR && !own_pin(e, d->d_name))
			pin_entry_remove(e->pin_dir, d->d_name);
	closedir(dp);
}

/* The outcome counters (fw:stats) live on across the policy's runtimes: the
 * engine that pins a filter pins them as STATS_PIN beside it, and the next
 * engine of that folder counts on in the same map (rule counters start
 * again: rule ids need not mean the same rules). */
static int reuse_pinned_stats(struct filter_engine *e)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	if (!e->pin_dir)
		return 0;
	pin_path(e, STATS_PIN, path, sizeof(path));
	if ((fd = bpf_obj_get(path)) < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_PERCPU_ARRAY &&
	    info.max_entries == FILTER_NSTATS && info.value_size == sizeof(uint64_t))
		err = bpf_map__reuse_fd(e->skel->maps.filter_stats, fd);
	close(fd);
	return err;
}

static bool xdp_link_on(int fd, int ifindex)
{
	struct bpf_link_info info = { 0 };
	uint32_t len = sizeof(info);

	return !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_XDP &&
	       (int)info.xdp.ifindex == ifindex;
}

int filter_engine_open(struct filter_engine **out, const struct filter_engine_opts *o,
		       char *errbuf, size_t errlen)
{
	struct filter_engine *e = calloc(1, sizeof(*e));
	int err;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->nf_links[0] = e->nf_links[1] = -1;
	e->adopt_links[0] = e->adopt_links[1] = -1;
	e->adopt_tc_prog = -1;
	e->xdp_link = -1;
	e->sync_fd = -1;
	e->more_fd[0] = e->more_fd[1] = -1;
	pthread_mutex_init(&e->live_lock, NULL);
	e->max_rules = o->max_rules;
	e->hook_kind = o->hook;
	e->ct_netlink = -1;
	for (int i = 0; i < FILTER_MAX_SETS; i++)
		e->sets[i].fd = -1;
	e->id_used = calloc(o->max_rules, 1);
	e->pin_dir = o->pin_dir ? strdup(o->pin_dir) : NULL;
	e->skel = filter_bpf__open();
	if (!e->id_used || !e->skel || (o->pin_dir && !e->pin_dir)) {
		err = -errno ?: -ENOMEM;
		fail(e, err, "open the filter programs");
		goto cleanup;
	}
	err = size_maps(e);
	err = err ?: prepare_programs(e, o);
	err = err ?: reuse_pinned_stats(e);
	if (err) {
		fail(e, err, "prepare the filter programs");
		goto cleanup;
	}
	lbpf_verifier_stats(e->skel->obj);
	err = filter_bpf__load(e->skel);
	if (err) {
		if (o->hook == FILTER_HOOK_NF && (err == -EINVAL || err == -EOPNOTSUPP))
			fail(e, err, "load the netfilter program: this kernel has no BPF netfilter "
				     "programs (Linux 6.4 or later is needed)");
		else
			fail(e, err, "load the filter programs");
		goto cleanup;
	}
	err = mmap_maps(e);
	if (err) {
		fail(e, err, "mmap the filter maps");
		goto cleanup;
	}
	e->sync_fd = new_set_map("lbpf_fw_sync", 1);
	if (e->sync_fd < 0) {
		err = fail(e, e->sync_fd, "create the sync map");
		goto cleanup;
	}
	e->default_action = FILTER_PASS;
	e->unparsed_action = FILTER_DROP; /* fails closed: see fw:unparsed in README */
	e->fragment_action = FILTER_PASS;
	e->dirty = true;
	*out = e;
	return 0;
cleanup:
	snprintf(errbuf, errlen, "%s", e->error);
	filter_engine_free(e);
	return err;
}

void filter_engine_free(struct filter_engine *e)
{
	if (!e)
		return;
	/* pinned, or still an earlier engine's: they stay. A fresh attachment
	 * that filter_adopt did not pin yet (the body failed) goes. */
	if (e->pinned || adopting(e))
		close_pinned(e);
	else
		filter_detach(e);
	more_free(e, 0);
	more_free(e, 1);
	if (e->skel) {
		munmap_maps(e);
		filter_bpf__destroy(e->skel);
	}
	for (uint32_t i = 0; i < e->nspecs; i++)
		filter_spec_free(e->specs[i]);
	for (int i = 0; i < FILTER_MAX_SETS; i++)
		if (e->sets[i].fd >= 0)
			close(e->sets[i].fd);
	if (e->sync_fd >= 0)
		close(e->sync_fd);
	if (e->ct_netlink >= 0)
		close(e->ct_netlink); /* its nftables table goes with it */
	free(e->iif_keys[0]);
	free(e->iif_keys[1]);
	free(e->specs);
	free(e->live);
	pthread_mutex_destroy(&e->live_lock);
	free(e->id_used);
	free(e->pin_dir);
	free(e);
}

/* ---- attachments ---- */

/* A pinned XDP link: adopts the one an earlier engine pinned on the same
 * device (filter_adopt swaps the program), else creates a link (pinned by
 * filter_adopt, which also retires an old link on another device).
 * Returns the new link's fd, 0 when adopting, or -errno (unformatted). */
static int xdp_link_pinned(struct filter_engine *e, int ifindex, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = flags & XDP_FLAGS_MODES);
	int old = pinned_fd(e, "link"), fd;

	if (old >= 0 && xdp_link_on(old, ifindex)) {
		e->adopt_links[0] = old;
		return 0;
	}
	if (old >= 0)
		close(old);
	fd = bpf_link_create(bpf_program__fd(e->xdp_prog), ifindex, BPF_XDP, &o);
	return fd < 0 ? -errno : fd;
}

int filter_attach_xdp(struct filter_engine *e, int ifindex, const char *mode)
{
	uint32_t flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
	int err, fd = -1;

	if (!strcmp(mode, "native"))
		flags |= XDP_FLAGS_DRV_MODE;
	else if (!strcmp(mode, "generic"))
		flags |= XDP_FLAGS_SKB_MODE;
	if (e->pin_dir)
		err = fd = xdp_link_pinned(e, ifindex, flags);
	else
		err = bpf_xdp_attach(ifindex, bpf_program__fd(e->xdp_prog), flags,
				     NULL);
	if (err < 0)
		return fail(e, err, "attach XDP (%s mode)%s", mode,
			    err == -EBUSY || err == -EEXIST ? ": another XDP program is attached" :
			    err == -EOPNOTSUPP ? ": the driver has no native XDP; try mode=\"generic\"" : "");
	if (fd > 0) {
		e->xdp_link = fd;
		e->pin_pending = true;
	}
	e->hook = FILTER_HOOK_XDP;
	e->ifindex = ifindex;
	e->xdp_flags = flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST;
	return 0;
}

int filter_tc_add(struct filter_tc *tc, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex,
		    .attach_point = tc->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .priority = tc->priority);
	int err = bpf_tc_hook_create(&hook);

	tc->step = "create the clsact qdisc";
	if (err && err != -EEXIST)
		return err;
	tc->created_hook = !err;
	tc->step = tc->egress ? "attach tc egress" : "attach tc ingress";
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return err;
	tc->handle = opts.handle;
	tc->priority = opts.priority;
	return 0;
}

void filter_tc_remove(struct filter_tc *tc, bool destroy_hook)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tc->ifindex,
		    .attach_point = tc->egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = tc->handle, .priority = tc->priority);

	if (tc->handle && tc->priority)
		bpf_tc_detach(&hook, &opts);
	if (destroy_hook && tc->created_hook) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	tc->handle = tc->priority = 0;
}

/* Adds the tc filter at the given priority (0: the kernel chooses), in a
 * clsact qdisc created if missing. */
static int tc_attach(struct filter_engine *e, uint32_t priority)
{
	struct filter_tc tc = { .ifindex = e->ifindex, .priority = priority,
				.egress = e->tc_attach_point == BPF_TC_EGRESS };
	int err = filter_tc_add(&tc, bpf_program__fd(e->tc_prog));

	e->tc_created_hook = tc.created_hook;
	if (err) {
		/* a pinned filter's qdisc may hold other users' filters by now */
		filter_tc_remove(&tc, !e->pin_dir);
		return fail(e, err, "%s", tc.step);
	}
	e->hook = FILTER_HOOK_TC;
	e->tc_handle = tc.handle;
	e->tc_priority = tc.priority;
	return 0;
}

/* Takes note of a tc filter an earlier engine pinned at the same device and
 * direction that is still attached, for filter_adopt; false if none. */
static bool tc_find_pinned(struct filter_engine *e)
{
	DIR *dp = opendir(e->pin_dir);
	struct dirent *d;
	struct tc_place t;
	int fd;

	while (dp && e->adopt_tc_prog < 0 && (d = readdir(dp))) {
		if (!tc_pin_parse(d->d_name, &t) || t.ifindex != e->ifindex ||
		    t.attach_point != e->tc_attach_point || (fd = pinned_fd(e, d->d_name)) < 0)
			continue;
		if (tc_runs(&t, fd)) {
			e->adopt_tc_prog = fd;
			e->adopt_tc_handle = t.handle;
			e->adopt_tc_priority = t.priority;
		} else {
			close(fd); /* gone: retire_others unpins it */
		}
	}
	if (dp)
		closedir(dp);
	return e->adopt_tc_prog >= 0;
}

int filter_attach_tc(struct filter_engine *e, int ifindex, bool egress)
{
	int err;

	e->ifindex = ifindex;
	e->tc_attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
	if (e->pin_dir && tc_find_pinned(e)) {
		e->hook = FILTER_HOOK_TC; /* attached by filter_adopt */
		return 0;
	}
	err = tc_attach(e, 0);
	if (!err)
		e->pin_pending = e->pin_dir != NULL;
	return err;
}

static int tc_pin(struct filter_engine *e)
{
	struct tc_place t = tc_own(e);
	char name[TC_PIN_NAME_MAX];

	tc_pin_name(&t, name, sizeof(name));
	return pin_fd(e, name, bpf_program__fd(e->tc_prog));
}

/* Removes this engine's own tc filter (and its pin). */
static void tc_detach_own(struct filter_engine *e)
{
	struct filter_tc tc = { .ifindex = e->ifindex, .handle = e->tc_handle,
				.priority = e->tc_priority, .created_hook = e->tc_created_hook,
				.egress = e->tc_attach_point == BPF_TC_EGRESS };
	struct tc_place t = tc_own(e);
	char name[TC_PIN_NAME_MAX];

	if (!e->tc_priority)
		return;
	filter_tc_remove(&tc, !e->pinned && !e->pin_dir);
	if (e->pinned) {
		tc_pin_name(&t, name, sizeof(name));
		unpin(e, name);
	}
	e->tc_handle = e->tc_priority = 0;
}

/* Replaces the pinned tc filter of an earlier engine: this engine's filter
 * goes in ahead of it and is pinned, then the old one goes. */
static int tc_adopt(struct filter_engine *e)
{
	uint32_t old = e->adopt_tc_priority;
	int err;

	/* the kernel's own choice (priority 0) is one ahead of the first filter
	 * at 0x8000 or later, which is where it put the old one */
	err = tc_attach(e, old >= 0x8000 || old <= 1 ? 0 : old - 1);
	if (err)
		return err;
	err = tc_pin(e);
	if (err) {
		tc_detach_own(e);
		return err;
	}
	retire_adopted_tc(e);
	return 0;
}

const char *const filter_nf_chains[6] = { "prerouting", "input", "forward", "output",
					  "postrouting", NULL };

int filter_nf_hook_number(const char *chain)
{
	for (int i = 0; chain && filter_nf_chains[i]; i++)
		if (!strcmp(chain, filter_nf_chains[i]))
			return i;
	return -1;
}

/* BPF_LINK_CREATE for netfilter, with the attr layout of Linux 6.4+ (the
 * installed uapi headers may predate it). */
int filter_nf_link(int prog_fd, int pf, int hooknum, int priority)
{
	union {
		struct {
			uint32_t prog_fd, target_fd, attach_type, flags;
			uint32_t pf, hooknum;
			int32_t priority;
			uint32_t nf_flags;
		} link;
		uint8_t pad[64];
	} attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.link.prog_fd = prog_fd;
	attr.link.attach_type = BPF_NETFILTER_;
	attr.link.pf = pf;
	attr.link.hooknum = hooknum;
	attr.link.priority = priority;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE_, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

/* Links the program at priority, or when that is taken (by the links it
 * replaces) at a neighbouring one. */
static int nf_link_near(int prog_fd, int pf, int hooknum, int priority, bool near)
{
	static const int steps[] = { 0, 1, -1, 2, -2 };
	int fd = -EBUSY;

	for (size_t i = 0; i < (near ? ARRAY_SIZE(steps) : 1) && fd == -EBUSY; i++)
		fd = filter_nf_link(prog_fd, pf, hooknum, priority + steps[i]);
	return fd;
}

/* Creates the netfilter links (near: beside links being replaced). */
static int nf_links_create(struct filter_engine *e, bool near)
{
	static const int pfs[2] = { 2 /* NFPROTO_IPV4 */, 10 /* NFPROTO_IPV6 */ };
	int prog_fd = bpf_program__fd(e->skel->progs.filter_nf), i, fd;

	for (i = 0; i < 2; i++) {
		if (e->nf_family && e->nf_family != (i ? 6 : 4))
			continue;
		fd = nf_link_near(prog_fd, pfs[i], e->nf_hooknum, e->nf_priority, near);
		if (fd < 0) {
			for (int j = 0; j < 2; j++) {
				if (e->nf_links[j] >= 0)
					close(e->nf_links[j]);
				e->nf_links[j] = -1;
			}
			if (fd == -EINVAL || fd == -EOPNOTSUPP)
				return fail(e, fd, "create the netfilter link: this kernel has no "
						   "BPF netfilter links (Linux 6.4 or later is needed)");
			return fail(e, fd, "create the netfilter link (IPv%d, priority %d)%s",
				    i ? 6 : 4, e->nf_priority,
				    fd == -EBUSY ? ": another BPF hook has this priority" : "");
		}
		e->nf_links[i] = fd;
	}
	return 0;
}

static int nf_links_pin(struct filter_engine *e)
{
	int err = 0;

	for (int i = 0; i < 2 && !err; i++)
		if (e->nf_links[i] >= 0)
			err = pin_fd(e, nf_pin_names[i], e->nf_links[i]);
	return err;
}

int filter_attach_nf(struct filter_engine *e, int family, int hooknum, int priority)
{
	int err;

	e->nf_family = family;
	e->nf_hooknum = hooknum;
	e->nf_priority = priority;
	for (uint32_t i = 0; i < e->nspecs; i++)
		if (e->specs[i]->ct && !nf_after_conntrack(hooknum, priority))
			return fail(e, -EINVAL, "ct: rule %u needs a hook after connection "
				    "tracking (priority above -200)", i + 1);
	if (e->pin_dir) {
		e->adopt_links[0] = pinned_fd(e, nf_pin_names[0]);
		e->adopt_links[1] = pinned_fd(e, nf_pin_names[1]);
		if (filter_adopt_pending(e)) {
			e->hook = FILTER_HOOK_NF; /* linked by filter_adopt */
			return 0;
		}
	}
	err = nf_links_create(e, false);
	if (err)
		return err;
	e->pin_pending = e->pin_dir != NULL;
	e->hook = FILTER_HOOK_NF;
	return 0;
}

/* Pins a fresh attachment. An XDP link on another device goes once the new
 * one is pinned in its place. */
static int pin_fresh(struct filter_engine *e)
{
	int err, old;

	if (e->hook == FILTER_HOOK_TC)
		return tc_pin(e);
	if (e->hook == FILTER_HOOK_NF)
		return nf_links_pin(e);
	old = pinned_fd(e, "link");
	err = pin_fd(e, "link", e->xdp_link);
	if (old >= 0 && !err)
		bpf_link_detach(old);
	if (old >= 0)
		close(old);
	return err;
}

/* Swaps this engine's program into the pinned XDP link. */
static int xdp_adopt(struct filter_engine *e)
{
	int err;

	if (bpf_link_update(e->adopt_links[0], bpf_program__fd(e->xdp_prog),
			    NULL) < 0) {
		err = -errno;
		return fail(e, err, "replace the pinned XDP program: %s", strerror(-err));
	}
	e->xdp_link = e->adopt_links[0];
	e->adopt_links[0] = -1;
	e->pinned = true;
	return 0;
}

/* Links this engine's program beside the pinned netfilter links, then
 * retires them. */
static int nf_adopt(struct filter_engine *e)
{
	int err = nf_links_create(e, true);

	for (int i = 0; !err && i < 2; i++) {
		if (e->adopt_links[i] >= 0)
			retire_link(e, nf_pin_names[i], e->adopt_links[i]);
		e->adopt_links[i] = -1;
	}
	return err ?: nf_links_pin(e);
}

int filter_adopt(struct filter_engine *e)
{
	int err;

	if (!filter_adopt_pending(e))
		return 0;
	if (e->pin_pending)
		err = pin_fresh(e);
	else if (e->hook == FILTER_HOOK_XDP)
		err = xdp_adopt(e);
	else if (e->hook == FILTER_HOOK_TC)
		err = tc_adopt(e);
	else
		err = nf_adopt(e);
	err = err ?: pin_fd(e, STATS_PIN, bpf_map__fd(e->skel->maps.filter_stats));
	if (err)
		return err;
	e->pin_pending = false;
	retire_others(e);
	return 0;
}

/* Detaches and unpins one pinned filter, or a folder of them. */
int filter_pin_remove(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *d;
	struct stat st;
	DIR *dp = opendir(dir);

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			filter_pin_remove(path);
		else
			pin_entry_remove(dir, d->d_name);
	}
	closedir(dp);
	return rmdir(dir) < 0 ? -errno : 0;
}

static void xdp_detach(struct filter_engine *e)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o,
		    .old_prog_fd = bpf_program__fd(e->xdp_prog));

	if (e->xdp_link >= 0 && e->pinned) {
		retire_link(e, "link", e->xdp_link);
	} else if (e->xdp_link >= 0) {
		bpf_link_detach(e->xdp_link); /* not pinned yet: "link" is another's */
		close(e->xdp_link);
	} else if (!adopting(e)) {
		bpf_xdp_detach(e->ifindex, e->xdp_flags | XDP_FLAGS_REPLACE, &o);
	}
	e->xdp_link = -1;
}

void filter_detach(struct filter_engine *e)
{
	if (e->hook == FILTER_HOOK_XDP)
		xdp_detach(e);
	else if (e->hook == FILTER_HOOK_TC)
		tc_detach_own(e);
	/* fw:detach() before the adoption: the old filter goes too */
	if (e->adopt_tc_prog >= 0)
		retire_adopted_tc(e);
	for (int i = 0; i < 2; i++) {
		if (e->nf_links[i] >= 0 && e->pinned)
			retire_link(e, nf_pin_names[i], e->nf_links[i]);
		else if (e->nf_links[i] >= 0)
			close(e->nf_links[i]);
		if (e->adopt_links[i] >= 0)
			retire_link(e, e->hook == FILTER_HOOK_XDP ? "link" : nf_pin_names[i],
				    e->adopt_links[i]);
		e->nf_links[i] = e->adopt_links[i] = -1;
	}
	e->pinned = e->pin_pending = false;
	e->hook = FILTER_HOOK_NONE;
}

/* ---- the rule list ---- */

static int alloc_id(struct filter_engine *e, uint32_t *id)
{
	struct filter_counter zero[256] = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	uint32_t i, k;

	for (i = 0; i < e->max_rules; i++) {
		k = (e->next_id + i) % e->max_rules;
		if (!e->id_used[k])
			break;
	}
	if (i == e->max_rules)
		return -ENOSPC;
	if (ncpu > 0 && ncpu <= 256)
		bpf_map__update_elem(e->skel->maps.filter_counters, &k, sizeof(k), zero,
				     sizeof(zero[0]) * ncpu, 0);
	e->id_used[k] = 1;
	e->next_id = k + 1;
	*id = k;
	return 0;
}

/* A rule with ct: the hook must be able to tell the state, and conntrack
 * must be on in this namespace (filter_conntrack.c). */
static int ct_rule_check(struct filter_engine *e)
{
	int fd;

	if (e->hook_kind == FILTER_HOOK_NF && e->hook == FILTER_HOOK_NF &&
	    !nf_after_conntrack(e->nf_hooknum, e->nf_priority))
		return fail(e, -EINVAL, "ct: the netfilter hook (%s, priority %d) runs before "
			    "connection tracking (priority -200): give it a priority above -200",
			    filter_nf_chains[e->nf_hooknum % 5], e->nf_priority);
	if (e->hook_kind != FILTER_HOOK_NF && e->ct_missing)
		return fail(e, -EOPNOTSUPP, "ct: this kernel has no %s kfunc, which %s needs to "
			    "read connection tracking (Linux 6.0 or later with CONFIG_NF_CONNTRACK; "
			    "where conntrack is a module, load nf_conntrack first)", e->ct_missing,
			    e->hook_kind == FILTER_HOOK_TC ? "tc" : "xdp");
	if (e->ct_netlink >= 0)
		return 0;
	fd = filter_conntrack_hold(e->error, sizeof(e->error));
	if (fd < 0)
		return fd;
	e->ct_netlink = fd;
	return 0;
}

int filter_rule_insert(struct filter_engine *e, struct filter_spec *spec)
{
	struct filter_spec **specs;
	int err;

	if (spec->ct && (err = ct_rule_check(e)))
		return err;

	if (e->nspecs >= e->max_rules)
		return fail(e, -ENOSPC, "more than max_rules=%u rules", e->max_rules);
	if (e->nspecs == e->spec_cap) {
		e->spec_cap = e->spec_cap ? 2 * e->spec_cap : 64;
		specs = realloc(e->specs, e->spec_cap * sizeof(*specs));
		if (!specs)
			return -ENOMEM;
		e->specs = specs;
	}
	err = alloc_id(e, &spec->id);
	if (err)
		return fail(e, err, "no free rule id");
	e->specs[e->nspecs++] = spec;
	e->dirty = true;
	return 0;
}

static int64_t rule_index(struct filter_engine *e, uint32_t id)
{
	for (uint32_t i = 0; i < e->nspecs; i++)
		if (e->specs[i]->id == id)
			return i;
	return -1;
}

struct filter_spec *filter_rule_find(struct filter_engine *e, uint32_t id)
{
	int64_t i = rule_index(e, id);

	return i < 0 ? NULL : e->specs[i];
}

int filter_rule_remove(struct filter_engine *e, uint32_t id)
{
	int64_t i = rule_index(e, id);

	if (i < 0)
		return -ENOENT;
	filter_spec_free(e->specs[i]);
	memmove(e->specs + i, e->specs + i + 1, (e->nspecs - i - 1) * sizeof(*e->specs));
	e->nspecs--;
	e->id_used[id] = 0;
	e->dirty = true;
	return 0;
}

int filter_rule_stats(struct filter_engine *e, uint32_t id, uint64_t *packets, uint64_t *bytes)
{
	int ncpu = libbpf_num_possible_cpus(), err;
	struct filter_counter *v;

	*packets = *bytes = 0;
	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	err = bpf_map__lookup_elem(e->skel->maps.filter_counters, &id, sizeof(id), v,
				   ncpu * sizeof(*v), 0);
	for (int i = 0; !err && i < ncpu; i++) {
		*packets += v[i].packets;
		*bytes += v[i].bytes;
	}
	free(v);
	return err;
}

void filter_publish(struct filter_engine *e)
{
	struct filter_live_rule *live = malloc((e->nspecs ? e->nspecs : 1) * sizeof(*live));

	if (!live)
		return; /* the metrics keep the previous list */
	for (uint32_t i = 0; i < e->nspecs; i++)
		live[i] = (struct filter_live_rule){ e->specs[i]->id, e->specs[i]->action };
	pthread_mutex_lock(&e->live_lock);
	free(e->live);
	e->live = live;
	e->nlive = e->nspecs;
	pthread_mutex_unlock(&e->live_lock);
}

void filter_live_rules(struct filter_engine *e,
		       void (*fn)(void *ctx, uint32_t id, int action, uint64_t packets,
				  uint64_t bytes),
		       void *ctx)
{
	uint64_t packets, bytes;

	pthread_mutex_lock(&e->live_lock);
	for (uint32_t i = 0; i < e->nlive; i++)
		if (!filter_rule_stats(e, e->live[i].id, &packets, &bytes))
			fn(ctx, e->live[i].id, e->live[i].action, packets, bytes);
	pthread_mutex_unlock(&e->live_lock);
}

int filter_stats(struct filter_engine *e, uint64_t stats[FILTER_NSTATS])
{
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	uint64_t *v;

	memset(stats, 0, FILTER_NSTATS * sizeof(*stats));
	if (ncpu <= 0)
		return -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; !err && k < FILTER_NSTATS; k++) {
		err = bpf_map__lookup_elem(e->skel->maps.filter_stats, &k, sizeof(k), v,
					   ncpu * sizeof(*v), 0);
		for (int i = 0; !err && i < ncpu; i++)
			stats[k] += v[i];
	}
	free(v);
	return err;
}

static int write_ctl(struct filter_engine *e)
{
	uint32_t zero = 0;

	return bpf_map__update_elem(e->skel->maps.filter_ctl, &zero, sizeof(zero), &e->ctl,
				    sizeof(e->ctl), 0);
}

int filter_set_sources(struct filter_engine *e, uint32_t log_source, uint32_t flow_source)
{
	e->ctl.log_source = log_source;
	e->ctl.flow_source = flow_source;
	if (flow_source)
		e->ctl.flags |= FILTER_CTL_FLOWS;
	else
		e->ctl.flags &= ~FILTER_CTL_FLOWS;
	return write_ctl(e);
}

/* Flips the live generation and waits until no program can still be using
 * the old one: updating a map-in-map waits for an RCU grace period. */
int filter_flip(struct filter_engine *e, uint32_t gen)
{
	uint32_t zero = 0;
	int err;

	e->ctl.gen = gen;
	err = write_ctl(e);
	if (err)
		return fail(e, err, "switch to the new rule set");
	err = bpf_map__update_elem(e->skel->maps.filter_sync, &zero, sizeof(zero), &e->sync_fd,
				   sizeof(e->sync_fd), 0);
	return err ? fail(e, err, "wait for the old rule set to drain") : 0;
}

/* ---- fw:test ---- */

int filter_test_ct(struct filter_engine *e, const void *frame, uint32_t len, uint32_t iif,
		   int ct, uint32_t repeat, int *verdict, uint32_t *rule_id, uint32_t *ns,
		   uint32_t *why)
{
	struct filter_test_meta meta = { .magic = FILTER_TEST_MAGIC, .ct = ct + 1 };
	uint8_t in[sizeof(meta) + 4096], out[sizeof(meta) + 4096];
	struct xdp_md ctx = { .data = sizeof(meta), .data_end = sizeof(meta) + len,
			      .ingress_ifindex = iif };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = sizeof(meta) + len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = repeat,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err, err2;

	if (len > 4096)
		return fail(e, -EMSGSIZE, "packet: %u bytes (4096 at most)", len);
	if (ct < -1 || ct >= FILTER_CT_NSTATES)
		return fail(e, -EINVAL, "ct: no state %d", ct);
	/* the metadata in front of the packet carries the ct state in and the
	 * verdict out (bpf/filter.bpf.c, test_meta) */
	memcpy(in, &meta, sizeof(meta));
	memcpy(in + sizeof(meta), frame, len);
	e->ctl.flags |= FILTER_CTL_TESTMETA;
	err = write_ctl(e);
	err = err ?: bpf_prog_test_run_opts(bpf_program__fd(e->xdp_prog), &o);
	e->ctl.flags &= ~FILTER_CTL_TESTMETA;
	err2 = write_ctl(e);
	if (err || err2)
		return fail(e, err ?: err2, "BPF_PROG_TEST_RUN");
	*verdict = o.retval == XDP_DROP ? FILTER_DROP : FILTER_PASS;
	*rule_id = ~0U;
	*why = FILTER_WHY_DEFAULT;
	*ns = o.duration;
	memcpy(&meta, out, sizeof(meta));
	if (repeat <= 1 && o.data_size_out >= sizeof(meta) + len &&
	    meta.magic == FILTER_TEST_MAGIC) {
		*rule_id = meta.rule_id;
		*why = meta.why;
	}
	return 0;
}

int filter_test(struct filter_engine *e, const void *frame, uint32_t len, uint32_t iif,
		uint32_t repeat, int *verdict, uint32_t *rule_id, uint32_t *ns, uint32_t *why)
{
	return filter_test_ct(e, frame, len, iif, FILTER_CT_NEW, repeat, verdict, rule_id, ns,
			      why);
}

/* struct nf_hook_state as BPF_PROG_TEST_RUN takes it (ctx_in): only hook and
 * pf may be set. */
struct test_nf_state {
	uint8_t hook, pf;
	uint8_t pad[6];
	uint64_t in, out, sk, net, okfn;
};

/* Runs the tc or netfilter program's test variant (loaded under `lbpf test`,
 * with the ct state filter_dry_run_ct) on packet; the verdict comes out
 * through the note the program writes (bpf/filter.bpf.c, filter_test_note). */
static int test_run_note(struct filter_engine *e, const struct filter_place *at,
			 const void *packet, uint32_t len, int ct, int *verdict, uint32_t *rule_id,
			 uint32_t *why)
{
	bool v6 = len && *(const uint8_t *)packet >> 4 == 6;
	struct test_nf_state nf = { .hook = at->nf_hooknum, .pf = v6 ? 10 : 2 };
	uint8_t frame[14 + FILTER_TEST_MAX] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = packet, .data_size_in = len, .repeat = 1);
	struct bpf_program *prog = e->skel->progs.filter_tc_test;
	struct filter_test_meta *note = &e->skel->bss->filter_test_note;
	const char *name = at->hook == FILTER_HOOK_NF ? "netfilter" : "tc";
	int err;

	if (at->hook == FILTER_HOOK_NF) {
		prog = e->skel->progs.filter_nf_test;
		o.ctx_in = &nf;
		o.ctx_size_in = sizeof(nf);
		if (at->nf_hooknum != 3 /* NF_INET_LOCAL_OUT */) {
			frame[12] = v6 ? 0x86 : 0x08;
			frame[13] = v6 ? 0xdd : 0x00;
			memcpy(frame + 14, packet, len);
			o.data_in = frame;
			o.data_size_in = len + 14;
		}
	}
	if (bpf_program__fd(prog) < 0)
		return fail(e, -ENOENT, "the %s test program is loaded by lbpf test alone", name);
	if (ct != filter_dry_run_ct)
		return fail(e, -EINVAL, "ct: the %s test program judges ct state %s alone", name,
			    filter_ct_names[filter_dry_run_ct]);
	*note = (struct filter_test_meta){ .magic = FILTER_TEST_MAGIC, .verdict = ~0U };
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	if (err)
		return fail(e, err, "BPF_PROG_TEST_RUN of the %s program: %s", name,
			    strerror(-err));
	if (note->verdict == ~0U)
		return fail(e, -EPROTO, "the %s program left no verdict", name);
	*verdict = note->verdict;
	*rule_id = note->rule_id;
	*why = note->why;
	return 0;
}

int filter_test_at(struct filter_engine *e, const struct filter_place *at, const void *packet,
		   uint32_t len, int ct, int *verdict, uint32_t *rule_id, uint32_t *why)
{
	uint32_t ns;

	if (len > FILTER_TEST_MAX)
		return fail(e, -EMSGSIZE, "packet: %u bytes (%u at most)", len, FILTER_TEST_MAX);
	if (ct < -1 || ct >= FILTER_CT_NSTATES)
		return fail(e, -EINVAL, "ct: no state %d", ct);
	if (at->hook == FILTER_HOOK_XDP)
		return filter_test_ct(e, packet, len, 0, ct, 1, verdict, rule_id, &ns, why);
	return test_run_note(e, at, packet, len, ct, verdict, rule_id, why);
}

/* ---- sets ---- */

int filter_set_create(struct filter_engine *e, const char *name, int type, uint64_t ttl_ns,
		      uint32_t max_entries)
{
	int slot, fd, err;

	if (!*name || strlen(name) >= sizeof(e->sets[0].name))
		return fail(e, -EINVAL, "the name must be 1 to %zu bytes",
			    sizeof(e->sets[0].name) - 1);
	for (slot = 0; slot < FILTER_MAX_SETS; slot++)
		if (e->sets[slot].fd >= 0 && !strcmp(e->sets[slot].name, name))
			return fail(e, -EEXIST, "this filter has a set of that name already");
	for (slot = 0; slot < FILTER_MAX_SETS; slot++)
		if (e->sets[slot].fd < 0)
			break;
	if (slot == FILTER_MAX_SETS)
		return fail(e, -ENOSPC, "%d sets at most per filter", FILTER_MAX_SETS);
	fd = new_set_map("lbpf_fw_set", max_entries);
	if (fd < 0)
		return fail(e, fd, "create set %s", name);
	err = bpf_map__update_elem(e->skel->maps.filter_sets, &slot, sizeof(slot), &fd, sizeof(fd), 0);
	if (err) {
		close(fd);
		return fail(e, err, "install set %s", name);
	}
	snprintf(e->sets[slot].name, sizeof(e->sets[slot].name), "%s", name);
	e->sets[slot].fd = fd;
	e->sets[slot].type = type;
	e->sets[slot].ttl_ns = ttl_ns;
	return slot;
}

static void set_key_of(struct filter_set_key *k, const struct filter_prefix *p)
{
	memset(k, 0, sizeof(*k));
	k->family = p->family;
	k->prefixlen = 8 + p->len;
	memcpy(k->addr, p->addr, p->family == 4 ? 4 : 16);
}

int filter_set_add(struct filter_engine *e, int slot, const struct filter_prefix *p,
		   uint64_t ttl_ns)
{
	struct filter_set_key k;
	uint64_t expiry = ttl_ns ? lbpf_now() + ttl_ns : 0;

	set_key_of(&k, p);
	return bpf_map_update_elem(e->sets[slot].fd, &k, &expiry, 0) ? -errno : 0;
}

int filter_set_remove(struct filter_engine *e, int slot, const struct filter_prefix *p)
{
	struct filter_set_key k;

	set_key_of(&k, p);
	return bpf_map_delete_elem(e->sets[slot].fd, &k) ? -errno : 0;
}

int filter_set_has(struct filter_engine *e, int slot, const struct filter_prefix *p)
{
	struct filter_set_key k;
	uint64_t expiry;

	set_key_of(&k, p);
	if (bpf_map_lookup_elem(e->sets[slot].fd, &k, &expiry))
		return errno == ENOENT ? 0 : -errno;
	return expiry == 0 || expiry > lbpf_now();
}

static void prefix_of(struct filter_prefix *p, const struct filter_set_key *k)
{
	memset(p, 0, sizeof(*p));
	p->family = k->family;
	p->len = k->prefixlen - 8;
	memcpy(p->addr, k->addr, k->family == 4 ? 4 : 16);
}

/* Visits every entry; fn may not delete. Returns entries visited or -errno. */
static int set_walk(int fd, void (*fn)(void *ctx, const struct filter_set_key *k, uint64_t exp),
		    void *ctx)
{
	struct filter_set_key k, next;
	uint64_t expiry;
	int n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &expiry) == 0) {
			fn(ctx, &next, expiry);
			n++;
		}
		k = next;
		prev = &k;
	}
	return n;
}

struct foreach_ctx {
	void (*fn)(void *ctx, const struct filter_prefix *p, uint64_t expiry);
	void *ctx;
	uint64_t now;
};

static void foreach_live(void *ctx, const struct filter_set_key *k, uint64_t expiry)
{
	struct foreach_ctx *c = ctx;
	struct filter_prefix p;

	if (expiry && expiry <= c->now)
		return;
	prefix_of(&p, k);
	c->fn(c->ctx, &p, expiry);
}

int filter_set_foreach(struct filter_engine *e, int slot,
		       void (*fn)(void *ctx, const struct filter_prefix *p, uint64_t expiry),
		       void *ctx)
{
	struct foreach_ctx c = { fn, ctx, lbpf_now() };

	return set_walk(e->sets[slot].fd, foreach_live, &c);
}

struct sweep_ctx {
	struct filter_set_key *keys;
	size_t n, cap;
	uint64_t now;
};

static void collect_expired(void *ctx, const struct filter_set_key *k, uint64_t expiry)
{
	struct sweep_ctx *c = ctx;
	struct filter_set_key *keys;

	if (!expiry || expiry > c->now)
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 256;
		keys = realloc(c->keys, c->cap * sizeof(*keys));
		if (!keys)
			return;
		c->keys = keys;
	}
	c->keys[c->n++] = *k;
}

int filter_set_sweep(struct filter_engine *e)
{
	int removed = 0;

	for (int slot = 0; slot < FILTER_MAX_SETS; slot++) {
		struct sweep_ctx c = { .now = lbpf_now() };

		if (e->sets[slot].fd < 0)
			continue;
		set_walk(e->sets[slot].fd, collect_expired, &c);
		for (size_t i = 0; i < c.n; i++)
			removed += bpf_map_delete_elem(e->sets[slot].fd, &c.keys[i]) == 0;
		free(c.keys);
	}
	return removed;
}

int filter_flow_decide(struct filter_engine *e, const struct filter_flow_key *key, uint32_t state)
{
	struct filter_flow f = { .state = state, .ts = lbpf_now() };

	return bpf_map__update_elem(e->skel->maps.filter_flows, key, sizeof(*key), &f, sizeof(f), 0);
}
