#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The packet filter's parser against real traffic, only inside namespaces
# made here: ${P}s -- veth s0/r0 -- ${P}r. Crafted frames (pkt shape) are
# sent from ${P}s to an XDP filter on r0 that drops UDP to 5555 and TCP to 22;
# the receiver's own stack says what got through (a UDP counter, the IPv4
# reassembly counter), or, for VLAN tags (this kernel has no VLAN devices),
# the drop rule's counter. Proves that the shapes the parser before issue 10 let
# through are judged: IPv6 extension headers 8 deep, QinQ, IPv4 options,
# fragmented datagrams (whole and with a tiny first fragment), headers longer
# than walked (the unparsed verdict, fw:unparsed), and truncated IP headers
# (counted as unparsed, not passed as non-IP). The extension headers also at
# tc and netfilter, which share the parser.
#   P = ${LBPF_TEST_NS:-lbpf-fp} (namespace prefix)
. "$(dirname "$0")/../lib.sh"

PKT=$HELPERS/pkt
P=${LBPF_TEST_NS:-lbpf-fp}
S="ip netns exec ${P}s"
R="ip netns exec ${P}r"
WORK=
POLICY_PID=

TOP_PID=$$
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	for ns in ${P}s ${P}r; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
}

setup() {
	ip netns add ${P}s && ip netns add ${P}r || return 1
	ip link add s0 netns ${P}s type veth peer name r0 netns ${P}r || return 1
	$S ip link set lo up && $R ip link set lo up
	$S ip link set s0 up && $R ip link set r0 up
	$R ip addr add 10.98.1.2/24 dev r0 && $R ip addr add fd98:1::2/64 dev r0 nodad
	$R sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0
	MAC=$($R cat /sys/class/net/r0/address)
}

# policy SECONDS [LUA]: the XDP filter on r0 (drop UDP 5555 and TCP 22) plus
# LUA, for SECONDS; prints fw:stats() and the rules' packets (udp5555=,
# tcp22=) at the end into $WORK/out.
policy() {
	local secs=$1 extra=${2:-} i hook=${HOOK:-'hook = "xdp", dev = "r0", mode = "native"'}
	stop_policy
	# a test that failed in its subshell may have left its policy running
	ip netns pids ${P}r 2>/dev/null | xargs -r kill 2>/dev/null
	for i in $(seq 40); do $R ip link show r0 | grep -q xdp || break; sleep 0.05; done
	cat > "$WORK/policy.lua" <<-EOF
	fw = lbpf.filter{ $hook }
	udp = fw:rule{ proto = "udp", dport = 5555, action = "drop" }
	tcp = fw:rule{ proto = "tcp", dport = 22, action = "drop" }
	$extra
	fw:commit()
	print('ready') io.stdout:flush()
	lbpf.after($secs * 1000, function()
	  for k, v in pairs(fw:stats()) do print(k .. "=" .. v) end
	  print("udp5555=" .. udp:stats().packets) print("tcp22=" .. tcp:stats().packets)
	  io.stdout:flush() lbpf.exit(0) end)
	EOF
	$R "$LBPF" run "$WORK/policy.lua" > "$WORK/out" 2>&1 &
	POLICY_PID=$!
	for i in $(seq 100); do
		grep -q '^ready' "$WORK/out" && return 0
		kill -0 $POLICY_PID 2>/dev/null || break
		sleep 0.05
	done
	t_fail "policy did not start: $(cat "$WORK/out")"
}

stop_policy() {
	[ -n "${POLICY_PID:-}" ] && kill $POLICY_PID 2>/dev/null && wait $POLICY_PID 2>/dev/null
	POLICY_PID=
	return 0
}

finish() { wait $POLICY_PID; POLICY_PID=; }
field() { sed -n "s/^$1=//p" "$WORK/out" | tail -1; }
expect_eq() { [ "$1" = "$2" ] || t_fail "$3: got '$1', want '$2' ($(tr '\n' ' ' < "$WORK/out" | head -c 300))"; }

# arrive PORT SRC DST SHAPE: how many of 20 shaped datagrams to PORT arrive
arrive() {
	local port=$1 src=$2 dst=$3 shape=$4 pid i
	$R "$PKT" udp-recv "$port" 1.2 > "$WORK/recv" &
	pid=$!
	for i in $(seq 50); do grep -q ready "$WORK/recv" && break; sleep 0.05; done
	$S "$PKT" shape s0 "$MAC" "$src" "$dst" "$port" 20 "$shape"
	wait $pid
	tail -1 "$WORK/recv"
}

# dropped_passed SRC DST SHAPE [WHAT]: UDP to 5555 is dropped, to 5556 arrives
dropped_passed() {
	expect_eq "$(arrive 5555 "$1" "$2" "$3")" 0 "${4:-$3}: UDP to 5555 arrived"
	expect_eq "$(arrive 5556 "$1" "$2" "$3")" 20 "${4:-$3}: UDP to 5556"
}

