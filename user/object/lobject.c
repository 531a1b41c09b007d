// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.object(path [, globals]): a BPF object of the user's own (clang
 * -target bpf), for what the built-in programs cannot express. Its globals
 * are set by name before load; obj.maps.NAME are typed views of its maps,
 * obj.progs.NAME attach where their section says or where told, and
 * obj:ringbuf() decodes a ring buffer's records as views of a BTF struct,
 * drained with the runtime's own ring. The object, its maps, programs and
 * links are lbpf objects (registered, released with the runtime); closing
 * the object closes them all.
 */
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "btfvalue_lua.h"
#include "objfile.h"

static const lbpf_class_t object_class, map_class, prog_class, link_class;

/* A ring buffer obj:ringbuf() reads. */
struct ringsub {
	struct lobject *o;
	int id, fn_ref;
	lbpf_callback_t *callback;     /* fn_ref's parked task (on_record) */
	unsigned type;
};

struct lobject {
	lbpf_runtime_t *rt;
	lbpf_object_t *self;
	struct objfile *of;
	int maps_ref, progs_ref;       /* name -> userdata tables */
	lbpf_object_t **children;      /* maps, programs, links: referenced */
	int nchildren;
	struct ringsub **subs;
	int nsubs;
};

struct lmap {
	struct lobject *o;
	struct objfile_map m;
	char what[160];                /* "object x.bpf.o: map counts", for messages */
};

struct lprog {
	struct lobject *o;
	struct bpf_program *prog;
};

struct llink {
	lbpf_runtime_t *rt;
	bool attached;                 /* holds the loop */
	struct objfile_link link;
	char where[160];
};

LBPF_PRIVATECHECKER(checkobj, struct lobject, &object_class)
LBPF_PRIVATECHECKER(checkmap, struct lmap, &map_class)
LBPF_PRIVATECHECKER(checkprog, struct lprog, &prog_class)

/* Raises an engine's error: its message, which names the object. */
static int raise(lua_State *L, const char *msg)
{
	return luaL_error(L, "%s", msg);
}

/* ---- the object's children ---- */

static int add_child(struct lobject *o, lbpf_object_t *child)
{
	lbpf_object_t **v = realloc(o->children, (o->nchildren + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	o->children = v;
	o->children[o->nchildren++] = lbpf_getobject(child);
	return 0;
}

static void object_release(void *private)
{
	struct lobject *o = private;
	lua_State *L = lbpf_runtime_closing(o->rt) ? NULL : lbpf_runtime_state(o->rt);

	for (int i = 0; i < o->nsubs; i++) {
		lbpf_ringbuf_unsubscribe(o->rt, o->subs[i]->id);
		lbpf_loop_hold(lbpf_runtime_getloop(o->rt), -1);
		if (L)
			luaL_unref(L, LUA_REGISTRYINDEX, o->subs[i]->fn_ref);
		lbpf_callback_free(o->subs[i]->callback);
		free(o->subs[i]);
	}
	for (int i = o->nchildren - 1; i >= 0; i--) {
		if (L)
			lbpf_unregisterobject(L, o->children[i]);
		lbpf_releaseobject(o->children[i]);
		lbpf_putobject(o->children[i]);
	}
	if (L) {
		luaL_unref(L, LUA_REGISTRYINDEX, o->maps_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, o->progs_ref);
	}
	free(o->subs);
	free(o->children);
	objfile_close(o->of);
}

static void object_ids(void *private, lbpf_kernel_ids_t *ids)
{
	struct lobject *o = private;
	struct bpf_program *prog = bpf_object__next_program(o->of->obj, NULL);
	struct bpf_map *map;

	ids->prog = prog ? lbpf_bpf_id(bpf_program__fd(prog)) : 0;
	bpf_object__for_each_map(map, o->of->obj)
		if (objfile_map_is_user(map))
			return (void)(ids->map = lbpf_bpf_id(bpf_map__fd(map)));
}

/* ---- tables of names that raise on a name they do not have ---- */

static int names_index(lua_State *L)
{
	return luaL_error(L, "object %s: no %s '%s' (it has: %s)", lua_tostring(L, lua_upvalueindex(1)),
			  lua_tostring(L, lua_upvalueindex(2)), luaL_tolstring(L, 2, NULL),
			  lua_tostring(L, lua_upvalueindex(3)));
}

/* Gives the table on top a metatable whose __index names what there is. */
static void names_seal(lua_State *L, const char *object, const char *kind)
{
	luaL_Buffer b;
	bool first = true;

	luaL_buffinit(L, &b);
	lua_pushnil(L);
	while (lua_next(L, -3)) {
		lua_pop(L, 1);
		if (!first)
			luaL_addstring(&b, ", ");
		luaL_addstring(&b, lua_tostring(L, -1));
		first = false;
	}
	if (first)
		luaL_addstring(&b, "none");
	luaL_pushresult(&b);
	lua_newtable(L);
	lua_pushstring(L, object);
	lua_pushstring(L, kind);
	lua_pushvalue(L, -4);
	lua_pushcclosure(L, names_index, 3);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -3);
	lua_pop(L, 1);
}

/* ---- maps ---- */

/* The bytes of a key or value from the Lua value at ix: by BTF type, or
 * for a map without BTF, an integer or a string of exactly size bytes. */
static void to_bytes(lua_State *L, int ix, struct lmap *m, unsigned type, size_t size,
		     void *out, const char *part)
{
	const struct btf *btf = objfile_btf(m->o->of);
	char what[200];
	size_t len;

	snprintf(what, sizeof(what), "%s: %s", m->what, part);
	if (type && btf) {
		btfvalue_check(L, ix, btf, type, out, size, what);
		return;
	}
	memset(out, 0, size);
	if (lua_isinteger(L, ix) && size <= 8) {
		lua_Integer v = lua_tointeger(L, ix);

		memcpy(out, &v, size);
	} else if (lua_type(L, ix) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, ix, &len);

		if (len != size)
			luaL_error(L, "%s: %d bytes given, the map's are %d bytes", what, (int)len,
				   (int)size);
		memcpy(out, s, len);
	} else {
		luaL_error(L, "%s: expected an integer or a string of %d bytes, got %s", what, (int)size,
			   luaL_typename(L, ix));
	}
}

