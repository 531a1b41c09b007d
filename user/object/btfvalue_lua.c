// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Lua values from and to BTF-typed bytes, and views of structs
 * (btfvalue_lua.h). The walk follows the type: typedefs and qualifiers
 * resolved, members found by name as C finds them (through anonymous
 * members), bitfields read and written by their bits. Little-endian, as
 * every BPF target lbpf builds for.
 */
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "trace/btf_types.h"
#include "btfvalue_lua.h"

#define VIEW_CLASS "lbpf.object.view"
#define MAX_DEPTH 32

/* ---- bytes to Lua ---- */

static uint64_t load_bits(const uint8_t *p, unsigned bit, unsigned nbits)
{
	uint64_t v = 0;
	unsigned bytes = (bit % 8 + nbits + 7) / 8;

	memcpy(&v, p + bit / 8, bytes > 8 ? 8 : bytes);
	v >>= bit % 8;
	return nbits >= 64 ? v : v & ((1ull << nbits) - 1);
}

static lua_Integer sign_extend(uint64_t v, unsigned nbits)
{
	return nbits >= 64 ? (lua_Integer)v :
	       (lua_Integer)((int64_t)(v << (64 - nbits)) >> (64 - nbits));
}

static void push_int(lua_State *L, const struct btf_type *t, const uint8_t *p)
{
	uint8_t enc = btf_int_encoding(t);
	uint64_t v = load_bits(p, 0, t->size * 8);

	if (enc & BTF_INT_BOOL)
		lua_pushboolean(L, v != 0);
	else if (enc & BTF_INT_SIGNED)
		lua_pushinteger(L, sign_extend(v, t->size * 8));
	else
		lua_pushinteger(L, (lua_Integer)v);
}

static void push_at(lua_State *L, const struct btf *btf, unsigned type, const uint8_t *p,
		    size_t size, int depth);

/* Sets the members of struct/union id into the table on top; anonymous
 * members' members go into it too. */
static void push_members(lua_State *L, const struct btf *btf, unsigned id, const uint8_t *p,
			 size_t size, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m = btf_members(t);

	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *name = btf__name_by_offset(btf, m->name_off);
		unsigned bits = btf_member_bit_offset(t, i), nbits = btf_member_bitfield_size(t, i);
		unsigned mid;
		const struct btf_type *mt = btf_resolved(btf, m->type, &mid);

		if ((!name || !*name) && mt && btf_is_composite(mt)) {
			push_members(L, btf, mid, p + bits / 8, size - bits / 8, depth + 1);
			continue;
		}
		if (nbits) {
			uint64_t v = load_bits(p, bits, nbits);

			if (mt && btf_is_int(mt) && (btf_int_encoding(mt) & BTF_INT_SIGNED))
				lua_pushinteger(L, sign_extend(v, nbits));
			else
				lua_pushinteger(L, (lua_Integer)v);
		} else {
			push_at(L, btf, m->type, p + bits / 8, size - bits / 8, depth + 1);
		}
		lua_setfield(L, -2, name);
	}
}

static void push_array(lua_State *L, const struct btf *btf, const struct btf_type *t,
		       const uint8_t *p, size_t size, int depth)
{
	const struct btf_array *a = btf_array(t);
	__s64 esize = btf__resolve_size(btf, a->type);

	if (btf_is_char(btf, a->type, false)) {
		lua_pushlstring(L, (const char *)p, strnlen((const char *)p, a->nelems));
		return;
	}
	lua_createtable(L, a->nelems, 0);
	for (unsigned i = 0; esize > 0 && i < a->nelems; i++) {
		push_at(L, btf, a->type, p + i * esize, size - i * esize, depth + 1);
		lua_rawseti(L, -2, i + 1);
	}
}

static void push_at(lua_State *L, const struct btf *btf, unsigned type, const uint8_t *p,
		    size_t size, int depth)
{
	unsigned id;
	const struct btf_type *t = btf_resolved(btf, type, &id);
	__s64 tsize = t ? btf__resolve_size(btf, id) : -1;

	if (!t || tsize < 0 || (size_t)tsize > size || depth > MAX_DEPTH) {
		lua_pushnil(L);
	} else if (btf_is_int(t) && t->size <= 8) {
		push_int(L, t, p);
	} else if (btf_is_any_enum(t)) {
		uint64_t v = load_bits(p, 0, t->size * 8);

		lua_pushinteger(L, btf_kflag(t) ? sign_extend(v, t->size * 8) : (lua_Integer)v);
	} else if (btf_is_ptr(t)) {
		lua_pushinteger(L, (lua_Integer)load_bits(p, 0, 64));
	} else if (btf_is_float(t) && (t->size == 4 || t->size == 8)) {
		float f;
		double d;

		if (t->size == 4)
			memcpy(&f, p, 4), d = f;
		else
			memcpy(&d, p, 8);
		lua_pushnumber(L, d);
	} else if (btf_is_array(t)) {
		push_array(L, btf, t, p, size, depth);
	} else if (btf_is_composite(t)) {
		lua_newtable(L);
		push_members(L, btf, id, p, size, depth);
	} else {
		lua_pushlstring(L, (const char *)p, tsize); /* what Lua cannot say otherwise */
	}
}

