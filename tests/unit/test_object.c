// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Unit tests of the object model (user/core/object.c): references, the one release,
 * close and <close>, closed handles, monitors, external data, sharing between
 * runtimes, the registry helpers, lbpf_throw and LBPF_NEWLIB. No root needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "../../user/core/internal.h"

/* ---- test classes ---- */

struct thing {
	lua_Integer value;
};

static int releases;             /* release() calls of every test class */
static void *last_released;

static void count_release(void *private)
{
	releases++;
	last_released = private;
}

static const lbpf_class_t thing_class, monitor_class, single_class, external_class;

LBPF_PRIVATECHECKER(checkthing, struct thing, &thing_class)
/* the unguarded checker: relies on lbpf_checkobject alone */
LBPF_OBJECTCHECKER(peekthing, struct thing, &thing_class)

/* thing:get() -> value */
static int thing_get(lua_State *L)
{
	lua_pushinteger(L, checkthing(L, 1)->value);
	return 1;
}

/* thing:peek() -> value, through LBPF_OBJECTCHECKER */
static int thing_peek(lua_State *L)
{
	lua_pushinteger(L, peekthing(L, 1)->value);
	return 1;
}

static const luaL_Reg thing_methods[] = {
	{ "get", thing_get },
	{ "peek", thing_peek },
	{ NULL, NULL },
};

static const lbpf_class_t thing_class = {
	.name = "unittest.thing",
	.methods = thing_methods,
	.release = count_release,
};

/* A second thread's view of an object's mutex: trylock's result. */
static void *trylock_thread(void *arg)
{
	lbpf_object_t *object = arg;
	int rc = pthread_mutex_trylock(&object->mutex);

	if (rc == 0)
		pthread_mutex_unlock(&object->mutex);
	return (void *)(intptr_t)rc;
}

static int trylock_elsewhere(lbpf_object_t *object)
{
	pthread_t th;
	void *rc;

	if (pthread_create(&th, NULL, trylock_thread, object))
		return -1;
	pthread_join(th, &rc);
	return (int)(intptr_t)rc;
}

/* monitor:locked() -> true when another thread finds the mutex held */
static int monitor_locked(lua_State *L)
{
	lbpf_object_t *object = lbpf_checkobject(L, 1, &monitor_class);

	lua_pushboolean(L, trylock_elsewhere(object) == EBUSY);
	return 1;
}

static int monitor_fail(lua_State *L)
{
	return luaL_error(L, "monitor failure %d", 42);
}

/* monitor:incr(): a read-modify-write that races unless serialised */
static int monitor_incr(lua_State *L)
{
	struct thing *t = lbpf_checkobject(L, 1, &monitor_class)->private;
	lua_Integer v = t->value;
	volatile int spin;

	for (spin = 0; spin < 200; spin++) /* widens the race window */
		;
	t->value = v + 1;
	return 0;
}

static int monitor_get(lua_State *L)
{
	lua_pushinteger(L, ((struct thing *)lbpf_checkobject(L, 1, &monitor_class)->private)->value);
	return 1;
}

static const luaL_Reg monitor_methods[] = {
	{ "locked", monitor_locked },
	{ "fail", monitor_fail },
	{ "incr", monitor_incr },
	{ "get", monitor_get },
	{ NULL, NULL },
};

static const lbpf_class_t monitor_class = {
	.name = "unittest.monitor",
	.methods = monitor_methods,
	.release = count_release,
	.opt = LBPF_OPT_MONITOR,
};

/* any:get() -> value of any test object */
static int any_get(lua_State *L)
{
	lua_pushinteger(L, ((struct thing *)lbpf_checkobject(L, 1, NULL)->private)->value);
	return 1;
}

static const luaL_Reg single_methods[] = {
	{ "get", any_get },
	{ NULL, NULL },
};

static const lbpf_class_t single_class = {
	.name = "unittest.single",
	.methods = single_methods,
	.release = count_release,
	.opt = LBPF_OPT_SINGLE,
};

static const lbpf_class_t external_class = {
	.name = "unittest.external",
	.release = count_release,
	.opt = LBPF_OPT_EXTERNAL,
};

