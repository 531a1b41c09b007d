// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Compiles a probe's Lua options (filter, strings, count/hist/lhist/sum/min/
 * max/avg with by, kstack, ustack, strlen) into one struct lbpf_attach_config
 * per attach point. Names resolve per attach point, since a wildcard spans
 * tracepoints of different layouts; a name that one of them lacks is an
 * error that names both.
 */
#include <string.h>

#include "probe.h"

static const struct { const char *name; enum lbpf_source source; } builtins[] = {
	{ "pid", LBPF_SRC_PID }, { "tid", LBPF_SRC_TID }, { "uid", LBPF_SRC_UID },
	{ "gid", LBPF_SRC_GID }, { "cpu", LBPF_SRC_CPU }, { "cgroup", LBPF_SRC_CGROUP },
	{ "comm", LBPF_SRC_COMM }, { "probe", LBPF_SRC_PROBE }, { "kstack", LBPF_SRC_KSTACK },
	{ "ustack", LBPF_SRC_USTACK }, { "latency", LBPF_SRC_LATENCY },
};

static bool is_return(const struct probe *p)
{
	return p->type == PROBE_KRETPROBE || p->type == PROBE_URETPROBE;
}

/* Lists the names valid for a point, for error messages. */
static const char *valid_names(lua_State *L, const struct probe *p, const struct attach_point *ap)
{
	luaL_Buffer b;
	int i;

	luaL_buffinit(L, &b);
	luaL_addstring(&b, "pid, tid, uid, gid, cpu, cgroup, comm, probe");
	if (p->type == PROBE_TRACEPOINT) {
		for (i = 0; i < ap->format.nfields; i++) {
			if (ap->format.fields[i].is_common)
				continue;
			luaL_addstring(&b, ", ");
			luaL_addstring(&b, ap->format.fields[i].name);
		}
	} else if (is_return(p)) {
		luaL_addstring(&b, ", ret, latency");
	} else {
		luaL_addstring(&b, ", arg1..arg6");
	}
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}

/* Resolves `name` for attach point ap into ref; raises naming `what`. */
static void resolve(lua_State *L, const struct probe *p, const struct attach_point *ap,
		    const char *name, struct lbpf_ref *ref, const char *what)
{
	const struct tp_field *f;
	size_t i;

	memset(ref, 0, sizeof(*ref));
	if (p->type == PROBE_TRACEPOINT && (f = tracefs_field(&ap->format, name))) {
		if (f->is_string || f->is_data_loc || strchr(f->type, '['))
			luaL_error(L, "%s: field '%s' of %s is a %s; only numbers can be compared "
				      "or aggregated (comm is the exception)", what, name, ap->name,
				   f->is_string || f->is_data_loc ? "string" : "byte array");
		ref->source = LBPF_SRC_FIELD;
		ref->offset = f->offset;
		ref->size = f->value_size;
		ref->is_signed = f->is_signed;
		if (f->offset + 8 > LBPF_MAX_DATA)
			luaL_error(L, "%s: field '%s' of %s lies beyond the %d bytes lbpf copies",
				   what, name, ap->name, LBPF_MAX_DATA);
		return;
	}
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (strcmp(name, builtins[i].name))
			continue;
		if (builtins[i].source == LBPF_SRC_LATENCY && !p->latency)
			break;
		ref->source = builtins[i].source;
		return;
	}
	if (p->type != PROBE_TRACEPOINT && !is_return(p) && !strncmp(name, "arg", 3) &&
	    name[3] >= '1' && name[3] <= '6' && !name[4]) {
		ref->source = LBPF_SRC_ARG;
		ref->arg = name[3] - '1';
		return;
	}
	if (is_return(p) && !strcmp(name, "ret")) {
		ref->source = LBPF_SRC_RET;
		ref->is_signed = 1;
		return;
	}
	luaL_error(L, "%s: unknown name '%s' for %s (valid: %s)", what, name, ap->name,
		   valid_names(L, p, ap));
}

static const struct { const char *text; enum lbpf_op op; } ops[] = {
	{ "==", LBPF_OP_EQ }, { "!=", LBPF_OP_NE }, { "~=", LBPF_OP_NE }, { "<", LBPF_OP_LT },
	{ "<=", LBPF_OP_LE }, { ">", LBPF_OP_GT }, { ">=", LBPF_OP_GE }, { "&", LBPF_OP_AND },
};

/* One filter entry: name = value | {op, value}. Value at -1, name at -2. */
static void compile_filter(lua_State *L, struct probe *p, struct attach_point *ap,
			   struct lbpf_filter *f, const char *name)
{
	const char *op = "==";
	size_t i;