void btfvalue_push(lua_State *L, const struct btf *btf, unsigned type, const void *data,
		   size_t size)
{
	push_at(L, btf, type, data, size, 0);
}

/* ---- Lua to bytes ---- */

static void store_bits(uint8_t *p, unsigned bit, unsigned nbits, uint64_t v)
{
	for (unsigned i = 0; i < nbits; i++, bit++) {
		uint8_t mask = 1u << (bit % 8);

		p[bit / 8] = (v >> i) & 1 ? p[bit / 8] | mask : p[bit / 8] & ~mask;
	}
}

/* The integer at ix, or an error naming what and the type. */
static lua_Integer check_integer(lua_State *L, int ix, const char *what, const char *tname)
{
	int isnum;
	lua_Integer v = lua_tointegerx(L, ix, &isnum);

	if (!isnum || lua_type(L, ix) != LUA_TNUMBER) {
		if (lua_type(L, ix) == LUA_TNUMBER)
			luaL_error(L, "%s: %s is not an integer (%s)", what, lua_tostring(L, ix), tname);
		luaL_error(L, "%s: expected an integer (%s), got %s", what, tname,
			   luaL_typename(L, ix));
	}
	return v;
}

/* Checks v fits nbits bits (signed or not); raises naming the range. */
static void check_range(lua_State *L, lua_Integer v, unsigned nbits, bool is_signed,
			const char *what, const char *tname)
{
	char range[64];

	if (nbits >= 64 && (is_signed || v >= 0))
		return;
	if (is_signed && v >= -(1ll << (nbits - 1)) && v <= (1ll << (nbits - 1)) - 1)
		return;
	if (!is_signed && v >= 0 && (uint64_t)v <= (1ull << nbits) - 1)
		return;
	if (is_signed)
		snprintf(range, sizeof(range), "%lld to %lld", -(1ll << (nbits - 1)),
			 (1ll << (nbits - 1)) - 1);
	else
		snprintf(range, sizeof(range), "0 to %llu",
			 nbits >= 64 ? (unsigned long long)UINT64_MAX : (1ull << nbits) - 1);
	luaL_error(L, "%s: %I is out of range for %s (%s)", what, (LUAI_UACINT)v, tname, range);
}

/* An enum's value by name; raises when the enum has no such name. */
static lua_Integer enum_value(lua_State *L, const struct btf *btf, const struct btf_type *t,
			      const char *name, const char *what, const char *tname)
{
	for (int i = 0; i < btf_vlen(t); i++) {
		if (btf_is_enum(t) && !strcmp(btf__name_by_offset(btf, btf_enum(t)[i].name_off), name))
			return btf_kflag(t) ? btf_enum(t)[i].val : (lua_Integer)(__u32)btf_enum(t)[i].val;
		if (btf_is_enum64(t) &&
		    !strcmp(btf__name_by_offset(btf, btf_enum64(t)[i].name_off), name))
			return (lua_Integer)btf_enum64_value(&btf_enum64(t)[i]);
	}
	return luaL_error(L, "%s: %s has no value named '%s'", what, tname, name);
}

static void check_at(lua_State *L, int ix, const struct btf *btf, unsigned type, uint8_t *out,
		     const char *what, int depth);

static void check_scalar(lua_State *L, int ix, const struct btf *btf, const struct btf_type *t,
			 uint8_t *out, const char *what, const char *tname)
{
	lua_Integer v;

	if (btf_is_int(t) && (btf_int_encoding(t) & BTF_INT_BOOL) && lua_isboolean(L, ix)) {
		out[0] = lua_toboolean(L, ix);
		return;
	}
	if (btf_is_float(t)) {
		double d = luaL_opt(L, lua_tonumber, ix, 0);
		float f = d;

		if (lua_type(L, ix) != LUA_TNUMBER)
			luaL_error(L, "%s: expected a number (%s), got %s", what, tname,
				   luaL_typename(L, ix));
		memcpy(out, t->size == 4 ? (void *)&f : (void *)&d, t->size);
		return;
	}
	if (btf_is_any_enum(t) && lua_type(L, ix) == LUA_TSTRING)
		v = enum_value(L, btf, t, lua_tostring(L, ix), what, tname);
	else
		v = check_integer(L, ix, what, tname);
	if (btf_is_ptr(t))
		check_range(L, v, 64, false, what, tname);
	else
		check_range(L, v, t->size * 8, btf_is_int(t) ? btf_int_encoding(t) & BTF_INT_SIGNED :
			    btf_kflag(t), what, tname);
	store_bits(out, 0, btf_is_ptr(t) ? 64 : t->size * 8, (uint64_t)v);
}

