// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.runtime(script[, opts]) -> rt: a child runtime, as Lunatik's
 * lunatik.runtime. The child has its own lua_State, event loop, ring buffer
 * and limits, and runs on its parent's thread: the parent's loop watches the
 * child's loop and runs the child's callbacks (probes, timers, tasks) when
 * they are due, so the child lives in `lbpf run` and in a lbpfd policy alike.
 *
 * The protocol. The child's main chunk is a coroutine that starts suspended:
 *   rt:resume(...)          runs it until it yields or returns; the first
 *                           resume's values are the chunk's `...`, the next
 *                           ones are what coroutine.yield() returns in it;
 *                           returns what the child yields or returns.
 *   coroutine.yield(...)    in the chunk: hands values back to rt:resume.
 * Values are copied (value.h): nil, booleans, numbers, strings, tables of
 * those, and shareable objects (lbpf.metric), which are shared. An error in
 * the chunk stops the child and raises in the parent with the child's
 * traceback. After the chunk returned, the child keeps running what it
 * attached until it has nothing left (then it ends by itself) or rt:stop().
 *   rt:status() -> "suspended" | "running" | "idle" | "stopped", code
 *   rt:stop()   stops the child (on_exit handlers run, everything it
 *               attached is released); rt:close() is the same.
 * rt belongs to its parent (it cannot cross runtimes). The child is locked
 * (lbpf_runtime_lock) whenever the parent runs it, parent first, then child.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "value.h"

struct lruntime {
	lbpf_runtime_t *child;     /* NULL once stopped */
	lbpf_runtime_t *parent;
	lbpf_object_t *object;
	lua_State *co;             /* the chunk, in the child; NULL once it ended */
	int co_ref;
	int pending;               /* values the chunk yielded, still on co */
	int fd;                    /* the child's loop, watched by the parent's; -1 */
	bool holding;              /* the parent's loop is held for the child */
	bool running;              /* inside rt:resume */
	int exit_code;             /* the child's, once stopped */
	char *name;
};

static const lbpf_class_t runtime_class;

LBPF_PRIVATECHECKER(checkruntime, struct lruntime, &runtime_class)

/* Frees the child: its on_exit handlers run, its objects are released. */
static void runtime_end(struct lruntime *r)
{
	lbpf_runtime_t *child = r->child;

	if (!child)
		return;
	r->child = NULL;
	r->co = NULL;
	if (r->fd >= 0)
		lbpf_loop_del(lbpf_runtime_getloop(r->parent), r->fd);
	r->fd = -1;
	if (r->holding)
		lbpf_loop_hold(lbpf_runtime_getloop(r->parent), -1);
	r->holding = false;
	if (!lbpf_runtime_closing(r->parent))
		lbpf_unregisterobject(lbpf_runtime_state(r->parent), r->object);
	r->exit_code = lbpf_runtime_free(child);
}

/* After the child ran: the parent's loop stays alive while the child has
 * work; a child that stopped, or has nothing left and no chunk to resume,
 * ends. Returns false when it ended. */
static bool settle(struct lruntime *r)
{
	lbpf_runtime_t *child = r->child;
	bool stopping = lbpf_runtime_stopping(child);
	bool ready = lbpf_sched_has_ready(lbpf_runtime_sched(child));
	bool alive = !stopping && (ready || lbpf_loop_alive(lbpf_runtime_getloop(child)));

	if (ready && !stopping)
		lbpf_loop_wake(lbpf_runtime_getloop(child)); /* the parent comes back */
	if (alive != r->holding)
		lbpf_loop_hold(lbpf_runtime_getloop(r->parent), alive ? 1 : -1);
	r->holding = alive;
	if (stopping || (!alive && !r->co)) {
		runtime_end(r);
		return false;
	}
	return true;
}

/* The parent's loop saw the child's loop ready. */
static void drive(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	struct lruntime *r = arg;
	lua_State *L = lbpf_runtime_state(r->child);

	lbpf_runtime_lock(r->child);
	lua_pushcfunction(L, lbpf_runtime_turn);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		lbpf_log(r->child, "stopping: %s", lua_tostring(L, -1));
		lbpf_runtime_exit(r->child, 1);
		lua_pop(L, 1);
	}
	lbpf_runtime_unlock(r->child);
	settle(r);
}

/* ---- values across ---- */

struct values {
	struct lbpf_value **v;
	int n;
};

