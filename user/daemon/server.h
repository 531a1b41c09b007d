/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The server part: sockets, connections and the main loop. conns.c frames
 * what clients send and hands each request line to the requests part;
 * server.c owns the epoll set, the listening sockets and the signals;
 * main.c reads the command line and starts the parts, lowest first.
 * Files, lowest first: conns.c, server.c, main.c.
 */
#ifndef LBPFD_SERVER_H
#define LBPFD_SERVER_H

#include <sys/epoll.h>
#include <sys/types.h>

#include "lbpfd.h"

/* Adds fd to the epoll set epfd; h comes back to the main loop. 0 or -errno. */
static inline int epoll_watch(int epfd, int fd, uint32_t events, struct handle *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* ---- conns.c: the connections of the control socket and the metrics server ---- */

/* Connections join epfd; with group, members of gid may use the control
 * socket too. */
void conns_init(int epfd, bool group, gid_t gid);
/* Accepts what waits on a listening socket. */
void conns_accept(int listen_fd, bool http);
/* A partial request idle for LBPF_DAEMON_IDLE_S gets an error and is closed. */
void conns_sweep_idle(void);
/* Sends what replies and followed logs queued on any connection. */
void conns_flush_all(void);

/* ---- server.c: the epoll set, the listening sockets, signals, the loop ---- */

/* Blocks the signals, opens the epoll set, the mailbox and the control
 * socket (first: a second lbpfd must stop before it touches the first
 * one's pinned maps). 0 or -errno (logged). */
int server_open(const struct daemon_options *opts);
/* Watches the sockets, the mailbox and the signals; opens --metrics. */
int server_listen(void);
int server_epfd(void);
/* The main loop, until a stop is done. */
void server_run(void);
/* Removes the control socket. */
void server_close(void);

#endif /* LBPFD_SERVER_H */
