// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Hostile clients of lbpfd's control socket, for the limits tests and the
 * soak benchmark (tests/integration/test_daemon_limits.sh,
 * scripts/bench/daemon_soak.sh):
 *   ctl_flood SOCKET MODE CONNS SECONDS
 * keeps CONNS connections open for SECONDS, connecting again when lbpfd
 * closes one. MODE is what each connection does:
 *   pipeline  sends {"op":"status"} lines as fast as the socket takes them
 *             and never reads a reply
 *   burst     sends 1 MiB of {"op":"status"} lines once, then reads nothing
 *   trickle   sends {"op":"status" one byte every 100 ms, never a newline
 *   idle      sends nothing
 * Prints "connects=N closed=N bytes=N" and the first line lbpfd sent on a
 * connection that it closed ("reason=..."), when one was read.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE "{\"op\":\"status\"}\n"
#define LINE_LEN (sizeof(LINE) - 1)
#define CHUNK (4096 * LINE_LEN)
#define BURST (1u << 20)

struct slot {
	int fd;
	size_t sent;       /* of this connection */
};

static const char *mode;
static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static char chunk[CHUNK];
static unsigned long connects, closed, bytes;
static char reason[512];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A new connection into s, or fd -1 when lbpfd does not take one now. */
static void slot_open(struct slot *s)
{
	s->sent = 0;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(s->fd);
		s->fd = -1;
		return;
	}
	connects++;
}

/* lbpfd closed s (or refused it): keeps the first line it said. */
static void slot_closed(struct slot *s)
{
	char buf[512];
	ssize_t n = recv(s->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n > 0 && !reason[0] && strcmp(mode, "pipeline") && strcmp(mode, "burst")) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(reason, sizeof(reason), "%s", buf);
	}
	closed++;
	close(s->fd);
	s->fd = -1;
}

/* What the mode sends on s now that it may write. */
static void slot_write(struct slot *s, double t)
{
	size_t len = CHUNK;
	ssize_t n;

	if (!strcmp(mode, "idle"))
		return;
	if (!strcmp(mode, "burst")) {
		if (s->sent >= BURST)
			return;
		len = BURST - s->sent < CHUNK ? BURST - s->sent : CHUNK;
	}
	if (!strcmp(mode, "trickle")) {
		if (s->sent * 0.1 > t)
			return;
		len = 1;
	}
	n = send(s->fd, chunk + (s->sent % LINE_LEN), len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0) {
		s->sent += n;
		bytes += n;
	} else if (n < 0 && errno != EAGAIN) {
		slot_closed(s);
	}
}

int main(int argc, char **argv)
{
	struct slot *slots;
	struct pollfd *pfd;
	double start, end, t;
	int conns, i;

	if (argc != 5) {
		fprintf(stderr, "usage: ctl_flood SOCKET pipeline|burst|trickle|idle CONNS SECONDS\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	mode = argv[2];
	conns = atoi(argv[3]);
	end = (start = now()) + atof(argv[4]);
	for (i = 0; i < (int)CHUNK; i++)
		chunk[i] = LINE[i % LINE_LEN];
	slots = calloc(conns, sizeof(*slots));
	pfd = calloc(conns, sizeof(*pfd));
	if (!slots || !pfd || conns < 1)
		return 2;
	for (i = 0; i < conns; i++)
		slot_open(&slots[i]);
	while ((t = now()) < end) {
		for (i = 0; i < conns; i++) {
			if (slots[i].fd < 0)
				slot_open(&slots[i]);
			pfd[i].fd = slots[i].fd;
			pfd[i].events = POLLRDHUP |
					(strcmp(mode, "idle") && strcmp(mode, "trickle") ? POLLOUT : 0);
		}
		if (poll(pfd, conns, 100) < 0 && errno != EINTR)
			break;
		t = now() - start;
		for (i = 0; i < conns; i++) {
			if (slots[i].fd < 0)
				continue;
			if (pfd[i].revents & (POLLHUP | POLLERR | POLLRDHUP))
				slot_closed(&slots[i]);
			else
				slot_write(&slots[i], t);
		}
	}
	printf("connects=%lu closed=%lu bytes=%lu\n", connects, closed, bytes);
	if (reason[0])
		printf("reason=%s\n", reason);
	return 0;
}
