#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# `lbpf test POLICY CAPTURE` as a deployment gate: captures crafted here
# (pkt capture) in Ethernet, Linux cooked (SLL, SLL2, what `tcpdump -i any`
# writes) and unsupported link types. Proves that cooked records are read by
# their protocol field (ARP is non-IP and passes a default drop, IPv6 and
# VLAN-tagged IPv4 are judged as such); that a record too short for its link
# header, an unsupported link type and a truncated capture are named and make
# the exit status 3, while a complete capture exits 0 and an unreadable one 1;
# that every filter of a policy judges every packet with its own hook's
# program (XDP, tc, netfilter input and output), each named; that a
# netfilter hook judges the IP packet inside VLAN tags and never sees ARP or
# the other family; that a frame longer than a test run takes is judged on
# its headers; that --ct gives the packets' conntrack state at every hook;
# and that --json prints one object per packet and filter.
# `lbpf test` attaches nothing (test_filter.sh's pcap test checks it with a
# device that exists); it runs here in a namespace made for it all the same.
#   P = ${LBPF_TEST_NS:-lbpf-pt} (namespace prefix)
. "$(dirname "$0")/../lib.sh"

PKT=$HELPERS/pkt
P=${LBPF_TEST_NS:-lbpf-pt}
N="ip netns exec ${P}t"
WORK=

TOP_PID=$$
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	ip netns pids ${P}t 2>/dev/null | xargs -r kill 2>/dev/null
	ip netns del ${P}t 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
}

