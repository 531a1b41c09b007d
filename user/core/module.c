// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The `lbpf` module: the scheduler's functions, the clocks, exit, and every
 * library in the registry (registry.c, sorted by name) merged into one flat
 * table (lbpf.after, lbpf.tracepoint, ...). Each library is also
 * package.loaded["lbpf.<name>"]. The module registers itself, so that the
 * runtime preloads it without naming it: it sits above the runtime.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* lbpf.now() -> monotonic ns (integer), the clock of BPF's ktime */
static int lbpf_now_l(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)lbpf_now());
	return 1;
}

/* lbpf.time() -> realtime seconds (float) */
static int lbpf_time_l(lua_State *L)
{
	lua_pushnumber(L, lbpf_time());
	return 1;
}

/* lbpf.exit([code]): stops the loop and unwinds the running code */
static int lbpf_exit_l(lua_State *L)
{
	lua_Integer code = luaL_optinteger(L, 1, 0);

	luaL_argcheck(L, code >= 0 && code <= 255, 1, "exit code must be 0..255");
	lbpf_runtime_exit(lbpf_toruntime(L), (int)code);
	lua_pushlightuserdata(L, &lbpf_exit_sentinel);
	return lua_error(L);
}

static const luaL_Reg core_lib[] = {
	{ "now", lbpf_now_l },
	{ "time", lbpf_time_l },
	{ "exit", lbpf_exit_l },
	{ "on_exit", lbpf_runtime_on_exit },
	{ NULL, NULL },
};

/* Copies every field of the table at the top into lbpf (at ix). */
static void merge(lua_State *L, int ix, const char *name)
{
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		if (lua_rawget(L, ix) != LUA_TNIL)
			luaL_error(L, "binding %s redefines lbpf.%s", name, lua_tostring(L, -3));
		lua_pop(L, 1);
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, ix);
	}
}

/* Opens one library as lbpf.<name> and merges it into lbpf (at ix). */
static void open_lib(lua_State *L, int ix, const char *name, lua_CFunction open)
{
	char modname[64];

	snprintf(modname, sizeof(modname), "lbpf.%s", name);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_pushcfunction(L, open);
	lua_call(L, 0, 1);
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, modname);
	merge(L, ix, name);
	lua_pop(L, 2);
}

/* require "lbpf": the core's functions, then every registered library. */
int luaopen_lbpf(lua_State *L)
{
	const lbpf_lib_t *lib;
	int ix;

	luaL_newlib(L, core_lib);
	ix = lua_gettop(L);
	lua_pushliteral(L, LBPF_VERSION);
	lua_setfield(L, ix, "version");
	open_lib(L, ix, "task", luaopen_lbpf_task);
	for (lib = lbpf_libraries(); lib; lib = lib->next)
		open_lib(L, ix, lib->name, lib->open);
	return 1;
}

static lbpf_lib_t lbpf_module = { .name = "lbpf", .open = luaopen_lbpf };

/* Before main: every runtime preloads the registered modules. */
__attribute__((constructor)) static void register_lbpf(void)
{
	lbpf_register_module(&lbpf_module);
}
