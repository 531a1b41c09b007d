// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The state folder: for each loaded policy a copy of its script and a JSON
 * record of how it was loaded, written atomically (temporary file, rename),
 * read back when lbpfd starts.
 *   STATE_DIR/policies/NAME.lua
 *   STATE_DIR/policies/NAME.json  {"name","file","args","memory","generation",
 *                                  "trusted"}
 * The folder and STATE_DIR/policies must be root's alone (folders.c): a
 * record there says what runs as root, and whether trusted.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folders.h"
#include "protocol/json.h"
#include "state.h"

static const char *state_dir; /* --state-dir */

/* STATE_DIR/policies/NAME.EXT (malloc'd); NULL without memory. */
static char *state_path(const char *name, const char *ext)
{
	char *path;

	if (asprintf(&path, "%s/policies/%s%s", state_dir, name, ext) < 0)
		return NULL;
	return path;
}

int state_init(const char *dir_name)
{
	char *dir;
	int err = 0;

	state_dir = dir_name;
	if (asprintf(&dir, "%s/policies", state_dir) < 0)
		return -ENOMEM;
	err = folder_check("state folder", state_dir, 0700);
	if (!err)
		err = folder_check("state folder", dir, 0700);
	free(dir);
	return err;
}

/* Writes data to path through a temporary file and a rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0)
		err = -errno ? -errno : -EIO;
	if (fd >= 0)
		close(fd);
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		fprintf(stderr, "lbpfd: cannot write %s: %s\n", path, strerror(-err));
	}
	return err;
}

/* The record as one JSON line; NULL without memory. */
static char *metadata(const struct state_record *p)
{
	struct json_writer w = { 0 };
	int i;

	json_object_begin(&w);
	json_kv_string(&w, "name", p->name);
	json_kv_string(&w, "file", p->file);
	json_key(&w, "args");
	json_array_begin(&w);
	for (i = 0; i < p->nargs; i++)
		json_string(&w, p->args[i]);
	json_array_end(&w);
	json_kv_integer(&w, "memory", (long long)p->memory);
	json_kv_integer(&w, "generation", p->generation);
	json_kv_bool(&w, "trusted", p->trusted);
	json_object_end(&w);
	json_raw(&w, "\n", 1);
	if (w.failed)
		json_writer_free(&w);
	return w.data;
}

int state_save(const struct state_record *p, const char *code)
{
	char *script = state_path(p->name, ".lua"), *meta = state_path(p->name, ".json");
	char *data = metadata(p);
	int err = -ENOMEM;

	if (script && meta && data) {
		err = write_atomic(script, code, strlen(code));
		if (!err)
			err = write_atomic(meta, data, strlen(data));
	}
	free(script);
	free(meta);
	free(data);
	return err;
}

char *state_script(const char *name)
{
	char *path = state_path(name, ".lua"), *data = NULL;
	FILE *f = path ? fopen(path, "re") : NULL;
	size_t cap = 0;
	ssize_t len = f ? getdelim(&data, &cap, '\0', f) : -1;

	if (f)
		fclose(f);
	if (path && len <= 0)
		fprintf(stderr, "lbpfd: cannot read %s: %s\n", path,
			len == 0 || (f && !errno) ? "empty" : strerror(errno));
	free(path);
	if (len <= 0) {
		free(data);
		return NULL;
	}
	return data;
}

bool state_has(const char *name)
{
	char *meta = state_path(name, ".json");
	bool has = meta && access(meta, F_OK) == 0;

	free(meta);
	return has;
}

void state_remove(const char *name)
{
	char *script = state_path(name, ".lua"), *meta = state_path(name, ".json");

	if (meta)
		unlink(meta);
	if (script)
		unlink(script);
	free(script);
	free(meta);
}

