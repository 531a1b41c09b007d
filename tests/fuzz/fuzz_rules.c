// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The rule compiler (user/filter/filter_compile.c) and the bit-vector search
 * of bpf/filter.bpf.h against the linear reference evaluator (reference.c).
 * An input is a policy and packets:
 *   byte 0        default, unparsed and fragment verdicts
 *   byte 1        how many set entries follow (each: slot, prefix)
 *   byte 2        how many rules follow (each: action, fields, their values)
 *   the rest      packets, built from a description whose addresses and
 *                 ports are drawn from the rules, or raw frames; each
 *                 arrives on an interface in a ct state
 * Rules are decoded into the shapes the Lua binding accepts (ports only with
 * a protocol that has them, TCP flags with TCP, ICMP with ICMP or ICMPv6),
 * with prefixes whose host bits may be set, overlapping ranges and repeated
 * values. Each packet's verdict, deciding rule and reason must equal the
 * reference's, and after the packets every rule's packet counter must equal
 * the number of packets the reference says it decided or counted.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

#define MAX_RULES   24
#define MAX_PACKETS 64
#define NSETS       3  /* slot 0: cidr, 1: ipv4, 2: ipv6 */

static struct filter_engine *engine;
static struct filter_spec *specs[MAX_RULES];
static struct ref_set sets[FILTER_MAX_SETS];
static struct filter_prefix entries[NSETS][16];
static struct ref_policy policy = { .specs = specs, .sets = sets };
static uint32_t ifaces[8], nifaces; /* interfaces that exist: a test run needs one */
static const int set_types[NSETS] = { 0, 4, 6 };
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	char name[16];

	for (i = ifs; i && i->if_index && nifaces < 8; i++)
		ifaces[nifaces++] = i->if_index;
	if_freenameindex(ifs);
	if (!nifaces)
		ifaces[nifaces++] = 1;
	engine = fuzz_engine(64);
	for (int s = 0; s < NSETS; s++) {
		snprintf(name, sizeof(name), "fuzz%d", s);
		if (filter_set_create(engine, name, set_types[s], 0, 64) != s)
			fuzz_fail("create set %s: %s", name, engine->error);
		sets[s].entries = entries[s];
	}
	return 0;
}

/* ---- decoding ---- */

/* An address of the family: IPv4 whole, IPv6 from four bytes spread over
 * 2001:db8::/32 (or ::ffff:0:0/96, or ::) so that prefixes overlap. */
static void take_addr(struct bytes *b, int family, uint8_t *addr)
{
	uint8_t shape;

	memset(addr, 0, 16);
	if (family == 4) {
		for (int i = 0; i < 4; i++)
			addr[i] = take8(b);
		return;
	}
	shape = take8(b);
	if (shape % 4 == 0) {
		addr[10] = addr[11] = 0xff; /* IPv4-mapped */
		for (int i = 12; i < 16; i++)
			addr[i] = take8(b);
	} else if (shape % 4 == 1) {
		addr[15] = take8(b); /* near :: */
	} else {
		addr[0] = 0x20, addr[1] = 0x01, addr[2] = 0x0d, addr[3] = 0xb8;
		addr[4] = take8(b);
		addr[5] = take8(b);
		addr[8 + shape % 8] = take8(b);
		addr[15] = take8(b);
	}
}

static void take_prefix(struct bytes *b, int family, struct filter_prefix *p)
{
	uint8_t len = take8(b);

	p->family = family;
	p->len = family == 4 ? len % 33 : len % 129;
	take_addr(b, family, p->addr); /* host bits stay: "10.1.2.3/8" is valid */
}

static void take_ranges(struct bytes *b, struct filter_range **list, uint32_t *n, uint32_t max)
{
	uint32_t count = 1 + take8(b) % 3;

	for (uint32_t i = 0; i < count; i++) {
		uint32_t lo = take16(b) % (max + 1), wide = take8(b);
		uint32_t hi = wide & 0x80 ? take16(b) % (max + 1) : lo + (wide & 0x7f);

		fuzz_add_range(list, n, lo, hi > max ? max : hi);
	}
}

static const int protos[] = { 6, 17, 1, 58, 47, 50, 132, 136, 33, 51, 0 };