/* Pushes a key or value from its bytes (a map without BTF: an integer of
 * 1 to 8 bytes, else the bytes). */
static void from_bytes(lua_State *L, struct lmap *m, unsigned type, const void *data, size_t size)
{
	const struct btf *btf = objfile_btf(m->o->of);
	uint64_t v = 0;

	if (type && btf) {
		btfvalue_push(L, btf, type, data, size);
	} else if (size <= 8) {
		memcpy(&v, data, size);
		lua_pushinteger(L, (lua_Integer)v);
	} else {
		lua_pushlstring(L, data, size);
	}
}

static size_t value_stride(const struct lmap *m)
{
	return m->m.ncpus > 1 ? (m->m.value_size + 7) / 8 * 8 : m->m.value_size;
}

/* A buffer for a value (all CPUs'), as a Lua string's memory on the stack. */
static void *value_buffer(lua_State *L, const struct lmap *m)
{
	size_t n = value_stride(m) * m->m.ncpus;
	void *p = lua_newuserdatauv(L, n, 0);

	memset(p, 0, n);
	return p;
}

static void check_usable(lua_State *L, struct lmap *m)
{
	if (m->m.type == BPF_MAP_TYPE_RINGBUF)
		luaL_error(L, "%s is a ring buffer: read it with obj:ringbuf()", m->what);
}

/* Pushes the value in buf: one, or a list of one per CPU. */
static void push_value(lua_State *L, struct lmap *m, const uint8_t *buf)
{
	if (m->m.ncpus == 1) {
		from_bytes(L, m, m->m.value_type, buf, m->m.value_size);
		return;
	}
	lua_createtable(L, m->m.ncpus, 0);
	for (int cpu = 0; cpu < m->m.ncpus; cpu++) {
		from_bytes(L, m, m->m.value_type, buf + cpu * value_stride(m), m->m.value_size);
		lua_rawseti(L, -2, cpu + 1);
	}
}

/* Looks key (at ix) up into a new buffer, left on the stack; false when
 * the map has no such key. */
static bool lookup(lua_State *L, struct lmap *m, int ix, uint8_t **buf)
{
	uint8_t *key = lua_newuserdatauv(L, m->m.key_size, 0);

	check_usable(L, m);
	to_bytes(L, ix, m, m->m.key_type, m->m.key_size, key, "key");
	*buf = value_buffer(L, m);
	if (bpf_map_lookup_elem(m->m.fd, key, *buf) == 0)
		return true;
	if (errno != ENOENT)
		lbpf_throw(L, -errno, "%s: lookup", m->what);
	return false;
}

static int map_get(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	uint8_t *buf;

	if (!lookup(L, m, 2, &buf))
		return lua_pushnil(L), 1;
	push_value(L, m, buf);
	return 1;
}

/* m:view(key): the value as a view of its bytes (a list of views for a
 * per-CPU map), or nil. */
