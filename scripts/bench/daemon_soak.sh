#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpfd under a flood of hostile control clients, printed as a markdown table.
# The daemon holds TICKERS policies, each with a 10 ms lbpf.every timer that
# logs its worst lateness every 500 ms, plus one tracepoint policy. The
# benchmark reads that lateness during a quiet window and during a flood of
# the same length, and lbpfd's RSS and descriptor count before, during (the
# highest sample) and after the flood, and how long root's `lbpf list` takes
# while the flood runs. The flood (tests/helpers/ctl_flood.c) is CONNS
# connections that pipeline {"op":"status"} and never read, CONNS/4 that
# send one byte every 100 ms and never end the line, and CONNS/4 that send
# nothing; each connects again as soon as lbpfd closes it. The flooders run
# as a member of lbpfd's --group (uid 65534 in group "daemon", by setpriv)
# when the system has both, else as root.
#   scripts/bench/daemon_soak.sh [CONNS] [SECONDS]      (1000, 10)
# Targets: lateness under flood <= 2x the quiet figure + 5 ms; RSS after the
# flood within 10% of before. Environment: BUILD (build), LBPFD (the lbpfd to
# measure, $BUILD/lbpfd), LBPFD_ARGS (extra
# lbpfd options, e.g. "--max-clients 1000").
#
# A benchmark, not a test: it exits 0 whatever the numbers, non-zero only when
# something it ran crashed. Uses its own socket, state and bpffs folders.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
LBPF=$PWD/$BUILD/lbpf
LBPFD=${LBPFD:-$PWD/$BUILD/lbpfd}
FLOOD=$PWD/$BUILD/tests/helpers/ctl_flood
CONNS=${1:-1000}
SECS=${2:-10}
TICKERS=4
W=$(mktemp -d /tmp/lbpf-bench-soak.XXXXXX)
BPFFS=/sys/fs/bpf/lbpf-bench-soak-$$
export LBPF_SOCKET=$W/lbpfd.sock LBPF_BPFFS=$BPFFS
crashed=0

for f in "$LBPF" "$LBPFD" "$FLOOD"; do
	[ -x "$f" ] || { echo "daemon_soak.sh: $f is missing: run make first" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "daemon_soak.sh: needs root" >&2; exit 1; }

DPID=
FPIDS=()
cleanup() {
	local p
	for p in "${FPIDS[@]}" ${RPID:-}; do kill "$p" 2>/dev/null; done
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
	rm -rf "$W" "$BPFFS"
	sysctl -qw kernel.bpf_stats_enabled="$stats_was" 2>/dev/null
}
# bpf_stats costs every BPF program two clock reads per run: off while measuring
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
sysctl -qw kernel.bpf_stats_enabled=0
trap cleanup EXIT

AS=() GROUP=() who=root
if command -v setpriv >/dev/null && getent group daemon >/dev/null; then
	AS=(setpriv --reuid=65534 --regid=65534 --groups="$(getent group daemon | cut -d: -f3)")
	GROUP=(--group daemon) who="uid 65534, a member of lbpfd's --group"
	chmod 0755 "$W"
fi
# shellcheck disable=SC2086
"$LBPFD" --socket "$W/lbpfd.sock" --state-dir "$W/state" --bpffs "$BPFFS" "${GROUP[@]}" \
	${LBPFD_ARGS:-} 2>"$W/lbpfd.log" &
DPID=$!
for _ in $(seq 100); do "$LBPF" status >/dev/null 2>&1 && break; sleep 0.05; done

cat > "$W/ticker.lua" <<'EOF'
local period, last, worst = 10, lbpf.now(), 0
lbpf.every(period, function()
	local now = lbpf.now()
	worst = math.max(worst, (now - last) / 1e6 - period)
	last = now
end)
lbpf.every(500, function()
	print(string.format("%.3f late %.2f", lbpf.time(), worst))
	worst = 0
end)
EOF
cat > "$W/probe.lua" <<'EOF'
local n = 0
lbpf.tracepoint("syscalls:sys_enter_getppid", function() n = n + 1 end)
EOF

for i in $(seq "$TICKERS"); do
	"$LBPF" load "$W/ticker.lua" --name "tick$i" >/dev/null || crashed=1
done
# the reference: the same timer in a process of its own, outside lbpfd, which
# shows what the flood (and whatever else runs) costs any process's timers
"$LBPF" run "$W/ticker.lua" > "$W/outside.log" 2>&1 &
RPID=$!
"$LBPF" load "$W/probe.lua" --name probe >/dev/null || crashed=1

