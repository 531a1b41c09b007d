/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The Lua side of the filter's transport matches (match_lua.c), for its
 * binding (lfilter.c): TCP flags, ICMP type and code, and IP length, in
 * rules and in fw:test's packet descriptions. Functions raise Lua errors
 * that name the field. */
#ifndef LBPF_USER_FILTER_MATCH_LUA_H
#define LBPF_USER_FILTER_MATCH_LUA_H

#include <lbpf/lbpf.h>

#include "filter.h"

/* Whether key is one of the fields filter_match_rule reads. */
bool filter_match_field(const char *key);
/* Reads tcp, icmp_type, icmp_code and length from the rule table at ix
 * into s, once the other fields (proto) are in. */
void filter_match_rule(lua_State *L, int ix, struct filter_spec *s);
/* Reads tcp, icmp_type, icmp_code and length of the packet table at ix. */
void filter_match_packet(lua_State *L, int ix, struct filter_packet_desc *d);
/* Sets tcp (the flags set, as {syn = true, ...}), icmp_type, icmp_code and
 * length of a reported packet in the table on top of the stack. */
void filter_match_push(lua_State *L, const struct filter_pkt *p);

#endif /* LBPF_USER_FILTER_MATCH_LUA_H */
