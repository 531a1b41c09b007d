// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The object model: refcounted C objects with a class, seen from Lua as a
 * userdata holding one reference. A userdata is a single pointer slot; the
 * slot is cleared when its reference is dropped (__gc or close), so a closed
 * handle raises instead of touching freed memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CLASS_FIELD "__lbpfclass"
static const char registered_key = 'r';
static const char closing_key = 'c';

void (*lbpf_object_observer)(lbpf_object_t *object, enum lbpf_object_event event);

lbpf_object_t *lbpf_createobject(const lbpf_class_t *class, size_t size)
{
	lbpf_object_t *object = calloc(1, sizeof(*object));

	if (!object)
		return NULL;
	if (size && !(object->private = calloc(1, size))) {
		free(object);
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&object->refs, 1);
	atomic_init(&object->released, false);
	object->class = class;
	if (class->opt & LBPF_OPT_MONITOR) {
		pthread_mutexattr_t attr;

		/* recursive: a monitored method may close its own object */
		pthread_mutexattr_init(&attr);
		pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&object->mutex, &attr);
		pthread_mutexattr_destroy(&attr);
	}
	return object;
}

lbpf_object_t *lbpf_getobject(lbpf_object_t *object)
{
	if (object)
		atomic_fetch_add(&object->refs, 1);
	return object;
}

void lbpf_releaseobject(lbpf_object_t *object)
{
	bool monitor;
	void *private;

	if (!object || atomic_exchange(&object->released, true))
		return;
	if (lbpf_object_observer)
		lbpf_object_observer(object, LBPF_OBJECT_RELEASED);
	monitor = object->class->opt & LBPF_OPT_MONITOR;
	if (monitor)
		pthread_mutex_lock(&object->mutex);
	private = object->private;
	object->private = NULL;
	if (private && object->class->release)
		object->class->release(private);
	if (!(object->class->opt & LBPF_OPT_EXTERNAL))
		free(private);
	if (monitor)
		pthread_mutex_unlock(&object->mutex);
}

void lbpf_putobject(lbpf_object_t *object)
{
	if (!object || atomic_fetch_sub(&object->refs, 1) != 1)
		return;
	lbpf_releaseobject(object);
	if (object->class->opt & LBPF_OPT_MONITOR)
		pthread_mutex_destroy(&object->mutex);
	free(object);
}

/* A userdata slot: NULL once its reference was dropped. */
static lbpf_object_t **toslot(lua_State *L, int ix)
{
	const lbpf_class_t *class;
	void *slot = lua_touserdata(L, ix);

	if (!slot || !lua_getmetatable(L, ix))
		return NULL;
	lua_getfield(L, -1, CLASS_FIELD);
	class = lua_touserdata(L, -1);
	lua_pop(L, 2);
	return class ? slot : NULL;
}

lbpf_object_t *lbpf_testobject(lua_State *L, int ix)
{
	lbpf_object_t **slot = toslot(L, ix);

	return slot && *slot && (*slot)->private ? *slot : NULL;
}

lbpf_object_t *lbpf_checkobject(lua_State *L, int ix, const lbpf_class_t *class)
{
	lbpf_object_t **slot = toslot(L, ix);

	if (!slot || (class && (!*slot || (*slot)->class != class))) {
		const char *want = class ? class->name : "lbpf object";

		if (slot && !*slot)
			luaL_argerror(L, ix, "object is closed");
		luaL_typeerror(L, ix, want);
	}
	/* another handle may have closed it: its private data is gone */
	luaL_argcheck(L, *slot && !atomic_load(&(*slot)->released), ix, "object is closed");
	return *slot;
}

/* __gc, __close and close(): drop this handle's reference; close also
 * releases the resource for every holder. */
static int object_gc(lua_State *L)
{
	lbpf_object_t **slot = toslot(L, 1);

	if (slot && *slot) {
		lbpf_object_t *object = *slot;

		*slot = NULL;
		lbpf_putobject(object);
	}
	return 0;
}

static int object_close(lua_State *L)
{
	lbpf_object_t **slot = toslot(L, 1);

	luaL_argcheck(L, slot != NULL, 1, "lbpf object expected");
	if (*slot) {
		lbpf_unregisterobject(L, *slot);
		lbpf_releaseobject(*slot);
	}
	return object_gc(L);
}

static int object_tostring(lua_State *L)
{
	lbpf_object_t **slot = toslot(L, 1);
	const char *name = luaL_checkstring(L, lua_upvalueindex(1));

	if (slot && *slot && (*slot)->private)
		lua_pushfstring(L, "%s (%p)", name, (void *)*slot);
	else
		lua_pushfstring(L, "%s (closed)", name);
	return 1;
}

/* Methods of LBPF_OPT_MONITOR classes run under the object's mutex. The
 * pcall here only guarantees the unlock; errors are re-raised unchanged. */
static int monitor_call(lua_State *L)
{
	lbpf_object_t *object = lbpf_checkobject(L, 1, NULL);
	int status;

	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lbpf_getobject(object);
	pthread_mutex_lock(&object->mutex);
	status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	pthread_mutex_unlock(&object->mutex);
	lbpf_putobject(object);
	if (status != LUA_OK)
		return lua_error(L);
	return lua_gettop(L);
}

