/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* policydir.c: lbpfd --policy-dir DIR, policies as files. */
#ifndef LBPFD_POLICYDIR_H
#define LBPFD_POLICYDIR_H

#include <stddef.h>

#include "policies.h"

/* Checks DIR (root's, writable by root alone, or a read-only mount),
 * watches it in the epoll set epfd and loads what it holds; memory is the
 * policies' default memory limit. 0 or -errno (told on stderr). */
int policydir_open(const char *path, size_t memory, int epfd);
/* Rescans the folder once it settled (200 ms from now). */
void policydir_changed(void);

#endif /* LBPFD_POLICYDIR_H */
