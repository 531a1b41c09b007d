-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- runqlat: how long woken tasks wait for a CPU, as a histogram (us).
--   lbpf run runqlat.lua [seconds]
-- The wake-up and the switch are two tracepoints; their events meet in Lua,
-- keyed by pid, and the delta goes into a Lua histogram.
local hist = require "lbpf.hist"
local seconds = tonumber(arg[1]) or 5
local woken, h = {}, hist.new()

lbpf.tracepoint("sched:sched_wakeup", function(ev)
	woken[ev.pid] = ev.ts
end)

lbpf.tracepoint("sched:sched_switch", function(ev)
	local t = woken[ev.next_pid]
	if t then
		woken[ev.next_pid] = nil
		h:add((ev.ts - t) / 1000)
	end
end)

print(string.format("Tracing run queue latency for %d s...", seconds))
lbpf.after(seconds * 1000, function()
	print("run queue latency (us):")
	lbpf.print_hist(h:table())
	lbpf.exit()
end)
