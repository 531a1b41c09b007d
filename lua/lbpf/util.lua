-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--[[
lbpf.util: small helpers for scripts that print what they measure.

  local util = require "lbpf.util"
  util.format_bytes(1536)          --> "1.5 KiB"
  util.format_duration(2500)       --> "2.5 us"      (nanoseconds in, as lbpf.now() gives)
  util.parse_size("16M")           --> 16777216      (K, M, G, T: powers of 1024)
  util.parse_duration("1.5s")      --> 1500          (milliseconds, as lbpf.after() takes)
  util.dump({a = 1, {2, 3}})       --> '{ { 2, 3 }, a = 1 }'

Parsers return nil and a message on malformed input, like tonumber() returns nil;
formatters raise on a non-number, as string.format does.
]]
local util = {}

local function is_number(x)
	return math.type(x) ~= nil
end

-- format_bytes(n) -> "512 B", "1.5 KiB", "16.0 MiB"...: binary units, one decimal.
function util.format_bytes(n)
	assert(is_number(n), "format_bytes: number expected")
	local units = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" }
	local i, v = 1, n
	while math.abs(v) >= 1024 and i < #units do
		v, i = v / 1024, i + 1
	end
	if i == 1 then
		return string.format("%d B", math.floor(v))
	end
	return string.format("%.1f %s", v, units[i])
end

-- format_duration(ns) -> "850 ns", "2.50 us", "12.3 ms", "1.50 s", "2m05s":
-- three significant digits below a minute.
function util.format_duration(ns)
	assert(is_number(ns), "format_duration: number expected")
	local a = math.abs(ns)
	local function sig(v, unit)
		local fmt = v >= 100 and "%.0f %s" or v >= 10 and "%.1f %s" or "%.2f %s"
		return string.format(fmt, v, unit)
	end
	if a < 1e3 then
		return string.format("%.0f ns", ns)
	elseif a < 1e6 then
		return sig(ns / 1e3, "us")
	elseif a < 1e9 then
		return sig(ns / 1e6, "ms")
	elseif a < 60e9 then
		return sig(ns / 1e9, "s")
	end
	local s = math.floor(a / 1e9 + 0.5)
	local text = s >= 3600 and string.format("%dh%02dm%02ds", s // 3600, s % 3600 // 60, s % 60)
		or string.format("%dm%02ds", s // 60, s % 60)
	return (ns < 0 and "-" or "") .. text
end

local size_units = { [""] = 1, B = 1, K = 1 << 10, M = 1 << 20, G = 1 << 30, T = 1 << 40 }

-- parse_size("16M") -> 16777216. Accepts a number, or digits (a fraction is
-- allowed) followed by nothing, B, K, M, G or T, optionally with "iB"/"B"
-- ("16MiB", "16MB" and "16m" are all 16 * 1024^2). nil, message otherwise.
function util.parse_size(s)
	if is_number(s) then
		if s < 0 then
			return nil, "size must be >= 0"
		end
		return math.floor(s)
	end
	if type(s) ~= "string" then
		return nil, "size expected, got " .. type(s)
	end
	local num, unit = s:match("^%s*(%d+%.?%d*)%s*(%a*)%s*$")
	unit = unit and unit:upper():gsub("I?B$", "")
	if unit == "" and s:upper():match("B%s*$") then
		unit = "B"
	end
	if not num or not size_units[unit] then
		return nil, string.format("malformed size %q (examples: 4096, 64K, 16M, 1G)", s)
	end
	return math.floor(tonumber(num) * size_units[unit] + 0.5)
end

local duration_units = { ns = 1e-6, us = 1e-3, ms = 1, s = 1e3, m = 60e3, h = 3600e3 }

-- parse_duration("1.5s") -> 1500: milliseconds, the unit of lbpf.after(),
-- every() and sleep(). A bare number is in `default_unit` ("ms" unless
-- given): parse_duration("3", "s") -> 3000. nil, message otherwise.
function util.parse_duration(s, default_unit)
	default_unit = default_unit or "ms"
	assert(duration_units[default_unit], "parse_duration: unknown default unit")
	if is_number(s) then
		s = tostring(s)
	end
	if type(s) ~= "string" then
		return nil, "duration expected, got " .. type(s)
	end
	local num, unit = s:match("^%s*(%d+%.?%d*)%s*(%a*)%s*$")
	unit = unit == "" and default_unit or unit
	if not num or not duration_units[unit] then
		return nil, string.format("malformed duration %q (examples: 500ms, 2s, 1.5m)", s)
	end
	local ms = tonumber(num) * duration_units[unit]
	return math.tointeger(ms) or ms
end

-- dump(value) -> a one-line, deterministic rendering of value: tables with
-- sorted keys, the array part first, strings quoted, cycles shown as
-- "<cycle>". For printing, not for loading back.
function util.dump(value)
	local seen = {}
	local function render(v)
		if type(v) == "string" then
			return (string.format("%q", v):gsub("\\\n", "\\n"))
		elseif type(v) ~= "table" then
			return tostring(v)
		elseif seen[v] then
			return "<cycle>"
		end
		seen[v] = true
		local parts, n = {}, #v
		for i = 1, n do
			parts[#parts + 1] = render(v[i])
		end
		local keys = {}
		for k in pairs(v) do
			if not (math.type(k) == "integer" and k >= 1 and k <= n) then
				keys[#keys + 1] = k
			end
		end
		table.sort(keys, function(a, b)
			if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then
				return a < b
			end
			return type(a) < type(b)
		end)
		for _, k in ipairs(keys) do
			local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. render(k) .. "]"
			parts[#parts + 1] = key .. " = " .. render(v[k])
		end
		seen[v] = nil
		return #parts == 0 and "{}" or "{ " .. table.concat(parts, ", ") .. " }"
	end
	return render(value)
end

return util
