// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A runtime is one lua_State with its own event loop and scheduler, after
 * Lunatik's runtimes. The allocator's user data is the runtime, which makes
 * lbpf_toruntime() a pointer read and gives every runtime a memory account
 * (and a limit, for the daemon).
 *
 * The runtime drives the parts below it and is called by none of them: the
 * loop runs its sleep hooks (the lock) and holds its stop flag, the scheduler
 * reports through sched_ops, the modules it preloads and the hooks it runs
 * at free are registered with it.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <lualib.h>

#include "internal.h"

struct atfree {
	struct atfree *next;
	lbpf_atfree_fn fn;
	void *arg;
};

struct lbpf_runtime {
	lua_State *L;
	lbpf_loop_t *loop;
	struct lbpf_sched *sched;
	struct lbpf_ringbuf *ringbuf;
	pthread_mutex_t lock;
	lbpf_runtime_opts_t opts;
	char *name;
	char *error;
	size_t memory;
	uint64_t errors;
	uint64_t calls;
	_Atomic uint64_t lost;      /* opts.lost_counter when that is NULL */
	unsigned errors_in_row;
	uint64_t budget_left;      /* instructions left to the running resume */
	bool budget_armed;         /* budget_left applies (a resume is running) */
	int signal_left;           /* instructions until the next signal check */
	bool over_budget;          /* the running resume went past it */
	int exit_code;
	struct atfree *atfree;     /* lbpf_runtime_atfree, last first */
	atomic_uint pins;          /* indices handed out in opts.pin_dir */
	_Atomic uint64_t pins_held[16]; /* bitmap: those whose filter attached */
	bool closing;
	struct lbpf_hooks *hooks;  /* of L: lbpf_runtime_arm_limit puts them on each coroutine */
	bool started;
	atomic_bool accepted;      /* lbpf_runtime_accept */
	int signalfd;
	sigset_t oldmask;
};

static void *runtime_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	lbpf_runtime_t *rt = ud;
	size_t old = ptr ? osize : 0;
	void *p;

	if (nsize == 0) {
		rt->memory -= old;
		free(ptr);
		return NULL;
	}
	if (rt->opts.memory_limit && nsize > old &&
	    rt->memory + (nsize - old) > rt->opts.memory_limit)
		return NULL;
	p = realloc(ptr, nsize);
	if (p)
		rt->memory += nsize - old;
	return p;
}

lbpf_loop_t *lbpf_runtime_getloop(lbpf_runtime_t *rt) { return rt->loop; }
lua_State *lbpf_runtime_state(lbpf_runtime_t *rt) { return rt->L; }
struct lbpf_sched *lbpf_runtime_sched(lbpf_runtime_t *rt) { return rt->sched; }
struct lbpf_ringbuf **lbpf_runtime_ringbuf_slot(lbpf_runtime_t *rt) { return &rt->ringbuf; }
size_t lbpf_runtime_memory(lbpf_runtime_t *rt) { return rt->memory; }
uint64_t lbpf_runtime_errors(lbpf_runtime_t *rt) { return rt->errors; }
uint64_t lbpf_runtime_calls(lbpf_runtime_t *rt) { return rt->calls; }
int lbpf_runtime_exit_code(lbpf_runtime_t *rt) { return rt->exit_code; }
bool lbpf_runtime_closing(lbpf_runtime_t *rt) { return rt->closing; }
bool lbpf_runtime_strict(lbpf_runtime_t *rt) { return rt->opts.strict; }
const char *lbpf_runtime_error(lbpf_runtime_t *rt) { return rt ? rt->error : NULL; }
void lbpf_runtime_lock(lbpf_runtime_t *rt) { pthread_mutex_lock(&rt->lock); }
void lbpf_runtime_unlock(lbpf_runtime_t *rt) { pthread_mutex_unlock(&rt->lock); }
void lbpf_runtime_count_error(lbpf_runtime_t *rt) { rt->errors++; }
const lbpf_runtime_opts_t *lbpf_runtime_options(lbpf_runtime_t *rt) { return &rt->opts; }
const char *lbpf_runtime_pin_dir(lbpf_runtime_t *rt) { return rt->opts.pin_dir; }
unsigned lbpf_runtime_pin_next(lbpf_runtime_t *rt) { return atomic_fetch_add(&rt->pins, 1); }

