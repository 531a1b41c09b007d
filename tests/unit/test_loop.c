// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Unit tests of the event loop (user/core/eventloop.c) on its own, without a
 * runtime: the timer heap, fd handlers, keepalive accounting and wake-ups.
 * No wall-clock assertions beyond "never early" and a generous 50 ms.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "../../user/core/internal.h"

#define MS 1000000ull

/* A timer node that records when and in which order it fired. */
struct probe {
	lbpf_timer_node_t node;
	uint64_t want;             /* deadline when armed */
	uint64_t fired_at;         /* lbpf_now() in the callback, 0 = never */
	int order;                 /* 1-based firing order */
	int rearm;                 /* times left to re-arm itself */
};

static int fire_seq;

static void probe_fired(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	struct probe *p = container_of(node, struct probe, node);

	p->fired_at = lbpf_now();
	p->order = ++fire_seq;
	if (p->rearm > 0) {
		p->rearm--;
		p->want = p->node.deadline + MS;
		lbpf_loop_timer_at(loop, &p->node, p->want);
	}
}

static void probe_arm(lbpf_loop_t *loop, struct probe *p, uint64_t deadline)
{
	p->node.fn = probe_fired;
	p->want = deadline;
	CHECK(lbpf_loop_timer_at(loop, &p->node, deadline) == 0);
}

/* Runs the loop until no timer is armed (bounded by the harness alarm). */
static void run_until_idle(lbpf_loop_t *loop)
{
	while (lbpf_loop_alive(loop))
		if (!CHECK(lbpf_loop_run_once(loop, 1000) >= 0))
			return;
}

static lbpf_loop_t *new_loop(void)
{
	lbpf_loop_t *loop = lbpf_loop_new(NULL);

	CHECK(loop != NULL, "lbpf_loop_new: %s", strerror(errno));
	fire_seq = 0;
	return loop;
}

/* Checks that probes fired in deadline order, each once and never early. */
static void check_fired_in_order(struct probe *p, size_t n)
{
	struct probe **by_order = calloc(n + 1, sizeof(*by_order));
	size_t i;

	for (i = 0; i < n; i++) {
		if (!CHECK(p[i].order >= 1 && (size_t)p[i].order <= n && !by_order[p[i].order],
			   "timer %zu fired as #%d", i, p[i].order))
			goto out;
		by_order[p[i].order] = &p[i];
		CHECK(p[i].fired_at >= p[i].want, "timer %zu fired %llu ns early", i,
		      (unsigned long long)(p[i].want - p[i].fired_at));
	}
	for (i = 2; i <= n; i++)
		if (!CHECK(by_order[i - 1]->want <= by_order[i]->want,
			   "#%zu (deadline %llu) fired after #%zu (deadline %llu)", i - 1,
			   (unsigned long long)by_order[i - 1]->want, i,
			   (unsigned long long)by_order[i]->want))
			break;
out:
	free(by_order);
}

/* 10,000 random deadlines (with ties) fire in deadline order. */
static void heap_fires_in_order(void)
{
	enum { N = 10000 };
	lbpf_loop_t *loop = new_loop();
	struct probe *p = calloc(N, sizeof(*p));
	uint64_t now = lbpf_now();
	size_t i;

	if (!loop || !p)
		goto out;
	srand(1);
	for (i = 0; i < N; i++)
		probe_arm(loop, &p[i], now + (uint64_t)(rand() % 2000) * 10000); /* 0..20 ms, ties */
	CHECK(lbpf_loop_alive(loop));
	run_until_idle(loop);
	CHECK(fire_seq == N, "fired %d of %d", fire_seq, N);
	check_fired_in_order(p, N);
out:
	free(p);
	lbpf_loop_free(loop);
}

/* Deadlines already past (one at time 0) all fire in one pass, in order. */
static void heap_past_deadlines_fire_at_once(void)
{
	enum { N = 1000 };
	lbpf_loop_t *loop = new_loop();
	struct probe *p = calloc(N, sizeof(*p));
	uint64_t now = lbpf_now();
	size_t i;

	if (!loop || !p)
		goto out;
	srand(2);
	for (i = 0; i < N; i++)
		probe_arm(loop, &p[i], i == N / 2 ? 0 : now - 1 - (uint64_t)(rand() % 1000000));
	CHECK(lbpf_loop_run_once(loop, 1000) >= 1);
	CHECK(fire_seq == N, "one pass fired %d of %d", fire_seq, N);
	check_fired_in_order(p, N);
	CHECK(!lbpf_loop_alive(loop));
out:
	free(p);
	lbpf_loop_free(loop);
}

