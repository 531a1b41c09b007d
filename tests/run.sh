#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Runs the test layers and prints one closing line "N passed, N failed, N skipped".
#   tests/run.sh [unit] [fuzz] [lua] [integration] [vm]      (default: all five)
# The fuzz layer runs each libFuzzer harness for FUZZ_TIME seconds (15 here;
# tests/fuzz/run.sh, `make fuzz` for longer runs).
#
# Every test program speaks the same line protocol on stdout:
#   PASS <name>
#   FAIL <name>: <why>
#   SKIP <name>: <reason>
# Any other line is shown indented. A program that exits non-zero without having
# printed a FAIL line counts as one failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
LBPF=${LBPF:-$BUILD/lbpf}
export BUILD LBPF
LBPF=$(realpath "$LBPF")
export LBPF_TOP=$PWD

shopt -s nullglob
layers=("$@")
[ ${#layers[@]} -gt 0 ] || layers=(unit fuzz lua integration vm)

passed=0 failed=0 skipped=0
failures=()

# run_one LABEL CMD...: runs a test program and tallies its protocol lines.
run_one() {
	local label=$1; shift
	local out rc fails_before=$failed
	out=$(mktemp)
	"$@" 2>&1 | tee "$out" | sed -u -e '/^\(PASS\|FAIL\|SKIP\) /!s/^/    /'
	rc=${PIPESTATUS[0]}
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) passed=$((passed + 1)) ;;
		"FAIL "*) failed=$((failed + 1)); failures+=("${line#FAIL }") ;;
		"SKIP "*) skipped=$((skipped + 1)) ;;
		esac
	done < "$out"
	rm -f "$out"
	if [ $rc -ne 0 ] && [ $failed -eq $fails_before ]; then
		echo "FAIL $label: exited with code $rc"
		failed=$((failed + 1)); failures+=("$label: exited with code $rc")
	fi
}

for layer in "${layers[@]}"; do
	echo "== $layer"
	case $layer in
	unit)
		run_one "unit/layers" ./scripts/check-layers.sh
		for t in "$BUILD"/tests/unit/*; do
			[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
		done ;;
	fuzz)
		run_one "fuzz" env FUZZ_TIME="${FUZZ_TIME:-15}" ./tests/fuzz/run.sh ;;
	lua)
		for t in tests/lua/test_*.lua; do
			run_one "lua/$(basename "$t")" "$LBPF" run "$t"
		done ;;
	integration)
		for t in tests/integration/test_*.sh; do
			run_one "integration/$(basename "$t")" bash "$t"
		done ;;
	vm)
		run_one "vm" ./scripts/vmtest.sh ;;
	*)
		echo "unknown layer: $layer" >&2; exit 2 ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failures"
	printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
