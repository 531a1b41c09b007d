// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The Lua side of the tracing probe, under its binding (lprobe.c): reads a
 * probe's options table into struct probe_opts for the engine, and shapes
 * what the engine reads for Lua:
 *   count              {key -> n}
 *   hist, lhist        a histogram, or {key -> histogram} with `by`
 *   sum, min, max, avg a number, or {key -> number} with `by`
 * A histogram is {kind = "log2"|"linear", {lo =, hi =, count =}, ...}.
 * Single keys keep their type (comm is a string, pid an integer); composite
 * keys are their parts joined with ",". Misuse raises a Lua error that
 * names the option; what the table's shape cannot tell (names, ranges) the
 * engine reports.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_lua.h"

/* ---- options ---- */

static const struct { const char *text; enum lbpf_op op; } ops[] = {
	{ "==", LBPF_OP_EQ }, { "!=", LBPF_OP_NE }, { "~=", LBPF_OP_NE }, { "<", LBPF_OP_LT },
	{ "<=", LBPF_OP_LE }, { ">", LBPF_OP_GT }, { ">=", LBPF_OP_GE }, { "&", LBPF_OP_AND },
};

/* One filter entry: name = value | {op, value}, the value at the top. What
 * it pushes (op stays on the stack while op is in use) it pops. */
static void check_filter(lua_State *L, struct probe_filter_opt *f, const char *name)
{
	int top = lua_gettop(L), value = top;
	const char *op = "==";
	size_t i;

	memset(f, 0, sizeof(*f));
	f->name = name;
	if (lua_istable(L, value)) {
		lua_rawgeti(L, value, 1);
		op = lua_tostring(L, -1);
		lua_rawgeti(L, value, 2);
		value = lua_gettop(L);
		if (!op)
			luaL_error(L, "filter.%s: expected {op, value}, e.g. {\"<\", 0}", name);
	}
	if (!strcmp(name, "comm")) {
		if (strcmp(op, "==") || !lua_isstring(L, value) || lua_rawlen(L, value) > 15)
			luaL_error(L, "filter.comm: expected a process name of at most 15 characters");
		f->op = LBPF_OP_STREQ;
		strncpy(f->comm, lua_tostring(L, value), sizeof(f->comm) - 1);
		lua_settop(L, top);
		return;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i].text, op); i++)
		;
	if (i == sizeof(ops) / sizeof(ops[0]))
		luaL_error(L, "filter.%s: unknown operator '%s' (use ==, !=, <, <=, >, >= or &)", name, op);
	if (!lua_isinteger(L, value))
		luaL_error(L, "filter.%s: expected an integer, got %s", name, luaL_typename(L, value));
	f->op = ops[i].op;
	f->value = lua_tointeger(L, value);
	lua_settop(L, top);
}