enum {
	F_SRC = 1, F_DST = 2, F_SPORT = 4, F_DPORT = 8, F_PROTO = 16, F_TCP = 32, F_ICMP = 64,
	F_LENGTH = 128, F_IIF = 256, F_SRCSET = 512, F_DSTSET = 1024, F_CT = 2048,
};

static bool has_ports(int proto)
{
	return proto < 0 || proto == 6 || proto == 17 || proto == 33 || proto == 132 ||
	       proto == 136;
}

/* The protocol condition, made to agree with the other fields. */
static void take_proto(struct bytes *b, struct filter_spec *s, uint32_t *fields)
{
	if (*fields & F_PROTO) {
		uint8_t k = take8(b);

		s->proto = k < 200 ? protos[k % (sizeof(protos) / sizeof(protos[0]))] : take8(b);
	}
	if (*fields & F_TCP) {
		*fields &= ~F_ICMP;
		if (s->proto != 6)
			s->proto = -1;
	}
	if ((*fields & F_ICMP) && s->proto != 1 && s->proto != 58)
		s->proto = -1;
	if ((*fields & F_ICMP) || !has_ports(s->proto))
		*fields &= ~(F_SPORT | F_DPORT);
}

static struct filter_spec *take_rule(struct bytes *b)
{
	uint8_t kind = take8(b);
	struct filter_spec *s = fuzz_spec(kind % 3 == 0 ? FILTER_PASS
					  : kind % 3 == 1 ? FILTER_DROP : FILTER_COUNT);
	uint32_t fields = take16(b), n;
	struct filter_prefix p;

	s->log = kind & 0x80;
	take_proto(b, s, &fields);
	for (int dst = 0; dst < 2; dst++) {
		if (!(fields & (dst ? F_DST : F_SRC)))
			continue;
		n = 1 + take8(b) % 3;
		for (uint32_t i = 0; i < n; i++) {
			take_prefix(b, take8(b) & 1 ? 6 : 4, &p);
			if (dst)
				fuzz_add_prefix(&s->dst, &s->ndst, &p);
			else
				fuzz_add_prefix(&s->src, &s->nsrc, &p);
		}
	}
	if (fields & F_SPORT)
		take_ranges(b, &s->sport, &s->nsport, 65535);
	if (fields & F_DPORT)
		take_ranges(b, &s->dport, &s->ndport, 65535);
	if (fields & F_TCP) {
		s->tcp_mask = take8(b) | 1 << (kind % 8);
		s->tcp_value = take8(b) & s->tcp_mask;
	}
	if (fields & F_ICMP)
		take_ranges(b, &s->icmp, &s->nicmp, 65535);
	if (fields & F_LENGTH)
		take_ranges(b, &s->length, &s->nlength, 65535);
	if (fields & F_IIF) {
		n = 1 + take8(b) % 3;
		for (uint32_t i = 0; i < n; i++)
			fuzz_add_iif(s, take8(b) % 4 ? ifaces[take8(b) % nifaces] : take8(b));
	}
	if (fields & F_SRCSET)
		s->srcset = take8(b) % NSETS;
	if (fields & F_DSTSET)
		s->dstset = take8(b) % NSETS;
	if (fields & F_CT) /* a mask of states, not empty */
		s->ct = 1 + take8(b) % ((1 << FILTER_CT_NSTATES) - 1);
	return s;
}

/* Empties the sets, then adds the input's entries to the engine and the reference. */
static void take_sets(struct bytes *b)
{
	uint32_t count = take8(b) % 17;
	struct filter_prefix *p;

	for (int s = 0; s < NSETS; s++) {
		for (uint32_t i = 0; i < sets[s].n; i++)
			filter_set_remove(engine, s, &entries[s][i]);
		sets[s].n = 0;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint8_t k = take8(b);
		int slot = k % NSETS, family = set_types[slot] ?: (k & 0x80 ? 6 : 4);

		if (sets[slot].n == 16)
			continue;
		p = &entries[slot][sets[slot].n];
		take_prefix(b, family, p);
		if (filter_set_add(engine, slot, p, 0))
			fuzz_fail("set add: %s", engine->error);
		sets[slot].n++;
	}
}

