#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The tracing benchmark (issue 3), every row measured in this one run on this
# machine. Workload: tests/helpers/getppid_bench makes N (2,000,000) getppid()
# calls in a tight loop; the probe is the tracepoint syscalls:sys_enter_getppid
# filtered to the workload's pid. Rows:
#   - no tracing;
#   - a plain libbpf C consumer (scripts/bench/ref/: 32-byte records, 4 MiB ring,
#     ring_buffer__poll with default wake-ups), built here into $BUILD/bench/;
#   - the best C consumer of lbpf's design: the same program and ring, with
#     lbpf's wake-up policy and drain timer (getppid_ref --batched);
#   - the same C consumer of lbpf's records: its BPF program writes the 160
#     bytes lbpf's writes for this tracepoint, with the same helpers (uid,
#     gid, cgroup id, the tracepoint's record) (getppid_ref --batched --full);
#   - lbpf with a Lua callback counting events (default settings);
#   - lbpf with opts.count = "probe" (no Lua call per event);
#   - bpftrace printf of pid, tid, comm, when bpftrace is installed.
# Field paths (issue 12), a second workload: N kill(getpid(), SIGWINCH) calls
# (ignored, so only the signal_generate tracepoint runs; getppid_bench -k),
# counted in the kernel by a key, filtered to the workload's pid:
#   - lbpf, the tracepoint signal:signal_generate, count = "sig" (no BTF read);
#   - lbpf, the raw tracepoint signal_generate, count = "sig" (a raw argument);
#   - lbpf, the raw tracepoint, count keyed by a 3-read field path,
#     task->real_parent->real_parent->tgid, read with checked loads
#     (path_reads = "direct": bpf_rdonly_cast, Linux 6.2+; the row is left
#     out, and says why, on a kernel without it);
#   - the same path read with bpf_probe_read_kernel (path_reads = "helper");
#   - the raw argument's probe and both path probes attached at once, so that
#     every event runs all three: their BPF run times on the same events, in
#     both orders of attachment (the target's measure: separate runs drift);
#   - bpftrace on the tracepoint, @[args->sig] = count() and
#     @[curtask->real_parent->real_parent->tgid] = count() (the same reads:
#     here the signal's target task is the caller).
# Columns: the workload's call rate, events delivered, events lost, and the
# tracer's peak RSS (VmHWM). Then start to attached (exec until the probe's
# first event, whose timestamp the tracer prints, while a process calls
# getppid() every ~100 µs; for field paths, the raw tracepoint sys_enter
# without and with one path) and the targets, each met or missed.
#   scripts/bench/tracing.sh          (`make bench` runs it, via scripts/bench/run.sh)
#
# Environment:
#   BUILD                   build folder (build)
#   LBPF                    the binary to measure ($BUILD/lbpf)
#   LBPF_BENCH_CALLS        getppid() calls of the workload (2000000)
#   LBPF_BENCH_RUNS         runs per start-up measurement; the median is shown (10)
#   LBPF_BENCH_ROUNDS       rounds of each table, one kind after the other in
#                           each; the fastest is shown (5; bpftrace runs once)
#   LBPF_BENCH_NO_INSTALL   set: do not install bpftrace when it is missing
#
# A benchmark, not a test: it exits 0 whatever the numbers, and non-zero only
# when something it ran crashed or reported nothing. About a minute (bpftrace
# alone takes ~25 s at its rate).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
LBPF=${LBPF:-$BUILD/lbpf}
N=${LBPF_BENCH_CALLS:-2000000}
RUNS=${LBPF_BENCH_RUNS:-10}
ROUNDS=${LBPF_BENCH_ROUNDS:-5}
WORKLOAD=$BUILD/tests/helpers/getppid_bench
TIMER=$BUILD/tests/helpers/exec_timer
PACED=$BUILD/tests/helpers/trace_target
OUT=$BUILD/bench
TP=syscalls:sys_enter_getppid
crashed=0

echo "$ scripts/bench/tracing.sh"
for f in "$LBPF" "$WORKLOAD" "$TIMER" "$PACED"; do
	[ -x "$f" ] || { echo "tracing.sh: $f is missing: run make first" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "tracing.sh: needs root" >&2; exit 1; }
if ! command -v bpftrace >/dev/null && [ -z "${LBPF_BENCH_NO_INSTALL:-}" ]; then
	./scripts/deps.sh bpftrace >&2 || echo "tracing.sh: could not install bpftrace" >&2
