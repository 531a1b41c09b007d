// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.filter{hook=...} -> fw: packet-filtering policies compiled to BPF maps
 * (user/filter_*.c) that drive one rule engine at XDP, tc or netfilter.
 * fw:rule{} -> rule, fw:set() -> set, fw:unparsed(v), fw:on_log(fn), fw:on_new_flow(fn),
 * fw:test(pkt). Rule changes are compiled at the next fw:commit(), fw:test()
 * or when the script yields to the loop, whichever comes first; each commit
 * swaps the whole rule set atomically. A bad argument raises an error that
 * names the field and changes nothing.
 *
 * In a runtime with a pin folder (lbpfd's policies), the n-th attached
 * filter (n counted by the runtime, lbpf_runtime_pin_next) is pinned in
 * PIN_DIR/n and outlives the process: XDP and netfilter pin their links, tc
 * its program under a name that says where the cls_bpf filter is. Pinning
 * waits for the first commit after the body ran: a body that fails frees
 * what it attached, and leaves the pins of an earlier run alone. When the
 * folder holds the filter of an earlier run, the new one replaces it at
 * that same commit, so the old rules enforce until the new ones are
 * complete.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <lbpf/lbpf.h>
#include <lbpf/record.h>

#include "filter.h"
#include "match_lua.h"
#include "core/internal.h"
#include "core/metric.h"

struct lfilter {
	struct filter_engine *e;
	lbpf_runtime_t *rt;
	lbpf_object_t *object;
	lbpf_timer_node_t commit_node;
	lbpf_timer_node_t sweep_node;
	int rules_ref;             /* table: rule id -> rule userdata */
	int log_ref, flow_ref;     /* callbacks */
	lbpf_callback_t *log_call; /* log_ref's parked task */
	int log_source, flow_source;
	bool held;
	char where[96];            /* "xdp on veth0" */
	struct lbpf_metric_source *metrics; /* its counters, while attached */
};

struct lrule {
	lbpf_object_t *fw;
	uint32_t id;
	bool removed;
};

struct lset {
	lbpf_object_t *fw;
	int slot;
};

static const lbpf_class_t filter_class, rule_class, set_class;

LBPF_PRIVATECHECKER(checkfilter, struct lfilter, &filter_class)
LBPF_PRIVATECHECKER(checkrule, struct lrule, &rule_class)
LBPF_PRIVATECHECKER(checkset, struct lset, &set_class)

static const char *const action_names[] = { "pass", "drop", "count", "ratelimit", NULL };

/* The filter a rule or set belongs to; raises when it was closed. */
static struct lfilter *owner(lua_State *L, lbpf_object_t *fw)
{
	if (!fw->private || atomic_load(&fw->released))
		luaL_error(L, "the filter is closed");
	return fw->private;
}

/* ---- parsing: every error names its field ---- */

/* Frees a spec under construction when parsing raises. */
struct spec_guard {
	struct filter_spec *spec;
};

static int guard_gc(lua_State *L)
{
	struct spec_guard *g = lua_touserdata(L, 1);

	filter_spec_free(g->spec);
	g->spec = NULL;
	return 0;
}

static struct spec_guard *push_guard(lua_State *L)
{
	struct spec_guard *g = lua_newuserdatauv(L, sizeof(*g), 0);

	g->spec = NULL;
	if (luaL_newmetatable(L, "lbpf.filter.guard")) {
		lua_pushcfunction(L, guard_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return g;
}

static void *grow(lua_State *L, void *p, size_t n, size_t size)
{
	void *q = realloc(p, (n + 1) * size);

	if (!q)
		luaL_error(L, "out of memory");
	return q;
}

/* The string at ix, or NULL when it is none or holds a NUL byte (C would
 * read only the part before it: "10.0.0.1\0garbage"). */
static const char *exact_string(lua_State *L, int ix)
{
	size_t len;
	const char *text = lua_type(L, ix) == LUA_TSTRING ? lua_tolstring(L, ix, &len) : NULL;

	return text && strlen(text) == len ? text : NULL;
}

/* Raises on a key of the table at ix that is not in names (NULL-ended): a
 * misspelt option would otherwise be ignored. what names the table. */
static void check_keys(lua_State *L, int ix, const char *what, const char *const names[])
{
	int i;

	ix = lua_absindex(L, ix);
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		lua_pop(L, 1);
		for (i = 0; lua_type(L, -1) == LUA_TSTRING && names[i]; i++)
			if (!strcmp(lua_tostring(L, -1), names[i]))
				break;
		if (lua_type(L, -1) != LUA_TSTRING || !names[i])
			luaL_error(L, "%s: unknown field '%s'", what, luaL_tolstring(L, -1, NULL));
	}
}

static void parse_one_address(lua_State *L, const char *field, int ix, struct filter_prefix **list,
			      uint32_t *n)
{
	const char *text = lua_tostring(L, ix);
	struct filter_prefix p = { 0 }; /* luaL_error does not return; clang cannot tell */

	if (!exact_string(L, ix) || filter_parse_prefix(text, &p))
		luaL_error(L, "%s: malformed address or CIDR '%s'", field,
			   text ? text : luaL_typename(L, ix));
	*list = grow(L, *list, *n, sizeof(p));
	(*list)[(*n)++] = p;
}

/* src/dst: a CIDR, an address, a list of them, or a set of this filter. */
static void parse_addresses(lua_State *L, struct lfilter *f, const char *field, int ix,
			    struct filter_prefix **list, uint32_t *n, int *setslot)
{
	lbpf_object_t *o = lbpf_testobject(L, ix);

	if (o && o->class == &set_class) {
		struct lset *s = o->private;

		if (s->fw->private != f)
			luaL_error(L, "%s: the set belongs to another filter", field);
		*setslot = s->slot;
		return;
	}
	if (lua_istable(L, ix) && !o) {
		lua_Integer len = luaL_len(L, ix);

		if (len > 65536)
			luaL_error(L, "%s: %I entries (65536 at most)", field, (LUAI_UACINT)len);

		if (len == 0)
			luaL_error(L, "%s: empty list", field);
		for (lua_Integer i = 1; i <= len; i++) {
			lua_geti(L, ix, i);
			parse_one_address(L, field, lua_gettop(L), list, n);
			lua_pop(L, 1);
		}
		return;
	}
	parse_one_address(L, field, ix, list, n);
}

static uint16_t check_port(lua_State *L, const char *field, int ix)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, ix, &isnum);

	if (!isnum || lua_type(L, ix) != LUA_TNUMBER) /* "22" is no port */
		luaL_error(L, "%s: expected a port number, got %s", field, luaL_typename(L, ix));
	if (v < 0 || v > 65535)
		luaL_error(L, "%s: port %I out of range 0..65535", field, (LUAI_UACINT)v);
	return v;
}

