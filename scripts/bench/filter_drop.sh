#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Packet filter benchmark (not a test): the drop rate on a veth pair between two
# network namespaces made here (lbpf-bs sends, lbpf-bd drops; nothing else is
# touched). tests/helpers/flood sends one fixed 60-byte UDP frame through
# AF_PACKET (qdisc bypassed) as fast as one core allows, pinned to CPU 1; the
# receiving side's softirq runs on that core too, so the rate is what one core
# sends and judges. The drop side holds N random CIDR/port rules that never
# match, then one rule that drops the flood, for N = 10 and 10,000:
#   lbpf XDP (native, on the receiving veth)
#   iptables-legacy, raw PREROUTING: N linear rules (the classic x_tables)
#   iptables-nft, raw PREROUTING: the same rules (Debian 12's default iptables)
#   nftables, a prerouting chain at priority raw with N rules
#   nftables, one rule looking up a set (ipv4 . ipv4 . port, intervals) of N entries
# Rate = packets the drop rule counted (lbpf rule:stats(), iptables -xvnL,
# an nft named counter) over DURATION seconds, after a WARMUP. Also shown: the
# veth's receive rate with no filter at all (packets reach UDP and die there).
# Veth with XDP copies each locally built skb into a page before the program
# runs (its head is not a page fragment); that copy is part of lbpf's numbers.
# Each cell is the best of ROUNDS runs, taken in turn (the machine is noisy).
#   scripts/bench/filter_drop.sh [DURATION [WARMUP [ROUNDS]]]   defaults: 3, 0.5 s, 2
# Installs iptables and nftables when missing (scripts/deps.sh). Never fails on
# numbers; exits non-zero only when it cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."
LBPF=${LBPF:-build/lbpf}
LBPF=$(realpath "$LBPF")
FLOOD=$(realpath "${FLOOD:-build/tests/helpers/flood}")
DURATION=${1:-3}
WARMUP=${2:-0.5}
ROUNDS=${3:-2}
NS_S=lbpf-bs NS_D=lbpf-bd
SRC=10.98.0.1 DST=10.98.0.2 PORT=9
S="ip netns exec $NS_S"
D="ip netns exec $NS_D"
TMP=

cleanup() {
	for ns in $NS_S $NS_D; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del $ns 2>/dev/null || true
	done
	[ -z "$TMP" ] || rm -rf "$TMP"
	rm -rf /sys/fs/bpf/lbpf_bench_drop /sys/fs/bpf/lbpf_bench_drop_maps
	[ -z "${stats_was:-}" ] || sysctl -qw kernel.bpf_stats_enabled="$stats_was" 2>/dev/null
	return 0
}
cleanup
# bpf_stats costs every BPF program two clock reads per run: off while measuring
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
sysctl -qw kernel.bpf_stats_enabled=0
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "\$ scripts/bench/filter_drop.sh $DURATION $WARMUP $ROUNDS    # kernel $(uname -r), $(nproc) CPUs"
[ "$(id -u)" -eq 0 ] || { echo "filter_drop: needs root (namespaces, XDP, iptables)" >&2; exit 1; }
[ -x "$LBPF" ] && [ -x "$FLOOD" ] || { echo "filter_drop: build first (make)" >&2; exit 1; }
./scripts/deps.sh iptables nftables >&2
TMP=$(mktemp -d)

ip netns add $NS_S
ip netns add $NS_D
ip link add s0 netns $NS_S type veth peer name d0 netns $NS_D
$S ip addr add $SRC/24 dev s0
$D ip addr add $DST/24 dev d0
for ns in $NS_S $NS_D; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done
$S ip link set s0 up
$D ip link set d0 up
MAC=$($D cat /sys/class/net/d0/address)
CPU=$(($(nproc) > 1 ? 1 : 0))
FLOOD_SECONDS=$(awk -v w="$WARMUP" -v d="$DURATION" 'BEGIN { print w + d + 1 }')

# The rules: "src/len dst/len port", never matching 10.98.0.1 (first octet 11..223).
gen_rules() {
	awk -v n="$1" 'BEGIN { srand(n)
		for (i = 0; i < n; i++) {
			a = 11 + int(rand() * 213); if (a == 127) a = 128
			len = 16 + int(rand() * 9)
			step = 2 ^ (24 - len); c = int(int(rand() * 256) / step) * step
			printf "%d.%d.%d.0/%d %d.%d.0.0/16 %d\n", a, int(rand() * 256), c, len,
				11 + int(rand() * 213), int(rand() * 256), 1 + int(rand() * 65535)
		} }' > "$TMP/rules"
}

now() { date +%s.%N; }

# sample COUNTER_CMD: prints "time count", the time taken halfway through the read.
sample() {
	local t0 c t1
	t0=$(now); c=$("$@"); t1=$(now)
	echo "$t0 $t1 $c" | awk '{ printf "%.6f %s\n", ($1 + $2) / 2, $3 }'
}

