// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Proves that USDT argument specs give their size and sign, that the probes of
 * tests/helpers/usdt_target come out of its .note.stapsdt sorted, with their arguments, two
 * sites of one name merged, and that files without notes, files that are not ELF, missing
 * files and processes that do not map a binary are told apart. Needs no root. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../user/trace/usdt.h"

static int parse(const char *spec, struct usdt_arg *arg)
{
	return usdt_arg_parse(spec, strlen(spec), arg);
}

static void test_arg_specs(void)
{
	struct usdt_arg a;

	UNIT_CHECK(parse("-4@%eax", &a) == 0 && a.size == 4 && a.is_signed);
	UNIT_CHECK(parse("8@-16(%rbp)", &a) == 0 && a.size == 8 && !a.is_signed);
	UNIT_CHECK(parse("1@$5", &a) == 0 && a.size == 1 && !a.is_signed);
	UNIT_CHECK(parse("-2@14(%rsp)", &a) == 0 && a.size == 2 && a.is_signed);
	UNIT_CHECK(parse("-8@$-1", &a) == 0 && a.size == 8 && a.is_signed);
	UNIT_CHECK(usdt_arg_parse("4@%eax 8@%rdx", 6, &a) == 0 && a.size == 4); /* one of a list */
	UNIT_CHECK(parse("3@%eax", &a) == -EINVAL);
	UNIT_CHECK(parse("16@%xmm0", &a) == -EINVAL);
	UNIT_CHECK(parse("%eax", &a) == -EINVAL);
	UNIT_CHECK(parse("@%eax", &a) == -EINVAL);
	UNIT_CHECK(parse("x4@%eax", &a) == -EINVAL);
	UNIT_CHECK(parse("", &a) == -EINVAL);
}

/* build/tests/helpers/usdt_target, beside this test's folder, into path. */
static const char *target_path(char *path, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	snprintf(path, size, "%s/../helpers/usdt_target", self);
	return access(path, X_OK) ? NULL : path;
}

static void check_arg(const struct usdt_probe *p, int i, int size, bool is_signed)
{
	if (p->args[i].size != size || p->args[i].is_signed != is_signed)
		unit_fail("%s:%s arg%d: got %s%d, want %s%d", p->provider, p->name, i + 1,
			  p->args[i].is_signed ? "-" : "", p->args[i].size, is_signed ? "-" : "", size);
}

static void test_target_notes(void)
{
	static const char *const names[] = {
		"lbpf_other:tick", "lbpf_test:big", "lbpf_test:none", "lbpf_test:seven",
		"lbpf_test:small", "lbpf_test:str",
	};
	struct usdt_probes probes;
	char path[PATH_MAX + 32], name[160];
	size_t i;
	int err;

	UNIT_SKIP_IF(!target_path(path, sizeof(path)) ? "usdt_target is not built (make)" : NULL);
	err = usdt_probes_read(path, &probes);
	UNIT_SKIP_IF(err == -ENODATA ? "usdt_target was built without <sys/sdt.h>" : NULL);
	UNIT_CHECK(err == 0);
	UNIT_CHECK(probes.n == 6);
	for (i = 0; i < probes.n; i++) {
		snprintf(name, sizeof(name), "%s:%s", probes.v[i].provider, probes.v[i].name);
		UNIT_CHECK_STR(name, names[i]);
	}
	UNIT_CHECK(probes.v[0].nsites == 2 && probes.v[0].nargs == 1); /* tick: -4@ and -8@ */
	check_arg(&probes.v[0], 0, 4, true);
	UNIT_CHECK(probes.v[1].nargs == 4 && probes.v[1].nsites == 1);
	check_arg(&probes.v[1], 0, 4, true);
	check_arg(&probes.v[1], 1, 4, false);
	check_arg(&probes.v[1], 2, 8, true);
	check_arg(&probes.v[1], 3, 8, false);
	UNIT_CHECK(probes.v[2].nargs == 0);
	UNIT_CHECK(probes.v[3].nargs == 7);
	UNIT_CHECK(probes.v[4].nargs == 4);
	check_arg(&probes.v[4], 0, 1, true);
	check_arg(&probes.v[4], 1, 1, false);
	check_arg(&probes.v[4], 2, 2, true);
	check_arg(&probes.v[4], 3, 2, false);
	UNIT_CHECK(probes.v[5].nargs == 2);
	check_arg(&probes.v[5], 0, 8, false);
	check_arg(&probes.v[5], 1, 4, true);
	UNIT_CHECK(!probes.v[5].semaphore);
	usdt_probes_free(&probes);
	usdt_probes_free(&probes);
	usdt_probes_free(NULL);
}

static void test_errors(void)
{
	struct usdt_probes probes;
	char text[] = "/tmp/lbpf-unit-usdt-XXXXXX";
	int fd = mkstemp(text);

	UNIT_CHECK(fd >= 0 && write(fd, "not an ELF file\n", 16) == 16);
	close(fd);
	UNIT_CHECK(usdt_probes_read(text, &probes) == -ENOEXEC);
	usdt_probes_free(&probes);
	unlink(text);
	UNIT_CHECK(usdt_probes_read("/nonexistent/lbpf", &probes) == -ENOENT);
	UNIT_CHECK(usdt_probes_read("/proc/self/exe", &probes) == -ENODATA); /* no notes here */
	usdt_probes_free(&probes);
}

static void test_pid_maps(void)
{
	UNIT_CHECK(usdt_pid_maps(getpid(), "/proc/self/exe") == 0);
	UNIT_CHECK(usdt_pid_maps(getpid(), "/dev/null") == -ENOENT);
	UNIT_CHECK(usdt_pid_maps(INT_MAX, "/proc/self/exe") == -ESRCH);
	UNIT_CHECK(usdt_pid_maps(getpid(), "/nonexistent/lbpf") == -ENOENT);
}

int main(void)
{
	UNIT_RUN(test_arg_specs);
	UNIT_RUN(test_target_notes);
	UNIT_RUN(test_errors);
	UNIT_RUN(test_pid_maps);
	return unit_exit();
}
