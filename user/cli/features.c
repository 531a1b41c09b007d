// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * `lbpf features`: what this kernel supports, found by probing (libbpf's
 * feature probes load tiny programs and create tiny maps), never by version
 * guesses. Attach points are checked where they live: the kprobe and uprobe
 * PMUs in sysfs, tracefs, and netfilter links by creating one.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/internal.h"
#include "trace/btf_path.h"

#define NETFILTER_PROG 32
#define NETFILTER_ATTACH 45

struct feature {
	const char *name;
	int id;
	const char *what;
};

static void row(const char *group, const char *name, int ok, const char *why)
{
	printf("  %-11s %-28s %s%s%s\n", group, name, ok > 0 ? "yes" : "no",
	       ok > 0 || !why ? "" : "  ", ok > 0 || !why ? "" : why);
}

/* libbpf 1.1 predates netfilter programs: load "return NF_ACCEPT" ourselves. */
static int probe_netfilter(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = NETFILTER_ATTACH);
	int fd = bpf_prog_load(NETFILTER_PROG, "lbpf_probe_nf", "Dual BSD/GPL", insns, 2, &opts);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int probe_type(int type)
{
	return type == NETFILTER_PROG ? probe_netfilter() : libbpf_probe_bpf_prog_type(type, NULL);
}

static void probe_prog_types(void)
{
	static const struct feature progs[] = {
		{ "tracepoint", BPF_PROG_TYPE_TRACEPOINT, NULL },
		{ "kprobe/uprobe", BPF_PROG_TYPE_KPROBE, NULL },
		{ "raw_tracepoint", BPF_PROG_TYPE_RAW_TRACEPOINT, NULL },
		{ "fentry/fexit (tracing)", BPF_PROG_TYPE_TRACING, NULL },
		{ "xdp", BPF_PROG_TYPE_XDP, NULL },
		{ "tc (sched_cls)", BPF_PROG_TYPE_SCHED_CLS, NULL },
		{ "netfilter", NETFILTER_PROG, "needs Linux 6.4" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(progs); i++)
		row("program", progs[i].name, probe_type(progs[i].id),
		    progs[i].what);
}

static void probe_map_types(void)
{
	static const struct feature maps[] = {
		{ "ringbuf", BPF_MAP_TYPE_RINGBUF, "needs Linux 5.8" },
		{ "percpu_hash", BPF_MAP_TYPE_PERCPU_HASH, NULL },
		{ "percpu_array", BPF_MAP_TYPE_PERCPU_ARRAY, NULL },
		{ "lru_hash", BPF_MAP_TYPE_LRU_HASH, NULL },
		{ "lpm_trie", BPF_MAP_TYPE_LPM_TRIE, NULL },
		{ "stack_trace", BPF_MAP_TYPE_STACK_TRACE, NULL },
		{ "array_of_maps", BPF_MAP_TYPE_ARRAY_OF_MAPS, NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(maps); i++)
		row("map", maps[i].name, libbpf_probe_bpf_map_type(maps[i].id, NULL), maps[i].what);
}

static void probe_helpers(void)
{
	static const struct feature helpers[] = {
		{ "get_attach_cookie", BPF_FUNC_get_attach_cookie, "needs Linux 5.15" },
		{ "ringbuf_output", BPF_FUNC_ringbuf_output, NULL },
		{ "probe_read_user_str", BPF_FUNC_probe_read_user_str, NULL },
		{ "probe_read_kernel_str", BPF_FUNC_probe_read_kernel_str, NULL },
		{ "get_stackid", BPF_FUNC_get_stackid, NULL },
		{ "get_current_cgroup_id", BPF_FUNC_get_current_cgroup_id, NULL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(helpers); i++)
		row("helper", helpers[i].name,
		    libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, helpers[i].id, NULL),
		    helpers[i].what);
}

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* How lbpf.kprobe/kretprobe reach a kernel function here: fentry/fexit
 * where the kernel allows them, else kprobes. */
static void probe_kernel_functions(void)
{
	int fentry = btf_fentry_check();
	bool kprobes = exists("/sys/bus/event_source/devices/kprobe");
	char why[128];

	snprintf(why, sizeof(why), "refused here (%s)", lbpf_errname(fentry));
	row("attach", "fentry/fexit", fentry == 0, why);
	printf("  %-11s %-28s %s\n", "attach", "kernel functions via",
	       fentry == 0 ? "fentry/fexit (kprobes for wildcards, latency, stacks)" :
	       kprobes ? "kprobes" : "nothing");
}

/* How field paths are read here: loads the verifier checks where the kernel
 * has the kfunc bpf_rdonly_cast, else bpf_probe_read_kernel. */
static void probe_path_reads(void)
{
	struct btf_kernel *k = exists("/sys/kernel/btf/vmlinux") ? btf_kernel_open(NULL) : NULL;
	bool cast = k && btf_kernel_func_id(k, "bpf_rdonly_cast") > 0;

	btf_kernel_free(k);
	printf("  %-11s %-28s %s\n", "attach", "field paths read by",
	       !k ? "nothing (no kernel BTF)" : cast ? "checked loads (bpf_rdonly_cast)" :
	       "bpf_probe_read_kernel (no bpf_rdonly_cast: Linux 6.2)");
}

static void probe_attach_points(void)
{
	row("attach", "tracepoints (tracefs)", exists("/sys/kernel/tracing/events"),
	    "tracefs is not mounted at /sys/kernel/tracing");
	row("attach", "kprobes", exists("/sys/bus/event_source/devices/kprobe"),
	    "kprobes are not available on this kernel (CONFIG_KPROBES)");
	probe_kernel_functions();
	row("attach", "uprobes", exists("/sys/bus/event_source/devices/uprobe"),
	    "CONFIG_UPROBES is not set");
	row("attach", "USDT (through uprobes)", exists("/sys/bus/event_source/devices/uprobe"),
	    "CONFIG_UPROBES is not set");
	row("attach", "kernel BTF (field paths)", exists("/sys/kernel/btf/vmlinux"),
	    "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)");
	probe_path_reads();
	row("attach", "netfilter links", probe_netfilter(),
	    "needs Linux 6.4 (CONFIG_NETFILTER_BPF_LINK)");
	row("attach", "bpffs", exists("/sys/fs/bpf"), "bpffs is not mounted at /sys/fs/bpf");
}

int lbpf_cmd_features(int argc, char **argv)
{
	const char *missing = lbpf_missing_capability();
	struct utsname u;

	if (missing) {
		fprintf(stderr, "lbpf: missing capability %s (feature probes load BPF programs)\n",
			missing);
		return 1;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	uname(&u);
	printf("kernel %s %s\n", u.release, u.machine);
	printf("  %-11s %-28s %s\n", "kind", "feature", "supported");
	probe_prog_types();
	probe_map_types();
	probe_helpers();
	probe_attach_points();
	return 0;
}
