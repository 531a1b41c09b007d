// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * One BPF ring buffer per runtime, shared by every BPF program it loads, so
 * that events reach Lua in per-CPU production order. Records carry a source
 * id (struct lbpf_record) that routes them to a subscriber.
 *
 * Draining is adaptive. BPF wakes us only past a watermark (bpf/record.bpf.h);
 * otherwise a weak timer drains, its period halving (down to 1 ms) while
 * records keep coming and doubling (up to 32 ms) while the ring stays empty.
 * Each drain consumes everything pending.
 *
 * A user's BPF object brings ring buffers of its own, whose records carry no
 * lbpf_record header: each is added as an extra ring (its own reader, one
 * subscriber) drained with the runtime's, by the same timer and on its own
 * wake-ups. Rings are read by ringread.c, which hands space back to the
 * kernel per batch of records, not per record as libbpf's consumer does.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <lbpf/record.h>

#include "internal.h"
#include "ringread.h"

#define DEFAULT_SIZE (4u << 20)
#define PERIOD_MIN 1000000ull   /* 1 ms */
#define PERIOD_MAX 32000000ull  /* 32 ms */

struct extra;

struct subscriber {
	lbpf_record_fn fn;
	void *ctx;
	struct extra *extra;       /* an extra ring's, or NULL */
};

/* An extra ring: a map of a user's object, all of whose records go to one
 * subscriber. */
struct extra {
	struct lbpf_ringbuf *r;
	struct ring_reader rd;
	lbpf_record_fn fn;
	void *ctx;
	bool busy;                 /* being drained: a callback may unsubscribe it */
	bool dead;                 /* unsubscribed while busy: freed when the drain ends */
};

static void extra_free(lbpf_runtime_t *rt, struct extra *x);

struct lbpf_ringbuf {
	lbpf_runtime_t *rt;
	size_t size;
	int map_fd;
	struct ring_reader rd;
	struct subscriber *subs;   /* indexed by source id; id 0 is unused */
	int nsubs;
	int active;
	uint64_t period;
	lbpf_timer_node_t timer;
	uint64_t unrouted;
	bool consuming;            /* inside ring_reader_consume */
};

static int dispatch(void *ctx, void *data, size_t size)
{
	struct lbpf_ringbuf *r = ctx;
	const struct lbpf_record *rec = data;
	struct subscriber *sub;

	if (size < sizeof(*rec) || rec->source == 0 || (int)rec->source >= r->nsubs ||
	    !(sub = &r->subs[rec->source])->fn || sub->extra) {
		r->unrouted++; /* a record of a source that just unsubscribed */
		return 0;
	}
	sub->fn(sub->ctx, data, size);
	/* stop mid-batch when a callback asked to exit; the rest stays queued */
	return lbpf_runtime_stopping(r->rt) ? -ECANCELED : 0;
}

static int dispatch_extra(void *ctx, void *data, size_t size)
{
	struct extra *x = ctx;

	if (x->dead)
		return -ECANCELED;
	x->fn(x->ctx, data, size);
	return lbpf_runtime_stopping(x->r->rt) ? -ECANCELED : 0;
}

/* Delivers everything pending in rd. Not from inside a delivery of the same
 * ring (*busy: a callback that drains, or detaches its probe): the reader
 * stores its position after the drain, so a nested consume would deliver
 * the current record and those after it twice. */
static int consume_one(struct ring_reader *rd, bool *busy)
{
	int n;

	if (*busy)
		return 0;
	*busy = true;
	n = ring_reader_consume(rd);
	*busy = false;
	return n == -ECANCELED ? 0 : n;
}

/* Drains an extra ring; one its callback unsubscribed goes once it is over. */
static int consume_extra(struct extra *x)
{
	int n;

	if (x->busy)
		return 0;
	n = consume_one(&x->rd, &x->busy);
	if (x->dead)
		extra_free(x->r->rt, x);
	return n;
}

