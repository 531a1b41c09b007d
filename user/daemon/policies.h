/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The policy part: what a user loaded (a policy) and the runtimes that run
 * it (its runners). Threads:
 *  - the main thread owns the policy table; it alone creates and frees
 *    policies and runners (life.c);
 *  - a load thread per load/reload/restore creates a runtime and runs its
 *    body, then posts MSG_LOADED (loads.c);
 *  - the workers watch the runtimes' loops in their own epoll set, run
 *    their turns and post MSG_ENDED when one ends (runners.c); the main
 *    thread never waits for a runtime, nor a runtime for the main thread. A
 *    runner is in at most one place at a time: a worker, the job queue, or
 *    the workers' epoll set (EPOLLONESHOT), so no two threads ever run it
 *    at once.
 * The runner lock (runners.c) guards the runner list, the job queue and the
 * fields the comments mark; it is never held while a runtime is locked.
 * Files, lowest first: policies.c and runners.c, then loads.c, then life.c.
 */
#ifndef LBPFD_POLICIES_H
#define LBPFD_POLICIES_H

#include <pthread.h>
#include <stdatomic.h>

#include "lbpfd.h"
#include "core/internal.h"
#include "mailbox.h"

/* A line of a policy's log, and the JSON line (bpftrace's shape, with the
 * policy's name and the time) of the record it starts, if it starts one. */
struct log_entry {
	char *line;                /* NULL: a record people do not see */
	char *json;
};

struct log_ring {
	pthread_mutex_t lock;
	struct log_entry lines[LBPF_DAEMON_LOG_LINES];
	uint64_t seq;              /* lines ever added; line i is at i % N */
	uint64_t cut;              /* lines cut at LBPF_DAEMON_LOG_LINE_MAX */
};

struct policy {
	struct policy *next;
	char name[LBPF_DAEMON_NAME_MAX];
	char *file;                /* the script, as the client named it */
	char *code;                /* what the current runtime runs (and is saved) */
	/* --policy-dir: the bytes of NAME.lua last tried (NULL: a policy that
	 * lbpf load brought), and the scan's marks */
	char *dir_code;
	bool dir_seen, dir_clash;
	char *load_error;          /* why the last load or reload failed, or NULL */
	uint64_t load_failures;    /* loads and reloads that failed */
	bool trusted;              /* root loaded it with the full library */
	char **args;
	int nargs;
	size_t memory;
	uint64_t instructions;     /* its instruction limit; 0 = lbpfd's --instructions */
	uint32_t generation;
	enum lbpf_runtime_state state;
	char *reason;              /* why it failed or stopped */
	struct runner *current;    /* NULL while loading, after it ended */
	int runners;               /* runners alive (current and retiring) */
	bool busy;                 /* a load or reload is under way */
	bool unloading;
	uint64_t unload_conn;      /* the client waiting for the unload */
	uint64_t started_ns;
	uint64_t pinned_id;        /* the runner whose entry stays pinned */
	char *pin_dir;             /* BPFFS/filters/NAME: its runtimes' pinned filters */
	/* the last numbers of the current runtime, kept when it ends (runner lock) */
	uint64_t events, errors;
	_Atomic uint64_t lost;     /* events its runtimes could not push, ever */
	atomic_int followers;      /* clients following the log */
	struct log_ring log;
};

struct runner {
	struct runner *next;       /* the runner list */
	struct runner *next_job;   /* the job queue */
	uint64_t id;
	struct policy *policy;
	lbpf_runtime_t *rt;        /* NULL once freed (runner lock) */
	int loop_fd;
	bool in_epoll;             /* touched only by the thread running it */
	char *fail_reason;         /* set by the worker when a turn broke */
	char *kinds;               /* kinds of attached objects, "a,b" (runner lock) */
};

enum load_kind { LOAD_NEW, LOAD_RELOAD, LOAD_RESTORE };

struct load_job {
	enum load_kind kind;
	struct policy *policy;
	struct runner *runner;     /* made by the main thread, filled by the load */
	uint64_t conn;             /* the client that waits for the reply; 0 = nobody */
	char *file;                /* the script's name (reload may change it) */
	char *code;                /* its code, from the client or the state copy */
	lbpf_runtime_t *rt;        /* the result */
	char *error;
	bool running;              /* the body left something to wait for */
};

/* ---- policies.c: the policy table and the policies' logs ---- */

/* [A-Za-z0-9_.-], 1 to 63 characters, not starting with '.' */
bool policy_name_valid(const char *name);
/* A policy in no table yet; NULL (errno) on failure. */
struct policy *policy_new(const char *name, const char *file, char **args, int nargs,
			  size_t memory);
