#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Root tests of the limits of lbpfd's control plane (lbpfd(8), LIMITS): the
# connection cap refuses with a reason and keeps root's share; a client that
# lets its replies pile up, or sends a line over the limit, is closed with a
# reason; a connection that sends nothing, or never ends its line, is closed
# after --timeout (the clock is not reset by each byte), while a log follower
# is not; accept at EMFILE refuses with a reason instead of spinning; a
# policy's timer keeps ticking while hostile clients flood the socket, and
# beside policies that are always ready.
#
# Its own socket, state and bpffs folders; raw protocol bytes from python3,
# the flood from tests/helpers/ctl_flood.c.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon.sh"

daemon_folders dlimits
FLOOD=$HELPERS/ctl_flood

# Kills the daemons this file started, removes the work folder and the pinned
# maps; also runs first, for an earlier run's.
cleanup() {
	daemon_kill_all
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup
mkdir -p "$W"
chmod 0755 "$W"

# start_daemon [prlimit PRLIMIT_OPTION --] LBPFD_OPTIONS...: a fresh lbpfd
# with no policy; waits for its socket.
start_daemon() {
	stop_daemon
	daemon_launch "$@"
}

stop_daemon() {
	local pid
	pid=$(daemon_pid)
	[ -n "$pid" ] && grep -q lbpfd "/proc/$pid/cmdline" 2>/dev/null || return 0
	kill -TERM "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -rf "$BPFFS" "$W/state" # each test starts with no policy
}

# The CPU time (user + system, in clock ticks) lbpfd used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(daemon_pid)/stat"; }

# py SCRIPT ARGS...: python3 with the socket path as sys.argv[1].
py() { python3 - "$SOCK" "$@"; }

# ticker.lua: a 10 ms timer that logs its worst lateness every 500 ms.
write_ticker() { cp "$LBPF_TOP/tests/lua/ticker.lua" "$W/ticker.lua"; }

need_tools() {
	t_need_root
	command -v python3 >/dev/null || t_skip "python3 is needed to send raw protocol bytes"
	[ -x "$FLOOD" ] || t_skip "$FLOOD is not built (make)"
}

# The workers run at --worker-nice (default -5), the other threads at
# lbpfd's own nice value; a value out of range is refused with the range.
test_worker_nice() {
	t_need_root
	local pid nices out rc=0
	start_daemon
	pid=$(daemon_pid)
	nices=$(ps -L -o ni= -p "$pid" | tr -d ' ' | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
	# main thread (and any loader) at 0, the two workers at -5
	t_expect_contains "$nices" "-5:2" "worker nice values ($nices)"
	t_expect_contains "$nices" "0:" "the control thread's nice value ($nices)"
	start_daemon --worker-nice 3
	pid=$(daemon_pid)
	nices=$(ps -L -o ni= -p "$pid" | tr -d ' ' | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
	t_expect_contains "$nices" "3:2" "--worker-nice 3 ($nices)"
	stop_daemon
	out=$("$LBPFD" --worker-nice -21 2>&1) || rc=$?
	[ "$rc" = 2 ] || t_fail "--worker-nice -21: exit $rc, want 2: $out"
	t_expect_contains "$out" "lbpfd: --worker-nice: expected a nice value from -20 to 19, got '-21'" "range error"
}

# --max-clients 8: with 8 connections open, a 9th gets the reason and is
# closed; members of --group hold at most 7 (the last eighth is root's), so
# root still gets in while they flood.
test_connection_cap() {
	need_tools
	start_daemon --max-clients 8
	local out
	out=$(py <<'EOF'
import socket, sys
held = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
print(s.recv(4096).decode().strip())
print("eof" if s.recv(4096) == b"" else "open")
EOF
) || t_fail "python failed: $out"
	t_expect_contains "$out" '{"ok":false,"error":"too many connections: lbpfd serves at most 8 at once' "ninth connection"
	t_expect_contains "$out" "eof" "ninth connection closed"
	"$LBPF" status >/dev/null || t_fail "lbpfd did not serve once the 8 were gone"
	command -v setpriv >/dev/null || t_skip "setpriv (util-linux) is not installed: root's share untested"
	[ -x /usr/bin/python3 ] || t_skip "no /usr/bin/python3 that uid 65534 may run: root's share untested"
	getent group daemon >/dev/null || t_skip "no group 'daemon': root's share untested"
	start_daemon --max-clients 8 --group daemon
	setpriv --reuid=65534 --regid=65534 --groups="$(getent group daemon | cut -d: -f3)" \
		/usr/bin/python3 - "$SOCK" > "$W/member.out" 2>&1 <<'EOF' &
import socket, sys, time
held = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
held[7].settimeout(5)
print("member 8:", held[7].recv(4096).decode().strip(), flush=True)
time.sleep(3) # root's turn, while the 7 others stay open
EOF
	local mpid=$! root_out rc=0
	sleep 1.5
	root_out=$("$LBPF" status 2>&1) || rc=$?
	wait $mpid || t_fail "the member's python failed: $(cat "$W/member.out")"
	t_expect_contains "$(cat "$W/member.out")" 'member 8: {"ok":false,"error":"too many connections' "a member's 8th connection"
	[ $rc -eq 0 ] || t_fail "root was locked out while members held 7 of 8: $root_out"
}

# --max-output 64K: a client that pipelines requests and reads no reply is
# closed once 64 KiB of replies wait, and told why when it reads at last; a
# line over 1 MiB is refused with a reason and closed.
test_output_and_line_caps() {
	need_tools
	start_daemon --max-output 64K
	local out
	out=$(py <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(3)
try:
    s.sendall(b'{"op":"status"}\n' * 20000)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    pass
s.settimeout(10); data = b""
try:
    while True:
        d = s.recv(1 << 20)
        if not d: break
        data += d
except (socket.timeout, ConnectionResetError):
    data += b"\n<no end>"
lines = data.decode(errors="replace").strip().split("\n")
print("replies", len(lines) - 1)
print("last", lines[-1])
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"x" * (1 << 20) + b"yy\n"); s.settimeout(10)
print("long", s.recv(4096).decode().strip())
EOF
) || t_fail "python failed: $out"
	t_expect_contains "$out" 'last {"ok":false,"error":"more than 65536 bytes of replies unread (lbpfd --max-output)"}' "unread replies"
	t_expect_contains "$out" 'long {"ok":false,"error":"request too long: a line may have at most 1048576 bytes"}' "long line"
	grep -q "closing connection .*more than 65536 bytes of replies unread" "$W/lbpfd.log" ||
		t_fail "lbpfd's log lacks the reason: $(tail -3 "$W/lbpfd.log")"
	"$LBPF" status >/dev/null || t_fail "lbpfd stopped answering"
}

# --timeout 1: a connection that sends nothing, and one that sends a byte
# every 200 ms without a newline, are closed with their reasons within a
# few seconds (while the trickle would go on for 6 s); `lbpf logs -f`, which
# sends nothing after its request, keeps receiving lines.
test_timeouts() {
	need_tools
	start_daemon --timeout 1
	echo 'lbpf.every(100, function() print("tick " .. lbpf.now()) end)' > "$W/tick.lua"
	"$LBPF" load "$W/tick.lua" >/dev/null || t_fail "tick did not load"
	timeout 4 "$LBPF" logs -f tick > "$W/follow.out" 2>&1 &
	local fpid=$! out
	out=$(py <<'EOF'
import socket, sys, time
def until_closed(s, trickle):
    s.settimeout(0.2); got = b""; t0 = time.monotonic()
    while time.monotonic() - t0 < 6:
        try:
            d = s.recv(4096)
            if not d: return got.decode().strip(), time.monotonic() - t0
            got += d
        except socket.timeout:
            pass
        if trickle:
            try: s.send(b"{")
            except OSError: pass
    return got.decode().strip() + " <still open>", time.monotonic() - t0
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
reason, secs = until_closed(a, False)
print("idle %s (%.1f s)" % (reason, secs))
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1])
reason, secs = until_closed(b, True)
print("trickle %s (%.1f s)" % (reason, secs))
EOF
) || t_fail "python failed: $out"
	echo "$out" | sed 's/^/# /'
	t_expect_contains "$out" 'idle {"ok":false,"error":"idle: no request within 1 s (lbpfd --timeout)"}' "idle connection"
	t_expect_contains "$out" 'trickle {"ok":false,"error":"incomplete request: no end of line within 1 s (lbpfd --timeout)"}' "trickling connection"
	wait $fpid || true
	[ "$(grep -c '^tick' "$W/follow.out")" -ge 20 ] ||
		t_fail "the follower was cut: $(tail -3 "$W/follow.out")"
}

