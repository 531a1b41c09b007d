-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- The lbpf module from Lua: require, arg and ..., clocks, tasks, wait/notify,
-- on_exit and exit (in child runtimes), argument errors, objects' tostring,
-- close() and <close>.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

-- captured in the body, which is not a task
local nvarargs = select("#", ...)
local body_sleep_ok, body_sleep_err = pcall(lbpf.sleep, 1)
local body_wait_ok, body_wait_err = pcall(lbpf.wait, "x")

-- require "lbpf" returns the preloaded global; each binding is its own module too.
test("core: require returns the global", function()
	eq(require "lbpf", lbpf, "require 'lbpf'")
	eq(package.loaded.lbpf, lbpf, "package.loaded.lbpf")
	eq(package.loaded["lbpf.timer"].after, lbpf.after, "lbpf.timer.after")
	eq(package.loaded["lbpf.watch"].watch, lbpf.watch, "lbpf.watch.watch")
	ok(type(lbpf.version) == "string" and lbpf.version:match("^%d+%.%d+%.%d+"), "version %s",
		tostring(lbpf.version))
end)

-- The global arg holds the script as arg[0] and no arguments; ... is empty.
test("core: arg and ... of this script", function()
	ok(arg[0]:match("test_core%.lua$"), "arg[0] = %s", tostring(arg[0]))
	eq(#arg, 0, "#arg")
	eq(nvarargs, 0, "select('#', ...)")
	local dir = arg[0]:match("^(.*)/") or "."
	ok(package.path:sub(1, #dir + 7) == dir .. "/?.lua;", "package.path starts with %s/?.lua: %s",
		dir, package.path)
end)

-- A child script gets its arguments in arg[1..n] and in ..., empty ones included.
test("core: arguments reach a child script", function()
	local lbpf_bin = t.lbpf()
	if not lbpf_bin then
		return t.skip_test("LBPF is not set (run through tests/run.sh)")
	end
	local dir = arg[0]:match("^(.*)/") or "."
	local out, code = t.sh(("%s run %s/child_args.lua one 'two words' '' 2>&1"):format(lbpf_bin, dir))
	eq(code, 0, "exit code (output: " .. out .. ")")
	eq(out, "arg0=" .. dir .. "/child_args.lua n=3 [one] [two words] [] varargs=3 [one] [two words] []\n",
		"output")
end)

-- arg[-1] is the path lbpf was started with, so a script can run its
-- interpreter again (lbpf FILE.lua is lbpf run FILE.lua), as under lua5.4.
test("core: arg[-1] runs lbpf again", function()
	if not t.lbpf() then
		return t.skip_test("LBPF is not set (run through tests/run.sh)")
	end
	eq(arg[-1], os.getenv("LBPF"), "arg[-1]")
	local dir = arg[0]:match("^(.*)/") or "."
	local out, code = t.sh(("%s %s/child_args.lua x 2>&1"):format(t.lbpf(), dir))
	eq(code, 0, "exit code (output: " .. out .. ")")
	eq(out, "arg0=" .. dir .. "/child_args.lua n=1 [x] varargs=1 [x]\n", "output")
end)

-- A callback's coroutine that the script keeps (coroutine.running()) stays
-- dead after the callback: the pool never gives it to another callback.
test("core: a coroutine the script holds is never reused", function()
	local held, woke = nil, false
	lbpf.after(0, function() held = coroutine.running() end)
	lbpf.sleep(20)
	lbpf.after(0, function() lbpf.sleep(150); woke = true end)
	lbpf.sleep(20)
	eq(coroutine.status(held), "dead", "status of the held coroutine")
	local resumed, err = coroutine.resume(held)
	eq(resumed, false, "resume of the held coroutine")
	eq(err, "cannot resume dead coroutine", "its error")
	lbpf.sleep(30)
	eq(woke, false, "the other callback's sleep was not cut short")
	lbpf.sleep(250)
	eq(woke, true, "the other callback woke on time")
end)

-- debug.sethook/gethook behave as under lua5.4 (lbpf's own hook is chained,
-- not shown); a hook a callback sets ends with that callback.
test("core: debug.sethook is the script's", function()
	eq(debug.gethook(), nil, "no hook at first")
	local n = 0
	local function f() n = n + 1 end
	debug.sethook(f, "", 100)
	local fn, mask, count = debug.gethook()
	eq(fn, f, "gethook's function")
	eq(mask, "", "gethook's mask")
	eq(count, 100, "gethook's count")
	for _ = 1, 10000 do end
	debug.sethook()
	ok(n >= 100, "count hook ran (%d times)", n)
	eq(debug.gethook(), nil, "removed")
	local inside
	lbpf.after(0, function() debug.sethook(f, "l"); inside = select(2, debug.gethook()) end)
	lbpf.sleep(20)
	local later
	lbpf.after(0, function() later = debug.gethook() end)
	lbpf.sleep(20)
	eq(inside, "l", "the hook inside the callback")
	eq(later, nil, "no hook in the next callback")
end)

-- lbpf.now() is monotonic integer ns; lbpf.time() is realtime float seconds.
test("core: clocks", function()
	local a = lbpf.now()
	eq(math.type(a), "integer", "math.type(now())")
	lbpf.sleep(5)
	local b = lbpf.now()
	ok(b - a >= 5e6, "sleep(5) took %d ns by now()", b - a)
	eq(math.type(lbpf.time()), "float", "math.type(time())")
	ok(math.abs(lbpf.time() - os.time()) < 2, "time() %f vs os.time() %d", lbpf.time(), os.time())
end)

-- spawn runs fn(...) as a task on a later round and returns its handle.
test("core: spawn and status", function()
	local got
	local task = lbpf.spawn(function(a, b) got = a .. b; lbpf.sleep(1) end, "x", "y")
	eq(task:status(), "ready", "status before it ran")
	ok(tostring(task):match("^lbpf%.task %(0x%x+%)$"), "tostring %s", tostring(task))
	lbpf.sleep(0)
	eq(got, "xy", "arguments")
	eq(task:status(), "sleeping", "status while it sleeps")
	lbpf.sleep(5)
	eq(task:status(), "done", "status at the end")
	eq(task:cancel(), false, "cancel of a finished task")
	local failing = lbpf.spawn(function() error("planned failure (expected in the log)") end)
	lbpf.sleep(0)
	eq(failing:status(), "failed", "status after an error")
end)

-- sleep(ms) suspends for at least ms, also fractional; sleep(0) yields a round.
test("core: sleep", function()
	for _, ms in ipairs { 0.5, 3, 10 } do
		local t0 = lbpf.now()
		lbpf.sleep(ms)
		ok(lbpf.now() - t0 >= ms * 1e6, "sleep(%s) took %d ns", ms, lbpf.now() - t0)
	end
	local order = {}
	lbpf.spawn(function() order[#order + 1] = "other" end)
	lbpf.sleep(0)
	order[#order + 1] = "me"
	eq(table.concat(order, ","), "other,me", "sleep(0) let the other task run")
end)

-- cancel() stops sleeping and waiting tasks, closing their <close> variables.
test("core: cancel", function()
	local closed, resumed = 0, false
	local function guard()
		return setmetatable({}, { __close = function() closed = closed + 1 end })
	end
	local sleeper = lbpf.spawn(function() local g <close> = guard(); lbpf.sleep(60000); resumed = true end)
	local waiter = lbpf.spawn(function() local g <close> = guard(); lbpf.wait("never"); resumed = true end)
	lbpf.sleep(0)
	eq(sleeper:status() .. "," .. waiter:status(), "sleeping,waiting", "states")
	eq(sleeper:cancel(), true, "cancel a sleeping task")
	eq(waiter:cancel(), true, "cancel a waiting task")
	eq(sleeper:cancel(), false, "cancel twice")
	eq(sleeper:status() .. "," .. waiter:status(), "cancelled,cancelled", "states after cancel")
	eq(closed, 2, "<close> variables closed")
	eq(lbpf.notify_all("never"), 0, "the waiter left its queue")
	lbpf.sleep(1)
	eq(resumed, false, "a cancelled task resumed")
	local me
	me = lbpf.spawn(function() me:cancel(); resumed = true end)
	lbpf.sleep(0)
	eq(me:status(), "cancelled", "self-cancel")
	eq(resumed, false, "code after self-cancel ran")
end)

-- wait/notify pass values (nils too), first waiter first; a timeout gives nil, "timeout".
test("core: wait and notify", function()
	local got = {}
	for i = 1, 3 do
		lbpf.spawn(function() got[i] = table.pack(lbpf.wait("ev")) end)
	end
	lbpf.sleep(0)
	eq(lbpf.notify_one("ev", 1, nil, "x"), true, "notify_one with a waiter")
	eq(lbpf.notify_all("ev", "all"), 2, "notify_all count")
	eq(lbpf.notify_one("ev"), false, "notify_one without waiters")
	eq(lbpf.notify_all("ev"), 0, "notify_all without waiters")
	lbpf.sleep(0)
	eq(got[1].n .. tostring(got[1][1]) .. tostring(got[1][2]) .. got[1][3], "31nilx", "first waiter")
	eq(got[2].n .. got[2][1] .. got[3][1], "1allall", "the others")
	local t0 = lbpf.now()
	local v, e = lbpf.wait("nobody", 10)
	eq(v, nil, "value after timeout")
	eq(e, "timeout", "second value after timeout")
	ok(lbpf.now() - t0 >= 10e6, "the timeout came early")
	lbpf.spawn(function() lbpf.notify_one("soon", "v") end)
	eq(lbpf.wait("soon", 1000), "v", "notified before the timeout")
end)

-- sleep and wait refuse to run outside a task, with a message that says so.
test("core: sleep outside a task", function()
	eq(body_sleep_ok, false, "sleep in the body")
	ok(tostring(body_sleep_err):find("not inside a task", 1, true), "%s", tostring(body_sleep_err))
	eq(body_wait_ok, false, "wait in the body")
	ok(tostring(body_wait_err):find("not inside a task", 1, true), "%s", tostring(body_wait_err))
	local co = coroutine.wrap(function() return pcall(lbpf.sleep, 1) end)
	local ok2, err = co()
	eq(ok2, false, "sleep in a plain coroutine")
	ok(tostring(err):find("not inside a task", 1, true), "%s", tostring(err))
end)

-- Misuse raises errors naming the problem.
test("core: argument errors", function()
	local f = function() end
	raises("delay must be >= 0 ms", lbpf.after, -1, f)
	raises("number expected", lbpf.after, "x", f)
	raises("function expected", lbpf.after, 1)
	raises("period must be > 0 ms", lbpf.every, 0, f)
	raises("period must be > 0 ms", lbpf.every, -5, f)
	raises("number expected", lbpf.watch, "x", "r", f)
	raises("not a file descriptor", lbpf.watch, -1, "r", f)
	raises('expected "r", "w" or "rw"', lbpf.watch, 0, "x", f)
	raises('expected "r", "w" or "rw"', lbpf.watch, 0, "", f)
	local closed = io.tmpfile()
	closed:close()
	raises("file is closed", lbpf.watch, closed, "r", f)
	raises("string expected", lbpf.wait)
	raises("milliseconds must be >= 0", lbpf.wait, "x", -1)
	raises("milliseconds must be >= 0", lbpf.sleep, -1)
	raises("number expected", lbpf.sleep, "soon")
	raises("function expected", lbpf.spawn, 42)
	raises("function expected", lbpf.on_exit, "x")
	raises("string expected", lbpf.notify_one)
	raises("string expected", lbpf.notify_all)
	raises("exit code must be 0..255", lbpf.exit, 256)
	raises("number expected", lbpf.exit, "x")
end)

-- Every object prints as "<class> (0x...)", or "<class> (closed)" once closed.
test("core: tostring of objects", function()
	local timer = lbpf.after(60000, function() end)
	local task = lbpf.spawn(function() end)
	local pipe = io.popen("true")
	local w = lbpf.watch(pipe, "r", function() end)
	for _, o in ipairs { timer, task, w } do
		ok(tostring(o):match("^lbpf%.%a+ %(0x%x+%)$"), "tostring %s", tostring(o))
		o:close()
		ok(tostring(o):match("^lbpf%.%a+ %(closed%)$"), "tostring after close %s", tostring(o))
	end
	pipe:close()
end)

-- close() and <close> release objects: a closed timer never fires; methods raise "closed".
test("core: close and <close>", function()
	local fired = 0
	local timer = lbpf.after(1, function() fired = fired + 1 end)
	timer:close()
	timer:close() -- idempotent
	do
		local scoped <close> = lbpf.after(1, function() fired = fired + 1 end)
	end
	do
		local task <close> = lbpf.spawn(function() fired = fired + 1 end)
	end
	lbpf.sleep(10)
	eq(fired, 0, "closed timers or tasks ran")
	raises("closed", timer.cancel, timer)
	raises("closed", timer.stats, timer)
	local task = lbpf.spawn(function() end)
	task:close()
	raises("closed", task.status, task)
	raises("closed", task.cancel, task)
	local pipe = io.popen("true")
	local w = lbpf.watch(pipe, "r", function() end)
	w:close()
	raises("closed", w.fd, w)
	raises("closed", w.cancel, w)
	pipe:close()
end)

-- Runs code in a child runtime; returns its stdout and exit code.
local function child(code)
	local lbpf_bin = t.lbpf()
	if not lbpf_bin then
		return nil
	end
	return t.sh(("%s -e '%s' 2>/dev/null"):format(lbpf_bin, code:gsub("'", "'\\''")))
end

-- on_exit handlers run at exit in reverse order; exit(code) sets the status.
test("core: on_exit and exit codes (child runtimes)", function()
	if not t.lbpf() then
		return t.skip_test("LBPF is not set (run through tests/run.sh)")
	end
	local cases = {
		{ "lbpf.on_exit(function() io.write(1) end) lbpf.on_exit(function() io.write(2) end)", "21", 0 },
		{ "lbpf.on_exit(function() io.write('h') end) lbpf.exit(3) io.write('AFTER')", "h", 3 },
		{ "lbpf.spawn(function() io.write('t') lbpf.exit(4) io.write('AFTER') end)", "t", 4 },
		{ "lbpf.after(5, function() lbpf.exit() end) lbpf.every(1000, print)", "", 0 },
		{ "lbpf.spawn(function() error('x') end) lbpf.after(5, function() io.write('on') end)", "on", 0 },
		{ "error('body error')", "", 1 },
	}
	for _, c in ipairs(cases) do
		local out, code = child(c[1])
		eq(out, c[2], "output of " .. c[1])
		eq(code, c[3], "exit code of " .. c[1])
	end
end)
