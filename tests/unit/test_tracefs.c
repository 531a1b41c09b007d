// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Proves that tracepoint formats parse into the right offsets, sizes, signedness and kinds (from
 * a fixture, and from the running kernel's tracefs), and that tracepoint and kernel function
 * globs match, sorted. Tests that read tracefs mount it when root, and skip otherwise. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "../../user/trace/tracefs.h"

/* Syscall arguments are declared int but stored in 8 bytes with signed:0; a data_loc string,
 * arrays and a struct the parser cannot know. */
static const char fixture[] =
	"name: sys_enter_fixture\n"
	"ID: 4242\n"
	"format:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
	"\n"
	"\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n"
	"\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n"
	"\tfield:__data_loc char[] path;\toffset:32;\tsize:4;\tsigned:0;\n"
	"\tfield:char comm[16];\toffset:36;\tsize:16;\tsigned:0;\n"
	"\tfield:unsigned long ips[4];\toffset:56;\tsize:32;\tsigned:0;\n"
	"\tfield:struct fixture_pair pair;\toffset:88;\tsize:16;\tsigned:0;\n"
	"\tfield:umode_t mode;\toffset:104;\tsize:8;\tsigned:0;\n"
	"\tfield:const __u32 count;\toffset:112;\tsize:4;\tsigned:0;\n"
	"\n"
	"print fmt: \"field:int bogus; offset:0;\", REC->dfd\n";

/* Mounts tracefs when it is missing; returns a skip reason when it cannot be read. */
static const char *tracefs_unavailable(void)
{
	struct stat st;

	if (stat("/sys/kernel/tracing/events", &st) == 0 ||
	    stat("/sys/kernel/debug/tracing/events", &st) == 0)
		return NULL;
	if (geteuid() != 0)
		return "tracefs is not mounted or not readable, and mounting it needs root";
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0)
		return "cannot mount tracefs on /sys/kernel/tracing";
	return NULL;
}

static const struct tp_field *field(const struct tp_format *fmt, const char *name)
{
	const struct tp_field *f = tracefs_field(fmt, name);

	if (!f)
		unit_fail("field %s missing from %s", name, fmt->name);
	return f;
}

static void test_parse_fixture(void)
{
	struct tp_format fmt;
	const struct tp_field *f;

	UNIT_CHECK(tracefs_format_parse(fixture, &fmt) == 0);
	UNIT_CHECK(!strcmp(fmt.name, "sys_enter_fixture") && fmt.id == 4242 && fmt.nfields == 10);
	UNIT_CHECK(fmt.size == 116);
	UNIT_CHECK((f = field(&fmt, "common_pid")) && f->is_common && f->is_signed);
	UNIT_CHECK((f = field(&fmt, "dfd")) && !f->is_common && f->is_signed &&
		   f->value_size == 4 && f->size == 8 && !strcmp(f->type, "int"));
	UNIT_CHECK((f = field(&fmt, "filename")) && f->is_pointer && !f->is_string &&
		   f->offset == 24 && f->value_size == 8 && !strcmp(f->type, "const char *"));
	UNIT_CHECK((f = field(&fmt, "path")) && f->is_data_loc && f->is_string &&
		   f->value_size == 4 && !strcmp(f->type, "__data_loc char[]"));
	UNIT_CHECK((f = field(&fmt, "comm")) && f->is_string && !f->is_data_loc &&
		   f->size == 16 && !strcmp(f->type, "char[16]"));
	UNIT_CHECK((f = field(&fmt, "ips")) && !f->is_string && f->value_size == 8 &&
		   !strcmp(f->type, "unsigned long[4]"));
	UNIT_CHECK((f = field(&fmt, "pair")) && f->value_size == 16 && !f->is_signed);
	UNIT_CHECK((f = field(&fmt, "mode")) && f->value_size == 2 && !f->is_signed);
	UNIT_CHECK((f = field(&fmt, "count")) && f->value_size == 4 && !f->is_signed);
	UNIT_CHECK(!tracefs_field(&fmt, "bogus") && !tracefs_field(&fmt, "nothing"));
	tracefs_format_free(&fmt);
	tracefs_format_free(&fmt);
	tracefs_format_free(NULL);
}

static void test_parse_malformed(void)
{
	struct tp_format fmt;

	UNIT_CHECK(tracefs_format_parse("", &fmt) == -EINVAL);
	UNIT_CHECK(tracefs_format_parse("name: x\nformat:\n", &fmt) == -EINVAL);
	UNIT_CHECK(tracefs_format_parse("name: x\n\tfield:int;\toffset:0;\tsize:4;\n", &fmt) ==
		   -EINVAL);
	UNIT_CHECK(tracefs_format_parse("name: x\n\tfield:int a;\toffset:zero;\n", &fmt) ==
		   -EINVAL);
	UNIT_CHECK(fmt.fields == NULL && fmt.nfields == 0);
}

static void test_read_openat(void)
{
	struct tp_format fmt;
	const struct tp_field *f;
	int err;

	UNIT_SKIP_IF(tracefs_unavailable());
	err = tracefs_format_read("syscalls", "sys_enter_openat", &fmt);
	UNIT_SKIP_IF(err == -ENOENT ? "no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)" : NULL);
	UNIT_CHECK(err == 0);
	UNIT_CHECK(!strcmp(fmt.category, "syscalls") && !strcmp(fmt.name, "sys_enter_openat"));
	UNIT_CHECK(fmt.id > 0 && fmt.size >= 48);
	UNIT_CHECK((f = field(&fmt, "filename")) && f->is_pointer && f->offset == 24);
	UNIT_CHECK((f = field(&fmt, "flags")) && f->is_signed && f->value_size == 4);
	UNIT_CHECK((f = field(&fmt, "dfd")) && f->is_signed && f->value_size == 4);
	UNIT_CHECK((f = field(&fmt, "common_pid")) && f->is_common);
	tracefs_format_free(&fmt);
}

