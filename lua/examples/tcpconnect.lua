-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- tcpconnect: active TCP connections, with the process that opened them.
-- The addresses and the port are read from the socket tcp_connect() sends
-- its SYN on, through the kernel's types (BTF field paths): fentry where
-- the kernel allows it, else a kprobe. A kernel with neither (lbpf
-- features) gets the same paths read at the raw tracepoint
-- inet_sock_set_state, as the socket enters SYN_SENT.
--   lbpf run tcpconnect.lua [seconds]
local seconds = tonumber(arg[1])
local AF_INET, TCP_SYN_SENT, IPPROTO_TCP = 2, 2, 6
local sk = "sk->__sk_common."
local fields = {
	family = sk .. "skc_family",
	saddr = { sk .. "skc_rcv_saddr", "ipv4" },
	daddr = { sk .. "skc_daddr", "ipv4" },
	saddr6 = { sk .. "skc_v6_rcv_saddr", "ipv6" },
	daddr6 = { sk .. "skc_v6_daddr", "ipv6" },
	dport = { sk .. "skc_dport", "port" },
}

local function show(ev)
	local v4 = ev.family == AF_INET
	print(string.format("%-7d %-16s %-2d %-39s %-39s %5d", ev.pid, ev.comm, v4 and 4 or 6,
		v4 and ev.saddr or ev.saddr6, v4 and ev.daddr or ev.daddr6, ev.dport))
end

print(string.format("%-7s %-16s %-2s %-39s %-39s %5s", "PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"))
local ok, err = pcall(lbpf.kprobe, "tcp_connect", { fields = fields }, show)
if not ok then
	if not tostring(err):find("kprobes are not available", 1, true) then
		error(err, 0)
	end
	io.stderr:write("tcpconnect: no kprobes or fentry on this kernel; reading the socket at the ",
		"raw tracepoint inet_sock_set_state\n")
	fields.protocol = "sk->sk_protocol"
	lbpf.raw_tracepoint("inet_sock_set_state", {
		fields = fields,
		filter = { newstate = TCP_SYN_SENT, protocol = IPPROTO_TCP },
	}, show)
end

if seconds then
	lbpf.after(seconds * 1000, lbpf.exit)
end
