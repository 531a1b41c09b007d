// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd: hosts one Lua runtime per loaded policy, on a pool of worker
 * threads, and answers the control socket (JSON lines, see
 * include/lbpf/daemon.h). This file is the main thread: options, sockets,
 * connections and the epoll loop. Requests are in daemon_ops.c, runtimes in
 * daemon_policy.c, the state folder in daemon_state.c, pinned maps in
 * daemon_pin.c and the metrics server in daemon_http.c.
 */
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon_internal.h"

#define MAX_OUTPUT (16u << 20) /* a follower that reads nothing is dropped */

struct daemon daemon_g;

static const char usage[] =
	"usage: lbpfd [--socket PATH] [--state-dir DIR] [--bpffs DIR] [--metrics ADDR]\n"
	"             [--group GROUP] [--workers N] [--instructions N] [--max-errors N]\n"
	"             [--memory SIZE] [--fail-open] [--foreground]\n"
	"  --socket PATH       control socket (" LBPF_DAEMON_SOCKET ")\n"
	"  --state-dir DIR     loaded policies, restored at start (" LBPF_DAEMON_STATE_DIR ")\n"
	"  --bpffs DIR         where the runtimes and objects maps and the policies' packet\n"
	"                      filters are pinned (" LBPF_DAEMON_BPFFS ")\n"
	"  --metrics ADDR      serve Prometheus metrics, e.g. 127.0.0.1:9464\n"
	"  --group GROUP       members of GROUP may use the socket too (mode 0660)\n"
	"  --workers N         threads running the policies (2)\n"
	"  --instructions N    Lua instructions a callback may run at once (100000000)\n"
	"  --max-errors N      callback errors in a row that fail a policy (10)\n"
	"  --memory SIZE       default memory limit of a policy (64M)\n"
	"  --fail-open         packet filters end with lbpfd (stop, crash) instead of enforcing\n"
	"                      until it is back\n"
	"  --foreground        accepted for compatibility: lbpfd never forks; it logs to stderr\n";

static uint64_t now_ns(void)
{
	return lbpf_now();
}

