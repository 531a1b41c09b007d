// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The connections: buffers, framing and flow. A control connection reads
 * lines and hands each one to the requests (requests_line), through the
 * client it embeds; a metrics connection reads an HTTP request head and
 * gets the metrics. Output is queued and flushed when the socket takes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/internal.h"
#include "requests.h"
#include "conns.h"

#define MAX_OUTPUT (16u << 20) /* a follower that reads nothing is dropped */

/* A client of the control socket or of the metrics server. */
struct conn {
	struct handle h;
	struct conn *next;
	int fd;
	bool http;
	bool want_out;             /* EPOLLOUT is on */
	char *in;
	size_t in_len, in_cap;
	struct json_writer out;
	size_t out_off;
	uint64_t last_ns;          /* last input, for the idle timeout */
	/* what the requests know of it; only its closing flag for http */
	struct client client;
};

static struct conn *conns; /* main thread */
static int epfd = -1;
static bool group_set;     /* --group */
static gid_t group_gid;

/* The connection a client of the requests is part of. */
static struct conn *conn_of(struct client *cl)
{
	return (struct conn *)((char *)cl - offsetof(struct conn, client));
}

static void conn_event(struct handle *h, uint32_t events);

/* Closes and frees c; its client leaves the requests. */
static void conn_free(struct conn *c)
{
	struct conn **pp;

	if (!c->http)
		client_leave(&c->client);
	for (pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	close(c->fd); /* also leaves the epoll set */
	free(c->in);
	json_writer_free(&c->out);
	free(c);
}

/* Turns EPOLLOUT on or off. */
static void set_output_watch(struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->h };

	if (c->want_out == on)
		return;
	c->want_out = on;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending; frees the connection when it is done or broken.
 * Returns false when c was freed. */
static bool conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			set_output_watch(c, true);
			return true;
		}
		if (n < 0)
			return conn_free(c), false;
		c->out_off += n;
	}
	c->out.len = c->out_off = 0;
	set_output_watch(c, false);
	if (c->client.closing)
		return conn_free(c), false;
	return true;
}

/* The requests' output (client_send_fn): c is open. */
static void conn_send(struct client *cl, struct json_writer *w)
{
	struct conn *c = conn_of(cl);

	if (w->failed || c->out.len > MAX_OUTPUT) {
		fprintf(stderr, "lbpfd: dropping a client: %s\n",
			w->failed ? "out of memory" : "it reads nothing");
		c->client.closing = true;
		json_writer_free(w);
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	json_raw(&c->out, w->data, w->len);
	json_raw(&c->out, "\n", 1);
	json_writer_free(w);
}

/* Whether the peer has the socket's group, as its group or a supplementary
 * one (SO_PEERGROUPS: the groups it had when it connected). */
static bool peer_in_group(int fd, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* root, the daemon's own user, or members of the socket's group may talk
 * to it; the peer's uid into *uid */
static bool peer_allowed(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*uid = cred.uid;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	return group_set && (cred.gid == group_gid || peer_in_group(fd, group_gid));
}

void conns_accept(int listen_fd, bool http)
{
	struct conn *c;
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->h.ready = conn_event;
		c->fd = fd;
		c->http = http;
		c->last_ns = lbpf_now();
		c->next = conns;
		conns = c;
		if (!http)
			client_join(&c->client);
		if (epoll_watch(epfd, fd, EPOLLIN, &c->h) < 0) {
			conn_free(c);
			continue;
		}
		if (!http && !peer_allowed(fd, &c->client.uid)) {
			client_error(&c->client, "permission denied: lbpfd accepts root, its own "
				     "user and members of the socket's group (lbpfd --group)");
			c->client.closing = true;
			conn_flush(c);
		}
	}
}

/* Serves an HTTP request once its head is complete. */
static void http_input(struct conn *c)
{
	struct json_writer w = { 0 };

	if (!memmem(c->in, c->in_len, "\r\n\r\n", 4) && !memmem(c->in, c->in_len, "\n\n", 2)) {
		if (c->in_len > 16384)
			conn_free(c);
		return;
	}
	metrics_respond(c->in, &w);
	json_raw(&c->out, w.data ? w.data : "", w.len);
	json_writer_free(&w);
	c->in_len = 0;
	c->client.closing = true;
	conn_flush(c);
}

/* Handles every complete line; an oversize line ends the connection.
 * Returns false when c was freed. */
static bool control_input(struct conn *c)
{
	char *nl;

	while (!c->client.closing && (nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = nl - c->in;

		if (len > LBPF_DAEMON_MAX_LINE)
			break;
		requests_line(&c->client, c->in, len);
		memmove(c->in, nl + 1, c->in_len - len - 1);
		c->in_len -= len + 1;
	}
	if (!c->client.closing && c->in_len > LBPF_DAEMON_MAX_LINE) {
		client_error(&c->client, "request too long: a line may have at most %d bytes",
			     LBPF_DAEMON_MAX_LINE);
		c->in_len = 0;
		c->client.closing = true;
	}
	return conn_flush(c);
}

/* The client shut its side: a partial request gets an error; the
 * connection closes once the replies it waits for are sent. */
static void conn_eof(struct conn *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &c->h };

	c->client.eof = true;
	if (c->in_len && !c->http && !c->client.closing)
		client_error(&c->client,
			     "incomplete request: the connection ended before the end of line");
	c->in_len = 0;
	if (!c->client.pending)
		c->client.closing = true;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
	c->want_out = false;
	conn_flush(c);
}

/* Reads what arrived, then handles it. */
static void conn_input(struct conn *c)
{
	bool eof = false;

	for (;;) {
		ssize_t n;

		if (c->in_cap - c->in_len < 4096) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
			char *in = realloc(c->in, cap + 1);

			if (!in)
				return conn_free(c);
			c->in = in;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 || (n == 0 && c->http))
			return conn_free(c);
		if (n == 0) {
			eof = true;
			break;
		}
		c->in_len += n;
		c->in[c->in_len] = '\0';
		c->last_ns = lbpf_now();
		if (c->in_len > LBPF_DAEMON_MAX_LINE + 1)
			break; /* oversize: do not buffer more */
	}
	if (c->http)
		http_input(c);
	else if (control_input(c) && eof)
		conn_eof(c);
}

/* The main loop found the connection h ready. */
static void conn_event(struct handle *h, uint32_t events)
{
	struct conn *c = (struct conn *)h;

	if (events & EPOLLOUT && !conn_flush(c))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_input(c);
}

void conns_sweep_idle(void)
{
	uint64_t limit = lbpf_now() - LBPF_DAEMON_IDLE_S * 1000000000ull;
	struct conn *c, *next;

	for (c = conns; c; c = next) {
		next = c->next;
		if (!c->in_len || c->last_ns > limit || c->client.closing)
			continue;
		if (!c->http)
			client_error(&c->client, "incomplete request: no end of line within %d s",
				     LBPF_DAEMON_IDLE_S);
		c->in_len = 0;
		c->client.closing = true;
		conn_flush(c);
	}
}

void conns_init(int epoll_fd, bool group, gid_t gid)
{
	epfd = epoll_fd;
	group_set = group;
	group_gid = gid;
	clients_init(conn_send);
}

void conns_flush_all(void)
{
	struct conn *c, *next;

	for (c = conns; c; c = next) {
		next = c->next;
		if (c->out.len > c->out_off || c->client.closing)
			conn_flush(c);
	}
}
