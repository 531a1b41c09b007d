/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The packet filter's rule engine, shared by the XDP, tc and netfilter entry
 * points of bpf/filter.bpf.c. Userspace (user/filter_compile.c) compiles an
 * ordered rule list into the maps below; this file only looks things up.
 *
 * Classification: bit vectors, with no loop over rules.
 *  - Every rule has a position p (its order). A set of rules is a bitmap of
 *    FILTER_MAX_RULES bits kept in three levels: one level-0 word whose bit i
 *    says "level-1 word i is not zero", 32 level-1 words whose bit j says
 *    "leaf word 64*i+j is not zero", and 2048 leaf words.
 *  - Per field (src, dst, sport, dport, meta, length, iif) the packet's value
 *    maps to a class: the set of rules whose condition on that field holds.
 *    Addresses: the first 16 bits index a directory of elementary intervals
 *    (from the rules' prefixes), then a binary search inside that /16 with a
 *    per-generation fixed number of steps (the longest run in one /16, about
 *    4 at 100,000 random prefixes). Ports, length and meta (protocol, TCP
 *    flags, ICMP type and code: FILTER_META_ANY) are direct arrays. iif: a
 *    hash. Classes are sparse bitmaps in a pool (struct filter_desc), so
 *    memory grows with the rules, not with rules x classes.
 *  - Rules that do not constrain a field are in that field's dense wildcard
 *    bitmap, OR-ed in; fields no rule constrains are skipped entirely, and
 *    once the level-0 AND of the fields read so far is empty, so are the rest.
 *  - The first match is the lowest set bit of the AND over fields. The search
 *    ANDs the level-0 words, takes the lowest candidate, ANDs the level-1
 *    words there, then the leaf words; a summary bit that does not survive
 *    the AND at the next level is a false candidate and the search moves on
 *    (bpf_loop, bounded by the number of words). With a typical rule set the
 *    first candidate is the answer, so the cost is a constant number of map
 *    reads whatever the number of rules; the adversarial worst case is one
 *    step per non-zero word (131072 rules: 2080 steps), never one per rule.
 *  - "count" rules are not terminal: the search resumes after them, up to
 *    FILTER_MAX_CHAIN times per packet; further count rules are then skipped.
 *
 * Atomic updates: every rule-set map has two generations. Userspace writes
 * the idle one (the maps are mmap-ed), flips filter_ctl.gen with one map
 * update, then waits an RCU grace period (an update of a map-in-map waits
 * for running programs) before the old generation may be rewritten. A
 * packet reads gen once, so it sees the old rule set or the new one.
 *
 * Sets: LPM tries (keys: a family byte, then the address, so an IPv6 entry
 * never holds an IPv4 address) in an array of maps; the value is an expiry time (CLOCK_MONOTONIC ns, 0 = none). An
 * expired entry is treated as absent here and swept from userspace. A rule
 * with src = set is in the src wildcard; the "src set" field's value is the
 * mask of the sets that hold the packet's source, and the compiler emits one
 * class per mask (256): the rules without a src set plus those whose set is
 * in the mask.
 *
 * Rate limits: GCRA (a token bucket) per (rule, source address) in an LRU
 * hash; the packet rate allows `burst` back-to-back packets, the byte rate
 * `burst` full-size (1500-byte) packets.
 *
 * Flows (on_new_flow): an LRU of 5-tuples. The first packet of an unknown
 * flow is reported and marked pending; until userspace decides, the flow's
 * packets follow the rules. A cached pass/drop applies before the rules.
 *
 * Parsing (bpf/filter.bpf.c) walks two VLAN tags, IPv4 options, IPv6
 * extension headers (hop-by-hop, routing, destination options, fragment, AH;
 * FILTER_MAX_EXT deep, in any order) and AH after IPv4, and says in
 * filter_pkt.parse how far it got. Non-IP traffic (a real non-IP ethertype)
 * passes. A packet that was not fully read is classified with "maybe"
 * classes for what is unknown (every rule with a port condition for the
 * ports, every rule of its protocol, or with any protocol, for the meta key),
 * so the search finds the first rule that could match; that rule decides
 * only if none of its conditions is on what was not read. Otherwise the
 * packet gets the policy's unparsed verdict (transport header not found) or
 * fragment verdict (a later fragment, which has none). A frame whose IP
 * header cannot be read gets the unparsed verdict without the rules.
 */
#ifndef LBPF_FILTER_BPF_H
#define LBPF_FILTER_BPF_H

#include <lbpf/filter.h>

#include "record.bpf.h"

/* Sizes chosen by userspace before load (max_entries are set to match). */
const volatile __u32 rule_cap = 1;
const volatile __u32 desc_cap = 1;
const volatile __u32 pool_cap = 1;
const volatile __u32 iv4_cap = 1;
const volatile __u32 iv6_cap = 1;

#define FILTER_ARRAY(name, value_t, n, flags)                                  \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, n);                                        \
		__uint(map_flags, flags);                                      \
		__type(key, __u32);                                            \
		__type(value, value_t);                                        \
	} name SEC(".maps")

