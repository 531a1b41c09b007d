-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--[[
hello.lua: a first lbpf script. For a few seconds it counts three kernel events
(context switches, openat() system calls and forks) and prints, once a second,
how many happened per second; at the end it prints the totals.

  lbpf run lua/examples/hello.lua [SECONDS]      default 3; `make run` runs it

Each count is kept by a tiny BPF program attached to a tracepoint: the kernel
adds one per event into a per-CPU slot and Lua only reads the sum, so counting
costs no Lua call per event, however busy the machine is.
]]
local util = require "lbpf.util"

local seconds = math.tointeger(tonumber(arg[1] or 3))
if not seconds or seconds < 1 then
	io.stderr:write("usage: lbpf run hello.lua [SECONDS]   (whole seconds >= 1)\n")
	lbpf.exit(2) -- exit() unwinds the body too: nothing below runs
end

-- What to count: a label and a tracepoint ("category:name", as listed in
-- /sys/kernel/tracing/events). lbpf.tracepoint() loads and attaches the BPF
-- program now; an attached counter keeps the script running.
local events = {
	{ label = "context switches", tracepoint = "sched:sched_switch" },
	{ label = "openat() calls", tracepoint = "syscalls:sys_enter_openat" },
	{ label = "forks", tracepoint = "sched:sched_process_fork" },
}
for _, e in ipairs(events) do
	e.counter = lbpf.tracepoint(e.tracepoint)
	e.last = 0
end

local started = lbpf.now() -- monotonic nanoseconds, the clock BPF uses too
local last = started

print(string.format("counting %d tracepoints for %d s (Ctrl-C stops early)", #events, seconds))
print(string.format("%6s  %18s  %16s  %8s",
	"time", "context switches/s", "openat() calls/s", "forks/s"))

-- A task: a coroutine the scheduler runs next to the timers. It sleeps
-- without blocking anything, and does a little work of its own twice a
-- second so the counters move even on an idle machine: io.open() is one
-- openat(); io.popen() forks a shell, which opens a few files of its own
-- (closing it waits for that shell, a millisecond or so).
lbpf.spawn(function()
	while true do
		lbpf.sleep(500)
		io.open("/proc/self/stat"):close()
		io.popen("true"):close()
	end
end)

-- Once a second: read the counters and print the rate since the last tick.
-- every() keeps its phase: ticks stay whole periods apart and do not drift.
lbpf.every(1000, function(timer)
	local now = lbpf.now()
	local elapsed = (now - last) / 1e9
	local rates = {}
	for i, e in ipairs(events) do
		local count = e.counter:stats().events
		rates[i] = (count - e.last) / elapsed
		e.last = count
	end
	last = now
	print(string.format("%5.1fs  %18.0f  %16.0f  %8.0f", (now - started) / 1e9, table.unpack(rates)))
	if timer:stats().fired == seconds then
		lbpf.exit() -- stops the loop; the on_exit handler below still runs
	end
end)

-- Runs at exit, however it came: time up, Ctrl-C or an error. The counters
-- are read one last time here; lbpf detaches them afterwards by itself.
lbpf.on_exit(function()
	local parts = {}
	for _, e in ipairs(events) do
		parts[#parts + 1] = string.format("%s %d", e.label, e.counter:stats().events)
	end
	print(string.format("total in %s: %s", util.format_duration(lbpf.now() - started),
		table.concat(parts, ", ")))
end)