static void check_array(lua_State *L, int ix, const struct btf *btf, const struct btf_type *t,
			uint8_t *out, const char *what, const char *tname, int depth)
{
	const struct btf_array *a = btf_array(t);
	__s64 esize = btf__resolve_size(btf, a->type);
	char sub[256];
	lua_Integer n;

	if (btf_is_char(btf, a->type, false) && lua_type(L, ix) == LUA_TSTRING) {
		size_t len;
		const char *s = lua_tolstring(L, ix, &len);

		if (len > a->nelems)
			luaL_error(L, "%s: a string of %d bytes does not fit in %s", what, (int)len, tname);
		memcpy(out, s, len);
		return;
	}
	if (!lua_istable(L, ix))
		luaL_error(L, "%s: expected a table (a list for %s), got %s", what, tname,
			   luaL_typename(L, ix));
	n = luaL_len(L, ix);
	if (n > a->nelems)
		luaL_error(L, "%s: %I elements do not fit in %s", what, (LUAI_UACINT)n, tname);
	for (lua_Integer i = 1; i <= n; i++) {
		snprintf(sub, sizeof(sub), "%s[%lld]", what, (long long)i - 1);
		lua_geti(L, ix, i);
		check_at(L, lua_gettop(L), btf, a->type, out + (i - 1) * esize, sub, depth + 1);
		lua_pop(L, 1);
	}
}

static void check_struct(lua_State *L, int ix, const struct btf *btf, unsigned id, uint8_t *out,
			 const char *what, const char *tname, int depth)
{
	char sub[256];

	if (!lua_istable(L, ix))
		luaL_error(L, "%s: expected a table (%s, by member name), got %s", what, tname,
			   luaL_typename(L, ix));
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		unsigned bits, type, nbits, mid;
		const char *name;

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "%s: %s takes members by name, not %s keys", what, tname,
				   luaL_typename(L, -2));
		name = lua_tostring(L, -2);
		if (!btf_find_member(btf, id, name, &bits, &type, &nbits))
			luaL_error(L, "%s: %s has no member '%s'", what, tname, name);
		snprintf(sub, sizeof(sub), "%s.%s", what, name);
		if (nbits) {
			const struct btf_type *mt = btf_resolved(btf, type, &mid);
			bool is_signed = mt && btf_is_int(mt) && (btf_int_encoding(mt) & BTF_INT_SIGNED);
			lua_Integer v = check_integer(L, -1, sub, "a bitfield");

			check_range(L, v, nbits, is_signed, sub, "the bitfield");
			store_bits(out, bits, nbits, (uint64_t)v);
		} else {
			check_at(L, lua_gettop(L), btf, type, out + bits / 8, sub, depth + 1);
		}
		lua_pop(L, 1);
	}
}

static void check_at(lua_State *L, int ix, const struct btf *btf, unsigned type, uint8_t *out,
		     const char *what, int depth)
{
	char tname[160];
	unsigned id;
	const struct btf_type *t = btf_resolved(btf, type, &id);
	__s64 tsize = t ? btf__resolve_size(btf, id) : -1;

	btf_type_text(btf, type, tname, sizeof(tname));
	if (!t || tsize <= 0 || depth > MAX_DEPTH)
		luaL_error(L, "%s: lbpf cannot write a value of type %s", what, tname);
	if (lua_type(L, ix) == LUA_TSTRING &&
	    !(btf_is_array(t) && btf_is_char(btf, btf_array(t)->type, false)) &&
	    !(btf_is_any_enum(t))) {
		size_t len;
		const char *s = lua_tolstring(L, ix, &len);

		if (len != (size_t)tsize && !btf_is_composite(t) && !btf_is_array(t))
			luaL_error(L, "%s: expected an integer (%s) or a string of its %d bytes, got "
				   "a string of %d bytes", what, tname, (int)tsize, (int)len);
		if (len != (size_t)tsize)
			luaL_error(L, "%s: %d bytes given, %s is %d bytes", what, (int)len, tname,
				   (int)tsize);
		memcpy(out, s, len);
	} else if (btf_is_int(t) || btf_is_any_enum(t) || btf_is_ptr(t) || btf_is_float(t)) {
		check_scalar(L, ix, btf, t, out, what, tname);
	} else if (btf_is_array(t)) {
		check_array(L, ix, btf, t, out, what, tname, depth);
	} else if (btf_is_composite(t)) {
		check_struct(L, ix, btf, id, out, what, tname, depth);
	} else {
		luaL_error(L, "%s: lbpf cannot write a value of type %s", what, tname);
	}
}