FILTER_ARRAY(filter_ctl, struct filter_ctl, 1, 0);
FILTER_ARRAY(filter_gens, struct filter_gen, 2, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_rules, struct filter_rule, 2, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_descs, struct filter_desc, 2, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_pool, __u64, 2, BPF_F_MMAPABLE);

/* The class pool: pool_cap words per generation in filter_pool (sized by
 * max_rules, enough unless the rules overlap heavily), the words past them in
 * an inner array per generation that the compiler sizes from the rule set it
 * compiles (BPF_F_INNER_MAP lets the sizes differ; the price is a lookup
 * that is not inlined, paid only past pool_cap). */
struct filter_pool_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct filter_pool_map);
} filter_pool_more SEC(".maps");
FILTER_ARRAY(filter_dense, struct filter_bitmap, 2 * FILTER_NDENSE, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_dirs, struct filter_dir, 2 * FILTER_NADDR * FILTER_DIR_SLOTS, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_iv4, struct filter_iv4, 2, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_iv6, struct filter_iv6, 2, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_ports, __u32, 2 * 2 * 65536, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_metas, __u32, 2 * FILTER_META_KEYS, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_lens, __u32, 2 * FILTER_LEN_KEYS, BPF_F_MMAPABLE);
FILTER_ARRAY(filter_cts, __u32, 2 * FILTER_CT_KEYS, BPF_F_MMAPABLE);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct filter_iif_key);
	__type(value, __u32);
} filter_iifs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filter_counter);
} filter_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FILTER_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} filter_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct filter_rate_key);
	__type(value, struct filter_rate);
} filter_rates SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct filter_flow_key);
	__type(value, struct filter_flow);
} filter_flows SEC(".maps");

struct filter_set_map {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct filter_set_key)); /* clang 14 emits __type here as FWD */
	__uint(value_size, sizeof(__u64));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FILTER_MAX_SETS);
	__type(key, __u32);
	__array(values, struct filter_set_map);
} filter_sets SEC(".maps");

/* Never read by BPF: userspace updates it to wait for an RCU grace period. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct filter_set_map);
} filter_sync SEC(".maps");


static __always_inline void filter_stat(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&filter_stats, &which);

	if (v)
		(*v)++;
}

static __always_inline __u32 popcount64(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Index of the lowest set bit; x != 0. Branch-free, so the verifier does
 * not fork a state per bit position. */
static __always_inline __u32 ctz64(__u64 x)
{
	return popcount64((x & -x) - 1);
}

/* Class of an IPv4 address (host order) in one address table. */
static __always_inline __u32 addr4_class(const struct filter_gen *g, __u32 gen, __u32 table,
					 __u32 addr)
{
	__u32 key = (gen * FILTER_NADDR + table) * FILTER_DIR_SLOTS + (addr >> 16);
	struct filter_dir *d = bpf_map_lookup_elem(&filter_dirs, &key);
	__u32 lo, n, half, i, steps = g->steps[table], base = gen * iv4_cap + g->iv_base[table];
	struct filter_iv4 *iv;

	if (!d)
		return 0;
	lo = d->first;
	n = d->count;
	for (i = 0; i < FILTER_MAX_STEPS; i++) {
		if (i >= steps || n <= 1) /* n == 1: the rest would not move lo */
			break;
		half = n >> 1;
		key = base + lo + half;
		iv = bpf_map_lookup_elem(&filter_iv4, &key);
		if (iv && iv->start <= addr)
			lo += half;
		n -= half;
	}
	key = base + lo;
	iv = bpf_map_lookup_elem(&filter_iv4, &key);
	return iv ? iv->cls : 0;
}

static __always_inline bool iv6_le(const struct filter_iv6 *iv, __u64 hi, __u64 lo)
{
	return iv->hi < hi || (iv->hi == hi && iv->lo <= lo);
}