void lbpf_runtime_pin_hold(lbpf_runtime_t *rt, unsigned n)
{
	if (n < 64 * ARRAY_SIZE(rt->pins_held))
		atomic_fetch_or(&rt->pins_held[n / 64], 1ull << (n % 64));
}

bool lbpf_runtime_pin_held(lbpf_runtime_t *rt, unsigned n)
{
	if (n >= atomic_load(&rt->pins))
		return false;
	if (n >= 64 * ARRAY_SIZE(rt->pins_held))
		return true; /* past what is tracked: keep */
	return atomic_load(&rt->pins_held[n / 64]) & (1ull << (n % 64));
}
void lbpf_runtime_accept(lbpf_runtime_t *rt) { atomic_store(&rt->accepted, true); }
bool lbpf_runtime_accepted(lbpf_runtime_t *rt) { return atomic_load(&rt->accepted); }
uint64_t lbpf_runtime_lost(lbpf_runtime_t *rt) { return atomic_load(rt->opts.lost_counter); }

void lbpf_runtime_count_lost(lbpf_runtime_t *rt, uint64_t n)
{
	atomic_fetch_add(rt->opts.lost_counter, n);
}

/* A runtime without a loop failed to be made: nothing of it may run. */
bool lbpf_runtime_sandboxed(lbpf_runtime_t *rt)
{
	return rt && rt->opts.sandboxed;
}

bool lbpf_runtime_stopping(lbpf_runtime_t *rt)
{
	return !rt->loop || lbpf_loop_stopping(rt->loop);
}

/* A runtime's loop holds the runtime as its user pointer. */
lbpf_runtime_t *lbpf_loop_runtime(lbpf_loop_t *loop)
{
	return lbpf_loop_user(loop);
}

/* The one place C calls into Lua: a task of the runtime's scheduler, which
 * reports its errors back through sched_ops. */
int lbpf_call(lua_State *L, int nargs)
{
	return lbpf_sched_call(lbpf_toruntime(L)->sched, L, nargs);
}

int lbpf_callback_call(lua_State *L, lbpf_callback_t **cb, int nargs)
{
	return lbpf_sched_callback(lbpf_toruntime(L)->sched, cb, L, nargs);
}

lbpf_runtime_t *lbpf_runtime_root(lbpf_runtime_t *rt)
{
	while (rt->opts.parent)
		rt = rt->opts.parent;
	return rt;
}

int lbpf_runtime_gate(lbpf_runtime_t *rt, struct bpf_map *runtimes, uint64_t *rodata_id)
{
	if (!rt->opts.id || rt->opts.runtimes_fd <= 0) {
		*rodata_id = 0;
		return 0;
	}
	*rodata_id = rt->opts.id;
	return bpf_map__reuse_fd(runtimes, rt->opts.runtimes_fd);
}

void lbpf_runtime_stop(lbpf_runtime_t *rt)
{
	if (rt && rt->loop)
		lbpf_loop_stop(rt->loop, true);
}

void lbpf_runtime_exit(lbpf_runtime_t *rt, int code)
{
	rt->exit_code = code;
	lbpf_runtime_stop(rt);
}

/* A record for people: on the log sink, or on stdout/stderr. */
static void output_text(lbpf_runtime_t *rt, const struct lbpf_output *rec)
{
	char *text = lbpf_output_text(rec);
	FILE *f = lbpf_output_diagnostic(rec) ? stderr : stdout;

	if (!text || (!*text && rec->kind != LBPF_OUTPUT_PRINT)) {
		free(text);
		return;
	}
	if (rt && rt->opts.log) {
		rt->opts.log(rt->opts.log_ctx, text);
	} else {
		fprintf(f, "%s\n", text);
		fflush(f);
	}
	free(text);
}

void lbpf_output(lbpf_runtime_t *rt, const struct lbpf_output *rec)
{
	if (rt && rt->opts.output)
		rt->opts.output(rt->opts.output_ctx, rec);
	else
		output_text(rt, rec);
}

