#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Standard Lua, checked against an interpreter nobody here wrote: each
# tests/lua/compat/*.lua script (not echo.lua, a helper) runs under Debian's
# lua5.4 and under `lbpf run`, and the two outputs must be the same, after
# addresses ("0x55d5...") are blanked. Covers what lbpf changes in a state:
# the hook slot (debug.sethook/gethook), coroutine.running, arg.
. "$(dirname "$0")/../lib.sh"

DIR=$LBPF_TOP/tests/lua/compat
WORK=
cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; return 0; }
t_cleanup cleanup

if ! command -v lua5.4 >/dev/null; then
	echo "SKIP lua_compat: no lua5.4 interpreter (scripts/deps.sh installs it)"
	exit 0
fi
WORK=$(mktemp -d)

normalise() { sed -e 's/0x[0-9a-f]\+/ADDR/g'; }

# compare FILE: both interpreters' output and exit status, side by side.
compare() {
	local f=$1
	lua5.4 "$f" one two > "$WORK/lua.out" 2>&1 && echo "exit 0" >> "$WORK/lua.out" ||
		echo "exit $?" >> "$WORK/lua.out"
	"$LBPF" run "$f" one two > "$WORK/lbpf.out" 2>&1 && echo "exit 0" >> "$WORK/lbpf.out" ||
		echo "exit $?" >> "$WORK/lbpf.out"
	diff <(normalise < "$WORK/lua.out") <(normalise < "$WORK/lbpf.out") > "$WORK/diff" ||
		t_fail "lbpf and lua5.4 differ (< lua5.4, > lbpf): $(head -20 "$WORK/diff")"
}

for f in "$DIR"/*.lua; do
	name=$(basename "$f" .lua)
	[ "$name" = echo ] && continue
	eval "test_$name() { compare '$f'; }"
	t_run "lua_compat/$name" "test_$name"
done