static void check_filters(lua_State *L, int opts, struct probe_opts *o)
{
	if (lua_getfield(L, opts, "filter") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), opts, "filter to be a table");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "filter: keys must be names, e.g. {pid = 42}");
		if (o->nfilters == LBPF_MAX_FILTERS)
			luaL_error(L, "filter: at most %d conditions", LBPF_MAX_FILTERS);
		check_filter(L, &o->filters[o->nfilters++], lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void add_string(lua_State *L, struct probe_opts *o, const char *name, const char *mem)
{
	if (o->nstrings == LBPF_MAX_STRINGS)
		luaL_error(L, "strings: at most %d strings", LBPF_MAX_STRINGS);
	if (mem && strcmp(mem, "user") && strcmp(mem, "kernel"))
		luaL_error(L, "strings.%s: expected \"user\" or \"kernel\", got \"%s\"", name, mem);
	o->strings[o->nstrings].name = name;
	o->strings[o->nstrings].memory = !mem ? PROBE_MEMORY_DEFAULT :
					 !strcmp(mem, "user") ? PROBE_MEMORY_USER : PROBE_MEMORY_KERNEL;
	o->nstrings++;
}

static void check_strings(lua_State *L, int opts, struct probe_opts *o)
{
	o->strlen = lua_getfield(L, opts, "strlen") == LUA_TNIL ? 256 : luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	if (lua_getfield(L, opts, "strings") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "strings: expected a table like {\"filename\"} or {arg2 = \"user\"}");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING)
			add_string(L, o, lua_tostring(L, -2), luaL_checkstring(L, -1));
		else if (lua_type(L, -1) == LUA_TSTRING)
			add_string(L, o, lua_tostring(L, -1), NULL);
		else
			luaL_error(L, "strings: expected names, got a %s", luaL_typename(L, -1));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static const char *const formats[] = { "", "ipv4", "ipv6", "port", "user", NULL };

/* One entry of opts.fields: name = "path" or {"path", "format"}, at the top. */
static void check_field(lua_State *L, struct probe_field_opt *f, const char *name)
{
	int i;

	f->name = name;
	f->format = FIELD_PLAIN;
	if (lua_type(L, -1) == LUA_TSTRING) {
		f->path = lua_tostring(L, -1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "fields.%s: expected a path or {path, format}", name);
	lua_rawgeti(L, -1, 1);
	lua_rawgeti(L, -2, 2);
	if (lua_type(L, -2) != LUA_TSTRING || (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING))
		luaL_error(L, "fields.%s: expected {path, format}, e.g. {\"sk->__sk_common.skc_daddr\", "
			      "\"ipv4\"}", name);
	f->path = lua_tostring(L, -2); /* the table keeps it */
	for (i = 1; lua_isstring(L, -1) && formats[i] && strcmp(formats[i], lua_tostring(L, -1)); i++)
		;
	if (lua_isstring(L, -1) && !formats[i])
		luaL_error(L, "fields.%s: unknown format '%s' (use ipv4, ipv6, port or user)", name,
			   lua_tostring(L, -1));
	f->format = lua_isstring(L, -1) ? (enum probe_field_format)i : FIELD_PLAIN;
	lua_pop(L, 2);
}

static void check_fields(lua_State *L, int opts, struct probe_opts *o)
{
	if (lua_getfield(L, opts, "fields") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "fields: expected a table like {comm = \"next->comm\"}");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "fields: keys must be names, e.g. {daddr = \"sk->...\"}");
		if (o->nfields == LBPF_MAX_PATHS)
			luaL_error(L, "fields: at most %d fields", LBPF_MAX_PATHS);
		check_field(L, &o->fields[o->nfields++], lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* opts[name], one of names[] (NULL-ended): its index, or dflt when absent. */
static int check_choice(lua_State *L, int opts, const char *name, const char *const names[],
			const char *expected, int dflt)
{
	int i = dflt;

	if (lua_getfield(L, opts, name) != LUA_TNIL) {
		for (i = 0; lua_type(L, -1) == LUA_TSTRING && names[i] &&
			    strcmp(names[i], lua_tostring(L, -1)); i++)
			;
		if (lua_type(L, -1) != LUA_TSTRING || !names[i])
			luaL_error(L, "%s: expected %s", name, expected);
	}
	lua_pop(L, 1);
	return i;
}

/* via = "auto" | "kprobe" | "fentry"; path_reads = "auto" | "direct" | "helper" */
static void check_via(lua_State *L, int opts, struct probe_opts *o)
{
	static const char *const vias[] = { "auto", "kprobe", "fentry", NULL };
	static const char *const reads[] = { "auto", "direct", "helper", NULL };

	o->via = (enum probe_via)check_choice(L, opts, "via", vias,
					       "\"kprobe\", \"fentry\" or \"auto\"", VIA_AUTO);
	o->path_reads = (enum probe_path_reads)check_choice(L, opts, "path_reads", reads,
		"\"direct\", \"helper\" or \"auto\"", PATH_READS_AUTO);
}

static const struct { const char *opt; enum probe_agg_kind kind; } aggs[] = {
	{ "count", AGG_COUNT }, { "hist", AGG_HIST }, { "lhist", AGG_LHIST }, { "sum", AGG_SUM },
	{ "min", AGG_MIN }, { "max", AGG_MAX }, { "avg", AGG_AVG },
};

/* Finds the one aggregation option; leaves its value on the stack. */
static const char *find_agg(lua_State *L, int opts, struct probe_opts *o)
{
	const char *found = NULL;
	size_t i;

	for (i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++) {
		if (lua_getfield(L, opts, aggs[i].opt) == LUA_TNIL) {
			lua_pop(L, 1);
			continue;
		}
		if (found)
			luaL_error(L, "%s and %s: a probe has one aggregation; make two probes", found,
				   aggs[i].opt);
		found = aggs[i].opt;
		o->agg = aggs[i].kind;
	}
	return found;
}

/* Key names from a string or a list of strings at the top, into o->keys. */
static void check_keys(lua_State *L, struct probe_opts *o, const char *what)
{
	int i, n;

	if (lua_type(L, -1) == LUA_TSTRING) {
		o->keys[0] = lua_tostring(L, -1);
		o->nkeys = 1;
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "%s: expected a name or a list of names", what);
	n = (int)lua_rawlen(L, -1);
	if (n < 1 || n > LBPF_MAX_KEYS)
		luaL_error(L, "%s: expected 1 to %d names", what, LBPF_MAX_KEYS);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, -1, i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: names must be strings", what);
		o->keys[i] = lua_tostring(L, -1); /* the list keeps it */
		lua_pop(L, 1);
	}
	o->nkeys = n;
}

/* lhist = {value, min, max, step} */
static void check_lhist(lua_State *L, struct probe_opts *o)
{
	lua_Integer v[3];
	int i;

	lua_rawgeti(L, -1, 1);
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "lhist: expected {value, min, max, step}");
	o->value = lua_tostring(L, -1);
	lua_pop(L, 1);
	for (i = 0; i < 3; i++) {
		lua_rawgeti(L, -1, i + 2);
		if (!lua_isinteger(L, -1))
			luaL_error(L, "lhist: expected {value, min, max, step} with integers");
		v[i] = lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
	o->lhist_min = v[0];
	o->lhist_max = v[1];
	o->lhist_step = v[2];
}

/* count/hist/... and by. */
static void check_agg(lua_State *L, int opts, struct probe_opts *o)
{
	const char *opt = find_agg(L, opts, o);

	if (!opt) {
		if (lua_getfield(L, opts, "by") != LUA_TNIL)
			luaL_error(L, "by: needs an aggregation (count, hist, lhist, sum, min, max or avg)");
		lua_pop(L, 1);
		return;
	}
	if (o->agg == AGG_COUNT) {
		check_keys(L, o, "count");
	} else if (o->agg == AGG_LHIST) {
		if (!lua_istable(L, -1))
			luaL_error(L, "lhist: expected {value, min, max, step}");
		check_lhist(L, o);
	} else {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: expected the name of a value, e.g. \"ret\" or \"latency\"", opt);
		o->value = lua_tostring(L, -1);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, opts, "by") != LUA_TNIL) {
		if (o->agg == AGG_COUNT)
			luaL_error(L, "by: count takes its keys directly, e.g. count = {\"comm\", \"pid\"}");
		check_keys(L, o, "by");
	}
	lua_pop(L, 1);
}

