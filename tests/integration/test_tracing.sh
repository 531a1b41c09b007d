#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Tracing probes against the running kernel, driven by workloads whose every
# system call and function call is known (tests/helpers/trace_target.c):
# tracepoints with exact counts, wildcards, in-kernel filters, every
# aggregation, string capture and truncation, kernel and user stacks, uprobes
# and uretprobes (arguments, return values, opts.pid, wildcards, offsets),
# lbpf.latency on a user function, event views that expire, lost-event
# accounting with a tiny ring, enable/detach, kprobes refused with one clear
# message where the kernel lacks them, `lbpf features`, and every example in
# lua/examples. (Option misuse: tests/lua/test_probe_errors.lua.)
#
# Each Lua script here starts its workloads stopped (trace_target -s prints its
# pid and waits for SIGUSR1), attaches probes filtered on their pids, lets them
# run, and checks; so other processes on the machine never count. A script
# ends by printing "ok"; a failed check prints "check failed: ..." and exits 1.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-tracing
TT=$HELPERS/trace_target
EXAMPLES=$LBPF_TOP/lua/examples
export W TT

TOP_PID=$$
# Kills what this file started, by the pids it recorded (checked by name so a
# recycled pid is spared), and removes the work folder.
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0 # not in the subshells of t_run
	reap
	[ -n "${LBPF_KEEP:-}" ] || rm -rf "$W"
}