static void add_port_range(lua_State *L, const char *field, int ix, struct filter_range **list,
			   uint32_t *n)
{
	struct filter_range r;

	if (lua_istable(L, ix)) {
		if (luaL_len(L, ix) != 2)
			luaL_error(L, "%s: a range is {lo, hi}", field);
		lua_geti(L, ix, 1);
		r.lo = check_port(L, field, -1);
		lua_geti(L, ix, 2);
		r.hi = check_port(L, field, -1);
		lua_pop(L, 2);
		if (r.lo > r.hi)
			luaL_error(L, "%s: range {%d, %d} is reversed", field, r.lo, r.hi);
	} else {
		r.lo = r.hi = check_port(L, field, ix);
	}
	*list = grow(L, *list, *n, sizeof(r));
	(*list)[(*n)++] = r;
}

/* sport/dport: a port, {lo, hi}, or {list = {port or {lo, hi}, ...}}. */
static void parse_ports(lua_State *L, const char *field, int ix, struct filter_range **list,
			uint32_t *n)
{
	int top = lua_gettop(L);

	if (lua_istable(L, ix) && lua_getfield(L, ix, "list") != LUA_TNIL) {
		int lix = lua_gettop(L);
		lua_Integer len;

		luaL_argcheck(L, lua_istable(L, lix), 1, "list must be a table");
		len = luaL_len(L, lix);
		if (len == 0)
			luaL_error(L, "%s: empty list", field);
		for (lua_Integer i = 1; i <= len; i++) {
			lua_geti(L, lix, i);
			add_port_range(L, field, lua_gettop(L), list, n);
			lua_pop(L, 1);
		}
	} else {
		add_port_range(L, field, ix, list, n);
	}
	lua_settop(L, top);
}

static int parse_proto(lua_State *L, int ix)
{
	int isnum, proto;
	lua_Integer v = lua_tointegerx(L, ix, &isnum);

	if (isnum && lua_type(L, ix) == LUA_TNUMBER) {
		if (v < 0 || v > 255)
			luaL_error(L, "proto: %I out of range 0..255", (LUAI_UACINT)v);
		return v;
	}
	proto = exact_string(L, ix) ? filter_proto_number(lua_tostring(L, ix)) : -1;
	if (proto < 0)
		luaL_error(L, "proto: unknown protocol '%s' (tcp, udp, icmp, icmpv6, or a number)",
			   lua_type(L, ix) == LUA_TSTRING ? lua_tostring(L, ix) : luaL_typename(L, ix));
	return proto;
}

/* A ct state name at ix (enum filter_ct). */
static int check_ct(lua_State *L, int ix)
{
	const char *name = exact_string(L, ix);
	int ct = name ? filter_ct_number(name) : -1;

	if (ct < 0)
		luaL_error(L, "ct: expected new, established, related, invalid or untracked, got '%s'",
			   lua_type(L, ix) == LUA_TSTRING ? lua_tostring(L, ix) : luaL_typename(L, ix));
	return ct;
}

/* ct = "state" or a list of states: the connection-tracking states to match. */
static void parse_ct(lua_State *L, int ix, struct filter_spec *s)
{
	lua_Integer len;

	if (!lua_istable(L, ix)) {
		s->ct = 1U << check_ct(L, ix);
		return;
	}
	len = luaL_len(L, ix);
	if (len == 0 || len > FILTER_CT_NSTATES)
		luaL_error(L, "ct: a list of 1 to %d states", FILTER_CT_NSTATES);
	for (lua_Integer i = 1; i <= len; i++) {
		lua_geti(L, ix, i);
		s->ct |= 1U << check_ct(L, -1);
		lua_pop(L, 1);
	}
}

static uint32_t check_ifname(lua_State *L, const char *field, int ix)
{
	const char *name = exact_string(L, ix);
	unsigned idx = name ? if_nametoindex(name) : 0;

	if (!idx)
		luaL_error(L, "%s: no interface '%s'", field,
			   lua_type(L, ix) == LUA_TSTRING ? lua_tostring(L, ix) : luaL_typename(L, ix));
	return idx;
}

static void parse_iif(lua_State *L, int ix, struct filter_spec *s)
{
	lua_Integer len = lua_istable(L, ix) ? luaL_len(L, ix) : 0;

	if (!lua_istable(L, ix)) {
		s->iif = grow(L, s->iif, 0, sizeof(*s->iif));
		s->iif[s->niif++] = check_ifname(L, "iif", ix);
		return;
	}
	if (len == 0) /* as src = {}: "every interface" is no iif at all */
		luaL_error(L, "iif: empty list");
	if (len > 256)
		luaL_error(L, "iif: %I interfaces (256 at most)", (LUAI_UACINT)len);
	for (lua_Integer i = 1; i <= len; i++) {
		lua_geti(L, ix, i);
		s->iif = grow(L, s->iif, s->niif, sizeof(*s->iif));
		s->iif[s->niif++] = check_ifname(L, "iif", -1);
		lua_pop(L, 1);
	}
}

/* An integer in [min, max] (a number, not a numeric string): every value
 * that does not fit what it is stored in is an error naming the field. */
static lua_Integer check_range(lua_State *L, const char *field, int ix, lua_Integer min,
			       lua_Integer max)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, ix, &isnum);

	if (!isnum || lua_type(L, ix) != LUA_TNUMBER)
		luaL_error(L, "%s: expected an integer, got %s", field,
			   lua_type(L, ix) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, ix));
	if (v < min || v > max)
		luaL_error(L, "%s: %I out of range %I..%I", field, (LUAI_UACINT)v, (LUAI_UACINT)min,
			   (LUAI_UACINT)max);
	return v;
}

/* Upper bounds (the BPF side multiplies rates and bursts in 64 bits). */
#define RATE_PPS_MAX   1000000000LL    /* 1 ns between packets */
#define RATE_BPS_MAX   1000000000000LL /* 8 Tbit/s */
#define RATE_BURST_MAX 1000000LL
#define TTL_MAX        4294967295LL    /* seconds: 136 years */

static void parse_log(lua_State *L, int ix, struct filter_spec *s)
{
	if (lua_isboolean(L, ix)) {
		s->log = lua_toboolean(L, ix);
		return;
	}
	static const char *const keys[] = { "sample", NULL };

	if (!lua_istable(L, ix))
		luaL_error(L, "log: expected true or {sample = N}");
	check_keys(L, ix, "log", keys);
	s->log = true;
	if (lua_getfield(L, ix, "sample") != LUA_TNIL)
		s->sample = check_range(L, "log.sample", -1, 1, UINT32_MAX);
	lua_pop(L, 1);
}

static int check_action(lua_State *L, int ix)
{
	const char *name = exact_string(L, ix);

	for (int i = 0; name && action_names[i]; i++)
		if (!strcmp(name, action_names[i]))
			return i;
	return luaL_error(L, "action: expected pass, drop, count or ratelimit, got '%s'",
			  lua_type(L, ix) == LUA_TSTRING ? lua_tostring(L, ix) : luaL_typename(L, ix));
}

