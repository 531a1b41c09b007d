#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Root tests of lbpfd and the lbpf commands that talk to it: load, list, logs,
# unload, reload, status, list --offline, metrics, the protocol's handling of
# bad input, isolation of policies (a spinning callback, a memory hog), and a
# kill -9 + restart that brings the policies back.
#
# The daemon runs on a temporary socket, state folder and bpffs folder, never
# the system's. What a policy attached is checked through the BPF links held
# by lbpfd itself (link_id lines of /proc/PID/fdinfo).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon.sh"

daemon_folders daemon
PORT=$((19500 + $$ % 400))

# Kills the daemons this file started, removes the work folder and the pinned
# maps; also runs first, for an earlier run's.
cleanup() {
	daemon_kill_all
	rm -rf "$W" "$BPFFS" "$BPFFS-group" "$BPFFS-bad" "$BPFFS-sym" "$BPFFS-victim"
}
t_cleanup cleanup
mkdir -p "$W"

# Starts lbpfd unless it runs; waits for its socket.
start_daemon() {
	"$LBPF" status >/dev/null 2>&1 && return 0
	daemon_launch --metrics "127.0.0.1:$PORT" --instructions 50000000 --max-errors 5
}

# Number of BPF links lbpfd holds.
links() { grep -h '^link_id:' /proc/"$(daemon_pid)"/fdinfo/* 2>/dev/null | wc -l; }

# wait_list NAME TEXT: waits up to 10 s until NAME's line in `lbpf list` has TEXT.
wait_list() {
	local i
	for i in $(seq 100); do
		"$LBPF" list 2>/dev/null | grep -A1 "^$1 " | grep -q "$2" && return 0
		sleep 0.1
	done
	t_fail "policy $1 never showed '$2': $("$LBPF" list 2>&1 | head -20)"
}

# policy_number NAME FIELD: a number of NAME's entry in `lbpf list --json`.
policy_number() {
	"$LBPF" list --json | grep -o "\"name\":\"$1\"[^}]*" | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

write_policies() {
	cat > "$W/probe.lua" <<'EOF'
print("probe policy loaded", ...)
local hits = lbpf.metric.counter("probe_getppid_total", "getppid calls seen")
lbpf.tracepoint("syscalls:sys_enter_getppid", function(ev) hits:inc() end)
lbpf.every(200, function() print("getppid calls so far: " .. hits:value()) end)
EOF
	cat > "$W/bad.lua" <<'EOF'
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", function() end)
print("never printed")
local x = = 1
EOF
	cat > "$W/fails.lua" <<'EOF'
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", function() end)
error("policy refuses to start")
EOF
	# the worst lateness of a 10 ms timer over each 500 ms, in the log
	cp "$LBPF_TOP/tests/lua/ticker.lua" "$W/ticker.lua"
	echo 'lbpf.every(50, function() while true do end end)' > "$W/spin.lua"
	# lbpf.shared across policies: the owner shares a counter, two writers
	# hammer the table and the counter from two worker threads
	cat > "$W/owner.lua" <<'EOF'
local m = lbpf.metric.counter("shared_total", "increments by the writers")
lbpf.shared.test_counter = m
lbpf.every(50, function() print("total " .. m:value()) end)
EOF
	cat > "$W/writer.lua" <<'EOF'
local me, other = ...
local counter, done, bad, seen = lbpf.shared.test_counter, 0, 0, 0
lbpf.every(1, function(timer)
	-- both hammer only once both run (a busy machine may load the second late)
	lbpf.shared["test_" .. me] = lbpf.shared["test_" .. me] or { me = me, i = 0, pad = ("x"):rep(64) }
	if not lbpf.shared["test_" .. other] then return end
	for i = 1, 200 do
		lbpf.shared["test_" .. me] = { me = me, i = done, pad = ("x"):rep(64) }
		lbpf.shared.test_last = me
		local v = lbpf.shared["test_" .. other]
		if v then
			seen = seen + 1
			if v.me ~= other or #v.pad ~= 64 or math.type(v.i) ~= "integer" then bad = bad + 1 end
		end
		counter:inc()
		done = done + 1
	end
	if done >= 20000 then
		print(("done %s %d bad=%d seen=%d"):format(me, done, bad, seen))
		timer:cancel()
	end
end)
EOF
	cat > "$W/hog.lua" <<'EOF'
local t = {}
lbpf.every(5, function() for i = 1, 20000 do t[#t + 1] = ("x"):rep(64) .. i end end)
EOF
}

# Without a daemon the commands say so in one line and exit 1.
test_no_daemon() {
	t_need_root
	local out rc=0
	out=$(LBPF_SOCKET=$W/none.sock "$LBPF" list 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "exit code $rc, want 1"
	[ "$out" = "lbpf: lbpfd is not running (no socket at $W/none.sock)" ] || t_fail "said: $out"
	"$LBPF" run -e 'print("run works without a daemon")' | grep -q "without a daemon" ||
		t_fail "lbpf run failed without a daemon"
}

# A policy with a tracepoint loads, runs, counts events and its print() output
# reaches `lbpf logs`; status answers.
test_load_list_logs() {
	t_need_root
	start_daemon
	local out
	out=$("$LBPF" load "$W/probe.lua" -- one two 2>&1) || t_fail "load failed: $out"
	t_expect_contains "$out" "probe: running"
	"$HELPERS/getppid_loop" 2000 >/dev/null
	wait_list probe running
	sleep 0.5
	out=$("$LBPF" list)
	t_expect_contains "$out" "lbpf.probe" "list"
	[ "$("$LBPF" list --json | grep -o '"events":[0-9]*' | head -1 | cut -d: -f2)" -gt 0 ] ||
		t_fail "no events counted: $("$LBPF" list --json)"
	out=$("$LBPF" logs probe)
	t_expect_contains "$out" "probe policy loaded	one	two" "logs"
	t_expect_contains "$out" "getppid calls so far" "logs"
	out=$("$LBPF" status)
	t_expect_contains "$out" "lbpfd $("$LBPF" --version | cut -d' ' -f2)" "status"
	t_expect_contains "$out" "tracepoint" "status"
}

# A syntax error and an error in the body: exit 1 with file:line, no policy
# left, and the probe the failing body attached is gone.
test_load_errors() {
	t_need_root
	start_daemon
	local before out rc=0
	before=$(links)
	out=$("$LBPF" load "$W/bad.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "syntax error: exit code $rc, want 1"
	t_expect_contains "$out" "bad.lua:3:" "syntax error"
	rc=0
	out=$("$LBPF" load "$W/fails.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "runtime error: exit code $rc, want 1"
	t_expect_contains "$out" "fails.lua:2: policy refuses to start" "runtime error"
	"$LBPF" list | grep -qE '^(bad|fails) ' && t_fail "a failed load stayed listed"
	[ "$(links)" -eq "$before" ] || t_fail "links held: $(links), before: $before"
	rc=0
	out=$("$LBPF" load "$W/nothere.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "missing file: exit code $rc"
	rc=0
	out=$("$LBPF" load "$W/probe.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] && t_expect_contains "$out" "loaded already" "a second load"
}

# A callback that spins delays another policy's 10 ms timer by a bounded
# amount (measured from the other policy's log), then fails with its reason.
test_spin_isolation() {
	t_need_root
	start_daemon
	local worst i
	"$LBPF" load "$W/ticker.lua" >/dev/null || t_fail "ticker did not load"
	sleep 1.2
	"$LBPF" load "$W/spin.lua" >/dev/null || t_fail "spin did not load"
	wait_list spin failed
	sleep 1.1 # two more of the ticker's reports: the one that saw the spin is among them
	worst=$("$LBPF" logs ticker | tail -4 | awk '{ if ($2 > w) w = $2 } END { print w + 0 }')
	echo "# worst lateness of the 10 ms timer while another policy spins: $worst ms"
	awk -v w="$worst" 'BEGIN { exit !(w < 25) }' ||
		t_fail "the ticker was $worst ms late (bound: 25 ms): $("$LBPF" logs ticker | tail -6)"
	# over the budget once is enough: the policy fails with the reason
	"$LBPF" list | grep -A1 '^spin ' | grep -q "instruction limit of 50000000 exceeded" ||
		t_fail "no reason: $("$LBPF" list)"
	[ "$(policy_number spin errors)" = 1 ] || t_fail "errors: $(policy_number spin errors), want 1"
	"$LBPF" logs spin | grep -q "stopping: instruction limit of 50000000 exceeded" ||
		t_fail "no limit error in the log: $("$LBPF" logs spin | tail -3)"
	# a pcall that catches the limit's error does not save the policy
	echo 'lbpf.every(50, function() pcall(function() while true do end end) end)' > "$W/catch.lua"
	"$LBPF" load "$W/catch.lua" >/dev/null || t_fail "catch did not load"
	for i in $(seq 100); do
		"$LBPF" list --json | grep -q '"name":"catch","state":"failed"' && break
		sleep 0.1
	done
	"$LBPF" list | grep -A1 '^catch ' | grep -q "caught by pcall" ||
		t_fail "caught spin: $("$LBPF" list | grep -A1 '^catch ')"
	"$LBPF" unload catch >/dev/null
	"$LBPF" unload spin >/dev/null
	"$LBPF" unload ticker >/dev/null
}

# Going over --memory fails the policy with the reason; the daemon goes on.
test_memory_limit() {
	t_need_root
	start_daemon
	"$LBPF" load "$W/hog.lua" --memory 1M >/dev/null || t_fail "hog did not load"
	wait_list hog failed
	"$LBPF" list | grep -A1 '^hog ' | grep -q "memory limit 1M exceeded" ||
		t_fail "no reason: $("$LBPF" list)"
	wait_list probe running
	"$LBPF" unload hog >/dev/null || t_fail "unload of a failed policy"
}

# Reload keeps the old runtime when the new one fails, and swaps otherwise;
# unload releases the links.
test_reload_unload() {
	t_need_root
	start_daemon
	local out rc=0 before
	cp "$W/probe.lua" "$W/probe2.lua"
	echo 'local broken = = 1' >> "$W/probe2.lua"
	out=$("$LBPF" reload probe "$W/probe2.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "a failed reload exited $rc"
	t_expect_contains "$out" "running policy was kept" "reload"
	t_expect_contains "$out" "probe2.lua:5:" "reload"
	"$LBPF" list --json | grep -q '"name":"probe","state":"running"' || t_fail "old one gone"
	"$LBPF" list --json | grep -q '"generation":1,' || t_fail "generation changed"
	"$LBPF" reload probe >/dev/null || t_fail "reload failed"
	"$LBPF" list --json | grep -q '"generation":2,' || t_fail "not reloaded: $("$LBPF" list --json)"
	"$LBPF" load "$W/probe.lua" --name gone >/dev/null || t_fail "second load"
	before=$(links)
	"$LBPF" unload gone >/dev/null || t_fail "unload failed"
	[ "$(links)" -lt "$before" ] || t_fail "unload left the link: $(links) of $before"
	"$LBPF" list | grep -q '^gone ' && t_fail "unloaded policy still listed"
	rc=0
	"$LBPF" unload gone 2>/dev/null || rc=$?
	[ $rc -eq 1 ] || t_fail "unload of an unknown policy exited $rc"
}

# Prometheus text over HTTP, per policy and declared by a policy.
test_metrics() {
	t_need_root
	command -v curl >/dev/null || t_skip "curl is not installed (scripts/deps.sh installs it)"
	start_daemon
	local out
	"$HELPERS/getppid_loop" 1000 >/dev/null
	sleep 0.3
	out=$(curl -sf "http://127.0.0.1:$PORT/metrics") || t_fail "curl failed"
	t_expect_contains "$out" 'lbpf_policy_events_total{policy="probe"}' "metrics"
	t_expect_contains "$out" 'lbpf_policy_memory_bytes{policy="probe"}' "metrics"
	t_expect_contains "$out" '# TYPE probe_getppid_total counter' "metrics"
	echo "$out" | grep -qE '^probe_getppid_total\{policy="probe"\} [1-9]' ||
		t_fail "declared counter: $(echo "$out" | grep probe_getppid)"
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" = 404 ] ||
		t_fail "no 404"
}

# Bad protocol input gets an error reply or is dropped, and the daemon lives.
test_protocol() {
	t_need_root
	command -v python3 >/dev/null || t_skip "python3 is needed to send raw protocol bytes"
	start_daemon
	local out
	out=$(python3 - "$SOCK" <<'EOF'
import socket, sys
def talk(data, shut=True, wait=15):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1]); s.sendall(data)
    if shut: s.shutdown(socket.SHUT_WR)
    s.settimeout(wait); out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d: break
            out += d
    except socket.timeout: out += b"<timeout>"
    s.close()
    return out.decode()
print("1", talk(b'{"op":\n'))
print("2", talk(b'[1]\n{"op":"nope"}\n{"op":"list"}\n').replace("\n", " "))
print("3", talk(b'x' * (1 << 20) + b'yy\n'))
print("4", talk(b'{"op":"li'))
print("5", talk(b'{"op":"li', shut=False))
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"op":"load","file":"/nonexistent.lua"}\n'); s.close()
print("6", talk(b'{"op":"status"}\n'))
EOF
) || t_fail "python failed: $out"
	t_expect_contains "$out" "1 {\"ok\":false,\"error\":\"malformed request: byte 7" "malformed"
	t_expect_contains "$out" "unknown op 'nope'" "unknown op"
	t_expect_contains "$out" '"policies":[' "a good line after bad ones"
	t_expect_contains "$out" "3 {\"ok\":false,\"error\":\"request too long" "oversize"
	t_expect_contains "$out" "4 {\"ok\":false,\"error\":\"incomplete request" "half-sent"
	t_expect_contains "$out" "5 {\"ok\":false,\"error\":\"incomplete request: no end of line" "idle"
	t_expect_contains "$out" '6 {"ok":true,"version"' "alive after a vanished client"
}

# Two policies on two worker threads write lbpf.shared and a counter shared
# through it at once: no torn value, no lost increment.
test_shared() {
	t_need_root
	start_daemon
	local i total
	"$LBPF" load "$W/owner.lua" >/dev/null || t_fail "owner did not load"
	"$LBPF" load "$W/writer.lua" --name wa -- a b >/dev/null || t_fail "wa did not load"
	"$LBPF" load "$W/writer.lua" --name wb -- b a >/dev/null || t_fail "wb did not load"
	for i in $(seq 100); do
		"$LBPF" logs wa | grep -q '^done' && "$LBPF" logs wb | grep -q '^done' && break
		sleep 0.1
	done
	"$LBPF" logs wa | grep -q '^done a 20000 bad=0 seen=[1-9]' ||
		t_fail "wa: $("$LBPF" logs wa | tail -3)"
	"$LBPF" logs wb | grep -q '^done b 20000 bad=0 seen=[1-9]' ||
		t_fail "wb: $("$LBPF" logs wb | tail -3)"
	sleep 0.2
	total=$("$LBPF" logs owner | tail -1)
	[ "$total" = "total 40000.0" ] || t_fail "shared counter: '$total', want 40000"
	for i in owner wa wb; do "$LBPF" unload $i >/dev/null; done
}

# kill -9: list --offline reads the pinned map while it is down; a restart
# brings the policies back from the state folder.
test_restart() {
	t_need_root
	start_daemon
	local out rc=0 i
	kill -KILL "$(daemon_pid)"
	# gone, or a zombie whose last thread has exited (closing its files)
	for i in $(seq 200); do
		[ -e "/proc/$(daemon_pid)" ] || break
		grep -q '^State:.*Z' "/proc/$(daemon_pid)/status" 2>/dev/null &&
			[ "$(ls "/proc/$(daemon_pid)/task" 2>/dev/null | wc -l)" -le 1 ] && break
		sleep 0.05
	done
	out=$("$LBPF" list 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "list with the daemon down exited $rc"
	t_expect_contains "$out" "lbpfd is not running" "list"
	out=$("$LBPF" list --offline) || t_fail "list --offline failed"
	echo "$out" | grep -E '^probe +running +2 .* gone$' >/dev/null ||
		t_fail "offline list: $out"
	start_daemon
	wait_list probe running
	"$LBPF" list --json | grep -q '"generation":2,' || t_fail "generation lost"
	"$HELPERS/getppid_loop" 1000 >/dev/null
	wait_list probe lbpf.probe
	"$LBPF" logs probe | grep -q "probe policy loaded	one	two" || t_fail "args lost on restart"
	"$LBPF" list --offline | grep -E '^probe +running .* running$' >/dev/null ||
		t_fail "offline list after restart: $("$LBPF" list --offline)"
}

# The BPF side consults the pinned runtimes map: while another tool marks the
# policy's runtime stopped, its probe pushes no events (no callback runs);
# marked running again, they flow. The objects map shows the probe's kernel
# prog, map and link ids, and they are the kernel's.
test_runtimes_gate() {
	t_need_root
	start_daemon
	local out e1 e2 e3 obj prog link map
	echo 'lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "getppid_loop" } },
	function() end)' > "$W/gate.lua"
	out=$("$LBPF" load "$W/gate.lua" 2>&1) || t_fail "load failed: $out"
	"$HELPERS/getppid_loop" 500 >/dev/null
	sleep 0.3
	e1=$(policy_number gate events)
	[ "${e1:-0}" -ge 500 ] || t_fail "events before: ${e1:-none}, want >= 500"
	[ "$("$HELPERS/runtime_state" "$BPFFS/runtimes" gate 2)" = 1 ] ||
		t_fail "no runtime entry named gate"
	"$HELPERS/getppid_loop" 500 >/dev/null
	sleep 0.3
	e2=$(policy_number gate events)
	[ "$e2" = "$e1" ] || t_fail "a stopped runtime got events: $e1 -> $e2"
	"$HELPERS/runtime_state" "$BPFFS/runtimes" gate 1 >/dev/null
	"$HELPERS/getppid_loop" 500 >/dev/null
	sleep 0.3
	e3=$(policy_number gate events)
	[ "$e3" -ge $((e2 + 500)) ] || t_fail "events after running again: $e2 -> $e3"
	obj=$("$LBPF" list --offline --json | grep -o '"name":"gate".*' |
		grep -o '{"kind":"lbpf.probe"[^}]*}' | head -1)
	prog=$(echo "$obj" | grep -o '"prog_id":[0-9]*' | cut -d: -f2)
	map=$(echo "$obj" | grep -o '"map_id":[0-9]*' | cut -d: -f2)
	link=$(echo "$obj" | grep -o '"link_id":[0-9]*' | cut -d: -f2)
	[ "${prog:-0}" -gt 0 ] && [ "${map:-0}" -gt 0 ] && [ "${link:-0}" -gt 0 ] ||
		t_fail "objects map entry without kernel ids: ${obj:-none}"
	bpftool link show id "$link" | grep -q "prog $prog" ||
		t_fail "link $link does not run prog $prog: $(bpftool link show id "$link" 2>&1)"
	bpftool map show id "$map" >/dev/null 2>&1 || t_fail "no map $map"
	"$LBPF" unload gate >/dev/null || t_fail "unload failed"
}

# A second lbpfd on the same socket refuses to start and leaves the first
# one's pinned maps alone; with --group, members of the group (also as a
# supplementary group) may use the socket, and others are refused.
test_socket_access() {
	t_need_root
	command -v setpriv >/dev/null || t_skip "setpriv (util-linux) is not installed"
	getent group daemon >/dev/null || t_skip "no group 'daemon' on this system"
	start_daemon
	local before after out rc=0 gpid i
	before=$("$LBPF" list --offline | grep -c ' running ')
	out=$("$LBPFD" --socket "$SOCK" --state-dir "$W/state2" --bpffs "$BPFFS" 2>&1) || rc=$?
	[ $rc -ne 0 ] || t_fail "a second lbpfd started"
	t_expect_contains "$out" "another lbpfd is listening" "second lbpfd"
	after=$("$LBPF" list --offline | grep -c ' running ')
	[ "$before" -gt 0 ] && [ "$after" = "$before" ] ||
		t_fail "the second lbpfd changed the pinned maps: $before -> $after running"
	"$LBPFD" --socket "$W/group.sock" --state-dir "$W/gstate" --bpffs "$BPFFS-group" \
		--group daemon >>"$W/lbpfd-group.log" 2>&1 &
	gpid=$!
	echo $gpid >> "$W/lbpfd.pid"
	for i in $(seq 100); do [ -S "$W/group.sock" ] && break; sleep 0.05; done
	[ "$(stat -c '%a %G' "$W/group.sock")" = "660 daemon" ] ||
		t_fail "socket mode: $(stat -c '%a %G' "$W/group.sock")"
	out=$(LBPF_SOCKET=$W/group.sock setpriv --reuid=65534 --regid=65534 \
		--groups="$(getent group daemon | cut -d: -f3)" "$LBPF" status 2>&1) ||
		t_fail "a member (supplementary group) was refused: $out"
	rc=0
	out=$(LBPF_SOCKET=$W/group.sock setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$LBPF" status 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "a stranger got in (exit $rc): $out"
	# the socket's mode stops it at connect(2); SO_PEERCRED is the second wall
	echo "$out" | grep -qi "permission denied" || t_fail "stranger: $out"
	# with a socket anyone may connect to, the stranger meets the SO_PEERCRED check
	chmod 0666 "$W/group.sock"
	rc=0
	out=$(LBPF_SOCKET=$W/group.sock setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$LBPF" status 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "a stranger on a 0666 socket got in (exit $rc): $out"
	[ "$out" = "lbpf: permission denied: lbpfd accepts root, its own user and members of the socket's group (lbpfd --group)" ] ||
		t_fail "stranger on a 0666 socket: $out"
	kill -TERM $gpid
	wait $gpid 2>/dev/null
	rm -rf "$BPFFS-group"
}

# Events a full ring buffer refused are counted, not guessed from the log:
# delivered + lost is exactly what happened, in list and in the metrics.
test_lost_events() {
	t_need_root
	start_daemon
	local out i events lost
	cat > "$W/lossy.lua" <<'EOF'
lbpf.config { ringbuf = "4K" }
lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "getppid_loop" } }, function() end)
EOF
	out=$("$LBPF" load "$W/lossy.lua" 2>&1) || t_fail "load failed: $out"
	"$HELPERS/getppid_loop" 20000 >/dev/null
	for i in $(seq 40); do # the probe reports lost events once a second
		events=$(policy_number lossy events) lost=$(policy_number lossy lost)
		[ $((events + lost)) -eq 20000 ] && break
		sleep 0.1
	done
	[ "${lost:-0}" -gt 0 ] || t_fail "nothing lost with a 4K ring (events ${events:-none})"
	[ $((events + lost)) -eq 20000 ] || t_fail "events $events + lost $lost != 20000"
	# the metrics half needs curl: without it this test fails, it does not pass half-run
	command -v curl >/dev/null || t_fail "curl is not installed (scripts/deps.sh installs it)"
	curl -sf "http://127.0.0.1:$PORT/metrics" | grep -qx "lbpf_policy_lost_total{policy=\"lossy\"} $lost" ||
		t_fail "metrics: $(curl -sf "http://127.0.0.1:$PORT/metrics" | grep lossy)"
	"$LBPF" unload lossy >/dev/null || t_fail "unload failed"
}

# Metrics a child runtime (lbpf.runtime) declares are its policy's, and a
# child cannot declare a name its policy has.
test_child_metrics() {
	t_need_root
	command -v curl >/dev/null || t_skip "curl is not installed (scripts/deps.sh installs it)"
	start_daemon
	local out
	cat > "$W/kids.lua" <<'EOF'
lbpf.metric.gauge("kids_parent", "declared by the parent"):set(1)
kid = lbpf.runtime([[
	lbpf.metric.counter("kids_child_total", "declared by a child"):add(7)
	print("child dup:", pcall(lbpf.metric.gauge, "kids_parent", "again"))
	lbpf.every(1000, function() end)
]], { code = true })
kid:resume()
EOF
	out=$("$LBPF" load "$W/kids.lua" 2>&1) || t_fail "load failed: $out"
	out=$(curl -sf "http://127.0.0.1:$PORT/metrics") || t_fail "curl failed"
	echo "$out" | grep -qx 'kids_child_total{policy="kids"} 7' ||
		t_fail "child metric: $(echo "$out" | grep kids)"
	[ "$(echo "$out" | grep -c '^kids_parent{')" = 1 ] ||
		t_fail "parent metric: $(echo "$out" | grep kids)"
	"$LBPF" logs kids | grep -q "child dup:	false	.*declared already" ||
		t_fail "duplicate name in a child: $("$LBPF" logs kids)"
	"$LBPF" unload kids >/dev/null || t_fail "unload failed"
}

# kill -9 and start again, waiting for the old one to be gone (its pid from
# status: other tests start other daemons after it).
restart_daemon() {
	local i pid
	pid=$("$LBPF" status --json | grep -o '"pid":[0-9]*' | cut -d: -f2)
	kill -KILL "$pid"
	for i in $(seq 200); do
		[ -e "/proc/$pid" ] || break
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null &&
			[ "$(ls "/proc/$pid/task" 2>/dev/null | wc -l)" -le 1 ] && break
		sleep 0.05
	done
	start_daemon
}

# Records in the state folder are checked field by field at restart: a bad
# one is ignored with a message that says what is wrong, never restored with
# no memory limit or a wrapped number. The client refuses source that is not
# UTF-8 (the protocol is JSON text) rather than altering it.
test_state_records() {
	t_need_root
	start_daemon
	local d=$W/state/policies name out
	printf 'lbpf.every(1000, function() end)\n' > "$W/rec.lua"
	"$LBPF" load --name recok "$W/rec.lua" >/dev/null || t_fail "load recok failed"
	for name in empty huge nomem neggen wrongname badtrust badargs; do
		cp "$W/rec.lua" "$d/$name.lua"
	done
	: > "$d/empty.json"
	echo '{"name":"huge","file":"/x.lua","args":[],"memory":1e300,"generation":1}' > "$d/huge.json"
	echo '{"name":"nomem","file":"/x.lua","args":[],"generation":1}' > "$d/nomem.json"
	echo '{"name":"neggen","file":"/x.lua","args":[],"memory":0,"generation":-1}' > "$d/neggen.json"
	echo '{"name":"other","file":"/x.lua","args":[],"memory":0,"generation":1}' > "$d/wrongname.json"
	echo '{"name":"badtrust","file":"/x.lua","args":[],"memory":0,"generation":1,"trusted":"yes"}' > "$d/badtrust.json"
	echo '{"name":"badargs","file":"/x.lua","args":[1],"memory":0,"generation":1}' > "$d/badargs.json"
	restart_daemon
	wait_list recok running
	for name in empty huge nomem neggen wrongname badtrust badargs; do
		"$LBPF" list | grep -q "^$name " && t_fail "record $name was restored: $("$LBPF" list)"
	done
	out=$(grep "not a valid policy record" "$W/lbpfd.log")
	t_expect_contains "$out" "$d/empty.json: not a valid policy record: it is empty" "empty"
	t_expect_contains "$out" "$d/huge.json: not a valid policy record: \"memory\" is 1e+300, not a whole number in 0..9007199254740992" "huge"
	t_expect_contains "$out" "$d/nomem.json: not a valid policy record: no number \"memory\"" "nomem"
	t_expect_contains "$out" "$d/neggen.json: not a valid policy record: \"generation\" is -1, not a whole number in 0..4294967295" "neggen"
	t_expect_contains "$out" "$d/wrongname.json: not a valid policy record: its \"name\" is missing or not the file's name" "wrongname"
	t_expect_contains "$out" "$d/badtrust.json: not a valid policy record: \"trusted\" is not true or false" "badtrust"
	t_expect_contains "$out" "$d/badargs.json: not a valid policy record: \"args\" is not a list of strings" "badargs"
	printf 'print("caf\xe9")\n' > "$W/latin1.lua"
	out=$("$LBPF" load "$W/latin1.lua" 2>&1) && t_fail "Latin-1 source was sent"
	t_expect_contains "$out" "latin1.lua:1: a byte that is not UTF-8 (offset 10)" "Latin-1"
	"$LBPF" unload recok >/dev/null
}

# A policy's log lives outside its memory limit, so it is bounded: the last
# 1000 lines, each cut at 4096 bytes; list --json counts both.
test_log_caps() {
	t_need_root
	start_daemon
	cat > "$W/chatty.lua" <<'EOF'
print(("x"):rep(10000))
for i = 1, 1499 do print("line " .. i) end
lbpf.every(1000, function() end)
EOF
	"$LBPF" load "$W/chatty.lua" >/dev/null || t_fail "load chatty failed"
	[ "$(policy_number chatty log_lines)" = 1500 ] || t_fail "log_lines: $("$LBPF" list --json)"
	[ "$(policy_number chatty log_dropped)" = 500 ] || t_fail "log_dropped: $("$LBPF" list --json)"
	[ "$(policy_number chatty log_cut)" = 1 ] || t_fail "log_cut: $("$LBPF" list --json)"
	"$LBPF" logs chatty | head -1 | grep -qx 'line 500' ||
		t_fail "first kept line: $("$LBPF" logs chatty | head -1 | cut -c1-100)"
	[ "$("$LBPF" logs chatty | wc -l)" = 1000 ] || t_fail "lines kept: $("$LBPF" logs chatty | wc -l)"
	cat > "$W/long.lua" <<'EOF'
print(("y"):rep(10000))
lbpf.every(1000, function() end)
EOF
	"$LBPF" load "$W/long.lua" >/dev/null || t_fail "load long failed"
	"$LBPF" logs long | grep -qx "$(printf 'y%.0s' $(seq 4096))... \[5904 bytes cut\]" ||
		t_fail "the long line: $("$LBPF" logs long | cut -c4090-)"
	"$LBPF" unload chatty >/dev/null && "$LBPF" unload long >/dev/null
}

# lbpf logs --format json: each record of a policy's log as the JSON line that
# lbpf run --format json writes, plus "policy" and "time"; a long print is
# cut as its text line is; -f follows in JSON; the text form is unchanged.
test_logs_json() {
	t_need_root
	start_daemon
	cat > "$W/jsonlog.lua" <<'EOF'
print('q"\1' .. "\xff")
print(("z"):rep(5000))
lbpf.print_hist({ kind = "log2", { lo = 0, hi = 1, count = 2 } }, "h")
lbpf.after(1, function() error("boom") end)
lbpf.every(100, function() print("tick") end)
EOF
	"$LBPF" load "$W/jsonlog.lua" >/dev/null || t_fail "load jsonlog failed"
	local i out why
	for i in $(seq 50); do
		"$LBPF" logs jsonlog | grep -q tick && break
		sleep 0.1
	done
	out=$("$LBPF" logs jsonlog)
	t_expect_contains "$out" 'q"' "text logs"
	t_expect_contains "$out" "lbpf: error in callback: $W/jsonlog.lua:4: boom" "text logs"
	t_expect_contains "$out" "$(printf '%-20s %8d |' '[0]' 2)" "text logs"
	"$LBPF" logs --format json jsonlog > "$W/jsonlog.json" || t_fail "logs --format json failed"
	why=$(/usr/bin/python3 - "$W/jsonlog.json" "$W/jsonlog.lua" <<'PY'
import json, sys, time
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
def fail(why): print(why); sys.exit(0)
for r in recs:
    if r.get("policy") != "jsonlog" or not abs(r.get("time", 0) - time.time()) < 60:
        fail("policy or time: %r" % r)
pr = [r["data"] for r in recs if r["type"] == "printf"]
if pr[0] != 'q"\x01\ufffd\n': fail("printf: %r" % pr[0])
if pr[1] != "z" * 4096 + "... [904 bytes cut]\n": fail("long print: %r" % pr[1][-40:])
if "tick\n" not in pr: fail("no tick")
h = [r["data"] for r in recs if r["type"] == "hist"]
if h != [{"h": [{"min": 0, "max": 0, "count": 2}]}]: fail("hist: %r" % h)
e = [r["data"] for r in recs if r["type"] == "error"]
if len(e) != 1 or (e[0]["msg"], e[0]["file"], e[0]["line"], e[0]["in"]) != \
        ("boom", sys.argv[2], 4, "callback"):
    fail("error: %r" % e)
PY
)
	[ -z "$why" ] || t_fail "logs --format json: $why"
	out=$(timeout 1 "$LBPF" logs --format json -f jsonlog | tail -1) || true
	case "$out" in '{"type": "printf", "data": "tick\n", "policy": "jsonlog", "time": '*) ;;
	*) t_fail "logs --format json -f: $out" ;; esac
	out=$("$LBPF" logs --format yaml jsonlog 2>&1) && t_fail "--format yaml was taken"
	t_expect_contains "$out" "usage: lbpf logs [--format text|json] NAME [-f]" "--format yaml"
	"$LBPF" unload jsonlog >/dev/null
}

# A policy is sandboxed by default: each way out of the sandbox is tried from
# the policy (and from its child runtimes) and each one fails, while what the
# sandbox keeps works. A check that cannot run prints no line, so the count
# of "closed" lines is checked too.
write_escape() {
	cat > "$W/escape.lua" <<'EOF'
local n = 0
local function check(name, f)
	local ok, got = pcall(f)
	n = n + 1
	print(("escape %s: %s"):format(name, (ok and got) and "OPEN" or "closed"))
end
local dump = string.dump(function() return true end)
check("os.execute", function() return os.execute("touch /tmp/lbpf-test-daemon/pwned") end)
check("io.open", function() return io.open("/etc/shadow"):read("a") end)
check("io.popen", function() return io.popen("id") end)
check("package.loadlib", function() return package.loadlib("libc.so.6", "system") end)
check("C searchers", function() return package.searchers[3] or package.searchers[4] end)
check("package.searchpath", function() return package.searchpath("shadow", "/etc/?") end)
check("require io", function() return package.loaded.io or require("io") end)
check("debug.sethook", function() debug.sethook(function() end, "", 1); return true end)
check("debug.getinfo", function() return debug.getinfo(1) end)
check("debug.getupvalue", function() return debug.getupvalue(check, 1) end)
check("debug.upvaluejoin", function() debug.upvaluejoin(check, 1, check, 1); return true end)
check("debug.getregistry", function() return debug.getregistry() end)
check("load bytecode", function() return load(dump) end)
check("load mode b", function() return load(dump, "x", "b") end)
check("load mode bt", function() return load(dump, "x", "bt") end)
check("require a path", function() return require("/etc/shadow") end)
check("require ..", function() return require("..etc.shadow") end)
check("require via package.path", function() package.path = "/etc/?"; return require("shadow") end)
check("dofile", function() return dofile("/etc/shadow") end)
check("loadfile", function() return loadfile("/etc/shadow") end)
check("os.exit", function() return os.exit end)
check("os.getenv", function() return os.getenv("PATH") end)
check("os.remove", function() return os.remove("/tmp/lbpf-test-daemon/probe.lua") end)
check("lbpf.watch", function() return lbpf.watch(0, "r", function() end) end)
check("child's library", function()
	return lbpf.runtime("return io ~= nil or os.execute ~= nil or debug.sethook ~= nil",
		{ code = true }):resume()
end)
check("child from a file", function() return lbpf.runtime("/etc/shadow") end)
check("child from bytecode", function() return lbpf.runtime(dump, { code = true }) end)
check("grandchild", function()
	return lbpf.runtime([[return lbpf.runtime("return io ~= nil", { code = true }):resume()]],
		{ code = true }):resume()
end)
print("checks " .. n)
local hist = require "lbpf.hist"
print("kept:", type(hist), ("%d"):format(7), os.time() > 0, os.clock() >= 0,
	debug.traceback("tb"):match("^tb") ~= nil, utf8.char(72), math.max(1, 2),
	table.concat({ "a", "b" }), coroutine.isyieldable(), load("return 5")())
EOF
}

test_sandbox() {
	t_need_root
	start_daemon
	local out
	write_escape
	out=$("$LBPF" load "$W/escape.lua" 2>&1) || t_fail "load failed: $out"
	out=$("$LBPF" logs escape)
	echo "$out" | grep -q "OPEN" && t_fail "an escape is open: $(echo "$out" | grep OPEN)"
	[ "$(echo "$out" | grep -c ': closed$')" = 28 ] && echo "$out" | grep -qx "checks 28" ||
		t_fail "not every escape was tried: $out"
	[ -e "$W/pwned" ] && t_fail "os.execute ran"
	[ -e "$W/probe.lua" ] || t_fail "os.remove ran"
	echo "$out" | grep -qx "kept:	table	7	true	true	true	H	2	ab	false	5" ||
		t_fail "what the sandbox keeps: $(echo "$out" | grep kept)"
	"$LBPF" list | grep '^escape ' | grep -q trusted && t_fail "listed as trusted"
	"$LBPF" unload escape >/dev/null || t_fail "unload failed"
}

# Root may load a trusted policy (the full library); the flag shows in list,
# and a reload and a restart (kill -9) keep it, as they keep a sandboxed one
# sandboxed. lbpfd runs the code the client sent, not the file it names.
test_trusted() {
	t_need_root
	command -v python3 >/dev/null || t_skip "python3 is needed to send raw protocol bytes"
	start_daemon
	local out p
	cat > "$W/trusted.lua" <<'EOF'
print("library:", io ~= nil, os.execute ~= nil, debug.sethook ~= nil)
lbpf.every(1000, function() end)
EOF
	cp "$W/trusted.lua" "$W/boxed.lua"
	out=$("$LBPF" load --trusted "$W/trusted.lua" 2>&1) || t_fail "trusted load: $out"
	"$LBPF" load "$W/boxed.lua" >/dev/null || t_fail "sandboxed load failed"
	"$LBPF" list | grep '^trusted ' | grep -q '(trusted)$' || t_fail "list: $("$LBPF" list)"
	"$LBPF" list --json | grep -q '"name":"trusted"[^}]*"trusted":true' || t_fail "list --json"
	"$LBPF" list --json | grep -q '"name":"boxed"[^}]*"trusted":false' || t_fail "list --json"
	"$LBPF" reload trusted >/dev/null && "$LBPF" reload boxed >/dev/null || t_fail "reload"
	[ "$("$LBPF" logs trusted | grep -c '^library:	true	true	true$')" = 2 ] ||
		t_fail "trusted lost its library in a reload: $("$LBPF" logs trusted)"
	[ "$("$LBPF" logs boxed | grep -c '^library:	false	false	false$')" = 2 ] ||
		t_fail "sandboxed got a library in a reload: $("$LBPF" logs boxed)"
	# a record from before the sandbox (no "trusted" field) comes back sandboxed
	cp "$W/trusted.lua" "$W/state/policies/legacy.lua"
	echo '{"name":"legacy","file":"/legacy.lua","args":[],"memory":67108864,"generation":1}' \
		> "$W/state/policies/legacy.json"
	restart_daemon
	wait_list legacy running
	"$LBPF" logs legacy | grep -qx 'library:	false	false	false' ||
		t_fail "a record without \"trusted\" restored trusted: $("$LBPF" logs legacy)"
	grep -q "lbpfd: policy legacy: its record does not say whether it is trusted; it runs sandboxed (root may load it again with --trusted)" "$W/lbpfd.log" ||
		t_fail "legacy record: $(grep legacy "$W/lbpfd.log")"
	wait_list trusted running
	wait_list boxed running
	# the log lives in memory: what the restored runtimes printed
	"$LBPF" logs trusted | grep -qx 'library:	true	true	true' ||
		t_fail "trusted lost its library in a restart: $("$LBPF" logs trusted)"
	"$LBPF" logs boxed | grep -qx 'library:	false	false	false' ||
		t_fail "sandboxed got a library in a restart: $("$LBPF" logs boxed)"
	out=$(python3 - "$SOCK" <<'EOF'
import socket, sys
def talk(data):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(data)
    s.shutdown(socket.SHUT_WR); out = b""
    while True:
        d = s.recv(65536)
        if not d: break
        out += d
    return out.decode().strip()
print(talk(b'{"op":"load","file":"/etc/shadow"}\n'))
print(talk(b'{"op":"load","file":"/etc/shadow","name":"fromclient","code":"print(\\"sent by the client\\")"}\n'))
print(talk(b'{"op":"load","file":"/x.lua","code":"\\u001bLua"}\n'))
print(talk(b'{"op":"reload","name":"boxed","trusted":true}\n'))
EOF
) || t_fail "python failed: $out"
	t_expect_contains "$out" "load: the \\\"code\\\" field must be a string: the script's source (lbpf load sends it; lbpfd does not open the file)" "no code"
	t_expect_contains "$out" '{"ok":true,"name":"fromclient"' "code from the client"
	t_expect_contains "$out" "load: the code must be Lua source, not precompiled bytecode" "bytecode"
	t_expect_contains "$out" "reload: a policy keeps the trust it was loaded with" "reload trusted"
	"$LBPF" logs fromclient | grep -qx "sent by the client" || t_fail "$("$LBPF" logs fromclient)"
	printf 'print(1)\0' > "$W/nul.lua"
	out=$("$LBPF" load "$W/nul.lua" 2>&1) && t_fail "a file with a NUL byte was sent"
	[ "$out" = "lbpf: $W/nul.lua: contains a NUL byte; lbpfd takes Lua source only" ] ||
		t_fail "NUL byte: $out"
	for p in trusted boxed fromclient legacy; do
		"$LBPF" unload $p >/dev/null || t_fail "unload $p"
	done
}

# A member of --group loads sandboxed policies; asking for a trusted one, or
# reloading root's trusted one, is refused with the documented messages.
test_group_trust() {
	t_need_root
	command -v setpriv >/dev/null || t_skip "setpriv (util-linux) is not installed"
	getent group daemon >/dev/null || t_skip "no group 'daemon' on this system"
	local out rc=0 gpid i gid member
	gid=$(getent group daemon | cut -d: -f3)
	member="setpriv --reuid=65534 --regid=65534 --groups=$gid"
	"$LBPFD" --socket "$W/gt.sock" --state-dir "$W/gtstate" --bpffs "$BPFFS-group" \
		--group daemon >>"$W/lbpfd-gt.log" 2>&1 &
	gpid=$!
	echo $gpid >> "$W/lbpfd.pid"
	for i in $(seq 100); do
		LBPF_SOCKET=$W/gt.sock "$LBPF" status >/dev/null 2>&1 && break
		sleep 0.05
	done
	echo 'print("member policy", io == nil)' > "$W/member.lua"
	echo 'print("root policy")' > "$W/rootpol.lua"
	chmod 0644 "$W/member.lua" "$W/rootpol.lua"
	out=$(LBPF_SOCKET=$W/gt.sock $member "$LBPF" load --trusted "$W/member.lua" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "a member loaded a trusted policy (exit $rc): $out"
	[ "$out" = "lbpf: load: only root may load a trusted policy (uid 65534 asked for one); without --trusted the policy runs sandboxed" ] ||
		t_fail "member --trusted: $out"
	out=$(LBPF_SOCKET=$W/gt.sock $member "$LBPF" load "$W/member.lua" 2>&1) ||
		t_fail "a member's sandboxed load failed: $out"
	LBPF_SOCKET=$W/gt.sock "$LBPF" logs member | grep -qx "member policy	true" ||
		t_fail "member policy: $(LBPF_SOCKET=$W/gt.sock "$LBPF" logs member)"
	LBPF_SOCKET=$W/gt.sock "$LBPF" load --trusted "$W/rootpol.lua" >/dev/null ||
		t_fail "root's trusted load failed"
	rc=0
	out=$(LBPF_SOCKET=$W/gt.sock $member "$LBPF" reload rootpol 2>&1) || rc=$?
	[ $rc -eq 1 ] && [ "$out" = "lbpf: reload: policy 'rootpol' is trusted; only root may reload it" ] ||
		t_fail "member reload of a trusted policy (exit $rc): $out"
	LBPF_SOCKET=$W/gt.sock $member "$LBPF" reload member >/dev/null ||
		t_fail "a member could not reload its sandboxed policy"
	kill -TERM $gpid
	wait $gpid 2>/dev/null
	rm -rf "$BPFFS-group"
}

# expect_refusal MESSAGE LBPFD-ARGS...: lbpfd refuses to start, exit 1, and
# says MESSAGE.
expect_refusal() {
	local msg=$1 out rc=0
	shift
	out=$(timeout 10 "$LBPFD" "$@" 2>&1) || rc=$?
	[ $rc -eq 1 ] || t_fail "lbpfd $* started (exit $rc): $out"
	t_expect_contains "$out" "$msg" "lbpfd $*"
}

# lbpfd starts only with folders that are root's alone: each fault of the
# state, socket and bpffs folders is refused with the path and what is wrong.
test_folders() {
	t_need_root
	local F=$W/folders sock state
	mkdir -p "$F/sock" "$F/real"
	sock="--socket=$F/sock/s.sock" state="--state-dir=$F/state"
	mkdir -m 0770 "$F/gw-state"
	expect_refusal "lbpfd: state folder $F/gw-state is writable by group or others (mode 0770); it must be owned by root and writable by root alone" \
		"$sock" --state-dir "$F/gw-state" --bpffs "$BPFFS-bad"
	mkdir -m 0700 "$F/nobody-state" && chown 65534 "$F/nobody-state"
	expect_refusal "lbpfd: state folder $F/nobody-state is owned by uid 65534, not root" \
		"$sock" --state-dir "$F/nobody-state" --bpffs "$BPFFS-bad"
	mkdir -m 0700 "$F/state2" && mkdir -m 0777 "$F/state2/policies"
	expect_refusal "lbpfd: state folder $F/state2/policies is writable by group or others (mode 0777)" \
		"$sock" --state-dir "$F/state2" --bpffs "$BPFFS-bad"
	ln -s "$F/real" "$F/link"
	expect_refusal "lbpfd: socket folder $F/link: a symbolic link or a file, not a folder" \
		--socket "$F/link/s.sock" "$state" --bpffs "$BPFFS-bad"
	mkdir -m 0777 "$F/open"
	expect_refusal "lbpfd: socket folder $F/open/sub: its parent $F/open is writable by group or others (mode 0777) and not sticky" \
		--socket "$F/open/sub/s.sock" "$state" --bpffs "$BPFFS-bad"
	expect_refusal "lbpfd: socket folder $F/missing/sub: its parent: No such file or directory" \
		--socket "$F/missing/sub/s.sock" "$state" --bpffs "$BPFFS-bad"
	expect_refusal "lbpfd: cannot create the socket folder /proc/lbpf-test: " \
		--socket /proc/lbpf-test/s.sock "$state" --bpffs "$BPFFS-bad"
	touch "$F/sock/file.sock"
	expect_refusal "lbpfd: $F/sock/file.sock exists and is not a socket; not removing it" \
		--socket "$F/sock/file.sock" "$state" --bpffs "$BPFFS-bad"
	[ -f "$F/sock/file.sock" ] || t_fail "lbpfd removed a file that was not its socket"
	mkdir -m 0777 "$BPFFS-bad"
	expect_refusal "lbpfd: bpffs folder $BPFFS-bad is writable by group or others (mode 0777)" \
		"$sock" "$state" --bpffs "$BPFFS-bad"
	chmod 0700 "$BPFFS-bad" && chown 65534 "$BPFFS-bad"
	expect_refusal "lbpfd: bpffs folder $BPFFS-bad is owned by uid 65534, not root" \
		"$sock" "$state" --bpffs "$BPFFS-bad"
	rm -rf "$BPFFS-bad"
}

# A symbolic link planted among lbpfd's pins is removed, never followed: what
# it points to (another program's pins) stays.
test_pin_symlink() {
	t_need_root
	local i pid
	mkdir -p "$BPFFS-victim/keep" "$BPFFS-sym/filters"
	ln -s "$BPFFS-victim" "$BPFFS-sym/filters/evil"
	"$LBPFD" --socket "$W/sym.sock" --state-dir "$W/symstate" --bpffs "$BPFFS-sym" \
		>>"$W/lbpfd-sym.log" 2>&1 &
	pid=$!
	echo $pid >> "$W/lbpfd.pid"
	for i in $(seq 100); do
		LBPF_SOCKET=$W/sym.sock "$LBPF" status >/dev/null 2>&1 && break
		sleep 0.05
	done
	kill -TERM $pid
	wait $pid 2>/dev/null
	[ -d "$BPFFS-victim/keep" ] || t_fail "lbpfd followed the link and removed $BPFFS-victim/keep"
	[ -L "$BPFFS-sym/filters/evil" ] && t_fail "the link is still there"
	t_expect_contains "$(cat "$W/lbpfd-sym.log")" \
		"lbpfd: $BPFFS-sym/filters/evil is a symbolic link; removing the link, not what it points to" "log"
	rm -rf "$BPFFS-sym" "$BPFFS-victim"
}

# When lbpf mounts bpffs, it is mode 0700 (in a mount namespace of its own,
# where the host's bpffs is unmounted first).
test_bpffs_mode() {
	t_need_root
	command -v unshare >/dev/null || t_skip "unshare (util-linux) is not installed"
	local out
	out=$(unshare -m --propagation private sh -c '
		while mountpoint -q /sys/fs/bpf; do umount /sys/fs/bpf || exit 3; done
		"$1" run -e "lbpf.exit(0)" >/dev/null 2>&1
		stat -f -c %T /sys/fs/bpf; stat -c %a /sys/fs/bpf' sh "$LBPF" 2>&1) ||
		t_skip "cannot unmount bpffs in a mount namespace: $out"
	[ "$(echo "$out" | head -1)" = bpf_fs ] || t_fail "lbpf did not mount bpffs: $out"
	case "$(echo "$out" | tail -1)" in 700|1700) ;; *) t_fail "bpffs mode: $out" ;; esac
}

write_policies
t_run no_daemon test_no_daemon
t_run load_list_logs test_load_list_logs
t_run load_errors test_load_errors
t_run spin_isolation test_spin_isolation
t_run memory_limit test_memory_limit
t_run reload_unload test_reload_unload
t_run metrics test_metrics
t_run protocol test_protocol
t_run shared test_shared
t_run restart test_restart
t_run runtimes_gate test_runtimes_gate
t_run socket_access test_socket_access
t_run lost_events test_lost_events
t_run child_metrics test_child_metrics
t_run sandbox test_sandbox
t_run trusted test_trusted
t_run group_trust test_group_trust
t_run folders test_folders
t_run pin_symlink test_pin_symlink
t_run bpffs_mode test_bpffs_mode
t_run state_records test_state_records
t_run log_caps test_log_caps
t_run logs_json test_logs_json
