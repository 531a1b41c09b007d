// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The connections: buffers, framing, flow and limits. A control connection
 * reads lines and hands each one, in place, to the requests (requests_line)
 * through the client it embeds; a metrics connection reads an HTTP request
 * head and gets the metrics. Output is queued and flushed when the socket
 * takes it.
 *
 * What one client may cost is bounded (lbpfd(8), LIMITS): at most
 * --max-clients connections (one more is told why and closed); buffered
 * input of one line (LBPF_DAEMON_MAX_LINE); unread output of --max-output
 * bytes when a reply is queued; --timeout seconds to finish a line, counted
 * from the end of the previous one; and LINES_PER_TURN requests before the
 * other connections get a turn. A connection over a limit is told why (when
 * its socket takes the line), logged and closed.
 */
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/internal.h"
#include "requests.h"
#include "conns.h"

#define LINES_PER_TURN 64           /* requests of one connection, then the others' turn */
#define INPUT_MIN (16u << 10)       /* the input buffer; it grows only for a long line */
#define INPUT_MAX (LBPF_DAEMON_MAX_LINE + 1) /* one whole line and its '\n' */
#define HTTP_HEAD_MAX (16u << 10)
#define OUTPUT_KEEP (64u << 10)     /* an empty output buffer larger than this is freed */
#define DRAIN_MAX (256u << 10)      /* unread input dropped before a close */
#define NS_PER_S 1000000000ull

/* A client of the control socket or of the metrics server. */
struct conn {
	struct handle h;
	struct conn *next;
	int fd;
	bool http;
	bool in_eof;               /* the peer shut its side; lines may still wait */
	bool backlog;              /* complete lines wait in the input */
	uint32_t events;           /* what epoll watches */
	char *in;                  /* input from in_off to in_len is not handled yet */
	size_t in_off, in_len, in_cap;
	struct json_writer out;    /* output from out_off to out.len is not sent yet */
	size_t out_off;
	uint64_t since_ns;         /* it owes a line since: accepted, or its last line */
	/* what the requests know of it; only its closing flag for http */
	struct client client;
};

static struct conn *conns; /* main thread */
static unsigned nconns;
static unsigned closed_since_trim; /* connections closed since the last malloc_trim */
static int epfd = -1;
static int spare_fd = -1;  /* given up at EMFILE to refuse a client with a reason */
static const struct daemon_options *opts;
static bool group_set;     /* --group */
static gid_t group_gid;
static uint64_t log_ns;    /* the last line logged about a connection */
static unsigned log_skipped;

/* The connection a client of the requests is part of. */
static struct conn *conn_of(struct client *cl)
{
	return (struct conn *)((char *)cl - offsetof(struct conn, client));
}

static void conn_event(struct handle *h, uint32_t events);

/* One line on stderr about connections, at most one a second: a flood of
 * clients must not become a flood of log lines. */
