#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# nftables as an oracle for the packet filter: one policy written twice, as
# an nft ruleset and as an lbpf policy (side by side below), the same crafted
# frames (pkt shape) sent from ${P}s over veth s0/r0 to ${P}r, and the
# per-packet verdicts compared. Only namespaces made here are touched.
#
# Each frame carries an id in its source MAC (pkt shape id:N; later fragments
# N | 0x8000). An observer, an nft chain of its own that runs after the
# filter under test, adds the source MAC of every frame that got past the
# filter to a dynamic set; a frame missing from the set was dropped. Four
# places are compared, each with both policies (deny: drop rules under a
# default pass; allow: pass rules under a default drop):
#   input      nft `hook input`      vs lbpf netfilter chain = "input"
#   prerouting nft `hook prerouting` vs lbpf netfilter chain = "prerouting"
#   ingress    nft netdev `hook ingress` on r0 vs lbpf tc ingress on r0
#   xdp        nft netdev `hook ingress` on r0 vs lbpf XDP (native) on r0
# At each place a run with no filter first says which frames reach it at all
# (VLAN-tagged frames never reach the IP hooks here; IPv4 fragments are
# reassembled before input, IPv6 ones are not, as no conntrack is loaded in
# ${P}r), and only those are compared.
#
# Where the two differ by design, the case names the difference and why
# (KNOWN below, and README "Checked against nftables"); the test fails on any
# other difference, and on a documented one that no longer shows.
# test_ct compares a stateful policy (ct state), with crafted frames and
# real TCP connections, at input, and nft's ct at input with lbpf's
# conntrack lookups at tc ingress and XDP (ct-tc, ct-xdp).
#   P = ${LBPF_TEST_NS:-lbpf-n} (namespace prefix)
. "$(dirname "$0")/../lib.sh"

PKT=$HELPERS/pkt
P=${LBPF_TEST_NS:-lbpf-n}
S="ip netns exec ${P}s"
R="ip netns exec ${P}r"
WORK=
LBPF_PID=

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
	$R ip addr add 10.98.1.2/24 dev r0 && $R ip addr add 10.98.1.3/24 dev r0
	$R ip addr add fd98:1::2/64 dev r0 nodad
	$S ip addr add 10.98.1.1/24 dev s0 # for the real TCP of test_ct
	# test_ct's UDP to a closed port of ${P}s: its ICMP errors come back at
	# once (no rate limit), and IPv6 needs no neighbour discovery, whose
	# answers a stateful policy drops as nft's ct calls them invalid
	$S ip addr add fd98:1::1/64 dev s0 nodad
	$S sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	$S ip -6 neigh add fd98:1::2 lladdr "$($R cat /sys/class/net/r0/address)" dev s0 nud permanent
	$R ip -6 neigh add fd98:1::1 lladdr "$($S cat /sys/class/net/s0/address)" dev r0 nud permanent
	$R sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.r0.rp_filter=0
	MAC=$($R cat /sys/class/net/r0/address)
}