reasm_oks() {
	$R awk '/^Ip:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "ReasmOKs") c = i } else print $c }' \
		/proc/net/snmp
}

test_ipv6_extension_headers() {
	policy 6
	dropped_passed fd98:1::1 fd98:1::2 udp "no extension header"
	dropped_passed fd98:1::1 fd98:1::2 hop,dst,dst,rt,dst,frag,dst,dst "8 extension headers"
	dropped_passed fd98:1::1 fd98:1::2 dst,frag,rt "dst, frag, rt"
	finish
	expect_eq "$(field unparsed)" 0 "unparsed"
}

# The same chains at tc ingress and at netfilter input (read through a dynptr).
test_ipv6_extension_headers_tc() {
	HOOK='hook = "tc", dev = "r0"' test_ipv6_extension_headers
}

test_ipv6_extension_headers_nf() {
	HOOK='hook = "netfilter", chain = "input"' test_ipv6_extension_headers
}

test_ipv6_too_deep() {
	local deep=hop,dst,dst,dst,dst,dst,dst,dst,dst,dst,dst
	policy 3
	expect_eq "$(arrive 5556 fd98:1::1 fd98:1::2 $deep)" 0 "11 headers, unparsed drop"
	finish
	expect_eq "$(field unparsed)" 20 "unparsed"
	policy 3 'fw:unparsed("pass")'
	expect_eq "$(arrive 5556 fd98:1::1 fd98:1::2 $deep)" 20 "11 headers, unparsed pass"
	finish
}

# Tagged frames reach XDP with their tags; the stack here cannot take them
# (no VLAN devices), so the drop rule's counter says they were judged.
test_vlan_qinq() {
	policy 3
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 5555 20 vlan:10
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 5555 20 qinq:100,vlan:10
	$S "$PKT" shape s0 "$MAC" fd98:1::1 fd98:1::2 5555 20 qinq:100,vlan:10
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 22 20 tcp,vlan:100,vlan:10
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 5556 20 vlan:100,vlan:10
	sleep 0.3
	finish
	expect_eq "$(field udp5555)" 60 "tagged UDP to 5555 judged by the drop rule"
	expect_eq "$(field tcp22)" 20 "double-tagged TCP to 22 judged by the drop rule"
	expect_eq "$(field nonip)" 0 "tagged IP taken for non-IP"
}

test_ipv4_options() {
	policy 3
	dropped_passed 10.98.1.1 10.98.1.2 opts:3 "IPv4 options"
	finish
}

test_fragments() {
	policy 8
	dropped_passed 10.98.1.1 10.98.1.2 split:16 "IPv4 fragments"
	dropped_passed fd98:1::1 fd98:1::2 split:16 "IPv6 fragments"
	dropped_passed fd98:1::1 fd98:1::2 dst,split:8 "IPv6 fragments after dst"
	finish
	[ "$(field fragments)" -ge 80 ] || t_fail "fragments counted: $(field fragments)"
}

# A TCP SYN to port 22 whose first fragment holds only the ports (8 bytes):
# the parser before issue 10 passed it and the receiver reassembled it.
test_tiny_first_fragment() {
	local before after
	policy 3
	before=$(reasm_oks)
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 22 20 tcp,split:8
	sleep 0.3
	after=$(reasm_oks)
	finish
	expect_eq "$((after - before))" 0 "tiny first fragments reassembled"
	expect_eq "$(field unparsed)" 20 "unparsed"
	# the same frames reassemble when the policy lets unparsed packets pass
	policy 3 'fw:unparsed("pass")'
	before=$(reasm_oks)
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 22 20 tcp,split:8
	sleep 0.3
	after=$(reasm_oks)
	finish
	expect_eq "$((after - before))" 20 "tiny first fragments reassembled under unparsed pass"
}

test_truncated_ip() {
	policy 3 'fw:default("pass")'
	$S "$PKT" shape s0 "$MAC" 10.98.1.1 10.98.1.2 5556 20 cut:12
	$S "$PKT" shape s0 "$MAC" fd98:1::1 fd98:1::2 5556 20 cut:30
	sleep 0.3
	finish
	expect_eq "$(field unparsed)" 40 "truncated IP headers counted as unparsed"
	expect_eq "$(field nonip)" 0 "truncated IP headers taken for non-IP"
	expect_eq "$(field dropped)" 40 "truncated IP headers dropped"
}

t_need_root
t_cleanup cleanup
WORK=$(mktemp -d)
[ -x "$PKT" ] || { echo "SKIP filter-parse: $PKT not built"; exit 0; }
setup || { echo "FAIL filter-parse/setup: cannot create namespaces and a veth pair"; exit 0; }
for t in ${FILTER_TESTS:-ipv6_extension_headers ipv6_extension_headers_tc \
	 ipv6_extension_headers_nf ipv6_too_deep vlan_qinq ipv4_options fragments tiny_first_fragment \
	 truncated_ip}; do
	t_run "filter-parse/$t" "test_$t"
done
