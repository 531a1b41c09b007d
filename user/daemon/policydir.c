// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd --policy-dir DIR: every DIR/NAME.lua is a policy named NAME. lbpfd
 * loads what appears, reloads what changes (make-before-break, as `lbpf
 * reload`: a failed reload keeps the running version) and unloads what
 * disappears. It watches DIR with inotify and rescans it whole, 200 ms after
 * the last change, so a file still being written, or a ConfigMap's ..data
 * link swapped under the folder (which changes every file at once), is read
 * once it settled. A policy is compared by its bytes: a rescan that finds
 * what runs changes nothing, and a file that failed is tried again only
 * when it changes again.
 *
 * Settings ride in the file's first lines, comments of the form
 *   -- lbpf: memory=32M instructions=1000000 trusted=true arg=eth0 arg=5
 * (memory: the Lua memory limit; instructions: the instruction limit of a
 * callback, as lbpfd's --instructions; trusted: the full library, as root's
 * `lbpf load --trusted`, since only root can write the folder; arg: one
 * argument each). An unknown setting is an error that names the file and
 * line. The folder must be root's and writable by root alone, or on a
 * read-only mount (a ConfigMap volume), like lbpfd's other folders.
 *
 * Above requests.c (it loads and unloads as a request does, with nobody to
 * answer) and below server.c, which owns the epoll set.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "folders.h"
#include "policydir.h"
#include "requests.h"

#define SETTLE_NS 200000000 /* rescan this long after the last change */
#define MAX_ARGS 32

static char *dir_path;
static int dir_fd = -1, inotify_fd = -1, timer_fd = -1;
static size_t default_memory;
static struct handle inotify_h, timer_h;

/* What a file's header says. */
struct settings {
	size_t memory;
	uint64_t instructions;
	bool trusted;
	char *args[MAX_ARGS];
	int nargs;
};

static void settings_free(struct settings *s)
{
	while (s->nargs)
		free(s->args[--s->nargs]);
}

/* One "key=value" of line n of file; NULL or what is wrong (static). */
static const char *setting(struct settings *s, const char *word, const char *file, int n)
{
	static char why[4608];
	const char *eq = strchr(word, '=');
	size_t klen = eq ? (size_t)(eq - word) : strlen(word);

	if (eq && klen == 6 && !strncmp(word, "memory", 6)) {
		if (lbpf_parse_size(eq + 1, &s->memory) == 0 && s->memory >= (1 << 20))
			return NULL;
		snprintf(why, sizeof(why), "%s:%d: memory=%s: a size of 1M or more (e.g. 32M)",
			 file, n, eq + 1);
	} else if (eq && klen == 12 && !strncmp(word, "instructions", 12)) {
		char *end;

		errno = 0;
		s->instructions = strtoull(eq + 1, &end, 10);
		if (!errno && !*end && eq[1] >= '0' && eq[1] <= '9' &&
		    s->instructions >= 1000 && s->instructions <= (1ull << 40))
			return NULL;
		snprintf(why, sizeof(why), "%s:%d: instructions=%s: a number from 1000 to 2^40",
			 file, n, eq + 1);
	} else if (eq && klen == 7 && !strncmp(word, "trusted", 7)) {
		if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false")) {
			s->trusted = !strcmp(eq + 1, "true");
			return NULL;
		}
		snprintf(why, sizeof(why), "%s:%d: trusted=%s: true or false", file, n, eq + 1);
	} else if (eq && klen == 3 && !strncmp(word, "arg", 3)) {
		if (s->nargs < MAX_ARGS && (s->args[s->nargs] = strdup(eq + 1))) {
			s->nargs++;
			return NULL;
		}
		snprintf(why, sizeof(why), "%s:%d: more than %d arguments", file, n, MAX_ARGS);
	} else {
		snprintf(why, sizeof(why),
			 "%s:%d: unknown setting '%.*s' (memory=, instructions=, trusted=, arg=)",
			 file, n, (int)klen, word);
	}
	return why;
}