void lbpf_output_error(lbpf_runtime_t *rt, const char *what, const char *text)
{
	struct lbpf_output rec;
	char *copy = lbpf_output_error_parse(&rec, what, text);

	lbpf_output(rt, &rec);
	free(copy);
}

void lbpf_log(lbpf_runtime_t *rt, const char *fmt, ...)
{
	struct lbpf_output rec = { .kind = LBPF_OUTPUT_LOG };
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 6, fmt, ap);
	va_end(ap);
	rec.text = line;
	lbpf_output(rt, &rec);
}

static void set_error(lbpf_runtime_t *rt, const char *msg)
{
	free(rt->error);
	rt->error = strdup(msg);
}

/* The error value at the top of co, as text. */
static const char *error_text(lua_State *L, lua_State *co)
{
	const char *msg = lua_tostring(co, -1);

	if (msg)
		return msg;
	if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING)
		return lua_tostring(co, -1);
	return lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
}

/* The instruction limit: a count check every slice of the budget. It also
 * ends a callback that spins while the runtime is asked to stop. */
#define LIMIT_SLICE 100000
/* Ctrl-C in a callback that spins: the signalfd is read this often. */
#define SIGNAL_SLICE 1000000

static void signal_check(lbpf_runtime_t *rt, lua_State *L)
{
	struct signalfd_siginfo si;

	if (rt->signalfd < 0 || read(rt->signalfd, &si, sizeof(si)) != sizeof(si))
		return;
	lbpf_log(rt, "interrupted by signal %u", si.ssi_signo);
	lbpf_runtime_exit(rt, 0);
	lua_pushlightuserdata(L, &lbpf_exit_sentinel);
	lua_error(L);
}

static void limit_check(lbpf_runtime_t *rt, lua_State *L, int n)
{
	if (lbpf_runtime_stopping(rt) && !rt->closing)
		luaL_error(L, "interrupted: the runtime is stopping");
	if (rt->budget_left <= (uint64_t)n) {
		rt->over_budget = true; /* fatal, even if a pcall catches the error */
		luaL_error(L, "instruction limit of %I exceeded (a callback that does not return?)",
			   (lua_Integer)rt->opts.instruction_limit);
	}
	rt->budget_left -= n;
}

/* lbpf's count hook (hook.c chains the script's own after it): n
 * instructions ran since the last call. */
static void count_hook(lua_State *L, int n)
{
	lbpf_runtime_t *rt = lbpf_toruntime(L);

	if (rt->signalfd >= 0 && (rt->signal_left -= n) <= 0) {
		rt->signal_left = SIGNAL_SLICE;
		signal_check(rt, L);
	}
	if (rt->budget_armed)
		limit_check(rt, L, n);
}

/* How often count_hook must run: 0 when it has nothing to check. */
static int hook_count(const lbpf_runtime_opts_t *opts)
{
	uint64_t limit = opts->instruction_limit;

	if (limit)
		return limit < LIMIT_SLICE ? (int)limit : LIMIT_SLICE;
	return opts->signals ? SIGNAL_SLICE : 0;
}

void lbpf_runtime_arm_limit(lbpf_runtime_t *rt, lua_State *co)
{
	uint64_t limit = rt->opts.instruction_limit;

	if (limit) {
		rt->budget_left = limit;
		rt->over_budget = false;
		rt->budget_armed = true;
	}
	lbpf_hooks_install(rt->hooks, co);
}

/* Lua's preallocated memory error: with a limit set, the limit was hit. */
static bool over_memory_limit(lbpf_runtime_t *rt, lua_State *co)
{
	return rt->opts.memory_limit && lua_type(co, -1) == LUA_TSTRING &&
	       !strcmp(lua_tostring(co, -1), "not enough memory");
}

/* Stops the runtime with the memory limit as its error. Allocates no Lua
 * memory: there is none left. */
static void fail_memory(lbpf_runtime_t *rt)
{
	char msg[96];
	size_t limit = rt->opts.memory_limit;

	if (limit % (1 << 20) == 0)
		snprintf(msg, sizeof(msg), "memory limit %zuM exceeded", limit >> 20);
	else
		snprintf(msg, sizeof(msg), "memory limit %zu bytes exceeded", limit);
	set_error(rt, msg);
	lbpf_log(rt, "stopping: %s", msg);
	lbpf_runtime_exit(rt, 1);
}

