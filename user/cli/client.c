// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The CLI side of lbpfd: lbpf load, unload, reload, list, logs and status.
 * Each sends one JSON request on the control socket and prints the reply
 * (protocol in include/lbpf/daemon.h). `lbpf list --offline` reads the
 * pinned runtimes map instead, so it works while the daemon is down.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <lbpf/daemon.h>

#include "core/internal.h"
#include "protocol/json.h"

struct client {
	const char *socket_path;
	int fd;
	char *buf;
	size_t len, cap;
};

/* Common options: --socket PATH (or LBPF_SOCKET). Removes them from argv;
 * returns the new argc. Options after "--" are left alone. */
static int take_socket_option(struct client *cl, int argc, char **argv)
{
	int i, n = 0;

	cl->socket_path = getenv("LBPF_SOCKET") ? getenv("LBPF_SOCKET") : LBPF_DAEMON_SOCKET;
	cl->fd = -1;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			cl->socket_path = argv[++i];
		else if (!strncmp(argv[i], "--socket=", 9))
			cl->socket_path = argv[i] + 9;
		else
			argv[n++] = argv[i];
	}
	return n;
}

static int client_connect(struct client *cl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cl->socket_path);
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cl->fd >= 0 && connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	if (errno == ENOENT)
		fprintf(stderr, "lbpf: lbpfd is not running (no socket at %s)\n", cl->socket_path);
	else if (errno == ECONNREFUSED)
		fprintf(stderr, "lbpf: lbpfd is not running (nothing listens on %s)\n",
			cl->socket_path);
	else
		fprintf(stderr, "lbpf: cannot connect to lbpfd at %s: %s\n", cl->socket_path,
			strerror(errno));
	return -1;
}

static void client_close(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->buf);
}

/* Sends the request in w (and frees it). */
static int client_send(struct client *cl, struct json_writer *w)
{
	size_t off = 0;

	json_raw(w, "\n", 1);
	while (!w->failed && off < w->len) {
		ssize_t n = send(cl->fd, w->data + off, w->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE)
			break; /* lbpfd closed: its reply may say why */
		if (n <= 0) {
			fprintf(stderr, "lbpf: sending to lbpfd: %s\n", strerror(errno));
			json_writer_free(w);
			return -1;
		}
		off += n;
	}
	json_writer_free(w);
	return 0;
}

/* The next reply, parsed; NULL (with a message) at EOF or on bad JSON. */
static struct json *client_reply(struct client *cl)
{
	char *nl, err[128];
	struct json *v;

	while (!(nl = cl->len ? memchr(cl->buf, '\n', cl->len) : NULL)) {
		ssize_t n;

		if (cl->cap - cl->len < 4096) {
			char *b = realloc(cl->buf, cl->cap = cl->cap ? cl->cap * 2 : 65536);

			if (!b)
				return NULL;
			cl->buf = b;
		}
		n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "lbpf: lbpfd closed the connection\n");
			return NULL;
		}
		cl->len += n;
	}
	v = json_parse(cl->buf, nl - cl->buf, err, sizeof(err));
	if (!v)
		fprintf(stderr, "lbpf: bad reply from lbpfd: %s\n", err);
	cl->len -= nl + 1 - cl->buf;
	memmove(cl->buf, nl + 1, cl->len);
	return v;
}

/* Prints the error of a failed reply; true when the reply is ok. */
static bool reply_ok(const struct json *reply)
{
	if (json_get_bool(reply, "ok", false))
		return true;
	fprintf(stderr, "lbpf: %s\n", json_get_string(reply, "error") ?: "lbpfd failed");
	return false;
}

/* One request, one reply. */
static struct json *call(struct client *cl, struct json_writer *w)
{
	if (client_connect(cl) < 0 || client_send(cl, w) < 0) {
		json_writer_free(w);
		return NULL;
	}
	return client_reply(cl);
}

