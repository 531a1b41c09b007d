// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.after(ms, fn) and lbpf.every(ms, fn): timers on the loop's heap.
 * Deadlines are absolute monotonic nanoseconds; a periodic timer's next
 * deadline is its previous one plus the period, so it does not drift. A
 * timer is registered (kept alive) while armed; fn runs as a task, and
 * every's fn receives its timer.
 */
#include <lbpf/lbpf.h>

struct timer {
	lbpf_timer_node_t node;
	lbpf_runtime_t *rt;
	lbpf_object_t *object;
	uint64_t period;           /* 0 for after() */
	int fn_ref;
	lua_Integer fired;
	lua_Integer missed;        /* periods skipped because the loop was late */
};

static const lbpf_class_t timer_class;

LBPF_PRIVATECHECKER(checktimer, struct timer, &timer_class)

static void timer_fire(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct timer *t = container_of(node, struct timer, node);
	lua_State *L = lbpf_runtime_state(t->rt);

	t->fired++;
	lbpf_pushregistered(L, t->object); /* keeps it alive through the call */
	if (t->period) {
		uint64_t next = node->deadline + t->period, now = lbpf_now();

		if (next <= now) { /* late: skip whole periods, keep the phase */
			uint64_t skip = (now - next) / t->period + 1;

			t->missed += skip;
			next += skip * t->period;
		}
		lbpf_loop_timer_at(loop, node, next);
	} else {
		lbpf_unregisterobject(L, t->object);
	}
	lbpf_pushref(L, t->fn_ref);
	/* every's callback gets its timer; after's gets nothing, so that
	 * lbpf.after(ms, lbpf.exit) reads as it should */
	if (t->period) {
		lua_insert(L, -2);
		lbpf_call(L, 1);
	} else {
		lbpf_call(L, 0);
		lua_pop(L, 1); /* the timer, kept alive through the call */
	}
}

static int timer_new(lua_State *L, bool periodic)
{
	lua_Number ms = luaL_checknumber(L, 1);
	lbpf_runtime_t *rt = lbpf_toruntime(L);
	lbpf_object_t *object;
	struct timer *t;
	uint64_t ns;
	int err;

	luaL_argcheck(L, periodic ? ms > 0 : ms >= 0, 1,
		      periodic ? "period must be > 0 ms" : "delay must be >= 0 ms");
	luaL_argcheck(L, ms < 1e12, 1, "delay too large");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	ns = (uint64_t)(ms * 1e6);
	object = lbpf_newobject(L, &timer_class, sizeof(*t));
	t = object->private;
	t->rt = rt;
	t->object = object;
	t->node.fn = timer_fire;
	t->period = periodic ? (ns ? ns : 1) : 0;
	lua_pushvalue(L, 2);
	t->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	err = lbpf_loop_timer_at(lbpf_runtime_getloop(rt), &t->node, lbpf_now() + (periodic ? t->period : ns));
	if (err)
		lbpf_throw(L, err, "arm timer");
	lbpf_registerobject(L, -1, object);
	return 1;
}

/* lbpf.after(ms, fn) -> timer: fn() once, ms from now */
static int timer_after(lua_State *L)
{
	return timer_new(L, false);
}

/* lbpf.every(ms, fn) -> timer: fn(timer) every ms, first in ms */
static int timer_every(lua_State *L)
{
	return timer_new(L, true);
}

/* timer:cancel() -> true if it was armed */
static int timer_cancel(lua_State *L)
{
	struct timer *t = checktimer(L, 1);
	bool armed = lbpf_timer_armed(&t->node);

	lbpf_loop_timer_cancel(lbpf_runtime_getloop(t->rt), &t->node);
	lbpf_unregisterobject(L, t->object);
	lua_pushboolean(L, armed);
	return 1;
}

/* timer:stats() -> {fired=, missed=, armed=} */
static int timer_stats(lua_State *L)
{
	struct timer *t = checktimer(L, 1);

	lua_createtable(L, 0, 3);
	lua_pushinteger(L, t->fired);
	lua_setfield(L, -2, "fired");
	lua_pushinteger(L, t->missed);
	lua_setfield(L, -2, "missed");
	lua_pushboolean(L, lbpf_timer_armed(&t->node));
	lua_setfield(L, -2, "armed");
	return 1;
}

static void timer_release(void *private)
{
	struct timer *t = private;

	lbpf_loop_timer_cancel(lbpf_runtime_getloop(t->rt), &t->node);
	if (!lbpf_runtime_closing(t->rt))
		luaL_unref(lbpf_runtime_state(t->rt), LUA_REGISTRYINDEX, t->fn_ref);
}

static const luaL_Reg timer_methods[] = {
	{ "cancel", timer_cancel },
	{ "stats", timer_stats },
	{ NULL, NULL },
};

static const lbpf_class_t timer_class = {
	.name = "lbpf.timer",
	.methods = timer_methods,
	.release = timer_release,
	.opt = LBPF_OPT_SINGLE,
};

static const luaL_Reg timer_lib[] = {
	{ "after", timer_after },
	{ "every", timer_every },
	{ NULL, NULL },
};

static const lbpf_class_t *const timer_classes[] = { &timer_class, NULL };

LBPF_NEWLIB(timer, timer_lib, timer_classes)
