/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * What every part of lbpfd shares. The parts, lowest first; a part calls
 * only the parts below it and reports up by return value, by a callback it
 * was given, or by a message to the main thread (mailbox.h):
 *   folders.c                                the folders it trusts, checked
 *   state.c, pins.c, features.c, mailbox.c   saved state, pinned maps and
 *                                            filters, kernel features, messages
 *   policies.c, runners.c, loads.c, life.c   the policy table and a policy's life
 *                                            (policies.h)
 *   clients.c, requests.c, metrics.c         the requests, without sockets
 *                                            (requests.h)
 *   conns.c, server.c, main.c                sockets, connections, the main
 *                                            loop, signals (server.h)
 */
#ifndef LBPFD_H
#define LBPFD_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/epoll.h>

#include <lbpf/daemon.h>

/* The command line, filled in by main.c and read-only afterwards; the parts
 * get it (or the fields they need) when they start. */
struct daemon_options {
	const char *socket_path;
	const char *state_dir;
	const char *bpffs;
	const char *metrics;
	const char *group;
	const char *policy_dir;    /* --policy-dir: policies as files, or NULL */
	int workers;
	int worker_nice;                /* the workers' nice value (-5) */
	uint64_t instruction_limit;
	unsigned max_errors;
	size_t default_memory;
	unsigned max_clients;      /* connections at once, control and metrics */
	size_t max_output;         /* unread replies a connection may pile up */
	unsigned timeout_s;        /* to send a whole line */
	bool fail_open;            /* filters are unpinned when lbpfd stops or crashed */
};

/* An entry of the main thread's epoll set: its owner embeds it, and the
 * main loop calls ready with the events epoll reported. */
struct handle {
	void (*ready)(struct handle *h, uint32_t events);
};

/* Adds fd to the epoll set epfd; h comes back to the main loop. 0 or -errno. */
static inline int epoll_watch(int epfd, int fd, uint32_t events, struct handle *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

#endif /* LBPFD_H */
