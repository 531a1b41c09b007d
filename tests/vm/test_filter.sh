#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The packet filter on the Debian guest kernels of scripts/vmtest.sh:
#  - netfilter: before Linux 6.4 (the 6.1 guest) lbpf.filter{hook="netfilter"}
#    fails with the clear "no BPF netfilter ..." message; from 6.4 (6.12) it
#    attaches, and dropped UDP does not arrive while passed UDP does.
#  - xdp: a filter attached to a veth in a namespace judges fw:test packets by
#    its rules (first match, CIDR, port range, IPv6, default) on both kernels,
#    and drops real UDP on the veth.
#  - parser: the XDP and tc programs, with the header walk of issue 10, pass
#    each guest's verifier and judge raw frames (8 IPv6 extension headers,
#    QinQ, a tiny first fragment, a cut IPv4 header, TCP flags, ICMP types).
#  - ct at xdp, tc and (6.4+) netfilter, with real TCP: with a stateful policy
#    in lbpf-vx, the connection it opens works both ways, while an unsolicited
#    SYN, a bare ACK and a SYN-ACK to a closed port get no answer (without the
#    policy, each gets one), and the ICMP port unreachable answering UDP it
#    sent comes in (related). The kernel's conntrack kfuncs come from the
#    nf_conntrack module scripts/vmtest.sh loads.
# Only namespaces made here carry traffic.
. "$(dirname "$0")/../lib.sh"

if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP filter-in-vm: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi

# scripts/vmtest.sh copies iproute2 to /usr/bin but leaves busybox's applet link
# at /usr/sbin/ip, which comes first in the guest's PATH and has no netns.
PATH=/usr/bin:$PATH
PKT=$HELPERS/pkt
W=/tmp/lbpf-test-vm-filter
X="ip netns exec lbpf-vx"
Y="ip netns exec lbpf-vy"
TOP_PID=$$
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	for ns in lbpf-vx lbpf-vy; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	rm -rf "$W"
}

# lbpf-vx (10.97.0.1, fd97::1) -- veth -- lbpf-vy (10.97.0.2, fd97::2)
setup() {
	ip netns add lbpf-vx && ip netns add lbpf-vy &&
	ip link add x0 netns lbpf-vx type veth peer name y0 netns lbpf-vy || return 1
	$X ip addr add 10.97.0.1/24 dev x0 && $Y ip addr add 10.97.0.2/24 dev y0 &&
	$X ip link set x0 up && $Y ip link set y0 up && $X ip link set lo up && $Y ip link set lo up &&
	$Y sysctl -qw net.ipv4.icmp_ratelimit=0 # ct_probe's port unreachables
}

# kernel_at_least MAJOR MINOR
kernel_at_least() {
	local v=$(uname -r) major minor
	major=${v%%.*}; minor=${v#*.}; minor=${minor%%[.-]*}
	[ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "$minor" -ge "$2" ]; }
}

# policy NS SECONDS: runs the Lua on stdin in NS in the background (exits after
# SECONDS), output in $W/out; waits for its "ready" line.
policy() {
	{ cat; echo "print('ready') io.stdout:flush()"
	  echo "lbpf.after($2 * 1000, function() if report then report() end io.stdout:flush() lbpf.exit(0) end)"
	} > "$W/policy.lua"
	ip netns exec "$1" "$LBPF" run "$W/policy.lua" > "$W/out" 2>&1 &
	POLICY_PID=$!
	for _ in $(seq 300); do
		grep -q '^ready' "$W/out" && return 0
		kill -0 $POLICY_PID 2>/dev/null || break
		sleep 0.1
	done
	t_fail "policy did not start: $(head -c 600 "$W/out")"
}

# udp_count NS_RECV NS_SEND DST PORT: how many of 20 datagrams arrive.
udp_count() {
	ip netns exec "$1" "$PKT" udp-recv "$4" 1.5 > "$W/recv" &
	local r=$!
	for _ in $(seq 50); do grep -q ready "$W/recv" && break; sleep 0.1; done
	ip netns exec "$2" "$PKT" udp-send "$3" "$4" 20 200
	wait $r
	tail -1 "$W/recv"
}

