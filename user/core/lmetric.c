// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.metric.counter(name, help) and lbpf.metric.gauge(name, help): metrics a
 * policy declares; lbpfd --metrics serves them with a policy="NAME" label.
 * Under `lbpf run` they work and are simply not exported.
 *   c:inc([n])  c:add(n)          counters only go up
 *   g:set(v)    g:add(n)  g:inc([n])
 *   m:value()
 */
#include <math.h>

#include <lbpf/lbpf.h>

#include "metric.h"

static const lbpf_class_t metric_class;

LBPF_PRIVATECHECKER(checkmetric, struct lbpf_metric, &metric_class)

static double checkdelta(lua_State *L, struct lbpf_metric *m, int ix, double fallback)
{
	double n = luaL_optnumber(L, ix, fallback);

	luaL_argcheck(L, isfinite(n), ix, "a finite number expected");
	luaL_argcheck(L, m->type != LBPF_METRIC_COUNTER || n >= 0, ix,
		      "a counter only goes up (use a gauge)");
	return n;
}

/* m:inc([n = 1]) */
static int metric_inc(lua_State *L)
{
	struct lbpf_metric *m = checkmetric(L, 1);

	lbpf_metric_add(m, checkdelta(L, m, 2, 1));
	return 0;
}

/* m:add(n) */
static int metric_add(lua_State *L)
{
	struct lbpf_metric *m = checkmetric(L, 1);

	luaL_checknumber(L, 2);
	lbpf_metric_add(m, checkdelta(L, m, 2, 0));
	return 0;
}

/* g:set(v): gauges only */
static int metric_set(lua_State *L)
{
	struct lbpf_metric *m = checkmetric(L, 1);
	double v = luaL_checknumber(L, 2);

	luaL_argcheck(L, m->type == LBPF_METRIC_GAUGE, 1, "set() is for gauges; counters use inc()");
	luaL_argcheck(L, isfinite(v), 2, "a finite number expected");
	lbpf_metric_set(m, v);
	return 0;
}

/* m:value() -> number */
static int metric_value(lua_State *L)
{
	lua_pushnumber(L, lbpf_metric_value(checkmetric(L, 1)));
	return 1;
}

static void metric_release(void *private)
{
	lbpf_metric_free(private);
}

static int metric_new(lua_State *L, enum lbpf_metric_type type)
{
	const char *name = luaL_checkstring(L, 1);
	const char *help = luaL_optstring(L, 2, "");
	lbpf_object_t *object = lbpf_newobject(L, &metric_class, 0);

	object->private = lbpf_metric_new(lbpf_toruntime(L), name, help, type);
	if (!object->private && errno == EINVAL)
		luaL_argerror(L, 1, "not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
	if (!object->private && errno == EEXIST)
		luaL_error(L, "metric %s is declared already", name);
	if (!object->private)
		lbpf_throw(L, -errno, "metric %s", name);
	/* declared metrics stay until the runtime ends */
	lbpf_registerobject(L, -1, object);
	return 1;
}

static int metric_counter(lua_State *L) { return metric_new(L, LBPF_METRIC_COUNTER); }
static int metric_gauge(lua_State *L) { return metric_new(L, LBPF_METRIC_GAUGE); }

static const luaL_Reg metric_methods[] = {
	{ "inc", metric_inc },
	{ "add", metric_add },
	{ "set", metric_set },
	{ "value", metric_value },
	{ NULL, NULL },
};

/* Shareable: values are atomic, so child runtimes and other policies may
 * update a metric through lbpf.shared or rt:resume; it is still exported
 * under the runtime that declared it, and closed when that runtime ends. */
static const lbpf_class_t metric_class = {
	.name = "lbpf.metric",
	.methods = metric_methods,
	.release = metric_release,
	.opt = LBPF_OPT_MONITOR | LBPF_OPT_EXTERNAL,
};

static const luaL_Reg metric_lib[] = {
	{ "counter", metric_counter },
	{ "gauge", metric_gauge },
	{ NULL, NULL },
};

/* The binding's table is {metric = {counter, gauge}}, merged as lbpf.metric. */
int luaopen_lbpf_metric(lua_State *L);
int luaopen_lbpf_metric(lua_State *L)
{
	lbpf_pushclass(L, &metric_class);
	lua_pop(L, 1);
	lua_newtable(L);
	luaL_newlib(L, metric_lib);
	lua_setfield(L, -2, "metric");
	return 1;
}
