// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd's requests (load, unload, reload, list, logs, status): each checks
 * its fields, asks the policy part (life.c) to act, and answers. Loads and
 * unloads answer later, when the messages of load threads and workers say
 * how they ended; those replies name their client by id, so a client that
 * went away meanwhile is simply not answered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "features.h"
#include "policies.h"
#include "requests.h"

static const char *const state_names[] = { "loading", "running", "stopped", "failed" };

static const struct daemon_options *opts;
static uint64_t started_ns;

void requests_init(const struct daemon_options *options)
{
	opts = options;
	started_ns = lbpf_now();
}

/* ---- validation ---- */

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
static const char *need_string(struct client *c, const struct json *req, const char *key)
{
	const char *s = json_get_string(req, key);

	if (!s)
		client_error(c, "%s: the \"%s\" field must be a string", json_get_string(req, "op"),
			   key);
	return s;
}

/* The loaded policy the "name" field names, not busy loading; errors go to c. */
static struct policy *need_policy(struct client *c, const struct json *req)
{
	const char *name = need_string(c, req, "name");
	struct policy *p = name ? policy_find(name) : NULL;

	if (name && !p)
		client_error(c, "no policy named '%s' (see lbpf list)", name);
	else if (p && p->busy)
		client_error(c, "policy '%s' is being loaded; try again when it is done", name);
	return p && !p->busy ? p : NULL;
}

/* ---- load, reload, unload ---- */

/* "args": [STR...] -> a NULL-terminated array of the strings (not copied). */
static int request_args(struct client *c, const struct json *req, char ***out, int *n)
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
	client_error(c, "load: \"args\" must be an array of strings");
	return -EINVAL;
}

/* "memory": BYTES, or the default; errors go to c. */
static int request_memory(struct client *c, const struct json *req, size_t *memory)
{
	double m;

	*memory = opts->default_memory;
	if (!json_get(req, "memory"))
		return 0;
	if (!json_get_number(req, "memory", &m) || m < (256 << 10) || m > (double)(1ull << 40)) {
		client_error(c, "load: \"memory\" must be a number of bytes, at least 256K");
		return -EINVAL;
	}
	*memory = (size_t)m;
	return 0;
}

/* "code": the script's source, which the client read (lbpfd opens no path
 * a client names); NULL after an error to c. */
static const char *request_code(struct client *c, const struct json *req, const char *op)
{
	const char *code = json_get_string(req, "code");

	if (!code)
		client_error(c, "%s: the \"code\" field must be a string: the script's source "
			     "(lbpf %s sends it; lbpfd does not open the file)", op, op);
	else if (code[0] == LUA_SIGNATURE[0])
		client_error(c, "%s: the code must be Lua source, not precompiled bytecode", op);
	return code && code[0] != LUA_SIGNATURE[0] ? code : NULL;
}

/* "trusted": true asks for the full library, which only root may have
 * (SO_PEERCRED uid 0); *trusted is false otherwise. Errors go to c. */
static int request_trust(struct client *c, const struct json *req, bool *trusted)
{
	const struct json *t = json_get(req, "trusted");

	*trusted = false;
	if (t && t->type != JSON_TRUE && t->type != JSON_FALSE) {
		client_error(c, "load: \"trusted\" must be true or false");
		return -EINVAL;
	}
	*trusted = json_get_bool(req, "trusted", false);
	if (*trusted && c->uid != 0) {
		client_error(c, "load: only root may load a trusted policy (uid %u asked for one); "
			     "without --trusted the policy runs sandboxed", (unsigned)c->uid);
		return -EPERM;
	}
	return 0;
}