static int parse_number(const char *opt, const char *text, uint64_t min, uint64_t max,
			uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || end == text || v < min || v > max) {
		fprintf(stderr, "lbpfd: %s %s: expected a number from %llu to %llu\n", opt, text,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Parses one option; 0, 1 to exit 0 (help), or -EINVAL. */
static int parse_option(int c, const char *arg, struct daemon_options *o)
{
	uint64_t n;

	switch (c) {
	case 's': o->socket_path = arg; return 0;
	case 'd': o->state_dir = arg; return 0;
	case 'b': o->bpffs = arg; return 0;
	case 'm': o->metrics = arg; return 0;
	case 'g': o->group = arg; return 0;
	case 'f': return 0;
	case 'F': o->fail_open = true; return 0;
	case 'h': fputs(usage, stdout); return 1;
	case 'w':
		if (parse_number("--workers", arg, 1, 64, &n))
			return -EINVAL;
		o->workers = n;
		return 0;
	case 'i': return parse_number("--instructions", arg, 1000, 1ull << 40, &o->instruction_limit);
	case 'e':
		if (parse_number("--max-errors", arg, 0, 1000000, &n))
			return -EINVAL;
		o->max_errors = n;
		return 0;
	case 'M':
		if (lbpf_parse_size(arg, &o->default_memory) || o->default_memory < (256u << 10)) {
			fprintf(stderr, "lbpfd: --memory %s: expected a size of at least 256K\n", arg);
			return -EINVAL;
		}
		return 0;
	default:
		fputs(usage, stderr);
		return -EINVAL;
	}
}

static int parse_options(int argc, char **argv, struct daemon_options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "workers", required_argument, NULL, 'w' },
		{ "instructions", required_argument, NULL, 'i' },
		{ "max-errors", required_argument, NULL, 'e' },
		{ "memory", required_argument, NULL, 'M' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "fail-open", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, err;

	*o = (struct daemon_options){
		LBPF_DAEMON_SOCKET, LBPF_DAEMON_STATE_DIR, LBPF_DAEMON_BPFFS, NULL, NULL,
		2, 100000000ull, 10, 64u << 20, false,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if ((err = parse_option(c, optarg, o)))
			return err;
	if (optind < argc) {
		fprintf(stderr, "lbpfd: unexpected argument '%s'\n%s", argv[optind], usage);
		return -EINVAL;
	}
	return 0;
}

/* ---- the epoll set ---- */

static int watch(int fd, uint32_t events, struct handle *h)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	if (epoll_ctl(daemon_g.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void daemon_post(struct message *msg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&daemon_g.lock);
	msg->next = daemon_g.messages;
	daemon_g.messages = msg;
	pthread_mutex_unlock(&daemon_g.lock);
	if (write(daemon_g.notify_fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the main thread is awake anyway */
	}
}

/* Handles what other threads posted, oldest first. */
static void drain_messages(void)
{
	struct message *list, *rev = NULL, *next;
	uint64_t value;
	bool log = false;

	if (read(daemon_g.notify_fd, &value, sizeof(value)) < 0) {
		/* EAGAIN */
	}
	pthread_mutex_lock(&daemon_g.lock);
	list = daemon_g.messages;
	daemon_g.messages = NULL;
	pthread_mutex_unlock(&daemon_g.lock);
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	for (; rev; rev = next) {
		next = rev->next;
		if (rev->kind == MSG_LOG) {
			log = true;
			free(rev);
		} else {
			ops_message(rev);
		}
	}
	if (log)
		ops_flush_followers();
}

/* ---- connections ---- */

struct conn *conn_find(uint64_t id)
{
	struct conn *c;

	for (c = daemon_g.conns; id && c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_free(struct conn *c)
{
	struct conn **pp;

	ops_conn_closed(c);
	for (pp = &daemon_g.conns; *pp; pp = &(*pp)->next) {
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

static void set_output_watch(struct conn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->h };

	if (c->want_out == on)
		return;
	c->want_out = on;
	epoll_ctl(daemon_g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
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
	if (c->closing)
		return conn_free(c), false;
	return true;
}

void conn_send(struct conn *c, struct json_writer *w)
{
	if (!c || c->closing) {
		json_writer_free(w);
		return;
	}
	if (w->failed || c->out.len > MAX_OUTPUT) {
		fprintf(stderr, "lbpfd: dropping a client: %s\n",
			w->failed ? "out of memory" : "it reads nothing");
		c->closing = true;
		json_writer_free(w);
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	json_raw(&c->out, w->data, w->len);
	json_raw(&c->out, "\n", 1);
	json_writer_free(w);
}

/* {"ok":false,"error":MESSAGE} into w. */
static void error_reply(struct json_writer *w, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_object_begin(w);
	json_kv_bool(w, "ok", false);
	json_kv_string(w, "error", msg);
	json_object_end(w);
}

void conn_error(struct conn *c, const char *fmt, ...)
{
	struct json_writer w = { 0 };
	va_list ap;

	va_start(ap, fmt);
	error_reply(&w, fmt, ap);
	va_end(ap);
	conn_send(c, &w);
}

void conn_close_later(struct conn *c)
{
	c->closing = true;
}

void conn_send_later(uint64_t id, struct json_writer *w)
{
	struct conn *c = conn_find(id);

	if (c && c->pending > 0)
		c->pending--;
	conn_send(c, w);
	if (c && c->eof && !c->pending)
		c->closing = true; /* flushed, then closed */
}

void conn_error_later(uint64_t id, const char *fmt, ...)
{
	struct json_writer w = { 0 };
	va_list ap;

	va_start(ap, fmt);
	error_reply(&w, fmt, ap);
	va_end(ap);
	conn_send_later(id, &w);
}

/* Whether the peer has the socket's group, as its group or a supplementary
 * one (SO_PEERGROUPS: the groups it had when it connected). */
static bool peer_in_group(int fd, gid_t group_gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == group_gid)
			return true;
	return false;
}

/* root, the daemon's own user, or members of the socket's group may talk to it */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	return daemon_g.opts.group &&
	       (cred.gid == daemon_g.socket_gid || peer_in_group(fd, daemon_g.socket_gid));
}

static void accept_conn(int listen_fd, bool http)
{
	struct conn *c;
	int fd;

	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->h.kind = H_CONN;
		c->fd = fd;
		c->http = http;
		c->id = ++daemon_g.next_conn_id;
		c->last_ns = now_ns();
		c->next = daemon_g.conns;
		daemon_g.conns = c;
		if (watch(fd, EPOLLIN, &c->h) < 0) {
			conn_free(c);
			continue;
		}
		if (!http && !peer_allowed(fd)) {
			conn_error(c, "permission denied: lbpfd accepts root, its own user and "
					"members of the socket's group (lbpfd --group)");
			conn_close_later(c);
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
	c->closing = true;
	conn_flush(c);
}

/* Handles every complete line; an oversize line ends the connection.
 * Returns false when c was freed. */
static bool control_input(struct conn *c)
{
	char *nl;

	while (!c->closing && (nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = nl - c->in;

		if (len > LBPF_DAEMON_MAX_LINE)
			break;
		ops_request(c, c->in, len);
		memmove(c->in, nl + 1, c->in_len - len - 1);
		c->in_len -= len + 1;
	}
	if (!c->closing && c->in_len > LBPF_DAEMON_MAX_LINE) {
		conn_error(c, "request too long: a line may have at most %d bytes",
			   LBPF_DAEMON_MAX_LINE);
		c->in_len = 0;
		conn_close_later(c);
	}
	return conn_flush(c);
}

/* The client shut its side: a partial request gets an error; the
 * connection closes once the replies it waits for are sent. */
static void conn_eof(struct conn *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &c->h };

	c->eof = true;
	if (c->in_len && !c->http && !c->closing)
		conn_error(c, "incomplete request: the connection ended before the end of line");
	c->in_len = 0;
	if (!c->pending)
		c->closing = true;
	epoll_ctl(daemon_g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
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
		c->last_ns = now_ns();
		if (c->in_len > LBPF_DAEMON_MAX_LINE + 1)
			break; /* oversize: do not buffer more */
	}
	if (c->http)
		http_input(c);
	else if (control_input(c) && eof)
		conn_eof(c);
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (events & EPOLLOUT && !conn_flush(c))
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_input(c);
}

/* A partial request idle for LBPF_DAEMON_IDLE_S gets an error and is closed. */
static void sweep_idle(void)
{
	uint64_t limit = now_ns() - LBPF_DAEMON_IDLE_S * 1000000000ull;
	struct conn *c, *next;

	for (c = daemon_g.conns; c; c = next) {
		next = c->next;
		if (!c->in_len || c->last_ns > limit || c->closing)
			continue;
		if (!c->http)
			conn_error(c, "incomplete request: no end of line within %d s",
				   LBPF_DAEMON_IDLE_S);
		c->in_len = 0;
		conn_close_later(c);
		conn_flush(c);
	}
}

/* ---- set-up ---- */

/* An existing socket that answers belongs to a running lbpfd. */
static bool socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

static int set_socket_owner(const char *path)
{
	struct group *g;

	if (!daemon_g.opts.group)
		return chmod(path, 0600) < 0 ? -errno : 0;
	if (!(g = getgrnam(daemon_g.opts.group))) {
		fprintf(stderr, "lbpfd: --group %s: no such group\n", daemon_g.opts.group);
		return -ENOENT;
	}
	daemon_g.socket_gid = g->gr_gid;
	if (chown(path, -1, g->gr_gid) < 0 || chmod(path, 0660) < 0)
		return -errno;
	return 0;
}

static int listen_control(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lbpfd: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	mkdir(dirname(dir), 0755);
	if (socket_in_use(&sa)) {
		fprintf(stderr, "lbpfd: another lbpfd is listening on %s\n", path);
		return -EADDRINUSE;
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	old = umask(0177);
	err = fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0
		? -errno : 0;
	umask(old);
	if (!err)
		err = set_socket_owner(path);
	if (err) {
		fprintf(stderr, "lbpfd: control socket %s: %s\n", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

/* SIGINT, SIGTERM (stop) and SIGHUP (ignored) arrive through a signalfd;
 * threads inherit the mask. */
static int block_signals(void)
{
	sigset_t mask;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL))
		return -EINVAL;
	daemon_g.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return daemon_g.signal_fd < 0 ? -errno : 0;
}

static int setup_metrics(void)
{
	int fd = metrics_listen(daemon_g.opts.metrics);

	if (fd < 0) {
		fprintf(stderr, "lbpfd: --metrics %s: %s\n", daemon_g.opts.metrics,
			fd == -EINVAL ? "expected ADDRESS:PORT, e.g. 127.0.0.1:9464" : strerror(-fd));
		return fd;
	}
	daemon_g.metrics_fd = fd;
	return watch(fd, EPOLLIN, &daemon_g.metrics_h);
}

static int setup(void)
{
	const char *missing = lbpf_missing_capability();
	int err;

	if (missing) {
		fprintf(stderr, "lbpfd: missing capability %s (run as root)\n", missing);
		return -EPERM;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	pthread_mutex_init(&daemon_g.lock, NULL);
	pthread_cond_init(&daemon_g.job_cond, NULL);
	daemon_g.listen_h.kind = H_LISTEN;
	daemon_g.metrics_h.kind = H_METRICS;
	daemon_g.notify_h.kind = H_NOTIFY;
	daemon_g.signal_h.kind = H_SIGNAL;
	daemon_g.metrics_fd = -1;
	daemon_g.started_ns = now_ns();
	/* runtime ids stay unique across restarts: a pinned filter of an
	 * earlier lbpfd must not find its id reused (bpf/record.bpf.h) */
	daemon_g.next_runner_id = (uint64_t)time(NULL) << 20;
	daemon_g.epfd = epoll_create1(EPOLL_CLOEXEC);
	daemon_g.notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (daemon_g.epfd < 0 || daemon_g.notify_fd < 0 || (err = block_signals()) < 0)
		return -errno;
	/* first the socket: a second lbpfd must stop before it touches the
	 * first one's pinned maps */
	if ((daemon_g.listen_fd = listen_control(daemon_g.opts.socket_path)) < 0)
		return daemon_g.listen_fd;
	if ((err = state_init()) || (err = pin_init()))
		return err;
	if ((err = watch(daemon_g.listen_fd, EPOLLIN, &daemon_g.listen_h)) ||
	    (err = watch(daemon_g.notify_fd, EPOLLIN, &daemon_g.notify_h)) ||
	    (err = watch(daemon_g.signal_fd, EPOLLIN, &daemon_g.signal_h)))
		return err;
	if (daemon_g.opts.metrics && (err = setup_metrics()))
		return err;
	features_probe();
	return workers_start(daemon_g.opts.workers);
}

static void dispatch(struct handle *h, uint32_t events)
{
	switch (h->kind) {
	case H_LISTEN: accept_conn(daemon_g.listen_fd, false); break;
	case H_METRICS: accept_conn(daemon_g.metrics_fd, true); break;
	case H_NOTIFY: drain_messages(); break;
	case H_SIGNAL: {
		struct signalfd_siginfo si;

		if (read(daemon_g.signal_fd, &si, sizeof(si)) != sizeof(si))
			break;
		if (si.ssi_signo == SIGHUP)
			fprintf(stderr, "lbpfd: SIGHUP ignored (lbpf reload NAME reloads a policy)\n");
		else if (!daemon_g.shutting_down) {
			fprintf(stderr, "lbpfd: signal %d: stopping the policies\n", si.ssi_signo);
			ops_shutdown();
		}
		break;
	}
	case H_CONN: conn_event((struct conn *)h, events); break;
	case H_RUNNER: runner_queue((struct runner *)h); break;
	}
}

/* Sends what replies and followed logs queued on any connection. */
static void flush_all(void)
{
	struct conn *c, *next;

	for (c = daemon_g.conns; c; c = next) {
		next = c->next;
		if (c->out.len > c->out_off || c->closing)
			conn_flush(c);
	}
}

/* The main loop, as short as ae.c's. */
static void run(void)
{
	struct epoll_event events[64];
	int i, n;

	while (!(daemon_g.shutting_down && ops_shutdown_done())) {
		n = epoll_wait(daemon_g.epfd, events, 64, 1000);
		for (i = 0; i < n; i++)
			dispatch(events[i].data.ptr, events[i].events);
		sweep_idle();
		flush_all();
	}
}

int main(int argc, char **argv)
{
	int err = parse_options(argc, argv, &daemon_g.opts);

	if (err)
		return err > 0 ? 0 : 2;
	setvbuf(stderr, NULL, _IOLBF, 0);
	if ((err = setup()) < 0) {
		fprintf(stderr, "lbpfd: cannot start: %s\n", strerror(-err));
		return 1;
	}
	fprintf(stderr, "lbpfd %s: listening on %s (state %s, maps in %s, %d workers)\n",
		LBPF_VERSION, daemon_g.opts.socket_path, daemon_g.opts.state_dir,
		daemon_g.opts.bpffs, daemon_g.opts.workers);
	filters_startup();
	state_restore();
	run();
	workers_stop();
	if (daemon_g.opts.fail_open)
		filters_remove(NULL);
	pin_close();
	unlink(daemon_g.opts.socket_path);
	fprintf(stderr, "lbpfd: stopped\n");
	return 0;
}
