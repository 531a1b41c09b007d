// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The two maps lbpfd pins under its bpffs folder, so that the lifetimes of
 * runtimes and of the objects they own can be read while the daemon is down
 * (`lbpf list --offline`) and by BPF programs (bpf/record.bpf.h):
 *   runtimes: runtime id -> struct lbpf_runtime_entry
 *   objects:  object id  -> struct lbpf_object_entry
 * An object's id is its address, unique among live objects. Objects are
 * mirrored through the object model's observer when they attach and when
 * they are released; the scheduler's own objects are left out.
 *
 * Also the policies' packet filters: a policy's runtime pins its filters in
 * BPFFS/filters/NAME/N (lbpf_runtime_opts_t.pin_dir, user/lfilter.c), so
 * they keep enforcing while lbpfd is down; the next run adopts them.
 *
 * The folder must be root's alone (folders.c), and no path under it is
 * followed through a symbolic link: one found there is removed, never what
 * it points to (it could name another program's pins).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "filter/filter.h"
#include "folders.h"
#include "pins.h"
#include "state.h"

static const char *bpffs;            /* --bpffs */
static int runtimes_map = -1, objects_map = -1;
static pin_owner_fn *owner_of;

/* Opens the pinned map at path when it has the right shape, else creates
 * and pins a new one. Returns the fd or -errno (logged). */
static int pin_open(const char *path, const char *name, size_t value_size)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	int fd, err;

	if ((err = unlink_symlink(path)) < 0)
		return err;
	fd = bpf_obj_get(path);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_HASH &&
	    info.key_size == 8 && info.value_size == value_size)
		return fd;
	if (fd >= 0) {
		close(fd);
		unlink(path); /* an older layout */
	}
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, 8, value_size, LBPF_PIN_MAX_ENTRIES, NULL);
	if (fd < 0 || bpf_obj_pin(fd, path) < 0) {
		err = -errno;
		fprintf(stderr, "lbpfd: cannot %s map %s: %s\n", fd < 0 ? "create" : "pin", path,
			strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

/* Empties a map: what an earlier daemon left describes runtimes that are gone. */
static void pin_clear(int fd)
{
	uint64_t key;

	while (bpf_map_get_next_key(fd, NULL, &key) == 0)
		if (bpf_map_delete_elem(fd, &key) < 0)
			break;
}

/* Whether object goes into the objects map: not the scheduler's own. */
static bool mirrored(const lbpf_object_t *object)
{
	static const char *const skipped[] = { "lbpf.task", "lbpf.timer", "lbpf.watch" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(skipped); i++)
		if (!strcmp(object->class->name, skipped[i]))
			return false;
	return true;
}

/* The observer of the object model: an entry per attached object. */
static void observe(lbpf_object_t *object, enum lbpf_object_event event)
{
	uint64_t key = (uint64_t)(uintptr_t)object;
	struct lbpf_object_entry e = { 0 };

	if (!mirrored(object))
		return;
	if (event == LBPF_OBJECT_RELEASED) {
		bpf_map_delete_elem(objects_map, &key);
		return;
	}
	e.runtime_id = object->owner ? owner_of(object->owner, object->class->name) : 0;
	snprintf(e.kind, sizeof(e.kind), "%s", object->class->name);
	e.refs = atomic_load(&object->refs);
	if (object->class->kernel_ids) {
		lbpf_kernel_ids_t ids = { 0 };

		object->class->kernel_ids(object->private, &ids);
		e.prog_id = ids.prog;
		e.map_id = ids.map;
		e.link_id = ids.link;
	}
	bpf_map_update_elem(objects_map, &key, &e, BPF_ANY);
}

int pin_init(const char *dir, pin_owner_fn *owner)
{
	char path[4096];
	int err;

	bpffs = dir;
	owner_of = owner;

	runtimes_map = objects_map = -1;
	if ((err = folder_check("bpffs folder", dir, 0700)))
		return err;
	snprintf(path, sizeof(path), "%s/%s", dir, LBPF_PIN_RUNTIMES);
	runtimes_map = pin_open(path, "lbpf_runtimes", sizeof(struct lbpf_runtime_entry));
	snprintf(path, sizeof(path), "%s/%s", dir, LBPF_PIN_OBJECTS);
	objects_map = pin_open(path, "lbpf_objects", sizeof(struct lbpf_object_entry));
	if (runtimes_map < 0 || objects_map < 0)
		return runtimes_map < 0 ? runtimes_map : objects_map;
	pin_clear(runtimes_map);
	pin_clear(objects_map);
	lbpf_object_observer = observe;
	return 0;
}

/* Wall-clock time: created_ns is read by other processes. */
static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void pin_runtime(uint64_t id, const char *name, uint32_t generation,
		 enum lbpf_runtime_state state)
{
	struct lbpf_runtime_entry e = { 0 };

	if (runtimes_map < 0)
		return;
	if (bpf_map_lookup_elem(runtimes_map, &id, &e) < 0) {
		snprintf(e.name, sizeof(e.name), "%s", name);
		e.generation = generation;
		e.pid = getpid();
		e.created_ns = realtime_ns();
	}
	e.state = state;
	if (bpf_map_update_elem(runtimes_map, &id, &e, BPF_ANY) < 0)
		fprintf(stderr, "lbpfd: runtimes map: update %s: %s\n", e.name, strerror(errno));
}

void pin_runtime_delete(uint64_t id)
{
	if (runtimes_map >= 0)
		bpf_map_delete_elem(runtimes_map, &id);
}

int pin_runtimes_fd(void)
{
	return runtimes_map;
}

void pin_close(void)
{
	lbpf_object_observer = NULL;
	if (runtimes_map >= 0)
		close(runtimes_map);
	if (objects_map >= 0)
		close(objects_map);
	runtimes_map = objects_map = -1;
}

/* Whether path is no symbolic link (one is removed, told). */
static bool no_link(const char *path)
{
	return unlink_symlink(path) == 0;
}

void filters_remove(const char *name)
{
	char path[4096];
	int err;

	snprintf(path, sizeof(path), "%s/" LBPF_PIN_FILTERS, bpffs);
	if (!no_link(path))
		return;
	snprintf(path, sizeof(path), "%s/" LBPF_PIN_FILTERS "%s%s", bpffs,
		 name ? "/" : "", name ? name : "");
	if (!no_link(path))
		return;
	err = filter_pin_remove(path);
	if (err && err != -ENOENT)
		fprintf(stderr, "lbpfd: cannot remove the filters pinned in %s: %s\n", path,
			strerror(-err));
}

char *pin_filter_dir(const char *name)
{
	char *dir;

	if (asprintf(&dir, "%s/" LBPF_PIN_FILTERS "/%s", bpffs, name) < 0)
		return NULL;
	return dir;
}

void filters_prune(const char *dir, bool (*held)(void *ctx, unsigned long n), void *ctx)
{
	char path[4096], *end;
	unsigned long n;
	struct dirent *d;
	DIR *dp;
	int err;

	if (!no_link(dir) || !(dp = opendir(dir)))
		return;
	while ((d = readdir(dp))) {
		n = strtoul(d->d_name, &end, 10);
		if (d->d_name[0] < '0' || d->d_name[0] > '9' || *end || held(ctx, n))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		if (!no_link(path))
			continue;
		err = filter_pin_remove(path);
		if (err)
			fprintf(stderr, "lbpfd: cannot remove the filters pinned in %s: %s\n", path,
				strerror(-err));
	}
	closedir(dp);
}

void filters_startup(bool fail_open)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	if (fail_open)
		return filters_remove(NULL);
	snprintf(path, sizeof(path), "%s/" LBPF_PIN_FILTERS, bpffs);
	if (!no_link(path) || !(d = opendir(path)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !state_has(de->d_name))
			filters_remove(de->d_name);
	closedir(d);
}
