// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Reading a probe's in-kernel aggregation: walk the per-CPU hash once, sum
 * the CPUs' slots (min/max over the slots that saw a value), sort by key and
 * bucket. The binding shapes the entries for Lua (probe_lua.c). Also the
 * per-point counters and the stacks. Reading never blocks the producers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "probe.h"
#include "probe.skel.h"
#include "symbols.h"

static int sum_cpus(int fd, const struct lbpf_agg_key *key, struct lbpf_agg_value *out,
		    struct lbpf_agg_value *percpu, int ncpu)
{
	int i;

	if (bpf_map_lookup_elem(fd, key, percpu))
		return -errno;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < ncpu; i++) {
		const struct lbpf_agg_value *v = &percpu[i];

		if (!v->count)
			continue;
		if (!out->count || v->min < out->min)
			out->min = v->min;
		if (!out->count || v->max > out->max)
			out->max = v->max;
		out->count += v->count;
		out->sum += v->sum;
	}
	return 0;
}

static int key_compare(const void *a, const void *b)
{
	const struct probe_entry *x = a, *y = b;
	int c = memcmp(x->key.parts, y->key.parts, sizeof(x->key) - offsetof(struct lbpf_agg_key, parts));

	if (c)
		return c;
	return x->key.bucket < y->key.bucket ? -1 : x->key.bucket > y->key.bucket;
}

/* Every entry of the aggregation, sorted by key then bucket. 0 or -errno. */
static int read_entries(struct probe *p, struct probe_entries *out)
{
	int fd = bpf_map__fd(p->skel->maps.aggs), ncpu = libbpf_num_possible_cpus(), err = 0;
	struct lbpf_agg_key key, next, *prev = NULL;
	struct lbpf_agg_value *percpu = calloc(ncpu, sizeof(*percpu));

	memset(out, 0, sizeof(*out));
	if (!percpu)
		return -ENOMEM;
	memset(&next, 0, sizeof(next)); /* the map's key may be shorter */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 256;
			struct probe_entry *v = realloc(out->v, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			out->v = v;
			out->cap = cap;
		}
		out->v[out->n].key = key;
		if (sum_cpus(fd, &key, &out->v[out->n].value, percpu, ncpu) == 0)
			out->n++; /* a key deleted meanwhile is skipped */
	}
	free(percpu);
	if (out->n) /* before the first event out->v is NULL */
		qsort(out->v, out->n, sizeof(*out->v), key_compare);
	return err;
}

/* read_entries with the message a user sees. */
int probe_read_entries(struct probe *p, struct probe_entries *out, char *errbuf, size_t errlen)
{
	int err = read_entries(p, out);

	if (err)
		snprintf(errbuf, errlen, "read the aggregation of %s", p->spec);
	return err;
}

/* See probe.h; a stack shorter than the map's slot ends at its first 0. */
int probe_read_stack(struct probe *p, int id, uint64_t ips[PROBE_MAX_FRAMES])
{
	int n;

	if (id < 0)
		return -ENOENT;
	memset(ips, 0, PROBE_MAX_FRAMES * sizeof(*ips));
	if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.stacks), &id, ips))
		return -errno;
	for (n = 0; n < PROBE_MAX_FRAMES && ips[n]; n++)
		;
	return n;
}

/* See probe.h; a table that failed to load stays NULL and frames print in hex. */
const char *probe_frame_name(struct probe *p, bool user, int pid, uint64_t ip, char *buf,
			     size_t size)
{
	const char *s;

	if (!user && !p->ksyms)
		p->ksyms = ksyms_load();
	if (user && !p->usyms)
		p->usyms = usyms_new();
	s = user ? usyms_format(p->usyms, pid, ip, buf, size) : ksyms_format(p->ksyms, ip, buf, size);
	if (!s)
		snprintf(buf, size, "0x%llx", (unsigned long long)ip);
	return buf;
}

