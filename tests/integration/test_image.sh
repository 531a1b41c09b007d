#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The container image (scripts/image.sh) under podman, with a tracing policy
# and a filter policy loaded from a mounted policy folder, only inside
# namespaces made here:
#   lbpf-ima (10.99.7.1) -- veth -- lbpf-imr (10.99.7.2; the container, XDP on r1)
# Builds the image (or keeps the one whose inputs hash matches), checks its
# size, its default command and that dpkg's status file in it lists Debian's
# packages of the libraries; runs it privileged with the host's /sys/fs/bpf and
# /sys/kernel/tracing, in lbpf-imr's network namespace; loads both policies
# with `lbpf` in the container; checks the tracing policy counts a known number
# of getppid() calls of a host process and the filter drops one UDP port and
# passes another; kills the container and checks the filter keeps dropping
# through its pinned link; starts a second container on the same state folder
# and checks it restores both policies, adopts the pinned link (same link, new
# program) and that both work again.
#
# The container's lbpfd uses its own bpffs folder (/sys/fs/bpf/lbpf-test-image)
# and a state folder of this test's, never the host's lbpf state.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-image
BPFFS=/sys/fs/bpf/lbpf-test-image
IMAGE=localhost/lbpf-test-image
C1=lbpf-test-image
C2=lbpf-test-image2
PKT=$HELPERS/pkt
A="ip netns exec lbpf-ima"
# Where podman may not raise rlimits (no CAP_SYS_RESOURCE, as in this
# project's sandbox) it needs limits at or below the current ones; runc,
# because it is what Debian's podman has here.
PODMAN_RUN=(podman run --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

TOP_PID=$$
cleanup() {
	local ns c
	[ "$BASHPID" = "$TOP_PID" ] || return 0 # not in the subshells of t_run
	# one name a call: podman 4.3 removes none of several if one is missing
	if command -v podman >/dev/null; then
		for c in "$C1" "$C2" lbpf-test-image-try; do
			podman rm -f -t 0 "$c" >/dev/null 2>&1
		done
	fi
	for ns in lbpf-ima lbpf-imr; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

setup() {
	mkdir -p "$W/policies" "$W/state"
	chmod 0700 "$W/state" # lbpfd trusts a state folder root alone can write
	ip netns add lbpf-ima && ip netns add lbpf-imr || return 1
	ip link add a0 netns lbpf-ima type veth peer name r1 netns lbpf-imr || return 1
	$A ip addr add 10.99.7.1/24 dev a0 || return 1
	ip netns exec lbpf-imr ip addr add 10.99.7.2/24 dev r1 || return 1
	$A ip link set lo up && $A ip link set a0 up &&
		ip netns exec lbpf-imr ip link set lo up && ip netns exec lbpf-imr ip link set r1 up
	# the workload under a name of its own, so the count is exactly its own
	cp "$HELPERS/getppid_loop" "$W/lbpf-img-gpp"
	cat > "$W/policies/calls.lua" <<'EOF'
-- counts getppid() of the test's workload, in the kernel; prints each change
local p = lbpf.tracepoint("syscalls:sys_enter_getppid",
	{ filter = { comm = "lbpf-img-gpp" }, count = "comm" })
local last = 0
lbpf.every(100, function()
	local n = p:counts()["lbpf-img-gpp"] or 0
	if n ~= last then print("getppid calls: " .. n); last = n end
end)
print("calls ready")
EOF
	cat > "$W/policies/fw.lua" <<'EOF'
fw = lbpf.filter{ hook = "xdp", dev = "r1", mode = "native" }
fw:rule{ proto = "udp", dport = 5000, action = "drop" }
print("filter ready")
EOF
}

# run_container NAME: the image's lbpfd (on the test's bpffs folder) in
# lbpf-imr, privileged, with bpffs, tracefs, the state and policy folders.
run_container() {
	"${PODMAN_RUN[@]}" -d --name "$1" --privileged --network ns:/run/netns/lbpf-imr \
		-v /sys/fs/bpf:/sys/fs/bpf -v /sys/kernel/tracing:/sys/kernel/tracing \
		-v "$W/state:/var/lib/lbpf" -v "$W/policies:/etc/lbpf/policies.d:ro" \
		"$IMAGE" lbpfd --foreground --bpffs "$BPFFS" --policy-dir /etc/lbpf/policies.d >/dev/null ||
		t_fail "podman run $1 failed"
	local i
	for i in $(seq 100); do
		podman exec "$1" lbpf status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	t_fail "lbpfd in $1 did not answer within 10 s: $(podman logs "$1" 2>&1 | tail -5)"
}

# cx NAME CMD...: CMD in container NAME.
cx() { local c=$1; shift; podman exec "$c" "$@"; }

# wait_list CONTAINER NAME TEXT: up to 10 s until NAME's `lbpf list` line has TEXT.
wait_list() {
	local i
	for i in $(seq 100); do
		cx "$1" lbpf list 2>/dev/null | grep -A1 "^$2 " | grep -q "$3" && return 0
		sleep 0.1
	done
	t_fail "policy $2 never showed '$3' in $1: $(cx "$1" lbpf list 2>&1 | head -20)"
}

# expect_count CONTAINER N: the tracing policy logs N getppid() calls (5 s).
expect_count() {
	local i
	for i in $(seq 50); do
		cx "$1" lbpf logs calls 2>/dev/null | grep -qx "getppid calls: $2" && return 0
		sleep 0.1
	done
	t_fail "calls in $1 never logged $2 calls: $(cx "$1" lbpf logs calls 2>&1 | tail -3)"
}

# udp PORT: how many of 100 datagrams from lbpf-ima reach lbpf-imr's PORT.
udp() {
	local out=$W/recv.$1 pid i
	ip netns exec lbpf-imr "$PKT" udp-recv "$1" 1.5 > "$out" &
	pid=$!
	for i in $(seq 50); do grep -q ready "$out" && break; sleep 0.05; done
	$A "$PKT" udp-send 10.99.7.2 "$1" 100 2000
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

LINK=$BPFFS/filters/fw/0/link

# "LINK_ID PROG_ID" of the pinned link.
link_ids() { bpftool link show pinned "$LINK" | awk 'NR == 1 { print $1 + 0, $4 }'; }

# An earlier step's failure leaves nothing for the next to test.
need() { [ -e "$W/$1.ok" ] || t_skip "needs $1, which did not pass"; }

test_build() {
	local tool size cmd
	t_need_root
	for tool in podman mmdebstrap runc bpftool; do
		command -v $tool >/dev/null || t_skip "needs $tool (scripts/deps.sh installs it)"
	done
	mkdir -p "$W"
	bash "$LBPF_TOP/scripts/image.sh" "$IMAGE" > "$W/build.log" 2>&1 ||
		t_fail "scripts/image.sh failed: $(tail -5 "$W/build.log")"
	echo "# $(tail -1 "$W/build.log")"
	size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
	[ "$size" -le 60000000 ] || t_fail "the image is $size bytes, over 60 MB"
	cmd=$(podman image inspect --format '{{json .Config.Cmd}}' "$IMAGE")
	[ "$cmd" = '["/usr/bin/lbpfd","--foreground","--policy-dir","/etc/lbpf/policies.d"]' ] ||
		t_fail "default command $cmd"
	# can podman run containers here at all?
	local out
	out=$("${PODMAN_RUN[@]}" --rm --name lbpf-test-image-try --network none "$IMAGE" \
		lbpf --version 2>&1) || t_skip "podman cannot run a container here: $(echo "$out" | tail -2)"
	t_expect_contains "$out" "lbpf " "lbpf --version in the image"
	# the default command, on a bpffs of the container's own (it mounts one on
	# the privileged container's empty /sys/fs/bpf): lbpf in the image talks to
	# it, and the host's /sys/fs/bpf/lbpf, if it has none, gets none
	local had=0
	[ -e /sys/fs/bpf/lbpf ] && had=1
	"${PODMAN_RUN[@]}" -d --name lbpf-test-image-try --privileged --network none "$IMAGE" \
		>/dev/null || t_fail "podman run with the default command failed"
	local i
	for i in $(seq 100); do
		out=$(podman exec lbpf-test-image-try lbpf status 2>&1) && break
		sleep 0.1
	done
	t_expect_contains "$out" "lbpfd 0." "lbpf status against the default command"
	# dpkg's status file lists Debian's packages of the libraries, for scanners
	podman cp lbpf-test-image-try:/var/lib/dpkg "$W/dpkg" || t_fail "no /var/lib/dpkg"
	out=$(dpkg-query --admindir="$W/dpkg" -W -f '${Package} ${db:Status-Abbrev}\n' 2>&1)
	local pkg
	for pkg in liblua5.4-0 libbpf1 libelf1 zlib1g libpcap0.8 libc6; do
		echo "$out" | grep -qx "$pkg ii " || t_fail "dpkg's status lacks $pkg: $out"
	done
	podman rm -f -t 0 lbpf-test-image-try >/dev/null
	[ $had = 1 ] || [ ! -e /sys/fs/bpf/lbpf ] ||
		t_fail "the default command without a bpffs mount pinned in the host's /sys/fs/bpf/lbpf"
	touch "$W/build.ok"
}

test_policies() {
	need build
	setup || t_fail "cannot set up the namespaces"
	run_container "$C1" # lbpfd loads the policy folder's calls.lua and fw.lua
	wait_list "$C1" calls running
	wait_list "$C1" fw running
	"$W/lbpf-img-gpp" 5000 >/dev/null
	expect_count "$C1" 5000
	expect_dropping "loaded in the container"
	touch "$W/policies.ok"
}

test_fail_static() {
	need policies
	[ -e "$LINK" ] || t_fail "no pinned link at $LINK: $(find "$BPFFS" 2>&1 | head)"
	link_ids > "$W/link.before"
	podman kill "$C1" >/dev/null || t_fail "podman kill failed"
	podman rm -f -t 0 "$C1" >/dev/null || t_fail "podman rm failed"
	expect_dropping "the container killed and removed"
	touch "$W/fail_static.ok"
}

test_adopt() {
	need fail_static
	local before after
	before=$(cat "$W/link.before")
	run_container "$C2"
	wait_list "$C2" calls running
	wait_list "$C2" fw running
	after=$(link_ids)
	[ "${after% *}" = "${before% *}" ] || t_fail "link replaced ($before -> $after), not adopted"
	[ "${after#* }" != "${before#* }" ] || t_fail "the restored policy's program is not the live one"
	expect_dropping "adopted by a new container"
	"$W/lbpf-img-gpp" 3000 >/dev/null
	expect_count "$C2" 3000
	# and unloading in the container takes the filter away
	cx "$C2" lbpf unload fw >/dev/null || t_fail "unload failed"
	[ ! -e "$BPFFS/filters/fw" ] || t_fail "pins left after unload: $(find "$BPFFS/filters")"
	[ "$(udp 5000)" = 100 ] || t_fail "port 5000 still dropped after unload"
	podman rm -f -t 0 "$C2" >/dev/null
}

t_run image_build test_build
t_run image_policies test_policies
t_run image_fail_static test_fail_static
t_run image_adopt test_adopt