static int usage(const char *text)
{
	fprintf(stderr, "usage: %s\n", text);
	return 2;
}

/* ---- load, unload, reload ---- */

/* The line number (from 1) of offset off in text. */
static int line_of(const char *text, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/* The script at path, read by the client (lbpfd opens no path a client
 * names): malloc'd source, NULL with a message when it cannot be sent. */
static char *read_script(const char *path)
{
	FILE *f = fopen(path, "re");
	char *data = NULL;
	size_t cap = 0, bad = (size_t)-1;
	ssize_t len = f ? getdelim(&data, &cap, '\0', f) : -1;

	if (len > 0 && strlen(data) != (size_t)len)
		len = -2; /* stopped at a NUL: bytecode, or not a script */
	else if (len > 0 && (bad = json_utf8_invalid(data)) != (size_t)-1)
		len = -3; /* the protocol carries UTF-8 text only */
	if (f)
		fclose(f);
	if (len == -3)
		fprintf(stderr, "lbpf: %s:%d: a byte that is not UTF-8 (offset %zu); lbpfd takes "
			"UTF-8 source: write other bytes in strings as \\xNN escapes\n", path,
			line_of(data, bad), bad);
	else if (len < 0 || len == 0)
		fprintf(stderr, "lbpf: %s: %s\n", path,
			len == -2 ? "contains a NUL byte; lbpfd takes Lua source only" :
			len == 0 || f ? "empty file" : strerror(errno));
	else if (len > LBPF_DAEMON_MAX_LINE / 2)
		fprintf(stderr, "lbpf: %s: too large to send (%zd bytes, at most %d)\n", path, len,
			LBPF_DAEMON_MAX_LINE / 2);
	if (len <= 0 || len > LBPF_DAEMON_MAX_LINE / 2) {
		free(data);
		return NULL;
	}
	return data;
}

struct load_args {
	const char *file, *name, *memory;
	bool trusted;
	char **args;
	int nargs;
};

static int parse_load(int argc, char **argv, struct load_args *la)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			la->args = argv + i + 1;
			la->nargs = argc - i - 1;
			break;
		} else if (!strcmp(argv[i], "--name") && i + 1 < argc) {
			la->name = argv[++i];
		} else if (!strcmp(argv[i], "--memory") && i + 1 < argc) {
			la->memory = argv[++i];
		} else if (!strcmp(argv[i], "--trusted")) {
			la->trusted = true;
		} else if (argv[i][0] == '-' || la->file) {
			return -EINVAL;
		} else {
			la->file = argv[i];
		}
	}
	return la->file ? 0 : -EINVAL;
}

static int write_load(struct json_writer *w, const struct load_args *la, const char *path,
		      const char *code)
{
	size_t memory;
	int i;

	json_object_begin(w);
	json_kv_string(w, "op", "load");
	json_kv_string(w, "file", path);
	json_kv_string(w, "code", code);
	if (la->trusted)
		json_kv_bool(w, "trusted", true);
	if (la->name)
		json_kv_string(w, "name", la->name);
	if (la->memory) {
		if (lbpf_parse_size(la->memory, &memory) || memory < (256u << 10)) {
			fprintf(stderr, "lbpf: --memory %s: expected a size of at least 256K, e.g. 64M\n",
				la->memory);
			return -EINVAL;
		}
		json_kv_integer(w, "memory", memory);
	}
	json_key(w, "args");
	json_array_begin(w);
	for (i = 0; i < la->nargs; i++)
		json_string(w, la->args[i]);
	json_array_end(w);
	json_object_end(w);
	return 0;
}