static __always_inline __u64 load_be64(const __u8 *p)
{
	__u64 v;

	__builtin_memcpy(&v, p, 8);
	return bpf_be64_to_cpu(v);
}

/* Class of an IPv6 address in one address table. */
static __always_inline __u32 addr6_class(const struct filter_gen *g, __u32 gen, __u32 table,
					 const __u8 *addr)
{
	__u64 hi = load_be64(addr), lo64 = load_be64(addr + 8);
	__u32 key = (gen * FILTER_NADDR + table) * FILTER_DIR_SLOTS + (__u32)(hi >> 48);
	struct filter_dir *d = bpf_map_lookup_elem(&filter_dirs, &key);
	__u32 lo, n, half, i, steps = g->steps[table], base = gen * iv6_cap + g->iv_base[table];
	struct filter_iv6 *iv;

	if (!d)
		return 0;
	lo = d->first;
	n = d->count;
	for (i = 0; i < FILTER_MAX_STEPS; i++) {
		if (i >= steps || n <= 1) /* n == 1: the rest would not move lo */
			break;
		half = n >> 1;
		key = base + lo + half;
		iv = bpf_map_lookup_elem(&filter_iv6, &key);
		if (iv && iv6_le(iv, hi, lo64))
			lo += half;
		n -= half;
	}
	key = base + lo;
	iv = bpf_map_lookup_elem(&filter_iv6, &key);
	return iv ? iv->cls : 0;
}

/* The search state, in a per-CPU scratch slot: on the stack it would take
 * half of the 512 bytes, which a 6.1 verifier then refuses once a callee's
 * frame is added. bpf_loop gets a stack cell pointing to it, since 6.1's
 * bpf_loop takes only a stack pointer as its context. */
struct filter_search {
	__u32 gen;
	__u32 mask;           /* fields to AND */
	__u32 wild;           /* fields whose wildcard bitmap is OR-ed in */
	__u32 i;              /* current level-0 index */
	__u32 w;              /* current leaf word */
	__s32 result;         /* position of the first terminal match, or -1 */
	__u32 nhits;          /* "count" rules matched before it */
	__u32 hits[FILTER_MAX_CHAIN];
	__u64 cand0;          /* level-0 candidates left */
	__u64 cand1;          /* level-1 candidates left under i */
	__u64 leaf;           /* matching positions left in leaf word w */
	__u64 l0[FILTER_NFIELDS];
	__u64 l1[FILTER_NFIELDS];
	__u32 off[FILTER_NFIELDS];
	__u32 base[FILTER_NFIELDS];
	__u32 ct;             /* the packet's ct state, when a rule asks (enum filter_ct) */
	/* XDP, tc: the ICMP header's offset in the frame, which the parser
	 * writes here for the conntrack lookup of an ICMP error. Not in struct
	 * filter_pkt: a stack value that differs from one parser path to the
	 * next keeps the verifier from merging them (lbpf test's tc program
	 * went past 1M instructions). */
	__u32 icmp_off;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct filter_search);
} filter_scratch SEC(".maps");

struct filter_search_ctx {
	struct filter_search *s;
};

static __always_inline __u64 pool_word(__u32 gen, __u32 off)
{
	__u32 key = gen * pool_cap + off;
	__u64 *w;
	void *more;

	if (off < pool_cap) {
		w = bpf_map_lookup_elem(&filter_pool, &key);
		return w ? *w : 0;
	}
	more = bpf_map_lookup_elem(&filter_pool_more, &gen);
	if (!more)
		return 0;
	key = off - pool_cap;
	w = bpf_map_lookup_elem(more, &key);
	return w ? *w : 0;
}

static __always_inline struct filter_bitmap *dense_bitmap(__u32 gen, __u32 which)
{
	__u32 key = gen * FILTER_NDENSE + which;

	return bpf_map_lookup_elem(&filter_dense, &key);
}

/* level: 0, 1 (w = i) or 2 (w = leaf index). */
static __always_inline __u64 dense_word(__u32 gen, __u32 which, int level, __u32 w)
{
	struct filter_bitmap *b = dense_bitmap(gen, which);

	if (!b)
		return 0;
	if (level == 0)
		return b->l0;
	if (level == 1)
		return b->l1[w & (FILTER_L1_WORDS - 1)];
	return b->leaf[w & (FILTER_LEAF_WORDS - 1)];
}

