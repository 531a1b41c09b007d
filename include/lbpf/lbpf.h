/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * lbpf public C API: runtimes, refcounted objects with classes, the event loop
 * and the one place where C calls into Lua.  It mirrors Lunatik's C API in
 * userspace.  A binding is one file, user/<part>/l<name>.c, that defines a
 * class and a luaL_Reg table and ends with LBPF_NEWLIB(name, funcs, classes);
 * the build compiles it with -DLBPF_LIBRARY=<name>, so that it registers
 * itself for the `lbpf` module (see the end of this header).
 *
 * Conventions of this header:
 *  - functions named lbpf_*_new/create return 0 or a negative errno, or a
 *    pointer (NULL with errno set), as each comment says;
 *  - functions that take a lua_State and say "raises" report failures as Lua
 *    errors and never return on failure;
 *  - free/put/stop functions accept NULL.
 */
#ifndef LBPF_LBPF_H
#define LBPF_LBPF_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include <lua.h>
#include <lauxlib.h>

#include <lbpf/output.h>

#define LBPF_VERSION "0.1.0"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

typedef struct lbpf_runtime lbpf_runtime_t;
typedef struct lbpf_loop lbpf_loop_t;

/* ------------------------------------------------------------------ */
/* Classes and objects                                                  */
/* ------------------------------------------------------------------ */

/* The object cannot be shared with another runtime (lbpf_cloneobject on a
 * foreign runtime raises). Tasks, timers and watchers are single. */
#define LBPF_OPT_SINGLE   0x1
/* Methods run under the object's mutex, so runtimes on different threads may
 * share it. */
#define LBPF_OPT_MONITOR  0x2
/* The private data is owned elsewhere: release() is called, free() is not. */
#define LBPF_OPT_EXTERNAL 0x4

/* The kernel's ids of the BPF program, map and link an object holds (0 for
 * none), as lbpfd's pinned objects map shows them. */
typedef struct lbpf_kernel_ids {
	uint32_t prog, map, link;
} lbpf_kernel_ids_t;

typedef struct lbpf_class {
	const char *name;          /* metatable name, e.g. "lbpf.timer" */
	const luaL_Reg *methods;   /* methods and metamethods; may be NULL */
	void (*release)(void *private); /* frees what private owns; may be NULL */
	unsigned opt;              /* LBPF_OPT_* */
	/* fills in the kernel ids of what it holds; may be NULL */
	void (*kernel_ids)(void *private, lbpf_kernel_ids_t *ids);
} lbpf_class_t;

typedef struct lbpf_object {
	atomic_int refs;
	atomic_bool released;
	const lbpf_class_t *class;
	void *private;
	lbpf_runtime_t *owner;     /* the runtime that created it, or NULL */
	pthread_mutex_t mutex;     /* used by LBPF_OPT_MONITOR */
} lbpf_object_t;

/* Creates an object with zeroed private data of `size` bytes (or `private`
 * itself when the class is EXTERNAL and size is 0) and one reference held by
 * the caller. Returns NULL with errno set. */
lbpf_object_t *lbpf_createobject(const lbpf_class_t *class, size_t size);

/* Like lbpf_createobject, and pushes a userdata that owns the reference.
 * Raises on allocation failure. */
lbpf_object_t *lbpf_newobject(lua_State *L, const lbpf_class_t *class, size_t size);

/* Pushes a new userdata for an existing object, taking a reference. Raises if
 * the object is released, or is SINGLE and owned by another runtime. */
void lbpf_cloneobject(lua_State *L, lbpf_object_t *object);

/* Takes and drops a reference. The last put runs the release (once) and frees
 * the object. lbpf_putobject(NULL) is a no-op. */
lbpf_object_t *lbpf_getobject(lbpf_object_t *object);
void lbpf_putobject(lbpf_object_t *object);

/* Runs the class release now, exactly once, however many references remain;
 * later method calls raise "object is closed". What Lua's obj:close() does. */
void lbpf_releaseobject(lbpf_object_t *object);

/* Returns the object of the userdata at ix. Raises if ix is not an lbpf
 * object of `class` (any class when NULL) or if it was closed. */
