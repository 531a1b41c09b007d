-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- DDoS mitigation at XDP: each source gets 1000 packets/s to UDP port 53; the
-- over-rate packets are logged (sampled), and a source seen over the rate 20
-- times in 10 s lands in a blocklist for 5 minutes (a set with a TTL, expired
-- in the kernel).
--   lbpf run lua/examples/ddos.lua eth0
local dev = arg[1] or "eth0"
local fw = lbpf.filter{ hook = "xdp", dev = dev, mode = "auto" }
local blocked = fw:set("blocklist", { type = "cidr", ttl = 300 })

fw:rule{ src = blocked, action = "drop", comment = "blocklist" }
fw:rule{ proto = "udp", dport = 53, action = "ratelimit", pps = 1000, burst = 100,
	 log = { sample = 50 }, comment = "dns per source" }

local strikes = {}
fw:on_log(function(p)
	strikes[p.src] = (strikes[p.src] or 0) + 1
	if strikes[p.src] == 20 then
		blocked:add(p.src)
		print("blocking " .. p.src .. " for 5 minutes")
	end
end)
lbpf.every(10000, function()
	strikes = {}
	local s = fw:stats()
	print(string.format("passed %d, dropped %d (rate-limited %d), blocked sources %d",
		s.passed, s.dropped, s.ratelimited, #blocked:entries()))
end)