/* Fills s from one field of the rule table (key at -2, value at -1). */
static void parse_field(lua_State *L, struct lfilter *f, struct filter_spec *s, const char *key)
{
	int v = lua_gettop(L);

	if (!strcmp(key, "src"))
		parse_addresses(L, f, "src", v, &s->src, &s->nsrc, &s->srcset);
	else if (!strcmp(key, "dst"))
		parse_addresses(L, f, "dst", v, &s->dst, &s->ndst, &s->dstset);
	else if (!strcmp(key, "sport"))
		parse_ports(L, "sport", v, &s->sport, &s->nsport);
	else if (!strcmp(key, "dport"))
		parse_ports(L, "dport", v, &s->dport, &s->ndport);
	else if (!strcmp(key, "proto"))
		s->proto = parse_proto(L, v);
	else if (filter_match_field(key))
		; /* tcp, icmp_type, icmp_code, length: filter_match_rule, after proto */
	else if (!strcmp(key, "iif"))
		parse_iif(L, v, s);
	else if (!strcmp(key, "ct"))
		parse_ct(L, v, s);
	else if (!strcmp(key, "action"))
		s->action = check_action(L, v);
	else if (!strcmp(key, "pps"))
		s->pps = check_range(L, "pps", v, 1, RATE_PPS_MAX);
	else if (!strcmp(key, "bps"))
		s->bps = check_range(L, "bps", v, 1, RATE_BPS_MAX);
	else if (!strcmp(key, "burst"))
		s->burst = check_range(L, "burst", v, 1, RATE_BURST_MAX);
	else if (!strcmp(key, "log"))
		parse_log(L, v, s);
	else if (!strcmp(key, "comment")) {
		if (lua_type(L, v) != LUA_TSTRING)
			luaL_error(L, "comment: expected a string");
		s->comment = strdup(lua_tostring(L, v));
	} else
		luaL_error(L, "unknown field '%s'", key);
}

#define FILTER_NO_ACTION 0xff /* the action until the rule table gives one */

/* Checks what only the whole rule can tell. */
static void check_spec(lua_State *L, struct filter_spec *s)
{
	bool ports = s->nsport || s->ndport;
	int fam = 0;

	if (s->action == FILTER_NO_ACTION)
		luaL_error(L, "action: missing (pass, drop, count or ratelimit)");
	if (ports && s->proto >= 0 && s->proto != 6 && s->proto != 17 && s->proto != 33 &&
	    s->proto != 132 && s->proto != 136)
		luaL_error(L, "%s: ports need proto tcp, udp, udplite, sctp or dccp",
			   s->nsport ? "sport" : "dport");
	if (s->action == FILTER_RATELIMIT && !s->pps && !s->bps)
		luaL_error(L, "ratelimit: needs a rate (pps or bps)");
	if (s->action != FILTER_RATELIMIT && (s->pps || s->bps || s->burst))
		luaL_error(L, "%s: only for action = \"ratelimit\"",
			   s->pps ? "pps" : s->bps ? "bps" : "burst");
	if (s->pps && s->bps)
		luaL_error(L, "pps, bps: one rate per rule (a packet rate or a byte rate)");
	for (uint32_t i = 0; i < s->nsrc; i++)
		fam |= 1 << s->src[i].family;
	for (uint32_t i = 0; s->nsrc && i < s->ndst; i++)
		if (!(fam & (1 << s->dst[i].family)))
			luaL_error(L, "dst: no address family in common with src");
	if (s->action == FILTER_RATELIMIT && !s->burst)
		s->burst = 5;
}

/* ---- fw methods ---- */

static void commit_due(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct lfilter *f = container_of(node, struct lfilter, commit_node);
	int err = f->e->dirty ? filter_commit(f->e) : 0;

	/* the rules are in and the body ran: only now may this filter be
	 * pinned, or replace a pinned one */
	if (!err && filter_adopt_pending(f->e)) {
		err = filter_adopt(f->e);
		lbpf_object_changed(f->object); /* its link may be another now */
	}
	if (err)
		lbpf_log(f->rt, "filter %s: %s", f->where, f->e->error);
}

/* Marks the rule set changed: it is compiled when the script yields. */
static void changed(struct lfilter *f)
{
	f->e->dirty = true;
	if (!lbpf_timer_armed(&f->commit_node))
		lbpf_loop_timer_at(lbpf_runtime_getloop(f->rt), &f->commit_node, lbpf_now());
}

static void commit_now(lua_State *L, struct lfilter *f)
{
	int err;

	if (!f->e->dirty)
		return;
	/* pinning and adoption stay due: they wait until the body has run */
	if (!filter_adopt_pending(f->e))
		lbpf_loop_timer_cancel(lbpf_runtime_getloop(f->rt), &f->commit_node);
	err = filter_commit(f->e);
	if (err)
		lbpf_throw(L, err, "%s", f->e->error);
}

/* The fields of a rule table, under a protected call: lightuserdata f and
 * spec, then the table. */
static int parse_rule(lua_State *L)
{
	struct lfilter *f = lua_touserdata(L, 1);
	struct filter_spec *spec = lua_touserdata(L, 2);

	lua_pushnil(L);
	while (lua_next(L, 3)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			return luaL_error(L, "fields are named (src=, dport=, ...)");
		parse_field(L, f, spec, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	filter_match_rule(L, 3, spec);
	check_spec(L, spec);
	return 0;
}

/* "rule N" (the position it would take) or "rule N (comment)": every error
 * about a rule names it, so a long policy says which one is wrong. */
static void rule_label(lua_State *L, struct lfilter *f, int ix, char *buf, size_t size)
{
	if (lua_getfield(L, ix, "comment") == LUA_TSTRING)
		snprintf(buf, size, "rule %u (%.60s)", f->e->nspecs + 1, lua_tostring(L, -1));
	else
		snprintf(buf, size, "rule %u", f->e->nspecs + 1);
	lua_pop(L, 1);
}

/* fw:rule{...} -> rule */
static int filter_rule(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);
	struct spec_guard *g;
	lbpf_object_t *object;
	struct lrule *r;
	char label[96];
	int err;

	luaL_checktype(L, 2, LUA_TTABLE);
	rule_label(L, f, 2, label, sizeof(label));
	g = push_guard(L);
	g->spec = calloc(1, sizeof(*g->spec));
	if (!g->spec)
		return luaL_error(L, "out of memory");
	*g->spec = (struct filter_spec){ .action = FILTER_NO_ACTION, .proto = -1, .srcset = -1,
					 .dstset = -1 };
	/* protected only to name the rule in the error, which goes on as it is */
	lua_pushcfunction(L, parse_rule);
	lua_pushlightuserdata(L, f);
	lua_pushlightuserdata(L, g->spec);
	lua_pushvalue(L, 2);
	if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
		if (lua_type(L, -1) == LUA_TSTRING)
			lua_pushfstring(L, "%s: %s", label, lua_tostring(L, -1));
		return lua_error(L);
	}
	err = filter_rule_insert(f->e, g->spec);
	if (err)
		lbpf_throw(L, err, "rule: %s", f->e->error);
	object = lbpf_newobject(L, &rule_class, sizeof(*r));
	r = object->private;
	r->fw = lbpf_getobject(f->object);
	r->id = g->spec->id;
	g->spec = NULL;
	lbpf_pushref(L, f->rules_ref);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, r->id);
	lua_pop(L, 1);
	changed(f);
	return 1;
}

