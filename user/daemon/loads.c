// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Loads: a detached thread per load, reload or restore creates the runtime
 * and runs the policy's body, so a slow body never stalls the main thread;
 * the result goes back to the main thread as MSG_LOADED.
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pins.h"
#include "policies.h"

static uint64_t instruction_limit; /* --instructions */
static unsigned max_errors;        /* --max-errors */

void load_limits(uint64_t instructions, unsigned errors)
{
	instruction_limit = instructions;
	max_errors = errors;
}

/* What lbpf_runtime_new(script) sets from the script's name, for a body
 * loaded from a string: arg[0] and, unless sandboxed (whose require reads
 * only lbpf's lua/ folder), the script's folder in package.path. */
static void set_script(lua_State *L, const char *file, bool sandboxed)
{
	char dir[PATH_MAX];
	const char *folder;

	snprintf(dir, sizeof(dir), "%s", file);
	folder = dirname(dir);
	if (lua_getglobal(L, "arg") == LUA_TTABLE) {
		lua_pushstring(L, file);
		lua_rawseti(L, -2, 0);
	}
	lua_pop(L, 1);
	if (sandboxed)
		return;
	lua_getglobal(L, "package");
	lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", folder, folder);
	lua_getfield(L, -2, "path");
	lua_concat(L, 2);
	lua_setfield(L, -2, "path");
	lua_pop(L, 1);
}

/* The load's error message (a copy). */
static void set_error(struct load_job *job, const char *msg)
{
	free(job->error);
	job->error = strdup(msg ? msg : "unknown error");
}

/* Creates the runtime and runs the body (job->code); on failure frees it,
 * so that nothing it attached stays. A policy is sandboxed unless root
 * loaded it trusted. */
static void load_run(struct load_job *job)
{
	struct policy *p = job->policy;
	lbpf_runtime_opts_t opts = {
		.name = p->name, .memory_limit = p->memory, .argc = p->nargs, .argv = p->args,
		.output = policy_output, .output_ctx = p,
		.instruction_limit = p->instructions ? p->instructions : instruction_limit,
		.max_errors = max_errors,
		.pin_dir = p->pin_dir,
		.id = job->runner->id,
		.runtimes_fd = pin_runtimes_fd() > 0 ? pin_runtimes_fd() : 0,
		.lost_counter = &p->lost,
		.sandboxed = !p->trusted,
	};
	char *chunk = NULL;
	int err;

	err = lbpf_runtime_new(&job->rt, NULL, &opts);
	/* from here on, objects it attaches are mirrored as the runner's */
	runner_set_runtime(job->runner, job->rt);
	if (!err) {
		set_script(lbpf_runtime_state(job->rt), job->file, opts.sandboxed);
		err = asprintf(&chunk, "@%s", job->file) < 0 ? -ENOMEM : 0;
	}
	if (!err)
		err = lbpf_runtime_loadstring(job->rt, job->code, chunk);
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
}

/* A load thread: runs the job, then hands it to the main thread. */
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
	free(job->code);
	free(job->error);
	free(job);
}
