// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A strict JSON reader (recursive descent, depth-limited, no trailing commas,
 * no leading zeros, no control characters in strings, \u escapes with
 * surrogate pairs turned into UTF-8) and a writer that escapes what it must.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct reader {
	const char *p, *start, *end;
	char *err;
	size_t errlen;
	bool failed;
};

/* Records the first error, at the current position; returns NULL. */
static struct json *fail(struct reader *r, const char *what)
{
	if (!r->failed && r->err)
		snprintf(r->err, r->errlen, "byte %zu: %s", (size_t)(r->p - r->start) + 1, what);
	r->failed = true;
	return NULL;
}

static void skip_space(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static struct json *new_value(struct reader *r, enum json_type type)
{
	struct json *v = calloc(1, sizeof(*v));

	if (!v) {
		errno = ENOMEM;
		return fail(r, "out of memory");
	}
	v->type = type;
	return v;
}

void json_free(struct json *v)
{
	size_t i;

	if (!v)
		return;
	if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
		for (i = 0; i < v->len; i++) {
			json_free(v->items[i]);
			if (v->keys)
				free(v->keys[i]);
		}
	}
	free(v->items);
	free(v->keys);
	free(v->string);
	free(v);
}

static struct json *parse_value(struct reader *r, int depth);

static bool literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
		return false;
	r->p += n;
	return true;
}

static bool digits(struct reader *r)
{
	const char *s = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s;
}

/* number = [-] (0 | [1-9][0-9]*) [. [0-9]+] [(e|E) [+-] [0-9]+] */
static struct json *parse_number(struct reader *r)
{
	const char *s = r->p;
	char buf[64];
	struct json *v;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0') {
		r->p++;
		if (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			return fail(r, "leading zeros are not allowed in numbers");
	} else if (!digits(r)) {
		return fail(r, "invalid number");
	}
	if (r->p < r->end && *r->p == '.' && (r->p++, !digits(r)))
		return fail(r, "digits expected after the decimal point");
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (!digits(r))
			return fail(r, "digits expected in the exponent");
	}
	if ((size_t)(r->p - s) >= sizeof(buf))
		return fail(r, "number too long");
	memcpy(buf, s, r->p - s);
	buf[r->p - s] = '\0';
	if (!(v = new_value(r, JSON_NUMBER)))
		return NULL;
	v->number = strtod(buf, NULL);
	return v;
}

