/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * A small strict JSON reader and writer for the daemon's protocol and state
 * files (RFC 8259: objects, arrays, strings with escapes, numbers, true,
 * false, null). The reader builds a tree; the writer appends to a buffer.
 */
#ifndef LBPF_JSON_H
#define LBPF_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	double number;
	char *string;              /* JSON_STRING: NUL-terminated, no NUL inside */
	size_t len;                /* string length, or number of items */
	struct json **items;       /* JSON_ARRAY and JSON_OBJECT values */
	char **keys;               /* JSON_OBJECT keys, parallel to items */
};

/* Parses exactly one JSON value (surrounding whitespace allowed). Returns
 * NULL with a message "byte N: what" in err when the text is not valid JSON,
 * and NULL with errno = ENOMEM when memory ran out. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(struct json *value);

/* The value of key in an object, or NULL (also when obj is not an object). */
const struct json *json_get(const struct json *obj, const char *key);
/* The string of key, or NULL when it is absent or not a string. */
const char *json_get_string(const struct json *obj, const char *key);
/* True and *out when key holds a number. */
bool json_get_number(const struct json *obj, const char *key, double *out);
bool json_get_bool(const struct json *obj, const char *key, bool fallback);

/* The writer: a growing buffer. A failed allocation sets `failed` and later
 * appends do nothing; check it once at the end. Commas are automatic. */
struct json_writer {
	char *data;
	size_t len, cap;
	bool failed;
	bool spaced;               /* ", " and ": " as bpftrace writes; else none */
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
};

void json_writer_free(struct json_writer *w);
void json_object_begin(struct json_writer *w);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w);
void json_array_end(struct json_writer *w);
/* The key of the next value in an object. */
void json_key(struct json_writer *w, const char *key);
/* Writes s; a byte of ill-formed UTF-8 becomes U+FFFD. */
void json_string(struct json_writer *w, const char *s);
/* The offset of the first byte of s that is not well-formed UTF-8, or
 * (size_t)-1 when s is all UTF-8: what json_string would not keep. */
size_t json_utf8_invalid(const char *s);
void json_number(struct json_writer *w, double n);
void json_integer(struct json_writer *w, long long n);
void json_bool(struct json_writer *w, bool b);
void json_null(struct json_writer *w);
/* Shorthands for a key and its value. */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_integer(struct json_writer *w, const char *key, long long n);
void json_kv_bool(struct json_writer *w, const char *key, bool b);
/* Writes a parsed value back out. */
void json_value(struct json_writer *w, const struct json *v);
/* Appends raw bytes (e.g. a newline after a message). */
void json_raw(struct json_writer *w, const char *s, size_t len);

#endif /* LBPF_JSON_H */