int lbpf_cmd_load(int argc, char **argv)
{
	struct client cl = { 0 };
	struct load_args la = { 0 };
	struct json_writer w = { 0 };
	char path[PATH_MAX], *script;
	struct json *reply;
	int code = 1;

	argc = take_socket_option(&cl, argc, argv);
	if (parse_load(argc, argv, &la))
		return usage("lbpf load FILE [--name NAME] [--memory SIZE] [--trusted] "
			     "[-- ARGS...]");
	if (!realpath(la.file, path)) {
		fprintf(stderr, "lbpf: %s: %s\n", la.file, strerror(errno));
		return 1;
	}
	if (!(script = read_script(path)))
		return 1;
	if (write_load(&w, &la, path, script)) {
		json_writer_free(&w);
		free(script);
		return 1;
	}
	free(script);
	reply = call(&cl, &w);
	if (reply && reply_ok(reply)) {
		printf("%s: %s\n", json_get_string(reply, "name"), json_get_string(reply, "state"));
		code = 0;
	}
	json_free(reply);
	client_close(&cl);
	return code;
}

/* Sends {"op":op,"name":name[,"file":file,"code":its source]} and prints
 * "NAME: done". */
static int simple_op(struct client *cl, const char *op, const char *name, const char *file,
		     const char *done)
{
	struct json_writer w = { 0 };
	char path[PATH_MAX], *script = NULL;
	struct json *reply;
	int code = 1;

	if (file && !realpath(file, path)) {
		fprintf(stderr, "lbpf: %s: %s\n", file, strerror(errno));
		return 1;
	}
	if (file && !(script = read_script(path)))
		return 1;
	json_object_begin(&w);
	json_kv_string(&w, "op", op);
	json_kv_string(&w, "name", name);
	if (file) {
		json_kv_string(&w, "file", path);
		json_kv_string(&w, "code", script);
	}
	json_object_end(&w);
	free(script);
	reply = call(cl, &w);
	if (reply && reply_ok(reply)) {
		printf("%s: %s\n", name, done);
		code = 0;
	}
	json_free(reply);
	client_close(cl);
	return code;
}

int lbpf_cmd_unload(int argc, char **argv)
{
	struct client cl = { 0 };

	argc = take_socket_option(&cl, argc, argv);
	if (argc != 2 || argv[1][0] == '-')
		return usage("lbpf unload NAME");
	return simple_op(&cl, "unload", argv[1], NULL, "unloaded");
}

/* The file policy name was loaded from, by lbpfd's list, into path. 0 or -1
 * (told). */
static int policy_file(const struct client *base, const char *name, char *path, size_t size)
{
	struct client cl = { .socket_path = base->socket_path, .fd = -1 };
	struct json_writer w = { 0 };
	const struct json *list;
	struct json *reply;
	const char *s;
	int err = -1;

	json_object_begin(&w);
	json_kv_string(&w, "op", "list");
	json_object_end(&w);
	reply = call(&cl, &w);
	list = reply && reply_ok(reply) ? json_get(reply, "policies") : NULL;
	for (size_t i = 0; list && list->type == JSON_ARRAY && i < list->len && err; i++) {
		s = json_get_string(list->items[i], "name");
		if (s && !strcmp(s, name) && (s = json_get_string(list->items[i], "file")))
			err = snprintf(path, size, "%s", s) < (int)size ? 0 : -1;
	}
	if (err && list)
		fprintf(stderr, "lbpf: no policy named '%s' (see lbpf list)\n", name);
	json_free(reply);
	client_close(&cl);
	return err;
}

/* reload NAME [FILE]: lbpf reads the file (by default the one the policy
 * was loaded from) and sends its source. */
int lbpf_cmd_reload(int argc, char **argv)
{
	struct client cl = { 0 };
	char file[PATH_MAX];

	argc = take_socket_option(&cl, argc, argv);
	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		return usage("lbpf reload NAME [FILE]");
	if (argc == 3)
		snprintf(file, sizeof(file), "%s", argv[2]);
	else if (policy_file(&cl, argv[1], file, sizeof(file)))
		return 1;
	return simple_op(&cl, "reload", argv[1], file, "reloaded");
}

/* ---- list ---- */

