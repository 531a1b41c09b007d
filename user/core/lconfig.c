// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpf.config{ringbuf = "16M"}: runtime settings that must be chosen before
 * the first probe or filter creates what they size.
 */
#include <string.h>

#include <lbpf/lbpf.h>

static void set_ringbuf(lua_State *L, int ix)
{
	size_t bytes = 0;
	int err;

	if (lua_isinteger(L, ix) && lua_tointeger(L, ix) > 0)
		bytes = lua_tointeger(L, ix);
	else if (lua_type(L, ix) == LUA_TSTRING)
		lbpf_parse_size(lua_tostring(L, ix), &bytes);
	if (!bytes)
		luaL_error(L, "config.ringbuf: expected a size like \"16M\", got %s", luaL_tolstring(L, ix, NULL));
	err = lbpf_ringbuf_set_size(lbpf_toruntime(L), bytes);
	if (err == -EBUSY)
		luaL_error(L, "config.ringbuf: the ring buffer exists already; set it before the first probe");
	if (err == -EINVAL)
		luaL_error(L, "config.ringbuf: %s is not a power of two between 4K and 2G", lua_tostring(L, ix));
	if (err)
		lbpf_throw(L, err, "config.ringbuf");
}

/* lbpf.config{ringbuf = size} */
static int config(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";

		if (!strcmp(key, "ringbuf"))
			set_ringbuf(L, lua_gettop(L));
		else
			luaL_error(L, "config: unknown setting '%s' (known: ringbuf)", key);
		lua_pop(L, 1);
	}
	return 0;
}

static const luaL_Reg config_lib[] = {
	{ "config", config },
	{ NULL, NULL },
};

LBPF_NEWLIB(config, config_lib, NULL)
