// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Output records for people: the text lbpf prints for each record when no
 * sink takes them (stdout or stderr of `lbpf run`), and that lbpfd keeps in
 * a policy's log. Knows no runtime; runtime.c hands records here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool lbpf_output_diagnostic(const struct lbpf_output *rec)
{
	return rec->kind == LBPF_OUTPUT_LOG || rec->kind == LBPF_OUTPUT_ERROR ||
	       rec->kind == LBPF_OUTPUT_LOST || rec->kind == LBPF_OUTPUT_ATTACHED;
}

/* "4K" style labels for powers of two, as bpftrace prints them. */
static void bound_label(double v, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	if (isinf(v)) {
		snprintf(buf, size, "...");
		return;
	}
	while (fabs(v) >= 1024 && fmod(v, 1024) == 0 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%.15g", v);
	else
		snprintf(buf, size, "%.15g%c", v, units[u]);
}

/* One bucket's line: label, count and a bar scaled to max. */
static void print_bucket(FILE *f, const struct lbpf_output_bucket *b, bool log2, long long max)
{
	char lo[32], hi[32], label[80], bar[53];
	int width;

	bound_label(b->lo, lo, sizeof(lo));
	bound_label(b->hi, hi, sizeof(hi));
	if (log2 && b->hi - b->lo == 1)
		snprintf(label, sizeof(label), "[%s]", lo);
	else if (isinf(b->lo))
		snprintf(label, sizeof(label), "(..., %s)", hi);
	else
		snprintf(label, sizeof(label), "[%s, %s)", lo, hi);
	/* a table built in Lua may hold any count: negative or past max
	 * draws an empty or a full bar, never a wild memset */
	width = max > 0 && b->count > 0 ? (int)((double)b->count * 52 / max) : 0;
	width = width > 52 ? 52 : width;
	memset(bar, '@', width);
	memset(bar + width, ' ', 52 - width);
	bar[52] = '\0';
	fprintf(f, "%-20s %8lld |%s|\n", label, b->count, bar);
}

static void print_hist(FILE *f, const struct lbpf_output_hist *h)
{
	long long max = 0;
	size_t i;

	for (i = 0; i < h->n; i++)
		if (h->buckets[i].count > max)
			max = h->buckets[i].count;
	for (i = 0; i < h->n; i++)
		print_bucket(f, &h->buckets[i], h->log2, max);
}

/* A float as Lua writes it: "%.14g", and "2.0" rather than "2". */
static void print_number(FILE *f, double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.14g", v);
	if (buf[strspn(buf, "-0123456789")] == '\0')
		strcat(buf, ".0");
	fputs(buf, f);
}

static void print_value(FILE *f, const struct lbpf_output_row *row)
{
	if (row->type == LBPF_VALUE_INTEGER)
		fprintf(f, "%lld", row->integer);
	else if (row->type == LBPF_VALUE_NUMBER)
		print_number(f, row->number);
	else
		fputs("nil", f);
}

static void print_table(FILE *f, const struct lbpf_output *rec)
{
	size_t i;

	if (rec->table.title)
		fprintf(f, "%s\n", rec->table.title);
	for (i = 0; i < rec->table.nrows; i++) {
		fputs("  ", f);
		if (rec->table.rows[i].key)
			fprintf(f, "%s: ", rec->table.rows[i].key);
		print_value(f, &rec->table.rows[i]);
		fputc('\n', f);
	}
	for (i = 0; i < rec->table.nhists; i++) {
		const struct lbpf_output_hist *h = &rec->table.hists[i];

		if (h->key)
			fprintf(f, "[%s]:\n", h->key);
		print_hist(f, h);
		if (h->key)
			fputc('\n', f);
	}
}

static void print_record(FILE *f, const struct lbpf_output *rec)
{
	switch (rec->kind) {
	case LBPF_OUTPUT_PRINT:
		fputs(rec->text, f);
		break;
	case LBPF_OUTPUT_LOG:
		fprintf(f, "lbpf: %s", rec->text);
		break;
	case LBPF_OUTPUT_ERROR:
		if (rec->error.what)
			fprintf(f, "lbpf: error in %s: %s", rec->error.what, rec->error.text);
		else
			fprintf(f, "lbpf: %s", rec->error.text);
		break;
	case LBPF_OUTPUT_LOST:
		if (!rec->lost.final)
			fprintf(f, "lbpf: %llu events lost on %s (ring buffer full; raise --ringbuf)",
				(unsigned long long)rec->lost.events, rec->lost.probe);
		else if (rec->lost.total)
			fprintf(f, "lbpf: %llu events lost on %s in total",
				(unsigned long long)rec->lost.total, rec->lost.probe);
		break;
	case LBPF_OUTPUT_ATTACHED:
		if (rec->attached.points > 1)
			fprintf(f, "lbpf: attached %d probes for %s", rec->attached.points,
				rec->attached.probe);
		break;
	case LBPF_OUTPUT_MAP:
	case LBPF_OUTPUT_HIST:
		print_table(f, rec);
		break;
	}
}

char *lbpf_output_text(const struct lbpf_output *rec)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	print_record(f, rec);
	if (fclose(f)) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	if (len && text[len - 1] == '\n' && rec->kind != LBPF_OUTPUT_PRINT)
		text[len - 1] = '\0'; /* a table's last line ends like any other */
	return text;
}

/* Splits an error, "file:line: message", into rec. Lua names a chunk
 * "file", "[string \"...\"]" or "=name" as given, so the file is what comes
 * before the first ":N: " of the first line. */
static void split_location(struct lbpf_output *rec, char *first)
{
	char *p, *end;
	long line;

	char *eol = strchr(first, '\n');

	for (p = strstr(first, ": "); p && (!eol || p < eol); p = strstr(p + 1, ": ")) {
		char *colon = p;

		while (colon > first && colon[-1] >= '0' && colon[-1] <= '9')
			colon--;
		if (colon == p || colon == first || colon[-1] != ':')
			continue;
		line = strtol(colon, &end, 10);
		colon[-1] = '\0';
		rec->error.file = first;
		rec->error.line = (int)line;
		rec->error.message = p + 2;
		return;
	}
	rec->error.message = first;
}

char *lbpf_output_error_parse(struct lbpf_output *rec, const char *what, const char *text)
{
	char *copy = strdup(text ? text : "unknown error"), *tb;

	memset(rec, 0, sizeof(*rec));
	rec->kind = LBPF_OUTPUT_ERROR;
	rec->error.what = what;
	rec->error.text = text ? text : "unknown error";
	if (!copy) {
		rec->error.message = rec->error.text;
		return NULL;
	}
	if ((tb = strstr(copy, "\nstack traceback:"))) {
		*tb = '\0';
		rec->error.traceback = tb + 1;
	}
	split_location(rec, copy);
	return copy;
}
