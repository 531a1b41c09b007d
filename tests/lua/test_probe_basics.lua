-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- A tracepoint probe as an lbpf object: counting hits with no Lua per event,
-- detach/close/<close>, and the errors of bad tracepoint names.
-- `lbpf run` needs root (CAP_BPF), so this layer runs as root anyway.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

-- A probe on sched:sched_switch counts the context switches of a sleep.
test("probe: counts sched_switch", function()
	local c = lbpf.tracepoint("sched:sched_switch")
	ok(tostring(c):match("^lbpf%.probe %(0x%x+%)$"), "tostring %s", tostring(c))
	eq(c:points()[1], "tracepoint:sched:sched_switch", "points")
	local before = c:stats().events
	for _ = 1, 5 do lbpf.sleep(1) end
	local after = c:stats().events
	ok(math.type(after) == "integer" and after > before, "events %s then %s", before, after)
	eq(c:stats().attached, 1, "attached")
	c:detach()
	c:detach() -- idempotent
	eq(c:stats().attached, 0, "attached after detach")
	c:close()
	raises("closed", c.stats, c)
	raises("closed", c.points, c)
end)

-- A <close> probe detaches at the end of its scope; later ones attach again.
test("probe: <close> detaches", function()
	local saved
	do
		local c <close> = lbpf.tracepoint("sched:sched_switch")
		saved = c
		lbpf.sleep(1)
	end
	raises("closed", saved.stats, saved)
	local again <close> = lbpf.tracepoint("sched:sched_switch")
	lbpf.sleep(1)
	ok(again:stats().events > 0, "a second probe counts")
end)

-- Malformed or unknown tracepoints raise errors naming the problem.
test("probe: bad tracepoints", function()
	raises('expected "category:name"', lbpf.tracepoint, "sched_switch")
	raises('expected "category:name"', lbpf.tracepoint, "sched:")
	raises("matches nothing", lbpf.tracepoint, "a:b:c")
	raises("string expected", lbpf.tracepoint)
	local err = raises("matches nothing", lbpf.tracepoint, "nosuch:tracepoint")
	ok(err:find("nosuch:tracepoint", 1, true), "%s", err)
end)
