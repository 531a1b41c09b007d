/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The Lua side of the tracing probe (probe_lua.c), for its binding
 * (lprobe.c): options read from a Lua table, and what the engine (probe.h)
 * reads pushed or printed as Lua values. Functions raise Lua errors. */
#ifndef LBPF_USER_PROBE_LUA_H
#define LBPF_USER_PROBE_LUA_H

#include <lbpf/lbpf.h>

#include "probe.h"

/* Reads the options table at index opts (0: none) into o; raises naming the
 * option when the table is not what the engine can take. o's names point
 * into the table, which must stay on the stack while o is in use. */
void probe_check_opts(lua_State *L, int opts, struct probe_opts *o);
/* Builds each attach point's Lua table name -> view code (fields_ref). */
void probe_build_fields(lua_State *L, struct probe *p);
/* Pushes the aggregation as Lua values (see lprobe.c's methods). */
void probe_push_aggregation(lua_State *L, struct probe *p);
/* Prints the aggregation the way bpftrace prints maps at exit. */
void probe_print_aggregation(lua_State *L, struct probe *p);
/* lbpf.print_hist(h[, title]) */
int probe_print_hist(lua_State *L);
/* Pushes a field path's value from its bytes b (avail of them) by its type
 * and format: an integer, an enum's name, a string, an address's text. */
void probe_push_path(lua_State *L, const struct probe *p, const struct probe_path *pp,
		     const uint8_t *b, size_t avail);
/* Pushes a stack (by id) as a table of symbolized frames, or nil. */
void probe_push_stack(lua_State *L, struct probe *p, int id, bool user, int pid);

#endif /* LBPF_USER_PROBE_LUA_H */