static int map_view(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	const struct btf *btf = objfile_btf(m->o->of);
	unsigned id;
	const struct btf_type *t = btf ? btf__type_by_id(btf, m->m.value_type) : NULL;
	uint8_t *buf;

	t = t ? btf__type_by_id(btf, btf__resolve_type(btf, m->m.value_type)) : NULL;
	if (!t || !btf_is_composite(t))
		return luaL_error(L, "%s: view: the value is no struct or union", m->what);
	id = btf__resolve_type(btf, m->m.value_type);
	if (!lookup(L, m, 2, &buf))
		return lua_pushnil(L), 1;
	if (m->m.ncpus == 1) {
		btfvalue_pushview(L, m->o->self, btf, id, buf, m->m.value_size, true);
		return 1;
	}
	lua_createtable(L, m->m.ncpus, 0);
	for (int cpu = 0; cpu < m->m.ncpus; cpu++) {
		btfvalue_pushview(L, m->o->self, btf, id, buf + cpu * value_stride(m),
				  m->m.value_size, true);
		lua_rawseti(L, -2, cpu + 1);
	}
	return 1;
}

/* A per-CPU map takes a list of one value per CPU, or one value for all. */
static void value_bytes(lua_State *L, struct lmap *m, int ix, uint8_t *buf)
{
	const struct btf *btf = objfile_btf(m->o->of);
	const struct btf_type *t = btf && m->m.value_type ?
		btf__type_by_id(btf, btf__resolve_type(btf, m->m.value_type)) : NULL;
	bool list = m->m.ncpus > 1 && lua_istable(L, ix) && !(t && btf_is_array(t)) &&
		    luaL_len(L, ix) == m->m.ncpus;
	char part[32];

	for (int cpu = 0; cpu < m->m.ncpus; cpu++) {
		snprintf(part, sizeof(part), list ? "value[%d]" : "value", cpu + 1);
		if (list)
			lua_geti(L, ix, cpu + 1);
		to_bytes(L, list ? -1 : ix, m, m->m.value_type, m->m.value_size,
			 buf + cpu * value_stride(m), part);
		if (list)
			lua_pop(L, 1);
	}
}

static int map_delete(lua_State *L);

static int map_set(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	uint8_t *key, *buf;

	if (lua_isnoneornil(L, 3))
		return map_delete(L);
	check_usable(L, m);
	key = lua_newuserdatauv(L, m->m.key_size, 0);
	to_bytes(L, 2, m, m->m.key_type, m->m.key_size, key, "key");
	buf = value_buffer(L, m);
	value_bytes(L, m, 3, buf);
	if (bpf_map_update_elem(m->m.fd, key, buf, BPF_ANY) < 0)
		lbpf_throw(L, -errno, "%s: update%s", m->what,
			   errno == E2BIG ? " (the map is full)" : "");
	return 0;
}

/* m:delete(key) -> true, or false when there was no such key. */
static int map_delete(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	uint8_t *key = lua_newuserdatauv(L, m->m.key_size, 0);

	check_usable(L, m);
	to_bytes(L, 2, m, m->m.key_type, m->m.key_size, key, "key");
	if (bpf_map_delete_elem(m->m.fd, key) == 0)
		return lua_pushboolean(L, 1), 1;
	if (errno == ENOENT)
		return lua_pushboolean(L, 0), 1;
	if (errno == EINVAL && (m->m.type == BPF_MAP_TYPE_ARRAY ||
				m->m.type == BPF_MAP_TYPE_PERCPU_ARRAY))
		return luaL_error(L, "%s: delete: an array's elements cannot be deleted; set them "
				  "to zero (m:clear() zeroes all)", m->what);
	return lbpf_throw(L, -errno, "%s: delete", m->what);
}

/* m:clear(): deletes every key; an array's elements become zero. */
static int map_clear(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	bool array = m->m.type == BPF_MAP_TYPE_ARRAY || m->m.type == BPF_MAP_TYPE_PERCPU_ARRAY;
	uint8_t *key = lua_newuserdatauv(L, m->m.key_size, 0), *zero = value_buffer(L, m);
	uint32_t i, max = bpf_map__max_entries(m->m.map);

	check_usable(L, m);
	for (i = 0; array && i < max; i++)
		if (bpf_map_update_elem(m->m.fd, &i, zero, BPF_ANY) < 0)
			lbpf_throw(L, -errno, "%s: clear", m->what);
	/* each pass deletes the first key; a bound against keys that come back */
	for (i = 0; !array && i < 2 * max + 16; i++) {
		if (bpf_map_get_next_key(m->m.fd, NULL, key) < 0)
			break;
		if (bpf_map_delete_elem(m->m.fd, key) < 0 && errno != ENOENT)
			lbpf_throw(L, -errno, "%s: clear", m->what);
	}
	return 0;
}

/* The iterator of pairs(m): the last key's bytes live in upvalue 1, so a
 * key whose padding Lua cannot say still finds its successor. */
