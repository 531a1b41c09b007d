// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A policy's life, on the main thread: a load starts it, the load's end
 * (MSG_LOADED) makes its runner current, a reload swaps runners, a runner's
 * end (MSG_ENDED) or an unload ends it, a stop ends them all. What a client
 * is answered is the requests' business (requests.c); this file says only
 * what happened, by its return values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pins.h"
#include "policies.h"
#include "state.h"

#define STOP_TIMEOUT_NS (10ull * 1000000000ull)

static const char *const state_names[] = { "loading", "running", "stopped", "failed" };

static bool stopping;         /* SIGTERM came */
static uint64_t stop_started;

int policy_load(struct policy *p, enum load_kind kind, uint64_t conn, const char *file,
		const char *code)
{
	struct load_job *job = calloc(1, sizeof(*job));

	if (!job || !(job->file = strdup(file)) || !(job->code = strdup(code)) ||
	    !(job->runner = runner_new(p))) {
		load_job_free(job);
		return -ENOMEM;
	}
	job->kind = kind;
	job->policy = p;
	job->conn = conn;
	p->busy = true;
	if (load_start(job) < 0) {
		pin_runtime_delete(job->runner->id);
		runner_free(job->runner);
		load_job_free(job);
		p->busy = false;
		return -EAGAIN;
	}
	return 0;
}

/* Whether the current runtime of p (void *) holds PIN_DIR/n (or cannot say). */
static bool pin_held(void *p, unsigned long n)
{
	struct runner *current = ((struct policy *)p)->current;

	return current ? runner_pin_held(current, n) : true;
}

/* The pin folders PIN_DIR/N that the current runtime did not take over (a
 * reload that made fewer filters, or whose attach at N failed) lose their
 * filters. Only when the current runner is alone and no load runs: a
 * retiring runtime still holds its pins, a loading one may adopt them. */
static void prune_filters(struct policy *p)
{
	if (!p->current || p->busy || p->runners != 1 || !p->pin_dir)
		return;
	filters_prune(p->pin_dir, pin_held, p);
}

/* A load that failed: its runner goes; a reload keeps the running one. */
static void load_failed(struct load_job *job, struct policy *p)
{
	pin_runtime_delete(job->runner->id);
	runner_free(job->runner);
	if (job->kind == LOAD_RELOAD) {
		p->generation--;
		prune_filters(p); /* what an earlier reload left while this one ran */
	} else if (job->kind == LOAD_RESTORE) {
		fprintf(stderr, "lbpfd: policy %s failed to restart: %s\n", p->name, job->error);
		free(p->code);
		p->code = job->code; /* what `lbpf reload NAME` runs again */
		job->code = NULL;
		p->state = LBPF_STATE_FAILED;
		free(p->reason);
		p->reason = strdup(job->error);
	} else {
		filters_remove(p->name);
	}
}

/* p's saved state: its record and the code its runtime runs. */
static void policy_save(struct policy *p)
{
	struct state_record rec = { .name = p->name, .file = p->file, .args = p->args,
				    .nargs = p->nargs, .memory = p->memory,
				    .generation = p->generation, .trusted = p->trusted,
				    .folder = p->dir_code != NULL, .instructions = p->instructions };

	state_save(&rec, p->code);
}

/* A body ran: the runner goes to the workers; a reload retires the old one. */
static void load_done(struct load_job *job, struct policy *p)
{
	struct runner *old = p->current;

	p->current = job->runner;
	p->state = LBPF_STATE_RUNNING;
	p->started_ns = lbpf_now();
	p->pinned_id = job->runner->id;
	free(p->reason);
	p->reason = NULL;
	job->rt = NULL; /* the runner owns it now */
	runner_start(p->current);
	if (old)
		runner_retire(old);
	if (stopping)
		runner_retire(p->current);
	if (job->kind == LOAD_RELOAD && strcmp(p->file, job->file)) {
		free(p->file);
		p->file = strdup(job->file);
	}
	free(p->code);
	p->code = job->code; /* exactly the bytes that ran */
	job->code = NULL;
	policy_save(p);
	prune_filters(p); /* a restore: folders the runtime before the crash had more */
}

