// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Unit tests of the cooperative scheduler (user/core/task.c) and the runtime that
 * drives it (user/core/runtime.c), through Lua code run as a script would be:
 * lbpf_runtime_loadstring + lbpf_runtime_start + lbpf_runtime_loop. Scripts
 * append to a C buffer with record(...), which outlives the runtime, so
 * on_exit handlers can be observed too. No root needed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "unit.h"
#include "../../user/core/internal.h"

static char recorded[1 << 16];
static char logged[1 << 16];

/* record(...): appends tostring() of each argument */
static int record(lua_State *L)
{
	int i, n = lua_gettop(L);

	for (i = 1; i <= n; i++) {
		size_t len, used = strlen(recorded);
		const char *s = luaL_tolstring(L, i, &len);

		if (used + len < sizeof(recorded))
			memcpy(recorded + used, s, len + 1);
		lua_pop(L, 1);
	}
	return 0;
}

static void log_sink(void *ctx, const char *line)
{
	size_t used = strlen(logged);

	snprintf(logged + used, sizeof(logged) - used, "%s\n", line);
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	while ((haystack = strstr(haystack, needle))) {
		n++;
		haystack += strlen(needle);
	}
	return n;
}

struct run {
	lbpf_runtime_t *rt;
	int err;                   /* of new/loadstring/start */
	int code;                  /* of the loop */
};

/* Creates a runtime with record() and runs code: body, then the loop. */
static struct run run_opts(const char *code, lbpf_runtime_opts_t opts)
{
	struct run r = { 0 };

	recorded[0] = logged[0] = '\0';
	opts.log = log_sink;
	r.err = lbpf_runtime_new(&r.rt, NULL, &opts);
	if (!CHECK(r.err == 0, "lbpf_runtime_new: %s", strerror(-r.err)))
		return r;
	lua_pushcfunction(lbpf_runtime_state(r.rt), record);
	lua_setglobal(lbpf_runtime_state(r.rt), "record");
	r.err = lbpf_runtime_loadstring(r.rt, code, "=sched_test");
	if (!r.err)
		r.err = lbpf_runtime_start(r.rt);
	if (!r.err)
		r.code = lbpf_runtime_loop(r.rt);
	return r;
}

static struct run run_lua(const char *code)
{
	return run_opts(code, (lbpf_runtime_opts_t){ .name = "sched_test" });
}

/* Runs the on_exit handlers and frees. */
static void run_free(struct run *r)
{
	lbpf_runtime_free(r->rt);
	r->rt = NULL;
}

/* Runs code to the end and expects exit code 0 and exactly `want` recorded. */
static void expect_record(const char *code, const char *want)
{
	struct run r = run_lua(code);

	CHECK(r.err == 0, "start: %s", lbpf_runtime_error(r.rt));
	CHECK(r.code == 0, "exit code %d; log: %s", r.code, logged);
	run_free(&r);
	CHECK_STR(recorded, want);
}

/* Spawned tasks start on the next round, in spawn order, with their arguments. */
static void spawn_order(void)
{
	expect_record("for i = 1, 5 do lbpf.spawn(function(n) record(n) end, i) end\n"
		      "lbpf.spawn(function(a, b, c) record(a, b, c) end, 'x', nil, 'z')\n"
		      "record('b')\n",
		      "b12345xnilz");
}

/* sleep(0) and coroutine.yield() hand over to the other ready tasks in turn. */
static void sleep0_round_robin(void)
{
	expect_record("for _, name in ipairs{'a', 'b', 'c'} do\n"
		      "  lbpf.spawn(function() for i = 1, 3 do record(name); lbpf.sleep(0) end end)\n"
		      "end\n"
		      "lbpf.spawn(function() for i = 1, 3 do record('d'); coroutine.yield() end end)\n",
		      "abcdabcdabcd");
}

