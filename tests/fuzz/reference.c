// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The references the fuzzers check the packet filter against, written from
 * the README ("What the parser reads, and what happens when it cannot", the
 * rule fields) and the comments of bpf/filter.bpf.h, not from the program:
 *  - ref_parse reads an Ethernet frame byte by byte with plain bounds checks;
 *  - ref_decide walks the rules in order, each condition tested directly
 *    against the packet (no classes, no bitmaps), with the documented rule
 *    for what the parser could not read: a condition on it "maybe" holds,
 *    and the first rule that could match decides only if it has no such
 *    condition; otherwise the unparsed (or fragment) verdict applies.
 */
#include <string.h>

#include "fuzz.h"

#define ETH_HLEN   14
#define MAX_VLAN   2
#define MAX_OFF    4096 /* header bytes the parser walks into a frame */

struct frame {
	const uint8_t *b;
	uint32_t len;
};

/* Whether n bytes at off are in the frame and within the walked headers. */
static bool have(const struct frame *f, uint64_t off, uint32_t n)
{
	return off <= MAX_OFF && off + n <= f->len;
}

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

/* Walked extension headers: hop-by-hop, routing, fragment, destination
 * options, AH. Headers that may precede a transport header without being
 * walked: HIP, shim6, the two experimental numbers. */
static bool walked(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51;
}

