-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
--[[
hello.lua: a BPF object of your own, loaded with lbpf.object(). For a few
seconds it prints every exec (from the ring buffer, each record a view of
struct exec_event), then how many execs each user made (from a hash map).

  clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I vmlinux/x86 \
        -c lua/examples/object/hello.bpf.c -o lua/examples/object/hello.bpf.o
  lbpf run lua/examples/object/hello.lua [OBJECT] [SECONDS] [MIN_UID]

OBJECT defaults to hello.bpf.o beside this script, SECONDS to 5, MIN_UID to 0.
]]
local dir = arg[0]:match("^(.*)/") or "."
local path = arg[1] or dir .. "/hello.bpf.o"
local seconds = math.tointeger(tonumber(arg[2] or 5))
local min_uid = math.tointeger(tonumber(arg[3] or 0))
if not seconds or seconds < 1 or not min_uid then
	io.stderr:write("usage: lbpf run hello.lua [OBJECT] [SECONDS] [MIN_UID]\n")
	lbpf.exit(2)
end

-- Opens and loads the object; min_uid is a const volatile global, set before
-- load so the verifier sees its value.
local obj = lbpf.object(path, { rodata = { min_uid = min_uid } })

-- Each record is a view of struct exec_event, valid during the call.
obj:ringbuf("execs", "struct exec_event", function(ev)
	print(("%-16s pid %-7d ppid %-7d uid %d"):format(ev.comm, ev.pid, ev.ppid, ev.uid))
end)

-- SEC("tracepoint/sched/sched_process_exec") says where: libbpf's auto-attach.
obj.progs.on_exec:attach()

lbpf.after(seconds * 1000, function()
	for uid, n in pairs(obj.maps.execs_by_uid) do
		print(("uid %d: %d execs"):format(uid, n))
	end
	lbpf.exit(0)
end)
