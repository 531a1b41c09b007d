/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * A user's own BPF object (clang -target bpf, CO-RE): opened with libbpf,
 * its globals set by name before load (typed by BTF), loaded, its maps
 * described by their BTF types and its programs attached by libbpf's
 * section conventions or at an explicit point, xdp, tc and netfilter
 * included (through the filter engine's hooks). Plain C: 0 or -errno, and
 * the message a user sees in (errbuf, errlen), naming the object.
 */
#ifndef LBPF_USER_OBJFILE_H
#define LBPF_USER_OBJFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/filter.h"

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct btf;

struct objfile {
	struct bpf_object *obj;
	char name[64];                 /* the file's base name, for messages */
	bool loaded;
};

/* Opens path, not loading it yet. Programs in a "netfilter" section get
 * the netfilter type, which libbpf 1.1 does not know. */
int objfile_open(struct objfile **out, const char *path, char *errbuf, size_t errlen);
/* Closes the object (its programs, maps and what libbpf attached); NULL is
 * fine. */
void objfile_close(struct objfile *o);
/* The object's BTF (NULL when it has none). */
const struct btf *objfile_btf(const struct objfile *o);
/* Loads the programs and maps. -errno with the verifier's reason (its last
 * lines) in errbuf. */
int objfile_load(struct objfile *o, char *errbuf, size_t errlen);

/* A global variable of a data section (.rodata, .data, .bss, ...). */
struct objfile_var {
	struct bpf_map *map;           /* the section's map */
	const char *section;           /* ".rodata" */
	unsigned type;                 /* the variable's type id */
	unsigned offset, size;
};

/* Global `name` of section `section` ("rodata", "data", "bss" or a custom
 * "data.x"). -ENOENT with a message listing what there is. */
int objfile_global(struct objfile *o, const char *section, const char *name,
		   struct objfile_var *out, char *errbuf, size_t errlen);
/* Before load: sets the variable's initial value (var->size bytes). */
int objfile_global_set(const struct objfile_var *var, const void *value);
/* After load: reads the section's value (the whole of it) into buf, of
 * objfile_section_size bytes, or writes it (-EPERM for .rodata, frozen). */
size_t objfile_section_size(const struct objfile_var *var);
int objfile_section_read(const struct objfile_var *var, void *buf);
int objfile_section_write(const struct objfile_var *var, const void *buf);

/* A map, as its BTF types describe it. */
struct objfile_map {
	struct bpf_map *map;
	const char *name;
	int fd;
	int type;                      /* enum bpf_map_type */
	unsigned key_type, value_type; /* BTF ids, 0 when none */
	unsigned key_size, value_size;
	int ncpus;                     /* values per key: the CPUs of a per-CPU map, else 1 */
};

int objfile_map_describe(struct bpf_map *map, struct objfile_map *out);
/* Whether map is one of the object's own (not a data section). */
bool objfile_map_is_user(const struct bpf_map *map);
/* The type id of "struct NAME" (or a typedef NAME) in the object's BTF;
 * -ENOENT with a message. */
int objfile_find_type(struct objfile *o, const char *text, unsigned *type, char *errbuf,
		      size_t errlen);

/* Where a program attaches. */
enum objfile_point_kind {
	OBJFILE_AUTO,                  /* libbpf's auto-attach, by the section */
	OBJFILE_TRACEPOINT,            /* target "category:name" */
	OBJFILE_RAW_TRACEPOINT,        /* target "name" */
	OBJFILE_KPROBE, OBJFILE_KRETPROBE, /* target: a function */
	OBJFILE_UPROBE, OBJFILE_URETPROBE, /* binary, target (a function) or offset */
	OBJFILE_XDP,                   /* ifindex, mode */
	OBJFILE_TC,                    /* ifindex, egress */
	OBJFILE_NETFILTER,             /* nf_family (4, 6, 0 = both), nf_hooknum, nf_priority */
};

struct objfile_point {
	enum objfile_point_kind kind;
	const char *target;
	const char *binary;
	uint64_t offset;
	int pid;                       /* uprobes: -1 = any */
	int ifindex;
	const char *mode;              /* xdp: "native", "generic" or NULL (the kernel's choice) */
	bool egress;
	int nf_family, nf_hooknum, nf_priority;
	const char *where;             /* for messages: "xdp on veth0" */
};

/* An attachment: a libbpf link, raw link fds (xdp with a mode, netfilter
 * per family) or a tc filter. */
struct objfile_link {
	struct bpf_link *link;
	int fds[2];
	struct filter_tc tc;
	bool is_tc;
	int prog_fd;
};

int objfile_attach(struct objfile *o, struct bpf_program *prog, const struct objfile_point *pt,
		   struct objfile_link *out, char *errbuf, size_t errlen);
/* Detaches; accepts a zeroed or detached link. */
void objfile_detach(struct objfile_link *l);
/* The kernel id of the link (the first, for netfilter's two), or 0. */
uint32_t objfile_link_id(const struct objfile_link *l);

#endif /* LBPF_USER_OBJFILE_H */
