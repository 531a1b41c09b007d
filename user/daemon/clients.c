// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The clients of the control socket as the requests see them: a list by
 * id, so that a reply that waited for a load or an unload finds its client
 * only if it is still there; their replies; and the followers of logs.
 * Output leaves through the server's send function.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "policies.h"
#include "requests.h"

static struct client *clients; /* main thread */
static uint64_t next_id;
static client_send_fn *send_out;

void clients_init(client_send_fn *send)
{
	send_out = send;
}

void client_join(struct client *c)
{
	c->id = ++next_id;
	c->next = clients;
	clients = c;
}

void client_leave(struct client *c)
{
	struct client **pp;

	if (c->follow)
		atomic_fetch_sub(&c->follow->followers, 1);
	c->follow = NULL;
	for (pp = &clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
}

struct client *client_find(uint64_t id)
{
	struct client *c;

	for (c = clients; id && c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

void client_send(struct client *c, struct json_writer *w)
{
	if (!c || c->closing) {
		json_writer_free(w);
		return;
	}
	send_out(c, w);
}

void reply_begin_ok(struct json_writer *w)
{
	json_object_begin(w);
	json_kv_bool(w, "ok", true);
}

void client_send_ok(struct client *c, struct json_writer *w)
{
	json_object_end(w);
	client_send(c, w);
}

/* {"ok":false,"error":MESSAGE} into w. */
static void error_reply(struct json_writer *w, const char *fmt, va_list ap)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	json_object_begin(w);
	json_kv_bool(w, "ok", false);
	json_kv_string(w, "error", msg);
	json_object_end(w);
}

void client_error(struct client *c, const char *fmt, ...)
{
	struct json_writer w = { 0 };
	va_list ap;

	va_start(ap, fmt);
	error_reply(&w, fmt, ap);
	va_end(ap);
	client_send(c, &w);
}

void client_send_later(uint64_t id, struct json_writer *w)
{
	struct client *c = client_find(id);

	if (c && c->pending > 0)
		c->pending--;
	client_send(c, w);
	if (c && c->eof && !c->pending)
		c->closing = true; /* flushed, then closed */
}

void client_error_later(uint64_t id, const char *fmt, ...)
{
	struct json_writer w = { 0 };
	va_list ap;

	va_start(ap, fmt);
	error_reply(&w, fmt, ap);
	va_end(ap);
	client_send_later(id, &w);
}

/* policy_log_lines' callback: one followed line to the client ctx. */
static void send_line(void *ctx, const char *line)
{
	struct json_writer w = { 0 };

	reply_begin_ok(&w);
	json_kv_string(&w, "line", line);
	client_send_ok(ctx, &w);
}

void clients_flush_followers(void)
{
	struct client *c, *next;

	for (c = clients; c; c = next) {
		next = c->next;
		if (!c->follow)
			continue;
		c->follow_seq = policy_log_lines(c->follow, c->follow_seq, c->follow_json, send_line,
						 c);
	}
}

void clients_end_followers(struct policy *p, const char *reason)
{
	struct client *c;

	clients_flush_followers();
	for (c = clients; c; c = c->next) {
		struct json_writer w = { 0 };

		if (c->follow != p)
			continue;
		reply_begin_ok(&w);
		json_kv_bool(&w, "end", true);
		json_kv_string(&w, "reason", reason);
		client_send_ok(c, &w);
		c->follow = NULL;
		c->closing = true;
	}
}