/* fw:default("pass" | "drop") */
static int filter_default(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);
	static const char *const names[] = { "pass", "drop", NULL };

	f->e->default_action = luaL_checkoption(L, 2, NULL, names);
	changed(f);
	return 0;
}

/* fw:unparsed(verdict [, fragments]): the verdict of a packet whose match
 * depends on a header the parser did not read, and of a later fragment */
static int filter_unparsed(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);
	static const char *const names[] = { "pass", "drop", NULL };

	f->e->unparsed_action = luaL_checkoption(L, 2, NULL, names);
	if (!lua_isnoneornil(L, 3))
		f->e->fragment_action = luaL_checkoption(L, 3, NULL, names);
	changed(f);
	return 0;
}

/* fw:commit(): compiles pending changes now (raises on failure) */
static int filter_commit_method(lua_State *L)
{
	commit_now(L, checkfilter(L, 1));
	return 0;
}

/* fw:rules() -> {rule, ...} in match order */
static int filter_rules(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);

	lua_createtable(L, f->e->nspecs, 0);
	lbpf_pushref(L, f->rules_ref);
	for (uint32_t i = 0; i < f->e->nspecs; i++) {
		lua_rawgeti(L, -1, f->e->specs[i]->id);
		lua_rawseti(L, -3, i + 1);
	}
	lua_pop(L, 1);
	return 1;
}

static void setfield_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static const char *const stat_names[FILTER_NSTATS] = {
	"passed", "dropped", "default", "nonip", "ratelimited", "flow", "log_lost", "unparsed",
	"fragments",
};

/* fw:stats() -> {passed=, dropped=, default=, nonip=, ratelimited=, flow=, log_lost=,
 * unparsed=, fragments=, rules=} */
static int filter_stats_method(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);
	uint64_t stats[FILTER_NSTATS];
	int err = filter_stats(f->e, stats);

	if (err)
		lbpf_throw(L, err, "read the filter statistics");
	lua_createtable(L, 0, FILTER_NSTATS + 1);
	for (int i = 0; i < FILTER_NSTATS; i++)
		setfield_int(L, stat_names[i], stats[i]);
	setfield_int(L, "rules", f->e->nspecs);
	return 1;
}

static void push_addr(lua_State *L, const struct filter_pkt *p, const uint8_t *addr)
{
	char buf[INET6_ADDRSTRLEN];

	lua_pushstring(L, filter_format_addr(p->family, addr, buf, sizeof(buf)));
}

static void push_proto(lua_State *L, int proto)
{
	const char *name = filter_proto_name(proto);

	if (name)
		lua_pushstring(L, name);
	else
		lua_pushinteger(L, proto);
}

/* Pushes the rule's comment, or its id when it has none. */
static void push_rule_name(lua_State *L, struct lfilter *f, uint32_t id)
{
	struct filter_spec *s = id == ~0U ? NULL : filter_rule_find(f->e, id);

	if (s && s->comment)
		lua_pushstring(L, s->comment);
	else if (id == ~0U)
		lua_pushstring(L, "default");
	else
		lua_pushinteger(L, id);
}

/* The Lua view of a report: pkt.src, dst, sport, dport, proto, len, iif, ... */
static void push_report(lua_State *L, struct lfilter *f, const struct lbpf_record *hdr,
			const struct filter_report *r)
{
	const struct filter_pkt *p = &r->pkt;
	char name[IF_NAMESIZE];

	lua_createtable(L, 0, 12);
	push_addr(L, p, p->src);
	lua_setfield(L, -2, "src");
	push_addr(L, p, p->dst);
	lua_setfield(L, -2, "dst");
	if (p->has_ports) {
		setfield_int(L, "sport", p->sport);
		setfield_int(L, "dport", p->dport);
	}
	push_proto(L, p->proto);
	lua_setfield(L, -2, "proto");
	filter_match_push(L, p);
	setfield_int(L, "len", p->len);
	if (p->iif && if_indextoname(p->iif, name))
		lua_pushstring(L, name);
	else
		lua_pushinteger(L, p->iif);
	lua_setfield(L, -2, "iif");
	push_rule_name(L, f, r->rule_id);
	lua_setfield(L, -2, "rule");
	lua_pushstring(L, r->kind == FILTER_REC_FLOW ? "new" : action_names[r->action & 3]);
	lua_setfield(L, -2, "action");
	setfield_int(L, "ts", hdr->ts);
	lua_pushlstring(L, (const char *)r->bytes, r->caplen < FILTER_LOG_BYTES ? r->caplen :
											   FILTER_LOG_BYTES);
	lua_setfield(L, -2, "bytes");
}

static const struct filter_report *report_of(const void *data, size_t size)
{
	if (size < sizeof(struct lbpf_record) + sizeof(struct filter_report))
		return NULL;
	return (const void *)((const uint8_t *)data + sizeof(struct lbpf_record));
}

static void on_log_record(void *ctx, const void *data, size_t size)
{
	struct lfilter *f = ctx;
	const struct filter_report *r = report_of(data, size);
	lua_State *L = lbpf_runtime_state(f->rt);

	if (!r || f->log_ref == LUA_NOREF)
		return;
	lbpf_pushref(L, f->log_ref);
	push_report(L, f, data, r);
	lbpf_callback_call(L, &f->log_call, 1);
}

/* Applies what on_new_flow returned; the task's stack: fw, key, result. */
static int flow_finish(lua_State *L, int status, lua_KContext ctx)
{
	struct lfilter *f = checkfilter(L, 1);
	size_t len;
	const char *key = lua_tolstring(L, 2, &len), *v = lua_tostring(L, 3);
	uint32_t state = FILTER_FLOW_RULES;

	if (v && !strcmp(v, "drop"))
		state = FILTER_FLOW_DROP;
	else if (v && !strcmp(v, "pass"))
		state = FILTER_FLOW_PASS;
	else if (!lua_isnil(L, 3))
		return luaL_error(L, "on_new_flow: return \"drop\", \"pass\" or nil");
	if (len == sizeof(struct filter_flow_key))
		filter_flow_decide(f->e, (const void *)key, state);
	return 0;
}

/* The task body: fw, key, fn, pkt -> fn(pkt), then flow_finish. */
static int flow_task(lua_State *L)
{
	lua_callk(L, 1, 1, 0, flow_finish);
	return flow_finish(L, LUA_OK, 0);
}