/* load: a new policy; the reply waits for its body (loaded()). */
static void op_load(struct client *c, const struct json *req)
{
	const char *file = need_string(c, req, "file"), *given = json_get_string(req, "name");
	const char *code;
	char name[LBPF_DAEMON_NAME_MAX + 8], **args;
	struct policy *p;
	size_t memory;
	bool trusted;
	int nargs;

	if (!file)
		return;
	if (file[0] != '/')
		return client_error(c, "load: \"file\" must be an absolute path, got '%s'", file);
	if (!(code = request_code(c, req, "load")) || request_trust(c, req, &trusted))
		return;
	if (json_get(req, "name") && !given)
		return client_error(c, "load: the \"name\" field must be a string");
	name_from_file(file, name, sizeof(name));
	if (given)
		snprintf(name, sizeof(name), "%s", given);
	if (!policy_name_valid(name))
		return client_error(c, "load: '%s' is not a valid policy name (letters, digits, "
				     "'_', '.', '-'; at most 63; use --name)", name);
	if (policy_find(name))
		return client_error(c, "load: a policy named '%s' is loaded already (lbpf reload "
				     "%s, or lbpf unload %s)", name, name, name);
	if (request_memory(c, req, &memory) || request_args(c, req, &args, &nargs))
		return;
	p = policy_new(name, file, args, nargs, memory);
	free(args);
	if (!p)
		return client_error(c, "load: out of memory");
	p->generation = 1;
	p->trusted = trusted;
	policy_link(p);
	if (policy_load(p, LOAD_NEW, c->id, file, code) < 0) {
		policy_drop(p);
		return client_error(c, "load: cannot start a load thread");
	}
	c->pending++;
}

/* reload: make-before-break, with the code sent or the code that runs; the
 * policy stays trusted or sandboxed. The reply waits for the new body. */
static void op_reload(struct client *c, const struct json *req)
{
	struct policy *p = need_policy(c, req);
	const char *file = p ? json_get_string(req, "file") : NULL, *code = NULL;

	if (!p)
		return;
	if (json_get(req, "file") && (!file || file[0] != '/'))
		return client_error(c, "reload: \"file\" must be an absolute path");
	if (json_get(req, "code") && !(code = request_code(c, req, "reload")))
		return;
	if (json_get(req, "trusted"))
		return client_error(c, "reload: a policy keeps the trust it was loaded with; to "
				    "change it, unload it and load it again");
	if (p->trusted && c->uid != 0)
		return client_error(c, "reload: policy '%s' is trusted; only root may reload it",
				    p->name);
	if (p->unloading)
		return client_error(c, "reload: policy '%s' is being unloaded", p->name);
	if (!file)
		file = p->file;
	if (!code && !(code = p->code))
		return client_error(c, "reload: policy '%s' has no code to run again; send it "
				    "(lbpf reload %s FILE)", p->name, p->name);
	p->generation++;
	if (policy_load(p, LOAD_RELOAD, c->id, file, code) < 0) {
		p->generation--;
		return client_error(c, "reload: cannot start a load thread");
	}
	c->pending++;
}

/* A load or reload of p failed: kept in p for list and the metrics. */
static void note_failure(struct policy *p, const char *error)
{
	char line[600];

	p->load_failures++;
	free(p->load_error);
	p->load_error = strdup(error ? error : "?");
	if (p->dir_code) {
		snprintf(line, sizeof(line), "lbpf: policy folder: %s failed: %.500s",
			 p->current ? "reload" : "load", p->load_error);
		policy_log(p, line);
		fprintf(stderr, "lbpfd: [%s] %s\n", p->name, line + 6);
	}
}

/* MSG_LOADED: the reply to whoever waits for the load. */
static void loaded(struct load_job *job)
{
	struct policy *p = job->policy;
	struct json_writer w = { 0 };

	if (!policy_loaded(job)) {
		free(p->load_error);
		p->load_error = NULL;
		reply_begin_ok(&w);
		json_kv_string(&w, "name", p->name);
		json_kv_string(&w, "state", job->running ? "running" : "stopped");
		json_kv_integer(&w, "generation", p->generation);
		json_object_end(&w);
		client_send_later(job->conn, &w);
	} else if (job->kind == LOAD_RELOAD) {
		note_failure(p, job->error);
		client_error_later(job->conn, "reload failed; the running policy was kept: %s",
				   job->error);
	} else if (job->kind == LOAD_NEW && p->dir_code) {
		note_failure(p, job->error); /* listed as failed until its file changes */
		p->state = LBPF_STATE_FAILED;
		free(p->reason);
		p->reason = strdup(job->error ? job->error : "?");
	} else if (job->kind == LOAD_NEW) {
		client_error_later(job->conn, "%s", job->error);
		clients_end_followers(p, "load failed");
		policy_drop(p);
	}
	load_job_free(job);
}

