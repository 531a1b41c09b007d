-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- lbpf.object: a BPF object of the user's own, compiled here with clang from
-- tests/bpf/sample.bpf.c. Globals set before load and read back, each map
-- view operation on hash, array, per-CPU and struct-keyed maps (struct
-- values with a char[16], bitfields and an array member), programs attached
-- by their section (tracepoint, raw tracepoint), the ring buffer decoding
-- real events as views, and the errors of bad input. The packet hooks (xdp,
-- tc, netfilter) and the bpftool oracle are in tests/integration/test_object.sh.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

local top = os.getenv("LBPF_TOP") or "."
local build = os.getenv("BUILD") or "build"
if not build:match("^/") then build = top .. "/" .. build end
local work = t.sh("mktemp -d"):gsub("%s+$", "")
local obj_path = work .. "/sample.bpf.o"
lbpf.on_exit(function() os.execute("rm -rf '" .. work .. "'") end)

local out, code = t.sh(("clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I%s/vmlinux/x86 " ..
	"-c %s/tests/bpf/sample.bpf.c -o %s 2>&1"):format(top, top, obj_path))
if code ~= 0 then
	print("FAIL object/compile: clang: " .. out:gsub("\n", " "))
	lbpf.exit(1)
	return
end

-- A trace_target that waits for SIGUSR1 before it makes n getppid() calls.
local function workload(n)
	local f = assert(io.popen(build .. "/tests/helpers/trace_target -s getppid " .. n, "r"))
	local pid = f:read("n")
	f:read("l")
	return {
		pid = pid,
		run = function()
			os.execute("kill -USR1 " .. pid)
			repeat local line = f:read("l") until line == nil or line == "done"
			f:close()
		end,
		kill = function() os.execute("kill -KILL " .. pid .. " 2>/dev/null") end,
	}
end

test("object: globals set before load and read back", function()
	local obj <close> = lbpf.object(obj_path, { rodata = { target_pid = 4242, small = -128 },
		data = { ratio = 11 } })
	eq(obj.rodata.target_pid, 4242, "rodata target_pid")
	eq(obj.rodata.small, -128, "rodata small (s8)")
	eq(obj.data.ratio, 11, "data ratio")
	eq(obj.bss.seen, 0, "bss seen")
	obj.data.ratio = 12
	eq(obj.data.ratio, 12, "data written after load")
	obj.bss.seen = 5
	eq(obj.bss.seen, 5, "bss written after load")
	raises("rodata is read-only once loaded", function() obj.rodata.target_pid = 1 end)
	local plain <close> = lbpf.object(obj_path)
	eq(plain.rodata.target_pid, 0, "default rodata")
	eq(plain.rodata.small, -3, "default initializer")
end)

test("object: hash map of struct values", function()
	local obj <close> = lbpf.object(obj_path)
	local m = obj.maps.by_pid
	ok(tostring(m):match("lbpf.object.map %(by_pid%)"), "%s", tostring(m))
	eq(m[1], nil, "missing key")
	m[1] = { hits = 3, last_pid = 9, comm = "hello", delta = -2, flags = 255, low = 15,
		high = 4095, pair = { 7, 8 } }
	m[2] = { hits = 1 }
	local v = m[1]
	eq(v.hits, 3, "hits"); eq(v.last_pid, 9, "last_pid"); eq(v.comm, "hello", "comm")
	eq(v.delta, -2, "delta"); eq(v.flags, 255, "flags"); eq(v.low, 15, "bitfield low")
	eq(v.high, 4095, "bitfield high"); eq(v.pair[1], 7, "pair[1]"); eq(v.pair[2], 8, "pair[2]")
	eq(m:get(2).comm, "", "unset char array")
	m:set(2, { comm = ("x"):rep(16) })
	eq(m[2].comm, ("x"):rep(16), "a char[16] filled to the end")
	local keys = {}
	for k, val in pairs(m) do keys[k] = val.hits end
	eq(keys[1], 3, "pairs 1"); eq(keys[2], 0, "pairs 2")
	eq(m:delete(2), true, "delete"); eq(m:delete(2), false, "delete again")
	eq(m[2], nil, "deleted")
	m[3] = { hits = 1 }
	m[3] = nil
	eq(m[3], nil, "m[k] = nil deletes")
	local view = m:view(1)
	eq(view.comm, "hello", "view comm"); eq(view.high, 4095, "view bitfield")
	eq(view.pair[2], 8, "view array member")
	eq(view:table().last_pid, 9, "view:table()")
	raises("struct stats has no member 'nope'", function() return view.nope end)
	m:clear()
	eq(m[1], nil, "cleared")
	for _ in pairs(m) do error("a key after clear") end
	obj:close()
	raises("closed", function() return view.comm end)
	raises("closed", function() return m[1] end)
end)

