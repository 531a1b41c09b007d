// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The packet filter as the fuzzers drive it: loaded once, never attached,
 * run with BPF_PROG_TEST_RUN (filter_test), its log records read back from
 * its own ring buffer so that a harness sees the packet as the program
 * parsed it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <lbpf/filter.h>
#include <lbpf/record.h>

#include "filter.skel.h"
#include "fuzz.h"

#define LOG_SOURCE 1

static struct ring_buffer *ring;
static struct filter_pkt last_pkt;
static bool have_pkt;

/* Keeps the first log record of a run. */
static int on_record(void *ctx, void *data, size_t size)
{
	const struct filter_report *r = (const void *)((const uint8_t *)data +
						       sizeof(struct lbpf_record));

	if (size < sizeof(struct lbpf_record) + sizeof(*r))
		fuzz_fail("a log record of %zu bytes", size);
	if (!have_pkt && r->kind == FILTER_REC_LOG) {
		last_pkt = r->pkt;
		have_pkt = true;
	}
	return 0;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

struct filter_engine *fuzz_engine(uint32_t max_rules)
{
	struct filter_engine_opts o = { .hook = FILTER_HOOK_XDP, .max_rules = max_rules,
					.ringbuf_fd = -1 };
	struct filter_engine *e;
	char err[256];

	libbpf_set_print(quiet);
	if (filter_engine_open(&e, &o, err, sizeof(err))) {
		fprintf(stderr, "fuzz: cannot load the packet filter: %s\n", err);
		exit(2);
	}
	ring = ring_buffer__new(bpf_map__fd(e->skel->maps.lbpf_events), on_record, NULL, NULL);
	if (!ring || filter_set_sources(e, LOG_SOURCE, 0) || filter_commit(e)) {
		fprintf(stderr, "fuzz: cannot set up the filter's ring buffer: %s\n", e->error);
		exit(2);
	}
	return e;
}

void fuzz_run(struct filter_engine *e, const uint8_t *frame, uint32_t len, uint32_t iif, int ct,
	      int *verdict, uint32_t *rule_id, uint32_t *why, struct filter_pkt *pkt,
	      bool *logged)
{
	uint32_t ns;

	ring_buffer__consume(ring); /* nothing left over from an earlier run */
	have_pkt = false;
	if (filter_test_ct(e, frame, len, iif, ct, 1, verdict, rule_id, &ns, why))
		fuzz_fail("filter_test_ct: %s", e->error);
	ring_buffer__consume(ring);
	*logged = have_pkt;
	if (have_pkt)
		*pkt = last_pkt;
}

void fuzz_dump_frame(const char *what, const uint8_t *frame, uint32_t len)
{
	fprintf(stderr, "%s (%u bytes):", what, len);
	for (uint32_t i = 0; i < len && i < 256; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", frame[i]);
	fprintf(stderr, "%s\n", len > 256 ? " ..." : "");
}

static void dump_addr(const uint8_t *a, int family)
{
	for (int i = 0; i < (family == 6 ? 16 : 4); i++)
		fprintf(stderr, family == 6 ? "%s%02x" : "%s%u", i ? (family == 6 ? "" : ".") : "",
			a[i]);
}

void fuzz_dump_pkt(const char *what, const struct filter_pkt *p)
{
	fprintf(stderr, "%s: family %u proto %u parse %u tcp_flags 0x%02x has_ports %u %u > %u "
		"has_icmp %u type %u code %u len %u iplen %u iif %u\n  src ", what, p->family,
		p->proto, p->parse, p->tcp_flags, p->has_ports, p->sport, p->dport, p->has_icmp,
		p->icmp_type, p->icmp_code, p->len, p->iplen, p->iif);
	dump_addr(p->src, p->family);
	fprintf(stderr, " dst ");
	dump_addr(p->dst, p->family);
	fprintf(stderr, "\n");
}

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nFINDING: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* ---- rules ---- */

static void *grow(void *list, uint32_t n, size_t size)
{
	void *p = realloc(list, (n + 1) * size);

	if (!p) {
		fprintf(stderr, "fuzz: out of memory\n");
		exit(2);
	}
	return p;
}

struct filter_spec *fuzz_spec(int action)
{
	struct filter_spec *s = grow(NULL, 0, sizeof(*s));

	*s = (struct filter_spec){ .action = action, .proto = -1, .srcset = -1, .dstset = -1 };
	return s;
}

void fuzz_add_range(struct filter_range **list, uint32_t *n, uint16_t lo, uint16_t hi)
{
	*list = grow(*list, *n, sizeof(**list));
	(*list)[(*n)++] = (struct filter_range){ lo < hi ? lo : hi, lo < hi ? hi : lo };
}

void fuzz_add_prefix(struct filter_prefix **list, uint32_t *n, const struct filter_prefix *p)
{
	*list = grow(*list, *n, sizeof(**list));
	(*list)[(*n)++] = *p;
}

void fuzz_add_iif(struct filter_spec *s, uint32_t ifindex)
{
	s->iif = grow(s->iif, s->niif, sizeof(*s->iif));
	s->iif[s->niif++] = ifindex;
}

void fuzz_insert(struct filter_engine *e, struct filter_spec *s)
{
	if (filter_rule_insert(e, s)) {
		fprintf(stderr, "fuzz: insert a rule: %s\n", e->error);
		exit(2);
	}
}
