/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The packet filter's userspace engine, without Lua: the loaded programs and
 * maps (filter_core.c), the rule compiler (filter_compile.c) and packet
 * building for tests (filter_packet.c). Used by the binding (lfilter.c) and
 * by `lbpf test` (pcaptest.c). Functions return 0 or -errno unless noted;
 * the first failure also leaves a message in engine->error.
 */
#ifndef LBPF_USER_FILTER_H
#define LBPF_USER_FILTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lbpf/lbpf.h>
#include <lbpf/filter.h>

struct filter_bpf;

struct filter_prefix {
	uint8_t family;            /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16];          /* network order; IPv4 in the first 4 bytes */
};

struct filter_range {
	uint16_t lo, hi;
};

/* A rule as the user wrote it (after parsing). Lists are malloc-ed. */
struct filter_spec {
	uint32_t id;
	uint8_t action;            /* enum filter_action */
	uint8_t ct;                /* ct states (1 << enum filter_ct), 0: any */
	bool log;
	uint8_t tcp_mask;          /* TCP flags: (flags & tcp_mask) == tcp_value; 0: any */
	uint8_t tcp_value;
	int proto;                 /* -1: any */
	int srcset, dstset;        /* set slot or -1 */
	uint32_t sample, burst;
	uint64_t pps, bps;
	uint32_t nsrc, ndst, nsport, ndport, niif;
	struct filter_prefix *src, *dst;
	struct filter_range *sport, *dport;
	uint32_t *iif;
	/* ICMP (ICMPv6 with proto 58): type << 8 | code ranges; IP length ranges */
	uint32_t nicmp, nlength;
	struct filter_range *icmp, *length;
	char *comment;
};

void filter_spec_free(struct filter_spec *spec);

enum filter_hook_kind { FILTER_HOOK_NONE, FILTER_HOOK_XDP, FILTER_HOOK_TC, FILTER_HOOK_NF };

struct filter_engine_opts {
	enum filter_hook_kind hook;
	uint32_t max_rules;
	int ringbuf_fd;            /* the runtime's ring buffer, or -1 */
	/* lbpfd: pin the attachment in this bpffs folder, so it outlives the
	 * process; NULL = attachments end with the engine */
	const char *pin_dir;
	/* lbpfd's gate: the runtime's id, which the programs carry as rodata,
	 * and the pinned runtimes map (<lbpf/pin.h>) their lbpf_runtimes map
	 * becomes, so they push no events once that runtime stopped. 0 and 0
	 * (lbpf_runtime_options(rt)->id, ->runtimes_fd outside lbpfd): no gate */
	uint64_t runtime_id;
	int runtimes_fd;
};

struct filter_set {
	char name[32];
	int fd;                    /* LPM trie */
	int type;                  /* 4, 6, or 0 for cidr */
	uint64_t ttl_ns;           /* default TTL, 0 = none */
};

struct filter_engine {
	struct filter_bpf *skel;
	uint32_t max_rules;
	uint32_t rule_cap, desc_cap, pool_cap, iv4_cap, iv6_cap;
	/* the class pool of each generation: pool_cap words in the pool map,
	 * then the words past them in an inner map the compiler grows */
	uint64_t *pool;
	int more_fd[2];
	uint64_t *more[2];
	uint32_t more_words[2];
	/* mmap-ed maps */
	struct filter_gen *gens;
	uint8_t *rules, *descs, *dense, *dirs, *iv4, *iv6, *ports, *metas, *lens, *cts;
	/* the loaded programs: filter_xdp/_tc, or the *_ct ones that can look
	 * conntrack up, where the kernel has the kfuncs */
	struct bpf_program *xdp_prog, *tc_prog;
	enum filter_hook_kind hook_kind; /* the hook it was made for */
	const char *ct_missing;    /* the conntrack kfunc this kernel lacks, or NULL */
	int ct_netlink;            /* owner of the table that turns conntrack on, or -1 */
	struct filter_ctl ctl;     /* what the ctl map holds */
	/* the rule list, in order */
	struct filter_spec **specs;
	uint32_t nspecs, spec_cap;
	uint8_t *id_used;          /* by id */
	uint32_t next_id;
	int default_action;
	int unparsed_action, fragment_action; /* see fw:unparsed */
	bool dirty;
	/* iif keys written per generation, to delete when it is rewritten */
	struct filter_iif_key *iif_keys[2];
	uint32_t niif_keys[2];
	struct filter_set sets[FILTER_MAX_SETS];
	int sync_fd;               /* inner map used to wait for a grace period */
	/* attachments */
	enum filter_hook_kind hook;
	int ifindex;
	uint32_t xdp_flags;
	bool tc_created_hook;
	int tc_attach_point;
	uint32_t tc_handle, tc_priority;
	int nf_links[2];
	/* pinned attachments (opts.pin_dir): the engine frees without detaching */
	char *pin_dir;
	bool pinned;
	bool pin_pending;          /* attached, not pinned before filter_adopt */
	int xdp_link;
	/* what an earlier engine pinned, which this one replaces in filter_adopt:
	 * XDP or netfilter links, or a tc filter's program (-1: none) */
	int adopt_links[2];
	int adopt_tc_prog;
	uint32_t adopt_tc_handle, adopt_tc_priority;
	int nf_family, nf_hooknum, nf_priority;
	/* the committed rules (id, action), for readers on other threads */
	pthread_mutex_t live_lock;
	struct filter_live_rule { uint32_t id; uint8_t action; } *live;
	uint32_t nlive;
	char error[512];
};

