/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Output records (<lbpf/output.h>) as JSON in the shapes of bpftrace's
 * `-f json` (0.17): {"type": "printf", "data": "x\n"}, {"type": "map",
 * "data": {"@name": {"key": 3}}}, {"type": "hist", "data": {"@name": [{"min":
 * 0, "max": 0, "count": 1}, ...]}}, {"type": "lost_events", "data":
 * {"events": N}}, {"type": "attached_probes", "data": {"probes": N}}; and
 * lbpf's own "error" and "log". README.md ("Output for programs") maps them.
 */
#ifndef LBPF_OUTPUT_JSON_H
#define LBPF_OUTPUT_JSON_H

#include <lbpf/output.h>

#include "json.h"

/* Writes the "type" and "data" members of rec into the object w has open.
 * Returns false, writing nothing, for a record that has no JSON form (a
 * final lost count that adds nothing). */
bool json_output_record(struct json_writer *w, const struct lbpf_output *rec);

/* One NDJSON line for rec: {"type": ..., "data": ...} and a newline, in
 * bpftrace's spacing, into w (emptied first). False when there is none, or
 * memory ran out (w->failed). */
bool json_output_line(struct json_writer *w, const struct lbpf_output *rec);

#endif /* LBPF_OUTPUT_JSON_H */
