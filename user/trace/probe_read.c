// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Reading a probe's in-kernel aggregation: walk the per-CPU hash once, sum
 * the CPUs' slots (min/max over the slots that saw a value), sort by key and
 * bucket, and shape the result for Lua:
 *   count              {key -> n}
 *   hist, lhist        a histogram, or {key -> histogram} with `by`
 *   sum, min, max, avg a number, or {key -> number} with `by`
 * A histogram is {kind = "log2"|"linear", {lo =, hi =, count =}, ...}.
 * Single keys keep their type (comm is a string, pid an integer); composite
 * keys are their parts joined with ",". Reading never blocks the producers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe.h"
#include "probe.skel.h"
#include "symbols.h"

struct entry {
	struct lbpf_agg_key key;
	struct lbpf_agg_value value;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static int sum_cpus(int fd, const struct lbpf_agg_key *key, struct lbpf_agg_value *out,
		    struct lbpf_agg_value *percpu, int ncpu)
{
	int i;

	if (bpf_map_lookup_elem(fd, key, percpu))
		return -errno;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < ncpu; i++) {
		const struct lbpf_agg_value *v = &percpu[i];

		if (!v->count)
			continue;
		if (!out->count || v->min < out->min)
			out->min = v->min;
		if (!out->count || v->max > out->max)
			out->max = v->max;
		out->count += v->count;
		out->sum += v->sum;
	}
	return 0;
}

static int key_compare(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->key.parts, y->key.parts, sizeof(x->key) - offsetof(struct lbpf_agg_key, parts));

	if (c)
		return c;
	return x->key.bucket < y->key.bucket ? -1 : x->key.bucket > y->key.bucket;
}

/* Every entry of the aggregation, sorted by key then bucket. */
static int read_entries(struct probe *p, struct entries *out)
{
	int fd = bpf_map__fd(p->skel->maps.aggs), ncpu = libbpf_num_possible_cpus(), err = 0;
	struct lbpf_agg_key key, next, *prev = NULL;
	struct lbpf_agg_value *percpu = calloc(ncpu, sizeof(*percpu));

	memset(out, 0, sizeof(*out));
	if (!percpu)
		return -ENOMEM;
	memset(&next, 0, sizeof(next)); /* the map's key may be shorter */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 256;
			struct entry *v = realloc(out->v, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n].key = key;
		if (sum_cpus(fd, &key, &out->v[out->n].value, percpu, ncpu) == 0)
			out->n++; /* a key deleted meanwhile is skipped */
	}
	free(percpu);
	qsort(out->v, out->n, sizeof(*out->v), key_compare);
	return err;
}

void probe_push_stack(lua_State *L, struct probe *p, int id, bool user, int pid)
{
	__u64 ips[127] = { 0 };
	char buf[512];
	int i, n = 0;

	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.stacks), &id, ips)) {
		lua_pushnil(L);
		return;
	}
	if (!user && !p->ksyms)
		p->ksyms = ksyms_load();
	if (user && !p->usyms)
		p->usyms = usyms_new();
	lua_newtable(L);
	for (i = 0; i < 127 && ips[i]; i++) {
		const char *s = user ? usyms_format(p->usyms, pid, ips[i], buf, sizeof(buf))
				     : ksyms_format(p->ksyms, ips[i], buf, sizeof(buf));

		if (!s) {
			snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ips[i]);
			s = buf;
		}
		lua_pushstring(L, s);
		lua_rawseti(L, -2, ++n);
	}
}

/* One key part as a Lua value. */
static void push_part(lua_State *L, struct probe *p, const struct lbpf_agg_key *key, int i)
{
	const struct lbpf_ref *ref = &p->points[0].config.keys[i];
	__s64 v = key->parts[i];

	switch (ref->source) {
	case LBPF_SRC_COMM:
		lua_pushlstring(L, key->comm, strnlen(key->comm, sizeof(key->comm)));
		break;
	case LBPF_SRC_PROBE:
		lua_pushstring(L, v >= 0 && v < p->npoints ? p->points[v].name : "?");
		break;
	case LBPF_SRC_KSTACK:
	case LBPF_SRC_USTACK: {
		luaL_Buffer b;
		int n, j, frames;

		probe_push_stack(L, p, (int)v, ref->source == LBPF_SRC_USTACK, -1);
		if (lua_isnil(L, -1)) { /* no stack (id < 0: the error): the id keeps a key */
			lua_pop(L, 1);
			lua_pushinteger(L, v);
			return;
		}
		frames = lua_absindex(L, -1); /* luaL_buffinit may push above it */
		n = (int)lua_rawlen(L, frames);
		luaL_buffinit(L, &b);
		for (j = 1; j <= n; j++) {
			lua_rawgeti(L, frames, j);
			luaL_addvalue(&b);
			if (j < n)
				luaL_addchar(&b, '\n');
		}
		luaL_pushresult(&b);
		lua_remove(L, -2);
		break;
	}
	default:
		lua_pushinteger(L, v);
	}
}

