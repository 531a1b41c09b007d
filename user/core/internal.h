/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* Core-internal interfaces: shared by the core's files and the faces (CLI,
 * daemon), not by bindings (they use include/lbpf/lbpf.h only).
 *
 * The core's files call one way, lowest first: util.c, output.c and
 * registry.c call no other; eventloop.c knows no runtime; object.c and task.c (the scheduler)
 * build on the loop; runtime.c drives them all; above it module.c (the `lbpf`
 * module), ringbuf.c and the bindings. A lower file reports up by what its
 * user registered with it (loop hooks, the scheduler's ops, at-free hooks,
 * the library registry), never by calling up. */
#ifndef LBPF_INTERNAL_H
#define LBPF_INTERNAL_H

#include <lbpf/lbpf.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* output.c: records for people */
/* Whether rec is a diagnostic (stderr) rather than output (stdout). */
bool lbpf_output_diagnostic(const struct lbpf_output *rec);
/* The text lbpf prints for rec, without a last newline (malloc'd; "" for a
 * record people do not see), or NULL with errno. */
char *lbpf_output_text(const struct lbpf_output *rec);
/* Fills rec as the error `text` (what: as lbpf_output_error). Returns the
 * copy rec points into, to free after use (NULL when out of memory: then
 * rec holds the text alone). */
char *lbpf_output_error_parse(struct lbpf_output *rec, const char *what, const char *text);

/* registry.c: the registry that constructors fill before main */
/* Adds a top-level module that every runtime preloads (module.c's "lbpf"). */
void lbpf_register_module(lbpf_lib_t *lib);
/* The registered modules and libraries, each list sorted by name. */
const lbpf_lib_t *lbpf_modules(void);
const lbpf_lib_t *lbpf_libraries(void);

/* object.c: releases every registered (attached) object, while the Lua
 * state still works: what exit does before lua_close. */
void lbpf_releaseregistered(lua_State *L);
/* Marks whether L is closing: true just before lua_close, after which
 * lbpf_newobject raises, since lua_close does not finalize what is created
 * while it runs. Call it with false when the state is made: the later true
 * then overwrites the key and allocates nothing, at a memory limit too. */
void lbpf_objects_closing(lua_State *L, bool closing);
/* An optional observer of object lifetimes (the daemon mirrors them in a
 * pinned map): called, from the thread that does it, when an object is
 * registered (attached) and when it is released. NULL by default. */
enum lbpf_object_event { LBPF_OBJECT_ATTACHED, LBPF_OBJECT_RELEASED };
extern void (*lbpf_object_observer)(lbpf_object_t *object, enum lbpf_object_event event);

/* eventloop.c: user is an opaque pointer the loop hands back (a runtime's
 * loop holds the runtime); NULL for a bare loop. */
lbpf_loop_t *lbpf_loop_new(void *user);
void lbpf_loop_free(lbpf_loop_t *loop);
void *lbpf_loop_user(lbpf_loop_t *loop);
/* Hooks run just before and just after each wait of run_once, as ae.c's
 * aeSetBeforeSleepProc: a runtime releases and retakes its lock there. */
typedef void (*lbpf_sleep_fn)(lbpf_loop_t *loop);
void lbpf_loop_set_sleep_hooks(lbpf_loop_t *loop, lbpf_sleep_fn before, lbpf_sleep_fn after);
/* Waits up to timeout_ms (-1 forever, 0 poll) and dispatches what is due,
 * until the stop flag is raised. Returns the number of fd events and timers
 * dispatched, or -errno. */
int lbpf_loop_run_once(lbpf_loop_t *loop, int timeout_ms);
/* Raises (and wakes the loop) or clears the stop flag; safe from any thread
 * and from a signal handler. A stopping loop dispatches nothing more. */
void lbpf_loop_stop(lbpf_loop_t *loop, bool stop);
bool lbpf_loop_stopping(lbpf_loop_t *loop);
/* True while keepalive fds, holds or armed timers remain. */
bool lbpf_loop_alive(lbpf_loop_t *loop);
int lbpf_loop_fd(lbpf_loop_t *loop);
/* Wakes a loop blocked in run_once; safe from any thread. */
void lbpf_loop_wake(lbpf_loop_t *loop);

/* task.c: the scheduler. It reports up through the ops its runtime gives it;
 * rt is handed back to them and never read by the scheduler. */
struct lbpf_sched;
struct lbpf_sched_ops {
	/* before each resume of co: arm the instruction limit */
	void (*resuming)(lbpf_runtime_t *rt, lua_State *co);
	/* after a resume that returned or yielded (ends a run of errors) */
	void (*resumed_ok)(lbpf_runtime_t *rt);
	/* a task raised: the error value is at the top of co */
	void (*failed)(lbpf_runtime_t *rt, lua_State *co, const char *what);
	/* lbpf_call dispatched a callback */
	void (*called)(lbpf_runtime_t *rt);
	/* one line for the runtime's log */
	void (*log)(lbpf_runtime_t *rt, const char *line);
};
/* A scheduler of tasks on L's coroutines and loop's timers; ops must outlive
 * it. NULL with errno set. */
