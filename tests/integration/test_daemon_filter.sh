#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Fail-static packet filters under lbpfd, only inside namespaces made here:
#   lbpf-dfa (10.99.5.1) -- veth -- lbpf-dfr (10.99.5.2; lbpfd, XDP on r1)
# Proves that a policy's XDP filter is pinned under --bpffs and keeps dropping
# while lbpfd is down after kill -9 (and under traffic across the kill and the
# restart); that the restarted lbpfd lists the policy running and adopts the
# pinned link (same link, new program: no gap); that a reload adopts it too;
# that unload detaches it and removes the pins; that with --fail-open a stop
# removes the filter and a restart after a crash replaces the stale link; and
# the same fail-static cycle for netfilter links.
#
# lbpfd runs in lbpf-dfr's network namespace with nsenter --net (the mount
# namespace, and so the bpffs, stay the host's: `ip netns exec` would give it
# a private /sys), on a temporary socket, state folder and bpffs folder.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-dfilter
BPFFS=/sys/fs/bpf/lbpf-test-dfilter
SOCK=$W/lbpfd.sock
LBPFD=${LBPFD:-$BUILD/lbpfd}
PKT=$HELPERS/pkt
A="ip netns exec lbpf-dfa"
export LBPF_SOCKET=$SOCK LBPF_BPFFS=$BPFFS

