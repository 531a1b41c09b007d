-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- opensnoop: every openat() with its pid, process, result and path.
--   lbpf run opensnoop.lua [seconds] [comm]
-- The path is captured in the kernel at entry; the result comes from the exit
-- tracepoint, matched by thread id.
local seconds, comm = tonumber(arg[1]), arg[2]
local filter = comm and { comm = comm } or nil
local pending = {}

print(string.format("%-7s %-16s %4s %3s %s", "PID", "COMM", "FD", "ERR", "PATH"))

lbpf.tracepoint("syscalls:sys_enter_openat", { filter = filter, strings = { "filename" } },
	function(ev)
		pending[ev.tid] = ev.filename
	end)

lbpf.tracepoint("syscalls:sys_exit_openat", { filter = filter }, function(ev)
	local path = pending[ev.tid]
	if not path then
		return -- entered before we attached
	end
	pending[ev.tid] = nil
	local fd, err = ev.ret, 0
	if fd < 0 then
		fd, err = -1, -ev.ret
	end
	print(string.format("%-7d %-16s %4d %3d %s", ev.pid, ev.comm, fd, err, path))
end)

if seconds then
	lbpf.after(seconds * 1000, lbpf.exit)
end
