#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# kprobes and kretprobes on kernel functions, inside the guests of
# scripts/vmtest.sh (the CI kernel has no CONFIG_KPROBES): counts, arguments
# and return values of vfs_read matching a workload's reads of known sizes,
# wildcards over kernel functions, lbpf.latency on vfs_read, kernel stacks at
# a kprobe, and `lbpf features` saying so. Skips with the reason where the kernel lacks kprobes.
. "$(dirname "$0")/../lib.sh"

if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP kprobe: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi

W=/tmp/lbpf-test-kprobe
TT=$HELPERS/trace_target
export W TT

TOP_PID=$$
# Kills the workloads the scripts started (workload.lua lists them).
reap() {
	local pid
	[ -e "$W/helpers.pids" ] || return 0
	while read -r pid; do
		grep -q trace_target "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done < "$W/helpers.pids"
	rm -f "$W/helpers.pids"
}
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	reap
	rm -rf "$W"
}
t_cleanup cleanup
mkdir -p "$W"

# lua NAME: runs the Lua on stdin after tests/lua/workload.lua; fails unless it
# exits 0 and prints "ok".
lua() {
	local name=$1 rc=0
	{ echo "dofile('$LBPF_TOP/tests/lua/workload.lua')"; cat; } > "$W/$name.lua"
	timeout 60 "$LBPF" run "$W/$name.lua" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
	reap
	cat "$W/$name.out" | grep -v '^ok$' || true
	[ "$rc" -eq 0 ] && grep -qx ok "$W/$name.out" ||
		t_fail "exit code $rc: $(tail -c 600 "$W/$name.err") $(tail -c 300 "$W/$name.out")"
}

need() {
	[ -e /sys/bus/event_source/devices/kprobe/type ] ||
		t_skip "no kprobe PMU on $(uname -r) (CONFIG_KPROBES unset)"
	[ -x "$TT" ] || t_fail "$TT is not in the initramfs (make builds it)"
}

# Reads of 100, 200 and 300 bytes from /dev/zero: kprobe:vfs_read sees three
# calls with arg3 (count) = the sizes, in order; kretprobe:vfs_read returns
# them; filters on arguments and ret count the right ones.
test_kprobe_kretprobe() {
	need
	lua kprobe <<'EOF'
local w = start("read 100 200 300")
local sizes, rets = {}, {}
local entry = lbpf.kprobe("vfs_read", { filter = { pid = w.pid } }, function(ev)
	sizes[#sizes + 1] = ev.arg3
	eq(ev.probe, "kprobe:vfs_read", "ev.probe")
	eq(ev.comm, "trace_target", "ev.comm")
end)
lbpf.kretprobe("vfs_read", { filter = { pid = w.pid } }, function(ev)
	rets[#rets + 1] = ev.ret
	eq(ev.probe, "kretprobe:vfs_read", "ev.probe")
end)
local by_comm = lbpf.kprobe("vfs_read", { filter = { pid = w.pid }, count = "comm" })
local big = lbpf.kprobe("vfs_read", { filter = { pid = w.pid, arg3 = { ">=", 200 } }, count = "comm" })
local ret_sum = lbpf.kretprobe("vfs_read", { filter = { pid = w.pid, ret = { "!=", 200 } }, sum = "ret" })
go(w)
eq(by_comm:counts().trace_target, 3, "kprobe count")
eq(big:counts().trace_target, 2, "kprobe filter arg3 >= 200")
eq(ret_sum:counts(), 400, "kretprobe sum of ret != 200")
later(function() return #sizes >= 3 and #rets >= 3 end, function()
	eq(table.concat(sizes, " "), "100 200 300", "kprobe arg3")
	eq(table.concat(rets, " "), "100 200 300", "kretprobe ret")
	eq(entry:stats().events, 3, "stats().events")
end)
EOF
}

# "vfs_*" attaches every matching kernel function at once, vfs_read among them;
# a pattern that matches nothing is an error naming it.
test_wildcard() {
	need
	lua wildcard <<'EOF'
local w = start("read 10 20 30 40")
local p = lbpf.kprobe("vfs_*", { filter = { pid = w.pid }, count = "probe" })
local n = p:stats().attached
print(("# vfs_* attached %d kprobes"):format(n))
check(n > 10, "vfs_* attached only %d", n)
go(w)
eq(p:counts()["kprobe:vfs_read"], 4, "vfs_read among vfs_*")
local ok, err = pcall(lbpf.kprobe, "lbpf_no_such_function_*")
check(not ok and tostring(err):find("'lbpf_no_such_function_*' matches no kernel function", 1, true),
	"error: %s", tostring(err))
ok, err = pcall(lbpf.kprobe, "lbpf_no_such_function")
check(not ok and tostring(err):find("lbpf_no_such_function", 1, true), "error: %s", tostring(err))
done()
EOF
	t_expect_contains "$(cat "$W/wildcard.err")" "attached"
}

# lbpf.latency("vfs_read") pairs entries with returns: one latency per read.
test_latency() {
	need
	lua latency <<'EOF'
local w = start("read 1000 2000 3000 4000 5000")
local lat = lbpf.latency("vfs_read", { filter = { pid = w.pid } })
go(w)
local h, total = lat:hist(), 0
lbpf.print_hist(h, "vfs_read latency (ns)")
eq(h.kind, "log2", "kind")
for _, b in ipairs(h) do
	total = total + b.count
	check(b.lo >= 0, "negative latency bucket [%s, %s)", b.lo, b.hi)
end
eq(total, 5, "calls measured")
done()
EOF
}

# ev.kstack at kprobe:vfs_read starts in vfs_read and comes from a system call.
test_kstack() {
	need
	lua kstack <<'EOF'
local w = start("read 64")
local stack
lbpf.kprobe("vfs_read", { filter = { pid = w.pid }, kstack = true }, function(ev) stack = ev.kstack end)
go(w)
later(function() return stack end, function()
	check(type(stack) == "table" and #stack > 1, "ev.kstack: %s", tostring(stack))
	local s = table.concat(stack, " <- ")
	print("# " .. s)
	check(stack[1]:match("^vfs_read%+0x%x+$"), "first frame: %s", s)
	check(s:find("ksys_read", 1, true) or s:find("__x64_sys_read", 1, true), "no read syscall frame: %s", s)
end)
EOF
}

# `lbpf features` finds the kprobe PMU here.
test_features() {
	need
	local out
	out=$("$LBPF" features 2>&1) || t_fail "lbpf features failed: $out"
	echo "$out" | grep -Eq '^ *attach +kprobes +yes' || t_fail "not 'kprobes yes': $out"
}

t_run kprobe/features test_features
t_run kprobe/kprobe_kretprobe test_kprobe_kretprobe
t_run kprobe/wildcard test_wildcard
t_run kprobe/latency test_latency
t_run kprobe/kstack test_kstack