fi
have() { command -v "$1" >/dev/null; }
oops() {	# oops WHAT: something crashed; the run goes on, the exit code says so
	echo "tracing.sh: $*" >&2
	crashed=1
}
mkdir -p "$OUT"
WORK=$(mktemp -d)
children=()
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
trap 'for p in "${children[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$WORK"
	sysctl -qw kernel.bpf_stats_enabled="$stats_was" 2>/dev/null' EXIT
# bpf_stats costs every BPF program two clock reads per run: off while measuring (the field-path rows turn it on, and say so)
sysctl -qw kernel.bpf_stats_enabled=0

# ---- the tracers ----

# The libbpf reference, built the way libbpf-bootstrap builds a tool.
build_ref() {
	local src=scripts/bench/ref
	have clang && have bpftool && have gcc || return 1
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Ivmlinux/x86 -I$src \
		-c $src/getppid.bpf.c -o "$OUT/getppid.bpf.o" &&
	bpftool gen skeleton "$OUT/getppid.bpf.o" name getppid_bpf > "$OUT/getppid.skel.h" &&
	gcc -O2 -g -Wall -I$src -I"$OUT" $src/getppid_ref.c -lbpf -lelf -lz -o "$OUT/getppid_ref"
}
REF=
if build_ref > "$WORK/build.log" 2>&1; then
	REF=$OUT/getppid_ref
else
	oops "could not build the libbpf reference: $(tail -n 3 "$WORK/build.log")"
fi

# Both lbpf scripts take PID N, print "delivered D lost L" once all N events
# are accounted for (or at exit, when they are not), and run until stopped.
cat > "$OUT/tracing_callback.lua" <<'EOF'
local pid, n = tonumber(arg[1]), tonumber(arg[2])
local seen = 0
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = pid } },
	function() seen = seen + 1 end)
local reported
local function report()
	if not reported then
		reported = true
		print(("delivered %d lost %d"):format(seen, p:stats().lost))
		io.stdout:flush()
	end
end
lbpf.every(20, function() if seen + p:stats().lost >= n then report() end end)
lbpf.on_exit(report)
EOF
cat > "$OUT/tracing_count.lua" <<'EOF'
local pid, n = tonumber(arg[1]), tonumber(arg[2])
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = pid }, count = "probe" })
dofile("scripts/bench/counted.lua")(p, n)
EOF
# The field-path rows take KIND PID N, count in the kernel by a key, and print
# "delivered D lost L" (D the sum of the counts) once D reaches N, or at exit.
cat > "$OUT/tracing_paths.lua" <<'EOF'
local kind, pid, n = arg[1], tonumber(arg[2]), tonumber(arg[3])
local p
if kind == "tp" then
	p = lbpf.tracepoint("signal:signal_generate", { filter = { pid = pid }, count = "sig" })
elseif kind == "raw" then
	p = lbpf.raw_tracepoint("signal_generate", { filter = { pid = pid }, count = "sig" })
else -- path: path_reads "direct"; path_helper: "helper"
	p = lbpf.raw_tracepoint("signal_generate", { filter = { pid = pid },
		fields = { gp = "task->real_parent->real_parent->tgid" }, count = "gp",
		path_reads = kind == "path" and "direct" or "helper" })
end
dofile("scripts/bench/counted.lua")(p, n)
EOF
# The same events through three programs at once: ORDER fwd attaches the raw
# argument's probe, then the path's with checked loads, then with the
# helper; rev the other way round. Runs until stopped.
cat > "$OUT/tracing_same.lua" <<'EOF'
local order, pid = arg[1], tonumber(arg[2])
local probes = {
	{ count = "sig" },
	{ fields = { gp = "task->real_parent->real_parent->tgid" }, count = "gp", path_reads = "direct" },
	{ fields = { gp = "task->real_parent->real_parent->tgid" }, count = "gp", path_reads = "helper" },
}
for i = 1, 3 do
	local o = probes[order == "fwd" and i or 4 - i]
	o.filter = { pid = pid }
	lbpf.raw_tracepoint("signal_generate", o)
end
lbpf.every(1000, function() end)
EOF

# start to attached: the first event's timestamp, then exit. KIND PID: tp, the
# tracepoint; raw, the raw tracepoint sys_enter; path, the same with one path.
cat > "$OUT/tracing_startup.lua" <<'EOF'
local kind, pid = arg[1], tonumber(arg[2])
local function first(ev)
	print(ev.ts)
	lbpf.exit()
end
if kind == "raw" then
	lbpf.raw_tracepoint("sys_enter", { filter = { pid = pid } }, first)
