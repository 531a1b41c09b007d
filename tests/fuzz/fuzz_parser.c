// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The packet parser of bpf/filter.bpf.c against the reference parser
 * (reference.c). The input is one Ethernet frame, run through the XDP
 * program with BPF_PROG_TEST_RUN. The first rule counts and logs every
 * packet the rules see, so its log record carries the packet as the program
 * parsed it: every field must equal the reference's. The rules after it ask
 * about ports, flags, ICMP, protocols, lengths and addresses, so the verdict
 * and the deciding rule of each odd shape (tags, options, extension headers,
 * fragments, truncation) are checked against the reference evaluator too.
 */
#include <string.h>

#include "fuzz.h"

static struct filter_engine *engine;
static struct filter_spec *specs[16];
static struct ref_set no_sets[FILTER_MAX_SETS];
static struct ref_policy policy = { .specs = specs, .sets = no_sets };

static void add(struct filter_spec *s)
{
	fuzz_insert(engine, s);
	specs[policy.nspecs++] = s;
}

static struct filter_spec *with_proto(int action, int proto)
{
	struct filter_spec *s = fuzz_spec(action);

	s->proto = proto;
	return s;
}

/* One rule of each kind the parser's results decide. */
static void add_rules(void)
{
	struct filter_prefix p;
	struct filter_spec *s;

	s = fuzz_spec(FILTER_COUNT); /* logs every packet the rules see */
	s->log = true;
	add(s);
	s = with_proto(FILTER_DROP, 6);
	fuzz_add_range(&s->dport, &s->ndport, 22, 22);
	add(s);
	s = with_proto(FILTER_PASS, 17);
	fuzz_add_range(&s->sport, &s->nsport, 53, 53);
	add(s);
	s = fuzz_spec(FILTER_DROP); /* ICMP echo request, any code */
	fuzz_add_range(&s->icmp, &s->nicmp, 8 << 8, 8 << 8 | 255);
	add(s);
	s = fuzz_spec(FILTER_DROP); /* SYN without ACK */
	s->tcp_mask = 0x12;
	s->tcp_value = 0x02;
	add(s);
	add(with_proto(FILTER_PASS, 47));
	s = fuzz_spec(FILTER_DROP);
	fuzz_add_range(&s->length, &s->nlength, 1000, 1999);
	add(s);
	s = with_proto(FILTER_DROP, 58);
	fuzz_add_range(&s->icmp, &s->nicmp, 128 << 8, 128 << 8 | 255);
	add(s);
	s = fuzz_spec(FILTER_PASS);
	filter_parse_prefix("10.0.0.0/8", &p);
	fuzz_add_prefix(&s->dst, &s->ndst, &p);
	add(s);
	s = fuzz_spec(FILTER_DROP);
	filter_parse_prefix("2001:db8::/32", &p);
	fuzz_add_prefix(&s->src, &s->nsrc, &p);
	add(s);
	add(with_proto(FILTER_COUNT, 50));
	s = fuzz_spec(FILTER_PASS);
	fuzz_add_range(&s->dport, &s->ndport, 1000, 2000);
	add(s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	engine = fuzz_engine(64);
	add_rules();
	engine->default_action = policy.default_action = FILTER_DROP;
	engine->unparsed_action = policy.unparsed_action = FILTER_DROP;
	engine->fragment_action = policy.fragment_action = FILTER_PASS;
	if (filter_commit(engine))
		fuzz_fail("commit: %s", engine->error);
	return 0;
}

static bool same_pkt(const struct filter_pkt *a, const struct filter_pkt *b)
{
	return a->family == b->family && a->proto == b->proto && a->tcp_flags == b->tcp_flags &&
	       a->has_ports == b->has_ports && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(a->src, b->src, sizeof(a->src)) && !memcmp(a->dst, b->dst, sizeof(a->dst)) &&
	       a->len == b->len && a->iif == b->iif && a->iplen == b->iplen &&
	       a->parse == b->parse && a->has_icmp == b->has_icmp &&
	       a->icmp_type == b->icmp_type && a->icmp_code == b->icmp_code;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filter_pkt want, got;
	struct ref_verdict v;
	uint32_t rule, why, len = size > 4096 ? 4096 : size;
	int verdict;
	bool logged, seen;

	if (len < 14) /* BPF_PROG_TEST_RUN runs XDP on an Ethernet header at least */
		return -1;
	ref_parse(data, len, &want);
	want.iif = 1; /* lo: the device BPF_PROG_TEST_RUN runs on */
	ref_decide(&policy, &want, 1, FILTER_CT_UNTRACKED, &v); /* no ct rule here */
	fuzz_run(engine, data, len, 1, -1, &verdict, &rule, &why, &got, &logged);
	/* the rules see every IP packet whose IP header was read */
	seen = want.family && want.parse != FILTER_PARSE_IP;
	if (logged != seen || (seen && !same_pkt(&want, &got))) {
		fuzz_dump_frame("frame", data, len);
		fuzz_dump_pkt("reference", &want);
		if (logged)
			fuzz_dump_pkt("program  ", &got);
		fuzz_fail("the program parsed the frame otherwise (%s)",
			  logged != seen ? (logged ? "logged, reference: not seen"
						   : "not logged, reference: seen")
					 : "fields differ");
	}
	if (verdict != v.verdict || rule != v.rule_id || why != v.why) {
		fuzz_dump_frame("frame", data, len);
		fuzz_dump_pkt("reference", &want);
		fuzz_fail("verdict %d rule %d why %u, reference: verdict %d rule %d why %u", verdict,
			  (int)rule, why, v.verdict, (int)v.rule_id, v.why);
	}
	return 0;
}