static void on_flow_record(void *ctx, const void *data, size_t size)
{
	struct lfilter *f = ctx;
	const struct filter_report *r = report_of(data, size);
	lua_State *L = lbpf_runtime_state(f->rt);
	struct filter_flow_key key = { 0 };

	if (!r || f->flow_ref == LUA_NOREF)
		return;
	key.family = r->pkt.family;
	key.proto = r->pkt.proto;
	key.sport = r->pkt.has_ports ? r->pkt.sport : 0;
	key.dport = r->pkt.has_ports ? r->pkt.dport : 0;
	memcpy(key.src, r->pkt.src, 16);
	memcpy(key.dst, r->pkt.dst, 16);
	lua_pushcfunction(L, flow_task);
	lbpf_cloneobject(L, f->object);
	lua_pushlstring(L, (const char *)&key, sizeof(key));
	lbpf_pushref(L, f->flow_ref);
	push_report(L, f, data, r);
	lbpf_call(L, 4);
}

/* Sets or clears (fn = nil) one callback and its ring buffer subscription. */
static void set_callback(lua_State *L, struct lfilter *f, int *ref, int *source,
			 lbpf_record_fn fn)
{
	int id;

	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_unref(L, LUA_REGISTRYINDEX, *ref);
	*ref = LUA_NOREF;
	if (*source > 0)
		lbpf_ringbuf_unsubscribe(f->rt, *source);
	*source = 0;
	if (!lua_isnoneornil(L, 2)) {
		id = lbpf_ringbuf_subscribe(f->rt, fn, f);
		if (id < 0)
			lbpf_throw(L, id, "subscribe to the ring buffer");
		*source = id;
		lua_pushvalue(L, 2);
		*ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lbpf_try(L, filter_set_sources(f->e, f->log_source, f->flow_source));
}

/* fw:on_log(fn | nil): fn(pkt) for each logged packet */
static int filter_on_log(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);

	set_callback(L, f, &f->log_ref, &f->log_source, on_log_record);
	return 0;
}

/* fw:on_new_flow(fn | nil): fn(pkt) -> "drop" | "pass" | nil, cached per flow */
static int filter_on_new_flow(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);

	set_callback(L, f, &f->flow_ref, &f->flow_source, on_flow_record);
	return 0;
}

/* Default test addresses follow the family of whichever address is given. */
static void test_address(lua_State *L, int ix, const char *field, struct filter_prefix *p,
			 int other_family)
{
	if (lua_getfield(L, ix, field) == LUA_TNIL) {
		filter_parse_prefix(other_family == 6 ? (field[0] == 's' ? "2001:db8::1" : "2001:db8::2")
						     : (field[0] == 's' ? "192.0.2.1" : "192.0.2.2"),
				    p);
	} else if (lua_type(L, -1) != LUA_TSTRING || filter_parse_prefix(lua_tostring(L, -1), p) ||
		   p->len != (p->family == 4 ? 32 : 128)) {
		luaL_error(L, "%s: expected an address, got '%s'", field, luaL_tolstring(L, -1, NULL));
	}
	lua_pop(L, 1);
}

static uint16_t test_port(lua_State *L, int ix, const char *field)
{
	uint16_t port = 0;

	if (lua_getfield(L, ix, field) != LUA_TNIL)
		port = check_port(L, field, -1);
	lua_pop(L, 1);
	return port;
}

/* Builds the frame of fw:test's table form; returns its length. */
static int test_frame(lua_State *L, int ix, uint8_t *buf, size_t size, uint32_t *iif, int *ct)
{
	static const char *const keys[] = { "src", "dst", "proto", "sport", "dport", "tcp", "len",
					    "iif", "ct", "icmp_type", "icmp_code", "length", NULL };
	struct filter_packet_desc d = { .proto = -1, .tcp_flags = 0x10, .icmp_type = -1,
					.icmp_code = -1 };
	int family = 4, n;

	check_keys(L, ix, "pkt", keys);
	if (lua_getfield(L, ix, "src") == LUA_TSTRING && strchr(lua_tostring(L, -1), ':'))
		family = 6;
	if (lua_getfield(L, ix, "dst") == LUA_TSTRING && strchr(lua_tostring(L, -1), ':'))
		family = 6;
	lua_pop(L, 2);
	test_address(L, ix, "src", &d.src, family);
	test_address(L, ix, "dst", &d.dst, family);
	if (lua_getfield(L, ix, "proto") != LUA_TNIL)
		d.proto = parse_proto(L, lua_gettop(L));
	if (lua_getfield(L, ix, "len") != LUA_TNIL)
		d.len = check_range(L, "len", -1, 1, 1514);
	if (lua_getfield(L, ix, "iif") != LUA_TNIL)
		*iif = check_ifname(L, "iif", -1);
	if (lua_getfield(L, ix, "ct") != LUA_TNIL)
		*ct = exact_string(L, -1) && !strcmp(lua_tostring(L, -1), "lookup") ? -1 :
									check_ct(L, -1);
	lua_pop(L, 4);
	filter_match_packet(L, ix, &d);
	d.sport = test_port(L, ix, "sport");
	d.dport = test_port(L, ix, "dport");
	if (d.src.family != d.dst.family)
		luaL_error(L, "dst: not the family of src");
	n = filter_packet_build(&d, buf, size);
	if (n < 0)
		luaL_error(L, "packet: cannot build it");
	return n;
}

static const char *const why_names[] = { "rule", "default", "nonip", "unparsed", "fragment",
					 "flow" };

/* fw:test(pkt [, {repeat = N}]) -> verdict, rule | nil, ns per run, why */
static int filter_test_method(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);
	uint8_t frame[1514];
	const void *data = frame;
	size_t len;
	uint32_t iif = 0, repeat = 1, rule_id, ns, why;
	int verdict, err, ct = FILTER_CT_NEW;

	if (lua_type(L, 2) == LUA_TSTRING) {
		data = lua_tolstring(L, 2, &len);
		luaL_argcheck(L, len >= 14, 2, "pkt: an Ethernet frame is at least 14 bytes");
	} else {
		luaL_checktype(L, 2, LUA_TTABLE);
		len = test_frame(L, 2, frame, sizeof(frame), &iif, &ct);
	}
	if (lua_istable(L, 3))
		check_keys(L, 3, "test", (const char *const[]){ "repeat", NULL });
	if (lua_istable(L, 3) && lua_getfield(L, 3, "repeat") != LUA_TNIL)
		repeat = check_range(L, "repeat", -1, 1, UINT32_MAX);
	commit_now(L, f);
	err = filter_test_ct(f->e, data, len, iif, ct, repeat, &verdict, &rule_id, &ns, &why);
	if (err)
		lbpf_throw(L, err, "test: %s", f->e->error);
	lua_pushstring(L, verdict == FILTER_DROP ? "drop" : "pass");
	if (rule_id == ~0U) {
		lua_pushnil(L);
	} else {
		lbpf_pushref(L, f->rules_ref);
		lua_rawgeti(L, -1, rule_id);
		lua_remove(L, -2);
	}
	lua_pushinteger(L, ns);
	lua_pushstring(L, why < sizeof(why_names) / sizeof(why_names[0]) ? why_names[why] : "?");
	return 4;
}

/* ---- sets ---- */

static void sweep_due(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct lfilter *f = container_of(node, struct lfilter, sweep_node);

	filter_set_sweep(f->e);
	lbpf_loop_timer_at(loop, node, node->deadline + 1000000000ULL);
}

