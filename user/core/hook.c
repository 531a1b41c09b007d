// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * One Lua hook per thread, shared by lbpf and the script.
 *
 * Lua has one hook slot per thread. lbpf needs a count hook (the instruction
 * limit, Ctrl-C in a callback that spins), and a script may set its own with
 * debug.sethook, as it can under lua5.4. Here both live in that one slot:
 * the C hook below runs lbpf's count check and then the script's hook, with
 * the count the slot needs for both. debug.sethook and debug.gethook are
 * replaced by versions that keep the script's hook in a table of this file,
 * so debug.gethook returns what the script set, never "external hook".
 *
 * The owner (runtime.c) registers its check with lbpf_hooks_open and puts
 * the merged hook back on a thread with lbpf_hooks_install; this file calls
 * nothing above it.
 */
#include <string.h>

#include "internal.h"

struct lbpf_hooks {
	lbpf_count_hook fn; /* lbpf's check, every `count` instructions */
	int count;          /* 0: lbpf has no hook */
	bool scripts;       /* a script hook was ever set: look them up */
};

/* A script's hook on one thread; the function is the user value. */
struct script_hook {
	int mask;  /* LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT */
	int count; /* the script's count, when LUA_MASKCOUNT */
	int left;  /* instructions until its next count event */
};

static const char hooks_key = 'h';   /* registry: struct lbpf_hooks */
static const char scripts_key = 's'; /* registry: thread -> struct script_hook (weak keys) */

static struct lbpf_hooks *get_hooks(lua_State *L)
{
	struct lbpf_hooks *h;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &hooks_key);
	h = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return h;
}

/* Pushes the script hook of thread co onto L and returns it, or pushes
 * nothing and returns NULL. */
static struct script_hook *push_script(lua_State *L, lua_State *co)
{
	struct script_hook *sh;

	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &scripts_key) != LUA_TTABLE) {
		lua_pop(L, 1);
		return NULL;
	}
	lua_pushthread(co);
	if (co != L)
		lua_xmove(co, L, 1);
	lua_rawget(L, -2);
	lua_remove(L, -2);
	sh = lua_touserdata(L, -1);
	if (!sh)
		lua_pop(L, 1);
	return sh;
}

/* Calls the script's hook function as Lua's own hookf does: with the event
 * name and the current line (or nil). */
static void call_script(lua_State *L, lua_Debug *ar)
{
	static const char *const names[] = { "call", "return", "line", "count", "tail call" };

	lua_getiuservalue(L, -1, 1);
	lua_remove(L, -2);
	if (lua_type(L, -1) != LUA_TFUNCTION) {
		lua_pop(L, 1);
		return;
	}
	lua_pushstring(L, names[ar->event]);
	if (ar->currentline >= 0)
		lua_pushinteger(L, ar->currentline);
	else
		lua_pushnil(L);
	lua_call(L, 2, 0);
}

/* The event's mask bit (a tail call is a call). */
static int event_mask(int event)
{
	switch (event) {
	case LUA_HOOKCALL: case LUA_HOOKTAILCALL: return LUA_MASKCALL;
	case LUA_HOOKRET: return LUA_MASKRET;
	case LUA_HOOKLINE: return LUA_MASKLINE;
	default: return LUA_MASKCOUNT;
	}
}

/* The C hook of every thread: lbpf's check on count events, then the
 * script's hook when the event is one it asked for. */
static void dispatch(lua_State *L, lua_Debug *ar)
{
	struct lbpf_hooks *h = get_hooks(L);
	int n = lua_gethookcount(L);
	struct script_hook *sh;

	if (!h)
		return;
	if (ar->event == LUA_HOOKCOUNT && h->count)
		h->fn(L, n);
	if (!h->scripts || !(sh = push_script(L, L)))
		return;
	if (!(sh->mask & event_mask(ar->event))) {
		lua_pop(L, 1);
		return;
	}
	if (ar->event == LUA_HOOKCOUNT) {
		sh->left -= n;
		if (sh->left > 0) {
			lua_pop(L, 1);
			return;
		}
		sh->left = sh->count;
	}
	if (ar->currentline < 0 && ar->event == LUA_HOOKLINE)
		lua_getinfo(L, "l", ar);
	call_script(L, ar);
}

/* Sets co's hook slot to what lbpf and co's script hook (sh, may be NULL)
 * need together. */
static void install(lua_State *co, const struct lbpf_hooks *h, struct script_hook *sh)
{
	int mask = h->count ? LUA_MASKCOUNT : 0, count = h->count;

	if (sh) {
		mask |= sh->mask;
		if (sh->mask & LUA_MASKCOUNT) {
			count = count && count < sh->count ? count : sh->count;
			sh->left = sh->count;
		}
	}
	lua_sethook(co, mask ? dispatch : NULL, mask, count);
}