elseif kind == "path" then
	lbpf.raw_tracepoint("sys_enter", { filter = { pid = pid }, fields = { nr = "regs->orig_ax" } }, first)
else
	lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { pid = pid } }, first)
end
EOF

# start_tracer KIND PID OUTFILE: starts a tracer of PID's getppid() calls in
# the background; sets tracer_pid.
start_tracer() {
	local kind=$1 pid=$2 out=$3 cmd
	case $kind in
	ref) cmd=("$REF" "$pid" "$N") ;;
	best) cmd=("$REF" --batched "$pid" "$N") ;;
	same) cmd=("$REF" --batched --full "$pid" "$N") ;;
	lua) cmd=("$LBPF" run "$OUT/tracing_callback.lua" "$pid" "$N") ;;
	count) cmd=("$LBPF" run "$OUT/tracing_count.lua" "$pid" "$N") ;;
	bpftrace) cmd=(bpftrace -e "tracepoint:$TP /pid == $pid/ { printf(\"%d %d %s\\n\", pid, tid, comm); }") ;;
	sig_tp | sig_raw | sig_path | sig_path_helper) cmd=("$LBPF" run "$OUT/tracing_paths.lua" "${kind#sig_}" "$pid" "$N") ;;
	sig_bt) cmd=(bpftrace -e "tracepoint:signal:signal_generate /pid == $pid/ { @[args->sig] = count(); }") ;;
	sig_bt_path) cmd=(bpftrace -e "tracepoint:signal:signal_generate /pid == $pid/ { @[curtask->real_parent->real_parent->tgid] = count(); }") ;;
	esac
	"${cmd[@]}" > "$out" 2> "$out.err" &
	tracer_pid=$!
	children+=("$tracer_pid")
}

