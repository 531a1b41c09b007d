-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Proves the packet filter's rule engine through fw:test (BPF_PROG_TEST_RUN on
-- the loaded XDP program, nothing attached): first match wins in rule order,
-- CIDR boundaries, port ranges and lists, protocols and SYN, IPv6, sets with
-- TTLs, count rules, rule removal, counters, atomic recompiles at scale, and
-- that each misuse raises an error naming the field while changing nothing.

local function check(name, fn)
	local ok, err = pcall(fn)
	print(ok and "PASS " .. name or "FAIL " .. name .. ": " .. tostring(err))
end

local function eq(got, want, what)
	if got ~= want then
		error(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
	end
end

-- expect(fw, pkt, verdict, rule): rule is a rule object, or nil for the default
local function expect(fw, pkt, verdict, rule)
	local v, r = fw:test(pkt)
	local desc = string.format("%s:%s -> %s:%s %s", pkt.src or "-", pkt.sport or "-",
		pkt.dst or "-", pkt.dport or "-", pkt.proto or "tcp")
	eq(v, verdict, desc .. " verdict")
	if r ~= rule then
		error(string.format("%s: matched %s, want %s", desc,
			r and (r:comment() or r:id()) or "default",
			rule and (rule:comment() or rule:id()) or "default"), 2)
	end
end

local function raises(fn, pattern)
	local ok, err = pcall(fn)
	if ok then error("no error, want " .. pattern, 2) end
	if not tostring(err):find(pattern, 1, true) then
		error(string.format("error %q lacks %q", tostring(err), pattern), 2)
	end
end

check("filter/order", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local a = fw:rule{ src = "10.0.0.0/8", dport = 22, action = "pass", comment = "lab ssh" }
	local b = fw:rule{ dport = 22, action = "drop", comment = "ssh" }
	local c = fw:rule{ src = "10.1.0.0/16", action = "drop", comment = "lab 1" }
	expect(fw, { src = "10.1.2.3", dport = 22 }, "pass", a)
	expect(fw, { src = "11.1.2.3", dport = 22 }, "drop", b)
	expect(fw, { src = "10.1.2.3", dport = 80 }, "drop", c)
	expect(fw, { src = "10.2.2.3", dport = 80 }, "pass", nil)
	a:remove()
	expect(fw, { src = "10.1.2.3", dport = 22 }, "drop", b)
	fw:default("drop")
	expect(fw, { src = "10.2.2.3", dport = 80 }, "drop", nil)
	eq(#fw:rules(), 2, "rules")
	eq(fw:rules()[1], b, "first rule")
end)

check("filter/cidr_boundaries", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local r = fw:rule{ dst = "192.168.4.0/22", action = "drop" }
	local h = fw:rule{ src = "203.0.113.7", action = "drop" }
	local z = fw:rule{ src = "0.0.0.0/1", dst = "1.0.0.0/8", action = "drop" }
	expect(fw, { dst = "192.168.3.255" }, "pass", nil)
	expect(fw, { dst = "192.168.4.0" }, "drop", r)
	expect(fw, { dst = "192.168.7.255" }, "drop", r)
	expect(fw, { dst = "192.168.8.0" }, "pass", nil)
	expect(fw, { src = "203.0.113.6" }, "pass", nil)
	expect(fw, { src = "203.0.113.7" }, "drop", h)
	expect(fw, { src = "203.0.113.8" }, "pass", nil)
	expect(fw, { src = "127.255.255.255", dst = "1.2.3.4" }, "drop", z)
	expect(fw, { src = "128.0.0.0", dst = "1.2.3.4" }, "pass", nil)
	expect(fw, { src = "255.255.255.255", dst = "255.255.255.255" }, "pass", nil)
end)

check("filter/ports_and_protocols", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local range = fw:rule{ proto = "udp", dport = { 1000, 2000 }, action = "drop" }
	local list = fw:rule{ dport = { list = { 80, 443, { 8000, 8080 } } }, action = "drop" }
	local syn = fw:rule{ tcp = "syn", dport = 25, action = "drop" }
	local icmp = fw:rule{ proto = "icmp", action = "drop" }
	local sport = fw:rule{ sport = 53, proto = "udp", action = "pass", comment = "dns replies" }
	fw:default("drop")
	expect(fw, { proto = "udp", dport = 999, sport = 53 }, "pass", sport)
	expect(fw, { proto = "udp", dport = 1000 }, "drop", range)
	expect(fw, { proto = "udp", dport = 2000 }, "drop", range)
	expect(fw, { proto = "tcp", dport = 1500 }, "drop", nil)
	expect(fw, { proto = "tcp", dport = 443 }, "drop", list)
	expect(fw, { proto = "udp", dport = 8080 }, "drop", list)
	expect(fw, { proto = "udp", dport = 8081, sport = 53 }, "pass", sport)
	expect(fw, { proto = "tcp", dport = 25, tcp = "syn" }, "drop", syn)
	expect(fw, { proto = "tcp", dport = 25 }, "drop", nil) -- established: default
	expect(fw, { proto = "icmp" }, "drop", icmp)
	expect(fw, { proto = "udp", sport = 53, dport = 7 }, "pass", sport)
	expect(fw, { proto = 47 }, "drop", nil)
end)

check("filter/ipv6", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local net = fw:rule{ src = "2001:db8::/32", dport = 22, action = "drop" }
	local v4 = fw:rule{ src = "0.0.0.0/0", dport = 23, action = "drop" }
	local ping = fw:rule{ proto = "icmpv6", dst = "2001:db8:ffff::1", action = "drop" }
	local both = fw:rule{ src = { "10.0.0.0/8", "fd00::/8" }, action = "drop" }
	expect(fw, { src = "2001:db8:1::5", dst = "2001:db9::1", dport = 22 }, "drop", net)
	expect(fw, { src = "2001:db9::5", dst = "2001:db9::1", dport = 22 }, "pass", nil)
	expect(fw, { src = "2001:db9::5", dst = "2001:db9::1", dport = 23 }, "pass", nil)
	expect(fw, { src = "192.0.2.9", dport = 23 }, "drop", v4)
	expect(fw, { src = "2001:db9::5", dst = "2001:db8:ffff::1", proto = "icmpv6" }, "drop", ping)
	expect(fw, { src = "fd12::1", dst = "2001:db9::1", dport = 80 }, "drop", both)
	expect(fw, { src = "10.9.9.9", dport = 80 }, "drop", both)
	expect(fw, { src = "::ffff:10.9.9.9", dst = "::1", dport = 80 }, "pass", nil)
end)

check("filter/sets", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local bad = fw:set("blocklist", { type = "cidr" })
	local hosts = fw:set("hosts", { type = "ipv4", ttl = 300 })
	local r1 = fw:rule{ src = bad, action = "drop", comment = "blocklist" }
	local r2 = fw:rule{ dst = hosts, dport = 80, action = "drop", comment = "hosts" }
	expect(fw, { src = "198.51.100.1" }, "pass", nil)
	bad:add("198.51.100.0/24")
	bad:add("2001:db8:bad::/48")
	expect(fw, { src = "198.51.100.1" }, "drop", r1)
	expect(fw, { src = "198.51.101.1" }, "pass", nil)
	expect(fw, { src = "2001:db8:bad::7", dst = "2001:db8::1" }, "drop", r1)
	hosts:add("192.0.2.80")
	expect(fw, { dst = "192.0.2.80", dport = 80 }, "drop", r2)
	expect(fw, { dst = "192.0.2.80", dport = 81 }, "pass", nil)
	eq(hosts:has("192.0.2.80"), true, "has")
	eq(#bad:entries(), 2, "entries")
	bad:remove("198.51.100.0/24")
	expect(fw, { src = "198.51.100.1" }, "pass", nil)
	hosts:add("192.0.2.81", { ttl = 1 })
	expect(fw, { dst = "192.0.2.81", dport = 80 }, "drop", r2)
	local t0 = lbpf.now()
	repeat until lbpf.now() - t0 > 1.1e9 -- the set test runs without the loop
	expect(fw, { dst = "192.0.2.81", dport = 80 }, "pass", nil)
	eq(hosts:has("192.0.2.81"), false, "has after the TTL")
	raises(function() hosts:add("10.0.0.0/8") end, "is not an IPv4 address")
end)

-- A cidr set matches exactly what the same CIDR in a rule matches: IPv6
-- entries (even ::/0 and the IPv4-mapped ::ffff:0:0/96) never hold IPv4.
check("filter/sets_family", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local set = fw:set("v6", { type = "cidr" })
	local r = fw:rule{ src = set, action = "drop", comment = "v6 set" }
	for _, cidr in ipairs{ "::/0", "::/10", "::ffff:0:0/96", "::ffff:104.96.96.120" } do
		set:add(cidr)
		expect(fw, { src = "104.96.96.120", dst = "192.0.2.2" }, "pass", nil)
		expect(fw, { src = "10.0.0.1", dst = "192.0.2.2" }, "pass", nil)
		eq(set:has("104.96.96.120"), false, cidr .. ": has an IPv4 address")
		set:remove(cidr)
	end
	set:add("::/0")
	expect(fw, { src = "2001:db8::1", dst = "2001:db8::2" }, "drop", r)
	set:add("0.0.0.0/0")
	expect(fw, { src = "10.0.0.1", dst = "192.0.2.2" }, "drop", r)
	set:remove("::/0")
	expect(fw, { src = "2001:db8::1", dst = "2001:db8::2" }, "pass", nil)
	local seen = {}
	for _, e in ipairs(set:entries()) do seen[e] = true end
	eq(seen["0.0.0.0/0"], true, "entries keep the IPv4 CIDR")
end)

check("filter/count_rules", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local all = fw:rule{ action = "count", comment = "all" }
	local web = fw:rule{ dport = 80, action = "count" }
	local drop = fw:rule{ dport = 80, src = "10.0.0.0/8", action = "drop" }
	expect(fw, { src = "10.0.0.1", dport = 80 }, "drop", drop)
	expect(fw, { src = "11.0.0.1", dport = 80 }, "pass", nil)
	expect(fw, { src = "11.0.0.1", dport = 81, len = 100 }, "pass", nil)
	eq(all:stats().packets, 3, "all packets")
	eq(web:stats().packets, 2, "web packets")
	eq(drop:stats().packets, 1, "drop packets")
	eq(all:stats().bytes >= 100 + 54 + 54, true, "bytes")
	local st = fw:stats()
	eq(st.dropped, 1, "dropped")
	eq(st.passed, 2, "passed")
end)

-- More unconditional count rules than the search follows (FILTER_MAX_CHAIN)
-- in front of an unconditional drop: the drop still decides.
check("filter/count_rules_chain", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local counts = {}
	for i = 1, 5 do counts[i] = fw:rule{ action = "count" } end
	local drop = fw:rule{ action = "drop" }
	expect(fw, { src = "10.0.0.1", dport = 80 }, "drop", drop)
	eq(counts[1]:stats().packets, 1, "first count rule")
end)

check("filter/scale_100k", function()
	local fw <close> = lbpf.filter{ hook = "xdp", max_rules = 100000 }
	math.randomseed(7)
	for i = 1, 99990 do
		fw:rule{ src = string.format("%d.%d.%d.0/24", math.random(11, 200), math.random(0, 255),
			math.random(0, 255)), proto = "tcp", dport = math.random(1024, 65535), action = "drop" }
	end
	local last = fw:rule{ src = "10.0.0.0/8", dport = 22, action = "drop", comment = "last" }
	expect(fw, { src = "10.0.0.1", dport = 22 }, "drop", last)
	expect(fw, { src = "10.0.0.1", dport = 23 }, "pass", nil)
	local first = fw:rules()[1]
	first:remove()
	expect(fw, { src = "10.0.0.1", dport = 22 }, "drop", last)
end)

check("filter/misuse", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local keep = fw:rule{ dport = 1, action = "drop" }
	raises(function() fw:rule{ dport = 70000 } end, "dport: port 70000 out of range 0..65535")
	raises(function() fw:rule{ sport = { 10, 5 } } end, "sport: range {10, 5} is reversed")
	raises(function() fw:rule{ src = "10.0.0.0/33" } end, "src: malformed address or CIDR '10.0.0.0/33'")
	raises(function() fw:rule{ dst = "not-an-ip" } end, "dst: malformed address or CIDR")
	raises(function() fw:rule{ action = "ratelimit" } end, "ratelimit: needs a rate")
	raises(function() fw:rule{ action = "reject" } end, "action: expected pass, drop, count or ratelimit")
	raises(function() fw:rule{ proto = "tcpx" } end, "proto: unknown protocol 'tcpx'")
	raises(function() fw:rule{ proto = "icmp", dport = 3, action = "drop" } end, "dport: ports need proto tcp, udp")
	raises(function() fw:rule{ iif = "nosuchif0" } end, "iif: no interface 'nosuchif0'")
	raises(function() fw:rule{ dprot = 80 } end, "rule 2: unknown field 'dprot'")
	raises(function() fw:rule{ tcp = "fin", action = "drop" } end, "tcp: \"syn\" or a table of flags")
	raises(function() lbpf.filter{ hook = "xdp", dev = "nosuchif0" } end, "dev: no interface 'nosuchif0'")
	raises(function() lbpf.filter{ hook = "bpf" } end, "hook: expected")
	raises(function() lbpf.filter{ hook = "netfilter", chain = "inbound" } end, "chain: expected")
	eq(#fw:rules(), 1, "rules after misuse")
	expect(fw, { dport = 1 }, "drop", keep)
	expect(fw, { dport = 2 }, "pass", nil)
end)

-- Values that do not fit, and nonsense that used to be accepted: each is an
-- error that names the rule (by position and comment) and the field.
check("filter/misuse_values", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local keep = fw:rule{ dport = 1, action = "drop" }
	local function bad(rule, pattern) raises(function() fw:rule(rule) end, pattern) end
	bad({ dport = 22 }, "rule 2: action: missing")
	bad({ dport = 22, comment = "ssh" }, "rule 2 (ssh): action: missing")
	bad({ action = "drop", log = { sample = 2^32 + 1 } }, "rule 2: log.sample: 4294967297 out of range 1..4294967295")
	bad({ action = "drop", log = { sample = 1.5 } }, "log.sample: expected an integer, got a fraction")
	bad({ action = "ratelimit", pps = 10, burst = 2^32 + 1 }, "burst: 4294967297 out of range")
	bad({ action = "ratelimit", pps = 2^40 }, "pps: 1099511627776 out of range")
	bad({ action = "drop", burst = 5 }, "burst: only for action = \"ratelimit\"")
	bad({ action = "ratelimit", pps = 10, bps = 1000 }, "pps, bps: one rate per rule")
	bad({ action = "drop", src = "10.0.0.1\0garbage" }, "src: malformed address or CIDR")
	for _, cidr in ipairs{ "10.0.0.0/08", "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/", "10.0.0.0/8 ", "::/0128" } do
		bad({ action = "drop", dst = cidr }, "dst: malformed address or CIDR")
	end
	bad({ action = "drop", proto = "tcp", dport = "22" }, "dport: expected a port number, got string")
	bad({ action = "drop", proto = "6" }, "proto: unknown protocol '6'")
	bad({ action = "drop", iif = {} }, "rule 2: iif: empty list")
	bad({ action = "drop", src = {} }, "src: empty list")
	bad({ action = "drop\0" }, "action: expected pass, drop")
	raises(function() lbpf.filter{ hook = "xdp", max_rules = 2^32 + 1 } end, "max_rules: 4294967297 out of range 1..131072")
	raises(function() lbpf.filter{ hook = "xdp", max_rules = "100" } end, "max_rules: expected an integer, got string")
	raises(function() fw:set("s", { max = 2^32 + 1 }) end, "max: 4294967297 out of range")
	raises(function() fw:set("s", { ttl = math.maxinteger }) end, "ttl: 9223372036854775807 out of range")
	-- misspelt options are errors, not ignored
	raises(function() lbpf.filter{ hook = "xdp", max_rule = 10 } end, "filter{hook = \"xdp\"}: unknown field 'max_rule'")
	raises(function() lbpf.filter{ hook = "netfilter", dev = "lo", attach = false } end, "unknown field 'dev'")
	raises(function() fw:set("t", { tll = 5 }) end, "set: unknown field 'tll'")
	bad({ action = "drop", log = { sampel = 5 } }, "log: unknown field 'sampel'")
	raises(function() fw:test{ dprot = 22 } end, "pkt: unknown field 'dprot'")
	raises(function() fw:test({ dport = 22 }, { reapeat = 5 }) end, "test: unknown field 'reapeat'")
	local s = fw:set("s", { type = "ipv4" })
	raises(function() s:add("192.0.2.9", { tll = 5 }) end, "add: unknown field 'tll'")
	raises(function() fw:set("s") end, "a set of that name")
	raises(function() fw:set(string.rep("x", 40)) end, "the name must be 1 to 31 bytes")
	raises(function() s:add("192.0.2.1", { ttl = math.maxinteger }) end, "ttl: 9223372036854775807 out of range")
	s:add("192.0.2.1", { ttl = 4294967295 }) -- the longest TTL: not expired
	local r = fw:rule{ src = s, action = "drop" }
	expect(fw, { src = "192.0.2.1" }, "drop", r)
	eq(#fw:rules(), 2, "rules after misuse")
	expect(fw, { dport = 1 }, "drop", keep)
end)

-- Every entry of a rule's iif list counts, also past the 64th.
check("filter/iif_long_list", function()
	local other
	for _, name in ipairs{ "eth0", "ens3", "enp0s3" } do
		if io.open("/sys/class/net/" .. name .. "/ifindex") then other = name break end
	end
	if not other then print("# filter/iif_long_list: no second interface, checking lo only") end
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local list = {}
	for i = 1, 70 do list[i] = "lo" end
	if other then list[70] = other end
	local r = fw:rule{ iif = list, action = "drop" }
	expect(fw, { src = "10.0.0.1", iif = "lo" }, "drop", r)
	if other then expect(fw, { src = "10.0.0.1", iif = other }, "drop", r) end
end)

-- ct rules go through the same classification; a test packet carries its
-- ct state (fw:test's ct, "new" when not given).
check("filter/ct_states", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	fw:default("drop")
	local est = fw:rule{ ct = { "established", "related" }, action = "pass", comment = "est" }
	local bad = fw:rule{ ct = "invalid", action = "drop", comment = "invalid" }
	local ssh = fw:rule{ ct = "new", proto = "tcp", tcp = "syn", dport = 22, action = "pass", comment = "ssh" }
	expect(fw, { dport = 22, ct = "established" }, "pass", est)
	expect(fw, { dport = 80, proto = "udp", ct = "related" }, "pass", est)
	expect(fw, { dport = 22, ct = "invalid" }, "drop", bad)
	expect(fw, { dport = 22, tcp = "syn" }, "pass", ssh)
	expect(fw, { dport = 22, tcp = "syn", ct = "new" }, "pass", ssh)
	expect(fw, { dport = 22 }, "drop", nil) -- a bare ACK that opens nothing
	expect(fw, { dport = 22, ct = "untracked" }, "drop", nil)
	raises(function() fw:rule{ ct = "establised", action = "pass" } end, "rule 4: ct: expected new, established")
	raises(function() fw:rule{ ct = {}, action = "pass" } end, "ct: a list of 1 to 5 states")
	raises(function() fw:test{ ct = "bogus" } end, "ct: expected new")
end)

check("filter/raw_frame", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	fw:default("drop")
	local arp = string.rep("\255", 6) .. "\2\0\0\0\0\1" .. "\8\6" .. string.rep("\0", 28)
	eq((fw:test(arp)), "pass", "ARP passes")
	eq(fw:stats().nonip, 1, "nonip")
end)
