// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd's policies and runners. A policy is what a user loaded (name, file,
 * limits, log); a runner is one runtime of it. A reload makes a second runner
 * before the first one retires. Load threads create runtimes and run their
 * bodies; workers run the turns of runners that epoll found ready.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon_internal.h"

/* ---- policies and their logs ---- */

struct policy *policy_new(const char *name, const char *file, char **args, int nargs,
			  size_t memory)
{
	struct policy *p = calloc(1, sizeof(*p));
	int i;

	if (!p || !(p->file = strdup(file)) || !(p->args = calloc(nargs + 1, sizeof(char *))))
		goto cleanup;
	if (asprintf(&p->pin_dir, "%s/" LBPF_PIN_FILTERS "/%s", daemon_g.opts.bpffs, name) < 0) {
		p->pin_dir = NULL;
		goto cleanup;
	}
	snprintf(p->name, sizeof(p->name), "%s", name);
	for (i = 0; i < nargs; i++) {
		if (!(p->args[i] = strdup(args[i])))
			goto cleanup;
		p->nargs++;
	}
	p->memory = memory;
	p->state = LBPF_STATE_LOADING;
	pthread_mutex_init(&p->log.lock, NULL);
	return p;
cleanup:
	policy_free(p);
	errno = ENOMEM;
	return NULL;
}

void policy_free(struct policy *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nargs; i++)
		free(p->args[i]);
	for (i = 0; i < LBPF_DAEMON_LOG_LINES; i++)
		free(p->log.lines[i]);
	free(p->args);
	free(p->file);
	free(p->reason);
	free(p->pin_dir);
	free(p);
}

struct policy *policy_find(const char *name)
{
	struct policy *p;

