// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The sandbox of a runtime that must not be root (lbpf_runtime_opts_t.
 * sandboxed: lbpfd's policies unless root loaded them trusted). What stays
 * of the standard library: the base functions without dofile, loadfile and
 * warn, load of source only, string, table, math, utf8, coroutine, os.clock,
 * os.date, os.difftime, os.time, debug.traceback, and require limited to
 * package.preload and lbpf's own lua/ folder (source only). No io, no
 * process (os.execute, os.exit, os.getenv...), no native code
 * (package.loadlib, C searchers), no debug hooks or upvalues. In lbpf:
 * lbpf.watch is refused (a sandbox has no descriptor of its own, and those
 * of lbpfd are not its to watch), and lbpf.runtime starts a child from
 * source or from one of lbpf's modules, never from a file the script names;
 * the child inherits the flag, so it is sandboxed too.
 *
 * Applied in place once `lbpf` is loaded: the tables are the ones
 * package.loaded holds, and what is taken out is reachable from nowhere.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static const char *const kept_globals[] = {
	"_G", "_VERSION", "arg", "assert", "collectgarbage", "coroutine", "debug", "error",
	"getmetatable", "ipairs", "lbpf", "load", "math", "next", "os", "package", "pairs",
	"pcall", "print", "rawequal", "rawget", "rawlen", "rawset", "require", "select",
	"setmetatable", "string", "table", "tonumber", "tostring", "type", "utf8", "xpcall",
	NULL,
};
static const char *const kept_os[] = { "clock", "date", "difftime", "time", NULL };
static const char *const kept_debug[] = { "traceback", NULL };
static const char *const kept_package[] = { "config", "loaded", "path", "preload", "searchers",
					     NULL };

static bool listed(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

/* Clears every field of the table at ix whose key is not a listed name. */
static void keep_only(lua_State *L, int ix, const char *const *names)
{
	ix = lua_absindex(L, ix);
	lua_pushnil(L);
	while (lua_next(L, ix)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING || !listed(names, lua_tostring(L, -1))) {
			lua_pushvalue(L, -1);
			lua_pushnil(L);
			lua_rawset(L, ix); /* clearing a field during lua_next is allowed */
		}
	}
}

/* Trims the global library name (and package.loaded[name], the same table). */
static void keep_only_lib(lua_State *L, const char *name, const char *const *names)
{
	if (lua_getglobal(L, name) == LUA_TTABLE)
		keep_only(L, -1, names);
	lua_pop(L, 1);
}

/* A module name as require takes it: [A-Za-z0-9_-] parts joined by '.',
 * into file with '/' for '.'; false for anything else (a path, "..", "").
 * The result stays inside the folder it is appended to. */
static bool module_file(const char *name, char *file, size_t size)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= size || name[0] == '.' || name[n - 1] == '.' || strstr(name, ".."))
		return false;
	if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return false;
	for (i = 0; i <= n; i++)
		file[i] = name[i] == '.' ? '/' : name[i];
	return true;
}

/* LUADIR/FILE.lua or LUADIR/FILE/init.lua, the first that is a regular
 * file, into path; false when neither is. */
static bool module_path(const char *luadir, const char *file, char *path, size_t size)
{
	static const char *const patterns[] = { "%s/%s.lua", "%s/%s/init.lua" };
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		snprintf(path, size, patterns[i], luadir, file);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return true;
	}
	return false;
}

/* package.searchers[2] in a sandbox: the module from lbpf's lua/ folder
 * (upvalue 1), loaded as source; else why not, as searchers say it. */
static int sandbox_searcher(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1), *luadir = lua_tostring(L, lua_upvalueindex(1));
	char file[256], path[PATH_MAX];

	if (!module_file(name, file, sizeof(file)) ||
	    !module_path(luadir, file, path, sizeof(path))) {
		lua_pushfstring(L, "no module '%s' in %s (a sandboxed policy requires only "
				"lbpf's own modules, by name)", name, luadir);
		return 1;
	}
	if (luaL_loadfilex(L, path, "t") != LUA_OK)
		return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, path,
				  lua_tostring(L, -1));
	lua_pushstring(L, path);
	return 2;
}

/* load in a sandbox: the original (upvalue 1) in mode "t"; a mode with "b"
 * raises, since bytecode can break the VM. */
