/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Metrics: one process-wide list of sources that the daemon walks when it
 * serves /metrics. A metric a policy declares (lbpf.metric.counter/gauge) is
 * a source that emits its value, a double any thread may read while the
 * runtime updates it; a packet filter is a source that reads its counters.
 */
#ifndef LBPF_METRIC_H
#define LBPF_METRIC_H

#include <stdatomic.h>
#include <stdint.h>

#include <lbpf/lbpf.h>

enum lbpf_metric_type { LBPF_METRIC_COUNTER, LBPF_METRIC_GAUGE };

/* One sample: labels is "" or `key="value",...` (values escaped). */
typedef void lbpf_metric_emit_fn(void *ctx, lbpf_runtime_t *rt, const char *name,
				 const char *help, enum lbpf_metric_type type, const char *labels,
				 double value);

/* A source of samples computed when the metrics are read (a packet filter's
 * rule counters): collect calls emit once per sample, from the reader's
 * thread, while the source is listed. */
struct lbpf_metric_source {
	struct lbpf_metric_source *prev, *next;
	lbpf_runtime_t *rt;
	void (*collect)(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit, void *emit_ctx);
	void *ctx;
};

/* A declared metric: a source that emits its own value. */
struct lbpf_metric {
	struct lbpf_metric_source source; /* rt: the runtime that declared it */
	enum lbpf_metric_type type;
	_Atomic uint64_t bits;     /* the value, a double */
	char *help;
	char name[];
};

/* Declares a metric of rt: NULL with errno EINVAL (name is not a Prometheus
 * name), EEXIST (rt declared it already) or ENOMEM. */
struct lbpf_metric *lbpf_metric_new(lbpf_runtime_t *rt, const char *name, const char *help,
				    enum lbpf_metric_type type);
void lbpf_metric_free(struct lbpf_metric *m);
void lbpf_metric_add(struct lbpf_metric *m, double delta);
void lbpf_metric_set(struct lbpf_metric *m, double value);
double lbpf_metric_value(const struct lbpf_metric *m);
/* Lists a source; NULL with errno ENOMEM. */
struct lbpf_metric_source *lbpf_metric_source_add(
	lbpf_runtime_t *rt,
	void (*collect)(void *ctx, lbpf_runtime_t *rt, lbpf_metric_emit_fn *emit, void *emit_ctx),
	void *ctx);
/* Unlists it; once this returns no collect runs. NULL is fine. */
void lbpf_metric_source_remove(struct lbpf_metric_source *s);
/* Calls emit for every declared metric and every source's samples, under the
 * list's lock (emit must not declare, free, add or remove). */
void lbpf_metric_collect(lbpf_metric_emit_fn *emit, void *ctx);
/* Appends value to buf as a label value (backslash, quote, newline escaped). */
void lbpf_metric_label(char *buf, size_t size, const char *key, const char *value);

#endif /* LBPF_METRIC_H */
