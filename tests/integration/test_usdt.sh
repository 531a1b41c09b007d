#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# USDT probes (lbpf.usdt) against the running kernel, on
# tests/helpers/usdt_target, whose probes fire with known arguments of every
# size and sign (1, 2, 4, 8 bytes; on the stack, in registers, constants):
# each argument's value as its note types it, the argument count, strings,
# every aggregation and filter on arguments, globs over provider and name
# (checked against `readelf -n`), opts.pid, a semaphore-gated probe
# (tests/helpers/usdt_gated), counts and sums checked against
# bpftrace's usdt probes, every error, a semaphore-gated probe of Debian's
# python3, and lua/examples/pygc.lua. tests/vm/test_usdt.sh runs the same
# checks in the guests of scripts/vmtest.sh.
#
# A Lua script starts its workloads stopped (usdt_target -s prints its pid
# and waits for SIGUSR1; tests/lua/workload.lua), attaches, lets them run, and
# checks; it ends by printing "ok". It runs under busybox too (the guests):
# readelf, bpftrace and python3 are used where they are installed.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-usdt
TT=$HELPERS/usdt_target
# One script's time limit. In the 6.1 guest of scripts/vmtest.sh (TCG) the
# verifier takes about 8 s for each probe that filters on an argument (1 s
# without; 6.12's verifier is quick for both), so test_aggregations took 57 s
# there on an idle host and a CI run killed it at 60 s.
LUA_TIMEOUT=$([ -n "${LBPF_VM:-}" ] && echo 120 || echo 60)
EXAMPLES=$LBPF_TOP/lua/examples
export W TT