	memset(f, 0, sizeof(*f));
	if (lua_istable(L, -1)) {
		lua_rawgeti(L, -1, 1);
		op = lua_tostring(L, -1);
		lua_pop(L, 1);
		lua_rawgeti(L, -1, 2);
		lua_replace(L, -2);
		if (!op)
			luaL_error(L, "filter.%s: expected {op, value}, e.g. {\"<\", 0}", name);
	}
	if (!strcmp(name, "comm")) {
		if (strcmp(op, "==") || !lua_isstring(L, -1) || lua_rawlen(L, -1) > 15)
			luaL_error(L, "filter.comm: expected a process name of at most 15 characters");
		f->op = LBPF_OP_STREQ;
		strncpy(f->str, lua_tostring(L, -1), sizeof(f->str) - 1);
		return;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]) && strcmp(ops[i].text, op); i++)
		;
	if (i == sizeof(ops) / sizeof(ops[0]))
		luaL_error(L, "filter.%s: unknown operator '%s' (use ==, !=, <, <=, >, >= or &)", name, op);
	if (!lua_isinteger(L, -1))
		luaL_error(L, "filter.%s: expected an integer, got %s", name, luaL_typename(L, -1));
	f->op = ops[i].op;
	f->value = lua_tointeger(L, -1);
	resolve(L, p, ap, name, &f->ref, lua_pushfstring(L, "filter.%s", name));
	lua_pop(L, 1);
	if (f->ref.source == LBPF_SRC_KSTACK || f->ref.source == LBPF_SRC_USTACK)
		luaL_error(L, "filter.%s: stacks cannot be filtered on", name);
}

static void compile_filters(lua_State *L, struct probe *p, struct attach_point *ap, int opts)
{
	struct lbpf_attach_config *c = &ap->config;

	if (lua_getfield(L, opts, "filter") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	luaL_argexpected(L, lua_istable(L, -1), opts, "filter to be a table");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "filter: keys must be names, e.g. {pid = 42}");
		if (c->nfilters == LBPF_MAX_FILTERS)
			luaL_error(L, "filter: at most %d conditions", LBPF_MAX_FILTERS);
		compile_filter(L, p, ap, &c->filters[c->nfilters++], lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* Default memory of a captured pointer: syscall arguments point to user
 * memory, other tracepoints' pointers to kernel memory. */
static bool default_user(const struct probe *p, const struct attach_point *ap)
{
	if (p->type == PROBE_TRACEPOINT)
		return !strcmp(ap->format.category, "syscalls");
	return p->type == PROBE_UPROBE || p->type == PROBE_URETPROBE;
}

static void add_string(lua_State *L, struct probe *p, struct attach_point *ap, const char *name,
		       const char *mem)
{
	struct lbpf_attach_config *c = &ap->config;
	struct lbpf_strcap *sc;
	const struct tp_field *f;

	if (c->nstrings == LBPF_MAX_STRINGS)
		luaL_error(L, "strings: at most %d strings", LBPF_MAX_STRINGS);
	if (mem && strcmp(mem, "user") && strcmp(mem, "kernel"))
		luaL_error(L, "strings.%s: expected \"user\" or \"kernel\", got \"%s\"", name, mem);
	sc = &c->strings[c->nstrings];
	f = p->type == PROBE_TRACEPOINT ? tracefs_field(&ap->format, name) : NULL;
	if (f && !f->is_pointer)
		luaL_error(L, "strings: field '%s' of %s is not a pointer (%s)%s", name, ap->name,
			   f->type, f->is_string ? "; it is a string already" : "");
	resolve(L, p, ap, name, &sc->ref, "strings");
	if (sc->ref.source != LBPF_SRC_FIELD && sc->ref.source != LBPF_SRC_ARG &&
	    sc->ref.source != LBPF_SRC_RET)
		luaL_error(L, "strings: '%s' is not a pointer argument or field", name);
	sc->user = mem ? !strcmp(mem, "user") : default_user(p, ap);
	snprintf(ap->strings[c->nstrings], sizeof(ap->strings[0]), "%s", name);
	c->nstrings++;
}

static void compile_strings(lua_State *L, struct probe *p, struct attach_point *ap, int opts)
{
	lua_Integer len;

	len = lua_getfield(L, opts, "strlen") == LUA_TNIL ? 256 : luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	if (len < 2 || len > LBPF_MAX_STRLEN)
		luaL_error(L, "strlen: expected 2..%d, got %d", LBPF_MAX_STRLEN, (int)len);
	ap->config.strlen = len;
	if (lua_getfield(L, opts, "strings") == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (!lua_istable(L, -1))
		luaL_error(L, "strings: expected a table like {\"filename\"} or {arg2 = \"user\"}");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) == LUA_TSTRING)
			add_string(L, p, ap, lua_tostring(L, -2), luaL_checkstring(L, -1));
		else if (lua_type(L, -1) == LUA_TSTRING)
			add_string(L, p, ap, lua_tostring(L, -1), NULL);
		else
			luaL_error(L, "strings: expected names, got a %s", luaL_typename(L, -1));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static const struct { const char *opt; enum probe_agg_kind kind; } aggs[] = {
	{ "count", AGG_COUNT }, { "hist", AGG_HIST }, { "lhist", AGG_LHIST }, { "sum", AGG_SUM },
	{ "min", AGG_MIN }, { "max", AGG_MAX }, { "avg", AGG_AVG },
};

/* Finds the one aggregation option; leaves its value on the stack. */
static const char *find_agg(lua_State *L, struct probe *p, int opts)
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
		p->agg = aggs[i].kind;
	}
	return found;
}

