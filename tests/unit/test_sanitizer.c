// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Proves that `make check` really counts leaks: in the ASan build, a child
 * process leaks on purpose and LeakSanitizer must find it. LSan stops the
 * world with ptrace, so under a debugger, strace or a seccomp policy that
 * forbids ptrace it cannot run; then this says so with a SKIP instead of
 * letting the check pass as if leaks had been looked for. In a normal build
 * there is nothing to probe.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "unit.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>

static void *volatile sink;

/* Allocates and forgets: nothing points to the block afterwards. */
__attribute__((noinline)) static void leak_one(void)
{
	sink = malloc(4096);
	memset(sink, 1, 4096);
	sink = NULL;
}

/* Overwrites the stack below us, where a stale copy of the pointer could hide. */
__attribute__((noinline)) static void scrub_stack(void)
{
	volatile char junk[16384];

	memset((char *)junk, 0, sizeof(junk));
}

/* LeakSanitizer finds a deliberate leak in a child process. */
static void leak_detection_works(void)
{
	const char *opts = getenv("ASAN_OPTIONS");
	int status, devnull;
	pid_t pid;

	if (opts && strstr(opts, "detect_leaks=0")) {
		unit_skip("ASAN_OPTIONS has detect_leaks=0: leaks are NOT checked");
		return;
	}
	pid = fork();
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 2); /* the child's leak report is expected */
		leak_one();
		scrub_stack();
		_exit(__lsan_do_recoverable_leak_check() ? 42 : 0);
	}
	if (!CHECK(pid > 0 && waitpid(pid, &status, 0) == pid))
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 42)
		return; /* found it */
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		CHECK(false, "LeakSanitizer ran but missed a deliberate leak");
		return;
	}
	unit_skip("LeakSanitizer cannot run here (a child probing it ended with status %#x; it needs "
		  "ptrace): leaks are NOT checked", status);
}

UNIT_MAIN("sanitizer", UNIT(leak_detection_works))
#else
int main(void)
{
	printf("# not a sanitizer build: LeakSanitizer is probed by `make check`\n");
	return 0;
}
#endif