# attached PID NAME: waits (30 s at most) until process PID has a BPF program
# on the (raw) tracepoint NAME, as `bpftool perf` lists them; the same test for
# every tracer.
attached() {
	local i
	for ((i = 0; i < 1500; i++)); do
		bpftool perf show 2>/dev/null | grep -Eq "^pid $1 .*tracepoint +$2\$" && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

# settled FILE: waits until FILE stops growing (0.5 s), 60 s at most.
settled() {
	local size=-1 now i
	for ((i = 0; i < 120; i++)); do
		now=$(stat -c %s "$1")
		[ "$now" = "$size" ] && return 0
		size=$now
		sleep 0.5
	done
}

# measure KIND: one row. Starts the workload waiting on a FIFO, the tracer on
# its pid, waits until the probe is attached, releases the workload, and then
# collects. Sets rate, delivered, lost, rss_kb ("" when not measured).
measure() {
	local kind=$1 fifo=$WORK/go wl_out=$WORK/$1.workload tr_out=$WORK/$1.tracer wl_pid pid i
	local flags=(-w) point=${TP#*:} before=
	rate='' delivered='' lost='' rss_kb='' bpf_ns=''
	[ "${kind#sig_}" != "$kind" ] && flags+=(-k) point=signal_generate
	[ "$point" = signal_generate ] && before=$(bpftool prog show -j | jq -c '[.[].id]')
	rm -f "$fifo"
	mkfifo "$fifo"
	"$WORKLOAD" "${flags[@]}" "$N" < "$fifo" > "$wl_out" &
	wl_pid=$!
	children+=("$wl_pid")
	exec 4> "$fifo"
	for ((i = 0; i < 500; i++)); do [ -s "$wl_out" ] && break; sleep 0.01; done
	pid=$(head -n 1 "$wl_out")
	if [ "$kind" != none ] && [ "$kind" != sig_none ]; then
		start_tracer "$kind" "$pid" "$tr_out"
		if ! attached "$tracer_pid" "$point"; then
			oops "$kind: never attached: $(tail -c 300 "$tr_out.err")"
			exec 4>&-
			kill -KILL "$tracer_pid" "$wl_pid" 2>/dev/null
			wait "$tracer_pid" "$wl_pid" 2>/dev/null
			return
		fi
	fi
	echo go >&4
	exec 4>&-
	wait "$wl_pid"
	rate=$(awk 'NR == 2 { print $2 }' "$wl_out")
	[ -n "$rate" ] || oops "$kind: the workload reported nothing"
	[ "$kind" = none ] || [ "$kind" = sig_none ] && return
	if [ "$kind" = bpftrace ]; then
		settled "$tr_out"
	elif [ "${kind#sig_bt}" != "$kind" ]; then
		sleep 0.2 # bpftrace prints its map at exit
	else
		for ((i = 0; i < 1000; i++)); do grep -q '^delivered' "$tr_out" && break; sleep 0.02; done
	fi
	rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$tracer_pid/status" 2>/dev/null)
	# the programs this tracer loaded: their run time per run (bpf_stats)
	[ -n "$before" ] && bpf_ns=$(bpftool prog show -j | jq -r --argjson old "$before" '
		[.[] | select((.id as $id | $old | index($id) | not) and (.run_cnt // 0) > 0)] |
		if length > 0 then (map(.run_time_ns) | add) / (map(.run_cnt) | add) | floor else "" end')
	kill -INT "$tracer_pid" 2>/dev/null
	wait "$tracer_pid" 2>/dev/null
	if [ "$kind" = bpftrace ]; then
		delivered=$(grep -c "^$pid $pid trace\|^$pid $pid getppid" "$tr_out")
		lost=$(cat "$tr_out" "$tr_out.err" | awk '/Lost [0-9]+ events/ { for (i = 1; i <= NF; i++) if ($i == "Lost") n += $(i + 1) } END { print n + 0 }')
	elif [ "${kind#sig_bt}" != "$kind" ]; then
		delivered=$(awk '/^@\[/ { n += $NF } END { if (NR) print n + 0 }' "$tr_out")
		lost=$(cat "$tr_out" "$tr_out.err" | awk '/Lost [0-9]+ events/ { for (i = 1; i <= NF; i++) if ($i == "Lost") n += $(i + 1) } END { print n + 0 }')
	else
		read -r _ delivered _ lost < <(grep -m 1 '^delivered' "$tr_out")
	fi
	[ -n "$delivered" ] || oops "$kind: the tracer reported nothing: $(tail -c 300 "$tr_out.err")"
}

# same_events ORDER: N kill() calls through the three programs of
# tracing_same.lua at once; sets S[ORDER,raw], S[ORDER,direct] and
# S[ORDER,helper] to each program's run time per run (bpf_stats). The first
# program of an event finds the caches colder, so both orders are run.
same_events() {
	local order=$1 fifo=$WORK/go wl_out=$WORK/same.workload tr_out=$WORK/same.tracer wl_pid pid i id
	local names ids
	rm -f "$fifo"
	mkfifo "$fifo"
	"$WORKLOAD" -w -k "$N" < "$fifo" > "$wl_out" &
	wl_pid=$!
	children+=("$wl_pid")
	exec 4> "$fifo"
	for ((i = 0; i < 500; i++)); do [ -s "$wl_out" ] && break; sleep 0.01; done
	pid=$(head -n 1 "$wl_out")
	"$LBPF" run "$OUT/tracing_same.lua" "$order" "$pid" > "$tr_out" 2> "$tr_out.err" &
	tracer_pid=$!
	children+=("$tracer_pid")
	for ((i = 0; i < 1500; i++)); do
		[ "$(bpftool perf show 2>/dev/null | grep -c "^pid $tracer_pid .*raw_tracepoint \+signal_generate\$")" -ge 3 ] && break
		kill -0 "$tracer_pid" 2>/dev/null || break
		sleep 0.02
	done
	echo >&4
	exec 4>&-
	wait "$wl_pid"
	# the three programs in the order they were attached (their ids grow)
	ids=$(bpftool perf show -j | jq -r --argjson p "$tracer_pid" '[.[] | select(.pid == $p) | .prog_id] | sort | .[]')
	names=(raw direct helper)
	[ "$order" = rev ] && names=(helper direct raw)
	i=0
	for id in $ids; do
		S[$order,${names[$i]}]=$(bpftool prog show id "$id" -j | jq -r 'if (.run_cnt // 0) > 0 then .run_time_ns / .run_cnt | floor else "" end')
		i=$((i + 1))
	done
	[ "$i" = 3 ] || oops "same events ($order): $i programs attached: $(tail -c 300 "$tr_out.err")"
	kill -INT "$tracer_pid" 2>/dev/null
	wait "$tracer_pid" 2>/dev/null
}

# ---- start to attached ----

# startup CMD...: median ns from exec to the first event (printed by CMD as its
# timestamp) while a paced getppid loop runs; see tests/helpers/exec_timer.c.
startup() {
	local out
	out=$("$TIMER" -n "$RUNS" -t 20 -- "$@" 2> "$WORK/timer.err") ||
		{ oops "start-up of $1: $(cat "$WORK/timer.err")"; return; }
	echo "${out%% *}"
}

# ---- formatting ----

fmt_rate() { awk -v r="$1" 'BEGIN { if (r == "") print "-"; else printf "%.2f M/s\n", r / 1e6 }'; }
fmt_ms() { awk -v ns="$1" 'BEGIN { if (ns == "") print "-"; else printf "%.0f ms\n", ns / 1e6 }'; }
fmt_dms() { awk -v ns="$1" 'BEGIN { if (ns == "") print "-"; else printf "%+.0f ms\n", ns / 1e6 }'; }
fmt_mb() { awk -v kb="$1" 'BEGIN { if (kb == "") print "-"; else printf "%.1f MB\n", kb / 1024 }'; }
fmt_n() { [ -n "$1" ] && echo "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' || echo -; }
# met WHAT OP VALUE LIMIT: "met" or "missed" ("-" without a value)
met() {
	awk -v v="$2" -v op="$1" -v l="$3" 'BEGIN {
		if (v == "" || l == "") { print "-"; exit }
		ok = op == "<=" ? v + 0 <= l + 0 : v + 0 >= l + 0
		print ok ? "met" : "missed" }'
}

# ---- the run ----

load=$(cut -d' ' -f1-3 /proc/loadavg)
others=$(bpftool perf show 2>/dev/null | grep -c "tracepoint \+${TP#*:}\$")
declare -A R D L M
kinds=(none)
[ -n "$REF" ] && kinds+=(ref best same)
kinds+=(lua count)
have bpftrace && kinds+=(bpftrace)
# checked loads need bpf_rdonly_cast (Linux 6.2) in the kernel's BTF
direct_note=
if [ "$(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -c "FUNC 'bpf_rdonly_cast'")" -gt 0 ]; then
	sig_kinds=(sig_none sig_tp sig_raw sig_path sig_path_helper)
else
	sig_kinds=(sig_none sig_tp sig_raw sig_path_helper)
	direct_note="this kernel has no bpf_rdonly_cast: no checked loads"
fi
have bpftrace && sig_kinds+=(sig_bt sig_bt_path)
declare -A B RS BS NR
# The kinds take turns, ROUNDS times (bpftrace's once: it is slow, and far
# from every target), and a row's rate is the highest of its rounds and its
# BPF run time the lowest: this machine alternates between two speeds up to
# 2x apart, so rounds fall in two groups, a median lands in either, and one
# run of each would put the machine's speed between the rows; the fastest
# round is each row's cost at full speed. Events and losses are the sums over
# the rounds, RSS the highest.
highest() { tr ' ' '\n' | grep . | sort -g | tail -n 1; }
lowest() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
rounds() {
	local round kind
	RS=() BS=()
	for ((round = 1; round <= ROUNDS; round++)); do
		for kind in "$@"; do
			[ "${kind#*bt}" != "$kind" ] || [ "$kind" = bpftrace ] && [ "$round" -gt 1 ] && continue
			measure "$kind"
			RS[$kind]+=" $rate" BS[$kind]+=" ${bpf_ns:-}"
			NR[$kind]=$(( ${NR[$kind]:-0} + 1 ))
			[ -n "$delivered" ] && D[$kind]=$(( ${D[$kind]:-0} + delivered ))
			[ -n "$lost" ] && L[$kind]=$(( ${L[$kind]:-0} + lost ))
			[ -n "$rss_kb" ] && [ "$rss_kb" -gt "${M[$kind]:-0}" ] && M[$kind]=$rss_kb
		done
	done
	for kind in "$@"; do
		R[$kind]=$(echo "${RS[$kind]}" | highest) B[$kind]=$(echo "${BS[$kind]}" | lowest)
	done
}
rounds "${kinds[@]}"
# the field-path rows run with bpf_stats on (each program's run time and
# count), which costs every row the same two clock reads per run
sysctl -qw kernel.bpf_stats_enabled=1
rounds "${sig_kinds[@]}"
declare -A S
if [ -z "$direct_note" ]; then
	same_events fwd
	same_events rev
fi
sysctl -qw kernel.bpf_stats_enabled="$stats_was"

# start to attached: a getppid() call every ~100 µs hits the probe
"$PACED" paced 1000000000 100 > /dev/null &
loop=$!
disown "$loop" # no "Killed" notice when it is stopped below
children+=("$loop")
start_lbpf=$(startup "$LBPF" run "$OUT/tracing_startup.lua" tp "$loop")
start_raw=$(startup "$LBPF" run "$OUT/tracing_startup.lua" raw "$loop")
start_path=$(startup "$LBPF" run "$OUT/tracing_startup.lua" path "$loop")
start_bt=
have bpftrace && start_bt=$(startup bpftrace -e \
	"tracepoint:$TP /pid == $loop/ { printf(\"%llu\\n\", nsecs); exit(); }")
kill -KILL "$loop" 2>/dev/null

# ---- the tables ----

# of KIND: "D of N x rounds", the events a row delivered of those its workload made
of() {
	[ -n "${D[$1]:-}" ] || { echo -; return; }
	echo "$(fmt_n "${D[$1]}") of $(fmt_n $((N * ${NR[$1]:-1})))"
}

label() {
	case $1 in
	none) echo "no tracing" ;;
	ref) echo "libbpf C, ring_buffer__poll, default wake-ups (32-byte records)" ;;
	best) echo "libbpf C, lbpf's wake-up policy and drain timer (32-byte records)" ;;
	same) echo "libbpf C, lbpf's wake-up policy and drain timer, lbpf's 160-byte records (uid, gid, cgroup, tracepoint record)" ;;
	lua) echo "lbpf, Lua callback counting events (default settings)" ;;
	count) echo "lbpf, opts.count = \"probe\" (no Lua per event)" ;;
	bpftrace) echo "bpftrace printf of pid, tid, comm" ;;
	sig_none) echo "no tracing" ;;
	sig_tp) echo "lbpf, tracepoint signal:signal_generate, count = \"sig\"" ;;
	sig_raw) echo "lbpf, raw tracepoint signal_generate, count = \"sig\" (a raw argument)" ;;
	sig_path) echo "lbpf, raw tracepoint, count by the path task->real_parent->real_parent->tgid (3 reads, path_reads = \"direct\": checked loads)" ;;
	sig_path_helper) echo "lbpf, the same path, path_reads = \"helper\" (3 bpf_probe_read_kernel calls)" ;;
	sig_bt) echo "bpftrace, tracepoint, @[args->sig] = count()" ;;
	sig_bt_path) echo "bpftrace, tracepoint, @[curtask->real_parent->real_parent->tgid] = count()" ;;
	esac
}
versions="lbpf $("$LBPF" --version | awk '{ print $2 }'), libbpf $(pkg-config --modversion libbpf 2>/dev/null || echo '?')"
have bpftrace && versions+=", $(bpftrace --version 2>/dev/null)"
echo "# $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
	"kernel $(uname -r), $(date -u +%Y-%m-%d); $versions"
