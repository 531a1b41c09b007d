// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The packet filter: three entry points (XDP, tc, netfilter) around one rule
 * engine (filter.bpf.h, where the design is described). Each entry point
 * parses the packet into a struct filter_pkt and maps the engine's verdict to
 * its hook's return codes. The netfilter program sits in a custom section:
 * libbpf 1.1 has no SEC("netfilter"), so userspace sets its type and attach
 * type and creates the link itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "filter.bpf.h"

#define ETH_P_IP     0x0800
#define ETH_P_IPV6   0x86DD
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8
#define TC_ACT_OK    0
#define TC_ACT_SHOT  2
#define NF_DROP      0
#define NF_ACCEPT    1
#define ETH_HLEN     14
#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_DCCP   33
#define PROTO_ESP    50
#define PROTO_AH     51
#define PROTO_ICMPV6 58
#define PROTO_SCTP   132
#define PROTO_UDPLITE 136
#define IPV6_HOP     0
#define IPV6_ROUTING 43
#define IPV6_FRAG    44
#define IPV6_DSTOPTS 60
#define FILTER_MAX_VLAN 2
#define PARSE_MAX_OFF 4096 /* header bytes walked in a frame */

enum filter_hook { HOOK_XDP, HOOK_TC, HOOK_NF };

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym __weak;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, __u32 offset, void *buffer,
			      __u32 buffer__szk) __ksym __weak;

/* The kernel's conntrack lookups for XDP and skb programs (Linux 6.0+, in
 * nf_conntrack). Only the *_ct programs call them: userspace loads those
 * where the kernel has the kfuncs, the plain ones elsewhere. */
struct filter_ct_opts {       /* struct bpf_ct_opts as of 6.0: 12 bytes */
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u8 reserved[2];
};
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple_size, struct filter_ct_opts *opts,
					 __u32 opts_size) __ksym __weak;
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *ctx, struct bpf_sock_tuple *tuple,
					 __u32 tuple_size, struct filter_ct_opts *opts,
					 __u32 opts_size) __ksym __weak;
extern void bpf_ct_release(struct nf_conn *ct) __ksym __weak;

/* Where a hook's packet bytes come from, for log records, and how it finds
 * the packet's connection-tracking state. */
struct hook_ctx {
	void *ctx;
	struct bpf_dynptr *dynptr;
	int hook;
	bool ct_kfuncs;       /* a *_ct program: it may look conntrack up */
	__u32 test_ct;        /* fw:test's ct state + 1, 0 = none */
};

/* The record sent to userspace: struct lbpf_record, then the report. */
struct filter_record {
	struct lbpf_record hdr;
	struct filter_report r;
};

/* n = min(len, FILTER_LOG_BYTES), computed so that an older verifier (6.1), which
 * learns nothing from "n != 0", still sees n >= 1: it refuses a size of 0. */
static __always_inline void copy_bytes(const struct hook_ctx *h, __u8 *buf, __u32 len)
{
	__u64 n; /* 64 bits: a compare on a zero-extended copy would not bound n */

	if (len == 0)
		return;
	n = (__u64)len - 1;
	asm volatile("" : "+r"(n)); /* keep clang from folding this back into min(len, 64) */
	if (n > FILTER_LOG_BYTES - 1)
		n = FILTER_LOG_BYTES - 1;
	n += 1;
	if (h->hook == HOOK_XDP)
		bpf_xdp_load_bytes(h->ctx, 0, buf, n);
	else if (h->hook == HOOK_TC)
		bpf_skb_load_bytes(h->ctx, 0, buf, n);
	else
		bpf_dynptr_read(buf, n, h->dynptr, 0, 0);
}

static __always_inline void report(const struct hook_ctx *h, const struct filter_pkt *p,
				   __u32 kind, __u32 source, __u32 rule_id, __u32 action)
{
	struct filter_record *rec;

	if (!source || !lbpf_runtime_live())
		return;
	rec = bpf_ringbuf_reserve(&lbpf_events, sizeof(*rec), 0);
	if (!rec) {
		filter_stat(FILTER_STAT_LOG_LOST);
		return;
	}
	lbpf_record_init(&rec->hdr, source);
	rec->r.kind = kind;
	rec->r.rule_id = rule_id;
	rec->r.action = action;
	rec->r.caplen = p->len < FILTER_LOG_BYTES ? p->len : FILTER_LOG_BYTES;
	rec->r.pkt = *p;
	copy_bytes(h, rec->r.bytes, p->len);
	lbpf_record_submit(rec);
}

