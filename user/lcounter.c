// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.count_tracepoint("category:name") -> counter: the end-to-end proof of
 * the object model with a real BPF program (bpf/counter.bpf.c) attached to a
 * tracepoint. counter:read() sums the per-CPU slots; counter:detach() (or
 * close, or exit) detaches. An attached counter keeps the loop running.
 */
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <lbpf/lbpf.h>

#include "counter.skel.h"

struct counter {
	lbpf_runtime_t *rt;
	struct counter_bpf *skel;
	struct bpf_link *link;
	char name[128];
};

static const lbpf_class_t counter_class;

LBPF_PRIVATECHECKER(checkcounter, struct counter, &counter_class)

/* Splits "category:name" or "category/name" into buf; NULL if malformed. */
static const char *split_tracepoint(const char *spec, char *buf, size_t size)
{
	size_t n = strcspn(spec, ":/");

	if (!spec[n] || n == 0 || !spec[n + 1] || strlen(spec) >= size || strpbrk(spec + n + 1, ":/"))
		return NULL;
	strcpy(buf, spec);
	buf[n] = '\0';
	return buf + n + 1;
}

static int counter_attach(struct counter *c, const char *category, const char *event)
{
	int err;

	c->skel = counter_bpf__open_and_load();
	if (!c->skel)
		return -errno;
	c->link = bpf_program__attach_tracepoint(c->skel->progs.count_hit, category, event);
	if (!c->link) {
		err = -errno;
		counter_bpf__destroy(c->skel);
		c->skel = NULL;
		return err;
	}
	lbpf_loop_hold(lbpf_runtime_getloop(c->rt), 1);
	return 0;
}

static void counter_detach(struct counter *c)
{
	if (!c->skel)
		return;
	bpf_link__destroy(c->link);
	counter_bpf__destroy(c->skel);
	c->link = NULL;
	c->skel = NULL;
	lbpf_loop_hold(lbpf_runtime_getloop(c->rt), -1);
}

/* lbpf.count_tracepoint("category:name") -> counter */
static int counter_new(lua_State *L)
{
	const char *spec = luaL_checkstring(L, 1);
	char buf[128];
	const char *event = split_tracepoint(spec, buf, sizeof(buf));
	lbpf_object_t *object;
	struct counter *c;
	int err;

	luaL_argcheck(L, event != NULL, 1, "expected \"category:name\"");
	object = lbpf_newobject(L, &counter_class, sizeof(*c));
	c = object->private;
	c->rt = lbpf_toruntime(L);
	snprintf(c->name, sizeof(c->name), "tracepoint:%s:%s", buf, event);
	err = counter_attach(c, buf, event);
	if (err == -ENOENT)
		lbpf_throw(L, err, "attach %s (no such tracepoint; see /sys/kernel/tracing/events)", c->name);
	if (err)
		lbpf_throw(L, err, "attach %s", c->name);
	lbpf_registerobject(L, -1, object);
	return 1;
}

/* counter:read() -> hits summed over CPUs */
static int counter_read(lua_State *L)
{
	struct counter *c = checkcounter(L, 1);
	int ncpu = libbpf_num_possible_cpus(), i, err;
	__u32 key = 0;
	__u64 *values, sum = 0;

	luaL_argcheck(L, c->skel != NULL, 1, "counter is detached");
	values = calloc(ncpu, sizeof(*values));
	if (!values)
		lbpf_throw(L, -ENOMEM, "read %s", c->name);
	err = bpf_map__lookup_elem(c->skel->maps.hits, &key, sizeof(key), values,
				   ncpu * sizeof(*values), 0);
	for (i = 0; !err && i < ncpu; i++)
		sum += values[i];
	free(values);
	if (err)
		lbpf_throw(L, err, "read %s", c->name);
	lua_pushinteger(L, (lua_Integer)sum);
	return 1;
}

/* counter:detach(): idempotent */
static int counter_detach_method(lua_State *L)
{
	struct counter *c = checkcounter(L, 1);

	counter_detach(c);
	lbpf_unregisterobject(L, lbpf_checkobject(L, 1, &counter_class));
	return 0;
}

/* counter:name() -> "tracepoint:category:name" */
static int counter_name(lua_State *L)
{
	lua_pushstring(L, checkcounter(L, 1)->name);
	return 1;
}

static void counter_release(void *private)
{
	counter_detach(private);
}

static const luaL_Reg counter_methods[] = {
	{ "read", counter_read },
	{ "detach", counter_detach_method },
	{ "name", counter_name },
	{ NULL, NULL },
};

static const lbpf_class_t counter_class = {
	.name = "lbpf.counter",
	.methods = counter_methods,
	.release = counter_release,
	.opt = LBPF_OPT_SINGLE,
};

static const luaL_Reg counter_lib[] = {
	{ "count_tracepoint", counter_new },
	{ NULL, NULL },
};

static const lbpf_class_t *const counter_classes[] = { &counter_class, NULL };

LBPF_NEWLIB(counter, counter_lib, counter_classes)