echo "# workload: $(fmt_n "$N") getppid() calls; probe: tracepoint:$TP filtered to its pid;" \
	"load average before the run: $load"
[ "$others" -gt 0 ] && echo "# note: $others BPF program(s) of other processes were attached to $TP during the run"
echo
echo "Rates are the highest of $ROUNDS rounds (bpftrace: one); events and losses are summed over a row's rounds."
echo
echo "| consumer | workload calls/s | events delivered | lost | tracer RSS (peak) |"
echo "|---|---|---|---|---|"
for kind in "${kinds[@]}"; do
	printf '| %s | %s | %s | %s | %s |\n' "$(label "$kind")" "$(fmt_rate "${R[$kind]}")" \
		"$(of "$kind")" "$(fmt_n "${L[$kind]:-}")" "$(fmt_mb "${M[$kind]:-}")"
done
[ -z "$REF" ] && echo "| libbpf C | not built (clang, bpftool, gcc) | - | - | - |"
have bpftrace || echo "| bpftrace | not installed | - | - | - |"

# cost KIND [BASE]: ns of the workload's time per traced event, 1/rate -
# 1/untraced rate (BASE: the untraced row, none)
cost() {
	awk -v r="${R[$1]:-}" -v n="${R[${2:-none}]:-}" 'BEGIN {
		if (r == "" || n == "" || r == 0 || n == 0) print ""; else printf "%.0f\n", 1e9 / r - 1e9 / n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f\n", a / b }'; }
lua_rate=${R[lua]:-}
lua_zero_lost=$([ "${L[lua]:-x}" = 0 ] && [ "${D[lua]:-}" = "$((N * ${NR[lua]:-1}))" ] && echo 1 || echo 0)
# events delivered per second: the workload's rate times the share of its
# calls that reached the tracer (bpftrace drops what its buffers cannot take)
delivered_rate() {
	awk -v r="${R[$1]:-}" -v d="${D[$1]:-}" -v n="$((N * ${NR[$1]:-1}))" 'BEGIN { if (r == "" || d == "") print ""; else printf "%.0f\n", r * d / n }'
}
bt_delivered=$(delivered_rate bpftrace)
vs_bt=$(ratio "$lua_rate" "$bt_delivered")
vs_ref=$(ratio "$lua_rate" "${R[ref]:-}")
echo
echo "| target | lbpf | reference | met? |"
echo "|---|---|---|---|"
printf '| Lua callback ≥ 1.0 M events/s, 0 lost (in all its rounds) | %s, %s lost | - | %s |\n' "$(fmt_rate "$lua_rate")" \
	"$(fmt_n "${L[lua]:-}")" "$([ "$lua_zero_lost" = 1 ] && met '>=' "$lua_rate" 1e6 || echo missed)"
printf '| Lua callback ≥ 10× bpftrace (events delivered per second) | %s× | bpftrace %s delivered (%s of %s events, the workload at %s) | %s |\n' "${vs_bt:--}" \
	"$(fmt_rate "$bt_delivered")" "$(fmt_n "${D[bpftrace]:-}")" "$(fmt_n $((N * ${NR[bpftrace]:-1})))" "$(fmt_rate "${R[bpftrace]:-}")" "$(met '>=' "$vs_bt" 10)"
printf '| Lua callback ≥ 2× plain libbpf (a wake-up per record: this compares wake-up policies) | %s× | libbpf %s | %s |\n' "${vs_ref:--}" \
	"$(fmt_rate "${R[ref]:-}")" "$(met '>=' "$vs_ref" 2)"
lua_cost=$(cost lua) best_cost=$(cost best)
vs_best=$(ratio "$lua_cost" "$best_cost")
same_cost=$(cost same)
vs_same=$(ratio "$lua_cost" "$same_cost")
printf '| Lua callback cost per event ≤ 1.5× the best C consumer'"'"'s (1/rate − 1/untraced rate; its records are 32 bytes) | %s ns = %s× | best C %s ns | %s |\n' \
	"${lua_cost:--}" "${vs_best:--}" "${best_cost:--}" "$(met '<=' "$vs_best" 1.5)"
printf '| the same against a C consumer of lbpf'"'"'s records (the same BPF work) | %s ns = %s× | C, same records %s ns | %s |\n' \
	"${lua_cost:--}" "${vs_same:--}" "${same_cost:--}" "$(met '<=' "$vs_same" 1.5)"
printf '| opts.count ≥ 2.5 M/s | %s | no tracing %s | %s |\n' "$(fmt_rate "${R[count]:-}")" \
	"$(fmt_rate "${R[none]:-}")" "$(met '>=' "${R[count]:-}" 2.5e6)"
printf '| lbpf run, one probe: start to attached ≤ 50 ms (median of %d) | %s | bpftrace %s | %s |\n' \
	"$RUNS" "$(fmt_ms "$start_lbpf")" "$(fmt_ms "$start_bt")" "$(met '<=' "$start_lbpf" 50e6)"
printf '| RSS ≤ 16 MB (peak, Lua callback run) | %s | bpftrace %s | %s |\n' "$(fmt_mb "${M[lua]:-}")" \
	"$(fmt_mb "${M[bpftrace]:-}")" "$(met '<=' "${M[lua]:-}" 16384)"

# ---- field paths ----

echo
echo "Field paths: $(fmt_n "$N") kill(getpid(), SIGWINCH) calls (ignored), counted in the kernel by key, filtered to the caller's pid;" \
	"rates are the highest and BPF run times the lowest of $ROUNDS rounds (bpftrace: one)${direct_note:+; $direct_note}"
echo
echo "| consumer | workload calls/s | cost per event | BPF program ns per run | events counted | lost | tracer RSS (peak) |"
echo "|---|---|---|---|---|---|---|"
for kind in "${sig_kinds[@]}"; do
	c=$(cost "$kind" sig_none)
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(label "$kind")" "$(fmt_rate "${R[$kind]}")" \
		"$([ "$kind" = sig_none ] || [ -z "$c" ] && echo - || echo "$c ns")" "${B[$kind]:--}" \
		"$(fmt_n "${D[$kind]:-}")" "$(fmt_n "${L[$kind]:-}")" "$(fmt_mb "${M[$kind]:-}")"
done
have bpftrace || echo "| bpftrace | not installed | - | - | - | - | - |"
path_cost=$(cost sig_path sig_none) raw_cost=$(cost sig_raw sig_none)
helper_cost=$(cost sig_path_helper sig_none)
vs_raw=$(ratio "$path_cost" "$raw_cost")
bpf_vs_raw=$(ratio "${B[sig_path]:-}" "${B[sig_raw]:-}")
helper_vs_raw=$(ratio "$helper_cost" "$raw_cost")
bpf_helper_vs_raw=$(ratio "${B[sig_path_helper]:-}" "${B[sig_raw]:-}")
path_extra=$(awk -v a="$start_path" -v b="$start_lbpf" 'BEGIN { if (a != "" && b != "") printf "%.0f\n", a - b }')
rss_path=${M[sig_path]:-${M[sig_path_helper]:-}}
rss_extra=$(awk -v a="$rss_path" -v b="${M[sig_tp]:-}" 'BEGIN { if (a != "" && b != "") print a - b }')
mean() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.0f\n", (a + b) / 2 }'; }
same_raw=$(mean "${S[fwd,raw]:-}" "${S[rev,raw]:-}")
same_direct=$(mean "${S[fwd,direct]:-}" "${S[rev,direct]:-}")
same_helper=$(mean "${S[fwd,helper]:-}" "${S[rev,helper]:-}")
same_vs_raw=$(ratio "$same_direct" "$same_raw")
if [ -z "$direct_note" ]; then
	echo
	echo "The same $(fmt_n "$N") kill() calls through the three lbpf programs at once (every event runs all three):" \
		"BPF program run time per run (bpf_stats), attached in both orders, as the first program of an event finds colder caches"
	echo
	echo "| program | ns, attached raw, direct, helper | ns, attached helper, direct, raw | mean | vs the raw argument |"
	echo "|---|---|---|---|---|"
	for k in raw direct helper; do
		m=$(mean "${S[fwd,$k]:-}" "${S[rev,$k]:-}")
		case $k in
		raw) l="count = \"sig\" (a raw argument)" ;;
		direct) l="count by the 3-read path, path_reads = \"direct\" (checked loads)" ;;
		helper) l="count by the 3-read path, path_reads = \"helper\" (bpf_probe_read_kernel)" ;;
		esac
		printf '| %s | %s | %s | %s | %s× |\n' "$l" "${S[fwd,$k]:--}" "${S[rev,$k]:--}" "${m:--}" \
			"$(ratio "$m" "$same_raw")"
	done