/* Drains the runtime's ring and the extra ones. Records consumed or -errno. */
static int consume(struct lbpf_ringbuf *r)
{
	int n = consume_one(&r->rd, &r->consuming), id, m;

	for (id = 1; id < r->nsubs && n >= 0 && !lbpf_runtime_stopping(r->rt); id++) {
		if (r->subs[id].extra && (m = consume_extra(r->subs[id].extra)) != 0)
			n = m < 0 ? m : n + m;
	}
	return n;
}

static void on_wakeup(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	consume(arg);
}

static void on_extra_wakeup(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	consume_extra(arg);
}

static void on_timer(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct lbpf_ringbuf *r = container_of(node, struct lbpf_ringbuf, timer);
	int n = consume(r);

	if (n > 0)
		r->period = r->period / 2 > PERIOD_MIN ? r->period / 2 : PERIOD_MIN;
	else
		r->period = r->period * 2 < PERIOD_MAX ? r->period * 2 : PERIOD_MAX;
	if (r->active)
		lbpf_loop_timer_at(loop, node, lbpf_now() + r->period);
}

/* The runtime frees its ring buffer through this hook: it never calls up. */
static void ringbuf_atfree(lbpf_runtime_t *rt, void *arg)
{
	lbpf_ringbuf_free(rt);
}

static struct lbpf_ringbuf *ringbuf_get(lbpf_runtime_t *rt, bool create)
{
	struct lbpf_ringbuf **slot = lbpf_runtime_ringbuf_slot(rt), *r = *slot;

	if (r || !create)
		return r;
	if (lbpf_runtime_atfree(rt, ringbuf_atfree, NULL) < 0 || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->rt = rt;
	r->size = DEFAULT_SIZE;
	r->map_fd = -1;
	r->rd.map_fd = -1;
	r->period = PERIOD_MIN;
	r->timer.fn = on_timer;
	r->timer.weak = true;
	*slot = r;
	return r;
}

int lbpf_ringbuf_set_size(lbpf_runtime_t *rt, size_t bytes)
{
	struct lbpf_ringbuf *r = ringbuf_get(rt, true);
	long page = sysconf(_SC_PAGESIZE);

	if (!r)
		return -ENOMEM;
	if (r->map_fd >= 0)
		return -EBUSY;
	if (bytes < (size_t)page || (bytes & (bytes - 1)) || bytes > (1ull << 31))
		return -EINVAL;
	r->size = bytes;
	return 0;
}

/* Creates the map, the libbpf consumer and the loop watch. */
static int ringbuf_open(struct lbpf_ringbuf *r)
{
	lbpf_loop_t *loop = lbpf_runtime_getloop(r->rt);
	int err;

	r->map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "lbpf_events", 0, 0, r->size, NULL);
	if (r->map_fd < 0)
		return -errno;
	err = ring_reader_open(&r->rd, r->map_fd, dispatch, r);
	if (err)
		return err;
	return lbpf_loop_add(loop, r->rd.map_fd, LBPF_READ, false, on_wakeup, r);
}

int lbpf_ringbuf_fd(lbpf_runtime_t *rt)
{
	struct lbpf_ringbuf *r = ringbuf_get(rt, true);
	int err;

	if (!r)
		return -ENOMEM;
	if (r->map_fd < 0 && (err = ringbuf_open(r)) < 0) {
		lbpf_log(rt, "create ring buffer of %zu bytes: %s", r->size, strerror(-err));
		lbpf_ringbuf_free(rt);
		return err;
	}
	return r->map_fd;
}

/* A free subscriber id (the array grows as needed), or -ENOMEM. */
static int subscriber_slot(struct lbpf_ringbuf *r)
{
	int id;

	for (id = 1; id < r->nsubs && r->subs[id].fn; id++)
		;
	if (id >= r->nsubs) {
		int n = r->nsubs ? r->nsubs * 2 : 16;
		struct subscriber *subs = realloc(r->subs, n * sizeof(*subs));

		if (!subs)
			return -ENOMEM;
		memset(subs + r->nsubs, 0, (n - r->nsubs) * sizeof(*subs));
		r->subs = subs;
		r->nsubs = n;
	}
	return id;
}

