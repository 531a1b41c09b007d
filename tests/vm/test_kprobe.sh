#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# kprobes and kretprobes on kernel functions, inside the guests of
# scripts/vmtest.sh (the CI kernel has no CONFIG_KPROBES): counts, arguments
# and return values of vfs_read matching a workload's reads of known sizes,
# wildcards over kernel functions, lbpf.latency on vfs_read, kernel stacks at
# a kprobe, field paths from BTF (named arguments, strings, inode numbers,
# socket addresses, a module function's argument and a module's raw
# tracepoint), and `lbpf features` saying so. Skips with the reason where the kernel lacks kprobes.
. "$(dirname "$0")/../lib.sh"

if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP kprobe: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi

W=/tmp/lbpf-test-kprobe
TT=$HELPERS/trace_target
export W TT

TOP_PID=$$
# Kills the workloads the scripts started (workload.lua lists them).
reap() {
	local pid
	[ -e "$W/helpers.pids" ] || return 0
	while read -r pid; do
		grep -q trace_target "/proc/$pid/cmdline" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	done < "$W/helpers.pids"
	rm -f "$W/helpers.pids"
}
NS=lbpf-test-modbtf
NULLB=/sys/kernel/config/nullb/lbpftest
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	reap
	ip netns del "$NS" 2>/dev/null
	[ -d "$NULLB" ] && { echo 0 > "$NULLB/power"; rmdir "$NULLB"; }
	rm -rf "$W"
}
t_cleanup cleanup
mkdir -p "$W"

# lua NAME: runs the Lua on stdin after tests/lua/workload.lua; fails unless it
# exits 0 and prints "ok".
lua() {
	local name=$1 rc=0
	{ echo "dofile('$LBPF_TOP/tests/lua/workload.lua')"; cat; } > "$W/$name.lua"
	timeout 60 "$LBPF" run "$W/$name.lua" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
	reap
	cat "$W/$name.out" | grep -v '^ok$' || true
	[ "$rc" -eq 0 ] && grep -qx ok "$W/$name.out" ||
		t_fail "exit code $rc: $(tail -c 600 "$W/$name.err") $(tail -c 300 "$W/$name.out")"
}

need() {
	[ -e /sys/bus/event_source/devices/kprobe/type ] ||
		t_skip "no kprobe PMU on $(uname -r) (CONFIG_KPROBES unset)"
	[ -x "$TT" ] || t_fail "$TT is not in the initramfs (make builds it)"
}