static int sandbox_load(lua_State *L)
{
	int n = lua_gettop(L);
	const char *mode;

	lua_settop(L, n < 3 ? 3 : n);
	mode = luaL_optstring(L, 3, "t");
	luaL_argcheck(L, !strchr(mode, 'b'), 3,
		      "a sandboxed policy loads source only, not bytecode");
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_pushliteral(L, "t");
	if (n >= 4) /* an env given as nil is not the same as none */
		lua_pushvalue(L, 4);
	lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
	return lua_gettop(L) - (n < 3 ? 3 : n);
}

/* lbpf.watch in a sandbox. */
static int sandbox_watch(lua_State *L)
{
	return luaL_error(L, "lbpf.watch: not available to a sandboxed policy (it has no file "
			  "descriptors of its own to watch)");
}

/* lbpf.runtime in a sandbox: the original (upvalue 2) with the chunk's
 * source (code = true, not bytecode) or one of lbpf's modules from lbpf's
 * lua/ folder (upvalue 1); never a file the script names. */
static int sandbox_runtime(lua_State *L)
{
	const char *script = luaL_checkstring(L, 1), *luadir = lua_tostring(L, lua_upvalueindex(1));
	char file[256], path[PATH_MAX];
	bool code = false;

	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_getfield(L, 2, "code");
		code = lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	if (code) {
		luaL_argcheck(L, script[0] != LUA_SIGNATURE[0], 1,
			      "a sandboxed policy starts children from source, not bytecode");
	} else if (module_file(script, file, sizeof(file)) &&
		   module_path(luadir, file, path, sizeof(path))) {
		lua_pushstring(L, path);
		lua_replace(L, 1);
	} else {
		return luaL_error(L, "runtime: a sandboxed policy starts a child from source "
				  "(lbpf.runtime(code, {code = true})) or from one of lbpf's "
				  "modules in %s, not from '%s'", luadir, script);
	}
	lua_pushvalue(L, lua_upvalueindex(2));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* Sets field of lbpf and of package.loaded[lib] to the function on top
 * (popped). */
static void replace_lbpf(lua_State *L, const char *lib, const char *field)
{
	lua_getglobal(L, "lbpf");
	lua_pushvalue(L, -2);
	lua_setfield(L, -2, field);
	lua_pop(L, 1);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	if (lua_getfield(L, -1, lib) == LUA_TTABLE) {
		lua_pushvalue(L, -3);
		lua_setfield(L, -2, field);
	}
	lua_pop(L, 3);
}

/* require: package.preload, then lbpf's lua/ folder; nothing else. */
static void restrict_package(lua_State *L, const char *luadir)
{
	lua_getglobal(L, "package");
	keep_only(L, -1, kept_package);
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua", luadir, luadir);
	lua_setfield(L, -2, "path"); /* what the searcher looks at, for the reader */
	lua_getfield(L, -1, "searchers");
	lua_pushstring(L, luadir);
	lua_pushcclosure(L, sandbox_searcher, 1);
	lua_rawseti(L, -2, 2);
	lua_pushnil(L);
	lua_rawseti(L, -2, 4);
	lua_pushnil(L);
	lua_rawseti(L, -2, 3);
	lua_pop(L, 1);
	/* the libraries that are gone must not come back with require */
	lua_getfield(L, -1, "loaded");
	lua_pushnil(L);
	lua_setfield(L, -2, "io");
	lua_pop(L, 2);
}

int lbpf_sandbox(lua_State *L, const char *luadir)
{
	lua_pushglobaltable(L);
	keep_only(L, -1, kept_globals);
	lua_pop(L, 1);
	keep_only_lib(L, "os", kept_os);
	keep_only_lib(L, "debug", kept_debug);
	restrict_package(L, luadir);
	lua_getglobal(L, "load");
	lua_pushcclosure(L, sandbox_load, 1);
	lua_setglobal(L, "load");
	lua_pushcfunction(L, sandbox_watch);
	replace_lbpf(L, "lbpf.watch", "watch");
	lua_pushstring(L, luadir);
	lua_getglobal(L, "lbpf");
	lua_getfield(L, -1, "runtime");
	lua_remove(L, -2);
	lua_pushcclosure(L, sandbox_runtime, 2);
	replace_lbpf(L, "lbpf.runtime", "runtime");
	return 0;
}