/* Opens and loads the programs and maps (nothing is attached). On failure
 * the message is in errbuf as well. */
int filter_engine_open(struct filter_engine **out, const struct filter_engine_opts *opts,
		       char *errbuf, size_t errlen);
/* Detaches and frees everything; NULL is fine. */
void filter_engine_free(struct filter_engine *e);

/* Attachments. mode: "native", "generic" or "auto". */
int filter_attach_xdp(struct filter_engine *e, int ifindex, const char *mode);
int filter_attach_tc(struct filter_engine *e, int ifindex, bool egress);
/* family: 4, 6 or 0 (both); hooknum: NF_INET_*; priority: nf hook priority. */
int filter_attach_nf(struct filter_engine *e, int family, int hooknum, int priority);
void filter_detach(struct filter_engine *e);

/* The hooks for any program (lbpf.object's programs attach through them).
 * A tc filter on a device and direction, in the clsact qdisc (created if
 * missing: created_hook); priority 0 lets the kernel choose. 0 or -errno,
 * and `step` names what failed. */
struct filter_tc {
	int ifindex;
	bool egress;
	uint32_t handle, priority;
	bool created_hook;
	const char *step;
};
int filter_tc_add(struct filter_tc *tc, int prog_fd);
/* Removes the filter tc_add added; destroy_hook: the qdisc too, if it made it. */
void filter_tc_remove(struct filter_tc *tc, bool destroy_hook);
/* A netfilter link (BPF_LINK_CREATE, Linux 6.4+): pf NFPROTO_IPV4 (2) or
 * NFPROTO_IPV6 (10), hooknum NF_INET_*. The link's fd or -errno. */
int filter_nf_link(int prog_fd, int pf, int hooknum, int priority);
/* "prerouting", "input", "forward", "output", "postrouting" -> NF_INET_*,
 * or -1. */
int filter_nf_hook_number(const char *chain);
extern const char *const filter_nf_chains[6];

/* Pinned filters (opts.pin_dir). XDP and netfilter pin their links ("link",
 * "nf4", "nf6"); tc, which has no link, pins its program as
 * tc_IFINDEX_DIRECTION_HANDLE_PRIORITY, and a pinned tc filter stays
 * attached when the engine is freed. Nothing is pinned before filter_adopt,
 * which the caller runs once the rules are committed (lbpfd: after the
 * policy's body ran): until then a fresh attachment lives only as long as
 * the engine, so a failed body leaves nothing behind. When the folder holds
 * an earlier engine's attachment (same hook and place), attaching only takes
 * note of it, and filter_adopt replaces it without a gap: XDP swaps the
 * program of the pinned link, netfilter links the new program at a free
 * neighbouring priority, tc adds a filter that runs before the old one; the
 * old one goes after. filter_adopt also retires what the folder holds for
 * another hook or place. 0 when there is nothing to do. */