/* Reads the "-- lbpf:" lines at the top of code; NULL or what is wrong. */
static const char *parse_settings(const char *code, const char *file, struct settings *s)
{
	const char *line = code, *why;
	char buf[1024], *word, *save;
	int n = 1;

	s->memory = default_memory;
	for (; *line; n++) {
		size_t len = strcspn(line, "\n");

		if (strncmp(line, "--", 2))
			break;
		if (!strncmp(line, "-- lbpf:", 8) && len - 8 < sizeof(buf)) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(len - 8), line + 8);
			for (word = strtok_r(buf, " \t\r", &save); word;
			     word = strtok_r(NULL, " \t\r", &save))
				if ((why = setting(s, word, file, n)))
					return why;
		}
		line += len + (line[len] == '\n');
	}
	return NULL;
}

/* DIR/file's bytes (malloc'd), or NULL with *why set. */
static char *read_policy(const char *file, const char **why)
{
	static char msg[4608];
	int fd = openat(dir_fd, file, O_RDONLY | O_CLOEXEC);
	char *code = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;

	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s", file, strerror(errno));
		*why = msg;
		return NULL;
	}
	do {
		if (len + 4096 + 1 > cap) {
			char *bigger = realloc(code, cap = cap ? cap * 2 : 8192);

			if (!bigger)
				break;
			code = bigger;
		}
		n = read(fd, code + len, cap - len - 1);
		len += n > 0 ? n : 0;
	} while (n > 0 && len <= LBPF_DAEMON_MAX_LINE / 2);
	close(fd);
	*why = msg;
	if (!code || n < 0)
		snprintf(msg, sizeof(msg), "%s: %s", file, n < 0 ? strerror(errno) : "out of memory");
	else if (len > LBPF_DAEMON_MAX_LINE / 2)
		snprintf(msg, sizeof(msg), "%s: larger than %d bytes", file, LBPF_DAEMON_MAX_LINE / 2);
	else if ((code[len] = '\0', strlen(code) != len))
		snprintf(msg, sizeof(msg), "%s: contains a NUL byte; a policy is Lua source", file);
	else
		return code;
	free(code);
	return NULL;
}

/* Records why NAME.lua could not be (re)loaded: in p, the log and stderr. */
static void dir_failed(struct policy *p, const char *why)
{
	char line[4700];

	p->load_failures++;
	free(p->load_error);
	p->load_error = strdup(why);
	snprintf(line, sizeof(line), "lbpf: policy folder: %s", why);
	policy_log(p, line);
	if (!p->current) {
		p->state = LBPF_STATE_FAILED;
		free(p->reason);
		p->reason = strdup(why);
	}
}

/* Starts (or restarts) p with code and settings s. */
static void dir_load(struct policy *p, const char *path, char *code, struct settings *s,
		     bool fresh)
{
	char **args = calloc(s->nargs + 1, sizeof(char *));
	int i;

	if (!args)
		return dir_failed(p, "out of memory");
	for (i = 0; i < p->nargs; i++)
		free(p->args[i]);
	free(p->args);
	p->args = args;
	for (p->nargs = 0; p->nargs < s->nargs; p->nargs++)
		args[p->nargs] = s->args[p->nargs];
	s->nargs = 0; /* p owns them now */
	p->memory = s->memory;
	p->instructions = s->instructions;
	p->trusted = s->trusted;
	if (fresh || !p->generation)
		p->generation = 1;
	else
		p->generation++;
	if (policy_load(p, p->current ? LOAD_RELOAD : LOAD_NEW, 0, path, code) < 0) {
		if (p->current)
			p->generation--;
		dir_failed(p, "cannot start a load thread");
	}
}

