// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * `lbpf test POLICY.lua CAPTURE.pcap`: runs the policy's body with filters
 * loaded but never attached, then judges every packet of the capture with the
 * last filter the policy created (BPF_PROG_TEST_RUN on its XDP program) and
 * prints the verdict and the rule of each, then a summary. Exits 0 unless the
 * policy or the capture cannot be read.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/filter.h"
#include "core/internal.h"

struct pcaptest {
	struct filter_engine *e;       /* the last filter the policy created */
	uint64_t packets, dropped, passed, defaulted, unparsed;
	uint64_t *by_rule;             /* by rule id */
	int ct;                        /* every packet's ct state (enum filter_ct) */
};

static void remember(void *ctx, struct filter_engine *e)
{
	((struct pcaptest *)ctx)->e = e;
}

/* Makes an Ethernet frame of a capture record; returns its length or 0. */
static uint32_t to_ethernet(int linktype, const uint8_t *data, uint32_t len, uint8_t *out,
			    size_t size)
{
	uint32_t skip = 0, n;
	uint16_t type = 0;

	switch (linktype) {
	case DLT_EN10MB:
		n = len < size ? len : size;
		memcpy(out, data, n);
		return n;
	case DLT_RAW:
	case 228 /* DLT_IPV4 */:
	case 229 /* DLT_IPV6 */:
		break;
	case DLT_NULL:
	case DLT_LOOP:
		skip = 4;
		break;
	case DLT_LINUX_SLL:
		skip = 16;
		break;
	default:
		return 0;
	}
	if (len <= skip)
		return 0;
	data += skip;
	len -= skip;
	type = (data[0] >> 4) == 6 ? 0x86dd : 0x0800;
	n = len + 14 < size ? len : size - 14;
	memset(out, 0, 12);
	out[12] = type >> 8;
	out[13] = type & 0xff;
	memcpy(out + 14, data, n);
	return n + 14;
}

/* "10.0.0.1:1234 > 10.0.0.2:80 tcp" for an Ethernet frame. */
static void describe(const uint8_t *f, uint32_t len, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	uint16_t type = len >= 14 ? f[12] << 8 | f[13] : 0;
	const uint8_t *ip = f + 14, *l4;
	int proto, family;
	const char *name;

	if (type == 0x0800 && len >= 34) {
		family = 4;
		proto = ip[9];
		l4 = ip + (ip[0] & 15) * 4;
		inet_ntop(AF_INET, ip + 12, src, sizeof(src));
		inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
	} else if (type == 0x86dd && len >= 54) {
		family = 6;
		proto = ip[6];
		l4 = ip + 40;
		inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
		inet_ntop(AF_INET6, ip + 24, dst, sizeof(dst));
	} else {
		snprintf(buf, size, "ethertype 0x%04x", type);
		return;
	}
	name = filter_proto_name(proto);
	if ((proto == 6 || proto == 17) && l4 + 4 <= f + len)
		snprintf(buf, size, "%s%s%s:%u > %s%s%s:%u %s", family == 6 ? "[" : "", src,
			 family == 6 ? "]" : "", l4[0] << 8 | l4[1], family == 6 ? "[" : "", dst,
			 family == 6 ? "]" : "", l4[2] << 8 | l4[3], name);
	else if (name)
		snprintf(buf, size, "%s > %s %s", src, dst, name);
	else
		snprintf(buf, size, "%s > %s proto %d", src, dst, proto);
}

static const char *rule_name(struct filter_engine *e, uint32_t id, char *buf, size_t size)
{
	struct filter_spec *s = id == ~0U ? NULL : filter_rule_find(e, id);

	if (id == ~0U)
		return "default";
	if (s && s->comment)
		snprintf(buf, size, "rule %u (%s)", id, s->comment);
	else
		snprintf(buf, size, "rule %u", id);
	return buf;
}

