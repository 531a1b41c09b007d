// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The event loop of one runtime, in the manner of Redis' ae.c: fd handlers
 * indexed by fd in one epoll set, and every timer of the runtime (Lua timers,
 * sleeping tasks, wait timeouts) in one binary min-heap behind one timerfd
 * armed at the earliest deadline with TFD_TIMER_ABSTIME. Ten thousand timers
 * cost one heap slot each and no file descriptor.
 *
 * Like ae.c it knows nothing of its user: it holds an opaque pointer, runs
 * the hooks its user registered around the wait (the runtime releases and
 * retakes its lock there), and owns the stop flag its user raises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"


#define MAX_EVENTS 64

struct handler {
	lbpf_fd_fn fn;
	void *arg;
	int events;
	bool used;
	bool keepalive;
};

struct lbpf_loop {
	void *user;
	lbpf_sleep_fn before_sleep, after_sleep;
	atomic_bool stop;
	int epfd;
	int timerfd;
	int wakefd;
	struct handler *handlers; /* indexed by fd */
	int nhandlers;
	int keepalive;            /* keepalive handlers + holds */
	size_t weak_timers;       /* armed timers that do not keep it alive */
	lbpf_timer_node_t **heap; /* 1-based min-heap on deadline */
	size_t heap_len;
	size_t heap_cap;
	uint64_t armed;           /* deadline the timerfd is set to, 0 = none */
	bool expiring;            /* in timers_expire: sync the timerfd once, at the end */
};

uint64_t lbpf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

double lbpf_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void drain_fd(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	uint64_t value;

	while (read(fd, &value, sizeof(value)) == sizeof(value))
		;
}

static void timers_expire(lbpf_loop_t *loop, int fd, int events, void *arg);

lbpf_loop_t *lbpf_loop_new(void *user)
{
	lbpf_loop_t *loop = calloc(1, sizeof(*loop));
	int err;

	if (!loop)
		return NULL;
	loop->user = user;
	atomic_init(&loop->stop, false);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->timerfd < 0 || loop->wakefd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = lbpf_loop_add(loop, loop->timerfd, LBPF_READ, false, timers_expire, NULL);
	if (!err)
		err = lbpf_loop_add(loop, loop->wakefd, LBPF_READ, false, drain_fd, NULL);
	if (!err)
		return loop;
cleanup:
	lbpf_loop_free(loop);
	errno = -err;
	return NULL;
}

void lbpf_loop_free(lbpf_loop_t *loop)
{
	if (!loop)
		return;
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->timerfd > 0)
		close(loop->timerfd);
	if (loop->wakefd > 0)
		close(loop->wakefd);
	free(loop->handlers);
	free(loop->heap);
	free(loop);
}

static uint32_t to_epoll(int events)
{
	return (events & LBPF_READ ? EPOLLIN : 0) | (events & LBPF_WRITE ? EPOLLOUT : 0);
}

int lbpf_loop_add(lbpf_loop_t *loop, int fd, int events, bool keepalive, lbpf_fd_fn fn, void *arg)
{
	struct epoll_event ev = { .events = to_epoll(events), .data.fd = fd };

	if (fd < 0)
		return -EBADF;
	if (fd >= loop->nhandlers) {
		int n = fd + 64;
		struct handler *h = realloc(loop->handlers, n * sizeof(*h));

		if (!h)
			return -ENOMEM;
		memset(h + loop->nhandlers, 0, (n - loop->nhandlers) * sizeof(*h));
		loop->handlers = h;
		loop->nhandlers = n;
	}
	if (loop->handlers[fd].used)
		return -EEXIST;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->handlers[fd] = (struct handler){ fn, arg, events, true, keepalive };
	loop->keepalive += keepalive;
	return 0;
}

int lbpf_loop_del(lbpf_loop_t *loop, int fd)
{
	struct handler *h;

	if (fd < 0 || fd >= loop->nhandlers || !loop->handlers[fd].used)
		return -ENOENT;
	h = &loop->handlers[fd];
	loop->keepalive -= h->keepalive;
	memset(h, 0, sizeof(*h));
	/* the fd may already be closed, which also removed it from the set */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
		return -errno;
	return 0;
}

void lbpf_loop_hold(lbpf_loop_t *loop, int delta)
{
	loop->keepalive += delta;
}

bool lbpf_loop_alive(lbpf_loop_t *loop)
{
	return loop->keepalive > 0 || loop->heap_len > loop->weak_timers;
}

int lbpf_loop_fd(lbpf_loop_t *loop)
{
	return loop->epfd;
}

/* The pointer the loop was made with; the loop never reads it. */
void *lbpf_loop_user(lbpf_loop_t *loop)
{
	return loop->user;
}

/* What runs just before and just after each wait (either may be NULL). */
void lbpf_loop_set_sleep_hooks(lbpf_loop_t *loop, lbpf_sleep_fn before, lbpf_sleep_fn after)
{
	loop->before_sleep = before;
	loop->after_sleep = after;
}