/* fw:set(name, {type = "ipv4" | "ipv6" | "cidr", ttl = s, max = n}) -> set */
static int filter_set_method(lua_State *L)
{
	static const char *const types[] = { "cidr", "ipv4", "ipv6", NULL };
	static const int type_family[] = { 0, 4, 6 };
	struct lfilter *f = checkfilter(L, 1);
	const char *name = luaL_checkstring(L, 2);
	int type = 0, slot;
	uint64_t ttl = 0, max = 1 << 21;
	lbpf_object_t *object;
	struct lset *s;

	if (lua_istable(L, 3)) {
		check_keys(L, 3, "set", (const char *const[]){ "type", "ttl", "max", NULL });
		if (lua_getfield(L, 3, "type") != LUA_TNIL)
			type = type_family[luaL_checkoption(L, -1, NULL, types)];
		if (lua_getfield(L, 3, "ttl") != LUA_TNIL)
			ttl = check_range(L, "ttl", -1, 1, TTL_MAX) * 1000000000ULL;
		if (lua_getfield(L, 3, "max") != LUA_TNIL)
			max = check_range(L, "max", -1, 1, UINT32_MAX);
		lua_pop(L, 3);
	}
	slot = filter_set_create(f->e, name, type, ttl, max);
	if (slot < 0)
		lbpf_throw(L, slot, "set %s: %s", name, f->e->error);
	object = lbpf_newobject(L, &set_class, sizeof(*s));
	s = object->private;
	s->fw = lbpf_getobject(f->object);
	s->slot = slot;
	if (f->held && !lbpf_timer_armed(&f->sweep_node))
		lbpf_loop_timer_at(lbpf_runtime_getloop(f->rt), &f->sweep_node,
				   lbpf_now() + 1000000000ULL);
	return 1;
}

/* The set's entry at ix, checked against the set's type. */
static void set_entry(lua_State *L, struct lfilter *f, struct lset *s, int ix,
		      struct filter_prefix *p)
{
	const struct filter_set *set = &f->e->sets[s->slot];
	const char *text = luaL_checkstring(L, ix);

	if (filter_parse_prefix(text, p))
		luaL_error(L, "set %s: malformed address or CIDR '%s'", set->name, text);
	if (set->type && (p->family != set->type || p->len != (p->family == 4 ? 32 : 128)))
		luaL_error(L, "set %s: '%s' is not an IPv%d address", set->name, text, set->type);
}

/* set:add(addr [, {ttl = s}]) */
static int set_add(lua_State *L)
{
	struct lset *s = checkset(L, 1);
	struct lfilter *f = owner(L, s->fw);
	struct filter_prefix p;
	uint64_t ttl = f->e->sets[s->slot].ttl_ns;
	int err;

	set_entry(L, f, s, 2, &p);
	if (lua_istable(L, 3))
		check_keys(L, 3, "add", (const char *const[]){ "ttl", NULL });
	if (lua_istable(L, 3) && lua_getfield(L, 3, "ttl") != LUA_TNIL)
		ttl = check_range(L, "ttl", -1, 1, TTL_MAX) * 1000000000ULL;
	err = filter_set_add(f->e, s->slot, &p, ttl);
	if (err)
		lbpf_throw(L, err, "set %s: add %s", f->e->sets[s->slot].name, lua_tostring(L, 2));
	return 0;
}

/* set:remove(addr) -> true if it was there */
static int set_remove(lua_State *L)
{
	struct lset *s = checkset(L, 1);
	struct lfilter *f = owner(L, s->fw);
	struct filter_prefix p;

	set_entry(L, f, s, 2, &p);
	lua_pushboolean(L, filter_set_remove(f->e, s->slot, &p) == 0);
	return 1;
}

/* set:has(addr) -> boolean (expired entries are absent) */
static int set_has(lua_State *L)
{
	struct lset *s = checkset(L, 1);
	struct lfilter *f = owner(L, s->fw);
	struct filter_prefix p;
	int r;

	set_entry(L, f, s, 2, &p);
	r = filter_set_has(f->e, s->slot, &p);
	if (r < 0)
		lbpf_throw(L, r, "set %s: lookup", f->e->sets[s->slot].name);
	lua_pushboolean(L, r);
	return 1;
}

static void push_entry(void *ctx, const struct filter_prefix *p, uint64_t expiry)
{
	lua_State *L = ctx;
	char buf[INET6_ADDRSTRLEN];

	filter_format_addr(p->family, p->addr, buf, sizeof(buf));
	if (p->len != (p->family == 4 ? 32 : 128))
		lua_pushfstring(L, "%s/%d", buf, p->len);
	else
		lua_pushstring(L, buf);
	lua_rawseti(L, -2, luaL_len(L, -2) + 1);
}

/* set:entries() -> {addr or cidr, ...} */
static int set_entries(lua_State *L)
{
	struct lset *s = checkset(L, 1);
	struct lfilter *f = owner(L, s->fw);

	lua_newtable(L);
	filter_set_foreach(f->e, s->slot, push_entry, L);
	return 1;
}

static void set_release(void *private)
{
	lbpf_putobject(((struct lset *)private)->fw);
}

/* ---- rules ---- */

/* rule:remove() */
static int rule_remove(lua_State *L)
{
	struct lrule *r = checkrule(L, 1);
	struct lfilter *f = owner(L, r->fw);

	if (r->removed)
		return 0;
	filter_rule_remove(f->e, r->id);
	r->removed = true;
	lbpf_pushref(L, f->rules_ref);
	lua_pushnil(L);
	lua_rawseti(L, -2, r->id);
	changed(f);
	return 0;
}

/* rule:stats() -> {packets=, bytes=} */
static int rule_stats(lua_State *L)
{
	struct lrule *r = checkrule(L, 1);
	struct lfilter *f = owner(L, r->fw);
	uint64_t packets = 0, bytes = 0;

	if (!r->removed)
		lbpf_try(L, filter_rule_stats(f->e, r->id, &packets, &bytes));
	lua_createtable(L, 0, 2);
	setfield_int(L, "packets", packets);
	setfield_int(L, "bytes", bytes);
	return 1;
}

/* rule:id() -> the stable id; rule:comment() -> string | nil */
static int rule_id(lua_State *L)
{
	lua_pushinteger(L, checkrule(L, 1)->id);
	return 1;
}

static int rule_comment(lua_State *L)
{
	struct lrule *r = checkrule(L, 1);
	struct filter_spec *s = r->removed ? NULL : filter_rule_find(owner(L, r->fw)->e, r->id);

	lua_pushstring(L, s ? s->comment : NULL);
	return 1;
}

static void rule_release(void *private)
{
	lbpf_putobject(((struct lrule *)private)->fw);
}

/* ---- lbpf.filter{} ---- */

static int opt_field(lua_State *L, const char *k)
{
	return lua_getfield(L, 1, k);
}

static int parse_chain(lua_State *L)
{
	const char *name = opt_field(L, "chain") == LUA_TNIL ? "input" : lua_tostring(L, -1);
	int hooknum = filter_nf_hook_number(name);

	if (hooknum < 0)
		return luaL_error(L, "chain: expected prerouting, input, forward, output or postrouting");
	lua_pop(L, 1);
	return hooknum;
}

