// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Values that cross runtimes: a tree of nodes in C memory, made from one
 * lua_State and pushed into another (see value.h). Making one never raises,
 * so it can read a runtime that must not longjmp (a child while its parent
 * waits); pushing one runs in a protected call, so a full runtime reports
 * its memory error instead of panicking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value.h"

enum node_type { V_NIL, V_BOOLEAN, V_INTEGER, V_NUMBER, V_STRING, V_TABLE, V_OBJECT };

struct node {
	enum node_type type;
	union {
		int boolean;
		lua_Integer integer;
		lua_Number number;
		struct {
			size_t len;
			char *data;
		} string;
		struct {
			size_t n;          /* pairs in use */
			size_t cap;
			struct node *pairs; /* key, value, key, value, ... */
		} table;
		lbpf_object_t *object;
	} u;
};

struct lbpf_value {
	atomic_int refs;
	struct node root;
};

static void node_free(struct node *n)
{
	size_t i;

	if (n->type == V_STRING) {
		free(n->u.string.data);
	} else if (n->type == V_TABLE) {
		for (i = 0; i < 2 * n->u.table.n; i++)
			node_free(&n->u.table.pairs[i]);
		free(n->u.table.pairs);
	} else if (n->type == V_OBJECT) {
		lbpf_putobject(n->u.object);
	}
	n->type = V_NIL;
}

static int node_from(lua_State *L, int ix, struct node *n, int depth, char *err, size_t errlen);

static int fail(char *err, size_t errlen, const char *fmt, const char *what)
{
	snprintf(err, errlen, fmt, what);
	return -EINVAL;
}

/* A shareable object is shared (one more reference); others are refused. */
static int object_from(lua_State *L, int ix, struct node *n, char *err, size_t errlen)
{
	lbpf_object_t *object;

	if (!lua_checkstack(L, 2))
		return fail(err, errlen, "%s", "stack overflow");
	object = lbpf_testobject(L, ix);
	if (!object)
		return fail(err, errlen, "%s cannot cross runtimes (a closed lbpf object, or not an "
				    "lbpf object)", "a userdata");
	if (!(object->class->opt & LBPF_OPT_MONITOR))
		return fail(err, errlen, "%s cannot cross runtimes: it belongs to the runtime that "
				    "made it (only shareable objects, such as lbpf.metric, can)",
			    object->class->name);
	n->type = V_OBJECT;
	n->u.object = lbpf_getobject(object);
	return 0;
}

static bool valid_key(lua_State *L, int ix)
{
	int t = lua_type(L, ix);

	return t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN;
}

/* Copies the pairs of the table at ix; on failure n holds what was copied. */
static int table_from(lua_State *L, int ix, struct node *n, int depth, char *err, size_t errlen)
{
	int e;

	n->type = V_TABLE;
	if (depth >= LBPF_VALUE_DEPTH) {
		snprintf(err, errlen, "tables nested deeper than %d levels (a cycle?) cannot cross "
				      "runtimes", LBPF_VALUE_DEPTH);
		return -EINVAL;
	}
	if (!lua_checkstack(L, 4))
		return fail(err, errlen, "%s", "stack overflow");
	ix = lua_absindex(L, ix);
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		struct node *pair;

		if (!valid_key(L, -2)) {
			const char *type = luaL_typename(L, -2); /* a static string */

			lua_pop(L, 2);
			return fail(err, errlen, "a table key of type %s cannot cross runtimes "
					    "(keys are strings, numbers or booleans)", type);
		}
		if (n->u.table.n == n->u.table.cap) {
			size_t cap = n->u.table.cap ? 2 * n->u.table.cap : 4;

			pair = realloc(n->u.table.pairs, 2 * cap * sizeof(*pair));
			if (!pair) {
				lua_pop(L, 2);
				return fail(err, errlen, "%s", "out of memory");
			}
			n->u.table.pairs = pair;
			n->u.table.cap = cap;
		}
		pair = &n->u.table.pairs[2 * n->u.table.n];
		pair[0].type = pair[1].type = V_NIL;
		n->u.table.n++;
		e = node_from(L, -2, &pair[0], depth + 1, err, errlen);
		e = e ?: node_from(L, -1, &pair[1], depth + 1, err, errlen);
		lua_pop(L, 1);
		if (e) {
			lua_pop(L, 1);
			return e;
		}
	}
	return 0;
}

