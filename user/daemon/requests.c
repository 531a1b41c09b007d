// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd's requests (load, unload, reload, list, logs, status) and what the
 * main thread does with the messages of load threads and workers. Replies
 * that wait for a load or an unload are sent by connection id, so a client
 * that went away meanwhile is simply not answered.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "daemon_internal.h"
#include "filter/filter.h"

#define SHUTDOWN_TIMEOUT_NS (10ull * 1000000000ull)

static const char *const state_names[] = { "loading", "running", "stopped", "failed" };

static uint64_t shutdown_started;

/* ---- replies ---- */

static void begin_ok(struct json_writer *w)
{
	json_object_begin(w);
	json_kv_bool(w, "ok", true);
}

static void send_ok(struct conn *c, struct json_writer *w)
{
	json_object_end(w);
	conn_send(c, w);
}

/* ---- validation ---- */

/* Policy names: [A-Za-z0-9_.-], 1 to 63 characters, not starting with '.' */
static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= LBPF_DAEMON_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* The name from a file: its base name without ".lua". */
static void name_from_file(const char *file, char *name, size_t size)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t n = strlen(base);

	if (n > 4 && !strcmp(base + n - 4, ".lua"))
		n -= 4;
	snprintf(name, size, "%.*s", (int)n, base);
}

/* The string field key, required; errors go to c. */
static const char *need_string(struct conn *c, const struct json *req, const char *key)
{
	const char *s = json_get_string(req, key);

	if (!s)
		conn_error(c, "%s: the \"%s\" field must be a string", json_get_string(req, "op"),
			   key);
	return s;
}

static struct policy *need_policy(struct conn *c, const struct json *req)
{
	const char *name = need_string(c, req, "name");
	struct policy *p = name ? policy_find(name) : NULL;

	if (name && !p)
		conn_error(c, "no policy named '%s' (see lbpf list)", name);
	else if (p && p->busy)
		conn_error(c, "policy '%s' is being loaded; try again when it is done", name);
	return p && !p->busy ? p : NULL;
}

/* ---- loads ---- */

static int submit(struct policy *p, enum load_kind kind, uint64_t conn, const char *file,
		  const char *code_path)
{
	struct load_job *job = calloc(1, sizeof(*job));

	if (!job || !(job->file = strdup(file)) || !(job->code_path = strdup(code_path)) ||
	    !(job->runner = runner_new(p))) {
		load_job_free(job);
		return -ENOMEM;
	}
	job->kind = kind;
	job->policy = p;
	job->conn = conn;
	if (conn_find(conn))
		conn_find(conn)->pending++;
	p->busy = true;
	if (load_start(job) < 0) {
		pin_runtime_delete(job->runner->id);
		runner_free(job->runner);
		load_job_free(job);
		p->busy = false;
		if (conn_find(conn))
			conn_find(conn)->pending--;
		return -EAGAIN;
	}
	return 0;
}

static void policy_link(struct policy *p)
{
	p->next = daemon_g.policies;
	daemon_g.policies = p;
}