/* Judges and prints each packet of the capture. */
static int judge_capture(struct pcaptest *t, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE], what[160], name[96];
	struct pcap_pkthdr *hdr;
	const uint8_t *data;
	uint8_t frame[4096];
	uint32_t len, rule, ns, why;
	int verdict, rc, err;
	pcap_t *p = pcap_open_offline(path, errbuf);

	if (!p) {
		fprintf(stderr, "lbpf: %s\n", errbuf);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
		t->packets++;
		len = to_ethernet(pcap_datalink(p), data, hdr->caplen, frame, sizeof(frame));
		if (len < 14) {
			printf("%6" PRIu64 "  skip  (link type %d not supported)\n", t->packets,
			       pcap_datalink(p));
			continue;
		}
		err = filter_test_ct(t->e, frame, len, 0, t->ct, 1, &verdict, &rule, &ns, &why);
		if (err) {
			fprintf(stderr, "lbpf: packet %" PRIu64 ": %s\n", t->packets, t->e->error);
			break;
		}
		describe(frame, len, what, sizeof(what));
		printf("%6" PRIu64 "  %-4s  %-28s %s\n", t->packets, verdict ? "drop" : "pass",
		       why == FILTER_WHY_UNPARSED   ? "unparsed"
		       : why == FILTER_WHY_FRAGMENT ? "later fragment"
		       : why == FILTER_WHY_NONIP    ? "non-IP"
						    : rule_name(t->e, rule, name, sizeof(name)),
		       what);
		*(verdict ? &t->dropped : &t->passed) += 1;
		if (why == FILTER_WHY_UNPARSED || why == FILTER_WHY_FRAGMENT)
			t->unparsed++;
		else if (rule == ~0U)
			t->defaulted++;
		else if (rule < t->e->max_rules)
			t->by_rule[rule]++;
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "lbpf: %s: %s\n", path, pcap_geterr(p));
	pcap_close(p);
	return 0;
}

static void summarize(struct pcaptest *t)
{
	char name[96];

	printf("\n%" PRIu64 " packets: %" PRIu64 " passed, %" PRIu64 " dropped, %" PRIu64
	       " by the default, %" PRIu64 " by the unparsed or fragment verdict\n", t->packets,
	       t->passed, t->dropped, t->defaulted, t->unparsed);
	for (uint32_t i = 0; i < t->e->nspecs; i++) {
		uint32_t id = t->e->specs[i]->id;

		printf("  %-36s %8" PRIu64 " packets\n", rule_name(t->e, id, name, sizeof(name)),
		       t->by_rule[id]);
	}
}

int lbpf_cmd_test(int argc, char **argv)
{
	lbpf_runtime_opts_t opts = { .argc = 0, .argv = NULL };
	struct pcaptest t = { .ct = FILTER_CT_NEW };
	lbpf_runtime_t *rt = NULL;
	int err;

	/* a capture has no conntrack: --ct says which state its packets are in */
	if (argc == 5 && !strcmp(argv[1], "--ct")) {
		t.ct = filter_ct_number(argv[2]);
		if (t.ct < 0) {
			fprintf(stderr, "lbpf: --ct: expected new, established, related, invalid "
					"or untracked, got '%s'\n", argv[2]);
			return 2;
		}
		argc -= 2;
		argv += 2;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: lbpf test [--ct STATE] POLICY.lua CAPTURE.pcap\n");
		return 2;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	filter_dry_run_hook = remember;
	filter_dry_run_ctx = &t;
	err = lbpf_runtime_new(&rt, argv[1], &opts);
	err = err ?: lbpf_runtime_start(rt);
	if (err) {
		fprintf(stderr, "lbpf: %s\n", lbpf_runtime_error(rt) ?: strerror(-err));
		goto out;
	}
	if (!t.e) {
		fprintf(stderr, "lbpf: %s creates no lbpf.filter\n", argv[1]);
		err = -EINVAL;
		goto out;
	}
	t.by_rule = calloc(t.e->max_rules, sizeof(*t.by_rule));
	err = t.by_rule ? (t.e->dirty ? filter_commit(t.e) : 0) : -ENOMEM;
	if (err)
		fprintf(stderr, "lbpf: %s\n", t.e->error);
	else
		err = judge_capture(&t, argv[2]);
	if (!err)
		summarize(&t);
out:
	free(t.by_rule);
	filter_dry_run_hook = NULL;
	lbpf_runtime_free(rt);
	return err ? 1 : 0;
}
