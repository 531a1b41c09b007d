// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Output records as bpftrace's JSON lines (see output_json.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "output_json.h"

/* A printed line is data "text\n", as bpftrace's printf carries its own. */
static void write_printf(struct json_writer *w, const char *text)
{
	size_t n = strlen(text);
	char *line = malloc(n + 2);

	if (!line) {
		w->failed = true;
		return;
	}
	memcpy(line, text, n);
	memcpy(line + n, "\n", 2);
	json_kv_string(w, "type", "printf");
	json_key(w, "data");
	json_string(w, line);
	free(line);
}

static void write_error(struct json_writer *w, const struct lbpf_output *rec)
{
	json_kv_string(w, "type", "error");
	json_key(w, "data");
	json_object_begin(w);
	json_kv_string(w, "msg", rec->error.message);
	if (rec->error.file) {
		json_kv_string(w, "file", rec->error.file);
		json_kv_integer(w, "line", rec->error.line);
	}
	if (rec->error.what)
		json_kv_string(w, "in", rec->error.what);
	if (rec->error.traceback)
		json_kv_string(w, "traceback", rec->error.traceback);
	json_object_end(w);
}

static void write_count(struct json_writer *w, const char *type, const char *what,
			long long n, const char *probe)
{
	json_kv_string(w, "type", type);
	json_key(w, "data");
	json_object_begin(w);
	json_kv_integer(w, what, n);
	json_kv_string(w, "probe", probe);
	json_object_end(w);
}

static void write_value(struct json_writer *w, const struct lbpf_output_row *row)
{
	if (row->type == LBPF_VALUE_INTEGER)
		json_integer(w, row->integer);
	else if (row->type == LBPF_VALUE_NUMBER)
		json_number(w, row->number);
	else
		json_null(w);
}

/* bpftrace's bucket: "min" and "max" both inclusive, "min" left out below
 * the lowest bound and "max" above the highest. */
static void write_buckets(struct json_writer *w, const struct lbpf_output_hist *h)
{
	size_t i;

	json_array_begin(w);
	for (i = 0; i < h->n; i++) {
		const struct lbpf_output_bucket *b = &h->buckets[i];

		json_object_begin(w);
		if (!isinf(b->lo)) {
			json_key(w, "min");
			json_number(w, b->lo);
		}
		if (!isinf(b->hi)) {
			json_key(w, "max");
			json_number(w, b->hi - 1);
		}
		json_kv_integer(w, "count", b->count);
		json_object_end(w);
	}
	json_array_end(w);
}

static bool unkeyed(const struct lbpf_output *rec)
{
	if (rec->kind == LBPF_OUTPUT_HIST)
		return rec->table.nhists == 1 && !rec->table.hists[0].key;
	return rec->table.nrows == 1 && !rec->table.rows[0].key;
}

/* {"@name": value} or {"@name": {"key": value, ...}}, hists likewise. */
static void write_table(struct json_writer *w, const struct lbpf_output *rec)
{
	bool hist = rec->kind == LBPF_OUTPUT_HIST;
	size_t i, n = hist ? rec->table.nhists : rec->table.nrows;

	json_kv_string(w, "type", hist ? "hist" : rec->table.stats ? "stats" : "map");
	json_key(w, "data");
	json_object_begin(w);
	json_key(w, rec->table.name);
	if (unkeyed(rec)) {
		if (hist)
			write_buckets(w, &rec->table.hists[0]);
		else
			write_value(w, &rec->table.rows[0]);
	} else {
		json_object_begin(w);
		for (i = 0; i < n; i++) {
			json_key(w, hist ? rec->table.hists[i].key : rec->table.rows[i].key);
			if (hist)
				write_buckets(w, &rec->table.hists[i]);
			else
				write_value(w, &rec->table.rows[i]);
		}
		json_object_end(w);
	}
	json_object_end(w);
}

bool json_output_record(struct json_writer *w, const struct lbpf_output *rec)
{
	switch (rec->kind) {
	case LBPF_OUTPUT_PRINT:
		write_printf(w, rec->text);
		return true;
	case LBPF_OUTPUT_LOG:
		json_kv_string(w, "type", "log");
		json_kv_string(w, "data", rec->text);
		return true;
	case LBPF_OUTPUT_ERROR:
		write_error(w, rec);
		return true;
	case LBPF_OUTPUT_LOST:
		if (!rec->lost.events)
			return false;
		write_count(w, "lost_events", "events", (long long)rec->lost.events, rec->lost.probe);
		return true;
	case LBPF_OUTPUT_ATTACHED:
		write_count(w, "attached_probes", "probes", rec->attached.points, rec->attached.probe);
		return true;
	case LBPF_OUTPUT_MAP:
	case LBPF_OUTPUT_HIST:
		write_table(w, rec);
		return true;
	}
	return false;
}

bool json_output_line(struct json_writer *w, const struct lbpf_output *rec)
{
	w->len = 0;
	w->depth = 0;
	w->failed = false;
	w->spaced = true;
	json_object_begin(w);
	if (!json_output_record(w, rec))
		return false;
	json_object_end(w);
	json_raw(w, "\n", 1);
	return !w->failed;
}
