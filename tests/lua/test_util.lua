-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Proves that lbpf.util (lua/lbpf/util.lua) is found by require from any
-- script, and that its formatters and parsers give the documented results
-- and reject malformed input with nil and a message.
local util = require "lbpf.util"

local function check(name, fn)
	local ok, err = pcall(fn)
	print(ok and "PASS " .. name or "FAIL " .. name .. ": " .. tostring(err))
end

local function eq(got, want)
	if got ~= want then
		error(string.format("got %s, want %s", util.dump(got), util.dump(want)), 2)
	end
end

check("util/format_bytes", function()
	eq(util.format_bytes(0), "0 B")
	eq(util.format_bytes(1023), "1023 B")
	eq(util.format_bytes(1536), "1.5 KiB")
	eq(util.format_bytes(16 << 20), "16.0 MiB")
end)

check("util/format_duration", function()
	eq(util.format_duration(850), "850 ns")
	eq(util.format_duration(2500), "2.50 us")
	eq(util.format_duration(12345678), "12.3 ms")
	eq(util.format_duration(1.5e9), "1.50 s")
	eq(util.format_duration(125e9), "2m05s")
end)

check("util/parse_size", function()
	eq(util.parse_size("16M"), 16 << 20)
	eq(util.parse_size("16MiB"), 16 << 20)
	eq(util.parse_size("1.5K"), 1536)
	eq(util.parse_size("4096"), 4096)
	eq(util.parse_size(4096), 4096)
	local v, msg = util.parse_size("16X")
	eq(v, nil)
	assert(msg:find("malformed size"), msg)
	eq(util.parse_size("-1"), nil)
end)

check("util/parse_duration", function()
	eq(util.parse_duration("500ms"), 500)
	eq(util.parse_duration("2s"), 2000)
	eq(util.parse_duration("1.5ms"), 1.5)
	eq(util.parse_duration("3", "s"), 3000)
	eq(util.parse_duration("3"), 3)
	eq(util.parse_duration("3 parsecs"), nil)
end)

check("util/dump", function()
	eq(util.dump({ b = 2, a = 1, 10, 20 }), "{ 10, 20, a = 1, b = 2 }")
	eq(util.dump({ s = "x\ny" }), '{ s = "x\\ny" }')
	local t = {}
	t.self = t
	eq(util.dump(t), "{ self = <cycle> }")
	eq(util.dump({}), "{}")
end)