/* make(kind, value) -> object */
static int make(lua_State *L)
{
	static const lbpf_class_t *const classes[] = { &thing_class, &monitor_class, &single_class };
	static const char *const kinds[] = { "thing", "monitor", "single", NULL };
	const lbpf_class_t *class = classes[luaL_checkoption(L, 1, "thing", kinds)];
	lua_Integer value = luaL_optinteger(L, 2, 0);
	lbpf_object_t *object = lbpf_newobject(L, class, sizeof(struct thing));

	((struct thing *)object->private)->value = value;
	return 1;
}

/* clone(obj) -> a second handle in the same runtime */
static int clone_here(lua_State *L)
{
	lbpf_cloneobject(L, lbpf_checkobject(L, 1, NULL));
	return 1;
}

static const luaL_Reg unittest_lib[] = {
	{ "make", make },
	{ "clone", clone_here },
	{ NULL, NULL },
};

static const lbpf_class_t *const unittest_classes[] = { &thing_class, &monitor_class, NULL };

LBPF_NEWLIB(unittest, unittest_lib, unittest_classes)

/* ---- helpers ---- */

/* A runtime with make() and clone() as globals. */
static lbpf_runtime_t *runtime(void)
{
	lbpf_runtime_opts_t opts = { .name = "test_object" };
	lbpf_runtime_t *rt = NULL;
	int err = lbpf_runtime_new(&rt, NULL, &opts);

	if (!CHECK(err == 0, "lbpf_runtime_new: %s", strerror(-err))) {
		lbpf_runtime_free(rt);
		return NULL;
	}
	lua_pushcfunction(lbpf_runtime_state(rt), make);
	lua_setglobal(lbpf_runtime_state(rt), "make");
	lua_pushcfunction(lbpf_runtime_state(rt), clone_here);
	lua_setglobal(lbpf_runtime_state(rt), "clone");
	return rt;
}

/* Runs code; returns NULL or its error message (valid until the next call). */
static const char *dolua(lua_State *L, const char *code)
{
	static char msg[512];

	if (luaL_dostring(L, code) == LUA_OK) {
		lua_settop(L, 0);
		return NULL;
	}
	snprintf(msg, sizeof(msg), "%s", lua_tostring(L, -1));
	lua_settop(L, 0);
	return msg;
}

/* Runs code that must succeed, failing the test otherwise. */
#define LUA_OK_(L, code)                                                       \
	({                                                                     \
		const char *unit_e_ = dolua((L), (code));                      \
		CHECK(unit_e_ == NULL, "%s: %s", (code), unit_e_);             \
	})

/* The error message of code, which must raise. */
static const char *lua_error_of(lua_State *L, const char *code)
{
	const char *e = dolua(L, code);

	CHECK(e != NULL, "expected an error from: %s", code);
	return e ? e : "";
}

static void collect(lua_State *L)
{
	lua_gc(L, LUA_GCCOLLECT);
	lua_gc(L, LUA_GCCOLLECT);
}

/* ---- tests ---- */

/* create/get/put count references; the last put releases once. */
static void refcount_create_get_put(void)
{
	lbpf_object_t *o = lbpf_createobject(&thing_class, sizeof(struct thing));
	struct thing zero = { 0 };
	void *private;

	releases = 0;
	if (!CHECK(o != NULL))
		return;
	private = o->private;
	CHECK(atomic_load(&o->refs) == 1);
	CHECK(private && !memcmp(private, &zero, sizeof(zero)), "private data is zeroed");
	CHECK(o->owner == NULL, "a C-created object has no owner runtime");
	CHECK(lbpf_getobject(o) == o);
	CHECK(atomic_load(&o->refs) == 2);
	lbpf_putobject(o);
	CHECK(atomic_load(&o->refs) == 1 && releases == 0, "released early");
	lbpf_putobject(o);
	CHECK(releases == 1 && last_released == private, "last put releases once");
	lbpf_putobject(NULL);
	CHECK(lbpf_getobject(NULL) == NULL);
}