static void conn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void conn_log(const char *fmt, ...)
{
	uint64_t now = lbpf_now();
	va_list ap;

	if (log_ns && now - log_ns < NS_PER_S) {
		log_skipped++;
		return;
	}
	if (log_skipped)
		fprintf(stderr, "lbpfd: (%u more lines about connections not logged)\n",
			log_skipped);
	log_ns = now;
	log_skipped = 0;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Reads and drops up to DRAIN_MAX bytes the peer sent and lbpfd will not
 * handle: a unix socket closed with input unread resets the connection, so
 * the peer might lose the reply that said why, and a peer still writing
 * would not get to read it. Returns whether the input ended. */
static bool conn_drain(struct conn *c)
{
	char buf[16384];
	size_t total = 0;
	ssize_t n = -1;

	while (total < DRAIN_MAX && (n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += n;
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

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
	nconns--;
	/* no more input from here on (the peer's writes fail), then drop what
	 * came: a byte that arrived between the drain and the close would make
	 * the close reset the connection, and the peer lose the reason */
	shutdown(c->fd, SHUT_RD);
	conn_drain(c);
	close(c->fd); /* also leaves the epoll set */
	free(c->in);
	json_writer_free(&c->out);
	free(c);
	/* A flood's small buffers come from the heap, whose free pages glibc
	 * keeps while anything above them lives: once many connections have
	 * come and gone and only a few (a watcher, a scraper) remain, hand the
	 * free pages back. scripts/bench/daemon_soak.sh: RSS after a flood was
	 * +46-50% over its start in some runs without this, 0-2% with it. */
	if (++closed_since_trim >= 64 && nconns <= 4) {
		malloc_trim(0);
		closed_since_trim = 0;
	}
}

/* Watches input while c may send a request, output while some waits. */
static void conn_watch(struct conn *c)
{
	bool input = !c->in_eof && !c->backlog; /* closing: to be dropped */
	uint32_t events = (input ? EPOLLIN : 0) | (c->out_off < c->out.len ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = events, .data.ptr = &c->h };

	if (events == c->events)
		return;
	c->events = events;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what the socket takes now. 0, or -errno when the peer is gone. */
static int conn_write(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->out_off += n;
	}
	c->out.len = c->out_off = 0;
	if (c->out.cap > OUTPUT_KEEP)
		json_writer_free(&c->out);
	return 0;
}

/* Writes what is pending; frees the connection when it is done or broken.
 * Returns false when c was freed. */
static bool conn_flush(struct conn *c)
{
	if (conn_write(c) < 0 || (c->client.closing && c->out_off == c->out.len))
		return conn_free(c), false;
	conn_watch(c);
	return true;
}

/* Ends c for reason: logged, told to the client after what it was already
 * sent (its unsent replies are dropped), then closed once that is flushed
 * or --timeout passed. */
static void conn_close(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_close(struct conn *c, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	conn_log("lbpfd: closing connection %llu (uid %d): %s\n",
		 (unsigned long long)c->client.id, (int)c->client.uid, reason);
	c->out.len = c->out_off;
	if (c->out_off && c->out.data[c->out_off - 1] != '\n')
		json_raw(&c->out, "\n", 1); /* the reply it had begun to read is cut */
	if (!c->http)
		client_error(&c->client, "%s", reason);
	c->client.closing = true;
	c->since_ns = lbpf_now();
}

/* Keeps at most as much unsent output as the buffer holds twice. */
static void output_compact(struct conn *c)
{
	if (!c->out_off || c->out_off < c->out.len / 2)
		return;
	memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
	c->out.len -= c->out_off;
	c->out_off = 0;
}

/* The requests' output (client_send_fn): c is open. A client that let more
 * than --max-output bytes of replies pile up is closed instead. */
static void conn_send(struct client *cl, struct json_writer *w)
{
	struct conn *c = conn_of(cl);

	if (c->out.len - c->out_off > opts->max_output && conn_write(c) == 0 &&
	    c->out.len - c->out_off > opts->max_output)
		conn_close(c, "more than %zu bytes of replies unread (lbpfd --max-output)",
			   opts->max_output);
	if (w->failed && !c->client.closing)
		conn_close(c, "out of memory");
	if (!w->failed && !c->client.closing) {
		output_compact(c);
		json_raw(&c->out, w->data, w->len);
		json_raw(&c->out, "\n", 1);
	}
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

/* The peer's credentials (SO_PEERCRED); uid -1 when they cannot be read. */
static struct ucred peer_cred(int fd)
{
	struct ucred cred = { .pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		cred.uid = (uid_t)-1;
	return cred;
}

/* root, the daemon's own user, or members of the socket's group may talk
 * to it */
static bool peer_allowed(int fd, const struct ucred *cred)
{
	if (cred->uid == (uid_t)-1)
		return false;
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	return group_set && (cred->gid == group_gid || peer_in_group(fd, group_gid));
}

/* How many connections may be open when one of uid's is accepted: the last
 * eighth of --max-clients is root's, so that a flood by members of the
 * group (or metrics scrapers) cannot lock root out. */
static unsigned clients_allowed(uid_t uid)
{
	return uid == 0 ? opts->max_clients : opts->max_clients - opts->max_clients / 8;
}

/* Tells a client that gets no connection why (one line it can read after
 * the close, or an HTTP 503), then closes fd. */
static void refuse(int fd, bool http, const char *why)
{
	char msg[512];
	int n;

	if (http)
		n = snprintf(msg, sizeof(msg), "HTTP/1.0 503 Service Unavailable\r\n"
			     "Content-Type: text/plain\r\nConnection: close\r\n\r\n%s\n", why);
	else
		n = snprintf(msg, sizeof(msg), "{\"ok\":false,\"error\":\"%s\"}\n", why);
	if (send(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* it is gone already */
	}
	close(fd);
}

/* At EMFILE: gives up the spare descriptor to accept one waiting client and
 * refuse it with a reason, then takes the spare again. Returns whether a
 * client was taken off the queue this way. */
static bool refuse_without_fds(int listen_fd, bool http)
{
	int fd;

	if (spare_fd < 0)
		return false;
	close(spare_fd);
	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0)
		refuse(fd, http, "lbpfd is out of file descriptors (RLIMIT_NOFILE); "
		       "try again later");
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd >= 0;
}

/* A connection for fd, listed and watched; NULL (fd closed) on failure. */
static struct conn *conn_new(int fd, bool http)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return NULL;
	}
	c->h.ready = conn_event;
	c->fd = fd;
	c->http = http;
	c->since_ns = lbpf_now();
	c->next = conns;
	conns = c;
	nconns++;
	if (!http)
		client_join(&c->client);
	c->events = EPOLLIN;
	if (epoll_watch(epfd, fd, EPOLLIN, &c->h) < 0) {
		conn_free(c);
		return NULL;
	}
	return c;
}

int conns_accept(int listen_fd, bool http)
{
	struct ucred cred = { .uid = (uid_t)-1 };
	char why[160];
	struct conn *c;
	int fd, err;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && errno == EAGAIN)
			return 0;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE) &&
		    refuse_without_fds(listen_fd, http))
			continue;
		if (fd < 0) {
			err = -errno;
			conn_log("lbpfd: accept: %s; not accepting for a second\n", strerror(-err));
			return err;
		}
		if (!http)
			cred = peer_cred(fd);
		if (nconns >= clients_allowed(cred.uid)) {
			snprintf(why, sizeof(why), "too many connections: lbpfd serves at most %u "
				 "at once, the last %u of them to root only (lbpfd --max-clients)",
				 opts->max_clients, opts->max_clients / 8);
			conn_log("lbpfd: refusing a connection of uid %d: %s\n", (int)cred.uid, why);
			refuse(fd, http, why);
			continue;
		}
		if (!(c = conn_new(fd, http)) || http)
			continue;
		c->client.uid = cred.uid;
		if (!peer_allowed(fd, &cred)) {
			client_error(&c->client, "permission denied: lbpfd accepts root, its own "
				     "user and members of the socket's group (lbpfd --group)");
			c->client.closing = true;
			conn_flush(c);
		}
	}
}

