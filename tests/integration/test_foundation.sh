#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Root tests of the foundation against the running kernel: `lbpf run` error
# reporting, Ctrl-C/SIGTERM clean-up, the capability check, tracefs/bpffs
# mounting, the CLI, and the tracepoint counter counting real system calls.
#
# What a run attached is identified by the ids in the lbpf process's own
# /proc/PID/fdinfo (prog_id, map_id, link_id), read while it runs; after it
# exits, `bpftool {prog,map,link} show id N` must find none of them. Unlike a
# diff of whole `bpftool prog show` listings, this cannot be fooled by other
# BPF users on the machine.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-foundation

# Kills the lbpf processes this file started (recorded by pid, checked by
# name) and removes the work folder; also runs first, for an earlier run's.
cleanup() {
	local f pid
	for f in "$W"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if grep -q lbpf "/proc/$pid/cmdline" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	rm -rf "$W"
}
t_cleanup cleanup
mkdir -p "$W"

# Lua that writes the BPF ids held by this lbpf process into the file PATH.
record_ids_lua() {
	cat <<EOF
do
	local pid = io.open("/proc/self/stat"):read("n")
	os.execute(("grep -h -E '^(prog|map|link)_id:' /proc/%d/fdinfo/* > '$1' 2>/dev/null"):format(pid))
end
EOF
}

# check_released IDS_FILE: fails unless the file names a program, a map and a
# link, and none of them exists any more. The kernel frees a program after an
# RCU grace period and its maps after that, so they may linger a moment.
check_released() {
	local kind id i n=0
	for kind in prog map link; do
		grep -q "^${kind}_id:" "$1" || t_fail "no ${kind} id was recorded while it ran: $(cat "$1")"
	done
	while read -r kind id; do
		kind=${kind%_id:}
		n=$((n + 1))
		for i in $(seq 50); do
			bpftool "$kind" show id "$id" </dev/null >/dev/null 2>&1 || continue 2
			sleep 0.1
		done
		t_fail "$kind $id is still there 5 s after exit: $(bpftool "$kind" show id "$id" 2>&1 | head -1)"
	done < "$1"
	echo "# $n BPF objects were held while it ran; none is left"
}

# A runtime error on line 4, after a probe attached: "bad.lua:4:" with a
# traceback, exit 1, and the probe's program, map and link are gone.
test_body_error() {
	t_need_root
	local out rc=0
	cd "$W"
	{
		echo 'local c = lbpf.tracepoint("sched:sched_switch")'
		echo "$(record_ids_lua "$W/bad.ids" | tr '\n' ' ')"
		echo 'local x = nil'
		echo 'return x.field'
	} > bad.lua
	out=$("$LBPF" run bad.lua 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit code $rc, want 1: $out"
	t_expect_contains "$out" "bad.lua:4: attempt to index a nil value"
	t_expect_contains "$out" "stack traceback"
	check_released "$W/bad.ids"
}

# A syntax error on line 3: "syntax.lua:3:", exit 1, and nothing of the body ran.
test_syntax_error() {
	t_need_root
	local out rc=0
	cd "$W"
	printf 'print("BODY RAN")\nlocal c = lbpf.tracepoint("sched:sched_switch")\nx = = 1\n' > syntax.lua
	out=$("$LBPF" run syntax.lua 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit code $rc, want 1: $out"
	t_expect_contains "$out" "syntax.lua:3:"
	case "$out" in *"BODY RAN"*) t_fail "the body ran: $out" ;; esac
}

# A script with a probe, stopped by SIGNAL: on_exit handlers run, exit 0,
# and no program, map or link is left behind.
stop_with_signal() {
	t_need_root
	local sig=$1 pid rc=0
	cat > "$W/probe.lua" <<EOF
local c = lbpf.tracepoint("sched:sched_switch")
lbpf.on_exit(function()
	local f = assert(io.open("$W/$sig.exit", "w"))
	f:write("on_exit ran, counted ", c:stats().events > 0 and "something" or "nothing", "\n")
	f:close()
end)
$(record_ids_lua "$W/$sig.ids")
-- "ready" comes from a task, so the loop, which handles the signal, is running
lbpf.spawn(function() print("ready"); io.stdout:flush() end)
EOF
	"$LBPF" run "$W/probe.lua" > "$W/$sig.out" 2>&1 &
	pid=$!
	echo "$pid" > "$W/$sig.pid"
	t_wait_file "$W/$sig.out" ready
	kill -"$sig" "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || t_fail "exit code $rc after SIG$sig, want 0: $(cat "$W/$sig.out")"
	[ -e "$W/$sig.exit" ] || t_fail "on_exit did not run: $(cat "$W/$sig.out")"
	t_expect_contains "$(cat "$W/$sig.exit")" "counted something"
	check_released "$W/$sig.ids"
}
test_sigint() { stop_with_signal INT; }
test_sigterm() { stop_with_signal TERM; }

# Ctrl-C stops a callback that never returns to the loop, with on_exit run.
test_sigint_spinning_callback() {
	local out=$W/spin.out pid rc=0 i
	"$LBPF" run -e 'lbpf.on_exit(function() print("on_exit ran") end)
		lbpf.after(1, function() print("spinning") io.stdout:flush() while true do end end)' \
		> "$out" 2>&1 &
	pid=$!
	for i in $(seq 100); do grep -q spinning "$out" && break; sleep 0.02; done
	kill -INT "$pid"
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
	kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; t_fail "still running 2 s after SIGINT"; }
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || t_fail "exit code $rc: $(cat "$out")"
	t_expect_contains "$(cat "$out")" "on_exit ran"
}

