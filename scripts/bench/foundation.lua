-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--[[
The scheduler and timer half of scripts/bench/foundation.sh, which formats its
output into the table. Prints one "key value" line per measurement.

  lbpf run scripts/bench/foundation.lua       lbpf's timers and tasks
  lua5.4 scripts/bench/foundation.lua         the reference: bare coroutines

Run by lbpf it uses lbpf.now(): wall-clock monotonic ns. Run by plain lua5.4,
which has no monotonic clock, it uses os.clock(): CPU time, which equals wall
time for these loops that never block.
]]

local N = 100000 -- timer callbacks and spawn cycles
local M = 10000 -- sleeping tasks and pending timers
local HOLD = 100 -- ms those sleep or wait

local function report(key, value)
	print(string.format("%s %.0f", key, value))
end

-- The reference: what the same work costs with plain coroutines, no loop.
if not lbpf then
	local clock = os.clock
	local f = function() end
	local t0 = clock()
	for _ = 1, N do
		coroutine.resume(coroutine.create(f))
	end
	report("ref_dispatch_ns", (clock() - t0) * 1e9 / N)

	local g = function() coroutine.yield() end
	t0 = clock()
	for _ = 1, N do
		local co = coroutine.create(g)
		coroutine.resume(co)
		coroutine.resume(co)
	end
	report("ref_spawn_cycle_ns", (clock() - t0) * 1e9 / N)
	return
end

local now, after, spawn, sleep, wait = lbpf.now, lbpf.after, lbpf.spawn, lbpf.sleep, lbpf.wait

-- The benchmark runs as one task, so that it can wait for each phase to end.
spawn(function()
	-- 1. How late a timer fires on an idle loop: 50 after(20) in a row. First,
	-- while the runtime is fresh: later phases leave 100,000-entry tables behind
	-- whose one-off rehash would land in this measurement.
	local late = {}
	for _ = 1, 50 do
		local due = now() + 20e6
		after(20, function()
			lbpf.notify_one("late", now() - due)
		end)
		late[#late + 1] = wait("late")
	end
	table.sort(late)
	report("lateness_median_ns", late[#late // 2 + 1])
	report("lateness_max_ns", late[#late])

	-- 2. Dispatching a timer callback: N timers, all due at once. Arming
	-- happens while this task runs, so no callback fires before it waits.
	local fired = 0
	local function on_timer()
		fired = fired + 1
		if fired == N then
			lbpf.notify_one("timers", now())
		end
	end
	local t0 = now()
	for _ = 1, N do
		after(0, on_timer)
	end
	local armed = now()
	local done = wait("timers")
	report("timer_arm_ns", (armed - t0) / N)
	report("timer_dispatch_ns", (done - armed) / N)
	collectgarbage()

	-- 3. A spawn + sleep(0) + resume cycle: N tasks that each yield once.
	local finished = 0
	local function yield_once()
		sleep(0)
		finished = finished + 1
		if finished == N then
			lbpf.notify_one("tasks", now())
		end
	end
	t0 = now()
	for _ = 1, N do
		spawn(yield_once)
	end
	done = wait("tasks")
	report("spawn_cycle_ns", (done - t0) / N)
	collectgarbage()

	-- 4. M tasks sleeping HOLD ms at once: time to create, and until the last
	-- one has woken (HOLD ms of that is the sleep itself).
	finished = 0
	local function sleeper()
		sleep(HOLD)
		finished = finished + 1
		if finished == M then
			lbpf.notify_one("sleepers", now())
		end
	end
	t0 = now()
	for _ = 1, M do
		spawn(sleeper)
	end
	report("sleepers_create_ns", now() - t0)
	report("sleepers_done_ns", wait("sleepers") - t0)
	collectgarbage()

	-- 5. M timers pending at once, each due in HOLD ms.
	fired = 0
	local function pending()
		fired = fired + 1
		if fired == M then
			lbpf.notify_one("pending", now())
		end
	end
	t0 = now()
	for _ = 1, M do
		after(HOLD, pending)
	end
	report("timers_create_ns", now() - t0)
	report("timers_done_ns", wait("pending") - t0)
end)
