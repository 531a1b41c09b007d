/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * A tiny test harness speaking the protocol of tests/run.sh on stdout:
 *   PASS <suite>/<test>
 *   FAIL <suite>/<test>: <why>
 *   SKIP <suite>/<test>: <reason>
 * Any other line (unit_note) is a comment. The program exits 1 if a test
 * failed. Each test runs under an alarm: a hang is reported as a failure.
 *
 * A test is a `static void fn(void)`. Two styles, which mix:
 *  - CHECK(cond[, fmt, ...]) records the first failure with an optional
 *    message and evaluates to cond, so a test goes on or bails out:
 *      if (!CHECK(rt != NULL, "runtime_new: %d", err)) return;
 *    unit_skip(fmt, ...) then return skips; UNIT_MAIN(suite, UNIT(fn), ...)
 *    defines main() and names the tests "<suite>/<fn>".
 *  - UNIT_CHECK(cond) and UNIT_CHECK_STR(got, want) return from the test on
 *    failure; UNIT_SKIP_IF(reason) returns when reason is not NULL;
 *    unit_fail(fmt, ...) fails and goes on. main() calls UNIT_RUN(test_x)
 *    for each test, named "<file>/<x>" (test_tracefs.c: "tracefs/x"), and
 *    returns unit_exit().
 */
#ifndef LBPF_UNIT_H
#define LBPF_UNIT_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CHECK(cond) passes "" as its message format */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