# ---- the policies, as nftables and as lbpf write them, rule by rule ----
SET_NFT='set bl4 { type ipv4_addr; flags interval; elements = { 10.77.0.5, 10.78.0.0/16 } }'
SET_LBPF='local bl4 = fw:set("bl4", { type = "cidr" })
bl4:add("10.77.0.5") bl4:add("10.78.0.0/16")'
# policy "deny": drop rules, default pass (nft: policy accept)
DEFAULT_deny=(accept pass)
RULES_deny=(
	'ip saddr 10.55.0.1 tcp dport 22 accept'
	'{ src = "10.55.0.1", proto = "tcp", dport = 22, action = "pass" }'
	'ip saddr 10.66.0.0/16 drop'
	'{ src = "10.66.0.0/16", action = "drop" }'
	'ip saddr @bl4 drop'
	'{ src = bl4, action = "drop" }'
	'ip6 saddr fd66::/32 drop'
	'{ src = "fd66::/32", action = "drop" }'
	'ip daddr 10.98.1.3 drop'
	'{ dst = "10.98.1.3", action = "drop" }'
	'tcp dport 22 drop'
	'{ proto = "tcp", dport = 22, action = "drop" }'
	'udp dport 5555 drop'
	'{ proto = "udp", dport = 5555, action = "drop" }'
	'tcp dport 1000-1999 drop'
	'{ proto = "tcp", dport = { 1000, 1999 }, action = "drop" }'
	'udp dport { 7000, 7002 } drop'
	'{ proto = "udp", dport = { list = { 7000, 7002 } }, action = "drop" }'
	'udp sport 6000-6009 drop'
	'{ proto = "udp", sport = { 6000, 6009 }, action = "drop" }'
	'tcp flags & (fin | psh | urg) == fin | psh | urg drop'
	'{ tcp = { fin = true, psh = true, urg = true }, action = "drop" }'
	'tcp dport 8080 tcp flags & (syn | ack) == syn drop'
	'{ proto = "tcp", dport = 8080, tcp = "syn", action = "drop" }'
	'icmp type echo-request drop'
	'{ icmp_type = "echo-request", action = "drop" }'
	'icmpv6 type echo-request drop'
	'{ proto = "icmpv6", icmp_type = "echo-request", action = "drop" }'
	'meta l4proto gre drop'
	'{ proto = "gre", action = "drop" }'
)
# policy "allow": pass rules, default drop (nft: policy drop)
DEFAULT_allow=(drop drop)
RULES_allow=(
	'ip saddr 10.55.0.1 tcp dport 22 accept'
	'{ src = "10.55.0.1", proto = "tcp", dport = 22, action = "pass" }'
	'ip saddr @bl4 accept'
	'{ src = bl4, action = "pass" }'
	'udp dport 53 accept'
	'{ proto = "udp", dport = 53, action = "pass" }'
	'tcp dport 1000-1999 tcp flags & (syn | ack) == syn accept'
	'{ proto = "tcp", dport = { 1000, 1999 }, tcp = "syn", action = "pass" }'
	'icmp type echo-request accept'
	'{ icmp_type = "echo-request", action = "pass" }'
	'icmpv6 type echo-request accept'
	'{ proto = "icmpv6", icmp_type = "echo-request", action = "pass" }'
	'meta l4proto esp accept'
	'{ proto = "esp", action = "pass" }'
)

# policy "ct": connection state, the first lines of nearly every ruleset
DEFAULT_ct=(drop drop)
RULES_ct=(
	'ct state established,related accept'
	'{ ct = { "established", "related" }, action = "pass" }'
	'ct state invalid drop'
	'{ ct = "invalid", action = "drop" }'
	'tcp dport 8080 accept'
	'{ proto = "tcp", dport = 8080, action = "pass" }'
)