static void human_size(char *out, size_t size, double bytes)
{
	const char *units = "BKMGT";

	while (bytes >= 1024 && units[1]) {
		bytes /= 1024;
		units++;
	}
	snprintf(out, size, units[0] == 'B' ? "%.0f%c" : "%.1f%c", bytes, units[0]);
}

static void human_time(char *out, size_t size, double s)
{
	if (s < 120)
		snprintf(out, size, "%.0fs", s);
	else if (s < 7200)
		snprintf(out, size, "%.0fm", s / 60);
	else
		snprintf(out, size, "%.1fh", s / 3600);
}

static double number(const struct json *obj, const char *key)
{
	double v = 0;

	json_get_number(obj, key, &v);
	return v;
}

static void print_policy(const struct json *p)
{
	const struct json *attach = json_get(p, "attach");
	const char *reason = json_get_string(p, "reason");
	const char *source = json_get_string(p, "source");
	const char *load_error = json_get_string(p, "load_error");
	char mem[16], up[16], kinds[256] = "-";
	size_t i, n = 0;

	human_size(mem, sizeof(mem), number(p, "memory"));
	human_time(up, sizeof(up), number(p, "uptime_s"));
	for (i = 0; attach && attach->type == JSON_ARRAY && i < attach->len; i++)
		if (attach->items[i]->type == JSON_STRING)
			n += snprintf(kinds + n, n < sizeof(kinds) ? sizeof(kinds) - n : 0, "%s%s",
				      i ? "," : "", attach->items[i]->string);
	printf("%-20s %-8s %7s %10.0f %7.0f %7.0f %8s  %s%s\n", json_get_string(p, "name"),
	       json_get_string(p, "state"), up, number(p, "events"), number(p, "errors"),
	       number(p, "lost"), mem, kinds,
	       json_get_bool(p, "trusted", false) ? " (trusted)" : "");
	if (source && !strcmp(source, "folder"))
		printf("  from the policy folder\n");
	if (reason && *reason && strcmp(json_get_string(p, "state"), "running"))
		printf("  %.*s\n", (int)strcspn(reason, "\n"), reason);
	else if (load_error && *load_error)
		printf("  last reload failed (the running version stays): %.*s\n",
		       (int)strcspn(load_error, "\n"), load_error);
}

/* True when pid is a live process (not a zombie left by a kill -9). */
static bool process_alive(uint32_t pid)
{
	char path[64], stat[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (!(f = fopen(path, "re")))
		return false;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* The pinned objects map's entries, read whole: NULL when there is none. */
static struct lbpf_object_entry *read_objects(const char *dir, size_t *n)
{
	struct lbpf_object_entry *v = NULL, *grown;
	uint64_t key, *prev = NULL;
	char path[PATH_MAX];
	size_t cap = 0;
	int fd;

	*n = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, LBPF_PIN_OBJECTS);
	if ((fd = bpf_obj_get(path)) < 0)
		return NULL;
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		prev = &key;
		if (*n == cap) {
			cap = cap ? 2 * cap : 64;
			if (!(grown = realloc(v, cap * sizeof(*v))))
				break;
			v = grown;
		}
		if (bpf_map_lookup_elem(fd, &key, &v[*n]) == 0)
			v[(*n)++].kind[sizeof(v->kind) - 1] = '\0';
	}
	close(fd);
	return v;
}

/* The objects of runtime id: JSON items, or a line each under the runtime. */
static void print_objects(struct json_writer *w, const struct lbpf_object_entry *v, size_t n,
			  uint64_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].runtime_id != id)
			continue;
		if (!w) {
			printf("  %-20s prog %u map %u link %u refs %u\n", v[i].kind, v[i].prog_id,
			       v[i].map_id, v[i].link_id, v[i].refs);
			continue;
		}
		json_object_begin(w);
		json_kv_string(w, "kind", v[i].kind);
		json_kv_integer(w, "prog_id", v[i].prog_id);
		json_kv_integer(w, "map_id", v[i].map_id);
		json_kv_integer(w, "link_id", v[i].link_id);
		json_kv_integer(w, "refs", v[i].refs);
		json_object_end(w);
	}
}

