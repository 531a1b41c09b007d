// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The rule compiler: turns the ordered rule list into the idle generation of
 * the filter's maps (layout in include/lbpf/filter.h, design at the top of
 * bpf/filter.bpf.h), then makes it live.
 *
 * Range fields (addresses, ports) are swept: every prefix or port range is an
 * add event at its start and a remove event after its end; between two event
 * points the set of covering rules is constant, and that set, compressed into
 * a sparse three-level bitmap, is the class of the elementary interval.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "filter.h"
#include "filter.skel.h"

typedef unsigned __int128 u128;

struct event {
	u128 at;
	uint32_t pos;
	int32_t delta;
};

/* The set of rules covering the current point of a sweep. Classes share
 * leaf runs: a block (level-1 word i and its leaves) that did not change
 * since the last class was written points to that class's run, so a sweep
 * writes per point only the blocks its events touched, not every leaf. */
struct active {
	uint16_t *count;           /* by position: covering ranges of that rule */
	uint64_t l0;
	uint64_t l1[FILTER_L1_WORDS];
	uint64_t leaf[FILTER_LEAF_WORDS];
	uint32_t dirty;            /* blocks changed since the last class */
	uint32_t written;          /* blocks whose run[] is valid */
	uint32_t run[FILTER_L1_WORDS]; /* pool offset of each block's last run */
};

struct interval {
	u128 start;
	uint32_t cls;
};

struct compiler {
	struct filter_engine *e;
	uint32_t gen;
	uint32_t ndesc, npool, nrules;
	struct active act;
	struct interval *iv;       /* scratch for one sweep */
	size_t niv, iv_cap;
};

static void active_add(struct active *a, uint32_t pos)
{
	uint32_t w = pos >> 6;

	if (a->count[pos]++)
		return;
	a->dirty |= 1U << (w >> 6);
	a->leaf[w] |= 1ULL << (pos & 63);
	a->l1[w >> 6] |= 1ULL << (w & 63);
	a->l0 |= 1ULL << (w >> 6);
}

static void active_remove(struct active *a, uint32_t pos)
{
	uint32_t w = pos >> 6;

	if (--a->count[pos])
		return;
	a->dirty |= 1U << (w >> 6);
	a->leaf[w] &= ~(1ULL << (pos & 63));
	if (a->leaf[w])
		return;
	a->l1[w >> 6] &= ~(1ULL << (w & 63));
	if (!a->l1[w >> 6])
		a->l0 &= ~(1ULL << (w >> 6));
}

/* Empties the set (ranges that reach the top have no remove event). */
static void active_reset(struct active *a, uint32_t nrules)
{
	memset(a->count, 0, nrules * sizeof(*a->count));
	memset(a->leaf, 0, sizeof(a->leaf));
	memset(a->l1, 0, sizeof(a->l1));
	a->l0 = 0;
	a->dirty = a->written = 0;
}

/* Pool words of the runs emit_class_at writes: those of the changed blocks. */
static uint32_t new_run_words(const struct active *a)
{
	uint32_t words = 0, i;

	for (uint64_t b = a->l0; b; b &= b - 1) {
		i = __builtin_ctzll(b);
		if ((a->dirty | ~a->written) & (1U << i))
			words += __builtin_popcountll(a->l1[i]);
	}
	return words;
}

/* Writes the active set as a class; returns its id (0: the empty class),
 * -ENOSPC when the descriptors are full, or the pool's error. */
static int64_t emit_class_at(struct compiler *c, bool force)
{
	struct filter_engine *e = c->e;
	struct active *a = &c->act;
	uint32_t n1 = __builtin_popcountll(a->l0), off = c->npool, next = off + 2 * n1, k = 0, i;
	struct filter_desc *d;
	int err;

	if (!a->l0 && !force)
		return 0;
	if (c->ndesc >= e->desc_cap)
		return -ENOSPC;
	err = filter_pool_reserve(e, c->gen, (uint64_t)next + new_run_words(a), c->npool);
	if (err)
		return err;
	for (uint64_t b = a->l0; b; b &= b - 1, k++) {
		i = __builtin_ctzll(b);
		if ((a->dirty | ~a->written) & (1U << i)) {
			a->run[i] = next;
			for (uint64_t l1 = a->l1[i]; l1; l1 &= l1 - 1)
				*filter_pool_word(e, c->gen, next++) =
					a->leaf[i * 64 + __builtin_ctzll(l1)];
		}
		*filter_pool_word(e, c->gen, off + 2 * k) = a->l1[i];
		*filter_pool_word(e, c->gen, off + 2 * k + 1) = a->run[i];
	}
	a->written = (uint32_t)a->l0;
	a->dirty = 0;
	c->npool = next;
	d = (struct filter_desc *)e->descs + (size_t)c->gen * e->desc_cap + c->ndesc;
	d->l0 = a->l0;
	d->off = off;
	d->pad = 0;
	return c->ndesc++;
}