# ---- packets as hex ----
a4() { local IFS=.; set -- $1; printf '%02x%02x%02x%02x' "$@"; }
# ip4 SRC DST PROTO L4HEX
ip4() { printf '4500%04x0000000040%02x0000%s%s%s' $((20 + ${#4} / 2)) "$3" "$(a4 $1)" "$(a4 $2)" "$4"; }
# ip6 NEXTHDR L4HEX: fd00::1 > fd00::2
ip6() {
	printf '60000000%04x%02x40%s%s%s' $((${#2} / 2)) "$1" fd000000000000000000000000000001 \
		fd000000000000000000000000000002 "$2"
}
tcp() { printf '%04x%04x00000000000000005002ffff00000000' "$1" "$2"; } # a SYN
udp() { printf '%04x%04x00080000' "$1" "$2"; }
icmp() { printf '0800000000000000'; } # echo request
arp() { printf '0001080006040001020000000001%s000000000000%s' "$(a4 10.0.0.1)" "$(a4 10.0.0.2)"; }
eth() { printf '020000000002020000000001%s%s' "$1" "$2"; }                   # TYPE PAYLOAD
sll() { printf '0000000100060200000000010000%s%s' "$1" "$2"; }
sll2() { printf '%s000000000002000100060200000000010000%s' "$1" "$2"; }
vlan() { printf '%04x%s' "$1" "$2"; } # VID INNERTYPE: the tag's 4 bytes after TPID

TCP22=$(ip4 10.0.0.1 10.0.0.2 6 "$(tcp 40000 22)")
TCP80=$(ip4 10.0.0.1 10.0.0.2 6 "$(tcp 40001 80)")
UDP53=$(ip4 10.0.0.1 10.0.0.2 17 "$(udp 40002 53)")
ICMP4=$(ip4 10.0.0.1 10.0.0.2 1 "$(icmp)")
UDP6=$(ip6 17 "$(udp 40003 53)")
ARP=$(arp)

# gate POLICY CAPTURE [--json]: runs lbpf test; output in $OUT, status in $RC
gate() {
	RC=0
	OUT=$($N "$LBPF" test ${3:-} "$1" "$2" 2>"$WORK/err") || RC=$?
	OUT="$OUT$(printf '\n'; cat "$WORK/err")"
}

expect_rc() { [ "$RC" = "$1" ] || t_fail "exit status $RC, expected $1: $OUT"; }

write_policy() {
	cat > "$WORK/xdp.lua" <<-'EOF'
	local fw = lbpf.filter{ hook = "xdp", dev = "eth9" } -- need not exist here
	fw:rule{ proto = "tcp", dport = 22, action = "pass", comment = "ssh" }
	fw:rule{ proto = "udp", dport = 53, action = "pass", comment = "dns" }
	fw:default("drop")
	EOF
}

# A cooked capture of TYPE (sll or sll2): ARP passes as non-IP under a
# default drop (before: taken for IPv4); IPv6 and a VLAN tag are read.
cooked() {
	local w=$1 lt=$2
	"$PKT" capture "$WORK/$w.pcap" $lt "$($w 0800 "$TCP22")" "$($w 0806 "$ARP")" \
		"$($w 86dd "$UDP6")" "$($w 0800 "$TCP80")" "$($w 8100 "$(vlan 5 0800)$UDP53")"
	gate "$WORK/xdp.lua" "$WORK/$w.pcap"
	expect_rc 0
	t_expect_contains "$OUT" "     1  pass  rule 0 (ssh)"
	t_expect_contains "$OUT" "     2  pass  non-IP                       arp"
	t_expect_contains "$OUT" "     3  pass  rule 1 (dns)                 [fd00::1]:40003 > [fd00::2]:53 udp"
	t_expect_contains "$OUT" "     4  drop  default"
	t_expect_contains "$OUT" "     5  pass  rule 1 (dns)                 vlan 5 10.0.0.1:40002 > 10.0.0.2:53 udp"
	t_expect_contains "$OUT" "5 packets: 5 judged, 0 skipped, 0 could not be run; read to its end"
}

test_sll() { cooked sll 113; }
test_sll2() { cooked sll2 276; }

test_ethernet_complete() {
	"$PKT" capture "$WORK/e.pcap" 1 "$(eth 0800 "$TCP22")" "$(eth 0800 "$TCP80")/1514"
	gate "$WORK/xdp.lua" "$WORK/e.pcap"
	expect_rc 0
	t_expect_contains "$OUT" "xdp on eth9: 1 passed, 1 dropped, 1 by the default"
	t_expect_contains "$OUT" "1 records were cut by the capture's snap length: judged on the bytes captured"
}

test_short_record() {
	"$PKT" capture "$WORK/s.pcap" 113 "$(sll 0800 "$TCP22")" 00000001000602000000
	gate "$WORK/xdp.lua" "$WORK/s.pcap"
	expect_rc 3
	t_expect_contains "$OUT" "     2  skip  (record of 10 bytes is too short for its LINUX_SLL header (16 bytes))"
	t_expect_contains "$OUT" "2 packets: 1 judged, 1 skipped, 0 could not be run"
	"$PKT" capture "$WORK/s2.pcap" 1 0200000000020200
	gate "$WORK/xdp.lua" "$WORK/s2.pcap"
	expect_rc 3
	t_expect_contains "$OUT" "skip  (record of 8 bytes is too short for its EN10MB header (14 bytes))"
}

test_link_type() {
	"$PKT" capture "$WORK/w.pcap" 105 "$(eth 0800 "$TCP22")"
	gate "$WORK/xdp.lua" "$WORK/w.pcap"
	expect_rc 3
	t_expect_contains "$OUT" "skip  (link type 105 (IEEE802_11) not supported)"
}

test_truncated() {
	"$PKT" capture "$WORK/t.pcap" 1 "$(eth 0800 "$TCP22")" "$(eth 0800 "$TCP80")"
	head -c $(($(stat -c %s "$WORK/t.pcap") - 10)) "$WORK/t.pcap" > "$WORK/t2.pcap"
	gate "$WORK/xdp.lua" "$WORK/t2.pcap"
	expect_rc 3
	t_expect_contains "$OUT" "     1  pass  rule 0 (ssh)"
	t_expect_contains "$OUT" "after packet 1: truncated dump file"
	t_expect_contains "$OUT" "1 packets: 1 judged, 0 skipped, 0 could not be run; the capture is truncated or unreadable"
	echo "not a capture" > "$WORK/n.pcap"
	gate "$WORK/xdp.lua" "$WORK/n.pcap"
	expect_rc 1
}

# Every filter judges every packet with its own hook's program.
test_hooks() {
	cat > "$WORK/hooks.lua" <<-'EOF'
	print("the body ran") -- under --json, on stderr
	local x = lbpf.filter{ hook = "xdp", dev = "eth9" }
	x:rule{ proto = "tcp", dport = 22, action = "drop", comment = "x-ssh" }
	local t = lbpf.filter{ hook = "tc", dev = "eth9", direction = "egress" }
	t:rule{ proto = "udp", action = "drop", comment = "t-udp" }
	local n = lbpf.filter{ hook = "netfilter", chain = "input", family = "ipv4" }
	n:rule{ proto = "icmp", action = "drop", comment = "n-icmp" }
	n:default("drop")
	local o = lbpf.filter{ hook = "netfilter", chain = "output", priority = -90 }
	o:rule{ proto = "tcp", dport = 80, action = "drop", comment = "o-web" }
	EOF
	"$PKT" capture "$WORK/h.pcap" 1 "$(eth 0800 "$TCP22")" "$(eth 0800 "$UDP53")" \
		"$(eth 0800 "$ICMP4")" "$(eth 0800 "$TCP80")" "$(eth 0806 "$ARP")" \
		"$(eth 86dd "$UDP6")" "$(eth 8100 "$(vlan 1 8100)$(vlan 2 8100)$(vlan 3 0800)$ICMP4")"
	gate "$WORK/hooks.lua" "$WORK/h.pcap"
	expect_rc 0
	local x="xdp on eth9                  " t="tc egress on eth9            "
	local n="netfilter input priority -100" o="netfilter output priority -90"
	t_expect_contains "$OUT" "     1  $x drop  rule 0 (x-ssh)"
	t_expect_contains "$OUT" "     1  $t pass  default"
	t_expect_contains "$OUT" "     1  $n drop  default"
	t_expect_contains "$OUT" "     2  $t drop  rule 0 (t-udp)"
	t_expect_contains "$OUT" "     3  $n drop  rule 0 (n-icmp)"
	t_expect_contains "$OUT" "     4  $o drop  rule 0 (o-web)"
	t_expect_contains "$OUT" "     5  $x pass  non-IP"
	t_expect_contains "$OUT" "     5  $n pass  (not IP: netfilter's inet hooks never see it)"
	t_expect_contains "$OUT" "     6  $n pass  (IPv6: this IPv4 hook never sees it)"
	t_expect_contains "$OUT" "     6  $o pass  default"
	# three tags: more than XDP walks (unparsed, dropped by default);
	# netfilter sees the IP packet inside
	t_expect_contains "$OUT" "     7  $x drop  unparsed"
	t_expect_contains "$OUT" "     7  $n drop  rule 0 (n-icmp)"
	t_expect_contains "$OUT" "netfilter input priority -100: 2 passed, 5 dropped, 3 by the default, 0 by the unparsed or fragment verdict, 2 not seen by the hook"
	# two filters at one place are told apart
	printf 'local a = lbpf.filter{ hook = "xdp", dev = "eth9" }\nlocal b = lbpf.filter{ hook = "xdp", dev = "eth9" }\n' > "$WORK/two.lua"
	gate "$WORK/two.lua" "$WORK/h.pcap"
	t_expect_contains "$OUT" "     1  xdp on eth9 #2 pass  default"
}

# A capture has no conntrack: --ct gives its packets' state, at every hook.
test_ct() {
	cat > "$WORK/ct.lua" <<-'EOF'
	for _, hook in ipairs{ { hook = "xdp", dev = "eth9" }, { hook = "tc", dev = "eth9" },
			       { hook = "netfilter", chain = "input" } } do
		local fw = lbpf.filter(hook)
		fw:rule{ ct = { "established", "related" }, action = "pass", comment = "known" }
		fw:default("drop")
	end
	EOF
	"$PKT" capture "$WORK/ct.pcap" 1 "$(eth 0800 "$TCP80")"
	gate "$WORK/ct.lua" "$WORK/ct.pcap"
	expect_rc 0
	t_expect_contains "$OUT" "xdp on eth9: 0 passed, 1 dropped, 1 by the default"
	t_expect_contains "$OUT" "tc ingress on eth9: 0 passed, 1 dropped, 1 by the default"
	t_expect_contains "$OUT" "netfilter input priority -100: 0 passed, 1 dropped, 1 by the default"
	gate "$WORK/ct.lua" "$WORK/ct.pcap" "--ct established"
	expect_rc 0
	t_expect_contains "$OUT" "xdp on eth9: 1 passed, 0 dropped, 0 by the default"
	t_expect_contains "$OUT" "tc ingress on eth9: 1 passed, 0 dropped, 0 by the default"
	t_expect_contains "$OUT" "netfilter input priority -100: 1 passed, 0 dropped, 0 by the default"
	gate "$WORK/ct.lua" "$WORK/ct.pcap" "--ct nope"
	expect_rc 2
	t_expect_contains "$OUT" "--ct: expected new, established, related, invalid or untracked, got 'nope'"
}

# A frame longer than a test run takes is judged on its first bytes.
test_big_frame() {
	local pad; pad=$(head -c 8960 /dev/zero | od -An -v -tx1 | tr -d ' \n')
	"$PKT" capture "$WORK/b.pcap" 1 "$(eth 0800 "$(ip4 10.0.0.1 10.0.0.2 6 "$(tcp 40000 22)$pad")")"
	gate "$WORK/xdp.lua" "$WORK/b.pcap"
	expect_rc 0
	t_expect_contains "$OUT" "     1  pass  rule 0 (ssh)"
}

test_json() {
	"$PKT" capture "$WORK/j.pcap" 113 "$(sll 0800 "$TCP22")" "$(sll 0800 "$TCP80")" 0000
	gate "$WORK/hooks.lua" "$WORK/j.pcap" --json
	expect_rc 3
	local lines; lines=$($N "$LBPF" test --json "$WORK/hooks.lua" "$WORK/j.pcap" 2>/dev/null) || true
	printf '%s\n' "$lines" | jq -e . > /dev/null || t_fail "stdout is not JSON alone: $lines"
	t_expect_contains "$OUT" "the body ran"
	[ "$(printf '%s\n' "$lines" | jq -s 'map(select(.verdict)) | length')" = 8 ] ||
		t_fail "expected 8 verdicts (2 packets x 4 filters): $lines"
	printf '%s\n' "$lines" | jq -e -s 'map(select(.index == 1 and .filter == "xdp on eth9"))[0]
		| .verdict == "drop" and .rule == 0 and .comment == "x-ssh" and .why == "rule"' > /dev/null ||
		t_fail "packet 1 at xdp: $lines"
	printf '%s\n' "$lines" | jq -e -s 'map(select(.index == 2 and .filter == "xdp on eth9"))[0]
		| .verdict == "pass" and .rule == null and .why == "default"' > /dev/null ||
		t_fail "packet 2 at xdp: $lines"
	printf '%s\n' "$lines" | jq -e -s 'map(select(.index == 3))[0].skipped | test("too short")' > /dev/null ||
		t_fail "packet 3 not skipped: $lines"
	printf '%s\n' "$lines" | jq -e -s 'last.summary | .packets == 3 and .judged == 2 and .skipped == 1
		and .truncated == false and .snapped == 0 and (.filters | length) == 4' > /dev/null ||
		t_fail "summary: $lines"
}

t_need_root
t_cleanup cleanup
[ -x "$PKT" ] || { echo "SKIP pcaptest: $PKT not built"; exit 0; }
command -v jq > /dev/null || { echo "SKIP pcaptest: jq not installed (scripts/deps.sh installs it)"; exit 0; }
WORK=$(mktemp -d)
ip netns add ${P}t || { echo "FAIL pcaptest/setup: cannot create a namespace"; exit 0; }
write_policy
for t in ${PCAPTEST_TESTS:-sll sll2 ethernet_complete short_record link_type truncated hooks \
	 ct big_frame json}; do
	t_run "pcaptest/$t" "test_$t"
done
