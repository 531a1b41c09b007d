-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- A policy of the daemon tests: a 10 ms timer that logs its worst lateness
-- (ms) over each 500 ms as "late N".
local period, last, worst = 10, lbpf.now(), 0
lbpf.every(period, function()
	local now = lbpf.now()
	worst = math.max(worst, (now - last) / 1e6 - period)
	last = now
end)
lbpf.every(500, function() print(string.format("late %.2f", worst)); worst = 0 end)
