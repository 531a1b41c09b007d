-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- A host firewall: SSH from the lab only, web open, DNS replies, ping, the rest
-- dropped; blocked attempts logged one in ten. Counters every 10 s.
--   lbpf run lua/examples/firewall.lua eth0 [lab-cidr]
local dev, lab = arg[1] or "eth0", arg[2] or "10.0.0.0/8"

local fw = lbpf.filter{ hook = "netfilter", chain = "input", family = "inet", priority = -100 }
fw:rule{ iif = "lo", action = "pass", comment = "loopback" }
fw:rule{ src = lab, proto = "tcp", dport = 22, action = "pass", comment = "ssh from the lab" }
fw:rule{ proto = "tcp", dport = { list = { 80, 443 } }, action = "pass", comment = "web" }
fw:rule{ proto = "udp", sport = 53, action = "pass", comment = "dns replies" }
fw:rule{ proto = "icmp", action = "pass", comment = "ping" }
fw:rule{ proto = "icmpv6", action = "pass", comment = "ipv6 control" }
fw:rule{ proto = "tcp", tcp = "syn", action = "drop", log = { sample = 10 }, comment = "new tcp" }
fw:rule{ proto = "tcp", action = "pass", comment = "established tcp" }
fw:default("drop")

fw:on_log(function(p)
	print(string.format("blocked %s -> %s:%s (%s)", p.src, p.dst, p.dport, p.rule))
end)

lbpf.every(10000, function()
	for _, r in ipairs(fw:rules()) do
		local s = r:stats()
		print(string.format("%-20s %8d packets %10d bytes", r:comment(), s.packets, s.bytes))
	end
	print(string.format("default: %d", fw:stats().default))
end)
print("firewall on " .. dev .. " (netfilter input); Ctrl-C to stop")