# measure COUNTER_CMD...: floods, samples the counter after WARMUP and again
# DURATION later; prints the rate in packets/s (or "error").
measure() {
	local a b
	$S taskset -c $CPU "$FLOOD" s0 "$MAC" $SRC $DST $PORT \
		"$FLOOD_SECONDS" > "$TMP/flood" &
	local flood=$!
	sleep "$WARMUP"
	a=$(sample "$@") || a=
	sleep "$DURATION"
	b=$(sample "$@") || b=
	wait $flood || true
	if [ -z "$a" ] || [ -z "$b" ]; then echo error; return; fi
	echo "$a $b" | awk '{ printf "%.0f\n", ($4 - $2) / ($3 - $1) }'
}

rx_packets() { $D cat /sys/class/net/d0/statistics/rx_packets; }

ipt_counter() { $D "$IPT" -t raw -xvnL PREROUTING "$(($1 + 1))" 2>/dev/null | awk '{ print $1 }'; }
run_iptables() {
	local n=$1
	IPT=$2
	{ echo '*raw'; echo ':PREROUTING ACCEPT [0:0]'
	  awk '{ printf "-A PREROUTING -s %s -d %s -p udp --dport %s -j DROP\n", $1, $2, $3 }' "$TMP/rules"
	  echo "-A PREROUTING -s $SRC -d $DST -p udp --dport $PORT -j DROP"; echo COMMIT
	} | $D "$IPT-restore" || { echo error; return; }
	measure ipt_counter "$n"
	$D "$IPT" -t raw -F PREROUTING
}

nft_counter() { $D nft list counter ip lbpf_bench flood | awk '/packets/ { print $2 }'; }
run_nft() {
	local n=$1 how=$2
	{ echo 'table ip lbpf_bench {'
	  echo ' counter flood { }'
	  if [ "$how" = set ]; then
		echo ' set rules { type ipv4_addr . ipv4_addr . inet_service; flags interval; elements = {'
		awk '{ printf "  %s . %s . %s,\n", $1, $2, $3 }' "$TMP/rules"
		echo ' }'; echo ' }'
	  fi
	  echo ' chain pre { type filter hook prerouting priority raw; policy accept;'
	  if [ "$how" = set ]; then
		echo '  ip saddr . ip daddr . udp dport @rules drop'
	  else
		awk '{ printf "  ip saddr %s ip daddr %s udp dport %s drop\n", $1, $2, $3 }' "$TMP/rules"
	  fi
	  echo "  ip saddr $SRC ip daddr $DST udp dport $PORT counter name flood drop"
	  echo ' }'; echo '}'
	} > "$TMP/ruleset.nft"
	$D nft -f "$TMP/ruleset.nft" || { echo error; return; }
	measure nft_counter
	$D nft delete table ip lbpf_bench
}

# The ceiling of XDP on this veth: a bare program that counts and drops.
bare_counter() {
	bpftool -j map lookup pinned /sys/fs/bpf/lbpf_bench_drop_maps/count key 0 0 0 0 |
		sed -n 's/.*"formatted":{"key":0,"value":\([0-9]*\)}.*/\1/p' | grep .
}
run_bare() {
	cat > "$TMP/drop.bpf.c" <<-'C'
	#include <linux/bpf.h>
	#include <bpf/bpf_helpers.h>
	struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 1);
		__type(key, __u32);
		__type(value, __u64);
	} count SEC(".maps");
	SEC("xdp") int drop(struct xdp_md *ctx)
	{
		__u32 k = 0;
		__u64 *v = bpf_map_lookup_elem(&count, &k);

		if (v)
			__sync_fetch_and_add(v, 1);
		return XDP_DROP;
	}
	char LICENSE[] SEC("license") = "GPL";
	C
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	# /sys is remounted by `ip netns exec`, which would hide bpffs: nsenter.
	clang -O2 -g -target bpf -I/usr/include/"$(uname -m)"-linux-gnu -c "$TMP/drop.bpf.c" \
		-o "$TMP/drop.o" >&2 &&
	bpftool prog load "$TMP/drop.o" /sys/fs/bpf/lbpf_bench_drop type xdp \
		pinmaps /sys/fs/bpf/lbpf_bench_drop_maps >&2 &&
	nsenter --net=/run/netns/$NS_D bpftool net attach xdpdrv pinned /sys/fs/bpf/lbpf_bench_drop \
		dev d0 >&2 || { echo error; return; }
	measure bare_counter
	nsenter --net=/run/netns/$NS_D bpftool net detach xdpdrv dev d0 >&2
	rm -rf /sys/fs/bpf/lbpf_bench_drop /sys/fs/bpf/lbpf_bench_drop_maps
}

