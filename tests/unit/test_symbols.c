// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Proves that kernel addresses symbolize through /proc/kallsyms, that user addresses of this very
 * process symbolize through its maps and ELF files (PIE and libc), and that function globs over an
 * ELF file find names with offsets a uprobe can use. Kernel addresses need root. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "../../user/trace/symbols.h"

int main(void);

/* A function of this binary whose address the tests symbolize. */
__attribute__((noinline)) int symbols_test_target(int x)
{
	return x * 3 + 1;
}

/* The address of the kernel text symbol name, read from /proc/kallsyms; 0 if unknown. */
static uint64_t kallsyms_address(const char *name)
{
	char line[256], sym[128], type;
	uint64_t addr, found = 0;
	FILE *f = fopen("/proc/kallsyms", "re");

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 " %c %127s", &addr, &type, sym) == 3 &&
		    (type == 'T' || type == 't') && !strcmp(sym, name))
			found = addr;
	if (f)
		fclose(f);
	return found;
}

static void test_ksyms(void)
{
	uint64_t addr = kallsyms_address("schedule");
	struct ksyms *ksyms;
	char buf[128];

	UNIT_SKIP_IF(!addr ? "kallsyms hides addresses (needs root, kptr_restrict)" : NULL);
	ksyms = ksyms_load();
	UNIT_CHECK(ksyms != NULL);
	UNIT_CHECK_STR(ksyms_format(ksyms, addr, buf, sizeof(buf)), "schedule+0x0");
	UNIT_CHECK_STR(ksyms_format(ksyms, addr + 0x10, buf, sizeof(buf)), "schedule+0x10");
	UNIT_CHECK(ksyms_format(ksyms, 0x1000, buf, sizeof(buf)) == NULL);
	ksyms_free(ksyms);
	ksyms_free(NULL);
}

/* The basename of this test binary. */
static const char *self_name(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	path[n > 0 ? n : 0] = '\0';
	return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}

static void test_usyms_self(void)
{
	struct usyms *usyms = usyms_new();
	uint64_t target = (uintptr_t)symbols_test_target, libc_fn = (uintptr_t)getppid;
	char buf[256], want[4400];

	UNIT_CHECK(usyms != NULL);
	snprintf(want, sizeof(want), "symbols_test_target+0x4 (%s)", self_name());
	UNIT_CHECK_STR(usyms_format(usyms, getpid(), target + 4, buf, sizeof(buf)), want);
	snprintf(want, sizeof(want), "symbols_test_target+0x0 (%s)", self_name());
	UNIT_CHECK_STR(usyms_format(usyms, getpid(), target, buf, sizeof(buf)), want);
	UNIT_CHECK_STR(usyms_format(usyms, getpid(), libc_fn, buf, sizeof(buf)),
		       "getppid+0x0 (libc.so.6)");
	UNIT_CHECK(usyms_format(usyms, getpid(), 0x1000, buf, sizeof(buf)) == NULL);
	usyms_free(usyms);
	usyms_free(NULL);
}

static void test_usyms_gone(void)
{
	struct usyms *usyms = usyms_new();
	char buf[64];
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	UNIT_CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
	UNIT_CHECK(usyms_format(usyms, pid, (uintptr_t)symbols_test_target, buf, sizeof(buf)) ==
		   NULL);
	UNIT_CHECK(errno == ENOENT || errno == ESRCH);
	usyms_free(usyms);
}

struct found {
	const char *want;
	uint64_t offset;
	int n;
};

static int note(const char *name, uint64_t offset, void *ctx)
{
	struct found *found = ctx;

	found->n++;
	if (!strcmp(name, found->want))
		found->offset = offset;
	return 0;
}

/* The file offset of this process's code at addr, from /proc/self/maps: what a uprobe uses. */
static uint64_t self_file_offset(uint64_t addr)
{
	uint64_t start, end, offset, result = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && !result && fgets(line, sizeof(line), f))
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &start, &end, &offset) == 3 &&
		    addr >= start && addr < end)
			result = addr - start + offset;
	if (f)
		fclose(f);
	return result;
}

static void test_elf_glob_self(void)
{
	struct found found = { .want = "main" };
	uint64_t want = self_file_offset((uintptr_t)main);

	UNIT_CHECK(elf_glob_functions("/proc/self/exe", "main", note, &found) == 1);
	UNIT_CHECK(found.n == 1 && found.offset == want);
	found = (struct found){ .want = "symbols_test_target" };
	UNIT_CHECK(elf_glob_functions("/proc/self/exe", "symbols_test_*", note, &found) == 1);
	UNIT_CHECK(found.offset == self_file_offset((uintptr_t)symbols_test_target));
}

static int stop(const char *name, uint64_t offset, void *ctx)
{
	return 5;
}

static void test_elf_glob_libc(void)
{
	struct found found = { .want = "getppid" };

	UNIT_CHECK(elf_glob_functions("libc.so.6", "getpp*", note, &found) >= 1);
	UNIT_CHECK(found.offset != 0);
	UNIT_CHECK(elf_glob_functions("libc.so.6", "no_such_function*", note, &found) == 0);
	UNIT_CHECK(elf_glob_functions("libc.so.6", "*", stop, NULL) == 5);
}

static void test_elf_errors(void)
{
	char path[] = "/tmp/lbpf-test-symbols-XXXXXX";
	int fd = mkstemp(path);

	UNIT_CHECK(fd >= 0 && write(fd, "not an ELF file\n", 16) == 16);
	UNIT_CHECK(elf_glob_functions(path, "*", stop, NULL) == -ENOEXEC);
	close(fd);
	unlink(path);
	UNIT_CHECK(elf_glob_functions("/nonexistent/binary", "*", stop, NULL) == -ENOENT);
	UNIT_CHECK(elf_glob_functions("no-such-binary-anywhere", "*", stop, NULL) == -ENOENT);
}

static void test_resolve_path(void)
{
	char out[PATH_MAX];

	UNIT_CHECK(elf_resolve_path("libc.so.6", out, sizeof(out)) == 0);
	UNIT_CHECK(strstr(out, "/libc.so.6") && out[0] == '/');
	UNIT_CHECK(elf_resolve_path("sh", out, sizeof(out)) == 0);
	UNIT_CHECK(out[0] == '/' && !strcmp(strrchr(out, '/'), "/sh"));
	UNIT_CHECK(elf_resolve_path("/proc/self/exe", out, sizeof(out)) == 0);
	UNIT_CHECK(!strcmp(out, "/proc/self/exe"));
	UNIT_CHECK(elf_resolve_path("/nonexistent/x", out, sizeof(out)) == -ENOENT);
	UNIT_CHECK(elf_resolve_path("/proc/self/exe", out, 4) == -ENAMETOOLONG);
}

int main(void)
{
	UNIT_RUN(test_ksyms);
	UNIT_RUN(test_usyms_self);
	UNIT_RUN(test_usyms_gone);
	UNIT_RUN(test_elf_glob_self);
	UNIT_RUN(test_elf_glob_libc);
	UNIT_RUN(test_elf_errors);
	UNIT_RUN(test_resolve_path);
	return unit_exit();
}