#define IP_CT_DIR_REPLY_ 1
#define IPS_EXPECTED_    (1UL << 0)
#define IPS_SEEN_REPLY_  (1UL << 1)
#define IP_CT_IS_REPLY_  3
#define IP_CT_UNTRACKED_ 7

/* The state of a conntrack entry the lookup found, for a packet in
 * direction dir, as conntrack would give it (nf_conntrack_in). */
static __always_inline __u32 ct_entry_state(struct nf_conn *ct, __u8 dir)
{
	unsigned long status = ct->status;

	if (dir == IP_CT_DIR_REPLY_ || (status & IPS_SEEN_REPLY_))
		return FILTER_CT_ESTABLISHED;
	return status & IPS_EXPECTED_ ? FILTER_CT_RELATED : FILTER_CT_NEW;
}

/* The packet's own 5-tuple for the conntrack kfuncs, which take only TCP
 * and UDP: fills t and returns its size, or 0 when the packet cannot be
 * looked up. */
static __always_inline __u32 ct_tuple(const struct filter_pkt *p, struct bpf_sock_tuple *t,
				      struct filter_ct_opts *opts)
{
	if (!p->has_ports || (p->proto != PROTO_TCP && p->proto != PROTO_UDP))
		return 0;
	opts->netns_id = -1; /* BPF_F_CURRENT_NETNS */
	opts->l4proto = p->proto;
	if (p->family == 4) {
		__builtin_memcpy(&t->ipv4.saddr, p->src, 4);
		__builtin_memcpy(&t->ipv4.daddr, p->dst, 4);
		t->ipv4.sport = bpf_htons(p->sport);
		t->ipv4.dport = bpf_htons(p->dport);
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, p->src, 16);
	__builtin_memcpy(t->ipv6.daddr, p->dst, 16);
	t->ipv6.sport = bpf_htons(p->sport);
	t->ipv6.dport = bpf_htons(p->dport);
	return sizeof(t->ipv6);
}

/* A packet's own lookup: no entry means the packet would open one, "new". */
static __always_inline __u32 ct_found(struct nf_conn *ct, const struct filter_ct_opts *opts)
{
	__u32 state;

	if (!ct)
		return opts->error == -2 /* ENOENT */ ? FILTER_CT_NEW : FILTER_CT_INVALID;
	state = ct_entry_state(ct, opts->dir);
	bpf_ct_release(ct);
	return state;
}

/* An ICMP or ICMPv6 error (destination unreachable, time exceeded, packet
 * too big, ...) quotes the head of the packet it answers. */
static __always_inline bool icmp_error(const struct filter_pkt *p)
{
	__u8 t = p->icmp_type;

	if (!p->has_icmp)
		return false;
	if (p->family == 4)
		return p->proto == PROTO_ICMP && (t == 3 || t == 4 || t == 5 || t == 11 || t == 12);
	return p->proto == PROTO_ICMPV6 && t < 128;
}

/* The tuple of the TCP or UDP packet an ICMP error quotes, which conntrack
 * looks up to call the error "related" (nf_conntrack_inet_error): the quoted
 * IP header and ports follow the 8-byte ICMP header at icmp_off, read with
 * the hook's load_bytes helper. 0 when the quote is cut short, a later
 * fragment, not TCP or UDP, or (IPv6) behind extension headers. */
static __always_inline __u32 ct_inner_tuple(void *ctx, bool xdp, const struct filter_pkt *p,
					    __u32 icmp_off, struct bpf_sock_tuple *t,
					    struct filter_ct_opts *opts)
{
	__u32 off = icmp_off + 8, ihl = 40;
	__u8 ip[40], ports[4];
	__u8 proto;
	int err;

