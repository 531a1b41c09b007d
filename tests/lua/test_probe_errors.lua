-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Misuse of the tracing probes raises an error that names the problem (the
-- option, the field, the operator, the pattern), and a constructor that
-- raised leaves no BPF program or link behind in this process.
-- `lbpf run` needs root (CAP_BPF), so this layer runs as root anyway.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

local TP = "syscalls:sys_enter_openat"
local HAVE_SYSCALLS = io.open("/sys/kernel/tracing/events/syscalls/sys_enter_openat/format") ~= nil

-- The prog and link ids this process holds, counted.
local function held()
	local self = io.open("/proc/self/stat"):read("n")
	local out = t.sh(("grep -h -E '^(prog|link)_id:' /proc/%d/fdinfo/* 2>/dev/null"):format(self))
	local _, n = out:gsub("\n", "")
	return n
end

local function syscalls_test(name, fn)
	test(name, function()
		if not HAVE_SYSCALLS then
			t.skip_test("no syscalls tracepoints (CONFIG_FTRACE_SYSCALLS)")
		end
		fn()
	end)
end

syscalls_test("probe errors: options", function()
	local err = raises("unknown option 'cuont'", lbpf.tracepoint, TP, { cuont = "comm" })
	ok(err:find("known: filter", 1, true), "lists the known options: %s", err)
	raises("count and hist: a probe has one aggregation", lbpf.tracepoint, TP, { count = "comm", hist = "flags" })
	raises("sum and max: a probe has one aggregation", lbpf.tracepoint, TP, { sum = "flags", max = "mode" })
	raises("by: needs an aggregation", lbpf.tracepoint, TP, { by = "comm" })
	raises("by: count takes its keys directly", lbpf.tracepoint, TP, { count = "comm", by = "pid" })
	raises("pid: only uprobes and USDT probes take a pid", lbpf.tracepoint, TP, { pid = 1 })
	raises("latency needs a return probe", lbpf.tracepoint, TP, { hist = "latency" })
	raises("strlen: expected 2..1024, got 1", lbpf.tracepoint, TP, { strlen = 1 })
	raises("strlen: expected 2..1024, got 4096", lbpf.tracepoint, TP, { strlen = 4096 })
	raises("lhist: need min < max", lbpf.tracepoint, TP, { lhist = { "flags", 10, 0, 1 } })
	-- the bucket count of the widest range overflows int64 if computed signed
	raises("at most 1000 buckets", lbpf.tracepoint, TP,
		{ lhist = { "flags", math.mininteger, math.maxinteger, 1 } })
	raises("lhist: need min < max, step > 0", lbpf.tracepoint, TP, { lhist = { "flags", 0, 10, 0 } })
	raises("lhist: expected {value, min, max, step}", lbpf.tracepoint, TP, { lhist = "flags" })
	raises("count: expected 1 to 4 names", lbpf.tracepoint, TP, { count = { "pid", "tid", "uid", "gid", "cpu" } })
	raises("kstack: expected a boolean", lbpf.tracepoint, TP, { kstack = "yes" })
	raises("function expected", lbpf.tracepoint, TP, {}, 42)
end)

syscalls_test("probe errors: names", function()
	local err = raises("filter.nosuch: unknown name 'nosuch' for tracepoint:syscalls:sys_enter_openat",
		lbpf.tracepoint, TP, { filter = { nosuch = 1 } })
	ok(err:find("valid: pid, tid, uid, gid, cpu, cgroup, comm, probe", 1, true) and err:find("filename", 1, true),
		"lists the valid names: %s", err)
	raises("count: unknown name 'nosuch'", lbpf.tracepoint, TP, { count = "nosuch" })
	raises("by: unknown name 'nosuch'", lbpf.tracepoint, TP, { hist = "flags", by = "nosuch" })
	raises("value: unknown name 'nosuch'", lbpf.tracepoint, TP, { sum = "nosuch" })
	-- arguments and ret exist for kprobes/uprobes and return probes only
	raises("unknown name 'arg1'", lbpf.tracepoint, TP, { count = "arg1" })
	raises("value: field 'prev_comm' of tracepoint:sched:sched_switch is a string", lbpf.tracepoint,
		"sched:sched_switch", { sum = "prev_comm" })
	raises("filter.filename: field 'filename' of tracepoint:sched:sched_process_exec is a string",
		lbpf.tracepoint, "sched:sched_process_exec", { filter = { filename = 1 } })
	raises("strings: field 'flags' of tracepoint:syscalls:sys_enter_openat is not a pointer", lbpf.tracepoint,
		TP, { strings = { "flags" } })
	raises("strings.filename: expected \"user\" or \"kernel\"", lbpf.tracepoint, TP, { strings = { filename = "heap" } })
end)