static bool unwalked(uint8_t nh)
{
	return nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

/* The transport header at off inside the datagram ending at ipend. */
static void ref_transport(struct filter_pkt *p, const struct frame *f, uint64_t off,
			  uint64_t ipend)
{
	uint32_t need;

	switch (p->proto) {
	case 6:
		need = 20;
		break;
	case 1: case 58: case 17: case 136: case 132: case 33:
		need = 8;
		break;
	case 50:  /* ESP: the transport header is encrypted */
		p->parse = FILTER_PARSE_L4;
		return;
	default:  /* nothing the rules read */
		p->parse = FILTER_PARSE_OK;
		return;
	}
	if (off + need > ipend || !have(f, off, need)) {
		p->parse = FILTER_PARSE_L4;
		return;
	}
	p->parse = FILTER_PARSE_OK;
	if (p->proto == 1 || p->proto == 58) {
		p->has_icmp = 1;
		p->icmp_type = f->b[off];
		p->icmp_code = f->b[off + 1];
		return;
	}
	p->has_ports = 1;
	p->sport = be16(f->b + off);
	p->dport = be16(f->b + off + 2);
	if (p->proto == 6)
		p->tcp_flags = f->b[off + 13];
}

/* The chain of extension headers from next header nh at off: walked
 * headers, FILTER_MAX_EXT at most, then the transport header. */
static void ref_chain(struct filter_pkt *p, const struct frame *f, uint8_t nh, uint64_t off,
		      uint64_t ipend)
{
	const uint8_t *h;

	for (int depth = 0; walked(nh); depth++) {
		if (depth == FILTER_MAX_EXT || off + 8 > ipend || !have(f, off, 8)) {
			p->proto = nh; /* too deep, or cut short: the protocol is unknown */
			p->parse = FILTER_PARSE_PROTO;
			return;
		}
		h = f->b + off;
		if (nh == 44) { /* fragment: 8 bytes, offset in the top 13 bits of 2..3 */
			off += 8;
			if (be16(h + 2) >> 3) { /* a later fragment has no transport header */
				p->proto = h[0];
				p->parse = walked(h[0]) || unwalked(h[0]) ? FILTER_PARSE_PROTO
									  : FILTER_PARSE_FRAG;
				return;
			}
		} else if (nh == 51) { /* AH: length in 4-byte words, minus 2 */
			off += ((uint64_t)h[1] + 2) * 4;
		} else {               /* length in 8-byte words, minus 1 */
			off += ((uint64_t)h[1] + 1) * 8;
		}
		nh = h[0];
	}
	p->proto = nh;
	if (unwalked(nh)) {
		p->parse = FILTER_PARSE_PROTO;
		return;
	}
	ref_transport(p, f, off, ipend);
}

static void ref_ipv4(struct filter_pkt *p, const struct frame *f, uint32_t l3)
{
	const uint8_t *ip = f->b + l3;
	uint32_t ihl, total;

	p->family = 4;
	p->parse = FILTER_PARSE_IP;
	if (!have(f, l3, 20) || ip[0] >> 4 != 4)
		return;
	ihl = (ip[0] & 15) * 4;
	total = be16(ip + 2);
	if (ihl < 20 || total < ihl)
		return;
	p->proto = ip[9];
	p->iplen = total;
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	if (be16(ip + 6) & 0x1fff) {
		p->parse = FILTER_PARSE_FRAG;
		return;
	}
	if (p->proto == 51)
		ref_chain(p, f, 51, l3 + ihl, (uint64_t)l3 + total);
	else
		ref_transport(p, f, l3 + ihl, (uint64_t)l3 + total);
}

static void ref_ipv6(struct filter_pkt *p, const struct frame *f, uint32_t l3)
{
	const uint8_t *ip = f->b + l3;
	uint32_t plen;

	p->family = 6;
	p->parse = FILTER_PARSE_IP;
	if (!have(f, l3, 40) || ip[0] >> 4 != 6)
		return;
	plen = be16(ip + 4);
	p->iplen = plen + 40;
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	/* a payload length of 0 (a jumbogram) leaves the frame's end as the limit */
	ref_chain(p, f, ip[6], l3 + 40, plen ? (uint64_t)l3 + 40 + plen : UINT32_MAX);
}

void ref_parse(const uint8_t *frame, uint32_t len, struct filter_pkt *p)
{
	struct frame f = { frame, len };
	uint32_t off = ETH_HLEN;
	uint16_t type;

	memset(p, 0, sizeof(*p));
	p->len = len;
	p->parse = FILTER_PARSE_IP;
	if (!have(&f, 0, ETH_HLEN))
		return;
	type = be16(frame + 12);
	for (int tags = 0; tags < MAX_VLAN && (type == 0x8100 || type == 0x88a8); tags++) {
		if (!have(&f, off, 4))
			return;
		type = be16(frame + off + 2);
		off += 4;
	}
	if (type == 0x0800)
		ref_ipv4(p, &f, off);
	else if (type == 0x86dd)
		ref_ipv6(p, &f, off);
	else if (type != 0x8100 && type != 0x88a8) /* a tag left over: more than walked */
		p->parse = FILTER_PARSE_OK;            /* non-IP */
}

/* ---- the rules, one by one ---- */

enum truth { NO, YES, MAYBE };

bool ref_prefix_covers(const struct filter_prefix *pre, int fam, const uint8_t *addr)
{
	uint32_t bits = pre->len, whole = bits / 8, rest = bits % 8;

	if (pre->family != fam || bits > (fam == 4 ? 32u : 128u))
		return false;
	if (memcmp(pre->addr, addr, whole))
		return false;
	return !rest || ((pre->addr[whole] ^ addr[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

static bool any_prefix(const struct filter_prefix *list, uint32_t n, int fam, const uint8_t *a)
{
	for (uint32_t i = 0; i < n; i++)
		if (ref_prefix_covers(&list[i], fam, a))
			return true;
	return false;
}

static bool in_ranges(const struct filter_range *r, uint32_t n, uint32_t v)
{
	for (uint32_t i = 0; i < n; i++)
		if (r[i].lo <= v && v <= r[i].hi)
			return true;
	return false;
}

static bool set_holds(const struct ref_policy *pol, int slot, const struct filter_pkt *p,
		      const uint8_t *addr)
{
	const struct ref_set *s = &pol->sets[slot];

	return any_prefix(s->entries, s->n, p->family, addr);
}

/* The protocol a rule asks for: TCP flags mean TCP, ICMP types without a
 * protocol mean ICMP; -1 for none. */
static int rule_proto(const struct filter_spec *s)
{
	if (s->tcp_mask)
		return 6;
	if (s->nicmp && s->proto < 0)
		return 1;
	return s->proto;
}

/* A port condition: unknown unless the transport header was read. */
static enum truth port_truth(const struct filter_range *r, uint32_t n, const struct filter_pkt *p,
			     uint16_t port)
{
	if (!n)
		return YES;
	if (p->parse != FILTER_PARSE_OK)
		return MAYBE;
	return p->has_ports && in_ranges(r, n, port) ? YES : NO;
}

/* Protocol, TCP flags, ICMP type and code. */
static enum truth meta_truth(const struct filter_spec *s, const struct filter_pkt *p)
{
	int proto = rule_proto(s);

	if (proto < 0)
		return YES;
	if (p->parse == FILTER_PARSE_PROTO)
		return MAYBE;
	if (p->proto != proto)
		return NO;
	if (s->tcp_mask) {
		if (p->parse != FILTER_PARSE_OK)
			return MAYBE;
		return (p->tcp_flags & s->tcp_mask) == s->tcp_value ? YES : NO;
	}
	if (s->nicmp) {
		if (p->parse != FILTER_PARSE_OK || !p->has_icmp)
			return MAYBE;
		return in_ranges(s->icmp, s->nicmp, (uint32_t)p->icmp_type << 8 | p->icmp_code)
			       ? YES : NO;
	}
	return YES;
}

static enum truth both(enum truth a, enum truth b)
{
	if (a == NO || b == NO)
		return NO;
	return a == MAYBE || b == MAYBE ? MAYBE : YES;
}

/* Whether rule s matches p: YES, NO, or MAYBE (it depends on what was not read). */
static enum truth rule_truth(const struct ref_policy *pol, const struct filter_spec *s,
			     const struct filter_pkt *p, uint32_t iif, int ct)
{
	uint32_t iplen = p->iplen < 65535 ? p->iplen : 65535;
	enum truth t = YES;
	bool iif_ok = !s->niif;

	if (s->nsrc && !any_prefix(s->src, s->nsrc, p->family, p->src))
		return NO;
	if (s->ndst && !any_prefix(s->dst, s->ndst, p->family, p->dst))
		return NO;
	if (s->srcset >= 0 && !set_holds(pol, s->srcset, p, p->src))
		return NO;
	if (s->dstset >= 0 && !set_holds(pol, s->dstset, p, p->dst))
		return NO;
	if (s->nlength && !in_ranges(s->length, s->nlength, iplen))
		return NO;
	for (uint32_t i = 0; i < s->niif; i++)
		iif_ok |= s->iif[i] == iif;
	if (!iif_ok)
		return NO;
	if (s->ct && !(s->ct & 1u << ct))
		return NO;
	t = both(t, port_truth(s->sport, s->nsport, p, p->sport));
	t = both(t, port_truth(s->dport, s->ndport, p, p->dport));
	return both(t, meta_truth(s, p));
}

static void unparsed(const struct ref_policy *pol, const struct filter_pkt *p,
		     struct ref_verdict *v)
{
	v->rule_id = ~0U;
	if (p->parse == FILTER_PARSE_FRAG) {
		v->why = FILTER_WHY_FRAGMENT;
		v->verdict = pol->fragment_action;
	} else {
		v->why = FILTER_WHY_UNPARSED;
		v->verdict = pol->unparsed_action;
	}
}

void ref_decide(const struct ref_policy *pol, const struct filter_pkt *p, uint32_t iif, int ct,
		struct ref_verdict *v)
{
	uint32_t candidates = 0; /* count rules that could match, counted or not */

	memset(v, 0, sizeof(*v));
	if (p->family == 0 && p->parse == FILTER_PARSE_OK) {
		v->verdict = FILTER_PASS;
		v->rule_id = ~0U;
		v->why = FILTER_WHY_NONIP;
		return;
	}
	if (p->parse == FILTER_PARSE_IP)
		return unparsed(pol, p, v);
	for (uint32_t i = 0; i < pol->nspecs; i++) {
		const struct filter_spec *s = pol->specs[i];
		enum truth t = rule_truth(pol, s, p, iif, ct);

		if (t == NO)
			continue;
		if (s->action == FILTER_COUNT) {
			/* the first FILTER_MAX_CHAIN that could match are followed;
			 * of those, the ones that surely match count the packet */
			if (candidates++ < FILTER_MAX_CHAIN && t == YES)
				v->counted[v->ncounted++] = s->id;
			continue;
		}
		if (t == MAYBE)
			return unparsed(pol, p, v);
		v->verdict = s->action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
		v->rule_id = s->id;
		v->why = FILTER_WHY_RULE;
		return;
	}
	v->verdict = pol->default_action;
	v->rule_id = ~0U;
	v->why = FILTER_WHY_DEFAULT;
}
