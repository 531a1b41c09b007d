// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Unit tests of the sandbox (user/core/sandbox.c): a runtime made with
 * lbpf_runtime_opts_t.sandboxed, as lbpfd makes a policy's, has no way to
 * the process, the files, native code or the debug library, also from its
 * child runtimes, and keeps what it should; an unsandboxed one (lbpf run)
 * keeps the whole library. Scripts print to the runtime's log sink. No root.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "unit.h"
#include "../../user/core/internal.h"

static char logged[1 << 16];

static void log_sink(void *ctx, const char *line)
{
	size_t used = strlen(logged);

	snprintf(logged + used, sizeof(logged) - used, "%s\n", line);
}

/* Runs code to its end in a runtime, sandboxed or not; 0 or -errno. */
static int run(const char *code, bool sandboxed)
{
	lbpf_runtime_opts_t opts = { .name = "sandbox_test", .log = log_sink,
				     .sandboxed = sandboxed };
	lbpf_runtime_t *rt;
	int err;

	logged[0] = '\0';
	err = lbpf_runtime_new(&rt, NULL, &opts);
	if (!err)
		err = lbpf_runtime_loadstring(rt, code, "=sandbox_test");
	if (!err)
		err = lbpf_runtime_start(rt);
	if (!err)
		err = lbpf_runtime_loop(rt);
	if (err)
		unit_note("error: %s", lbpf_runtime_error(rt));
	lbpf_runtime_free(rt);
	return err;
}

/* Each line says whether one way out is open; the script counts them. */
static const char escapes[] =
	"local n = 0\n"
	"local function check(name, f)\n"
	"  local ok, got = pcall(f)\n"
	"  n = n + 1\n"
	"  print(name .. ': ' .. ((ok and got) and 'OPEN' or 'closed'))\n"
	"end\n"
	"local dump = string.dump(function() return true end)\n"
	"check('os.execute', function() return os.execute end)\n"
	"check('io', function() return io or package.loaded.io or require('io') end)\n"
	"check('loadlib', function() return package.loadlib end)\n"
	"check('C searchers', function() return package.searchers[3] or package.searchers[4] end)\n"
	"check('searchpath', function() return package.searchpath end)\n"
	"check('sethook', function() return debug.sethook end)\n"
	"check('getupvalue', function() return debug.getupvalue end)\n"
	"check('getregistry', function() return debug.getregistry end)\n"
	"check('getlocal', function() return debug.getlocal end)\n"
	"check('load binary', function() return load(dump) end)\n"
	"check('load mode b', function() return load(dump, 'x', 'b') end)\n"
	"check('load reader', function()\n"
	"  local s = dump\n"
	"  return load(function() local r = s; s = nil; return r end)\n"
	"end)\n"
	"check('require path', function() return require('/etc/passwd') end)\n"
	"check('require ..', function() return require('..etc.passwd') end)\n"
	"check('package.path', function() package.path = '/etc/?'; return require('passwd') end)\n"
	"check('dofile', function() return dofile end)\n"
	"check('loadfile', function() return loadfile end)\n"
	"check('os.exit', function() return os.exit end)\n"
	"check('os.getenv', function() return os.getenv end)\n"
	"check('os.remove', function() return os.remove end)\n"
	"check('watch', function() return lbpf.watch(0, 'r', function() end) end)\n"
	"check('child library', function()\n"
	"  return lbpf.runtime('return io ~= nil or os.execute ~= nil or debug.sethook ~= nil',\n"
	"    { code = true }):resume()\n"
	"end)\n"
	"check('child file', function() return lbpf.runtime('/etc/passwd') end)\n"
	"check('child bytecode', function() return lbpf.runtime(dump, { code = true }) end)\n"
	"print('checks ' .. n)\n";

static void escapes_closed(void)
{
	CHECK(run(escapes, true) == 0, "log: %s", logged);
	CHECK(!strstr(logged, "OPEN"), "an escape is open:\n%s", logged);
	CHECK_CONTAINS(logged, "checks 24\n");
}

/* The same checks without the sandbox: most are open (the test can fail). */
static void unsandboxed_has_everything(void)
{
	CHECK(run(escapes, false) == 0, "log: %s", logged);
	CHECK_CONTAINS(logged, "os.execute: OPEN\n");
	CHECK_CONTAINS(logged, "io: OPEN\n");
	CHECK_CONTAINS(logged, "sethook: OPEN\n");
	CHECK_CONTAINS(logged, "load binary: OPEN\n");
	CHECK_CONTAINS(logged, "child library: OPEN\n");
}

/* LBPF_LUA_PATH: the source tree's lua/ folder, above the test binary
 * (build/tests/unit, build/san/tests/unit), for require "lbpf.hist". */
static bool find_lua_folder(void)
{
	char dir[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	struct stat st;

	if (n <= 0)
		return false;
	dir[n] = '\0';
	while (strcmp(dirname(dir), "/")) {
		snprintf(probe, sizeof(probe), "%s/lua/lbpf/hist.lua", dir);
		if (stat(probe, &st) == 0) {
			snprintf(probe, sizeof(probe), "%s/lua", dir);
			return setenv("LBPF_LUA_PATH", probe, 1) == 0;
		}
	}
	return false;
}

static void what_is_kept(void)
{
	if (!getenv("LBPF_LUA_PATH") && !find_lua_folder())
		return unit_skip("no lua/lbpf/hist.lua above the test binary");
	CHECK(run("local hist = require 'lbpf.hist'\n"
		  "local co = coroutine.wrap(function(a) coroutine.yield(a + 1) end)\n"
		  "print(type(hist), ('%d'):format(7), os.time() > 0, os.clock() >= 0,\n"
		  "  os.date('!%Y', 0), os.difftime(2, 1), debug.traceback('tb'):match('^tb'),\n"
		  "  utf8.char(72), math.max(1, 2), table.concat({ 'a', 'b' }), co(1),\n"
		  "  load('return 5')(), lbpf.runtime('return 6', { code = true }):resume(),\n"
		  "  select('#', pcall(error)), collectgarbage('count') > 0)\n", true) == 0,
	      "log: %s", logged);
	CHECK_STR(logged, "table\t7\ttrue\ttrue\t1970\t1.0\ttb\tH\t2\tab\t2\t5\t6\t2\ttrue\n");
}

static void refusals_say_why(void)
{
	CHECK(run("print(select(2, pcall(load, 'return 1', 'x', 'b')))\n"
		  "print(select(2, pcall(lbpf.watch, 0, 'r', print)))\n"
		  "print(select(2, pcall(lbpf.runtime, '/etc/passwd')))\n"
		  "print(select(2, pcall(require, 'nope.nothing')))\n", true) == 0,
	      "log: %s", logged);
	CHECK_CONTAINS(logged, "bad argument #3 to 'load' (a sandboxed policy loads source "
			       "only, not bytecode)\n");
	CHECK_CONTAINS(logged, "lbpf.watch: not available to a sandboxed policy (it has no "
			       "file descriptors of its own to watch)\n");
	CHECK_CONTAINS(logged, "runtime: a sandboxed policy starts a child from source "
			       "(lbpf.runtime(code, {code = true})) or from one of lbpf's "
			       "modules in ");
	CHECK_CONTAINS(logged, "no module 'nope.nothing' in ");
}

UNIT_MAIN("sandbox",
	  UNIT(escapes_closed),
	  UNIT(unsandboxed_has_everything),
	  UNIT(what_is_kept),
	  UNIT(refusals_say_why));