	for (p = daemon_g.policies; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static void log_add(struct policy *p, const char *line, size_t len)
{
	char *copy = strndup(line, len);
	size_t slot;

	pthread_mutex_lock(&p->log.lock);
	slot = p->log.seq++ % LBPF_DAEMON_LOG_LINES;
	free(p->log.lines[slot]);
	p->log.lines[slot] = copy ? copy : strdup("(out of memory)");
	pthread_mutex_unlock(&p->log.lock);
}

/* The runtimes' log sink (print() and lbpf's own lines). lbpf's lines also
 * go to the daemon's stderr, with the policy's name. */
void policy_log(void *ctx, const char *line)
{
	struct policy *p = ctx;
	const char *nl;

	if (!strncmp(line, "lbpf: ", 6))
		fprintf(stderr, "lbpfd: [%s] %s\n", p->name, line + 6);
	while ((nl = strchr(line, '\n'))) {
		log_add(p, line, nl - line);
		line = nl + 1;
	}
	log_add(p, line, strlen(line));
	if (atomic_load(&p->followers) > 0) {
		struct message *msg = calloc(1, sizeof(*msg));

		if (msg) {
			msg->kind = MSG_LOG;
			daemon_post(msg);
		}
	}
}

uint64_t policy_log_lines(struct policy *p, uint64_t from, void (*fn)(void *, const char *),
			  void *ctx)
{
	uint64_t i, seq;

	pthread_mutex_lock(&p->log.lock);
	seq = p->log.seq;
	if (seq > LBPF_DAEMON_LOG_LINES && from < seq - LBPF_DAEMON_LOG_LINES)
		from = seq - LBPF_DAEMON_LOG_LINES;
	for (i = from; i < seq; i++)
		fn(ctx, p->log.lines[i % LBPF_DAEMON_LOG_LINES]);
	pthread_mutex_unlock(&p->log.lock);
	return seq;
}

void policy_numbers(struct policy *p, uint64_t *events, uint64_t *errors, size_t *memory)
{
	pthread_mutex_lock(&daemon_g.lock);
	if (p->current && p->current->rt) {
		*events = lbpf_runtime_calls(p->current->rt);
		*errors = lbpf_runtime_errors(p->current->rt);
		*memory = lbpf_runtime_memory(p->current->rt);
	} else {
		*events = p->events;
		*errors = p->errors;
		*memory = 0;
	}
	pthread_mutex_unlock(&daemon_g.lock);
}

/* ---- loading: a thread per load ---- */

static char *read_file(const char *path, char **error)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t len = 0;

	if (!f || getdelim(&data, &len, '\0', f) < 0) {
		if (asprintf(error, "cannot read %s: %s", path, f ? "empty file" : strerror(errno)) < 0)
			*error = NULL;
		free(data);
		data = NULL;
	}
	if (f)
		fclose(f);
	return data;
}

/* What lbpf_runtime_new(script) sets from the script's name, for a body
 * loaded from a string: arg[0] and the script's folder in package.path. */
static void set_script(lua_State *L, const char *file)
{
	char dir[PATH_MAX];
	const char *folder;

	snprintf(dir, sizeof(dir), "%s", file);
	folder = dirname(dir);
	if (lua_getglobal(L, "arg") == LUA_TTABLE) {
		lua_pushstring(L, file);
		lua_rawseti(L, -2, 0);
	}
	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", folder, folder);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 2);
}

static void set_error(struct load_job *job, const char *msg)
{
	free(job->error);
	job->error = strdup(msg ? msg : "unknown error");
}

/* Creates the runtime and runs the body; on failure frees it, so that
 * nothing it attached stays. */
static void load_run(struct load_job *job)
{
	struct policy *p = job->policy;
	lbpf_runtime_opts_t opts = {
		.name = p->name, .memory_limit = p->memory, .argc = p->nargs, .argv = p->args,
		.log = policy_log, .log_ctx = p,
		.instruction_limit = daemon_g.opts.instruction_limit,
		.max_errors = daemon_g.opts.max_errors,
		.pin_dir = p->pin_dir,
		.id = job->runner->id,
		.runtimes_fd = daemon_g.runtimes_map > 0 ? daemon_g.runtimes_map : 0,
		.lost_counter = &p->lost,
	};
	char *code = read_file(job->code_path, &job->error), *chunk = NULL;
	int err;

	if (!code)
		return;
	err = lbpf_runtime_new(&job->rt, NULL, &opts);
	/* from here on, objects it attaches are mirrored as the runner's */
	runner_set_runtime(job->runner, job->rt);
	if (!err) {
		set_script(lbpf_runtime_state(job->rt), job->file);
		err = asprintf(&chunk, "@%s", job->file) < 0 ? -ENOMEM : 0;
	}
	if (!err)
		err = lbpf_runtime_loadstring(job->rt, code, chunk);
	if (!err)
		err = lbpf_runtime_start(job->rt);
	if (!err && lbpf_runtime_stopping(job->rt) && lbpf_runtime_exit_code(job->rt))
		err = -EINVAL; /* lbpf.exit(code) in the body */
	if (err) {
		const char *msg = job->rt ? lbpf_runtime_error(job->rt) : NULL;

		set_error(job, msg ? msg : strerror(-err));
		runner_set_runtime(job->runner, NULL);
		lbpf_runtime_free(job->rt);
		job->rt = NULL;
	} else {
		job->running = lbpf_loop_alive(lbpf_runtime_getloop(job->rt)) ||
			       lbpf_sched_has_ready(lbpf_runtime_sched(job->rt));
	}
	free(chunk);
	free(code);
}

static void *load_thread(void *arg)
{
	struct load_job *job = arg;
	struct message *msg;

	load_run(job);
	/* a message that cannot be posted would leave a client waiting */
	while (!(msg = calloc(1, sizeof(*msg))))
		usleep(1000);
	msg->kind = MSG_LOADED;
	msg->job = job;
	daemon_post(msg);
	return NULL;
}

int load_start(struct load_job *job)
{
	pthread_attr_t attr;
	pthread_t thread;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = -pthread_create(&thread, &attr, load_thread, job);
	pthread_attr_destroy(&attr);
	if (err)
		fprintf(stderr, "lbpfd: cannot start a load thread: %s\n", strerror(-err));
	return err;
}

void load_job_free(struct load_job *job)
{
	if (!job)
		return;
	lbpf_runtime_free(job->rt);
	free(job->file);
	free(job->code_path);
	free(job->error);
	free(job);
}

/* ---- runners and workers ---- */

struct runner *runner_new(struct policy *p)
{
	struct runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->h.kind = H_RUNNER;
	r->policy = p;
	r->loop_fd = -1;
	pthread_mutex_lock(&daemon_g.lock);
	r->id = ++daemon_g.next_runner_id;
	r->next = daemon_g.runners;
	daemon_g.runners = r;
	pthread_mutex_unlock(&daemon_g.lock);
	pin_runtime(r, LBPF_STATE_LOADING);
	return r;
}

void runner_set_runtime(struct runner *r, lbpf_runtime_t *rt)
{
	pthread_mutex_lock(&daemon_g.lock);
	r->rt = rt;
	pthread_mutex_unlock(&daemon_g.lock);
}

/* The body ran: from now on the workers run it. */
void runner_start(struct runner *r)
{
	r->loop_fd = lbpf_loop_fd(lbpf_runtime_getloop(r->rt));
	lbpf_runtime_accept(r->rt); /* its filters are pinned even if it stops now */
	r->policy->runners++;
	pin_runtime(r, LBPF_STATE_RUNNING);
	runner_queue(r); /* the body may have left tasks ready */
}

/* Asks the runner to stop; a worker frees its runtime and posts MSG_ENDED. */
void runner_retire(struct runner *r)
{
	pin_runtime(r, LBPF_STATE_STOPPED); /* its programs stop pushing events now */
	pthread_mutex_lock(&daemon_g.lock);
	if (r->rt)
		lbpf_runtime_stop(r->rt);
	pthread_mutex_unlock(&daemon_g.lock);
}

void runner_free(struct runner *r)
{
	struct runner **pp;

	pthread_mutex_lock(&daemon_g.lock);
	for (pp = &daemon_g.runners; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&daemon_g.lock);
	free(r->fail_reason);
	free(r->kinds);
	free(r);
}

void runner_queue(struct runner *r)
{
	pthread_mutex_lock(&daemon_g.lock);
	r->next_job = NULL;
	if (daemon_g.jobs_tail)
		daemon_g.jobs_tail->next_job = r;
	else
		daemon_g.jobs = r;
	daemon_g.jobs_tail = r;
	pthread_cond_signal(&daemon_g.job_cond);
	pthread_mutex_unlock(&daemon_g.lock);
}

/* Hands the runner back to epoll until its loop has something to do. */
static int runner_arm(struct runner *r)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.ptr = &r->h };
	int op = r->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	r->in_epoll = true;
	if (epoll_ctl(daemon_g.epfd, op, r->loop_fd, &ev) < 0)
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
		epoll_ctl(daemon_g.epfd, EPOLL_CTL_DEL, r->loop_fd, NULL);
	while (!(msg = calloc(1, sizeof(*msg))))
		usleep(1000);
	pthread_mutex_lock(&daemon_g.lock);
	r->policy->events = lbpf_runtime_calls(rt);
	r->policy->errors = lbpf_runtime_errors(rt);
	r->rt = NULL;
	pthread_mutex_unlock(&daemon_g.lock);
	code = lbpf_runtime_exit_code(rt);
	/* its programs stop pushing before the (slow) detach of its probes */
	pin_runtime(r, code ? LBPF_STATE_FAILED : LBPF_STATE_STOPPED);
	error = r->fail_reason ? r->fail_reason : lbpf_runtime_error(rt);
	msg->reason = strdup(code && error ? error : code ? "failed" : "exited");
	code = lbpf_runtime_free(rt) || code;
	msg->kind = MSG_ENDED;
	msg->runner = r;
	msg->state = code ? LBPF_STATE_FAILED : LBPF_STATE_STOPPED;
	daemon_post(msg);
}

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