struct lbpf_sched *lbpf_sched_new(lua_State *L, lbpf_loop_t *loop,
				  const struct lbpf_sched_ops *ops, lbpf_runtime_t *rt);
/* Cancels every task (closing their to-be-closed variables) and frees. Call
 * it before lua_close. */
void lbpf_sched_free(struct lbpf_sched *sched);
/* lbpf_call on the scheduler sched (NULL: pops and returns -1). */
int lbpf_sched_call(struct lbpf_sched *sched, lua_State *L, int nargs);
/* lbpf_callback_call on the scheduler sched. */
int lbpf_sched_callback(struct lbpf_sched *sched, struct lbpf_callback **cb, lua_State *L, int nargs);
/* Resumes the tasks that were ready when called. Returns how many ran. */
int lbpf_sched_run_ready(struct lbpf_sched *sched);
bool lbpf_sched_has_ready(struct lbpf_sched *sched);
size_t lbpf_sched_waiting(struct lbpf_sched *sched);
int luaopen_lbpf_task(lua_State *L);
/* The sentinel error value that lbpf.exit() raises to unwind. */
extern char lbpf_exit_sentinel;

/* hook.c: the one hook slot of each thread, shared by lbpf's count check
 * and the script's debug.sethook. fn runs every `count` instructions (0: no
 * check of lbpf's) with the number of instructions since the last call; it
 * may raise. Installs it on L (threads made later inherit it) and replaces
 * debug.sethook/gethook with versions that chain the script's hook. */
typedef void (*lbpf_count_hook)(lua_State *L, int instructions);
struct lbpf_hooks;
/* Returns the hooks of L, which live as long as L (kept in its registry). */
struct lbpf_hooks *lbpf_hooks_open(lua_State *L, lbpf_count_hook fn, int count);
/* Puts the merged hook h of co's state back on co (after something cleared
 * it); cheap when it is there already. */
void lbpf_hooks_install(struct lbpf_hooks *h, lua_State *co);
/* Drops the script's hook of co (a pooled coroutine going back to the
 * pool) and puts lbpf's alone back. */
void lbpf_hooks_forget(lua_State *co);

/* runtime.c */
struct lbpf_sched *lbpf_runtime_sched(lbpf_runtime_t *rt);
bool lbpf_runtime_strict(lbpf_runtime_t *rt);
void lbpf_runtime_count_error(lbpf_runtime_t *rt);
/* The options rt was made with (a child runtime inherits its limits and log). */
const lbpf_runtime_opts_t *lbpf_runtime_options(lbpf_runtime_t *rt);
/* Arms the instruction limit on co before a resume (the scheduler's
 * `resuming`; lbpf.runtime children use it too). */
void lbpf_runtime_arm_limit(lbpf_runtime_t *rt, lua_State *co);
/* One non-blocking turn of the runtime's scheduler and loop, as a
 * lua_CFunction for a protected call: a Lua error raised outside any task
 * (out of memory while dispatching) lands in that pcall, not in a panic.
 * What lbpfd's workers and a parent of lbpf.runtime children run. */
int lbpf_runtime_turn(lua_State *L);
/* lbpf.on_exit(fn): the Lua function, kept by the runtime. */
int lbpf_runtime_on_exit(lua_State *L);
/* Runs fn(rt, arg) when rt is freed, after its Lua state is closed and
 * before its loop is, last registered first: how a part above the runtime
 * (the ring buffer) frees what it keeps per runtime. Registering the same
 * fn and arg again does nothing. 0 or -ENOMEM. */
typedef void (*lbpf_atfree_fn)(lbpf_runtime_t *rt, void *arg);
int lbpf_runtime_atfree(lbpf_runtime_t *rt, lbpf_atfree_fn fn, void *arg);

/* ringbuf.c: the runtime's ring buffer lives in a slot of the runtime, and
 * is freed by the at-free hook it registers when it is made */
struct lbpf_ringbuf;
struct lbpf_ringbuf **lbpf_runtime_ringbuf_slot(lbpf_runtime_t *rt);
void lbpf_ringbuf_free(lbpf_runtime_t *rt);

/* module.c */
int luaopen_lbpf(lua_State *L);

/* sandbox.c: takes from L (its `lbpf` loaded) what a sandboxed runtime
 * may not have; require then reads only luadir, lbpf's lua/ folder. 0. */
int lbpf_sandbox(lua_State *L, const char *luadir);

/* util.c */
/* Mounts tracefs and bpffs where they are absent. 0 or -errno (logged). */
int lbpf_mount_filesystems(void);
/* Returns NULL when every capability lbpf needs is present, else the name of
 * the first missing one ("root" when not uid 0 without the capabilities). */
const char *lbpf_missing_capability(void);
/* Routes libbpf's warnings through lbpf's log, drops its debug output. */
void lbpf_libbpf_logging(void);
struct bpf_object;
/* LBPF_DEBUG=3: the verifier's statistics of each of obj's programs (the
 * instructions it processed, its states) are printed as they load. */
void lbpf_verifier_stats(struct bpf_object *obj);

#endif /* LBPF_INTERNAL_H */
