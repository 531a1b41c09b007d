#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Packet filter benchmark (not a test): the cost per packet of the XDP filter
# through BPF_PROG_TEST_RUN (repeat REPEAT, default 1e6) with 1, 1,000 and
# 100,000 rules (random CIDRs and ports), against a bare XDP_PASS program
# measured the same way, and the time to add and compile 100,000 rules; then
# 100,000 rules of every kind (with TCP flags, ICMP types and lengths) on the
# IPv4 packet, an IPv6 packet and that packet behind four extension headers,
# beside 1 rule of the same kind on the same three packets; and
# a ct rule in front of 1,000 rules, with the state given and with the
# conntrack lookup (which misses: a test-run packet has no entry). Last,
# xdp-filter's program (Debian's xdp-tools, xdpfilt_dny_all.o: every feature,
# default deny with an allow list) with 1, 1,000 and 100,000 IPv4 addresses
# and 1,000 TCP ports, on the same frame (scripts/bench/ref/xdpfilter_run.c).
# Every program is loaded first; then ROUNDS rounds (LBPF_BENCH_ROUNDS, 7) run
# each once, one after the other, and each row shows the fastest of its
# rounds, with the median beside it: this machine alternates between two
# speeds about 2x apart (pinned to one CPU too), so a row's rounds fall in
# two groups, the median lands in either, and rows compared by medians compare
# the machine with itself; the fastest round is the program's cost when the
# machine runs at full speed, and the ratios use it.
#   scripts/bench/filter.sh [REPEAT]
# LBPF_BENCH_NO_INSTALL=1 keeps it from installing xdp-tools when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
LBPF=${LBPF:-build/lbpf}
REPEAT=${1:-1000000}
TMP=$(mktemp -d)
# bpf_stats costs every BPF program two clock reads per run: off while measuring
stats_was=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null || echo 0)
sysctl -qw kernel.bpf_stats_enabled=0
trap 'rm -rf "$TMP"; rm -f /sys/fs/bpf/lbpf_bench_pass
	sysctl -qw kernel.bpf_stats_enabled="$stats_was" 2>/dev/null' EXIT

# The bare program, and the same 64-byte TCP frame the filter sees.
cat > "$TMP/pass.bpf.c" <<'C'
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; /* XDP_PASS */ }
char LICENSE[] __attribute__((section("license"), used)) = "GPL";
C
clang -O2 -target bpf -c "$TMP/pass.bpf.c" -o "$TMP/pass.o"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
bpftool prog load "$TMP/pass.o" /sys/fs/bpf/lbpf_bench_pass type xdp
printf '\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\0\x45\0\0\x28\0\0\0\0\x40\x06\0\0\x0a\x01\x02\x03\x0a\x02\x03\x04\x9c\x40\0\x50\0\0\0\0\0\0\0\0\x50\x10\xff\xff\0\0\0\0' > "$TMP/pkt"

# xdp-filter's program, run by scripts/bench/ref/xdpfilter_run.c
XF=/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_dny_all.o
if [ ! -f "$XF" ] && [ -z "${LBPF_BENCH_NO_INSTALL:-}" ]; then
	./scripts/deps.sh xdp-tools >&2 || echo "filter.sh: could not install xdp-tools" >&2
fi
XFRUN=
if [ -f "$XF" ] && gcc -O2 -Wall scripts/bench/ref/xdpfilter_run.c -lbpf -o "$TMP/xdpfilter_run"; then
	XFRUN=$TMP/xdpfilter_run
fi

cat > "$TMP/bench.lua" <<'LUA'
local repeat_n, tmp, xf, xfrun, rounds = tonumber(arg[1]), arg[2], arg[3], arg[4], tonumber(arg[5])
local pkt = { src = "10.1.2.3", dst = "10.2.3.4", proto = "tcp", sport = 40000, dport = 80 }
local function random_rule(fw)
	fw:rule{ src = string.format("%d.%d.%d.0/%d", math.random(11, 223), math.random(0, 255),
			math.random(0, 255), math.random(16, 24)),
		 dst = string.format("%d.%d.0.0/16", math.random(11, 223), math.random(0, 255)),
		 proto = "tcp", dport = math.random(1, 65535),
		 action = "drop" }