/* Dropping the last Lua handle releases at collection, once. */
static void release_once_by_gc(void)
{
	lbpf_runtime_t *rt = runtime();
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	releases = 0;
	LUA_OK_(L, "x = make('thing', 7); y = x");
	collect(L);
	CHECK(releases == 0, "released while reachable");
	LUA_OK_(L, "x = nil; y = nil");
	collect(L);
	CHECK(releases == 1, "releases=%d after gc", releases);
	collect(L);
	CHECK(releases == 1, "released twice");
	lbpf_runtime_free(rt);
	CHECK(releases == 1);
}

/* A C holder keeps the object after Lua lets go; its put releases once. */
static void release_once_by_c_holder(void)
{
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *held;
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	releases = 0;
	LUA_OK_(L, "x = make('thing', 7)");
	lua_getglobal(L, "x");
	held = lbpf_getobject(lbpf_checkobject(L, -1, &thing_class));
	lua_pop(L, 1);
	LUA_OK_(L, "x = nil");
	collect(L);
	CHECK(releases == 0, "released while a C holder has a reference");
	CHECK(((struct thing *)held->private)->value == 7);
	lbpf_putobject(held);
	CHECK(releases == 1, "releases=%d after the holder's put", releases);

	/* close releases at once even though C holds a reference; the put
	 * after it frees without a second release */
	LUA_OK_(L, "x = make('thing', 8)");
	lua_getglobal(L, "x");
	held = lbpf_getobject(lbpf_checkobject(L, -1, &thing_class));
	lua_pop(L, 1);
	LUA_OK_(L, "x:close()");
	CHECK(releases == 2, "close did not release");
	CHECK(atomic_load(&held->released) && held->private == NULL);
	lbpf_putobject(held);
	collect(L);
	CHECK(releases == 2, "released twice");
	lbpf_runtime_free(rt);
}

/* obj:close() releases at once, is idempotent, and GC does not repeat it. */
static void release_once_by_close(void)
{
	lbpf_runtime_t *rt = runtime();
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	releases = 0;
	LUA_OK_(L, "x = make('thing', 1); x:close()");
	CHECK(releases == 1, "close did not release");
	LUA_OK_(L, "x:close(); x:close()");
	LUA_OK_(L, "x = nil");
	collect(L);
	CHECK(releases == 1, "releases=%d", releases);
	lbpf_runtime_free(rt);
	CHECK(releases == 1);
}

/* A <close> variable releases when its scope ends, also by an error. */
static void release_once_by_close_variable(void)
{
	lbpf_runtime_t *rt = runtime();
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	releases = 0;
	LUA_OK_(L, "do local x <close> = make('thing', 1) end");
	CHECK(releases == 1, "scope end did not release (releases=%d)", releases);
	CHECK_CONTAINS(lua_error_of(L, "local x <close> = make('thing', 1); error('boom')"), "boom");
	CHECK(releases == 2, "error exit did not release (releases=%d)", releases);
	collect(L);
	CHECK(releases == 2, "released twice");
	lbpf_runtime_free(rt);
}

/* Methods on a closed object raise "closed" through any handle; no crash. */
static void closed_object_methods_raise(void)
{
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *o;
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	LUA_OK_(L, "a = make('thing', 5); b = clone(a); assert(a:get() == 5 and b:peek() == 5)");
	LUA_OK_(L, "a:close()");
	CHECK_CONTAINS(lua_error_of(L, "return a:get()"), "closed");
	CHECK_CONTAINS(lua_error_of(L, "return a:peek()"), "closed");
	/* the second handle still holds a reference to the released object */
	CHECK_CONTAINS(lua_error_of(L, "return b:get()"), "closed");
	CHECK_CONTAINS(lua_error_of(L, "return b:peek()"), "closed");
	CHECK_CONTAINS(lua_error_of(L, "return clone(b)"), "closed");
	LUA_OK_(L, "assert(tostring(a):find('closed'), tostring(a))");
	LUA_OK_(L, "assert(tostring(b):find('closed'), tostring(b))");
	LUA_OK_(L, "b:close()");

	/* released from C while Lua holds the only handle */
	LUA_OK_(L, "c = make('thing', 6)");
	lua_getglobal(L, "c");
	o = lbpf_checkobject(L, -1, &thing_class);
	lua_pop(L, 1);
	lbpf_releaseobject(o);
	CHECK_CONTAINS(lua_error_of(L, "return c:get()"), "closed");
	CHECK_CONTAINS(lua_error_of(L, "return c:peek()"), "closed");

	/* a method on the wrong kind of value raises a type error */
	CHECK_CONTAINS(lua_error_of(L, "local d = make('thing'); return d.get(42)"),
		       "unittest.thing expected");
	CHECK_CONTAINS(lua_error_of(L, "local d = make('thing'); return d.get(io.stdout)"),
		       "unittest.thing expected");
	CHECK_CONTAINS(lua_error_of(L, "local d = make('thing'); return d.get(make('monitor'))"),
		       "unittest.thing expected");
	lbpf_runtime_free(rt);
}