/* A resume went over opts.instruction_limit: like memory, a limit that
 * stops the runtime at once. msg says where, if known. */
static void fail_budget(lbpf_runtime_t *rt, const char *msg)
{
	char fallback[128];

	rt->over_budget = false;
	if (!msg) {
		snprintf(fallback, sizeof(fallback), "instruction limit of %llu exceeded (the error "
			 "was caught by pcall)", (unsigned long long)rt->opts.instruction_limit);
		msg = fallback;
		set_error(rt, msg);
	}
	lbpf_log(rt, "stopping: instruction limit of %llu exceeded",
		 (unsigned long long)rt->opts.instruction_limit);
	lbpf_runtime_exit(rt, 1);
}

/* The scheduler's resumed_ok: a resume returned or yielded. */
static void resumed_ok(lbpf_runtime_t *rt)
{
	rt->errors_in_row = 0;
	if (rt->over_budget)
		fail_budget(rt, NULL);
}

/* Counts an error in a row; the runtime stops at opts.max_errors. */
static void count_in_row(lbpf_runtime_t *rt)
{
	char *last;

	if (!rt->opts.max_errors || ++rt->errors_in_row < rt->opts.max_errors)
		return;
	last = rt->error ? strdup(rt->error) : NULL;
	free(rt->error);
	if (asprintf(&rt->error, "stopped after %u callback errors in a row; the last: %s",
		     rt->errors_in_row, last ? last : "?") < 0)
		rt->error = NULL;
	free(last);
	lbpf_log(rt, "stopping: %u callback errors in a row", rt->errors_in_row);
	lbpf_runtime_exit(rt, 1);
}

/* The scheduler's failed: logs the error at the top of co with a traceback
 * of co, and applies the limits and the error policy. */
static void report(lbpf_runtime_t *rt, lua_State *co, const char *what)
{
	const char *msg;

	rt->errors++;
	if (over_memory_limit(rt, co))
		return fail_memory(rt);
	msg = error_text(rt->L, co);
	luaL_traceback(rt->L, co, msg, 0);
	lbpf_output_error(rt, what, lua_tostring(rt->L, -1));
	set_error(rt, lua_tostring(rt->L, -1));
	lua_pop(rt->L, 1);
	if (rt->over_budget)
		return fail_budget(rt, rt->error);
	if (rt->opts.strict) {
		lbpf_log(rt, "stopping: --strict makes callback errors fatal");
		lbpf_runtime_exit(rt, 1);
	}
	count_in_row(rt);
}

/* The scheduler's called: counts a dispatched callback. */
static void count_call(lbpf_runtime_t *rt)
{
	rt->calls++;
}

/* The scheduler's log. */
static void log_op(lbpf_runtime_t *rt, const char *line)
{
	lbpf_log(rt, "%s", line);
}

static const struct lbpf_sched_ops sched_ops = {
	.resuming = lbpf_runtime_arm_limit,
	.resumed_ok = resumed_ok,
	.failed = report,
	.called = count_call,
	.log = log_op,
};

/* Message handler for the body: adds the traceback, leaves exit alone. */
static int body_traceback(lua_State *L)
{
	if (lua_touserdata(L, 1) == &lbpf_exit_sentinel)
		return 1;
	luaL_traceback(L, L, error_text(L, L), 1);
	return 1;
}

static bool is_luadir(const char *dir)
{
	char probe[PATH_MAX + 64];
	struct stat st;

	snprintf(probe, sizeof(probe), "%s/lbpf", dir);
	return stat(probe, &st) == 0 && S_ISDIR(st.st_mode);
}

/* lbpf's lua/ folder: $LBPF_LUA_PATH, else the source tree's when running
 * from a build folder, else an installation relative to the binary (a
 * DESTDIR staging or a moved prefix), else the configured one. */