# expect_missing WHAT CMD...: CMD prints one line naming WHAT and exits 1.
expect_missing() {
	local what=$1 out lines rc=0
	shift
	out=$("$@" "$LBPF" run -e 'print("BODY RAN")' 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || t_fail "exit code $rc, want 1: $out"
	lines=$(printf '%s\n' "$out" | wc -l)
	[ "$lines" -eq 1 ] || t_fail "$lines lines, want one: $out"
	t_expect_contains "$out" "$what"
}

# Not root (uid 65534, no capabilities): one line naming CAP_BPF, exit 1.
test_not_root() {
	t_need_root
	command -v setpriv >/dev/null || t_skip "setpriv (util-linux) is not installed"
	expect_missing CAP_BPF setpriv --reuid=65534 --regid=65534 --clear-groups
}

# Root without one needed capability: one line naming it, exit 1.
test_missing_capability() {
	t_need_root
	command -v setpriv >/dev/null || t_skip "setpriv (util-linux) is not installed"
	expect_missing CAP_BPF setpriv --bounding-set=-bpf --inh-caps=-bpf
	expect_missing CAP_PERFMON setpriv --bounding-set=-perfmon --inh-caps=-perfmon
	expect_missing CAP_NET_ADMIN setpriv --bounding-set=-net_admin --inh-caps=-net_admin
}

# With tracefs and bpffs unmounted (in a private mount namespace, so the host
# keeps its mounts), lbpf mounts both and a tracepoint counter works.
test_mounts_filesystems() {
	t_need_root
	command -v unshare >/dev/null || t_skip "unshare (util-linux) is not installed"
	local out rc=0
	out=$(unshare --mount --propagation private bash -c '
		fstype() { stat -f -c %t "$1" 2>/dev/null; }
		for i in 1 2 3 4; do
			[ "$(fstype /sys/kernel/tracing)" = 74726163 ] && umount /sys/kernel/tracing
			[ "$(fstype /sys/fs/bpf)" = cafe4a11 ] && umount /sys/fs/bpf
		done
		[ "$(fstype /sys/kernel/tracing)" != 74726163 ] || { echo "cannot unmount tracefs"; exit 3; }
		[ "$(fstype /sys/fs/bpf)" != cafe4a11 ] || { echo "cannot unmount bpffs"; exit 3; }
		"$1" run -e "local c = lbpf.tracepoint(\"sched:sched_switch\")
			lbpf.after(20, function() print(\"count=\" .. c:stats().events) lbpf.exit() end)" || exit
		echo "tracefs=$(fstype /sys/kernel/tracing) bpffs=$(fstype /sys/fs/bpf)"
	' _ "$LBPF" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || t_fail "exit code $rc: $out"
	t_expect_contains "$out" "tracefs=74726163 bpffs=cafe4a11"
	case "$out" in *"count=0"*|*"count="[!0-9]*) t_fail "the counter did not count: $out" ;; esac
	t_expect_contains "$out" "count="
}

# --version, help, help run; unknown commands exit 2.
test_cli() {
	local out rc
	out=$("$LBPF" --version)
	[[ $out =~ ^lbpf\ [0-9]+\.[0-9]+\.[0-9]+ ]] || t_fail "--version printed: $out"
	out=$("$LBPF" help)
	t_expect_contains "$out" "lbpf run"
	t_expect_contains "$out" "lbpf help"
	out=$("$LBPF" help run)
	t_expect_contains "$out" "usage: lbpf run"
	t_expect_contains "$out" "--strict"
	rc=0; out=$("$LBPF" nosuchcommand 2>&1) || rc=$?
	[ "$rc" -eq 2 ] || t_fail "unknown command: exit code $rc, want 2"
	t_expect_contains "$out" "nosuchcommand"
	rc=0; "$LBPF" help nosuchcommand >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || t_fail "help of an unknown command: exit code $rc, want 2"
	rc=0; "$LBPF" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || t_fail "no command: exit code $rc, want 2"
	rc=0; "$LBPF" run >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || t_fail "run without a script: exit code $rc, want 2"
}

# A callback error is reported with a traceback and the script goes on;
# --strict makes it fatal (exit 1).
test_callback_errors() {
	t_need_root
	local code='lbpf.spawn(function() error("callback boom") end)
		lbpf.after(30, function() print("went on") end)' out rc=0
	out=$("$LBPF" run -e "$code" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || t_fail "exit code $rc, want 0: $out"
	t_expect_contains "$out" "callback boom"
	t_expect_contains "$out" "stack traceback"
	t_expect_contains "$out" "went on"
	rc=0; out=$("$LBPF" run --strict -e "$code" 2>&1) || rc=$?
	[ "$rc" -eq 1 ] || t_fail "--strict: exit code $rc, want 1: $out"
	t_expect_contains "$out" "callback boom"
	case "$out" in *"went on"*) t_fail "--strict went on: $out" ;; esac
}

# The counter on syscalls:sys_enter_getppid sees at least the N calls a workload makes.
test_counter_counts_getppid() {
	t_need_root
	local n=200000 out rc=0
	[ -x "$HELPERS/getppid_loop" ] || t_fail "$HELPERS/getppid_loop is not built (make)"
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
		t_skip "no syscalls:sys_enter_getppid tracepoint (CONFIG_FTRACE_SYSCALLS)"
	out=$("$LBPF" run -e "
		local c = lbpf.tracepoint('syscalls:sys_enter_getppid')
		local before = c:stats().events
		assert(os.execute('$HELPERS/getppid_loop $n > /dev/null'))
		print('counted=' .. (c:stats().events - before))
		lbpf.exit()" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || t_fail "exit code $rc: $out"
	local counted=${out##*counted=}
	[[ $counted =~ ^[0-9]+$ ]] || t_fail "no count printed: $out"
	echo "# $n getppid() calls, counted $counted"
	[ "$counted" -ge "$n" ] || t_fail "counted $counted of $n getppid() calls"
}

# LBPF_DEBUG=3 prints the verifier's statistics of a probe's program as it
# loads; LBPF_DEBUG unset prints none.
test_verifier_stats() {
	t_need_root
	local code="lbpf.tracepoint('syscalls:sys_enter_getppid', { count = 'comm' }) lbpf.exit()" out
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
		t_skip "no syscalls:sys_enter_getppid tracepoint (CONFIG_FTRACE_SYSCALLS)"
	out=$(LBPF_DEBUG=3 "$LBPF" run -e "$code" 2>&1) || t_fail "LBPF_DEBUG=3: $out"
	echo "$out" | grep -Eq "^processed [0-9]+ insns" || t_fail "no statistics: $(echo "$out" | tail -3)"
	echo "# $(echo "$out" | grep -E '^processed' | head -1)"
	out=$(env -u LBPF_DEBUG "$LBPF" run -e "$code" 2>&1) || t_fail "$out"
	[ -z "$out" ] || t_fail "without LBPF_DEBUG: $out"
}

t_run foundation/body_error test_body_error
t_run foundation/syntax_error test_syntax_error
t_run foundation/sigint test_sigint
t_run foundation/sigterm test_sigterm
t_run foundation/sigint_spinning_callback test_sigint_spinning_callback
t_run foundation/not_root test_not_root
t_run foundation/missing_capability test_missing_capability
t_run foundation/mounts_filesystems test_mounts_filesystems
t_run foundation/cli test_cli
t_run foundation/callback_errors test_callback_errors
t_run foundation/counter_counts_getppid test_counter_counts_getppid
t_run foundation/verifier_stats test_verifier_stats