static void setmethods(lua_State *L, const lbpf_class_t *class)
{
	const luaL_Reg *reg;
	bool monitor = class->opt & LBPF_OPT_MONITOR;

	/* stack: metatable, methods */
	for (reg = class->methods; reg && reg->name; reg++) {
		bool meta = reg->name[0] == '_' && reg->name[1] == '_';

		lua_pushcfunction(L, reg->func);
		if (monitor && !meta)
			lua_pushcclosure(L, monitor_call, 1);
		lua_setfield(L, meta ? -3 : -2, reg->name);
	}
}

void lbpf_pushclass(lua_State *L, const lbpf_class_t *class)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, class) == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L); /* metatable */
	lua_pushlightuserdata(L, (void *)class);
	lua_setfield(L, -2, CLASS_FIELD);
	lua_pushstring(L, class->name);
	lua_setfield(L, -2, "__name");
	lua_pushcfunction(L, object_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, object_close);
	lua_setfield(L, -2, "__close");
	lua_pushstring(L, class->name);
	lua_pushcclosure(L, object_tostring, 1);
	lua_setfield(L, -2, "__tostring");
	lua_newtable(L); /* methods */
	lua_pushcfunction(L, object_close);
	lua_setfield(L, -2, "close");
	setmethods(L, class);
	lua_setfield(L, -2, "__index");
	lua_pushvalue(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, class);
}

static void pushslot(lua_State *L, lbpf_object_t *object)
{
	lbpf_object_t **slot = lua_newuserdatauv(L, sizeof(*slot), 1);

	*slot = object;
	lbpf_pushclass(L, object->class);
	lua_setmetatable(L, -2);
}

void lbpf_objects_closing(lua_State *L, bool closing)
{
	lua_pushboolean(L, closing);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &closing_key);
}

/* True once lbpf_objects_closing(L, true): the registry lives until the last
 * finalizer of lua_close has run. */
static bool closing(lua_State *L)
{
	bool set = lua_rawgetp(L, LUA_REGISTRYINDEX, &closing_key) == LUA_TBOOLEAN &&
		   lua_toboolean(L, -1);

	lua_pop(L, 1);
	return set;
}

lbpf_object_t *lbpf_newobject(lua_State *L, const lbpf_class_t *class, size_t size)
{
	lbpf_runtime_t *rt = lbpf_toruntime(L);
	lbpf_object_t **slot;
	lbpf_object_t *object;

	/* lua_close does not finalize objects created while it runs */
	if (closing(L))
		luaL_error(L, "cannot create %s: the runtime is shutting down", class->name);
	slot = lua_newuserdatauv(L, sizeof(*slot), 1);
	*slot = NULL;
	lbpf_pushclass(L, class);
	lua_setmetatable(L, -2);
	object = lbpf_createobject(class, size);
	if (!object)
		lbpf_throw(L, -ENOMEM, "create %s", class->name);
	object->owner = rt;
	*slot = object;
	return object;
}

void lbpf_cloneobject(lua_State *L, lbpf_object_t *object)
{
	lbpf_runtime_t *rt = lbpf_toruntime(L);

	if (!object || atomic_load(&object->released))
		luaL_error(L, "cannot share a closed object");
	if ((object->class->opt & LBPF_OPT_SINGLE) && object->owner && object->owner != rt)
		luaL_error(L, "%s cannot be shared across runtimes", object->class->name);
	pushslot(L, lbpf_getobject(object));
}

/* The registry table of attached objects, keyed by object address. */
static void pushregistered(lua_State *L)
{
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &registered_key) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &registered_key);
	}
}

void lbpf_registerobject(lua_State *L, int ix, lbpf_object_t *object)
{
	ix = lua_absindex(L, ix);
	pushregistered(L);
	lua_pushvalue(L, ix);
	lua_rawsetp(L, -2, object);
	lua_pop(L, 1);
	if (lbpf_object_observer)
		lbpf_object_observer(object, LBPF_OBJECT_ATTACHED);
}

void lbpf_object_changed(lbpf_object_t *object)
{
	if (lbpf_object_observer)
		lbpf_object_observer(object, LBPF_OBJECT_ATTACHED);
}

void lbpf_unregisterobject(lua_State *L, lbpf_object_t *object)
{
	pushregistered(L);
	lua_pushnil(L);
	lua_rawsetp(L, -2, object);
	lua_pop(L, 1);
}

int lbpf_pushregistered(lua_State *L, lbpf_object_t *object)
{
	int type;

	pushregistered(L);
	type = lua_rawgetp(L, -1, object);
	lua_remove(L, -2);
	return type;
}

void lbpf_releaseregistered(lua_State *L)
{
	lbpf_object_t **objects = NULL;
	size_t n = 0, cap = 0, i;

	pushregistered(L);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lbpf_object_t *object = (lbpf_object_t *)lua_touserdata(L, -2);

		lua_pop(L, 1);
		if (n == cap) {
			lbpf_object_t **v = realloc(objects, (cap = cap ? cap * 2 : 32) * sizeof(*v));

			if (!v)
				break;
			objects = v;
		}
		objects[n++] = lbpf_getobject(object);
	}
	lua_pop(L, 1);
	for (i = 0; i < n; i++) {
		lbpf_unregisterobject(L, objects[i]);
		lbpf_releaseobject(objects[i]);
		lbpf_putobject(objects[i]);
	}
	free(objects);
}
