// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The process-wide list of metric sources (metric.h). Declared values are
 * doubles kept in atomic 64-bit words, so the daemon's metrics server reads
 * them without locking the runtime that updates them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lbpf_metric_source *sources;

/* Under metrics_lock. */
static void source_link(struct lbpf_metric_source *s)
{
	s->prev = NULL;
	s->next = sources;
	if (sources)
		sources->prev = s;
	sources = s;
}

static void source_unlink(struct lbpf_metric_source *s)
{
	pthread_mutex_lock(&metrics_lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		sources = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&metrics_lock);
}

static uint64_t to_bits(double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	return bits;
}

static double from_bits(uint64_t bits)
{
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]*, as Prometheus names are. */
static bool valid_name(const char *name)
{
	const char *p;

	if (!*name || (*name >= '0' && *name <= '9') || strlen(name) > 200)
		return false;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return false;
	return true;
}

/* Whether rt's family (its top-level runtime and the children, which the
 * daemon serves as one policy) declared name. */
static void emit_value(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit, void *emit_ctx)
{
	struct lbpf_metric *m = ctx;

	emit(emit_ctx, rt, m->name, m->help, m->type, "", lbpf_metric_value(m));
}

static bool declared(lbpf_runtime_t *rt, const char *name)
{
	lbpf_runtime_t *root = lbpf_runtime_root(rt);
	struct lbpf_metric_source *s;

	for (s = sources; s; s = s->next)
		if (s->collect == emit_value && lbpf_runtime_root(s->rt) == root &&
		    !strcmp(((struct lbpf_metric *)s->ctx)->name, name))
			return true;
	return false;
}

struct lbpf_metric *lbpf_metric_new(lbpf_runtime_t *rt, const char *name, const char *help,
				    enum lbpf_metric_type type)
{
	struct lbpf_metric *m;

	if (!valid_name(name))
		return errno = EINVAL, NULL;
	m = calloc(1, sizeof(*m) + strlen(name) + 1);
	if (!m || !(m->help = strdup(help ? help : ""))) {
		free(m);
		return errno = ENOMEM, NULL;
	}
	strcpy(m->name, name);
	m->source = (struct lbpf_metric_source){ .rt = rt, .collect = emit_value, .ctx = m };
	m->type = type;
	atomic_init(&m->bits, to_bits(0));
	pthread_mutex_lock(&metrics_lock);
	if (declared(rt, name)) {
		pthread_mutex_unlock(&metrics_lock);
		free(m->help);
		free(m);
		return errno = EEXIST, NULL;
	}
	source_link(&m->source);
	pthread_mutex_unlock(&metrics_lock);
	return m;
}

void lbpf_metric_free(struct lbpf_metric *m)
{
	if (!m)
		return;
	source_unlink(&m->source);
	free(m->help);
	free(m);
}

void lbpf_metric_add(struct lbpf_metric *m, double delta)
{
	uint64_t old = atomic_load(&m->bits);

	while (!atomic_compare_exchange_weak(&m->bits, &old, to_bits(from_bits(old) + delta)))
		;
}

void lbpf_metric_set(struct lbpf_metric *m, double value)
{
	atomic_store(&m->bits, to_bits(value));
}

double lbpf_metric_value(const struct lbpf_metric *m)
{
	return from_bits(atomic_load(&((struct lbpf_metric *)m)->bits));
}

struct lbpf_metric_source *lbpf_metric_source_add(
	lbpf_runtime_t *rt,
	void (*collect)(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit, void *emit_ctx),
	void *ctx)
{
	struct lbpf_metric_source *s = calloc(1, sizeof(*s));

	if (!s)
		return errno = ENOMEM, NULL;
	s->rt = rt;
	s->collect = collect;
	s->ctx = ctx;
	pthread_mutex_lock(&metrics_lock);
	source_link(s);
	pthread_mutex_unlock(&metrics_lock);
	return s;
}

void lbpf_metric_source_remove(struct lbpf_metric_source *s)
{
	if (!s)
		return;
	source_unlink(s);
	free(s);
}

void lbpf_metric_collect(lbpf_metric_emit_fn *emit, void *ctx)
{
	struct lbpf_metric_source *s;

	pthread_mutex_lock(&metrics_lock);
	for (s = sources; s; s = s->next)
		s->collect(s->ctx, s->rt, emit, ctx);
	pthread_mutex_unlock(&metrics_lock);
}

void lbpf_metric_label(char *buf, size_t size, const char *key, const char *value)
{
	size_t n = strlen(buf);

	n += snprintf(buf + n, n < size ? size - n : 0, "%s%s=\"", n ? "," : "", key);
	for (; *value && n + 3 < size; value++) {
		if (*value == '\\' || *value == '"' || *value == '\n')
			buf[n++] = '\\';
		buf[n++] = *value == '\n' ? 'n' : *value;
	}
	if (n + 1 < size)
		buf[n++] = '"';
	buf[n < size ? n : size - 1] = '\0';
}