/* Cancelling timers from anywhere in the heap keeps it ordered; cancelled ones never fire. */
static void heap_cancel_from_middle(void)
{
	enum { N = 3000 };
	lbpf_loop_t *loop = new_loop();
	struct probe *p = calloc(N, sizeof(*p)), *kept = calloc(N, sizeof(*kept));
	uint64_t now = lbpf_now();
	size_t i, nkept = 0;

	if (!loop || !p || !kept)
		goto out;
	srand(3);
	for (i = 0; i < N; i++)
		probe_arm(loop, &p[i], now + (uint64_t)(rand() % 1000) * 10000);
	for (i = 0; i < N; i += 3) {
		lbpf_loop_timer_cancel(loop, &p[i].node);
		CHECK(!lbpf_timer_armed(&p[i].node));
		lbpf_loop_timer_cancel(loop, &p[i].node); /* twice is harmless */
	}
	run_until_idle(loop);
	for (i = 0; i < N; i++) {
		if (i % 3 == 0)
			CHECK(p[i].order == 0, "cancelled timer %zu fired", i);
		else
			kept[nkept++] = p[i];
	}
	CHECK(fire_seq == (int)nkept, "fired %d, expected %zu", fire_seq, nkept);
	/* renumber the kept ones' orders 1..nkept, then check */
	check_fired_in_order(kept, nkept);
out:
	free(p);
	free(kept);
	lbpf_loop_free(loop);
}

/* Re-arming an armed node moves it, earlier or later; a node may re-arm itself. */
static void timer_rearm_moves(void)
{
	lbpf_loop_t *loop = new_loop();
	struct probe a = { 0 }, b = { 0 }, c = { 0 }, self = { 0 };
	uint64_t now = lbpf_now();

	if (!loop)
		return;
	probe_arm(loop, &a, now + 10000 * MS);
	probe_arm(loop, &b, now + 5 * MS);
	probe_arm(loop, &c, now + 1 * MS);
	probe_arm(loop, &a, now + 2 * MS);     /* earlier: before b */
	probe_arm(loop, &c, now + 8 * MS);     /* later: after b */
	self.rearm = 3;                        /* fires 4 times, 1 ms apart */
	probe_arm(loop, &self, now + 20 * MS);
	run_until_idle(loop);
	CHECK(a.order && b.order && c.order && a.order < b.order && b.order < c.order,
	      "order a=%d b=%d c=%d", a.order, b.order, c.order);
	CHECK(self.order == 7, "self-rearming timer fired last as #%d", self.order);
	CHECK(fire_seq == 7, "fire_seq=%d", fire_seq);
	lbpf_loop_free(loop);
}

static void starve_fn(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	fire_seq++;
	lbpf_loop_timer_at(loop, node, 1); /* always due */
}

static int pipe_events, pipe_calls;

static void pipe_fn(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	char buf[64];

	pipe_calls++;
	pipe_events |= events;
	if (events & LBPF_READ)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
}

/* A timer that re-arms itself into the past cannot starve fd handlers. */
static void timer_cannot_starve_fds(void)
{
	lbpf_loop_t *loop = new_loop();
	lbpf_timer_node_t node = { .fn = starve_fn };
	int fds[2] = { -1, -1 }, i;

	if (!loop || !CHECK(pipe2(fds, O_NONBLOCK) == 0))
		goto out;
	pipe_calls = pipe_events = 0;
	CHECK(lbpf_loop_add(loop, fds[0], LBPF_READ, true, pipe_fn, NULL) == 0);
	CHECK(write(fds[1], "x", 1) == 1);
	lbpf_loop_timer_at(loop, &node, 1);
	for (i = 0; i < 5 && !pipe_calls; i++)
		lbpf_loop_run_once(loop, 100);
	CHECK(pipe_calls == 1, "the pipe handler did not run in 5 passes (timer fired %d times)",
	      fire_seq);
	lbpf_loop_timer_cancel(loop, &node);
	lbpf_loop_del(loop, fds[0]);
out:
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
	lbpf_loop_free(loop);
}

