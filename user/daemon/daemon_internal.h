/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * lbpfd's internals, shared by user/daemon*.c. Threads:
 *  - the main thread owns the epoll set, the connections and the policy
 *    list; it alone creates and frees policies;
 *  - a load thread per load/reload/restore creates a runtime and runs its
 *    body, then posts the result to the main thread;
 *  - the workers run the runtimes' turns; a runner (one runtime) is in at
 *    most one place at a time: a worker, the job queue, or the epoll set
 *    (EPOLLONESHOT), so no two threads ever run it at once.
 * The daemon lock guards the runner list, the message queue and the fields
 * the comments mark; it is never held while a runtime is locked.
 */
#ifndef LBPF_DAEMON_INTERNAL_H
#define LBPF_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <lbpf/daemon.h>

#include "core/internal.h"
#include "protocol/json.h"

/* What an epoll entry of the main thread is. */
enum handle_kind { H_LISTEN, H_METRICS, H_NOTIFY, H_SIGNAL, H_CONN, H_RUNNER };

struct handle {
	enum handle_kind kind;
};

struct log_ring {
	pthread_mutex_t lock;
	char *lines[LBPF_DAEMON_LOG_LINES];
	uint64_t seq;              /* lines ever added; line i is at i % N */
};

struct policy {
	struct policy *next;
	char name[LBPF_DAEMON_NAME_MAX];
	char *file;                /* the script, as the client named it */
	char **args;
	int nargs;
	size_t memory;
	uint32_t generation;
	enum lbpf_runtime_state state;
	char *reason;              /* why it failed or stopped */
	struct runner *current;    /* NULL while loading, after it ended */
	int runners;               /* runners alive (current and retiring) */
	bool busy;                 /* a load or reload is under way */
	bool unloading;
	uint64_t unload_conn;      /* the connection waiting for the unload */
	uint64_t started_ns;
	uint64_t pinned_id;        /* the runner whose entry stays pinned */
	char *pin_dir;             /* BPFFS/filters/NAME: its runtimes' pinned filters */
	/* the last numbers of the current runtime, kept when it ends */
	uint64_t events, errors;
	size_t memory_used;
	_Atomic uint64_t lost;     /* events its runtimes could not push, ever */
	atomic_int followers;      /* connections following the log */
	struct log_ring log;
};

struct runner {
	struct handle h;           /* H_RUNNER */
	struct runner *next;       /* the daemon's list */
	struct runner *next_job;   /* the job queue */
	uint64_t id;
	struct policy *policy;
	lbpf_runtime_t *rt;        /* NULL once freed (daemon lock) */
	int loop_fd;
	bool in_epoll;             /* touched only by the thread running it */
	char *fail_reason;         /* set by the worker when a turn broke */
	char *kinds;               /* kinds of attached objects, "a,b" (daemon lock) */
};

/* A client of the control socket or of the metrics server. */
struct conn {
	struct handle h;           /* H_CONN */
	struct conn *next;
	uint64_t id;
	int fd;
	bool http;
	bool closing;              /* close once the output is flushed */
	bool want_out;             /* EPOLLOUT is on */
	bool eof;                  /* the client sent all it will send */
	int pending;               /* replies it still waits for (loads, unloads) */
	char *in;
	size_t in_len, in_cap;
	struct json_writer out;
	size_t out_off;
	uint64_t last_ns;          /* last input, for the idle timeout */
	struct policy *follow;     /* lbpf logs -f */
	uint64_t follow_seq;
};

struct daemon_options {
	const char *socket_path;
	const char *state_dir;
	const char *bpffs;
	const char *metrics;
	const char *group;
	int workers;
	uint64_t instruction_limit;
	unsigned max_errors;
	size_t default_memory;
	bool fail_open;            /* filters are unpinned when lbpfd stops or crashed */
};

/* A message to the main thread. */
enum message_kind { MSG_LOADED, MSG_ENDED, MSG_LOG };

struct message {
	struct message *next;
	enum message_kind kind;
	struct load_job *job;      /* MSG_LOADED */
	struct runner *runner;     /* MSG_ENDED */
	enum lbpf_runtime_state state;
	char *reason;
};

enum load_kind { LOAD_NEW, LOAD_RELOAD, LOAD_RESTORE };

