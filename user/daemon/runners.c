// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Runners and workers. A runner is one runtime of a policy; a reload makes
 * a second runner before the first one retires. The workers watch the
 * runners' loops in their own epoll set (never the main thread's, so no
 * control work delays a turn), run the turns of those that are ready, and
 * end those that stopped; the main thread learns of an end by MSG_ENDED.
 * A worker takes the oldest queued runner (first queueing, behind it, those
 * whose loop is ready), else waits in the set for one event: a runner's
 * loop (EPOLLONESHOT: one worker gets it) or wake_fd, which is readable
 * exactly while the job queue holds runners or the workers must quit.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "pins.h"
#include "policies.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the runner lock */
static struct runner *runners;            /* runner lock */
static struct runner *jobs, *jobs_tail;   /* runner lock */
static bool quit;                         /* runner lock */
static pthread_t *workers;
static int nworkers;
static uint64_t next_runner_id;           /* main thread */
static int epfd = -1;                     /* the workers' epoll set */
static int wake_fd = -1;                  /* in epfd with data.ptr NULL */

static void runner_queue(struct runner *r);

struct runner *runner_new(struct policy *p)
{
	struct runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->policy = p;
	r->loop_fd = -1;
	pthread_mutex_lock(&lock);
	r->id = ++next_runner_id;
	r->next = runners;
	runners = r;
	pthread_mutex_unlock(&lock);
	runner_pin(r, LBPF_STATE_LOADING);
	return r;
}

void runner_set_runtime(struct runner *r, lbpf_runtime_t *rt)
{
	pthread_mutex_lock(&lock);
	r->rt = rt;
	pthread_mutex_unlock(&lock);
}

/* The body ran: from now on the workers run it. */
void runner_start(struct runner *r)
{
	r->loop_fd = lbpf_loop_fd(lbpf_runtime_getloop(r->rt));
	lbpf_runtime_accept(r->rt); /* its filters are pinned even if it stops now */
	r->policy->runners++;
	runner_pin(r, LBPF_STATE_RUNNING);
	runner_queue(r); /* the body may have left tasks ready */
}

void runner_retire(struct runner *r)
{
	runner_pin(r, LBPF_STATE_STOPPED); /* its programs stop pushing events now */
	pthread_mutex_lock(&lock);
	if (r->rt)
		lbpf_runtime_stop(r->rt);
	pthread_mutex_unlock(&lock);
}

void runner_free(struct runner *r)
{
	struct runner **pp;

	pthread_mutex_lock(&lock);
	for (pp = &runners; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	free(r->fail_reason);
	free(r->kinds);
	free(r);
}

/* Makes wake_fd readable (on) or not, under the runner lock. */
static void wake_workers(bool on)
{
	uint64_t value = 1;

	if (on && write(wake_fd, &value, sizeof(value)) < 0) {
		/* saturated: readable anyway */
	}
	if (!on && read(wake_fd, &value, sizeof(value)) < 0) {
		/* EAGAIN: was not readable */
	}
}

/* Hands the runner to the workers. */
static void runner_queue(struct runner *r)
{
	pthread_mutex_lock(&lock);
	r->next_job = NULL;
	if (jobs_tail)
		jobs_tail->next_job = r;
	else
		jobs = r;
	jobs_tail = r;
	if (jobs == r)
		wake_workers(true);
	pthread_mutex_unlock(&lock);
}

/* The oldest queued runner, or NULL; under the runner lock. */
static struct runner *job_take(void)
{
	struct runner *r = jobs;

	if (!r)
		return NULL;
	jobs = r->next_job;
	if (!jobs) {
		jobs_tail = NULL;
		if (!quit)
			wake_workers(false);
	}
	return r;
}

/* Hands the runner back to epoll until its loop has something to do. */
static int runner_arm(struct runner *r)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = r };
	int op = r->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	r->in_epoll = true;
	if (epoll_ctl(epfd, op, r->loop_fd, &ev) < 0)
		return -errno;
	return 0;
}

/* The worker's end of a runner: frees the runtime (on_exit handlers run,
 * every object is released) and tells the main thread how it ended. */
