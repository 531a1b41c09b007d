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
# removes the filter and a restart after a crash replaces the stale link; the
# same fail-static cycle for netfilter links and for tc filters (a cls_bpf
# filter, its program pinned; replaced by a filter ahead of it, so exactly one
# is left, with no datagram passing across kill, restart and reload); that a
# reload to fewer filters removes the filters it no longer has; that a reload
# whose body fails leaves nothing of what it attached, and the old policy
# enforcing; and that a filter moving to another hook retires the old one.
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
	cat > "$W/tc.lua" <<'EOF'
fw = lbpf.filter{ hook = "tc", dev = "r1", direction = "ingress" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
fw:rule{ proto = "udp", dport = 5002, action = "drop" } -- the traffic across restarts
EOF
	cat > "$W/two.lua" <<'EOF'
fw = lbpf.filter{ hook = "tc", dev = "r1", direction = "ingress" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
nf = lbpf.filter{ hook = "netfilter", chain = "input", priority = -80 }
nf:rule{ proto = "udp", dport = 5003, action = "drop" }
EOF
	cat > "$W/caught.lua" <<'EOF'
fw = lbpf.filter{ hook = "tc", dev = "r1", direction = "ingress" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
print("second filter:", pcall(lbpf.filter, { hook = "xdp", dev = "lbpf-nosuchdev" }))
EOF
	cat > "$W/bad.lua" <<'EOF'
fw = lbpf.filter{ hook = "tc", dev = "r1", direction = "ingress" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
x = lbpf.filter{ hook = "xdp", dev = "r1", mode = "native" }
x:rule{ proto = "udp", dport = 5003, action = "drop" }
x:commit()
error("the new body fails")
EOF
}

# start_daemon [OPTIONS...]: lbpfd in lbpf-dfr; waits for its socket.
start_daemon() {
	local i
	nsenter --net=/run/netns/lbpf-dfr "$LBPFD" --socket "$SOCK" --state-dir "$W/state" \
		--bpffs "$BPFFS" --metrics 127.0.0.1:9464 "$@" >>"$W/lbpfd.log" 2>&1 &
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

# expect_passing WHAT [PORT]: all of 100 datagrams to PORT (5000) arrive.
expect_passing() {
	local got
	got=$(udp "${2:-5000}")
	[ "$got" = 100 ] || t_fail "$1: $got of 100 datagrams arrived with no filter"
}

# wait_for WHAT CMD...: waits up to 5 s until CMD succeeds.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.05
	done
	t_fail "$what: $(find "$BPFFS/filters" 2>&1 | head -20) $(tail -5 "$W/lbpfd.log")"
}

LINK=$BPFFS/filters/fw/0/link

# "LINK_ID PROG_ID" of the pinned link.
link_ids() { bpftool link show pinned "$LINK" | awk 'NR == 1 { print $1 + 0, $4 }'; }

xdp_on_r1() { ip netns exec lbpf-dfr ip link show r1 | grep -c 'prog/xdp' || true; }

# How many cls_bpf filters run lbpf's tc program on r1's ingress.
tc_on_r1() { ip netns exec lbpf-dfr tc filter show dev r1 ingress | grep -c 'filter_tc' || true; }

# The tc pins in a filter's folder (tc_IFINDEX_DIRECTION_HANDLE_PRIORITY).
tc_pins() { ls "$1" 2>/dev/null | grep '^tc_' || true; }

one_tc_pin() { [ "$(tc_pins "$1" | wc -l)" = 1 ]; }

# tc_pin_is_not DIR NAME: DIR holds one tc pin, not NAME (it was replaced).
tc_pin_is_not() { one_tc_pin "$1" && [ "$(tc_pins "$1")" != "$2" ]; }

# pins_are DIR "A B ": the names in DIR.
pins_are() { [ "$(ls "$1" 2>/dev/null | tr '\n' ' ')" = "$2" ]; }

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

# prepare TOOL...: root, the tools ("nsenter (util-linux)": the command, then
# where it comes from), the namespaces, and no daemon left by an earlier test.
prepare() {
	local tool
	t_need_root
	for tool in "$@"; do
		command -v "${tool%% *}" >/dev/null || t_skip "needs $tool"
	done
	[ -d "$W" ] || setup || t_fail "cannot set up the namespaces"
	kill_daemons
}

# load_policy FILE [ARGS...]: lbpf load, or the test fails with lbpfd's last words.
load_policy() { "$LBPF" load "$@" >/dev/null || t_fail "load: $(tail -5 "$W/lbpfd.log")"; }


test_fail_static() {
	prepare "nsenter (util-linux)" "bpftool"
	start_daemon
	load_policy "$W/fw.lua"
	wait_list fw running
	wait_for "no pinned link at $LINK" test -e "$LINK" # pinned at the first commit
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
	# the counters of the restarted policy's filter, on its metrics server
	# the metrics half needs curl: without it this test fails, it does not pass half-run
	command -v curl >/dev/null || t_fail "curl is not installed (scripts/deps.sh installs it)"
	local m
	m=$(ip netns exec lbpf-dfr curl -sf http://127.0.0.1:9464/metrics) ||
		t_fail "no metrics from the restarted lbpfd"
	echo "$m" | grep -qE '^lbpf_filter_rule_packets_total\{policy="fw",filter="xdp on r1",rule="0",action="drop"\} (1[0-9][0-9]|[2-9][0-9][0-9])$' ||
		t_fail "drop rule counter: $(echo "$m" | grep '^lbpf_filter_rule_packets' | head -3)"
	echo "$m" | grep -qE '^lbpf_filter_packets_total\{policy="fw",filter="xdp on r1",stat="passed"\} [1-9]' ||
		t_fail "passed counter: $(echo "$m" | grep '^lbpf_filter_packets_total' | head -3)"
	echo "$m" | grep -q '^# TYPE lbpf_filter_rule_bytes_total counter$' ||
		t_fail "no rule bytes family"
	echo "# $(echo "$m" | grep 'stat="dropped"')"
	# the outcome counters went on across the kill, the gap and the
	# restart: 100 + 600 + 100 + 100 datagrams were dropped since the load
	echo "$m" | grep -qE '^lbpf_filter_packets_total\{policy="fw",filter="xdp on r1",stat="dropped"\} (9[0-9][0-9]|[1-9][0-9]{3})$' ||
		t_fail "dropped across the restart: $(echo "$m" | grep 'stat="dropped"')"

	# a reload adopts the link the same way
	"$LBPF" reload fw >/dev/null || t_fail "reload failed: $(tail -5 "$W/lbpfd.log")"
	sleep 0.3
	before=$after
	after=$(link_ids)
	[ "${after% *}" = "${before% *}" ] && [ "${after#* }" != "${before#* }" ] ||
		t_fail "reload: link $before -> $after, want the same link with a new program"
	expect_dropping "after a reload"
	# the objects map follows the adoption: the filter's link and live program
	local obj
	obj=$("$LBPF" list --offline --json | grep -o '{"kind":"lbpf.filter"[^}]*}' | head -1)
	echo "$obj" | grep -q "\"prog_id\":${after#* },\"map_id\":[1-9][0-9]*,\"link_id\":${after% *}," ||
		t_fail "objects map: ${obj:-no lbpf.filter entry}, want link ${after% *} prog ${after#* }"

	"$LBPF" unload fw >/dev/null || t_fail "unload failed"
	[ ! -e "$BPFFS/filters/fw" ] || t_fail "pins left after unload: $(find "$BPFFS/filters")"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "XDP still on r1 after unload"
	expect_passing "after unload"
	stop_daemon
}

test_fail_open() {
	prepare "nsenter (util-linux)" "bpftool"
	start_daemon --fail-open
	load_policy "$W/fw.lua"
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
	prepare "nsenter (util-linux)" "bpftool"
	start_daemon
	load_policy "$W/nf.lua"
	wait_list nf running
	local pins=$BPFFS/filters/nf/0 before after
	wait_for "no pinned links in $pins" pins_are "$pins" "nf4 nf6 stats " # at the first commit
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

# tc: the program pinned under a name that says where the cls_bpf filter is;
# the filter kept through kill -9; the restarted and the reloaded policy each
# add their filter ahead of the old one before it goes, so there is always
# one, and exactly one once they are done; unload removes filter and pins but
# not the clsact qdisc (other users' filters may live there).
test_tc() {
	prepare "nsenter (util-linux)" "tc (iproute2)"
	start_daemon
	load_policy "$W/tc.lua"
	wait_list tc running
	local pins=$BPFFS/filters/tc/0 before after rpid spid i
	wait_for "no tc pin in $pins" one_tc_pin "$pins"
	expect_dropping "tc loaded"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters after the load"
	before=$(tc_pins "$pins")

	# datagrams at 100/s to port 5002 across the kill, the gap, the restart
	# and a reload (each replacing the filter): none may arrive. The sender
	# stops after 60 s at the latest and is stopped once the reload is done;
	# the receiver then counts what came (it would stop after 70 s).
	ip netns exec lbpf-dfr "$PKT" udp-recv 5002 70 > "$W/recv.across" &
	rpid=$!
	for i in $(seq 50); do grep -q ready "$W/recv.across" && break; sleep 0.05; done
	$A "$PKT" udp-send 10.99.5.2 5002 6000 100 &
	spid=$!
	sleep 0.5
	kill9_daemon
	expect_dropping "tc, lbpfd killed (-9)"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters while lbpfd is down"
	start_daemon
	wait_list tc running
	wait_for "the restarted policy did not replace $before" tc_pin_is_not "$pins" "$before"
	after=$(tc_pins "$pins")
	[ "${after##*_}" -lt "${before##*_}" ] ||
		t_fail "the new filter ($after) does not run before the old one ($before)"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters after the restart"
	before=$after
	"$LBPF" reload tc >/dev/null || t_fail "reload failed: $(tail -5 "$W/lbpfd.log")"
	wait_for "the reload did not replace $before" tc_pin_is_not "$pins" "$before"
	kill -0 $spid 2>/dev/null || t_fail "the traffic (60 s) ended before the reload was done"
	kill $spid
	wait $spid 2>/dev/null || true # 143: it was stopped
	sleep 0.3 # what is on its way
	kill -TERM $rpid
	wait $rpid
	[ "$(tail -1 "$W/recv.across")" = 0 ] ||
		t_fail "$(tail -1 "$W/recv.across") datagrams passed across kill, restart and reload"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters after the reload"
	wait_list tc running
	expect_dropping "tc after the reload"

	"$LBPF" unload tc >/dev/null || t_fail "unload failed"
	[ ! -e "$BPFFS/filters/tc" ] || t_fail "pins left after unload: $(find "$BPFFS/filters")"
	[ "$(tc_on_r1)" = 0 ] || t_fail "an lbpf tc filter is still on r1 after unload"
	ip netns exec lbpf-dfr tc qdisc show dev r1 | grep -q clsact ||
		t_fail "unload removed the clsact qdisc"
	expect_passing "tc after unload"
	stop_daemon
}

# A reload to a body with fewer filters: the pins of the filters it no longer
# has (here the second, a netfilter one) go once the old runtime ended.
test_fewer() {
	prepare "nsenter (util-linux)" "tc (iproute2)"
	start_daemon
	load_policy "$W/two.lua"
	wait_list two running
	wait_for "no pinned netfilter link in two/1" test -e "$BPFFS/filters/two/1/nf4"
	[ "$(udp 5003)" = 0 ] || t_fail "the second filter does not drop port 5003"
	"$LBPF" reload two "$W/tc.lua" >/dev/null || t_fail "reload: $(tail -5 "$W/lbpfd.log")"
	wait_for "two/1 still pinned after a reload to one filter" \
		test ! -e "$BPFFS/filters/two/1"
	expect_passing "the second filter after a reload without it" 5003
	expect_dropping "the first filter after the reload"
	one_tc_pin "$BPFFS/filters/two/0" || t_fail "two/0 lost its tc pin"

	# back to two filters, then to a body whose second attach fails under a
	# pcall: index 1 was handed out but holds nothing, so its old pin goes too
	"$LBPF" reload two "$W/two.lua" >/dev/null || t_fail "reload: $(tail -5 "$W/lbpfd.log")"
	wait_for "no pinned netfilter link in two/1 again" test -e "$BPFFS/filters/two/1/nf4"
	[ "$(udp 5003)" = 0 ] || t_fail "the second filter does not drop port 5003 again"
	"$LBPF" reload two "$W/caught.lua" >/dev/null || t_fail "reload: $(tail -5 "$W/lbpfd.log")"
	"$LBPF" logs two | grep -q "second filter:.false" ||
		t_fail "the second attach did not fail: $("$LBPF" logs two | tail -3)"
	wait_for "two/1 still pinned after its attach failed" test ! -e "$BPFFS/filters/two/1"
	expect_passing "the second filter after its attach failed" 5003
	expect_dropping "the first filter after the caught failure"
	"$LBPF" unload two >/dev/null || t_fail "unload failed"
	stop_daemon
}

# A reload whose body attaches a filter the old policy did not have (at a new
# index, so nothing to adopt) and then fails: the reload reports the error,
# the new filter is gone and pinned nowhere, the old policy still enforces.
test_failed_reload() {
	prepare "nsenter (util-linux)" "tc (iproute2)"
	start_daemon
	load_policy "$W/tc.lua"
	wait_list tc running
	local pins=$BPFFS/filters/tc out before
	wait_for "no tc pin in $pins/0" one_tc_pin "$pins/0"
	before=$(tc_pins "$pins/0")
	out=$("$LBPF" reload tc "$W/bad.lua" 2>&1) && t_fail "the failing reload succeeded: $out"
	t_expect_contains "$out" "the new body fails" "the reload's error"
	sleep 0.3 # time for anything the failed runtime might still do
	[ ! -e "$pins/1" ] || t_fail "the failed body's filter is pinned: $(find "$pins")"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "the failed body's XDP filter is still on r1"
	[ "$(tc_pins "$pins/0")" = "$before" ] || t_fail "the old pin changed: $(tc_pins "$pins/0")"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters"
	expect_passing "the failed body's filter" 5003
	expect_dropping "the old policy after a failed reload"
	wait_list tc running
	"$LBPF" unload tc >/dev/null || t_fail "unload failed"
	stop_daemon
}

# The policy's filter moves from tc to XDP and back: each reload retires what
# the folder held for the other hook once the new filter is pinned.
test_hook_change() {
	prepare "nsenter (util-linux)" "tc (iproute2)"
	start_daemon
	load_policy "$W/tc.lua" --name hc
	wait_list hc running
	local pins=$BPFFS/filters/hc/0
	wait_for "no tc pin in $pins" one_tc_pin "$pins"
	"$LBPF" reload hc "$W/fw.lua" >/dev/null || t_fail "reload: $(tail -5 "$W/lbpfd.log")"
	wait_for "tc to XDP: the folder should hold only XDP's link" pins_are "$pins" "link stats "
	[ "$(tc_on_r1)" = 0 ] || t_fail "the tc filter is still on r1 after moving to XDP"
	[ "$(xdp_on_r1)" = 1 ] || t_fail "no XDP on r1 after moving to XDP"
	expect_dropping "moved to XDP"
	"$LBPF" reload hc "$W/tc.lua" >/dev/null || t_fail "reload: $(tail -5 "$W/lbpfd.log")"
	wait_for "XDP to tc: XDP's link is still pinned" test ! -e "$pins/link"
	one_tc_pin "$pins" || t_fail "no tc pin after moving back to tc: $(ls "$pins")"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "XDP still on r1 after moving back to tc"
	[ "$(tc_on_r1)" = 1 ] || t_fail "r1 has $(tc_on_r1) lbpf tc filters after moving back"
	expect_dropping "moved back to tc"
	"$LBPF" unload hc >/dev/null || t_fail "unload failed"
	[ "$(tc_on_r1)" = 0 ] || t_fail "the tc filter is still on r1 after unload"
	stop_daemon
}

# lbpfd stops (SIGTERM) while a policy's body still runs: the load completes,
# the runtime is stopped before its first turn, and its filter, which waited
# for that turn to be pinned, is pinned as it ends and keeps dropping while
# lbpfd is down; the restarted lbpfd restores the policy and adopts it.
test_stop_during_load() {
	prepare "nsenter (util-linux)"
	cat > "$W/slow.lua" <<'EOF'
fw = lbpf.filter{ hook = "xdp", dev = "r1", mode = "native" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
local t = os.clock()
while os.clock() - t < 0.6 do end -- lbpfd gets its SIGTERM meanwhile
EOF
	start_daemon
	"$LBPF" load "$W/slow.lua" >/dev/null 2>&1 &
	local lpid=$!
	sleep 0.3
	stop_daemon
	wait $lpid
	[ -e "$BPFFS/filters/slow/0/link" ] ||
		t_fail "not pinned when lbpfd stopped during the load: $(tail -5 "$W/lbpfd.log")"
	[ "$(xdp_on_r1)" = 1 ] || t_fail "no XDP on r1 while lbpfd is down"
	expect_dropping "lbpfd stopped during the load"
	start_daemon
	wait_list slow running
	expect_dropping "restored"
	"$LBPF" unload slow >/dev/null || t_fail "unload failed"
	[ "$(xdp_on_r1)" = 0 ] || t_fail "XDP still on r1 after unload"
	stop_daemon
}

t_run daemon_filter_fail_static test_fail_static
t_run daemon_filter_fail_open test_fail_open
t_run daemon_filter_netfilter test_netfilter
t_run daemon_filter_tc test_tc
t_run daemon_filter_fewer test_fewer
t_run daemon_filter_failed_reload test_failed_reload
t_run daemon_filter_hook_change test_hook_change
t_run daemon_filter_stop_during_load test_stop_during_load