/* Reads the pinned runtimes and objects maps: what ran when the daemon last
 * wrote them, with the kernel ids of what each runtime held. */
static int list_offline(bool as_json)
{
	static const char *const states[] = { "loading", "running", "stopped", "failed" };
	const char *dir = getenv("LBPF_BPFFS") ? getenv("LBPF_BPFFS") : LBPF_DAEMON_BPFFS;
	struct lbpf_runtime_entry e;
	struct json_writer w = { 0 };
	char path[PATH_MAX];
	uint64_t key, *prev = NULL;
	struct lbpf_object_entry *objects;
	size_t nobjects;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, LBPF_PIN_RUNTIMES);
	if ((fd = bpf_obj_get(path)) < 0) {
		fprintf(stderr, "lbpf: no pinned runtimes map at %s: %s (has lbpfd run?)\n", path,
			strerror(errno));
		return 1;
	}
	objects = read_objects(dir, &nobjects);
	if (!as_json)
		printf("%-20s %-8s %4s %8s  %s\n", "NAME", "STATE", "GEN", "PID", "DAEMON");
	json_array_begin(&w);
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		bool alive;

		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &e) < 0)
			continue;
		e.name[sizeof(e.name) - 1] = '\0';
		alive = process_alive(e.pid);
		if (as_json) {
			json_object_begin(&w);
			json_kv_integer(&w, "id", key);
			json_kv_string(&w, "name", e.name);
			json_kv_string(&w, "state", e.state < 4 ? states[e.state] : "?");
			json_kv_integer(&w, "generation", e.generation);
			json_kv_integer(&w, "pid", e.pid);
			json_kv_bool(&w, "daemon_alive", alive);
			json_kv_integer(&w, "created_ns", e.created_ns);
			json_key(&w, "objects");
			json_array_begin(&w);
			print_objects(&w, objects, nobjects, key);
			json_array_end(&w);
			json_object_end(&w);
		} else {
			printf("%-20s %-8s %4u %8u  %s\n", e.name, e.state < 4 ? states[e.state] : "?",
			       e.generation, e.pid, alive ? "running" : "gone");
			print_objects(NULL, objects, nobjects, key);
		}
	}
	free(objects);
	json_array_end(&w);
	if (as_json)
		printf("%s\n", w.data ? w.data : "[]");
	json_writer_free(&w);
	close(fd);
	return 0;
}

int lbpf_cmd_list(int argc, char **argv)
{
	struct client cl = { 0 };
	struct json_writer w = { 0 };
	bool as_json = false, offline = false;
	const struct json *policies;
	struct json *reply;
	int i, code = 1;

	argc = take_socket_option(&cl, argc, argv);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			as_json = true;
		else if (!strcmp(argv[i], "--offline"))
			offline = true;
		else
			return usage("lbpf list [--json] [--offline]");
	}
	if (offline)
		return list_offline(as_json);
	json_object_begin(&w);
	json_kv_string(&w, "op", "list");
	json_object_end(&w);
	reply = call(&cl, &w);
	policies = json_get(reply, "policies");
	if (reply && reply_ok(reply) && policies && policies->type == JSON_ARRAY)
		code = 0;
	if (!code && as_json) {
		struct json_writer out = { 0 };

		json_value(&out, policies);
		printf("%s\n", out.data ? out.data : "[]");
		json_writer_free(&out);
	} else if (!code) {
		printf("%-20s %-8s %7s %10s %7s %7s %8s  %s\n", "NAME", "STATE", "UPTIME", "EVENTS",
		       "ERRORS", "LOST", "MEMORY", "ATTACHED");
		for (i = 0; i < (int)policies->len; i++)
			print_policy(policies->items[i]);
	}
	json_free(reply);
	client_close(&cl);
	return code;
}

