// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Proves that field paths compile to the offsets of the kernel's structs: each
 * step's offset is checked against the members' offsets that `bpftool btf dump`
 * prints for the same BTF (an independent reading of it), along with the
 * value's kind, size and sign, raw tracepoint arguments named by BTF, and the
 * load errors that name the path and the member. Needs /sys/kernel/btf/vmlinux
 * and bpftool (no root). Module BTF is proved on a folder of BTF files made
 * here with libbpf's writer: a "vmlinux" and two modules split on it, one of
 * which holds a function and a raw tracepoint. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "unit.h"
#include "../../user/trace/btf_path.h"

int main(void);

static struct btf_kernel *kernel;

/* Members of the structs the tests use, as bpftool prints them. */
static const char *const wanted[] = { "task_struct", "sock", "sock_common", "inet_sock", NULL };
static struct { char type[32], name[64]; unsigned bits; } members[2048];
static int nmembers;

/* Reads the members of the wanted structs from bpftool's raw dump. */
static bool read_bpftool(void)
{
	FILE *f = popen("bpftool btf dump file /sys/kernel/btf/vmlinux 2>/dev/null", "r");
	char line[512], name[128], type[32] = "";
	unsigned id, vlen = 0, bits, tid;
	int i;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "[%u] STRUCT '%127[^']' size=%*u vlen=%u", &id, name, &vlen) == 3) {
			type[0] = '\0';
			for (i = 0; wanted[i]; i++)
				if (!strcmp(name, wanted[i]))
					snprintf(type, sizeof(type), "%.31s", name);
			continue;
		}
		if (line[0] == '[')
			type[0] = '\0';
		if (type[0] && nmembers < 2048 &&
		    sscanf(line, " '%127[^']' type_id=%u bits_offset=%u", name, &tid, &bits) == 3) {
			snprintf(members[nmembers].type, sizeof(members[0].type), "%s", type);
			snprintf(members[nmembers].name, sizeof(members[0].name), "%.63s", name);
			members[nmembers++].bits = bits;
		}
	}
	return pclose(f) == 0 && nmembers > 0;
}

/* The byte offset of type.member per bpftool, or -1. */
static long offset_of(const char *type, const char *name)
{
	int i;

	for (i = 0; i < nmembers; i++)
		if (!strcmp(members[i].type, type) && !strcmp(members[i].name, name))
			return members[i].bits / 8;
	return -1;
}

static struct btf_args sched_switch, sock_state;

static bool setup(void)
{
	char msg[256];

	if (kernel)
		return true;
	kernel = btf_kernel_open(NULL);
	if (!kernel) {
		unit_skip("no kernel BTF (/sys/kernel/btf/vmlinux)");
		return false;
	}
	if (!read_bpftool()) {
		unit_skip("bpftool cannot dump the kernel's BTF");
		return false;
	}
	return CHECK(!btf_raw_tp_args(kernel, "sched_switch", &sched_switch, msg, sizeof(msg)), "%s",
		     msg) &&
	       CHECK(!btf_raw_tp_args(kernel, "inet_sock_set_state", &sock_state, msg, sizeof(msg)),
		     "%s", msg);
}

static bool compile(const struct btf_args *args, const char *path, struct btf_path *out)
{
	char msg[256];
	int err = btf_path_compile(args, false, path, out, msg, sizeof(msg));

	return CHECK(!err, "%s: %s", path, msg);
}

/* sched_switch's arguments carry the names of its prototype. */
static void test_raw_tp_args(void)
{
	int i;
	bool prev = false, next = false;

	if (!setup())
		return;
	for (i = 0; i < sched_switch.n; i++) {
		prev |= !strcmp(sched_switch.names[i], "prev");
		next |= !strcmp(sched_switch.names[i], "next");
	}
	CHECK(prev && next && sched_switch.n >= 3, "%d arguments", sched_switch.n);
}

/* prev->pid: one read of a signed 4-byte integer at task_struct.pid. */
static void test_one_member(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sched_switch, "prev->pid", &p))
		return;
	CHECK(p.steps.nreads == 1, "%u reads", p.steps.nreads);
	CHECK(p.steps.offsets[0] == offset_of("task_struct", "pid"), "offset %u, bpftool %ld",
	      p.steps.offsets[0], offset_of("task_struct", "pid"));
	CHECK(p.kind == BTF_VALUE_INT && p.size == 4 && p.is_signed && p.steps.size == 4);
}

/* prev->real_parent->tgid: the pointer read, then the value. */
static void test_two_reads(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sched_switch, "prev->real_parent->tgid", &p))
		return;
	CHECK(p.steps.nreads == 2, "%u reads", p.steps.nreads);
	CHECK(p.steps.offsets[0] == offset_of("task_struct", "real_parent"));
	CHECK(p.steps.offsets[1] == offset_of("task_struct", "tgid"));
	/* both reads are from a task_struct: bpf_rdonly_cast can type them */
	CHECK(p.casts[0] == (unsigned)btf__find_by_name_kind(sched_switch.btf, "task_struct",
							      BTF_KIND_STRUCT) &&
	      p.casts[1] == p.casts[0] && p.direct, "casts %u %u, direct %d", p.casts[0], p.casts[1],
	      p.direct);
}

