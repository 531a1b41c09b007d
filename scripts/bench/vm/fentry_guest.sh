#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# The guest half of scripts/bench/fentry.sh, run by scripts/vmtest.sh as the
# guest's only file (LBPF_VM_TESTS). The same probe on do_send_sig_info, the
# kernel function every kill(getpid(), SIGWINCH) of the workload reaches
# (getppid_bench -k), through fentry and through a kprobe (opts.via), counted
# in the kernel by a raw argument (arg1, the signal) and by a 3-read field path
# (p->real_parent->real_parent->tgid), filtered to the workload's pid. Each
# row prints the workload's calls per second, the program's run time per run
# from bpf_stats, and the events counted, as "BENCH |...|" lines the host
# picks out of the console; every row runs in each of three rounds. A row whose count is not the workload's call count
# is a FAIL; the bench ran when it prints PASS.
if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP fentry-bench: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi
N=${LBPF_BENCH_CALLS:-200000}
LBPF=${LBPF:-/lbpf/build/lbpf}
WL=/lbpf/build/tests/helpers/getppid_bench
W=/tmp/lbpf-bench-fentry
rm -rf "$W"
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT

cat > "$W/count.lua" <<'EOF'
local via, key, pid, n = arg[1], arg[2], tonumber(arg[3]), tonumber(arg[4])
local opts = { via = via, filter = { pid = pid }, count = "arg1" }
if key == "path" then
	opts.fields = { gp = "p->real_parent->real_parent->tgid" }
	opts.count = "gp"
end
local p = lbpf.kprobe("do_send_sig_info", opts)
print("attached")
io.stdout:flush()
dofile("/lbpf/scripts/bench/counted.lua")(p, n)
EOF

# prog_stats: "ns_per_run" of the lbpf program that ran most, from bpftool
prog_stats() {
	bpftool prog show 2>/dev/null | awk '
		/ name lbpf_/ { rt = 0; rc = 0
			for (i = 1; i <= NF; i++) { if ($i == "run_time_ns") rt = $(i + 1); if ($i == "run_cnt") rc = $(i + 1) }
			if (rc > best) { best = rc; ns = rt / rc } }
		END { if (best) printf "%.0f\n", ns }'
}

# row VIA KEY: one measurement; "none none" is the untraced workload
bad=0
row() {
	local via=$1 key=$2 fifo=$W/go pid tracer rate ns delivered i
	rm -f "$fifo" "$W/wl" "$W/tr"
	mkfifo "$fifo"
	"$WL" -w -k "$N" < "$fifo" > "$W/wl" &
	local wl=$!
	exec 4> "$fifo"
	for i in $(seq 200); do [ -s "$W/wl" ] && break; sleep 0.05; done
	pid=$(head -n 1 "$W/wl")
	if [ "$via" != none ]; then
		"$LBPF" run "$W/count.lua" "$via" "$key" "$pid" "$N" > "$W/tr" 2> "$W/tr.err" &
		tracer=$!
		for i in $(seq 600); do
			grep -q '^attached' "$W/tr" && break
			kill -0 "$tracer" 2>/dev/null || break
			sleep 0.1
		done
	fi
	echo go >&4
	exec 4>&-
	wait "$wl"
	rate=$(awk 'NR == 2 { print $2 }' "$W/wl")
	if [ "$via" = none ]; then
		echo "BENCH |none|$rate|||"
		return
	fi
	for i in $(seq 200); do grep -q '^delivered' "$W/tr" && break; sleep 0.05; done
	ns=$(prog_stats)
	kill -INT "$tracer" 2>/dev/null
	wait "$tracer"
	delivered=$(awk '/^delivered/ { print $2 }' "$W/tr")
	echo "BENCH |$via $key|$rate|$ns|$delivered|"
	# the workload's exit sends its parent SIGCHLD through do_send_sig_info too
	if [ -z "$delivered" ] || [ "$delivered" -lt "$N" ]; then
		echo "FAIL fentry-bench: $via $key counted ${delivered:-nothing} of $N: $(tail -c 300 "$W/tr.err")"
		bad=1
	fi
}

if ! "$LBPF" features 2>&1 | grep -Eq '^ *attach +fentry/fexit +yes'; then
	echo "SKIP fentry-bench: fentry is refused on $(uname -r)"
	exit 0
fi
echo 1 > /proc/sys/kernel/bpf_stats_enabled
# three rounds, each row once per round, so a slow spell of the emulator
# spreads over the rows; the host takes each row's median
for round in 1 2 3; do
	row none none
	for via in kprobe fentry; do
		for key in sig path; do
			row "$via" "$key"
		done
	done
done
echo 0 > /proc/sys/kernel/bpf_stats_enabled
[ "$bad" = 0 ] && echo "PASS fentry-bench: every row counted all $N calls"
exit 0