static void activate(struct lbpf_ringbuf *r)
{
	if (r->active++ == 0)
		lbpf_loop_timer_at(lbpf_runtime_getloop(r->rt), &r->timer, lbpf_now() + r->period);
}

int lbpf_ringbuf_subscribe(lbpf_runtime_t *rt, lbpf_record_fn fn, void *ctx)
{
	int err = lbpf_ringbuf_fd(rt), id;
	struct lbpf_ringbuf *r;

	if (err < 0)
		return err;
	r = ringbuf_get(rt, false);
	id = subscriber_slot(r);
	if (id < 0)
		return id;
	r->subs[id] = (struct subscriber){ fn, ctx, NULL };
	activate(r);
	return id;
}

static void extra_free(lbpf_runtime_t *rt, struct extra *x)
{
	if (!x)
		return;
	if (x->busy) { /* inside its own drain: consume_extra frees it after */
		x->dead = true;
		return;
	}
	if (x->rd.map_fd >= 0) {
		lbpf_loop_del(lbpf_runtime_getloop(rt), x->rd.map_fd);
		ring_reader_close(&x->rd);
	}
	free(x);
}

int lbpf_ringbuf_add(lbpf_runtime_t *rt, int map_fd, lbpf_record_fn fn, void *ctx)
{
	struct lbpf_ringbuf *r = ringbuf_get(rt, true);
	struct extra *x = NULL;
	int id, err;

	if (!r || !(x = calloc(1, sizeof(*x)))) {
		err = -ENOMEM;
		goto cleanup;
	}
	*x = (struct extra){ .r = r, .fn = fn, .ctx = ctx };
	x->rd.map_fd = -1;
	err = ring_reader_open(&x->rd, map_fd, dispatch_extra, x);
	if (err)
		goto cleanup;
	err = lbpf_loop_add(lbpf_runtime_getloop(rt), x->rd.map_fd, LBPF_READ, false,
			    on_extra_wakeup, x);
	if (err < 0)
		goto cleanup;
	id = subscriber_slot(r);
	if (id < 0) {
		err = id;
		goto cleanup;
	}
	r->subs[id] = (struct subscriber){ fn, ctx, x };
	activate(r);
	return id;
cleanup:
	extra_free(rt, x);
	return err;
}

void lbpf_ringbuf_unsubscribe(lbpf_runtime_t *rt, int id)
{
	struct lbpf_ringbuf *r = ringbuf_get(rt, false);

	if (!r || id <= 0 || id >= r->nsubs || !r->subs[id].fn)
		return;
	extra_free(rt, r->subs[id].extra);
	r->subs[id] = (struct subscriber){ NULL, NULL, NULL };
	if (--r->active == 0)
		lbpf_loop_timer_cancel(lbpf_runtime_getloop(rt), &r->timer);
}

int lbpf_ringbuf_drain(lbpf_runtime_t *rt)
{
	struct lbpf_ringbuf *r = ringbuf_get(rt, false);

	return r ? consume(r) : 0;
}

void lbpf_ringbuf_free(lbpf_runtime_t *rt)
{
	struct lbpf_ringbuf **slot = lbpf_runtime_ringbuf_slot(rt), *r = *slot;

	if (!r)
		return;
	lbpf_loop_timer_cancel(lbpf_runtime_getloop(rt), &r->timer);
	for (int id = 1; id < r->nsubs; id++)
		extra_free(rt, r->subs[id].extra);
	if (r->rd.map_fd >= 0) {
		lbpf_loop_del(lbpf_runtime_getloop(rt), r->rd.map_fd);
		ring_reader_close(&r->rd);
	}
	if (r->map_fd >= 0)
		close(r->map_fd);
	free(r->subs);
	free(r);
	*slot = NULL;
}