static void find_luadir(char *out, size_t size)
{
	static const char *const relative[] = { "lua", "../lua", "../../lua", "../share/lbpf/lua" };
	char exe[PATH_MAX];
	const char *env = getenv("LBPF_LUA_PATH");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t i;

	if (env) {
		snprintf(out, size, "%s", env);
		return;
	}
	if (n > 0) {
		exe[n] = '\0';
		dirname(exe);
		for (i = 0; i < sizeof(relative) / sizeof(relative[0]); i++) {
			snprintf(out, size, "%s/%s", exe, relative[i]);
			if (is_luadir(out))
				return;
		}
	}
	snprintf(out, size, "%s", LBPF_DATADIR "/lua");
}

/* package.path gets the script's folder, then lbpf's lua/ folder. */
static void set_path(lua_State *L, const char *script)
{
	char dir[PATH_MAX], luadir[PATH_MAX + 32];
	luaL_Buffer b;

	find_luadir(luadir, sizeof(luadir));
	lua_getglobal(L, "package");
	luaL_buffinit(L, &b);
	if (script) {
		const char *folder;

		snprintf(dir, sizeof(dir), "%s", script);
		folder = dirname(dir); /* may return a static "." instead of dir */
		lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", folder, folder);
		luaL_addvalue(&b);
	}
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", luadir, luadir);
	luaL_addvalue(&b);
	lua_getfield(L, -2, "path");
	luaL_addvalue(&b);
	luaL_pushresult(&b);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* The global `arg`, as lua.c builds it: arg[0] is the script. */
static void set_args(lua_State *L, const char *script, const lbpf_runtime_opts_t *opts)
{
	int i;

	lua_createtable(L, opts->argc, 2);
	if (opts->progname) {
		lua_pushstring(L, opts->progname);
		lua_rawseti(L, -2, -1);
	}
	lua_pushstring(L, script ? script : "-e");
	lua_rawseti(L, -2, 0);
	for (i = 0; i < opts->argc; i++) {
		lua_pushstring(L, opts->argv[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setglobal(L, "arg");
}

/* print() of a runtime with a log or output sink: one call, one record. */
static int log_print(lua_State *L)
{
	int i, n = lua_gettop(L);
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	lbpf_output(lbpf_toruntime(L),
		    &(struct lbpf_output){ .kind = LBPF_OUTPUT_PRINT, .text = lua_tostring(L, -1) });
	return 0;
}

/* Lua code that never returns to the loop would never see the signalfd, so
 * a count hook looks at it every million instructions (a few ms) and unwinds
 * the code with exit's sentinel when Ctrl-C or SIGTERM came. */
/* package.preload gets every registered module ("lbpf", from module.c). */
static void preload(lua_State *L)
{
	const lbpf_lib_t *module;

	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	for (module = lbpf_modules(); module; module = module->next) {
		lua_pushcfunction(L, module->open);
		lua_setfield(L, -2, module->name);
	}
	lua_pop(L, 1);
}

static int open_state(lbpf_runtime_t *rt, const char *script)
{
	lua_State *L = lua_newstate(runtime_alloc, rt);

	if (!L)
		return -ENOMEM;
	rt->L = L;
	luaL_openlibs(L);
	/* on the main state before any coroutine exists, so all inherit it */
	rt->hooks = lbpf_hooks_open(L, count_hook, hook_count(&rt->opts));
	if (rt->opts.log || rt->opts.output) {
		lua_pushcfunction(L, log_print);
		lua_setglobal(L, "print");
	}
	preload(L);
	lbpf_objects_closing(L, false);
	set_path(L, script);
	set_args(L, script, &rt->opts);
	rt->sched = lbpf_sched_new(L, rt->loop, &sched_ops, rt);
	if (!rt->sched)
		return -errno ? -errno : -ENOMEM;
	/* require "lbpf", as a global too */
	lua_getglobal(L, "require");
	lua_pushliteral(L, "lbpf");
	if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
		set_error(rt, lua_tostring(L, -1));
		return -EINVAL;
	}
	lua_setglobal(L, "lbpf");
	if (rt->opts.sandboxed) {
		char luadir[PATH_MAX];

		find_luadir(luadir, sizeof(luadir));
		return lbpf_sandbox(L, luadir);
	}
	return 0;
}

/* The loaded body waits in the registry under this key until start. */
static const char body_key = 'b';

static int keep_body(lbpf_runtime_t *rt, int status)
{
	if (status != LUA_OK) {
		set_error(rt, lua_tostring(rt->L, -1));
		lua_pop(rt->L, 1);
		return -EINVAL;
	}
	lua_rawsetp(rt->L, LUA_REGISTRYINDEX, &body_key);
	return 0;
}

/* The loop's sleep hooks: Lua runs with the runtime locked; other threads
 * get in with lbpf_run() while the loop waits. */
static void before_sleep(lbpf_loop_t *loop)
{
	lbpf_runtime_unlock(lbpf_loop_user(loop));
}

static void after_sleep(lbpf_loop_t *loop)
{
	lbpf_runtime_lock(lbpf_loop_user(loop));
}

/* Recursive: code running in the loop may lbpf_run() its own runtime. */
static void init_lock(pthread_mutex_t *lock)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(lock, &attr);
	pthread_mutexattr_destroy(&attr);
}

int lbpf_runtime_new(lbpf_runtime_t **out, const char *script, const lbpf_runtime_opts_t *opts)
{
	lbpf_runtime_t *rt = calloc(1, sizeof(*rt));
	int err;

	*out = rt;
	if (!rt)
		return -ENOMEM;
	if (opts)
		rt->opts = *opts;
	if (!rt->opts.lost_counter)
		rt->opts.lost_counter = &rt->lost;
	rt->signalfd = -1;
	init_lock(&rt->lock);
	rt->name = strdup(rt->opts.name ? rt->opts.name : script ? script : "(inline)");
	rt->loop = lbpf_loop_new(rt);
	if (!rt->loop)
		return -errno;
	lbpf_loop_set_sleep_hooks(rt->loop, before_sleep, after_sleep);
	err = open_state(rt, script);
	if (err)
		return err;
	if (script)
		return keep_body(rt, luaL_loadfile(rt->L, script));
	return 0;
}

int lbpf_runtime_loadstring(lbpf_runtime_t *rt, const char *code, const char *chunkname)
{
	return keep_body(rt, luaL_loadbuffer(rt->L, code, strlen(code), chunkname));
}

int lbpf_runtime_start(lbpf_runtime_t *rt)
{
	lua_State *L = rt->L;
	int status, nargs;

	if (rt->started)
		return -EALREADY;
	rt->started = true;
	lua_pushcfunction(L, body_traceback);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &body_key) != LUA_TFUNCTION) {
		lua_pop(L, 2);
		return 0;
	}
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &body_key);
	/* the script's arguments are also its varargs */
	for (nargs = 0; nargs < rt->opts.argc; nargs++)
		lua_pushstring(L, rt->opts.argv[nargs]);
	lbpf_runtime_lock(rt);
	lbpf_runtime_arm_limit(rt, L);
	status = lua_pcall(L, nargs, 0, -nargs - 2);
	rt->budget_armed = false; /* the main thread runs no callback */
	lbpf_runtime_unlock(rt);
	if (status == LUA_OK || lua_touserdata(L, -1) == &lbpf_exit_sentinel) {
		lua_settop(L, 0);
		return 0;
	}
	if (over_memory_limit(rt, L)) {
		fail_memory(rt);
		lua_settop(L, 0);
		return -ENOMEM;
	}
	set_error(rt, error_text(L, L));
	lua_settop(L, 0);
	return -EINVAL;
}