	err = xdp ? bpf_xdp_load_bytes(ctx, off, ip, p->family == 4 ? 20 : 40)
		  : bpf_skb_load_bytes(ctx, off, ip, p->family == 4 ? 20 : 40);
	if (err)
		return 0;
	if (p->family == 4) {
		ihl = (ip[0] & 0xf) * 4;
		proto = ip[9];
		if (ip[0] >> 4 != 4 || ihl < 20 || ((ip[6] & 0x1f) | ip[7]))
			return 0;
	} else {
		proto = ip[6];
		if (ip[0] >> 4 != 6)
			return 0;
	}
	if (proto != PROTO_TCP && proto != PROTO_UDP)
		return 0;
	err = xdp ? bpf_xdp_load_bytes(ctx, off + ihl, ports, 4)
		  : bpf_skb_load_bytes(ctx, off + ihl, ports, 4);
	if (err)
		return 0;
	opts->netns_id = -1;
	opts->l4proto = proto;
	if (p->family == 4) {
		__builtin_memcpy(&t->ipv4.saddr, ip + 12, 4);
		__builtin_memcpy(&t->ipv4.daddr, ip + 16, 4);
		__builtin_memcpy(&t->ipv4.sport, ports, 2);
		__builtin_memcpy(&t->ipv4.dport, ports + 2, 2);
		return sizeof(t->ipv4);
	}
	__builtin_memcpy(t->ipv6.saddr, ip + 8, 16);
	__builtin_memcpy(t->ipv6.daddr, ip + 24, 16);
	__builtin_memcpy(&t->ipv6.sport, ports, 2);
	__builtin_memcpy(&t->ipv6.dport, ports + 2, 2);
	return sizeof(t->ipv6);
}

/* XDP and tc: the kernel's conntrack table, looked up by the packet's
 * 5-tuple, or for an ICMP error by the packet it quotes, which is then
 * "related" when that connection exists and "invalid" when not (as
 * conntrack gives it). */
static __always_inline __u32 ct_lookup(void *ctx, bool xdp, const struct filter_pkt *p,
				       __u32 icmp_off)
{
	struct filter_ct_opts opts = {};
	struct bpf_sock_tuple t = {};
	struct nf_conn *ct;
	__u32 size = ct_tuple(p, &t, &opts);
	bool error = false;

	if (!size && icmp_error(p)) {
		size = ct_inner_tuple(ctx, xdp, p, icmp_off, &t, &opts);
		error = true;
	}
	if (!size)
		return FILTER_CT_UNTRACKED;
	ct = xdp ? bpf_xdp_ct_lookup(ctx, &t, size, &opts, sizeof(opts))
		 : bpf_skb_ct_lookup(ctx, &t, size, &opts, sizeof(opts));
	if (!error)
		return ct_found(ct, &opts);
	if (!ct)
		return FILTER_CT_INVALID;
	bpf_ct_release(ct);
	return FILTER_CT_RELATED;
}

/* The lookups are global functions, which the verifier checks once, not
 * once for every way the parser can reach them (each state it keeps there
 * would walk the ICMP quote's branches again: past the 1M-instruction limit).
 * So p may be NULL to it, and the result is any number: ct_state masks it. */
__noinline __u32 ct_lookup_xdp(struct xdp_md *ctx, const struct filter_pkt *p, __u32 icmp_off)
{
	return p ? ct_lookup(ctx, true, p, icmp_off) : FILTER_CT_UNTRACKED;
}

__noinline __u32 ct_lookup_skb(struct __sk_buff *ctx, const struct filter_pkt *p, __u32 icmp_off)
{
	return p ? ct_lookup(ctx, false, p, icmp_off) : FILTER_CT_UNTRACKED;
}

/* netfilter: the entry conntrack attached to the skb (nft's ct state). */
static __always_inline __u32 ct_of_skb(struct sk_buff *skb)
{
	unsigned long nfct, info;

	if (!bpf_core_field_exists(skb->_nfct))
		return FILTER_CT_UNTRACKED;
	nfct = skb->_nfct;
	info = nfct & 7;
	if (!(nfct & ~7UL))
		return info == IP_CT_UNTRACKED_ ? FILTER_CT_UNTRACKED : FILTER_CT_INVALID;
	info %= IP_CT_IS_REPLY_;
	return info == 0 ? FILTER_CT_ESTABLISHED : info == 1 ? FILTER_CT_RELATED : FILTER_CT_NEW;
}

