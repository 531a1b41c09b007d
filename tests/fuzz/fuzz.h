/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * What the libFuzzer harnesses of tests/fuzz/ share: a reader of the
 * fuzzer's bytes, the packet filter loaded once for BPF_PROG_TEST_RUN with
 * its log records caught, and the references the filter is checked against
 * (reference.c): a parser of Ethernet frames written from the README's
 * "What the parser reads", and a first-match evaluator that walks the rules
 * one by one. A harness that finds the program and a reference disagreeing
 * prints both and aborts, which libFuzzer reports as a crash.
 */
#ifndef LBPF_FUZZ_H
#define LBPF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/filter.h"

/* ---- the fuzzer's bytes ---- */

struct bytes {
	const uint8_t *p;
	size_t n;
};

/* The next byte, or 0 once the input is used up. */
static inline uint8_t take8(struct bytes *b)
{
	if (!b->n)
		return 0;
	b->n--;
	return *b->p++;
}

static inline uint16_t take16(struct bytes *b)
{
	return (uint16_t)(take8(b) << 8 | take8(b));
}

static inline uint32_t take32(struct bytes *b)
{
	return (uint32_t)take16(b) << 16 | take16(b);
}

/* A number from 0 to n - 1 (n > 0). */
static inline uint32_t take_below(struct bytes *b, uint32_t n)
{
	return (n <= 256 ? take8(b) : take16(b)) % n;
}

/* ---- reference.c: the references ---- */

/* What the program's parser is documented to make of an Ethernet frame of
 * len bytes (len <= 4096): the struct it judges, as a log record carries it. */
void ref_parse(const uint8_t *frame, uint32_t len, struct filter_pkt *p);

/* A set as the reference sees it: the prefixes it holds. */
struct ref_set {
	struct filter_prefix *entries;
	uint32_t n;
};

/* What decides a packet when the rules are walked one by one. */
struct ref_policy {
	struct filter_spec **specs;
	uint32_t nspecs;
	int default_action, unparsed_action, fragment_action;
	const struct ref_set *sets; /* by slot, FILTER_MAX_SETS */
};

struct ref_verdict {
	int verdict;          /* FILTER_PASS or FILTER_DROP */
	uint32_t rule_id;     /* ~0: none */
	uint32_t why;         /* enum filter_why */
	uint32_t counted[FILTER_MAX_CHAIN]; /* ids of the count rules that count it */
	uint32_t ncounted;
};

/* The verdict for p (ref_parse's) arriving on interface iif in
 * connection-tracking state ct (enum filter_ct). */
void ref_decide(const struct ref_policy *pol, const struct filter_pkt *p, uint32_t iif, int ct,
		struct ref_verdict *v);

/* Whether prefix pre covers the address addr of family fam. */
bool ref_prefix_covers(const struct filter_prefix *pre, int fam, const uint8_t *addr);

/* ---- harness.c: the loaded filter ---- */

/* Opens the filter once (XDP program, not attached) with max_rules rules and
 * a log source; exits the process when it cannot (the harness is useless). */
struct filter_engine *fuzz_engine(uint32_t max_rules);

/* Runs frame through the program, in ct state ct (enum filter_ct; -1: as
 * XDP looks it up); *pkt gets the packet of the first log record it sent
 * (*logged false if none). A failed test run is a finding. */
void fuzz_run(struct filter_engine *e, const uint8_t *frame, uint32_t len, uint32_t iif, int ct,
	      int *verdict, uint32_t *rule_id, uint32_t *why, struct filter_pkt *pkt,
	      bool *logged);

/* A rule with no condition (proto any, no sets); exits when out of memory. */
struct filter_spec *fuzz_spec(int action);
/* Appends to a rule's list: a range, a prefix (from text), an interface. */
void fuzz_add_range(struct filter_range **list, uint32_t *n, uint16_t lo, uint16_t hi);
void fuzz_add_prefix(struct filter_prefix **list, uint32_t *n, const struct filter_prefix *p);
void fuzz_add_iif(struct filter_spec *s, uint32_t ifindex);
/* Inserts s, exits when the engine refuses it. */
void fuzz_insert(struct filter_engine *e, struct filter_spec *s);

/* Prints a packet (hex and fields) to stderr, for a finding. */
void fuzz_dump_frame(const char *what, const uint8_t *frame, uint32_t len);
void fuzz_dump_pkt(const char *what, const struct filter_pkt *p);
/* Prints the message and aborts: libFuzzer saves the input as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* LBPF_FUZZ_H */
