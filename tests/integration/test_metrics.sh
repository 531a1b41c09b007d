#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpfd's /metrics, checked by Prometheus's own promtool (an implementation
# nobody here wrote): the page passes `promtool check metrics`, with no
# warning, while lbpfd holds a tracing policy, a packet-filter policy and
# policies that declare metrics whose help has newlines, backslashes and 3000
# bytes (each shows as one escaped HELP line); lbpf_build_info, the probes'
# and the filters' counters are there.
#
# The daemon runs on its own socket, state and bpffs folders, in a network
# namespace made here (lbpf-mtr: its filter is on that namespace's lo).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon.sh"

daemon_folders metrics
PORT=$((19100 + $$ % 300))
PATH=$BUILD/tools:$PATH # scripts/deps.sh puts promtool there

NS=lbpf-mtr
cleanup() {
	daemon_kill_all
	ip netns del $NS 2>/dev/null
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

start() {
	mkdir -p "$W"
	ip netns add $NS && ip netns exec $NS ip link set lo up || t_fail "cannot make namespace $NS"
	daemon_launch ip netns exec $NS -- --metrics "127.0.0.1:$PORT"
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
	cat > "$W/trace.lua" <<'LUA'
lbpf.tracepoint("syscalls:sys_enter_getppid", { count = "comm" })
lbpf.every(1000, function() end)
LUA
	cat > "$W/fw.lua" <<'LUA'
local fw = lbpf.filter{ hook = "xdp", dev = "lo", mode = "generic" }
fw:rule{ proto = "tcp", dport = 22, action = "count", comment = "ssh" }
fw:commit()
LUA
	local f
	for f in odd plain trace fw; do
		"$LBPF" load "$W/$f.lua" >/dev/null || t_fail "load $f.lua failed: $(tail -3 "$W/lbpfd.log")"
	done
	ip netns exec $NS curl -sf "http://127.0.0.1:$PORT/metrics" > "$W/metrics" || t_fail "curl failed"
	promtool check metrics < "$W/metrics" > "$W/promtool" 2>&1 ||
		t_fail "promtool check metrics: $(head -5 "$W/promtool")"
	[ ! -s "$W/promtool" ] || t_fail "promtool warns: $(head -5 "$W/promtool")"
	grep -q '^lbpf_build_info{version="[^"]*",lua="5\.4\.[0-9]*",libbpf="[0-9.]*"} 1$' "$W/metrics" ||
		t_fail "no lbpf_build_info: $(grep build_info "$W/metrics")"
	grep -q '^lbpf_probe_lost_total{policy="trace",probe="tracepoint:syscalls:sys_enter_getppid"} 0$' "$W/metrics" ||
		t_fail "no lost counter of the probe: $(grep lbpf_probe "$W/metrics")"
	grep -q '^lbpf_filter_packets_total{policy="fw",filter="xdp on lo",stat="passed"} ' "$W/metrics" ||
		t_fail "no filter counters: $(grep lbpf_filter "$W/metrics" | head -3)"
	grep -qx '# HELP odd_events_total first line\\nsecond \\\\ line 0123456789.*0123456789' \
		"$W/metrics" || t_fail "the long help is not one escaped line: $(grep -n odd_events "$W/metrics" | cut -c1-200)"
	grep -qx 'odd_events_total{policy="odd"} 3' "$W/metrics" ||
		t_fail "no odd_events_total sample: $(grep odd_events "$W/metrics" | cut -c1-200)"
	grep -qx 'odd_level{policy="odd"} -1.5' "$W/metrics" || t_fail "no odd_level sample"
	grep -q '^plain_ticks_total{policy="plain"} ' "$W/metrics" || t_fail "no plain_ticks_total sample"
}

t_run metrics/promtool test_promtool
