-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Port knocking with on_new_flow: SSH (tcp/22) is closed until a source has
-- sent UDP to 7000, 8000 and 9000 in that order within 10 s. Each new flow is
-- decided once in Lua; the verdict is cached in the kernel for the flow.
--   lbpf run lua/examples/portknock.lua eth0
local dev = arg[1] or "eth0"
local sequence = { 7000, 8000, 9000 }
local progress, opened = {}, {}

local fw = lbpf.filter{ hook = "xdp", dev = dev }
fw:rule{ proto = "udp", dport = { list = sequence }, action = "drop", comment = "knocks" }

fw:on_new_flow(function(p)
	if p.proto == "udp" then
		local step = progress[p.src] or { n = 0, t = 0 }
		if lbpf.now() - step.t > 10e9 then step.n = 0 end
		if p.dport == sequence[step.n + 1] then
			step.n, step.t = step.n + 1, lbpf.now()
		else
			step.n = 0
		end
		progress[p.src] = step
		if step.n == #sequence then
			opened[p.src] = true
			print("opened ssh for " .. p.src)
		end
		return nil -- knocks follow the rules (dropped)
	end
	if p.proto == "tcp" and p.dport == 22 then
		return opened[p.src] and "pass" or "drop"
	end
	return nil
end)
print("port knocking on " .. dev .. ": knock 7000, 8000, 9000 (udp) to open ssh")
