-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- execsnoop: every exec with its arguments.
--   lbpf run execsnoop.lua [seconds]
-- sched_process_exec carries the file name; the arguments are read from
-- /proc/PID/cmdline right away, which a process that exits at once can beat
-- (then they print as "?").
local seconds = tonumber(arg[1])

print(string.format("%-8s %-7s %-7s %-16s %s", "TIME(s)", "PID", "PPID", "COMM", "ARGS"))
local start = lbpf.now()

local function cmdline(pid)
	local f = io.open("/proc/" .. pid .. "/cmdline", "rb")
	if not f then
		return nil
	end
	local s = f:read("a") -- nil when the process is already gone
	f:close()
	if not s then
		return nil
	end
	s = s:gsub("%z$", ""):gsub("%z", " ")
	return s ~= "" and s or nil
end

local function ppid(pid)
	local f = io.open("/proc/" .. pid .. "/stat")
	local s = f and f:read("l")
	if f then f:close() end
	return s and tonumber(s:match("^%d+ %b() %S+ (%d+)")) or -1
end

lbpf.tracepoint("sched:sched_process_exec", function(ev)
	local args = cmdline(ev.pid) or (ev.filename .. " ?")
	print(string.format("%-8.3f %-7d %-7d %-16s %s", (ev.ts - start) / 1e9, ev.pid, ppid(ev.pid),
		ev.comm, args))
end)

if seconds then
	lbpf.after(seconds * 1000, lbpf.exit)
end
