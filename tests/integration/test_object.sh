#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpf.object's programs at the packet hooks, with real traffic, only inside
# namespaces made here:  lbpf-oa (10.98.1.1, a0) -- veth -- lbpf-ob (10.98.1.2)
# The sample object (tests/bpf/sample.bpf.c, compiled here with clang) counts
# packets in a .bss global from XDP on a0, tc ingress on a0 and a netfilter
# input hook in lbpf-oa; each run sends 20 UDP datagrams from lbpf-ob and
# wants all 20 counted. And bpftool as an independent oracle of the typed map
# views: what Lua writes, bpftool dumps; what bpftool writes, Lua reads. And
# an lbpfd of its own (/tmp/lbpf-test-object): a trusted policy's object,
# maps, programs and link show in the pinned objects map with the kernel's
# ids; a sandboxed policy is refused lbpf.object.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon.sh"
daemon_folders object

PKT=$HELPERS/pkt
NSP=${LBPF_TEST_NS:-lbpf-o}
A="ip netns exec ${NSP}a"
B="ip netns exec ${NSP}b"
WORK=

TOP_PID=$$
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0 # not in the subshells of t_run
	for ns in ${NSP}a ${NSP}b; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
	daemon_kill_all
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

setup() {
	ip netns add ${NSP}a && ip netns add ${NSP}b || return 1
	ip link add a0 netns ${NSP}a type veth peer name b0 netns ${NSP}b || return 1
	$A ip addr add 10.98.1.1/24 dev a0 && $B ip addr add 10.98.1.2/24 dev b0
	$A ip link set lo up && $B ip link set lo up
	$A ip link set a0 up && $B ip link set b0 up
}

# hook NAME ATTACH-OPTIONS: attaches the program in lbpf-oa, sends 20
# datagrams into it from lbpf-ob, wants them all counted, and no more
# after the link is detached.
hook() {
	local prog=$1 opts=$2
	cat > "$WORK/hook.lua" <<EOF
local obj = lbpf.object("$WORK/sample.bpf.o")
local link = obj.progs.$prog:attach$opts
os.execute("ip netns exec ${NSP}b $PKT udp-send 10.98.1.1 7000 20 >/dev/null")
local n = obj.bss.packets
link:detach()
os.execute("ip netns exec ${NSP}b $PKT udp-send 10.98.1.1 7000 5 >/dev/null")
print(n, obj.bss.packets, tostring(link))
EOF
	local out
	out=$($A timeout 30 "$LBPF" run "$WORK/hook.lua" 2>&1) || t_fail "lbpf: $out"
	set -- $out
	# an ARP exchange may come too, before the first datagram
	[ "${1:-0}" -ge 20 ] && [ "${1:-0}" -le 24 ] ||
		t_fail "counted ${1:-nothing} packets for 20 datagrams: $out"
	[ "${2:-}" = "$1" ] || t_fail "counted ${2:-?} after detach (want $1): $out"
}

test_xdp() { hook count_xdp '{ xdp = "a0" }'; }
test_xdp_generic() { hook count_xdp '{ xdp = "a0", mode = "generic" }'; }
test_tc() { hook count_tc '{ tc = "a0", direction = "ingress" }'; }
test_netfilter() { hook count_nf '{ netfilter = "input", family = "ipv4", priority = -50 }'; }

# The wrong program type at a hook, and a second XDP program on a device.
test_refusals() {
	local out
	cat > "$WORK/bad.lua" <<EOF
local obj = lbpf.object("$WORK/sample.bpf.o")
print(select(2, pcall(obj.progs.count_tc.attach, obj.progs.count_tc, { xdp = "a0" })))
local l = obj.progs.count_xdp:attach { xdp = "a0" }
print(select(2, pcall(obj.progs.count_xdp.attach, obj.progs.count_xdp, { xdp = "a0" })))
lbpf.exit(0) -- an attached link keeps a script running
EOF
	out=$($A timeout 20 "$LBPF" run "$WORK/bad.lua" 2>&1)
	t_expect_contains "$out" "program count_tc is of type sched_cls (section 'tc'); xdp a0 needs one of type xdp"
	t_expect_contains "$out" "attach program count_xdp to xdp a0: "
}