static int64_t emit_class(struct compiler *c)
{
	return emit_class_at(c, false);
}

static int event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

static int push_interval(struct compiler *c, u128 start, uint32_t cls)
{
	struct interval *iv;

	if (c->niv && c->iv[c->niv - 1].start == start) {
		c->iv[c->niv - 1].cls = cls;
		return 0;
	}
	if (c->niv == c->iv_cap) {
		c->iv_cap = c->iv_cap ? 2 * c->iv_cap : 1024;
		iv = realloc(c->iv, c->iv_cap * sizeof(*iv));
		if (!iv)
			return -ENOMEM;
		c->iv = iv;
	}
	c->iv[c->niv].start = start;
	c->iv[c->niv++].cls = cls;
	return 0;
}

/* Sweeps n events (consumed) into c->iv: elementary intervals from 0 on. */
static int sweep(struct compiler *c, struct event *ev, size_t n)
{
	int64_t cls;
	size_t i = 0;
	u128 at;
	int err;

	c->niv = 0;
	if (n) /* qsort(NULL, 0) is undefined */
		qsort(ev, n, sizeof(*ev), event_cmp);
	err = push_interval(c, 0, 0);
	while (!err && i < n) {
		at = ev[i].at;
		for (; i < n && ev[i].at == at; i++) {
			if (ev[i].delta > 0)
				active_add(&c->act, ev[i].pos);
			else
				active_remove(&c->act, ev[i].pos);
		}
		cls = emit_class(c);
		if (cls < 0)
			return cls;
		err = push_interval(c, at, cls);
	}
	active_reset(&c->act, c->nrules);
	return err;
}

static u128 prefix_value(const struct filter_prefix *p)
{
	u128 v = 0;

	for (int i = 0; i < (p->family == 4 ? 4 : 16); i++)
		v = v << 8 | p->addr[i];
	return v;
}