# Reads of 100, 200 and 300 bytes from /dev/zero: kprobe:vfs_read sees three
# calls with arg3 (count) = the sizes, in order; kretprobe:vfs_read returns
# them; filters on arguments and ret count the right ones.
test_kprobe_kretprobe() {
	need
	lua kprobe <<'EOF'
local w = start("read 100 200 300")
local sizes, rets = {}, {}
local entry = lbpf.kprobe("vfs_read", { filter = { pid = w.pid } }, function(ev)
	sizes[#sizes + 1] = ev.arg3
	eq(ev.probe, "kprobe:vfs_read", "ev.probe")
	eq(ev.comm, "trace_target", "ev.comm")
end)
lbpf.kretprobe("vfs_read", { filter = { pid = w.pid } }, function(ev)
	rets[#rets + 1] = ev.ret
	eq(ev.probe, "kretprobe:vfs_read", "ev.probe")
end)
local by_comm = lbpf.kprobe("vfs_read", { filter = { pid = w.pid }, count = "comm" })
local big = lbpf.kprobe("vfs_read", { filter = { pid = w.pid, arg3 = { ">=", 200 } }, count = "comm" })
local ret_sum = lbpf.kretprobe("vfs_read", { filter = { pid = w.pid, ret = { "!=", 200 } }, sum = "ret" })
go(w)
eq(by_comm:counts().trace_target, 3, "kprobe count")
eq(big:counts().trace_target, 2, "kprobe filter arg3 >= 200")
eq(ret_sum:counts(), 400, "kretprobe sum of ret != 200")
later(function() return #sizes >= 3 and #rets >= 3 end, function()
	eq(table.concat(sizes, " "), "100 200 300", "kprobe arg3")
	eq(table.concat(rets, " "), "100 200 300", "kretprobe ret")
	eq(entry:stats().events, 3, "stats().events")
end)
EOF
}

# "vfs_*" attaches every matching kernel function at once, vfs_read among them;
# a pattern that matches nothing is an error naming it.
test_wildcard() {
	need
	lua wildcard <<'EOF'
local w = start("read 10 20 30 40")
local p = lbpf.kprobe("vfs_*", { filter = { pid = w.pid }, count = "probe" })
local n = p:stats().attached
print(("# vfs_* attached %d kprobes"):format(n))
check(n > 10, "vfs_* attached only %d", n)
go(w)
eq(p:counts()["kprobe:vfs_read"], 4, "vfs_read among vfs_*")
local ok, err = pcall(lbpf.kprobe, "lbpf_no_such_function_*")
check(not ok and tostring(err):find("'lbpf_no_such_function_*' matches no kernel function", 1, true),
	"error: %s", tostring(err))
ok, err = pcall(lbpf.kprobe, "lbpf_no_such_function")
check(not ok and tostring(err):find("lbpf_no_such_function", 1, true), "error: %s", tostring(err))
done()
EOF
	t_expect_contains "$(cat "$W/wildcard.err")" "attached"
}

# lbpf.latency("vfs_read") pairs entries with returns: one latency per read.
test_latency() {
	need
	lua latency <<'EOF'
local w = start("read 1000 2000 3000 4000 5000")
local lat = lbpf.latency("vfs_read", { filter = { pid = w.pid } })
go(w)
local h, total = lat:hist(), 0
lbpf.print_hist(h, "vfs_read latency (ns)")
eq(h.kind, "log2", "kind")
for _, b in ipairs(h) do
	total = total + b.count
	check(b.lo >= 0, "negative latency bucket [%s, %s)", b.lo, b.hi)
end
eq(total, 5, "calls measured")
done()
EOF
}

# ev.kstack at kprobe:vfs_read starts in vfs_read and comes from a system call.
test_kstack() {
	need
	lua kstack <<'EOF'
local w = start("read 64")
local stack
lbpf.kprobe("vfs_read", { filter = { pid = w.pid }, kstack = true }, function(ev) stack = ev.kstack end)
go(w)
later(function() return stack end, function()
	check(type(stack) == "table" and #stack > 1, "ev.kstack: %s", tostring(stack))
	local s = table.concat(stack, " <- ")
	print("# " .. s)
	check(stack[1]:match("^vfs_read%+0x%x+$"), "first frame: %s", s)
	check(s:find("ksys_read", 1, true) or s:find("__x64_sys_read", 1, true), "no read syscall frame: %s", s)
end)
EOF
}

# Field paths on kprobes (BTF): vfs_read's arguments by name (count, in a
# filter), a three-step path to the file's name (a char * string),
# file->f_inode->i_ino against the inode number stat prints, a path that
# does not exist named in the error, and a kretprobe's path from ret.
test_kprobe_fields() {
	need
	[ -r /sys/kernel/btf/vmlinux ] || t_skip "no kernel BTF"
	local ino
	ino=$(stat -L -c %i /dev/zero) || t_fail "stat /dev/zero"
	echo "x" > "$W/lbpf-open-target"
	# path_reads = "direct" needs bpf_rdonly_cast (Linux 6.2)
	DIRECT=
	[ "$(bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null | grep -c "FUNC 'bpf_rdonly_cast'")" -gt 0 ] &&
		DIRECT=direct
	DIRECT=$DIRECT INO=$ino lua kprobe_fields <<'EOF'
local w = start("read 100 200 300")
local names, inos, sizes = {}, {}, {}
lbpf.kprobe("vfs_read", {
	fields = { name = "file->f_path.dentry->d_name.name", ino = "file->f_inode->i_ino", mode = "file->f_mode" },
	filter = { pid = w.pid, count = { ">=", 200 } } }, function(ev)
	names[#names + 1] = ev.name
	inos[#inos + 1] = ev.ino
	sizes[#sizes + 1] = ev.count
end)
-- paths read with checked loads (where the kernel has bpf_rdonly_cast; asked
-- for by name, so never the helper instead) and with bpf_probe_read_kernel,
-- through fentry/fexit and through kprobes
local reads = os.getenv("DIRECT") ~= "" and { "direct", "helper" } or { "helper" }
if #reads == 1 then
	local ok, err = pcall(lbpf.kprobe, "vfs_read", { fields = { ino = "file->f_inode->i_ino" }, path_reads = "direct" })
	check(not ok and tostring(err):find('path_reads = "direct": the kernel has no bpf_rdonly_cast', 1, true),
		"path_reads = direct without bpf_rdonly_cast: %s", tostring(err))
end
local by = {}
for _, via in ipairs({ "fentry", "kprobe" }) do
	for _, r in ipairs(reads) do
		by[via .. "/" .. r] = lbpf.kprobe("vfs_read", { fields = { ino = "file->f_inode->i_ino" },
			filter = { pid = w.pid }, count = "ino", via = via, path_reads = r })
	end
end
local ok, err = pcall(lbpf.kprobe, "vfs_read", { fields = { x = "file->f_nope" } })
check(not ok and tostring(err):find("vfs_read: file->f_nope: struct file has no member f_nope", 1, true), "error: %s", tostring(err))
ok, err = pcall(lbpf.kretprobe, "vfs_read", { fields = { x = "file->f_mode" } })
check(not ok and tostring(err):find("a return probe's paths start at ret", 1, true), "kretprobe error: %s", tostring(err))
go(w)
local o = start("open " .. os.getenv("W") .. "/lbpf-open-target")
local opened = {}
-- fexit (a struct file * return, filtered on), and the same through a kretprobe
for _, via in ipairs({ "fentry", "kprobe" }) do
	for _, r in ipairs(reads) do
		local into = {}
		opened[(via == "fentry" and "fexit" or via) .. "/" .. r] = into
		lbpf.kretprobe("do_filp_open", { fields = { name = "ret->f_path.dentry->d_name.name" },
			filter = { pid = o.pid }, via = via, path_reads = r }, function(ev) into[#into + 1] = ev.name end)
	end
end
go(o)
local function all_opened()
	for _, list in pairs(opened) do if #list < 1 then return false end end
	return true
end
later(function() return #names >= 2 and all_opened() end, function()
	eq(table.concat(sizes, " "), "200 300", "count, filtered by its BTF name")
	eq(table.concat(names, " "), "zero zero", "file->f_path.dentry->d_name.name")
	eq(inos[1], tonumber(os.getenv("INO")), "file->f_inode->i_ino (stat -c %i)")
	for how, p in pairs(by) do eq(p:counts()[tonumber(os.getenv("INO"))], 3, "count by a path, " .. how) end
	for via, list in pairs(opened) do
		local found = false
		for _, n in ipairs(list) do found = found or n == "lbpf-open-target" end
		check(found, "kretprobe do_filp_open (%s): ret->...->name: %s", via, table.concat(list, " "))
	end
end)
EOF
	! grep -q "fentry/fexit refused" "$W/kprobe_fields.err" ||
		t_fail "fentry fell back to kprobes: $(cat "$W/kprobe_fields.err")"
}

# tcp_connect's socket: its destination as IPv4 text and its port swapped
# from network order, filtered on in the kernel, for a connection to a closed
# loopback port.
test_kprobe_tcp_connect() {
	need
	[ -r /sys/kernel/btf/vmlinux ] || t_skip "no kernel BTF"
	command -v bash > /dev/null || t_skip "no bash in the guest for /dev/tcp"
	ip link set lo up 2>/dev/null
	lua kprobe_tcp <<'EOF'
local port = 40000 + math.random(0, 9999)
local seen = {}
lbpf.kprobe("tcp_connect", {
	fields = { daddr = { "sk->__sk_common.skc_daddr", "ipv4" }, dport = { "sk->__sk_common.skc_dport", "port" } },
	filter = { dport = port } }, function(ev) seen[#seen + 1] = ev.daddr .. ":" .. ev.dport end)
for _ = 1, 2 do os.execute(("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null"):format(port)) end
later(function() return #seen >= 2 end, function()
	eq(table.concat(seen, " "), ("127.0.0.1:%d 127.0.0.1:%d"):format(port, port), "tcp_connect daddr:dport")
end)
EOF
}

# The tcpconnect example traces tcp_connect itself here (fentry or a kprobe,
# not the raw tracepoint it falls back to on the CI kernel): a connection to
# a closed local port shows with the addresses and the port.
test_example_tcpconnect() {
	need
	[ -r /sys/kernel/btf/vmlinux ] || t_skip "no kernel BTF"
	command -v bash > /dev/null || t_skip "no bash in the guest for /dev/tcp"
	local port=$((40000 + RANDOM % 10000)) pid i
	"$LBPF" run lua/examples/tcpconnect.lua 20 > "$W/tcpconnect.out" 2> "$W/tcpconnect.err" &
	pid=$!
	for i in $(seq 100); do
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null || true # refused: no listener
		grep -q " $port\$" "$W/tcpconnect.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -INT "$pid" 2>/dev/null
	wait "$pid" || true
	grep -Eq "^[0-9]+ +bash +4 +127\.0\.0\.1 +127\.0\.0\.1 +$port\$" "$W/tcpconnect.out" ||
		t_fail "no connection to port $port: $(cat "$W/tcpconnect.out" "$W/tcpconnect.err")"
	! grep -q "raw tracepoint" "$W/tcpconnect.err" ||
		t_fail "fell back to the raw tracepoint: $(cat "$W/tcpconnect.err")"
}

# A function of a module (veth_open, in veth.ko): its typed argument and
# paths come from the module's BTF (/sys/kernel/btf/veth). dev->name and
# dev->ifindex, read at fentry and at a kprobe when a veth device comes up,
# match the name and index `ip link` shows; fexit gives its return value.
test_module_fields() {
	need
	[ -r /sys/kernel/btf/veth ] ||
		t_skip "no module BTF for veth (/sys/kernel/btf/veth; CONFIG_DEBUG_INFO_BTF_MODULES?)"
	ip netns add "$NS" || t_fail "ip netns add $NS"
	ip -n "$NS" link add lbpfm0 type veth peer name lbpfm1 || t_fail "ip link add veth"
	NS=$NS IP=$(command -v ip) lua module_fields <<'EOF'
local ns, ip = os.getenv("NS"), os.getenv("IP")
local seen = { fentry = {}, kprobe = {} }
for via, list in pairs(seen) do
	lbpf.kprobe("veth_open", { via = via, fields = { name = "dev->name", ifindex = "dev->ifindex" } },
		function(ev) list[#list + 1] = ev.name .. "#" .. ev.ifindex end)
end
local rets = {}
lbpf.kretprobe("veth_open", { via = "fentry" }, function(ev) rets[#rets + 1] = ev.ret end)
local progs = io.popen("bpftool prog show"):read("a")
check(progs:find("lbpf_fentry", 1, true) and progs:find("lbpf_fexit", 1, true), "no fentry/fexit programs: %s", progs)
check(os.execute(ip .. " -n " .. ns .. " link set lbpfm0 up"), "ip link set lbpfm0 up")
local line = io.popen(ip .. " -n " .. ns .. " -o link show lbpfm0"):read("l") or ""
local want = "lbpfm0#" .. tostring(tonumber(line:match("^(%d+):")))
later(function() return #seen.fentry >= 1 and #seen.kprobe >= 1 and #rets >= 1 end, function()
	for via, list in pairs(seen) do
		eq(table.concat(list, " "), want, via .. " veth_open dev->name#dev->ifindex (ip link: " .. line .. ")")
	end
	eq(rets[1], 0, "fexit veth_open ret")
end)
EOF
	! grep -q "fentry/fexit refused" "$W/module_fields.err" ||
		t_fail "fentry fell back to kprobes: $(cat "$W/module_fields.err")"
}

# A raw tracepoint of a module (nullb_report_zones, in null_blk.ko), typed
# by the module's BTF: a zoned null_blk device made through configfs reports
# its zones; paths through the module's own structs (nullb->dev->nr_zones)
# and into vmlinux's (nullb->disk->disk_name) match the new /sys/block entry
# and its queue/nr_zones.
test_module_raw_tracepoint() {
	[ -r /sys/kernel/btf/null_blk ] ||
		t_skip "no module BTF for null_blk (not loaded, or no CONFIG_DEBUG_INFO_BTF_MODULES)"
	grep -q " /sys/kernel/config " /proc/mounts || mount -t configfs none /sys/kernel/config ||
		t_skip "no configfs"
	[ -d /sys/kernel/config/nullb ] || t_skip "null_blk has no configfs folder"
	ls /sys/block > "$W/blocks.before"
	NULLB=$NULLB lua module_raw_tp <<'EOF'
local dir = os.getenv("NULLB")
local seen = {}
lbpf.raw_tracepoint("nullb_report_zones", { fields = { name = "nullb->disk->disk_name",
	zones = "nullb->dev->nr_zones" } }, function(ev) seen[#seen + 1] = { name = ev.name, zones = ev.zones } end)
-- 64 MB in zones of 8 MB: 8 zones, reported when the device comes up
check(os.execute(("mkdir %s && echo 64 > %s/size && echo 1 > %s/zoned && echo 8 > %s/zone_size && " ..
	"echo 1 > %s/power"):format(dir, dir, dir, dir, dir)), "make a zoned null_blk device in %s", dir)
local new = io.popen("ls /sys/block | grep -vxF -f " .. os.getenv("W") .. "/blocks.before"):read("l")
check(new, "no new device in /sys/block")
local zones = tonumber(io.open("/sys/block/" .. new .. "/queue/nr_zones"):read("l"))
later(function() return #seen >= 1 end, function()
	eq(seen[1].name, new, "nullb->disk->disk_name (/sys/block)")
	eq(seen[1].zones, zones, "nullb->dev->nr_zones (/sys/block/" .. new .. "/queue/nr_zones)")
	eq(zones, 8, "queue/nr_zones")
end)
EOF
}

# One kernel function goes through fentry/fexit where the kernel allows them
# (bpftool lists lbpf_fentry and lbpf_fexit programs), via = "kprobe" forces
# kprobes, and both see the same arguments and return values.
test_via() {
	need
	command -v bpftool > /dev/null || t_skip "no bpftool in the guest"
	lua via <<'EOF'
local w = start("read 100 200 300")
local f = lbpf.kprobe("vfs_read", { filter = { pid = w.pid }, sum = "arg3" })
local k = lbpf.kprobe("vfs_read", { via = "kprobe", filter = { pid = w.pid }, sum = "arg3" })
local fx = lbpf.kretprobe("vfs_read", { via = "fentry", filter = { pid = w.pid }, sum = "ret" })
local kx = lbpf.kretprobe("vfs_read", { via = "kprobe", filter = { pid = w.pid }, sum = "ret" })
local progs = io.popen("bpftool prog show"):read("a")
check(progs:find("lbpf_fentry", 1, true) and progs:find("lbpf_fexit", 1, true), "no fentry/fexit programs: %s", progs)
check(progs:find("lbpf_entry", 1, true) and progs:find("lbpf_return", 1, true), "no kprobe programs: %s", progs)
go(w)
eq(f:counts(), 600, "fentry sum of count")
eq(k:counts(), 600, "kprobe sum of count")
eq(fx:counts(), 600, "fexit sum of ret")
eq(kx:counts(), 600, "kretprobe sum of ret")
local ok, err = pcall(lbpf.kprobe, "vfs_*", { via = "fentry" })
check(not ok and tostring(err):find('via = "fentry": wildcards attach kprobes', 1, true), "error: %s", tostring(err))
done()
EOF
}

# `lbpf features` finds the kprobe PMU here.
test_features() {
	need
	local out
	out=$("$LBPF" features 2>&1) || t_fail "lbpf features failed: $out"
	echo "$out" | grep -Eq '^ *attach +kprobes +yes' || t_fail "not 'kprobes yes': $out"
	echo "$out" | grep -Eq '^ *attach +kernel functions via +fentry/fexit' ||
		t_fail "not 'kernel functions via fentry/fexit': $out"
}

t_run kprobe/features test_features
t_run kprobe/kprobe_kretprobe test_kprobe_kretprobe
t_run kprobe/wildcard test_wildcard
t_run kprobe/latency test_latency
t_run kprobe/kstack test_kstack
t_run kprobe/fields test_kprobe_fields
t_run kprobe/module_fields test_module_fields
t_run kprobe/module_raw_tracepoint test_module_raw_tracepoint
t_run kprobe/via test_via
t_run kprobe/tcp_connect test_kprobe_tcp_connect
t_run kprobe/example_tcpconnect test_example_tcpconnect