test("object: array, per-CPU array and struct keys", function()
	local obj <close> = lbpf.object(obj_path)
	local a = obj.maps.slots
	a[2] = { hits = 5, comm = "two" }
	eq(a[2].hits, 5, "array value"); eq(a[0].hits, 0, "array zero")
	local n = 0
	for _ in pairs(a) do n = n + 1 end
	eq(n, 4, "an array's pairs are all its slots")
	a:clear()
	eq(a[2].hits, 0, "array cleared")
	local p = obj.maps.percpu
	local v = p[0]
	ok(type(v) == "table" and #v >= 1, "per-CPU value is a list")
	p[1] = 7
	for cpu, x in ipairs(p[1]) do eq(x, 7, "cpu " .. cpu) end
	local list = {}
	for i = 1, #v do list[i] = i * 10 end
	p[1] = list
	eq(p[1][#v], #v * 10, "per-CPU list set")
	local s = obj.maps.by_name
	s[{ name = "alpha" }] = { hits = 1 }
	s[("b"):rep(4) .. ("\0"):rep(12)] = { hits = 2 } -- a struct's raw bytes, all 16
	local names = {}
	for k, val in pairs(s) do names[k.name] = val.hits end
	eq(names.alpha, 1, "struct key alpha"); eq(names.bbbb, 2, "struct key from bytes")
	eq(s[{ name = "alpha" }].hits, 1, "lookup by struct key")
	raises("map by_name: key: 4 bytes given, struct name_key is 16 bytes",
		function() s["beta"] = { hits = 2 } end)
end)

test("object: bad input names the object, the name and the problem", function()
	raises("nothing.bpf.o: No such file or directory", lbpf.object, work .. "/nothing.bpf.o")
	local f = assert(io.open(work .. "/text.o", "w")); f:write("not an elf at all, just text"); f:close()
	raises("text.o: not an ELF file", lbpf.object, work .. "/text.o")
	raises("not a BPF object", lbpf.object, "/bin/true")
	raises("rodata has no global 'nope' (it has: target_pid, small)", lbpf.object, obj_path,
		{ rodata = { nope = 1 } })
	raises("object sample.bpf.o: rodata small: 200 is out of range for __s8 (-128 to 127)",
		lbpf.object, obj_path, { rodata = { small = 200 } })
	raises("rodata target_pid: expected an integer (__u32) or a string of its 4 bytes, got a " ..
		"string of 1 bytes", lbpf.object, obj_path,
		{ rodata = { target_pid = "x" } })
	raises("no section .nosuch", lbpf.object, obj_path, { nosuch = { x = 1 } })
	local obj <close> = lbpf.object(obj_path)
	raises("object sample.bpf.o: no map 'nope' (it has: ", function() return obj.maps.nope end)
	raises("object sample.bpf.o: no program 'nope' (it has: ", function() return obj.progs.nope end)
	local m = obj.maps.by_pid
	raises("map by_pid: key: expected an integer (__u32) or a string of its 4 bytes",
		function() return m["abc"] end)
	raises("map by_pid: key: expected an integer (__u32), got table", function() return m[{}] end)
	raises("map by_pid: key: -1 is out of range for __u32", function() return m[-1] end)
	raises("map by_pid: value.flags: 256 is out of range for __u8 (0 to 255)",
		function() m[1] = { flags = 256 } end)
	raises("map by_pid: value.comm: a string of 17 bytes does not fit in char[16]",
		function() m[1] = { comm = ("y"):rep(17) } end)
	raises("map by_pid: value.high: 4096 is out of range for the bitfield",
		function() m[1] = { high = 4096 } end)
	raises("map by_pid: value: struct stats has no member 'nope'", function() m[1] = { nope = 1 } end)
	raises("map by_pid: value: expected a table", function() m[1] = 5 end)
	raises("map by_name: key: struct name_key has no member 'x'",
		function() return obj.maps.by_name[{ x = 1 }] end)
	raises("map slots: delete: an array's elements cannot be deleted", obj.maps.slots.delete,
		obj.maps.slots, 0)
	raises("map events is a ring buffer", function() return obj.maps.events[0] end)
	raises("program count_xdp (section 'xdp') has no attach point of its own",
		obj.progs.count_xdp.attach, obj.progs.count_xdp)
	raises("program count_xdp is of type xdp (section 'xdp'); tracepoint sched:sched_switch " ..
		"needs one of type tracepoint", obj.progs.count_xdp.attach, obj.progs.count_xdp,
		{ tracepoint = "sched:sched_switch" })
	raises("unknown attach option 'bogus'", obj.progs.on_exec.attach, obj.progs.on_exec,
		{ bogus = 1 })
	raises("no interface 'lbpf-nosuch0'", obj.progs.count_xdp.attach, obj.progs.count_xdp,
		{ xdp = "lbpf-nosuch0" })
	raises("kprobe do_nanosleep", obj.progs.on_getppid.attach, obj.progs.on_getppid,
		{ kprobe = "do_nanosleep" })
	raises("its BTF has no type 'struct nope'", obj.ringbuf, obj, "events", "struct nope",
		print)
	raises("map by_pid is no ring buffer", obj.ringbuf, obj, "by_pid", "struct event", print)
	raises("no map 'nope'", obj.ringbuf, obj, "nope", "struct event", print)
end)

test("object: programs attach by section; the ring buffer decodes events", function()
	local w = workload(5)
	local ok_, err = pcall(function()
		local obj <close> = lbpf.object(obj_path, { rodata = { target_pid = w.pid } })
		local events, saved = {}, nil
		obj:ringbuf("events", "struct event", function(ev)
			events[#events + 1] = ev:table()
			eq(ev.tgid, w.pid, "ev.tgid")
			saved = ev
		end)
		local tp = obj.progs.on_getppid:attach()
		local raw = obj.progs.on_exec:attach()
		ok(tostring(tp):match("on_getppid"), "%s", tostring(tp))
		w.run()
		os.execute("true") -- an exec for the raw tracepoint
		local t0 = lbpf.now()
		while #events < 5 and lbpf.now() - t0 < 3e9 do lbpf.sleep(10) end
		eq(#events, 5, "events")
		for i, e in ipairs(events) do
			eq(e.seen, i, "event seen")
			eq(e.comm, "trace_target", "event comm")
		end
		raises("event used after its callback returned", function() return saved.pid end)
		eq(obj.bss.seen, 5, "bss seen")
		local sum = 0
		for _, x in ipairs(obj.maps.percpu[0]) do sum = sum + x end
		eq(sum, 5, "per-CPU sum")
		ok(obj.maps.slots[1].hits >= 1, "raw tracepoint counted an exec")
		tp:detach()
		tp:detach()
		ok(tostring(tp):match("detached"), "%s", tostring(tp))
		raw:close()
	end)
	w.kill()
	assert(ok_, err)
end)

test("object: closing the object closes its maps, programs and links", function()
	local obj = lbpf.object(obj_path)
	local m, p = obj.maps.by_pid, obj.progs.on_exec
	local link = p:attach { raw_tracepoint = "sched_process_exec" }
	obj:close()
	raises("closed", function() return m[1] end)
	raises("closed", p.attach, p)
	ok(tostring(link):match("detached"), "%s", tostring(link))
	ok(tostring(obj):match("closed"), "%s", tostring(obj))
end)

-- The example (lua/examples/object/hello.bpf.c and hello.lua) builds and runs.
test("object: the example runs", function()
	local o = work .. "/hello.bpf.o"
	local out, code = t.sh(("clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I%s/vmlinux/x86 " ..
		"-c %s/lua/examples/object/hello.bpf.c -o %s 2>&1"):format(top, top, o))
	eq(code, 0, "clang: " .. out)
	local lbpf_bin = t.lbpf() or (build .. "/lbpf")
	out, code = t.sh(("%s run %s/lua/examples/object/hello.lua %s 1 & sleep 0.5; /bin/true; wait $!")
		:format(lbpf_bin, top, o))
	eq(code, 0, "exit code: " .. out)
	ok(out:match("true%s+pid %d+%s+ppid %d+%s+uid 0"), "no exec of true in: %s", out)
	ok(out:match("uid 0: %d+ execs"), "no count in: %s", out)
end, 10000)

-- A callback may close its own object: the ring it is drained from goes once
-- the drain is over, and no later record is delivered.
test("object: a ring-buffer callback closes its object", function()
	local w = workload(5)
	local ok_, err = pcall(function()
		local obj = lbpf.object(obj_path, { rodata = { target_pid = w.pid } })
		local calls = 0
		obj:ringbuf("events", "struct event", function(ev)
			calls = calls + 1
			obj:close()
			raises("closed", function() return ev.pid end)
		end)
		obj.progs.on_getppid:attach()
		w.run()
		local t0 = lbpf.now()
		while calls == 0 and lbpf.now() - t0 < 3e9 do lbpf.sleep(10) end
		lbpf.sleep(50)
		eq(calls, 1, "callbacks after the close")
	end)
	w.kill()
	assert(ok_, err)
end)
