// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Rule fields on the transport header and the IP length, as Lua writes them:
 *   tcp = "syn" | {syn = true, ack = false, ...}   flags that must be set
 *         (true) or clear (false); the others are not looked at. "syn" is
 *         {syn = true, ack = false}: a connection's first segment.
 *   icmp_type = 8 | "echo-request" | {list}, icmp_code = 0 | "port-unreachable"
 *         | {list}: ICMP, or ICMPv6 with proto = "icmpv6" (nftables names).
 *   length = 1500 | {lo, hi} | {list = {...}}: the IP length.
 * The compiler turns each into ranges of keys (filter_compile.c).
 */
#include <stdlib.h>
#include <string.h>

#include "match_lua.h"

static const char *const fields[] = { "tcp", "icmp_type", "icmp_code", "length", NULL };

bool filter_match_field(const char *key)
{
	for (int i = 0; fields[i]; i++)
		if (!strcmp(key, fields[i]))
			return true;
	return false;
}

static void *grow(lua_State *L, void *p, size_t n, size_t size)
{
	void *q = realloc(p, (n + 1) * size);

	if (!q)
		luaL_error(L, "out of memory");
	return q;
}

static void add_range(lua_State *L, struct filter_range **list, uint32_t *n, uint32_t lo,
		      uint32_t hi)
{
	*list = grow(L, *list, *n, sizeof(**list));
	(*list)[(*n)++] = (struct filter_range){ lo, hi };
}

/* tcp = "syn" | {flag = true | false, ...} -> mask and value; a rule's
 * table names at least one flag (a packet's may be empty: no flags). */
static void check_tcp(lua_State *L, int ix, bool rule, uint8_t *mask, uint8_t *value)
{
	int bit;

	if (lua_type(L, ix) == LUA_TSTRING) {
		if (strcmp(lua_tostring(L, ix), "syn"))
			luaL_error(L, "tcp: \"syn\" or a table of flags ({syn = true, ack = false})");
		*mask = 0x12;
		*value = 0x02;
		return;
	}
	if (!lua_istable(L, ix))
		luaL_error(L, "tcp: expected \"syn\" or a table of flags, got %s",
			   luaL_typename(L, ix));
	*mask = *value = 0;
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;

		bit = name ? filter_tcp_flag_bit(name) : -1;
		if (bit < 0)
			luaL_error(L, "tcp: unknown flag '%s' (fin, syn, rst, psh, ack, urg, ecn, cwr)",
				   name ? name : luaL_typename(L, -2));
		if (!lua_isboolean(L, -1))
			luaL_error(L, "tcp.%s: expected true (set) or false (clear)", name);
		*mask |= bit;
		if (lua_toboolean(L, -1))
			*value |= bit;
		lua_pop(L, 1);
	}
	if (!*mask && rule)
		luaL_error(L, "tcp: no flags in the table");
}

/* One ICMP type or code (a number 0..255 or a name) at ix. */
static int check_icmp_value(lua_State *L, const char *field, int ix, bool v6, bool code)
{
	int isnum, v;
	lua_Integer n = lua_tointegerx(L, ix, &isnum);

	if (isnum && lua_type(L, ix) == LUA_TNUMBER) {
		if (n < 0 || n > 255)
			luaL_error(L, "%s: %I out of range 0..255", field, (LUAI_UACINT)n);
		return n;
	}
	if (lua_type(L, ix) != LUA_TSTRING)
		luaL_error(L, "%s: expected a number or a name, got %s", field, luaL_typename(L, ix));
	v = code ? filter_icmp_code_number(v6, lua_tostring(L, ix))
		 : filter_icmp_type_number(v6, lua_tostring(L, ix));
	if (v < 0)
		luaL_error(L, "%s: unknown %s %s '%s'", field, v6 ? "ICMPv6" : "ICMP",
			   code ? "code" : "type", lua_tostring(L, ix));
	return v;
}

/* A value or a list of values of the field at ix, into values[] (256 bits). */
static void check_icmp_list(lua_State *L, const char *field, int ix, bool v6, bool code,
			    uint8_t values[32])
{
	int v;

	if (!lua_istable(L, ix)) {
		v = check_icmp_value(L, field, ix, v6, code);
		values[v >> 3] |= 1 << (v & 7);
		return;
	}
	if (luaL_len(L, ix) == 0)
		luaL_error(L, "%s: empty list", field);
	for (lua_Integer i = 1; i <= luaL_len(L, ix); i++) {
		lua_geti(L, ix, i);
		v = check_icmp_value(L, field, lua_gettop(L), v6, code);
		values[v >> 3] |= 1 << (v & 7);
		lua_pop(L, 1);
	}
}

static bool has_bit(const uint8_t *bits, int i)
{
	return bits[i >> 3] & (1 << (i & 7));
}

/* icmp_type and icmp_code (at ti, ci; 0: absent) -> ranges of type << 8 | code. */
static void check_icmp(lua_State *L, int ti, int ci, struct filter_spec *s)
{
	uint8_t types[32] = { 0 }, codes[32] = { 0 };
	bool v6 = s->proto == 58;

	if (s->proto >= 0 && s->proto != 1 && s->proto != 58)
		luaL_error(L, "%s: needs proto icmp or icmpv6", ti ? "icmp_type" : "icmp_code");
	if (ti)
		check_icmp_list(L, "icmp_type", ti, v6, false, types);
	else
		memset(types, 0xff, sizeof(types));
	if (ci)
		check_icmp_list(L, "icmp_code", ci, v6, true, codes);
	for (int t = 0; t < 256; t++) {
		if (!has_bit(types, t))
			continue;
		if (!ci) {
			add_range(L, &s->icmp, &s->nicmp, t << 8, t << 8 | 255);
			continue;
		}
		for (int c = 0; c < 256; c++)
			if (has_bit(codes, c))
				add_range(L, &s->icmp, &s->nicmp, t << 8 | c, t << 8 | c);
	}
}