static int parse_family(lua_State *L)
{
	const char *name = opt_field(L, "family") == LUA_TNIL ? "inet" : lua_tostring(L, -1);

	lua_pop(L, 1);
	if (name && !strcmp(name, "ipv4"))
		return 4;
	if (name && !strcmp(name, "ipv6"))
		return 6;
	if (name && !strcmp(name, "inet"))
		return 0;
	return luaL_error(L, "family: expected ipv4, ipv6 or inet");
}

/* Attaches as the options say; raises with the engine's message. Under
 * `lbpf test` (dry) it checks the options and announces the place instead. */
static void filter_attach(lua_State *L, struct lfilter *f, enum filter_hook_kind hook, bool dry)
{
	const char *dev = opt_field(L, "dev") == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	int ifindex = dev ? (int)if_nametoindex(dev) : 0, err = 0, prio = 0, chain = 0, family = 0;
	const char *mode;

	if (dev && !ifindex && !dry) /* under `lbpf test` it need not exist here */
		luaL_error(L, "dev: no interface '%s'", dev);
	if (hook == FILTER_HOOK_XDP) {
		mode = opt_field(L, "mode") == LUA_TNIL ? "auto" : lua_tostring(L, -1);
		if (!mode || (strcmp(mode, "auto") && strcmp(mode, "native") && strcmp(mode, "generic")))
			luaL_error(L, "mode: expected auto, native or generic");
		snprintf(f->where, sizeof(f->where), "xdp on %s", dev ? dev : "(no device)");
		if (dev && !dry)
			err = filter_attach_xdp(f->e, ifindex, mode);
	} else if (hook == FILTER_HOOK_TC) {
		const char *dir = opt_field(L, "direction") == LUA_TNIL ? "ingress" : lua_tostring(L, -1);

		if (!dir || (strcmp(dir, "ingress") && strcmp(dir, "egress")))
			luaL_error(L, "direction: expected ingress or egress");
		snprintf(f->where, sizeof(f->where), "tc %s on %s", dir, dev ? dev : "(no device)");
		if (dev && !dry)
			err = filter_attach_tc(f->e, ifindex, !strcmp(dir, "egress"));
	} else {
		chain = parse_chain(L);
		family = parse_family(L);
		/* INT_MIN and INT_MAX are netfilter's own first and last */
		prio = opt_field(L, "priority") == LUA_TNIL ? -100 :
			(int)check_range(L, "priority", -1, INT_MIN + 1, INT_MAX - 1);
		snprintf(f->where, sizeof(f->where), "netfilter %s priority %d",
			 filter_nf_chains[chain], prio);
		if (!dry)
			err = filter_attach_nf(f->e, family, chain, prio);
	}
	if (dry) {
		struct filter_place at = { hook, f->where, family, chain, prio };

		filter_dry_run_hook(filter_dry_run_ctx, f->e, &at);
	}
	if (err)
		lbpf_throw(L, err, "%s: %s", f->where, f->e->error);
}

static enum filter_hook_kind check_hook(lua_State *L)
{
	const char *hook = opt_field(L, "hook") == LUA_TSTRING ? lua_tostring(L, -1) : "";

	if (!strcmp(hook, "xdp"))
		return FILTER_HOOK_XDP;
	if (!strcmp(hook, "tc"))
		return FILTER_HOOK_TC;
	if (!strcmp(hook, "netfilter"))
		return FILTER_HOOK_NF;
	return luaL_error(L, "hook: expected \"xdp\", \"tc\" or \"netfilter\"");
}

/* The options of lbpf.filter{} for the hook: any other is an error, also
 * one of another hook (netfilter has no dev, xdp no direction). */
static void check_options(lua_State *L, enum filter_hook_kind hook)
{
	static const char *const xdp[] = { "hook", "max_rules", "attach", "dev", "mode", NULL };
	static const char *const tc[] = { "hook", "max_rules", "attach", "dev", "direction", NULL };
	static const char *const nf[] = { "hook", "max_rules", "attach", "chain", "family",
					  "priority", NULL };

	check_keys(L, 1, hook == FILTER_HOOK_XDP ? "filter{hook = \"xdp\"}" :
			 hook == FILTER_HOOK_TC ? "filter{hook = \"tc\"}" :
						  "filter{hook = \"netfilter\"}",
		   hook == FILTER_HOOK_XDP ? xdp : hook == FILTER_HOOK_TC ? tc : nf);
}

/* ---- counters for lbpfd's metrics server (any thread) ---- */

#define METRIC_RULES_MAX 1000 /* rules with series per filter: a scrape stays cheap */

struct rule_emit {
	lbpf_metric_emit_fn *emit;
	void *ctx;
	lbpf_runtime_t *rt;
	const char *where;
	unsigned n;
};

static void emit_rule(void *ctx, uint32_t id, int action, uint64_t packets, uint64_t bytes)
{
	struct rule_emit *r = ctx;
	char labels[256] = "", number[16];

	if (r->n++ >= METRIC_RULES_MAX)
		return;
	snprintf(number, sizeof(number), "%u", id);
	lbpf_metric_label(labels, sizeof(labels), "filter", r->where);
	lbpf_metric_label(labels, sizeof(labels), "rule", number);
	lbpf_metric_label(labels, sizeof(labels), "action", action_names[action & 3]);
	r->emit(r->ctx, r->rt, "lbpf_filter_rule_packets_total",
		"Packets a packet-filter rule matched (rule: its id).", LBPF_METRIC_COUNTER,
		labels, packets);
	r->emit(r->ctx, r->rt, "lbpf_filter_rule_bytes_total",
		"Bytes of the packets a packet-filter rule matched.", LBPF_METRIC_COUNTER,
		labels, bytes);
}

/* The filter's outcome counters (fw:stats) and its live rules' counters. */
static void filter_collect(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit,
			   void *emit_ctx)
{
	struct lfilter *f = ctx;
	struct rule_emit r = { emit, emit_ctx, rt, f->where, 0 };
	uint64_t stats[FILTER_NSTATS];

	for (int i = 0; i < FILTER_NSTATS && (i || !filter_stats(f->e, stats)); i++) {
		char labels[256] = "";

		lbpf_metric_label(labels, sizeof(labels), "filter", f->where);
		lbpf_metric_label(labels, sizeof(labels), "stat", stat_names[i]);
		emit(emit_ctx, rt, "lbpf_filter_packets_total",
		     "Packets a packet filter judged, by outcome (stat, as fw:stats()).",
		     LBPF_METRIC_COUNTER, labels, stats[i]);
	}
	filter_live_rules(f->e, emit_rule, &r);
}

/* PIN_DIR/n for the runtime's n-th pinned filter (n in *index), or NULL
 * when the runtime pins nothing. */
