/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * mailbox.c: the messages of load threads and workers to the main thread,
 * which alone creates and frees policies. The way the policy part reports
 * up: it posts, the main loop (watching mailbox_fd) takes them.
 */
#ifndef LBPFD_MAILBOX_H
#define LBPFD_MAILBOX_H

#include "lbpfd.h"
#include "core/internal.h"

struct load_job;
struct runner;

/* MSG_LOADED: a body ran, or failed; MSG_ENDED: a runner's runtime was
 * freed; MSG_LOG: a followed policy logged a line. */
enum message_kind { MSG_LOADED, MSG_ENDED, MSG_LOG };

struct message {
	struct message *next;
	enum message_kind kind;
	struct load_job *job;      /* MSG_LOADED */
	struct runner *runner;     /* MSG_ENDED, with how it ended: */
	enum lbpf_runtime_state state;
	char *reason;
};

/* 0 or -errno. */
int mailbox_init(void);
/* The fd that is readable while messages wait. */
int mailbox_fd(void);
/* From any thread; the main thread owns msg from now on. */
void daemon_post(struct message *msg);
/* The messages posted so far, oldest first, linked by next. */
struct message *mailbox_take(void);

#endif /* LBPFD_MAILBOX_H */
