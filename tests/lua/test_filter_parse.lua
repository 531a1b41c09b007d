-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Proves the packet filter's parser and its transport matches through fw:test
-- (BPF_PROG_TEST_RUN on the XDP program) with raw frames built here: IPv6
-- extension headers of every walked kind, in any order and 10 deep, AH, ESP
-- and unknown headers; 802.1Q and QinQ tags; IPv4 options; first, tiny first
-- and later fragments of IPv4 and IPv6; truncated and malformed headers; the
-- unparsed and fragment verdicts (fw:unparsed) and fw:stats().unparsed; TCP
-- flags with masks, ICMP and ICMPv6 type and code by name, IP length ranges,
-- and a randomized comparison of those matches with a linear reference.
-- Every shape that a "drop tcp dport 22" rule must catch is one that the
-- parser before issue 10 passed.

local function check(name, fn)
	local ok, err = pcall(fn)
	print(ok and "PASS " .. name or "FAIL " .. name .. ": " .. tostring(err))
end

local function eq(got, want, what)
	if got ~= want then
		error(string.format("%s: got %s, want %s", what or "value", tostring(got), tostring(want)), 2)
	end
end

local function raises(fn, pattern)
	local ok, err = pcall(fn)
	if ok then error("no error, want " .. pattern, 2) end
	if not tostring(err):find(pattern, 1, true) then
		error(string.format("error %q lacks %q", tostring(err), pattern), 2)
	end
end

-- judge(fw, frame, verdict, why[, what]): fw:test's verdict and reason
local function judge(fw, frame, verdict, why, what)
	local v, _, _, w = fw:test(frame)
	if v ~= verdict or w ~= why then
		error(string.format("%s: got %s (%s), want %s (%s)", what or "frame", v, w, verdict, why), 2)
	end
end

-- ---- frames ----
local function be16(n) return string.pack(">I2", n) end
local MACS = "\2\0\0\0\0\2\2\0\0\0\0\1"
local SRC4, DST4 = "\10\1\1\1", "\10\2\2\2"
local SRC6 = "\32\1\13\184" .. string.rep("\0", 11) .. "\1"  -- 2001:db8::1
local DST6 = "\32\1\13\184" .. string.rep("\0", 11) .. "\2"
local HOP, ROUTING, FRAG, DSTOPTS, AH, ESP = 0, 43, 44, 60, 51, 50

local function tcp(dport, flags, sport)
	return be16(sport or 40000) .. be16(dport) .. string.rep("\0", 8) .. "\80" ..
		string.char(flags or 0x02) .. be16(65535) .. "\0\0\0\0"
end
local function udp(dport) return be16(40000) .. be16(dport) .. be16(8) .. "\0\0" end
local function icmp(t, c) return string.char(t, c) .. "\0\0\0\0\0\0" end

-- eth([tags], type, payload): tags are {tpid, vid} pairs
local function eth(tags, etype, payload)
	local f = MACS
	for _, t in ipairs(tags) do f = f .. be16(t[1]) .. be16(t[2]) end
	return f .. be16(etype) .. payload
end