static bool opt_bool(lua_State *L, int opts, const char *name)
{
	bool b;

	lua_getfield(L, opts, name);
	if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
		luaL_error(L, "%s: expected a boolean", name);
	b = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return b;
}

static const char *const known_opts[] = {
	"filter", "strings", "strlen", "kstack", "ustack", "count", "hist", "lhist", "sum", "min",
	"max", "avg", "by", "print", "name", "pid", "fields", "via", "path_reads", NULL,
};

/* Unknown option names are typos: say so rather than ignore them. */
static void check_known(lua_State *L, int opts)
{
	int i;

	lua_pushnil(L);
	while (lua_next(L, opts)) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;

		for (i = 0; key && known_opts[i] && strcmp(known_opts[i], key); i++)
			;
		if (!key || !known_opts[i])
			luaL_error(L, "unknown option '%s' (known: filter, strings, strlen, kstack, ustack, "
				      "count, hist, lhist, sum, min, max, avg, by, print, name, pid, fields, "
				      "via)",
				   key ? key : luaL_typename(L, -2));
		lua_pop(L, 1);
	}
}

/* name = "reads": what printed aggregations are called ("@reads"). */
static void check_name(lua_State *L, int opts, struct probe_opts *o)
{
	size_t len;

	if (lua_getfield(L, opts, "name") != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "name: expected a string");
		o->name = lua_tolstring(L, -1, &len);
		if (len == 0 || len >= PROBE_NAME_MAX || strlen(o->name) != len)
			luaL_error(L, "name: expected 1 to %d characters", PROBE_NAME_MAX - 1);
	}
	lua_pop(L, 1);
}