# With RLIMIT_NOFILE 64, connections beyond the descriptors lbpfd has are
# refused with a reason at once; lbpfd does not spin on the listening socket
# (it used a whole core for as long as they waited) and serves again when
# they go.
test_emfile() {
	need_tools
	command -v prlimit >/dev/null || t_skip "prlimit (util-linux) is not installed"
	start_daemon prlimit --nofile=64 -- --max-clients 1000
	local before after out
	before=$(cpu_ticks)
	out=$(py <<'EOF'
import socket, sys, time
held, refused, reason = [], 0, ""
for i in range(120):
    s = socket.socket(socket.AF_UNIX); s.settimeout(1)
    try:
        s.connect(sys.argv[1]); held.append(s)
    except OSError:
        pass # the listen queue is full: lbpfd takes no one
time.sleep(0.5)
for s in held:
    s.setblocking(False)
    try:
        d = s.recv(4096)
        if d:
            refused += 1; reason = d.decode().strip()
    except BlockingIOError:
        pass
print("refused", refused)
print("reason", reason)
sys.stdout.flush()
time.sleep(3) # they stay open; lbpfd must not spin meanwhile
EOF
) || t_fail "python failed: $out"
	after=$(cpu_ticks)
	echo "# $(echo "$out" | head -1); lbpfd used $((after - before)) ticks of CPU in 3.5 s"
	t_expect_contains "$out" 'reason {"ok":false,"error":"lbpfd is out of file descriptors (RLIMIT_NOFILE); try again later"}' "refusal"
	# spinning takes about 100 ticks a second; 3.5 s of it would be 350
	[ $((after - before)) -lt 100 ] || t_fail "lbpfd used $((after - before)) ticks in 3.5 s"
	"$LBPF" status >/dev/null || t_fail "lbpfd does not serve after the crowd left"
}

