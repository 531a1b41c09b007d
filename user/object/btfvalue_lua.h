/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Lua values from and to the bytes of a BTF type, for lbpf.object's
 * globals, map keys and values and ring-buffer records: integers (and
 * enums, pointers, bools, floats), structs and unions as tables by member
 * name, arrays as lists, char arrays as strings. Any type also takes a
 * Lua string of exactly its size, its raw bytes. And views: a struct's
 * bytes read member by member as they are used (lbpf.object.view), valid
 * while their owner says so.
 */
#ifndef LBPF_USER_BTFVALUE_LUA_H
#define LBPF_USER_BTFVALUE_LUA_H

#include <stddef.h>

#include <lbpf/lbpf.h>

struct btf;

/* Pushes the value of type `type` in data (size bytes, at least the
 * type's). */
void btfvalue_push(lua_State *L, const struct btf *btf, unsigned type, const void *data,
		   size_t size);
/* Writes the Lua value at ix as type `type` into out (size bytes, the
 * type's size), which it zeroes first. Raises "<what>: <problem>", e.g.
 * "sample.bpf.o: map counts: key: 300 is out of range for u8 (0 to 255)". */
void btfvalue_check(lua_State *L, int ix, const struct btf *btf, unsigned type, void *out,
		    size_t size, const char *what);

/* Pushes a view of a struct or union: with copy, of its own copy of the
 * bytes (valid as long as object is open); else of data itself, valid until
 * btfvalue_expire. object (referenced by the view) owns btf. */
void btfvalue_pushview(lua_State *L, lbpf_object_t *object, const struct btf *btf,
		       unsigned type, const void *data, size_t size, bool copy);
/* Ends the view at ix: its use raises from now on. */
void btfvalue_expire(lua_State *L, int ix);
/* Creates the view's metatable in L (from the binding's luaopen). */
void btfvalue_open(lua_State *L);

#endif /* LBPF_USER_BTFVALUE_LUA_H */