# ---- the frames: name, source, destination, port, pkt shape ----
D4=10.98.1.2
D6=fd98:1::2
CASES=(
	"lab-ssh 10.55.0.1 $D4 22 tcp"
	"ssh 10.1.0.1 $D4 22 tcp"
	"src-cidr 10.66.3.3 $D4 53 udp"
	"set-addr 10.77.0.5 $D4 53 udp"
	"set-prefix 10.78.9.9 $D4 53 udp"
	"set-miss 10.77.0.6 $D4 53 udp"
	"dst-addr 10.1.0.1 10.98.1.3 53 udp"
	"udp-5555 10.1.0.1 $D4 5555 udp"
	"udp-5556 10.1.0.1 $D4 5556 udp"
	"tcp-range-lo 10.1.0.1 $D4 1000 tcp"
	"tcp-range-hi 10.1.0.1 $D4 1999 tcp"
	"tcp-range-out 10.1.0.1 $D4 2000 tcp"
	"udp-list-7000 10.1.0.1 $D4 7000 udp"
	"udp-list-7001 10.1.0.1 $D4 7001 udp"
	"udp-list-7002 10.1.0.1 $D4 7002 udp"
	"sport-in 10.1.0.1 $D4 53 udp,sport:6005"
	"sport-out 10.1.0.1 $D4 53 udp,sport:6010"
	"xmas 10.1.0.1 $D4 80 flags:0x29"
	"fin-psh 10.1.0.1 $D4 80 flags:0x09"
	"syn-8080 10.1.0.1 $D4 8080 flags:0x02"
	"ack-8080 10.1.0.1 $D4 8080 flags:0x10"
	"synack-8080 10.1.0.1 $D4 8080 flags:0x12"
	"icmp-echo 10.1.0.1 $D4 0 icmp:8"
	"icmp-reply 10.1.0.1 $D4 0 icmp:0"
	"gre 10.1.0.1 $D4 0 proto:47"
	"proto-99 10.1.0.1 $D4 0 proto:99"
	"v6-src-cidr fd66::7 $D6 53 udp"
	"v6-udp-53 fd11::1 $D6 53 udp"
	"v6-ssh fd11::1 $D6 22 tcp"
	"v6-icmp-echo fd11::1 $D6 0 icmp:128"
	"v6-icmp-reply fd11::1 $D6 0 icmp:129"
	"v6-esp fd11::1 $D6 0 proto:50"
	"v6-ext8-5555 fd11::1 $D6 5555 udp,hop,dst,rt,dst,frag,dst,dst,dst"
	"v6-ext8-5556 fd11::1 $D6 5556 udp,hop,dst,rt,dst,frag,dst,dst,dst"
	"v6-ext8-ah-5555 fd11::1 $D6 5555 udp,hop,dst,rt,dst,ah,dst,dst,dst"
	"v6-ah-5555 fd11::1 $D6 5555 udp,ah"
	"v6-atomic-frag-5555 fd11::1 $D6 5555 udp,frag"
	"v6-ext11-5556 fd11::1 $D6 5556 udp,dst,dst,dst,dst,dst,dst,dst,dst,dst,dst,dst"
	"v6-unknown-ext-5556 fd11::1 $D6 5556 udp,ext:139"
	"v6-split-udp-5555 fd11::1 $D6 5555 udp,split:8"
	"v6-split-tcp-22 fd11::1 $D6 22 tcp,split:8"
	"v6-split-tcp-80 fd11::1 $D6 80 tcp,split:8"
	"v4-opts-5555 10.1.0.1 $D4 5555 udp,opts:4"
	"v4-opts-5556 10.1.0.1 $D4 5556 udp,opts:4"
	"v4-split-udp-5555 10.1.0.1 $D4 5555 udp,split:8"
	"v4-split-tcp-22 10.1.0.1 $D4 22 tcp,split:8"
	"v4-split-tcp-80 10.1.0.1 $D4 80 tcp,split:8"
	"vlan-5555 10.1.0.1 $D4 5555 udp,vlan:5"
	"vlan-5556 10.1.0.1 $D4 5556 udp,vlan:5"
	"qinq-5555 10.1.0.1 $D4 5555 udp,qinq:5,vlan:6"
	"v4-cut-header 10.1.0.1 $D4 5556 udp,cut:12"
	"v6-cut-header fd11::1 $D6 5556 udp,cut:30"
)

# test_ct's frames, from the sender's own address (SPORT: a port per run,
# so no run meets the connections of another), besides real TCP (ct_probes)
CT_CASES=(
	"ct-syn-8080 10.98.1.1 $D4 8080 tcp,sport:SPORT"
	"ct-syn-8081 10.98.1.1 $D4 8081 tcp,sport:SPORT"
	"ct-bare-ack-8081 10.98.1.1 $D4 8081 flags:0x10,sport:SPORT"
	"ct-syn-fin-8080 10.98.1.1 $D4 8080 flags:0x03,sport:SPORT"
)
CASESET=CASES # the frames of the running test

# Differences by design: KNOWN[policy:place:case:part] = why (part: first,
# or later for a later fragment).
declare -A KNOWN
AH="nft stops at an AH header (its l4proto is ah), so its port rules never see the UDP header behind it; lbpf walks AH to the UDP header"
HIP="lbpf does not walk header 139 (HIP), so the UDP port is unknown and a port rule gives the unparsed verdict (drop); nft takes 139 for the transport protocol and no rule matches"
DEEP="lbpf walks 10 extension headers, so the UDP port is unknown and a port rule gives the unparsed verdict (drop); nft walks them all and no rule matches"
TINY="the first fragment holds 8 bytes of TCP: lbpf needs the whole header (the flags) and gives the unparsed verdict (drop); nft reads the ports it has and, with the flags out of reach, matches no rule"
QINQ="after the kernel strips the outer tag, nft's netdev family sees an 802.1Q frame, not IP, and matches no rule; lbpf walks the second tag to the UDP header"
LATER="a later fragment has no ports: nft matches no rule and the policy drops it; lbpf gives it the fragment verdict (pass by default: the first fragment was judged with its ports), as fw:unparsed documents"
for place in input prerouting ingress xdp; do
	KNOWN[deny:$place:v6-ah-5555:first]=$AH
	KNOWN[deny:$place:v6-ext8-ah-5555:first]=$AH
	KNOWN[deny:$place:v6-unknown-ext-5556:first]=$HIP
	KNOWN[deny:$place:v6-ext11-5556:first]=$DEEP
	KNOWN[deny:$place:v6-split-tcp-80:first]=$TINY
	KNOWN[allow:$place:v6-split-udp-5555:later]=$LATER
	KNOWN[allow:$place:v6-split-tcp-22:later]=$LATER
	KNOWN[allow:$place:v6-split-tcp-80:later]=$LATER