/* wait() receives what notify_one/notify_all pass (nils included), first waiter first. */
static void wait_notify_values(void)
{
	expect_record(
		"local function waiter(name) return function()\n"
		"  local v = table.pack(lbpf.wait('ev'))\n"
		"  record(name, ':', v.n, '=', v[1], ',', v[2], ',', v[3], ';')\n"
		"end end\n"
		"lbpf.spawn(waiter('A')); lbpf.spawn(waiter('B')); lbpf.spawn(waiter('C'))\n"
		"record('early:', lbpf.notify_one('ev', 0), ';')\n"
		"lbpf.spawn(function()\n"
		"  record('one:', lbpf.notify_one('ev', 1, nil, 'x'), ';')\n"
		"  record('all:', lbpf.notify_all('ev', 2), ';')\n"
		"  record('none:', lbpf.notify_all('ev'), ';')\n"
		"end)\n",
		"early:false;one:true;all:2;none:0;A:3=1,nil,x;B:1=2,nil,nil;C:1=2,nil,nil;");
}

/* wait(name, ms) times out with nil, "timeout"; a notify before it disarms the timeout. */
static void wait_timeout(void)
{
	expect_record(
		"lbpf.spawn(function()\n"
		"  local t0 = lbpf.now()\n"
		"  local v, e = lbpf.wait('never', 10)\n"
		"  record(v, ',', e, ',', lbpf.now() - t0 >= 10e6 and 'on-time' or 'EARLY', ';')\n"
		"  record(select('#', lbpf.wait('never', 0)), ';')\n"
		"end)\n"
		"lbpf.spawn(function()\n"
		"  record('got:', lbpf.wait('soon', 20), ';')\n"
		"  record('then:', lbpf.wait('later'), ';')  -- a stale 20 ms timeout would end this\n"
		"end)\n"
		"lbpf.spawn(function()\n"
		"  lbpf.notify_one('soon', 'v'); lbpf.sleep(40); lbpf.notify_one('later', 'v2')\n"
		"end)\n",
		"got:v;nil,timeout,on-time;2;then:v2;");
}

/* Cancelling sleeping, waiting and ready tasks ends them, closes their <close>
 * variables and disarms their timers (else the loop would run for 10 minutes). */
static void cancel_tasks(void)
{
	expect_record(
		"closed = 0\n"
		"local function guard()\n"
		"  return setmetatable({}, { __close = function() closed = closed + 1 end })\n"
		"end\n"
		"local sleeper = lbpf.spawn(function()\n"
		"  local g <close> = guard(); lbpf.sleep(600000); record('SLEEPER-RESUMED') end)\n"
		"local waiter = lbpf.spawn(function()\n"
		"  local g <close> = guard(); lbpf.wait('nothing'); record('WAITER-RESUMED') end)\n"
		"local timed = lbpf.spawn(function()\n"
		"  local g <close> = guard(); lbpf.wait('nothing', 600000); record('TIMED-RESUMED') end)\n"
		"lbpf.spawn(function()\n"
		"  local r = lbpf.spawn(function() record('READY-RAN') end)\n"
		"  record(sleeper:status(), ',', waiter:status(), ',', timed:status(), ',', r:status(), ';')\n"
		"  record(sleeper:cancel(), waiter:cancel(), timed:cancel(), r:cancel(), ';')\n"
		"  record(sleeper:cancel(), ';')\n"
		"  record(sleeper:status(), ',', waiter:status(), ',', timed:status(), ',', r:status(), ';')\n"
		"  record('closed=', closed, ';notified=', lbpf.notify_all('nothing'), ';')\n"
		"end)\n",
		"sleeping,waiting,waiting,ready;truetruetruetrue;false;"
		"cancelled,cancelled,cancelled,cancelled;closed=3;notified=0;");
}

/* A task can cancel itself, also from inside pcall: it ends there, <close> runs. */
static void self_cancel(void)
{
	expect_record(
		"local me, me2\n"
		"me = lbpf.spawn(function()\n"
		"  local g <close> = setmetatable({}, { __close = function() record('closed;') end })\n"
		"  record('a;', me:status(), ';')\n"
		"  me:cancel()\n"
		"  record('AFTER-CANCEL')\n"
		"end)\n"
		"me2 = lbpf.spawn(function()\n"
		"  pcall(function() me2:cancel() end)\n"
		"  record('AFTER-PCALL')\n"
		"end)\n"
		"lbpf.spawn(function() record(me:status(), ',', me2:status(), ';') end)\n",
		"a;running;closed;cancelled,cancelled;");
}