TOP_PID=$$
# Kills the workloads the scripts started (helpers.pids, written by
# workload.lua) and the example, each only if its command line still says
# what it was; removes the work folder.
reap() {
	local f pid
	for f in "$W"/helpers.pids "$W"/*.pid; do
		[ -e "$f" ] || continue
		while read -r pid; do
			[ -n "$pid" ] || continue
			grep -qE "usdt_target|usdt_gated|pywork.py|pygc.lua" "/proc/$pid/cmdline" 2>/dev/null &&
				kill -KILL "$pid" 2>/dev/null
		done < "$f"
		rm -f "$f"
	done
}
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	reap
	[ -n "${LBPF_KEEP:-}" ] || rm -rf "$W"
}
t_cleanup cleanup
mkdir -p "$W"

# lua NAME: runs the Lua on stdin after tests/lua/workload.lua; fails unless it
# exits 0 and prints "ok" (output in $W/NAME.out and .err).
lua() {
	local name=$1 rc=0 t0=$SECONDS
	{ echo "dofile('$LBPF_TOP/tests/lua/workload.lua')"; cat; } > "$W/$name.lua"
	timeout $LUA_TIMEOUT "$LBPF" run "$W/$name.lua" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
	reap
	grep '^#' "$W/$name.out" || true
	echo "# $name: $((SECONDS - t0)) s"
	[ "$rc" -eq 0 ] && grep -qx ok "$W/$name.out" ||
		t_fail "exit code $rc: $(tail -c 800 "$W/$name.err") $(tail -c 400 "$W/$name.out")"
}

need() {
	t_need_root
	[ -x "$TT" ] || t_fail "$TT is not built (make)"
	"$TT" fire 0 > /dev/null 2>&1 ||
		t_skip "$TT was built without <sys/sdt.h> (scripts/deps.sh installs systemtap-sdt-dev)"
}

# Every argument as its note types it: a 1-byte signed -1 reads -1, a 1-byte
# unsigned 255 reads 255, and so on up to 8 bytes; a char * captured as a
# string; a probe with 7 arguments shows the first six; a probe without
# arguments has none; the names an event answers to stop at the note's count.
test_values() {
	need
	lua values <<'EOF'
local N = 3
local w = start("fire " .. N)
local ev = {}
local function keep(name) return function(e) ev[name] = ev[name] or {}; table.insert(ev[name], e:table()) end end
local f = { pid = w.pid }
lbpf.usdt(H, "lbpf_test:small", { filter = f }, keep("small"))
lbpf.usdt(H, "lbpf_test:big", { filter = f }, keep("big"))
lbpf.usdt(H, "lbpf_test:str", { filter = f, strings = { "arg1" } }, keep("str"))
lbpf.usdt(H, "lbpf_test:seven", { filter = f }, keep("seven"))
lbpf.usdt(H, "lbpf_test:none", { filter = f }, keep("none"))
local errs = {}
lbpf.usdt(H, "lbpf_test:small", { filter = f }, function(e)
	local ok, err = pcall(function() return e.arg5 end)
	errs[#errs + 1] = not ok and tostring(err) or "no error"
end)
go(w)
later(function() return ev.none and #ev.none >= N and ev.big and #ev.big >= N end, function()
	for _, k in ipairs { "small", "big", "str", "seven", "none" } do eq(#(ev[k] or {}), N, k .. " events") end
	for i = 1, N do
		local s, b, t, v = ev.small[i], ev.big[i], ev.str[i], ev.seven[i]
		eq(s.arg1, -1, "small arg1 (-1@: int8_t -1)") eq(s.arg2, 255, "small arg2 (1@: uint8_t 255)")
		eq(s.arg3, -2, "small arg3 (-2@: int16_t -2)") eq(s.arg4, 65535, "small arg4 (2@: uint16_t 65535)")
		eq(s.arg5, nil, "small has 4 arguments")
		eq(b.arg1, -3, "big arg1 (-4@: int32_t -3)") eq(b.arg2, 4294967295, "big arg2 (4@: uint32_t max)")
		eq(b.arg3, -4, "big arg3 (-8@: int64_t -4)") eq(b.arg4, i, "big arg4 (8@%reg: the round)")
		eq(t.arg1, "hello", "str arg1 as a string") eq(t.arg2, i, "str arg2 (-4@%reg)")
		for j = 1, 6 do eq(v["arg" .. j], j, "seven arg" .. j .. " (a constant)") end
		eq(v.arg7, nil, "seven: arg7 is past the six lbpf reads")
		eq(ev.none[i].arg1, nil, "none has no arg1")
		eq(s.probe, "usdt:" .. H .. ":lbpf_test:small", "ev.probe")
		eq(s.pid, w.pid, "ev.pid") eq(s.comm, "usdt_target", "ev.comm")
	end
	check(errs[1] and errs[1]:find("has no field 'arg5'", 1, true), "ev.arg5 of small: %s", tostring(errs[1]))
end)
EOF
}

# count, sum, min, max, avg, hist, lhist, by and filters on USDT arguments,
# counted exactly in the kernel.
test_aggregations() {
	need
	lua aggregations <<'EOF'
local N = 10
local w = start("fire " .. N)
local f = { pid = w.pid }
local P = {
	by_probe = lbpf.usdt(H, "lbpf_test:*", { filter = f, count = "probe" }),
	by_arg = lbpf.usdt(H, "lbpf_test:small", { filter = f, count = "arg1" }),
	by_tick = lbpf.usdt(H, "lbpf_other:tick", { filter = f, count = "arg1" }),
	s8 = lbpf.usdt(H, "lbpf_test:small", { filter = { pid = w.pid, arg1 = -1 }, count = "comm" }),
	u8 = lbpf.usdt(H, "lbpf_test:small", { filter = { pid = w.pid, arg2 = { ">", 254 } }, count = "comm" }),
	u32 = lbpf.usdt(H, "lbpf_test:big", { filter = { pid = w.pid, arg2 = 4294967295 }, count = "comm" }),
	gt = lbpf.usdt(H, "lbpf_test:big", { filter = { pid = w.pid, arg4 = { ">", 3 } }, count = "comm" }),
	neg = lbpf.usdt(H, "lbpf_test:big", { filter = { pid = w.pid, arg3 = { "<", 0 } }, count = "comm" }),
	sum = lbpf.usdt(H, "lbpf_test:big", { filter = f, sum = "arg4" }),
	sum_s32 = lbpf.usdt(H, "lbpf_test:big", { filter = f, sum = "arg1" }),
	min = lbpf.usdt(H, "lbpf_test:big", { filter = f, min = "arg4" }),
	max = lbpf.usdt(H, "lbpf_test:big", { filter = f, max = "arg4" }),
	avg_by = lbpf.usdt(H, "lbpf_test:str", { filter = f, avg = "arg2", by = "comm" }),
	hist = lbpf.usdt(H, "lbpf_test:big", { filter = f, hist = "arg4" }),
	lhist = lbpf.usdt(H, "lbpf_test:big", { filter = f, lhist = { "arg4", 0, 10, 5 } }),
}
go(w)
local T = "usdt:" .. H .. ":lbpf_test:"
for _, name in ipairs { "small", "big", "str", "seven", "none" } do
	eq(P.by_probe:counts()[T .. name], N, "count=probe " .. name)
end
eq(count_keys(P.by_probe:counts()), 5, "lbpf_test:* has five probes")
eq(P.by_arg:counts()[-1], N, "count by arg1 (int8_t -1)")
for i = 1, N do eq(P.by_tick:counts()[i], 1, "count by tick's arg1 = " .. i) end
eq(P.s8:counts().usdt_target, N, "filter arg1 == -1")
eq(P.u8:counts().usdt_target, N, "filter arg2 > 254 (uint8_t 255)")
eq(P.u32:counts().usdt_target, N, "filter arg2 == 4294967295")
eq(P.gt:counts().usdt_target, N - 3, "filter arg4 > 3")
eq(P.neg:counts().usdt_target, N, "filter arg3 < 0 (int64_t -4)")
eq(P.sum:counts(), N * (N + 1) // 2, "sum arg4")
eq(P.sum_s32:counts(), -3 * N, "sum arg1 (int32_t -3)")
eq(P.min:counts(), 1, "min arg4") eq(P.max:counts(), N, "max arg4")
eq(P.avg_by:counts().usdt_target, (N + 1) // 2, "avg arg2 by comm")
local total = 0
for _, b in ipairs(P.hist:hist()) do total = total + b.count end
eq(total, N, "hist arg4 counts")
local lh = {}
for _, b in ipairs(P.lhist:hist()) do lh[b.lo] = b.count end
eq(lh[0], 4, "lhist [0, 5)") eq(lh[5], 5, "lhist [5, 10)") eq(lh[10], 1, "lhist [10, ...)")
done()
EOF
}

# Globs over provider and name: the probes lbpf attaches are those `readelf
# -n` lists, for "*:*" (where there is no readelf, as in the guests, the six
# usdt_target.c fires), and subsets for narrower patterns.
test_globs() {
	need
	local want p
	if command -v readelf > /dev/null; then
		want=$(readelf -n "$TT" | awk -v b="$TT" '$1 == "Provider:" { p = $2 } $1 == "Name:" { print "usdt:" b ":" p ":" $2 }' | sort -u)
	else
		echo "# no readelf: the probes usdt_target.c fires stand in for its list"
		want=$(for p in lbpf_other:tick lbpf_test:big lbpf_test:none lbpf_test:seven lbpf_test:small lbpf_test:str; do
			echo "usdt:$TT:$p"; done)
	fi
	[ "$(wc -l <<< "$want")" -eq 6 ] || t_fail "readelf lists other probes: $want"
	echo "$want" > "$W/readelf.txt"
	lua globs <<'EOF'
local function names(p) local t = p:points() table.sort(t) return table.concat(t, "\n") end
local readelf = io.open(W .. "/readelf.txt"):read("a"):gsub("\n$", "")
eq(names(lbpf.usdt(H, "*:*", { count = "probe" })), readelf, "*:* against readelf -n")
local T = "usdt:" .. H .. ":"
eq(names(lbpf.usdt(H, "*:tick")), T .. "lbpf_other:tick", "*:tick")
eq(names(lbpf.usdt(H, "lbpf_test:s*")), ("%slbpf_test:seven\n%slbpf_test:small\n%slbpf_test:str"):format(T, T, T), "lbpf_test:s*")
eq(names(lbpf.usdt(H, "lbpf_[ot]*:[bn]*")), ("%slbpf_test:big\n%slbpf_test:none"):format(T, T), "lbpf_[ot]*:[bn]*")
local w = start("fire 4")
local p = lbpf.usdt(H, "lbpf_*:*", { filter = { pid = w.pid }, count = { "probe", "pid" } })
eq(p:stats().attached, 6, "lbpf_*:* attached")
go(w)
eq(p:counts()[("%slbpf_other:tick,%d"):format(T, w.pid)], 4, "tick by glob")
eq(p:stats().events, 24, "six probes, four rounds")
done()
EOF
	t_expect_contains "$(cat "$W/globs.err")" "attached 6 probes for usdt:$TT:lbpf_*:*"
}

# opts.pid attaches to one process: another process of the same binary is
# not counted; without it both are.
test_pid() {
	need
	lua pid <<'EOF'
local a, b = start("fire 7"), start("fire 5")
local only_a = lbpf.usdt(H, "lbpf_test:big", { pid = a.pid, count = "pid" })
local all = lbpf.usdt(H, "lbpf_test:big", { count = "pid" })
local sum_a = lbpf.usdt(H, "lbpf_test:big", { pid = a.pid, sum = "arg4" })
go(a) go(b)
eq(only_a:counts()[a.pid], 7, "opts.pid: the chosen process")
eq(count_keys(only_a:counts()), 1, "opts.pid: no other process")
eq(sum_a:counts(), 28, "opts.pid: sum of its arg4")
eq(all:counts()[a.pid], 7, "no pid: a")
eq(all:counts()[b.pid], 5, "no pid: b")
done()
EOF
}

# A probe gated by a semaphore (tests/helpers/usdt_gated, built as Python
# is): it fires nothing untraced, and every round while lbpf is attached,
# with opts.pid (the kernel raises the semaphore in that process) and
# without. A probe libbpf cannot read fails with libbpf's reason.
test_semaphore() {
	need
	local gated=$HELPERS/usdt_gated out
	[ -x "$gated" ] || t_fail "$gated is not built (make)"
	out=$("$gated" fire 3) || t_fail "usdt_gated failed: $out"
	t_expect_contains "$out" "fired 0" "untraced usdt_gated"
	GATED=$gated lua semaphore <<'EOF'
H = os.getenv("GATED")
local a = start("fire 12")
local sum = lbpf.usdt(H, "lbpf_gated:hit", { pid = a.pid, sum = "arg1" })
go(a)
eq(sum:counts(), 78, "sum of arg1 over 12 gated rounds, opts.pid")
sum:detach()
local b = start("fire 5")
local count = lbpf.usdt(H, "lbpf_gated:hit", { count = "pid" })
go(b)
eq(count:counts()[b.pid], 5, "gated rounds, no pid")
-- libbpf 1.1 cannot read an index-register operand; its reason is in the error
local ok, err = pcall(lbpf.usdt, H, "lbpf_gated:indexed")
check(ok or tostring(err):find("attach usdt:" .. H .. ":lbpf_gated:indexed (libbpf: usdt: ", 1, true),
	"lbpf_gated:indexed: %s", tostring(err))
print("# lbpf_gated:indexed: " .. (ok and "attached (this libbpf reads index registers)" or tostring(err)))
done()
EOF
}

# bpftrace, an independent reader of the same notes, counts and sums the
# same arguments of the same workload as lbpf does (bpftrace's sums are
# unsigned 64-bit; bash reads them back as signed).
test_bpftrace_oracle() {
	need
	command -v bpftrace > /dev/null || t_skip "no bpftrace (scripts/deps.sh bpftrace installs it)"
	local N=9 out probe
	out=$(timeout 60 bpftrace -e "
usdt:$TT:lbpf_test:small { @n[probe] = count(); @a1 = sum(arg0); @a2 = sum(arg1); @a3 = sum(arg2); @a4 = sum(arg3); }
usdt:$TT:lbpf_test:big { @n[probe] = count(); @b1 = sum(arg0); @b2 = sum(arg1); @b3 = sum(arg2); @b4 = sum(arg3); }
usdt:$TT:lbpf_other:tick { @n[probe] = count(); @t1 = sum(arg0); }" -c "$TT fire $N" 2>&1) ||
		t_fail "bpftrace failed: $out"
	: > "$W/oracle.txt"
	local name
	for name in a1 a2 a3 a4 b1 b2 b3 b4 t1; do
		local v
		v=$(awk -v k="@$name:" '$1 == k { print $2 }' <<< "$out")
		[ -n "$v" ] || t_fail "bpftrace printed no @$name: $out"
		echo "$name $((v))" >> "$W/oracle.txt"
	done
	for probe in lbpf_test:small lbpf_test:big lbpf_other:tick; do
		grep -q "^@n\[usdt:$TT:$probe\]: $N$" <<< "$out" || t_fail "bpftrace did not count $N $probe: $out"
	done
	N=$N lua oracle <<'EOF'
local N = tonumber(os.getenv("N"))
local want = {}
for k, v in io.open(W .. "/oracle.txt"):read("a"):gmatch("(%w+) (%-?%d+)") do want[k] = math.tointeger(tonumber(v)) end
local w = start("fire " .. N)
local got = {}
for prefix, probe in pairs { a = "lbpf_test:small", b = "lbpf_test:big", t = "lbpf_other:tick" } do
	for i = 1, (prefix == "t" and 1 or 4) do
		got[prefix .. i] = lbpf.usdt(H, probe, { filter = { pid = w.pid }, sum = "arg" .. i })
	end
end
go(w)
for k, p in pairs(got) do eq(p:counts(), want[k], "sum of " .. k .. " against bpftrace") end
print(("# bpftrace and lbpf agree on %d sums over %d rounds"):format(count_keys(got), N))
done()
EOF
}

# Every error names the binary and the probe.
test_errors() {
	need
	printf '#!/bin/sh\n' > "$W/script.sh"
	lua errors <<'EOF'
local function raises(want, ...)
	local ok, err = pcall(...)
	check(not ok, "no error, want '%s'", want)
	check(tostring(err):find(want, 1, true), "error '%s' lacks '%s'", tostring(err), want)
end
raises("usdt 'a:b': find binary /nonexistent/lbpf-binary", lbpf.usdt, "/nonexistent/lbpf-binary", "a:b")
raises("usdt 'a:b': find binary lbpf-no-such-binary", lbpf.usdt, "lbpf-no-such-binary", "a:b")
raises("usdt 'a:b': " .. W .. "/script.sh is not an ELF file", lbpf.usdt, W .. "/script.sh", "a:b")
local plain = "/proc/self/exe" -- lbpf itself: ELF, no USDT notes
raises("usdt 'a:b': /proc/self/exe has no USDT probes (no .note.stapsdt section)", lbpf.usdt, plain, "a:b")
raises(("usdt 'lbpf_test:nope' matches no probe of %s (it has lbpf_other:tick, lbpf_test:big"):format(H),
	lbpf.usdt, H, "lbpf_test:nope")
raises(("usdt 'x*:*' matches no probe of %s (it has"):format(H), lbpf.usdt, H, "x*:*")
raises([[usdt 'small': expected "provider:name"]], lbpf.usdt, H, "small")
raises("string expected", lbpf.usdt, H)
raises(("usdt %s:lbpf_test:small: pid: expected a process id > 0, got 0"):format(H), lbpf.usdt, H,
	"lbpf_test:small", { pid = 0 })
raises(("usdt %s:lbpf_test:small: pid 2147483647: no such process"):format(H), lbpf.usdt, H,
	"lbpf_test:small", { pid = 2147483647 })
local self = io.open("/proc/self/stat"):read("n")
raises(("usdt %s:lbpf_test:small: pid %d does not map %s"):format(H, self, H), lbpf.usdt, H,
	"lbpf_test:small", { pid = self })
raises("filter.arg5: unknown name 'arg5' for usdt:" .. H .. ":lbpf_test:small (valid: pid, tid, uid, gid, cpu, cgroup, comm, probe, arg1..arg4)",
	lbpf.usdt, H, "lbpf_test:small", { filter = { arg5 = 1 } })
raises("value: unknown name 'arg1' for usdt:" .. H .. ":lbpf_test:none", lbpf.usdt, H, "lbpf_test:none", { sum = "arg1" })
raises("value: unknown name 'arg7'", lbpf.usdt, H, "lbpf_test:seven", { sum = "arg7" })
raises("pid: only uprobes and USDT probes take a pid", lbpf.tracepoint, "syscalls:sys_enter_getppid", { pid = 1 })
done()
EOF
}

# Debian's python3 and its semaphore-gated probes (Python fires them only
# while a tracer raised their semaphores). pywork.py starts stopped like
# usdt_target -s, then "gen N" makes N generators (Python 3.11 fires
# python:function__entry when it makes one, not at every call) or "gc" runs
# 5, 3 and 2 collections of generations 0, 1 and 2 with the collector
# otherwise off; it leaves with os._exit, so no collection runs at exit.
write_pywork() {
	cat > "$W/pywork.py" <<'PY'
import gc, os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print(os.getpid(), flush=True)
signal.sigwait({signal.SIGUSR1})
def lbpf_g():
    yield 1
if sys.argv[-2] == "gen":
    for _ in range(int(sys.argv[-1])):
        next(lbpf_g())
else:
    gc.disable()
    for gen, n in ((0, 5), (1, 3), (2, 2)):
        for _ in range(n):
            gc.collect(gen)
print("done", flush=True)
os._exit(0)
PY
}
need_python() {
	PY=/usr/bin/python3 # Debian's, not one a version manager put first in PATH
	[ -x "$PY" ] || t_skip "no $PY"
	PY=$(readlink -f "$PY")
	readelf -n "$PY" 2>/dev/null | grep -q "Name: gc__start" ||
		t_skip "$PY has no USDT probes (not built --with-dtrace)"
	export PY
}

# python:function__entry of one function, named by a string argument, and
# python:gc__start by generation (a 4-byte signed argument on the stack),
# counted exactly.
test_python() {
	need
	need_python
	write_pywork
	lua python <<'EOF'
H = os.getenv("PY") .. " " .. W .. "/pywork.py" -- start() runs it, with -s
local w = start("gen 30")
local calls, seen = 0, 0
lbpf.usdt(os.getenv("PY"), "python:function__entry", { pid = w.pid, strings = { "arg2" } }, function(ev)
	seen = seen + 1
	if ev.arg2 == "lbpf_g" then calls = calls + 1 end
end)
go(w)
local g = start("gc 0")
local gens = lbpf.usdt(os.getenv("PY"), "python:gc__start", { pid = g.pid, count = "arg1" })
go(g)
local c = gens:counts()
eq(c[0], 5, "gc__start generation 0") eq(c[1], 3, "generation 1") eq(c[2], 2, "generation 2")
eq(count_keys(c), 3, "generations")
later(function() return calls >= 30 end, function()
	eq(calls, 30, "python:function__entry of lbpf_g")
	print(("# %d function entries in all"):format(seen))
end)
EOF
}

# lua/examples/pygc.lua counts a Python process's collections by
# generation.
test_example_pygc() {
	need
	need_python
	write_pywork
	"$PY" "$W/pywork.py" gc 0 > "$W/py.out" &
	local py=$! i
	echo "$py" > "$W/py.pid"
	for i in $(seq 100); do [ -s "$W/py.out" ] && break; sleep 0.02; done
	"$LBPF" run "$EXAMPLES/pygc.lua" 1 "$py" "$PY" > "$W/pygc.out" 2> "$W/pygc.err" &
	local ex=$!
	echo "$ex" > "$W/pygc.pid"
	for i in $(seq 200); do
		[ "$(cat /proc/$ex/fdinfo/* 2>/dev/null | grep -c '^link_id:')" -ge 2 ] && break
		sleep 0.02
	done
	kill -USR1 "$py"
	wait "$py" || t_fail "pywork.py failed"
	wait "$ex" || t_fail "pygc.lua failed: $(cat "$W/pygc.err")"
	local out
	out=$(cat "$W/pygc.out")
	echo "$out" | grep -Eq "^ +0 +5$" && echo "$out" | grep -Eq "^ +1 +3$" &&
		echo "$out" | grep -Eq "^ +2 +2$" || t_fail "not 5, 3 and 2 collections: $out"
	t_expect_contains "$out" "objects collected:"
}

t_run usdt/values test_values
t_run usdt/aggregations test_aggregations
t_run usdt/globs test_globs
t_run usdt/pid test_pid
t_run usdt/semaphore test_semaphore
t_run usdt/bpftrace_oracle test_bpftrace_oracle
t_run usdt/errors test_errors
t_run usdt/python test_python
t_run usdt/example_pygc test_example_pygc
