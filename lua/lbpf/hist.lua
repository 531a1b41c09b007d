-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--[[
lbpf.hist: power-of-two histograms built in Lua, in the shape probe:hist()
returns, so lbpf.print_hist prints both. For values that only exist in Lua,
such as a delta between two different tracepoints; values the kernel can
compute belong in opts.hist, which costs no Lua call per event.

  local hist = require "lbpf.hist"
  local h = hist.new()
  h:add(1500)
  lbpf.print_hist(h:table())
]]
local hist = {}
hist.__index = hist

function hist.new()
	return setmetatable({ buckets = {}, lo = nil, hi = nil, n = 0 }, hist)
end

-- The bucket of v: -1 below zero, 0 for zero, b for [2^(b-1), 2^b).
local function bucket(v)
	if v < 0 then
		return -1
	elseif v < 1 then
		return 0
	end
	local b = 1
	v = math.floor(v)
	while v >= 2 do
		v, b = v >> 1, b + 1
	end
	return b
end

function hist:add(v, count)
	local b = bucket(v)
	self.buckets[b] = (self.buckets[b] or 0) + (count or 1)
	self.lo = self.lo and math.min(self.lo, b) or b
	self.hi = self.hi and math.max(self.hi, b) or b
	self.n = self.n + (count or 1)
end

-- The histogram as {kind = "log2", {lo =, hi =, count =}, ...}.
function hist:table()
	local t = { kind = "log2" }
	for b = self.lo or 0, self.hi or -1 do
		local lo = b < 0 and -math.huge or b == 0 and 0 or 1 << (b - 1)
		local hi = b < 0 and 0 or 1 << b
		t[#t + 1] = { lo = lo, hi = hi, count = self.buckets[b] or 0 }
	end
	return t
end

return hist
