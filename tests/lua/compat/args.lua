-- arg[0], arg[1..n], ..., and running the interpreter again through arg[-1].
local dir = arg[0]:match("^(.*)/") or "."
print("args", #arg, arg[1], arg[2], select("#", ...), ...)
print("arg[0] ends", arg[0]:match("[^/]*$"))
local p = io.popen(arg[-1] .. " " .. dir .. "/echo.lua again 2>&1")
print("again:", p:read("a"))
print("close", p:close())
