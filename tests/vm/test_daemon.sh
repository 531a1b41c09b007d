#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpfd inside the guests of scripts/vmtest.sh (Debian 6.1 and 6.12): a policy
# with a kprobe (the CI kernel has none) loads and counts in the daemon, and
# its program, which carries the runtime's id, passes these kernels' verifiers
# and consults the pinned runtimes map: marked stopped, the policy gets no
# events; marked running again, they flow. Unload leaves no link behind.
. "$(dirname "$0")/../lib.sh"

if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP daemon-in-vm: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi

W=/tmp/lbpf-test-vm-daemon
BPFFS=/sys/fs/bpf/lbpf-vm-daemon
export LBPF_SOCKET=$W/lbpfd.sock LBPF_BPFFS=$BPFFS

cleanup() {
	[ -e "$W/lbpfd.pid" ] && kill -KILL "$(cat "$W/lbpfd.pid")" 2>/dev/null
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup
mkdir -p "$W"

# policy_number NAME FIELD: a number of NAME's entry in `lbpf list --json`.
policy_number() {
	"$LBPF" list --json | grep -o "\"name\":\"$1\"[^}]*" | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

# calls N: N getppid() calls, then waits for the drain timer.
calls() {
	"$HELPERS/getppid_loop" "$1" >/dev/null
	sleep 0.5
}

test_kprobe_policy_gate() {
	t_need_root
	grep -qw __x64_sys_getppid /proc/kallsyms || t_skip "no __x64_sys_getppid in this kernel"
	local i out e1 e2 e3
	"$BUILD/lbpfd" --socket "$LBPF_SOCKET" --state-dir "$W/state" --bpffs "$BPFFS" \
		>"$W/lbpfd.log" 2>&1 &
	echo $! > "$W/lbpfd.pid"
	for i in $(seq 100); do "$LBPF" status >/dev/null 2>&1 && break; sleep 0.1; done
	"$LBPF" status >/dev/null 2>&1 || t_fail "lbpfd did not start: $(tail -5 "$W/lbpfd.log")"
	cat > "$W/kp.lua" <<'EOF'
lbpf.kprobe("__x64_sys_getppid", { filter = { comm = "getppid_loop" } }, function() end)
EOF
	out=$("$LBPF" load "$W/kp.lua" 2>&1) || t_fail "load: $out $(tail -5 "$W/lbpfd.log")"
	calls 300
	e1=$(policy_number kp events)
	[ "${e1:-0}" -ge 300 ] || t_fail "events: ${e1:-none}, want >= 300"
	[ "$("$HELPERS/runtime_state" "$BPFFS/runtimes" kp 2)" = 1 ] || t_fail "no runtime entry kp"
	calls 300
	e2=$(policy_number kp events)
	[ "$e2" = "$e1" ] || t_fail "a stopped runtime got events: $e1 -> $e2"
	"$HELPERS/runtime_state" "$BPFFS/runtimes" kp 1 >/dev/null
	calls 300
	e3=$(policy_number kp events)
	[ "$e3" -ge $((e2 + 300)) ] || t_fail "events once running again: $e2 -> $e3"
	"$LBPF" unload kp >/dev/null || t_fail "unload failed"
	[ "$(grep -h '^link_id:' /proc/"$(cat "$W/lbpfd.pid")"/fdinfo/* 2>/dev/null | wc -l)" = 0 ] ||
		t_fail "lbpfd still holds links after unload"
	kill -TERM "$(cat "$W/lbpfd.pid")"
}

t_run daemon/kprobe_policy_gate test_kprobe_policy_gate