static void take_policy(struct bytes *b)
{
	uint8_t verdicts = take8(b);
	uint32_t n;

	while (engine->nspecs)
		filter_rule_remove(engine, engine->specs[0]->id);
	policy.nspecs = 0;
	policy.default_action = engine->default_action = verdicts & 1;
	policy.unparsed_action = engine->unparsed_action = verdicts >> 1 & 1;
	policy.fragment_action = engine->fragment_action = verdicts >> 2 & 1;
	take_sets(b);
	n = take8(b) % (MAX_RULES + 1);
	for (uint32_t i = 0; i < n && b->n; i++) {
		specs[i] = take_rule(b);
		fuzz_insert(engine, specs[i]);
		policy.nspecs++;
	}
	engine->dirty = true;
	if (filter_commit(engine))
		fuzz_fail("commit: %s", engine->error);
}

/* ---- packets ---- */

/* An address for the packet: often inside a prefix of a rule or a set. */
static void packet_addr(struct bytes *b, int family, bool dst, struct filter_prefix *out)
{
	uint8_t how = take8(b);
	const struct filter_spec *s = policy.nspecs ? specs[how % policy.nspecs] : NULL;
	const struct filter_prefix *from = NULL;
	const struct ref_set *set = &sets[how % NSETS];

	out->family = family;
	take_addr(b, family, out->addr);
	if (how & 0x40 && s && (dst ? s->ndst : s->nsrc))
		from = dst ? &s->dst[take8(b) % s->ndst] : &s->src[take8(b) % s->nsrc];
	else if (how & 0x80 && set->n)
		from = &set->entries[take8(b) % set->n];
	if (from && from->family == family) { /* the prefix's bits, then random ones */
		for (int bit = 0; bit < from->len; bit++) {
			uint8_t m = 0x80 >> (bit % 8);

			out->addr[bit / 8] = (out->addr[bit / 8] & ~m) | (from->addr[bit / 8] & m);
		}
	}
}

/* A port: often an end of one of the rules' ranges, or next to it. */
static uint16_t packet_port(struct bytes *b, bool dst)
{
	uint8_t how = take8(b);
	const struct filter_spec *s = policy.nspecs ? specs[how % policy.nspecs] : NULL;
	const struct filter_range *r = NULL;

	if (s && (dst ? s->ndport : s->nsport))
		r = dst ? &s->dport[take8(b) % s->ndport] : &s->sport[take8(b) % s->nsport];
	if (!r || how & 0x80)
		return take16(b);
	return (how & 0x40 ? r->hi : r->lo) + (int)(how & 3) - 1;
}

/* One frame into buf (4096 bytes); its length, or 0 when the input ended. */
static uint32_t take_frame(struct bytes *b, uint8_t *buf)
{
	struct filter_packet_desc d = { .proto = -1, .icmp_type = -1 };
	uint8_t kind = take8(b);
	int family = kind & 1 ? 6 : 4, len;

	if (!b->n)
		return 0;
	if (kind % 8 == 7) { /* raw bytes: whatever shape */
		uint32_t n = 14 + take8(b);

		n = n < 14 + b->n ? n : 14 + b->n;
		memset(buf, 0, 14);
		buf[12] = kind & 0x10 ? 0x86 : 0x08;
		buf[13] = kind & 0x10 ? 0xdd : 0x00;
		for (uint32_t i = 14; i < n; i++)
			buf[i] = take8(b);
		return n;
	}
	packet_addr(b, family, false, &d.src);
	packet_addr(b, family, true, &d.dst);
	d.proto = protos[take8(b) % (sizeof(protos) / sizeof(protos[0]))];
	if (d.proto == 1 && family == 6)
		d.proto = 58;
	d.sport = packet_port(b, false);
	d.dport = packet_port(b, true);
	d.tcp_flags = take8(b);
	d.icmp_type = take8(b);
	d.icmp_code = take8(b);
	if (kind & 0x20)
		d.iplen = take16(b) % 1500;
	if (kind & 0x40)
		d.len = take16(b) % 1515;
	len = filter_packet_build(&d, buf, 4096);
	return len < 14 ? 14 : len; /* a description it refuses still makes a frame */
}

/* ---- the check ---- */

static void dump_prefixes(const char *field, const struct filter_prefix *list, uint32_t n)
{
	char buf[64];

	for (uint32_t i = 0; i < n; i++)
		fprintf(stderr, "%s%s/%u", i ? ", " : field,
			filter_format_addr(list[i].family, list[i].addr, buf, sizeof(buf)),
			list[i].len);
}

