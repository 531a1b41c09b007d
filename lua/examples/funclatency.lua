-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- funclatency: a latency histogram of a kernel or user function.
--   lbpf run funclatency.lua vfs_read [seconds]             (kernel: needs kprobes)
--   lbpf run funclatency.lua /usr/bin/bash:readline [seconds]
-- Entry and return are paired per thread in the kernel, which also keeps
-- the histogram; Lua only prints it.
local target, seconds = arg[1], tonumber(arg[2]) or 5
if not target then
	io.stderr:write("usage: lbpf run funclatency.lua FUNCTION|/path/binary:symbol [seconds]\n")
	lbpf.exit(2)
end

local lat = lbpf.latency(target)
print(string.format("Tracing %s for %d s...", target, seconds))

lbpf.after(seconds * 1000, function()
	print("latency (ns):")
	lbpf.print_hist(lat:hist())
	lbpf.exit()
end)