/* The key of an entry: its one part, or the parts joined with ",". */
static void push_key(lua_State *L, struct probe *p, const struct lbpf_agg_key *key)
{
	luaL_Buffer b;
	int i;

	if (p->nkeys == 1) {
		push_part(L, p, key, 0);
		return;
	}
	luaL_buffinit(L, &b);
	for (i = 0; i < p->nkeys; i++) {
		push_part(L, p, key, i);
		luaL_addvalue(&b);
		if (i + 1 < p->nkeys)
			luaL_addchar(&b, ',');
	}
	luaL_pushresult(&b);
}

/* Bucket b of a histogram as [lo, hi); infinities at the open ends. */
static void bucket_bounds(struct probe *p, __s64 b, double *lo, double *hi)
{
	const struct lbpf_attach_config *c = &p->points[0].config;

	if (p->agg == AGG_LHIST) {
		*lo = b < 0 ? -HUGE_VAL : (double)(c->lhist_min + b * c->lhist_step);
		*hi = b < 0 ? (double)c->lhist_min : (double)(c->lhist_min + (b + 1) * c->lhist_step);
		if (c->lhist_min + b * c->lhist_step >= c->lhist_max)
			*hi = HUGE_VAL;
	} else {
		*lo = b < 0 ? -HUGE_VAL : b == 0 ? 0 : ldexp(1, b - 1);
		*hi = b < 0 ? 0 : ldexp(1, b);
	}
}

static void push_number(lua_State *L, double d)
{
	if (isfinite(d) && d == (lua_Integer)d)
		lua_pushinteger(L, (lua_Integer)d);
	else
		lua_pushnumber(L, d);
}

/* A histogram from entries [first, last): every bucket between the lowest and
 * the highest that saw a value, so gaps print as empty bars. */
static void push_hist(lua_State *L, struct probe *p, const struct entry *e, size_t n)
{
	__s64 b, lo = n ? e[0].key.bucket : 0, hi = n ? e[n - 1].key.bucket : -1;
	size_t i = 0;
	int k = 0;

	lua_createtable(L, (int)(hi - lo + 1), 1);
	lua_pushstring(L, p->agg == AGG_LHIST ? "linear" : "log2");
	lua_setfield(L, -2, "kind");
	for (b = lo; b <= hi; b++) {
		double blo, bhi;
		lua_Integer count = 0;

		if (i < n && e[i].key.bucket == b)
			count = e[i++].value.count;
		bucket_bounds(p, b, &blo, &bhi);
		lua_createtable(L, 0, 3);
		push_number(L, blo);
		lua_setfield(L, -2, "lo");
		push_number(L, bhi);
		lua_setfield(L, -2, "hi");
		lua_pushinteger(L, count);
		lua_setfield(L, -2, "count");
		lua_rawseti(L, -2, ++k);
	}
}

static void push_value(lua_State *L, struct probe *p, const struct lbpf_agg_value *v)
{
	switch (p->agg) {
	case AGG_COUNT: lua_pushinteger(L, v->count); break;
	case AGG_SUM: lua_pushinteger(L, v->sum); break;
	case AGG_MIN: lua_pushinteger(L, v->min); break;
	case AGG_MAX: lua_pushinteger(L, v->max); break;
	default: lua_pushinteger(L, v->count ? v->sum / (__s64)v->count : 0); break;
	}
}

static bool same_key(const struct entry *a, const struct entry *b)
{
	return !memcmp(a->key.parts, b->key.parts, sizeof(a->key) - offsetof(struct lbpf_agg_key, parts));
}

