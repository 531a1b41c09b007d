// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The policy table: what users loaded (name, file, limits) and each
 * policy's log, a ring of its last lines. The table is the main thread's;
 * a log is written by whichever thread runs the policy's runtime.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pins.h"
#include "policies.h"
#include "protocol/output_json.h"

static struct policy *policies; /* main thread */

bool policy_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= LBPF_DAEMON_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

struct policy *policy_new(const char *name, const char *file, char **args, int nargs,
			  size_t memory)
{
	struct policy *p = calloc(1, sizeof(*p));
	int i;

	if (!p || !(p->file = strdup(file)) || !(p->args = calloc(nargs + 1, sizeof(char *))))
		goto cleanup;
	if (!(p->pin_dir = pin_filter_dir(name)))
		goto cleanup;
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
	for (i = 0; i < LBPF_DAEMON_LOG_LINES; i++) {
		free(p->log.lines[i].line);
		free(p->log.lines[i].json);
	}
	free(p->args);
	free(p->file);
	free(p->code);
	free(p->reason);
	free(p->dir_code);
	free(p->load_error);
	free(p->pin_dir);
	free(p);
}

struct policy *policy_find(const char *name)
{
	struct policy *p;

	for (p = policies; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

struct policy *policies_first(void)
{
	return policies;
}

void policy_link(struct policy *p)
{
	p->next = policies;
	policies = p;
}

void policy_drop(struct policy *p)
{
	struct policy **pp;

	for (pp = &policies; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	policy_free(p);
}

/* A copy of line[0, len) cut to LBPF_DAEMON_LOG_LINE_MAX bytes with a note
 * of how much was cut, or NULL; *cut says whether it was. */
static char *cut_copy(const char *line, size_t len, bool *cut)
{
	char *copy;

	*cut = len > LBPF_DAEMON_LOG_LINE_MAX;
	if (!*cut)
		return strndup(line, len);
	if (asprintf(&copy, "%.*s... [%zu bytes cut]", LBPF_DAEMON_LOG_LINE_MAX, line,
		     len - LBPF_DAEMON_LOG_LINE_MAX) < 0)
		return NULL;
	return copy;
}

/* Keeps one line (NULL: none people see) and json (taken; may be NULL) in
 * p's ring, over the oldest, the line cut to LBPF_DAEMON_LOG_LINE_MAX
 * bytes: the ring lives outside the policy's memory limit, so it must be
 * bounded. */
static void log_add(struct policy *p, const char *line, size_t len, char *json)
{
	bool cut = false;
	char *copy = NULL;
	size_t slot;

	if (line && !(copy = cut_copy(line, len, &cut)))
		copy = strdup("(out of memory)");
	pthread_mutex_lock(&p->log.lock);
	p->log.cut += cut;
	slot = p->log.seq++ % LBPF_DAEMON_LOG_LINES;
	free(p->log.lines[slot].line);
	free(p->log.lines[slot].json);
	p->log.lines[slot].line = copy;
	p->log.lines[slot].json = json;
	pthread_mutex_unlock(&p->log.lock);
}

/* What stands for a record whose JSON is over the limit. */
static void json_too_long(struct json_writer *w, struct policy *p, size_t len, size_t cap)
{
	char text[160];

	snprintf(text, sizeof(text), "a record of %zu bytes of JSON, over the log's %zu, was left out",
		 len, cap);
	json_writer_free(w);
	w->spaced = true;
	json_object_begin(w);
	json_output_record(w, &(struct lbpf_output){ .kind = LBPF_OUTPUT_LOG, .text = text });
	pthread_mutex_lock(&p->log.lock);
	p->log.cut++;
	pthread_mutex_unlock(&p->log.lock);
}

/* rec's JSON line with the policy's name and the time, at most cap bytes
 * (malloc'd), or NULL when it has none. */
static char *record_json(struct policy *p, const struct lbpf_output *rec, size_t cap)
{
	struct json_writer w = { .spaced = true };
	char *json;

	json_object_begin(&w);
	if (!json_output_record(&w, rec)) {
		json_writer_free(&w);
		return NULL;
	}
	if (w.len > cap)
		json_too_long(&w, p, w.len, cap);
	json_kv_string(&w, "policy", p->name);
	json_key(&w, "time");
	json_number(&w, floor(lbpf_time() * 1000) / 1000);
	json_object_end(&w);
	json = w.failed ? NULL : w.data;
	if (w.failed)
		json_writer_free(&w);
	return json;
}

/* lbpf's own lines also go to the daemon's stderr, with the policy's name. */
static void echo_diagnostic(struct policy *p, const struct lbpf_output *rec, const char *text)
{
	if (lbpf_output_diagnostic(rec) && !strncmp(text, "lbpf: ", 6))
		fprintf(stderr, "lbpfd: [%s] %.*s\n", p->name, LBPF_DAEMON_LOG_LINE_MAX, text + 6);
}

/* A follower is told by a message, as the record may come from any thread. */
static void wake_followers(struct policy *p)
{
	struct message *msg;

	if (atomic_load(&p->followers) <= 0 || !(msg = calloc(1, sizeof(*msg))))
		return;
	msg->kind = MSG_LOG;
	daemon_post(msg);
}

/* Keeps text's lines, the first with json (taken). */
static size_t keep_lines(struct policy *p, const char *text, char *json)
{
	const char *nl;
	size_t n = 1;

	while ((nl = strchr(text, '\n'))) {
		log_add(p, text, nl - text, json);
		json = NULL;
		text = nl + 1;
		n++;
	}
	log_add(p, text, strlen(text), json);
	return n;
}

/* A printed or logged text longer than a line may keep is cut as its line
 * is, so that its JSON stays within the ring's bounds too. */
static char *cut_text(const struct lbpf_output *rec, struct lbpf_output *copy)
{
	bool cut;
	char *text;

	*copy = *rec;
	if ((rec->kind != LBPF_OUTPUT_PRINT && rec->kind != LBPF_OUTPUT_LOG) ||
	    strlen(rec->text) <= LBPF_DAEMON_LOG_LINE_MAX)
		return NULL;
	text = cut_copy(rec->text, strlen(rec->text), &cut);
	copy->text = text ? text : "(out of memory)";
	return text;
}

void policy_output(void *ctx, const struct lbpf_output *rec)
{
	struct policy *p = ctx;
	struct lbpf_output cut;
	char *shorter = cut_text(rec, &cut);
	char *text = lbpf_output_text(rec);
	size_t lines = 1;
	char *json;

	if (text) {
		echo_diagnostic(p, rec, text);
		for (const char *c = text; *c; c++)
			lines += *c == '\n';
	}
	json = record_json(p, &cut, lines * (LBPF_DAEMON_LOG_LINE_MAX + 256));
	if (!text)
		log_add(p, "(out of memory)", 15, json);
	else if (*text || rec->kind == LBPF_OUTPUT_PRINT)
		keep_lines(p, text, json);
	else if (json)
		log_add(p, NULL, 0, json);
	free(text);
	free(shorter);
	wake_followers(p);
}

void policy_log(struct policy *p, const char *line)
{
	struct lbpf_output rec = { .kind = LBPF_OUTPUT_LOG };

	rec.text = strncmp(line, "lbpf: ", 6) ? line : line + 6;
	policy_output(p, &rec);
}

void policy_log_counts(struct policy *p, uint64_t *lines, uint64_t *cut)
{
	pthread_mutex_lock(&p->log.lock);
	*lines = p->log.seq;
	*cut = p->log.cut;
	pthread_mutex_unlock(&p->log.lock);
}

uint64_t policy_log_lines(struct policy *p, uint64_t from, bool json,
			  void (*fn)(void *, const char *), void *ctx)
{
	struct log_entry *e;
	uint64_t i, seq;

	pthread_mutex_lock(&p->log.lock);
	seq = p->log.seq;
	if (seq > LBPF_DAEMON_LOG_LINES && from < seq - LBPF_DAEMON_LOG_LINES)
		from = seq - LBPF_DAEMON_LOG_LINES;
	for (i = from; i < seq; i++) {
		e = &p->log.lines[i % LBPF_DAEMON_LOG_LINES];
		if (json ? e->json != NULL : e->line != NULL)
			fn(ctx, json ? e->json : e->line);
	}
	pthread_mutex_unlock(&p->log.lock);
	return seq;
}
