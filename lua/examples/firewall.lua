-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- A stateful host firewall: whatever belongs to a connection this host opened
-- (or accepted) passes, as "ct state established,related accept" does in
-- nftables; new connections only to SSH from the lab and to the web ports,
-- ping; the rest is dropped, new TCP attempts logged one in ten. Counters
-- every 10 s and at exit.
--   lbpf run lua/examples/firewall.lua [lab-cidr]
local lab = arg[1] or "10.0.0.0/8"

-- netfilter input, after conntrack (which runs at -200 in prerouting)
local fw = lbpf.filter{ hook = "netfilter", chain = "input", family = "inet", priority = -100 }
fw:default("drop")
fw:rule{ ct = { "established", "related" }, action = "pass", comment = "established" }
fw:rule{ ct = "invalid", action = "drop", comment = "invalid" }
fw:rule{ iif = "lo", action = "pass", comment = "loopback" }
fw:rule{ ct = "new", src = lab, proto = "tcp", tcp = "syn", dport = 22, action = "pass",
	 comment = "ssh from the lab" }
fw:rule{ ct = "new", proto = "tcp", tcp = "syn", dport = { list = { 80, 443 } }, action = "pass",
	 comment = "web" }
fw:rule{ proto = "icmp", action = "pass", comment = "ping" }
fw:rule{ proto = "icmpv6", action = "pass", comment = "ipv6 control" }
fw:rule{ proto = "tcp", tcp = "syn", action = "drop", log = { sample = 10 }, comment = "new tcp" }

fw:on_log(function(p)
	print(string.format("blocked %s -> %s:%s (%s)", p.src, p.dst, p.dport, p.rule))
end)

local function counters()
	for _, r in ipairs(fw:rules()) do
		local s = r:stats()
		print(string.format("%-20s %8d packets %10d bytes", r:comment(), s.packets, s.bytes))
	end
	print(string.format("default: %d", fw:stats().default))
	io.stdout:flush()
end
lbpf.every(10000, counters)
lbpf.on_exit(counters)
print("stateful firewall on netfilter input; Ctrl-C to stop")
io.stdout:flush()