/* task:status() goes through ready, running, sleeping, waiting, done and failed. */
static void status_values(void)
{
	struct run r = run_lua(
		"local s = lbpf.spawn(function() lbpf.sleep(5) end)\n"
		"local w = lbpf.spawn(function() lbpf.wait('x') end)\n"
		"local d = lbpf.spawn(function() end)\n"
		"local f = lbpf.spawn(function() error('expected failure') end)\n"
		"record(s:status(), ',')\n"
		"lbpf.spawn(function()\n"
		"  record(s:status(), ',', w:status(), ',', d:status(), ',', f:status(), ',')\n"
		"  lbpf.notify_one('x')\n"
		"  lbpf.sleep(10)\n"
		"  record(s:status(), ',', w:status(), ';')\n"
		"end)\n");

	CHECK(r.err == 0 && r.code == 0);
	CHECK(lbpf_runtime_errors(r.rt) == 1);
	CHECK_CONTAINS(logged, "expected failure");
	run_free(&r);
	CHECK_STR(recorded, "ready,sleeping,waiting,done,failed,done,done;");
}

static const char failing_tasks[] =
	"lbpf.spawn(function() lbpf.sleep(1)\n"
	"  local x = nil; return x.field end)\n"
	"lbpf.spawn(function() lbpf.sleep(20); record('survivor;') end)\n"
	"lbpf.after(2, function() error('timer boom') end)\n";

/* An error in a task or callback is logged with a traceback; the rest goes on. */
static void task_errors_reported(void)
{
	struct run r = run_lua(failing_tasks);

	CHECK(r.err == 0 && r.code == 0, "code %d", r.code);
	CHECK(lbpf_runtime_errors(r.rt) == 2, "errors=%llu",
	      (unsigned long long)lbpf_runtime_errors(r.rt));
	CHECK_CONTAINS(logged, "sched_test:2: attempt to index a nil value");
	CHECK_CONTAINS(logged, "sched_test:4: timer boom");
	CHECK_CONTAINS(logged, "stack traceback");
	CHECK_CONTAINS(lbpf_runtime_error(r.rt), "timer boom");
	run_free(&r);
	CHECK_STR(recorded, "survivor;");
}

/* With strict, the first task error stops the loop with exit code 1. */
static void strict_stops_loop(void)
{
	struct run r = run_opts(failing_tasks, (lbpf_runtime_opts_t){ .strict = true });

	CHECK(r.err == 0 && r.code == 1, "code %d", r.code);
	CHECK(lbpf_runtime_errors(r.rt) == 1);
	CHECK_CONTAINS(logged, "--strict");
	run_free(&r);
	CHECK_STR(recorded, "");
}

/* lbpf.exit(code) from the body or a task ends the run with that code at once. */
static void exit_codes(void)
{
	struct run r = run_lua("lbpf.spawn(function() record('TASK-RAN') end)\n"
			       "record('a;'); lbpf.exit(3); record('AFTER-EXIT')\n");

	CHECK(r.err == 0 && r.code == 3, "body exit: err %d code %d", r.err, r.code);
	run_free(&r);
	CHECK_STR(recorded, "a;");

	r = run_lua("lbpf.spawn(function() record('t;'); lbpf.exit(7); record('AFTER') end)\n"
		    "lbpf.spawn(function() lbpf.sleep(1); record('OTHER') end)\n");
	CHECK(r.err == 0 && r.code == 7, "task exit: code %d", r.code);
	run_free(&r);
	CHECK_STR(recorded, "t;");

	r = run_lua("lbpf.after(1, function() lbpf.exit() end); lbpf.every(1000, function() end)");
	CHECK(r.err == 0 && r.code == 0, "exit(): code %d", r.code);
	run_free(&r);

	r = run_lua("record((select(2, pcall(lbpf.exit, 256))))");
	CHECK(r.code == 0);
	run_free(&r);
	CHECK_CONTAINS(recorded, "exit code must be 0..255");
}