/* lbpf_testobject/lbpf_checkobject tell objects, other values and closed ones apart. */
static void test_and_check_object(void)
{
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *o;
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	LUA_OK_(L, "x = make('thing', 1); closed = make('thing'); closed:close()");
	lua_getglobal(L, "x");
	o = lbpf_testobject(L, -1);
	CHECK(o != NULL && o->class == &thing_class && o->owner == rt);
	CHECK(lbpf_checkobject(L, -1, NULL) == o);
	CHECK(lbpf_checkobject(L, -1, &thing_class) == o);
	lua_pushinteger(L, 3);
	CHECK(lbpf_testobject(L, -1) == NULL, "a number is not an object");
	lua_getglobal(L, "io");
	lua_getfield(L, -1, "stdout");
	CHECK(lbpf_testobject(L, -1) == NULL, "a Lua file is not an object");
	lua_getglobal(L, "closed");
	CHECK(lbpf_testobject(L, -1) == NULL, "a closed object is not live");
	lua_settop(L, 0);
	LUA_OK_(L, "assert(tostring(x):match('^unittest%.thing %(0x%x+%)$'), tostring(x))");
	lbpf_runtime_free(rt);
}


/* Monitor methods run under the object's mutex, and an error unlocks it. */
static void monitor_methods_run_locked(void)
{
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *o;
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	LUA_OK_(L, "m = make('monitor', 1)");
	lua_getglobal(L, "m");
	o = lbpf_checkobject(L, -1, &monitor_class);
	lua_pop(L, 1);
	CHECK(trylock_elsewhere(o) == 0, "the mutex is held outside a method");
	LUA_OK_(L, "assert(m:locked(), 'method ran without the lock')");
	CHECK_CONTAINS(lua_error_of(L, "m:fail()"), "monitor failure 42");
	CHECK(trylock_elsewhere(o) == 0, "an error left the mutex locked");
	/* a failed argument check inside the monitor also unlocks */
	CHECK_CONTAINS(lua_error_of(L, "m.locked(make('thing'))"), "unittest.monitor expected");
	CHECK(trylock_elsewhere(o) == 0, "a type error left the mutex locked");
	LUA_OK_(L, "m:close()");
	CHECK_CONTAINS(lua_error_of(L, "m:locked()"), "closed");
	lbpf_runtime_free(rt);
}

struct hammer {
	lbpf_runtime_t *rt;
	const char *err;
	pthread_barrier_t *start;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	pthread_barrier_wait(h->start); /* both threads at once */
	h->err = dolua(lbpf_runtime_state(h->rt), "for i = 1, 50000 do m:incr() end");
	return NULL;
}

static int clone_into(lua_State *L)
{
	lbpf_cloneobject(L, lua_touserdata(L, 1));
	return 1;
}

/* Pushes a handle of object into L2 (or the error) and returns the status. */
static int clone_in(lua_State *L2, lbpf_object_t *object)
{
	lua_pushcfunction(L2, clone_into);
	lua_pushlightuserdata(L2, object);
	return lua_pcall(L2, 1, 1, 0);
}