struct load_job {
	enum load_kind kind;
	struct policy *policy;
	struct runner *runner;     /* made by the main thread, filled by the load */
	uint64_t conn;             /* who waits for the reply; 0 = nobody */
	char *file;                /* the script to run (reload may change it) */
	char *code_path;           /* where to read it: file, or the state copy */
	lbpf_runtime_t *rt;        /* the result */
	char *error;
	bool running;              /* the body left something to wait for */
};

struct daemon {
	struct daemon_options opts;
	int epfd;
	int notify_fd;
	struct handle listen_h, metrics_h, notify_h;
	int listen_fd, metrics_fd;
	pthread_mutex_t lock;
	pthread_cond_t job_cond;
	struct runner *runners;    /* daemon lock */
	struct runner *jobs, *jobs_tail; /* daemon lock */
	struct message *messages;  /* daemon lock */
	struct policy *policies;   /* main thread */
	pthread_t *workers;
	bool quit;                 /* daemon lock */
	uint64_t next_runner_id;
	uint64_t started_ns;
	int runtimes_map, objects_map; /* pinned map fds, or -1 */
	int signal_fd;
	struct handle signal_h;
	struct conn *conns;        /* main thread */
	uint64_t next_conn_id;
	bool shutting_down;        /* main thread */
	gid_t socket_gid;
};

extern struct daemon daemon_g;

/* daemon.c: the main thread, connections */
void daemon_post(struct message *msg);
struct conn *conn_find(uint64_t id);
/* Queues w's text plus a newline on the connection (and frees w). */
void conn_send(struct conn *c, struct json_writer *w);
void conn_error(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void conn_close_later(struct conn *c);
/* An answer to a request that waited (load, reload, unload): sent if the
 * client is still there. */
void conn_send_later(uint64_t id, struct json_writer *w);
void conn_error_later(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* daemon_ops.c: requests and the messages of other threads */
void ops_request(struct conn *c, const char *line, size_t len);
void ops_message(struct message *msg);
void ops_flush_followers(void);
void ops_conn_closed(struct conn *c);
void ops_shutdown(void);
bool ops_shutdown_done(void);
void daemon_restore(const char *name, const char *file, char **args, int nargs, size_t memory,
		    uint32_t generation);
void features_probe(void);
void features_write(struct json_writer *w);

/* daemon_policy.c: policies, runners, workers, logs */
int workers_start(int n);
void workers_stop(void);
struct policy *policy_new(const char *name, const char *file, char **args, int nargs,
			  size_t memory);
void policy_free(struct policy *p);
struct policy *policy_find(const char *name);
void policy_log(void *ctx, const char *line);
/* Calls fn for each kept line from seq `from` on; returns the next seq. */
uint64_t policy_log_lines(struct policy *p, uint64_t from, void (*fn)(void *ctx, const char *line),
			  void *ctx);
int load_start(struct load_job *job);
void load_job_free(struct load_job *job);
/* A runner for a load: listed (so its objects are mirrored) before its
 * runtime exists; runner_start hands it to the workers once the body ran. */
struct runner *runner_new(struct policy *p);
void runner_set_runtime(struct runner *r, lbpf_runtime_t *rt);
void runner_start(struct runner *r);
void runner_retire(struct runner *r);
void runner_free(struct runner *r);
void runner_queue(struct runner *r);
/* The numbers of p's current runtime, or the last ones kept. */
void policy_numbers(struct policy *p, uint64_t *events, uint64_t *errors, size_t *memory);

/* daemon_state.c: the state folder */
int state_init(void);
int state_save(struct policy *p, const char *code_path);
void state_remove(const char *name);
void state_restore(void);
char *state_script_path(const char *name);

/* daemon_pin.c: pinned maps */
int pin_init(void);
void pin_runtime(struct runner *r, enum lbpf_runtime_state state);
void pin_runtime_delete(uint64_t id);
void pin_close(void);
/* Packet filters pinned by the policies (fail-static): BPFFS/filters/NAME.
 * filters_remove detaches and unpins a policy's (NULL: every policy's). */
void filters_remove(const char *name);
/* At start: --fail-open removes what a crashed lbpfd left; otherwise only
 * the filters of policies the state folder does not hold. */
void filters_startup(void);

/* daemon_http.c: the metrics server */
int metrics_listen(const char *addr);
void metrics_respond(const char *request, struct json_writer *w);

#endif /* LBPF_DAEMON_INTERNAL_H */