/* The arguments of a record, as a NULL-terminated array; NULL on error. */
static char **record_args(const struct json *rec, int *n)
{
	const struct json *args = json_get(rec, "args");
	char **v;
	size_t i;

	*n = 0;
	if (!args || args->type != JSON_ARRAY || !(v = calloc(args->len + 1, sizeof(*v))))
		return NULL;
	for (i = 0; i < args->len; i++) {
		if (args->items[i]->type != JSON_STRING) {
			free(v);
			return NULL;
		}
		v[(*n)++] = args->items[i]->string;
	}
	return v;
}

/* A whole number field of rec in [0, max]: 0, or a message. */
static const char *record_count(const struct json *rec, const char *key, double max,
				double *out)
{
	static __thread char msg[96];

	if (!json_get_number(rec, key, out)) {
		snprintf(msg, sizeof(msg), "no number \"%s\"", key);
		return msg;
	}
	if (*out < 0 || *out > max || *out != (double)(uint64_t)*out) {
		snprintf(msg, sizeof(msg), "\"%s\" is %g, not a whole number in 0..%.0f", key,
			 *out, max);
		return msg;
	}
	return NULL;
}

/* Checks a record read from path: NULL, or what is wrong with it. stem is
 * the file's NAME (NAME.json), which the record's name must be. */
static const char *record_check(const struct json *rec, const char *stem, struct state_record *r)
{
	double memory, generation;
	const char *why;

	r->name = json_get_string(rec, "name");
	r->file = json_get_string(rec, "file");
	if (!r->name || strcmp(r->name, stem))
		return "its \"name\" is missing or not the file's name";
	if (!r->file)
		return "no string \"file\"";
	/* 2^53: the largest size a JSON number holds exactly */
	if ((why = record_count(rec, "memory", 9007199254740992.0, &memory)) ||
	    (why = record_count(rec, "generation", UINT32_MAX, &generation)))
		return why;
	if (json_get(rec, "trusted") && json_get(rec, "trusted")->type != JSON_TRUE &&
	    json_get(rec, "trusted")->type != JSON_FALSE)
		return "\"trusted\" is not true or false";
	if (!(r->args = record_args(rec, &r->nargs)))
		return "\"args\" is not a list of strings";
	r->memory = (size_t)memory;
	r->generation = (uint32_t)generation;
	r->trusted = json_get_bool(rec, "trusted", false);
	r->untagged = !json_get(rec, "trusted");
	return NULL;
}

/* Hands one record to restore, or logs why it is ignored. */
static void restore_one(const char *path, const char *stem,
			int (*restore)(const struct state_record *rec))
{
	char err[128] = "", *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");
	ssize_t len = f ? getdelim(&text, &cap, '\0', f) : -1;
	struct json *rec = len > 0 ? json_parse(text, len, err, sizeof(err)) : NULL;
	struct state_record r = { 0 };
	const char *why;

	if (f)
		fclose(f);
	if (!f)
		snprintf(err, sizeof(err), "cannot read it: %s", strerror(errno));
	else if (len <= 0)
		snprintf(err, sizeof(err), "it is empty");
	why = rec ? record_check(rec, stem, &r) : err;
	if (!why && restore(&r) == -EEXIST)
		why = "a policy of that name runs already";
	if (why)
		fprintf(stderr, "lbpfd: ignoring %s: not a valid policy record: %s\n", path, why);
	free(r.args);
	json_free(rec);
	free(text);
}

void state_restore(int (*restore)(const struct state_record *rec))
{
	char *dir, path[4200];
	struct dirent *de;
	DIR *d;

	if (asprintf(&dir, "%s/policies", state_dir) < 0)
		return;
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			size_t n = strlen(de->d_name);

			if (n > 5 && !strcmp(de->d_name + n - 5, ".json")) {
				char stem[256];

				snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
				snprintf(stem, sizeof(stem), "%.*s", (int)(n - 5), de->d_name);
				restore_one(path, stem, restore);
			}
		}
		closedir(d);
	}
	free(dir);
}
