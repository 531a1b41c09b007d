// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Proves that field paths compile to the offsets of the kernel's structs: each
 * step's offset is checked against the members' offsets that `bpftool btf dump`
 * prints for the same BTF (an independent reading of it), along with the
 * value's kind, size and sign, raw tracepoint arguments named by BTF, and the
 * load errors that name the path and the member. Needs /sys/kernel/btf/vmlinux
 * and bpftool (no root). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "unit.h"
#include "../../user/trace/btf_path.h"

int main(void);

static struct btf *btf;

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

	if (btf)
		return true;
	btf = btf_kernel_get();
	if (!btf) {
		unit_skip("no kernel BTF (/sys/kernel/btf/vmlinux)");
		return false;
	}
	if (!read_bpftool()) {
		unit_skip("bpftool cannot dump the kernel's BTF");
		return false;
	}
	return CHECK(!btf_raw_tp_args(btf, "sched_switch", &sched_switch, msg, sizeof(msg)), "%s", msg) &&
	       CHECK(!btf_raw_tp_args(btf, "inet_sock_set_state", &sock_state, msg, sizeof(msg)),
		     "%s", msg);
}

static bool compile(const struct btf_args *args, const char *path, struct btf_path *out)
{
	char msg[256];
	int err = btf_path_compile(btf, args, false, path, out, msg, sizeof(msg));

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
}

/* An argument itself: no read; the register is the value. */
static void test_argument(void)
{
	struct btf_path p;

	if (!setup() || !compile(&sched_switch, "prev", &p))
		return;
	CHECK(p.steps.nreads == 0 && p.kind == BTF_VALUE_PTR);
}

static void expect_error(const struct btf_args *args, const char *path, const char *want)
{
	struct btf_path p;
	char msg[256] = "";

	CHECK(btf_path_compile(btf, args, false, path, &p, msg, sizeof(msg)) == -EINVAL, "%s", path);
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

/* One copy per process: a second get shares it, the last put frees it, and
 * a get after that loads it again (with the same types). */
static void test_shared(void)
{
	struct btf *again, *reloaded;
	__u32 types;

	if (!setup())
		return;
	types = btf__type_cnt(btf);
	again = btf_kernel_get();
	CHECK(again == btf, "a second get loaded another copy");
	btf_kernel_put(again);
	btf_kernel_put(btf);
	reloaded = btf_kernel_get();
	CHECK(reloaded && btf__type_cnt(reloaded) == types, "reloaded: %u types, not %u",
	      reloaded ? btf__type_cnt(reloaded) : 0, types);
	btf = reloaded;
}

int main(void)
{
	UNIT_RUN(test_raw_tp_args);
	UNIT_RUN(test_one_member);
	UNIT_RUN(test_two_reads);
	UNIT_RUN(test_chars);
	UNIT_RUN(test_embedded);
	UNIT_RUN(test_cast);
	UNIT_RUN(test_argument);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_shared);
	btf_kernel_put(btf);
	return unit_exit();
}