/* Reads in the order the options always were: misuse names the first. */
void probe_check_opts(lua_State *L, int opts, struct probe_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->strlen = 256;
	if (!opts)
		return;
	check_known(L, opts);
	check_fields(L, opts, o);
	check_via(L, opts, o);
	o->kstack = opt_bool(L, opts, "kstack");
	o->ustack = opt_bool(L, opts, "ustack");
	o->print = opt_bool(L, opts, "print");
	check_name(L, opts, o);
	check_agg(L, opts, o);
	check_filters(L, opts, o);
	check_strings(L, opts, o);
}

static void set_code(lua_State *L, const char *name, int code)
{
	lua_pushinteger(L, code);
	lua_setfield(L, -2, name);
}

/* One table per attach point, so that ev.<name> is one lookup. */
void probe_build_fields(lua_State *L, struct probe *p)
{
	static const char *const names[] = {
		"pid", "tid", "uid", "gid", "cpu", "cgroup", "ts", "comm", "probe",
	};
	int i, j;

	for (i = 0; i < p->npoints; i++) {
		struct attach_point *ap = &p->points[i];

		lua_newtable(L);
		for (j = 0; j < (int)(sizeof(names) / sizeof(names[0])); j++)
			set_code(L, names[j], VIEW_PID + j);
		for (j = 0; j < 6 && (p->type == PROBE_KPROBE || p->type == PROBE_UPROBE ||
				      (p->type == PROBE_RAW_TRACEPOINT && j < ap->args.n) ||
				      (p->type == PROBE_USDT && j < ap->usdt.nargs)); j++) {
			char arg[8] = "arg1";

			arg[3] = '1' + j;
			set_code(L, arg, VIEW_ARG1 + j);
		}
		for (j = 0; !probe_is_return(p) && ap->have_args && j < ap->args.n && j < 6; j++)
			if (ap->args.names[j][0])
				set_code(L, ap->args.names[j], VIEW_ARG1 + j);
		if (probe_is_return(p))
			set_code(L, "ret", VIEW_RET);
		for (j = 0; j < ap->npaths; j++)
			if (ap->paths[j].string < 0)
				set_code(L, ap->paths[j].name, VIEW_PATH + j);
		for (j = 0; j < ap->format.nfields; j++)
			if (!ap->format.fields[j].is_common)
				set_code(L, ap->format.fields[j].name, VIEW_FIELD + j);
		if (ap->config.kstack == 1)
			set_code(L, "kstack", VIEW_KSTACK);
		if (ap->config.ustack == 1)
			set_code(L, "ustack", VIEW_USTACK);
		set_code(L, "truncated", VIEW_TRUNCATED);
		for (j = 0; j < (int)ap->config.nstrings; j++)
			set_code(L, ap->strings[j], VIEW_STRING + j);
		ap->fields_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
}

/* ---- field paths ---- */

static int64_t read_int(const uint8_t *b, unsigned size, bool is_signed)
{
	switch (size) {
	case 1: return is_signed ? (int64_t)*(const int8_t *)b : (int64_t)*b;
	case 2: { int16_t x; memcpy(&x, b, 2); return is_signed ? x : (int64_t)(uint16_t)x; }
	case 4: { int32_t x; memcpy(&x, b, 4); return is_signed ? x : (int64_t)(uint32_t)x; }
	default: { int64_t x; memcpy(&x, b, 8); return x; }
	}
}

void probe_push_path(lua_State *L, const struct probe *p, const struct probe_path *pp,
		     const uint8_t *b, size_t avail)
{
	const struct btf_path *bp = &pp->bp;
	unsigned size = bp->kind == BTF_VALUE_PTR ? 8 : bp->size;
	char text[INET6_ADDRSTRLEN];
	const char *name;
	int64_t v;

	if (size > avail) {
		lua_pushnil(L);
		return;
	}
	if (pp->format == FIELD_IPV4 || pp->format == FIELD_IPV6) {
		inet_ntop(pp->format == FIELD_IPV4 ? AF_INET : AF_INET6, b, text, sizeof(text));
		lua_pushstring(L, text);
		return;
	}
	switch (bp->kind) {
	case BTF_VALUE_CHARS:
		lua_pushlstring(L, (const char *)b, strnlen((const char *)b, size));
		return;
	case BTF_VALUE_BYTES:
		lua_pushlstring(L, (const char *)b, size);
		return;
	default:
		break;
	}
	v = read_int(b, size, bp->is_signed);
	name = bp->kind == BTF_VALUE_ENUM && bp->btf ? btf_enum_name(bp->btf, bp->type, v) : NULL;
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushinteger(L, v);
}

/* ---- aggregations ---- */

/* A frame that has no symbol prints as its address. */
void probe_push_stack(lua_State *L, struct probe *p, int id, bool user, int pid)
{
	uint64_t ips[PROBE_MAX_FRAMES];
	char buf[512];
	int i, n = probe_read_stack(p, id, ips);

	if (n < 0) {
		lua_pushnil(L);
		return;
	}
	lua_createtable(L, n, 0);
	for (i = 0; i < n; i++) {
		lua_pushstring(L, probe_frame_name(p, user, pid, ips[i], buf, sizeof(buf)));
		lua_rawseti(L, -2, i + 1);
	}
}

/* One key part as a Lua value. */
static void push_part(lua_State *L, struct probe *p, const struct lbpf_agg_key *key, int i)
{
	const struct lbpf_ref *ref = &p->points[0].config.keys[i];
	__s64 v = key->parts[i];

	if (p->key_path[i] >= 0) { /* shown by its type: enum names, addresses */
		uint8_t bytes[8];

		memcpy(bytes, &v, sizeof(bytes));
		probe_push_path(L, p, &p->points[0].paths[p->key_path[i]], bytes, sizeof(bytes));
		return;
	}

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

static void push_number(lua_State *L, double d)
{
	if (isfinite(d) && d == (lua_Integer)d)
		lua_pushinteger(L, (lua_Integer)d);
	else
		lua_pushnumber(L, d);
}

/* A histogram from entries [first, last): every bucket between the lowest and
 * the highest that saw a value, so gaps print as empty bars. */
static void push_hist(lua_State *L, struct probe *p, const struct probe_entry *e, size_t n)
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
		probe_bucket_bounds(p, b, &blo, &bhi);
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

/* count = "probe": each point's event counter (summed over CPUs). */
static void push_point_counts(lua_State *L, struct probe *p)
{
	struct lbpf_probe_stats st;
	int i;

	lua_newtable(L);
	for (i = 0; i < p->npoints; i++) {
		if (probe_read_point_stats(p, i, &st) || !st.events)
			continue;
		lua_pushinteger(L, (lua_Integer)st.events);
		lua_setfield(L, -2, p->points[i].name);
	}
}

/* An aggregation without keys is one value or histogram (nil if empty). */
void probe_push_aggregation(lua_State *L, struct probe *p)
{
	struct probe_entries es;
	bool hist = p->agg == AGG_HIST || p->agg == AGG_LHIST;
	char msg[512];
	size_t i, j;
	int err;

	if (p->by_point) {
		push_point_counts(L, p);
		return;
	}
	err = probe_read_entries(p, &es, msg, sizeof(msg));
	if (err) {
		free(es.v);
		lbpf_throw(L, err, "%s", msg);
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
		for (j = i + 1; j < es.n && probe_same_key(&es.v[i], &es.v[j]); j++)
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

/* A zeroed array of n items of size bytes, a userdata kept alive in the
 * anchor table (at anchor) for as long as the record is in use. */
static void *anchored_array(lua_State *L, int anchor, size_t n, size_t size)
{
	void *array = lua_newuserdatauv(L, (n + 1) * size, 0);

	memset(array, 0, (n + 1) * size);
	lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
	return array;
}

/* The number of entries of the table at ix; with what, raises unless each
 * value is a table. */
static size_t table_count(lua_State *L, int ix, const char *what)
{
	size_t n = 0;

	lua_pushnil(L);
	while (lua_next(L, ix)) {
		luaL_argcheck(L, !what || lua_istable(L, -1), 1, what);
		lua_pop(L, 1);
		n++;
	}
	return n;
}

/* Reads the histogram at ix ({kind =, {lo =, hi =, count =}, ...}) into h;
 * its buckets are anchored. */
static void check_hist(lua_State *L, int ix, int anchor, struct lbpf_output_hist *h)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, ix), i;
	struct lbpf_output_bucket *b = anchored_array(L, anchor, n, sizeof(*b));

	lua_getfield(L, ix, "kind");
	h->log2 = lua_isstring(L, -1) && !strcmp(lua_tostring(L, -1), "log2");
	lua_pop(L, 1);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, ix, i + 1);
		luaL_argcheck(L, lua_istable(L, -1), 1, "a histogram's buckets are {lo =, hi =, count =}");
		lua_getfield(L, -1, "lo");
		lua_getfield(L, -2, "hi");
		lua_getfield(L, -3, "count");
		b[i].lo = lua_tonumber(L, -3);
		b[i].hi = lua_tonumber(L, -2);
		b[i].count = lua_tointeger(L, -1);
		lua_pop(L, 4);
	}
	h->n = n;
	h->buckets = b;
}