/* The packet's ct state, for a filter with ct rules; icmp_off: the parser's
 * note (note_icmp_off), read only for an ICMP error. */
static __always_inline __u32 ct_state(const struct hook_ctx *h, const struct filter_pkt *p,
				      __u32 icmp_off)
{
	if (h->test_ct)
		return h->test_ct - 1;
	if (h->hook == HOOK_NF)
		return ct_of_skb(((struct bpf_nf_ctx *)h->ctx)->skb);
	if (h->ct_kfuncs && h->hook == HOOK_XDP)
		return ct_lookup_xdp(h->ctx, p, icmp_off);
	if (h->ct_kfuncs && h->hook == HOOK_TC)
		return ct_lookup_skb(h->ctx, p, icmp_off);
	return FILTER_CT_UNTRACKED;
}

#define FLOW_RULES -1 /* follow the rules */
#define FLOW_NEW   -2 /* the same, and report the flow */

/* A cached on_new_flow verdict (FILTER_PASS/DROP) or FLOW_RULES / FLOW_NEW;
 * an unknown flow is entered as pending. */
static __noinline int flow_verdict(const struct filter_pkt *p)
{
	struct filter_flow_key key = {
		.family = p->family,
		.proto = p->proto,
		.sport = p->has_ports ? p->sport : 0,
		.dport = p->has_ports ? p->dport : 0,
	};
	struct filter_flow *f, fresh = { .state = FILTER_FLOW_PENDING };

	__builtin_memcpy(key.src, p->src, 16);
	__builtin_memcpy(key.dst, p->dst, 16);
	f = bpf_map_lookup_elem(&filter_flows, &key);
	if (f) {
		if (f->state == FILTER_FLOW_PASS)
			return FILTER_PASS;
		if (f->state == FILTER_FLOW_DROP)
			return FILTER_DROP;
		return FLOW_RULES;
	}
	fresh.ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&filter_flows, &key, &fresh, BPF_NOEXIST) == 0)
		return FLOW_NEW;
	return FLOW_RULES;
}

/* Counts and logs a matched rule. */
static __always_inline void apply_rule(const struct hook_ctx *h, const struct filter_pkt *p,
				       const struct filter_ctl *ctl, const struct filter_rule *r)
{
	count_rule(r, p);
	if ((r->flags & FILTER_RULE_LOG) &&
	    (r->sample <= 1 || bpf_get_prandom_u32() % r->sample == 0))
		report(h, p, FILTER_REC_LOG, ctl->log_source, r->id, r->action);
}

/* The verdict of a packet the rules cannot judge (*why says which kind). */
static __always_inline int unparsed_verdict(const struct filter_gen *g, const struct filter_pkt *p,
					    __u32 *why)
{
	if (p->parse == FILTER_PARSE_FRAG) {
		*why = FILTER_WHY_FRAGMENT;
		return g->fragment_action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
	}
	*why = FILTER_WHY_UNPARSED;
	return g->unparsed_action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
}

/* The verdict of the rules for p (FILTER_PASS or FILTER_DROP); *rule_id is
 * the deciding rule's id or ~0, *why what decided (enum filter_why). */
