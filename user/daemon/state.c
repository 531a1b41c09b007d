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

/* Hands one record to restore. */
static void restore_one(const char *path, int (*restore)(const struct state_record *rec))
{
	char err[128], *text = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "re");
	ssize_t len = f ? getdelim(&text, &cap, '\0', f) : -1;
	struct json *rec = len > 0 ? json_parse(text, len, err, sizeof(err)) : NULL;
	const char *name = json_get_string(rec, "name"), *file = json_get_string(rec, "file");
	double memory = 0, generation = 0;
	char **args = NULL;
	int nargs;

	if (f)
		fclose(f);
	json_get_number(rec, "memory", &memory);
	json_get_number(rec, "generation", &generation);
	if (!rec || !name || !file || !(args = record_args(rec, &nargs)) ||
	    restore(&(struct state_record){ name, file, args, nargs, (size_t)memory,
					    (uint32_t)generation,
					    json_get_bool(rec, "trusted", false),
					    !json_get(rec, "trusted") }) == -EEXIST)
		fprintf(stderr, "lbpfd: ignoring %s: not a valid policy record%s%s\n", path,
			rec ? "" : ": ", rec ? "" : err);
	free(args);
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
				snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
				restore_one(path, restore);
			}
		}
		closedir(d);
	}
	free(dir);
}