static int map_next(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);
	uint8_t *last = lua_touserdata(L, lua_upvalueindex(1)), *next, *buf;
	bool started = lua_toboolean(L, lua_upvalueindex(2));

	next = lua_newuserdatauv(L, m->m.key_size, 0);
	buf = value_buffer(L, m);
	for (;;) {
		if (bpf_map_get_next_key(m->m.fd, started ? last : NULL, next) < 0) {
			if (errno == ENOENT)
				return 0;
			lbpf_throw(L, -errno, "%s: next key", m->what);
		}
		memcpy(last, next, m->m.key_size);
		started = true;
		lua_pushboolean(L, 1);
		lua_replace(L, lua_upvalueindex(2));
		if (bpf_map_lookup_elem(m->m.fd, next, buf) == 0)
			break;
		if (errno != ENOENT) /* deleted meanwhile: go on */
			lbpf_throw(L, -errno, "%s: lookup", m->what);
	}
	from_bytes(L, m, m->m.key_type, next, m->m.key_size);
	push_value(L, m, buf);
	return 2;
}

static int map_pairs(lua_State *L)
{
	struct lmap *m = checkmap(L, 1);

	check_usable(L, m);
	lua_newuserdatauv(L, m->m.key_size, 0);
	lua_pushboolean(L, 0);
	lua_pushcclosure(L, map_next, 2);
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* m[key]: a method by its name, else the key's value. */
static int map_index(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TSTRING && lua_getfield(L, lua_upvalueindex(1),
							  lua_tostring(L, 2)) != LUA_TNIL)
		return 1;
	lua_settop(L, 2);
	return map_get(L);
}

/* m:id(): the kernel's id of the map (what bpftool shows) */
static int map_id(lua_State *L)
{
	lua_pushinteger(L, lbpf_bpf_id(checkmap(L, 1)->m.fd));
	return 1;
}

static int map_tostring(lua_State *L)
{
	lbpf_object_t *object = lbpf_testobject(L, 1);

	if (!object)
		return lua_pushliteral(L, "lbpf.object.map (closed)"), 1;
	lua_pushfstring(L, "lbpf.object.map (%s)", ((struct lmap *)object->private)->m.name);
	return 1;
}

static void map_ids(void *private, lbpf_kernel_ids_t *ids)
{
	ids->map = lbpf_bpf_id(((struct lmap *)private)->m.fd);
}

/* ---- globals: obj.rodata, obj.data, obj.bss ---- */

struct globals {
	lbpf_object_t *object;         /* referenced */
	char section[64];
};

static struct lobject *checkglobals(lua_State *L, struct globals **g, struct objfile_var *var)
{
	char err[512];
	struct lobject *o;

	*g = luaL_checkudata(L, 1, "lbpf.object.globals");
	o = (*g)->object->private;
	if (!o)
		luaL_error(L, "object is closed");
	if (objfile_global(o->of, (*g)->section, luaL_checkstring(L, 2), var, err, sizeof(err)))
		raise(L, err);
	return o;
}

static int globals_index(lua_State *L)
{
	struct globals *g;
	struct objfile_var var;
	struct lobject *o = checkglobals(L, &g, &var);
	uint8_t *buf = lua_newuserdatauv(L, objfile_section_size(&var), 0);
	int err = objfile_section_read(&var, buf);

	if (err)
		lbpf_throw(L, err, "object %s: read %s", o->of->name, g->section);
	btfvalue_push(L, objfile_btf(o->of), var.type, buf + var.offset, var.size);
	return 1;
}

static int globals_newindex(lua_State *L)
{
	struct globals *g;
	struct objfile_var var;
	struct lobject *o = checkglobals(L, &g, &var);
	uint8_t *buf = lua_newuserdatauv(L, objfile_section_size(&var), 0);
	char what[200];
	int err = objfile_section_read(&var, buf);

	snprintf(what, sizeof(what), "object %s: %s %s", o->of->name, g->section, lua_tostring(L, 2));
	if (!err) {
		btfvalue_check(L, 3, objfile_btf(o->of), var.type, buf + var.offset, var.size, what);
		err = objfile_section_write(&var, buf);
	}
	if (err == -EPERM)
		return luaL_error(L, "%s: %s is read-only once loaded (give it in lbpf.object's "
				  "options)", what, g->section);
	if (err)
		lbpf_throw(L, err, "%s: write", what);
	return 0;
}

static int globals_gc(lua_State *L)
{
	struct globals *g = luaL_checkudata(L, 1, "lbpf.object.globals");

	lbpf_putobject(g->object);
	g->object = NULL;
	return 0;
}