/* next->comm is a string of 16; next->comm[3] one char of it. */
static void test_chars(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sched_switch, "next->comm", &p))
		return;
	CHECK(p.kind == BTF_VALUE_CHARS && p.size == 16 && p.steps.size == 16);
	CHECK(p.steps.offsets[0] == offset_of("task_struct", "comm"));
	if (!compile(&sched_switch, "next->comm[3]", &p))
		return;
	CHECK(p.kind == BTF_VALUE_INT && p.size == 1);
	CHECK(p.steps.offsets[0] == offset_of("task_struct", "comm") + 3);
}

/* sk->__sk_common.skc_family: offsets add up through an embedded struct. */
static void test_embedded(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sock_state, "sk->__sk_common.skc_family", &p))
		return;
	CHECK(p.steps.nreads == 1);
	CHECK(p.steps.offsets[0] == offset_of("sock", "__sk_common") +
				    offset_of("sock_common", "skc_family"),
	      "offset %u", p.steps.offsets[0]);
	CHECK(p.kind == BTF_VALUE_INT && p.size == 2 && !p.is_signed);
}

/* A cast: ((struct inet_sock *)sk)->inet_sport. */
static void test_cast(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sock_state, "((struct inet_sock *)sk)->inet_sport", &p))
		return;
	CHECK(p.steps.offsets[0] == offset_of("inet_sock", "inet_sport"));
	CHECK(p.size == 2);
	/* the read is from the cast's struct, not the argument's */
	CHECK(p.casts[0] == (unsigned)btf__find_by_name_kind(sock_state.btf, "inet_sock",
							      BTF_KIND_STRUCT) && p.direct);
}

/* An argument itself: no read; the register is the value. */
static void test_argument(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sched_switch, "prev", &p))
		return;
	CHECK(p.steps.nreads == 0 && p.kind == BTF_VALUE_PTR && p.direct);
}

static void expect_error(const struct btf_args *args, const char *path, const char *want)
{
	struct btf_path p;
	char msg[256] = "";

	CHECK(btf_path_compile(args, false, path, &p, msg, sizeof(msg)) == -EINVAL, "%s", path);
	CHECK_CONTAINS(msg, want);
}

static void test_errors(void)
{
	if (!setup())
		return;
	expect_error(&sock_state, "sk->__sk_common.skc_nope",
		     "sk->__sk_common.skc_nope: struct sock_common has no member skc_nope");
	expect_error(&sched_switch, "prev->pid.x", "pid_t is not a struct or union");
	expect_error(&sched_switch, "prev->", "expected a member's name at 'the end'");
	expect_error(&sched_switch, "((struct nosuch *)prev)->x", "the kernel's BTF has no type struct nosuch");
	expect_error(&sched_switch, "prev->comm[99]", "index 99 is past the end of char[16]");
	expect_error(&sched_switch, "prev->pid + 1", "expected '->', '.' or '[' at '+ 1'");
}

/* Writes btf's raw bytes (a split BTF's own types and strings only, as
 * the kernel shows a module's) to dir/name. */
static bool write_btf(const char *dir, const char *name, const struct btf *btf)
{
	char path[256];
	__u32 size;
	const void *data = btf__raw_data(btf, &size);
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = data ? fopen(path, "wb") : NULL;
	if (!f)
		return false;
	ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok;
}

/* A module's BTF, split on base: struct fake_dev { int ifindex; char
 * name[16]; }, int fake_open(struct fake_dev *dev) and the raw tracepoint
 * fake_event(dev). */
static struct btf *fake_module(struct btf *base)
{
	struct btf *m = btf__new_empty_split(base);
	int arr, dev, ptr, proto, voidp;

	if (!m)
		return NULL;
	arr = btf__add_array(m, 1, 2, 16);
	dev = btf__add_struct(m, "fake_dev", 20);
	btf__add_field(m, "ifindex", 1, 0, 0);
	btf__add_field(m, "name", arr, 32, 0);
	ptr = btf__add_ptr(m, dev);
	proto = btf__add_func_proto(m, 1);
	btf__add_func_param(m, "dev", ptr);
	btf__add_func(m, "fake_open", BTF_FUNC_STATIC, proto);
	voidp = btf__add_ptr(m, 0);
	proto = btf__add_func_proto(m, 0);
	btf__add_func_param(m, "__data", voidp);
	btf__add_func_param(m, "dev", ptr);
	btf__add_func(m, "__bpf_trace_fake_event", BTF_FUNC_STATIC, proto);
	return m;
}

/* A folder with "vmlinux" (int, char), the module lbpf_fake and the module
 * lbpf_other (struct other_thing), in dir. */
