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
	const struct btf *btf;         /* whose type ids these are: vmlinux's or a module's */
	char module[64];               /* the module whose BTF has them; "" for vmlinux */
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
	const struct btf *btf;         /* the BTF its type ids are in (its args') */
	struct lbpf_path steps;        /* dest is the caller's to set */
	enum btf_value_kind kind;
	unsigned type;                 /* the value's type id (enum names) */
	unsigned size;                 /* bytes of the value */
	bool is_signed;
	/* casts[i]: the struct or union read i reads from, resolved (0: not
	 * one); direct: every one of them is, and is vmlinux's, so that
	 * bpf_rdonly_cast can type the pointer and the verifier check the
	 * loads (bpf/probe.bpf.c's walk_path_direct) */
	unsigned casts[LBPF_MAX_STEPS];
	bool direct;
};

/* vmlinux's BTF (/sys/kernel/btf/vmlinux, mapped where the kernel allows,
 * else with libbpf's fallbacks), or NULL with errno set: one copy per
 * process, held until every btf_kernel_get has its put. */
struct btf *btf_kernel_get(void);
void btf_kernel_put(struct btf *btf);

/* The kernel's types: vmlinux's BTF, and loaded modules' BTF, split on
 * vmlinux's (their type ids continue from it). A module's BTF is read only
 * when vmlinux's lacks a name, and only a module whose strings hold it. */
struct btf_kernel;

/* The BTF of vmlinux and of the modules in dir; with dir NULL, vmlinux's
 * from btf_kernel_get and the modules' in /sys/kernel/btf. NULL with
 * errno. */
struct btf_kernel *btf_kernel_open(const char *dir);
void btf_kernel_free(struct btf_kernel *k);
/* func's arguments from its BTF prototype, vmlinux's or its module's.
 * -ENOENT when no BTF has such a function, with a message that says where
 * it looked. */
int btf_func_args(struct btf_kernel *k, const char *func, struct btf_args *out, char *errbuf,
		  size_t errlen);
/* A raw tracepoint's arguments, from __bpf_trace_<name> (which names them)
 * or else the typedef btf_trace_<name> (argN only), vmlinux's or a
 * module's. -ENOENT when no BTF has them, with the message. */
int btf_raw_tp_args(struct btf_kernel *k, const char *name, struct btf_args *out,
		    char *errbuf, size_t errlen);
/* Compiles path over args (in args->btf) into out; for a return probe
 * (ret), over the return value "ret" only. 0, or -EINVAL with "<path>:
 * <what is wrong>". */
int btf_path_compile(const struct btf_args *args, bool ret, const char *path,
		     struct btf_path *out, char *errbuf, size_t errlen);
/* The id of the kernel function (a kfunc) `name` in vmlinux's BTF, or
 * -ENOENT. */
int btf_kernel_func_id(struct btf_kernel *k, const char *name);
/* The name of enum type `type`'s value v, or NULL. */
const char *btf_enum_name(const struct btf *btf, unsigned type, long long v);

/* Whether this kernel loads and attaches fentry programs: one on
 * bpf_fentry_test1 (there for BPF_PROG_TEST_RUN), loaded, attached and
 * closed. 0 or -errno (-EPERM where the kernel refuses tracing programs). */
int btf_fentry_check(void);

#endif /* LBPF_USER_BTF_PATH_H */
