#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# fentry against kprobes (issue 12), in the Debian 6.12 guest of
# scripts/vmtest.sh, since this kernel has neither: the same lbpf probe on
# do_send_sig_info, reached by every kill(getpid(), SIGWINCH) of the workload,
# with via = "kprobe" and via = "fentry", counting in the kernel by a raw
# argument and by a 3-read field path. The guest half is
# scripts/bench/vm/fentry_guest.sh; it prints the rows, this prints the table.
#   scripts/bench/fentry.sh           (needs make; boots the guest, ~2 minutes)
#
# The guest runs under qemu's TCG (no KVM here): its absolute times are an
# emulator's, many times a real CPU's, so only the ratios within one run mean
# anything. A benchmark: exits 0 whatever the numbers, non-zero when the guest
# could not run it.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
BUILD=${BUILD:-build}
KERNEL=${LBPF_BENCH_KERNEL:-6.12}

echo "$ scripts/bench/fentry.sh"
out=$(LBPF_VM_TESTS=scripts/bench/vm/fentry_guest.sh LBPF_VM_TEST_TIMEOUT=200 \
	scripts/vmtest.sh --kernel "$KERNEL" 2>&1)
rc=$?
log=$BUILD/vm/$KERNEL/console.log
rows=$(tr -d '\r' < "$log" 2>/dev/null | grep -a -o 'BENCH |.*' | sed 's/^BENCH //')
if [ -z "$rows" ]; then
	echo "fentry.sh: the guest printed no rows: $out" >&2
	exit 1
fi
echo "# $(grep -a -o 'BOOTED .*' "$log" | head -n 1 | tr -d '\r' | sed 's/BOOTED/guest kernel/') under qemu TCG;" \
	"$(grep -a -o 'every row counted all [0-9]* calls' "$log" | head -n 1)"
echo "# workload: kill(getpid(), SIGWINCH) in a loop; probe: do_send_sig_info filtered to its pid"
echo
echo "| probe (median of 3 rounds) | workload calls/s | cost per event (1/rate − 1/untraced) | BPF program ns per run (bpf_stats) | events counted |"
echo "|---|---|---|---|---|"
# the median of each row's three rounds, rate and BPF time apart
rows=$(awk -F'|' '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n ? a[int((n + 1) / 2)] : ""
	}
	!($2 in seen) { seen[$2] = 1; order[++n] = $2 }
	{ rate[$2] = rate[$2] " " $3; if ($4 != "") ns[$2] = ns[$2] " " $4; cnt[$2] = $5 }
	END { for (i = 1; i <= n; i++) { w = order[i]; printf "|%s|%s|%s|%s|\n", w, median(rate[w]), median(ns[w]), cnt[w] } }' <<< "$rows")
none=$(awk -F'|' '$2 == "none" { print $3 }' <<< "$rows")
declare -A C B
while IFS='|' read -r _ what rate ns counted _; do
	[ "$what" = none ] && { echo "| no tracing | $rate | - | - | - |"; continue; }
	cost=$(awk -v r="$rate" -v n="$none" 'BEGIN { if (r > 0 && n > 0) printf "%.0f", 1e9 / r - 1e9 / n }')
	C[$what]=$cost B[$what]=$ns
	label="via = \"${what% *}\", count by $([ "${what#* }" = sig ] && echo 'arg1 (the signal, a raw argument)' || echo 'p->real_parent->real_parent->tgid (3 reads)')"
	echo "| $label | $rate | ${cost:--} ns | ${ns:--} | $counted |"
done <<< "$rows"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }
echo
echo "| comparison (same run) | BPF ns per run | cost per event |"
echo "|---|---|---|"
echo "| fentry / kprobe, count by arg1 | $(ratio "${B[fentry sig]:-}" "${B[kprobe sig]:-}")× | $(ratio "${C[fentry sig]:-}" "${C[kprobe sig]:-}")× |"
echo "| fentry / kprobe, count by the path | $(ratio "${B[fentry path]:-}" "${B[kprobe path]:-}")× | $(ratio "${C[fentry path]:-}" "${C[kprobe path]:-}")× |"
echo "| path / arg1, fentry (target ≤ 1.3×) | $(ratio "${B[fentry path]:-}" "${B[fentry sig]:-}")× | $(ratio "${C[fentry path]:-}" "${C[fentry sig]:-}")× |"
echo "| path / arg1, kprobe | $(ratio "${B[kprobe path]:-}" "${B[kprobe sig]:-}")× | $(ratio "${C[kprobe path]:-}" "${C[kprobe sig]:-}")× |"
[ "$rc" -eq 0 ] || { echo "fentry.sh: the guest reported a failure:"; grep -E '^(FAIL|SKIP)' <<< "$out"; }
exit 0
