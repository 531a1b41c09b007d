// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * xdp-filter's program as a row of scripts/bench/filter.sh:
 *   xdpfilter_run OBJ N_ADDRS N_PORTS REPEAT FRAME
 * loads OBJ (Debian's xdp-tools: xdpfilt_dny_all.o, the deny-mode program with
 * every feature) with plain libbpf, its IPv4 map sized for N_ADDRS, fills it
 * with N_ADDRS random addresses (source and destination flags) and the ports
 * map with N_PORTS random TCP destination ports, none of them the frame's,
 * then runs FRAME through it with BPF_PROG_TEST_RUN, REPEAT times, five
 * times, and prints the median ns per packet and the verdict. This is what
 * `xdp-filter ip`/`xdp-filter port` would load, without the interface.
 * The flags are xdp-tools' common_kern_user.h (MAP_FLAG_*, COUNTER_SHIFT 6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAP_FLAG_SRC (1 << 0)
#define MAP_FLAG_DST (1 << 1)
#define MAP_FLAG_TCP (1 << 2)

static int cmp_u32(const void *a, const void *b)
{
	return *(const unsigned *)a < *(const unsigned *)b ? -1 :
	       *(const unsigned *)a > *(const unsigned *)b;
}

/* Puts flags into every CPU's value of key in the per-CPU map fd. */
static int put(int fd, const void *key, unsigned long long flags, int ncpus)
{
	unsigned long long v[1024];
	int i;

	for (i = 0; i < ncpus; i++)
		v[i] = flags;
	return bpf_map_update_elem(fd, key, v, BPF_ANY);
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *ip4, *ports, *m;
	unsigned frame[512], runs[5], n, nports, repeat, i, in_frame[2], verdict = 0;
	int ncpus = libbpf_num_possible_cpus(), fd4, fdp, len;
	FILE *f;

	if (argc != 6) {
		fprintf(stderr, "usage: xdpfilter_run OBJ N_ADDRS N_PORTS REPEAT FRAME\n");
		return 2;
	}
	n = strtoul(argv[2], NULL, 10);
	nports = strtoul(argv[3], NULL, 10);
	repeat = strtoul(argv[4], NULL, 10);
	f = fopen(argv[5], "rb");
	if (!f || (len = fread(frame, 1, sizeof(frame), f)) < 34 || ncpus > 1024)
		return fprintf(stderr, "xdpfilter_run: cannot read %s\n", argv[5]), 1;
	fclose(f);
	memcpy(in_frame, (char *)frame + 26, 8); /* the IPv4 source and destination */
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		return fprintf(stderr, "xdpfilter_run: open %s failed\n", argv[1]), 1;
	ip4 = bpf_object__find_map_by_name(obj, "filter_ipv4");
	ports = bpf_object__find_map_by_name(obj, "filter_ports");
	prog = bpf_object__next_program(obj, NULL);
	bpf_object__for_each_map(m, obj) /* its maps pin by name: not in this run */
		bpf_map__set_pin_path(m, NULL);
	if (!ip4 || !ports || !prog || bpf_map__set_max_entries(ip4, n ? n : 1) ||
	    bpf_object__load(obj))
		return fprintf(stderr, "xdpfilter_run: load %s failed\n", argv[1]), 1;
	fd4 = bpf_map__fd(ip4);
	fdp = bpf_map__fd(ports);
	srandom(n);
	for (i = 0; i < n; ) {
		unsigned addr = (unsigned)random() << 1 ^ (unsigned)random();

		if (addr == in_frame[0] || addr == in_frame[1])
			continue;
		if (put(fd4, &addr, MAP_FLAG_SRC | MAP_FLAG_DST, ncpus) == 0)
			i++;
	}
	for (i = 0; i < nports; i++) {
		unsigned port = 1024 + random() % 60000;

		if (port != 80 && port != 40000)
			put(fdp, &port, MAP_FLAG_DST | MAP_FLAG_TCP, ncpus);
	}
	for (i = 0; i < 5; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
			return perror("xdpfilter_run: BPF_PROG_TEST_RUN"), 1;
		runs[i] = o.duration;
		verdict = o.retval;
	}
	qsort(runs, 5, sizeof(runs[0]), cmp_u32);
	printf("%u %s\n", runs[2], verdict == XDP_PASS ? "pass" : verdict == XDP_DROP ? "drop" : "other");
	fflush(stdout);
	bpf_object__close(obj);
	return 0;
}