static __always_inline int filter_decide(const struct hook_ctx *h, struct filter_pkt *p,
					 __u32 *rule_id, __u32 *why)
{
	struct filter_search *s;
	struct filter_ctl *ctl;
	struct filter_gen *g;
	struct filter_rule *r;
	__u32 key = 0, chain;
	__u64 l0;
	int v;

	*rule_id = ~0U;
	*why = FILTER_WHY_DEFAULT;
	ctl = bpf_map_lookup_elem(&filter_ctl, &key);
	if (!ctl)
		return FILTER_PASS;
	if (!p->family && p->parse == FILTER_PARSE_OK) {
		filter_stat(FILTER_STAT_NONIP);
		*why = FILTER_WHY_NONIP;
		return FILTER_PASS;
	}
	key = ctl->gen & 1;
	g = bpf_map_lookup_elem(&filter_gens, &key);
	if (!g)
		return FILTER_PASS;
	if (p->parse != FILTER_PARSE_OK)
		filter_stat(p->parse == FILTER_PARSE_FRAG ? FILTER_STAT_FRAGMENT
							  : FILTER_STAT_UNPARSED);
	if (p->parse == FILTER_PARSE_IP)
		return unparsed_verdict(g, p, why);
	if ((ctl->flags & FILTER_CTL_FLOWS) && p->parse == FILTER_PARSE_OK) {
		v = flow_verdict(p);
		if (v == FLOW_NEW)
			report(h, p, FILTER_REC_FLOW, ctl->flow_source, ~0U, 0);
		if (v >= 0) {
			filter_stat(FILTER_STAT_FLOW);
			*why = FILTER_WHY_FLOW;
			return v;
		}
	}
	key = 0;
	s = bpf_map_lookup_elem(&filter_scratch, &key);
	if (!s)
		return FILTER_PASS;
	/* the per-field arrays are written before they are read (only fields in
	 * the mask are); the scalars start afresh */
	s->mask = s->wild = s->i = s->w = s->nhits = 0;
	s->result = -1;
	s->cand0 = s->cand1 = s->leaf = 0;
	s->gen = ctl->gen & 1;
	if (g->field_mask & (1U << FILTER_F_CT))
		s->ct = ct_state(h, p, s->icmp_off);
	if (g->nrules) {
		l0 = filter_classify(s, g, p);
		filter_search(s, l0, g);
	} else {
		s->result = -1;
	}
	for (chain = 0; chain < FILTER_MAX_CHAIN; chain++) {
		if (chain >= s->nhits)
			break;
		key = s->gen * rule_cap + s->hits[chain];
		r = bpf_map_lookup_elem(&filter_rules, &key);
		if (r && !rule_unsure(r, p)) /* a maybe-match is no match */
			apply_rule(h, p, ctl, r);
	}
	if (s->result < 0) {
		filter_stat(FILTER_STAT_DEFAULT);
		return g->default_action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
	}
	key = s->gen * rule_cap + (__u32)s->result;
	r = bpf_map_lookup_elem(&filter_rules, &key);
	if (!r)
		return FILTER_PASS;
	if (rule_unsure(r, p))
		return unparsed_verdict(g, p, why);
	apply_rule(h, p, ctl, r);
	*rule_id = r->id;
	*why = FILTER_WHY_RULE;
	if (r->action == FILTER_RATELIMIT) {
		if (rate_allows(r, p))
			return FILTER_PASS;
		filter_stat(FILTER_STAT_RATELIMITED);
		return FILTER_DROP;
	}
	return r->action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
}

/* Where the parser reads: an Ethernet frame in [data, end) (XDP, tc), or an
 * IP packet through a dynptr (netfilter, dp set). Every caller is inlined
 * with constants, so each program keeps one of the two ways. */
struct cursor {
	void *data;
	void *end;
	struct bpf_dynptr *dp;
};

/* n bytes at off, or NULL past the end; a dynptr may copy them into buf. */
static __always_inline const __u8 *cursor_at(const struct cursor *c, __u32 off, void *buf,
					     __u32 n)
{
	__u8 *at;

	if (c->dp)
		return bpf_dynptr_slice(c->dp, off, buf, n);
	if (off > PARSE_MAX_OFF) /* bounds the offset for the verifier */
		return NULL;
	at = c->data + off;
	if ((void *)(at + n) > c->end)
		return NULL;
	return at;
}

static __always_inline void note_icmp_off(__u32 off)
{
	__u32 key = 0;
	struct filter_search *s = bpf_map_lookup_elem(&filter_scratch, &key);

	if (s)
		s->icmp_off = off;
}

static __always_inline void read_ports(struct filter_pkt *p, const __u8 *l4)
{
	p->sport = (__u16)l4[0] << 8 | l4[1];
	p->dport = (__u16)l4[2] << 8 | l4[3];
	p->has_ports = 1;
	p->parse = FILTER_PARSE_OK;
}