now() { date +%s.%N; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$DPID/status" 2>/dev/null; }
fds() { find "/proc/$DPID/fd" -mindepth 1 2>/dev/null | wc -l; }

# late FROM TO: the worst lateness (ms) in the lines of stdin logged in that
# window, and the median of the 500 ms windows' worst
late() {
	awk -v from="$1" -v to="$2" '$2 == "late" && $1 > from && $1 <= to + 0.5 { print $3 }' |
		sort -n | awk '{ v[NR] = $1 }
			END { printf "%.2f ms (median %.2f)", v[NR], v[int((NR + 1) / 2)] }'
}
worst_late() {
	local i
	for i in $(seq "$TICKERS"); do "$LBPF" logs "tick$i" 2>/dev/null; done | late "$1" "$2"
}

sleep 1
rss0=$(rss_mb) fd0=$(fds)
q0=$(now)
sleep "$SECS"
q1=$(now)

f0=$(now)
"${AS[@]}" "$FLOOD" "$LBPF_SOCKET" pipeline "$CONNS" "$SECS" > "$W/pipeline.out" & FPIDS+=($!)
"${AS[@]}" "$FLOOD" "$LBPF_SOCKET" trickle $((CONNS / 4)) "$SECS" > "$W/trickle.out" & FPIDS+=($!)
"${AS[@]}" "$FLOOD" "$LBPF_SOCKET" idle $((CONNS / 4)) "$SECS" > "$W/idle.out" & FPIDS+=($!)
# RSS and descriptors every 0.2 s, in the background: `lbpf list` may be slow
touch "$W/flooding"
( while [ -e "$W/flooding" ]; do echo "$(rss_mb) $(fds)"; sleep 0.2; done > "$W/samples" ) &
SPID=$!
list_max=0 list_ok=0 list_n=0
while [ "$(echo "$(now) < $f0 + $SECS - 0.5" | bc)" = 1 ]; do
	t0=$(date +%s%N)
	list_n=$((list_n + 1))
	timeout 120 "$LBPF" list >/dev/null 2>"$W/list.err" && list_ok=$((list_ok + 1))
	t=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$t" -gt "$list_max" ] && list_max=$t
	sleep 0.5
done
wait "${FPIDS[@]}"
FPIDS=()
rm -f "$W/flooding"
wait "$SPID"
rss_max=$(awk -v m="$rss0" '$1 > m { m = $1 } END { print m }' "$W/samples")
fd_max=$(awk -v m="$fd0" '$2 > m { m = $2 } END { print m }' "$W/samples")
f1=$(now)
sleep 3
rss1=$(rss_mb) fd1=$(fds)
kill -0 "$DPID" 2>/dev/null || crashed=1

quiet=$(worst_late "$q0" "$q1")
flood=$(worst_late "$f0" "$f1")
ref_quiet=$(late "$q0" "$q1" < "$W/outside.log")
ref_flood=$(late "$f0" "$f1" < "$W/outside.log")
target=$(echo "2 * ${quiet%% *} + 5" | bc)
rss_pct=$(awk -v a="$rss1" -v b="$rss0" 'BEGIN { printf "%+.1f", 100 * (a - b) / b }')
stats() { tr '\n' ' ' < "$W/$1.out" | cut -c1-120; }

echo "## lbpfd under a control-socket flood ($(nproc) CPUs, kernel $(uname -r))"
echo
echo "Flood: $CONNS pipelining + $((CONNS / 4)) trickling + $((CONNS / 4)) idle clients for $SECS s, as $who;"
echo "$TICKERS policies with a 10 ms timer and one tracepoint policy loaded. lbpfd ${GROUP[*]} ${LBPFD_ARGS:-}."
echo
echo "| measure | quiet | flood | after | target |"
echo "|---|---|---|---|---|"
echo "| worst lateness of the policies' 10 ms timers | ${quiet} | ${flood} | - | flood <= ${target} ms |"
echo "| the same timer in a process outside lbpfd (\`lbpf run\`), for reference | ${ref_quiet} | ${ref_flood} | - | - |"
echo "| lbpfd RSS | ${rss0} MB | ${rss_max} MB (max) | ${rss1} MB (${rss_pct}%) | after within 10% |"
echo "| lbpfd descriptors | ${fd0} | ${fd_max} (max) | ${fd1} | - |"
echo "| \`lbpf list\` | - | ${list_max} ms (max), ${list_ok} of ${list_n} answered | - | - |"
echo
echo "pipeline: $(stats pipeline)"
echo "trickle: $(stats trickle)"
echo "idle: $(stats idle)"
[ -s "$W/list.err" ] && echo "lbpf list said: $(head -c 200 "$W/list.err")"
exit $crashed