/* Key names from a string or a list of strings at the top, into p->keys. */
static void collect_keys(lua_State *L, struct probe *p, const char *what)
{
	int i, n;

	if (lua_type(L, -1) == LUA_TSTRING) {
		snprintf(p->keys[0], sizeof(p->keys[0]), "%s", lua_tostring(L, -1));
		p->nkeys = 1;
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
		snprintf(p->keys[i], sizeof(p->keys[i]), "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	p->nkeys = n;
}

/* lhist = {value, min, max, step} */
static void compile_lhist(lua_State *L, struct probe *p)
{
	lua_Integer v[3];
	int i;

	lua_rawgeti(L, -1, 1);
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "lhist: expected {value, min, max, step}");
	snprintf(p->value, sizeof(p->value), "%s", lua_tostring(L, -1));
	lua_pop(L, 1);
	for (i = 0; i < 3; i++) {
		lua_rawgeti(L, -1, i + 2);
		if (!lua_isinteger(L, -1))
			luaL_error(L, "lhist: expected {value, min, max, step} with integers");
		v[i] = lua_tointeger(L, -1);
		lua_pop(L, 1);
	}
	if (v[2] <= 0 || v[1] <= v[0] || (v[1] - v[0]) / v[2] > 1000)
		luaL_error(L, "lhist: need min < max, step > 0 and at most 1000 buckets");
	p->points[0].config.lhist_min = v[0];
	p->points[0].config.lhist_max = v[1];
	p->points[0].config.lhist_step = v[2];
}

/* Reads count/hist/... and by into p; resolution per point comes later. */
static void compile_agg_spec(lua_State *L, struct probe *p, int opts)
{
	const char *opt = find_agg(L, p, opts);

	if (!opt) {
		if (lua_getfield(L, opts, "by") != LUA_TNIL)
			luaL_error(L, "by: needs an aggregation (count, hist, lhist, sum, min, max or avg)");
		lua_pop(L, 1);
		return;
	}
	if (p->agg == AGG_COUNT) {
		collect_keys(L, p, "count");
	} else if (p->agg == AGG_LHIST) {
		if (!lua_istable(L, -1))
			luaL_error(L, "lhist: expected {value, min, max, step}");
		compile_lhist(L, p);
	} else {
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "%s: expected the name of a value, e.g. \"ret\" or \"latency\"", opt);
		snprintf(p->value, sizeof(p->value), "%s", lua_tostring(L, -1));
	}
	lua_pop(L, 1);
	if (!strcmp(p->value, "latency")) {
		if (!is_return(p))
			luaL_error(L, "%s: latency needs a return probe (kretprobe, uretprobe or lbpf.latency)", opt);
		p->latency = true;
	}
	if (lua_getfield(L, opts, "by") != LUA_TNIL) {
		if (p->agg == AGG_COUNT)
			luaL_error(L, "by: count takes its keys directly, e.g. count = {\"comm\", \"pid\"}");
		collect_keys(L, p, "by");
	}
	lua_pop(L, 1);
}

