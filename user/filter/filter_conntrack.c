// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Turning the kernel's connection tracking on in this network namespace.
 *
 * Conntrack tracks a namespace's packets only once something there asks for
 * it (nf_ct_netns_get: an nftables ct expression, iptables' conntrack match,
 * NAT); until then the BPF lookups find nothing and skb->_nfct stays empty.
 * BPF has no way to ask, so a filter with ct rules creates an nftables table
 * of its own (inet family, one regular chain that no hook calls, one rule
 * "ct state" that loads into a register): it costs no packet anything, and
 * the table is owned by the netlink socket (NFT_TABLE_F_OWNER), so the
 * kernel removes it when the socket closes, with the filter.
 */
#include <endian.h>
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filter.h"

struct nlbuf {
	uint8_t data[1024];
	size_t len;
	uint32_t seq;
};

static void *put(struct nlbuf *b, size_t len)
{
	void *p = b->data + b->len;

	memset(p, 0, NLMSG_ALIGN(len));
	b->len += NLMSG_ALIGN(len);
	return p;
}

/* Starts a message: nlmsghdr + nfgenmsg; returns the header to finish. */
static struct nlmsghdr *msg_start(struct nlbuf *b, uint16_t type, uint16_t flags, uint8_t family,
				  uint16_t res_id)
{
	struct nlmsghdr *h = put(b, sizeof(*h));
	struct nfgenmsg *g = put(b, sizeof(*g));

	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_REQUEST | flags;
	h->nlmsg_seq = ++b->seq;
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = htobe16(res_id);
	return h;
}

static void msg_end(struct nlbuf *b, struct nlmsghdr *h)
{
	h->nlmsg_len = b->data + b->len - (uint8_t *)h;
}

static struct nlattr *attr(struct nlbuf *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr *a = put(b, NLA_HDRLEN + len);

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	return a;
}

static void attr_str(struct nlbuf *b, uint16_t type, const char *s)
{
	attr(b, type, s, strlen(s) + 1);
}

static void attr_be32(struct nlbuf *b, uint16_t type, uint32_t v)
{
	v = htobe32(v);
	attr(b, type, &v, sizeof(v));
}

static struct nlattr *nest(struct nlbuf *b, uint16_t type)
{
	return attr(b, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct nlbuf *b, struct nlattr *a)
{
	a->nla_len = b->data + b->len - (uint8_t *)a;
}

#define NFPROTO_INET_ 1 /* <linux/netfilter.h> clashes with the libc headers */
#define NFT_TYPE(msg) ((NFNL_SUBSYS_NFTABLES << 8) | (msg))

/* The batch: table (owned), chain, rule "ct state". */
static void build_batch(struct nlbuf *b, const char *table)
{
	struct nlmsghdr *h;
	struct nlattr *list, *elem, *data;

	msg_end(b, msg_start(b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
	h = msg_start(b, NFT_TYPE(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_ACK, NFPROTO_INET_, 0);
	attr_str(b, NFTA_TABLE_NAME, table);
	attr_be32(b, NFTA_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	msg_end(b, h);
	h = msg_start(b, NFT_TYPE(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK, NFPROTO_INET_, 0);
	attr_str(b, NFTA_CHAIN_TABLE, table);
	attr_str(b, NFTA_CHAIN_NAME, "ct");
	msg_end(b, h);
	h = msg_start(b, NFT_TYPE(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
		      NFPROTO_INET_, 0);
	attr_str(b, NFTA_RULE_TABLE, table);
	attr_str(b, NFTA_RULE_CHAIN, "ct");
	list = nest(b, NFTA_RULE_EXPRESSIONS);
	elem = nest(b, NFTA_LIST_ELEM);
	attr_str(b, NFTA_EXPR_NAME, "ct");
	data = nest(b, NFTA_EXPR_DATA);
	attr_be32(b, NFTA_CT_DREG, NFT_REG_1);
	attr_be32(b, NFTA_CT_KEY, NFT_CT_STATE);
	nest_end(b, data);
	nest_end(b, elem);
	nest_end(b, list);
	msg_end(b, h);
	msg_end(b, msg_start(b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES));
}

/* Reads the acks of the batch's 3 requests; 0 or the first error. */
static int read_acks(int fd)
{
	uint8_t buf[4096];
	int acks = 0;

	while (acks < 3) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0)
			return -errno;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (((struct nlmsgerr *)NLMSG_DATA(h))->error)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			acks++;
		}
	}
	return 0;
}

int filter_conntrack_hold(char *err, size_t errlen)
{
	static unsigned counter;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	struct nlbuf b = { .len = 0 };
	char table[64];
	int fd, rc;

	snprintf(table, sizeof(table), "lbpf_ct_%d_%u", (int)getpid(),
		 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
	build_batch(&b, table);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, b.data, b.len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		rc = -errno;
	else
		rc = read_acks(fd);
	if (!rc)
		return fd;
	close(fd);
fail:
	snprintf(err, errlen, "ct: turn connection tracking on in this network namespace "
		 "(an nftables table with a ct expression): %s%s", strerror(-rc),
		 rc == -ENOENT || rc == -EOPNOTSUPP ? " (nf_tables or nft_ct is missing)" : "");
	return rc;
}
