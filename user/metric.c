// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The process-wide list of declared metrics. Values are doubles kept in
 * atomic 64-bit words, so the daemon's metrics server reads them without
 * locking the runtime that updates them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lbpf_metric *metrics;

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
static bool declared(lbpf_runtime_t *rt, const char *name)
{
	lbpf_runtime_t *root = lbpf_runtime_root(rt);
	struct lbpf_metric *m;

	for (m = metrics; m; m = m->next)
		if (lbpf_runtime_root(m->rt) == root && !strcmp(m->name, name))
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
	m->rt = rt;
	m->type = type;
	atomic_init(&m->bits, to_bits(0));
	pthread_mutex_lock(&metrics_lock);
	if (declared(rt, name)) {
		pthread_mutex_unlock(&metrics_lock);
		free(m->help);
		free(m);
		return errno = EEXIST, NULL;
	}
	m->next = metrics;
	if (metrics)
		metrics->prev = m;
	metrics = m;
	pthread_mutex_unlock(&metrics_lock);
	return m;
}

void lbpf_metric_free(struct lbpf_metric *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&metrics_lock);
	if (m->prev)
		m->prev->next = m->next;
	else
		metrics = m->next;
	if (m->next)
		m->next->prev = m->prev;
	pthread_mutex_unlock(&metrics_lock);
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

void lbpf_metric_foreach(void (*fn)(void *ctx, const struct lbpf_metric *m), void *ctx)
{
	struct lbpf_metric *m;

	pthread_mutex_lock(&metrics_lock);
	for (m = metrics; m; m = m->next)
		fn(ctx, m);
	pthread_mutex_unlock(&metrics_lock);
}