/* The text of the value at ix, kept alive in the anchor table. */
static const char *anchored_text(lua_State *L, int ix, int anchor)
{
	const char *text = luaL_tolstring(L, ix, NULL);

	lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
	return text;
}

static int hist_compare(const void *a, const void *b)
{
	const struct lbpf_output_hist *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* {key -> histogram} at ix into a userdata array of hists (sorted by key),
 * anchored; returns how many. */
static size_t check_hists(lua_State *L, int ix, int anchor, struct lbpf_output_hist **out)
{
	size_t n = table_count(L, ix, "expected a histogram or {key = histogram}");
	struct lbpf_output_hist *h = anchored_array(L, anchor, n, sizeof(*h));

	n = 0;
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		h[n].key = anchored_text(L, -2, anchor);
		check_hist(L, lua_gettop(L), anchor, &h[n++]);
		lua_pop(L, 1);
	}
	qsort(h, n, sizeof(*h), hist_compare);
	*out = h;
	return n;
}

/* Fills rec's histograms from the table at ix: one histogram or {key ->
 * histogram}. */
static void check_hist_table(lua_State *L, int ix, int anchor, struct lbpf_output *rec)
{
	struct lbpf_output_hist *h;

	rec->kind = LBPF_OUTPUT_HIST;
	lua_getfield(L, ix, "kind");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		rec->table.nhists = check_hists(L, ix, anchor, &h);
	} else {
		lua_pop(L, 1);
		h = anchored_array(L, anchor, 1, sizeof(*h));
		check_hist(L, ix, anchor, h);
		rec->table.nhists = 1;
	}
	rec->table.hists = h;
}

