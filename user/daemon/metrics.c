// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd --metrics ADDR: the Prometheus text format over HTTP/1.0 (GET
 * /metrics). Per policy: events, errors, lost events and memory; then the
 * metrics policies declared with lbpf.metric.counter/gauge and the samples of
 * the metric sources (the packet filters' counters), labelled with their
 * policy. The sockets and connections are the server's (server.c, conns.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/metric.h"
#include "policies.h"
#include "requests.h"

static void printf_raw(struct json_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* printf into w, whole whatever its length (a cut line would lose its
 * newline and corrupt the next sample). On no memory the writer fails. */
static void printf_raw(struct json_writer *w, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		w->failed = true;
		return;
	}
	json_raw(w, line, n);
	free(line);
}

/* "# HELP name text": text escaped as the exposition format wants it
 * (backslash and newline), so a policy's help cannot start a new line. */
static void help_line(struct json_writer *w, const char *name, const char *help)
{
	printf_raw(w, "# HELP %s ", name);
	for (; *help; help++) {
		if (*help == '\\')
			json_raw(w, "\\\\", 2);
		else if (*help == '\n')
			json_raw(w, "\\n", 2);
		else
			json_raw(w, help, 1);
	}
	json_raw(w, "\n", 1);
}

/* One family of per-policy numbers: HELP, TYPE, and a line per policy. */
static void policy_family(struct json_writer *w, const char *name, const char *type,
			  const char *help, int which)
{
	struct policy *p;

	help_line(w, name, help);
	printf_raw(w, "# TYPE %s %s\n", name, type);
	for (p = policies_first(); p; p = p->next) {
		uint64_t events, errors;
		size_t memory;
		unsigned long long v;

		policy_numbers(p, &events, &errors, &memory);
		v = which == 0 ? events : which == 1 ? errors : which == 2 ? atomic_load(&p->lost)
			: which == 3 ? memory : p->load_failures;
		printf_raw(w, "%s{policy=\"%s\"} %llu\n", name, p->name, v);
	}
}

struct declared {
	char *name, *help, *labels, policy[LBPF_DAEMON_NAME_MAX];
	lbpf_runtime_t *root;      /* whose: compared, never followed */
	enum lbpf_metric_type type;
	double value;
};

struct collection {
	struct declared *v;
	size_t n, cap;
};

/* Frees what d holds (not d). */
static void free_declared(struct declared *d)
{
	free(d->name);
	free(d->help);
	free(d->labels);
}

/* Keeps one sample; called under the metrics lock, so rt is alive. */
static void collect(void *ctx, lbpf_runtime_t *rt, const char *name, const char *help,
		    enum lbpf_metric_type type, const char *labels, double value)
{
	struct collection *c = ctx;
	struct declared *d;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct declared *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return;
		c->v = v;
		c->cap = cap;
	}
	d = &c->v[c->n];
	*d = (struct declared){ strdup(name), strdup(help), strdup(labels), "",
				lbpf_runtime_root(rt), /* a child's are its policy's */
				type, value };
	if (d->name && d->help && d->labels)
		c->n++;
	else
		free_declared(d);
}

/* Names each sample's policy; drops those of no current runtime (a
 * reload's retiring one would repeat the series). */
static void name_policies(struct collection *c)
{
	size_t i, kept = 0;

	for (i = 0; i < c->n; i++) {
		if (!runner_current_name(c->v[i].root, c->v[i].policy, sizeof(c->v[i].policy))) {
			free_declared(&c->v[i]);
			continue;
		}
		c->v[kept++] = c->v[i];
	}
	c->n = kept;
}

/* qsort order: by name, then policy, then labels, as Prometheus groups families. */
static int by_name(const void *a, const void *b)
{
	const struct declared *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	d = d ? d : strcmp(x->policy, y->policy);
	return d ? d : strcmp(x->labels, y->labels);
}

/* The metrics the policies declared and the metric sources' samples. */
static void declared_families(struct json_writer *w)
{
	struct collection c = { 0 };
	size_t i;

	lbpf_metric_collect(collect, &c);
	name_policies(&c);
	qsort(c.v, c.n, sizeof(*c.v), by_name);
	for (i = 0; i < c.n; i++) {
		struct declared *d = &c.v[i];

		if (i == 0 || strcmp(d->name, c.v[i - 1].name)) {
			help_line(w, d->name, d->help);
			printf_raw(w, "# TYPE %s %s\n", d->name,
				   d->type == LBPF_METRIC_COUNTER ? "counter" : "gauge");
		}
		printf_raw(w, "%s{policy=\"%s\"%s%s} %.17g\n", d->name, d->policy,
			   *d->labels ? "," : "", d->labels, d->value);
	}
	for (i = 0; i < c.n; i++)
		free_declared(&c.v[i]);
	free(c.v);
}

/* lbpf_build_info: which lbpfd, Lua and libbpf serve the page, as the
 * Prometheus convention has it (a gauge of 1 with the versions as labels). */
static void build_info(struct json_writer *w)
{
	printf_raw(w, "# HELP lbpf_build_info Versions of lbpfd and of the Lua and libbpf it runs.\n"
		      "# TYPE lbpf_build_info gauge\n"
		      "lbpf_build_info{version=\"%s\",lua=\"%s\",libbpf=\"%u.%u\"} 1\n",
		   LBPF_VERSION, LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE,
		   libbpf_major_version(), libbpf_minor_version());
}

/* The body of GET /metrics. */
static void render(struct json_writer *w)
{
	build_info(w);
	policy_family(w, "lbpf_policy_events_total", "counter",
		      "Callbacks the policy's runtime dispatched (events and timers).", 0);
	policy_family(w, "lbpf_policy_errors_total", "counter", "Errors in the policy's callbacks.",
		      1);
	policy_family(w, "lbpf_policy_lost_total", "counter",
		      "Events lost because the policy's ring buffer was full.", 2);
	policy_family(w, "lbpf_policy_memory_bytes", "gauge", "Lua memory the policy uses.", 3);
	policy_family(w, "lbpf_policy_load_failures_total", "counter",
		      "Loads and reloads of the policy that failed (the running version stays).", 4);
	declared_families(w);
}

void metrics_respond(const char *request, struct json_writer *w)
{
	struct json_writer body = { 0 };
	bool get = !strncmp(request, "GET ", 4), found;
	const char *path = request + 4;

	found = get && (!strncmp(path, "/metrics ", 9) || !strncmp(path, "/metrics?", 9) ||
			!strncmp(path, "/metrics\r", 9));
	if (found)
		render(&body);
	else
		json_raw(&body, get ? "not found: try /metrics\n" : "only GET is served\n",
			 get ? 24 : 19);
	printf_raw(w, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		      "Connection: close\r\n\r\n",
		   found ? "200 OK" : get ? "404 Not Found" : "405 Method Not Allowed",
		   found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
		   body.len);
	if (body.data)
		json_raw(w, body.data, body.len);
	json_writer_free(&body);
}
