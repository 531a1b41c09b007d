// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * lbpfd: hosts one Lua runtime per loaded policy, on a pool of worker
 * threads, and answers the control socket (JSON lines, see
 * include/lbpf/daemon.h). This file reads the command line and starts the
 * parts, lowest first (lbpfd.h lists them), then runs the main loop.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"
#include "pins.h"
#include "policies.h"
#include "requests.h"
#include "server.h"
#include "policydir.h"
#include "state.h"

static struct daemon_options opts;

static const char usage[] =
	"usage: lbpfd [--socket PATH] [--state-dir DIR] [--bpffs DIR] [--metrics ADDR]\n"
	"             [--group GROUP] [--workers N] [--worker-nice N] [--instructions N]\n"
	"             [--max-errors N] [--memory SIZE] [--max-clients N] [--max-output SIZE]\n"
	"             [--timeout S] [--policy-dir DIR] [--fail-open] [--foreground]\n"
	"  --socket PATH       control socket (" LBPF_DAEMON_SOCKET ")\n"
	"  --state-dir DIR     loaded policies, restored at start (" LBPF_DAEMON_STATE_DIR ")\n"
	"  --bpffs DIR         where the runtimes and objects maps and the policies' packet\n"
	"                      filters are pinned (" LBPF_DAEMON_BPFFS ")\n"
	"  --metrics ADDR      serve Prometheus metrics, e.g. 127.0.0.1:9464\n"
	"  --group GROUP       members of GROUP may use the socket too (mode 0660)\n"
	"  --workers N         threads running the policies (2)\n"
	"  --worker-nice N     their nice value, -20 to 19 (-5: above other processes, so\n"
	"                      that a busy machine does not starve the policies)\n"
	"  --instructions N    Lua instructions a callback may run at once (100000000)\n"
	"  --max-errors N      callback errors in a row that fail a policy (10)\n"
	"  --memory SIZE       default memory limit of a policy (64M)\n"
	"  --policy-dir DIR    every DIR/NAME.lua is a policy NAME, loaded, reloaded and\n"
	"                      unloaded as the file appears, changes and goes\n"
	"  --max-clients N     connections at once, control and metrics; one more is\n"
	"                      told why and closed (64)\n"
	"  --max-output SIZE   unread replies a connection may pile up before it is\n"
	"                      closed (1M)\n"
	"  --timeout S         seconds a connection may take to send a whole request\n"
	"                      line, from the end of its previous one (10)\n"
	"  --fail-open         packet filters end with lbpfd (stop, crash) instead of enforcing\n"
	"                      until it is back\n"
	"  --foreground        accepted for compatibility: lbpfd never forks; it logs to stderr\n";