static void policy_unlink(struct policy *p)
{
	struct policy **pp;

	for (pp = &daemon_g.policies; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* "args": [STR...] -> a NULL-terminated array of the strings (not copied). */
static int request_args(struct conn *c, const struct json *req, char ***out, int *n)
{
	const struct json *args = json_get(req, "args");
	size_t i;

	*n = 0;
	*out = NULL;
	if (!args)
		return 0;
	if (args->type != JSON_ARRAY || !(*out = calloc(args->len + 1, sizeof(char *))))
		goto bad;
	for (i = 0; i < args->len; i++) {
		if (args->items[i]->type != JSON_STRING)
			goto bad;
		(*out)[(*n)++] = args->items[i]->string;
	}
	return 0;
bad:
	free(*out);
	conn_error(c, "load: \"args\" must be an array of strings");
	return -EINVAL;
}

static int request_memory(struct conn *c, const struct json *req, size_t *memory)
{
	double m;

	*memory = daemon_g.opts.default_memory;
	if (!json_get(req, "memory"))
		return 0;
	if (!json_get_number(req, "memory", &m) || m < (256 << 10) || m > (double)(1ull << 40)) {
		conn_error(c, "load: \"memory\" must be a number of bytes, at least 256K");
		return -EINVAL;
	}
	*memory = (size_t)m;
	return 0;
}

static void op_load(struct conn *c, const struct json *req)
{
	const char *file = need_string(c, req, "file"), *given = json_get_string(req, "name");
	char name[LBPF_DAEMON_NAME_MAX + 8], **args;
	struct policy *p;
	size_t memory;
	int nargs;

	if (!file)
		return;
	if (file[0] != '/')
		return conn_error(c, "load: \"file\" must be an absolute path, got '%s'", file);
	if (json_get(req, "name") && !given)
		return conn_error(c, "load: the \"name\" field must be a string");
	name_from_file(file, name, sizeof(name));
	if (given)
		snprintf(name, sizeof(name), "%s", given);
	if (!valid_name(name))
		return conn_error(c, "load: '%s' is not a valid policy name (letters, digits, "
				     "'_', '.', '-'; at most 63; use --name)", name);
	if (policy_find(name))
		return conn_error(c, "load: a policy named '%s' is loaded already (lbpf reload %s, "
				     "or lbpf unload %s)", name, name, name);
	if (request_memory(c, req, &memory) || request_args(c, req, &args, &nargs))
		return;
	p = policy_new(name, file, args, nargs, memory);
	free(args);
	if (!p)
		return conn_error(c, "load: out of memory");
	p->generation = 1;
	policy_link(p);
	if (submit(p, LOAD_NEW, c->id, file, file) < 0) {
		policy_unlink(p);
		policy_free(p);
		conn_error(c, "load: cannot start a load thread");
	}
}

static void op_reload(struct conn *c, const struct json *req)
{
	struct policy *p = need_policy(c, req);
	const char *file = p ? json_get_string(req, "file") : NULL;

	if (!p)
		return;
	if (json_get(req, "file") && (!file || file[0] != '/'))
		return conn_error(c, "reload: \"file\" must be an absolute path");
	if (p->unloading)
		return conn_error(c, "reload: policy '%s' is being unloaded", p->name);
	if (!file)
		file = p->file;
	p->generation++;
	if (submit(p, LOAD_RELOAD, c->id, file, file) < 0) {
		p->generation--;
		conn_error(c, "reload: cannot start a load thread");
	}
}

void daemon_restore(const char *name, const char *file, char **args, int nargs, size_t memory,
		    uint32_t generation)
{
	struct policy *p = valid_name(name) ? policy_new(name, file, args, nargs, memory) : NULL;
	char *code = p ? state_script_path(name) : NULL;

	if (!code) {
		fprintf(stderr, "lbpfd: cannot restore policy '%s'\n", name);
		policy_free(p);
		return;
	}
	p->generation = generation ? generation : 1;
	policy_link(p);
	fprintf(stderr, "lbpfd: restoring policy %s (%s)\n", name, file);
	if (submit(p, LOAD_RESTORE, 0, file, code) < 0) {
		p->state = LBPF_STATE_FAILED;
		p->reason = strdup("cannot start a load thread");
	}
	free(code);
}

static void end_followers(struct policy *p, const char *reason);

/* Whether the current runtime of p holds PIN_DIR/n (or cannot say). */
static bool pin_held(struct policy *p, unsigned long n)
{
	bool held = true;

	pthread_mutex_lock(&daemon_g.lock);
	if (p->current && p->current->rt)
		held = n <= UINT_MAX && lbpf_runtime_pin_held(p->current->rt, n);
	pthread_mutex_unlock(&daemon_g.lock);
	return held;
}

/* The pin folders PIN_DIR/N that the current runtime did not take over (a
 * reload that made fewer filters, or whose attach at N failed) lose their
 * filters. Only when the current runner is alone and no load runs: a
 * retiring runtime still holds its pins, a loading one may adopt them. */
static void prune_filters(struct policy *p)
{
	char path[4096], *end;
	unsigned long n;
	struct dirent *d;
	DIR *dp;
	int err;

	if (!p->current || p->busy || p->runners != 1 || !p->pin_dir)
		return;
	if (!(dp = opendir(p->pin_dir)))
		return;
	while ((d = readdir(dp))) {
		n = strtoul(d->d_name, &end, 10);
		if (d->d_name[0] < '0' || d->d_name[0] > '9' || *end || pin_held(p, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->pin_dir, d->d_name);
		err = filter_pin_remove(path);
		if (err)
			fprintf(stderr, "lbpfd: cannot remove the filters pinned in %s: %s\n", path,
				strerror(-err));
	}
	closedir(dp);
}

static void load_failed(struct load_job *job, struct policy *p)
{
	pin_runtime_delete(job->runner->id);
	runner_free(job->runner);
	if (job->kind == LOAD_RELOAD) {
		p->generation--;
		conn_error_later(job->conn, "reload failed; the running policy was kept: %s",
				 job->error);
		prune_filters(p); /* what an earlier reload left while this one ran */
	} else if (job->kind == LOAD_RESTORE) {
		fprintf(stderr, "lbpfd: policy %s failed to restart: %s\n", p->name, job->error);
		p->state = LBPF_STATE_FAILED;
		free(p->reason);
		p->reason = strdup(job->error);
	} else {
		filters_remove(p->name);
		conn_error_later(job->conn, "%s", job->error);
		end_followers(p, "load failed");
		policy_unlink(p);
		policy_free(p);
	}
}

/* A body ran: the runner goes to the workers; a reload retires the old one. */
static void load_done(struct load_job *job, struct policy *p)
{
	struct runner *old = p->current;
	struct json_writer w = { 0 };

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
	if (daemon_g.shutting_down)
		runner_retire(p->current);
	if (job->kind == LOAD_RELOAD && strcmp(p->file, job->file)) {
		free(p->file);
		p->file = strdup(job->file);
	}
	state_save(p, job->code_path);
	prune_filters(p); /* a restore: folders the runtime before the crash had more */
	begin_ok(&w);
	json_kv_string(&w, "name", p->name);
	json_kv_string(&w, "state", job->running ? "running" : "stopped");
	json_kv_integer(&w, "generation", p->generation);
	json_object_end(&w);
	conn_send_later(job->conn, &w);
}

static void loaded(struct load_job *job)
{
	struct policy *p = job->policy;

	p->busy = false;
	if (job->rt)
		load_done(job, p);
	else
		load_failed(job, p);
	load_job_free(job);
}

/* ---- unload and the end of runners ---- */

/* Followers of p's log get the last lines and an end. */
static void end_followers(struct policy *p, const char *reason)
{
	struct conn *c;

	ops_flush_followers();
	for (c = daemon_g.conns; c; c = c->next) {
		struct json_writer w = { 0 };

		if (c->follow != p)
			continue;
		begin_ok(&w);
		json_kv_bool(&w, "end", true);
		json_kv_string(&w, "reason", reason);
		send_ok(c, &w);
		c->follow = NULL;
		conn_close_later(c);
	}
}

static void unload_finish(struct policy *p)
{
	struct json_writer w = { 0 };

	pin_runtime_delete(p->pinned_id);
	filters_remove(p->name);
	end_followers(p, "unloaded");
	begin_ok(&w);
	json_kv_string(&w, "name", p->name);
	json_object_end(&w);
	conn_send_later(p->unload_conn, &w);
	policy_unlink(p);
	policy_free(p);
}

static void op_unload(struct conn *c, const struct json *req)
{
	struct policy *p = need_policy(c, req);

	if (!p)
		return;
	if (p->unloading)
		return conn_error(c, "unload: policy '%s' is being unloaded already", p->name);
	state_remove(p->name);
	p->unloading = true;
	p->unload_conn = c->id;
	c->pending++;
	if (p->current)
		runner_retire(p->current);
	if (p->runners == 0)
		unload_finish(p);
}

static void ended(struct message *msg)
{
	struct runner *r = msg->runner;
	struct policy *p = r->policy;

	if (r == p->current) {
		p->current = NULL;
		p->state = msg->state;
		free(p->reason);
		p->reason = msg->reason;
		msg->reason = NULL;
		pin_runtime(r, msg->state);
		/* a policy that ended keeps no filter; at a stop they stay (fail-static) */
		if (!daemon_g.shutting_down && !p->busy)
			filters_remove(p->name);
		fprintf(stderr, "lbpfd: policy %s %s: %s\n", p->name, state_names[p->state],
			p->reason ? p->reason : "");
	} else {
		pin_runtime_delete(r->id);
	}
	p->runners--;
	runner_free(r);
	prune_filters(p); /* the old runner of a reload ended */
	if (p->unloading && p->runners == 0)
		unload_finish(p);
}

void ops_message(struct message *msg)
{
	if (msg->kind == MSG_LOADED)
		loaded(msg->job);
	else if (msg->kind == MSG_ENDED)
		ended(msg);
	free(msg->reason);
	free(msg);
}

/* ---- list, logs, status ---- */

static void policy_json(struct json_writer *w, struct policy *p)
{
	uint64_t events, errors;
	size_t memory;
	char *kinds = NULL, *s, *save = NULL;

	policy_numbers(p, &events, &errors, &memory);
	json_object_begin(w);
	json_kv_string(w, "name", p->name);
	json_kv_string(w, "state", state_names[p->state]);
	json_kv_string(w, "reason", p->reason ? p->reason : "");
	json_kv_string(w, "file", p->file);
	json_kv_integer(w, "uptime_s", p->current ? (long long)((lbpf_now() - p->started_ns) / 1000000000ull) : 0);
	json_kv_integer(w, "generation", p->generation);
	json_key(w, "attach");
	json_array_begin(w);
	pthread_mutex_lock(&daemon_g.lock);
	if (p->current && p->current->kinds)
		kinds = strdup(p->current->kinds);
	pthread_mutex_unlock(&daemon_g.lock);
	for (s = kinds ? strtok_r(kinds, ",", &save) : NULL; s; s = strtok_r(NULL, ",", &save))
		json_string(w, s);
	free(kinds);
	json_array_end(w);
	json_kv_integer(w, "events", events);
	json_kv_integer(w, "errors", errors);
	json_kv_integer(w, "lost", atomic_load(&p->lost));
	json_kv_integer(w, "memory", memory);
	json_kv_integer(w, "memory_limit", p->memory);
	json_object_end(w);
}

static void op_list(struct conn *c, const struct json *req)
{
	struct json_writer w = { 0 };
	struct policy *p;

	begin_ok(&w);
	json_key(&w, "policies");
	json_array_begin(&w);
	for (p = daemon_g.policies; p; p = p->next)
		policy_json(&w, p);
	json_array_end(&w);
	send_ok(c, &w);
}

static void add_line(void *ctx, const char *line)
{
	json_string(ctx, line);
}

static void op_logs(struct conn *c, const struct json *req)
{
	const char *name = need_string(c, req, "name");
	struct policy *p = name ? policy_find(name) : NULL;
	struct json_writer w = { 0 };

	if (!name)
		return;
	if (!p)
		return conn_error(c, "no policy named '%s' (see lbpf list)", name);
	begin_ok(&w);
	json_key(&w, "lines");
	json_array_begin(&w);
	c->follow_seq = policy_log_lines(p, 0, add_line, &w);
	json_array_end(&w);
	send_ok(c, &w);
	if (json_get_bool(req, "follow", false) && !c->follow) {
		c->follow = p;
		atomic_fetch_add(&p->followers, 1);
	}
}

/* What the kernel supports, probed once at start. */
static struct {
	const char *name;
	bool ok;
} features[8];
static char kernel_release[sizeof(((struct utsname *)0)->release) * 2 + 2];

void features_probe(void)
{
	struct utsname u;
	int i = 0;

	if (uname(&u) == 0)
		snprintf(kernel_release, sizeof(kernel_release), "%s %s", u.release, u.machine);
	features[i].name = "tracepoint";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) > 0;
	features[i].name = "kprobe";
	features[i++].ok = access("/sys/bus/event_source/devices/kprobe", F_OK) == 0;
	features[i].name = "uprobe";
	features[i++].ok = access("/sys/bus/event_source/devices/uprobe", F_OK) == 0;
	features[i].name = "fentry";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) > 0;
	features[i].name = "xdp";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) > 0;
	features[i].name = "ringbuf";
	features[i++].ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) > 0;
	features[i].name = "tracefs";
	features[i++].ok = access("/sys/kernel/tracing/events", F_OK) == 0;
	features[i].name = "bpffs";
	features[i++].ok = access("/sys/fs/bpf", F_OK) == 0;
}