void lbpf_loop_wake(lbpf_loop_t *loop)
{
	uint64_t one = 1;

	if (write(loop->wakefd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the loop is awake anyway */
	}
}

/* An atomic store and an eventfd write: safe from any thread and from a
 * signal handler. */
void lbpf_loop_stop(lbpf_loop_t *loop, bool stop)
{
	atomic_store(&loop->stop, stop);
	if (stop)
		lbpf_loop_wake(loop);
}

bool lbpf_loop_stopping(lbpf_loop_t *loop)
{
	return atomic_load(&loop->stop);
}

/* ---- the timer heap ---- */

static void heap_set(lbpf_loop_t *loop, size_t i, lbpf_timer_node_t *node)
{
	loop->heap[i] = node;
	node->index = i;
}

static void heap_up(lbpf_loop_t *loop, size_t i)
{
	lbpf_timer_node_t *node = loop->heap[i];

	while (i > 1 && loop->heap[i / 2]->deadline > node->deadline) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, node);
}

static void heap_down(lbpf_loop_t *loop, size_t i)
{
	lbpf_timer_node_t *node = loop->heap[i];

	for (;;) {
		size_t child = 2 * i;

		if (child > loop->heap_len)
			break;
		if (child < loop->heap_len && loop->heap[child + 1]->deadline < loop->heap[child]->deadline)
			child++;
		if (loop->heap[child]->deadline >= node->deadline)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, node);
}

/* Points the timerfd at the earliest deadline, when that changed. */
static void timerfd_sync(lbpf_loop_t *loop)
{
	uint64_t first = loop->heap_len ? loop->heap[1]->deadline : 0;
	struct itimerspec its = { 0 };

	/* an all-zero it_value disarms: a deadline at time 0 is simply past */
	if (loop->heap_len && first == 0)
		first = 1;
	if (first == loop->armed || loop->expiring)
		return;
	if (first) {
		its.it_value.tv_sec = first / 1000000000ull;
		its.it_value.tv_nsec = first % 1000000000ull;
	}
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		loop->armed = first;
}

int lbpf_loop_timer_at(lbpf_loop_t *loop, lbpf_timer_node_t *node, uint64_t deadline)
{
	if (node->index) {
		uint64_t old = node->deadline;

		node->deadline = deadline;
		if (deadline < old)
			heap_up(loop, node->index);
		else
			heap_down(loop, node->index);
	} else {
		if (loop->heap_len + 1 >= loop->heap_cap) {
			size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
			lbpf_timer_node_t **heap = realloc(loop->heap, cap * sizeof(*heap));

			if (!heap)
				return -ENOMEM;
			loop->heap = heap;
			loop->heap_cap = cap;
		}
		node->deadline = deadline;
		loop->weak_timers += node->weak;
		loop->heap[++loop->heap_len] = node;
		heap_up(loop, loop->heap_len);
	}
	timerfd_sync(loop);
	return 0;
}

void lbpf_loop_timer_cancel(lbpf_loop_t *loop, lbpf_timer_node_t *node)
{
	size_t i = node->index;
	lbpf_timer_node_t *last;

	if (!i)
		return;
	node->index = 0;
	loop->weak_timers -= node->weak;
	last = loop->heap[loop->heap_len--];
	if (last != node) {
		heap_set(loop, i, last);
		heap_up(loop, i);
		heap_down(loop, last->index);
	}
	timerfd_sync(loop);
}

/* Fires every timer that is due. A callback may re-arm its node (periodic
 * timers) or others; a node re-armed into the past waits for the next pass so
 * one timer cannot starve the loop. */
static void timers_expire(lbpf_loop_t *loop, int fd, int events, void *arg)
{
	uint64_t expirations, now = lbpf_now();
	size_t budget = loop->heap_len;

	if (read(loop->timerfd, &expirations, sizeof(expirations)) < 0) {
		/* EAGAIN: nothing to acknowledge */
	}
	loop->armed = 0;
	loop->expiring = true;
	while (budget-- && loop->heap_len && loop->heap[1]->deadline <= now &&
	       !lbpf_loop_stopping(loop)) {
		lbpf_timer_node_t *node = loop->heap[1];

		lbpf_loop_timer_cancel(loop, node);
		node->fn(loop, node);
	}
	loop->expiring = false;
	timerfd_sync(loop);
}

int lbpf_loop_run_once(lbpf_loop_t *loop, int timeout_ms)
{
	struct epoll_event events[MAX_EVENTS];
	int i, n, err;

	/* a runtime releases its lock here, so that other threads get in with
	 * lbpf_run() while the loop waits */
	if (loop->before_sleep)
		loop->before_sleep(loop);
	n = epoll_wait(loop->epfd, events, MAX_EVENTS, timeout_ms);
	err = n < 0 ? errno : 0;
	if (loop->after_sleep)
		loop->after_sleep(loop);
	if (n < 0)
		return err == EINTR ? 0 : -err;
	for (i = 0; i < n; i++) {
		int fd = events[i].data.fd;
		uint32_t e = events[i].events;
		struct handler *h = fd < loop->nhandlers ? &loop->handlers[fd] : NULL;
		int mask = 0;

		if (!h || !h->used)
			continue; /* removed by an earlier handler of this batch */
		if (lbpf_loop_stopping(loop))
			break;
		mask |= e & EPOLLIN ? LBPF_READ : 0;
		mask |= e & EPOLLOUT ? LBPF_WRITE : 0;
		mask |= e & (EPOLLHUP | EPOLLRDHUP) ? LBPF_HUP : 0;
		mask |= e & EPOLLERR ? LBPF_ERROR : 0;
		h->fn(loop, fd, mask, h->arg);
	}
	return n;
}
