-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- For the benchmarks' tracers (tracing.sh, vm/fentry_guest.sh):
--   dofile("scripts/bench/counted.lua")(p, n)
-- prints "delivered D lost L" once the counts of probe p (its aggregation's
-- values, summed) reach n, checked every 20 ms, or at exit if they never do.
return function(p, n)
	local function total()
		local sum = 0
		for _, c in pairs(p:counts()) do sum = sum + c end
		return sum
	end
	local reported
	local function report()
		if not reported then
			reported = true
			print(("delivered %d lost %d"):format(total(), p:stats().lost))
			io.stdout:flush()
		end
	end
	lbpf.every(20, function() if total() >= n then report() end end)
	lbpf.on_exit(report)
end
