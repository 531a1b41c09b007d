#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Runs the libFuzzer harnesses (build/fuzz/fuzz_*, built by `make fuzzers`),
# each for FUZZ_TIME seconds (default 15), and prints a PASS or FAIL line per
# harness (tests/run.sh's protocol). Each starts from its committed corpus
# (tests/fuzz/corpus/NAME, whose inputs are all run first, so a committed
# input that fails fails at once) and keeps what it finds in
# build/fuzz/corpus/NAME. A finding (a crash, a sanitizer report, a
# disagreement with a reference, a hang, a leak) is a FAIL naming the input
# libFuzzer saved, under build/fuzz/findings/; replay it with
#   build/fuzz/fuzz_NAME build/fuzz/findings/NAME-crash-...
#   tests/fuzz/run.sh [NAME...]        (default: every harness)
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FUZZ_TIME=${FUZZ_TIME:-15}
out=build/fuzz

# fuzz_control leaves a bpffs folder behind only when it died: remove those
# whose process is gone (they are named after its pid).
clean_stale() {
	local d pid
	for d in /sys/fs/bpf/lbpf-fuzz-*; do
		[ -d "$d" ] || continue
		pid=${d##*-}
		kill -0 "$pid" 2>/dev/null || rm -rf "$d"
	done
	for d in /tmp/lbpf-fuzz-state.*; do
		[ -d "$d" ] || continue
		[ -n "$(find "$d" -maxdepth 0 -mmin +60 2>/dev/null)" ] && rm -rf "$d"
	done
}
trap clean_stale EXIT
clean_stale

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		n=$(basename "$src" .c)
		names+=("${n#fuzz_}")
	done
fi

for name in "${names[@]}"; do
	bin=$out/fuzz_$name
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP fuzz/$name: needs root (BPF_PROG_TEST_RUN, the daemon's folders)"
		continue
	fi
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz/$name: $bin is not built (make fuzzers)"
		continue
	fi
	mkdir -p "$out/corpus/$name" "$out/findings"
	corpora=("$out/corpus/$name")
	[ -d "tests/fuzz/corpus/$name" ] && corpora+=("tests/fuzz/corpus/$name")
	log=$out/$name.log
	before=$(ls "$out/findings" | grep -c "^$name-" || true)
	"$bin" -max_total_time="$FUZZ_TIME" -timeout=60 -rss_limit_mb=4096 -max_len=4096 \
		-print_final_stats=1 -artifact_prefix="$out/findings/$name-" \
		"${corpora[@]}" 2>&1 | grep -av '^lbpf: /proc/self/fd/' >"$log"
	rc=${PIPESTATUS[0]} # (pcap: lbpf test's complaints about each broken capture, left out)
	finding=$(ls -t "$out/findings" | grep "^$name-" | head -1)
	after=$(ls "$out/findings" | grep -c "^$name-" || true)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -eq 0 ] && [ "$after" = "$before" ]; then
		echo "PASS fuzz/$name: ${runs:-?} inputs in ${FUZZ_TIME}s, no finding"
	else
		if [ "$after" = "$before" ]; then
			echo "FAIL fuzz/$name: exited with code $rc, no input saved (log $log)"
			tail -5 "$log"
			continue
		fi
		echo "FAIL fuzz/$name: finding $out/findings/$finding (exit $rc; log $log)"
		grep -E '^(FINDING|SUMMARY|==[0-9]+==ERROR)' "$log" | head -5
		grep -B14 -A1 '^FINDING' "$log" | grep -v '^    #' | head -30
	fi
done
