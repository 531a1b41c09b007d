// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The policy table: what users loaded (name, file, limits) and each
 * policy's log, a ring of its last lines. The table is the main thread's;
 * a log is written by whichever thread runs the policy's runtime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pins.h"
#include "policies.h"

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
	for (i = 0; i < LBPF_DAEMON_LOG_LINES; i++)
		free(p->log.lines[i]);
	free(p->args);
	free(p->file);
	free(p->code);
	free(p->reason);
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

/* Keeps one line in p's ring, over the oldest, cut to
 * LBPF_DAEMON_LOG_LINE_MAX bytes (with a note of how much was cut): the ring
 * lives outside the policy's memory limit, so it must be bounded. */
static void log_add(struct policy *p, const char *line, size_t len)
{
	bool cut = len > LBPF_DAEMON_LOG_LINE_MAX;
	char *copy;
	size_t slot;

	if (cut) {
		if (asprintf(&copy, "%.*s... [%zu bytes cut]", LBPF_DAEMON_LOG_LINE_MAX, line,
			     len - LBPF_DAEMON_LOG_LINE_MAX) < 0)
			copy = NULL;
	} else {
		copy = strndup(line, len);
	}
	pthread_mutex_lock(&p->log.lock);
	p->log.cut += cut;
	slot = p->log.seq++ % LBPF_DAEMON_LOG_LINES;
	free(p->log.lines[slot]);
	p->log.lines[slot] = copy ? copy : strdup("(out of memory)");
	pthread_mutex_unlock(&p->log.lock);
}

/* print() and lbpf's own lines; lbpf's also go to the daemon's stderr, with
 * the policy's name. A follower is told by a message, as the line may come
 * from any thread. */
void policy_log(void *ctx, const char *line)
{
	struct policy *p = ctx;
	const char *nl;

	if (!strncmp(line, "lbpf: ", 6))
		fprintf(stderr, "lbpfd: [%s] %.*s\n", p->name, LBPF_DAEMON_LOG_LINE_MAX, line + 6);
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

void policy_log_counts(struct policy *p, uint64_t *lines, uint64_t *cut)
{
	pthread_mutex_lock(&p->log.lock);
	*lines = p->log.seq;
	*cut = p->log.cut;
	pthread_mutex_unlock(&p->log.lock);
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
