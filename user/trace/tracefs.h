/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* tracefs: tracepoint formats and the names of tracepoints and kernel functions, for globbing.
 * Plain C, no Lua. Functions return 0 or -errno and print nothing: callers report. */
#ifndef LBPF_TRACEFS_H
#define LBPF_TRACEFS_H

#include <stdbool.h>
#include <stdint.h>

struct tp_field {
	char name[64];
	char type[96];        /* C type as in the format, without the name: "const char *",
			       * "char[16]", "__data_loc char[]" */
	uint16_t offset, size;
	bool is_signed;       /* signedness of the value as C declares it (not the format's
			       * signed: flag, which is wrong for syscall arguments) */
	uint8_t value_size;   /* bytes of the value to decode (<= size): the C type's size when
			       * recognizable (the element's for non-string arrays), else size
			       * (at most 255); 4 for __data_loc */
	bool is_data_loc;     /* __data_loc: u32 = (len << 16) | offset into the record */
	bool is_string;       /* char[N] array or __data_loc char[] */
	bool is_pointer;      /* any pointer type: capturable as a string with opts.strings */
	bool is_common;       /* common_* fields */
};

struct tp_format {
	char category[64], name[128];
	int id;
	int nfields;
	struct tp_field *fields;
	uint16_t size;        /* end of the last fixed field: bytes to copy before dynamic data */
};

/* Reads events/<category>/<name>/format under /sys/kernel/tracing, or /sys/kernel/debug/tracing
 * when the former is not mounted. 0, -ENOENT (no such tracepoint or no tracefs), -EINVAL
 * (bad name or unparsable format), other -errno. On success free fmt with tracefs_format_free. */
int tracefs_format_read(const char *category, const char *name, struct tp_format *fmt);
/* Parses the text of a format file into fmt (category left empty). 0, -EINVAL, -ENOMEM. */
int tracefs_format_parse(const char *text, struct tp_format *fmt);
/* Frees the fields of fmt (not fmt itself); accepts NULL and a zeroed or freed fmt. */
void tracefs_format_free(struct tp_format *fmt);
/* The field called name, or NULL if none. */
const struct tp_field *tracefs_field(const struct tp_format *fmt, const char *name);

/* Calls fn for every tracepoint whose category and name match shell globs (fnmatch), sorted by
 * category then name. Returns the number matched (0 = none) or -errno (-ENOENT: no tracefs).
 * fn returning non-zero stops the walk and that value is returned. */
int tracefs_glob_tracepoints(const char *cat_glob, const char *name_glob,
			     int (*fn)(const char *cat, const char *name, void *ctx), void *ctx);
/* Same over kernel functions that can be probed: available_filter_functions (" [module]"
 * suffixes stripped, deduplicated), or the text symbols (t/T) of /proc/kallsyms when that file
 * cannot be read (absent, or refused as under lockdown). Sorted by name. */
int tracefs_glob_functions(const char *glob, int (*fn)(const char *name, void *ctx), void *ctx);
/* True if s contains glob characters * ? [ */
bool tracefs_is_glob(const char *s);

#endif /* LBPF_TRACEFS_H */
