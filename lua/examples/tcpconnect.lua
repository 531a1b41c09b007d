-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- tcpconnect: active TCP connections (sockets entering SYN_SENT), with the
-- process that opened them. The state filter runs in the kernel.
--   lbpf run tcpconnect.lua [seconds]
local seconds = tonumber(arg[1])
local TCP_SYN_SENT, AF_INET = 2, 2

local function ip4(bytes)
	return string.format("%d.%d.%d.%d", bytes:byte(1, 4))
end

local function ip6(bytes)
	local words = {}
	for i = 1, 16, 2 do
		words[#words + 1] = string.format("%x", bytes:byte(i) << 8 | bytes:byte(i + 1))
	end
	return table.concat(words, ":")
end

print(string.format("%-7s %-16s %-2s %-39s %-39s %5s", "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"))
lbpf.tracepoint("sock:inet_sock_set_state",
	{ filter = { newstate = TCP_SYN_SENT, protocol = 6 } },
	function(ev)
		local v4 = ev.family == AF_INET
		print(string.format("%-7d %-16s %-2d %-39s %-39s %5d", ev.pid, ev.comm, v4 and 4 or 6,
			v4 and ip4(ev.saddr) or ip6(ev.saddr_v6), v4 and ip4(ev.daddr) or ip6(ev.daddr_v6),
			ev.dport))
	end)

if seconds then
	lbpf.after(seconds * 1000, lbpf.exit)
end
