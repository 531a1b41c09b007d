/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * What the packet filter's BPF programs (bpf/filter.bpf.c) and its compiler
 * (user/filter_compile.c) share: map layouts, rule records and the records
 * sent to userspace. Fixed-width types, explicit padding, no pointers.
 * The design is described at the top of bpf/filter.bpf.h.
 */
#ifndef LBPF_FILTER_H
#define LBPF_FILTER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Rule positions: a bitmap of FILTER_MAX_RULES bits in three levels. */
#define FILTER_MAX_RULES  131072
#define FILTER_LEAF_WORDS (FILTER_MAX_RULES / 64) /* 2048 */
#define FILTER_L1_WORDS   (FILTER_LEAF_WORDS / 64) /* 32, so level 0 is one word */
#define FILTER_MAX_SETS   8
#define FILTER_MAX_CHAIN  4  /* non-terminal ("count") matches followed per packet */
#define FILTER_LOG_BYTES  64 /* packet bytes copied into a log record */

/* Classification fields. Each maps a packet's value to a class: a sparse
 * bitmap of the rules whose condition on the field holds. For the set
 * fields the value is the mask of set slots that hold the address. */
enum filter_field {
	FILTER_F_SRC,
	FILTER_F_DST,
	FILTER_F_SPORT,
	FILTER_F_DPORT,
	FILTER_F_META,   /* protocol, TCP flags, ICMP type and code */
	FILTER_F_IIF,
	FILTER_F_SRCSET,
	FILTER_F_DSTSET,
	FILTER_F_LEN,    /* IP length */
	FILTER_F_CT,     /* connection-tracking state (enum filter_ct) */
	FILTER_NFIELDS,
};

/* Dense bitmaps per generation: one wildcard bitmap per field (the rules that
 * do not constrain it; unused for the set fields, whose classes include it). */
#define FILTER_NDENSE FILTER_NFIELDS
#define FILTER_SET_MASKS (1 << FILTER_MAX_SETS)

/* Address search: a /16 (first 16 bits) directory into sorted intervals. */
#define FILTER_DIR_SLOTS 65536
enum filter_addr_table { FILTER_SRC4, FILTER_DST4, FILTER_SRC6, FILTER_DST6, FILTER_NADDR };
/* Meta keys: one class per key, the rules whose protocol, TCP flags and
 * ICMP type/code conditions hold. A packet whose transport header was read
 * has a key in the TCP or ICMP block (by flags, or type << 8 | code); other
 * protocols, and TCP or ICMP packets whose header was not read, have their
 * protocol number as key; a packet whose protocol is unknown (the header
 * chain is longer than the parser walks) has FILTER_META_ANY, the class of
 * every rule with a meta condition. */
#define FILTER_META_ANY   256
#define FILTER_META_TCP   257
#define FILTER_META_ICMP  (FILTER_META_TCP + 256)
#define FILTER_META_ICMP6 (FILTER_META_ICMP + 65536)
#define FILTER_META_KEYS  (FILTER_META_ICMP6 + 65536)
#define FILTER_LEN_KEYS   65536 /* IP lengths from 65535 on share the last key */
#define FILTER_MAX_EXT    10    /* IPv6 extension headers walked */

/* Connection-tracking states, as nftables' ct state names them. */
enum filter_ct {
	FILTER_CT_INVALID,
	FILTER_CT_NEW,
	FILTER_CT_ESTABLISHED,
	FILTER_CT_RELATED,
	FILTER_CT_UNTRACKED,
	FILTER_CT_NSTATES,
};
#define FILTER_CT_KEYS 8
#define FILTER_MAX_STEPS 24  /* bound of the binary search in one /16 */

enum filter_action {
	FILTER_PASS,
	FILTER_DROP,
	FILTER_COUNT,     /* not terminal */
	FILTER_RATELIMIT, /* pass within the rate, drop above it */
};

#define FILTER_RULE_LOG   0x1
#define FILTER_RULE_L4    0x2 /* has a port, TCP flag or ICMP condition */
#define FILTER_RULE_PROTO 0x4 /* has a protocol condition */