/* A number from min to max into *out; -EINVAL (told) otherwise. */
static int parse_number(const char *opt, const char *text, uint64_t min, uint64_t max,
			uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || end == text || v < min || v > max) {
		fprintf(stderr, "lbpfd: %s %s: expected a number from %llu to %llu\n", opt, text,
			(unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* --worker-nice: -20 to 19 into *out; -EINVAL (told) otherwise. */
static int parse_nice(const char *text, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || end == text || v < -20 || v > 19) {
		fprintf(stderr, "lbpfd: --worker-nice: expected a nice value from -20 to 19, got "
			"'%s'\n", text);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* Parses one option; 0, 1 to exit 0 (help), or -EINVAL. */
static int parse_option(int c, const char *arg, struct daemon_options *o)
{
	uint64_t n;

	switch (c) {
	case 's': o->socket_path = arg; return 0;
	case 'd': o->state_dir = arg; return 0;
	case 'b': o->bpffs = arg; return 0;
	case 'm': o->metrics = arg; return 0;
	case 'g': o->group = arg; return 0;
	case 'P': o->policy_dir = arg; return 0;
	case 'f': return 0;
	case 'F': o->fail_open = true; return 0;
	case 'h': fputs(usage, stdout); return 1;
	case 'w':
		if (parse_number("--workers", arg, 1, 64, &n))
			return -EINVAL;
		o->workers = n;
		return 0;
	case 'n':
		if (parse_nice(arg, &o->worker_nice))
			return -EINVAL;
		return 0;
	case 'i':
		return parse_number("--instructions", arg, 1000, 1ull << 40,
				    &o->instruction_limit);
	case 'e':
		if (parse_number("--max-errors", arg, 0, 1000000, &n))
			return -EINVAL;
		o->max_errors = n;
		return 0;
	case 'c':
		if (parse_number("--max-clients", arg, 1, 100000, &n))
			return -EINVAL;
		o->max_clients = n;
		return 0;
	case 't':
		if (parse_number("--timeout", arg, 1, 3600, &n))
			return -EINVAL;
		o->timeout_s = n;
		return 0;
	case 'o':
		if (lbpf_parse_size(arg, &o->max_output) || o->max_output < (64u << 10)) {
			fprintf(stderr, "lbpfd: --max-output %s: expected a size of at least 64K\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 'M':
		if (lbpf_parse_size(arg, &o->default_memory) || o->default_memory < (256u << 10)) {
			fprintf(stderr, "lbpfd: --memory %s: expected a size of at least 256K\n",
				arg);
			return -EINVAL;
		}
		return 0;
	default:
		fputs(usage, stderr);
		return -EINVAL;
	}
}

/* The command line into o; 0, 1 to exit 0 (help), or -EINVAL (told). */
static int parse_options(int argc, char **argv, struct daemon_options *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "group", required_argument, NULL, 'g' },
		{ "workers", required_argument, NULL, 'w' },
		{ "worker-nice", required_argument, NULL, 'n' },
		{ "instructions", required_argument, NULL, 'i' },
		{ "max-errors", required_argument, NULL, 'e' },
		{ "memory", required_argument, NULL, 'M' },
		{ "policy-dir", required_argument, NULL, 'P' },
		{ "max-clients", required_argument, NULL, 'c' },
		{ "max-output", required_argument, NULL, 'o' },
		{ "timeout", required_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "fail-open", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, err;

	*o = (struct daemon_options){
		.socket_path = LBPF_DAEMON_SOCKET, .state_dir = LBPF_DAEMON_STATE_DIR,
		.bpffs = LBPF_DAEMON_BPFFS, .workers = 2, .worker_nice = -5, .instruction_limit = 100000000ull,
		.max_errors = 10, .default_memory = 64u << 20,
		.max_clients = LBPF_DAEMON_MAX_CLIENTS, .max_output = LBPF_DAEMON_MAX_OUTPUT,
		.timeout_s = LBPF_DAEMON_IDLE_S,
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		if ((err = parse_option(c, optarg, o)))
			return err;
	if (optind < argc) {
		fprintf(stderr, "lbpfd: unexpected argument '%s'\n%s", argv[optind], usage);
		return -EINVAL;
	}
	return 0;
}

/* Everything before the loop. 0 or -errno (logged). */
static int setup(void)
{
	const char *missing = lbpf_missing_capability();
	int err;

	if (missing) {
		fprintf(stderr, "lbpfd: missing capability %s (run as root)\n", missing);
		return -EPERM;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	requests_init(&opts);
	load_limits(opts.instruction_limit, opts.max_errors);
	if ((err = server_open(&opts)))
		return err;
	if ((err = state_init(opts.state_dir)) || (err = pin_init(opts.bpffs, runner_note_object)))
		return err;
	if ((err = server_listen()))
		return err;
	features_probe();
	return workers_start(opts.workers, opts.worker_nice);
}

int main(int argc, char **argv)
{
	int err = parse_options(argc, argv, &opts), code = 0;

	if (err)
		return err > 0 ? 0 : 2;
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* a connection's buffers (up to a line or --max-output) are mapped and
	 * unmapped whole, so a flood's memory goes back to the system after it:
	 * glibc would otherwise raise this threshold as they are freed, then
	 * serve them from a heap that does not shrink */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	if ((err = setup()) < 0) {
		fprintf(stderr, "lbpfd: cannot start: %s\n", strerror(-err));
		return 1;
	}
	fprintf(stderr, "lbpfd %s: listening on %s (state %s, maps in %s, %d workers)\n",
		LBPF_VERSION, opts.socket_path, opts.state_dir, opts.bpffs, opts.workers);
	filters_startup(opts.fail_open);
	policies_restore();
	if (opts.policy_dir &&
	    policydir_open(opts.policy_dir, opts.default_memory, server_epfd()) < 0) {
		fprintf(stderr, "lbpfd: stopping: the policy folder cannot be used\n");
		code = 1;
		policies_stop();
	}
	server_run();
	workers_stop();
	if (opts.fail_open)
		filters_remove(NULL);
	pin_close();
	server_close();
	fprintf(stderr, "lbpfd: stopped\n");
	return code;
}