static int hex4(const char *p)
{
	int i, n = 0;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		n <<= 4;
		if (c >= '0' && c <= '9')
			n |= c - '0';
		else if (c >= 'a' && c <= 'f')
			n |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			n |= c - 'A' + 10;
		else
			return -1;
	}
	return n;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80)
		return out[0] = cp, 1;
	if (cp < 0x800)
		return out[0] = 0xc0 | cp >> 6, out[1] = 0x80 | (cp & 0x3f), 2;
	if (cp < 0x10000) {
		out[0] = 0xe0 | cp >> 12;
		out[1] = 0x80 | ((cp >> 6) & 0x3f);
		out[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | cp >> 18;
	out[1] = 0x80 | ((cp >> 12) & 0x3f);
	out[2] = 0x80 | ((cp >> 6) & 0x3f);
	out[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* \uXXXX, or a surrogate pair \uD8xx\uDCxx; r->p is after the 'u'. */
static int parse_unicode(struct reader *r, char *out, size_t *n)
{
	int hi, lo;

	if (r->end - r->p < 4 || (hi = hex4(r->p)) < 0)
		return fail(r, "\\u needs four hex digits"), -1;
	r->p += 4;
	if (hi == 0)
		return fail(r, "\\u0000 is not supported in strings"), -1;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(r, "lone low surrogate"), -1;
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
		    (lo = hex4(r->p + 2)) < 0xdc00 || lo > 0xdfff)
			return fail(r, "high surrogate without its low surrogate"), -1;
		r->p += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	*n += put_utf8(out + *n, hi);
	return 0;
}

static int parse_escape(struct reader *r, char *out, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (r->p >= r->end)
		return fail(r, "unterminated string"), -1;
	if (*r->p == 'u')
		return r->p++, parse_unicode(r, out, n);
	if (!(hit = memchr(from, *r->p, sizeof(from) - 1)))
		return fail(r, "invalid escape in string"), -1;
	out[(*n)++] = to[hit - from];
	r->p++;
	return 0;
}

/* A string; r->p is at the opening quote. Returns a malloc'ed copy. */
static char *parse_chars(struct reader *r, size_t *len)
{
	const char *close = r->p + 1;
	char *out;
	size_t n = 0;

	while (close < r->end && *close != '"')
		close += *close == '\\' ? 2 : 1;
	if (close >= r->end)
		return fail(r, "unterminated string"), NULL;
	/* an escape never produces more bytes than it takes */
	if (!(out = malloc(close - r->p + 1))) {
		errno = ENOMEM;
		return fail(r, "out of memory"), NULL;
	}
	for (r->p++; *r->p != '"'; ) {
		unsigned char c = *r->p;

		if (c < 0x20) {
			fail(r, "control character in string");
			break;
		}
		if (c == '\\') {
			r->p++;
			if (parse_escape(r, out, &n) < 0)
				break;
		} else {
			out[n++] = c;
			r->p++;
		}
	}
	if (r->failed)
		return free(out), NULL;
	r->p++;
	out[n] = '\0';
	*len = n;
	return out;
}

static struct json *parse_string(struct reader *r)
{
	struct json *v;
	size_t len;
	char *s = parse_chars(r, &len);

	if (!s)
		return NULL;
	if (!(v = new_value(r, JSON_STRING)))
		return free(s), NULL;
	v->string = s;
	v->len = len;
	return v;
}

/* Appends item (and key) to a container; false when out of memory. */
static bool append(struct reader *r, struct json *c, char *key, struct json *item)
{
	struct json **items = realloc(c->items, (c->len + 1) * sizeof(*items));
	char **keys;

	if (items)
		c->items = items;
	if (items && c->type == JSON_OBJECT) {
		keys = realloc(c->keys, (c->len + 1) * sizeof(*keys));
		if (keys) {
			c->keys = keys;
			keys[c->len] = key;
		} else {
			items = NULL;
		}
	}
	if (!items) {
		errno = ENOMEM;
		fail(r, "out of memory");
		return false;
	}
	c->items[c->len++] = item;
	return true;
}

/* One member "key": value of an object; false on error. */
static bool parse_member(struct reader *r, struct json *obj, int depth)
{
	struct json *item;
	size_t len;
	char *key;

	skip_space(r);
	if (r->p >= r->end || *r->p != '"')
		return fail(r, "a string key expected"), false;
	if (!(key = parse_chars(r, &len)))
		return false;
	skip_space(r);
	if (r->p >= r->end || *r->p != ':')
		return free(key), fail(r, "':' expected after a key"), false;
	r->p++;
	if (!(item = parse_value(r, depth + 1)))
		return free(key), false;
	if (!append(r, obj, key, item))
		return free(key), json_free(item), false;
	return true;
}

/* An array or an object; r->p is at '[' or '{'. */
static struct json *parse_container(struct reader *r, int depth, enum json_type type)
{
	char close = type == JSON_ARRAY ? ']' : '}';
	struct json *c, *item;

	if (depth >= JSON_MAX_DEPTH)
		return fail(r, "nested too deeply");
	if (!(c = new_value(r, type)))
		return NULL;
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == close)
		return r->p++, c;
	for (;;) {
		if (type == JSON_OBJECT && !parse_member(r, c, depth))
			break;
		if (type == JSON_ARRAY && (!(item = parse_value(r, depth + 1)) ||
					   !append(r, c, NULL, item))) {
			json_free(item);
			break;
		}
		skip_space(r);
		if (r->p < r->end && *r->p == close)
			return r->p++, c;
		if (r->p >= r->end || *r->p != ',') {
			fail(r, type == JSON_ARRAY ? "',' or ']' expected" : "',' or '}' expected");
			break;
		}
		r->p++;
	}
	json_free(c);
	return NULL;
}

static struct json *parse_value(struct reader *r, int depth)
{
	skip_space(r);
	if (r->p >= r->end)
		return fail(r, "unexpected end of input");
	switch (*r->p) {
	case '{': return parse_container(r, depth, JSON_OBJECT);
	case '[': return parse_container(r, depth, JSON_ARRAY);
	case '"': return parse_string(r);
	case 't': return literal(r, "true") ? new_value(r, JSON_TRUE) : fail(r, "invalid literal");
	case 'f': return literal(r, "false") ? new_value(r, JSON_FALSE) : fail(r, "invalid literal");
	case 'n': return literal(r, "null") ? new_value(r, JSON_NULL) : fail(r, "invalid literal");
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return parse_number(r);
		return fail(r, "unexpected character");
	}
}

struct json *json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct reader r = { text, text, text + len, err, errlen, false };
	struct json *v;

	if (err && errlen)
		err[0] = '\0';
	v = parse_value(&r, 0);
	if (!v)
		return NULL;
	skip_space(&r);
	if (r.p != r.end) {
		json_free(v);
		return fail(&r, "trailing characters after the value");
	}
	return v;
}