void lbpf_hooks_install(struct lbpf_hooks *h, lua_State *co)
{
	struct script_hook *sh = NULL;

	if (!h)
		return;
	if (!h->scripts && lua_gethookcount(co) == h->count &&
	    lua_gethook(co) == (h->count ? dispatch : NULL))
		return; /* already there: the common case, one per callback */
	if (h->scripts)
		sh = push_script(co, co);
	install(co, h, sh);
	if (sh)
		lua_pop(co, 1);
}

void lbpf_hooks_forget(lua_State *co)
{
	struct lbpf_hooks *h = get_hooks(co);

	if (!h || !h->scripts)
		return;
	lua_rawgetp(co, LUA_REGISTRYINDEX, &scripts_key);
	lua_pushthread(co);
	lua_pushnil(co);
	lua_rawset(co, -3);
	lua_pop(co, 1);
	install(co, h, NULL);
}

static int make_mask(const char *s, int count)
{
	int mask = 0;

	if (strchr(s, 'c'))
		mask |= LUA_MASKCALL;
	if (strchr(s, 'r'))
		mask |= LUA_MASKRET;
	if (strchr(s, 'l'))
		mask |= LUA_MASKLINE;
	if (count > 0)
		mask |= LUA_MASKCOUNT;
	return mask;
}

/* The thread argument of debug.sethook/gethook, as ldblib.c's getthread:
 * *arg is 1 when the first argument is a thread. */
static lua_State *hook_thread(lua_State *L, int *arg)
{
	if (lua_isthread(L, 1)) {
		*arg = 1;
		return lua_tothread(L, 1);
	}
	*arg = 0;
	return L;
}

/* debug.sethook([thread,] hook, mask [, count]): as lua5.4's, chained with
 * lbpf's own hook instead of replacing it. */
static int hooks_sethook(lua_State *L)
{
	int arg, mask = 0, count = 0;
	lua_State *co = hook_thread(L, &arg);
	struct lbpf_hooks *h = get_hooks(L);
	struct script_hook *sh = NULL;

	if (!lua_isnoneornil(L, arg + 1)) {
		const char *smask = luaL_checkstring(L, arg + 2);

		luaL_checktype(L, arg + 1, LUA_TFUNCTION);
		count = (int)luaL_optinteger(L, arg + 3, 0);
		mask = make_mask(smask, count);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &scripts_key);
	lua_pushthread(co);
	if (co != L)
		lua_xmove(co, L, 1);
	if (mask) {
		sh = lua_newuserdatauv(L, sizeof(*sh), 1);
		*sh = (struct script_hook){ .mask = mask, .count = count, .left = count };
		lua_pushvalue(L, arg + 1);
		lua_setiuservalue(L, -2, 1);
		h->scripts = true;
	} else {
		lua_pushnil(L);
	}
	lua_rawset(L, -3);
	install(co, h, sh);
	return 0;
}

/* debug.gethook([thread]): the script's hook function, mask and count, or
 * fail when it set none (lbpf's own hook is not the script's business). */
static int hooks_gethook(lua_State *L)
{
	int arg;
	lua_State *co = hook_thread(L, &arg);
	struct script_hook *sh = push_script(L, co);
	char smask[4] = "", *p = smask;

	if (!sh) {
		luaL_pushfail(L);
		return 1;
	}
	if (sh->mask & LUA_MASKCALL)
		*p++ = 'c';
	if (sh->mask & LUA_MASKRET)
		*p++ = 'r';
	if (sh->mask & LUA_MASKLINE)
		*p++ = 'l';
	*p = '\0';
	lua_getiuservalue(L, -1, 1);
	lua_pushstring(L, smask);
	lua_pushinteger(L, sh->mask & LUA_MASKCOUNT ? sh->count : 0);
	return 3;
}

struct lbpf_hooks *lbpf_hooks_open(lua_State *L, lbpf_count_hook fn, int count)
{
	struct lbpf_hooks *h = lua_newuserdatauv(L, sizeof(*h), 0);

	*h = (struct lbpf_hooks){ .fn = fn, .count = count > 0 ? count : 0 };
	lua_rawsetp(L, LUA_REGISTRYINDEX, &hooks_key);
	lua_newtable(L); /* thread -> script hook, weak keys */
	lua_newtable(L);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &scripts_key);
	if (lua_getglobal(L, "debug") == LUA_TTABLE) {
		lua_pushcfunction(L, hooks_sethook);
		lua_setfield(L, -2, "sethook");
		lua_pushcfunction(L, hooks_gethook);
		lua_setfield(L, -2, "gethook");
	}
	lua_pop(L, 1);
	install(L, h, NULL);
	return h;
}
