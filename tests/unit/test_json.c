// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The daemon's JSON reader and writer (user/protocol/json.c): what strict JSON accepts
 * parses to the right tree, what it rejects fails with a position, and the
 * writer's output parses back to what was written.
 */
#include <errno.h>

#include "unit.h"
#include "../../user/protocol/json.h"

static struct json *parse(const char *text, char *err)
{
	return json_parse(text, strlen(text), err, 128);
}

/* A request line with every kind of value. */
static void parses_values(void)
{
	char err[128];
	struct json *v = parse(" {\"op\":\"load\",\"args\":[\"a\",1,-2.5e2,true,false,null],"
			       "\"n\":{\"x\":0}} ", err);
	const struct json *args;

	if (!CHECK(v != NULL, "%s", err))
		return;
	CHECK_STR(json_get_string(v, "op"), "load");
	args = json_get(v, "args");
	if (CHECK(args && args->type == JSON_ARRAY && args->len == 6)) {
		CHECK_STR(args->items[0]->string, "a");
		CHECK(args->items[1]->number == 1);
		CHECK(args->items[2]->number == -250);
		CHECK(args->items[3]->type == JSON_TRUE);
		CHECK(args->items[4]->type == JSON_FALSE);
		CHECK(args->items[5]->type == JSON_NULL);
	}
	CHECK(json_get(json_get(v, "n"), "x")->number == 0);
	CHECK(json_get(v, "missing") == NULL);
	CHECK(json_get_string(v, "args") == NULL, "not a string");
	json_free(v);
}

/* Escapes, including a surrogate pair, become UTF-8. */
static void decodes_escapes(void)
{
	char err[128];
	struct json *v = parse("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\"", err);

	if (!CHECK(v != NULL, "%s", err))
		return;
	CHECK_STR(v->string, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80");
	json_free(v);
}

/* Each of these is invalid, with the reason expected in the message. */
static void rejects_invalid(void)
{
	static const char *const bad[][2] = {
		{ "", "unexpected end" },
		{ "{", "string key expected" },
		{ "{\"a\":1,}", "string key expected" },
		{ "[1,]", "unexpected character" },
		{ "[1 2]", "',' or ']' expected" },
		{ "{\"a\" 1}", "':' expected" },
		{ "01", "leading zeros" },
		{ "1.", "decimal point" },
		{ "1e", "exponent" },
		{ "-", "invalid number" },
		{ "\"abc", "unterminated" },
		{ "\"a\x01\"", "control character" },
		{ "\"\\x\"", "invalid escape" },
		{ "\"\\u12\"", "four hex digits" },
		{ "\"\\ud800\"", "low surrogate" },
		{ "\"\\udc00\"", "lone low" },
		{ "\"\\u0000\"", "not supported" },
		{ "tru", "invalid literal" },
		{ "nul", "invalid literal" },
		{ "{} {}", "trailing characters" },
		{ "'a'", "unexpected character" },
		{ "[NaN]", "unexpected character" },
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json *v = parse(bad[i][0], err);

		if (!CHECK(v == NULL, "accepted %s", bad[i][0]))
			json_free(v);
		CHECK(strstr(err, bad[i][1]) && !strncmp(err, "byte ", 5),
		      "%s: got \"%s\", want \"%s\"", bad[i][0], err, bad[i][1]);
	}
}

/* Deep nesting is refused rather than exhausting the stack. */
static void limits_depth(void)
{
	char text[JSON_MAX_DEPTH * 2 + 8], err[128];
	int i;

	for (i = 0; i < JSON_MAX_DEPTH + 1; i++)
		text[i] = '[';
	text[i] = '\0';
	CHECK(parse(text, err) == NULL);
	CHECK_CONTAINS(err, "nested too deeply");
}

/* What the writer produces parses back, escapes and all. */
static void writer_round_trip(void)
{
	struct json_writer w = { 0 };
	struct json *v;
	char err[128];

	json_object_begin(&w);
	json_kv_bool(&w, "ok", true);
	json_kv_string(&w, "error", "x.lua:3: \"bad\"\n\ttab\x01");
	json_kv_integer(&w, "n", -42);
	json_key(&w, "list");
	json_array_begin(&w);
	json_number(&w, 1.5);
	json_null(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_end(&w);
	json_object_end(&w);
	if (!CHECK(!w.failed))
		return;
	CHECK_STR(w.data, "{\"ok\":true,\"error\":\"x.lua:3: \\\"bad\\\"\\n\\ttab\\u0001\","
		  "\"n\":-42,\"list\":[1.5,null,{}]}");
	v = parse(w.data, err);
	if (CHECK(v != NULL, "%s", err)) {
		CHECK(json_get_bool(v, "ok", false));
		CHECK_STR(json_get_string(v, "error"), "x.lua:3: \"bad\"\n\ttab\x01");
		CHECK(json_get(v, "list")->len == 3);
	}
	json_free(v);
	json_writer_free(&w);
}

/* The writer keeps well-formed UTF-8 and turns every byte of an ill-formed
 * sequence into U+FFFD, so a reply is valid JSON whatever a policy printed. */
static void writer_utf8(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "h\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", "\"h\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"" },
		{ "a\xff" "b", "\"a\\ufffdb\"" },                        /* never a UTF-8 byte */
		{ "\xc0\x80", "\"\\ufffd\\ufffd\"" },                /* overlong NUL */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },      /* a surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* above U+10FFFF */
		{ "x\xe2\x82", "\"x\\ufffd\\ufffd\"" },                /* cut at the end */
		{ "\x80", "\"\\ufffd\"" },                            /* a lone continuation */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_writer w = { 0 };

		json_string(&w, cases[i].in);
		if (CHECK(!w.failed))
			CHECK(!strcmp(w.data, cases[i].out), "case %zu: got %s, want %s", i, w.data,
			      cases[i].out);
		json_writer_free(&w);
	}
}

UNIT_MAIN("json", UNIT(parses_values), UNIT(decodes_escapes), UNIT(rejects_invalid),
	  UNIT(limits_depth), UNIT(writer_round_trip), UNIT(writer_utf8))