/* Per generation, the compiled rule set's parameters. */
struct filter_gen {
	__u32 default_action;
	__u32 nrules;
	__u32 field_mask;     /* fields some rule constrains (others are skipped) */
	__u32 wild_mask;      /* fields whose wildcard bitmap is not empty */
	__u32 steps[FILTER_NADDR];      /* binary-search steps per address table */
	__u32 iv_base[FILTER_NADDR];    /* first interval of each table */
	__u32 srcset_mask;    /* set slots used as src */
	__u32 dstset_mask;
	__u32 set_base[2];    /* class of "in no set" for src, dst; + mask */
	__u32 first_terminal; /* position of the first rule that is not "count", or nrules */
	__u32 unparsed_action; /* see filter_decide: FILTER_PASS or FILTER_DROP */
	__u32 fragment_action;
	__u32 maybe_port[2];  /* class of the rules with a sport, dport condition */
	__u32 pad;
	__u64 wild_l0[FILTER_NFIELDS]; /* level-0 words of the wildcard bitmaps */
};

/* The control word: which generation is live, and ring buffer sources. */
#define FILTER_CTL_FLOWS    0x1 /* on_new_flow is set */
#define FILTER_CTL_TESTMETA 0x2 /* report the verdict of a test run (fw:test, lbpf test) */
struct filter_ctl {
	__u32 gen;
	__u32 flags;
	__u32 log_source;
	__u32 flow_source;
};

/* A compiled rule, by position (generation-local). */
struct filter_rule {
	__u32 id;             /* stable id: counters, ratelimit state */
	__u8 action;
	__u8 flags;
	__u16 pad;
	__u32 sample;         /* log 1 packet in `sample` (0 or 1: all) */
	__u32 burst;
	__u64 pps_ns;         /* ns between packets, 0 = no packet rate */
	__u64 bps;            /* bytes per second, 0 = no byte rate */
};

/* The class of a field value: a sparse three-level bitmap in the pool.
 * l0 bit i set -> pool[off + 2*rank(l0,i)] is level-1 word i and
 * pool[off + 2*rank(l0,i) + 1] the pool offset of its run of leaf words
 * (in order; classes whose block i is the same share one run). The pool is
 * filter_pool's pool_cap words, then an inner map sized by the compiler. */
struct filter_desc {
	__u64 l0;
	__u32 off;
	__u32 pad;
};

struct filter_bitmap {
	__u64 l0;
	__u64 l1[FILTER_L1_WORDS];
	__u64 leaf[FILTER_LEAF_WORDS];
};

struct filter_dir {
	__u32 first;          /* interval containing the /16's first address */
	__u32 count;          /* intervals overlapping the /16 */
};

struct filter_iv4 {
	__u32 start;
	__u32 cls;
};

struct filter_iv6 {
	__u64 hi;             /* address as two host-order halves */
	__u64 lo;
	__u32 cls;
	__u32 pad;
};

struct filter_iif_key {
	__u32 gen;
	__u32 ifindex;
};

struct filter_counter {
	__u64 packets;
	__u64 bytes;
};

enum filter_stat {
	FILTER_STAT_PASS,
	FILTER_STAT_DROP,
	FILTER_STAT_DEFAULT,  /* judged by the default */
	FILTER_STAT_NONIP,
	FILTER_STAT_RATELIMITED,
	FILTER_STAT_FLOW,     /* judged by a cached on_new_flow verdict */
	FILTER_STAT_LOG_LOST,
	FILTER_STAT_UNPARSED, /* transport or IP header not read (see filter_pkt.parse) */
	FILTER_STAT_FRAGMENT, /* later fragments */
	FILTER_NSTATS,
};

/* Sets: LPM tries keyed by family, then address. The family byte keeps the
 * two apart: an IPv6 entry (even ::/0 or ::ffff:0:0/96) never holds an IPv4
 * address, just as the same CIDR in a rule matches only IPv6. */