static void *worker_main(void *arg)
{
	struct runner *r;

	pthread_mutex_lock(&daemon_g.lock);
	for (;;) {
		while (!daemon_g.jobs && !daemon_g.quit)
			pthread_cond_wait(&daemon_g.job_cond, &daemon_g.lock);
		if (daemon_g.quit)
			break;
		r = daemon_g.jobs;
		daemon_g.jobs = r->next_job;
		if (!daemon_g.jobs)
			daemon_g.jobs_tail = NULL;
		pthread_mutex_unlock(&daemon_g.lock);
		runner_turn(r);
		pthread_mutex_lock(&daemon_g.lock);
	}
	pthread_mutex_unlock(&daemon_g.lock);
	return NULL;
}

int workers_start(int n)
{
	int i, err;

	daemon_g.workers = calloc(n, sizeof(pthread_t));
	if (!daemon_g.workers)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		err = -pthread_create(&daemon_g.workers[i], NULL, worker_main, NULL);
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

	pthread_mutex_lock(&daemon_g.lock);
	daemon_g.quit = true;
	pthread_cond_broadcast(&daemon_g.job_cond);
	pthread_mutex_unlock(&daemon_g.lock);
	for (i = 0; i < daemon_g.opts.workers && daemon_g.workers; i++)
		pthread_join(daemon_g.workers[i], NULL);
	free(daemon_g.workers);
	daemon_g.workers = NULL;
}
