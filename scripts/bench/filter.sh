#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Packet filter benchmark (not a test): the cost per packet of the XDP filter
# through BPF_PROG_TEST_RUN (repeat REPEAT, default 1e6; median of 5) with 1, 1,000 and
# 100,000 rules (random CIDRs and ports), against a bare XDP_PASS program
# measured the same way, and the time to add and compile 100,000 rules; then
# 100,000 rules of every kind (with TCP flags, ICMP types and lengths) on the
# IPv4 packet and on an IPv6 packet behind four extension headers; and
# a ct rule in front of 1,000 rules, with the state given and with the
# conntrack lookup (which misses: a test-run packet has no entry). Last,
# xdp-filter's program (Debian's xdp-tools, xdpfilt_dny_all.o: every feature,
# default deny with an allow list) with 1, 1,000 and 100,000 IPv4 addresses
# and 1,000 TCP ports, on the same frame (scripts/bench/ref/xdpfilter_run.c).
#   scripts/bench/filter.sh [REPEAT]
# LBPF_BENCH_NO_INSTALL=1 keeps it from installing xdp-tools when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
LBPF=${LBPF:-build/lbpf}
REPEAT=${1:-1000000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; rm -f /sys/fs/bpf/lbpf_bench_pass' EXIT

# The bare program, and the same 64-byte TCP frame the filter sees.
cat > "$TMP/pass.bpf.c" <<'C'
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; /* XDP_PASS */ }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
C
clang -O2 -target bpf -c "$TMP/pass.bpf.c" -o "$TMP/pass.o"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
bpftool prog load "$TMP/pass.o" /sys/fs/bpf/lbpf_bench_pass type xdp
printf '\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\0\x45\0\0\x28\0\0\0\0\x40\x06\0\0\x0a\x01\x02\x03\x0a\x02\x03\x04\x9c\x40\0\x50\0\0\0\0\0\0\0\0\x50\x10\xff\xff\0\0\0\0' > "$TMP/pkt"
# each figure is the median of 5 runs: single runs vary by +-20% in a VM
bare=$(for i in 1 2 3 4 5; do
	bpftool prog run pinned /sys/fs/bpf/lbpf_bench_pass data_in "$TMP/pkt" repeat "$REPEAT" |
		sed -n 's/.*duration (average): \([0-9]*\)ns.*/\1/p'
done | sort -n | sed -n 3p)

cat > "$TMP/bench.lua" <<'LUA'
local repeat_n, bare = tonumber(arg[1]), tonumber(arg[2])
local pkt = { src = "10.1.2.3", dst = "10.2.3.4", proto = "tcp", sport = 40000, dport = 80 }
local function random_rule(fw)
	fw:rule{ src = string.format("%d.%d.%d.0/%d", math.random(11, 223), math.random(0, 255),
			math.random(0, 255), math.random(16, 24)),
		 dst = string.format("%d.%d.0.0/16", math.random(11, 223), math.random(0, 255)),
		 proto = "tcp", dport = math.random(1, 65535),
		 action = "drop" }
end
print(string.format("%-40s %12s %10s", "program", "ns/packet", "vs 1 rule"))
print(string.format("%-40s %12d %10s", "bare XDP_PASS", bare, "-"))
local one
for _, n in ipairs({ 1, 1000, 100000 }) do
	local fw <close> = lbpf.filter{ hook = "xdp", max_rules = math.max(n, 1024) }
	math.randomseed(n)
	local t0 = lbpf.now()
	for _ = 1, n do random_rule(fw) end
	fw:commit()
	local compile = (lbpf.now() - t0) / 1e9
	local runs = {}
	for i = 1, 5 do
		runs[i] = select(3, fw:test(pkt, { ["repeat"] = repeat_n }))
	end
	table.sort(runs)
	local ns = runs[3]
	one = one or ns
	print(string.format("%-40s %12d %9.2fx", string.format("lbpf xdp, %d rules", n), ns, ns / one))
	if n == 100000 then
		print(string.format("\nadding and compiling %d rules from Lua: %.2f s", n, compile))
	end
end

-- 100,000 rules of every kind (IPv4 and IPv6 prefixes, ports, TCP flags, ICMP
-- types, lengths), judged on the IPv4 packet and on an IPv6 TCP packet behind
-- four extension headers (hop-by-hop, destination options, routing, fragment).
local function be16(n) return string.pack(">I2", n) end
local tcp6 = be16(40000) .. be16(80) .. string.rep("\0", 8) .. "\80\16" .. be16(65535) .. "\0\0\0\0"
local exts = "\60\0\1\4\0\0\0\0" .. "\43\0\1\4\0\0\0\0" .. "\44\0\0\0\0\0\0\0" ..
	"\6\0\0\0\0\0\0\7"