/* The transport header at off, which must end before the IP datagram does
 * (ipend): ports and flags, or ICMP type and code. A header that is not all
 * there (truncated, or a first fragment too short for it) is not read.
 * Each protocol reads in its own branch: the verifier keeps the length
 * checked with the pointer only along one path. */
static __always_inline void parse_transport(struct filter_pkt *p, const struct cursor *c,
					    __u32 off, __u32 ipend)
{
	__u8 buf[20];
	const __u8 *l4;
	__u8 proto = p->proto;

	p->parse = FILTER_PARSE_L4;
	if (proto == PROTO_TCP) {
		l4 = off + 20 <= ipend ? cursor_at(c, off, buf, 20) : NULL;
		if (l4) {
			p->tcp_flags = l4[13];
			read_ports(p, l4);
		}
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		l4 = off + 8 <= ipend ? cursor_at(c, off, buf, 8) : NULL;
		if (l4) {
			p->icmp_type = l4[0];
			p->icmp_code = l4[1];
			p->has_icmp = 1;
			note_icmp_off(off);
			p->parse = FILTER_PARSE_OK;
		}
	} else if (proto == PROTO_UDP || proto == PROTO_UDPLITE || proto == PROTO_SCTP ||
		   proto == PROTO_DCCP) {
		l4 = off + 8 <= ipend ? cursor_at(c, off, buf, 8) : NULL;
		if (l4)
			read_ports(p, l4);
	} else if (proto != PROTO_ESP) { /* ESP hides its transport header */
		p->parse = FILTER_PARSE_OK; /* a protocol without fields the rules read */
	}
}

#define WALKED_EXT (1ULL << IPV6_HOP | 1ULL << IPV6_ROUTING | 1ULL << IPV6_FRAG | \
		    1ULL << IPV6_DSTOPTS | 1ULL << PROTO_AH)

/* Extension headers the parser walks (AH also after IPv4); all below 64. */
static __always_inline bool walked_ext(__u8 nh)
{
	return nh < 64 && (WALKED_EXT >> nh & 1);
}

/* Headers that may come before a transport header but are not walked. */
static __always_inline bool unwalked_ext(__u8 nh)
{
	return nh == 139 || nh == 140 || nh == 253 || nh == 254; /* HIP, shim6, experiments */
}

/* Walks the header chain from next header nh at off to the transport header. */
static __always_inline void parse_chain(struct filter_pkt *p, const struct cursor *c, __u8 nh,
					__u32 off, __u32 ipend)
{
	__u8 buf[8];
	const __u8 *h;
	__u32 i;

	for (i = 0; i < FILTER_MAX_EXT && walked_ext(nh); i++) {
		h = off + 8 <= ipend ? cursor_at(c, off, buf, 8) : NULL;
		if (!h) {
			p->proto = nh;
			p->parse = FILTER_PARSE_PROTO;
			return;
		}
		if (nh == IPV6_FRAG) {
			off += 8;
			nh = h[0];
			if (((__u16)h[2] << 8 | h[3]) & 0xfff8) { /* a later fragment */
				p->proto = nh;
				p->parse = walked_ext(nh) || unwalked_ext(nh) ? FILTER_PARSE_PROTO
									      : FILTER_PARSE_FRAG;
				return;
			}
		} else {
			off += nh == PROTO_AH ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
			nh = h[0];
		}
	}
	p->proto = nh;
	p->parse = FILTER_PARSE_PROTO;
	if (walked_ext(nh) || unwalked_ext(nh)) /* deeper than FILTER_MAX_EXT, or not walked */
		return;
	parse_transport(p, c, off, ipend);
}