static void compile_agg(lua_State *L, struct probe *p, struct attach_point *ap)
{
	struct lbpf_attach_config *c = &ap->config;
	int i;

	if (p->agg == AGG_NONE || p->by_point)
		return;
	c->agg = p->agg == AGG_COUNT ? LBPF_AGG_COUNT : p->agg == AGG_HIST ? LBPF_AGG_HIST :
		 p->agg == AGG_LHIST ? LBPF_AGG_LHIST : LBPF_AGG_SUM;
	c->lhist_min = p->points[0].config.lhist_min;
	c->lhist_max = p->points[0].config.lhist_max;
	c->lhist_step = p->points[0].config.lhist_step;
	for (i = 0; i < p->nkeys; i++) {
		resolve(L, p, ap, p->keys[i], &c->keys[i], p->agg == AGG_COUNT ? "count" : "by");
		if (c->keys[i].source == LBPF_SRC_KSTACK)
			c->kstack = c->kstack ? c->kstack : 2; /* 2: stack map only, no event stack */
		if (c->keys[i].source == LBPF_SRC_USTACK)
			c->ustack = c->ustack ? c->ustack : 2;
	}
	c->nkeys = p->nkeys;
	if (p->agg != AGG_COUNT)
		resolve(L, p, ap, p->value, &c->agg_value, "value");
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
	"max", "avg", "by", "print", "pid", NULL,
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
				      "count, hist, lhist, sum, min, max, avg, by, print, pid)",
				   key ? key : luaL_typename(L, -2));
		lua_pop(L, 1);
	}
}

static bool uses(const struct lbpf_ref *ref, enum lbpf_source source)
{
	return ref->source == source;
}

/* What the BPF side must fetch for every hit: the tracepoint record when a
 * field is used, uid/gid when asked for. Emitting events needs both. */
static void set_needs(struct lbpf_attach_config *c)
{
	unsigned i;
	bool f = uses(&c->agg_value, LBPF_SRC_FIELD);
	bool ids = uses(&c->agg_value, LBPF_SRC_UID) || uses(&c->agg_value, LBPF_SRC_GID);

	for (i = 0; i < c->nfilters; i++) {
		f |= uses(&c->filters[i].ref, LBPF_SRC_FIELD);
		ids |= uses(&c->filters[i].ref, LBPF_SRC_UID) || uses(&c->filters[i].ref, LBPF_SRC_GID);
	}
	for (i = 0; i < c->nkeys; i++) {
		f |= uses(&c->keys[i], LBPF_SRC_FIELD);
		ids |= uses(&c->keys[i], LBPF_SRC_UID) || uses(&c->keys[i], LBPF_SRC_GID);
	}
	for (i = 0; i < c->nstrings; i++)
		f |= uses(&c->strings[i].ref, LBPF_SRC_FIELD);
	c->read_fields = f || c->emit;
	c->read_ids = ids || c->emit;
}

void probe_config_finish(struct probe *p)
{
	int i;

	for (i = 0; i < p->npoints; i++)
		set_needs(&p->points[i].config);
}

void probe_compile(lua_State *L, struct probe *p, int opts)
{
	bool kstack = false, ustack = false;
	int i;

	if (opts) {
		check_known(L, opts);
		kstack = opt_bool(L, opts, "kstack");
		ustack = opt_bool(L, opts, "ustack");
		p->print = opt_bool(L, opts, "print");
		compile_agg_spec(L, p, opts);
	}
	if (p->latency && p->agg == AGG_NONE)
		p->agg = AGG_HIST;
	p->by_point = p->agg == AGG_COUNT && p->nkeys == 1 && !strcmp(p->keys[0], "probe");
	for (i = 0; i < p->npoints; i++) {
		struct attach_point *ap = &p->points[i];
		struct lbpf_attach_config *c = &ap->config;
		int top = lua_gettop(L);

		c->enabled = 1;
		c->is_return = is_return(p);
		c->strlen = 256;
		if (p->type == PROBE_TRACEPOINT) {
			bool dynamic = false;
			int f;

			for (f = 0; f < ap->format.nfields; f++)
				dynamic |= ap->format.fields[f].is_data_loc;
			c->data_size = dynamic || ap->format.size > LBPF_MAX_DATA ? LBPF_MAX_DATA
										  : ap->format.size;
		}
		if (opts) {
			compile_filters(L, p, ap, opts);
			compile_strings(L, p, ap, opts);
		}
		compile_agg(L, p, ap);
		c->kstack = kstack ? 1 : c->kstack;
		c->ustack = ustack ? 1 : c->ustack;
		lua_settop(L, top);
	}
}

static void set_code(lua_State *L, const char *name, int code)
{
	lua_pushinteger(L, code);
	lua_setfield(L, -2, name);
}

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
		for (j = 0; j < 6 && (p->type == PROBE_KPROBE || p->type == PROBE_UPROBE); j++) {
			char arg[8] = "arg1";

			arg[3] = '1' + j;
			set_code(L, arg, VIEW_ARG1 + j);
		}
		if (is_return(p))
			set_code(L, "ret", VIEW_RET);
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
