-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- Run by test_core.lua as a child script: prints its arg table and varargs.
local parts = { "arg0=" .. arg[0], "n=" .. #arg }
for i = 1, #arg do
	parts[#parts + 1] = "[" .. arg[i] .. "]"
end
parts[#parts + 1] = "varargs=" .. select("#", ...)
for _, v in ipairs { ... } do
	parts[#parts + 1] = "[" .. v .. "]"
end
print(table.concat(parts, " "))
