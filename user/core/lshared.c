// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.shared: one table for every runtime of the process (the policies of
 * lbpfd and their child runtimes), like Lunatik's lunatik._ENV.
 *   lbpf.shared.key = value    stores a copy (value.h: plain values, tables
 *                              of them, shareable objects such as a metric);
 *                              nil deletes
 *   lbpf.shared.key            a fresh copy, or nil; an object its owner
 *                              closed reads as nil
 *   lbpf.shared:keys()         the keys, sorted
 *   pairs(lbpf.shared)         a snapshot
 * Keys are strings; "keys" is the method's name. A store or a read is atomic
 * (one process-wide mutex); a read-modify-write is not: use an object (a
 * metric) for counters that several runtimes update.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <lbpf/lbpf.h>

#include "value.h"

#define SHARED_BUCKETS 1024
#define SHARED_MT "lbpf.shared"

struct entry {
	struct entry *next;
	struct lbpf_value *value;
	char key[];
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *buckets[SHARED_BUCKETS];
static size_t nentries;

static struct entry **slot_of(const char *key)
{
	unsigned h = 2166136261u;
	const char *p;
	struct entry **e;

	for (p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (e = &buckets[h % SHARED_BUCKETS]; *e && strcmp((*e)->key, key); e = &(*e)->next)
		;
	return e;
}

/* The string key at ix; raises on other types and on "keys". */
static const char *checkkey(lua_State *L, int ix, bool store)
{
	luaL_argexpected(L, lua_type(L, ix) == LUA_TSTRING, ix, "string key");
	if (store && !strcmp(lua_tostring(L, ix), "keys"))
		luaL_error(L, "lbpf.shared: 'keys' is the name of a method, not a key");
	return lua_tostring(L, ix);
}

/* Pushes a copy of the value stored under key, or nil. */
static void push_entry(lua_State *L, const char *key)
{
	struct lbpf_value *v;
	struct entry *e;
	int status;

	pthread_mutex_lock(&shared_lock);
	e = *slot_of(key);
	v = e ? lbpf_value_get(e->value) : NULL;
	pthread_mutex_unlock(&shared_lock);
	if (!v) {
		lua_pushnil(L);
		return;
	}
	status = lbpf_value_push(L, v);
	lbpf_value_put(v);
	if (status != LUA_OK)
		lua_error(L);
}

/* lbpf.shared.key */
static int shared_index(lua_State *L)
{
	const char *key = checkkey(L, 2, false);

	if (!strcmp(key, "keys"))
		lua_pushvalue(L, lua_upvalueindex(1));
	else
		push_entry(L, key);
	return 1;
}

/* lbpf.shared.key = value (nil deletes) */
static int shared_newindex(lua_State *L)
{
	const char *key = checkkey(L, 2, true);
	struct lbpf_value *v = NULL, *old = NULL;
	struct entry **slot, *fresh = NULL;
	char err[400];

	if (!lua_isnil(L, 3)) {
		if (!(v = lbpf_value_new(L, 3, err, sizeof(err))))
			return luaL_error(L, "lbpf.shared.%s: %s", key, err);
		if (!(fresh = malloc(sizeof(*fresh) + strlen(key) + 1))) {
			lbpf_value_put(v);
			return luaL_error(L, "lbpf.shared.%s: out of memory", key);
		}
		strcpy(fresh->key, key);
	}
	pthread_mutex_lock(&shared_lock);
	slot = slot_of(key);
	if (*slot && v) {
		old = (*slot)->value;
		(*slot)->value = v;
	} else if (*slot) {
		struct entry *e = *slot;

		old = e->value;
		*slot = e->next;
		free(e);
		nentries--;
	} else if (v) {
		fresh->value = v;
		fresh->next = NULL;
		*slot = fresh;
		fresh = NULL;
		nentries++;
	}
	pthread_mutex_unlock(&shared_lock);
	free(fresh);
	lbpf_value_put(old); /* may release an object: outside the lock */
	return 0;
}

struct key_list {
	char **keys;
	size_t n;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted copy of the keys; NULL on no memory. */
static int snapshot_keys(struct key_list *list)
{
	struct entry *e;
	size_t i;

	list->n = 0;
	pthread_mutex_lock(&shared_lock);
	list->keys = malloc((nentries + 1) * sizeof(*list->keys));
	for (i = 0; list->keys && i < SHARED_BUCKETS; i++)
		for (e = buckets[i]; e; e = e->next)
			if ((list->keys[list->n] = strdup(e->key)))
				list->n++;
	pthread_mutex_unlock(&shared_lock);
	if (!list->keys)
		return -ENOMEM;
	qsort(list->keys, list->n, sizeof(*list->keys), by_name);
	return 0;
}

static int push_keys(lua_State *L)
{
	struct key_list *list = lua_touserdata(L, 1);
	size_t i;

	lua_createtable(L, (int)list->n, 0);
	for (i = 0; i < list->n; i++) {
		lua_pushstring(L, list->keys[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* lbpf.shared:keys() -> {key, ...} sorted */
static int shared_keys(lua_State *L)
{
	struct key_list list;
	int status;
	size_t i;

	luaL_checkudata(L, 1, SHARED_MT);
	if (snapshot_keys(&list))
		return luaL_error(L, "lbpf.shared:keys(): out of memory");
	lua_pushcfunction(L, push_keys);
	lua_pushlightuserdata(L, &list);
	status = lua_pcall(L, 1, 1, 0); /* frees the list whatever happens */
	for (i = 0; i < list.n; i++)
		free(list.keys[i]);
	free(list.keys);
	return status == LUA_OK ? 1 : lua_error(L);
}

/* pairs(lbpf.shared): next over a snapshot {key = copy} */
static int shared_pairs(lua_State *L)
{
	lua_Integer i, n;

	lua_pushcfunction(L, shared_keys);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	n = luaL_len(L, -1);
	lua_getglobal(L, "next");
	lua_createtable(L, 0, (int)n);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, -3, i);
		push_entry(L, lua_tostring(L, -1));
		lua_rawset(L, -3);
	}
	lua_pushnil(L);
	return 3;
}

static int shared_tostring(lua_State *L)
{
	lua_pushliteral(L, "lbpf.shared");
	return 1;
}

/* The binding's table is {shared = the userdata}, merged as lbpf.shared. */
int luaopen_lbpf_shared(lua_State *L);
int luaopen_lbpf_shared(lua_State *L)
{
	lua_newtable(L);
	lua_newuserdatauv(L, 0, 0);
	if (luaL_newmetatable(L, SHARED_MT)) {
		lua_pushcfunction(L, shared_keys);
		lua_pushcclosure(L, shared_index, 1);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, shared_newindex);
		lua_setfield(L, -2, "__newindex");
		lua_pushcfunction(L, shared_pairs);
		lua_setfield(L, -2, "__pairs");
		lua_pushcfunction(L, shared_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pushliteral(L, "lbpf.shared");
		lua_setfield(L, -2, "__metatable");
	}
	lua_setmetatable(L, -2);
	lua_setfield(L, -2, "shared");
	return 1;
}