test_netfilter() {
	local out rc=0
	out=$($X "$LBPF" -e 'lbpf.filter{ hook = "netfilter", chain = "input", priority = -91 }:close()
		print("attached")' 2>&1) || rc=$?
	if ! kernel_at_least 6 4; then
		[ $rc -ne 0 ] || t_fail "netfilter hook on $(uname -r) did not fail: $out"
		t_expect_contains "$out" "no BPF netfilter" "error on $(uname -r)"
		echo "# $(uname -r): $out"
		return 0
	fi
	[ $rc -eq 0 ] || t_fail "netfilter hook on $(uname -r): $out"
	t_expect_contains "$out" attached
	policy lbpf-vy 5 <<-'EOF'
	fw = lbpf.filter{ hook = "netfilter", chain = "input", family = "inet", priority = -91 }
	r = fw:rule{ proto = "udp", dport = 5000, action = "drop" }
	function report() print("drop=" .. r:stats().packets) end
	EOF
	local dropped passed
	dropped=$(udp_count lbpf-vy lbpf-vx 10.97.0.2 5000)
	passed=$(udp_count lbpf-vy lbpf-vx 10.97.0.2 5001)
	wait $POLICY_PID || true
	[ "$dropped" = 0 ] || t_fail "$dropped of 20 dropped datagrams arrived"
	[ "$passed" = 20 ] || t_fail "$passed of 20 passed datagrams arrived"
	t_expect_contains "$(cat "$W/out")" "drop=20" "netfilter drop counter"
}

test_xdp() {
	policy lbpf-vy 5 <<-'EOF'
	fw = lbpf.filter{ hook = "xdp", dev = "y0" }
	a = fw:rule{ src = "10.97.0.0/24", dport = 22, proto = "tcp", action = "pass", comment = "ssh" }
	b = fw:rule{ proto = "tcp", dport = 22, action = "drop", comment = "other ssh" }
	c = fw:rule{ proto = "udp", dport = { 5000, 5009 }, action = "drop", comment = "udp" }
	d = fw:rule{ src = "fd97::/64", proto = "icmpv6", action = "drop", comment = "v6" }
	local function check(pkt, verdict, rule)
	  local v, r = fw:test(pkt)
	  local name = r and r:comment() or "default"
	  if v ~= verdict or name ~= rule then
	    print(string.format("FAIL %s:%s: %s by %s, want %s by %s", pkt.src, pkt.dport or "-",
	      v, name, verdict, rule))
	  end
	end
	check({ src = "10.97.0.1", proto = "tcp", dport = 22 }, "pass", "ssh")
	check({ src = "10.97.1.1", proto = "tcp", dport = 22 }, "drop", "other ssh")
	check({ src = "10.97.1.1", proto = "udp", dport = 5009 }, "drop", "udp")
	check({ src = "10.97.1.1", proto = "udp", dport = 5010 }, "pass", "default")
	check({ src = "fd97::5", dst = "fd97::1", proto = "icmpv6" }, "drop", "v6")
	check({ src = "fd98::5", dst = "fd97::1", proto = "icmpv6" }, "pass", "default")
	local tested = c:stats().packets -- fw:test runs count too
	function report() print("udp=" .. c:stats().packets - tested) end
	EOF
	$Y ip link show y0 | grep -q xdp || t_fail "no XDP program on y0: $($Y ip link show y0)"
	local dropped passed
	dropped=$(udp_count lbpf-vy lbpf-vx 10.97.0.2 5003)
	passed=$(udp_count lbpf-vy lbpf-vx 10.97.0.2 5010)
	wait $POLICY_PID || true
	! grep '^FAIL ' "$W/out" || t_fail "fw:test: $(sed -n 's/^FAIL //p' "$W/out" | head -3 | tr '\n' ';')"
	[ "$dropped" = 0 ] || t_fail "$dropped of 20 dropped datagrams arrived"
	[ "$passed" = 20 ] || t_fail "$passed of 20 passed datagrams arrived"
	t_expect_contains "$(cat "$W/out")" "udp=20" "XDP drop counter"
}

test_parser() {
	local out
	out=$("$LBPF" -e '
	local tc = lbpf.filter{ hook = "tc", attach = false }
	tc:rule{ proto = "tcp", dport = 22, action = "drop" }
	tc:commit()
	local fw = lbpf.filter{ hook = "xdp", attach = false }
	fw:rule{ proto = "tcp", dport = 22, action = "drop" }
	fw:rule{ tcp = { syn = true, ack = true }, action = "drop" }
	fw:rule{ icmp_type = "echo-request", action = "drop" }
	local function be16(n) return string.pack(">I2", n) end
	local macs = "\2\0\0\0\0\2\2\0\0\0\0\1"
	local function tcp(port, flags)
		return be16(40000) .. be16(port) .. string.rep("\0", 8) .. "\80" .. string.char(flags) ..
			be16(65535) .. "\0\0\0\0"
	end
	local function ip4(tags, proto, l4, frag)
		return macs .. tags .. be16(0x800) .. string.pack(">BBI2I2I2BBI2", 0x45, 0, 20 + #l4, 1,
			frag or 0, 64, proto, 0) .. "\10\1\1\1\10\2\2\2" .. l4
	end
	local chain, nh = tcp(22, 2), 6
	for _ = 1, 8 do chain = string.char(nh, 0, 1, 4) .. "\0\0\0\0" .. chain nh = 60 end
	local v6 = macs .. be16(0x86dd) .. string.pack(">I4I2BB", 0x60000000, #chain, nh, 64) ..
		string.rep("\32", 32) .. chain
	local qinq = be16(0x88a8) .. be16(100) .. be16(0x8100) .. be16(10)
	local cases = {
		{ "8 ext headers", v6, "drop", "rule" },
		{ "qinq", ip4(qinq, 6, tcp(22, 2)), "drop", "rule" },
		{ "qinq 80", ip4(qinq, 6, tcp(80, 2)), "pass", "default" },
		{ "tiny first fragment", ip4("", 6, tcp(22, 2):sub(1, 8), 0x2000), "drop", "unparsed" },
		{ "later fragment", ip4("", 6, tcp(22, 2), 3), "pass", "fragment" },
		{ "cut ipv4", macs .. be16(0x800) .. "\69\0\0\40", "drop", "unparsed" },
		{ "syn-ack", ip4("", 6, tcp(80, 0x12)), "drop", "rule" },
		{ "ping", ip4("", 1, "\8\0\0\0\0\0\0\0"), "drop", "rule" },
		{ "pong", ip4("", 1, "\0\0\0\0\0\0\0\0"), "pass", "default" },
	}
	for _, c in ipairs(cases) do
		local v, _, _, why = fw:test(c[2])
		print((v == c[3] and why == c[4] and "ok " or "bad ") .. c[1] .. ": " .. v .. " " .. why)
	end' 2>&1) || t_fail "$out"
	echo "$out" | sed 's/^/# /'
	! echo "$out" | grep -q '^bad ' || t_fail "$(echo "$out" | grep '^bad ' | head -3 | tr '\n' ';')"
	[ "$(echo "$out" | grep -c '^ok ')" = 9 ] || t_fail "not all cases ran: $out"
}

# ct_probe TALK SYN RAW WHAT: what each probe of lbpf-vx's firewall gives.
ct_probe() {
	local got
	got=$($X "$PKT" tcp-talk 10.97.0.2 7000 1500)
	[ "$got" = "$1" ] || t_fail "$4: the connection lbpf-vx opens: $got, want $1"
	got=$($Y "$PKT" tcp-connect 10.97.0.1 7001 700)
	[ "$got" = "$2" ] || t_fail "$4: an unsolicited SYN: $got, want $2"
	got=$($Y "$PKT" tcp-raw 10.97.0.1 7001 A 700)
	[ "$got" = "$3" ] || t_fail "$4: a bare ACK: $got, want $3"
	got=$($Y "$PKT" tcp-raw 10.97.0.1 7002 SA 700)
	[ "$got" = "$3" ] || t_fail "$4: a SYN-ACK to a closed port: $got, want $3"
	got=$($X "$PKT" udp-refused 10.97.0.2 7777 700)
	[ "$got" = refused ] || t_fail "$4: the port unreachable (related) for UDP lbpf-vx sent: $got"
}

test_ct() {
	local hook=$1 where echo_pid listen_pid
	case $hook in
	xdp) where='hook = "xdp", dev = "x0"' ;;
	tc) where='hook = "tc", dev = "x0"' ;;
	netfilter)
		kernel_at_least 6 4 || t_skip "no BPF netfilter links before Linux 6.4"
		where='hook = "netfilter", chain = "input", priority = -91' ;;
	esac
	$Y "$PKT" tcp-echo 7000 20 > "$W/echo" &
	echo_pid=$!
	$X "$PKT" tcp-listen 7001 20 &
	listen_pid=$!
	# t_fail ends this subshell: its servers and policy go with it
	trap "kill $echo_pid $listen_pid \${POLICY_PID:-} 2>/dev/null || true" EXIT
	for _ in $(seq 50); do grep -q ready "$W/echo" && break; sleep 0.1; done
	ct_probe ok ok reply "no filter"
	policy lbpf-vx 10 <<-EOF
	fw = lbpf.filter{ $where }
	fw:default("drop")
	est = fw:rule{ ct = { "established", "related" }, action = "pass" }
	fw:rule{ ct = "new", proto = "tcp", tcp = "syn", dport = 22, action = "pass" }
	function report() print("established=" .. est:stats().packets) end
	EOF
	ct_probe ok fail none "$hook with ct rules"
	wait $POLICY_PID || true
	kill $echo_pid $listen_pid 2>/dev/null || true # a server may have ended already
	wait $echo_pid $listen_pid 2>/dev/null || true
	grep -q '^established=[1-9]' "$W/out" || t_fail "the ct rule matched nothing: $(head -c 400 "$W/out")"
	echo "# $(uname -r): ct at $hook works"
}

test_ct_xdp() { test_ct xdp; }
test_ct_tc() { test_ct tc; }
test_ct_netfilter() { test_ct netfilter; }

t_need_root
t_cleanup cleanup
mkdir -p "$W"
[ -x "$PKT" ] || { echo "FAIL filter-in-vm: $PKT is not in the initramfs"; exit 0; }
setup || { echo "FAIL filter-in-vm/setup: cannot create namespaces and a veth pair"; exit 0; }
for t in netfilter xdp parser ct_xdp ct_tc ct_netfilter; do
	t_run "filter/$t" "test_$t"
done
