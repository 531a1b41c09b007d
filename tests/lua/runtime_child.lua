-- SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
-- A child runtime of test_runtime.lua: yields its package.path and twice its argument.
local n = ...
coroutine.yield(package.path, n * 2)