void btfvalue_check(lua_State *L, int ix, const struct btf *btf, unsigned type, void *out,
		    size_t size, const char *what)
{
	memset(out, 0, size);
	check_at(L, lua_absindex(L, ix), btf, type, out, what, 0);
}

/* ---- views ---- */

struct view {
	lbpf_object_t *object;         /* referenced: it owns btf */
	const struct btf *btf;
	unsigned type;                 /* a struct or union, resolved */
	size_t off, size;              /* where in the root's bytes, how many */
	struct view *root;             /* the view that holds the bytes (itself, or a parent's) */
	const uint8_t *data;           /* the root's: NULL once expired */
	uint8_t bytes[];               /* the root's copy, when it has one */
};

static struct view *newview(lua_State *L, lbpf_object_t *object, const struct btf *btf,
			    unsigned type, size_t extra)
{
	struct view *v = lua_newuserdatauv(L, sizeof(*v) + extra, 1);

	*v = (struct view){ .object = lbpf_getobject(object), .btf = btf, .type = type };
	luaL_setmetatable(L, VIEW_CLASS);
	return v;
}

void btfvalue_pushview(lua_State *L, lbpf_object_t *object, const struct btf *btf,
		       unsigned type, const void *data, size_t size, bool copy)
{
	unsigned id;

	btf_resolved(btf, type, &id);
	struct view *v = newview(L, object, btf, id, copy ? size : 0);

	v->size = size;
	v->root = v;
	if (copy)
		memcpy(v->bytes, data, size);
	v->data = copy ? v->bytes : data;
}

void btfvalue_expire(lua_State *L, int ix)
{
	struct view *v = luaL_checkudata(L, ix, VIEW_CLASS);

	v->data = NULL;
}

static struct view *checkview(lua_State *L, int ix)
{
	struct view *v = luaL_checkudata(L, ix, VIEW_CLASS);

	if (!v->root->data)
		luaL_error(L, "event used after its callback returned; keep ev:table() instead");
	if (atomic_load(&v->object->released))
		luaL_error(L, "view of a closed object");
	return v;
}

static int view_table(lua_State *L)
{
	struct view *v = checkview(L, 1);

	btfvalue_push(L, v->btf, v->type, v->root->data + v->off, v->size);
	return 1;
}

/* v.member: a value, or a view of a struct or union member. */
static int view_index(lua_State *L)
{
	struct view *v = checkview(L, 1), *child;
	const char *name = luaL_checkstring(L, 2);
	unsigned bits, type, nbits, id;
	const struct btf_type *mt;
	char tname[160];

	if (!btf_find_member(v->btf, v->type, name, &bits, &type, &nbits)) {
		if (!strcmp(name, "table")) {
			lua_pushcfunction(L, view_table);
			return 1;
		}
		return luaL_error(L, "%s has no member '%s'",
				  btf_type_text(v->btf, v->type, tname, sizeof(tname)), name);
	}
	mt = btf_resolved(v->btf, type, &id);
	if (nbits) { /* a bitfield: read as the struct's members are */
		lua_newtable(L);
		push_members(L, v->btf, v->type, v->root->data + v->off, v->size, 0);
		lua_getfield(L, -1, name);
		return 1;
	}
	if (!mt || !btf_is_composite(mt)) {
		btfvalue_push(L, v->btf, type, v->root->data + v->off + bits / 8, v->size - bits / 8);
		return 1;
	}
	child = newview(L, v->object, v->btf, id, 0);
	child->root = v->root;
	child->off = v->off + bits / 8;
	child->size = btf__resolve_size(v->btf, id);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1); /* the parent stays while the child lives */
	return 1;
}

static int view_tostring(lua_State *L)
{
	struct view *v = luaL_checkudata(L, 1, VIEW_CLASS);
	char tname[160];

	if (!v->object || atomic_load(&v->object->released)) {
		lua_pushliteral(L, "lbpf.object.view (closed)");
		return 1;
	}
	lua_pushfstring(L, "lbpf.object.view (%s%s)",
			btf_type_text(v->btf, v->type, tname, sizeof(tname)),
			v->root->data ? "" : ", expired");
	return 1;
}

static int view_gc(lua_State *L)
{
	struct view *v = luaL_checkudata(L, 1, VIEW_CLASS);

	lbpf_putobject(v->object);
	v->object = NULL;
	return 0;
}

void btfvalue_open(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{ "__index", view_index },
		{ "__tostring", view_tostring },
		{ "__gc", view_gc },
		{ NULL, NULL },
	};

	if (luaL_newmetatable(L, VIEW_CLASS))
		luaL_setfuncs(L, meta, 0);
	lua_pop(L, 1);
}