static void push_globals(lua_State *L, struct lobject *o, const char *section)
{
	static const luaL_Reg meta[] = {
		{ "__index", globals_index },
		{ "__newindex", globals_newindex },
		{ "__gc", globals_gc },
		{ NULL, NULL },
	};
	struct globals *g = lua_newuserdatauv(L, sizeof(*g), 0);

	g->object = lbpf_getobject(o->self);
	snprintf(g->section, sizeof(g->section), "%s", section);
	if (luaL_newmetatable(L, "lbpf.object.globals"))
		luaL_setfuncs(L, meta, 0);
	lua_setmetatable(L, -2);
}

/* ---- programs and links ---- */

static void link_release(void *private)
{
	struct llink *l = private;

	objfile_detach(&l->link);
	if (l->attached)
		lbpf_loop_hold(lbpf_runtime_getloop(l->rt), -1);
}

static void link_ids(void *private, lbpf_kernel_ids_t *ids)
{
	struct llink *l = private;

	ids->prog = lbpf_bpf_id(l->link.prog_fd);
	ids->link = objfile_link_id(&l->link);
}

static const char *const point_names[] = {
	"tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "uprobe", "uretprobe", "xdp",
	"tc", "netfilter", NULL,
};
static const char *const option_names[] = { "mode", "direction", "family", "priority", "pid",
					     NULL };

/* Which point the options at ix name (exactly one); its value on top. */
static enum objfile_point_kind point_kind(lua_State *L, int ix, const char *what)
{
	int found = -1;

	lua_pushnil(L);
	while (lua_next(L, ix)) {
		const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
		int i;

		lua_pop(L, 1);
		for (i = 0; point_names[i] && strcmp(k, point_names[i]); i++)
			;
		if (point_names[i] && found >= 0)
			luaL_error(L, "%s: one attach point at a time (%s and %s)", what,
				   point_names[found], k);
		if (point_names[i]) {
			found = i;
			continue;
		}
		for (i = 0; option_names[i] && strcmp(k, option_names[i]); i++)
			;
		if (!option_names[i])
			luaL_error(L, "%s: unknown attach option '%s' (points: tracepoint, "
				   "raw_tracepoint, kprobe, kretprobe, uprobe, uretprobe, xdp, tc, "
				   "netfilter; options: mode, direction, family, priority, pid)", what,
				   luaL_tolstring(L, -1, NULL));
	}
	if (found < 0)
		return OBJFILE_AUTO;
	lua_getfield(L, ix, point_names[found]);
	if (lua_type(L, -1) != LUA_TSTRING)
		luaL_error(L, "%s: %s: expected a string, got %s", what, point_names[found],
			   luaL_typename(L, -1));
	return OBJFILE_TRACEPOINT + found;
}

static const char *opt_string(lua_State *L, int ix, const char *k, const char *def)
{
	const char *s;

	lua_getfield(L, ix, k);
	s = lua_isnil(L, -1) ? def : lua_tostring(L, -1);
	lua_pop(L, 1); /* the options table keeps the string */
	return s;
}

static int device(lua_State *L, const char *what, const char *dev)
{
	int ifindex = (int)if_nametoindex(dev);

	if (!ifindex)
		luaL_error(L, "%s: no interface '%s'", what, dev);
	return ifindex;
}

static void packet_point(lua_State *L, int ix, struct objfile_point *pt, const char *what)
{
	const char *s;

	if (pt->kind == OBJFILE_XDP) {
		pt->ifindex = device(L, what, pt->target);
		pt->mode = opt_string(L, ix, "mode", NULL);
		if (pt->mode && strcmp(pt->mode, "native") && strcmp(pt->mode, "generic"))
			luaL_error(L, "%s: mode: expected native or generic", what);
	} else if (pt->kind == OBJFILE_TC) {
		pt->ifindex = device(L, what, pt->target);
		s = opt_string(L, ix, "direction", "ingress");
		if (!s || (strcmp(s, "ingress") && strcmp(s, "egress")))
			luaL_error(L, "%s: direction: expected ingress or egress", what);
		pt->egress = !strcmp(s, "egress");
	} else {
		pt->nf_hooknum = filter_nf_hook_number(pt->target);
		if (pt->nf_hooknum < 0)
			luaL_error(L, "%s: netfilter: expected prerouting, input, forward, output or "
				   "postrouting", what);
		s = opt_string(L, ix, "family", "ipv4");
		if (!s || (strcmp(s, "ipv4") && strcmp(s, "ipv6") && strcmp(s, "inet")))
			luaL_error(L, "%s: family: expected ipv4, ipv6 or inet", what);
		pt->nf_family = !strcmp(s, "ipv4") ? 4 : !strcmp(s, "ipv6") ? 6 : 0;
		lua_getfield(L, ix, "priority");
		pt->nf_priority = lua_isnil(L, -1) ? -100 : (int)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	}
}