done
for place in prerouting ingress xdp; do # at input, IPv4 is reassembled first
	KNOWN[deny:$place:v4-split-tcp-80:first]=$TINY
	KNOWN[allow:$place:v4-split-udp-5555:later]=$LATER
	KNOWN[allow:$place:v4-split-tcp-22:later]=$LATER
	KNOWN[allow:$place:v4-split-tcp-80:later]=$LATER
done
KNOWN[deny:ingress:qinq-5555:first]=$QINQ
for place in ct-tc ct-xdp; do
	KNOWN[ct:$place:ct-syn-fin-8080:first]="SYN with FIN is conntrack's invalid, which nft sees at input; at tc and XDP lbpf looks the packet up (bpf_skb/xdp_ct_lookup), finds no connection and calls it new, so the port rule passes it"
done
KNOWN[deny:xdp:qinq-5555:first]="nft's netdev ingress sees an 802.1Q frame once the kernel stripped the outer tag, not IP, and matches no rule; lbpf's XDP program runs before that and walks both tags to the UDP header"
for place in ingress xdp; do # the IP stack drops these before its hooks
	KNOWN[deny:$place:v4-cut-header:first]="an IPv4 header cut short: nft cannot read it and matches no rule (the IP stack drops it later); lbpf gives it the unparsed verdict (drop), as for any IP header it cannot read"
	KNOWN[deny:$place:v6-cut-header:first]="an IPv6 header cut short: ${KNOWN[deny:$place:v4-cut-header:first]#*: }"
done

# nft_hook PLACE: the nft hook a place compares lbpf with (ct-tc and
# ct-xdp: lbpf's conntrack lookups at tc and XDP against nft's ct at input).
nft_hook() {
	case $1 in
	ingress | xdp) echo ingress ;;
	ct-tc | ct-xdp) echo input ;;
	*) echo "$1" ;;
	esac
}

# observe PLACE: the observer table, which adds the source MAC of every
# frame that gets past the filter under test to the set "seen".
observe() {
	local family=inet hook="type filter hook $(nft_hook "$1") priority 500;"
	if [ "$(nft_hook "$1")" = ingress ]; then
		family=netdev
		hook="type filter hook ingress device r0 priority 100;"
	fi
	$R nft -f - <<-EOF
	table $family obs {
		set seen { type ether_addr; flags dynamic; size 65535; }
		chain c { $hook update @seen { ether saddr }; }
	}
	EOF
}