/* A monitor shared by two runtimes on two threads serialises its methods. */
static void monitor_shared_by_threads(void)
{
	lbpf_runtime_t *rt1 = runtime(), *rt2 = runtime();
	pthread_barrier_t start;
	struct hammer h1 = { rt1, NULL, &start }, h2 = { rt2, NULL, &start };
	pthread_t t1, t2;
	lbpf_object_t *o;

	if (!rt1 || !rt2)
		goto out;
	LUA_OK_(lbpf_runtime_state(rt1), "m = make('monitor', 0)");
	lua_getglobal(lbpf_runtime_state(rt1), "m");
	o = lbpf_checkobject(lbpf_runtime_state(rt1), -1, &monitor_class);
	lua_pop(lbpf_runtime_state(rt1), 1);
	if (!CHECK(clone_in(lbpf_runtime_state(rt2), o) == LUA_OK))
		goto out;
	lua_setglobal(lbpf_runtime_state(rt2), "m");
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&t1, NULL, hammer_thread, &h1);
	pthread_create(&t2, NULL, hammer_thread, &h2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_barrier_destroy(&start);
	CHECK(!h1.err && !h2.err, "%s %s", h1.err ? h1.err : "", h2.err ? h2.err : "");
	CHECK(((struct thing *)o->private)->value == 100000, "lost updates: %lld of 100000",
	      (long long)((struct thing *)o->private)->value);
out:
	lbpf_runtime_free(rt1);
	lbpf_runtime_free(rt2);
}

/* EXTERNAL private data is given to release() and never freed. */
static void external_private_not_freed(void)
{
	static struct thing outside = { 99 };
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *o = lbpf_createobject(&external_class, 0);
	lua_State *L;

	releases = 0;
	if (!CHECK(o != NULL && o->private == NULL, "size 0 gives no private data"))
		goto out;
	o->private = &outside;
	lbpf_putobject(o); /* free(&outside) would abort under ASan or glibc */
	CHECK(releases == 1 && last_released == &outside);
	CHECK(outside.value == 99);
	if (!rt)
		goto out;
	L = lbpf_runtime_state(rt);
	o = lbpf_newobject(L, &external_class, 0);
	o->private = &outside;
	lua_setglobal(L, "e");
	LUA_OK_(L, "e:close(); e = nil");
	collect(L);
	CHECK(releases == 2 && last_released == &outside && outside.value == 99);
out:
	lbpf_runtime_free(rt);
}

/* SINGLE objects refuse another runtime and accept their own. */
static void single_refuses_foreign_runtime(void)
{
	lbpf_runtime_t *rt1 = runtime(), *rt2 = runtime();
	lua_State *L1, *L2;
	lbpf_object_t *o;

	releases = 0;
	if (!rt1 || !rt2)
		goto out;
	L1 = lbpf_runtime_state(rt1);
	L2 = lbpf_runtime_state(rt2);
	LUA_OK_(L1, "s = make('single', 3)");
	lua_getglobal(L1, "s");
	o = lbpf_checkobject(L1, -1, &single_class);
	lua_pop(L1, 1);
	CHECK(o->owner == rt1);
	CHECK(clone_in(L2, o) != LUA_OK, "a single object was shared");
	CHECK_CONTAINS(lua_tostring(L2, -1), "cannot be shared across runtimes");
	lua_settop(L2, 0);
	CHECK(atomic_load(&o->refs) == 1, "a refused clone kept a reference");
	LUA_OK_(L1, "s2 = clone(s); assert(s2:get() == 3)");
	CHECK(atomic_load(&o->refs) == 2);
	LUA_OK_(L1, "s:close()");
	CHECK(releases == 1);
out:
	lbpf_runtime_free(rt1);
	lbpf_runtime_free(rt2);
	CHECK(releases == 1, "releases=%d", releases);
}