static void runner_end(struct runner *r)
{
	lbpf_runtime_t *rt = r->rt;
	struct message *msg;
	const char *error;
	int code;

	if (r->in_epoll)
		epoll_ctl(epfd, EPOLL_CTL_DEL, r->loop_fd, NULL);
	while (!(msg = calloc(1, sizeof(*msg))))
		usleep(1000);
	pthread_mutex_lock(&lock);
	r->policy->events = lbpf_runtime_calls(rt);
	r->policy->errors = lbpf_runtime_errors(rt);
	r->rt = NULL;
	pthread_mutex_unlock(&lock);
	code = lbpf_runtime_exit_code(rt);
	/* its programs stop pushing before the (slow) detach of its probes */
	runner_pin(r, code ? LBPF_STATE_FAILED : LBPF_STATE_STOPPED);
	error = r->fail_reason ? r->fail_reason : lbpf_runtime_error(rt);
	msg->reason = strdup(code && error ? error : code ? "failed" : "exited");
	code = lbpf_runtime_free(rt) || code;
	msg->kind = MSG_ENDED;
	msg->runner = r;
	msg->state = code ? LBPF_STATE_FAILED : LBPF_STATE_STOPPED;
	daemon_post(msg);
}

/* One turn of r on a worker: then r is queued again, armed in epoll or ended. */
static void runner_turn(struct runner *r)
{
	lbpf_runtime_t *rt = r->rt;
	lua_State *L = lbpf_runtime_state(rt);
	bool ready, alive, stopping;
	int err;

	lbpf_runtime_lock(rt);
	lua_pushcfunction(L, lbpf_runtime_turn);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		free(r->fail_reason);
		r->fail_reason = strdup(msg ? msg : "error outside a callback");
		lbpf_log(rt, "stopping: %s", r->fail_reason ? r->fail_reason : "?");
		lbpf_runtime_exit(rt, 1);
		lua_pop(L, 1);
	}
	ready = lbpf_sched_has_ready(lbpf_runtime_sched(rt));
	alive = lbpf_loop_alive(lbpf_runtime_getloop(rt));
	stopping = lbpf_runtime_stopping(rt);
	lbpf_runtime_unlock(rt);
	if (stopping || (!ready && !alive))
		return runner_end(r);
	if (ready)
		return runner_queue(r);
	if ((err = runner_arm(r)) < 0) {
		lbpf_log(rt, "stopping: epoll_ctl: %s", strerror(-err));
		lbpf_runtime_exit(rt, 1);
		runner_end(r);
	}
}

/* Queues the runners whose loop is ready now, behind those queued: a
 * runner that is always ready (it re-queues itself) cannot starve them. */
static void queue_ready(void)
{
	struct epoll_event ev[8];
	int i, n = epoll_wait(epfd, ev, 8, 0);

	for (i = 0; i < n; i++)
		if (ev[i].data.ptr)
			runner_queue(ev[i].data.ptr);
}

static int worker_nice;

/* The calling worker's nice value (Linux keeps one per thread). While other
 * processes keep the CPUs busy, a worker at the same priority as theirs gets
 * a CPU too seldom to drain its policies' rings before they fill (on 2 CPUs,
 * 8 processes making system calls that 8 policies with 256 KiB rings count
 * lost about 40% of their events; at nice -5, 11-15%), so workers run above
 * normal priority, as auditd does (priority_boost). */
static void worker_set_nice(void)
{
	static atomic_flag told = ATOMIC_FLAG_INIT;

	if (!worker_nice || !setpriority(PRIO_PROCESS, (id_t)gettid(), worker_nice))
		return;
	if (!atomic_flag_test_and_set(&told))
		fprintf(stderr, "lbpfd: the workers run at nice 0, not %d: %s (CAP_SYS_NICE)\n",
			worker_nice, strerror(errno));
}

/* A worker: runs the turns of queued runners and of those whose loop is
 * ready, until workers_stop. */
static void *worker_main(void *arg)
{
	struct epoll_event ev;
	struct runner *r;
	bool stop;

	worker_set_nice();
	for (;;) {
		pthread_mutex_lock(&lock);
		stop = quit;
		r = stop ? NULL : job_take();
		pthread_mutex_unlock(&lock);
		if (stop)
			break;
		if (r)
			queue_ready();
		else if (epoll_wait(epfd, &ev, 1, -1) == 1)
			r = ev.data.ptr; /* NULL: wake_fd, the queue is looked at again */
		if (r)
			runner_turn(r);
	}
	return NULL;
}