void features_write(struct json_writer *w)
{
	size_t i;

	json_kv_string(w, "kernel", kernel_release);
	json_key(w, "features");
	json_object_begin(w);
	for (i = 0; i < ARRAY_SIZE(features) && features[i].name; i++)
		json_kv_bool(w, features[i].name, features[i].ok);
	json_object_end(w);
}

static void op_status(struct conn *c, const struct json *req)
{
	struct json_writer w = { 0 };
	struct policy *p;
	int n = 0;

	for (p = daemon_g.policies; p; p = p->next)
		n++;
	begin_ok(&w);
	json_kv_string(&w, "version", LBPF_VERSION);
	json_kv_integer(&w, "pid", getpid());
	json_kv_integer(&w, "uptime_s", (lbpf_now() - daemon_g.started_ns) / 1000000000ull);
	json_kv_integer(&w, "policies", n);
	json_kv_integer(&w, "workers", daemon_g.opts.workers);
	json_kv_string(&w, "socket", daemon_g.opts.socket_path);
	json_kv_string(&w, "state_dir", daemon_g.opts.state_dir);
	json_kv_string(&w, "bpffs", daemon_g.opts.bpffs);
	features_write(&w);
	send_ok(c, &w);
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	void (*fn)(struct conn *c, const struct json *req);
} ops[] = {
	{ "load", op_load },
	{ "unload", op_unload },
	{ "reload", op_reload },
	{ "list", op_list },
	{ "logs", op_logs },
	{ "status", op_status },
};

