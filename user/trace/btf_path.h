/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Field paths over the kernel's types (opts.fields): the typed arguments of a
 * kernel function or a raw tracepoint, read from BTF with libbpf's API, and
 * C-like paths over them ("sk->__sk_common.skc_daddr", "((struct sock
 * *)arg1)->sk_rcvbuf") compiled into the (offset, read) steps of a struct
 * lbpf_path that bpf/probe.bpf.c walks. Plain C: 0 or -errno, and the message
 * a user sees in (errbuf, errlen).
 */
#ifndef LBPF_USER_BTF_PATH_H
#define LBPF_USER_BTF_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include <lbpf/probe.h>

struct btf;

#define BTF_MAX_ARGS 12

/* The arguments of a function or a raw tracepoint, as its BTF types them. */
struct btf_args {
	int n;
	char names[BTF_MAX_ARGS][64];
	unsigned types[BTF_MAX_ARGS];  /* type ids; 0 = void */
	unsigned ret;                  /* a function's return type; 0 = void */
};

/* How a path's value reads. */
enum btf_value_kind {
	BTF_VALUE_INT,         /* integer of size 1, 2, 4 or 8, signed or not */
	BTF_VALUE_ENUM,        /* an enum: printed by name */
	BTF_VALUE_PTR,         /* a pointer, as an integer */
	BTF_VALUE_CHARS,       /* char[N]: a string of at most N bytes */
	BTF_VALUE_STRPTR,      /* char *: the pointer, whose string is captured */
	BTF_VALUE_BYTES,       /* a struct, union or array: its bytes */
};

struct btf_path {
	struct lbpf_path steps;        /* dest is the caller's to set */
	enum btf_value_kind kind;
	unsigned type;                 /* the value's type id (enum names) */
	unsigned size;                 /* bytes of the value */
	bool is_signed;
};

/* The kernel's BTF (/sys/kernel/btf/vmlinux), or NULL with errno set: one
 * copy per process, held until every btf_kernel_get has its put. */
struct btf *btf_kernel_get(void);
void btf_kernel_put(struct btf *btf);
/* func's arguments from its BTF prototype. -ENOENT when BTF has no such
 * function, with the message. */
int btf_func_args(const struct btf *btf, const char *func, struct btf_args *out, char *errbuf,
		  size_t errlen);
/* A raw tracepoint's arguments, from __bpf_trace_<name> (which names them)
 * or else the typedef btf_trace_<name> (argN only). -ENOENT
 * when BTF has none, with the message. */
int btf_raw_tp_args(const struct btf *btf, const char *name, struct btf_args *out,
		    char *errbuf, size_t errlen);
/* Compiles path over args into out; for a return probe (ret), over the
 * return value "ret" only. 0, or -EINVAL with "<path>: <what is wrong>". */
int btf_path_compile(const struct btf *btf, const struct btf_args *args, bool ret,
		     const char *path, struct btf_path *out, char *errbuf, size_t errlen);
/* The name of enum type `type`'s value v, or NULL. */
const char *btf_enum_name(const struct btf *btf, unsigned type, long long v);

/* Whether this kernel loads and attaches fentry programs: one on
 * bpf_fentry_test1 (there for BPF_PROG_TEST_RUN), loaded, attached and
 * closed. 0 or -errno (-EPERM where the kernel refuses tracing programs). */
int btf_fentry_check(void);

#endif /* LBPF_USER_BTF_PATH_H */