/* The loop returns when nothing is left: no task, timer or watched fd. */
static void loop_ends_when_idle(void)
{
	struct run r = run_lua("");

	CHECK(r.err == 0 && r.code == 0);
	run_free(&r);
	expect_record("lbpf.spawn(function() lbpf.sleep(5); record('done;') end)", "done;");

	r = run_lua("lbpf.spawn(function() lbpf.wait('x'); record('WOKEN') end)");
	CHECK(r.err == 0 && r.code == 0);
	CHECK_CONTAINS(logged, "wait for a notify that nothing can send");
	run_free(&r);
	CHECK_STR(recorded, "");
}

/* 10,000 sleeping tasks and 10,000 timers all complete (the time is reported). */
static void many_tasks_and_timers(void)
{
	uint64_t t0 = lbpf_now();
	struct run r = run_lua("local N, tasks, timers = 10000, 0, 0\n"
			       "for i = 1, N do lbpf.spawn(function()\n"
			       "  lbpf.sleep(i % 20); tasks = tasks + 1\n"
			       "  if tasks == N then record('tasks;') end end) end\n"
			       "for i = 1, N do lbpf.after((i * 7) % 20, function()\n"
			       "  timers = timers + 1\n"
			       "  if timers == N then record('timers;') end end) end\n");

	unit_note("10,000 sleeping tasks + 10,000 timers: %.1f ms, Lua memory %zu KiB",
		  (lbpf_now() - t0) / 1e6, r.rt ? lbpf_runtime_memory(r.rt) / 1024 : 0);
	CHECK(r.err == 0 && r.code == 0);
	CHECK(lbpf_runtime_errors(r.rt) == 0, "log: %s", logged);
	run_free(&r);
	CHECK_CONTAINS(recorded, "tasks;");
	CHECK_CONTAINS(recorded, "timers;");
}

/* on_exit handlers run at exit in reverse order; a failing one does not stop the rest. */
static void on_exit_reverse_order(void)
{
	struct run r = run_lua("lbpf.on_exit(function() record(1) end)\n"
			       "lbpf.on_exit(function() error('handler boom') end)\n"
			       "lbpf.on_exit(function() record(3) end)\n"
			       "record(select(2, pcall(lbpf.on_exit, 42)), ';')\n");

	CHECK(r.err == 0 && r.code == 0);
	CHECK_CONTAINS(recorded, "(function expected, got number);");
	recorded[0] = '\0';
	run_free(&r);
	CHECK_STR(recorded, "31");
	CHECK_CONTAINS(logged, "handler boom");
}

/* sleep and wait outside a task (body, plain coroutine) raise the clear error. */
static void sleep_outside_task(void)
{
	struct run r = run_lua(
		"record(select(2, pcall(lbpf.sleep, 1)), ';')\n"
		"record(select(2, pcall(lbpf.wait, 'x')), ';')\n"
		"lbpf.spawn(function()\n"
		"  local co = coroutine.wrap(function() return pcall(lbpf.sleep, 1) end)\n"
		"  record(select(2, co()), ';')\n"
		"end)\n");

	CHECK(r.err == 0 && r.code == 0);
	run_free(&r);
	CHECK_CONTAINS(recorded, "lbpf.sleep: not inside a task");
	CHECK_CONTAINS(recorded, "lbpf.wait: not inside a task");
	CHECK(count(recorded, "not inside a task") == 3, "three errors expected: %s", recorded);
}

/* Closing a task handle cancels it, even from inside itself: no crash. */
static void close_task_handles(void)
{
	expect_record(
		"local me\n"
		"me = lbpf.spawn(function()\n"
		"  me:close(); record('after-close;')\n"
		"  lbpf.sleep(1); record('AFTER-SLEEP')\n"
		"end)\n"
		"local sleeper = lbpf.spawn(function()\n"
		"  local g <close> = setmetatable({}, { __close = function() record('closed;') end })\n"
		"  lbpf.sleep(600000); record('SLEEPER-RESUMED')\n"
		"end)\n"
		"lbpf.spawn(function()\n"
		"  lbpf.sleep(2)\n"
		"  sleeper:close()\n"
		"  record(select(2, pcall(sleeper.status, sleeper)):match('closed') or 'NOT-CLOSED', ';')\n"
		"  do local t <close> = lbpf.spawn(function() record('CLOSED-TASK-RAN') end) end\n"
		"end)\n",
		"after-close;closed;closed;");
}