static void on_signal(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		lbpf_runtime_exit(arg, 0);
}


/* SIGINT and SIGTERM arrive through a signalfd in the loop. */
static int signals_begin(lbpf_runtime_t *rt)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* a shell starts background jobs with SIGINT ignored, and an ignored
	 * signal never reaches a signalfd */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (sigprocmask(SIG_BLOCK, &mask, &rt->oldmask) < 0)
		return -errno;
	rt->signalfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (rt->signalfd < 0)
		return -errno;
	return lbpf_loop_add(rt->loop, rt->signalfd, LBPF_READ, false, on_signal, rt);
}

/* After the loop a second Ctrl-C kills at once: BPF links are fds, the
 * kernel detaches them with the process. */
static void signals_end(lbpf_runtime_t *rt)
{
	if (rt->signalfd < 0)
		return;
	lbpf_loop_del(rt->loop, rt->signalfd);
	close(rt->signalfd);
	rt->signalfd = -1;
	sigprocmask(SIG_SETMASK, &rt->oldmask, NULL);
}

int lbpf_runtime_loop(lbpf_runtime_t *rt)
{
	int err;

	if (rt->opts.signals && (err = signals_begin(rt)) < 0)
		lbpf_log(rt, "signal handling: %s", strerror(-err));
	/* held while Lua runs; the loop's sleep hooks let it go while it waits */
	lbpf_runtime_lock(rt);
	while (!lbpf_runtime_stopping(rt)) {
		bool ready;

		lbpf_sched_run_ready(rt->sched);
		ready = lbpf_sched_has_ready(rt->sched);
		if (lbpf_runtime_stopping(rt) || (!ready && !lbpf_loop_alive(rt->loop)))
			break;
		err = lbpf_loop_run_once(rt->loop, ready ? 0 : -1);
		if (err < 0) {
			lbpf_log(rt, "event loop: %s", strerror(-err));
			rt->exit_code = 1;
			break;
		}
	}
	if (!lbpf_runtime_stopping(rt) && lbpf_sched_waiting(rt->sched))
		lbpf_log(rt, "exiting: %zu task(s) wait for a notify that nothing can send",
			 lbpf_sched_waiting(rt->sched));
	lbpf_runtime_unlock(rt);
	signals_end(rt);
	return rt->exit_code;
}