/* A MONITOR object cloned into a second runtime lives until both drop it. */
static void monitor_shared_until_both_drop(void)
{
	lbpf_runtime_t *rt1 = runtime(), *rt2 = runtime();
	lua_State *L1, *L2;
	lbpf_object_t *o;

	releases = 0;
	if (!rt1 || !rt2) {
		lbpf_runtime_free(rt1);
		lbpf_runtime_free(rt2);
		return;
	}
	L1 = lbpf_runtime_state(rt1);
	L2 = lbpf_runtime_state(rt2);
	LUA_OK_(L1, "m = make('monitor', 4)");
	lua_getglobal(L1, "m");
	o = lbpf_checkobject(L1, -1, &monitor_class);
	lua_pop(L1, 1);
	if (CHECK(clone_in(L2, o) == LUA_OK, "%s", lua_tostring(L2, -1)))
		lua_setglobal(L2, "m");
	lua_settop(L2, 0);
	CHECK(atomic_load(&o->refs) == 2);
	lbpf_runtime_free(rt1);
	CHECK(releases == 0, "released while the second runtime holds it");
	LUA_OK_(L2, "assert(m:get() == 4)");
	LUA_OK_(L2, "m = nil");
	collect(L2);
	CHECK(releases == 1, "releases=%d after both dropped it", releases);
	lbpf_runtime_free(rt2);
	CHECK(releases == 1);
}

/* A registered object survives GC without Lua references; unregister lets it go. */
static void register_keeps_alive(void)
{
	lbpf_runtime_t *rt = runtime();
	lbpf_object_t *o;
	lua_State *L;

	releases = 0;
	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	o = lbpf_newobject(L, &thing_class, sizeof(struct thing));
	lbpf_registerobject(L, -1, o);
	lbpf_registerobject(L, -1, o); /* idempotent */
	lua_pop(L, 1);
	collect(L);
	CHECK(releases == 0, "a registered object was collected");
	CHECK(lbpf_pushregistered(L, o) == LUA_TUSERDATA);
	CHECK(lbpf_testobject(L, -1) == o);
	lua_pop(L, 1);
	lbpf_unregisterobject(L, o);
	lbpf_unregisterobject(L, o);
	CHECK(lbpf_pushregistered(L, o) == LUA_TNIL);
	lua_pop(L, 1);
	collect(L);
	CHECK(releases == 1, "unregister did not let it go (releases=%d)", releases);

	/* close() also unregisters */
	o = lbpf_newobject(L, &thing_class, sizeof(struct thing));
	lbpf_registerobject(L, -1, o);
	lua_setglobal(L, "r");
	LUA_OK_(L, "r:close()");
	CHECK(lbpf_pushregistered(L, o) == LUA_TNIL, "close left it registered");
	lua_pop(L, 1);
	lbpf_runtime_free(rt);
}

static int throw_enoent(lua_State *L)
{
	lbpf_throw(L, -ENOENT, "open %s", "/x");
}

static int fail_eperm(void)
{
	return -EPERM;
}

static int try_eperm(lua_State *L)
{
	lbpf_try(L, fail_eperm());
	return 0;
}

/* lbpf_throw and lbpf_try raise "ERRNO: context: strerror". */
static void throw_message_format(void)
{
	lbpf_runtime_t *rt = runtime();
	lua_State *L;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	lua_pushcfunction(L, throw_enoent);
	CHECK(lua_pcall(L, 0, 0, 0) == LUA_ERRRUN);
	CHECK_STR(lua_tostring(L, -1), "ENOENT: open /x: No such file or directory");
	lua_settop(L, 0);
	lua_pushcfunction(L, try_eperm);
	CHECK(lua_pcall(L, 0, 0, 0) == LUA_ERRRUN);
	CHECK_STR(lua_tostring(L, -1), "EPERM: fail_eperm(): Operation not permitted");
	lua_settop(L, 0);
	CHECK_STR(lbpf_errname(-ENOENT), "ENOENT");
	CHECK_STR(lbpf_errname(EPERM), "EPERM");
	CHECK_CONTAINS(lbpf_errname(-9999), "9999");
	lbpf_runtime_free(rt);
}

