// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * exec_timer: start-up time of a command, from just before fork+exec to its
 * first line of output. Used by scripts/bench/foundation.sh.
 *
 *   exec_timer [-a] [-n RUNS] [-t SECONDS] -- COMMAND [ARGS...]
 *
 * By default the command prints CLOCK_MONOTONIC nanoseconds as the first line
 * that is a plain integer (lbpf: io.write(lbpf.now()); bpftrace: nsecs), and
 * the start-up is that value minus the time taken before fork. With -a, the
 * start-up is the time at which the first line of any kind arrives (for
 * programs without a monotonic clock, e.g. lua5.4). Other lines are ignored.
 *
 * Runs the command RUNS times (default 20), each bounded by -t seconds
 * (default 10; the child is killed then). Prints one line:
 *   median_ns min_ns max_ns runs
 * Exits 1 if a run produced no usable line.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* True when line (without its newline) is a plain decimal integer. */
static int parse_ns(const char *line, uint64_t *out)
{
	char *end;

	if (line[0] < '0' || line[0] > '9')
		return 0;
	errno = 0;
	*out = strtoull(line, &end, 10);
	return errno == 0 && (*end == '\0' || *end == '\n');
}

/* One run: the start-up in ns, or 0 when there was no usable line in time. */
static uint64_t run_once(char **argv, int arrival, int timeout_s)
{
	uint64_t start, result = 0, stamp, deadline;
	char buf[4096], *nl;
	size_t len = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0)
		return 0;
	start = now_ns();
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	deadline = start + (uint64_t)timeout_s * 1000000000ull;
	while (!result) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			break;
		stamp = now_ns();
		n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		buf[len] = '\0';
		while (!result && (nl = strchr(buf, '\n'))) {
			uint64_t ns;

			*nl = '\0';
			if (arrival)
				result = stamp - start;
			else if (parse_ns(buf, &ns) && ns > start)
				result = ns - start;
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			len = 0; /* a line too long to be a timestamp */
	}
	/* a number printed without a newline (io.write) counts at EOF */
	if (!result && !arrival && len && parse_ns(buf, &stamp) && stamp > start)
		result = stamp - start;
	close(fds[0]);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return result;
}

int main(int argc, char **argv)
{
	int arrival = 0, runs = 20, timeout_s = 10, c, i;
	uint64_t *samples;

	while ((c = getopt(argc, argv, "+an:t:")) != -1) {
		switch (c) {
		case 'a': arrival = 1; break;
		case 'n': runs = atoi(optarg); break;
		case 't': timeout_s = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind >= argc || runs < 1 || timeout_s < 1)
		goto usage;
	samples = calloc(runs, sizeof(*samples));
	if (!samples)
		return 1;
	for (i = 0; i < runs; i++) {
		samples[i] = run_once(argv + optind, arrival, timeout_s);
		if (!samples[i]) {
			fprintf(stderr, "exec_timer: %s: no %s on stdout within %d s\n", argv[optind],
				arrival ? "line" : "timestamp line", timeout_s);
			return 1;
		}
	}
	qsort(samples, runs, sizeof(*samples), cmp_u64);
	printf("%llu %llu %llu %d\n", (unsigned long long)samples[runs / 2],
	       (unsigned long long)samples[0], (unsigned long long)samples[runs - 1], runs);
	return 0;
usage:
	fprintf(stderr, "usage: exec_timer [-a] [-n RUNS] [-t SECONDS] -- COMMAND [ARGS...]\n");
	return 2;
}