/* The end of the first complete line of c's unhandled input, or NULL. */
static char *line_end(struct conn *c)
{
	return c->in_len > c->in_off ? memchr(c->in + c->in_off, '\n', c->in_len - c->in_off)
				     : NULL;
}

/* Reads what the socket holds, into room at the end of the input (made by
 * moving the unhandled input to the front, or by growing the buffer while
 * no complete line is in it, up to INPUT_MAX). Returns 1 at the end of the
 * input, 0, or -errno. */
static int conn_read(struct conn *c, size_t max)
{
	for (;;) {
		size_t cap;
		ssize_t n;
		char *in;

		if (c->in_off && c->in_len == c->in_cap) {
			memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->in_len == c->in_cap) {
			if (c->in_cap >= max || line_end(c))
				return 0; /* full: handle it first */
			cap = c->in_cap ? c->in_cap * 2 : INPUT_MIN;
			cap = cap < max ? cap : max;
			if (!(in = realloc(c->in, cap)))
				return -ENOMEM;
			c->in = in;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1;
		c->in_len += n;
	}
}

/* Serves an HTTP request once its head is complete. */
static void http_input(struct conn *c, int got)
{
	struct json_writer w = { 0 };
	char *in = c->in;

	if (got < 0 || !c->in_len ||
	    (!memmem(in, c->in_len, "\r\n\r\n", 4) && !memmem(in, c->in_len, "\n\n", 2))) {
		if (got != 0 || c->in_len >= HTTP_HEAD_MAX)
			conn_free(c);
		return;
	}
	in[c->in_len - 1] = '\0'; /* the head ends with '\n': nothing of it is lost */
	metrics_respond(in, &w);
	json_raw(&c->out, w.data ? w.data : "", w.len);
	json_writer_free(&w);
	c->in_len = 0;
	c->client.closing = true;
	conn_flush(c);
}

/* The input ended and no complete line waits: a partial request gets an
 * error; the connection closes once the replies it waits for are sent. */
static void control_eof(struct conn *c)
{
	if (c->client.eof)
		return;
	c->client.eof = true;
	if (c->in_len > c->in_off && !c->client.closing)
		client_error(&c->client,
			     "incomplete request: the connection ended before the end of line");
	c->in_off = c->in_len = 0;
	if (!c->client.pending)
		c->client.closing = true;
}

/* Handles up to LINES_PER_TURN complete lines, where they lie in the
 * input; the rest waits for the next turn (backlog). A partial line as long
 * as the buffer ends the connection. Returns false when c was freed. */
static bool control_input(struct conn *c)
{
	int lines = 0;
	char *nl;

	while (!c->client.closing && lines++ < LINES_PER_TURN &&
	       (nl = line_end(c))) {
		size_t len = nl - (c->in + c->in_off);

		requests_line(&c->client, c->in + c->in_off, len);
		c->in_off += len + 1;
		c->since_ns = lbpf_now();
	}
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
		if (c->in_cap > INPUT_MIN) { /* a long line passed: give its room back */
			free(c->in);
			c->in = NULL;
			c->in_cap = 0;
		}
	}
	c->backlog = !c->client.closing && line_end(c);
	if (!c->client.closing && !c->backlog && c->in_len - c->in_off > LBPF_DAEMON_MAX_LINE)
		conn_close(c, "request too long: a line may have at most %d bytes",
			   LBPF_DAEMON_MAX_LINE);
	if (!c->backlog && c->in_eof)
		control_eof(c);
	return conn_flush(c);
}