/* ---- unload and the end of runners ---- */

/* The last of an unload: its followers end, its client is answered. */
static void unload_finish(struct policy *p)
{
	struct json_writer w = { 0 };

	policy_unloaded(p);
	clients_end_followers(p, "unloaded");
	reply_begin_ok(&w);
	json_kv_string(&w, "name", p->name);
	json_object_end(&w);
	client_send_later(p->unload_conn, &w);
	policy_drop(p);
}

/* unload: the reply waits until no runner of the policy is left. */
static void op_unload(struct client *c, const struct json *req)
{
	struct policy *p = need_policy(c, req);

	if (!p)
		return;
	if (p->unloading)
		return client_error(c, "unload: policy '%s' is being unloaded already", p->name);
	c->pending++;
	if (policy_unload(p, c->id))
		unload_finish(p);
}

void requests_unload(struct policy *p)
{
	if (policy_unload(p, 0))
		unload_finish(p);
}

/* Handles what load threads and workers posted, oldest first; followers
 * get the new lines of their logs once for all. */
void requests_messages(void)
{
	struct message *msg, *next;
	struct policy *p;
	bool log = false;

	for (msg = mailbox_take(); msg; msg = next) {
		next = msg->next;
		if (msg->kind == MSG_LOG)
			log = true;
		else if (msg->kind == MSG_LOADED)
			loaded(msg->job);
		else if (msg->kind == MSG_ENDED && (p = policy_ended(msg)))
			unload_finish(p);
		free(msg->reason);
		free(msg);
	}
	if (log)
		clients_flush_followers();
}

/* ---- list, logs, status ---- */

/* One entry of the list reply. */
static void policy_json(struct json_writer *w, struct policy *p)
{
	uint64_t events, errors, lines, cut;
	size_t memory;
	char *kinds = NULL, *s, *save = NULL;

	policy_numbers(p, &events, &errors, &memory);
	json_object_begin(w);
	json_kv_string(w, "name", p->name);
	json_kv_string(w, "state", state_names[p->state]);
	json_kv_string(w, "reason", p->reason ? p->reason : "");
	json_kv_string(w, "file", p->file);
	json_kv_bool(w, "trusted", p->trusted);
	json_kv_integer(w, "uptime_s",
			p->current ? (long long)((lbpf_now() - p->started_ns) / 1000000000ull) : 0);
	json_kv_integer(w, "generation", p->generation);
	json_key(w, "attach");
	json_array_begin(w);
	if (p->current)
		kinds = runner_kinds(p->current);
	for (s = kinds ? strtok_r(kinds, ",", &save) : NULL; s; s = strtok_r(NULL, ",", &save))
		json_string(w, s);
	free(kinds);
	json_array_end(w);
	json_kv_integer(w, "events", events);
	json_kv_integer(w, "errors", errors);
	json_kv_integer(w, "lost", atomic_load(&p->lost));
	json_kv_integer(w, "memory", memory);
	json_kv_integer(w, "memory_limit", p->memory);
	json_kv_string(w, "source", p->dir_code ? "folder" : "client");
	json_kv_string(w, "load_error", p->load_error ? p->load_error : "");
	json_kv_integer(w, "load_failures", p->load_failures);
	policy_log_counts(p, &lines, &cut);
	json_kv_integer(w, "log_lines", lines);
	json_kv_integer(w, "log_dropped", lines > LBPF_DAEMON_LOG_LINES ?
					  lines - LBPF_DAEMON_LOG_LINES : 0);
	json_kv_integer(w, "log_cut", cut);
	json_object_end(w);
}