/* Attach point i's counters summed over CPUs. 0 or -errno. */
static int read_point_stats(struct probe *p, int i, struct lbpf_probe_stats *sum)
{
	int fd = bpf_map__fd(p->skel->maps.stats), ncpu = libbpf_num_possible_cpus(), c, err = 0;
	struct lbpf_probe_stats *percpu = calloc(ncpu, sizeof(*percpu));
	__u32 key = i;

	memset(sum, 0, sizeof(*sum));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, percpu))
		err = -errno;
	for (c = 0; !err && c < ncpu; c++) {
		sum->events += percpu[c].events;
		sum->lost += percpu[c].lost;
		sum->filtered += percpu[c].filtered;
		sum->agg_dropped += percpu[c].agg_dropped;
	}
	free(percpu);
	return err;
}

/* count = "probe": each point's event counter (summed over CPUs). */
static void push_point_counts(lua_State *L, struct probe *p)
{
	struct lbpf_probe_stats st;
	int i;

	lua_newtable(L);
	for (i = 0; i < p->npoints; i++) {
		if (read_point_stats(p, i, &st) || !st.events)
			continue;
		lua_pushinteger(L, (lua_Integer)st.events);
		lua_setfield(L, -2, p->points[i].name);
	}
}

void probe_push_aggregation(lua_State *L, struct probe *p)
{
	struct entries es;
	bool hist = p->agg == AGG_HIST || p->agg == AGG_LHIST;
	size_t i, j;
	int err;

	if (p->by_point) {
		push_point_counts(L, p);
		return;
	}
	err = read_entries(p, &es);
	if (err) {
		free(es.v);
		lbpf_throw(L, err, "read the aggregation of %s", p->spec);
	}
	if (p->nkeys == 0) {
		if (hist)
			push_hist(L, p, es.v, es.n);
		else if (es.n)
			push_value(L, p, &es.v[0].value);
		else
			lua_pushnil(L);
		free(es.v);
		return;
	}
	lua_newtable(L);
	for (i = 0; i < es.n; i = j) {
		for (j = i + 1; j < es.n && same_key(&es.v[i], &es.v[j]); j++)
			;
		push_key(L, p, &es.v[i].key);
		if (hist)
			push_hist(L, p, &es.v[i], j - i);
		else
			push_value(L, p, &es.v[i].value);
		lua_settable(L, -3);
	}
	free(es.v);
}

/* Zeroes the per-point event counters (count = "probe"). */
static int clear_point_counts(struct probe *p)
{
	int fd = bpf_map__fd(p->skel->maps.stats), ncpu = libbpf_num_possible_cpus(), i, c, err = 0;
	struct lbpf_probe_stats *percpu = calloc(ncpu, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (i = 0; i < p->npoints && !err; i++) {
		__u32 key = i;

		if (bpf_map_lookup_elem(fd, &key, percpu))
			continue;
		for (c = 0; c < ncpu; c++)
			percpu[c].events = 0;
		if (bpf_map_update_elem(fd, &key, percpu, BPF_EXIST))
			err = -errno;
	}
	free(percpu);
	return err;
}

/* Deletes the keys present now; keys that producers add meanwhile stay, so
 * clearing ends however busy the probe is. */
int probe_clear_aggregation(struct probe *p)
{
	struct entries es;
	int fd, err;
	size_t i;

	if (p->by_point)
		return clear_point_counts(p);
	fd = bpf_map__fd(p->skel->maps.aggs);
	err = read_entries(p, &es);
	for (i = 0; !err && i < es.n; i++)
		if (bpf_map_delete_elem(fd, &es.v[i].key) && errno != ENOENT)
			err = -errno;
	free(es.v);
	return err;
}

int probe_read_stats(struct probe *p, struct lbpf_probe_stats *total)
{
	struct lbpf_probe_stats st;
	int i, err;

	memset(total, 0, sizeof(*total));
	for (i = 0; i < p->npoints; i++) {
		err = read_point_stats(p, i, &st);
		if (err == -ENOMEM)
			return err;
		if (err)
			continue;
		total->events += st.events;
		total->lost += st.lost;
		total->filtered += st.filtered;
		total->agg_dropped += st.agg_dropped;
	}
	return 0;
}

/* "4K" style labels for powers of two, as bpftrace prints them. */
static void bound_label(double v, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (isinf(v)) {
		snprintf(buf, size, "...");
		return;
	}
	while (fabs(v) >= 1024 && fmod(v, 1024) == 0 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%.15g", v);
	else
		snprintf(buf, size, "%.15g%c", v, units[u]);
}

static void print_one_hist(lua_State *L, int ix)
{
	lua_Integer max = 0, n = (lua_Integer)lua_rawlen(L, ix), i;
	bool log2;

	lua_getfield(L, ix, "kind");
	log2 = lua_isstring(L, -1) && !strcmp(lua_tostring(L, -1), "log2");
	lua_pop(L, 1);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, ix, i);
		lua_getfield(L, -1, "count");
		if (lua_tointeger(L, -1) > max)
			max = lua_tointeger(L, -1);
		lua_pop(L, 2);
	}
	for (i = 1; i <= n; i++) {
		char lo[32], hi[32], label[80], bar[53];
		lua_Integer count;
		double dlo, dhi;
		int width;

		lua_rawgeti(L, ix, i);
		lua_getfield(L, -1, "lo");
		lua_getfield(L, -2, "hi");
		lua_getfield(L, -3, "count");
		dlo = lua_tonumber(L, -3);
		dhi = lua_tonumber(L, -2);
		count = lua_tointeger(L, -1);
		lua_pop(L, 4);
		bound_label(dlo, lo, sizeof(lo));
		bound_label(dhi, hi, sizeof(hi));
		if (log2 && dhi - dlo == 1)
			snprintf(label, sizeof(label), "[%s]", lo);
		else if (isinf(dlo))
			snprintf(label, sizeof(label), "(..., %s)", hi);
		else
			snprintf(label, sizeof(label), "[%s, %s)", lo, hi);
		width = max ? (int)(count * 52 / max) : 0;
		memset(bar, '@', width);
		memset(bar + width, ' ', 52 - width);
		bar[52] = '\0';
		printf("%-20s %8lld |%s|\n", label, (long long)count, bar);
	}
}

