/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* The USDT probes of an ELF file, from its .note.stapsdt notes: names and the size and sign of
 * each argument, what lbpf.usdt needs to find probes by glob and to type arg1..argN. libbpf
 * reads the same notes again to attach (bpf_program__attach_usdt). Plain C, no Lua; functions
 * return 0 or -errno and print nothing. */
#ifndef LBPF_USDT_H
#define LBPF_USDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USDT_MAX_ARGS 12 /* what <sys/sdt.h> and libbpf allow */

/* One argument as its spec says: "-4@%eax" is 4 bytes, signed; "8@-16(%rbp)" 8, unsigned. */
struct usdt_arg {
	uint8_t size;          /* 1, 2, 4 or 8 */
	bool is_signed;
};

/* A probe, "provider:name": every site (note) of the same name merged into one. */
struct usdt_probe {
	char provider[64];
	char name[64];
	int nargs;             /* the fewest any site has */
	struct usdt_arg args[USDT_MAX_ARGS]; /* the first site's */
	int nsites;
	bool semaphore;        /* gated by a semaphore (libbpf raises it while attached) */
};

struct usdt_probes {
	struct usdt_probe *v;  /* sorted by provider, then name */
	size_t n;
};

/* Every probe of path's .note.stapsdt section into out (free with usdt_probes_free, also on
 * failure). 0; -errno of open; -ENOEXEC when path is not ELF; -ENODATA when it has no
 * .note.stapsdt section; -ENOMEM. */
int usdt_probes_read(const char *path, struct usdt_probes *out);
void usdt_probes_free(struct usdt_probes *probes);
/* One argument spec, "[-]SIZE@OPERAND", into out. 0, or -EINVAL when SIZE is not 1, 2, 4 or 8
 * (negative: signed) or the '@' is missing. */
int usdt_arg_parse(const char *spec, size_t len, struct usdt_arg *out);
/* Whether process pid has path mapped (same inode, or same path). 0, -ESRCH when there is no
 * such process, -ENOENT when it does not map path, other -errno of reading /proc. */
int usdt_pid_maps(int pid, const char *path);

#endif /* LBPF_USDT_H */