void ops_request(struct conn *c, const char *line, size_t len)
{
	char err[128];
	struct json *req;
	const char *op;
	size_t i;

	if (len && line[len - 1] == '\r')
		len--;
	if (!(req = json_parse(line, len, err, sizeof(err))))
		return conn_error(c, "malformed request: %s", errno == ENOMEM ? "out of memory" : err);
	op = json_get_string(req, "op");
	if (req->type != JSON_OBJECT || !op) {
		conn_error(c, "malformed request: expected an object with an \"op\" string");
	} else if (daemon_g.shutting_down) {
		conn_error(c, "lbpfd is shutting down");
	} else {
		for (i = 0; i < ARRAY_SIZE(ops) && strcmp(ops[i].name, op); i++)
			;
		if (i < ARRAY_SIZE(ops))
			ops[i].fn(c, req);
		else
			conn_error(c, "unknown op '%s' (load, unload, reload, list, logs, status)", op);
	}
	json_free(req);
}

static void send_line(void *ctx, const char *line)
{
	struct conn *c = ctx;
	struct json_writer w = { 0 };

	begin_ok(&w);
	json_kv_string(&w, "line", line);
	send_ok(c, &w);
}

void ops_flush_followers(void)
{
	struct conn *c, *next;

	for (c = daemon_g.conns; c; c = next) {
		next = c->next;
		if (!c->follow)
			continue;
		c->follow_seq = policy_log_lines(c->follow, c->follow_seq, send_line, c);
	}
}

void ops_conn_closed(struct conn *c)
{
	if (c->follow)
		atomic_fetch_sub(&c->follow->followers, 1);
	c->follow = NULL;
}

/* SIGTERM: every runner stops (its on_exit handlers run); the state folder
 * keeps the policies for the next start. */
void ops_shutdown(void)
{
	struct policy *p;

	daemon_g.shutting_down = true;
	shutdown_started = lbpf_now();
	for (p = daemon_g.policies; p; p = p->next)
		if (p->current)
			runner_retire(p->current);
}

bool ops_shutdown_done(void)
{
	struct policy *p;

	if (lbpf_now() - shutdown_started > SHUTDOWN_TIMEOUT_NS) {
		fprintf(stderr, "lbpfd: policies still running after 10 s; exiting anyway\n");
		return true;
	}
	for (p = daemon_g.policies; p; p = p->next)
		if (p->runners > 0 || p->busy)
			return false;
	return true;
}