/* The workers' epoll set with wake_fd in it. 0 or -errno. */
static int workers_open(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	epfd = epoll_create1(EPOLL_CLOEXEC);
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (epfd < 0 || wake_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0)
		return -errno;
	return 0;
}

int workers_start(int n, int nice)
{
	int i, err;

	if ((err = workers_open()) < 0) {
		fprintf(stderr, "lbpfd: cannot start the workers: %s\n", strerror(-err));
		return err;
	}
	/* runtime ids stay unique across restarts: a pinned filter of an
	 * earlier lbpfd must not find its id reused (bpf/record.bpf.h) */
	next_runner_id = (uint64_t)time(NULL) << 20;
	nworkers = n;
	worker_nice = nice;
	workers = calloc(n, sizeof(pthread_t));
	if (!workers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = -pthread_create(&workers[i], NULL, worker_main, NULL);
		if (err) {
			fprintf(stderr, "lbpfd: cannot start worker %d: %s\n", i, strerror(-err));
			return err;
		}
	}
	return 0;
}

void workers_stop(void)
{
	int i;

	pthread_mutex_lock(&lock);
	quit = true;
	wake_workers(true);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < nworkers && workers; i++)
		pthread_join(workers[i], NULL);
	free(workers);
	workers = NULL;
	close(wake_fd);
	close(epfd);
	wake_fd = epfd = -1;
}

void runner_pin(struct runner *r, enum lbpf_runtime_state state)
{
	pin_runtime(r->id, r->policy->name, r->policy->generation, state);
}

char *runner_kinds(struct runner *r)
{
	char *kinds = NULL;

	pthread_mutex_lock(&lock);
	if (r->kinds)
		kinds = strdup(r->kinds);
	pthread_mutex_unlock(&lock);
	return kinds;
}

bool runner_pin_held(struct runner *r, unsigned long n)
{
	bool held = true;

	pthread_mutex_lock(&lock);
	if (r->rt)
		held = n <= UINT_MAX && lbpf_runtime_pin_held(r->rt, n);
	pthread_mutex_unlock(&lock);
	return held;
}

/* The runner of a runtime, under the runner lock; NULL if none. */
static struct runner *runner_of(lbpf_runtime_t *rt)
{
	struct runner *r;

	for (r = runners; r; r = r->next)
		if (r->rt == rt)
			return r;
	return NULL;
}

/* Adds kind to the runner's list of attached kinds ("lbpf.probe,..."). */
static void note_kind(struct runner *r, const char *kind)
{
	char *kinds;

	if (r->kinds && strstr(r->kinds, kind))
		return;
	if (asprintf(&kinds, "%s%s%s", r->kinds ? r->kinds : "", r->kinds ? "," : "", kind) < 0)
		return;
	free(r->kinds);
	r->kinds = kinds;
}

uint64_t runner_note_object(lbpf_runtime_t *rt, const char *kind)
{
	struct runner *r;
	uint64_t id = 0;

	pthread_mutex_lock(&lock);
	if ((r = runner_of(rt))) {
		id = r->id;
		note_kind(r, kind);
	}
	pthread_mutex_unlock(&lock);
	return id;
}

bool runner_current_name(lbpf_runtime_t *root, char *name, size_t size)
{
	struct runner *r;
	bool current;

	pthread_mutex_lock(&lock);
	r = runner_of(root);
	current = r && r == r->policy->current;
	if (current)
		snprintf(name, size, "%s", r->policy->name);
	pthread_mutex_unlock(&lock);
	return current;
}

void policy_numbers(struct policy *p, uint64_t *events, uint64_t *errors, size_t *memory)
{
	pthread_mutex_lock(&lock);
	if (p->current && p->current->rt) {
		*events = lbpf_runtime_calls(p->current->rt);
		*errors = lbpf_runtime_errors(p->current->rt);
		*memory = lbpf_runtime_memory(p->current->rt);
	} else {
		*events = p->events;
		*errors = p->errors;
		*memory = 0;
	}
	pthread_mutex_unlock(&lock);
}
