/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * What a script's runtime writes, as typed records: a printed line, one of
 * lbpf's own lines, an error, lost events, probes attached, a table of
 * values and histograms. The runtime hands each record to one sink
 * (lbpf_runtime_opts_t.output); without one it prints the record for people
 * (core/output.c). A sink formats it as it likes: `lbpf run --format json`
 * and lbpfd's logs write the JSON lines of protocol/output_json.c.
 *
 * Plain data with no function, so that any part may read it. Every pointer
 * is valid only during the sink's call.
 */
#ifndef LBPF_OUTPUT_H
#define LBPF_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lbpf_output_kind {
	LBPF_OUTPUT_PRINT,         /* print(): text, one line without its newline */
	LBPF_OUTPUT_LOG,           /* lbpf's own line: text, without "lbpf: " */
	LBPF_OUTPUT_ERROR,         /* an error: error.* */
	LBPF_OUTPUT_LOST,          /* events lost: lost.* */
	LBPF_OUTPUT_ATTACHED,      /* a probe attached: attached.* */
	LBPF_OUTPUT_MAP,           /* values by key: table.* */
	LBPF_OUTPUT_HIST,          /* histograms (log2 or linear): table.* */
};

enum lbpf_output_value {
	LBPF_VALUE_INTEGER,
	LBPF_VALUE_NUMBER,
	LBPF_VALUE_NONE,           /* no value yet (an aggregation without entries) */
};

/* One value of a map; key NULL when the map has no keys. */
struct lbpf_output_row {
	const char *key;
	enum lbpf_output_value type;
	long long integer;
	double number;
};

/* A bucket holds lo <= v < hi; lo may be -INFINITY and hi INFINITY. */
struct lbpf_output_bucket {
	double lo, hi;
	long long count;
};

/* One histogram; key NULL when the histogram has no keys. */
struct lbpf_output_hist {
	const char *key;
	bool log2;                 /* log2 buckets ([2, 4)); else linear */
	size_t n;
	const struct lbpf_output_bucket *buckets;
};

struct lbpf_output {
	enum lbpf_output_kind kind;
	const char *text;          /* PRINT, LOG */
	struct {
		const char *what;  /* "callback", "on_exit handler", ...; NULL: the body */
		const char *message; /* the first line without "file:line: " */
		const char *file;  /* NULL when the message names no file */
		int line;
		const char *traceback; /* "stack traceback:\n..." or NULL */
		const char *text;  /* the whole error, as it was raised */
	} error;
	struct {
		const char *probe;
		uint64_t events;   /* lost since the last report */
		uint64_t total;    /* lost since the probe attached */
		bool final;        /* the probe's last report, at detach */
	} lost;
	struct {
		const char *probe;
		int points;
	} attached;
	struct {
		const char *name;  /* "@" + the probe's spec, or print_hist's title */
		const char *title; /* the first line for people, or NULL */
		bool stats;        /* an average: bpftrace's "stats" type */
		size_t nrows;
		const struct lbpf_output_row *rows;
		size_t nhists;
		const struct lbpf_output_hist *hists;
	} table;
};

typedef void (*lbpf_output_fn)(void *ctx, const struct lbpf_output *record);

#endif /* LBPF_OUTPUT_H */