/* One DIR/NAME.lua, seen by a scan. */
static void scan_one(const char *file)
{
	char name[LBPF_DAEMON_NAME_MAX + 8], path[4352];
	struct settings s = { 0 };
	const char *why = NULL;
	struct policy *p;
	bool fresh = false;
	char *code;

	snprintf(name, sizeof(name), "%.*s", (int)(strlen(file) - 4), file);
	snprintf(path, sizeof(path), "%s/%s", dir_path, file);
	p = policy_find(name);
	if (p && !p->dir_code) {
		if (!p->dir_clash)
			fprintf(stderr, "lbpfd: policy folder: %s: a policy named %s was loaded with "
				"lbpf load; the file waits until it is unloaded\n", path, name);
		p->dir_clash = true;
		return;
	}
	code = read_policy(file, &why);
	if (!code && p) {
		p->dir_seen = true;
		return; /* a file being replaced: the next change tells */
	}
	if (p) {
		p->dir_seen = true;
		if (p->busy || !strcmp(p->dir_code, code)) {
			if (p->busy && strcmp(p->dir_code, code))
				policydir_changed(); /* after this load ends */
			free(code);
			return;
		}
	} else {
		if (!policy_name_valid(name)) {
			fprintf(stderr, "lbpfd: policy folder: %s: '%s' is not a policy name "
				"(letters, digits, '_', '.', '-'; at most 63)\n", path, name);
			free(code);
			return;
		}
		if (!(p = policy_new(name, path, NULL, 0, default_memory))) {
			free(code);
			return;
		}
		policy_link(p);
		p->dir_seen = true;
		fresh = true;
	}
	free(p->dir_code);
	p->dir_code = code ? code : strdup("");
	if (!code || (why = parse_settings(code, path, &s))) {
		fprintf(stderr, "lbpfd: policy folder: %s\n", why);
		dir_failed(p, why);
	} else {
		dir_load(p, path, code, &s, fresh);
	}
	settings_free(&s);
}

/* Reads the folder and brings the policies in line with it. */
static void scan(void)
{
	struct policy *p, *next;
	struct dirent *de;
	DIR *d;
	int fd = dup(dir_fd);

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "lbpfd: policy folder %s: %s\n", dir_path, strerror(errno));
		return;
	}
	rewinddir(d);
	for (p = policies_first(); p; p = p->next)
		p->dir_seen = p->dir_clash = false;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.' || n <= 4 || strcmp(de->d_name + n - 4, ".lua") ||
		    fstatat(dir_fd, de->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		scan_one(de->d_name);
	}
	closedir(d);
	for (p = policies_first(); p; p = next) {
		next = p->next;
		if (p->dir_code && !p->dir_seen && !p->unloading)
			requests_unload(p);
	}
}

void policydir_changed(void)
{
	struct itimerspec in = { .it_value = { 0, SETTLE_NS } };

	if (timer_fd >= 0)
		timerfd_settime(timer_fd, 0, &in, NULL);
}

/* inotify says the folder changed: rescan once it settled. */
static void inotify_ready(struct handle *h, uint32_t events)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(inotify_fd, buf, sizeof(buf)) > 0)
		;
	policydir_changed();
}

static void timer_ready(struct handle *h, uint32_t events)
{
	uint64_t n;

	if (read(timer_fd, &n, sizeof(n)) == sizeof(n) && !policies_stopping())
		scan();
}

/* The folder is on a read-only mount (a ConfigMap volume). */
static bool read_only(int fd)
{
	struct statvfs sv;

	return fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

int policydir_open(const char *path, size_t memory, int epfd)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err;

	if (fd < 0 && errno == ENOENT && folder_check("policy folder", path, 0755) == 0)
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); /* made empty */
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "lbpfd: policy folder %s: %s\n", path, strerror(-err));
		return err;
	}
	if (!read_only(fd) && (err = folder_check("policy folder", path, 0755)) < 0) {
		close(fd);
		return err;
	}
	dir_fd = fd;
	dir_path = strdup(path);
	default_memory = memory;
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!dir_path || inotify_fd < 0 || timer_fd < 0 ||
	    inotify_add_watch(inotify_fd, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
			      IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF) < 0) {
		err = -errno;
		fprintf(stderr, "lbpfd: policy folder %s: watch: %s\n", path, strerror(-err));
		return err;
	}
	inotify_h.ready = inotify_ready;
	timer_h.ready = timer_ready;
	if ((err = epoll_watch(epfd, inotify_fd, EPOLLIN, &inotify_h)) ||
	    (err = epoll_watch(epfd, timer_fd, EPOLLIN, &timer_h)))
		return err;
	scan();
	return 0;
}
