#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The shipped systemd unit (scripts/lbpfd.service): systemd's own checker
# accepts it, and systemd's offline security review rates its exposure at
# most 4.9 ("OK"), the figure the README states. Nothing is started: the unit
# is checked as a file, with ExecStart pointed at the built lbpfd.
. "$(dirname "$0")/../lib.sh"

W=
cleanup() { [ -z "$W" ] || rm -rf "$W"; }
t_cleanup cleanup
W=$(mktemp -d)

unit() {
	command -v systemd-analyze >/dev/null || t_skip "systemd-analyze is not installed (Debian's systemd package)"
	sed "s|/usr/local/bin/lbpfd|$BUILD/lbpfd|" "$LBPF_TOP/scripts/lbpfd.service" > "$W/lbpfd.service"
}

test_verify() {
	unit
	out=$(systemd-analyze verify --man=no "$W/lbpfd.service" 2>&1) || t_fail "verify: $out"
	[ -z "$out" ] || t_fail "verify warned: $out"
}

test_security() {
	unit
	out=$(systemd-analyze security --offline=true --no-pager "$W/lbpfd.service" 2>&1) ||
		t_fail "security review failed: $(echo "$out" | tail -3)"
	level=$(echo "$out" | sed -n 's/.*Overall exposure level for lbpfd.service: \([0-9.]*\).*/\1/p')
	[ -n "$level" ] || t_fail "no exposure level in: $(echo "$out" | tail -2)"
	echo "# exposure $level (systemd $(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'))"
	awk -v l="$level" 'BEGIN { exit !(l <= 4.9) }' || t_fail "exposure $level is above 4.9"
}

t_run service_verify test_verify
t_run service_security test_security