/* Timers fire after their deadline, and (reported) within a few ms of it. */
static void timer_lateness(void)
{
	enum { N = 20 };
	lbpf_loop_t *loop = new_loop();
	struct probe p[N] = { 0 };
	uint64_t now = lbpf_now(), worst = 0, sum = 0;
	int i;

	if (!loop)
		return;
	for (i = 0; i < N; i++)
		probe_arm(loop, &p[i], now + (uint64_t)(i + 1) * 3 * MS + (uint64_t)i * 17000);
	run_until_idle(loop);
	for (i = 0; i < N; i++) {
		uint64_t late;

		if (!CHECK(p[i].fired_at >= p[i].want, "timer %d fired early", i))
			break;
		late = p[i].fired_at - p[i].want;
		sum += late;
		worst = late > worst ? late : worst;
	}
	unit_note("lateness over %d timers: mean %.3f ms, worst %.3f ms", N, sum / 1e6 / N,
		  worst / 1e6);
	CHECK(worst < 50 * MS, "a timer was %.1f ms late", worst / 1e6);
	lbpf_loop_free(loop);
}

/* Read, write and hang-up events of a pipe reach their handlers. */
static void fd_handlers_on_pipe(void)
{
	lbpf_loop_t *loop = new_loop();
	int fds[2] = { -1, -1 }, file = -1, n;

	if (!loop || !CHECK(pipe2(fds, O_NONBLOCK) == 0))
		goto out;
	pipe_calls = pipe_events = 0;
	CHECK(lbpf_loop_add(loop, fds[0], LBPF_READ, true, pipe_fn, NULL) == 0);
	CHECK(lbpf_loop_add(loop, fds[0], LBPF_READ, true, pipe_fn, NULL) == -EEXIST);
	CHECK(lbpf_loop_add(loop, -1, LBPF_READ, true, pipe_fn, NULL) == -EBADF);
	CHECK(lbpf_loop_del(loop, 12345) == -ENOENT);
	file = open("/proc/self/status", O_RDONLY);
	CHECK(lbpf_loop_add(loop, file, LBPF_READ, true, pipe_fn, NULL) == -EPERM,
	      "a regular file is refused with EPERM");
	CHECK(lbpf_loop_run_once(loop, 0) == 0 && pipe_calls == 0, "an empty pipe is not readable");
	CHECK(write(fds[1], "abc", 3) == 3);
	n = lbpf_loop_run_once(loop, 1000);
	CHECK(n == 1 && pipe_calls == 1 && pipe_events == LBPF_READ, "n=%d calls=%d events=%#x", n,
	      pipe_calls, pipe_events);

	/* the write end reports writable */
	pipe_calls = pipe_events = 0;
	CHECK(lbpf_loop_add(loop, fds[1], LBPF_WRITE, false, pipe_fn, NULL) == 0);
	lbpf_loop_run_once(loop, 1000);
	CHECK(pipe_calls == 1 && (pipe_events & LBPF_WRITE), "events=%#x", pipe_events);
	CHECK(lbpf_loop_del(loop, fds[1]) == 0);

	/* closing the write end hangs up the read end */
	close(fds[1]);
	fds[1] = -1;
	pipe_calls = pipe_events = 0;
	lbpf_loop_run_once(loop, 1000);
	CHECK(pipe_calls == 1 && (pipe_events & LBPF_HUP), "events=%#x", pipe_events);
	CHECK(lbpf_loop_del(loop, fds[0]) == 0);
	CHECK(lbpf_loop_del(loop, fds[0]) == -ENOENT);
	pipe_calls = 0;
	CHECK(lbpf_loop_run_once(loop, 0) == 0 && pipe_calls == 0, "a deleted handler ran");
out:
	if (file >= 0)
		close(file);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	lbpf_loop_free(loop);
}

struct pair {
	int fds[2][2];
	int calls[2];
};

static void del_other_fn(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	struct pair *p = arg;
	int me = fd == p->fds[0][0] ? 0 : 1;

	p->calls[me]++;
	lbpf_loop_del(loop, p->fds[!me][0]);
	lbpf_loop_del(loop, fd); /* and itself */
}

/* A handler that deletes another fd in the same batch stops its dispatch. */
static void del_during_dispatch(void)
{
	lbpf_loop_t *loop = new_loop();
	struct pair p = { { { -1, -1 }, { -1, -1 } }, { 0, 0 } };
	int i, n;

	if (!loop)
		return;
	for (i = 0; i < 2; i++) {
		CHECK(pipe2(p.fds[i], O_NONBLOCK) == 0);
		CHECK(lbpf_loop_add(loop, p.fds[i][0], LBPF_READ, true, del_other_fn, &p) == 0);
		CHECK(write(p.fds[i][1], "x", 1) == 1);
	}
	n = lbpf_loop_run_once(loop, 1000);
	CHECK(n == 2, "epoll returned %d events, expected both in one batch", n);
	CHECK(p.calls[0] + p.calls[1] == 1, "calls %d and %d: a deleted handler ran",
	      p.calls[0], p.calls[1]);
	CHECK(!lbpf_loop_alive(loop), "deleted keepalive handlers still count");
	for (i = 0; i < 2; i++) {
		close(p.fds[i][0]);
		close(p.fds[i][1]);
	}
	lbpf_loop_free(loop);
}