static void values_free(struct values *vs)
{
	for (int i = 0; i < vs->n; i++)
		lbpf_value_put(vs->v[i]);
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

/* Copies L[first .. first+n-1]; never raises. 0 or -errno with err set,
 * naming the value as "<what> #i". */
static int values_from(lua_State *L, int first, int n, struct values *vs, const char *what,
		       char *err, size_t len)
{
	char why[400];

	vs->n = 0;
	vs->v = n ? calloc(n, sizeof(*vs->v)) : NULL;
	if (n && !vs->v)
		return snprintf(err, len, "out of memory"), -ENOMEM;
	for (; vs->n < n; vs->n++) {
		vs->v[vs->n] = lbpf_value_new(L, first + vs->n, why, sizeof(why));
		if (!vs->v[vs->n]) {
			snprintf(err, len, "%s #%d: %s", what, vs->n + 1, why);
			values_free(vs);
			return -EINVAL;
		}
	}
	return 0;
}

/* Pushes the values onto L; LUA_OK, or an error with its message on top. */
static int values_push(lua_State *L, const struct values *vs)
{
	int i, status;

	if (!lua_checkstack(L, vs->n + 2))
		return LUA_ERRMEM;
	for (i = 0; i < vs->n; i++) {
		status = lbpf_value_push(L, vs->v[i]);
		if (status != LUA_OK) {
			lua_insert(L, -(i + 1)); /* the message below the values pushed */
			lua_pop(L, i);
			return status;
		}
	}
	return LUA_OK;
}

/* ---- rt:resume ---- */

struct outcome {
	struct values out;         /* what the chunk yielded or returned */
	char error[4096];          /* the chunk's error with its traceback, or "" */
};

/* The chunk ended: drop its coroutine. */
static void chunk_ended(struct lruntime *r, lua_State *cL)
{
	luaL_unref(cL, LUA_REGISTRYINDEX, r->co_ref);
	r->co = NULL;
	r->pending = 0;
}

static int traceback_protected(lua_State *L)
{
	luaL_traceback(L, lua_touserdata(L, 1), lua_tostring(L, 2), 0);
	return 1;
}

/* Copies the chunk's error into o->error, with a traceback unless the child
 * has no memory left for one. */
static void chunk_error(struct lruntime *r, lua_State *cL, struct outcome *o)
{
	const char *msg = lua_tostring(r->co, -1);

	if (!msg)
		msg = "(an error object that is not a string)";
	snprintf(o->error, sizeof(o->error), "%s", msg);
	if (!lua_checkstack(cL, 4) || !lua_checkstack(r->co, 1))
		return;
	lua_pushcfunction(cL, traceback_protected);
	lua_pushlightuserdata(cL, r->co);
	lua_pushvalue(r->co, -1);
	lua_xmove(r->co, cL, 1);
	if (lua_pcall(cL, 2, 1, 0) == LUA_OK && lua_tostring(cL, -1))
		snprintf(o->error, sizeof(o->error), "%s", lua_tostring(cL, -1));
	lua_pop(cL, 1);
}

/* Runs the chunk with the values `in`, under the child's lock. */
static void resume_locked(struct lruntime *r, const struct values *in, struct outcome *o)
{
	lua_State *cL = lbpf_runtime_state(r->child), *co = r->co;
	int status, nres = 0, top = lua_gettop(cL);

	lua_pop(co, r->pending);
	r->pending = 0;
	status = values_push(cL, in);
	if (status != LUA_OK || !lua_checkstack(co, in->n + 1)) {
		snprintf(o->error, sizeof(o->error), "passing values: %s",
			 status == LUA_OK || !lua_tostring(cL, -1) ? "out of memory" :
			 lua_tostring(cL, -1));
		lua_settop(cL, top);
		return;
	}
	lua_xmove(cL, co, in->n);
	lbpf_runtime_arm_limit(r->child, co);
	status = lua_resume(co, cL, in->n, &nres);
	lua_sethook(co, NULL, 0, 0);
	if (status == LUA_OK || status == LUA_YIELD) {
		if (values_from(co, lua_gettop(co) - nres + 1, nres, &o->out,
				status == LUA_OK ? "returned value" : "yielded value", o->error,
				sizeof(o->error)) < 0)
			lbpf_runtime_exit(r->child, 1);
		r->pending = nres;
		if (status == LUA_OK)
			chunk_ended(r, cL);
	} else if (lua_touserdata(co, -1) == &lbpf_exit_sentinel) {
		chunk_ended(r, cL); /* lbpf.exit() in the chunk */
	} else {
		chunk_error(r, cL, o);
		chunk_ended(r, cL);
		lbpf_runtime_exit(r->child, 1);
	}
}

/* rt:resume(...) -> the values the child yields or returns */
static int runtime_resume(lua_State *L)
{
	struct lruntime *r = checkruntime(L, 1);
	struct outcome *o;
	struct values in;
	char err[512];
	int status;

	if (!r->child)
		return luaL_error(L, "runtime %s is stopped", r->name);
	if (r->running)
		return luaL_error(L, "runtime %s is running already", r->name);
	if (!r->co)
		return luaL_error(L, "runtime %s: its chunk has returned; nothing to resume", r->name);
	o = lua_newuserdatauv(L, sizeof(*o), 0); /* freed by the GC, even if we raise */
	memset(o, 0, sizeof(*o));
	if (values_from(L, 2, lua_gettop(L) - 2, &in, "argument", err, sizeof(err)) < 0)
		return luaL_error(L, "runtime %s: resume: %s", r->name, err);
	r->running = true;
	lbpf_runtime_lock(r->child);
	resume_locked(r, &in, o);
	lbpf_runtime_unlock(r->child);
	r->running = false;
	values_free(&in);
	settle(r);
	if (!o->error[0] && !r->child && r->exit_code)
		snprintf(o->error, sizeof(o->error), "exited with code %d", r->exit_code);
	if (o->error[0]) {
		values_free(&o->out);
		return luaL_error(L, "runtime %s: %s", r->name, o->error);
	}
	status = values_push(L, &o->out);
	in.n = o->out.n;
	values_free(&o->out);
	if (status != LUA_OK)
		return lua_error(L);
	return in.n;
}

/* rt:status() -> "suspended" | "running" | "idle" | "stopped", and for a
 * stopped child its exit code */
static int runtime_status(lua_State *L)
{
	struct lruntime *r = checkruntime(L, 1);

	lua_pushstring(L, !r->child ? "stopped" : r->running ? "running" : r->co ? "suspended"
				: "idle");
	if (r->child)
		return 1;
	lua_pushinteger(L, r->exit_code);
	return 2;
}

/* rt:stop() */
static int runtime_stop(lua_State *L)
{
	runtime_end(checkruntime(L, 1));
	return 0;
}

static void runtime_release(void *private)
{
	struct lruntime *r = private;

	runtime_end(r);
	free(r->name);
}

/* ---- lbpf.runtime ---- */

struct setup {
	const char *script;        /* a file, or the code */
	bool code;
	const char *name;
	struct lruntime *r;
};

/* In the child: loads the chunk into a new coroutine; the script's folder
 * goes first in package.path, as for any script. */
static int child_setup(lua_State *L)
{
	struct setup *s = lua_touserdata(L, 1);
	int status;

	if (s->code)
		status = luaL_loadbuffer(L, s->script, strlen(s->script), s->name);
	else
		status = luaL_loadfile(L, s->script);
	if (status != LUA_OK)
		return lua_error(L);
	if (!s->code) {
		const char *slash = strrchr(s->script, '/');

		lua_getglobal(L, "package");
		lua_pushlstring(L, s->script, slash ? (size_t)(slash - s->script + 1) : 0);
		lua_pushfstring(L, "%s?.lua;%s?/init.lua;", lua_tostring(L, -1),
				lua_tostring(L, -1));
		lua_getfield(L, -3, "path");
		lua_concat(L, 2);
		lua_setfield(L, -3, "path");
		lua_pop(L, 2);
	}
	s->r->co = lua_newthread(L);
	lua_insert(L, -2);
	lua_xmove(L, s->r->co, 1);
	s->r->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* A file as given, else a module name searched in package.path. */
static const char *find_script(lua_State *L, const char *script)
{
	struct stat st;

	if (stat(script, &st) == 0 || strchr(script, '/'))
		return script;
	lua_getglobal(L, "package");
	lua_getfield(L, -1, "searchpath");
	lua_pushstring(L, script);
	lua_getfield(L, -3, "path");
	lua_call(L, 2, 2);
	if (lua_isnil(L, -2))
		luaL_error(L, "runtime: no script '%s'%s", script, lua_tostring(L, -1));
	return lua_tostring(L, -2);
}

/* The child's options: the parent's limits and log, unless opts say. */
static lbpf_runtime_opts_t child_options(lua_State *L, int ix, const char *name)
{
	lbpf_runtime_opts_t o = *lbpf_runtime_options(lbpf_toruntime(L));
	size_t bytes;

	o.name = name;
	o.argc = 0;
	o.argv = NULL;
	o.signals = false;
	o.pin_dir = NULL; /* its filters would collide with the parent's pins */
	o.parent = lbpf_toruntime(L); /* its metrics and lost events are the parent's too */
	if (lua_getfield(L, ix, "memory") == LUA_TSTRING) {
		luaL_argcheck(L, !lbpf_parse_size(lua_tostring(L, -1), &bytes) && bytes >= 65536, ix,
			      "memory: a size of at least 64K, e.g. \"16M\"");
		o.memory_limit = bytes;
	} else if (!lua_isnil(L, -1)) {
		lua_Integer n = luaL_checkinteger(L, -1);

		luaL_argcheck(L, n >= 65536, ix, "memory: at least 65536 bytes");
		o.memory_limit = n;
	}
	if (lua_getfield(L, ix, "instructions") != LUA_TNIL) {
		lua_Integer n = luaL_checkinteger(L, -1);

		luaL_argcheck(L, n >= 0, ix, "instructions: 0 (no limit) or more");
		o.instruction_limit = n;
	}
	lua_pop(L, 2);
	return o;
}

/* Makes the child and its chunk; raises with the child's error. */
static void runtime_create(lua_State *L, struct lruntime *r, struct setup *s,
			   const lbpf_runtime_opts_t *o)
{
	char msg[4096];
	lua_State *cL;
	int err;

	err = lbpf_runtime_new(&r->child, NULL, o);
	if (err) {
		snprintf(msg, sizeof(msg), "%s", lbpf_runtime_error(r->child) ?
			 lbpf_runtime_error(r->child) : strerror(-err));
		lbpf_runtime_free(r->child);
		r->child = NULL;
		luaL_error(L, "runtime %s: %s", r->name, msg);
	}
	cL = lbpf_runtime_state(r->child);
	lbpf_runtime_lock(r->child);
	lua_pushcfunction(cL, child_setup);
	lua_pushlightuserdata(cL, s);
	err = lua_pcall(cL, 1, 0, 0);
	if (err != LUA_OK) {
		snprintf(msg, sizeof(msg), "%s", lua_tostring(cL, -1));
		lua_settop(cL, 0);
	}
	lbpf_runtime_unlock(r->child);
	if (err != LUA_OK) {
		runtime_end(r);
		luaL_error(L, "runtime %s: %s", r->name, msg);
	}
}

/* lbpf.runtime(script[, {code=, name=, memory=, instructions=}]) -> rt.
 * script is a file, a module name (package.path), or with code=true the
 * chunk's source. */
static int runtime_new(lua_State *L)
{
	const char *script = luaL_checkstring(L, 1);
	struct setup s = { .script = script };
	lbpf_runtime_opts_t o;
	lbpf_object_t *object;
	struct lruntime *r;

	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		s.code = lua_getfield(L, 2, "code") != LUA_TNIL && lua_toboolean(L, -1);
		s.name = lua_getfield(L, 2, "name") == LUA_TNIL ? NULL : luaL_checkstring(L, -1);
	} else {
		lua_settop(L, 1);
		lua_newtable(L);
	}
	if (!s.code)
		s.script = find_script(L, script);
	if (!s.name)
		s.name = s.code ? "=(runtime)" : s.script;
	o = child_options(L, 2, s.name[0] == '=' ? s.name + 1 : s.name);
	object = lbpf_newobject(L, &runtime_class, sizeof(*r));
	r = object->private;
	r->object = object;
	r->parent = lbpf_toruntime(L);
	r->fd = -1;
	r->co_ref = LUA_NOREF;
	if (!(r->name = strdup(o.name)))
		return luaL_error(L, "out of memory");
	s.r = r;
	runtime_create(L, r, &s, &o);
	r->fd = lbpf_loop_fd(lbpf_runtime_getloop(r->child));
	lbpf_try(L, lbpf_loop_add(lbpf_runtime_getloop(r->parent), r->fd, LBPF_READ, false, drive,
				  r));
	lbpf_registerobject(L, -1, object); /* lives until stopped or ended */
	return 1;
}

static const luaL_Reg runtime_methods[] = {
	{ "resume", runtime_resume },
	{ "status", runtime_status },
	{ "stop", runtime_stop },
	{ NULL, NULL },
};

static const lbpf_class_t runtime_class = {
	.name = "lbpf.runtime",
	.methods = runtime_methods,
	.release = runtime_release,
	.opt = LBPF_OPT_SINGLE,
};

static const luaL_Reg runtime_lib[] = {
	{ "runtime", runtime_new },
	{ NULL, NULL },
};

static const lbpf_class_t *const runtime_classes[] = { &runtime_class, NULL };

LBPF_NEWLIB(runtime, runtime_lib, runtime_classes)
