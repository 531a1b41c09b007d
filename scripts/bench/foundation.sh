#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The foundation's benchmark: start-up time, idle memory, and the cost of
# timers and tasks, with lua5.4 and bpftrace measured side by side in the same
# run on the same machine. Prints a markdown table.
#   scripts/bench/foundation.sh          (`make bench` runs it, via scripts/bench/run.sh)
#
# Environment:
#   BUILD                   build folder (build)
#   LBPF                    the binary to measure ($BUILD/lbpf)
#   LBPF_BENCH_RUNS         runs per start-up measurement; the median is shown (20)
#   LBPF_BENCH_NO_INSTALL   set: do not install bpftrace when it is missing
#
# A benchmark, not a test: it exits 0 whatever the numbers, and non-zero only
# when something it ran crashed or printed nothing. About 15 s.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
LBPF=${LBPF:-$BUILD/lbpf}
TIMER=$BUILD/tests/helpers/exec_timer
RUNS=${LBPF_BENCH_RUNS:-20}
LUA=lua5.4
crashed=0

for f in "$LBPF" "$TIMER"; do
	[ -x "$f" ] || { echo "foundation.sh: $f is missing: run make first" >&2; exit 1; }
done
# Benchmarks may install the reference tools they compare with.
if ! command -v bpftrace >/dev/null && [ -z "${LBPF_BENCH_NO_INSTALL:-}" ]; then
	./scripts/deps.sh bpftrace >&2 || echo "foundation.sh: could not install bpftrace" >&2
fi
have() { command -v "$1" >/dev/null; }

oops() {	# oops WHAT: something crashed; the run goes on, the exit code says so
	echo "foundation.sh: $*" >&2
	crashed=1
}

# ---- formatting ----

fmt_ns() {	# fmt_ns NS -> "850 ns", "2.50 µs", "16.2 µs", "896 µs", "1.02 ms", "275 ms"
	awk -v ns="$1" 'BEGIN {
		if (ns == "") { print "-"; exit }
		if (ns < 1e3) printf "%.0f ns\n", ns
		else if (ns < 1e4) printf "%.2f µs\n", ns / 1e3
		else if (ns < 1e5) printf "%.1f µs\n", ns / 1e3
		else if (ns < 1e6) printf "%.0f µs\n", ns / 1e3
		else if (ns < 1e7) printf "%.2f ms\n", ns / 1e6
		else if (ns < 1e8) printf "%.1f ms\n", ns / 1e6
		else if (ns < 1e9) printf "%.0f ms\n", ns / 1e6
		else printf "%.2f s\n", ns / 1e9 }'
}

fmt_kb() {	# fmt_kb KB -> "2.6 MB" (MiB)
	awk -v kb="$1" 'BEGIN { if (kb == "") print "-"; else printf "%.1f MB\n", kb / 1024 }'
}

met() {		# met VALUE LIMIT -> yes | no | - (VALUE missing)
	awk -v v="$1" -v l="$2" 'BEGIN { print (v == "" ? "-" : v + 0 <= l + 0 ? "yes" : "no") }'
}

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s |' "$@")"); }

# ---- start-up: process start to the script's first line ----

# startup [-a] CMD...: median ns over RUNS (see tests/helpers/exec_timer.c)
startup() {
	local out
	out=$("$TIMER" -n "$RUNS" "$@" 2>/dev/null) || { oops "start-up of ${*: -1}: no output"; return; }
	echo "${out%% *}"
}

start_lbpf=$(startup -- "$LBPF" -e 'print(lbpf.now())')
start_lua=
have $LUA && start_lua=$(startup -a -- $LUA -e 'print(0)')
start_bt=
have bpftrace && start_bt=$(startup -- bpftrace -e 'BEGIN { printf("%llu\n", nsecs); exit(); }')

# ---- resident memory ----

# rss WAIT_FOR_READY CMD...: VmRSS in kB of CMD 0.2 s after it printed "ready"
# (or after 0.2 s when WAIT_FOR_READY is 0), then stops it. Its stdin is a pipe
# that stays open, so that `lua5.4 -e 'io.read()'` idles.
rss() {
	local ready=$1 out pid kb i
	shift
	out=$(mktemp)
	"$@" <&3 >"$out" 2>/dev/null &
	pid=$!
	if [ "$ready" = 1 ]; then
		for ((i = 0; i < 100; i++)); do
			grep -q ready "$out" && break
			sleep 0.1
		done
	fi
	sleep 0.2
	kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	kill -INT "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$out"
	[ -n "$kb" ] || oops "rss of $*: the process was gone"
	echo "$kb"
}

