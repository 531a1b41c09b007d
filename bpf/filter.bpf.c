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
#define PROTO_TCP    6
#define PROTO_UDP    17
#define IPV6_FRAG    44

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

/* XDP and tc: the kernel's conntrack table, looked up by the 5-tuple. Only
 * TCP and UDP can be looked up; other packets are "untracked" here. No
 * entry: the packet would open one, "new". ct_tuple fills the tuple and
 * returns its size, or 0 when the packet cannot be looked up. */
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

static __always_inline __u32 ct_found(struct nf_conn *ct, const struct filter_ct_opts *opts)
{
	__u32 state;

	if (!ct)
		return opts->error == -2 /* ENOENT */ ? FILTER_CT_NEW : FILTER_CT_INVALID;
	state = ct_entry_state(ct, opts->dir);
	bpf_ct_release(ct);
	return state;
}

static __noinline __u32 ct_lookup_xdp(struct xdp_md *ctx, const struct filter_pkt *p)
{
	struct filter_ct_opts opts = {};
	struct bpf_sock_tuple t = {};
	__u32 size = ct_tuple(p, &t, &opts);

	if (!ctx || !size)
		return FILTER_CT_UNTRACKED;
	return ct_found(bpf_xdp_ct_lookup(ctx, &t, size, &opts, sizeof(opts)), &opts);
}

