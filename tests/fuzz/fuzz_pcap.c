// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * `lbpf test`'s capture reader (user/cli/pcaptest.c) under ASan and UBSan:
 * the input is a whole capture file, read by libpcap and judged record by
 * record by lbpf's own code around it (link types to Ethernet frames, the
 * packet descriptions, the tallies) against a loaded filter. The reader's
 * functions are static, so this file includes pcaptest.c and calls its
 * judge_capture() on the input, written to a memfd; its per-packet lines go
 * to /dev/null. Checked: no memory error, no undefined behaviour, and the
 * tallies add up (every record read is passed, dropped or skipped).
 * It builds against both shapes of pcaptest.c: the one judging with the
 * policy's last filter, and the one judging with each filter at its hook
 * (which defines EXIT_INCOMPLETE); the first goes once both are merged.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/pcaptest.c"
#include "fuzz.h"

static struct pcaptest test;
static int memfd = -1;
static char path[64];

/* The filter that judges the captures: drop TCP port 22, pass ICMP. */
static struct filter_engine *judge_engine(void)
{
	struct filter_engine *e = fuzz_engine(64);
	struct filter_spec *s;

	s = fuzz_spec(FILTER_DROP);
	s->proto = 6;
	fuzz_add_range(&s->dport, &s->ndport, 22, 22);
	fuzz_insert(e, s);
	s = fuzz_spec(FILTER_PASS);
	s->comment = strdup("icmp");
	s->proto = 1;
	fuzz_insert(e, s);
	if (filter_commit(e))
		fuzz_fail("commit: %s", e->error);
	return e;
}

#ifdef EXIT_INCOMPLETE
/* pcaptest.c judging every filter of a policy at its own hook: one filter
 * here, at XDP. Every record is judged by it, skipped, or failed. */
static struct tested filter;

static void set_up(void)
{
	filter.e = judge_engine();
	snprintf(filter.name, sizeof(filter.name), "xdp");
	filter.at = (struct filter_place){ .hook = FILTER_HOOK_XDP, .where = filter.name };
	filter.by_rule = calloc(filter.e->max_rules, sizeof(*filter.by_rule));
	test.filters = &filter;
	test.nfilters = 1;
	test.width = strlen(filter.name);
	if (!filter.by_rule)
		fuzz_fail("out of memory");
}

static void judge_input(void)
{
	test.packets = test.skipped = test.failed = 0;
	test.truncated = false;
	filter.passed = filter.dropped = filter.defaulted = filter.unparsed = filter.unseen = 0;
	judge_capture(&test, path);
	if (filter.passed + filter.dropped + test.skipped + test.failed != test.packets)
		fuzz_fail("%llu records, but %llu passed, %llu dropped, %llu skipped, %llu failed",
			  (unsigned long long)test.packets, (unsigned long long)filter.passed,
			  (unsigned long long)filter.dropped, (unsigned long long)test.skipped,
			  (unsigned long long)test.failed);
}
#else
/* pcaptest.c judging with the last filter a policy created, at XDP. */
static void set_up(void)
{
	test.e = judge_engine();
	test.by_rule = calloc(test.e->max_rules, sizeof(*test.by_rule));
	if (!test.by_rule)
		fuzz_fail("out of memory");
}

static void judge_input(void)
{
	test.packets = test.passed = test.dropped = test.defaulted = test.unparsed = 0;
	judge_capture(&test, path);
	if (test.passed + test.dropped > test.packets ||
	    test.defaulted + test.unparsed > test.packets)
		fuzz_fail("%llu records, but %llu passed, %llu dropped, %llu by the default, "
			  "%llu unparsed", (unsigned long long)test.packets,
			  (unsigned long long)test.passed, (unsigned long long)test.dropped,
			  (unsigned long long)test.defaulted, (unsigned long long)test.unparsed);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int null = open("/dev/null", O_WRONLY);

	if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
		fuzz_fail("redirect stdout to /dev/null");
	close(null);
	set_up();
	memfd = memfd_create("capture", 0);
	if (memfd < 0)
		fuzz_fail("memfd_create: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		fuzz_fail("write the capture: %s", strerror(errno));
	judge_input();
	return 0;
}