static __always_inline void parse_ipv4(struct filter_pkt *p, const struct cursor *c, __u32 l3)
{
	__u8 buf[20];
	const struct iphdr *ip = (const void *)cursor_at(c, l3, buf, sizeof(*ip));
	__u32 ihl, total;

	p->family = 4;
	p->parse = FILTER_PARSE_IP;
	if (!ip || ip->version != 4)
		return;
	ihl = ip->ihl * 4;
	total = bpf_ntohs(ip->tot_len);
	if (ihl < sizeof(*ip) || total < ihl)
		return;
	p->proto = ip->protocol;
	p->iplen = total;
	__builtin_memcpy(p->src, &ip->saddr, 4);
	__builtin_memcpy(p->dst, &ip->daddr, 4);
	if (bpf_ntohs(ip->frag_off) & 0x1fff) {
		p->parse = FILTER_PARSE_FRAG;
		return;
	}
	if (p->proto == PROTO_AH)
		parse_chain(p, c, p->proto, l3 + ihl, l3 + total);
	else
		parse_transport(p, c, l3 + ihl, l3 + total);
}

static __always_inline void parse_ipv6(struct filter_pkt *p, const struct cursor *c, __u32 l3)
{
	__u8 buf[40];
	const struct ipv6hdr *ip6 = (const void *)cursor_at(c, l3, buf, sizeof(*ip6));
	__u32 plen;

	p->family = 6;
	p->parse = FILTER_PARSE_IP;
	if (!ip6 || ip6->version != 6)
		return;
	plen = bpf_ntohs(ip6->payload_len);
	p->iplen = plen + sizeof(*ip6);
	__builtin_memcpy(p->src, &ip6->saddr, 16);
	__builtin_memcpy(p->dst, &ip6->daddr, 16);
	/* a payload length of 0 (jumbogram) leaves the frame's end as the limit */
	parse_chain(p, c, ip6->nexthdr, l3 + sizeof(*ip6),
		    plen ? l3 + sizeof(*ip6) + plen : ~0U);
}

/* Parses an Ethernet frame: up to two VLAN tags, then IPv4 or IPv6. */
static __always_inline void parse_frame(struct filter_pkt *p, const struct cursor *c)
{
	__u8 buf[ETH_HLEN];
	const __u8 *h = cursor_at(c, 0, buf, ETH_HLEN);
	__u32 off = ETH_HLEN, i;
	__u16 type;

	p->parse = FILTER_PARSE_IP;
	if (!h)
		return;
	type = (__u16)h[12] << 8 | h[13];
	for (i = 0; i < FILTER_MAX_VLAN; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		h = cursor_at(c, off, buf, 4);
		if (!h)
			return;
		type = (__u16)h[2] << 8 | h[3];
		off += 4;
	}
	if (type == ETH_P_IP)
		parse_ipv4(p, c, off);
	else if (type == ETH_P_IPV6)
		parse_ipv6(p, c, off);
	else if (type != ETH_P_8021Q && type != ETH_P_8021AD) /* else: more tags than walked */
		p->parse = FILTER_PARSE_OK; /* non-IP */
}

/* fw:test's metadata in front of the packet: it may carry the packet's ct
 * state (a test packet has no conntrack entry), and gets the verdict. */
static __always_inline struct filter_test_meta *test_meta(struct xdp_md *ctx)
{
	struct filter_test_meta *meta = (void *)(long)ctx->data_meta;
	struct filter_ctl *ctl;
	__u32 key = 0;

	ctl = bpf_map_lookup_elem(&filter_ctl, &key);
	if (!ctl || !(ctl->flags & FILTER_CTL_TESTMETA))
		return NULL;
	if ((void *)(meta + 1) > (void *)(long)ctx->data || meta->magic != FILTER_TEST_MAGIC) {
		if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta)))
			return NULL;
		meta = (void *)(long)ctx->data_meta;
		if ((void *)(meta + 1) > (void *)(long)ctx->data)
			return NULL;
		meta->magic = FILTER_TEST_MAGIC;
		meta->why = 0;
		meta->ct = 0;
	}
	return meta;
}