/* ---- logs and status ---- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = 1;
}

static void print_lines(const struct json *lines)
{
	size_t i;

	for (i = 0; lines && lines->type == JSON_ARRAY && i < lines->len; i++)
		if (lines->items[i]->type == JSON_STRING)
			printf("%s\n", lines->items[i]->string);
	fflush(stdout);
}

/* lbpf logs -f: one reply per new line, until the policy goes or Ctrl-C. */
static int follow(struct client *cl)
{
	struct json *reply;
	const char *line;

	signal(SIGINT, on_interrupt);
	while (!interrupted && (reply = client_reply(cl))) {
		if ((line = json_get_string(reply, "line"))) {
			printf("%s\n", line);
			fflush(stdout);
		} else if (json_get_bool(reply, "end", false)) {
			fprintf(stderr, "lbpf: policy %s\n", json_get_string(reply, "reason") ?: "ended");
			json_free(reply);
			return 0;
		}
		json_free(reply);
	}
	return interrupted ? 0 : 1;
}

#define LOGS_USAGE "lbpf logs [--format text|json] NAME [-f]"

int lbpf_cmd_logs(int argc, char **argv)
{
	struct client cl = { 0 };
	struct json_writer w = { 0 };
	const char *name = NULL, *format = "text";
	bool follow_mode = false;
	struct json *reply;
	int i, code = 1;

	argc = take_socket_option(&cl, argc, argv);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow_mode = true;
		else if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return usage(LOGS_USAGE);
	}
	if (!name || (strcmp(format, "text") && strcmp(format, "json")))
		return usage(LOGS_USAGE);
	json_object_begin(&w);
	json_kv_string(&w, "op", "logs");
	json_kv_string(&w, "name", name);
	json_kv_bool(&w, "follow", follow_mode);
	json_kv_string(&w, "format", format);
	json_object_end(&w);
	reply = call(&cl, &w);
	if (reply && reply_ok(reply)) {
		print_lines(json_get(reply, "lines"));
		code = follow_mode ? follow(&cl) : 0;
	}
	json_free(reply);
	client_close(&cl);
	return code;
}

static void print_status(const struct json *r)
{
	const struct json *features = json_get(r, "features");
	char up[16];
	size_t i;

	human_time(up, sizeof(up), number(r, "uptime_s"));
	printf("lbpfd %s, pid %.0f, up %s, %.0f policies, %.0f workers\n",
	       json_get_string(r, "version"), number(r, "pid"), up, number(r, "policies"),
	       number(r, "workers"));
	printf("socket %s, state %s, maps %s\n", json_get_string(r, "socket"),
	       json_get_string(r, "state_dir"), json_get_string(r, "bpffs"));
	printf("kernel %s\n", json_get_string(r, "kernel"));
	for (i = 0; features && features->type == JSON_OBJECT && i < features->len; i++)
		printf("  %-12s %s\n", features->keys[i],
		       features->items[i]->type == JSON_TRUE ? "yes" : "no");
}

int lbpf_cmd_status(int argc, char **argv)
{
	struct client cl = { 0 };
	struct json_writer w = { 0 };
	struct json *reply;
	bool as_json = false;
	int code = 1;

	argc = take_socket_option(&cl, argc, argv);
	if (argc == 2 && !strcmp(argv[1], "--json"))
		as_json = true;
	else if (argc != 1)
		return usage("lbpf status [--json]");
	json_object_begin(&w);
	json_kv_string(&w, "op", "status");
	json_object_end(&w);
	reply = call(&cl, &w);
	if (reply && reply_ok(reply)) {
		struct json_writer out = { 0 };

		if (as_json) {
			json_value(&out, reply);
			printf("%s\n", out.data);
			json_writer_free(&out);
		} else {
			print_status(reply);
		}
		code = 0;
	}
	json_free(reply);
	client_close(&cl);
	return code;
}