/* Level-1 word i of the AND; caches each field's level-1 word and leaf base. */
static __always_inline __u64 search_l1(struct filter_search *s, __u32 i)
{
	__u64 acc = ~0ULL, word, bit = 1ULL << (i & 63);
	__u32 f, slot;

	for (f = 0; f < FILTER_NFIELDS; f++) {
		if (!(s->mask & (1U << f)))
			continue;
		word = 0;
		if (s->l0[f] & bit) {
			slot = s->off[f] + 2 * popcount64(s->l0[f] & (bit - 1));
			word = pool_word(s->gen, slot);
			s->base[f] = (__u32)pool_word(s->gen, slot + 1);
		}
		s->l1[f] = word;
		if (s->wild & (1U << f))
			word |= dense_word(s->gen, f, 1, i);
		acc &= word;
	}
	return acc;
}

/* Leaf word w = 64*i + j of the AND. */
static __always_inline __u64 search_leaf(struct filter_search *s, __u32 j, __u32 w)
{
	__u64 acc = ~0ULL, word, bit = 1ULL << (j & 63);
	__u32 f;

	for (f = 0; f < FILTER_NFIELDS; f++) {
		if (!(s->mask & (1U << f)))
			continue;
		word = 0;
		if (s->l1[f] & bit)
			word = pool_word(s->gen, s->base[f] + popcount64(s->l1[f] & (bit - 1)));
		if (s->wild & (1U << f))
			word |= dense_word(s->gen, f, 2, w);
		acc &= word;
	}
	return acc;
}

/* A match at pos: "count" rules are noted and the search goes on. */
static __always_inline long search_match(struct filter_search *s, __u32 pos)
{
	__u32 key = s->gen * rule_cap + pos, n = s->nhits;
	struct filter_rule *r = bpf_map_lookup_elem(&filter_rules, &key);

	if (r && r->action == FILTER_COUNT) {
		if (n < FILTER_MAX_CHAIN) { /* more count rules are not counted */
			s->hits[n & (FILTER_MAX_CHAIN - 1)] = pos;
			s->nhits = n + 1;
		}
		return 0;
	}
	s->result = pos;
	return 1;
}

/* One step of the search; returning 1 ends the loop. A step takes the next
 * level-1 candidate if none is pending, ANDs its leaf words until one is not
 * zero, and tries the positions in it: with no false candidates and no count
 * rules, the whole search is one step. */
static long search_step(__u64 index, void *ctx)
{
	struct filter_search *s = ((struct filter_search_ctx *)ctx)->s;
	__u32 i, j;

	if (!s)
		return 1;
	if (!s->leaf && !s->cand1) {
		if (!s->cand0)
			return 1;
		i = ctz64(s->cand0) & (FILTER_L1_WORDS - 1);
		s->cand0 &= s->cand0 - 1;
		s->i = i;
		s->cand1 = search_l1(s, i);
	}
	if (!s->leaf && s->cand1) {
		j = ctz64(s->cand1) & 63;
		s->cand1 &= s->cand1 - 1;
		s->w = s->i * 64 + j;
		s->leaf = search_leaf(s, j, s->w);
	}
	if (s->leaf) {
		j = ctz64(s->leaf);
		s->leaf &= s->leaf - 1;
		return search_match(s, (s->w & (FILTER_LEAF_WORDS - 1)) * 64 + j);
	}
	return 0;
}

/* Positions of the first terminal match (s->result) and of the count rules
 * before it (s->hits). */
static __always_inline void filter_search(struct filter_search *s, __u64 l0,
					  const struct filter_gen *g)
{
	struct filter_search_ctx c = { s };
	__u32 pos;

	s->result = -1;
	if (!s->mask) { /* no rule constrains anything: every rule matches */
		for (pos = 0; pos < FILTER_MAX_CHAIN + 1 && pos < g->nrules; pos++)
			if (search_match(s, pos))
				return;
		/* past the chain of counted rules: the compiler found the first
		 * terminal one, which no loop here could reach */
		if (g->first_terminal < g->nrules)
			s->result = g->first_terminal & (FILTER_MAX_RULES - 1);
		return;
	}
	if (!l0) /* no rule can match: the common case, without the loop's call */
		return;
	s->cand0 = l0;
	bpf_loop(FILTER_MAX_RULES + FILTER_LEAF_WORDS + FILTER_L1_WORDS + 1, search_step, &c, 0);
}