/* list: every policy, newest first. */
static void op_list(struct client *c, const struct json *req)
{
	struct json_writer w = { 0 };
	struct policy *p;

	reply_begin_ok(&w);
	json_key(&w, "policies");
	json_array_begin(&w);
	for (p = policies_first(); p; p = p->next)
		policy_json(&w, p);
	json_array_end(&w);
	client_send_ok(c, &w);
}

/* policy_log_lines' callback: a line into the writer ctx. */
static void add_line(void *ctx, const char *line)
{
	json_string(ctx, line);
}

/* logs: the kept lines; with follow, the new ones as they come. With
 * "format":"json", each line is the JSON line of a kept record. */
static void op_logs(struct client *c, const struct json *req)
{
	const char *name = need_string(c, req, "name");
	const char *format = json_get_string(req, "format");
	struct policy *p = name ? policy_find(name) : NULL;
	struct json_writer w = { 0 };

	if (!name)
		return;
	if (format && strcmp(format, "text") && strcmp(format, "json"))
		return client_error(c, "logs: format '%s': expected text or json", format);
	if (!p)
		return client_error(c, "no policy named '%s' (see lbpf list)", name);
	c->follow_json = format && !strcmp(format, "json");
	reply_begin_ok(&w);
	json_key(&w, "lines");
	json_array_begin(&w);
	c->follow_seq = policy_log_lines(p, 0, c->follow_json, add_line, &w);
	json_array_end(&w);
	client_send_ok(c, &w);
	if (json_get_bool(req, "follow", false) && !c->follow) {
		c->follow = p;
		atomic_fetch_add(&p->followers, 1);
	}
}

/* status: the daemon, its options and the kernel's features. */
static void op_status(struct client *c, const struct json *req)
{
	struct json_writer w = { 0 };
	struct policy *p;
	int n = 0;

	for (p = policies_first(); p; p = p->next)
		n++;
	reply_begin_ok(&w);
	json_kv_string(&w, "version", LBPF_VERSION);
	json_kv_integer(&w, "pid", getpid());
	json_kv_integer(&w, "uptime_s", (lbpf_now() - started_ns) / 1000000000ull);
	json_kv_integer(&w, "policies", n);
	json_kv_integer(&w, "workers", opts->workers);
	json_kv_string(&w, "socket", opts->socket_path);
	json_kv_string(&w, "state_dir", opts->state_dir);
	json_kv_string(&w, "bpffs", opts->bpffs);
	features_write(&w);
	client_send_ok(c, &w);
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	void (*fn)(struct client *c, const struct json *req);
} ops[] = {
	{ "load", op_load },
	{ "unload", op_unload },
	{ "reload", op_reload },
	{ "list", op_list },
	{ "logs", op_logs },
	{ "status", op_status },
};

void requests_line(struct client *c, const char *line, size_t len)
{
	char err[128];
	struct json *req;
	const char *op;
	size_t i;

	if (len && line[len - 1] == '\r')
		len--;
	if (!(req = json_parse(line, len, err, sizeof(err))))
		return client_error(c, "malformed request: %s",
				    errno == ENOMEM ? "out of memory" : err);
	op = json_get_string(req, "op");
	if (req->type != JSON_OBJECT || !op) {
		client_error(c, "malformed request: expected an object with an \"op\" string");
	} else if (policies_stopping()) {
		client_error(c, "lbpfd is shutting down");
	} else {
		for (i = 0; i < ARRAY_SIZE(ops) && strcmp(ops[i].name, op); i++)
			;
		if (i < ARRAY_SIZE(ops))
			ops[i].fn(c, req);
		else
			client_error(c, "unknown op '%s' (load, unload, reload, list, logs, "
					"status)", op);
	}
	json_free(req);
}
