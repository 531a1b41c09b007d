// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd's control protocol without sockets: the input is several request
 * lines, each handed to requests_line() (the request parser and the
 * dispatcher) as the connection code would, except that an empty line makes
 * the client wait for the answers to its requests so far (so that a reload
 * or an unload can find the policy loaded); the load threads and workers
 * are lbpfd's own, and the replies that wait (load, reload, unload) arrive
 * through requests_messages() as lbpfd's main loop delivers them. After
 * the lines, every policy loaded is unloaded, so the next input starts from
 * an empty table.
 *
 * Checked: no memory error, no undefined behaviour (ASan, UBSan), no leak,
 * every reply a JSON object with a boolean "ok" (and an "error" string when
 * false) in valid UTF-8, one answer to each request (at once, or later for
 * a request that waits), every request that waits answered, and every
 * policy unloadable.
 *
 * The client is not root (uid 1000), so fuzzed code never runs trusted;
 * sandboxed policies run in a network namespace of this process's own, with
 * temporary state and bpffs folders, and a low instruction limit.
 */
#include <sched.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "daemon/features.h"
#include "daemon/pins.h"
#include "daemon/policies.h"
#include "daemon/requests.h"
#include "daemon/state.h"
#include "fuzz.h"

#define MAX_LINES   16
#define WAIT_MS     30000 /* for the answers of loads and unloads: a body that loads a
			   * filter waits for the verifier, seconds on a busy machine */

static struct daemon_options opts;
static char state_dir[] = "/tmp/lbpf-fuzz-state.XXXXXX";
static char bpffs[64];
static struct client *watched; /* the input's client */
static uint64_t replies;        /* to it */
static bool verbose; /* FUZZ_VERBOSE=1: print the replies */

/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
		       : (c & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;

		if (!n || i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* The requests' output: each reply must be a well-formed answer. */
static void send_reply(struct client *c, struct json_writer *w)
{
	char err[128];
	struct json *reply;
	const struct json *ok;

	replies += c == watched;
	if (w->failed)
		fuzz_fail("a reply ran out of memory");
	reply = json_parse(w->data, w->len, err, sizeof(err));
	ok = reply ? json_get(reply, "ok") : NULL;
	if (!reply || reply->type != JSON_OBJECT || !ok ||
	    (ok->type != JSON_TRUE && ok->type != JSON_FALSE) ||
	    (ok->type == JSON_FALSE && !json_get_string(reply, "error")))
		fuzz_fail("not a well-formed reply (%s): %.*s", reply ? "fields" : err,
			  (int)(w->len < 2000 ? w->len : 2000), w->data);
	if (!valid_utf8((const unsigned char *)w->data, w->len))
		fuzz_fail("a reply that is not UTF-8: %.*s", (int)(w->len < 2000 ? w->len : 2000),
			  w->data);
	if (verbose)
		fprintf(stderr, "reply: %.*s\n", (int)(w->len < 300 ? w->len : 300), w->data);
	json_free(reply);
	json_writer_free(w);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* lbpfd's main loop, for a while: the workers run the policies by
 * themselves; the messages of load threads and workers are handled. */
static void pump(int ms)
{
	struct pollfd pfd = { .fd = mailbox_fd(), .events = POLLIN };

	poll(&pfd, 1, ms);
	requests_messages();
}

/* Unloads every policy, as root on a client of its own, and waits until
 * they are gone. An unload may free its policy at once, so the names are
 * taken before any is unloaded. */
static void unload_all(void)
{
	struct client admin = { .uid = 0 };
	char names[64][LBPF_DAEMON_NAME_MAX], line[160];
	uint64_t until = now_ms() + WAIT_MS;
	struct policy *p;
	int n;

	while (policies_first()) {
		for (n = 0, p = policies_first(); p && n < 64; p = p->next)
			if (!p->busy && !p->unloading)
				snprintf(names[n++], sizeof(names[0]), "%s", p->name);
		client_join(&admin);
		for (int i = 0; i < n; i++) {
			snprintf(line, sizeof(line), "{\"op\":\"unload\",\"name\":\"%s\"}",
				 names[i]);
			requests_line(&admin, line, strlen(line));
		}
		if (now_ms() > until)
			fuzz_fail("policy '%s' is still there %d ms after its unload",
				  policies_first()->name, WAIT_MS);
		pump(5);
		client_leave(&admin);
	}
}

static void clean_up(void)
{
	char cmd[256];

	unload_all();
	workers_stop();
	pin_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", state_dir, bpffs);
	if (system(cmd))
		fprintf(stderr, "fuzz: could not remove %s and %s\n", state_dir, bpffs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[PATH_MAX];

	verbose = getenv("FUZZ_VERBOSE") != NULL;
	if (unshare(CLONE_NEWNET))
		fuzz_fail("unshare a network namespace: %s", strerror(errno));
	lbpf_mount_filesystems();
	snprintf(bpffs, sizeof(bpffs), "/sys/fs/bpf/lbpf-fuzz-%d", (int)getpid());
	if (!mkdtemp(state_dir))
		fuzz_fail("mkdtemp: %s", strerror(errno));
	opts = (struct daemon_options){ .socket_path = "/nonexistent/lbpfd.sock",
					.state_dir = state_dir, .bpffs = bpffs, .workers = 1,
					.instruction_limit = 1000000, .max_errors = 10,
					.default_memory = 4u << 20 };
	snprintf(dir, sizeof(dir), "%s/policies", state_dir);
	requests_init(&opts);
	load_limits(opts.instruction_limit, opts.max_errors);
	clients_init(send_reply);
	if (mailbox_init() || state_init(state_dir) || pin_init(bpffs, runner_note_object))
		fuzz_fail("start lbpfd's parts in %s and %s", state_dir, bpffs);
	features_probe();
	if (workers_start(opts.workers, opts.worker_nice))
		fuzz_fail("start the workers");
	atexit(clean_up);
	return 0;
}

/* Waits until c has every answer it waits for. */
static void wait_answers(struct client *c)
{
	uint64_t until = now_ms() + WAIT_MS;

	for (; c->pending > 0; pump(5))
		if (now_ms() > until)
			fuzz_fail("%d requests not answered after %d ms", c->pending, WAIT_MS);
}

/* One request: it is answered at once, or waits (c->pending grows). A
 * request that ends the log c follows closes c, whose answer is then lost. */
static void request(struct client *c, const char *line, size_t len)
{
	uint64_t before = replies;
	int pending = c->pending;

	requests_line(c, line, len);
	if (!c->closing && replies - before + (c->pending - pending) != 1)
		fuzz_fail("%llu replies and %d more waiting for one request: %.*s",
			  (unsigned long long)(replies - before), c->pending - pending,
			  (int)(len < 300 ? len : 300), line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct client c = { .uid = 1000 };
	const char *line = (const char *)data, *end = line + size, *nl;
	int n = 0;

	client_join(&c);
	watched = &c;
	/* a closing client (its followed policy ended) reads no more, as conns.c does */
	for (; line < end && n < MAX_LINES && !c.closing; line = nl + 1, n++) {
		nl = memchr(line, '\n', end - line);
		if (!nl)
			nl = end;
		if (nl == line)
			wait_answers(&c);
		else
			request(&c, line, nl - line);
		pump(0);
	}
	if (!c.closing)
		wait_answers(&c);
	client_leave(&c);
	watched = NULL;
	unload_all();
	return 0;
}
