# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
# An lbpfd of a test file's own (sourced after lib.sh): its socket, state and
# bpffs folders, never the system's.
#
#   daemon_folders NAME        W=/tmp/lbpf-test-NAME, BPFFS=/sys/fs/bpf/lbpf-test-NAME,
#                              SOCK=$W/lbpfd.sock, LBPFD; exports LBPF_SOCKET, LBPF_BPFFS
#   daemon_kill_all            kills the daemons started here (pids in $W/lbpfd.pid,
#                              each checked by name): for the file's cleanup
#   daemon_launch [PREFIX... --] [OPTION...]
#                              starts lbpfd on those folders with OPTIONs (behind
#                              PREFIX, e.g. prlimit), logging to $W/lbpfd.log, and
#                              waits 5 s for it to answer (the test fails otherwise)
#   daemon_pid                 the last lbpfd started

daemon_folders() {
	W=/tmp/lbpf-test-$1
	BPFFS=/sys/fs/bpf/lbpf-test-$1
	SOCK=$W/lbpfd.sock
	LBPFD=${LBPFD:-$BUILD/lbpfd}
	export LBPF_SOCKET=$SOCK LBPF_BPFFS=$BPFFS
}

daemon_kill_all() {
	local pid
	for pid in $(cat "$W/lbpfd.pid" 2>/dev/null); do
		grep -q lbpfd "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

daemon_launch() {
	local pre=() i
	if [[ " $* " == *" -- "* ]]; then
		while [ "$1" != -- ]; do pre+=("$1"); shift; done
		shift
	fi
	"${pre[@]}" "$LBPFD" --socket "$SOCK" --state-dir "$W/state" --bpffs "$BPFFS" "$@" \
		>>"$W/lbpfd.log" 2>&1 &
	echo $! >> "$W/lbpfd.pid"
	for i in $(seq 100); do
		"$LBPF" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	t_fail "lbpfd did not answer within 5 s: $(tail -5 "$W/lbpfd.log")"
}

daemon_pid() { tail -1 "$W/lbpfd.pid" 2>/dev/null || true; }