end
local rows, filters = {}, {}
local function row(label, measure, group) rows[#rows + 1] = { label = label, measure = measure, group = group, runs = {} } end
local function test(fw, p) return function() return select(3, fw:test(p, { ["repeat"] = repeat_n })) end end
local function command(cmd, pattern)
	return function()
		local f = io.popen(cmd)
		local out = f:read("a")
		f:close()
		local ns, rest = out:match(pattern)
		return tonumber(ns), rest
	end
end

row("bare XDP_PASS", command(("bpftool prog run pinned /sys/fs/bpf/lbpf_bench_pass data_in %s/pkt repeat %d"):format(tmp, repeat_n),
	"duration %(average%): (%d+)ns()"), "plain")
local compile
for _, n in ipairs({ 1, 1000, 100000 }) do
	local fw = lbpf.filter{ hook = "xdp", max_rules = math.max(n, 1024) }
	filters[#filters + 1] = fw
	math.randomseed(n)
	local t0 = lbpf.now()
	for _ = 1, n do random_rule(fw) end
	fw:commit()
	if n == 100000 then compile = (lbpf.now() - t0) / 1e9 end
	row(("lbpf xdp, %d rules"):format(n), test(fw, pkt), "plain")
end

-- 100,000 rules of every kind (IPv4 and IPv6 prefixes, ports, TCP flags, ICMP
-- types, lengths), judged on the IPv4 packet, an IPv6 TCP packet and that
-- packet behind four extension headers (hop-by-hop, destination options,
-- routing, fragment); and each packet judged by a filter of 1 such rule (the
-- first of the 100,000), so that the last column compares 100,000 rules with
-- 1 on the same packet: the cost of the rules, with the packet's parsing in both.
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
local cases = { { "IPv4", pkt }, { "IPv6", v6(false) }, { "IPv6 + 4 ext hdrs", v6(true) } }
for _, n in ipairs({ 1, 100000 }) do
	local fw = lbpf.filter{ hook = "xdp", max_rules = math.max(n, 1024) }
	filters[#filters + 1] = fw
	math.randomseed(7)
	for _ = 1, n do mixed_rule(fw) end
	fw:commit()
	for _, case in ipairs(cases) do
		row(("lbpf xdp, %d mixed, %s"):format(n, case[1]), test(fw, case[2]), "mixed " .. case[1])
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
do
	local fw = lbpf.filter{ hook = "xdp", max_rules = 2048 }
	filters[#filters + 1] = fw
	fw:rule{ ct = { "established", "related" }, action = "pass" }
	math.randomseed(1000)
	for _ = 1, 1000 do random_rule(fw) end
	fw:commit()
	local function with_ct(ct)
		local p = { ct = ct }
		for k, v in pairs(pkt) do p[k] = p[k] or v end
		return p
	end
	row("lbpf xdp, ct+1000, established", test(fw, with_ct("established")), "ct")
	row("lbpf xdp, ct+1000, new", test(fw, with_ct("new")), "ct")
	row("lbpf xdp, ct+1000, new, ct lookup", test(fw, with_ct("lookup")), "ct")
end

-- xdp-filter on the same frame, as many entries as lbpf has rules
if xfrun ~= "" then
	for _, n in ipairs({ 1, 1000, 100000 }) do
		row(("xdp-filter, %d IPv4 + 1000 ports"):format(n),
		    command(("%s %s %d 1000 %d %s/pkt 2>/dev/null"):format(xfrun, xf, n, repeat_n, tmp), "(%d+) (%S+)"), "xdp-filter")
	end
end

for _ = 1, rounds do
	for _, r in ipairs(rows) do
		local ns, extra = r.measure()
		if ns then
			r.runs[#r.runs + 1] = ns
			r.extra = extra
		end
	end
end
local by = {}
for _, r in ipairs(rows) do
	table.sort(r.runs)
	r.ns = r.runs[1] -- the fastest round; nil when every run failed
	r.median = r.runs[(#r.runs + 1) // 2]
	by[r.label] = r
end
local one = by["lbpf xdp, 1 rules"].ns
print(string.format("%-40s %9s %7s %10s %10s", "program", "ns/packet", "median", "vs 1 rule",
	"vs 1 mixed"))
for _, r in ipairs(rows) do
	if r.group == "xdp-filter" then goto continue end
	local function vs(base) return r.ns and base and ("%.2fx"):format(r.ns / base) or "-" end
	local mixed = r.label:match("^lbpf xdp, 100000 mixed, (.*)$")
	print(string.format("%-40s %9s %7s %10s %10s", r.label, r.ns or "-", r.median or "-",
		r.label == "bare XDP_PASS" and "-" or vs(one),
		mixed and vs(by["lbpf xdp, 1 mixed, " .. mixed].ns) or "-"))
	::continue::
end
print(string.format("\nadding and compiling 100000 rules from Lua: %.2f s", compile))
print()
if xfrun ~= "" then
	print(("xdp-filter %s, xdpfilt_dny_all.o (exact addresses and ports only):"):format(os.getenv("XF_VERSION") or "?"))
	for _, r in ipairs(rows) do
		if r.group == "xdp-filter" then
			print(string.format("%-40s %9s %7s %10s", r.label, r.ns or "-", r.median or "-",
				"(" .. tostring(r.extra) .. ")"))
		end
	end
else
	print("xdp-filter: not measured (xdp-tools is not installed)")
end
for _, fw in ipairs(filters) do fw:close() end
LUA
XF_VERSION=$(dpkg-query -W -f='${Version}' xdp-tools 2>/dev/null) \
	"$LBPF" run "$TMP/bench.lua" "$REPEAT" "$TMP" "$XF" "$XFRUN" "${LBPF_BENCH_ROUNDS:-7}"