static __always_inline void set_key_of(struct filter_set_key *k, const struct filter_pkt *p,
				       const __u8 *addr)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (p->family == 4) {
		k->prefixlen = 8 + 32;
		__builtin_memcpy(k->addr, addr, 4);
	} else {
		k->prefixlen = 8 + 128;
		__builtin_memcpy(k->addr, addr, 16);
	}
}

/* Bitmask of the set slots in `slots` that hold addr (expired entries do not). */
static __noinline __u32 sets_holding(const struct filter_pkt *p, const __u8 *addr,
					  __u32 slots, __u64 now)
{
	struct filter_set_key key;
	__u32 k, slot, found = 0;
	__u64 *expiry;
	void *set;

	if (!slots)
		return 0;
	set_key_of(&key, p, addr);
	for (k = 0; k < FILTER_MAX_SETS; k++) {
		if (!(slots & (1U << k)))
			continue;
		slot = k; /* the loop counter stays in a register, so the loop stays bounded */
		set = bpf_map_lookup_elem(&filter_sets, &slot);
		if (!set)
			continue;
		expiry = bpf_map_lookup_elem(set, &key);
		if (expiry && (*expiry == 0 || *expiry > now))
			found |= 1U << k;
	}
	return found;
}

static __always_inline __u32 lookup_u32(void *map, __u32 key)
{
	__u32 *v = bpf_map_lookup_elem(map, &key);

	return v ? *v : 0;
}

/* Loads field f's class; returns false when no rule can match any more:
 * *acc, the AND of the level-0 words (with wildcards) of the fields loaded
 * so far, is zero, so the other fields need not be looked up. */
static __always_inline bool load_desc(struct filter_search *s, const struct filter_gen *g,
				      __u32 f, __u32 cls, __u64 *acc)
{
	__u32 key = s->gen * desc_cap + cls;
	struct filter_desc *d = bpf_map_lookup_elem(&filter_descs, &key);

	s->l0[f] = d ? d->l0 : 0;
	s->off[f] = d ? d->off : 0;
	*acc &= s->l0[f] | ((s->wild & (1U << f)) ? g->wild_l0[f] : 0);
	return *acc != 0;
}

/* Port class of a packet without ports: none if its transport header was
 * read (it has no ports), else every rule with a port condition (maybe). */
static __always_inline __u32 port_unknown(const struct filter_gen *g, const struct filter_pkt *p,
					  int dst)
{
	if (p->parse == FILTER_PARSE_OK)
		return 0;
	return dst ? g->maybe_port[1] : g->maybe_port[0];
}

/* The packet's meta key (see FILTER_META_ANY in <lbpf/filter.h>). */
static __always_inline __u32 meta_key(const struct filter_pkt *p)
{
	if (p->parse == FILTER_PARSE_PROTO)
		return FILTER_META_ANY;
	if (p->parse == FILTER_PARSE_OK && p->proto == 6 && p->has_ports)
		return FILTER_META_TCP + p->tcp_flags;
	if (p->parse == FILTER_PARSE_OK && p->has_icmp)
		return (p->proto == 58 ? FILTER_META_ICMP6 : FILTER_META_ICMP) +
		       ((__u32)p->icmp_type << 8 | p->icmp_code);
	return p->proto;
}

/* Whether rule r's match of p depends on what the parser did not read. */
static __always_inline bool rule_unsure(const struct filter_rule *r, const struct filter_pkt *p)
{
	if (p->parse == FILTER_PARSE_OK)
		return false;
	if (p->parse == FILTER_PARSE_PROTO)
		return r->flags & (FILTER_RULE_L4 | FILTER_RULE_PROTO);
	return r->flags & FILTER_RULE_L4;
}

/* Fills the per-field classes of the packet; returns the level-0 AND (0: no
 * rule can match, and the fields after the one that showed it are skipped). */
