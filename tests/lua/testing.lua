-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--
-- The harness of the Lua tests (tests/lua/test_*.lua, run as `lbpf run FILE`).
-- It prints the protocol of tests/run.sh: "PASS name", "FAIL name: why",
-- "SKIP name: why"; other lines show indented.
--
--   local t = require "testing"
--   t.test("name", function() ... end [, timeout_ms])  -- queued; runs as a task
--   t.skip("name", "why")                -- in the body
--   return t.skip_test("why")             -- inside a test
--
-- Tests run one after another, each in its own task (so it may sleep, wait
-- and watch), after the script's body. A test passes unless it raises; one
-- that outlives its timeout (5 s by default) is cancelled and fails. When the
-- last test ends, the script exits: 1 if any failed.
local lbpf = require "lbpf"

local M = {}
local queue, failed, finished = {}, 0, false

local function oneline(s)
	return (tostring(s):gsub("\n.*", ""))
end

local function run_one(i, t)
	local done = "testing.done." .. i
	local task = lbpf.spawn(function()
		lbpf.notify_one(done, xpcall(t.fn, debug.traceback))
	end)
	local ok, err = lbpf.wait(done, t.timeout)
	if ok == nil and err == "timeout" then
		task:cancel()
		ok, err = false, ("timed out after %d ms"):format(t.timeout)
	end
	if ok then
		print("PASS " .. t.name)
		return
	end
	if type(err) == "table" and err.skip then
		print(("SKIP %s: %s"):format(t.name, err.skip))
		return
	end
	failed = failed + 1
	print(("FAIL %s: %s"):format(t.name, oneline(err)))
	for line in tostring(err):gmatch("\n([^\n]*)") do
		print("  " .. line) -- the traceback, as comment lines
	end
end

local function runner()
	for i, t in ipairs(queue) do
		run_one(i, t)
	end
	finished = true
	lbpf.exit(failed > 0 and 1 or 0) -- also ends timers a test left behind
end

-- Queues a test; fn runs in its own task.
function M.test(name, fn, timeout_ms)
	if #queue == 0 then
		lbpf.spawn(runner)
		lbpf.on_exit(function()
			if not finished then
				print("FAIL testing: the script ended before all its tests ran")
			end
		end)
	end
	queue[#queue + 1] = { name = name, fn = fn, timeout = timeout_ms or 5000 }
end

function M.skip(name, why)
	print(("SKIP %s: %s"):format(name, why))
end

-- Ends the running test as skipped.
function M.skip_test(why)
	error({ skip = why })
end

-- A comment line with a measurement.
function M.note(fmt, ...)
	print("# " .. fmt:format(...))
end

function M.eq(got, want, what)
	if got ~= want then
		error(("%s: got %s, want %s"):format(what or "value", tostring(got), tostring(want)), 2)
	end
end

function M.ok(cond, fmt, ...)
	if not cond then
		error(fmt and fmt:format(...) or "assertion failed", 2)
	end
	return cond
end

-- Calls fn(...), which must raise an error containing `text`; returns it.
function M.raises(text, fn, ...)
	local ok, err = pcall(fn, ...)
	if ok then
		error(("no error; expected one containing '%s'"):format(text), 2)
	end
	if not tostring(err):find(text, 1, true) then
		error(("error '%s' lacks '%s'"):format(tostring(err), text), 2)
	end
	return err
end

-- Runs a shell command; returns its output and exit code.
function M.sh(cmd)
	local f = assert(io.popen(cmd, "r"))
	local out = f:read("a")
	local _, how, code = f:close()
	if how == "signal" then
		code = 128 + code
	end
	return out, code
end

-- The lbpf binary under test (tests/run.sh exports LBPF), quoted for sh.
function M.lbpf()
	local path = os.getenv("LBPF")
	return path and "'" .. path:gsub("'", "'\\''") .. "'"
end

return M