/* Fills pt from the options at ix (a table or nil). */
static void parse_point(lua_State *L, int ix, struct objfile_point *pt, char *where,
			size_t size, const char *what)
{
	const char *colon;

	memset(pt, 0, sizeof(*pt));
	pt->pid = -1;
	pt->where = "its section's attach point";
	if (lua_isnoneornil(L, ix))
		return;
	luaL_checktype(L, ix, LUA_TTABLE);
	pt->kind = point_kind(L, ix, what);
	if (pt->kind == OBJFILE_AUTO)
		return;
	pt->target = lua_tostring(L, -1);
	snprintf(where, size, "%s %s", point_names[pt->kind - OBJFILE_TRACEPOINT], pt->target);
	pt->where = where;
	if (pt->kind == OBJFILE_UPROBE || pt->kind == OBJFILE_URETPROBE) {
		colon = strrchr(pt->target, ':');
		if (!colon || colon == pt->target || !colon[1])
			luaL_error(L, "%s: %s: expected \"/path/to/binary:function\"", what,
				   pt->target);
		lua_pushlstring(L, pt->target, colon - pt->target);
		pt->binary = lua_tostring(L, -1);
		pt->target = colon + 1;
		lua_getfield(L, ix, "pid");
		pt->pid = lua_isnil(L, -1) ? -1 : (int)luaL_checkinteger(L, -1);
		lua_pop(L, 1);
	} else if (pt->kind >= OBJFILE_XDP) {
		packet_point(L, ix, pt, what);
		snprintf(where, size, "%s %s", point_names[pt->kind - OBJFILE_TRACEPOINT],
			 pt->target);
	}
}

/* prog:attach([opts]) -> link */
static int prog_attach(lua_State *L)
{
	struct lprog *p = checkprog(L, 1);
	struct objfile_point pt;
	char where[160], what[200], err[1024];
	lbpf_object_t *object;
	struct llink *l;

	snprintf(what, sizeof(what), "object %s: program %s", p->o->of->name,
		 bpf_program__name(p->prog));
	parse_point(L, 2, &pt, where, sizeof(where), what);
	object = lbpf_newobject(L, &link_class, sizeof(*l));
	l = object->private;
	l->rt = p->o->rt;
	l->link.fds[0] = l->link.fds[1] = -1;
	if (objfile_attach(p->o->of, p->prog, &pt, &l->link, err, sizeof(err))) {
		lbpf_releaseobject(object);
		return raise(L, err);
	}
	snprintf(l->where, sizeof(l->where), "%s at %s", bpf_program__name(p->prog), pt.where);
	lbpf_loop_hold(lbpf_runtime_getloop(l->rt), 1);
	l->attached = true;
	if (add_child(p->o, object))
		lbpf_throw(L, -ENOMEM, "%s: attach", what);
	lbpf_registerobject(L, -1, object);
	return 1;
}

static int link_tostring(lua_State *L)
{
	lbpf_object_t *object = lbpf_testobject(L, 1);

	if (!object)
		return lua_pushliteral(L, "lbpf.object.link (detached)"), 1;
	lua_pushfstring(L, "lbpf.object.link (%s)", ((struct llink *)object->private)->where);
	return 1;
}

/* p:id(): the kernel's id of the program */
static int prog_id(lua_State *L)
{
	lua_pushinteger(L, lbpf_bpf_id(bpf_program__fd(checkprog(L, 1)->prog)));
	return 1;
}

static int prog_tostring(lua_State *L)
{
	lbpf_object_t *object = lbpf_testobject(L, 1);

	if (!object)
		return lua_pushliteral(L, "lbpf.object.prog (closed)"), 1;
	lua_pushfstring(L, "lbpf.object.prog (%s)",
			bpf_program__name(((struct lprog *)object->private)->prog));
	return 1;
}

static void prog_ids(void *private, lbpf_kernel_ids_t *ids)
{
	ids->prog = lbpf_bpf_id(bpf_program__fd(((struct lprog *)private)->prog));
}

/* ---- ring buffers ---- */

static void on_record(void *ctx, const void *data, size_t size)
{
	struct ringsub *s = ctx;
	lua_State *L = lbpf_runtime_state(s->o->rt);

	lbpf_pushref(L, s->fn_ref);
	btfvalue_pushview(L, s->o->self, objfile_btf(s->o->of), s->type, data, size, false);
	lua_pushvalue(L, -1);
	lua_insert(L, -3); /* a copy stays to end it after the call */
	lbpf_callback_call(L, &s->callback, 1);
	btfvalue_expire(L, -1);
	lua_pop(L, 1);
}

/* Finds user map `name` of o; raises naming what there is. */
static struct bpf_map *user_map(lua_State *L, struct lobject *o, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(o->of->obj, name);

	if (!map || !objfile_map_is_user(map)) {
		lbpf_pushref(L, o->maps_ref);
		lua_getfield(L, -1, name); /* raises, naming the maps */
	}
	return map;
}