#ifndef UNIT_TIMEOUT_S
#define UNIT_TIMEOUT_S 30
#endif

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define UNIT(fn) { #fn, fn }

static const char *unit_suite = "unit";
static const char *unit_current;
static char unit_why[1024];
static bool unit_failed_now, unit_skipped_now;
static int unit_failures;

/* Records the first failure of the running test; returns ok. */
__attribute__((format(printf, 5, 6), unused))
static bool unit_check(bool ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ok || unit_failed_now)
		return ok;
	unit_failed_now = true;
	n = snprintf(unit_why, sizeof(unit_why), "%s:%d: %s", file, line, expr);
	if (fmt[0] && n > 0 && (size_t)n < sizeof(unit_why)) {
		n += snprintf(unit_why + n, sizeof(unit_why) - n, " (");
		va_start(ap, fmt);
		n += vsnprintf(unit_why + n, sizeof(unit_why) - n, fmt, ap);
		va_end(ap);
		if ((size_t)n < sizeof(unit_why))
			snprintf(unit_why + n, sizeof(unit_why) - n, ")");
	}
	/* one line: run.sh reads "FAIL name: why" up to the newline */
	for (char *p = unit_why; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return ok;
}

#define CHECK(cond, ...) unit_check(!!(cond), __FILE__, __LINE__, #cond, "" __VA_ARGS__)

/* Compares two strings (NULL-safe) and shows both when they differ. */
#define CHECK_STR(got, want)                                                   \
	({                                                                     \
		const char *unit_g_ = (got), *unit_w_ = (want);                \
		CHECK(unit_g_ && unit_w_ && !strcmp(unit_g_, unit_w_),         \
		      "got \"%s\", want \"%s\"", unit_g_ ? unit_g_ : "(null)", \
		      unit_w_ ? unit_w_ : "(null)");                           \
	})

#define CHECK_CONTAINS(got, want)                                              \
	({                                                                     \
		const char *unit_g_ = (got), *unit_w_ = (want);                \
		CHECK(unit_g_ && strstr(unit_g_, unit_w_),                     \
		      "\"%s\" lacks \"%s\"", unit_g_ ? unit_g_ : "(null)", unit_w_); \
	})

/* Fails the running test with a message, and lets it go on. */
__attribute__((format(printf, 1, 2), unused))
static void unit_fail(const char *fmt, ...)
{
	va_list ap;

	if (unit_failed_now)
		return;
	unit_failed_now = true;
	va_start(ap, fmt);
	vsnprintf(unit_why, sizeof(unit_why), fmt, ap);
	va_end(ap);
	for (char *p = unit_why; *p; p++)
		if (*p == '\n')
			*p = ' ';
}

/* Ends the running test as skipped (call it, then return). */
__attribute__((format(printf, 1, 2), unused))
static void unit_skip(const char *fmt, ...)
{
	va_list ap;

	unit_skipped_now = true;
	va_start(ap, fmt);
	vsnprintf(unit_why, sizeof(unit_why), fmt, ap);
	va_end(ap);
}

/* A comment line (measurements); run.sh shows it indented. */
__attribute__((format(printf, 1, 2), unused))
static void unit_note(const char *fmt, ...)
{
	va_list ap;

	printf("# %s/%s: ", unit_suite, unit_current);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void unit_timeout(int sig)
{
	/* async-signal-safe: write(2) only */
	static const char mid[] = ": hung for more than the harness timeout\n";

	(void)sig;
	if (write(1, "FAIL ", 5) < 0 || write(1, unit_suite, strlen(unit_suite)) < 0 ||
	    write(1, "/", 1) < 0 || write(1, unit_current, strlen(unit_current)) < 0 ||
	    write(1, mid, sizeof(mid) - 1) < 0) {
		/* nothing else to do */
	}
	_exit(1);
}

/* Runs one test and prints its result line. */
__attribute__((unused))
static void unit_run_one(const char *suite, const char *name, void (*fn)(void))
{
	static bool ready;

	if (!ready) {
		ready = true;
		setvbuf(stdout, NULL, _IOLBF, 0);
		signal(SIGALRM, unit_timeout);
		signal(SIGPIPE, SIG_IGN);
	}
	unit_suite = suite;
	unit_current = name;
	unit_failed_now = unit_skipped_now = false;
	unit_why[0] = '\0';
	alarm(UNIT_TIMEOUT_S);
	fn();
	alarm(0);
	if (unit_failed_now) {
		printf("FAIL %s/%s: %s\n", suite, name, unit_why);
		unit_failures++;
	} else if (unit_skipped_now) {
		printf("SKIP %s/%s: %s\n", suite, name, unit_why);
	} else {
		printf("PASS %s/%s\n", suite, name);
	}
}

/* Runs every test (or those whose name contains argv[1]); 0 if none failed. */
__attribute__((unused))
static int unit_run(const char *suite, const struct unit_test *tests, size_t n, int argc,
		    char **argv)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (argc < 2 || strstr(tests[i].name, argv[1]))
			unit_run_one(suite, tests[i].name, tests[i].fn);
	return unit_failures ? 1 : 0;
}

/* ---- the UNIT_RUN style ---- */

#define UNIT_CHECK(cond)                                                       \
	do {                                                                   \
		if (!CHECK(cond))                                              \
			return;                                                \
	} while (0)

#define UNIT_CHECK_STR(got, want)                                              \
	do {                                                                   \
		if (!CHECK_STR(got, want))                                     \
			return;                                                \
	} while (0)

#define UNIT_SKIP_IF(reason)                                                   \
	do {                                                                   \
		const char *unit_r_ = (reason);                                \
		if (unit_r_) {                                                 \
			unit_skip("%s", unit_r_);                              \
			return;                                                \
		}                                                              \
	} while (0)

/* "tests/unit/test_tracefs.c" -> "tracefs" (static storage) */
__attribute__((unused))
static const char *unit_suite_of(const char *file)
{
	static char suite[64];
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t n;

	if (!strncmp(base, "test_", 5))
		base += 5;
	n = strcspn(base, ".");
	snprintf(suite, sizeof(suite), "%.*s", (int)n, base);
	return suite;
}

#define UNIT_RUN(fn)                                                           \
	unit_run_one(unit_suite_of(__FILE__),                                  \
		     strncmp(#fn, "test_", 5) ? #fn : #fn + 5, fn)

__attribute__((unused))
static int unit_exit(void)
{
	return unit_failures ? 1 : 0;
}

#define UNIT_MAIN(suite, ...)                                                  \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		static const struct unit_test unit_tests_[] = { __VA_ARGS__ }; \
		return unit_run(suite, unit_tests_,                            \
				sizeof(unit_tests_) / sizeof(unit_tests_[0]), argc, argv); \
	}

#endif /* LBPF_UNIT_H */
