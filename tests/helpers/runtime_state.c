// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Sets the state of a policy's entries in lbpfd's pinned runtimes map, the
 * way another tool would: runtime_state MAP NAME STATE (STATE a number of
 * enum lbpf_runtime_state). Prints how many entries it changed; exits 1 on
 * error or when none matched. Plain bpf(2), no libbpf. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../include/lbpf/pin.h"

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int map_op(int cmd, int fd, const void *key, void *value_or_next)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = (uintptr_t)key;
	if (cmd == BPF_MAP_GET_NEXT_KEY)
		attr.next_key = (uintptr_t)value_or_next;
	else
		attr.value = (uintptr_t)value_or_next;
	return sys_bpf(cmd, &attr);
}

int main(int argc, char **argv)
{
	struct lbpf_runtime_entry e;
	union bpf_attr attr;
	uint64_t key, *prev = NULL;
	int fd, changed = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: runtime_state MAP NAME STATE\n");
		return 1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uintptr_t)argv[1];
	if ((fd = sys_bpf(BPF_OBJ_GET, &attr)) < 0) {
		fprintf(stderr, "runtime_state: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (map_op(BPF_MAP_GET_NEXT_KEY, fd, prev, &key) == 0) {
		prev = &key;
		if (map_op(BPF_MAP_LOOKUP_ELEM, fd, &key, &e) < 0 || strcmp(e.name, argv[2]))
			continue;
		e.state = atoi(argv[3]);
		if (map_op(BPF_MAP_UPDATE_ELEM, fd, &key, &e) < 0) {
			fprintf(stderr, "runtime_state: update: %s\n", strerror(errno));
			return 1;
		}
		changed++;
	}
	printf("%d\n", changed);
	return changed ? 0 : 1;
}