/* Adds the events of [lo, hi] for pos; no remove event past max. */
static int add_range(struct event **ev, size_t *n, size_t *cap, u128 lo, u128 hi, u128 max,
		     uint32_t pos)
{
	struct event *p;

	if (*n + 2 > *cap) {
		*cap = *cap ? 2 * *cap : 1024;
		p = realloc(*ev, *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		*ev = p;
	}
	(*ev)[(*n)++] = (struct event){ lo, pos, 1 };
	if (hi < max)
		(*ev)[(*n)++] = (struct event){ hi + 1, pos, -1 };
	return 0;
}

/* Events of one address table (src or dst, one family). */
static int address_events(struct filter_engine *e, bool dst, int family, struct event **ev,
			  size_t *n)
{
	u128 max = family == 4 ? 0xffffffffULL : ~(u128)0, lo, mask;
	size_t cap = 0;
	int err = 0;

	*ev = NULL;
	*n = 0;
	for (uint32_t pos = 0; !err && pos < e->nspecs; pos++) {
		const struct filter_spec *s = e->specs[pos];
		const struct filter_prefix *p = dst ? s->dst : s->src;
		uint32_t np = dst ? s->ndst : s->nsrc, bits = family == 4 ? 32 : 128;

		for (uint32_t k = 0; !err && k < np; k++) {
			if (p[k].family != family)
				continue;
			mask = p[k].len == 0 ? 0 : (max >> (bits - p[k].len)) << (bits - p[k].len);
			lo = prefix_value(&p[k]) & mask;
			err = add_range(ev, n, &cap, lo, lo | (max & ~mask), max, pos);
		}
	}
	return err;
}

/* Writes c->iv as address table t: intervals from *base, and its directory. */
static int write_address_table(struct compiler *c, int t, uint32_t *base)
{
	struct filter_engine *e = c->e;
	bool v6 = t >= FILTER_SRC6;
	uint32_t cap = v6 ? e->iv6_cap : e->iv4_cap, maxcount = 1, steps = 0, k = 0;
	struct filter_dir *dir = (struct filter_dir *)e->dirs +
				 ((size_t)c->gen * FILTER_NADDR + t) * FILTER_DIR_SLOTS;
	struct filter_gen *g = &e->gens[c->gen];
	int shift = v6 ? 112 : 16;

	if (*base + c->niv > cap)
		return -ENOSPC;
	for (size_t i = 0; i < c->niv; i++) {
		size_t at = (size_t)c->gen * cap + *base + i;

		if (v6) {
			struct filter_iv6 *iv = (struct filter_iv6 *)e->iv6 + at;

			iv->hi = (uint64_t)(c->iv[i].start >> 64);
			iv->lo = (uint64_t)c->iv[i].start;
			iv->cls = c->iv[i].cls;
			iv->pad = 0;
		} else {
			struct filter_iv4 *iv = (struct filter_iv4 *)e->iv4 + at;

			iv->start = (uint32_t)c->iv[i].start;
			iv->cls = c->iv[i].cls;
		}
	}
	for (uint32_t b = 0; b < FILTER_DIR_SLOTS; b++) {
		u128 bs = (u128)b << shift, be = (u128)(b + 1) << shift; /* be: 0 past the top */
		uint32_t count = 1, j;

		while (k + 1 < c->niv && c->iv[k + 1].start <= bs)
			k++;
		for (j = k + 1; j < c->niv && (b == FILTER_DIR_SLOTS - 1 || c->iv[j].start < be); j++)
			count++;
		dir[b].first = k;
		dir[b].count = count;
		if (count > maxcount)
			maxcount = count;
	}
	while ((1U << steps) < maxcount)
		steps++;
	g->steps[t] = steps;
	g->iv_base[t] = *base;
	*base += c->niv;
	return 0;
}

static int compile_addresses(struct compiler *c)
{
	uint32_t base4 = 0, base6 = 0;
	struct event *ev;
	size_t n;
	int err = 0;

	for (int t = 0; !err && t < FILTER_NADDR; t++) {
		bool dst = t == FILTER_DST4 || t == FILTER_DST6;
		int family = t >= FILTER_SRC6 ? 6 : 4;

		err = address_events(c->e, dst, family, &ev, &n);
		err = err ?: sweep(c, ev, n);
		err = err ?: write_address_table(c, t, family == 4 ? &base4 : &base6);
		free(ev);
	}
	return err;
}

/* Writes c->iv as a direct array of nkeys classes (array values are 8 apart). */
static void write_keys(struct compiler *c, uint8_t *array, uint32_t nkeys)
{
	for (size_t i = 0; i < c->niv; i++) {
		uint32_t end = i + 1 < c->niv ? (uint32_t)c->iv[i + 1].start : nkeys;

		for (uint32_t k = (uint32_t)c->iv[i].start; k < end; k++)
			*(uint32_t *)(array + (size_t)k * 8) = c->iv[i].cls;
	}
}

/* A keyed range field: the events of each rule's ranges, swept into the
 * array of nkeys classes. ranges(s, &list) gives a rule's ranges. */
static int compile_ranges(struct compiler *c, uint8_t *array, uint32_t nkeys,
			  uint32_t (*ranges)(const struct filter_spec *s,
					     const struct filter_range **list))
{
	struct filter_engine *e = c->e;
	const struct filter_range *r;
	struct event *ev = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (uint32_t pos = 0; !err && pos < e->nspecs; pos++) {
		uint32_t nr = ranges(e->specs[pos], &r);

		for (uint32_t k = 0; !err && k < nr; k++)
			err = add_range(&ev, &n, &cap, r[k].lo, r[k].hi, nkeys - 1, pos);
	}
	err = err ?: sweep(c, ev, n);
	free(ev);
	if (!err)
		write_keys(c, array, nkeys);
	return err;
}

static uint32_t sport_ranges(const struct filter_spec *s, const struct filter_range **list)
{
	*list = s->sport;
	return s->nsport;
}

static uint32_t dport_ranges(const struct filter_spec *s, const struct filter_range **list)
{
	*list = s->dport;
	return s->ndport;
}

static uint32_t length_ranges(const struct filter_spec *s, const struct filter_range **list)
{
	*list = s->length;
	return s->nlength;
}

static int compile_ports(struct compiler *c, bool dst)
{
	uint8_t *ports = c->e->ports + ((size_t)c->gen * 2 + dst) * 65536 * 8;

	return compile_ranges(c, ports, 65536, dst ? dport_ranges : sport_ranges);
}

static int compile_lengths(struct compiler *c)
{
	return compile_ranges(c, c->e->lens + (size_t)c->gen * FILTER_LEN_KEYS * 8,
			      FILTER_LEN_KEYS, length_ranges);
}

/* The protocol a rule's meta condition is on, or -1 (TCP flags imply TCP,
 * ICMP types ICMP unless proto says ICMPv6). */
static int meta_proto(const struct filter_spec *s)
{
	if (s->tcp_mask)
		return 6;
	if (s->nicmp && s->proto < 0)
		return 1;
	return s->proto;
}

/* Events of a rule's meta keys (layout at FILTER_META_ANY). */
static int meta_events(const struct filter_spec *s, uint32_t pos, struct event **ev, size_t *n,
		       size_t *cap)
{
	const u128 max = FILTER_META_KEYS - 1;
	int proto = meta_proto(s), err;
	uint32_t base;

	if (proto < 0)
		return 0;
	err = add_range(ev, n, cap, proto, proto, max, pos);
	err = err ?: add_range(ev, n, cap, FILTER_META_ANY, FILTER_META_ANY, max, pos);
	if (proto == 6) {
		/* runs of flag values v with (v & mask) == value */
		for (uint32_t v = 0, lo = 0; !err && v <= 256; v++) {
			bool in = v < 256 && (v & s->tcp_mask) == s->tcp_value;
			bool was = v > 0 && ((v - 1) & s->tcp_mask) == s->tcp_value;

			if (in && !was)
				lo = v;
			if (!in && was)
				err = add_range(ev, n, cap, FILTER_META_TCP + lo,
						FILTER_META_TCP + v - 1, max, pos);
		}
		return err;
	}
	if (proto != 1 && proto != 58)
		return err;
	base = proto == 58 ? FILTER_META_ICMP6 : FILTER_META_ICMP;
	if (!s->nicmp)
		return err ?: add_range(ev, n, cap, base, base + 65535, max, pos);
	for (uint32_t k = 0; !err && k < s->nicmp; k++)
		err = add_range(ev, n, cap, base + s->icmp[k].lo, base + s->icmp[k].hi, max, pos);
	return err;
}

/* Meta classes: protocol, TCP flags, ICMP type and code, one sweep. */
static int compile_meta(struct compiler *c)
{
	struct filter_engine *e = c->e;
	struct event *ev = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (uint32_t pos = 0; !err && pos < e->nspecs; pos++)
		err = meta_events(e->specs[pos], pos, &ev, &n, &cap);
	err = err ?: sweep(c, ev, n);
	free(ev);
	if (!err)
		write_keys(c, e->metas + (size_t)c->gen * FILTER_META_KEYS * 8, FILTER_META_KEYS);
	return err;
}

/* The "maybe" port classes: every rule with a sport, dport condition. */
static int compile_maybe_ports(struct compiler *c)
{
	struct filter_engine *e = c->e;
	int64_t cls;

	for (int dst = 0; dst < 2; dst++) {
		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			if (dst ? e->specs[pos]->ndport : e->specs[pos]->nsport)
				active_add(&c->act, pos);
		cls = emit_class(c);
		active_reset(&c->act, c->nrules);
		if (cls < 0)
			return cls;
		e->gens[c->gen].maybe_port[dst] = cls;
	}
	return 0;
}

/* Whether rule s names interface ifindex (every entry of its list counts). */
static bool names_iif(const struct filter_spec *s, uint32_t ifindex)
{
	for (uint32_t k = 0; k < s->niif; k++)
		if (s->iif[k] == ifindex)
			return true;
	return false;
}

/* Set fields: one class per mask of sets holding the address, each the
 * rules without a set in that direction plus those whose set is in the mask;
 * consecutive from set_base. */
static int compile_sets(struct compiler *c)
{
	struct filter_engine *e = c->e;
	int64_t cls;

	for (int dir = 0; dir < 2; dir++) {
		bool used = false;

		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			used |= (dir ? e->specs[pos]->dstset : e->specs[pos]->srcset) >= 0;
		e->gens[c->gen].set_base[dir] = c->ndesc;
		for (uint32_t mask = 0; used && mask < FILTER_SET_MASKS; mask++) {
			for (uint32_t pos = 0; pos < e->nspecs; pos++) {
				int set = dir ? e->specs[pos]->dstset : e->specs[pos]->srcset;

				if (set < 0 || (mask & (1U << set)))
					active_add(&c->act, pos);
			}
			cls = emit_class_at(c, true);
			active_reset(&c->act, c->nrules);
			if (cls < 0)
				return cls;
		}
	}
	return 0;
}

/* ct classes: one per state, the rules that name it (a rule names few). */
static int compile_ct(struct compiler *c)
{
	struct filter_engine *e = c->e;
	uint32_t *cts = (uint32_t *)(e->cts + (size_t)c->gen * FILTER_CT_KEYS * 8);
	int64_t cls;

	for (uint32_t key = 0; key < FILTER_CT_KEYS; key++) {
		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			if (e->specs[pos]->ct & (1U << key))
				active_add(&c->act, pos);
		cls = emit_class(c);
		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			if (e->specs[pos]->ct & (1U << key))
				active_remove(&c->act, pos);
		if (cls < 0)
			return cls;
		cts[key * 2] = cls; /* the map's values are 8 bytes apart */
	}
	return 0;
}

/* iif classes go into a hash map: the old entries of this generation first go. */
static int compile_iif(struct compiler *c)
{
	struct filter_engine *e = c->e;
	int fd = bpf_map__fd(e->skel->maps.filter_iifs), err = 0;
	uint32_t n = 0, *ifs = NULL, g = c->gen;
	struct filter_iif_key *keys;
	int64_t cls;

	for (uint32_t i = 0; i < e->niif_keys[g]; i++)
		bpf_map_delete_elem(fd, &e->iif_keys[g][i]);
	e->niif_keys[g] = 0;
	for (uint32_t pos = 0; pos < e->nspecs; pos++) {
		const struct filter_spec *s = e->specs[pos];

		for (uint32_t k = 0; k < s->niif; k++) {
			uint32_t j;

			for (j = 0; j < n && ifs[j] != s->iif[k]; j++)
				;
			if (j < n)
				continue;
			uint32_t *p = realloc(ifs, (n + 1) * sizeof(*p));

			if (!p) {
				free(ifs);
				return -ENOMEM;
			}
			ifs = p;
			ifs[n++] = s->iif[k];
		}
	}
	keys = realloc(e->iif_keys[g], (n ? n : 1) * sizeof(*keys));
	if (!keys) {
		free(ifs);
		return -ENOMEM;
	}
	e->iif_keys[g] = keys;
	for (uint32_t i = 0; !err && i < n; i++) {
		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			if (names_iif(e->specs[pos], ifs[i]))
				active_add(&c->act, pos);
		cls = emit_class(c);
		for (uint32_t pos = 0; pos < e->nspecs; pos++)
			if (names_iif(e->specs[pos], ifs[i]))
				active_remove(&c->act, pos);
		if (cls < 0) {
			err = cls;
			break;
		}
		keys[i] = (struct filter_iif_key){ .gen = g, .ifindex = ifs[i] };
		uint32_t v = cls;

		if (bpf_map_update_elem(fd, &keys[i], &v, 0))
			err = -errno;
		else
			e->niif_keys[g] = i + 1;
	}
	free(ifs);
	return err;
}

static void bitmap_set(struct filter_bitmap *b, uint32_t pos)
{
	uint32_t w = pos >> 6;

	b->leaf[w] |= 1ULL << (pos & 63);
	b->l1[w >> 6] |= 1ULL << (w & 63);
	b->l0 |= 1ULL << (w >> 6);
}

static struct filter_bitmap *dense_of(struct compiler *c, uint32_t which)
{
	return (struct filter_bitmap *)(c->e->dense +
					((size_t)c->gen * FILTER_NDENSE + which) *
						sizeof(struct filter_bitmap));
}

/* Whether rule s constrains field f. */
static bool constrains(const struct filter_spec *s, int f)
{
	switch (f) {
	case FILTER_F_SRC: return s->nsrc > 0;
	case FILTER_F_DST: return s->ndst > 0;
	case FILTER_F_SPORT: return s->nsport > 0;
	case FILTER_F_DPORT: return s->ndport > 0;
	case FILTER_F_META: return meta_proto(s) >= 0;
	case FILTER_F_LEN: return s->nlength > 0;
	case FILTER_F_IIF: return s->niif > 0;
	case FILTER_F_SRCSET: return s->srcset >= 0;
	case FILTER_F_DSTSET: return s->dstset >= 0;
	case FILTER_F_CT: return s->ct != 0;
	}
	return false;
}

/* Wildcard and set bitmaps, rule records and the generation's parameters. */
static void compile_dense_and_rules(struct compiler *c)
{
	struct filter_engine *e = c->e;
	struct filter_gen *g = &e->gens[c->gen];
	struct filter_rule *rules = (struct filter_rule *)e->rules + (size_t)c->gen * e->rule_cap;
	uint32_t used = 0, wild = 0;

	for (uint32_t w = 0; w < FILTER_NDENSE; w++)
		memset(dense_of(c, w), 0, sizeof(struct filter_bitmap));
	g->srcset_mask = g->dstset_mask = 0;
	for (uint32_t pos = 0; pos < e->nspecs; pos++) {
		const struct filter_spec *s = e->specs[pos];

		for (int f = 0; f < FILTER_NFIELDS; f++) {
			if (constrains(s, f)) {
				used |= 1U << f;
			} else {
				bitmap_set(dense_of(c, f), pos);
				wild |= 1U << f;
			}
		}
		if (s->srcset >= 0)
			g->srcset_mask |= 1U << s->srcset;
		if (s->dstset >= 0)
			g->dstset_mask |= 1U << s->dstset;
		rules[pos] = (struct filter_rule){
			.id = s->id,
			.action = s->action,
			.flags = (s->log ? FILTER_RULE_LOG : 0) |
				 (s->nsport || s->ndport || s->tcp_mask || s->nicmp ? FILTER_RULE_L4 : 0) |
				 (meta_proto(s) >= 0 ? FILTER_RULE_PROTO : 0),
			.sample = s->sample,
			.burst = s->burst,
			.pps_ns = s->pps ? 1000000000ULL / s->pps : 0,
			.bps = s->bps,
		};
	}
	g->default_action = e->default_action;
	g->unparsed_action = e->unparsed_action;
	g->fragment_action = e->fragment_action;
	g->nrules = e->nspecs;
	/* what the search needs when no rule constrains anything: every rule
	 * matches and the first one that is not "count" decides */
	g->first_terminal = e->nspecs;
	for (uint32_t pos = 0; pos < e->nspecs; pos++)
		if (rules[pos].action != FILTER_COUNT) {
			g->first_terminal = pos;
			break;
		}
	for (int f = 0; f < FILTER_NFIELDS; f++)
		g->wild_l0[f] = dense_of(c, f)->l0;
	g->field_mask = used;
	g->wild_mask = wild & used & ~(1U << FILTER_F_SRCSET | 1U << FILTER_F_DSTSET);
}

int filter_commit(struct filter_engine *e)
{
	struct compiler c = { .e = e, .gen = !e->ctl.gen, .ndesc = 1, .nrules = e->nspecs };
	int err;

	e->error[0] = '\0';
	c.act.count = calloc(e->nspecs ? e->nspecs : 1, sizeof(*c.act.count));
	if (!c.act.count)
		return -ENOMEM;
	memset((struct filter_desc *)e->descs + (size_t)c.gen * e->desc_cap, 0,
	       sizeof(struct filter_desc));
	err = compile_addresses(&c);
	err = err ?: compile_ports(&c, false);
	err = err ?: compile_ports(&c, true);
	err = err ?: compile_meta(&c);
	err = err ?: compile_lengths(&c);
	err = err ?: compile_maybe_ports(&c);
	err = err ?: compile_iif(&c);
	err = err ?: compile_ct(&c);
	err = err ?: compile_sets(&c);
	err = err ?: filter_pool_fit(e, c.gen, c.npool);
	free(c.iv);
	free(c.act.count);
	if (err == -ENOSPC && !e->error[0])
		return snprintf(e->error, sizeof(e->error),
				"rules: the compiled policy does not fit the maps sized for "
				"max_rules=%u; create the filter with a larger max_rules",
				e->max_rules), err;
	if (err && !e->error[0])
		return snprintf(e->error, sizeof(e->error), "compile the rules: %s",
				strerror(-err)), err;
	if (err)
		return err;
	compile_dense_and_rules(&c);
	err = filter_flip(e, c.gen);
	if (!err) {
		e->dirty = false;
		filter_publish(e);
	}
	return err;
}