/* Finalizers that run while the runtime is freed may call the API: no crash. */
static void api_from_finalizers_at_close(void)
{
	struct run r = run_lua(
		"keep = setmetatable({}, { __gc = function()\n"
		"  record('gc;')\n"
		"  pcall(lbpf.spawn, function() end)\n"
		"  pcall(lbpf.notify_all, 'x'); pcall(lbpf.notify_one, 'x')\n"
		"  pcall(lbpf.sleep, 1); pcall(lbpf.after, 1, print)\n"
		"end })\n"
		"lbpf.on_exit(function() lbpf.spawn(function() record('NEVER') end) end)\n");

	CHECK(r.err == 0 && r.code == 0);
	run_free(&r);
	CHECK_STR(recorded, "gc;");
}

/* Timer callbacks are tasks: they may sleep. every's gets its timer, after's nothing. */
static void timer_callbacks_are_tasks(void)
{
	expect_record("lbpf.after(1, function(...)\n"
		      "  record('after:', select('#', ...), ';')\n"
		      "  lbpf.sleep(2); record('slept;')\n"
		      "end)\n"
		      "local every\n"
		      "every = lbpf.every(2, function(t)\n"
		      "  record(rawequal(t, every) and 'every;' or tostring(t)); t:cancel()\n"
		      "end)\n",
		      "after:0;every;slept;");
}

/* A syntax error is reported by loadstring, a runtime error by start, with the line. */
static void body_errors(void)
{
	lbpf_runtime_opts_t opts = { .log = log_sink };
	lbpf_runtime_t *rt = NULL;

	CHECK(lbpf_runtime_new(&rt, NULL, &opts) == 0);
	CHECK(lbpf_runtime_loadstring(rt, "local x = 1\nx = = 2\n", "=body") == -EINVAL);
	CHECK_CONTAINS(lbpf_runtime_error(rt), "body:2:");
	lbpf_runtime_free(rt);

	CHECK(lbpf_runtime_new(&rt, NULL, &opts) == 0);
	CHECK(lbpf_runtime_loadstring(rt, "local x = 1\n\nerror('body boom')\n", "=body") == 0);
	CHECK(lbpf_runtime_start(rt) == -EINVAL);
	CHECK_CONTAINS(lbpf_runtime_error(rt), "body:3: body boom");
	CHECK_CONTAINS(lbpf_runtime_error(rt), "stack traceback");
	CHECK(lbpf_runtime_start(rt) == -EALREADY);
	lbpf_runtime_free(rt);
}

/* The script's arguments arrive in `arg` (arg[0] = script) and as `...`. */
static void script_arguments(void)
{
	char *argv[] = { "one", "two words", NULL };
	struct run r = run_opts("record(arg[0], ',', arg[1], ',', arg[2], ',', #arg, ',',\n"
				"  select('#', ...), ',', (select(2, ...)))\n",
				(lbpf_runtime_opts_t){ .argc = 2, .argv = argv });

	CHECK(r.err == 0);
	run_free(&r);
	CHECK_STR(recorded, "-e,one,two words,2,2,two words");
}