TOP_PID=$$
cleanup() {
	local pid ns
	[ "$BASHPID" = "$TOP_PID" ] || return 0 # not in the subshells of t_run
	for pid in $(cat "$W/lbpfd.pid" 2>/dev/null); do
		grep -q lbpfd "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	for ns in lbpf-dfa lbpf-dfr; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

setup() {
	mkdir -p "$W"
	ip netns add lbpf-dfa && ip netns add lbpf-dfr || return 1
	ip link add a0 netns lbpf-dfa type veth peer name r1 netns lbpf-dfr || return 1
	$A ip addr add 10.99.5.1/24 dev a0 || return 1
	ip netns exec lbpf-dfr ip addr add 10.99.5.2/24 dev r1 || return 1
	$A ip link set lo up && $A ip link set a0 up &&
		ip netns exec lbpf-dfr ip link set lo up && ip netns exec lbpf-dfr ip link set r1 up
	cat > "$W/fw.lua" <<'EOF'
fw = lbpf.filter{ hook = "xdp", dev = "r1", mode = "native" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
fw:rule{ proto = "udp", dport = 5002, action = "drop" } -- the traffic across restarts
fw:commit() -- an explicit commit in the body must not adopt before the body ran
print("filter ready")
EOF
	cat > "$W/nf.lua" <<'EOF'
fw = lbpf.filter{ hook = "netfilter", chain = "input", priority = -90 }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
EOF
}

# start_daemon [OPTIONS...]: lbpfd in lbpf-dfr; waits for its socket.
start_daemon() {
	local i
	nsenter --net=/run/netns/lbpf-dfr "$LBPFD" --socket "$SOCK" --state-dir "$W/state" \
		--bpffs "$BPFFS" "$@" >>"$W/lbpfd.log" 2>&1 &
	echo $! >> "$W/lbpfd.pid"
	disown $! # no job-control line when a test kills it
	for i in $(seq 100); do
		"$LBPF" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	t_fail "lbpfd did not answer within 5 s: $(tail -5 "$W/lbpfd.log")"
}

daemon_pid() { tail -1 "$W/lbpfd.pid"; }

kill9_daemon() {
	local pid
	pid=$(daemon_pid)
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# SIGTERM, and waits (10 s at most) until it is gone.
stop_daemon() {
	local pid i
	pid=$(daemon_pid)
	kill -TERM "$pid"
	for i in $(seq 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	t_fail "lbpfd did not stop on SIGTERM: $(tail -5 "$W/lbpfd.log")"
}

# wait_list NAME TEXT: waits up to 10 s until NAME's line in `lbpf list` has TEXT.
wait_list() {
	local i
	for i in $(seq 100); do
		"$LBPF" list 2>/dev/null | grep -A1 "^$1 " | grep -q "$2" && return 0
		sleep 0.1
	done
	t_fail "policy $1 never showed '$2': $("$LBPF" list 2>&1 | head -20) $(tail -5 "$W/lbpfd.log")"
}

# udp PORT: how many of 100 datagrams from lbpf-dfa reach lbpf-dfr's PORT.
udp() {
	local out=$W/recv.$1 pid i
	ip netns exec lbpf-dfr "$PKT" udp-recv "$1" 1.5 > "$out" &
	pid=$!
	for i in $(seq 50); do grep -q ready "$out" && break; sleep 0.05; done
	$A "$PKT" udp-send 10.99.5.2 "$1" 100 2000
	wait $pid
	tail -1 "$out"
}

# The filter is in force: UDP to 5000 dropped, to 5001 passes.
expect_dropping() {
	local got
	got=$(udp 5000)
	[ "$got" = 0 ] || t_fail "$1: $got of 100 dropped datagrams arrived"
	got=$(udp 5001)
	[ "$got" = 100 ] || t_fail "$1: $got of 100 passed datagrams arrived"
}

expect_passing() {
	local got
	got=$(udp 5000)
	[ "$got" = 100 ] || t_fail "$1: $got of 100 datagrams arrived with no filter"
}

LINK=$BPFFS/filters/fw/0/link

# "LINK_ID PROG_ID" of the pinned link.
link_ids() { bpftool link show pinned "$LINK" | awk 'NR == 1 { print $1 + 0, $4 }'; }

xdp_on_r1() { ip netns exec lbpf-dfr ip link show r1 | grep -c 'prog/xdp' || true; }

# Ends the daemons an earlier (failed) test left running; forgets their state.
kill_daemons() {
	local pid
	for pid in $(cat "$W/lbpfd.pid" 2>/dev/null); do
		grep -q lbpfd "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	rm -f "$W/lbpfd.pid"
	rm -rf "$W/state"
	return 0
}

test_fail_static() {
	t_need_root
	command -v nsenter >/dev/null || t_skip "needs nsenter (util-linux)"
	command -v bpftool >/dev/null || t_skip "needs bpftool"
	setup || t_fail "cannot set up the namespaces"
	start_daemon
	"$LBPF" load "$W/fw.lua" >/dev/null || t_fail "load: $(tail -5 "$W/lbpfd.log")"
	wait_list fw running
	[ -e "$LINK" ] || t_fail "no pinned link at $LINK: $(find "$BPFFS" 2>&1)"
	expect_dropping "loaded"
	local before after
	before=$(link_ids)

	# 600 datagrams at 100/s to port 5002 across the kill, the gap and the
	# restart (with its adoption of the pinned link): none may arrive
	ip netns exec lbpf-dfr "$PKT" udp-recv 5002 8 > "$W/recv.across" &
	local rpid=$! spid i
	for i in $(seq 50); do grep -q ready "$W/recv.across" && break; sleep 0.05; done
	$A "$PKT" udp-send 10.99.5.2 5002 600 100 &
	spid=$!
	sleep 0.5
	kill9_daemon
	expect_dropping "lbpfd killed (-9)"
	start_daemon
	wait_list fw running
	wait $spid
	wait $rpid
	[ "$(tail -1 "$W/recv.across")" = 0 ] ||
		t_fail "$(tail -1 "$W/recv.across") datagrams passed across the kill and restart"
	after=$(link_ids)
	[ "${after% *}" = "${before% *}" ] || t_fail "link replaced ($before -> $after), not adopted"
	[ "${after#* }" != "${before#* }" ] || t_fail "the restarted policy's program is not the live one"
	expect_dropping "after the restart"
	[ "$(xdp_on_r1)" = 1 ] || t_fail "r1 has $(xdp_on_r1) XDP programs"

	# a reload adopts the link the same way
	"$LBPF" reload fw >/dev/null || t_fail "reload failed: $(tail -5 "$W/lbpfd.log")"
	sleep 0.3
	before=$after
	after=$(link_ids)
	[ "${after% *}" = "${before% *}" ] && [ "${after#* }" != "${before#* }" ] ||
		t_fail "reload: link $before -> $after, want the same link with a new program"
	expect_dropping "after a reload"

	"$LBPF" unload fw >/dev/null || t_fail "unload failed"
	[ ! -e "$BPFFS/filters/fw" ] || t_fail "pins left after unload: $(find "$BPFFS/filters")"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "XDP still on r1 after unload"
	expect_passing "after unload"
	stop_daemon
}

test_fail_open() {
	t_need_root
	command -v nsenter >/dev/null || t_skip "needs nsenter (util-linux)"
	command -v bpftool >/dev/null || t_skip "needs bpftool"
	[ -d "$W" ] || setup || t_fail "cannot set up the namespaces"
	kill_daemons
	start_daemon --fail-open
	"$LBPF" load "$W/fw.lua" >/dev/null || t_fail "load: $(tail -5 "$W/lbpfd.log")"
	wait_list fw running
	expect_dropping "loaded (fail-open)"
	stop_daemon
	[ ! -e "$BPFFS/filters/fw" ] || t_fail "pins left after a stop with --fail-open"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "XDP still on r1 after a stop with --fail-open"
	expect_passing "lbpfd stopped (fail-open)"

	# a crash cannot unpin: the restarted daemon detaches the stale link first
	start_daemon --fail-open
	wait_list fw running
	local before after
	before=$(link_ids)
	kill9_daemon
	start_daemon --fail-open
	wait_list fw running
	after=$(link_ids)
	[ "${after% *}" != "${before% *}" ] || t_fail "the crashed daemon's link was adopted"
	expect_dropping "restarted after a crash (fail-open)"
	"$LBPF" unload fw >/dev/null || t_fail "unload failed"
	stop_daemon
}

# The same for netfilter links: pinned per family, kept through kill -9, and
# replaced by links at a neighbouring priority before the old ones go.
test_netfilter() {
	t_need_root
	command -v nsenter >/dev/null || t_skip "needs nsenter (util-linux)"
	command -v bpftool >/dev/null || t_skip "needs bpftool"
	[ -d "$W" ] || setup || t_fail "cannot set up the namespaces"
	kill_daemons
	start_daemon
	"$LBPF" load "$W/nf.lua" >/dev/null || t_fail "load: $(tail -5 "$W/lbpfd.log")"
	wait_list nf running
	local pins=$BPFFS/filters/nf/0 before after
	[ -e "$pins/nf4" ] && [ -e "$pins/nf6" ] || t_fail "no pinned links in $pins"
	expect_dropping "netfilter loaded"
	before=$(bpftool link show pinned "$pins/nf4" | awk 'NR == 1 { print $1 + 0 }')
	kill9_daemon
	expect_dropping "netfilter, lbpfd killed (-9)"
	start_daemon
	wait_list nf running
	sleep 0.3 # the adoption happens at the restored body's first commit
	after=$(bpftool link show pinned "$pins/nf4" | awk 'NR == 1 { print $1 + 0 }')
	[ -n "$after" ] && [ "$after" != "$before" ] || t_fail "link not replaced ($before -> $after)"
	expect_dropping "netfilter after the restart"
	"$LBPF" unload nf >/dev/null || t_fail "unload failed"
	[ ! -e "$BPFFS/filters/nf" ] || t_fail "pins left after unload"
	expect_passing "netfilter after unload"
	stop_daemon
}

t_run daemon_filter_fail_static test_fail_static
t_run daemon_filter_fail_open test_fail_open
t_run daemon_filter_netfilter test_netfilter
