// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * What the kernel supports, probed once when lbpfd starts, so that lbpf
 * status answers without touching the kernel again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "core/internal.h"
#include "features.h"

static struct {
	const char *name;
	bool ok;
} features[8];
static char kernel_release[sizeof(((struct utsname *)0)->release) * 2 + 2];

void features_probe(void)
{
	struct utsname u;
	int i = 0;

	if (uname(&u) == 0)
		snprintf(kernel_release, sizeof(kernel_release), "%s %s", u.release, u.machine);
	features[i].name = "tracepoint";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) > 0;
	features[i].name = "kprobe";
	features[i++].ok = access("/sys/bus/event_source/devices/kprobe", F_OK) == 0;
	features[i].name = "uprobe";
	features[i++].ok = access("/sys/bus/event_source/devices/uprobe", F_OK) == 0;
	features[i].name = "fentry";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, NULL) > 0;
	features[i].name = "xdp";
	features[i++].ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) > 0;
	features[i].name = "ringbuf";
	features[i++].ok = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) > 0;
	features[i].name = "tracefs";
	features[i++].ok = access("/sys/kernel/tracing/events", F_OK) == 0;
	features[i].name = "bpffs";
	features[i++].ok = access("/sys/fs/bpf", F_OK) == 0;
}

void features_write(struct json_writer *w)
{
	size_t i;

	json_kv_string(w, "kernel", kernel_release);
	json_key(w, "features");
	json_object_begin(w);
	for (i = 0; i < ARRAY_SIZE(features) && features[i].name; i++)
		json_kv_bool(w, features[i].name, features[i].ok);
	json_object_end(w);
}