/* on_exit handlers live in a registry array; they run last-in first-out. */
static const char exit_key = 'x';

int lbpf_runtime_on_exit(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TFUNCTION);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &exit_key) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &exit_key);
	}
	lua_pushvalue(L, 1);
	lua_rawseti(L, -2, luaL_len(L, -2) + 1);
	return 0;
}

static void run_exit_handlers(lbpf_runtime_t *rt)
{
	lua_State *L = rt->L;
	lua_Integer i;

	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &exit_key) != LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	lbpf_loop_stop(rt->loop, false); /* let handlers use the API */
	for (i = luaL_len(L, -1); i > 0; i--) {
		lua_rawgeti(L, -1, i);
		lbpf_call(L, 0);
	}
	lua_pop(L, 1);
	lbpf_loop_stop(rt->loop, true);
}

int lbpf_runtime_atfree(lbpf_runtime_t *rt, lbpf_atfree_fn fn, void *arg)
{
	struct atfree *hook;

	for (hook = rt->atfree; hook; hook = hook->next)
		if (hook->fn == fn && hook->arg == arg)
			return 0;
	if (!(hook = malloc(sizeof(*hook))))
		return -ENOMEM;
	*hook = (struct atfree){ rt->atfree, fn, arg };
	rt->atfree = hook;
	return 0;
}

/* Runs and frees the at-free hooks, last registered first. */
static void run_atfree(lbpf_runtime_t *rt)
{
	while (rt->atfree) {
		struct atfree *hook = rt->atfree;

		rt->atfree = hook->next;
		hook->fn(rt, hook->arg);
		free(hook);
	}
}

int lbpf_runtime_free(lbpf_runtime_t *rt)
{
	int code;

	if (!rt)
		return 0;
	if (rt->L && rt->sched) {
		run_exit_handlers(rt);
		lbpf_releaseregistered(rt->L);
	}
	if (rt->loop)
		lbpf_loop_stop(rt->loop, true);
	/* before lua_close: cancelling tasks closes and unrefs their coroutines */
	lbpf_sched_free(rt->sched);
	rt->sched = NULL;
	rt->closing = true;
	if (rt->L) {
		lbpf_objects_closing(rt->L, true);
		lua_close(rt->L); /* releases every object this runtime holds */
	}
	signals_end(rt);
	run_atfree(rt);
	lbpf_loop_free(rt->loop);
	pthread_mutex_destroy(&rt->lock);
	free(rt->name);
	free(rt->error);
	code = rt->exit_code;
	free(rt);
	return code;
}

int lbpf_runtime_turn(lua_State *L)
{
	lbpf_runtime_t *rt = lbpf_toruntime(L);
	int n;

	lbpf_sched_run_ready(rt->sched);
	n = lbpf_loop_run_once(rt->loop, 0);
	if (n < 0)
		luaL_error(L, "event loop: %s", strerror(-n));
	return 0;
}
