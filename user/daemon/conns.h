/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The lowest file of the server part (server.h): conns.c, the connections of
 * the control socket and the metrics server. */
#ifndef LBPFD_CONNS_H
#define LBPFD_CONNS_H

#include <stdbool.h>
#include <sys/types.h>

#include "lbpfd.h"

/* Connections join epfd, within the limits of opts; with --group, members
 * of gid may use the control socket too. 0 or -errno. */
int conns_init(int epfd, const struct daemon_options *opts, gid_t gid);
/* Accepts what waits on a listening socket: 0, or -errno when accept
 * failed (out of descriptors or memory), and the caller should stop
 * listening for a while rather than be woken again at once. */
int conns_accept(int listen_fd, bool http);
/* Gives each connection with requests waiting in its input one more turn;
 * returns whether some still wait (the loop must not sleep). */
bool conns_work(void);
/* A connection that owed a line (or the flush of its last words) for longer
 * than --timeout is told why and closed. */
void conns_sweep_idle(void);
/* Sends what replies and followed logs queued on any connection. */
void conns_flush_all(void);

#endif /* LBPFD_CONNS_H */
