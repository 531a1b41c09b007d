// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The message queue to the main thread: a list under a lock and an eventfd
 * that wakes the main loop. Posting never blocks on the main thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mailbox.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct message *messages; /* newest first (lock) */
static int notify_fd = -1;

int mailbox_init(void)
{
	notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return notify_fd < 0 ? -errno : 0;
}

int mailbox_fd(void)
{
	return notify_fd;
}

void daemon_post(struct message *msg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&lock);
	msg->next = messages;
	messages = msg;
	pthread_mutex_unlock(&lock);
	if (write(notify_fd, &one, sizeof(one)) < 0) {
		/* the counter is saturated: the main thread is awake anyway */
	}
}

struct message *mailbox_take(void)
{
	struct message *list, *rev = NULL, *next;
	uint64_t value;

	if (read(notify_fd, &value, sizeof(value)) < 0) {
		/* EAGAIN */
	}
	pthread_mutex_lock(&lock);
	list = messages;
	messages = NULL;
	pthread_mutex_unlock(&lock);
	for (; list; list = next) {
		next = list->next;
		list->next = rev;
		rev = list;
	}
	return rev;
}
