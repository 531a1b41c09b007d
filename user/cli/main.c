// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* The lbpf command line. Each command is a row of `commands`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lbpf/daemon.h>

#include "core/internal.h"
#include "protocol/output_json.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

static const struct command commands[];

int lbpf_cmd_features(int argc, char **argv); /* user/features.c */

int lbpf_cmd_test(int argc, char **argv); /* user/pcaptest.c */

/* user/client.c: commands that talk to lbpfd */
int lbpf_cmd_load(int argc, char **argv);
int lbpf_cmd_unload(int argc, char **argv);
int lbpf_cmd_reload(int argc, char **argv);
int lbpf_cmd_list(int argc, char **argv);
int lbpf_cmd_logs(int argc, char **argv);
int lbpf_cmd_status(int argc, char **argv);

struct run_options {
	bool strict;
	const char *inline_code;
	const char *ringbuf;
	bool json;                 /* --format json */
};

/* Prints the failure of a runtime's body the way lua.c does (an error
 * record: with --format json, a JSON line). */
static int report_failure(lbpf_runtime_t *rt, int err)
{
	const char *msg = lbpf_runtime_error(rt);

	lbpf_output_error(rt, NULL, msg ? msg : strerror(-err));
	return 1;
}

/* --format json: each record as one line of JSON on stdout. Child runtimes
 * share the sink from their own threads, hence a writer per record and one
 * fwrite per line. */
static void json_sink(void *ctx, const struct lbpf_output *rec)
{
	struct json_writer w = { 0 };

	if (json_output_line(&w, rec)) {
		fwrite(w.data, 1, w.len, stdout);
		fflush(stdout);
	}
	json_writer_free(&w);
}

/* Everything that touches BPF needs the capabilities and the file systems. */
static int prepare_system(void)
{
	const char *missing = lbpf_missing_capability();

	if (missing) {
		fprintf(stderr, "lbpf: missing capability %s (run as root, or grant CAP_BPF, "
				"CAP_PERFMON and CAP_NET_ADMIN)\n", missing);
		return -EPERM;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	return 0;
}

static int set_ringbuf(lbpf_runtime_t *rt, const char *text)
{
	size_t bytes;
	int err = lbpf_parse_size(text, &bytes);

	if (!err)
		err = lbpf_ringbuf_set_size(rt, bytes);
	if (err)
		fprintf(stderr, "lbpf: --ringbuf %s: expected a power of two between 4K and 2G, e.g. 16M\n",
			text);
	return err;
}

/* Loads, starts and loops one foreground runtime. */
/* argv[0]: a script's arg[-1], so it can run lbpf again as under lua5.4 */
static const char *progname;

static int run_script(const char *script, const struct run_options *ro, int argc, char **argv)
{
	lbpf_runtime_opts_t opts = {
		.strict = ro->strict, .signals = true, .argc = argc, .argv = argv,
		.progname = progname, .output = ro->json ? json_sink : NULL,
	};
	lbpf_runtime_t *rt = NULL;
	int err, code;

	if (prepare_system() < 0)
		return 1;
	err = lbpf_runtime_new(&rt, script, &opts);
	if (!err && ro->ringbuf && set_ringbuf(rt, ro->ringbuf))
		return lbpf_runtime_free(rt), 1;
	if (!err && ro->inline_code)
		err = lbpf_runtime_loadstring(rt, ro->inline_code, "=(command line)");
	if (!err)
		err = lbpf_runtime_start(rt);
	if (err) {
		code = report_failure(rt, err);
		lbpf_runtime_free(rt);
		return code;
	}
	lbpf_runtime_loop(rt);
	return lbpf_runtime_free(rt);
}

/* Parses run's options; returns the index of the first operand or -1. */
static int parse_run_options(int argc, char **argv, struct run_options *ro)
{
	static const struct option longopts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "ringbuf", required_argument, NULL, 'r' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+e:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': ro->strict = true; break;
		case 'e': ro->inline_code = optarg; break;
		case 'r': ro->ringbuf = optarg; break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "lbpf: --format %s: expected text or json\n", optarg);
				return -1;
			}
			ro->json = !strcmp(optarg, "json");
			break;
		case 'h': return -2;
		default: return -1;
		}
	}
	return optind;
}

static int cmd_run(int argc, char **argv)
{
	struct run_options ro = { 0 };
	int first = parse_run_options(argc, argv, &ro);

	if (first == -2 || (first > 0 && first >= argc && !ro.inline_code)) {
		fprintf(first == -2 ? stdout : stderr, "usage: %s\n", commands[0].usage);
		return first == -2 ? 0 : 2;
	}
	if (first < 0)
		return 2;
	if (ro.inline_code)
		return run_script(NULL, &ro, argc - first, argv + first);
	return run_script(argv[first], &ro, argc - first - 1, argv + first + 1);
}

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
	printf("lbpf %s (%s)\n", LBPF_VERSION, LUA_RELEASE);
	return 0;
}

