-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Child runtimes (lbpf.runtime, rt:resume, rt:stop) and lbpf.shared: the
-- resume/yield protocol, what values cross and what is refused, errors with
-- the child's traceback, limits, a child's timers driven by the parent's
-- loop, on_exit at stop, and the process-wide shared table.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises
local dir = arg[0]:match("^(.*)/") or "."

local function child(code, opts)
	opts = opts or {}
	opts.code = true
	return lbpf.runtime(code, opts)
end

-- The chunk is a coroutine: the first resume's values are its `...`, the
-- next ones what coroutine.yield returns; yields and returns come back.
test("runtime: resume and yield carry values both ways", function()
	local rt = child([[
		local a, b = ...
		local c = coroutine.yield(a + b, a .. "/" .. b)
		local d = coroutine.yield(c * 2)
		return "end", d
	]])
	eq(rt:status(), "suspended", "status before")
	local s, cat = rt:resume(1, 2)
	eq(s, 3, "sum")
	eq(cat, "1/2", "concat")
	eq(rt:resume(21), 42, "second yield")
	local e, d = rt:resume("last")
	eq(e, "end", "returned")
	eq(d, "last", "returned value")
	eq(rt:status(), "stopped", "a chunk that returned with nothing attached ends")
	raises("is stopped", rt.resume, rt)
end)