fi
echo
echo "| target | lbpf | reference | met? |"
echo "|---|---|---|---|"
printf '| a 3-read path as the key costs ≤ 1.3× a raw argument as the key, per event: BPF program run time on the same events (mean of both orders) | %s ns = %s× | raw argument %s ns | %s |\n' \
	"${same_direct:--}" "${same_vs_raw:--}" "${same_raw:--}" "$(met '<=' "$same_vs_raw" 1.3)"
printf '| the same, workload time (1/rate − 1/untraced rate, the fastest of separate runs) | %s ns = %s× | raw argument %s ns | %s |\n' \
	"${path_cost:--}" "${vs_raw:--}" "${raw_cost:--}" "$(met '<=' "$vs_raw" 1.3)"
printf '| the same, BPF program run time (the fastest of separate runs) | %s ns = %s× | raw argument %s ns | %s |\n' \
	"${B[sig_path]:--}" "${bpf_vs_raw:--}" "${B[sig_raw]:--}" "$(met '<=' "$bpf_vs_raw" 1.3)"
printf '| for comparison: the path read with bpf_probe_read_kernel, per event (same events; workload time; BPF run time) | %s ns = %s×; %s ns = %s×; %s ns = %s× | raw argument %s ns; %s ns; %s ns | - |\n' \
	"${same_helper:--}" "$(ratio "$same_helper" "$same_raw")" \
	"${helper_cost:--}" "${helper_vs_raw:--}" "${B[sig_path_helper]:--}" "${bpf_helper_vs_raw:--}" \
	"${same_raw:--}" "${raw_cost:--}" "${B[sig_raw]:--}"
printf '| start to attached with one path ≤ 20 ms more than a tracepoint without paths (median of %d; raw tracepoint sys_enter, regs->orig_ax) | %s = %s | tracepoint %s, raw tracepoint without paths %s | %s |\n' \
	"$RUNS" "$(fmt_ms "$start_path")" "$(fmt_dms "$path_extra")" "$(fmt_ms "$start_lbpf")" "$(fmt_ms "$start_raw")" \
	"$(met '<=' "$path_extra" 20e6)"
printf '| RSS with a path ≤ 8 MB more than without BTF (peak) | %s = +%s | tracepoint %s, raw tracepoint %s | %s |\n' \
	"$(fmt_mb "$rss_path")" "$(fmt_mb "$rss_extra")" "$(fmt_mb "${M[sig_tp]:-}")" "$(fmt_mb "${M[sig_raw]:-}")" \
	"$(met '<=' "$rss_extra" 8192)"
exit $crashed
