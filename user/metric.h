/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Metrics a policy declares (lbpf.metric.counter/gauge): values any thread
 * may read while the runtime updates them, in one process-wide list that the
 * daemon walks when it serves /metrics.
 */
#ifndef LBPF_METRIC_H
#define LBPF_METRIC_H

#include <stdatomic.h>
#include <stdint.h>

#include <lbpf/lbpf.h>

enum lbpf_metric_type { LBPF_METRIC_COUNTER, LBPF_METRIC_GAUGE };

struct lbpf_metric {
	struct lbpf_metric *prev, *next;
	lbpf_runtime_t *rt;        /* the runtime that declared it */
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
/* Calls fn for every metric, under the list's lock (fn must not declare or
 * free metrics). */
void lbpf_metric_foreach(void (*fn)(void *ctx, const struct lbpf_metric *m), void *ctx);

#endif /* LBPF_METRIC_H */