struct filter_set_key {
	__u32 prefixlen;      /* 8 (the family byte) + the address prefix length */
	__u8 family;          /* 4 or 6 */
	__u8 addr[16];        /* IPv4 in the first 4 bytes */
	__u8 pad[3];
};

struct filter_rate_key {
	__u32 rule_id;
	__u32 pad;
	__u8 src[16];
};

struct filter_rate {
	__u64 tat_pkt;        /* GCRA theoretical arrival times, ns */
	__u64 tat_byte;
};

struct filter_flow_key {
	__u8 family;          /* 4 or 6 */
	__u8 proto;
	__u16 pad;
	__u16 sport;          /* host order */
	__u16 dport;
	__u8 src[16];
	__u8 dst[16];
};

enum filter_flow_state {
	FILTER_FLOW_PENDING,  /* reported, no decision yet: rules apply */
	FILTER_FLOW_RULES,    /* decided nil: rules apply */
	FILTER_FLOW_PASS,
	FILTER_FLOW_DROP,
};

struct filter_flow {
	__u32 state;
	__u32 pad;
	__u64 ts;
};

/* What XDP writes in front of the packet under FILTER_CTL_TESTMETA (the tc and
 * netfilter programs, whose test runs carry no metadata, use filter_test_note). */
#define FILTER_TEST_MAGIC 0x6c627066 /* "lbpf" */
struct filter_test_meta {
	__u32 magic;
	__u32 verdict;        /* FILTER_PASS / FILTER_DROP */
	__u32 rule_id;        /* of the deciding rule, or ~0 for the default */
	__u32 why;            /* out: enum filter_why */
	__u32 ct;             /* in: the packet's ct state (enum filter_ct) + 1, 0 = look up */
};                            /* 20 bytes: XDP metadata is 4-byte words, 32 at most */

/* What decided a packet. */
enum filter_why {
	FILTER_WHY_RULE,
	FILTER_WHY_DEFAULT,
	FILTER_WHY_NONIP,
	FILTER_WHY_UNPARSED,  /* the unparsed verdict */
	FILTER_WHY_FRAGMENT,  /* the later-fragment verdict */
	FILTER_WHY_FLOW,      /* a cached on_new_flow verdict */
};

/* How far the parser read a packet. A rule decides a packet that was not
 * fully read only if its conditions do not depend on what was not read. */
enum filter_parse {
	FILTER_PARSE_OK,      /* the transport header, if the protocol has one we read */
	FILTER_PARSE_FRAG,    /* a later fragment: protocol known, no transport header */
	FILTER_PARSE_L4,      /* protocol known, its header not found (truncated, ESP) */
	FILTER_PARSE_PROTO,   /* protocol unknown: header chain too long or unwalkable */
	FILTER_PARSE_IP,      /* IP header truncated or malformed, or too many VLAN tags */
};

/* The packet as the rule engine sees it (also the payload of reports). */
struct filter_pkt {
	__u8 family;          /* 4, 6, or 0 for non-IP */
	__u8 proto;
	__u8 tcp_flags;
	__u8 has_ports;       /* 0 for ICMP, other protocols and non-first fragments */
	__u16 sport;          /* host order */
	__u16 dport;
	__u8 src[16];         /* IPv4 in the first 4 bytes */
	__u8 dst[16];
	__u32 len;
	__u32 iif;
	__u32 iplen;          /* IPv4 total length, IPv6 payload length + 40 */
	__u8 parse;           /* enum filter_parse */
	__u8 has_icmp;
	__u8 icmp_type;
	__u8 icmp_code;
};

#define FILTER_REC_LOG  1
#define FILTER_REC_FLOW 2
/* A log or new-flow record after struct lbpf_record. */
struct filter_report {
	__u32 kind;           /* FILTER_REC_* */
	__u32 rule_id;        /* ~0: default */
	__u32 action;
	__u32 caplen;         /* valid bytes in `bytes` */
	struct filter_pkt pkt;
	__u8 bytes[FILTER_LOG_BYTES];
};

#endif /* LBPF_FILTER_H */