int filter_adopt(struct filter_engine *e);
static inline bool filter_adopt_pending(const struct filter_engine *e)
{
	return e->adopt_links[0] >= 0 || e->adopt_links[1] >= 0 || e->adopt_tc_prog >= 0 ||
	       e->pin_pending;
}
/* The kernel ids of the attached program, the rule map and the link (0 for
 * tc, or XDP attached without a link), for lbpfd's objects map. */
void filter_kernel_ids(struct filter_engine *e, lbpf_kernel_ids_t *ids);
/* Detaches and unpins every filter pinned under dir, and removes dir. A tc
 * filter is detached only if it still runs the pinned program. */
int filter_pin_remove(const char *dir);

/* The rule list. Insert takes ownership of spec (id assigned here). */
int filter_rule_insert(struct filter_engine *e, struct filter_spec *spec);
int filter_rule_remove(struct filter_engine *e, uint32_t id);
struct filter_spec *filter_rule_find(struct filter_engine *e, uint32_t id);
int filter_rule_stats(struct filter_engine *e, uint32_t id, uint64_t *packets, uint64_t *bytes);
int filter_stats(struct filter_engine *e, uint64_t stats[FILTER_NSTATS]);
/* Calls fn with each committed rule's counters, in match order; safe from
 * any thread while the engine lives (lbpfd's metrics server). */
void filter_live_rules(struct filter_engine *e,
		       void (*fn)(void *ctx, uint32_t id, int action, uint64_t packets,
				  uint64_t bytes),
		       void *ctx);
/* filter_commit's last step: the rule list it compiled becomes the live one. */
void filter_publish(struct filter_engine *e);

/* Makes generation gen's class pool hold at least words words, keeping its
 * first keep words: past pool_cap, a larger inner map replaces one that is
 * too small (gen must be idle). 0 or -errno with a message. */
int filter_pool_reserve(struct filter_engine *e, uint32_t gen, uint64_t words, uint32_t keep);
/* Shrinks or frees generation gen's words past pool_cap when the rule set
 * uses far fewer (used: the words it must keep). 0 or -errno. */
int filter_pool_fit(struct filter_engine *e, uint32_t gen, uint32_t used);
/* Word off of generation gen's pool, which filter_pool_reserve made room for. */
static inline uint64_t *filter_pool_word(struct filter_engine *e, uint32_t gen, uint32_t off)
{
	return off < e->pool_cap ? e->pool + (size_t)gen * e->pool_cap + off :
				   e->more[gen] + (off - e->pool_cap);
}

/* Compiles the rule list into the idle generation and makes it live. */
int filter_commit(struct filter_engine *e);
/* Makes generation gen live and waits until the other one is unused. */
int filter_flip(struct filter_engine *e, uint32_t gen);
/* Sets the ring buffer sources of log and flow reports (0 = off). */
int filter_set_sources(struct filter_engine *e, uint32_t log_source, uint32_t flow_source);

/* Where a filter goes: the hook, a name for messages ("tc ingress on eth0",
 * "netfilter input priority -100") and, for netfilter, the families (4, 6 or
 * 0 for both), the hook number (NF_INET_*) and the priority. */
struct filter_place {
	enum filter_hook_kind hook;
	const char *where;
	int nf_family, nf_hooknum, nf_priority;
};

/* Runs the XDP program on an Ethernet frame with BPF_PROG_TEST_RUN.
 * *verdict: FILTER_PASS/FILTER_DROP; *rule_id: deciding rule or ~0;
 * *why: enum filter_why; *ns: average duration. iif may be 0. */
int filter_test(struct filter_engine *e, const void *frame, uint32_t len, uint32_t iif,
		uint32_t repeat, int *verdict, uint32_t *rule_id, uint32_t *ns, uint32_t *why);
/* The same with the packet's ct state (enum filter_ct): a test packet has
 * no conntrack entry, so it says which state to judge it in; -1 looks the
 * packet up as XDP does (where the kernel has the kfuncs; else untracked). */
int filter_test_ct(struct filter_engine *e, const void *frame, uint32_t len, uint32_t iif,
		   int ct, uint32_t repeat, int *verdict, uint32_t *rule_id, uint32_t *ns,
		   uint32_t *why);