static void test_read_sched_switch(void)
{
	struct tp_format fmt;
	const struct tp_field *f;

	UNIT_SKIP_IF(tracefs_unavailable());
	UNIT_CHECK(tracefs_format_read("sched", "sched_switch", &fmt) == 0);
	UNIT_CHECK((f = field(&fmt, "prev_comm")) && f->is_string && !f->is_data_loc &&
		   f->size == 16 && !strcmp(f->type, "char[16]"));
	UNIT_CHECK((f = field(&fmt, "prev_pid")) && f->is_signed && f->value_size == 4);
	tracefs_format_free(&fmt);
}

static void test_read_data_loc(void)
{
	struct tp_format fmt;
	const struct tp_field *f;

	UNIT_SKIP_IF(tracefs_unavailable());
	UNIT_CHECK(tracefs_format_read("sched", "sched_process_exec", &fmt) == 0);
	UNIT_CHECK((f = field(&fmt, "filename")) && f->is_data_loc && f->is_string &&
		   f->size == 4 && !strcmp(f->type, "__data_loc char[]"));
	UNIT_CHECK(fmt.size >= f->offset + 4);
	tracefs_format_free(&fmt);
}

static void test_read_errors(void)
{
	struct tp_format fmt;

	UNIT_CHECK(tracefs_format_read("..", "x", &fmt) == -EINVAL);
	UNIT_CHECK(tracefs_format_read("sched", "a/b", &fmt) == -EINVAL);
	UNIT_CHECK(tracefs_format_read("", "x", &fmt) == -EINVAL);
	UNIT_SKIP_IF(tracefs_unavailable());
	UNIT_CHECK(tracefs_format_read("sched", "no_such_tracepoint", &fmt) == -ENOENT);
}

struct seen {
	char names[16][96];
	int n;
};

static int remember(const char *cat, const char *name, void *ctx)
{
	struct seen *seen = ctx;

	if (seen->n < 16)
		snprintf(seen->names[seen->n++], sizeof(seen->names[0]), "%s:%s", cat, name);
	return 0;
}

static int stop_at_second(const char *cat, const char *name, void *ctx)
{
	return ++*(int *)ctx == 2 ? 77 : 0;
}

static int index_of(const struct seen *seen, const char *name)
{
	for (int i = 0; i < seen->n; i++)
		if (!strcmp(seen->names[i], name))
			return i;
	return -1;
}

static void test_glob_tracepoints(void)
{
	struct seen seen = { 0 };
	int n, calls = 0;

	UNIT_SKIP_IF(tracefs_unavailable());
	n = tracefs_glob_tracepoints("syscalls", "sys_enter_open*", remember, &seen);
	UNIT_SKIP_IF(n == 0 ? "no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)" : NULL);
	UNIT_CHECK(n >= 2 && n == seen.n);
	UNIT_CHECK(index_of(&seen, "syscalls:sys_enter_open") >= 0);
	UNIT_CHECK(index_of(&seen, "syscalls:sys_enter_openat") >
		   index_of(&seen, "syscalls:sys_enter_open"));
	UNIT_CHECK(index_of(&seen, "syscalls:sys_exit_open") < 0);
	for (int i = 1; i < seen.n; i++)
		UNIT_CHECK(strcmp(seen.names[i - 1], seen.names[i]) < 0);
	UNIT_CHECK(tracefs_glob_tracepoints("sch?d", "sched_switch", remember, &seen) == 1);
	UNIT_CHECK(tracefs_glob_tracepoints("nosuch*", "*", remember, &seen) == 0);
	UNIT_CHECK(tracefs_glob_tracepoints("sched", "*", stop_at_second, &calls) == 77);
}

static int count_and_check(const char *name, void *ctx)
{
	int *n = ctx;

	if (strchr(name, ' ') || strchr(name, '[') || strncmp(name, "vfs_", 4))
		return -1000;
	++*n;
	return 0;
}

static int find_name(const char *name, void *ctx)
{
	return strcmp(name, ctx) ? 0 : 42;
}

static void test_glob_functions(void)
{
	int n = 0, ret;

	ret = tracefs_glob_functions("vfs_*", count_and_check, &n);
	UNIT_SKIP_IF(ret == -EACCES || ret == -EPERM ? "cannot read kernel function names" : NULL);
	UNIT_CHECK(ret > 1 && ret == n);
	UNIT_CHECK(tracefs_glob_functions("vfs_rea?", find_name, "vfs_read") == 42);
	UNIT_CHECK(tracefs_glob_functions("no_such_function_*", find_name, "") == 0);
}

static void test_is_glob(void)
{
	UNIT_CHECK(tracefs_is_glob("sys_enter_*") && tracefs_is_glob("a?") &&
		   tracefs_is_glob("[ab]"));
	UNIT_CHECK(!tracefs_is_glob("sys_enter_openat") && !tracefs_is_glob("") &&
		   !tracefs_is_glob(NULL));
}

int main(void)
{
	UNIT_RUN(test_parse_fixture);
	UNIT_RUN(test_parse_malformed);
	UNIT_RUN(test_read_openat);
	UNIT_RUN(test_read_sched_switch);
	UNIT_RUN(test_read_data_loc);
	UNIT_RUN(test_read_errors);
	UNIT_RUN(test_glob_tracepoints);
	UNIT_RUN(test_glob_functions);
	UNIT_RUN(test_is_glob);
	return unit_exit();
}
