-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- lbpf.after and lbpf.every: firing, cancel, stats, accuracy against
-- lbpf.now() (printed; asserted only within 50 ms) and the absence of drift.
local t = require "testing"
local test, eq, ok = t.test, t.eq, t.ok

local MS = 1e6

local function busy_until(deadline)
	while lbpf.now() < deadline do
	end
end

-- after(ms, fn) calls fn() once, then the timer is disarmed; every's fn gets its timer.
test("timers: after fires once", function()
	local calls, nargs = 0, nil
	local timer = lbpf.after(2, function(...) calls = calls + 1; nargs = select("#", ...) end)
	eq(timer:stats().armed, true, "armed before it fires")
	lbpf.sleep(20)
	eq(calls, 1, "calls")
	eq(nargs, 0, "arguments of after's callback")
	local periodic, got
	periodic = lbpf.every(1, function(tm) got = tm; tm:cancel() end)
	lbpf.sleep(10)
	eq(got, periodic, "every's callback argument")
	local s = timer:stats()
	eq(s.fired .. "," .. tostring(s.armed), "1,false", "stats fired,armed")
	eq(timer:cancel(), false, "cancel after it fired")
end)

-- after(0) fires on the next loop pass; cancel() before that stops it.
test("timers: after(0) and cancel", function()
	local fired = {}
	lbpf.after(0, function() fired[#fired + 1] = "zero" end)
	local doomed = lbpf.after(0, function() fired[#fired + 1] = "CANCELLED" end)
	eq(doomed:cancel(), true, "cancel of an armed timer")
	eq(doomed:cancel(), false, "second cancel")
	lbpf.sleep(5)
	eq(table.concat(fired, ","), "zero", "fired")
end)

-- Timers fire after their deadline and (printed) close to it.
test("timers: accuracy against now()", function()
	local lates = {}
	for _, ms in ipairs { 1, 2, 5, 10, 20, 3.5 } do
		local start = lbpf.now()
		local fired_at
		lbpf.after(ms, function() fired_at = lbpf.now() end)
		lbpf.wait("never", ms + 60)
		ok(fired_at, "after(%s) did not fire within %s ms", ms, ms + 60)
		local late = fired_at - (start + ms * MS)
		ok(late >= 0, "after(%s) fired %.3f ms early", ms, -late / MS)
		ok(late < 50 * MS, "after(%s) fired %.3f ms late", ms, late / MS)
		lates[#lates + 1] = ("%s ms: +%.3f"):format(ms, late / MS)
	end
	t.note("timer lateness (ms): %s", table.concat(lates, ", "))
end)

-- Times of the first n firings of every(period, ...) and the deadlines they
-- served, start + slot * period, where slot counts the periods skipped so far
-- (stats().missed: the loop was later than a whole period). The callback runs
-- busy(k, start) if given.
local function every_times(period, n, busy)
	local times, slots, missed = {}, {}, 0
	local start = lbpf.now()
	local timer = lbpf.every(period, function(tm)
		times[#times + 1] = lbpf.now()
		slots[#slots + 1] = #times + missed
		missed = tm:stats().missed -- counted when this firing re-armed it
		if busy then busy(#times, start) end
		if #times == n then
			tm:cancel()
			lbpf.notify_one("every.done")
		end
	end)
	lbpf.wait("every.done", n * period + 1000)
	return times, start, timer, slots
end

-- The k-th firing of every(P) comes at start + k*P plus lateness that does not grow.
test("timers: every does not drift", function()
	local P, N = 10, 20
	local times, start, _, slots = every_times(P, N)
	eq(#times, N, "firings")
	local drift = {}
	for k = 1, N do
		drift[k] = times[k] - (start + slots[k] * P * MS)
		ok(drift[k] >= 0, "firing %d came %.3f ms early", k, -drift[k] / MS)
		ok(drift[k] < 50 * MS, "firing %d came %.3f ms late", k, drift[k] / MS)
	end
	local first, last = (drift[1] + drift[2] + drift[3]) / 3, (drift[N - 2] + drift[N - 1] + drift[N]) / 3
	t.note("every(%d) drift: first firings +%.3f ms, last firings +%.3f ms", P, first / MS, last / MS)
	ok(last - first < P * MS / 2, "drift grew by %.3f ms over %d periods", (last - first) / MS, N)
end, 3000)

-- Over 300 periods of 1 ms the lateness stays flat: a timer re-armed from the
-- time it fired would drift by its wake-up latency every period (tens of us,
-- so several ms in all). Medians make single slow wake-ups harmless.
test("timers: every(1) does not drift over 300 periods", function()
	local P, N = 1, 300
	local times, start, timer, slots = every_times(P, N)
	eq(#times, N, "firings")
	local function median_drift(from, to)
		local d = {}
		for k = from, to do d[#d + 1] = times[k] - (start + slots[k] * P * MS) end
		table.sort(d)
		return d[#d // 2 + 1]
	end
	local first, last = median_drift(1, 30), median_drift(N - 29, N)
	t.note("every(%d) median lateness: first 30 firings +%.3f ms, last 30 +%.3f ms (%d missed)", P,
		first / MS, last / MS, timer:stats().missed)
	ok(last - first < 2 * MS, "lateness grew by %.3f ms over %d periods", (last - first) / MS, N)
end, 5000)

-- A firing later than a whole period skips the missed periods (counted) and keeps the phase.
test("timers: every skips missed periods", function()
	local P = 20
	local times, start, timer = every_times(P, 3, function(k, start)
		if k == 1 then busy_until(start + 4.5 * P * MS) end -- stalls through periods 2 to 4
	end)
	eq(#times, 3, "firings")
	local slot2, slot3 = (times[2] - start) / (P * MS), (times[3] - start) / (P * MS)
	local missed = timer:stats().missed
	t.note("every(%d) stalled to period 4.5: fired at periods %.2f and %.2f, missed %d", P,
		slot2, slot3, missed)
	ok(slot2 >= 4.5, "the overdue firing came at period %.2f, during the stall", slot2)
	ok(missed >= 1, "no missed periods counted")
	ok(slot3 > slot2 and slot3 - math.floor(slot3) < 0.5,
		"the next firing left the grid: period %.2f", slot3)
end)

-- every() timers keep firing without a Lua reference (they are registered while armed).
test("timers: armed timers survive collection", function()
	local periodic, once = 0, 0
	lbpf.every(1, function(tm)
		periodic = periodic + 1
		if periodic == 3 then tm:cancel() end
	end)
	lbpf.after(2, function() once = once + 1 end)
	collectgarbage()
	collectgarbage()
	lbpf.sleep(30)
	eq(periodic .. "," .. once, "3,1", "firings of every, after")
end)

-- timer:stats() counts firings; cancel() from the callback stops an every().
test("timers: every stats and cancel from the callback", function()
	local timer = lbpf.every(1, function(tm)
		if tm:stats().fired == 5 then eq(tm:cancel(), true, "cancel from the callback") end
	end)
	lbpf.sleep(30)
	local s = timer:stats()
	eq(s.fired, 5, "fired")
	eq(s.armed, false, "armed")
end)

-- Timer callbacks are tasks: they may sleep and wait.
test("timers: callbacks may sleep", function()
	lbpf.after(1, function()
		lbpf.sleep(2)
		lbpf.notify_one("slept", "yes")
	end)
	eq(lbpf.wait("slept", 1000), "yes", "callback woke up")
end)

-- 10,000 timers all fire (the time it took is printed).
test("timers: 10,000 timers", function()
	local N, n = 10000, 0
	local t0 = lbpf.now()
	for i = 1, N do
		lbpf.after((i * 7) % 20, function()
			n = n + 1
			if n == N then lbpf.notify_one("all.fired") end
		end)
	end
	lbpf.wait("all.fired", 5000)
	eq(n, N, "fired")
	t.note("10,000 timers armed and fired in %.1f ms", (lbpf.now() - t0) / MS)
end)