-- ip4(proto, payload, {opts=, frag=, len=, ihl=, tags=})
local function ip4(proto, payload, o)
	o = o or {}
	local opts = o.opts or ""
	local ihl = o.ihl or (5 + #opts // 4)
	local hdr = string.pack(">BBI2I2I2BBI2", 0x40 | ihl, 0, o.len or (20 + #opts + #payload), 1,
		o.frag or 0, 64, proto, 0) .. SRC4 .. DST4 .. opts
	return eth(o.tags or {}, 0x0800, hdr .. payload)
end

-- ip6(chain, proto, payload): chain is a list of extension header kinds, each
-- followed by the next; frag = {offset (8-byte units), more} makes a fragment header
local function ext(kind, nh, frag)
	if kind == FRAG then
		local f = frag or { 0, false }
		return string.pack(">BBI2I4", nh, 0, f[1] * 8 | (f[2] and 1 or 0), 7)
	elseif kind == AH then   -- 12 bytes + 12-byte ICV: length field 24/4 - 2
		return string.char(nh, 4) .. "\0\0" .. string.rep("\1", 8) .. string.rep("\0", 12)
	end
	return string.char(nh, 0, 1, 4) .. "\0\0\0\0"   -- 8 bytes, PadN
end

local function ip6(chain, proto, payload, o)
	o = o or {}
	local body, nh = payload, proto
	for i = #chain, 1, -1 do
		local kind = type(chain[i]) == "table" and FRAG or chain[i]
		body = ext(kind, nh, type(chain[i]) == "table" and chain[i] or nil) .. body
		nh = kind
	end
	local hdr = string.pack(">I4I2BB", 0x60000000, o.plen or #body, nh, 64) .. SRC6 .. DST6
	return eth(o.tags or {}, 0x86dd, hdr .. body)
end

local function repeated(kind, n) local t = {} for i = 1, n do t[i] = kind end return t end

local function ssh_filter()
	local fw = lbpf.filter{ hook = "xdp" }
	local ssh = fw:rule{ proto = "tcp", dport = 22, action = "drop", comment = "ssh" }
	return fw, ssh
end

-- ---- part 2: no way around the parser ----

check("parse/ipv6_each_extension_header", function()
	local fw <close> = ssh_filter()
	for _, kind in ipairs({ HOP, ROUTING, DSTOPTS, AH, { 0, false } }) do
		local name = type(kind) == "table" and "fragment" or tostring(kind)
		judge(fw, ip6({ kind }, 6, tcp(22)), "drop", "rule", "ext " .. name .. " tcp 22")
		judge(fw, ip6({ kind }, 6, tcp(80)), "pass", "default", "ext " .. name .. " tcp 80")
	end
end)

check("parse/ipv6_header_orders_and_depth", function()
	local fw <close> = ssh_filter()
	local orders = {
		{ HOP, DSTOPTS, ROUTING, { 0, true }, AH, DSTOPTS },
		{ AH, ROUTING, HOP, DSTOPTS, { 0, false } },
		{ DSTOPTS, AH, AH, ROUTING, ROUTING, DSTOPTS, HOP, { 0, false } },   -- 8 deep
		repeated(DSTOPTS, 10),                                               -- the most walked
	}
	for i, chain in ipairs(orders) do
		judge(fw, ip6(chain, 6, tcp(22)), "drop", "rule", "order " .. i .. " tcp 22")
		judge(fw, ip6(chain, 6, tcp(80)), "pass", "default", "order " .. i .. " tcp 80")
	end
	eq(fw:stats().unparsed, 0, "unparsed")
	-- one more than walked: the protocol is unknown, so a tcp rule could match
	judge(fw, ip6(repeated(DSTOPTS, 11), 6, tcp(80)), "drop", "unparsed", "11 deep")
	judge(fw, ip6(repeated(HOP, 30), 17, udp(80)), "drop", "unparsed", "30 deep")
	eq(fw:stats().unparsed, 2, "unparsed")
	fw:unparsed("pass")
	judge(fw, ip6(repeated(DSTOPTS, 11), 6, tcp(22)), "pass", "unparsed", "11 deep, unparsed pass")
end)

check("parse/esp_and_unknown_headers", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local ssh = fw:rule{ proto = "tcp", dport = 22, action = "drop" }
	local esp_frame = ip6({ DSTOPTS }, ESP, string.rep("\9", 40))
	-- ESP is ESP, not TCP: the tcp rule cannot match it, and it is counted
	judge(fw, esp_frame, "pass", "default", "esp vs tcp rule")
	eq(fw:stats().unparsed, 1, "unparsed after esp")
	-- but a port rule without a protocol could: its transport is unknown
	local anyport = fw:rule{ dport = 23, action = "drop" }
	judge(fw, esp_frame, "drop", "unparsed", "esp vs port rule")
	fw:rule{ proto = "esp", action = "pass" }
	anyport:remove()
	judge(fw, esp_frame, "pass", "rule", "esp vs esp rule")
	-- an experimental header (253) may hide anything
	judge(fw, ip6({ DSTOPTS }, 253, tcp(22)), "drop", "unparsed", "unknown header")
	-- IPv4 with AH before TCP
	judge(fw, ip4(AH, ext(AH, 6) .. tcp(22)), "drop", "rule", "ipv4 ah tcp 22")
	eq(ssh:stats().packets, 1, "ssh rule count")
end)

check("parse/vlan_and_qinq", function()
	local fw <close> = ssh_filter()
	fw:default("drop")
	fw:rule{ proto = "tcp", dport = 80, action = "pass" }
	for _, tags in ipairs({ { { 0x8100, 10 } }, { { 0x88a8, 100 }, { 0x8100, 10 } },
				 { { 0x8100, 100 }, { 0x8100, 10 } } }) do
		judge(fw, ip4(6, tcp(22), { tags = tags }), "drop", "rule", #tags .. " tags v4 22")
		judge(fw, ip4(6, tcp(80), { tags = tags }), "pass", "rule", #tags .. " tags v4 80")
		judge(fw, ip6({}, 6, tcp(22), { tags = tags }), "drop", "rule", #tags .. " tags v6 22")
		judge(fw, ip6({}, 6, tcp(80), { tags = tags }), "pass", "rule", #tags .. " tags v6 80")
	end
	-- three tags: more than walked, so not "non-IP" (which passes)
	local three = { { 0x88a8, 1 }, { 0x8100, 2 }, { 0x8100, 3 } }
	judge(fw, ip4(6, tcp(80), { tags = three }), "drop", "unparsed", "3 tags")
	fw:unparsed("pass")
	judge(fw, ip4(6, tcp(80), { tags = three }), "pass", "unparsed", "3 tags, unparsed pass")
	-- ARP under a VLAN tag is non-IP
	judge(fw, eth({ { 0x8100, 10 } }, 0x0806, string.rep("\0", 28)), "pass", "nonip", "arp")
end)

check("parse/ipv4_options", function()
	local fw <close> = ssh_filter()
	local nops = string.rep("\1", 4)
	for n = 1, 10 do
		local opts = string.rep(nops, n)
		judge(fw, ip4(6, tcp(22), { opts = opts }), "drop", "rule", "ihl " .. (5 + n) .. " 22")
		judge(fw, ip4(6, tcp(80), { opts = opts }), "pass", "default", "ihl " .. (5 + n) .. " 80")
	end
	-- options that claim more than the frame holds: the TCP header is not there
	judge(fw, ip4(6, "", { ihl = 15, len = 60 }), "drop", "unparsed", "ihl 15, no room")
end)

check("parse/fragments", function()
	local fw <close> = ssh_filter()
	local MF = 0x2000
	-- a first fragment with the whole TCP header is judged by its ports
	judge(fw, ip4(6, tcp(22) .. string.rep("x", 16), { frag = MF }), "drop", "rule", "v4 first 22")
	judge(fw, ip4(6, tcp(80) .. string.rep("x", 16), { frag = MF }), "pass", "default", "v4 first 80")
	-- a tiny first fragment (8 bytes: ports, no flags) is not
	judge(fw, ip4(6, tcp(22):sub(1, 8), { frag = MF }), "drop", "unparsed", "v4 tiny first 22")
	judge(fw, ip4(6, tcp(80):sub(1, 8), { frag = MF }), "drop", "unparsed", "v4 tiny first 80")
	-- later fragments carry no transport header: the fragment verdict (pass)
	judge(fw, ip4(6, tcp(22), { frag = 3 }), "pass", "fragment", "v4 later")
	judge(fw, ip4(6, tcp(22), { frag = MF | 1 }), "pass", "fragment", "v4 offset 8")
	judge(fw, ip6({ { 2, true } }, 6, tcp(22)), "pass", "fragment", "v6 later")
	-- IPv6 first fragments, complete and tiny
	judge(fw, ip6({ { 0, true } }, 6, tcp(22)), "drop", "rule", "v6 first 22")
	judge(fw, ip6({ DSTOPTS, { 0, true } }, 6, tcp(22):sub(1, 8)), "drop", "unparsed", "v6 tiny")
	-- first fragments with no transport byte: the ports would sit in a later one
	judge(fw, ip6({ { 0, true }, DSTOPTS }, 6, ""), "drop", "unparsed", "v6 first, headers only")
	judge(fw, ip4(6, "", { frag = MF }), "drop", "unparsed", "v4 first, no payload")
	-- address rules still judge later fragments
	local block = fw:rule{ src = "10.1.1.1", action = "drop" }
	fw:rule{ src = "10.0.0.0/8", action = "pass" }
	judge(fw, ip4(17, udp(53), { frag = 3 }), "drop", "rule", "v4 later from a blocked source")
	block:remove()
	judge(fw, ip4(17, udp(53), { frag = 3 }), "pass", "rule", "v4 later, address rule")
	local st = fw:stats()
	eq(st.fragments, 5, "fragments")
	eq(st.unparsed, 5, "unparsed")
	fw:unparsed("drop", "drop")
	judge(fw, ip4(6, tcp(22), { frag = 3 }), "drop", "fragment", "v4 later, fragments drop")
end)

check("parse/truncated_and_malformed", function()
	local fw <close> = ssh_filter()
	-- the kinds of frame that were "non-IP" and passed even a default drop
	judge(fw, eth({}, 0x0800, "\69\0\0\40\0\0"), "drop", "unparsed", "ipv4 header cut")
	judge(fw, eth({}, 0x86dd, string.rep("\96", 20)), "drop", "unparsed", "ipv6 header cut")
	judge(fw, ip4(6, tcp(22), { ihl = 4 }), "drop", "unparsed", "ihl 4")
	judge(fw, ip4(6, tcp(22), { len = 10 }), "drop", "unparsed", "total length < ihl")
	judge(fw, eth({}, 0x0800, ip6({}, 6, tcp(22)):sub(15)), "drop", "unparsed", "v6 in a v4 type")
	judge(fw, eth({ { 0x8100, 1 } }, 0x0800, ""), "drop", "unparsed", "tag, then nothing")
	-- a TCP header cut by the frame, or by the IP length (Ethernet padding)
	judge(fw, ip4(6, tcp(22):sub(1, 12)), "drop", "unparsed", "tcp cut")
	judge(fw, ip4(6, tcp(22), { len = 30 }), "drop", "unparsed", "tcp past the IP length")
	judge(fw, ip6({}, 6, tcp(22), { plen = 12 }), "drop", "unparsed", "v6 tcp past the payload")
	eq(fw:stats().unparsed, 9, "unparsed")
	eq(fw:stats().nonip, 0, "nonip")
	-- without transport rules nothing depends on the transport header
	local plain <close> = lbpf.filter{ hook = "xdp" }
	plain:rule{ src = "10.9.9.9", action = "drop" }
	judge(plain, ip4(6, tcp(22):sub(1, 12)), "pass", "default", "tcp cut, address rules only")
	judge(plain, ip4(6, tcp(22), { ihl = 4 }), "drop", "unparsed", "ihl 4, address rules only")
end)

check("parse/maybe_matches", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local lab = fw:rule{ src = "10.1.0.0/16", action = "pass", comment = "lab" }
	local cnt = fw:rule{ proto = "tcp", dport = 22, action = "count" }
	fw:rule{ proto = "tcp", dport = 22, action = "drop" }
	local udp_only = fw:rule{ src = "10.0.0.0/8", proto = "udp", action = "pass" }
	local deep = repeated(DSTOPTS, 11)
	-- a rule without transport conditions before the port rule decides
	judge(fw, ip4(6, tcp(22):sub(1, 8), { frag = 0x2000 }), "pass", "rule", "lab, tiny first")
	-- a truncated TCP segment is TCP: the udp rule cannot match it
	fw:rule{ src = "10.2.2.2", action = "drop" }
	lab:remove()
	judge(fw, ip4(6, tcp(80):sub(1, 8)), "drop", "unparsed", "tcp cut")
	judge(fw, ip4(17, udp(80):sub(1, 4)), "pass", "rule", "udp cut: udp pass rule first")
	-- a packet of unknown protocol could be UDP: the udp rule is not sure either
	judge(fw, ip6(deep, 6, tcp(22)), "drop", "unparsed", "too deep")
	eq(cnt:stats().packets, 0, "a maybe-match is not counted")
	eq(udp_only:stats().packets, 1, "udp rule")
end)

check("parse/netfilter_and_tc_programs_load", function()
	-- the parser is shared; each program must pass the verifier
	for _, hook in ipairs({ "tc", "netfilter" }) do
		local fw <close> = lbpf.filter{ hook = hook, attach = false }
		fw:rule{ proto = "tcp", dport = 22, tcp = { syn = true }, action = "drop" }
		fw:commit()
	end
end)

-- ---- part 3: matches ----

check("match/tcp_flags", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local syn = fw:rule{ tcp = "syn", dport = 25, action = "drop", comment = "syn shorthand" }
	local synack = fw:rule{ tcp = { syn = true, ack = true }, action = "drop", comment = "syn-ack" }
	local xmas = fw:rule{ tcp = { fin = true, psh = true, urg = true }, action = "drop" }
	local null = fw:rule{ tcp = { fin = false, syn = false, rst = false, psh = false, ack = false,
				      urg = false, ecn = false, cwr = false }, action = "drop" }
	local rst = fw:rule{ proto = "tcp", tcp = { rst = true, ack = false }, action = "drop" }
	local function t(flags, dport) return select(2, fw:test{ proto = "tcp", dport = dport or 80, tcp = flags }) end
	eq(t({ syn = true }, 25), syn, "syn to 25")
	eq(t({ syn = true }, 80), nil, "syn to 80")
	eq(t("syn", 25), syn, "syn shorthand in a packet")
	eq(t({ syn = true, ack = true }, 25), synack, "syn-ack to 25")
	eq(t({ syn = true, ack = true, ecn = true }), synack, "syn-ack-ecn")
	eq(t({ fin = true, psh = true, urg = true, ack = true }), xmas, "xmas")
	eq(t({ fin = true, psh = true }), nil, "fin psh")
	eq(t({}), null, "null scan")
	eq(t({ rst = true }), rst, "rst")
	eq(t({ rst = true, ack = true }), nil, "rst ack")
	eq(t({ ack = true }), nil, "ack")
	eq(select(2, fw:test{ proto = "udp", dport = 25 }), nil, "udp is not tcp")
	raises(function() fw:rule{ tcp = { sin = true } } end, "tcp: unknown flag 'sin'")
	raises(function() fw:rule{ tcp = { syn = 1 } } end, "tcp.syn: expected true (set) or false")
	raises(function() fw:rule{ tcp = {} } end, "tcp: no flags in the table")
	raises(function() fw:rule{ proto = "udp", tcp = { syn = true } } end, "tcp: flags need proto tcp")
	raises(function() fw:rule{ tcp = 2 } end, "tcp: expected \"syn\" or a table of flags, got number")
end)

check("match/icmp_types", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local ping = fw:rule{ icmp_type = "echo-request", action = "drop", comment = "ping" }
	local unreach = fw:rule{ icmp_type = 3, icmp_code = { "port-unreachable", 13 }, action = "drop" }
	local ping6 = fw:rule{ proto = "icmpv6", icmp_type = { "echo-request", "nd-router-advert" },
			       action = "drop" }
	local code9 = fw:rule{ icmp_code = 9, action = "drop" }
	local function t(p) return select(2, fw:test(p)) end
	eq(t{ proto = "icmp", icmp_type = "echo-request" }, ping, "v4 ping")
	eq(t{ proto = "icmp", icmp_type = 8, icmp_code = 5 }, ping, "v4 ping, code 5")
	eq(t{ proto = "icmp", icmp_type = "echo-reply" }, nil, "v4 reply")
	eq(t{ proto = "icmp", icmp_type = 3, icmp_code = 3 }, unreach, "port unreachable")
	eq(t{ proto = "icmp", icmp_type = 3, icmp_code = 13 }, unreach, "admin prohibited")
	eq(t{ proto = "icmp", icmp_type = 3, icmp_code = 1 }, nil, "host unreachable")
	eq(t{ proto = "icmp", icmp_type = 11, icmp_code = 9 }, code9, "any type, code 9")
	eq(t{ src = "2001:db8::1", proto = "icmpv6", icmp_type = "echo-request" }, ping6, "v6 ping")
	eq(t{ src = "2001:db8::1", proto = "icmpv6", icmp_type = 134 }, ping6, "v6 router advert")
	eq(t{ src = "2001:db8::1", proto = "icmpv6", icmp_type = 8 }, nil, "v6 type 8")
	eq(t{ src = "2001:db8::1", proto = "icmpv6", icmp_type = 129 }, nil, "v6 reply")
	eq(t{ src = "2001:db8::1", icmp_type = "echo-request" }, ping6, "v6 packet: ICMPv6 implied")
	eq(t{ proto = "icmp", icmp_type = 128 }, nil, "v4 type 128")
	eq(t{ proto = "tcp", dport = 8 }, nil, "tcp")
	-- an ICMP header cut short: the type rules cannot say
	judge(fw, ip4(1, "\8"), "drop", "unparsed", "icmp cut")
	raises(function() fw:rule{ icmp_type = "echo" } end, "icmp_type: unknown ICMP type 'echo'")
	raises(function() fw:rule{ proto = "icmpv6", icmp_type = "router-advertisement" } end,
	       "icmp_type: unknown ICMPv6 type 'router-advertisement'")
	raises(function() fw:rule{ icmp_type = 256 } end, "icmp_type: 256 out of range 0..255")
	raises(function() fw:rule{ proto = "udp", icmp_type = 8 } end, "icmp_type: needs proto icmp or icmpv6")
	raises(function() fw:rule{ icmp_code = "nope" } end, "icmp_code: unknown ICMP code 'nope'")
	raises(function() fw:rule{ icmp_type = {} } end, "icmp_type: empty list")
end)

check("match/length", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local small = fw:rule{ proto = "udp", length = { 0, 99 }, action = "drop", comment = "small" }
	local exact = fw:rule{ length = { list = { 1000, { 1400, 1500 } } }, action = "drop" }
	local function t(p) return select(2, fw:test(p)) end
	eq(t{ proto = "udp", length = 28 }, small, "udp 28")
	eq(t{ proto = "udp", length = 99 }, small, "udp 99")
	eq(t{ proto = "udp", length = 100 }, nil, "udp 100")
	eq(t{ proto = "tcp", length = 60 }, nil, "tcp 60")
	eq(t{ proto = "tcp", length = 1000 }, exact, "1000")
	eq(t{ proto = "tcp", length = 1001 }, nil, "1001")
	eq(t{ src = "2001:db8::1", proto = "tcp", length = 1450 }, exact, "v6 1450")
	eq(t{ src = "2001:db8::1", proto = "tcp", length = 1399 }, nil, "v6 1399")
	raises(function() fw:rule{ length = 70000 } end, "length: 70000 out of range 0..65535")
	raises(function() fw:rule{ length = { 9, 3 } } end, "length: range {9, 3} is reversed")
	raises(function() fw:rule{ length = "10" } end, "length: expected a number, got string")
end)

-- The matches of part 3 through the compiled bit vectors, against a linear
-- reference over random rules and packets.
check("match/random_against_reference", function()
	math.randomseed(10)
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local FLAGS = { "fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr" }
	local rules = {}
	for i = 1, 400 do
		local r = { action = math.random(2) == 1 and "drop" or "pass" }
		local kind = math.random(4)
		if kind == 1 then
			r.tcp = {}
			for _, f in ipairs(FLAGS) do
				if math.random(4) == 1 then r.tcp[f] = math.random(2) == 1 end
			end
			if next(r.tcp) == nil then r.tcp = { syn = true } end
		elseif kind == 2 then
			r.icmp_type = math.random(0, 20)
			if math.random(2) == 1 then r.icmp_code = math.random(0, 3) end
		elseif kind == 3 then
			local lo = math.random(20, 1500)
			r.length = { lo, lo + math.random(0, 200) }
		else
			r.proto = ({ "tcp", "udp", "icmp" })[math.random(3)]
		end
		if math.random(3) == 1 then
			local lo = math.random(20, 1500)
			r.length = { lo, lo + math.random(0, 400) }
		end
		rules[i] = { spec = r, obj = fw:rule(r) }
	end
	local function matches(r, p)
		if r.proto and r.proto ~= p.proto then return false end
		if r.tcp then
			if p.proto ~= "tcp" then return false end
			for f, want in pairs(r.tcp) do if (p.tcp[f] == true) ~= want then return false end end
		end
		if r.icmp_type or r.icmp_code then
			if p.proto ~= "icmp" then return false end
			if r.icmp_type and r.icmp_type ~= p.icmp_type then return false end
			if r.icmp_code and r.icmp_code ~= p.icmp_code then return false end
		end
		if r.length and (p.length < r.length[1] or p.length > r.length[2]) then return false end
		return true
	end
	for n = 1, 400 do
		local p = { proto = ({ "tcp", "udp", "icmp" })[math.random(3)], length = math.random(40, 1500) }
		if p.proto == "tcp" then
			p.tcp = {}
			for _, f in ipairs(FLAGS) do p.tcp[f] = math.random(2) == 1 end
		elseif p.proto == "icmp" then
			p.icmp_type, p.icmp_code = math.random(0, 20), math.random(0, 3)
		end
		local want
		for _, r in ipairs(rules) do
			if matches(r.spec, p) then want = r.obj break end
		end
		local _, got = fw:test(p)
		if got ~= want then
			error(string.format("packet %d (%s len %d): got rule %s, want %s", n, p.proto, p.length,
				got and got:id() or "default", want and want:id() or "default"))
		end
	end
end)

check("match/stats_names", function()
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local st = fw:stats()
	eq(st.unparsed, 0, "unparsed")
	eq(st.fragments, 0, "fragments")
	raises(function() fw:unparsed("reject") end, "invalid option 'reject'")
end)

-- The address search stops as soon as its /16 has one interval left; prefixes
-- crowded into a few /16s (IPv4) and one /16 (IPv6) make long and short runs.
check("match/addresses_random_against_reference", function()
	math.randomseed(16)
	local fw <close> = lbpf.filter{ hook = "xdp" }
	local rules = {}
	local function v4(a, b, c, d) return string.format("%d.%d.%d.%d", a, b, c, d) end
	for i = 1, 1500 do
		local r = { action = "drop" }
		if i % 2 == 0 then
			local len = math.random(16, 32)
			r.net = { 4, 10, math.random(0, 3), math.random(0, 255), math.random(0, 255), len }
			r.src = v4(10, r.net[3], r.net[4], r.net[5]) .. "/" .. len
		else
			local len = math.random(16, 64)
			r.net = { 6, 0x2001, math.random(0, 3), math.random(0, 65535), 0, len }
			r.src = string.format("2001:%x:%x::/%d", r.net[3], r.net[4], len)
		end
		rules[i] = { net = r.net, obj = fw:rule{ src = r.src, action = "drop" } }
	end
	-- the value of the first `len` bits of a (family 4: a, b, c, d; 6: 16-bit words)
	local function covers(net, addr)
		if net[1] ~= addr[1] then return false end
		local bits, width = net[6], net[1] == 4 and 8 or 16
		for k = 2, 5 do
			local take = math.min(width, math.max(bits, 0))
			if take > 0 then
				local shift = width - take
				if (net[k] >> shift) ~= (addr[k] >> shift) then return false end
			end
			bits = bits - width
		end
		return true
	end
	for n = 1, 600 do
		local addr, text
		if n % 2 == 0 then
			addr = { 4, 10, math.random(0, 3), math.random(0, 255), math.random(0, 255), 0 }
			text = v4(addr[2], addr[3], addr[4], addr[5])
		else
			addr = { 6, 0x2001, math.random(0, 3), math.random(0, 65535), 0, 0 }
			text = string.format("2001:%x:%x::%x", addr[3], addr[4], math.random(0, 65535))
		end
		local want
		for _, r in ipairs(rules) do
			if covers(r.net, addr) then want = r.obj break end
		end
		local dst = addr[1] == 4 and "192.0.2.2" or "2001:db8::2"
		local _, got = fw:test{ src = text, dst = dst }
		if got ~= want then
			error(string.format("%s: got rule %s, want %s", text, got and got:id() or "default",
				want and want:id() or "default"))
		end
	end
end)

-- on_log's packet carries the new fields (checked once the loop delivers it).
do
	local fw = lbpf.filter{ hook = "xdp" }
	fw:rule{ tcp = { syn = true }, action = "drop", log = true }
	fw:rule{ icmp_type = "echo-request", action = "drop", log = true }
	local got = {}
	fw:on_log(function(pkt) got[#got + 1] = pkt end)
	fw:test{ proto = "tcp", dport = 22, tcp = { syn = true, ecn = true } }
	fw:test{ proto = "icmp", icmp_type = 8, icmp_code = 3, length = 100 }
	lbpf.after(300, function()
		check("match/log_fields", function()
			eq(#got, 2, "log records")
			eq(got[1].tcp.syn, true, "tcp.syn")
			eq(got[1].tcp.ecn, true, "tcp.ecn")
			eq(got[1].tcp.ack, nil, "tcp.ack")
			eq(got[1].length, 40, "tcp length")
			eq(got[2].icmp_type, 8, "icmp_type")
			eq(got[2].icmp_code, 3, "icmp_code")
			eq(got[2].length, 100, "icmp length")
			eq(got[2].tcp, nil, "no tcp on icmp")
		end)
		fw:close()
	end)
end
