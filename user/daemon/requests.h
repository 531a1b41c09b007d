/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * The requests part: the control protocol (include/lbpf/daemon.h) and the
 * metrics content, on the main thread, without sockets. A client is what
 * the requests know of a connection; the server embeds one in each control
 * connection and gives clients_init the function that queues output, so a
 * test can drive requests_line with no socket at all.
 * Files, lowest first: clients.c, then requests.c; metrics.c beside them.
 */
#ifndef LBPFD_REQUESTS_H
#define LBPFD_REQUESTS_H

#include <sys/types.h>

#include "lbpfd.h"
#include "protocol/json.h"

struct policy;

struct client {
	struct client *next;       /* the clients' list */
	uint64_t id;               /* replies that wait name their client by id */
	uid_t uid;                 /* the peer's, by SO_PEERCRED: 0 may load trusted */
	bool closing;              /* close once the output is flushed */
	bool eof;                  /* the client sent all it will send */
	int pending;               /* replies it still waits for (loads, unloads) */
	struct policy *follow;     /* lbpf logs -f */
	uint64_t follow_seq;
	bool follow_json;          /* lbpf logs --format json -f */
};

/* Queues w's text plus a newline on c's connection (and frees w). */
typedef void client_send_fn(struct client *c, struct json_writer *w);

/* ---- clients.c: the clients, their replies and log followers ---- */

void clients_init(client_send_fn *send);
/* Lists c (zeroed by the caller) under a new id. */
void client_join(struct client *c);
/* Unlists c; it follows no log any more. */
void client_leave(struct client *c);
struct client *client_find(uint64_t id);
void client_send(struct client *c, struct json_writer *w);
/* {"ok":true into w; client_send_ok closes the object and sends it. */
void reply_begin_ok(struct json_writer *w);
void client_send_ok(struct client *c, struct json_writer *w);
/* {"ok":false,"error":MESSAGE} */
void client_error(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An answer to a request that waited (load, reload, unload): sent if the
 * client is still there. */
void client_send_later(uint64_t id, struct json_writer *w);
void client_error_later(uint64_t id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends followers the lines their policies logged since the last call. */
void clients_flush_followers(void);
/* Followers of p's log get the last lines and an end. */
void clients_end_followers(struct policy *p, const char *reason);

/* ---- requests.c: the requests and the end of those that wait ---- */

void requests_init(const struct daemon_options *opts);
/* One request line (without its '\n') from c; the reply goes to c. */
void requests_line(struct client *c, const char *line, size_t len);
/* Handles what load threads and workers posted (mailbox.h). */
void requests_messages(void);
/* Unloads p with nobody to answer (its file left the policy folder). */
void requests_unload(struct policy *p);

/* ---- metrics.c: lbpfd --metrics ---- */

/* The whole HTTP response to a request head. */
void metrics_respond(const char *request, struct json_writer *w);

#endif /* LBPFD_REQUESTS_H */
