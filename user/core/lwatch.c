// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.watch(fd, "r"|"w"|"rw", fn): plain descriptors (pipes, sockets) in the
 * loop. fd is an integer or a Lua file (io.open, io.popen); the file is kept
 * alive while watched. fn(watcher, "r"|"w"|"hup") runs as a task. After
 * "hup" (the peer closed, nothing left to read) the watcher stops itself.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lbpf/lbpf.h>

struct watcher {
	lbpf_runtime_t *rt;
	lbpf_object_t *object;
	int fd;                    /* -1 once stopped */
	int fn_ref;
	int file_ref;              /* the Lua file, if one was given */
};

static const lbpf_class_t watcher_class;

LBPF_PRIVATECHECKER(checkwatcher, struct watcher, &watcher_class)

static void watcher_stop(lua_State *L, struct watcher *w)
{
	if (w->fd < 0)
		return;
	lbpf_loop_del(lbpf_runtime_getloop(w->rt), w->fd);
	w->fd = -1;
	if (L)
		lbpf_unregisterobject(L, w->object);
}

static void watcher_fire(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	struct watcher *w = arg;
	lua_State *L = lbpf_runtime_state(w->rt);
	const char *what = events & LBPF_READ ? "r" : events & LBPF_WRITE ? "w" : "hup";

	lbpf_pushref(L, w->fn_ref);
	lbpf_pushregistered(L, w->object);
	lua_pushstring(L, what);
	if (!(events & (LBPF_READ | LBPF_WRITE)))
		watcher_stop(L, w); /* the ud stays alive on the stack */
	lbpf_call(L, 2);
}

static int checkfd(lua_State *L, int ix)
{
	luaL_Stream *file = luaL_testudata(L, ix, LUA_FILEHANDLE);

	if (file) {
		luaL_argcheck(L, file->closef && file->f, ix, "file is closed");
		return fileno(file->f);
	}
	lua_Integer fd = luaL_checkinteger(L, ix);

	luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, ix, "not a file descriptor");
	return (int)fd;
}

/* lbpf.watch(fd_or_file, "r"|"w"|"rw", fn) -> watcher */
static int watch_new(lua_State *L)
{
	int fd = checkfd(L, 1);
	const char *mode = luaL_checkstring(L, 2);
	int events = (strchr(mode, 'r') ? LBPF_READ : 0) | (strchr(mode, 'w') ? LBPF_WRITE : 0);
	lbpf_object_t *object;
	struct watcher *w;
	int err;

	luaL_argcheck(L, events && strspn(mode, "rw") == strlen(mode), 2, "expected \"r\", \"w\" or \"rw\"");
	luaL_checktype(L, 3, LUA_TFUNCTION);
	object = lbpf_newobject(L, &watcher_class, sizeof(*w));
	w = object->private;
	*w = (struct watcher){ lbpf_toruntime(L), object, -1, LUA_NOREF, LUA_NOREF };
	err = lbpf_loop_add(lbpf_runtime_getloop(w->rt), fd, events, true, watcher_fire, w);
	if (err == -EPERM)
		lbpf_throw(L, err, "watch fd %d (regular files and directories cannot be watched)", fd);
	if (err == -EEXIST)
		lbpf_throw(L, err, "watch fd %d (already watched)", fd);
	if (err)
		lbpf_throw(L, err, "watch fd %d", fd);
	w->fd = fd;
	lua_pushvalue(L, 3);
	w->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (lua_type(L, 1) == LUA_TUSERDATA) {
		lua_pushvalue(L, 1);
		w->file_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lbpf_registerobject(L, -1, object);
	return 1;
}

/* watcher:cancel() -> true if it was watching */
static int watcher_cancel(lua_State *L)
{
	struct watcher *w = checkwatcher(L, 1);
	bool active = w->fd >= 0;

	watcher_stop(L, w);
	lua_pushboolean(L, active);
	return 1;
}

/* watcher:fd() -> the descriptor, or nil once stopped */
static int watcher_fd(lua_State *L)
{
	struct watcher *w = checkwatcher(L, 1);

	if (w->fd < 0)
		return 0;
	lua_pushinteger(L, w->fd);
	return 1;
}

static void watcher_release(void *private)
{
	struct watcher *w = private;
	lua_State *L = lbpf_runtime_state(w->rt);

	watcher_stop(NULL, w);
	if (lbpf_runtime_closing(w->rt))
		return;
	luaL_unref(L, LUA_REGISTRYINDEX, w->fn_ref);
	luaL_unref(L, LUA_REGISTRYINDEX, w->file_ref);
}

static const luaL_Reg watcher_methods[] = {
	{ "cancel", watcher_cancel },
	{ "fd", watcher_fd },
	{ NULL, NULL },
};

static const lbpf_class_t watcher_class = {
	.name = "lbpf.watcher",
	.methods = watcher_methods,
	.release = watcher_release,
	.opt = LBPF_OPT_SINGLE,
};

static const luaL_Reg watch_lib[] = {
	{ "watch", watch_new },
	{ NULL, NULL },
};

static const lbpf_class_t *const watch_classes[] = { &watcher_class, NULL };

LBPF_NEWLIB(watch, watch_lib, watch_classes)