static void nop_fd(lbpf_loop_t *loop, int fd, int events, void *arg)
{
}

/* lbpf_loop_alive counts keepalive fds, holds and armed timers, nothing else. */
static void keepalive_accounting(void)
{
	lbpf_loop_t *loop = new_loop();
	struct probe p = { 0 };
	int fds[2] = { -1, -1 };

	if (!loop || !CHECK(pipe2(fds, O_NONBLOCK) == 0))
		goto out;
	CHECK(!lbpf_loop_alive(loop), "a new loop is alive");
	CHECK(lbpf_loop_add(loop, fds[0], LBPF_READ, false, nop_fd, NULL) == 0);
	CHECK(!lbpf_loop_alive(loop), "an internal fd keeps the loop alive");
	CHECK(lbpf_loop_del(loop, fds[0]) == 0);
	CHECK(lbpf_loop_add(loop, fds[0], LBPF_READ, true, nop_fd, NULL) == 0);
	CHECK(lbpf_loop_alive(loop));
	CHECK(lbpf_loop_del(loop, fds[0]) == 0);
	CHECK(!lbpf_loop_alive(loop), "a deleted keepalive fd still counts");
	lbpf_loop_hold(loop, 1);
	lbpf_loop_hold(loop, 1);
	CHECK(lbpf_loop_alive(loop));
	lbpf_loop_hold(loop, -1);
	CHECK(lbpf_loop_alive(loop), "one hold left");
	lbpf_loop_hold(loop, -1);
	CHECK(!lbpf_loop_alive(loop));
	probe_arm(loop, &p, lbpf_now() + 10000 * MS);
	CHECK(lbpf_loop_alive(loop) && lbpf_timer_armed(&p.node));
	lbpf_loop_timer_cancel(loop, &p.node);
	CHECK(!lbpf_loop_alive(loop) && !lbpf_timer_armed(&p.node));
	CHECK(lbpf_loop_fd(loop) >= 0);
out:
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
	lbpf_loop_free(loop);
}

static void *wake_later(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	lbpf_loop_wake(arg);
	return NULL;
}

/* lbpf_loop_wake from another thread ends a blocking wait; wakes coalesce. */
static void wake_from_thread(void)
{
	lbpf_loop_t *loop = new_loop();
	pthread_t th;
	int n;

	if (!loop)
		return;
	pthread_create(&th, NULL, wake_later, loop);
	n = lbpf_loop_run_once(loop, -1); /* forever, unless woken (harness alarm) */
	pthread_join(th, NULL);
	CHECK(n == 1, "run_once returned %d", n);
	lbpf_loop_wake(loop);
	lbpf_loop_wake(loop);
	CHECK(lbpf_loop_run_once(loop, 1000) == 1);
	CHECK(lbpf_loop_run_once(loop, 0) == 0, "two wakes left more than one event");
	CHECK(!lbpf_loop_alive(loop), "the wake fd keeps the loop alive");
	lbpf_loop_free(loop);
}

/* The clocks: monotonic ns never go back; realtime is near time(2). */
static void clocks(void)
{
	uint64_t a = lbpf_now(), b = lbpf_now();
	double t = lbpf_time();

	CHECK(a > 0 && b >= a);
	CHECK(t > (double)time(NULL) - 2 && t < (double)time(NULL) + 2, "lbpf_time()=%f", t);
}

UNIT_MAIN("loop",
	  UNIT(heap_fires_in_order),
	  UNIT(heap_past_deadlines_fire_at_once),
	  UNIT(heap_cancel_from_middle),
	  UNIT(timer_rearm_moves),
	  UNIT(timer_cannot_starve_fds),
	  UNIT(timer_lateness),
	  UNIT(fd_handlers_on_pipe),
	  UNIT(del_during_dispatch),
	  UNIT(keepalive_accounting),
	  UNIT(wake_from_thread),
	  UNIT(clocks))