lbpf_object_t *lbpf_checkobject(lua_State *L, int ix, const lbpf_class_t *class);

/* Returns the object at ix, or NULL when ix is not a live lbpf object. */
lbpf_object_t *lbpf_testobject(lua_State *L, int ix);

/* Defines `static T *checker(lua_State *L, int ix)` returning the private data
 * of an object of `class`. LBPF_PRIVATECHECKER also raises when the private
 * data is gone (released by another holder). */
#define LBPF_OBJECTCHECKER(checker, T, class)                                  \
	static inline T *checker(lua_State *L, int ix)                         \
	{                                                                      \
		return (T *)lbpf_checkobject(L, ix, (class))->private;         \
	}
#define LBPF_PRIVATECHECKER(checker, T, class)                                 \
	static inline T *checker(lua_State *L, int ix)                         \
	{                                                                      \
		T *p = (T *)lbpf_checkobject(L, ix, (class))->private;         \
		luaL_argcheck(L, p != NULL, ix, "object is closed");           \
		return p;                                                      \
	}

/* Keeps the object at ix alive (and reachable from C by its address) while
 * it is attached: an armed timer, an attached probe. Unregister when it
 * detaches. Both are idempotent. */
void lbpf_registerobject(lua_State *L, int ix, lbpf_object_t *object);
void lbpf_unregisterobject(lua_State *L, lbpf_object_t *object);
/* Tells observers that what an attached object holds changed (its kernel
 * ids: a filter that adopted a pinned link). */
void lbpf_object_changed(lbpf_object_t *object);
/* The kernel id of a BPF program, map or link fd, or 0. */
uint32_t lbpf_bpf_id(int fd);
/* Pushes the registered userdata of object, or nil. */
int lbpf_pushregistered(lua_State *L, lbpf_object_t *object);

/* Makes sure the metatable of `class` exists in L (created on first use, in
 * any runtime) and pushes it. */
void lbpf_pushclass(lua_State *L, const lbpf_class_t *class);

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/* Raises "<ERRNO>: <context>: <strerror>", e.g.
 * "ENOENT: open /x: No such file or directory". err is -errno. */