# nft_policy POLICY PLACE: the nft ruleset.
nft_policy() {
	local -n rules=RULES_$1 default=DEFAULT_$1
	local family=inet hook="type filter hook $(nft_hook "$2") priority 0;" i
	if [ "$(nft_hook "$2")" = ingress ]; then
		family=netdev
		hook="type filter hook ingress device r0 priority 0;"
	fi
	printf 'table %s lbpft {\n\t%s\n\tchain c {\n\t\t%s policy %s;\n' "$family" \
		"$SET_NFT" "$hook" "${default[0]}"
	for ((i = 0; i < ${#rules[@]}; i += 2)); do printf '\t\t%s\n' "${rules[i]}"; done
	printf '\t}\n}\n'
}

# lbpf_policy POLICY PLACE: the lbpf policy.
lbpf_policy() {
	local -n rules=RULES_$1 default=DEFAULT_$1
	local i
	case $2 in
	ingress | ct-tc)
		echo 'local fw = lbpf.filter{ hook = "tc", dev = "r0", direction = "ingress" }' ;;
	xdp | ct-xdp) echo 'local fw = lbpf.filter{ hook = "xdp", dev = "r0", mode = "native" }' ;;
	*) echo "local fw = lbpf.filter{ hook = \"netfilter\", chain = \"$2\", priority = -100 }" ;;
	esac
	echo "$SET_LBPF"
	for ((i = 1; i < ${#rules[@]}; i += 2)); do echo "fw:rule${rules[i]}"; done
	echo "fw:default(\"${default[1]}\")"
	echo 'fw:commit()'
	echo 'print("ready") io.stdout:flush()'
}

stop_lbpf() {
	[ -n "$LBPF_PID" ] && kill "$LBPF_PID" 2>/dev/null && wait "$LBPF_PID" 2>/dev/null
	LBPF_PID=
}

# send BASE: every case once, with ids BASE + index.
send() {
	local -n cases=$CASESET
	local i name src dst port shape
	for ((i = 0; i < ${#cases[@]}; i++)); do
		read -r name src dst port shape <<< "${cases[i]}"
		shape=${shape//SPORT/$((20000 + $1 + i))}
		$S "$PKT" shape s0 "$MAC" "$src" "$dst" "$port" 1 "$shape,id:$(($1 + i))" ||
			t_fail "pkt shape $name failed"
	done
}

# run PLACE WHAT BASE [POLICY]: sends every case past WHAT (none, nft or
# lbpf) at PLACE; writes "index part" lines of the frames that got through
# to $WORK/PLACE.WHAT.
run() {
	local -n cases=$CASESET
	local place=$1 what=$2 base=$3 policy=${4:-} i
	$R nft flush ruleset
	observe "$place" || t_fail "nft: cannot make the observer at $place"
	case $what in
	nft) nft_policy "$policy" "$place" > "$WORK/policy.nft"
	     $R nft -f "$WORK/policy.nft" || t_fail "nft refused the ruleset at $place" ;;
	lbpf) lbpf_policy "$policy" "$place" > "$WORK/policy.lua"
	      : > "$WORK/lbpf.out"
	      $R "$LBPF" run "$WORK/policy.lua" > "$WORK/lbpf.out" 2>&1 &
	      LBPF_PID=$!
	      # loading takes well under a second on an idle machine; 30 s for a busy one
	      for i in $(seq 600); do
		      grep -q ready "$WORK/lbpf.out" || ! kill -0 $LBPF_PID 2>/dev/null && break
		      sleep 0.05
	      done
	      grep -q ready "$WORK/lbpf.out" || t_fail "lbpf at $place: $(cat "$WORK/lbpf.out")" ;;
	esac
	send "$base"
	sleep 0.3
	$R nft -j list set "$([ "$(nft_hook "$place")" = ingress ] && echo netdev || echo inet)" obs seen |
		jq -r '.nftables[].set.elem[]? | if type == "object" then .elem.val else . end' |
		while IFS=: read -r m0 m1 m2 m3 hi lo; do
			# the frames sent here, not the sender's own IPv6 chatter
			[ "$m0:$m1:$m2:$m3" = 02:00:4c:42 ] || continue
			i=$(((16#$hi$lo & 0x7fff) - base))
			[ $i -ge 0 ] && [ $i -lt ${#cases[@]} ] || continue
			echo "$i $((16#$hi & 0x80 ? 1 : 0))"
		done | sed 's/ 0$/ first/; s/ 1$/ later/' | sort -n > "$WORK/$place.$what$policy"
	[ "$CASESET" != CT_CASES ] || ct_probes > "$WORK/$place.$what$policy.tcp"
	stop_lbpf
	$R nft flush ruleset
}

# compare POLICY PLACE: the verdicts of nft and lbpf on the frames that
# reach PLACE.
compare() {
	local -n cases=$CASESET
	local policy=$1 place=$2 bad= seen=0 passed_nft=0 i part name key nv lv
	while read -r i part; do
		name=${cases[i]%% *}
		key=$policy:$place:$name:$part
		seen=$((seen + 1))
		nv=drop lv=drop
		grep -qx "$i $part" "$WORK/$place.nft$policy" && nv=pass &&
			passed_nft=$((passed_nft + 1))
		grep -qx "$i $part" "$WORK/$place.lbpf$policy" && lv=pass
		[ -z "${ORACLE_VERBOSE:-}" ] || printf '#   %-10s %-22s %-5s nft %-4s lbpf %s\n' \
			"$place" "$name" "$part" "$nv" "$lv"
		if [ "$nv" != "$lv" ] && [ -n "${KNOWN[$key]:-}" ]; then
			echo "# $policy $place $name ($part): nft $nv, lbpf $lv, by design: ${KNOWN[$key]}"
		elif [ "$nv" != "$lv" ]; then
			bad+="$name ($part): nft $nv, lbpf $lv; "
		elif [ -n "${KNOWN[$key]:-}" ]; then
			bad+="$name ($part): both $nv, but documented as differing; "
		fi
	done < "$WORK/$place.none"
	echo "# $policy $place: $seen frames reached the hook, nft passed $passed_nft"
	[ "$seen" -ge $((${#cases[@]} * 4 / 5)) ] || t_fail "only $seen frames reached $place"
	[ "$passed_nft" -gt 0 ] && [ "$passed_nft" -lt "$seen" ] ||
		t_fail "nft passed $passed_nft of $seen at $place: the observer or the ruleset is broken"
	for key in "${!KNOWN[@]}"; do
		[[ $key == $policy:$place:* ]] || continue
		name=${key#*:*:}
		name=${name%:*}
		for ((i = 0; i < ${#cases[@]}; i++)); do [ "${cases[i]%% *}" = "$name" ] && break; done
		grep -qx "$i ${key##*:}" "$WORK/$place.none" ||
			bad+="$name (${key##*:}): documented as differing, but it never reached $place; "
	done
	[ -z "$bad" ] || t_fail "$policy at $place: $bad"
}

# check_place PLACE N: the runs at PLACE, with ids from N * 500 + 100.
check_place() {
	local base=$(($2 * 500 + 100)) policy
	run "$1" none $base
	for policy in deny allow; do
		run "$1" nft $((base += 100)) $policy
		run "$1" lbpf $((base += 100)) $policy
	done
	for policy in deny allow; do compare $policy "$1"; done
}

test_input() { check_place input 0; }
test_prerouting() { check_place prerouting 1; }
test_ingress() { check_place ingress 2; }
test_xdp() { check_place xdp 3; }

# ct_probes: real TCP through the filter at input: to the allowed port, to
# another port with a listener, and out from ${P}r (its SYN-ACK comes in);
# UDP out from ${P}r to a closed port, IPv4 and IPv6, whose ICMP port
# unreachable comes in as conntrack's "related".
ct_probes() {
	echo "connect-8080 $($S "$PKT" tcp-connect 10.98.1.2 8080 1000)"
	echo "connect-8081 $($S "$PKT" tcp-connect 10.98.1.2 8081 500)"
	echo "outbound-9090 $($R "$PKT" tcp-connect 10.98.1.1 9090 1000)"
	echo "refused-7777 $($R "$PKT" udp-refused 10.98.1.1 7777 1000)"
	echo "refused6-7777 $($R "$PKT" udp-refused fd98:1::1 7777 1000)"
}

# Connection state at input: crafted frames (a SYN is new; a bare ACK
# without a connection is new too, as conntrack picks up connections
# mid-stream; SYN with FIN is invalid) and real TCP, whose answers need the
# established state.
test_ct() {
	local place base=2000 w
	CASESET=CT_CASES
	$R "$PKT" tcp-listen 8080 60 & $R "$PKT" tcp-listen 8081 60 & $S "$PKT" tcp-listen 9090 60 &
	sleep 0.2
	for place in input ct-tc ct-xdp; do
		run $place none $((base += 100))
		run $place nft $((base += 100)) ct
		run $place lbpf $((base += 100)) ct
		compare ct $place
		w=$WORK/$place
		[ "$(cat "$w.none.tcp")" = "$(printf '%s\n' "connect-8080 ok" "connect-8081 ok" \
			"outbound-9090 ok" "refused-7777 refused" "refused6-7777 refused")" ] ||
			t_fail "$place without a filter: $(cat "$w.none.tcp")"
		[ "$(cat "$w.nftct.tcp")" = "$(printf '%s\n' "connect-8080 ok" "connect-8081 fail" \
			"outbound-9090 ok" "refused-7777 refused" "refused6-7777 refused")" ] ||
			t_fail "$place: nft's stateful policy: $(cat "$w.nftct.tcp")"
		[ "$(cat "$w.lbpfct.tcp")" = "$(cat "$w.nftct.tcp")" ] ||
			t_fail "$place: real TCP: nft $(cat "$w.nftct.tcp"), lbpf $(cat "$w.lbpfct.tcp")"
		echo "# ct $place: real TCP as nft: $(tr '\n' ' ' < "$w.lbpfct.tcp")"
	done
}

t_need_root
t_cleanup cleanup
[ -x "$PKT" ] || { echo "SKIP nft_oracle: $PKT not built"; exit 0; }
for tool in nft jq; do
	command -v $tool > /dev/null ||
		{ echo "SKIP nft_oracle: $tool not installed (scripts/deps.sh installs it)"; exit 0; }
done
WORK=$(mktemp -d)
setup || { echo "FAIL nft_oracle/setup: cannot create namespaces and veth pairs"; exit 0; }
for t in ${ORACLE_TESTS:-input prerouting ingress xdp ct}; do
	t_run "nft_oracle/$t" "test_$t"
done