/* LBPF_NEWLIB and lbpf_pushclass create each class's metatable on first use, per runtime. */
static void newlib_creates_metatables_lazily(void)
{
	lbpf_runtime_t *rt1 = runtime(), *rt2 = runtime();
	lua_State *L1, *L2;

	if (!rt1 || !rt2)
		goto out;
	L1 = lbpf_runtime_state(rt1);
	L2 = lbpf_runtime_state(rt2);
	CHECK(lua_rawgetp(L1, LUA_REGISTRYINDEX, &monitor_class) == LUA_TNIL, "exists too early");
	lua_settop(L1, 0);
	lua_pushcfunction(L1, luaopen_lbpf_unittest);
	if (CHECK(lua_pcall(L1, 0, 1, 0) == LUA_OK)) {
		CHECK(lua_getfield(L1, -1, "make") == LUA_TFUNCTION);
		CHECK(lua_getfield(L1, -2, "clone") == LUA_TFUNCTION);
	}
	lua_settop(L1, 0);
	CHECK(lua_rawgetp(L1, LUA_REGISTRYINDEX, &monitor_class) == LUA_TTABLE, "NEWLIB made no metatable");
	CHECK(lua_getfield(L1, -1, "__name") == LUA_TSTRING);
	CHECK_STR(lua_tostring(L1, -1), "unittest.monitor");
	lua_settop(L1, 0);

	/* the other runtime gets its own metatable when it first needs it */
	CHECK(lua_rawgetp(L2, LUA_REGISTRYINDEX, &external_class) == LUA_TNIL);
	lua_settop(L2, 0);
	lbpf_pushclass(L2, &external_class);
	lbpf_pushclass(L2, &external_class);
	CHECK(lua_istable(L2, -1) && lua_rawequal(L2, -1, -2), "pushclass made two metatables");
	CHECK(lua_getfield(L2, -1, "__index") == LUA_TTABLE);
	CHECK(lua_getfield(L2, -1, "close") == LUA_TFUNCTION, "every class has close()");
	lua_settop(L2, 0);
out:
	lbpf_runtime_free(rt1);
	lbpf_runtime_free(rt2);
}

static int in_thread(lua_State *L)
{
	lua_pushboolean(L, lbpf_toruntime(L) == lua_touserdata(L, lua_upvalueindex(1)));
	return 1;
}

static int add_handler(lua_State *L, int a, int b)
{
	lua_pushinteger(L, a); /* left on the stack: lbpf_run restores it */
	lua_pushinteger(L, b);
	return a + b + (lbpf_toruntime(L) != NULL);
}

/* lbpf_toruntime works from any thread of the state; lbpf_run restores the stack. */
static void toruntime_and_run(void)
{
	lbpf_runtime_t *rt = runtime();
	lua_State *L;
	int ret = 0, top;

	if (!rt)
		return;
	L = lbpf_runtime_state(rt);
	CHECK(lbpf_toruntime(L) == rt);
	lua_pushlightuserdata(L, rt);
	lua_pushcclosure(L, in_thread, 1);
	lua_setglobal(L, "in_thread");
	LUA_OK_(L, "assert(coroutine.wrap(function() return in_thread() end)())");
	top = lua_gettop(L);
	lbpf_run(rt, add_handler, ret, 2, 3);
	CHECK(ret == 6, "ret=%d", ret);
	CHECK(lua_gettop(L) == top, "stack not restored");
	lbpf_runtime_free(rt);
}

UNIT_MAIN("object",
	  UNIT(refcount_create_get_put),
	  UNIT(release_once_by_gc),
	  UNIT(release_once_by_c_holder),
	  UNIT(release_once_by_close),
	  UNIT(release_once_by_close_variable),
	  UNIT(closed_object_methods_raise),
	  UNIT(test_and_check_object),
	  UNIT(monitor_methods_run_locked),
	  UNIT(monitor_shared_by_threads),
	  UNIT(external_private_not_freed),
	  UNIT(single_refuses_foreign_runtime),
	  UNIT(monitor_shared_until_both_drop),
	  UNIT(register_keeps_alive),
	  UNIT(throw_message_format),
	  UNIT(newlib_creates_metatables_lazily),
	  UNIT(toruntime_and_run))