/* lbpf.print_hist(h[, title]): one histogram, or {key -> histogram}. */
int probe_print_hist(lua_State *L)
{
	struct lbpf_output rec = { 0 };

	luaL_checktype(L, 1, LUA_TTABLE);
	rec.table.title = luaL_optstring(L, 2, NULL);
	rec.table.name = rec.table.title ? rec.table.title : "@";
	lua_settop(L, 2);
	lua_newtable(L); /* 3: the anchor */
	check_hist_table(L, 1, 3, &rec);
	lbpf_output(lbpf_toruntime(L), &rec);
	return 0;
}

static void check_value(lua_State *L, int ix, struct lbpf_output_row *row)
{
	if (lua_isinteger(L, ix)) {
		row->type = LBPF_VALUE_INTEGER;
		row->integer = lua_tointeger(L, ix);
	} else if (lua_type(L, ix) == LUA_TNUMBER) {
		row->type = LBPF_VALUE_NUMBER;
		row->number = lua_tonumber(L, ix);
	} else {
		row->type = LBPF_VALUE_NONE;
	}
}

static double row_number(const struct lbpf_output_row *r)
{
	return r->type == LBPF_VALUE_INTEGER ? (double)r->integer :
	       r->type == LBPF_VALUE_NUMBER ? r->number : 0;
}