/* See probe.h: log2 bucket b holds [2^(b-1), 2^b), bucket 0 holds 0;
 * linear bucket -1 holds what lies below min, the last what reaches max. */
void probe_bucket_bounds(const struct probe *p, int64_t b, double *lo, double *hi)
{
	const struct lbpf_attach_config *c = &p->points[0].config;

	if (p->agg == AGG_LHIST) {
		*lo = b < 0 ? -HUGE_VAL : (double)(c->lhist_min + b * c->lhist_step);
		*hi = b < 0 ? (double)c->lhist_min : (double)(c->lhist_min + (b + 1) * c->lhist_step);
		if (c->lhist_min + b * c->lhist_step >= c->lhist_max)
			*hi = HUGE_VAL;
	} else {
		*lo = b < 0 ? -HUGE_VAL : b == 0 ? 0 : ldexp(1, b - 1);
		*hi = b < 0 ? 0 : ldexp(1, b);
	}
}

/* Compares the parts and comm, not the bucket. */
bool probe_same_key(const struct probe_entry *a, const struct probe_entry *b)
{
	return !memcmp(a->key.parts, b->key.parts, sizeof(a->key) - offsetof(struct lbpf_agg_key, parts));
}

/* Point i's slot of the per-CPU stats map, summed. 0 or -errno. */
int probe_read_point_stats(struct probe *p, int i, struct lbpf_probe_stats *sum)
{
	int fd = bpf_map__fd(p->skel->maps.stats), ncpu = libbpf_num_possible_cpus(), c, err = 0;
	struct lbpf_probe_stats *percpu = calloc(ncpu, sizeof(*percpu));
	__u32 key = i;

	memset(sum, 0, sizeof(*sum));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, percpu))
		err = -errno;
	for (c = 0; !err && c < ncpu; c++) {
		sum->events += percpu[c].events;
		sum->lost += percpu[c].lost;
		sum->filtered += percpu[c].filtered;
		sum->agg_dropped += percpu[c].agg_dropped;
	}
	free(percpu);
	return err;
}

/* Zeroes the per-point event counters (count = "probe"). */
static int clear_point_counts(struct probe *p)
{
	int fd = bpf_map__fd(p->skel->maps.stats), ncpu = libbpf_num_possible_cpus(), i, c, err = 0;
	struct lbpf_probe_stats *percpu = calloc(ncpu, sizeof(*percpu));

	if (!percpu)
		return -ENOMEM;
	for (i = 0; i < p->npoints && !err; i++) {
		__u32 key = i;

		if (bpf_map_lookup_elem(fd, &key, percpu))
			continue;
		for (c = 0; c < ncpu; c++)
			percpu[c].events = 0;
		if (bpf_map_update_elem(fd, &key, percpu, BPF_EXIST))
			err = -errno;
	}
	free(percpu);
	return err;
}

/* Deletes the keys present now; keys that producers add meanwhile stay, so
 * clearing ends however busy the probe is. */
int probe_clear_aggregation(struct probe *p)
{
	struct probe_entries es;
	int fd, err;
	size_t i;

	if (p->by_point)
		return clear_point_counts(p);
	fd = bpf_map__fd(p->skel->maps.aggs);
	err = read_entries(p, &es);
	for (i = 0; !err && i < es.n; i++)
		if (bpf_map_delete_elem(fd, &es.v[i].key) && errno != ENOENT)
			err = -errno;
	free(es.v);
	return err;
}

/* Sums the points whose counters can be read; -ENOMEM only. */
int probe_read_stats(struct probe *p, struct lbpf_probe_stats *total)
{
	struct lbpf_probe_stats st;
	int i, err;

	memset(total, 0, sizeof(*total));
	for (i = 0; i < p->npoints; i++) {
		err = probe_read_point_stats(p, i, &st);
		if (err == -ENOMEM)
			return err;
		if (err)
			continue;
		total->events += st.events;
		total->lost += st.lost;
		total->filtered += st.filtered;
		total->agg_dropped += st.agg_dropped;
	}
	return 0;
}
