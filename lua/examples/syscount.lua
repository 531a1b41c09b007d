-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- syscount: system calls counted in the kernel by syscall and by process,
-- printed every second. No Lua runs per system call.
--   lbpf run syscount.lua [seconds] [top]
local seconds, top = tonumber(arg[1]), tonumber(arg[2]) or 10

local by_call = lbpf.tracepoint("syscalls:sys_enter_*", { count = "probe" })
local by_comm = lbpf.tracepoint("raw_syscalls:sys_enter", { count = "comm" })

local function sorted(counts)
	local rows = {}
	for k, n in pairs(counts) do
		rows[#rows + 1] = { k, n }
	end
	table.sort(rows, function(a, b) return a[2] > b[2] end)
	return rows
end

local function report()
	print(os.date("%H:%M:%S"))
	print(string.format("  %-24s %10s     %-16s %10s", "SYSCALL", "COUNT", "PROCESS", "COUNT"))
	local calls, comms = sorted(by_call:counts()), sorted(by_comm:counts())
	for i = 1, top do
		local c, p = calls[i], comms[i]
		if not c and not p then
			break
		end
		print(string.format("  %-24s %10s     %-16s %10s",
			c and c[1]:gsub("^tracepoint:syscalls:sys_enter_", "") or "", c and c[2] or "",
			p and p[1] or "", p and p[2] or ""))
	end
	by_call:clear()
	by_comm:clear()
end

lbpf.every(1000, report)
if seconds then
	lbpf.after(seconds * 1000 + 50, lbpf.exit)
end