-- Tables are deep copies, keys and nesting kept; the child cannot change
-- the parent's table.
test("runtime: tables are deep-copied", function()
	local rt = child([[
		local t = ...
		t.nested.x = "changed in child"
		coroutine.yield(t, {[1] = "a", [2] = "b", [true] = 1.5, k = {{{"deep"}}}})
	]])
	local mine = {nested = {x = "parent"}, list = {1, 2, 3}}
	local copy, made = rt:resume(mine)
	eq(mine.nested.x, "parent", "parent's table untouched")
	eq(copy.nested.x, "changed in child", "the child's copy came back")
	ok(copy ~= mine, "a copy, not the same table")
	eq(#copy.list, 3, "list length")
	eq(made[2], "b", "array part")
	eq(made[true], 1.5, "boolean key, float value")
	eq(made.k[1][1][1], "deep", "nesting")
	rt:stop()
end)

-- Functions, cycles, runtime-bound (SINGLE) objects are refused with a clear
-- error, in both directions; the runtime stays usable after a refused argument.
test("runtime: values that cannot cross are refused", function()
	local rt = child("while true do coroutine.yield(...) end")
	raises("argument #1: a function cannot cross runtimes", rt.resume, rt, print)
	local cyc = {}
	cyc.self = cyc
	raises("nested deeper than", rt.resume, rt, cyc)
	local timer = lbpf.after(100000, function() end)
	raises("lbpf.timer cannot cross runtimes: it belongs to the runtime that made it",
		rt.resume, rt, timer)
	timer:cancel()
	raises("a table key of type table", rt.resume, rt, {[{}] = 1})
	eq(rt:resume("still fine"), "still fine", "usable after refusals")
	local bad = child("coroutine.yield(function() end)")
	raises("yielded value #1: a function cannot cross runtimes", bad.resume, bad)
	eq(bad:status(), "stopped", "a child that yields what cannot cross is stopped")
end)

-- A shareable object (lbpf.metric) crosses as the same object.
test("runtime: a metric is shared, not copied", function()
	local m = lbpf.metric.counter("test_runtime_shared", "a shared counter")
	local rt = child([[
		local m = ...
		m:inc(5)
		coroutine.yield(m)
		m:inc(1)
	]])
	local back = rt:resume(m)
	eq(m:value(), 5, "the child's increment")
	back:inc(10)
	eq(m:value(), 15, "through the returned handle")
	rt:resume()
	eq(m:value(), 16, "after the last resume")
	m:close()
end)

-- An error in the chunk raises in the parent with the child's traceback and
-- stops the child; a syntax error raises at creation.
test("runtime: errors carry the child's traceback", function()
	local rt = child("local x = ...\nerror('child failed: ' .. x)", {name = "failing"})
	local err = raises("runtime failing: [string \"failing\"]:2: child failed: 7", rt.resume, rt, 7)
	ok(err:find("stack traceback", 1, true), "no traceback: %s", err)
	eq(rt:status(), "stopped", "status after the error")
	raises("runtime broken: [string \"broken\"]:1:", child, "local = 1", {name = "broken"})
	raises("no script 'no_such_runtime_module'", lbpf.runtime, "no_such_runtime_module")
	raises("cannot open", lbpf.runtime, "/nonexistent/child.lua")
end)

-- A file runtime is found by module name next to this script; its package.path
-- starts with its folder.
test("runtime: a file child, found by module name", function()
	local rt = lbpf.runtime("runtime_child")
	local path, n = rt:resume(3)
	ok(path:sub(1, #dir + 7) == dir .. "/?.lua;", "child package.path: %s", path)
	eq(n, 6, "computed by the child")
	rt:stop()
end)

-- The child's callbacks run on the parent's loop: a timer of the child fires
-- while the parent waits; rt:stop() runs its on_exit handlers.
test("runtime: a child's timers run, stop runs its on_exit", function()
	local rt = child([[
		local n = 0
		lbpf.every(10, function() n = n + 1; lbpf.shared.test_runtime_ticks = n end)
		lbpf.on_exit(function() lbpf.shared.test_runtime_exited = true end)
		while true do coroutine.yield(n) end
	]])
	rt:resume()
	lbpf.sleep(120)
	local ticks = lbpf.shared.test_runtime_ticks
	ok(ticks and ticks >= 5, "child ticks while the parent sleeps: %s", tostring(ticks))
	ok(rt:resume() >= 5, "the chunk sees its own ticks")
	rt:stop()
	eq(rt:status(), "stopped", "status")
	eq(lbpf.shared.test_runtime_exited, true, "on_exit ran")
	local after = lbpf.shared.test_runtime_ticks
	lbpf.sleep(50)
	eq(lbpf.shared.test_runtime_ticks, after, "no tick after stop")
	lbpf.shared.test_runtime_ticks, lbpf.shared.test_runtime_exited = nil, nil
end)

-- A child that spins in its chunk is cut by its instruction limit; one over
-- its memory limit fails with the memory error.
test("runtime: limits", function()
	local spin = child("while true do end", {instructions = 1000000})
	raises("instruction limit of 1000000 exceeded", spin.resume, spin)
	local hog = child("local t = {} for i = 1, 1e7 do t[i] = ('x'):rep(100) .. i end",
		{memory = "1M"})
	raises("not enough memory", hog.resume, hog)
	eq(hog:status(), "stopped", "the hog is stopped")
end)

-- lbpf.exit() in a child ends the child only.
test("runtime: exit in a child stops the child", function()
	local rt = child("lbpf.exit(0)")
	eq(select("#", rt:resume()), 0, "no values")
	eq(select("#", rt:status()), 2, "status and code")
	eq(select(2, rt:status()), 0, "exit code")
	local three = child("lbpf.exit(3)")
	raises(": exited with code 3", three.resume, three)
	local state, code = three:status()
	eq(state, "stopped", "status after exit(3)")
	eq(code, 3, "exit code after exit(3)")
end)

-- The instruction limit holds while the child's script has a hook of its own.
test("runtime: the limit holds under a script's hook", function()
	local spin = child("debug.sethook(function() end, '', 10) while true do end",
		{instructions = 1000000})
	raises("instruction limit of 1000000 exceeded", spin.resume, spin)
end)

-- lbpf.shared: copies in and out, delete with nil, keys sorted, pairs, bad
-- keys and values refused; children see the same table.
test("shared: store, read, delete, keys", function()
	local s = lbpf.shared
	s.test_b = {list = {1, 2}, name = "x"}
	s.test_a = 1.5
	local copy = s.test_b
	copy.name = "changed"
	eq(s.test_b.name, "x", "reads are copies")
	local keys = table.concat(s:keys(), ",")
	ok(keys:find("test_a,test_b", 1, true), "keys sorted: %s", keys)
	local seen = 0
	for k, v in pairs(s) do
		if k == "test_a" then
			eq(v, 1.5, "pairs value")
			seen = seen + 1
		end
	end
	eq(seen, 1, "pairs")
	raises("string key expected", function() s[1] = true end)
	raises("'keys' is the name of a method", function() s.keys = 1 end)
	raises("lbpf.shared.f: a function cannot cross runtimes", function() s.f = print end)
	local rt = child("lbpf.shared.test_a = lbpf.shared.test_a * 2")
	rt:resume()
	eq(s.test_a, 3.0, "written by a child")
	s.test_a, s.test_b = nil, nil
	eq(s.test_a, nil, "deleted")
end)

-- An object in the shared table reads as nil once its owner closed it.
test("shared: a closed object reads as nil", function()
	local m = lbpf.metric.gauge("test_shared_gauge", "g")
	lbpf.shared.test_gauge = m
	lbpf.shared.test_gauge:set(4)
	eq(m:value(), 4, "set through the shared handle")
	m:close()
	eq(lbpf.shared.test_gauge, nil, "closed")
	lbpf.shared.test_gauge = nil
end)