int policy_loaded(struct load_job *job)
{
	struct policy *p = job->policy;

	p->busy = false;
	if (!job->rt) {
		load_failed(job, p);
		return -1;
	}
	load_done(job, p);
	return 0;
}

struct policy *policy_ended(struct message *msg)
{
	struct runner *r = msg->runner;
	struct policy *p = r->policy;

	if (r == p->current) {
		p->current = NULL;
		p->state = msg->state;
		free(p->reason);
		p->reason = msg->reason;
		msg->reason = NULL;
		runner_pin(r, msg->state);
		/* a policy that ended keeps no filter; at a stop they stay (fail-static) */
		if (!stopping && !p->busy)
			filters_remove(p->name);
		fprintf(stderr, "lbpfd: policy %s %s: %s\n", p->name, state_names[p->state],
			p->reason ? p->reason : "");
	} else {
		pin_runtime_delete(r->id);
	}
	p->runners--;
	runner_free(r);
	prune_filters(p); /* the old runner of a reload ended */
	return p->unloading && p->runners == 0 ? p : NULL;
}

bool policy_unload(struct policy *p, uint64_t conn)
{
	state_remove(p->name);
	p->unloading = true;
	p->unload_conn = conn;
	if (p->current)
		runner_retire(p->current);
	return p->runners == 0;
}

void policy_unloaded(struct policy *p)
{
	pin_runtime_delete(p->pinned_id);
	filters_remove(p->name);
}

/* state_restore's callback: loads one saved policy again. */
static int restore_one(const struct state_record *rec)
{
	struct policy *p;
	char *code;

	if (policy_find(rec->name))
		return -EEXIST;
	p = policy_name_valid(rec->name) ?
		    policy_new(rec->name, rec->file, rec->args, rec->nargs, rec->memory) : NULL;
	code = p ? state_script(rec->name) : NULL;
	if (!code) {
		fprintf(stderr, "lbpfd: cannot restore policy '%s'\n", rec->name);
		policy_free(p);
		return 0;
	}
	p->generation = rec->generation ? rec->generation : 1;
	p->trusted = rec->trusted;
	p->instructions = rec->instructions;
	/* a folder's policy runs its last good version until the folder is
	 * read, which reloads it if its file changed and unloads it if gone */
	if (rec->folder && !(p->dir_code = strdup(code))) {
		policy_free(p);
		free(code);
		return 0;
	}
	policy_link(p);
	fprintf(stderr, "lbpfd: restoring policy %s (%s, %s)\n", rec->name, rec->file,
		p->trusted ? "trusted" : "sandboxed");
	if (rec->untagged)
		fprintf(stderr, "lbpfd: policy %s: its record does not say whether it is trusted; "
			"it runs sandboxed (root may load it again with --trusted)\n", rec->name);
	if (policy_load(p, LOAD_RESTORE, 0, rec->file, code) < 0) {
		p->state = LBPF_STATE_FAILED;
		p->reason = strdup("cannot start a load thread");
	}
	free(code);
	return 0;
}

void policies_restore(void)
{
	state_restore(restore_one);
}

void policies_stop(void)
{
	struct policy *p;

	stopping = true;
	stop_started = lbpf_now();
	for (p = policies_first(); p; p = p->next)
		if (p->current)
			runner_retire(p->current);
}

bool policies_stopping(void)
{
	return stopping;
}

bool policies_stopped(void)
{
	struct policy *p;

	if (!stopping)
		return false;
	if (lbpf_now() - stop_started > STOP_TIMEOUT_NS) {
		fprintf(stderr, "lbpfd: policies still running after 10 s; exiting anyway\n");
		return true;
	}
	for (p = policies_first(); p; p = p->next)
		if (p->runners > 0 || p->busy)
			return false;
	return true;
}