static void dump_ranges(const char *field, const struct filter_range *list, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		fprintf(stderr, "%s%u..%u", i ? ", " : field, list[i].lo, list[i].hi);
}

/* The policy, in rule order, for a finding. */
static void dump_policy(void)
{
	static const char *const actions[] = { "pass", "drop", "count", "ratelimit" };

	fprintf(stderr, "policy: default %s, unparsed %s, fragments %s\n",
		actions[policy.default_action], actions[policy.unparsed_action],
		actions[policy.fragment_action]);
	for (int s = 0; s < NSETS; s++) {
		fprintf(stderr, "  set %d (type %d):", s, set_types[s]);
		dump_prefixes(" ", sets[s].entries, sets[s].n);
		fprintf(stderr, "\n");
	}
	for (uint32_t i = 0; i < policy.nspecs; i++) {
		const struct filter_spec *r = specs[i];

		fprintf(stderr, "  rule %u (id %u): %s", i, r->id, actions[r->action]);
		if (r->proto >= 0)
			fprintf(stderr, " proto %d", r->proto);
		dump_prefixes(" src ", r->src, r->nsrc);
		dump_prefixes(" dst ", r->dst, r->ndst);
		dump_ranges(" sport ", r->sport, r->nsport);
		dump_ranges(" dport ", r->dport, r->ndport);
		if (r->tcp_mask)
			fprintf(stderr, " tcp 0x%02x/0x%02x", r->tcp_value, r->tcp_mask);
		dump_ranges(" icmp ", r->icmp, r->nicmp);
		dump_ranges(" length ", r->length, r->nlength);
		for (uint32_t k = 0; k < r->niif; k++)
			fprintf(stderr, "%s%u", k ? ", " : " iif ", r->iif[k]);
		if (r->srcset >= 0)
			fprintf(stderr, " srcset %d", r->srcset);
		if (r->dstset >= 0)
			fprintf(stderr, " dstset %d", r->dstset);
		if (r->ct)
			fprintf(stderr, " ct 0x%02x", r->ct);
		fprintf(stderr, "\n");
	}
}

static uint64_t expect[64];

static void check_packet(const uint8_t *frame, uint32_t len, uint32_t iif, int ct)
{
	struct filter_pkt want, got;
	struct ref_verdict v;
	uint32_t rule, why;
	int verdict;
	bool logged;

	ref_parse(frame, len, &want);
	want.iif = iif;
	ref_decide(&policy, &want, iif, ct, &v);
	fuzz_run(engine, frame, len, iif, ct, &verdict, &rule, &why, &got, &logged);
	if (verdict != v.verdict || rule != v.rule_id || why != v.why) {
		fuzz_dump_frame("frame", frame, len);
		fuzz_dump_pkt("packet", &want);
		fprintf(stderr, "ct state %s\n", filter_ct_names[ct]);
		dump_policy();
		fuzz_fail("verdict %d rule %d why %u, reference: verdict %d rule %d why %u",
			  verdict, (int)rule, why, v.verdict, (int)v.rule_id, v.why);
	}
	if (v.why == FILTER_WHY_RULE)
		expect[v.rule_id]++;
	for (uint32_t i = 0; i < v.ncounted; i++)
		expect[v.counted[i]]++;
}

static void check_counters(void)
{
	uint64_t packets, bytes;

	for (uint32_t i = 0; i < policy.nspecs; i++) {
		uint32_t id = specs[i]->id;

		if (filter_rule_stats(engine, id, &packets, &bytes))
			fuzz_fail("rule stats: %s", engine->error);
		if (packets != expect[id] && (dump_policy(), true))
			fuzz_fail("rule %u (position %u) counted %llu packets, reference: %llu", id,
				  i, (unsigned long long)packets, (unsigned long long)expect[id]);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bytes b = { data, size };
	static uint8_t frame[4096];
	uint32_t len;

	take_policy(&b);
	memset(expect, 0, sizeof(expect));
	for (int i = 0; i < MAX_PACKETS && (len = take_frame(&b, frame)); i++)
		check_packet(frame, len, ifaces[take8(&b) % nifaces], take8(&b) % FILTER_CT_NSTATES);
	check_counters();
	return 0;
}