static __noinline __u32 ct_lookup_skb(struct __sk_buff *ctx, const struct filter_pkt *p)
{
	struct filter_ct_opts opts = {};
	struct bpf_sock_tuple t = {};
	__u32 size = ct_tuple(p, &t, &opts);

	if (!ctx || !size)
		return FILTER_CT_UNTRACKED;
	return ct_found(bpf_skb_ct_lookup(ctx, &t, size, &opts, sizeof(opts)), &opts);
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

/* The packet's ct state, for a filter with ct rules. */
static __always_inline __u32 ct_state(const struct hook_ctx *h, const struct filter_pkt *p)
{
	if (h->test_ct)
		return h->test_ct - 1;
	if (h->hook == HOOK_NF)
		return ct_of_skb(((struct bpf_nf_ctx *)h->ctx)->skb);
	if (h->ct_kfuncs && h->hook == HOOK_XDP)
		return ct_lookup_xdp(h->ctx, p);
	if (h->ct_kfuncs && h->hook == HOOK_TC)
		return ct_lookup_skb(h->ctx, p);
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

/* The verdict of the rules for p (FILTER_PASS or FILTER_DROP); *rule_id is
 * the deciding rule's id or ~0 for the default. */
static __always_inline int filter_decide(const struct hook_ctx *h, struct filter_pkt *p,
					 __u32 *rule_id)
{
	struct filter_search *s;
	struct filter_ctl *ctl;
	struct filter_gen *g;
	struct filter_rule *r;
	__u32 key = 0, chain;
	__u64 l0;
	int v;

	*rule_id = ~0U;
	ctl = bpf_map_lookup_elem(&filter_ctl, &key);
	if (!ctl)
		return FILTER_PASS;
	if (!p->family) {
		filter_stat(FILTER_STAT_NONIP);
		return FILTER_PASS;
	}
	if (ctl->flags & FILTER_CTL_FLOWS) {
		v = flow_verdict(p);
		if (v == FLOW_NEW)
			report(h, p, FILTER_REC_FLOW, ctl->flow_source, ~0U, 0);
		if (v >= 0) {
			filter_stat(FILTER_STAT_FLOW);
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
	key = s->gen;
	g = bpf_map_lookup_elem(&filter_gens, &key);
	if (!g)
		return FILTER_PASS;
	if (g->field_mask & (1U << FILTER_F_CT))
		s->ct = ct_state(h, p);
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
		if (r)
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
	apply_rule(h, p, ctl, r);
	*rule_id = r->id;
	if (r->action == FILTER_RATELIMIT) {
		if (rate_allows(r, p))
			return FILTER_PASS;
		filter_stat(FILTER_STAT_RATELIMITED);
		return FILTER_DROP;
	}
	return r->action == FILTER_DROP ? FILTER_DROP : FILTER_PASS;
}

static __always_inline void parse_ports(struct filter_pkt *p, const __u8 *l4, bool tcp)
{
	p->sport = (__u16)l4[0] << 8 | l4[1];
	p->dport = (__u16)l4[2] << 8 | l4[3];
	p->tcp_flags = tcp ? l4[13] : 0;
	p->has_ports = 1;
}

/* Parses an Ethernet frame in [data, end) (XDP and tc). */
static __always_inline void parse_frame(struct filter_pkt *p, void *data, void *end)
{
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);
	__u16 type;
	__u8 *l4;

	if ((void *)(eth + 1) > end)
		return;
	type = eth->h_proto;
	if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
		if (data + off + 4 > end)
			return;
		type = *(__u16 *)(data + off + 2);
		off += 4;
	}
	if (type == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;
		__u32 ihl;

		if ((void *)(ip + 1) > end)
			return;
		p->family = 4;
		p->proto = ip->protocol;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip) || (bpf_ntohs(ip->frag_off) & 0x1fff))
			return;
		l4 = (__u8 *)ip + ihl;
	} else if (type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end)
			return;
		p->family = 6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		l4 = (__u8 *)(ip6 + 1);
		if (p->proto == IPV6_FRAG) {
			if ((void *)(l4 + 8) > end)
				return;
			p->proto = l4[0];
			if ((((__u16)l4[2] << 8 | l4[3]) & 0xfff8))
				return;
			l4 += 8;
		}
	} else {
		return;
	}
	if (p->proto == PROTO_TCP && (void *)(l4 + 14) <= end)
		parse_ports(p, l4, true);
	else if (p->proto == PROTO_UDP && (void *)(l4 + 8) <= end)
		parse_ports(p, l4, false);
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
		meta->pad = 0;
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
	__u32 rule_id;
	int v;

	if (meta && meta->ct <= FILTER_CT_NSTATES)
		h.test_ct = meta->ct;
	parse_frame(&p, data, end);
	v = filter_decide(&h, &p, &rule_id);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) <= (void *)(long)ctx->data && meta->magic == FILTER_TEST_MAGIC) {
		meta->verdict = v;
		meta->rule_id = rule_id;
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

static __always_inline int tc_main(struct __sk_buff *skb, bool ct_kfuncs)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct hook_ctx h = { .ctx = skb, .hook = HOOK_TC, .ct_kfuncs = ct_kfuncs };
	struct filter_pkt p = { .len = skb->len, .iif = skb->ingress_ifindex };
	__u32 rule_id;
	int v;

	parse_frame(&p, data, end);
	v = filter_decide(&h, &p, &rule_id);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	return v == FILTER_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int filter_tc(struct __sk_buff *skb)
{
	return tc_main(skb, false);
}

SEC("tc")
int filter_tc_ct(struct __sk_buff *skb)
{
	return tc_main(skb, true);
}

/* Parses an IP packet through a dynptr (netfilter: skb->data is the IP header). */
static __always_inline void parse_dynptr(struct filter_pkt *p, struct bpf_dynptr *dp)
{
	__u8 buf[sizeof(struct ipv6hdr)];
	struct ipv6hdr *ip6;
	struct iphdr *ip;
	__u32 off;
	__u8 *l4, *fh;

	ip = bpf_dynptr_slice(dp, 0, buf, sizeof(struct iphdr));
	if (!ip)
		return;
	if (ip->version == 4) {
		p->family = 4;
		p->proto = ip->protocol;
		__builtin_memcpy(p->src, &ip->saddr, 4);
		__builtin_memcpy(p->dst, &ip->daddr, 4);
		off = ip->ihl * 4;
		if (off < sizeof(*ip) || (bpf_ntohs(ip->frag_off) & 0x1fff))
			return;
	} else if (ip->version == 6) {
		ip6 = bpf_dynptr_slice(dp, 0, buf, sizeof(buf));
		if (!ip6)
			return;
		p->family = 6;
		p->proto = ip6->nexthdr;
		__builtin_memcpy(p->src, &ip6->saddr, 16);
		__builtin_memcpy(p->dst, &ip6->daddr, 16);
		off = sizeof(*ip6);
		if (p->proto == IPV6_FRAG) {
			fh = bpf_dynptr_slice(dp, off, buf, 8);
			if (!fh)
				return;
			p->proto = fh[0];
			if ((((__u16)fh[2] << 8 | fh[3]) & 0xfff8))
				return;
			off += 8;
		}
	} else {
		return;
	}
	if (p->proto == PROTO_TCP) {
		l4 = bpf_dynptr_slice(dp, off, buf, 14);
		if (l4)
			parse_ports(p, l4, true);
	} else if (p->proto == PROTO_UDP) {
		l4 = bpf_dynptr_slice(dp, off, buf, 8);
		if (l4)
			parse_ports(p, l4, false);
	}
}

SEC("lbpf/netfilter")
int filter_nf(struct bpf_nf_ctx *ctx)
{
	struct sk_buff *skb = ctx->skb;
	const struct nf_hook_state *state = ctx->state;
	struct bpf_dynptr dp;
	struct hook_ctx h = { .ctx = ctx, .dynptr = &dp, .hook = HOOK_NF };
	struct filter_pkt p = {};
	struct net_device *in;
	__u32 rule_id;
	int v;

	if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &dp))
		return NF_ACCEPT;
	p.len = skb->len;
	in = state->in;
	if (in)
		p.iif = in->ifindex;
	parse_dynptr(&p, &dp);
	v = filter_decide(&h, &p, &rule_id);
	filter_stat(v == FILTER_DROP ? FILTER_STAT_DROP : FILTER_STAT_PASS);
	return v == FILTER_DROP ? NF_DROP : NF_ACCEPT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