/* package.path starts with the script's folder, also for a bare file name. */
static void package_path_has_script_folder(void)
{
	static const char *const cases[][2] = {
		{ "script.lua", "./?.lua;./?/init.lua;" },
		{ "sub/dir/script.lua", "sub/dir/?.lua;sub/dir/?/init.lua;" },
	};
	lbpf_runtime_opts_t opts = { .log = log_sink };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lbpf_runtime_t *rt = NULL;
		lua_State *L;
		const char *path;

		/* the file need not exist: the path is set before it is loaded */
		lbpf_runtime_new(&rt, cases[i][0], &opts);
		if (!CHECK(rt && lbpf_runtime_state(rt)))
			break;
		L = lbpf_runtime_state(rt);
		lua_getglobal(L, "package");
		lua_getfield(L, -1, "path");
		path = lua_tostring(L, -1);
		CHECK(path && !strncmp(path, cases[i][1], strlen(cases[i][1])),
		      "%s: package.path is %s", cases[i][0], path);
		lua_settop(L, 0);
		lbpf_runtime_free(rt);
	}
}

static atomic_int foreign_inside, overlaps, probes;

/* probe(): called by Lua in the loop; counts runs while a foreign thread is inside */
static int probe(lua_State *L)
{
	probes++;
	if (atomic_load(&foreign_inside))
		overlaps++;
	return 0;
}

static int foreign_handler(lua_State *L)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };

	atomic_store(&foreign_inside, 1);
	lua_getglobal(L, "foreign_calls"); /* touches the state, as handlers do */
	lua_pushinteger(L, lua_tointeger(L, -1) + 1);
	lua_setglobal(L, "foreign_calls");
	nanosleep(&ts, NULL);
	atomic_store(&foreign_inside, 0);
	return 0;
}

static void *foreign_thread(void *arg)
{
	lbpf_runtime_t *rt = arg;
	struct timespec ts = { 0, 1000 * 1000 };
	int i, ret;

	for (i = 0; i < 20; i++) {
		lbpf_run(rt, foreign_handler, ret);
		(void)ret;
		nanosleep(&ts, NULL);
	}
	lbpf_runtime_stop(rt);
	return NULL;
}

/* lbpf_run from another thread never runs while the loop runs Lua. */
static void foreign_thread_excluded(void)
{
	lbpf_runtime_opts_t opts = { .log = log_sink };
	lbpf_runtime_t *rt = NULL;
	pthread_t th;
	lua_State *L;

	overlaps = probes = 0;
	if (!CHECK(lbpf_runtime_new(&rt, NULL, &opts) == 0))
		goto out;
	L = lbpf_runtime_state(rt);
	lua_pushcfunction(L, probe);
	lua_setglobal(L, "probe");
	CHECK(lbpf_runtime_loadstring(rt, "lbpf.every(0.2, function() probe() end)\n"
					  "lbpf.spawn(function() while true do probe(); lbpf.sleep(0.1) end end)\n",
				      "=foreign") == 0);
	CHECK(lbpf_runtime_start(rt) == 0);
	pthread_create(&th, NULL, foreign_thread, rt);
	lbpf_runtime_loop(rt);
	pthread_join(th, NULL);
	lua_getglobal(L, "foreign_calls");
	CHECK(lua_tointeger(L, -1) == 20, "foreign handler ran %d times", (int)lua_tointeger(L, -1));
	lua_pop(L, 1);
	CHECK(probes > 20, "the loop ran Lua only %d times", (int)probes);
	CHECK(overlaps == 0, "Lua ran %d of %d times while another thread held the runtime",
	      (int)overlaps, (int)probes);
out:
	lbpf_runtime_free(rt);
}

UNIT_MAIN("sched",
	  UNIT(spawn_order),
	  UNIT(sleep0_round_robin),
	  UNIT(wait_notify_values),
	  UNIT(wait_timeout),
	  UNIT(cancel_tasks),
	  UNIT(self_cancel),
	  UNIT(status_values),
	  UNIT(task_errors_reported),
	  UNIT(strict_stops_loop),
	  UNIT(exit_codes),
	  UNIT(loop_ends_when_idle),
	  UNIT(many_tasks_and_timers),
	  UNIT(on_exit_reverse_order),
	  UNIT(sleep_outside_task),
	  UNIT(close_task_handles),
	  UNIT(api_from_finalizers_at_close),
	  UNIT(timer_callbacks_are_tasks),
	  UNIT(body_errors),
	  UNIT(script_arguments),
	  UNIT(package_path_has_script_folder),
	  UNIT(foreign_thread_excluded))
