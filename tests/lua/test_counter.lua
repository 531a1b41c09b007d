-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- lbpf.count_tracepoint, the foundation's built-in BPF program, from Lua:
-- counting, read/detach/close, <close>, and the errors of bad tracepoints.
-- `lbpf run` needs root (CAP_BPF), so this layer runs as root anyway.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

-- A counter on sched:sched_switch counts the context switches of a sleep.
test("counter: counts sched_switch", function()
	local c = lbpf.count_tracepoint("sched:sched_switch")
	ok(tostring(c):match("^lbpf%.counter %(0x%x+%)$"), "tostring %s", tostring(c))
	eq(c:name(), "tracepoint:sched:sched_switch", "name")
	local before = c:read()
	for _ = 1, 5 do lbpf.sleep(1) end
	local after = c:read()
	ok(math.type(after) == "integer" and after > before, "read %s then %s", before, after)
	c:detach()
	c:detach() -- idempotent
	raises("detached", c.read, c)
	c:close()
	raises("closed", c.read, c)
	raises("closed", c.name, c)
end)

-- A <close> counter detaches at the end of its scope; later ones attach again.
test("counter: <close> detaches", function()
	local saved
	do
		local c <close> = lbpf.count_tracepoint("sched:sched_switch")
		saved = c
		lbpf.sleep(1)
	end
	raises("closed", saved.read, saved)
	local again <close> = lbpf.count_tracepoint("sched:sched_switch")
	lbpf.sleep(1)
	ok(again:read() > 0, "a second counter counts")
end)

-- Malformed or unknown tracepoints raise errors naming the problem.
test("counter: bad tracepoints", function()
	raises('expected "category:name"', lbpf.count_tracepoint, "sched_switch")
	raises('expected "category:name"', lbpf.count_tracepoint, "sched:")
	raises('expected "category:name"', lbpf.count_tracepoint, "a:b:c")
	raises("string expected", lbpf.count_tracepoint)
	local err = raises("ENOENT", lbpf.count_tracepoint, "nosuch:tracepoint")
	ok(err:find("no such tracepoint", 1, true), "%s", err)
end)
