// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The folders lbpfd trusts (the socket folder, the state folder, its bpffs
 * folder): each must be a real folder (not a symbolic link), owned by root
 * and writable by root alone, in parents that are root's and that no one
 * else can write to (or that are sticky, like /tmp). An lbpfd that runs as
 * another user (with capabilities) trusts that user as it trusts root. Anything else could be
 * a local user's, prepared to make lbpfd run their script or unpin what is
 * not its own; lbpfd then refuses to start, naming the path and the fault.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folders.h"

/* What is wrong with a folder of these stat results, or NULL; a parent
 * (parent = true) may be writable by others when it is sticky. */
static const char *folder_fault(const struct stat *st, bool parent, char *buf, size_t size)
{
	if (!S_ISDIR(st->st_mode))
		return "not a folder";
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(buf, size, "owned by uid %u, not root", (unsigned)st->st_uid);
		return buf;
	}
	if ((st->st_mode & 022) && !(parent && (st->st_mode & S_ISVTX))) {
		snprintf(buf, size, "writable by group or others (mode %04o)%s",
			 (unsigned)(st->st_mode & 07777), parent ? " and not sticky" : "");
		return buf;
	}
	return NULL;
}

/* Checks one parent (as what PATH). 0 or -errno (told). */
static int parent_check(const char *what, const char *path, const char *parent)
{
	const char *fault;
	struct stat st;
	char buf[96];

	if (stat(parent, &st) < 0) {
		fprintf(stderr, "lbpfd: %s %s: its parent %s: %s\n", what, path, parent,
			strerror(errno));
		return -errno;
	}
	if ((fault = folder_fault(&st, true, buf, sizeof(buf)))) {
		fprintf(stderr, "lbpfd: %s %s: its parent %s is %s; lbpfd trusts only folders "
			"that root alone can change\n", what, path, parent, fault);
		return -EPERM;
	}
	return 0;
}

/* Checks each folder from / down to dir (a resolved path). 0 or -errno. */
static int parents_check(const char *what, const char *path, const char *dir)
{
	char prefix[PATH_MAX];
	size_t i, n = strlen(dir);
	int err = parent_check(what, path, "/");

	for (i = 1; i <= n && !err; i++) {
		if (i < n && dir[i] != '/')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)i, dir);
		err = parent_check(what, path, prefix);
	}
	return err;
}

/* The resolved parent of path into out. 0 or -errno (told). */
static int parent_of(const char *what, const char *path, char *out)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	if (realpath(dirname(copy), out))
		return 0;
	fprintf(stderr, "lbpfd: %s %s: its parent: %s\n", what, path, strerror(errno));
	return -errno;
}

int folder_open(const char *what, const char *path, mode_t mode)
{
	char parent[PATH_MAX], copy[PATH_MAX], buf[96];
	const char *fault = NULL, *base;
	struct stat st;
	int dfd = -1, fd = -1, err;

	snprintf(copy, sizeof(copy), "%s", path);
	base = basename(copy);
	if ((err = parent_of(what, path, parent)) || (err = parents_check(what, path, parent)))
		return err;
	dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (mkdirat(dfd, base, mode) < 0 && errno != EEXIST)) {
		err = -errno;
		fprintf(stderr, "lbpfd: cannot create the %s %s: %s\n", what, path, strerror(-err));
		goto cleanup;
	}
	fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "lbpfd: %s %s: %s\n", what, path,
			err == -ELOOP || err == -ENOTDIR ? "a symbolic link or a file, not a folder"
							 : strerror(-err));
		goto cleanup;
	}
	if (fstat(fd, &st) < 0 || (fault = folder_fault(&st, false, buf, sizeof(buf)))) {
		err = -EPERM;
		fprintf(stderr, "lbpfd: %s %s is %s; it must be owned by root and writable by "
			"root alone\n", what, path, fault ? fault : strerror(errno));
		goto cleanup;
	}
	close(dfd);
	return fd;
cleanup:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	return err;
}

int folder_check(const char *what, const char *path, mode_t mode)
{
	int fd = folder_open(what, path, mode);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int unlink_symlink(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
		return 0;
	fprintf(stderr, "lbpfd: %s is a symbolic link; removing the link, not what it points "
		"to\n", path);
	if (unlink(path) < 0)
		return -errno;
	return 1;
}