int probe_print_hist(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	if (!lua_isnoneornil(L, 2))
		printf("%s\n", luaL_checkstring(L, 2));
	lua_getfield(L, 1, "kind");
	if (!lua_isnil(L, -1)) {
		print_one_hist(L, 1);
	} else { /* {key -> histogram} */
		lua_pushnil(L);
		while (lua_next(L, 1)) {
			luaL_argcheck(L, lua_istable(L, -1), 1, "expected a histogram or {key = histogram}");
			printf("[%s]:\n", luaL_tolstring(L, -2, NULL));
			lua_pop(L, 1);
			print_one_hist(L, lua_gettop(L));
			printf("\n");
			lua_pop(L, 1);
		}
	}
	fflush(stdout);
	return 0;
}

static const char *const agg_names[] = {
	"", "count", "hist", "lhist", "sum", "min", "max", "avg",
};

struct row {
	char key[256];
	lua_Integer value;
};

static int row_compare(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->value < y->value ? -1 : x->value > y->value;
}

/* {key -> number} printed in ascending order of value, as bpftrace does. */
static void print_sorted(lua_State *L, int ix)
{
	struct row *rows = NULL;
	size_t n = 0, cap = 0, i;

	lua_pushnil(L);
	while (lua_next(L, ix)) {
		if (n == cap) {
			struct row *r = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*r));

			if (!r)
				break;
			rows = r;
		}
		snprintf(rows[n].key, sizeof(rows[n].key), "%s", luaL_tolstring(L, -2, NULL));
		rows[n++].value = lua_tointeger(L, -2);
		lua_pop(L, 2);
	}
	qsort(rows, n, sizeof(*rows), row_compare);
	for (i = 0; i < n; i++)
		printf("  %s: %lld\n", rows[i].key, (long long)rows[i].value);
	free(rows);
}

void probe_print_aggregation(lua_State *L, struct probe *p)
{
	int top = lua_gettop(L);

	printf("@%s (%s%s%s):\n", p->spec, agg_names[p->agg], p->value[0] ? " " : "", p->value);
	probe_push_aggregation(L, p);
	if (p->agg == AGG_HIST || p->agg == AGG_LHIST) {
		lua_pushcfunction(L, probe_print_hist);
		lua_insert(L, -2);
		lua_call(L, 1, 0);
	} else if (lua_istable(L, -1)) {
		print_sorted(L, lua_gettop(L));
	} else {
		printf("  %s\n", luaL_tolstring(L, -1, NULL));
	}
	fflush(stdout);
	lua_settop(L, top);
}
