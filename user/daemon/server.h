/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The server part: sockets, connections and the main loop. conns.c (its
 * header is conns.h) frames what clients send and hands each request line to
 * the requests part; server.c owns the epoll set, the listening sockets and
 * the signals; main.c reads the command line and starts the parts, lowest
 * first. Files, lowest first: conns.c, server.c, main.c.
 */
#ifndef LBPFD_SERVER_H
#define LBPFD_SERVER_H

#include <sys/epoll.h>
#include <sys/types.h>

#include "conns.h"

/* ---- server.c: the epoll set, the listening sockets, signals, the loop ---- */

/* Blocks the signals, opens the epoll set, the mailbox and the control
 * socket (first: a second lbpfd must stop before it touches the first
 * one's pinned maps). 0 or -errno (logged). */
int server_open(const struct daemon_options *opts);
/* Watches the sockets, the mailbox and the signals; opens --metrics. */
int server_listen(void);
/* The main thread's epoll set, for what else it watches (the policy folder). */
int server_epfd(void);
/* The main loop, until a stop is done. */
void server_run(void);
/* Removes the control socket. */
void server_close(void);

#endif /* LBPFD_SERVER_H */
