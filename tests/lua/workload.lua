-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--
-- Workloads and checks for the tests that trace tests/helpers/trace_target
-- (tests/integration/test_tracing.sh, tests/vm/test_kprobe.sh), loaded with
-- dofile by the scripts they generate. Environment: TT, the trace_target
-- binary; W, a work folder, where helpers.pids lists every workload started
-- (so the shell can kill leftovers).
--
-- A workload starts stopped: start() returns once it printed its pid, probes
-- filtered on that pid attach, go() lets it run and returns when it is done.
-- A check that fails prints "check failed: ..." to stderr and exits 1;
-- done() prints "ok" and exits 0.
H, W = os.getenv("TT"), os.getenv("W")
local live, pids = {}, assert(io.open(W .. "/helpers.pids", "a"))

-- fail(fmt, ...): the test fails; workloads still waiting are killed first,
-- or closing their pipes at exit would wait for them for ever.
function fail(fmt, ...)
	io.stderr:write("check failed: " .. fmt:format(...) .. "\n")
	for pid in pairs(live) do os.execute("kill -KILL " .. pid) end
	lbpf.exit(1)
end
function check(cond, fmt, ...)
	if not cond then fail(fmt, ...) end
	return cond
end
function eq(got, want, what)
	if got ~= want then fail("%s: got %s, want %s", what, tostring(got), tostring(want)) end
end
function done()
	print("ok")
	lbpf.exit(0)
end

-- start(args[, keep]) -> workload: trace_target started and waiting for SIGUSR1
function start(args, keep)
	local f = assert(io.popen(H .. " -s " .. (keep and "-k " or "") .. args, "r"))
	local pid = f:read("n")
	f:read("l")
	check(pid, "trace_target %s printed no pid", args)
	pids:write(pid, "\n")
	pids:flush()
	live[pid] = true
	return { pid = pid, f = f, keep = keep, args = args }
end

-- go(w): lets w work and returns when it is done; a kept workload (-k) stays
-- alive, its /proc/PID/maps readable, until finish(w).
function go(w)
	os.execute("kill -USR1 " .. w.pid)
	local line
	repeat line = w.f:read("l") until line == nil or line == "done"
	check(line == "done", "trace_target %s did not finish", w.args)
	if not w.keep then finish(w) end
end
function finish(w)
	if w.keep then os.execute("kill -USR1 " .. w.pid) end
	live[w.pid] = nil
	check(w.f:close(), "trace_target %s failed", w.args)
end

-- later(cond, fn): once cond() holds (events delivered), or after 5 s, runs
-- fn in a task, then done().
function later(cond, fn)
	lbpf.spawn(function()
		local t0 = lbpf.now()
		while not cond() and lbpf.now() - t0 < 5e9 do lbpf.sleep(10) end
		fn()
		done()
	end)
end

-- The number of keys of t (nil: 0).
function count_keys(t)
	local n = 0
	for _ in pairs(t or {}) do n = n + 1 end
	return n
end

-- The prog and link ids this lbpf process holds, as a set of "prog 12".
function bpf_ids()
	local self = io.open("/proc/self/stat"):read("n")
	local f = io.popen(("grep -h -E '^(prog|link)_id:' /proc/%d/fdinfo/* 2>/dev/null"):format(self))
	local t = {}
	for kind, id in f:read("a"):gmatch("(%a+)_id:%s*(%d+)") do t[kind .. " " .. id] = true end
	f:close()
	return t
end