# lbpf: the policy process itself samples its counter at the same times.
run_lbpf() {
	cat > "$TMP/drop.lua" <<-EOF
	local fw = lbpf.filter{ hook = "xdp", dev = "d0", mode = "native", max_rules = 16384 }
	for line in io.lines("$TMP/rules") do
	  local src, dst, port = line:match("(%S+) (%S+) (%d+)")
	  fw:rule{ src = src, dst = dst, proto = "udp", dport = tonumber(port), action = "drop" }
	end
	local flood = fw:rule{ src = "$SRC", dst = "$DST", proto = "udp", dport = $PORT, action = "drop" }
	fw:commit()
	local a, b
	local function sample() return { lbpf.now() / 1e9, flood:stats().packets } end
	lbpf.after(math.floor($WARMUP * 1000), function() a = sample() end)
	lbpf.after(math.floor(($WARMUP + $DURATION) * 1000), function()
	  b = sample()
	  print(string.format("rate=%.0f", (b[2] - a[2]) / (b[1] - a[1])))
	  io.stdout:flush()
	  lbpf.exit(0)
	end)
	print("ready") io.stdout:flush()
	EOF
	$D "$LBPF" run "$TMP/drop.lua" > "$TMP/lbpf.out" 2>&1 &
	local pid=$! i
	for i in $(seq 200); do
		grep -q '^ready' "$TMP/lbpf.out" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -q '^ready' "$TMP/lbpf.out"; then
		echo "filter_drop: lbpf: $(head -c 300 "$TMP/lbpf.out")" >&2
		kill $pid 2>/dev/null; wait $pid 2>/dev/null; echo error; return
	fi
	$S taskset -c $CPU "$FLOOD" s0 "$MAC" $SRC $DST $PORT \
		"$FLOOD_SECONDS" > "$TMP/flood" &
	local flood=$!
	wait $pid || true
	wait $flood || true
	sed -n 's/^rate=//p' "$TMP/lbpf.out" | grep . || echo error
}

declare -A rate
order=(lbpf ipt_legacy ipt_nft nft_rules nft_set)
declare -A label=([lbpf]="lbpf XDP" [ipt_legacy]="iptables-legacy, raw PREROUTING"
	[ipt_nft]="iptables-nft, raw PREROUTING" [nft_rules]="nftables, N rules"
	[nft_set]="nftables, 1 set of N entries")
# best KEY RATE: keeps the higher of rate[KEY] and RATE ("error" loses).
best() {
	case $2 in ''|error) rate[$1]=${rate[$1]:-error}; return ;; esac
	case ${rate[$1]:-error} in error) rate[$1]=$2; return ;; esac
	[ "$2" -le "${rate[$1]}" ] || rate[$1]=$2
}
for round in $(seq "$ROUNDS"); do
	best none "$(measure rx_packets)"
	best bare "$(run_bare)"
	for n in 10 10000; do
		gen_rules $n
		best lbpf,$n "$(run_lbpf)"
		best ipt_legacy,$n "$(run_iptables $n iptables-legacy)"
		best ipt_nft,$n "$(run_iptables $n iptables-nft)"
		best nft_rules,$n "$(run_nft $n rules)"
		best nft_set,$n "$(run_nft $n set)"
	done
done

mpps() { case $1 in error|'') echo "error" ;; *) echo "$1" | awk '{ printf "%.3f", $1 / 1e6 }' ;; esac; }
ratio() {
	case "$1$2" in *error*) echo "-" ;; *) echo "$1 $2" | awk '{ printf "%.2fx", $1 / $2 }' ;; esac
}
echo
echo "Drop rate of a UDP flood, Mpps dropped by the filter (one core sends and judges;"
echo "best of $ROUNDS runs of ${DURATION} s)"
printf "%-36s %12s %12s\n" "filter" "N = 10" "N = 10,000"
printf "%-36s %12s %12s\n" "no filter (veth rx, to UDP)" "$(mpps "${rate[none]}")" "-"
printf "%-36s %12s %12s\n" "bare XDP_DROP program (0 rules)" "$(mpps "${rate[bare]}")" "-"
for k in "${order[@]}"; do
	printf "%-36s %12s %12s\n" "${label[$k]}" "$(mpps "${rate[$k,10]}")" "$(mpps "${rate[$k,10000]}")"
done
echo
echo "targets at N = 10,000:"
printf "  lbpf / iptables-legacy  %8s   (target >= 5x)\n" "$(ratio "${rate[lbpf,10000]}" "${rate[ipt_legacy,10000]}")"
printf "  lbpf / iptables-nft     %8s   (target >= 5x)\n" "$(ratio "${rate[lbpf,10000]}" "${rate[ipt_nft,10000]}")"
printf "  lbpf / nftables set     %8s   (target >= 1x)\n" "$(ratio "${rate[lbpf,10000]}" "${rate[nft_set,10000]}")"
