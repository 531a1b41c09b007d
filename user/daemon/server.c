// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The main thread's epoll set and loop: the control socket, the metrics
 * socket, the mailbox, the signals and the connections (conns.c) are its
 * entries; each brings its own ready function. The policies' loops are not
 * (the workers watch them, runners.c). The loop is as short as ae.c's.
 */
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "folders.h"
#include "mailbox.h"
#include "policies.h"
#include "requests.h"
#include "server.h"

static const struct daemon_options *opts;
static int epfd = -1;
static int listen_fd = -1, metrics_fd = -1, signal_fd = -1;
static int socket_dir = -1;   /* the socket's folder, checked (folders.c) */
static char socket_name[NAME_MAX + 1];
static gid_t socket_gid;
static uint64_t paused_ns; /* accept failed then; listening resumes a second later */

static void listen_ready(struct handle *h, uint32_t events);
static void metrics_ready(struct handle *h, uint32_t events);
static void mailbox_ready(struct handle *h, uint32_t events);
static void signal_ready(struct handle *h, uint32_t events);

static struct handle listen_h = { listen_ready }, metrics_h = { metrics_ready },
		     notify_h = { mailbox_ready }, signal_h = { signal_ready };

/* An existing socket that answers belongs to a running lbpfd. */
static bool socket_in_use(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return used;
}

/* The socket's group: --group's gid into socket_gid. 0 or -ENOENT (told). */
static int find_group(void)
{
	struct group *g;

	if (!opts->group)
		return 0;
	if (!(g = getgrnam(opts->group))) {
		fprintf(stderr, "lbpfd: --group %s: no such group\n", opts->group);
		return -ENOENT;
	}
	socket_gid = g->gr_gid;
	return 0;
}

/* Opens and checks the socket's folder (made 0755 when missing) and
 * removes a stale socket in it, by the folder's fd: nothing is done by a
 * path that someone else could swap. 0 or -errno (told). */
static int socket_folder(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	int err;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(socket_name, sizeof(socket_name), "%s", basename(dir));
	socket_dir = folder_open("socket folder", dirname(dir), 0755);
	if (socket_dir < 0)
		return socket_dir;
	err = fstatat(socket_dir, socket_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (err == -ENOENT)
		return 0;
	if (!err && !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "lbpfd: %s exists and is not a socket; not removing it\n", path);
		return -EEXIST;
	}
	if (!err && unlinkat(socket_dir, socket_name, 0) < 0)
		err = -errno;
	if (err)
		fprintf(stderr, "lbpfd: control socket %s: %s\n", path, strerror(-err));
	return err;
}

/* Binds fd to path, born with its mode (0600, or 0660 with --group) and
 * then given --group by the folder's fd, not following a link. */
static int bind_socket(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(opts->group ? 0117 : 0177);
	int err = bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;

	umask(old);
	if (!err && opts->group &&
	    fchownat(socket_dir, socket_name, -1, socket_gid, AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	return err;
}

/* Listens on the control socket at path. Returns the fd or -errno (logged). */
static int listen_control(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "lbpfd: socket path too long: %s\n", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if ((err = find_group()))
		return err;
	if (socket_in_use(&sa)) {
		fprintf(stderr, "lbpfd: another lbpfd is listening on %s\n", path);
		return -EADDRINUSE;
	}
	if ((err = socket_folder(path)) < 0)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	err = fd < 0 ? -errno : bind_socket(fd, &sa);
	if (!err && listen(fd, 64) < 0)
		err = -errno;
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
	signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	return signal_fd < 0 ? -errno : 0;
}

/* Listens on "HOST:PORT" ("[::1]:PORT" for IPv6). Returns the fd or -errno. */
static int metrics_listen(const char *addr)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	char host[256];
	const char *colon = strrchr(addr, ':');
	int fd = -1, one = 1, err;

	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		fd = err;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Opens and watches --metrics (logged). */
static int setup_metrics(void)
{
	int fd = metrics_listen(opts->metrics);

	if (fd < 0) {
		fprintf(stderr, "lbpfd: --metrics %s: %s\n", opts->metrics,
			fd == -EINVAL ? "expected ADDRESS:PORT, e.g. 127.0.0.1:9464"
				      : strerror(-fd));
		return fd;
	}
	metrics_fd = fd;
	return epoll_watch(epfd, fd, EPOLLIN, &metrics_h);
}

int server_open(const struct daemon_options *options)
{
	int err;

	opts = options;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || (err = mailbox_init()) < 0 || (err = block_signals()) < 0)
		return -errno;
	if ((listen_fd = listen_control(opts->socket_path)) < 0)
		return listen_fd;
	if ((err = conns_init(epfd, opts, socket_gid)) < 0)
		fprintf(stderr, "lbpfd: connections: %s\n", strerror(-err));
	return err;
}

int server_listen(void)
{
	int err;

	if ((err = epoll_watch(epfd, listen_fd, EPOLLIN, &listen_h)) ||
	    (err = epoll_watch(epfd, mailbox_fd(), EPOLLIN, &notify_h)) ||
	    (err = epoll_watch(epfd, signal_fd, EPOLLIN, &signal_h)))
		return err;
	if (opts->metrics && (err = setup_metrics()))
		return err;
	return 0;
}

/* Sets what epoll watches on a listening socket: nothing while paused. */
static void listen_watch(int fd, struct handle *h, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = h };

	if (fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* accept failed for want of descriptors or memory: rather than be woken at
 * once by the same waiting client, stop listening for a second. */
static void listen_pause(void)
{
	paused_ns = lbpf_now();
	listen_watch(listen_fd, &listen_h, false);
	listen_watch(metrics_fd, &metrics_h, false);
}

static void listen_resume(void)
{
	if (!paused_ns || lbpf_now() - paused_ns < 1000000000ull)
		return;
	paused_ns = 0;
	listen_watch(listen_fd, &listen_h, true);
	listen_watch(metrics_fd, &metrics_h, true);
}

/* A client knocks on the control socket. */
static void listen_ready(struct handle *h, uint32_t events)
{
	if (conns_accept(listen_fd, false) < 0)
		listen_pause();
}

/* A client knocks on the metrics socket. */
static void metrics_ready(struct handle *h, uint32_t events)
{
	if (conns_accept(metrics_fd, true) < 0)
		listen_pause();
}

/* Load threads or workers posted. */
static void mailbox_ready(struct handle *h, uint32_t events)
{
	requests_messages();
}

/* SIGINT, SIGTERM: the policies stop, then the loop ends; SIGHUP: nothing. */
static void signal_ready(struct handle *h, uint32_t events)
{
	struct signalfd_siginfo si;

	if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		fprintf(stderr, "lbpfd: SIGHUP ignored (lbpf reload NAME reloads a policy)\n");
	} else if (!policies_stopping()) {
		fprintf(stderr, "lbpfd: signal %d: stopping the policies\n", si.ssi_signo);
		policies_stop();
	}
}

int server_epfd(void)
{
	return epfd;
}

void server_run(void)
{
	struct epoll_event events[64];
	bool busy = false;
	struct handle *h;
	int i, n;

	while (!policies_stopped()) {
		n = epoll_wait(epfd, events, 64, busy ? 0 : 1000);
		for (i = 0; i < n; i++) {
			h = events[i].data.ptr;
			h->ready(h, events[i].events);
		}
		busy = conns_work();
		conns_sweep_idle();
		conns_flush_all();
		listen_resume();
	}
}

void server_close(void)
{
	if (socket_dir >= 0)
		unlinkat(socket_dir, socket_name, 0);
}