static uint16_t check_length(lua_State *L, int ix)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, ix, &isnum);

	if (!isnum || lua_type(L, ix) != LUA_TNUMBER)
		luaL_error(L, "length: expected a number, got %s", luaL_typename(L, ix));
	if (v < 0 || v > 65535)
		luaL_error(L, "length: %I out of range 0..65535", (LUAI_UACINT)v);
	return v;
}

/* One length or {lo, hi} at ix. */
static void add_length(lua_State *L, int ix, struct filter_spec *s)
{
	uint16_t lo, hi;

	if (!lua_istable(L, ix)) {
		lo = check_length(L, ix);
		add_range(L, &s->length, &s->nlength, lo, lo);
		return;
	}
	if (luaL_len(L, ix) != 2)
		luaL_error(L, "length: a range is {lo, hi}");
	lua_geti(L, ix, 1);
	lo = check_length(L, -1);
	lua_geti(L, ix, 2);
	hi = check_length(L, -1);
	lua_pop(L, 2);
	if (lo > hi)
		luaL_error(L, "length: range {%d, %d} is reversed", lo, hi);
	add_range(L, &s->length, &s->nlength, lo, hi);
}

/* length = N | {lo, hi} | {list = {N or {lo, hi}, ...}} */
static void check_lengths(lua_State *L, int ix, struct filter_spec *s)
{
	int top = lua_gettop(L);

	if (lua_istable(L, ix) && lua_getfield(L, ix, "list") != LUA_TNIL) {
		int lix = lua_gettop(L);

		if (!lua_istable(L, lix) || luaL_len(L, lix) == 0)
			luaL_error(L, "length: list must be a non-empty table");
		for (lua_Integer i = 1; i <= luaL_len(L, lix); i++) {
			lua_geti(L, lix, i);
			add_length(L, lua_gettop(L), s);
			lua_pop(L, 1);
		}
	} else {
		add_length(L, ix, s);
	}
	lua_settop(L, top);
}

/* Index of field k of the table at ix pushed on the stack, or 0 (nil, popped). */
static int field_at(lua_State *L, int ix, const char *k)
{
	if (lua_getfield(L, ix, k) != LUA_TNIL)
		return lua_gettop(L);
	lua_pop(L, 1);
	return 0;
}

void filter_match_rule(lua_State *L, int ix, struct filter_spec *s)
{
	int top = lua_gettop(L), v, ti, ci;

	if ((v = field_at(L, ix, "tcp"))) {
		if (s->proto >= 0 && s->proto != 6)
			luaL_error(L, "tcp: flags need proto tcp");
		check_tcp(L, v, true, &s->tcp_mask, &s->tcp_value);
	}
	ti = field_at(L, ix, "icmp_type");
	ci = field_at(L, ix, "icmp_code");
	if (ti || ci)
		check_icmp(L, ti, ci, s);
	if (s->tcp_mask && s->nicmp)
		luaL_error(L, "tcp: not with icmp_type or icmp_code");
	if ((v = field_at(L, ix, "length")))
		check_lengths(L, v, s);
	lua_settop(L, top);
}

void filter_match_packet(lua_State *L, int ix, struct filter_packet_desc *d)
{
	int top = lua_gettop(L), v;
	uint8_t mask, value;
	bool v6 = d->proto == 58 || (d->proto < 0 && d->src.family == 6);
	int icmp = v6 ? 58 : 1; /* the protocol an ICMP field implies */

	if ((v = field_at(L, ix, "tcp"))) {
		check_tcp(L, v, false, &mask, &value);
		d->tcp_flags = value;
	}
	if ((v = field_at(L, ix, "icmp_type"))) {
		d->icmp_type = check_icmp_value(L, "icmp_type", v, v6, false);
		if (d->proto < 0)
			d->proto = icmp;
	}
	if ((v = field_at(L, ix, "icmp_code"))) {
		d->icmp_code = check_icmp_value(L, "icmp_code", v, v6, true);
		if (d->proto < 0)
			d->proto = icmp;
	}
	if ((v = field_at(L, ix, "length"))) {
		d->iplen = check_length(L, v);
		if (d->iplen < 20)
			luaL_error(L, "length: an IP packet is at least 20 bytes");
	}
	lua_settop(L, top);
}

void filter_match_push(lua_State *L, const struct filter_pkt *p)
{
	static const char *const names[] = { "fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr" };

	if (p->proto == 6 && p->has_ports) {
		lua_createtable(L, 0, 2);
		for (int i = 0; i < 8; i++) {
			if (!(p->tcp_flags & (1 << i)))
				continue;
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, names[i]);
		}
		lua_setfield(L, -2, "tcp");
	}
	if (p->has_icmp) {
		lua_pushinteger(L, p->icmp_type);
		lua_setfield(L, -2, "icmp_type");
		lua_pushinteger(L, p->icmp_code);
		lua_setfield(L, -2, "icmp_code");
	}
	lua_pushinteger(L, p->iplen);
	lua_setfield(L, -2, "length");
}