static const char *pin_dir(lua_State *L, char *buf, size_t size, unsigned *index)
{
	lbpf_runtime_t *rt = lbpf_toruntime(L);
	const char *base = lbpf_runtime_pin_dir(rt);

	if (!base)
		return NULL;
	*index = lbpf_runtime_pin_next(rt);
	snprintf(buf, size, "%s/%u", base, *index);
	return buf;
}

/* lbpf.filter{hook=, dev=, mode=, direction=, chain=, family=, priority=,
 * max_rules=, attach=} -> fw */
static int filter_new(lua_State *L)
{
	struct filter_engine_opts o = { .max_rules = 4096 };
	const lbpf_runtime_opts_t *gate = lbpf_runtime_options(lbpf_toruntime(L));
	lbpf_object_t *object;
	struct lfilter *f;
	char msg[512], pins[4096];
	unsigned index = 0;
	bool attach;
	int err;

	luaL_checktype(L, 1, LUA_TTABLE);
	o.hook = check_hook(L);
	check_options(L, o.hook);
	if (opt_field(L, "max_rules") != LUA_TNIL)
		o.max_rules = check_range(L, "max_rules", -1, 1, FILTER_MAX_RULES);
	attach = opt_field(L, "attach") == LUA_TNIL || lua_toboolean(L, -1);
	attach = attach && !filter_dry_run_hook;
	o.ringbuf_fd = lbpf_ringbuf_fd(lbpf_toruntime(L));
	o.runtime_id = gate->id;
	o.runtimes_fd = gate->runtimes_fd;
	if (attach)
		o.pin_dir = pin_dir(L, pins, sizeof(pins), &index);
	lua_settop(L, 1);
	object = lbpf_newobject(L, &filter_class, sizeof(*f));
	f = object->private;
	f->rt = lbpf_toruntime(L);
	f->object = object;
	f->commit_node.fn = commit_due;
	f->sweep_node.fn = sweep_due;
	f->log_ref = f->flow_ref = f->rules_ref = LUA_NOREF;
	lua_newtable(L);
	f->rules_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	err = filter_engine_open(&f->e, &o, msg, sizeof(msg));
	if (err)
		lbpf_throw(L, err, "filter: %s%s", msg,
			   err == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
	lbpf_try(L, filter_commit(f->e));
	if (attach || filter_dry_run_hook) {
		filter_attach(L, f, o.hook, !attach);
		lua_settop(L, 2);
		if (filter_adopt_pending(f->e))
			changed(f); /* pinning waits for the first commit after the body */
	}
	if (filter_dry_run_hook)
		lbpf_registerobject(L, 2, object); /* `lbpf test` judges it after the body */
	if (f->e->hook != FILTER_HOOK_NONE) {
		if (o.pin_dir)
			lbpf_runtime_pin_hold(f->rt, index); /* lbpfd keeps PIN_DIR/index */
		f->held = true;
		lbpf_loop_hold(lbpf_runtime_getloop(f->rt), 1);
		f->metrics = lbpf_metric_source_add(f->rt, filter_collect, f); /* NULL: none */
		lbpf_registerobject(L, 2, object);
	}
	return 1;
}

/* fw:detach(): idempotent; the rules and maps stay usable (fw:test) */
static int filter_detach_method(lua_State *L)
{
	struct lfilter *f = checkfilter(L, 1);

	filter_detach(f->e);
	if (f->held) {
		f->held = false;
		lbpf_loop_hold(lbpf_runtime_getloop(f->rt), -1);
		lbpf_loop_timer_cancel(lbpf_runtime_getloop(f->rt), &f->sweep_node);
	}
	lbpf_unregisterobject(L, lbpf_checkobject(L, 1, &filter_class));
	return 0;
}

static void filter_release(void *private)
{
	struct lfilter *f = private;
	lbpf_loop_t *loop = lbpf_runtime_getloop(f->rt);
	lua_State *L = lbpf_runtime_state(f->rt);

	lbpf_metric_source_remove(f->metrics); /* before the engine goes */
	f->metrics = NULL;
	lbpf_loop_timer_cancel(loop, &f->commit_node);
	lbpf_loop_timer_cancel(loop, &f->sweep_node);
	if (f->log_source > 0)
		lbpf_ringbuf_unsubscribe(f->rt, f->log_source);
	if (f->flow_source > 0)
		lbpf_ringbuf_unsubscribe(f->rt, f->flow_source);
	if (f->held)
		lbpf_loop_hold(loop, -1);
	/* accepted, but stopped before the commit that pins (lbpfd stopped as
	 * the load finished): pin now, so the filter stays as the others do */
	if (f->e && filter_adopt_pending(f->e) && lbpf_runtime_accepted(f->rt) &&
	    !(f->e->dirty && filter_commit(f->e)) && filter_adopt(f->e))
		lbpf_log(f->rt, "filter %s: %s", f->where, f->e->error);
	filter_engine_free(f->e);
	f->e = NULL;
	lbpf_callback_free(f->log_call);
	f->log_call = NULL;
	if (!lbpf_runtime_closing(f->rt)) {
		luaL_unref(L, LUA_REGISTRYINDEX, f->rules_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, f->log_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, f->flow_ref);
	}
}

static const luaL_Reg filter_methods[] = {
	{ "rule", filter_rule },
	{ "default", filter_default },
	{ "unparsed", filter_unparsed },
	{ "commit", filter_commit_method },
	{ "rules", filter_rules },
	{ "stats", filter_stats_method },
	{ "set", filter_set_method },
	{ "on_log", filter_on_log },
	{ "on_new_flow", filter_on_new_flow },
	{ "test", filter_test_method },
	{ "detach", filter_detach_method },
	{ NULL, NULL },
};

static const luaL_Reg rule_methods[] = {
	{ "remove", rule_remove },
	{ "stats", rule_stats },
	{ "id", rule_id },
	{ "comment", rule_comment },
	{ NULL, NULL },
};

static const luaL_Reg set_methods[] = {
	{ "add", set_add },
	{ "remove", set_remove },
	{ "has", set_has },
	{ "entries", set_entries },
	{ NULL, NULL },
};

static void filter_ids(void *private, lbpf_kernel_ids_t *ids)
{
	struct lfilter *f = private;

	if (f->e)
		filter_kernel_ids(f->e, ids);
}

static const lbpf_class_t filter_class = {
	.name = "lbpf.filter",
	.methods = filter_methods,
	.release = filter_release,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = filter_ids,
};

static const lbpf_class_t rule_class = {
	.name = "lbpf.filter.rule",
	.methods = rule_methods,
	.release = rule_release,
	.opt = LBPF_OPT_SINGLE,
};

static const lbpf_class_t set_class = {
	.name = "lbpf.filter.set",
	.methods = set_methods,
	.release = set_release,
	.opt = LBPF_OPT_SINGLE,
};

static const luaL_Reg filter_lib[] = {
	{ "filter", filter_new },
	{ NULL, NULL },
};

static const lbpf_class_t *const filter_classes[] = { &filter_class, &rule_class, &set_class,
						      NULL };

LBPF_NEWLIB(filter, filter_lib, filter_classes)