static int row_compare(const void *a, const void *b)
{
	double x = row_number(a), y = row_number(b);

	return x < y ? -1 : x > y;
}

/* {key -> number} at ix as rows in ascending order of value, as bpftrace
 * prints maps, or one value without a key. */
static void check_rows(lua_State *L, int ix, int anchor, struct lbpf_output *rec)
{
	struct lbpf_output_row *rows;
	size_t n;

	rec->kind = LBPF_OUTPUT_MAP;
	if (!lua_istable(L, ix)) {
		rows = anchored_array(L, anchor, 1, sizeof(*rows));
		check_value(L, ix, rows);
		rec->table.rows = rows;
		rec->table.nrows = 1;
		return;
	}
	n = table_count(L, ix, NULL);
	rows = anchored_array(L, anchor, n, sizeof(*rows));
	n = 0;
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		rows[n].key = anchored_text(L, -2, anchor);
		check_value(L, -1, &rows[n++]);
		lua_pop(L, 1);
	}
	qsort(rows, n, sizeof(*rows), row_compare);
	rec->table.rows = rows;
	rec->table.nrows = n;
}

/* @spec (kind value): then the histogram or the sorted values, as one
 * record named "@spec". */
void probe_print_aggregation(lua_State *L, struct probe *p)
{
	struct lbpf_output rec = { 0 };
	int top = lua_gettop(L), anchor;
	char name[sizeof(p->spec) + 1], title[sizeof(p->spec) + 160];

	snprintf(name, sizeof(name), "@%s", p->name[0] ? p->name : p->spec);
	snprintf(title, sizeof(title), "%s (%s%s%s):", name, probe_agg_name(p->agg),
		 p->value[0] ? " " : "", p->value);
	lua_newtable(L);
	anchor = lua_gettop(L);
	probe_push_aggregation(L, p);
	if (p->agg == AGG_HIST || p->agg == AGG_LHIST)
		check_hist_table(L, lua_gettop(L), anchor, &rec);
	else
		check_rows(L, lua_gettop(L), anchor, &rec);
	rec.table.name = name;
	rec.table.title = title;
	rec.table.stats = p->agg == AGG_AVG;
	lbpf_output(p->rt, &rec);
	lua_settop(L, top);
}