static __always_inline int xdp_main(struct xdp_md *ctx, bool ct_kfuncs)
{
	struct hook_ctx h = { .ctx = ctx, .hook = HOOK_XDP, .ct_kfuncs = ct_kfuncs };
	struct filter_test_meta *meta = test_meta(ctx);
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct filter_pkt p = { .len = end - data, .iif = ctx->ingress_ifindex };
	struct cursor c = { .data = data, .end = end };
	__u32 rule_id, why;
	int v;

	if (meta && meta->ct <= FILTER_CT_NSTATES)
		h.test_ct = meta->ct;
	parse_frame(&p, &c);
	v = filter_decide(&h, &p, &rule_id, &why);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) <= (void *)(long)ctx->data && meta->magic == FILTER_TEST_MAGIC) {
		meta->verdict = v;
		meta->rule_id = rule_id;
		meta->why = why;
	}
	return v == FILTER_DROP ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int filter_xdp(struct xdp_md *ctx)
{
	return xdp_main(ctx, false);
}

SEC("xdp")
int filter_xdp_ct(struct xdp_md *ctx)
{
	return xdp_main(ctx, true);
}

/* lbpf test: the tc and netfilter programs' test verdict, which their
 * BPF_PROG_TEST_RUN cannot carry in front of the packet as XDP's does:
 * userspace sets magic before the run and reads verdict, rule and why after.
 * The packets' ct state (+ 1) is a constant of the load, as `lbpf test --ct`
 * gives one state for a whole capture: a state read at run time would double
 * the verifier's work past its limit. Only the *_test programs, which `lbpf
 * test` alone loads, use either. */
struct filter_test_meta filter_test_note;
const volatile __u32 test_ct_state = 0;

static __always_inline void note_test(bool test, int v, __u32 rule_id, __u32 why)
{
	if (!test || filter_test_note.magic != FILTER_TEST_MAGIC)
		return;
	filter_test_note.verdict = v;
	filter_test_note.rule_id = rule_id;
	filter_test_note.why = why;
}

static __always_inline int tc_main(struct __sk_buff *skb, bool ct_kfuncs, bool test)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct hook_ctx h = { .ctx = skb, .hook = HOOK_TC, .ct_kfuncs = ct_kfuncs };
	struct filter_pkt p = { .len = skb->len, .iif = skb->ingress_ifindex };
	struct cursor c = { .data = data, .end = end };
	__u32 rule_id, why;
	int v;

	if (test)
		h.test_ct = test_ct_state;
	parse_frame(&p, &c);
	v = filter_decide(&h, &p, &rule_id, &why);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	note_test(test, v, rule_id, why);
	return v == FILTER_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int filter_tc(struct __sk_buff *skb)
{
	return tc_main(skb, false, false);
}

SEC("tc")
int filter_tc_ct(struct __sk_buff *skb)
{
	return tc_main(skb, true, false);
}

SEC("tc")
int filter_tc_test(struct __sk_buff *skb)
{
	return tc_main(skb, false, true);
}

static __always_inline int nf_main(struct bpf_nf_ctx *ctx, bool test)
{
	struct sk_buff *skb = ctx->skb;
	const struct nf_hook_state *state = ctx->state;
	struct bpf_dynptr dp;
	struct hook_ctx h = { .ctx = ctx, .dynptr = &dp, .hook = HOOK_NF };
	struct cursor c = { .dp = &dp };
	struct filter_pkt p = {};
	struct net_device *in;
	__u8 buf[1];
	const __u8 *ver;
	__u32 rule_id, why;
	int v;

	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &dp))
		return NF_ACCEPT;
	if (test)
		h.test_ct = test_ct_state;
	p.len = skb->len;
	in = state->in;
	if (in)
		p.iif = in->ifindex;
	/* skb->data is the IP header */
	ver = cursor_at(&c, 0, buf, 1);
	if (ver && *ver >> 4 == 6)
		parse_ipv6(&p, &c, 0);
	else
		parse_ipv4(&p, &c, 0);
	v = filter_decide(&h, &p, &rule_id, &why);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	note_test(test, v, rule_id, why);
	return v == FILTER_DROP ? NF_DROP : NF_ACCEPT;
}

SEC("lbpf/netfilter")
int filter_nf(struct bpf_nf_ctx *ctx)
{
	return nf_main(ctx, false);
}

SEC("lbpf/netfilter")
int filter_nf_test(struct bpf_nf_ctx *ctx)
{
	return nf_main(ctx, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