static __always_inline __u64 filter_classify(struct filter_search *s, const struct filter_gen *g,
					     const struct filter_pkt *p)
{
	__u32 m = g->field_mask, cls;
	struct filter_iif_key ik;
	__u64 acc = ~0ULL;

	s->mask = m;
	s->wild = g->wild_mask;
	if (m & (1U << FILTER_F_SRC)) {
		cls = p->family == 4 ? addr4_class(g, s->gen, FILTER_SRC4,
						   bpf_ntohl(*(__u32 *)p->src))
				     : addr6_class(g, s->gen, FILTER_SRC6, p->src);
		if (!load_desc(s, g, FILTER_F_SRC, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_DST)) {
		cls = p->family == 4 ? addr4_class(g, s->gen, FILTER_DST4,
						   bpf_ntohl(*(__u32 *)p->dst))
				     : addr6_class(g, s->gen, FILTER_DST6, p->dst);
		if (!load_desc(s, g, FILTER_F_DST, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_SPORT)) {
		cls = p->has_ports ? lookup_u32(&filter_ports, s->gen * 2 * 65536 + p->sport)
				   : port_unknown(g, p, 0);
		if (!load_desc(s, g, FILTER_F_SPORT, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_DPORT)) {
		cls = p->has_ports ? lookup_u32(&filter_ports, (s->gen * 2 + 1) * 65536 + p->dport)
				   : port_unknown(g, p, 1);
		if (!load_desc(s, g, FILTER_F_DPORT, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_META)) {
		cls = lookup_u32(&filter_metas, s->gen * FILTER_META_KEYS + meta_key(p));
		if (!load_desc(s, g, FILTER_F_META, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_LEN)) {
		cls = p->iplen < FILTER_LEN_KEYS ? p->iplen : FILTER_LEN_KEYS - 1;
		cls = lookup_u32(&filter_lens, s->gen * FILTER_LEN_KEYS + cls);
		if (!load_desc(s, g, FILTER_F_LEN, cls, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_IIF)) {
		__u32 *c;

		ik.gen = s->gen;
		ik.ifindex = p->iif;
		c = bpf_map_lookup_elem(&filter_iifs, &ik);
		if (!load_desc(s, g, FILTER_F_IIF, c ? *c : 0, &acc))
			return 0;
	}
	if (m & (1U << FILTER_F_CT)) {
		cls = lookup_u32(&filter_cts, s->gen * FILTER_CT_KEYS + (s->ct & (FILTER_CT_KEYS - 1)));
		if (!load_desc(s, g, FILTER_F_CT, cls, &acc))
			return 0;
	}
	if (m & ((1U << FILTER_F_SRCSET) | (1U << FILTER_F_DSTSET))) {
		__u64 now = bpf_ktime_get_ns();

		if ((m & (1U << FILTER_F_SRCSET)) &&
		    !load_desc(s, g, FILTER_F_SRCSET,
			       g->set_base[0] + sets_holding(p, p->src, g->srcset_mask, now), &acc))
			return 0;
		if ((m & (1U << FILTER_F_DSTSET)) &&
		    !load_desc(s, g, FILTER_F_DSTSET,
			       g->set_base[1] + sets_holding(p, p->dst, g->dstset_mask, now), &acc))
			return 0;
	}
	return acc;
}

/* GCRA: true if the packet fits the rule's rate for its source. */
static __noinline bool rate_allows(const struct filter_rule *r, const struct filter_pkt *p)
{
	struct filter_rate_key key = { .rule_id = r->id };
	__u64 now = bpf_ktime_get_ns(), t_pkt = r->pps_ns, t_byte = 0, burst = r->burst ?: 1;
	struct filter_rate *st, fresh;

	__builtin_memcpy(key.src, p->src, 16);
	if (r->bps)
		t_byte = (__u64)p->len * 1000000000ULL / r->bps;
	st = bpf_map_lookup_elem(&filter_rates, &key);
	if (!st) {
		fresh.tat_pkt = now + t_pkt;
		fresh.tat_byte = now + t_byte;
		bpf_map_update_elem(&filter_rates, &key, &fresh, BPF_ANY);
		return true;
	}
	if (t_pkt && st->tat_pkt > now && st->tat_pkt - now > (burst - 1) * t_pkt)
		return false;
	if (t_byte && st->tat_byte > now &&
	    st->tat_byte - now > burst * 1500 * 1000000000ULL / r->bps)
		return false;
	st->tat_pkt = (st->tat_pkt > now ? st->tat_pkt : now) + t_pkt;
	st->tat_byte = (st->tat_byte > now ? st->tat_byte : now) + t_byte;
	return true;
}

static __always_inline void count_rule(const struct filter_rule *r, const struct filter_pkt *p)
{
	__u32 id = r->id;
	struct filter_counter *c = bpf_map_lookup_elem(&filter_counters, &id);

	if (c) {
		c->packets++;
		c->bytes += p->len;
	}
}

#endif /* LBPF_FILTER_BPF_H */
