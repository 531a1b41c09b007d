-- debug.sethook/gethook as a script sees them: count, line, call hooks,
-- per coroutine, removal. lbpf's own hook must not show.
print("initial", debug.gethook())
local n = 0
local function counter() n = n + 1 end
debug.sethook(counter, "", 1000)
local f, mask, count = debug.gethook()
print("count hook", f == counter, mask, count)
for _ = 1, 100000 do end
print("count events", n)
local lines = {}
debug.sethook(function(_, l) lines[#lines + 1] = l end, "l")
local x = 1
x = x + 1
debug.sethook()
print("lines", table.concat(lines, ","))
print("after removal", debug.gethook())
local calls = 0
local co = coroutine.create(function() local function g() end g() g() end)
debug.sethook(co, function(e) if e == "call" then calls = calls + 1 end end, "c")
print("main thread", debug.gethook())
print("coroutine", select(2, debug.gethook(co)))
coroutine.resume(co)
print("calls in coroutine", calls)
print("errors", pcall(debug.sethook, 1, 2), pcall(debug.sethook, function() end))
