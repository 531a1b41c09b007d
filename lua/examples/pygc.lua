-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- pygc: a Python process's garbage collections, counted by generation, and
-- a histogram of the objects each collection freed, through the USDT probes
-- python:gc__start (arg1: the generation) and python:gc__done (arg1: the
-- objects collected) of Debian's python3, which fires them only while a
-- tracer is attached. Both aggregations stay in the kernel.
--   lbpf run pygc.lua [seconds] [pid] [python binary]
local seconds, pid = tonumber(arg[1]) or 5, tonumber(arg[2])
local python = arg[3] or "/usr/bin/python3"

local starts = lbpf.usdt(python, "python:gc__start", { pid = pid, count = "arg1" })
local freed = lbpf.usdt(python, "python:gc__done", { pid = pid, hist = "arg1" })
print(string.format("Tracing Python garbage collections%s for %d s...",
	pid and " of pid " .. pid or "", seconds))

lbpf.after(seconds * 1000, function()
	local counts, gens = starts:counts(), {}
	for gen in pairs(counts) do gens[#gens + 1] = gen end
	table.sort(gens)
	print(string.format("%10s  %s", "GENERATION", "COLLECTIONS"))
	for _, gen in ipairs(gens) do print(string.format("%10d  %d", gen, counts[gen])) end
	print("objects collected:")
	lbpf.print_hist(freed:hist())
	lbpf.exit()
end)
