#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Runs every benchmark in scripts/bench/ (each *.sh but this one), one after
# the other, each printing its own table. What `make bench` runs.
#   scripts/bench/run.sh [NAME...]       e.g. scripts/bench/run.sh foundation
#
# Benchmarks never fail on numbers; this exits non-zero only when one of them
# crashed (exited non-zero), after running the others.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

benches=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		benches+=("scripts/bench/${name%.sh}.sh")
	done
else
	for f in scripts/bench/*.sh; do
		[ "$(basename "$f")" = run.sh ] || benches+=("$f")
	done
fi

failed=()
for bench in "${benches[@]}"; do
	if [ ! -f "$bench" ]; then
		echo "run.sh: no benchmark $bench" >&2
		failed+=("$bench")
		continue
	fi
	echo "== $bench"
	bash "$bench" || failed+=("$bench")
	echo
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "benchmarks that crashed: ${failed[*]}" >&2
	exit 1
fi