# fd 3: a FIFO that this shell holds open for reading and writing, never written
idle_fifo=$(mktemp -u)
mkfifo "$idle_fifo" && exec 3<>"$idle_fifo" && rm -f "$idle_fifo"

rss_lbpf=$(rss 0 "$LBPF" -e 'lbpf.after(500, function() end)')
rss_lua=
have $LUA && rss_lua=$(rss 0 $LUA -e 'io.read()')
rss_bt=
have bpftrace && rss_bt=$(rss 1 bpftrace -e 'BEGIN { printf("ready\n"); }')
rss_lbpf_tp=$(rss 1 "$LBPF" -e '
	local c = lbpf.tracepoint("sched:sched_switch")
	print("ready"); io.stdout:flush()
	lbpf.after(3000, function() end)')
rss_bt_tp=
have bpftrace && rss_bt_tp=$(rss 1 bpftrace -e \
	'BEGIN { printf("ready\n"); } tracepoint:sched:sched_switch { @ = count(); }')

# ---- timers and tasks (scripts/bench/foundation.lua) ----

declare -A m
read_results() {	# read_results CMD...: "key value" lines into m[]
	local out key value
	out=$("$@") || oops "$* exited with $?"
	while read -r key value; do
		[ -n "$key" ] && m[$key]=$value
	done <<<"$out"
}
read_results "$LBPF" run scripts/bench/foundation.lua
have $LUA && read_results $LUA scripts/bench/foundation.lua
[ -n "${m[timer_dispatch_ns]:-}" ] || oops "foundation.lua reported nothing"

# ---- the table ----

ref() {		# ref "lua5.4" VALUE ["bpftrace" VALUE]: the reference column
	local out='' sep=''
	while [ $# -ge 2 ]; do
		[ -n "$2" ] && [ "$2" != - ] && out+="$sep$1 $2" && sep=", "
		shift 2
	done
	echo "${out:--}"
}

both() { echo "$(fmt_ns "$1") / $(fmt_ns "$2")"; }

row "start-up to the script's first line (median of $RUNS)" "$(fmt_ns "$start_lbpf")" \
	"$(ref lua5.4 "$(fmt_ns "$start_lua")" bpftrace "$(fmt_ns "$start_bt")")" "≤ 10 ms" \
	"$(met "$start_lbpf" 10e6)"
row "RSS of an idle runtime" "$(fmt_kb "$rss_lbpf")" \
	"$(ref lua5.4 "$(fmt_kb "$rss_lua")" bpftrace "$(fmt_kb "$rss_bt")")" "≤ 8 MB" \
	"$(met "$rss_lbpf" 8192)"
row "RSS while counting one tracepoint in BPF" "$(fmt_kb "$rss_lbpf_tp")" \
	"$(ref bpftrace "$(fmt_kb "$rss_bt_tp")")" "-" "-"
row "dispatch one timer callback (100,000 after(0))" "$(fmt_ns "${m[timer_dispatch_ns]:-}")" \
	"$(ref "lua5.4 coroutine create+resume:" "$(fmt_ns "${m[ref_dispatch_ns]:-}")")" "≤ 2 µs" \
	"$(met "${m[timer_dispatch_ns]:-}" 2000)"
row "arm one after() timer" "$(fmt_ns "${m[timer_arm_ns]:-}")" "-" "-" "-"
row "spawn + sleep(0) + resume (100,000 tasks)" "$(fmt_ns "${m[spawn_cycle_ns]:-}")" \
	"$(ref "lua5.4 create+resume+yield+resume:" "$(fmt_ns "${m[ref_spawn_cycle_ns]:-}")")" "-" "-"
row "10,000 tasks sleeping 100 ms: create / all woken" \
	"$(both "${m[sleepers_create_ns]:-}" "${m[sleepers_done_ns]:-}")" "-" "-" "-"
row "10,000 timers due in 100 ms: create / all fired" \
	"$(both "${m[timers_create_ns]:-}" "${m[timers_done_ns]:-}")" "-" "-" "-"
row "timer lateness, 50 × after(20): median / max" \
	"$(both "${m[lateness_median_ns]:-}" "${m[lateness_max_ns]:-}")" "-" "≤ 5 ms" \
	"$(met "${m[lateness_max_ns]:-}" 5e6)"

versions="lbpf $("$LBPF" --version | awk '{ print $2 }')"
have $LUA && versions+=", $($LUA -v 2>&1 | awk '{ print $1, $2 }')"
have bpftrace && versions+=", $(bpftrace --version 2>/dev/null)"
echo "$ scripts/bench/foundation.sh"
echo "# $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"kernel $(uname -r), $(date -u +%Y-%m-%d); $versions"
echo
echo "| metric | lbpf | reference | target | met? |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $crashed