/* obj:ringbuf(map, "struct name", fn(ev)) */
static int object_ringbuf(lua_State *L)
{
	struct lobject *o = checkobj(L, 1);
	struct bpf_map *map = user_map(L, o, luaL_checkstring(L, 2));
	struct ringsub *s, **subs;
	char err[512];
	unsigned type;

	luaL_checktype(L, 4, LUA_TFUNCTION);
	if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
		return luaL_error(L, "object %s: map %s is no ring buffer", o->of->name,
				  bpf_map__name(map));
	if (objfile_find_type(o->of, luaL_checkstring(L, 3), &type, err, sizeof(err)))
		return raise(L, err);
	subs = realloc(o->subs, (o->nsubs + 1) * sizeof(*subs));
	if (!subs || !(s = calloc(1, sizeof(*s))))
		return lbpf_throw(L, -ENOMEM, "object %s: ringbuf", o->of->name);
	o->subs = subs;
	*s = (struct ringsub){ .o = o, .type = type, .fn_ref = LUA_NOREF };
	s->id = lbpf_ringbuf_add(o->rt, bpf_map__fd(map), on_record, s);
	if (s->id < 0) {
		int e = s->id;

		free(s);
		return lbpf_throw(L, e, "object %s: read ring buffer %s", o->of->name,
				  bpf_map__name(map));
	}
	lua_pushvalue(L, 4);
	s->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	o->subs[o->nsubs++] = s;
	lbpf_loop_hold(lbpf_runtime_getloop(o->rt), 1);
	return 0;
}

/* ---- the object ---- */

/* obj.maps, obj.progs, obj.rodata/.data/.bss (any data section), or a method. */
static int object_index(lua_State *L)
{
	struct lobject *o = checkobj(L, 1);
	const char *k = luaL_checkstring(L, 2);

	if (lua_getfield(L, lua_upvalueindex(1), k) != LUA_TNIL)
		return 1;
	if (!strcmp(k, "maps") || !strcmp(k, "progs")) {
		lbpf_pushref(L, k[0] == 'm' ? o->maps_ref : o->progs_ref);
		return 1;
	}
	if (!strcmp(k, "rodata") || !strcmp(k, "data") || !strcmp(k, "bss") ||
	    !strncmp(k, "data.", 5) || !strncmp(k, "rodata.", 7)) {
		push_globals(L, o, k);
		return 1;
	}
	return luaL_error(L, "object %s has no field '%s' (maps, progs, rodata, data, bss, "
			  "ringbuf, close)", o->of->name, k);
}

/* Sets the globals of opts (at ix): { rodata = { name = value }, ... }. */
static void set_globals(lua_State *L, struct lobject *o, int ix)
{
	struct objfile_var var;
	char err[1024], what[200];

	lua_pushnil(L);
	while (lua_next(L, ix)) {
		const char *section = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (!lua_istable(L, -1))
			luaL_error(L, "object %s: option '%s': expected a table of globals (rodata, "
				   "data or bss = { name = value })", o->of->name, section);
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
			void *value;
			int e;

			if (!name)
				luaL_error(L, "object %s: %s: globals go by name, not %s keys",
					   o->of->name, section, luaL_typename(L, -2));
			if (objfile_global(o->of, section, name, &var, err, sizeof(err)))
				raise(L, err);
			snprintf(what, sizeof(what), "object %s: %s %s", o->of->name, section, name);
			value = lua_newuserdatauv(L, var.size, 0);
			btfvalue_check(L, -2, objfile_btf(o->of), var.type, value, var.size, what);
			if ((e = objfile_global_set(&var, value)))
				lbpf_throw(L, e, "%s: set", what);
			lua_pop(L, 2);
		}
		lua_pop(L, 1);
	}
}

/* Creates child objects for the maps or the programs, in a table by name. */
static void add_children(lua_State *L, struct lobject *o, bool maps)
{
	struct bpf_map *map;
	struct bpf_program *prog;
	lbpf_object_t *child;

	lua_newtable(L);
	if (maps) {
		bpf_object__for_each_map(map, o->of->obj) {
			struct lmap *m;

			if (!objfile_map_is_user(map))
				continue;
			child = lbpf_newobject(L, &map_class, sizeof(*m));
			m = child->private;
			m->o = o;
			lbpf_try(L, objfile_map_describe(map, &m->m));
			snprintf(m->what, sizeof(m->what), "object %s: map %s", o->of->name,
				 m->m.name);
			lbpf_try(L, add_child(o, child));
			lbpf_registerobject(L, -1, child);
			lua_setfield(L, -2, m->m.name);
		}
	} else {
		bpf_object__for_each_program(prog, o->of->obj) {
			child = lbpf_newobject(L, &prog_class, sizeof(struct lprog));
			*(struct lprog *)child->private = (struct lprog){ o, prog };
			lbpf_try(L, add_child(o, child));
			lbpf_registerobject(L, -1, child);
			lua_setfield(L, -2, bpf_program__name(prog));
		}
	}
	names_seal(L, o->of->name, maps ? "map" : "program");
}