syscalls_test("probe errors: filters", function()
	raises("filter.flags: unknown operator '=~' (use ==, !=, <, <=, >, >= or &)", lbpf.tracepoint, TP,
		{ filter = { flags = { "=~", 1 } } })
	raises("filter.flags: unknown operator '1'", lbpf.tracepoint, TP, { filter = { flags = { 1, 2 } } })
	raises("filter.flags: expected {op, value}", lbpf.tracepoint, TP, { filter = { flags = { {}, 2 } } })
	raises("filter.flags: expected an integer, got string", lbpf.tracepoint, TP, { filter = { flags = "x" } })
	raises("filter.comm: expected a process name of at most 15 characters", lbpf.tracepoint, TP,
		{ filter = { comm = "a-name-longer-than-15" } })
	raises("filter: keys must be names", lbpf.tracepoint, TP, { filter = { 1 } })
	raises("filter: at most 8 conditions", lbpf.tracepoint, TP, { filter = {
		pid = 1, tid = 1, uid = 1, gid = 1, cpu = 1, cgroup = 1, flags = 1, mode = 1, dfd = 1 } })
end)

syscalls_test("probe errors: patterns", function()
	raises("tracepoint 'syscalls:sys_enter_lbpf_nothing_*' matches nothing", lbpf.tracepoint,
		"syscalls:sys_enter_lbpf_nothing_*")
	raises("tracepoint 'syscalls/lbpf_nothing' matches nothing", lbpf.tracepoint, "syscalls/lbpf_nothing")
	local self = "/proc/self/exe"
	raises("matches no function", lbpf.uprobe, self, "lbpf_no_such_function_*")
	raises("no such function or symbol", lbpf.uprobe, self, "lbpf_no_such_function")
	raises("find binary /nonexistent/lbpf-binary", lbpf.uprobe, "/nonexistent/lbpf-binary", "main")
	local script = arg[0] -- a file that is not ELF: named so, not "errno 4001"
	raises("ENOEXEC: uprobe: " .. script .. " is not an ELF file", lbpf.uprobe, script, "main")
	raises("is not an ELF file", lbpf.uprobe, script, "lbpf_*")
	raises("offset must be > 0", lbpf.uprobe, self, 0)
end)

syscalls_test("probe errors: methods", function()
	local counted <close> = lbpf.tracepoint(TP, { count = "comm" })
	raises("probe:hist(): syscalls:sys_enter_openat aggregates with count/sum/min/max/avg; use probe:counts()",
		counted.hist, counted)
	local hist <close> = lbpf.tracepoint(TP, { hist = "flags" })
	raises("aggregates with a histogram; use probe:hist()", hist.counts, hist)
	local plain <close> = lbpf.tracepoint(TP)
	raises("has no aggregation", plain.counts, plain)
	raises("probe has no aggregation to clear", plain.clear, plain)
	raises("boolean expected", plain.enable, plain, 1)
	plain:detach()
	raises("probe is detached", plain.enable, plain, true)
end)

-- Where the kernel lacks kprobes, each kernel-function probe says so in one
-- message; where it has them, tests/vm/test_kprobe.sh tests them.
test("probe errors: kprobes", function()
	if io.open("/sys/bus/event_source/devices/kprobe/type") then
		t.skip_test("this kernel has kprobes (tests/vm/test_kprobe.sh tests them)")
	end
	raises("kprobe 'vfs_read': kprobes are not available on this kernel (CONFIG_KPROBES)", lbpf.kprobe, "vfs_read")
	raises("kretprobe 'vfs_*': kprobes are not available on this kernel (CONFIG_KPROBES)", lbpf.kretprobe, "vfs_*")
	raises("kprobes are not available on this kernel (CONFIG_KPROBES)", lbpf.latency, "vfs_read")
end)

-- Every error above released what the constructor had made: this process
-- holds no more programs or links than before them (collected or not).
syscalls_test("probe errors: nothing left behind", function()
	collectgarbage()
	local before = held()
	for _ = 1, 20 do
		pcall(lbpf.tracepoint, TP, { filter = { nosuch = 1 } })
		pcall(lbpf.tracepoint, TP, { count = "comm", hist = "flags" })
		pcall(lbpf.uprobe, "/proc/self/exe", "lbpf_no_such_function")
	end
	eq(held(), before, "programs and links held")
end)

-- Odd values reach the printers and readers without memory errors (make
-- check runs this under ASan and UBSan): a histogram table built in Lua
-- with a negative and a huge count, and counts() of a probe with no event.
syscalls_test("probe errors: odd counts and empty aggregations", function()
	lbpf.print_hist({ kind = "log2", { lo = 0, hi = 1, count = -1 },
		{ lo = 1, hi = 2, count = math.maxinteger }, { lo = 2, hi = 4, count = 5 } })
	lbpf.print_hist({ kind = "linear", { lo = 0, hi = 10, count = 10 }, { lo = 10, hi = 20, count = -100 } })
	local p = lbpf.tracepoint(TP, { filter = { comm = "lbpf-no-such" }, count = "comm" })
	local n = 0
	for _ in pairs(p:counts()) do n = n + 1 end
	eq(n, 0, "entries before any event")
	p:detach()
end)