void policy_free(struct policy *p);
struct policy *policy_find(const char *name);
/* The table, newest first, linked by next. */
struct policy *policies_first(void);
void policy_link(struct policy *p);
/* Takes p out of the table and frees it. */
void policy_drop(struct policy *p);
/* The runtimes' output sink (lbpf_runtime_opts_t.output); ctx is the
 * policy. Keeps each record's lines for people and its JSON line. */
void policy_output(void *ctx, const struct lbpf_output *rec);
/* One of lbpfd's own lines about p ("lbpf: ..."), as a log record. */
void policy_log(struct policy *p, const char *line);
/* Lines ever logged, and of those how many were cut to
 * LBPF_DAEMON_LOG_LINE_MAX bytes. (Lines beyond the last
 * LBPF_DAEMON_LOG_LINES are dropped: lines - LBPF_DAEMON_LOG_LINES.) */
void policy_log_counts(struct policy *p, uint64_t *lines, uint64_t *cut);
/* Calls fn for each kept line from seq `from` on (json: each JSON line of a
 * kept record instead); returns the next seq. */
uint64_t policy_log_lines(struct policy *p, uint64_t from, bool json,
			  void (*fn)(void *ctx, const char *line), void *ctx);

/* ---- runners.c: runners, the job queue and the workers ---- */

/* Starts n workers at nice value nice (a worker that cannot take it says so
 * once and runs at its inherited one); runners wait in the workers' own
 * epoll set. */
int workers_start(int n, int nice);
void workers_stop(void);
/* A runner for a load: listed (so its objects are mirrored) before its
 * runtime exists; runner_start hands it to the workers once the body ran. */
struct runner *runner_new(struct policy *p);
void runner_set_runtime(struct runner *r, lbpf_runtime_t *rt);
void runner_start(struct runner *r);
/* Asks the runner to stop; a worker frees its runtime and posts MSG_ENDED. */
void runner_retire(struct runner *r);
void runner_free(struct runner *r);
/* Sets the runner's entry in the pinned runtimes map. */
void runner_pin(struct runner *r, enum lbpf_runtime_state state);
/* The kinds of objects r attached, "a,b" (malloc'd), or NULL. */
char *runner_kinds(struct runner *r);
/* Whether r's runtime holds its policy's pinned filter folder n (or cannot say). */
bool runner_pin_held(struct runner *r, unsigned long n);
/* pins.c's owner callback: notes kind on the runner of rt, returns its id. */
uint64_t runner_note_object(lbpf_runtime_t *rt, const char *kind);
/* Whether root is the runtime of its policy's current runner; its name
 * into name. */
bool runner_current_name(lbpf_runtime_t *root, char *name, size_t size);
/* The numbers of p's current runtime, or the last ones kept. */
void policy_numbers(struct policy *p, uint64_t *events, uint64_t *errors, size_t *memory);

/* ---- loads.c: a thread per load ---- */

/* The limits every runtime gets. */
void load_limits(uint64_t instruction_limit, unsigned max_errors);
/* Runs the job in a thread, which posts MSG_LOADED. 0 or -errno (logged). */
int load_start(struct load_job *job);
void load_job_free(struct load_job *job);

/* ---- life.c: a policy's life, on the main thread ---- */

/* Starts a load of p in a thread (p is busy until MSG_LOADED); conn is who
 * waits for the reply; code is copied. 0, or -EAGAIN/-ENOMEM (nothing
 * started). */
int policy_load(struct policy *p, enum load_kind kind, uint64_t conn, const char *file,
		const char *code);
/* MSG_LOADED. A body that ran becomes p's current runner (a reload's old
 * one retires) and p is saved: 0. Else the load is undone and -1 returned:
 * a reload keeps its old runner, a restore leaves p failed, a new load
 * leaves p for the caller to drop. */
int policy_loaded(struct load_job *job);
/* MSG_ENDED. Returns the runner's policy when it was being unloaded and
 * nothing of it runs any more (the caller finishes the unload), else NULL. */
struct policy *policy_ended(struct message *msg);
/* Forgets p's saved state and stops its current runner; conn waits for the
 * reply. Returns whether nothing of p runs any more. */
bool policy_unload(struct policy *p, uint64_t conn);
/* The last of an unload: p's pinned entry and filters go. */
void policy_unloaded(struct policy *p);
/* Loads again the policies of the state folder. */
void policies_restore(void);
/* SIGTERM: every runner stops (its on_exit handlers run); the state folder
 * keeps the policies for the next start. */
void policies_stop(void);
bool policies_stopping(void);
/* Whether a stop is done: nothing runs or loads, or 10 s passed. */
bool policies_stopped(void);

#endif /* LBPFD_POLICIES_H */
