/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* Core-internal interfaces: shared by the runtime, loop, scheduler and CLI,
 * not by bindings (they use include/lbpf/lbpf.h only). */
#ifndef LBPF_INTERNAL_H
#define LBPF_INTERNAL_H

#include <lbpf/lbpf.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* object.c: releases every registered (attached) object, while the Lua
 * state still works: what exit does before lua_close. */
void lbpf_releaseregistered(lua_State *L);
/* An optional observer of object lifetimes (the daemon mirrors them in a
 * pinned map): called, from the thread that does it, when an object is
 * registered (attached) and when it is released. NULL by default. */
enum lbpf_object_event { LBPF_OBJECT_ATTACHED, LBPF_OBJECT_RELEASED };
extern void (*lbpf_object_observer)(lbpf_object_t *object, enum lbpf_object_event event);

/* eventloop.c */
lbpf_loop_t *lbpf_loop_new(lbpf_runtime_t *rt);
void lbpf_loop_free(lbpf_loop_t *loop);
/* Waits up to timeout_ms (-1 forever, 0 poll) and dispatches what is due.
 * Call it with the loop's runtime locked: it unlocks only while it waits.
 * Returns the number of fd events and timers dispatched, or -errno. */
int lbpf_loop_run_once(lbpf_loop_t *loop, int timeout_ms);
/* True while keepalive fds, holds or armed timers remain. */
bool lbpf_loop_alive(lbpf_loop_t *loop);
int lbpf_loop_fd(lbpf_loop_t *loop);
/* Wakes a loop blocked in run_once; safe from any thread. */
void lbpf_loop_wake(lbpf_loop_t *loop);

/* task.c: the scheduler */
struct lbpf_sched;
struct lbpf_sched *lbpf_sched_new(lbpf_runtime_t *rt);
/* Cancels every task (closing their to-be-closed variables) and frees. */
void lbpf_sched_free(struct lbpf_sched *sched);
/* Resumes the tasks that were ready when called. Returns how many ran. */
int lbpf_sched_run_ready(struct lbpf_sched *sched);
bool lbpf_sched_has_ready(struct lbpf_sched *sched);
size_t lbpf_sched_waiting(struct lbpf_sched *sched);
int luaopen_lbpf_task(lua_State *L);
/* The sentinel error value that lbpf.exit() raises to unwind. */
extern char lbpf_exit_sentinel;

/* runtime.c */
struct lbpf_sched *lbpf_runtime_sched(lbpf_runtime_t *rt);
bool lbpf_runtime_strict(lbpf_runtime_t *rt);
void lbpf_runtime_count_error(lbpf_runtime_t *rt);
/* The options rt was made with (a child runtime inherits its limits and log). */
const lbpf_runtime_opts_t *lbpf_runtime_options(lbpf_runtime_t *rt);
/* Around every resume of a task (task.c): arms the instruction limit on co,
 * and counts a resume that returned or yielded (ending a run of errors). */
void lbpf_runtime_arm_limit(lbpf_runtime_t *rt, lua_State *co);
void lbpf_runtime_resumed_ok(lbpf_runtime_t *rt);
void lbpf_runtime_count_call(lbpf_runtime_t *rt);
/* Reports a Lua error value at the top of co (with a traceback of co). */
void lbpf_runtime_report(lbpf_runtime_t *rt, lua_State *co, const char *what);
/* One non-blocking turn of the runtime's scheduler and loop, as a
 * lua_CFunction for a protected call: a Lua error raised outside any task
 * (out of memory while dispatching) lands in that pcall, not in a panic.
 * What lbpfd's workers and a parent of lbpf.runtime children run. */
int lbpf_runtime_turn(lua_State *L);
/* lbpf.on_exit(fn): the Lua function, kept by the runtime. */
int lbpf_runtime_on_exit(lua_State *L);

/* ringbuf.c: the runtime's ring buffer lives in a slot of the runtime */
struct lbpf_ringbuf;
struct lbpf_ringbuf **lbpf_runtime_ringbuf_slot(lbpf_runtime_t *rt);
void lbpf_ringbuf_free(lbpf_runtime_t *rt);

/* module.c */
int luaopen_lbpf(lua_State *L);
extern const lbpf_lib_t lbpf_bindings[];

/* util.c */
/* Mounts tracefs and bpffs where they are absent. 0 or -errno (logged). */
int lbpf_mount_filesystems(void);
/* Returns NULL when every capability lbpf needs is present, else the name of
 * the first missing one ("root" when not uid 0 without the capabilities). */
const char *lbpf_missing_capability(void);
/* Routes libbpf's warnings through lbpf's log, drops its debug output. */
void lbpf_libbpf_logging(void);

#endif /* LBPF_INTERNAL_H */