const struct json *json_get(const struct json *obj, const char *key)
{
	size_t i;

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (i = 0; i < obj->len; i++)
		if (!strcmp(obj->keys[i], key))
			return obj->items[i];
	return NULL;
}

const char *json_get_string(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->string : NULL;
}

bool json_get_number(const struct json *obj, const char *key, double *out)
{
	const struct json *v = json_get(obj, key);

	if (!v || v->type != JSON_NUMBER)
		return false;
	*out = v->number;
	return true;
}

bool json_get_bool(const struct json *obj, const char *key, bool fallback)
{
	const struct json *v = json_get(obj, key);

	if (v && (v->type == JSON_TRUE || v->type == JSON_FALSE))
		return v->type == JSON_TRUE;
	return fallback;
}

/* ---- the writer ---- */

void json_writer_free(struct json_writer *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

void json_raw(struct json_writer *w, const char *s, size_t len)
{
	if (w->failed)
		return;
	if (w->len + len + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		char *data;

		while (cap < w->len + len + 1)
			cap *= 2;
		if (!(data = realloc(w->data, cap))) {
			w->failed = true;
			return;
		}
		w->data = data;
		w->cap = cap;
	}
	memcpy(w->data + w->len, s, len);
	w->len += len;
	w->data[w->len] = '\0';
}

/* A comma before every value but the first of its container. */
static void separate(struct json_writer *w)
{
	if (w->depth > 0 && w->need_comma[w->depth - 1])
		json_raw(w, ", ", w->spaced ? 2 : 1);
	if (w->depth > 0)
		w->need_comma[w->depth - 1] = true;
}

static void open_container(struct json_writer *w, const char *bracket)
{
	separate(w);
	json_raw(w, bracket, 1);
	if (w->depth >= JSON_MAX_DEPTH) {
		w->failed = true;
		return;
	}
	w->need_comma[w->depth++] = false;
}

static void close_container(struct json_writer *w, const char *bracket)
{
	if (w->depth > 0)
		w->depth--;
	json_raw(w, bracket, 1);
}

void json_object_begin(struct json_writer *w) { open_container(w, "{"); }
void json_object_end(struct json_writer *w) { close_container(w, "}"); }
void json_array_begin(struct json_writer *w) { open_container(w, "["); }
void json_array_end(struct json_writer *w) { close_container(w, "]"); }

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. s[0] >= 0x80. */
static int utf8_len(const unsigned char *s)
{
	unsigned lo = 0x80, hi = 0xbf;
	int n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

size_t json_utf8_invalid(const char *s)
{
	const char *p = s;
	int n;

	while (*p) {
		if ((unsigned char)*p < 0x80)
			p++;
		else if ((n = utf8_len((const unsigned char *)p)))
			p += n;
		else
			return p - s;
	}
	return (size_t)-1;
}

/* Writes s as a JSON string. A byte that is not part of well-formed UTF-8
 * becomes U+FFFD, so a reply is valid JSON whatever a policy printed. */
static void quote(struct json_writer *w, const char *s)
{
	const char *run = s;
	char esc[8];

	json_raw(w, "\"", 1);
	for (; *s; s++) {
		unsigned char c = *s;
		int n;

		if (c >= 0x80 && (n = utf8_len((const unsigned char *)s))) {
			s += n - 1;
			continue;
		}
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			continue;
		json_raw(w, run, s - run);
		if (c >= 0x80)
			snprintf(esc, sizeof(esc), "\\ufffd");
		else if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n' || c == '\t' || c == '\r')
			snprintf(esc, sizeof(esc), "\\%c", c == '\n' ? 'n' : c == '\t' ? 't' : 'r');
		else
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		json_raw(w, esc, strlen(esc));
		run = s + 1;
	}
	json_raw(w, run, s - run);
	json_raw(w, "\"", 1);
}

void json_key(struct json_writer *w, const char *key)
{
	separate(w);
	quote(w, key);
	json_raw(w, ": ", w->spaced ? 2 : 1);
	/* the value that follows takes no comma */
	if (w->depth > 0)
		w->need_comma[w->depth - 1] = false;
}

void json_string(struct json_writer *w, const char *s)
{
	separate(w);
	quote(w, s ? s : "");
}

void json_number(struct json_writer *w, double n)
{
	char buf[32];

	separate(w);
	if (!isfinite(n)) /* JSON has no NaN or infinity */
		snprintf(buf, sizeof(buf), "null");
	else if (n == (double)(long long)n && fabs(n) < 1e15)
		snprintf(buf, sizeof(buf), "%lld", (long long)n);
	else
		snprintf(buf, sizeof(buf), "%.17g", n);
	json_raw(w, buf, strlen(buf));
}

void json_integer(struct json_writer *w, long long n)
{
	char buf[24];

	separate(w);
	snprintf(buf, sizeof(buf), "%lld", n);
	json_raw(w, buf, strlen(buf));
}

void json_bool(struct json_writer *w, bool b)
{
	separate(w);
	json_raw(w, b ? "true" : "false", b ? 4 : 5);
}

void json_null(struct json_writer *w)
{
	separate(w);
	json_raw(w, "null", 4);
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_kv_integer(struct json_writer *w, const char *key, long long n)
{
	json_key(w, key);
	json_integer(w, n);
}

void json_kv_bool(struct json_writer *w, const char *key, bool b)
{
	json_key(w, key);
	json_bool(w, b);
}

void json_value(struct json_writer *w, const struct json *v)
{
	size_t i;

	switch (v->type) {
	case JSON_NULL: json_null(w); break;
	case JSON_FALSE: json_bool(w, false); break;
	case JSON_TRUE: json_bool(w, true); break;
	case JSON_NUMBER: json_number(w, v->number); break;
	case JSON_STRING: json_string(w, v->string); break;
	case JSON_ARRAY:
		json_array_begin(w);
		for (i = 0; i < v->len; i++)
			json_value(w, v->items[i]);
		json_array_end(w);
		break;
	case JSON_OBJECT:
		json_object_begin(w);
		for (i = 0; i < v->len; i++) {
			json_key(w, v->keys[i]);
			json_value(w, v->items[i]);
		}
		json_object_end(w);
		break;
	}
}
