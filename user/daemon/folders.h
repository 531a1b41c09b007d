/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * folders.c: the folders lbpfd trusts, checked before it uses them. The
 * lowest file of the daemon: it calls nothing of lbpfd.
 */
#ifndef LBPFD_FOLDERS_H
#define LBPFD_FOLDERS_H

#include <sys/types.h>

#include "lbpfd.h"

/* Creates the folder path (mode) when it is missing, then opens it, without
 * following a symbolic link, and checks it and its parents: a folder owned
 * by root that only root may write to, in parents that only root may change
 * (or sticky ones). Returns the folder's fd (O_DIRECTORY) or -errno; a
 * refusal names the folder as `what PATH` and the fault, on stderr. */
int folder_open(const char *what, const char *path, mode_t mode);
/* folder_open, closing the fd. 0 or -errno (told). */
int folder_check(const char *what, const char *path, mode_t mode);
/* When path is a symbolic link, removes the link itself (told): lbpfd never
 * follows one out of its folders. 1 when it did, 0 when path is no link,
 * or -errno. */
int unlink_symlink(const char *path);

#endif /* LBPFD_FOLDERS_H */