static bool fake_btf_dir(char *dir)
{
	struct btf *base = btf__new_empty(), *mod = NULL, *other = NULL;
	bool ok = false;

	if (!base || !mkdtemp(dir))
		goto cleanup;
	btf__add_int(base, "int", 4, BTF_INT_SIGNED);
	btf__add_int(base, "char", 1, BTF_INT_CHAR);
	mod = fake_module(base);
	other = btf__new_empty_split(base);
	if (!mod || !other || btf__add_struct(other, "other_thing", 4) < 0 ||
	    btf__add_field(other, "x", 1, 0, 0))
		goto cleanup;
	ok = write_btf(dir, "vmlinux", base) && write_btf(dir, "lbpf_fake", mod) &&
	     write_btf(dir, "lbpf_other", other);
cleanup:
	btf__free(mod);
	btf__free(other);
	btf__free(base);
	return ok;
}

static void remove_fake_dir(const char *dir)
{
	char path[256];
	const char *const names[] = { "vmlinux", "lbpf_fake", "lbpf_other" };
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* A function and a raw tracepoint that vmlinux's BTF lacks are found in the
 * module's, their paths compile against it (ids past vmlinux's), and a name
 * no BTF has is an error that says where lbpf looked. */
static void test_module_btf(void)
{
	char dir[] = "/tmp/lbpf-btf-XXXXXX", msg[512] = "";
	struct btf_kernel *k = NULL;
	struct btf_args args, tp;
	struct btf_path p;

	if (!CHECK(fake_btf_dir(dir), "write BTF files in %s", dir))
		goto cleanup;
	k = btf_kernel_open(dir);
	if (!CHECK(k, "btf_kernel_open(%s): %s", dir, strerror(errno)))
		goto cleanup;
	if (!CHECK(!btf_func_args(k, "fake_open", &args, msg, sizeof(msg)), "%s", msg))
		goto cleanup;
	CHECK_STR(args.module, "lbpf_fake");
	CHECK(args.n == 1 && !strcmp(args.names[0], "dev"), "%d args, %s", args.n, args.names[0]);
	if (CHECK(!btf_path_compile(&args, false, "dev->name", &p, msg, sizeof(msg)), "%s", msg))
		CHECK(p.steps.nreads == 1 && p.steps.offsets[0] == 4 && p.kind == BTF_VALUE_CHARS &&
		      p.size == 16 && p.btf == args.btf, "dev->name: %d reads, offset %u, kind %d, "
		      "size %u", p.steps.nreads, p.steps.offsets[0], p.kind, p.size);
	if (CHECK(!btf_path_compile(&args, false, "dev->ifindex", &p, msg, sizeof(msg)), "%s", msg))
		CHECK(p.steps.offsets[0] == 0 && p.kind == BTF_VALUE_INT && p.size == 4 && p.is_signed);
	/* a module's struct: bpf_rdonly_cast knows only vmlinux's types */
	CHECK(p.casts[0] >= btf__type_cnt(btf__base_btf(args.btf)) && !p.direct,
	      "cast %u, direct %d", p.casts[0], p.direct);
	if (CHECK(!btf_raw_tp_args(k, "fake_event", &tp, msg, sizeof(msg)), "%s", msg)) {
		CHECK_STR(tp.module, "lbpf_fake");
		CHECK(tp.n == 1 && !strcmp(tp.names[0], "dev") && tp.btf == args.btf);
	}
	CHECK(btf_func_args(k, "fake_close", &args, msg, sizeof(msg)) == -ENOENT);
	CHECK_CONTAINS(msg, "fake_close: the kernel's BTF has no function fake_close (searched");
	CHECK_CONTAINS(msg, ": vmlinux and 2 modules");
cleanup:
	btf_kernel_free(k);
	remove_fake_dir(dir);
}

/* One copy of vmlinux's BTF per process: a second get shares it, the last
 * put frees it, and a get after that loads it again with the same types.
 * Runs first, while no btf_kernel holds a reference. */
static void test_shared(void)
{
	struct btf *first = btf_kernel_get(), *again, *reloaded;
	__u32 types;

	if (!first) {
		unit_skip("no kernel BTF (/sys/kernel/btf/vmlinux)");
		return;
	}
	types = btf__type_cnt(first);
	again = btf_kernel_get();
	CHECK(again == first, "a second get loaded another copy");
	btf_kernel_put(again);
	btf_kernel_put(first);
	reloaded = btf_kernel_get();
	CHECK(reloaded && btf__type_cnt(reloaded) == types, "reloaded: %u types, not %u",
	      reloaded ? btf__type_cnt(reloaded) : 0, types);
	btf_kernel_put(reloaded);
}

int main(void)
{
	UNIT_RUN(test_shared);
	UNIT_RUN(test_raw_tp_args);
	UNIT_RUN(test_one_member);
	UNIT_RUN(test_two_reads);
	UNIT_RUN(test_chars);
	UNIT_RUN(test_embedded);
	UNIT_RUN(test_cast);
	UNIT_RUN(test_argument);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_module_btf);
	btf_kernel_free(kernel);
	return unit_exit();
}