static const struct command commands[] = {
	{ "run", cmd_run, "lbpf run [--strict] [--ringbuf SIZE] [--format text|json] SCRIPT.lua [ARGS...] | lbpf run -e CODE [ARGS...]",
	  "Runs a Lua script in the foreground: its body once, then the event loop until\n"
	  "lbpf.exit(), Ctrl-C/SIGTERM, or nothing is left to wait for. On exit the on_exit\n"
	  "handlers run and every probe, link and map is released.\n"
	  "  --strict          an error in a callback stops the script (exit 1)\n"
	  "  --ringbuf SIZE    size of the event ring buffer (default 4M), as lbpf.config{ringbuf=}\n"
	  "  --format json     write print(), printed aggregations, lost events and errors as\n"
	  "                    JSON lines in the shapes of bpftrace -f json (default: text)\n"
	  "  -e CODE           run CODE instead of a file (also: lbpf -e CODE)\n"
	  "lbpf SCRIPT.lua (a name ending in .lua, or with a /) is lbpf run SCRIPT.lua." },
	{ "test", lbpf_cmd_test, "lbpf test [--json] [--ct STATE] POLICY.lua CAPTURE.pcap",
	  "Loads a filter policy without attaching it and prints the verdict and rule of each\n"
	  "packet of a capture by each of its filters, with the program of the filter's hook\n"
	  "(through BPF_PROG_TEST_RUN), then a summary. Exits 3 when a packet was skipped or\n"
	  "could not be run or the capture is truncated, 1 when nothing could be judged.\n"
	  "  --json            one JSON object per packet and filter, then a summary object\n"
	  "  --ct STATE        the packets' connection-tracking state for ct rules (a capture\n"
	  "                    has none): new (the default), established, related, invalid,\n"
	  "                    untracked" },
	{ "load", lbpf_cmd_load,
	  "lbpf load FILE [--name NAME] [--memory SIZE] [--trusted] [-- ARGS...]",
	  "Reads FILE and hands its source to lbpfd, which runs it sandboxed in its own runtime\n"
	  "(no io, process, native-code or debug access; see lbpfd(8), SECURITY). Replies once\n"
	  "the body ran; on an error prints it (file:line) and exits 1, leaving nothing attached.\n"
	  "  --memory SIZE     memory limit of the policy's Lua state (lbpfd's default: 64M)\n"
	  "  --trusted         the whole standard library, as under lbpf run (root only)\n"
	  "All daemon commands take --socket PATH (or LBPF_SOCKET; default " LBPF_DAEMON_SOCKET ")." },
	{ "unload", lbpf_cmd_unload, "lbpf unload NAME",
	  "Stops a policy (its on_exit handlers run, everything it attached is released)." },
	{ "reload", lbpf_cmd_reload, "lbpf reload NAME [FILE]",
	  "Reads the policy's file again (or FILE), starts it in a new runtime (trusted or\n"
	  "sandboxed as before), and stops the old one only once the new body ran. On failure\n"
	  "the old one keeps running." },
	{ "list", lbpf_cmd_list, "lbpf list [--json] [--offline]",
	  "Shows the loaded policies: state, uptime, events, errors, lost events, memory.\n"
	  "  --offline         read the pinned runtimes map (LBPF_BPFFS, default " LBPF_DAEMON_BPFFS ")\n"
	  "                    instead of asking lbpfd: works while it is down" },
	{ "logs", lbpf_cmd_logs, "lbpf logs [--format text|json] NAME [-f]",
	  "Shows the last lines a policy printed, and its errors; -f follows.\n"
	  "  --format json     one JSON line per record, as lbpf run --format json writes\n"
	  "                    them, with \"policy\" (its name) and \"time\" (Unix seconds)" },
	{ "status", lbpf_cmd_status, "lbpf status [--json]",
	  "Shows lbpfd's version, uptime and the kernel's features." },
	{ "features", lbpf_cmd_features, "lbpf features",
	  "Probes what this kernel supports: program and map types, helpers and attach points\n"
	  "(tracepoints, kprobes, uprobes, netfilter links). It loads tiny programs; it does not\n"
	  "guess from the version." },
	{ "help", cmd_help, "lbpf help [COMMAND]", "Shows the commands, or one command's help." },
	{ "version", cmd_version, "lbpf --version", "Prints the version." },
	{ NULL, NULL, NULL, NULL },
};

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc > 1) {
		for (c = commands; c->name; c++) {
			if (!strcmp(c->name, argv[1])) {
				printf("usage: %s\n\n%s\n", c->usage, c->help);
				return 0;
			}
		}
		fprintf(stderr, "lbpf: no command '%s' (see lbpf help)\n", argv[1]);
		return 2;
	}
	printf("lbpf %s: eBPF probes and filters driven by Lua scripts\n\ncommands:\n", LBPF_VERSION);
	for (c = commands; c->name; c++)
		printf("  %s\n", c->usage);
	printf("\nlbpf help COMMAND shows more. Scripts use the Lua API described in lbpf(1).\n");
	return 0;
}

/* A first argument that names a script rather than a command: a path with
 * a slash, or a name ending in .lua. */
static bool is_script_path(const char *arg)
{
	size_t n = strlen(arg);

	return strchr(arg, '/') || (n > 4 && !strcmp(arg + n - 4, ".lua"));
}

int main(int argc, char **argv)
{
	const struct command *c;

	progname = argv[0];
	if (argc < 2)
		return cmd_help(1, argv), 2;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v"))
		return cmd_version(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "-e") || !strcmp(argv[1], "--strict") ||
	    !strncmp(argv[1], "--format", 8))
		return cmd_run(argc, argv); /* lbpf -e CODE: run's options directly */
	for (c = commands; c->name; c++)
		if (!strcmp(c->name, argv[1]))
			return c->fn(argc - 1, argv + 1);
	if (is_script_path(argv[1]))
		return cmd_run(argc, argv); /* lbpf FILE.lua, as lua5.4 FILE */
	fprintf(stderr, "lbpf: unknown command '%s' (see lbpf help)\n", argv[1]);
	return 2;
}