int lbpf_throw(lua_State *L, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

/* Evaluates a call returning 0 / -errno and raises with the call's text as
 * context when it fails. */
#define lbpf_try(L, call)                                                      \
	do {                                                                   \
		int lbpf_try_err_ = (call);                                    \
		if (lbpf_try_err_ < 0)                                         \
			lbpf_throw((L), lbpf_try_err_, "%s", #call);           \
	} while (0)

/* "16M", "512K", "1G", "4096" -> bytes. 0 or -EINVAL. */
int lbpf_parse_size(const char *text, size_t *bytes);

/* Writes a message into (buf, len) and returns err: how plain C engines fail
 * with the message a user sees. */
int lbpf_errmsg(char *buf, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "ENOENT", "EPERM", ...; a number for unknown values. */
const char *lbpf_errname(int err);
/* strerror of -err or err, libbpf's own codes (4000 and up) included */
const char *lbpf_strerror(int err);

/* Logs one line "lbpf: <message>" to the runtime's log sink (stderr for
 * `lbpf run`, the policy log in the daemon): a LBPF_OUTPUT_LOG record.
 * rt may be NULL. */
void lbpf_log(lbpf_runtime_t *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands a record (<lbpf/output.h>) to the runtime's sink, opts.output; without
 * one prints it for people: on opts.log when set, else diagnostics (log,
 * error, lost, attached) on stderr and the rest on stdout. rt may be NULL. */
void lbpf_output(lbpf_runtime_t *rt, const struct lbpf_output *rec);
/* An error record made of an error's text ("file:line: message" and a
 * traceback) to the runtime's sink; what is NULL for the body. */
void lbpf_output_error(lbpf_runtime_t *rt, const char *what, const char *text);

/* ------------------------------------------------------------------ */
/* Runtimes                                                             */
/* ------------------------------------------------------------------ */

typedef struct lbpf_runtime_opts {
	const char *name;          /* shown in logs; defaults to the script */
	bool strict;               /* callback errors stop the runtime */
	bool signals;              /* SIGINT/SIGTERM stop the loop (foreground) */
	size_t memory_limit;       /* bytes, 0 = unlimited */
	int argc;                  /* script arguments, for the global `arg` */
	char **argv;
	/* arg[-1]: the path the interpreter was started with (lbpf's argv[0]),
	 * so a script can run it again; NULL leaves arg[-1] nil */
	const char *progname;
	/* where log lines go, as text; NULL = stderr. When set, print() and
	 * printed aggregations go there too. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
	/* where output records go (print(), log lines, errors, lost events,
	 * printed aggregations), in place of log; NULL = printed for people */
	lbpf_output_fn output;
	void *output_ctx;
	/* Lua instructions one resume of a callback (or the body) may run before
	 * it raises; 0 = no limit. Also lets lbpf_runtime_stop() interrupt a
	 * callback that spins. */
	uint64_t instruction_limit;
	/* callback errors in a row that stop the runtime with exit code 1;
	 * 0 = never */
	unsigned max_errors;
	/* a bpffs folder where bindings pin what must outlive the process
	 * (lbpfd's fail-static packet filters); NULL = pin nothing. Not
	 * inherited by child runtimes. */
	const char *pin_dir;
	/* lbpfd's pinned runtimes map (<lbpf/pin.h>) and this runtime's key in
	 * it: BPF objects loaded by the runtime push events only while the
	 * entry says running. 0 and 0 outside lbpfd. Children inherit both. */
	uint64_t id;
	int runtimes_fd;
	/* the runtime that started this one (lbpf.runtime), or NULL */
	lbpf_runtime_t *parent;
	/* where events the kernel side could not push (ring buffer full) are
	 * counted; NULL = a counter of the runtime's own. Children count into
	 * their parent's. */
	_Atomic uint64_t *lost_counter;
	/* the standard library without process, file, native-code and debug
	 * access, require limited to lbpf's lua/ folder (core/sandbox.c): an
	 * lbpfd policy that root did not load trusted. Children inherit it. */
	bool sandboxed;
} lbpf_runtime_opts_t;

/* Creates a runtime: a lua_State with the standard libraries, `lbpf`
 * preloaded and required as a global, and its own event loop. `script` is a
 * file name (NULL for an empty runtime; lbpf_runtime_dostring loads code).
 * The script is loaded (syntax-checked) but not run. Returns 0 or -errno;
 * on a script error returns -EINVAL and *rt is still set so that
 * lbpf_runtime_error() can report it. */
int lbpf_runtime_new(lbpf_runtime_t **rt, const char *script, const lbpf_runtime_opts_t *opts);

/* Loads inline code as the runtime's body (what `lbpf -e` does). 0 / -EINVAL. */
int lbpf_runtime_loadstring(lbpf_runtime_t *rt, const char *code, const char *chunkname);

/* Runs the loaded body once (set-up). 0, or -EINVAL when it raised (-ENOMEM
 * when it went over opts.memory_limit); the message with traceback is in
 * lbpf_runtime_error(). */
int lbpf_runtime_start(lbpf_runtime_t *rt);

/* Runs the event loop until exit(), a signal, stop, or nothing is left to wait
 * for. Returns the exit code. */
int lbpf_runtime_loop(lbpf_runtime_t *rt);

/* Asks the runtime to stop; safe from any thread and from signal context. */
void lbpf_runtime_stop(lbpf_runtime_t *rt);

/* Runs on_exit handlers, releases every object and frees the runtime.
 * Returns the exit code, which an on_exit handler may still change. */
int lbpf_runtime_free(lbpf_runtime_t *rt);

/* The last error message (with traceback), or NULL. */
const char *lbpf_runtime_error(lbpf_runtime_t *rt);

/* The runtime of L (NULL for a state that is no runtime's): its allocator's
 * user data, so a pointer read that any part may do without the runtime. */
static inline lbpf_runtime_t *lbpf_toruntime(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}
lbpf_loop_t *lbpf_runtime_getloop(lbpf_runtime_t *rt);
lua_State *lbpf_runtime_state(lbpf_runtime_t *rt);
void lbpf_runtime_lock(lbpf_runtime_t *rt);
void lbpf_runtime_unlock(lbpf_runtime_t *rt);
/* Bytes of Lua memory in use. */
size_t lbpf_runtime_memory(lbpf_runtime_t *rt);
/* Counters of callback errors since start. */
uint64_t lbpf_runtime_errors(lbpf_runtime_t *rt);
/* Callbacks dispatched (lbpf_call) since start. */
uint64_t lbpf_runtime_calls(lbpf_runtime_t *rt);
/* opts.pin_dir, or NULL. */
const char *lbpf_runtime_pin_dir(lbpf_runtime_t *rt);
/* The next index of a folder in pin_dir (0, 1, ...; any thread). A binding
 * marks an index held once what it pins there is attached; an index that
 * was never handed out, or whose attach failed, is not held, and lbpfd
 * removes such folders an earlier runtime of the policy left. */
unsigned lbpf_runtime_pin_next(lbpf_runtime_t *rt);
void lbpf_runtime_pin_hold(lbpf_runtime_t *rt, unsigned n);
bool lbpf_runtime_pin_held(lbpf_runtime_t *rt, unsigned n);
/* The embedder took the runtime's body as a success (lbpfd: the load was
 * answered ok). What a binding keeps waiting for the first turn after the
 * body (a filter's pin) it then completes even if the runtime is stopped
 * before that turn. */
void lbpf_runtime_accept(lbpf_runtime_t *rt);
bool lbpf_runtime_accepted(lbpf_runtime_t *rt);
/* Events the kernel side could not push (ring buffer full), as the bindings
 * count them into opts.lost_counter. */
uint64_t lbpf_runtime_lost(lbpf_runtime_t *rt);
void lbpf_runtime_count_lost(lbpf_runtime_t *rt, uint64_t n);
/* The top-level runtime rt belongs to (rt itself when it has no parent). */
lbpf_runtime_t *lbpf_runtime_root(lbpf_runtime_t *rt);
/* Gives a BPF object the runtime's gate before load: its rodata
 * lbpf_runtime_id (at *rodata_id) and its lbpf_runtimes map, which becomes
 * lbpfd's pinned map (see bpf/record.bpf.h). 0 or -errno. */
struct bpf_map;
int lbpf_runtime_gate(lbpf_runtime_t *rt, struct bpf_map *runtimes, uint64_t *rodata_id);
/* The exit code so far (1 after a fatal error, a limit, or --strict). */
int lbpf_runtime_exit_code(lbpf_runtime_t *rt);
/* Sets the exit code and stops the loop after the current callback. */
void lbpf_runtime_exit(lbpf_runtime_t *rt, int code);
bool lbpf_runtime_stopping(lbpf_runtime_t *rt);
/* opts.sandboxed: what a binding must refuse (files the script names). */
bool lbpf_runtime_sandboxed(lbpf_runtime_t *rt);
/* True while lua_close runs: releases must not touch the registry then. */
bool lbpf_runtime_closing(lbpf_runtime_t *rt);

/* Locks the runtime, calls handler(L, ...), restores the stack and unlocks:
 * the way foreign threads and C holders touch a runtime. */
#define lbpf_run(rt, handler, ret, ...)                                        \
	do {                                                                   \
		lua_State *lbpf_run_L_;                                        \
		int lbpf_run_top_;                                             \
		lbpf_runtime_lock(rt);                                         \
		lbpf_run_L_ = lbpf_runtime_state(rt);                          \
		lbpf_run_top_ = lua_gettop(lbpf_run_L_);                       \
		ret = handler(lbpf_run_L_, ##__VA_ARGS__);                     \
		lua_settop(lbpf_run_L_, lbpf_run_top_);                        \
		lbpf_runtime_unlock(rt);                                       \
	} while (0)

/* ------------------------------------------------------------------ */
/* Calling into Lua: tasks                                              */
/* ------------------------------------------------------------------ */

/* The one place C calls into Lua. Pops a function and nargs arguments from
 * L and runs them as a task (a coroutine that may sleep or wait). Errors are
 * reported with a traceback through the runtime's log; the task dies and the
 * runtime goes on, unless strict. Returns 0 if the call finished or
 * suspended, -1 if it raised. */
int lbpf_call(lua_State *L, int nargs);

/* lbpf_call for a function called once per event (a probe's or a filter's
 * callback): the same task semantics, but the coroutine stays parked
 * between calls, so a call that returns costs one resume and no new task.
 * *cb starts NULL and is filled in on the first call; free it with
 * lbpf_callback_free when the callback goes (safe from inside it). */
typedef struct lbpf_callback lbpf_callback_t;
int lbpf_callback_call(lua_State *L, lbpf_callback_t **cb, int nargs);
void lbpf_callback_free(lbpf_callback_t *cb);

/* Pushes the function referenced by `ref` in the registry (a LUA_NOREF-safe
 * helper for bindings that store callbacks). */
void lbpf_pushref(lua_State *L, int ref);

/* ------------------------------------------------------------------ */
/* The event loop                                                       */
/* ------------------------------------------------------------------ */

#define LBPF_READ  0x1
#define LBPF_WRITE 0x2
#define LBPF_HUP   0x4
#define LBPF_ERROR 0x8

typedef void (*lbpf_fd_fn)(lbpf_loop_t *loop, int fd, int events, void *arg);

/* Watches fd for LBPF_READ and/or LBPF_WRITE. `keepalive` handlers keep the
 * loop running; others (internal fds) do not. 0 or -errno. */
int lbpf_loop_add(lbpf_loop_t *loop, int fd, int events, bool keepalive, lbpf_fd_fn fn, void *arg);
int lbpf_loop_del(lbpf_loop_t *loop, int fd);

typedef struct lbpf_timer_node lbpf_timer_node_t;
typedef void (*lbpf_timer_fn)(lbpf_loop_t *loop, lbpf_timer_node_t *node);
struct lbpf_timer_node {
	uint64_t deadline;         /* CLOCK_MONOTONIC ns */
	size_t index;              /* heap slot; 0 = not armed */
	lbpf_timer_fn fn;
	bool weak;                 /* does not keep the loop running */
};

/* Arms node to fire at the absolute monotonic time `deadline` (ns). Re-arming
 * an armed node moves it. 0 or -ENOMEM. */
int lbpf_loop_timer_at(lbpf_loop_t *loop, lbpf_timer_node_t *node, uint64_t deadline);
void lbpf_loop_timer_cancel(lbpf_loop_t *loop, lbpf_timer_node_t *node);
static inline bool lbpf_timer_armed(const lbpf_timer_node_t *node)
{
	return node->index != 0;
}

/* Holds the loop open without an fd or timer (e.g. an aggregating probe).
 * Counted; each hold needs one unhold. */
void lbpf_loop_hold(lbpf_loop_t *loop, int delta);

/* Monotonic and realtime clocks. */
uint64_t lbpf_now(void);
double lbpf_time(void);

/* The runtime of a loop (each runtime has exactly one loop; the runtime
 * answers, from the loop's user pointer). */
lbpf_runtime_t *lbpf_loop_runtime(lbpf_loop_t *loop);

/* ------------------------------------------------------------------ */
/* The runtime's ring buffer                                            */
/* ------------------------------------------------------------------ */

/* Every runtime has one BPF ring buffer, shared by all its BPF programs, so
 * events of all probes reach Lua in the order they were produced on each CPU.
 * Each record starts with struct lbpf_record (include/lbpf/record.h) whose
 * `source` routes it to a subscriber. Userspace drains on an adaptive timer
 * and on watermark wake-ups (bpf/record.bpf.h decides when BPF wakes it). */
typedef void (*lbpf_record_fn)(void *ctx, const void *data, size_t size);

/* Routes records whose source is the returned id (> 0) to fn; creates the
 * ring buffer and its consumer on first use. -errno on failure. */
int lbpf_ringbuf_subscribe(lbpf_runtime_t *rt, lbpf_record_fn fn, void *ctx);
void lbpf_ringbuf_unsubscribe(lbpf_runtime_t *rt, int id);
/* Drains another BPF ring buffer map (a user's object's, whose records have
 * no struct lbpf_record header) with the runtime's ring: the same timer and
 * loop, each record whole to fn. The map stays the caller's (it must outlive
 * the subscription). Returns an id for lbpf_ringbuf_unsubscribe, or -errno. */
int lbpf_ringbuf_add(lbpf_runtime_t *rt, int map_fd, lbpf_record_fn fn, void *ctx);
/* The ring buffer map's fd, for bpf_map__reuse_fd() before a load, or -errno. */
int lbpf_ringbuf_fd(lbpf_runtime_t *rt);
/* Sets the size (a power of two >= page size) before the first subscribe. */
int lbpf_ringbuf_set_size(lbpf_runtime_t *rt, size_t bytes);
/* Consumes everything pending now. Returns records consumed or -errno. */
int lbpf_ringbuf_drain(lbpf_runtime_t *rt);

/* What libbpf warned about on this thread since the last clear (e.g. a
 * verifier log), for error messages; "" when nothing. */
const char *lbpf_libbpf_log(void);
/* Its last n lines (where a verifier states its reason). */
const char *lbpf_libbpf_log_tail(int n);
void lbpf_libbpf_log_clear(void);

/* ------------------------------------------------------------------ */
/* Bindings                                                             */
/* ------------------------------------------------------------------ */

typedef struct lbpf_lib {
	const char *name;
	lua_CFunction open;
	struct lbpf_lib *next;     /* the registry's list, sorted by name */
} lbpf_lib_t;

/* Adds lib to the libraries the `lbpf` module merges, kept sorted by name so
 * that lbpf merges the same way every run. Called before main, from the
 * constructor LBPF_REGISTER emits (Linux's initcalls, in userspace). */
void lbpf_register_library(lbpf_lib_t *lib);

/* Registers luaopen_lbpf_<lib> (defined in the same file) as the library
 * lbpf.<lib>. An object reached only through its constructor is not taken
 * from a static archive: the build links such objects directly. */
#define LBPF_REGISTER(lib) LBPF_REGISTER_(lib)
#define LBPF_REGISTER_(lib)                                                    \
	int luaopen_lbpf_##lib(lua_State *L);                                  \
	static lbpf_lib_t lbpf_library_##lib = { .name = #lib, .open = luaopen_lbpf_##lib }; \
	__attribute__((constructor)) static void lbpf_register_##lib(void)     \
	{                                                                      \
		lbpf_register_library(&lbpf_library_##lib);                    \
	}

/* Defines luaopen_lbpf_<name>: ensures each class's metatable, then returns
 * a table of funcs. Once registered (LBPF_REGISTER), the lbpf module merges
 * it into `lbpf` and sets it as package.loaded["lbpf.<name>"]. `classes` is
 * a NULL-terminated array of class pointers or NULL. */
#define LBPF_NEWLIB(name, funcs, classes)                                      \
	int luaopen_lbpf_##name(lua_State *L);                                 \
	int luaopen_lbpf_##name(lua_State *L)                                  \
	{                                                                      \
		const lbpf_class_t *const *lbpf_c_ = (classes);                \
		for (; lbpf_c_ && *lbpf_c_; lbpf_c_++) {                       \
			lbpf_pushclass(L, *lbpf_c_);                           \
			lua_pop(L, 1);                                         \
		}                                                              \
		luaL_newlib(L, funcs);                                         \
		return 1;                                                      \
	}

/* A binding of the tree, user/<part>/l<name>.c, is compiled with
 * -DLBPF_LIBRARY=<name> (as Linux's KBUILD_MODNAME): including this header
 * registers it, however it defines its luaopen_lbpf_<name>. */
#ifdef LBPF_LIBRARY
LBPF_REGISTER(LBPF_LIBRARY)
#endif

#endif /* LBPF_LBPF_H */