local function v6(ext)
	local body = ext and exts .. tcp6 or tcp6
	return "\2\0\0\0\0\2\2\0\0\0\0\1" .. be16(0x86dd) ..
		string.pack(">I4I2BB", 0x60000000, #body, ext and 0 or 6, 64) ..
		"\32\1\13\184" .. string.rep("\0", 11) .. "\1" .. "\32\1\13\184" .. string.rep("\0", 11) .. "\2" ..
		body
end
local function mixed_rule(fw)
	local k, r = math.random(6), { action = "drop" }
	if k <= 2 then
		r.src = string.format("%d.%d.%d.0/%d", math.random(11, 223), math.random(0, 255),
			math.random(0, 255), math.random(16, 24))
	else
		r.src = string.format("%x:%x:%x::/48", math.random(0x2000, 0x3fff), math.random(0, 65535),
			math.random(0, 65535))
	end
	if k == 1 or k == 3 then r.proto, r.dport = "tcp", math.random(1, 65535) end
	if k == 4 then r.tcp = { syn = true, ack = false, fin = math.random(2) == 1 } end
	if k == 5 then r.icmp_type = math.random(0, 20) end
	if k == 6 then local lo = math.random(20, 1400) r.length = { lo, lo + math.random(0, 200) } end
	fw:rule(r)
end
do
	local fw <close> = lbpf.filter{ hook = "xdp", max_rules = 100000 }
	math.randomseed(7)
	for _ = 1, 100000 do mixed_rule(fw) end
	fw:commit()
	for _, case in ipairs({ { "100000 mixed, IPv4", pkt }, { "100000 mixed, IPv6", v6(false) },
				{ "100000 mixed, IPv6 + 4 ext hdrs", v6(true) } }) do
		local runs = {}
		for i = 1, 5 do runs[i] = select(3, fw:test(case[2], { ["repeat"] = repeat_n })) end
		table.sort(runs)
		print(string.format("%-40s %12d %9.2fx", "lbpf xdp, " .. case[1], runs[3], runs[3] / one))
	end
end
-- A ct rule in front of the same 1,000 rules ("ct state established,related
-- accept" first, as firewalls have it). A test-run packet has no conntrack
-- entry: "given" hands the program the state (the ct field's classification
-- only: an established packet is decided by the ct rule, a new one must get
-- past it, which takes the search to the leaves); "conntrack lookup" makes it
-- call bpf_xdp_ct_lookup, which misses (the cost of a lookup that finds
-- nothing, as for a new flow; a hit adds taking and releasing the entry's
-- reference, which this row does not measure).
local function median(fw, p)
	local runs = {}
	for i = 1, 5 do runs[i] = select(3, fw:test(p, { ["repeat"] = repeat_n })) end
	table.sort(runs)
	return runs[3]
end
local fw <close> = lbpf.filter{ hook = "xdp", max_rules = 2048 }
fw:rule{ ct = { "established", "related" }, action = "pass" }
math.randomseed(1000)
for _ = 1, 1000 do random_rule(fw) end
fw:commit()
local function with_ct(ct)
	local p = { ct = ct }
	for k, v in pairs(pkt) do p[k] = p[k] or v end
	return p
end
for _, row in ipairs({ { "ct+1000, established", with_ct("established") },
		       { "ct+1000, new", with_ct("new") },
		       { "ct+1000, new, ct lookup", with_ct("lookup") } }) do
	local ns = median(fw, row[2])
	print(string.format("%-40s %12d %9.2fx", "lbpf xdp, " .. row[1], ns, ns / one))
end
LUA
"$LBPF" run "$TMP/bench.lua" "$REPEAT" "$bare"

# xdp-filter on the same frame, as many entries as lbpf has rules
XF=/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o
if [ ! -f "$XF" ] && [ -z "${LBPF_BENCH_NO_INSTALL:-}" ]; then
	./scripts/deps.sh xdp-tools >&2 || echo "filter.sh: could not install xdp-tools" >&2
fi
if [ -f "$XF" ] && gcc -O2 -Wall scripts/bench/ref/xdpfilter_run.c -lbpf -o "$TMP/xdpfilter_run"; then
	echo
	echo "xdp-filter $(dpkg-query -W -f='${Version}' xdp-tools 2>/dev/null), xdpfilt_dny_all.o (exact addresses and ports only):"
	for n in 1 1000 100000; do
		read -r ns verdict < <("$TMP/xdpfilter_run" "$XF" "$n" 1000 "$REPEAT" "$TMP/pkt" 2>/dev/null)
		printf '%-40s %12s %10s\n' "xdp-filter, $n IPv4 + 1000 ports" "${ns:--}" "($verdict)"
	done
else
	echo "xdp-filter: not measured (xdp-tools is not installed)"
fi