static int node_from(lua_State *L, int ix, struct node *n, int depth, char *err, size_t errlen)
{
	const char *s;

	memset(n, 0, sizeof(*n));
	switch (lua_type(L, ix)) {
	case LUA_TNIL:
		return 0;
	case LUA_TBOOLEAN:
		n->type = V_BOOLEAN;
		n->u.boolean = lua_toboolean(L, ix);
		return 0;
	case LUA_TNUMBER:
		n->type = lua_isinteger(L, ix) ? V_INTEGER : V_NUMBER;
		if (n->type == V_INTEGER)
			n->u.integer = lua_tointeger(L, ix);
		else
			n->u.number = lua_tonumber(L, ix);
		return 0;
	case LUA_TSTRING:
		s = lua_tolstring(L, ix, &n->u.string.len);
		if (!(n->u.string.data = malloc(n->u.string.len + 1)))
			return fail(err, errlen, "%s", "out of memory");
		memcpy(n->u.string.data, s, n->u.string.len + 1);
		n->type = V_STRING;
		return 0;
	case LUA_TTABLE:
		return table_from(L, ix, n, depth, err, errlen);
	case LUA_TUSERDATA:
		return object_from(L, ix, n, err, errlen);
	default:
		return fail(err, errlen, "a %s cannot cross runtimes", luaL_typename(L, ix));
	}
}

struct lbpf_value *lbpf_value_new(lua_State *L, int ix, char *err, size_t errlen)
{
	struct lbpf_value *v = malloc(sizeof(*v));

	if (!v) {
		fail(err, errlen, "%s", "out of memory");
		return NULL;
	}
	atomic_init(&v->refs, 1);
	if (node_from(L, lua_absindex(L, ix), &v->root, 0, err, errlen)) {
		node_free(&v->root);
		free(v);
		return NULL;
	}
	return v;
}

struct lbpf_value *lbpf_value_get(struct lbpf_value *v)
{
	if (v)
		atomic_fetch_add(&v->refs, 1);
	return v;
}

void lbpf_value_put(struct lbpf_value *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	node_free(&v->root);
	free(v);
}

static void node_push(lua_State *L, const struct node *n)
{
	size_t i;

	luaL_checkstack(L, 3, "value nested too deep");
	switch (n->type) {
	case V_NIL: lua_pushnil(L); break;
	case V_BOOLEAN: lua_pushboolean(L, n->u.boolean); break;
	case V_INTEGER: lua_pushinteger(L, n->u.integer); break;
	case V_NUMBER: lua_pushnumber(L, n->u.number); break;
	case V_STRING: lua_pushlstring(L, n->u.string.data, n->u.string.len); break;
	case V_TABLE:
		lua_createtable(L, 0, (int)n->u.table.n);
		for (i = 0; i < n->u.table.n; i++) {
			node_push(L, &n->u.table.pairs[2 * i]);
			node_push(L, &n->u.table.pairs[2 * i + 1]);
			lua_rawset(L, -3);
		}
		break;
	case V_OBJECT:
		/* its owner may have closed it since it was stored */
		if (atomic_load(&n->u.object->released))
			lua_pushnil(L);
		else
			lbpf_cloneobject(L, n->u.object);
		break;
	}
}

static int push_protected(lua_State *L)
{
	const struct lbpf_value *v = lua_touserdata(L, 1);

	node_push(L, &v->root);
	return 1;
}

int lbpf_value_push(lua_State *L, const struct lbpf_value *v)
{
	lua_pushcfunction(L, push_protected);
	lua_pushlightuserdata(L, (void *)v);
	return lua_pcall(L, 1, 1, 0);
}
