/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Lua values that cross runtimes (rt:resume, lbpf.shared): a copy held in C,
 * outside any lua_State, so that it can be made in one runtime and pushed
 * into another on another thread. What can cross: nil, booleans, numbers,
 * strings, tables of those (deep-copied; keys are strings, numbers or
 * booleans) and shareable lbpf objects (LBPF_OPT_MONITOR), which are shared,
 * not copied. A value is immutable and refcounted.
 */
#ifndef LBPF_VALUE_H
#define LBPF_VALUE_H

#include <stddef.h>

#include <lbpf/lbpf.h>

struct lbpf_value;

/* Copies the value at ix of L, with one reference for the caller. Never
 * raises: returns NULL with the reason in err (a function, a userdata, a
 * SINGLE object, nesting deeper than LBPF_VALUE_DEPTH, out of memory). */
#define LBPF_VALUE_DEPTH 64
struct lbpf_value *lbpf_value_new(lua_State *L, int ix, char *err, size_t errlen);

/* Pushes a Lua copy of v onto L (a closed object becomes nil), in a
 * protected call. Returns LUA_OK, or an error status with the message pushed
 * instead. Does not take v's reference. */
int lbpf_value_push(lua_State *L, const struct lbpf_value *v);

struct lbpf_value *lbpf_value_get(struct lbpf_value *v);
/* Drops a reference; the last frees the copy and drops its objects. NULL is fine. */
void lbpf_value_put(struct lbpf_value *v);

#endif /* LBPF_VALUE_H */