/* Reads what arrived, then handles it. */
static void conn_input(struct conn *c)
{
	int got = conn_read(c, c->http ? HTTP_HEAD_MAX : INPUT_MAX);

	if (c->http)
		return http_input(c, got);
	if (got < 0)
		return conn_free(c);
	c->in_eof = got == 1;
	control_input(c);
}

/* The main loop found the connection h ready. */
static void conn_event(struct handle *h, uint32_t events)
{
	struct conn *c = (struct conn *)h;

	if (events & EPOLLOUT && !conn_flush(c))
		return;
	if (events & EPOLLIN && c->client.closing && !c->in_eof) {
		c->in_eof = conn_drain(c);
		conn_watch(c);
		return;
	}
	if (events & EPOLLIN && !c->in_eof && !c->backlog)
		return conn_input(c);
	/* hung up for good with nothing left to read: no reply can reach it */
	if (events & (EPOLLHUP | EPOLLERR) && (c->in_eof || c->client.closing))
		conn_free(c);
	else if (events & (EPOLLHUP | EPOLLERR) && !c->backlog)
		conn_input(c);
}

bool conns_work(void)
{
	struct conn *c, *next;
	bool more = false;

	for (c = conns; c; c = next) {
		next = c->next;
		if (c->backlog && control_input(c))
			more |= c->backlog;
	}
	return more;
}

/* Whether c has waited longer than --timeout for what it owes: a line, or
 * (closing) the flush of its last words. Waiting for a load or following a
 * log is not owing anything. */
static bool conn_late(struct conn *c, uint64_t now)
{
	if (c->client.pending || c->client.follow)
		c->since_ns = now;
	return now - c->since_ns > opts->timeout_s * NS_PER_S;
}

void conns_sweep_idle(void)
{
	uint64_t now = lbpf_now();
	struct conn *c, *next;

	for (c = conns; c; c = next) {
		next = c->next;
		if (c->backlog || !conn_late(c, now))
			continue;
		if (c->client.closing || c->http) {
			conn_free(c);
			continue;
		}
		if (c->in_len > c->in_off)
			conn_close(c, "incomplete request: no end of line within %u s "
				   "(lbpfd --timeout)", opts->timeout_s);
		else
			conn_close(c, "idle: no request within %u s (lbpfd --timeout)",
				   opts->timeout_s);
		conn_flush(c);
	}
}

int conns_init(int epoll_fd, const struct daemon_options *options, gid_t gid)
{
	epfd = epoll_fd;
	opts = options;
	group_set = options->group != NULL;
	group_gid = gid;
	clients_init(conn_send);
	spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return spare_fd < 0 ? -errno : 0;
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
