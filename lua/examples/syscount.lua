-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- syscount: system calls counted in the kernel by syscall and by process,
-- printed every second. No Lua runs per system call.
--   lbpf run syscount.lua [seconds] [top]
-- One raw_syscalls tracepoint counts by syscall number (attaching the 360
-- syscalls:sys_enter_* tracepoints works too, but detaching that many takes
-- the kernel half a minute); numbers are named from the kernel headers.
local seconds, top = tonumber(arg[1]), tonumber(arg[2]) or 10

local by_call = lbpf.tracepoint("raw_syscalls:sys_enter", { count = "id" })
local by_comm = lbpf.tracepoint("raw_syscalls:sys_enter", { count = "comm" })

local names = {}
local unistd = io.open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
if unistd then
	for line in unistd:lines() do
		local name, nr = line:match("^#define __NR_([%w_]+) (%d+)")
		if name then
			names[tonumber(nr)] = name
		end
	end
	unistd:close()
end

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
			c and (names[c[1]] or "syscall " .. c[1]) or "", c and c[2] or "",
			p and p[1] or "", p and p[2] or ""))
	end
	by_call:clear()
	by_comm:clear()
end

lbpf.every(1000, report)
if seconds then
	lbpf.after(seconds * 1000 + 50, lbpf.exit)
end
