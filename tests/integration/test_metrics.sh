#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpfd's /metrics, checked by Prometheus's own promtool (an implementation
# nobody here wrote): the page passes `promtool check metrics` with policies
# that declare metrics whose help has newlines, backslashes and 3000 bytes,
# and each of those shows as one escaped HELP line.
#
# The daemon runs on its own socket, state and bpffs folders.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-metrics
BPFFS=/sys/fs/bpf/lbpf-test-metrics
SOCK=$W/lbpfd.sock
PORT=$((19100 + $$ % 300))
LBPFD=${LBPFD:-$BUILD/lbpfd}
export LBPF_SOCKET=$SOCK LBPF_BPFFS=$BPFFS
PATH=$BUILD/tools:$PATH # scripts/deps.sh puts promtool there

cleanup() {
	local pid
	for pid in $(cat "$W/lbpfd.pid" 2>/dev/null); do
		grep -q lbpfd "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

start() {
	local i
	mkdir -p "$W"
	"$LBPFD" --socket "$SOCK" --state-dir "$W/state" --bpffs "$BPFFS" \
		--metrics "127.0.0.1:$PORT" >>"$W/lbpfd.log" 2>&1 &
	echo $! >> "$W/lbpfd.pid"
	for i in $(seq 100); do
		"$LBPF" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	t_fail "lbpfd did not answer within 5 s: $(tail -5 "$W/lbpfd.log")"
}

test_promtool() {
	command -v promtool >/dev/null ||
		t_skip "no promtool (scripts/deps.sh takes it from Debian's prometheus package)"
	command -v curl >/dev/null || t_fail "no curl (scripts/deps.sh installs it)"
	t_need_root
	start
	cat > "$W/odd.lua" <<'LUA'
local long = ("0123456789"):rep(300)
local c = lbpf.metric.counter("odd_events_total", "first line\nsecond \\ line " .. long)
local g = lbpf.metric.gauge("odd_level", "a \"quoted\" help")
c:inc(3)
g:set(-1.5)
lbpf.every(1000, function() end)
LUA
	cat > "$W/plain.lua" <<'LUA'
local c = lbpf.metric.counter("plain_ticks_total", "ticks")
lbpf.every(1000, function() c:inc() end)
LUA
	"$LBPF" load "$W/odd.lua" >/dev/null || t_fail "load odd.lua failed"
	"$LBPF" load "$W/plain.lua" >/dev/null || t_fail "load plain.lua failed"
	curl -sf "http://127.0.0.1:$PORT/metrics" > "$W/metrics" || t_fail "curl failed"
	promtool check metrics < "$W/metrics" > "$W/promtool" 2>&1 ||
		t_fail "promtool check metrics: $(head -5 "$W/promtool")"
	grep -qx '# HELP odd_events_total first line\\nsecond \\\\ line 0123456789.*0123456789' \
		"$W/metrics" || t_fail "the long help is not one escaped line: $(grep -n odd_events "$W/metrics" | cut -c1-200)"
	grep -qx 'odd_events_total{policy="odd"} 3' "$W/metrics" ||
		t_fail "no odd_events_total sample: $(grep odd_events "$W/metrics" | cut -c1-200)"
	grep -qx 'odd_level{policy="odd"} -1.5' "$W/metrics" || t_fail "no odd_level sample"
	grep -q '^plain_ticks_total{policy="plain"} ' "$W/metrics" || t_fail "no plain_ticks_total sample"
}

t_run metrics/promtool test_promtool