/* The class's __index: methods first (upvalue), then the fields. */
static void index_with(lua_State *L, const lbpf_class_t *class, lua_CFunction fn)
{
	lbpf_pushclass(L, class);
	if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
		lua_pushcclosure(L, fn, 1);
		lua_setfield(L, -2, "__index");
	} else {
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* lbpf.object(path [, { rodata = {...}, data = {...}, bss = {...} }]) */
static int l_object(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	char err[4096];
	lbpf_object_t *object;
	struct lobject *o;

	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	if (lbpf_runtime_sandboxed(lbpf_toruntime(L)))
		return luaL_error(L, "lbpf.object: not available to a sandboxed policy (it loads a "
				  "file the script names)");
	lua_settop(L, 2);
	object = lbpf_newobject(L, &object_class, sizeof(*o));
	o = object->private;
	*o = (struct lobject){ .rt = lbpf_toruntime(L), .self = object, .maps_ref = LUA_NOREF,
			       .progs_ref = LUA_NOREF };
	if (objfile_open(&o->of, path, err, sizeof(err))) {
		lbpf_releaseobject(object);
		return raise(L, err);
	}
	if (!lua_isnil(L, 2))
		set_globals(L, o, 2);
	if (objfile_load(o->of, err, sizeof(err)))
		return raise(L, err); /* the userdata's __gc closes it */
	add_children(L, o, true);
	o->maps_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	add_children(L, o, false);
	o->progs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lbpf_registerobject(L, 3, object);
	return 1;
}

static int object_tostring(lua_State *L)
{
	lbpf_object_t *object = lbpf_testobject(L, 1);

	if (!object)
		return lua_pushliteral(L, "lbpf.object (closed)"), 1;
	lua_pushfstring(L, "lbpf.object (%s)", ((struct lobject *)object->private)->of->name);
	return 1;
}

static const luaL_Reg object_methods[] = {
	{ "ringbuf", object_ringbuf },
	{ "__tostring", object_tostring },
	{ NULL, NULL },
};

static const luaL_Reg map_methods[] = {
	{ "get", map_get },
	{ "set", map_set },
	{ "delete", map_delete },
	{ "clear", map_clear },
	{ "view", map_view },
	{ "id", map_id },
	{ "__newindex", map_set },
	{ "__pairs", map_pairs },
	{ "__tostring", map_tostring },
	{ NULL, NULL },
};

static const luaL_Reg prog_methods[] = {
	{ "attach", prog_attach },
	{ "id", prog_id },
	{ "__tostring", prog_tostring },
	{ NULL, NULL },
};

/* link:detach(): what close() does; again is fine. */
static int link_detach(lua_State *L)
{
	lbpf_object_t *object = lbpf_testobject(L, 1);

	if (object) {
		lbpf_unregisterobject(L, object);
		lbpf_releaseobject(object);
	}
	return 0;
}

static const luaL_Reg link_methods[] = {
	{ "detach", link_detach },
	{ "__tostring", link_tostring },
	{ NULL, NULL },
};

static const lbpf_class_t object_class = {
	.name = "lbpf.object",
	.methods = object_methods,
	.release = object_release,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = object_ids,
};

static const lbpf_class_t map_class = {
	.name = "lbpf.object.map",
	.methods = map_methods,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = map_ids,
};

static const lbpf_class_t prog_class = {
	.name = "lbpf.object.prog",
	.methods = prog_methods,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = prog_ids,
};

static const lbpf_class_t link_class = {
	.name = "lbpf.object.link",
	.methods = link_methods,
	.release = link_release,
	.opt = LBPF_OPT_SINGLE,
	.kernel_ids = link_ids,
};

static const luaL_Reg object_lib[] = {
	{ "object", l_object },
	{ NULL, NULL },
};

static const lbpf_class_t *const object_classes[] = {
	&object_class, &map_class, &prog_class, &link_class, NULL,
};

int luaopen_lbpf_object(lua_State *L)
{
	btfvalue_open(L);
	for (const lbpf_class_t *const *c = object_classes; *c; c++) {
		lbpf_pushclass(L, *c);
		lua_pop(L, 1);
	}
	index_with(L, &object_class, object_index);
	index_with(L, &map_class, map_index);
	luaL_newlib(L, object_lib);
	return 1;
}