# reap: kills leftover workloads (helpers.pids, written by workload.lua) and
# examples (NAME.pid), each only if its command line still says what it was.
reap() {
	local f pid what
	for f in "$W"/helpers.pids "$W"/*.pid; do
		[ -e "$f" ] || continue
		what=trace_target
		[ "$f" = "$W/helpers.pids" ] || what=$EXAMPLES/$(basename "$f" .pid).lua
		while read -r pid; do
			[ -n "$pid" ] || continue
			grep -qaF "$what" "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
		done < "$f"
		rm -f "$f"
	done
}
t_cleanup cleanup
mkdir -p "$W"

# lua NAME [ARGS...]: runs the Lua on stdin, after tests/lua/workload.lua (which
# starts workloads and checks), as $W/NAME.lua with `lbpf run ARGS`; fails
# unless it exits 0 and prints "ok". The output is left in $W/NAME.out and
# $W/NAME.err (kept with LBPF_KEEP=1).
lua() {
	local name=$1 rc=0
	shift
	{ echo "dofile('$LBPF_TOP/tests/lua/workload.lua')"; cat; } > "$W/$name.lua"
	timeout -k 2 30 "$LBPF" run "$@" "$W/$name.lua" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
	reap
	[ "$rc" -eq 0 ] && grep -qx ok "$W/$name.out" ||
		t_fail "exit code $rc: $(tail -c 800 "$W/$name.err") $(tail -c 400 "$W/$name.out")"
}

need() {
	t_need_root
	[ -x "$TT" ] || t_fail "$TT is not built (make)"
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
		t_skip "no syscalls tracepoints here (CONFIG_FTRACE_SYSCALLS)"
}

# ---- tracepoints ----

# count="probe" (per-point counters), count="comm", count="pid" and
# stats().events all see exactly the N getppid() calls of the workload, and
# nothing of other processes.
test_exact_counts() {
	need
	lua exact <<'EOF'
local N = 100000
local w = start("getppid " .. N)
local opts = function(o) o.filter = { pid = w.pid } return o end
local tp = "syscalls:sys_enter_getppid"
local by_probe = lbpf.tracepoint(tp, opts { count = "probe" })
local by_comm = lbpf.tracepoint(tp, opts { count = "comm" })
local by_pid = lbpf.tracepoint(tp, opts { count = "pid" })
local plain = lbpf.tracepoint(tp, opts {})
go(w)
eq(by_probe:counts()["tracepoint:syscalls:sys_enter_getppid"], N, "count=probe")
eq(by_comm:counts().trace_target, N, "count=comm")
eq(count_keys(by_comm:counts()), 1, "comm keys")
eq(by_pid:counts()[w.pid], N, "count=pid")
eq(plain:stats().events, N, "stats().events")
eq(plain:stats().lost, 0, "stats().lost")
done()
EOF
}

# Every field of an event: pid, tid, uid, gid, comm, probe, cpu, ts on the
# clock of lbpf.now(), cgroup, the tracepoint's own fields; ev:table() copies
# them; an unknown name raises an error naming it.
test_event_fields() {
	need
	local cgid=
	cgid=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
	local cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$cg2" ] && [ -n "$cgid" ] && cgid=$(stat -c %i "$cg2$cgid" 2>/dev/null) || cgid=
	CGROUP_ID=$cgid NCPU=$(nproc --all) lua fields <<'EOF'
local N = 3000
local w = start("getppid " .. N)
local n, bad, t0, first = 0, nil, nil, nil
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid } }, function(ev)
	n = n + 1
	local now = lbpf.now()
	if not (ev.pid == w.pid and ev.tid == w.pid and ev.comm == "trace_target" and ev.uid == 0 and
		ev.gid == 0 and ev.probe == "tracepoint:syscalls:sys_enter_getppid" and
		ev.__syscall_nr == 110 and ev.cpu >= 0 and ev.cpu < tonumber(os.getenv("NCPU")) and
		ev.ts >= t0 and ev.ts <= now and math.type(ev.cgroup) == "integer") then
		bad = bad or ev:table()
	end
	first = first or ev:table()
	if n == 1 then
		local ok, err = pcall(function() return ev.nosuch end)
		check(not ok and err:find("no field 'nosuch'", 1, true), "ev.nosuch: %s", tostring(err))
	end
end)
t0 = lbpf.now()
go(w)
later(function() return n >= N end, function()
	eq(n, N, "events delivered")
	if bad then
		local s = {}
		for k, v in pairs(bad) do s[#s + 1] = k .. "=" .. tostring(v) end
		fail("bad event: %s", table.concat(s, " "))
	end
	eq(first.pid, w.pid, "ev:table().pid")
	eq(first.comm, "trace_target", "ev:table().comm")
	eq(first.__syscall_nr, 110, "ev:table().__syscall_nr")
	local cg = tonumber(os.getenv("CGROUP_ID"))
	if cg then eq(first.cgroup, cg, "ev.cgroup (the cgroup2 directory's inode)") end
end)
EOF
}

# "sys_*_getppid" attaches 2 points and counts both, "sched/sched_process_*"
# as many as tracefs lists; a glob that matches nothing is an error naming it.
test_wildcard() {
	need
	NPROC_TP=$(ls -d /sys/kernel/tracing/events/sched/sched_process_* | wc -l) lua wildcard <<'EOF'
local w = start("getppid 1000")
local p = lbpf.tracepoint("syscalls:sys_*_getppid", { filter = { pid = w.pid }, count = "probe" })
eq(p:stats().attached, 2, "attached")
local pts = p:points()
table.sort(pts)
eq(table.concat(pts, " "), "tracepoint:syscalls:sys_enter_getppid tracepoint:syscalls:sys_exit_getppid", "points")
local procs = lbpf.tracepoint("sched/sched_process_*", { count = "probe" })
eq(procs:stats().attached, tonumber(os.getenv("NPROC_TP")), "sched/sched_process_* attached (as in tracefs)")
go(w)
local c = p:counts()
eq(c["tracepoint:syscalls:sys_enter_getppid"], 1000, "enter")
eq(c["tracepoint:syscalls:sys_exit_getppid"], 1000, "exit")
local ok, err = pcall(lbpf.tracepoint, "syscalls:sys_enter_lbpf_no_such_*")
check(not ok and err:find("syscalls:sys_enter_lbpf_no_such_*", 1, true) and err:find("matches nothing"),
	"glob error: %s", tostring(err))
done()
EOF
	t_expect_contains "$(cat "$W/wildcard.err")" "attached 2 probes for tracepoint:syscalls:sys_*_getppid"
}

# Filters on pid, tid, uid, comm and cgroup pass what they should and count the
# rest as filtered.
test_filter_task() {
	need
	lua filter_task <<'EOF'
local N = 2000
local a, b = start("getppid " .. N), start("getppid " .. 2 * N)
local tp = "syscalls:sys_enter_getppid"
local function counter(filter) return lbpf.tracepoint(tp, { filter = filter, count = "pid" }) end
local pid = counter { pid = a.pid }
local tid = counter { tid = b.pid }
local uid0 = counter { comm = "trace_target", uid = 0 }
local uidx = counter { comm = "trace_target", uid = 4242 }
local comm = counter { comm = "trace_target" }
local nocomm = counter { comm = "lbpf-no-such" }
local ne = counter { comm = "trace_target", pid = { "!=", a.pid } }
go(a) go(b)
local function n(p, k) return p:counts()[k] end
eq(n(pid, a.pid), N, "pid=a: a")
eq(n(pid, b.pid), nil, "pid=a: b")
eq(n(tid, b.pid), 2 * N, "tid=b: b")
eq(count_keys(tid:counts()), 1, "tid=b: keys")
eq(n(uid0, a.pid), N, "uid=0: a")
eq(n(uid0, b.pid), 2 * N, "uid=0: b")
eq(count_keys(uidx:counts()), 0, "uid=4242 keys")
check(uidx:stats().filtered >= 3 * N, "uid=4242 filtered %d", uidx:stats().filtered)
eq(n(comm, a.pid), N, "comm: a")
eq(n(comm, b.pid), 2 * N, "comm: b")
eq(count_keys(nocomm:counts()), 0, "comm=lbpf-no-such keys")
eq(n(ne, a.pid), nil, "pid != a: a")
eq(n(ne, b.pid), 2 * N, "pid != a: b")

-- cgroup: the workload's own cgroup id passes, another one does not
local c = start("getppid " .. N)
local id
local probe = lbpf.tracepoint(tp, { filter = { pid = c.pid } }, function(ev) id = id or ev.cgroup end)
local same, other
go(c)
later(function() return id end, function()
	check(id, "no event")
	local d = start("getppid " .. N)
	same = counter { pid = d.pid, cgroup = id }
	other = counter { pid = d.pid, cgroup = id + 7777 }
	go(d)
	eq(n(same, d.pid), N, "cgroup=own")
	eq(count_keys(other:counts()), 0, "cgroup=other keys")
end)
EOF
}

# Comparisons on tracepoint fields: ret < 0 on openat of missing files, the &
# operator on flags, and ==, !=, <, <=, >, >= on read sizes.
test_filter_fields() {
	need
	lua filter_fields <<'EOF'
local w = start("open /etc/hostname /nonexistent/lbpf-a /nonexistent/lbpf-b /etc/passwd")
local rets = {}
local failed = lbpf.tracepoint("syscalls:sys_exit_openat",
	{ filter = { pid = w.pid, ret = { "<", 0 } } }, function(ev) rets[#rets + 1] = ev.ret end)
local ok = lbpf.tracepoint("syscalls:sys_exit_openat", { filter = { pid = w.pid, ret = { ">=", 0 } }, count = "comm" })
local cloexec = lbpf.tracepoint("syscalls:sys_enter_openat",
	{ filter = { pid = w.pid, flags = { "&", 0x80000 } }, count = "comm" })     -- O_CLOEXEC
local creat = lbpf.tracepoint("syscalls:sys_enter_openat",
	{ filter = { pid = w.pid, flags = { "&", 0x40 } }, count = "comm" })        -- O_CREAT
go(w)
eq(ok:counts().trace_target, 2, "ret >= 0")
eq(cloexec:counts().trace_target, 4, "flags & O_CLOEXEC")
eq(count_keys(creat:counts()), 0, "flags & O_CREAT")

local r = start("read 100 200 300 400")
local function reads(op, v)
	return lbpf.tracepoint("syscalls:sys_enter_read", { filter = { pid = r.pid, count = { op, v } }, count = "comm" })
end
local ps = { ["=="] = reads("==", 300), ["!="] = reads("!=", 300), ["<"] = reads("<", 300),
	["<="] = reads("<=", 300), [">"] = reads(">", 300), [">="] = reads(">=", 300) }
local plain = lbpf.tracepoint("syscalls:sys_enter_read", { filter = { pid = r.pid, count = 200 }, count = "comm" })
go(r)
local want = { ["=="] = 1, ["!="] = 3, ["<"] = 2, ["<="] = 3, [">"] = 1, [">="] = 2 }
for op, p in pairs(ps) do eq(p:counts().trace_target, want[op], "count " .. op .. " 300") end
eq(plain:counts().trace_target, 1, "count = 200 (a bare value means ==)")
later(function() return #rets >= 2 end, function()
	eq(#rets, 2, "openat events with ret < 0")
	eq(rets[1], -2, "ret (ENOENT)")
	eq(rets[2], -2, "ret (ENOENT)")
	check(failed:stats().filtered >= 2, "filtered %d", failed:stats().filtered)
end)
EOF
}

# ---- aggregations ----

# reads of 100, 200, 300, 4000 and 5 bytes: count by comm, pid, probe and
# composite keys; hist and lhist buckets; sum, min, max, avg with and without
# by; print = true prints at detach and at exit.
test_aggregations() {
	need
	lua aggregations <<'EOF'
local sizes = { 100, 200, 300, 4000, 5 }
local w = start("read " .. table.concat(sizes, " "))
local f = { pid = w.pid }
local enter, exit = "syscalls:sys_enter_read", "syscalls:sys_exit_read"
local P = {
	comm = lbpf.tracepoint(enter, { filter = f, count = "comm" }),
	pid = lbpf.tracepoint(enter, { filter = f, count = "pid" }),
	probe = lbpf.tracepoint("syscalls:sys_*_read", { filter = f, count = "probe" }),
	composite = lbpf.tracepoint(enter, { filter = f, count = { "comm", "pid" } }),
	by_size = lbpf.tracepoint(enter, { filter = f, count = "count" }),
	probe_comm = lbpf.tracepoint("syscalls:sys_*_read", { filter = f, count = { "probe", "comm" } }),
	hist = lbpf.tracepoint(enter, { filter = f, hist = "count" }),
	hist_by = lbpf.tracepoint(enter, { filter = f, hist = "count", by = "pid" }),
	lhist = lbpf.tracepoint(enter, { filter = f, lhist = { "count", 0, 1000, 100 } }),
	sum = lbpf.tracepoint(exit, { filter = f, sum = "ret" }),
	min = lbpf.tracepoint(exit, { filter = f, min = "ret" }),
	max = lbpf.tracepoint(exit, { filter = f, max = "ret" }),
	avg = lbpf.tracepoint(exit, { filter = f, avg = "ret" }),
	sum_by = lbpf.tracepoint(exit, { filter = f, sum = "ret", by = "comm" }),
	min_by = lbpf.tracepoint(exit, { filter = f, min = "ret", by = "pid" }),
	max_by = lbpf.tracepoint(exit, { filter = f, max = "ret", by = { "comm", "pid" } }),
	avg_by = lbpf.tracepoint(exit, { filter = f, avg = "ret", by = "comm" }),
	printed = lbpf.tracepoint(exit, { filter = f, sum = "ret", by = "comm", print = true }),
	printed_exit = lbpf.tracepoint(enter, { filter = f, max = "count", print = true }),
}
go(w)
local key = "trace_target," .. w.pid
eq(P.comm:counts().trace_target, 5, "count=comm")
eq(P.pid:counts()[w.pid], 5, "count=pid")
eq(P.probe:counts()["tracepoint:syscalls:sys_enter_read"], 5, "count=probe enter")
eq(P.probe:counts()["tracepoint:syscalls:sys_exit_read"], 5, "count=probe exit")
eq(P.composite:counts()[key], 5, "count={comm,pid}")
for _, s in ipairs(sizes) do eq(P.by_size:counts()[s], 1, "count=count " .. s) end
eq(count_keys(P.by_size:counts()), 5, "count=count keys")
eq(P.probe_comm:counts()["tracepoint:syscalls:sys_exit_read,trace_target"], 5, "count={probe,comm}")

-- every bucket holds the sizes in [lo, hi); together they hold all of them
local function check_hist(h, kind, what)
	eq(h.kind, kind, what .. " kind")
	local total = 0
	for i, b in ipairs(h) do
		local want = 0
		for _, s in ipairs(sizes) do if s >= b.lo and s < b.hi then want = want + 1 end end
		eq(b.count, want, ("%s bucket [%s, %s)"):format(what, b.lo, b.hi))
		if i > 1 then eq(b.lo, h[i - 1].hi, what .. " buckets are contiguous") end
		total = total + b.count
	end
	eq(total, #sizes, what .. " total")
end
local h = P.hist:hist()
check_hist(h, "log2", "hist")
eq(h[1].lo, 4, "hist first bucket")
eq(h[#h].hi, 4096, "hist last bucket")
check_hist(P.hist_by:hist()[w.pid], "log2", "hist by pid")
local lh = P.lhist:hist()
check_hist(lh, "linear", "lhist")
eq(lh[1].lo, 0, "lhist first")
eq(lh[2].lo, 100, "lhist step")
eq(lh[#lh].lo, 1000, "lhist overflow bucket")
eq(lh[#lh].hi, math.huge, "lhist overflow bucket")

eq(P.sum:counts(), 4605, "sum")
eq(P.min:counts(), 5, "min")
eq(P.max:counts(), 4000, "max")
eq(P.avg:counts(), 921, "avg")
eq(P.sum_by:counts().trace_target, 4605, "sum by comm")
eq(P.min_by:counts()[w.pid], 5, "min by pid")
eq(P.max_by:counts()[key], 4000, "max by comm,pid")
eq(P.avg_by:counts().trace_target, 921, "avg by comm")

P.hist:clear()
eq(#P.hist:hist(), 0, "hist after clear")
P.comm:clear()
eq(count_keys(P.comm:counts()), 0, "count after clear")
P.probe:clear()
eq(count_keys(P.probe:counts()), 0, "count=probe after clear")

print("-- detach")
P.printed:detach()
print("-- exit")
done()
EOF
	local out
	out=$(cat "$W/aggregations.out")
	t_expect_contains "$out" "-- detach
@syscalls:sys_exit_read (sum ret):
  trace_target: 4605
-- exit"
	t_expect_contains "$out" "@syscalls:sys_enter_read (max count):
  4000"
}

# ---- strings and stacks ----

# opts.strings captures the filename in the kernel; strlen cuts it and says so
# in ev.truncated; the default limit is 256 bytes.
test_strings() {
	need
	lua strings <<'EOF'
local long = "/nonexistent/" .. string.rep("d/", 60) .. "end"          -- 136 bytes
local huge = "/nonexistent/" .. string.rep("e/", 200) .. "end"         -- 416 bytes
local paths = { "/etc/hostname", long, huge }
local w = start("open " .. table.concat(paths, " "))
local short, default, declared = {}, {}, {}
local function collect(into)
	return function(ev) into[#into + 1] = { name = ev.filename, truncated = ev.truncated } end
end
lbpf.tracepoint("syscalls:sys_enter_openat", { filter = { pid = w.pid }, strings = { "filename" }, strlen = 32 }, collect(short))
lbpf.tracepoint("syscalls:sys_enter_openat", { filter = { pid = w.pid }, strings = { "filename" } }, collect(default))
lbpf.tracepoint("syscalls:sys_enter_openat", { filter = { pid = w.pid }, strings = { filename = "user" } }, collect(declared))
go(w)
later(function() return #short + #default + #declared >= 9 end, function()
	eq(#short, 3, "events (strlen = 32)")
	eq(short[1].name, "/etc/hostname", "short path")
	eq(short[1].truncated, nil, "short path: ev.truncated")
	eq(short[2].name, long:sub(1, 31), "long path cut at strlen - 1")
	check(short[2].truncated and short[2].truncated.filename == true, "long path: ev.truncated.filename")
	eq(#default, 3, "events (default strlen)")
	eq(default[2].name, long, "long path, default strlen")
	eq(default[2].truncated, nil, "long path, default strlen: ev.truncated")
	eq(default[3].name, huge:sub(1, 255), "huge path cut at 255")
	check(default[3].truncated and default[3].truncated.filename, "huge path: ev.truncated.filename")
	eq(#declared, 3, "events (strings = {filename = \"user\"})")
	eq(declared[1].name, "/etc/hostname", "strings = {filename = \"user\"}")
end)
EOF
}

# ev.kstack: kernel frames symbolized through /proc/kallsyms; count = "kstack"
# keys the counts by the joined frames.
test_kstack() {
	need
	lua kstack <<'EOF'
local w = start("getppid 50")
local stack
lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid }, kstack = true },
	function(ev) stack = stack or ev.kstack end)
local by_stack = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid }, count = "kstack" })
go(w)
later(function() return stack end, function()
	check(type(stack) == "table" and #stack > 0, "ev.kstack: %s", tostring(stack))
	local syscall = false
	for i, frame in ipairs(stack) do
		check(type(frame) == "string" and frame:match("^[%w_.]+%+0x%x+"), "frame %d: %s", i, tostring(frame))
		syscall = syscall or frame:find("syscall") ~= nil
	end
	check(syscall, "no syscall entry frame in %s", table.concat(stack, " <- "))
	local total = 0
	for k, n in pairs(by_stack:counts()) do
		check(type(k) == "string" and k:find("syscall"), "count=kstack key: %s", tostring(k))
		total = total + n
	end
	eq(total, 50, "count=kstack total")
end)
EOF
}

# ev.ustack: user frames symbolized from the workload's symbol table, while it
# is alive: tt_stack_inner makes the system call and tt_stack_outer called it.
test_ustack() {
	need
	lua ustack <<'EOF'
local w = start("stack 3", true)
local u = start("sum3 1 2 3 1", true)
local stack, ustack
lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid }, ustack = true },
	function(ev) stack = stack or ev.ustack end)
lbpf.uprobe(H, "tt_sum3", { pid = u.pid, ustack = true }, function(ev) ustack = ev.ustack end)
go(w) go(u)
later(function() return stack and ustack end, function()
	finish(w) finish(u)
	check(type(stack) == "table" and #stack >= 2, "ev.ustack: %s", tostring(stack))
	local s = table.concat(stack, " <- ")
	check(stack[1]:match("^tt_stack_inner%+0x%x+"), "first frame: %s", s)
	check(stack[2]:match("^tt_stack_outer%+0x%x+"), "second frame: %s", s)
	check(s:find("trace_target", 1, true), "frames name the binary: %s", s)
	check(type(ustack) == "table" and ustack[1] and ustack[1]:match("^tt_sum3%+0x0"),
		"uprobe ustack: %s", ustack and table.concat(ustack, " <- ") or "nil")
end)
EOF
}

# ---- uprobes ----

# uprobe arguments, uretprobe return values, filters and sum on them, the
# probe's name.
test_uprobe() {
	need
	lua uprobe <<'EOF'
local w = start("sum3 11 22 33 5")
local entries, rets = {}, {}
lbpf.uprobe(H, "tt_sum3", { filter = { pid = w.pid } }, function(ev) entries[#entries + 1] = ev:table() end)
lbpf.uretprobe(H, "tt_sum3", { filter = { pid = w.pid } }, function(ev) rets[#rets + 1] = ev:table() end)
local arg2 = lbpf.uprobe(H, "tt_sum3", { filter = { pid = w.pid, arg2 = 22 }, count = "comm" })
local arg2gt = lbpf.uprobe(H, "tt_sum3", { filter = { pid = w.pid, arg2 = { ">", 22 } }, count = "comm" })
local sum = lbpf.uprobe(H, "tt_sum3", { filter = { pid = w.pid }, sum = "arg1" })
local ret66 = lbpf.uretprobe(H, "tt_sum3", { filter = { pid = w.pid, ret = 66 }, count = "comm" })
go(w)
eq(arg2:counts().trace_target, 5, "filter arg2 == 22")
eq(count_keys(arg2gt:counts()), 0, "filter arg2 > 22")
eq(sum:counts(), 55, "sum of arg1")
eq(ret66:counts().trace_target, 5, "filter ret == 66")
later(function() return #entries >= 5 and #rets >= 5 end, function()
	eq(#entries, 5, "uprobe events")
	eq(#rets, 5, "uretprobe events")
	local e, r = entries[1], rets[1]
	eq(e.arg1, 11, "arg1") eq(e.arg2, 22, "arg2") eq(e.arg3, 33, "arg3")
	eq(e.pid, w.pid, "pid")
	eq(e.probe, "uprobe:" .. H .. ":tt_sum3", "probe")
	eq(e.ret, nil, "an entry has no ret")
	eq(r.ret, 66, "ret")
	eq(r.probe, "uretprobe:" .. H .. ":tt_sum3", "uretprobe probe")
	eq(r.arg1, nil, "a return has no arg1")
end)
EOF
}

# opts.pid limits a uprobe to one process; a wildcard symbol attaches every
# match; a numeric offset attaches there.
test_uprobe_pid_wildcard_offset() {
	need
	local addr off=
	addr=$(nm "$TT" | awk '$3 == "tt_sum2" { print $1 }')
	[ -n "$addr" ] || t_fail "nm finds no tt_sum2 in $TT"
	# the file offset of the address: through the LOAD segment holding it
	local type o v p f rest
	while read -r type o v p f rest; do
		[ "$type" = LOAD ] || continue
		if (( 16#$addr >= v && 16#$addr < v + f )); then
			off=$(( 16#$addr - v + o ))
			break
		fi
	done < <(readelf -lW "$TT")
	[ -n "$off" ] || t_fail "no LOAD segment holds tt_sum2 ($addr)"
	OFFSET=$off lua uprobe_more <<'EOF'
local a, b = start("sum3 1 2 3 7"), start("sum3 1 2 3 5")
local only_a = lbpf.uprobe(H, "tt_sum3", { pid = a.pid, count = "pid" })
local all = lbpf.uprobe(H, "tt_sum3", { count = "pid" })
go(a) go(b)
eq(only_a:counts()[a.pid], 7, "opts.pid: the chosen process")
eq(count_keys(only_a:counts()), 1, "opts.pid: no other process")
eq(all:counts()[a.pid], 7, "no pid: a")
eq(all:counts()[b.pid], 5, "no pid: b")

local c, d = start("sum3 1 2 3 4"), start("sum2 1 2 3")
local glob = lbpf.uprobe(H, "tt_sum*", { filter = { comm = "trace_target" }, count = { "probe", "pid" } })
eq(glob:stats().attached, 2, "tt_sum* attached")
local offset = math.tointeger(tonumber(os.getenv("OFFSET")))
local at_count = lbpf.uprobe(H, offset, { filter = { pid = d.pid }, count = "comm" })
go(c) go(d)
eq(glob:counts()[("uprobe:%s:tt_sum3,%d"):format(H, c.pid)], 4, "tt_sum3 by glob")
eq(glob:counts()[("uprobe:%s:tt_sum2,%d"):format(H, d.pid)], 3, "tt_sum2 by glob")
eq(at_count:counts().trace_target, 3, "uprobe at offset " .. offset)
eq(at_count:points()[1], ("uprobe:%s:0x%x"):format(H, offset), "offset probe name")
done()
EOF
	t_expect_contains "$(cat "$W/uprobe_more.err")" "attached 2 probes for uprobe:$TT:tt_sum*"
}

# lbpf.latency on a user function that sleeps 1 ms: every call is counted, none
# is below 512 µs, and most fall in [512K, 2M) ns.
test_latency() {
	need
	lua latency <<'EOF'
local N = 20
local w = start("sleep1ms " .. N)
local lat = lbpf.latency(H .. ":tt_sleep_1ms", { filter = { pid = w.pid } })
go(w)
local h = lat:hist()
lbpf.print_hist(h, "tt_sleep_1ms (ns)")
eq(h.kind, "log2", "kind")
local total, low, mid = 0, 0, 0
for _, b in ipairs(h) do
	total = total + b.count
	if b.hi <= 512 * 1024 then low = low + b.count end
	if b.lo >= 512 * 1024 and b.hi <= 2 * 1024 * 1024 then mid = mid + b.count end
end
eq(total, N, "calls measured")
eq(low, 0, "calls below 512 µs (nanosleep sleeps at least 1 ms)")
check(mid >= N / 2, "only %d of %d calls in [512K, 2M) ns", mid, N)
done()
EOF
}

# ---- events, lost events, enable, detach ----

# An event kept past its callback raises "used after its callback"; its
# ev:table() copy stays valid.
test_view_expiry() {
	need
	lua expiry <<'EOF'
local w = start("getppid 1")
local kept, copy
lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid } }, function(ev)
	kept, copy = ev, ev:table()
end)
go(w)
later(function() return kept end, function()
	check(kept, "no event")
	for _, use in ipairs {
		function() return kept.pid end,
		function() return kept:table() end,
		function() return kept.comm end,
	} do
		local ok, err = pcall(use)
		check(not ok and tostring(err):find("after its callback", 1, true), "use after callback: %s", tostring(err))
	end
	eq(tostring(kept), "lbpf.event (expired)", "tostring")
	eq(copy.pid, w.pid, "ev:table() copy")
end)
EOF
}

# Each call of a probe's callback is its own task, though the coroutine stays
# parked between calls: a call that sleeps goes on alone while the next events
# are delivered; a coroutine the script took with coroutine.running() reads
# "dead" once its call returned and is never reused; a callback may detach its
# own probe; a kept ev shows the current event inside a later callback.
test_callback_tasks() {
	need
	lua callback_tasks <<'EOF'
local N = 50
local w = start("getppid " .. N)
local n, slept, woke, held, prev, same = 0, 0, 0, {}, nil, 0
local p
p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid } }, function(ev)
	n = n + 1
	if prev then
		if prev.pid == w.pid then same = same + 1 end
	end
	prev = ev
	held[#held + 1] = coroutine.running()
	if n % 10 == 1 then
		slept = slept + 1
		lbpf.sleep(50)
		woke = woke + 1
	end
	if n == N then p:detach() end
end)
go(w)
later(function() return n == N and woke == slept end, function()
	eq(n, N, "calls")
	eq(slept, 5, "calls that slept")
	eq(same, N - 1, "a kept ev read inside a later callback")
	local seen = {}
	for i, co in ipairs(held) do
		eq(coroutine.status(co), "dead", "coroutine of call " .. i)
		check(not seen[co], "call %d reused a coroutine the script holds", i)
		seen[co] = true
	end
	local ok, err = pcall(function() return prev.pid end)
	check(not ok and tostring(err):find("after its callback", 1, true), "kept ev outside a callback: %s", tostring(err))
	eq(p:stats().events, N, "events")
end)
EOF
}

# A 4 KiB ring and a burst while Lua is busy: events the full ring refused
# are counted in stats().lost, delivered + lost = events, and stderr says
# "N events lost on ..." (once per second) and the total at exit.
lost_events() {
	local name=$1
	shift
	lua "$name" "$@" <<EOF
$([ "$name" = lost_config ] && echo 'lbpf.config { ringbuf = "4K" }')
local N = 20000
local w = start("getppid " .. N)
local n = 0
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = w.pid } }, function() n = n + 1 end)
go(w) -- Lua waits here: nothing drains the ring meanwhile
lbpf.after(1200, function() -- past the once-a-second report
	local s = p:stats()
	eq(s.events, N, "events")
	check(s.lost > 0, "nothing lost with a 4K ring: delivered %d", n)
	eq(n + s.lost, N, "delivered + lost")
	print(("# delivered %d, lost %d"):format(n, s.lost))
	done()
end)
EOF
	local err
	err=$(cat "$W/$name.err")
	t_expect_contains "$err" "events lost on syscalls:sys_enter_getppid (ring buffer full" "stderr"
	t_expect_contains "$err" "events lost on syscalls:sys_enter_getppid in total" "stderr"
}
test_lost_config() { need; lost_events lost_config; }
test_lost_cli() { need; lost_events lost_cli --ringbuf 4K; }

# probe:enable(false) stops counting, enable(true) resumes.
test_enable() {
	need
	lua enable <<'EOF'
local a, b, c = start("getppid 1000"), start("getppid 2000"), start("getppid 4000")
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "trace_target" }, count = "comm" })
local n = 0
local q = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "trace_target" } }, function() n = n + 1 end)
go(a)
p:enable(false) q:enable(false)
go(b)
p:enable(true) q:enable(true)
go(c)
eq(p:counts().trace_target, 5000, "counted while enabled")
later(function() return n >= 5000 end, function() eq(n, 5000, "events while enabled") end)
EOF
}

# probe:detach() removes the link at once and counting stops (the counts stay
# readable); close() unloads the program; nothing stays behind.
test_detach() {
	need
	lua detach <<'EOF'
local before = bpf_ids()
local w = start("getppid 100")
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "trace_target" }, count = "comm" })
local mine = {}
for k in pairs(bpf_ids()) do if not before[k] then mine[#mine + 1] = k end end
table.sort(mine)
check(#mine == 2 and mine[1]:match("^link ") and mine[2]:match("^prog "), "new ids: %s", table.concat(mine, ", "))
local function exists(k) return os.execute("bpftool " .. k:gsub(" ", " show id ") .. " >/dev/null 2>&1") end
check(exists(mine[1]) and exists(mine[2]), "bpftool does not see %s", table.concat(mine, ", "))
go(w)
eq(p:counts().trace_target, 100, "before detach")
p:detach()
eq(p:stats().attached, 0, "attached after detach")
local x = start("getppid 100")
go(x)
eq(p:counts().trace_target, 100, "counts after detach")
lbpf.spawn(function()
	-- the kernel may free a link after an RCU grace period
	for _ = 1, 50 do if not exists(mine[1]) then break end lbpf.sleep(100) end
	check(not exists(mine[1]), "%s still exists after detach", mine[1])
	p:close()
	for _ = 1, 50 do if not exists(mine[2]) then break end lbpf.sleep(100) end
	check(not exists(mine[2]), "%s still exists after close", mine[2])
	done()
end)
EOF
}

# ---- raw tracepoints and field paths (BTF) ----

need_btf() {
	need
	[ -r /sys/kernel/btf/vmlinux ] || t_skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
	# path_reads = "direct" (checked loads) needs bpf_rdonly_cast (Linux 6.2)
	if [ "$(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -c "FUNC 'bpf_rdonly_cast'")" -gt 0 ]; then
		export DIRECT=direct
	else
		export DIRECT=
	fi
}

# raw_tracepoint sched_switch with field paths prev->pid, next->pid,
# prev->comm, next->comm sees the same switches as the classic tracepoint's
# format fields (the oracle): the same events, in the filter (prev_pid is a
# path) and as count keys; the BTF-named arguments (preempt, prev) read too.
# The paths are read both ways: with checked loads (path_reads = "direct",
# where the kernel has bpf_rdonly_cast) and with bpf_probe_read_kernel.
test_raw_tp_sched_switch() {
	need_btf
	lua raw_sched <<'EOF'
local w = start("sleep1ms 20")
local F = { prev_pid = "prev->pid", next_pid = "next->pid", prev_comm = "prev->comm",
	next_comm = "next->comm" }
local DIRECT = os.getenv("DIRECT") ~= "" and os.getenv("DIRECT") or nil
local raw, cls, rawh = {}, {}, {}
local function line(ev) return ("%d %s -> %d %s"):format(ev.prev_pid, ev.prev_comm, ev.next_pid, ev.next_comm) end
local r = lbpf.raw_tracepoint("sched_switch", { fields = F, filter = { prev_pid = w.pid }, path_reads = DIRECT }, function(ev)
	raw[#raw + 1] = line(ev)
	eq(ev.probe, "raw_tracepoint:sched_switch", "ev.probe")
	check(math.type(ev.prev) == "integer" and ev.prev ~= 0, "ev.prev is the task pointer: %s", tostring(ev.prev))
	check(ev.preempt == 0 or ev.preempt == 1, "ev.preempt: %s", tostring(ev.preempt))
	eq(ev.arg2, ev.prev, "arg2 is prev")
end)
local rh = lbpf.raw_tracepoint("sched_switch", { fields = F, filter = { prev_pid = w.pid }, path_reads = "helper" }, function(ev)
	rawh[#rawh + 1] = line(ev)
end)
local c = lbpf.tracepoint("sched:sched_switch", { filter = { prev_pid = w.pid } }, function(ev)
	cls[#cls + 1] = line(ev)
end)
local rc = lbpf.raw_tracepoint("sched_switch", { fields = F, filter = { prev_pid = w.pid }, count = "next_pid", path_reads = DIRECT })
local cc = lbpf.tracepoint("sched:sched_switch", { filter = { prev_pid = w.pid }, count = "next_pid" })
local rn = lbpf.raw_tracepoint("sched_switch", { fields = F, filter = { prev_pid = w.pid }, count = { "prev_pid", "comm" } })
go(w)
later(function() return #raw >= 20 and #cls >= #raw and #rawh >= #raw end, function()
	check(#raw >= 20, "%d raw events, want >= 20", #raw)
	eq(#raw, #cls, "raw and classic event counts")
	eq(#rawh, #cls, "raw (helper reads) and classic event counts")
	table.sort(raw)
	table.sort(cls)
	table.sort(rawh)
	for i = 1, #raw do eq(raw[i], cls[i], "event " .. i) end
	for i = 1, #rawh do eq(rawh[i], cls[i], "event " .. i .. " (helper reads)") end
	check(raw[1]:find(w.pid .. " trace_target -> ", 1, true), "first event: %s", raw[1])
	local a, b = rc:counts(), cc:counts()
	check(count_keys(a) > 0 and count_keys(a) == count_keys(b), "keys: %d raw, %d classic", count_keys(a), count_keys(b))
	for k, n in pairs(b) do eq(a[k], n, "count of next_pid " .. k) end
	eq(rn:counts()[w.pid .. ",trace_target"], #raw, "count by path and comm")
end)
EOF
}

# An enum is read by name (hrtimer_start's mode argument), as an event field
# and as a count key; a function pointer through a path reads as an integer.
test_raw_tp_enum() {
	need_btf
	lua raw_enum <<'EOF'
local w = start("sleep1ms 10")
local modes = {}
local F = { m = "mode", fn = "hrtimer->function" }
local r = lbpf.raw_tracepoint("hrtimer_start", { fields = F, filter = { pid = w.pid } }, function(ev)
	modes[#modes + 1] = ev.m
	check(math.type(ev.fn) == "integer" and ev.fn ~= 0, "fn: %s", tostring(ev.fn))
end)
local c = lbpf.raw_tracepoint("hrtimer_start", { fields = F, filter = { pid = w.pid }, count = "m" })
go(w)
later(function() return #modes >= 10 end, function()
	check(#modes >= 10, "%d events, want >= 10", #modes)
	for _, m in ipairs(modes) do check(type(m) == "string" and m:match("^HRTIMER_MODE_"), "mode %s", tostring(m)) end
	local n = 0
	for k, v in pairs(c:counts()) do
		check(type(k) == "string" and k:match("^HRTIMER_MODE_"), "count key %s", tostring(k))
		n = n + v
	end
	eq(n, #modes, "counted by mode")
end)
EOF
}

# inet_sock_set_state as a raw tracepoint: the socket's addresses and ports
# through paths (ipv4 text, a network-order port swapped, and filtered on in
# the kernel; a cast to struct inet_sock) agree with the classic tracepoint's fields for the same
# connection attempts (to a closed loopback port: SYN_SENT, then CLOSE).
test_raw_tp_sock() {
	need_btf
	lua raw_sock <<'EOF'
local port = 40000 + math.random(0, 9999)
local DIRECT = os.getenv("DIRECT") ~= "" and os.getenv("DIRECT") or nil
local raw, cls, rawh = {}, {}, {}
local F = { daddr = { "sk->__sk_common.skc_daddr", "ipv4" }, saddr = { "sk->__sk_common.skc_rcv_saddr", "ipv4" },
	dport = { "sk->__sk_common.skc_dport", "port" }, sport = { "((struct inet_sock *)sk)->inet_sport", "port" },
	family = "sk->__sk_common.skc_family" }
local function line(ev)
	return ("%s:%d %s:%d %d %d->%d"):format(ev.saddr, ev.sport, ev.daddr, ev.dport, ev.family, ev.oldstate, ev.newstate)
end
local r = lbpf.raw_tracepoint("inet_sock_set_state", { fields = F, filter = { dport = port }, path_reads = DIRECT },
	function(ev) raw[#raw + 1] = line(ev) end)
local rh = lbpf.raw_tracepoint("inet_sock_set_state", { fields = F, filter = { dport = port }, path_reads = "helper" },
	function(ev) rawh[#rawh + 1] = line(ev) end)
local function ip4(b) return ("%d.%d.%d.%d"):format(b:byte(1, 4)) end
local c = lbpf.tracepoint("sock:inet_sock_set_state", { filter = { dport = port } }, function(ev)
	cls[#cls + 1] = ("%s:%d %s:%d %d %d->%d"):format(ip4(ev.saddr), ev.sport, ip4(ev.daddr), ev.dport, ev.family, ev.oldstate, ev.newstate)
end)
for _ = 1, 3 do
	os.execute(("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null"):format(port))
end
later(function() return #raw >= 6 and #cls >= 6 and #rawh >= 6 end, function()
	check(#raw >= 6, "%d raw events, want >= 6", #raw)
	eq(#raw, #cls, "raw and classic event counts")
	eq(#rawh, #cls, "raw (helper reads) and classic event counts")
	table.sort(raw)
	table.sort(cls)
	table.sort(rawh)
	for i = 1, #raw do eq(raw[i], cls[i], "event " .. i) end
	for i = 1, #rawh do eq(rawh[i], cls[i], "event " .. i .. " (helper reads)") end
	check(raw[1]:find("127.0.0.1:%d+ 127.0.0.1:" .. port .. " 2 "), "event: %s", raw[1])
end)
EOF
}

# What a path cannot do is an error at load naming the path and the member.
test_raw_tp_errors() {
	need_btf
	lua raw_errors <<'EOF'
local function fails(want, name, opts)
	local ok, err = pcall(lbpf.raw_tracepoint, name, opts)
	check(not ok and tostring(err):find(want, 1, true), "%s: want %q, got %s", name, want, tostring(err))
end
fails("sched_switch: prev->nope: struct task_struct has no member nope", "sched_switch", { fields = { x = "prev->nope" } })
fails("sched_switch: prev.pid: prev is a pointer (struct task_struct *); use '->'", "sched_switch", { fields = { x = "prev.pid" } })
fails("sched_switch: prev->pid->x: prev->pid is not a pointer (pid_t)", "sched_switch", { fields = { x = "prev->pid->x" } })
fails("sched_switch: nxt->pid: no argument named nxt", "sched_switch", { fields = { x = "nxt->pid" } })
fails("sched_switch: prev->comm[16]: index 16 is past the end of char[16]", "sched_switch", { fields = { x = "prev->comm[16]" } })
fails("inet_sock_set_state: sk->__sk_common.skc_nope: struct sock_common has no member skc_nope", "inet_sock_set_state", { fields = { x = "sk->__sk_common.skc_nope" } })
fails("raw tracepoint 'no_such_tp' not found", "no_such_tp", {})
fails("no wildcards", "sched_*", {})
fails("fields.pid: pid is a built-in name", "sched_switch", { fields = { pid = "prev->pid" } })
fails("fields.x: unknown format 'ip4'", "sched_switch", { fields = { x = { "prev->pid", "ip4" } } })
fails("fields.x: sched_switch: prev->pid is not a 16-bit integer in memory (a port)", "sched_switch", { fields = { x = { "prev->pid", "port" } } })
fails("filter.c: field 'c' of raw_tracepoint:sched_switch is a string", "sched_switch", { fields = { c = "prev->comm" }, filter = { c = 1 } })
fails('path_reads: expected "direct", "helper" or "auto"', "sched_switch", { fields = { x = "prev->pid" }, path_reads = "fast" })
fails('path_reads = "direct": the probe has no fields', "sched_switch", { path_reads = "direct" })
if os.getenv("DIRECT") == "" then
	fails('path_reads = "direct": the kernel has no bpf_rdonly_cast (Linux 6.2)', "sched_switch",
		{ fields = { x = "prev->pid" }, path_reads = "direct" })
end
local ok, err = pcall(lbpf.tracepoint, "syscalls:sys_enter_getppid", { fields = { x = "a->b" } })
check(not ok and tostring(err):find("has no typed arguments", 1, true), "tracepoint fields: %s", tostring(err))
-- a cast types an argument by hand
local p = lbpf.raw_tracepoint("sched_switch", { fields = { x = "((struct task_struct *)arg2)->pid" } })
p:close()
done()
EOF
}

# ---- kernel support ----

# Where the kernel lacks kprobes, kprobe, kretprobe and latency on a kernel
# function fail with one message naming CONFIG_KPROBES (and, where fentry was
# tried and refused, that too); `lbpf features` says neither works.
test_kprobe_unavailable() {
	need
	[ -e /sys/bus/event_source/devices/kprobe ] &&
		t_skip "this kernel has kprobes (tests/vm/test_kprobe.sh tests them)"
	lua kprobe_missing <<'EOF'
for _, f in ipairs { "kprobe", "kretprobe", "latency" } do
	local ok, err = pcall(lbpf[f], "vfs_read")
	check(not ok and tostring(err):find("kprobes are not available on this kernel (CONFIG_KPROBES)", 1, true),
		"lbpf.%s: %s", f, tostring(err))
end
done()
EOF
	local out rc=0
	out=$("$LBPF" run -e 'lbpf.kprobe("vfs_*", function() end)' 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit code $rc, want 1: $out"
	t_expect_contains "$out" "kprobe 'vfs_*': kprobes are not available on this kernel (CONFIG_KPROBES)"
	if "$LBPF" features 2>&1 | grep -Eq '^ *attach +fentry/fexit +no'; then
		out=$("$LBPF" run -e 'lbpf.kretprobe("vfs_read", function() end)' 2>&1) && t_fail "kretprobe loaded: $out"
		t_expect_contains "$out" "(CONFIG_KPROBES), and fentry was refused:"
		"$LBPF" features 2>&1 | grep -Eq '^ *attach +kernel functions via +nothing' ||
			t_fail "features: $("$LBPF" features 2>&1)"
	fi
}

# `lbpf features` probes this kernel: what works here says yes, and the kprobe
# line agrees with the kprobe PMU's presence.
test_features() {
	t_need_root
	local out
	out=$("$LBPF" features 2>&1) || t_fail "lbpf features failed: $out"
	echo "$out" | grep -Eq '^ *program +tracepoint +yes' || t_fail "no 'tracepoint yes': $out"
	echo "$out" | grep -Eq '^ *map +ringbuf +yes' || t_fail "no 'ringbuf yes': $out"
	echo "$out" | grep -Eq '^ *attach +uprobes +yes' || t_fail "no 'uprobes yes': $out"
	echo "$out" | grep -Eq '^ *attach +USDT \(through uprobes\) +yes' || t_fail "no 'USDT yes': $out"
	echo "$out" | grep -Eq '^ *attach +kernel BTF \(field paths\) +yes' || t_fail "no 'kernel BTF yes': $out"
	echo "$out" | grep -Eq '^ *helper +get_attach_cookie +yes' || t_fail "no 'get_attach_cookie yes': $out"
	if [ -e /sys/bus/event_source/devices/kprobe ]; then
		echo "$out" | grep -Eq '^ *attach +kprobes +yes' || t_fail "kprobe PMU present, not 'kprobes yes': $out"
	else
		echo "$out" | grep -Eq '^ *attach +kprobes +no +kprobes are not available.*CONFIG_KPROBES' ||
			t_fail "no kprobe PMU, but not 'kprobes no ... CONFIG_KPROBES': $out"
	fi
}

# ---- examples ----

# example NAME LINKS ARGS...: starts lua/examples/NAME.lua ARGS in the
# background, output in $W/NAME.out; returns once the process holds LINKS BPF
# links (its probes are attached: it prints its header before attaching).
example() {
	local name=$1 links=$2 pid i
	shift 2
	"$LBPF" run "$EXAMPLES/$name.lua" "$@" > "$W/$name.out" 2> "$W/$name.err" &
	pid=$!
	echo $pid > "$W/$name.pid"
	for i in $(seq 200); do
		[ "$(cat /proc/$pid/fdinfo/* 2>/dev/null | grep -c '^link_id:')" -ge "$links" ] && return 0
		kill -0 $pid 2>/dev/null || break
		sleep 0.02
	done
	t_fail "$name did not attach $links probes: $(cat "$W/$name.err")"
}

# example_end NAME [SECONDS]: waits (10 s by default) for it to exit by
# itself with 0.
example_end() {
	local pid rc=0
	pid=$(cat "$W/$1.pid")
	timeout "${2:-10}" tail --pid="$pid" -f /dev/null || { kill -KILL "$pid"; t_fail "$1 did not exit"; }
	wait "$pid" || rc=$?
	rm -f "$W/$1.pid"
	[ "$rc" -eq 0 ] || t_fail "$1 exited with $rc: $(cat "$W/$1.err")"
}

# opensnoop shows the files this test opens, with fd or errno.
test_example_opensnoop() {
	need
	example opensnoop 2 1 trace_target
	"$TT" open /etc/hostname "$W/lbpf-opensnoop-missing" > /dev/null
	example_end opensnoop
	local out
	out=$(cat "$W/opensnoop.out")
	echo "$out" | grep -Eq "trace_target +[0-9]+ +0 /etc/hostname$" || t_fail "no /etc/hostname line: $out"
	echo "$out" | grep -Eq "trace_target +-1 +2 $W/lbpf-opensnoop-missing$" || t_fail "no ENOENT line: $out"
}

# execsnoop shows a command this test runs, with its parent and arguments
# (the command waits until its line is out: execsnoop reads /proc/PID).
test_example_execsnoop() {
	need
	cp "$TT" "$W/lbpf-exec-probe"
	example execsnoop 1 1
	"$W/lbpf-exec-probe" -s getppid 1 > /dev/null &
	local pid=$! parent=$BASHPID i
	for i in $(seq 100); do grep -q "^[0-9.]* *$pid " "$W/execsnoop.out" && break; sleep 0.02; done
	kill -USR1 $pid
	wait $pid
	example_end execsnoop
	local out
	out=$(cat "$W/execsnoop.out")
	echo "$out" | grep -Eq "^[0-9.]+ +$pid +$parent +lbpf-exec-probe +$W/lbpf-exec-probe -s getppid 1$" ||
		t_fail "no line for pid $pid (parent $parent): $(grep -e lbpf-exec -e PID <<< "$out")"
}

# syscount counts the workload's getppid() calls by syscall and by process.
test_example_syscount() {
	need
	example syscount 2 2
	"$TT" getppid 100000 > /dev/null
	local t0=$SECONDS
	example_end syscount 20
	echo "# syscount took $((SECONDS - t0)) s to end and exit"
	local out n
	out=$(cat "$W/syscount.out")
	t_expect_contains "$out" "SYSCALL"
	n=$(awk '$1 == "getppid" { n += $2 } END { print n + 0 }' <<< "$out")
	[ "$n" -ge 100000 ] || t_fail "getppid counted $n times, want >= 100000: $out"
	echo "$out" | grep -Eq " trace_target +[0-9]+$" || t_fail "no trace_target process row: $out"
}

# tcpconnect shows a connection to a local port over IPv4 and one over IPv6,
# with the addresses and the port (read through field paths from the socket).
test_example_tcpconnect() {
	need
	command -v python3 > /dev/null && python3 -c 1 2>/dev/null || t_skip "python3 is needed for a listener"
	example tcpconnect 1 1
	local port port6
	read -r port port6 < <(python3 -c '
import socket, subprocess
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
s6 = socket.socket(socket.AF_INET6); s6.bind(("::1", 0)); s6.listen(1)
port, port6 = s.getsockname()[1], s6.getsockname()[1]
subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % port], check=True)
subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/::1/%d" % port6], check=True)
print(port, port6)') || t_fail "could not connect"
	example_end tcpconnect
	local out
	out=$(cat "$W/tcpconnect.out")
	echo "$out" | grep -Eq "^[0-9]+ +bash +4 +127\.0\.0\.1 +127\.0\.0\.1 +$port$" ||
		t_fail "no bash connection to port $port: $out"
	echo "$out" | grep -Eq "^[0-9]+ +bash +6 +::1 +::1 +$port6$" ||
		t_fail "no bash connection to [::1]:$port6: $out"
}

# runqlat prints a histogram of run queue latencies with counts.
test_example_runqlat() {
	need
	example runqlat 2 1
	"$TT" sleep1ms 50 > /dev/null
	example_end runqlat
	local out n
	out=$(cat "$W/runqlat.out")
	t_expect_contains "$out" "run queue latency (us):"
	n=$(awk -F'|' '/^\[/ { split($1, f, " "); n += f[length(f)] } END { print n + 0 }' <<< "$out")
	[ "$n" -gt 0 ] || t_fail "no latencies counted: $out"
}

# funclatency on a user function (/path:symbol): 30 calls of 1 ms, all in the
# histogram, none below 512 µs.
test_example_funclatency() {
	need
	example funclatency 2 "$TT:tt_sleep_1ms" 2
	"$TT" sleep1ms 30 > /dev/null
	example_end funclatency
	local out n low
	out=$(cat "$W/funclatency.out")
	t_expect_contains "$out" "Tracing $TT:tt_sleep_1ms"
	n=$(awk -F'|' '/^\[/ { split($1, f, " "); n += f[length(f)] } END { print n + 0 }' <<< "$out")
	[ "$n" -eq 30 ] || t_fail "$n calls in the histogram, want 30: $out"
	echo "$out" | grep -Eq '^\[(1M, 2M|512K, 1M)\) +[1-9]' || t_fail "nothing in [512K, 2M): $out"
}

# run NAME FUNC: t_run, for the tests named on the command line (all by default):
#   tests/integration/test_tracing.sh [NAME...]      e.g. kstack example_syscount
run() {
	local want
	[ ${#ONLY[@]} -eq 0 ] && { t_run "tracing/$1" "$2"; return; }
	for want in "${ONLY[@]}"; do [ "$want" = "$1" ] && t_run "tracing/$1" "$2"; done
	return 0
}
ONLY=("$@")

run exact_counts test_exact_counts
run event_fields test_event_fields
run wildcard test_wildcard
run filter_task test_filter_task
run filter_fields test_filter_fields
run aggregations test_aggregations
run strings test_strings
run kstack test_kstack
run ustack test_ustack
run uprobe test_uprobe
run uprobe_pid_wildcard_offset test_uprobe_pid_wildcard_offset
run latency test_latency
run view_expiry test_view_expiry
run callback_tasks test_callback_tasks
run lost_events_config test_lost_config
run lost_events_cli test_lost_cli
run enable test_enable
run detach test_detach
run raw_tp_sched_switch test_raw_tp_sched_switch
run raw_tp_enum test_raw_tp_enum
run raw_tp_sock test_raw_tp_sock
run raw_tp_errors test_raw_tp_errors
run kprobe_unavailable test_kprobe_unavailable
run features test_features
run example_opensnoop test_example_opensnoop
run example_execsnoop test_example_execsnoop
run example_tcpconnect test_example_tcpconnect
run example_runqlat test_example_runqlat
run example_funclatency test_example_funclatency
run example_syscount test_example_syscount
