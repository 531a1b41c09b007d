-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- lbpf.watch on plain descriptors: a pipe from io.popen (as a Lua file and as an
-- integer fd), the write end of a pipe, a socketpair when a socket module is
-- installed, and the errors of watching what cannot be watched.
local t = require "testing"
local test, eq, ok, raises = t.test, t.eq, t.ok, t.raises

-- Lines a child writes into a popen'ed pipe arrive through "r" events, then "hup".
test("watch: a pipe from io.popen", function()
	local f = assert(io.popen("echo hello; sleep 0.05; echo world"))
	local lines, events = {}, {}
	local w = lbpf.watch(f, "r", function(w, ev)
		events[#events + 1] = ev
		if ev == "r" then
			lines[#lines + 1] = f:read("l") -- a line is there: this read does not block
		else
			lines[#lines + 1] = f:read("a") -- stdio may have buffered the rest; "" at EOF
			lbpf.notify_one("pipe.done")
		end
	end)
	ok(math.type(w:fd()) == "integer", "fd() = %s", tostring(w:fd()))
	lbpf.wait("pipe.done", 3000)
	local text = table.concat(lines, "\n"):gsub("\n+", "\n"):gsub("\n$", "")
	eq(text, "hello\nworld", "lines read")
	eq(events[#events], "hup", "last event")
	eq(w:fd(), nil, "fd() after hup (the watcher stops itself)")
	eq(w:cancel(), false, "cancel after hup")
	f:close()
end)

-- An integer fd works as well as a file; cancel() stops the events.
test("watch: an integer fd, and cancel", function()
	local f = assert(io.popen("echo one; sleep 0.05; echo two"))
	local probe = lbpf.watch(f, "r", function() end)
	local fd = probe:fd()
	eq(probe:cancel(), true, "cancel of an active watcher")
	eq(probe:fd(), nil, "fd() after cancel")
	local got
	local w = lbpf.watch(fd, "r", function(w, ev)
		got = ev
		w:cancel()
		lbpf.notify_one("fd.done")
	end)
	lbpf.wait("fd.done", 3000)
	eq(got, "r", "event")
	eq(w:fd(), nil, "fd() after cancel in the callback")
	f:close()
end)

-- The write end of a pipe reports "w" when it can take data.
test("watch: writable pipe", function()
	local f = assert(io.popen("cat > /dev/null", "w"))
	local got
	lbpf.watch(f, "w", function(w, ev)
		got = ev
		w:cancel()
		lbpf.notify_one("w.done")
	end)
	lbpf.wait("w.done", 3000)
	eq(got, "w", "event")
	f:close()
end)

-- Watching a regular file, the same fd twice or a closed file raises a clear error.
test("watch: what cannot be watched", function()
	local file = assert(io.open(arg[0], "r"))
	raises("regular files and directories cannot be watched", lbpf.watch, file, "r", function() end)
	file:close()
	raises("file is closed", lbpf.watch, file, "r", function() end)
	local f = assert(io.popen("sleep 0.01"))
	local w = lbpf.watch(f, "r", function() end)
	raises("already watched", lbpf.watch, f, "r", function() end)
	w:close()
	local again = lbpf.watch(f, "r", function() end) -- close() gave the fd back
	again:cancel()
	f:close()
end)

-- A watcher without a Lua reference keeps working (it is registered while active).
test("watch: active watchers survive collection", function()
	local f = assert(io.popen("sleep 0.02; echo late"))
	local got
	lbpf.watch(f, "r", function(w, ev)
		got = f:read("l")
		w:cancel()
		lbpf.notify_one("gc.done")
	end)
	collectgarbage()
	collectgarbage()
	lbpf.wait("gc.done", 3000)
	eq(got, "late", "line")
	f:close()
end)

-- Both ends of a socketpair: "w" on one, then "r" on the other.
local socket_ok, socket = pcall(require, "posix.sys.socket")
if not socket_ok then
	t.skip("watch: a socketpair", "no socket module for Lua 5.4 (Debian 12's lua-posix is built for Lua 5.1-5.3 only)")
else
	test("watch: a socketpair", function()
		local a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM, 0)
		ok(a, "socketpair: %s", tostring(b))
		local got
		lbpf.watch(a, "w", function(w, ev)
			socket.send(a, "ping")
			w:cancel()
		end)
		lbpf.watch(b, "r", function(w, ev)
			got = socket.recv(b, 16)
			w:cancel()
			lbpf.notify_one("sock.done")
		end)
		lbpf.wait("sock.done", 3000)
		eq(got, "ping", "received")
		require("posix.unistd").close(a)
		require("posix.unistd").close(b)
	end)
end
