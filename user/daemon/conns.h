/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The lowest file of the server part (server.h): conns.c, the connections of
 * the control socket and the metrics server. */
#ifndef LBPFD_CONNS_H
#define LBPFD_CONNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "lbpfd.h"

/* Connections join epfd; with group, members of gid may use the control
 * socket too. */
void conns_init(int epfd, bool group, gid_t gid);
/* Accepts what waits on a listening socket. */
void conns_accept(int listen_fd, bool http);
/* A partial request idle for LBPF_DAEMON_IDLE_S gets an error and is closed. */
void conns_sweep_idle(void);
/* Sends what replies and followed logs queued on any connection. */
void conns_flush_all(void);

#endif /* LBPFD_CONNS_H */