# bpftool dumps what Lua wrote and Lua reads what bpftool wrote.
test_bpftool_oracle() {
	local out
	command -v bpftool >/dev/null || t_skip "no bpftool"
	cat > "$WORK/oracle.lua" <<EOF
local obj = lbpf.object("$WORK/sample.bpf.o")
local m = obj.maps.by_pid
m[77] = { hits = 123456789, last_pid = 42, comm = "oracle", delta = -7, flags = 3 }
local f = io.popen("bpftool -j map dump id " .. m:id())
print("DUMP " .. f:read("a"):gsub("%s+", ""))
f:close()
-- key 88, value: hits 5, last_pid 6, comm "bt", the rest zero (40 bytes)
local hex = "05 00 00 00 00 00 00 00 06 00 00 00 62 74" .. (" 00"):rep(26)
os.execute("bpftool map update id " .. m:id() .. " key hex 58 00 00 00 value hex " .. hex)
local v = m[88]
print("READ", v and v.hits, v and v.last_pid, v and v.comm)
EOF
	out=$(timeout 30 "$LBPF" run "$WORK/oracle.lua" 2>&1) || t_fail "lbpf: $out"
	t_expect_contains "$out" '"key":77' "bpftool's dump"
	t_expect_contains "$out" '"hits":123456789,"last_pid":42,"comm":"oracle","delta":-7,"flags":3' \
		"bpftool's dump"
	t_expect_contains "$out" "READ	5	6	bt" "Lua's read of bpftool's write"
}

# lbpfd mirrors the object, its maps, programs and links into its pinned
# objects map; their ids are the kernel's.
test_daemon_objects() {
	local out prog link
	mkdir -p "$W"
	daemon_launch
	cat > "$W/objpol.lua" <<EOF
local obj = lbpf.object("$WORK/sample.bpf.o")
obj.progs.on_exec:attach()
EOF
	out=$("$LBPF" load --trusted "$W/objpol.lua" 2>&1) || t_fail "load: $out"
	out=$("$LBPF" list --offline --json)
	for kind in lbpf.object lbpf.object.map lbpf.object.prog lbpf.object.link; do
		t_expect_contains "$out" "\"kind\":\"$kind\"" "the objects map"
	done
	out=$(echo "$out" | grep -o '{"kind":"lbpf.object.link"[^}]*}' | head -1)
	prog=$(echo "$out" | grep -o '"prog_id":[0-9]*' | cut -d: -f2)
	link=$(echo "$out" | grep -o '"link_id":[0-9]*' | cut -d: -f2)
	[ "${prog:-0}" -gt 0 ] && [ "${link:-0}" -gt 0 ] || t_fail "link entry without ids: $out"
	bpftool link show id "$link" | grep -q "prog $prog" ||
		t_fail "link $link does not run prog $prog: $(bpftool link show id "$link" 2>&1)"
	"$LBPF" unload objpol >/dev/null || t_fail "unload failed"
	cp "$W/objpol.lua" "$W/boxed.lua"
	out=$("$LBPF" load "$W/boxed.lua" 2>&1) && t_fail "a sandboxed policy loaded an object"
	t_expect_contains "$out" "lbpf.object: not available to a sandboxed policy" "the refusal"
}

t_need_root
command -v clang >/dev/null || { echo "SKIP object: no clang"; exit 0; }
WORK=$(mktemp -d)
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$LBPF_TOP/vmlinux/x86" \
	-c "$LBPF_TOP/tests/bpf/sample.bpf.c" -o "$WORK/sample.bpf.o" ||
	{ echo "FAIL object/compile: clang failed"; exit 1; }
setup || { echo "FAIL object/setup: cannot create namespaces and veth pairs"; exit 1; }
t_run object/xdp test_xdp
t_run object/xdp_generic test_xdp_generic
t_run object/tc test_tc
t_run object/netfilter test_netfilter
t_run object/refusals test_refusals
t_run object/bpftool_oracle test_bpftool_oracle
t_run object/daemon_objects test_daemon_objects