/* Parses "new", "established", "related", "invalid", "untracked"; -1 if none. */
int filter_ct_number(const char *name);
extern const char *const filter_ct_names[FILTER_CT_NSTATES + 1];

/* Runs the program of the hook `at` names with BPF_PROG_TEST_RUN, as
 * filter_test_ct does for XDP (the XDP program for FILTER_HOOK_XDP), with
 * the packet's ct state. XDP and tc take an Ethernet frame; netfilter takes
 * an IP packet (family 4 or 6, from its first nibble), behind a blank
 * Ethernet header except at output, where the kernel's test run wants the
 * IP packet alone. TEST_RUN takes at most FILTER_TEST_MAX bytes. */
#define FILTER_TEST_MAX 3072
int filter_test_at(struct filter_engine *e, const struct filter_place *at, const void *packet,
		   uint32_t len, int ct, int *verdict, uint32_t *rule_id, uint32_t *why);

/* Sets. type: 4, 6 or 0 (cidr). Returns the slot or -errno. */
int filter_set_create(struct filter_engine *e, const char *name, int type, uint64_t ttl_ns,
		      uint32_t max_entries);
int filter_set_add(struct filter_engine *e, int slot, const struct filter_prefix *p,
		   uint64_t ttl_ns);
int filter_set_remove(struct filter_engine *e, int slot, const struct filter_prefix *p);
/* 1 if present (and not expired), 0 if not, -errno. */
int filter_set_has(struct filter_engine *e, int slot, const struct filter_prefix *p);
/* Deletes expired entries of every set; returns how many. */
int filter_set_sweep(struct filter_engine *e);
/* Calls fn for each live entry (expiry 0 = none). */
int filter_set_foreach(struct filter_engine *e, int slot,
		       void (*fn)(void *ctx, const struct filter_prefix *p, uint64_t expiry),
		       void *ctx);
/* Sets the state of a reported flow (enum filter_flow_state). */
int filter_flow_decide(struct filter_engine *e, const struct filter_flow_key *key, uint32_t state);

/* filter_conntrack.c */

/* Turns the kernel's connection tracking on in the caller's network
 * namespace for as long as the returned netlink socket is open. Returns it,
 * or -errno with a message in err. */
int filter_conntrack_hold(char *err, size_t errlen);

/* filter_packet.c */

/* Parses "10.0.0.0/8", "192.0.2.1", "2001:db8::/32" into p. 0 or -EINVAL. */
int filter_parse_prefix(const char *text, struct filter_prefix *p);
/* Formats an address (family 4 or 6) into buf (INET6_ADDRSTRLEN). */
const char *filter_format_addr(int family, const uint8_t *addr, char *buf, size_t size);

struct filter_packet_desc {
	struct filter_prefix src, dst; /* len ignored */
	int proto;                 /* IPPROTO_*; -1 = tcp */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	int icmp_type, icmp_code;  /* -1: echo request */
	uint32_t len;              /* frame length, 0 = minimal */
	uint32_t iplen;            /* IP length (frame: 14 more), 0 = as len says */
};
/* Builds an Ethernet frame; returns its length or -errno (buf >= 1514 bytes). */
int filter_packet_build(const struct filter_packet_desc *d, uint8_t *buf, size_t size);
/* Protocol numbers by name ("tcp", "udp", "icmp", "icmpv6"), -1 if unknown. */
int filter_proto_number(const char *name);
const char *filter_proto_name(int proto);
/* ICMP (v6: ICMPv6) types and codes, TCP flags (the bit) by their nftables
 * names; -1 if unknown. */
int filter_icmp_type_number(bool v6, const char *name);
int filter_icmp_code_number(bool v6, const char *name);
int filter_tcp_flag_bit(const char *name);

/* `lbpf test`: filters created while this is set are loaded, never attached,
 * and announced to it with the place they would be attached to. */
extern void (*filter_dry_run_hook)(void *ctx, struct filter_engine *e,
				   const struct filter_place *at);
extern void *filter_dry_run_ctx;
/* The ct state (enum filter_ct) in which `lbpf test` judges packets at tc
 * and netfilter: their test programs are loaded with it. */
extern int filter_dry_run_ct;

#endif /* LBPF_USER_FILTER_H */