# A policy's 10 ms timer keeps ticking while 200 clients pipeline requests
# and 50 trickle: its worst lateness stays under 500 ms (it was 10 s and
# more when the policies' loops shared the main thread's epoll set; an idle
# machine shows 0.1-5 ms).
test_timer_under_flood() {
	need_tools
	start_daemon
	write_ticker
	"$LBPF" load "$W/ticker.lua" >/dev/null || t_fail "ticker did not load"
	sleep 1
	"$FLOOD" "$SOCK" pipeline 200 4 > "$W/flood.out" &
	local p1=$!
	"$FLOOD" "$SOCK" trickle 50 4 > /dev/null &
	wait $p1 $!
	sleep 0.6
	local worst lines
	lines=$(timeout 60 "$LBPF" logs ticker | tail -9)
	worst=$(echo "$lines" | awk '{ if ($2 > w) w = $2 } END { print w + 0 }')
	echo "# worst lateness of a 10 ms timer during the flood: $worst ms ($(cat "$W/flood.out"))"
	[ "$(echo "$lines" | grep -c '^late')" -ge 8 ] || t_fail "the ticker stopped reporting: $lines"
	awk -v w="$worst" 'BEGIN { exit !(w < 500) }' ||
		t_fail "the ticker was $worst ms late (bound: 500 ms): $lines"
}

# Two policies whose tasks are always ready (they yield with sleep(0) and
# never wait) keep both workers busy; a third policy's 10 ms timer still gets
# its turns, behind them: its worst lateness stays under 250 ms (0.1-7 ms
# on an idle machine; before the workers queued ready loops behind ready
# runners, it never ran at all).
test_busy_policies() {
	need_tools
	start_daemon
	echo 'lbpf.spawn(function() while true do
		local x = 0; for i = 1, 20000 do x = x + i end; lbpf.sleep(0) end end)' > "$W/busy.lua"
	write_ticker
	"$LBPF" load "$W/ticker.lua" >/dev/null || t_fail "ticker did not load"
	"$LBPF" load "$W/busy.lua" --name busy1 >/dev/null || t_fail "busy1 did not load"
	"$LBPF" load "$W/busy.lua" --name busy2 >/dev/null || t_fail "busy2 did not load"
	sleep 2.7
	local worst lines
	lines=$(timeout 60 "$LBPF" logs ticker | tail -4)
	worst=$(echo "$lines" | awk '{ if ($2 > w) w = $2 } END { print w + 0 }')
	echo "# worst lateness of a 10 ms timer beside two always-ready policies: $worst ms"
	[ "$(echo "$lines" | grep -c '^late')" -ge 4 ] || t_fail "the ticker did not run: '$lines'"
	awk -v w="$worst" 'BEGIN { exit !(w < 250) }' ||
		t_fail "the ticker was $worst ms late (bound: 250 ms): $lines"
}

t_run worker_nice test_worker_nice
t_run connection_cap test_connection_cap
t_run output_and_line_caps test_output_and_line_caps
t_run timeouts test_timeouts
t_run emfile test_emfile
t_run timer_under_flood test_timer_under_flood
t_run busy_policies test_busy_policies
stop_daemon
