// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Addresses and packets for the packet filter: CIDR parsing and formatting,
 * protocol names, and the Ethernet frames fw:test builds from a table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

/* A prefix length: decimal digits without sign, spaces or leading zero. */
static int parse_prefix_len(const char *text, int max)
{
	int len = 0;

	if (!*text || (text[0] == '0' && text[1]) || strlen(text) > 3)
		return -EINVAL;
	for (; *text; text++) {
		if (*text < '0' || *text > '9')
			return -EINVAL;
		len = 10 * len + (*text - '0');
	}
	return len <= max ? len : -EINVAL;
}

int filter_parse_prefix(const char *text, struct filter_prefix *p)
{
	char buf[64], *slash;
	int len;

	memset(p, 0, sizeof(*p));
	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = 4;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = 6;
	else
		return -EINVAL;
	len = p->family == 4 ? 32 : 128;
	if (slash && (len = parse_prefix_len(slash + 1, len)) < 0)
		return -EINVAL;
	p->len = len;
	return 0;
}

const char *filter_format_addr(int family, const uint8_t *addr, char *buf, size_t size)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, size))
		snprintf(buf, size, "?");
	return buf;
}

static const struct {
	const char *name;
	int number;
} protocols[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "dccp", 33 }, { "gre", 47 }, { "esp", 50 },
	{ "ah", 51 }, { "icmpv6", 58 }, { "sctp", 132 }, { "udplite", 136 },
};

int filter_proto_number(const char *name)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(protocols[i].name, name))
			return protocols[i].number;
	return -1;
}

const char *filter_proto_name(int proto)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].number == proto)
			return protocols[i].name;
	return NULL;
}

struct name_number {
	const char *name;
	int number;
};

/* ICMP and ICMPv6 types and codes as nftables spells them. */
static const struct name_number icmp_types[] = {
	{ "echo-reply", 0 }, { "destination-unreachable", 3 }, { "source-quench", 4 },
	{ "redirect", 5 }, { "echo-request", 8 }, { "router-advertisement", 9 },
	{ "router-solicitation", 10 }, { "time-exceeded", 11 }, { "parameter-problem", 12 },
	{ "timestamp-request", 13 }, { "timestamp-reply", 14 }, { "info-request", 15 },
	{ "info-reply", 16 }, { "address-mask-request", 17 }, { "address-mask-reply", 18 },
	{ NULL, 0 },
};

static const struct name_number icmpv6_types[] = {
	{ "destination-unreachable", 1 }, { "packet-too-big", 2 }, { "time-exceeded", 3 },
	{ "parameter-problem", 4 }, { "echo-request", 128 }, { "echo-reply", 129 },
	{ "mld-listener-query", 130 }, { "mld-listener-report", 131 },
	{ "mld-listener-done", 132 }, { "mld-listener-reduction", 132 },
	{ "nd-router-solicit", 133 }, { "nd-router-advert", 134 },
	{ "nd-neighbor-solicit", 135 }, { "nd-neighbor-advert", 136 }, { "nd-redirect", 137 },
	{ "router-renumbering", 138 }, { "ind-neighbor-solicit", 141 },
	{ "ind-neighbor-advert", 142 }, { "mld2-listener-report", 143 }, { NULL, 0 },
};

static const struct name_number icmp_codes[] = {
	{ "net-unreachable", 0 }, { "host-unreachable", 1 }, { "prot-unreachable", 2 },
	{ "port-unreachable", 3 }, { "frag-needed", 4 }, { "net-prohibited", 9 },
	{ "host-prohibited", 10 }, { "admin-prohibited", 13 }, { NULL, 0 },
};

static const struct name_number icmpv6_codes[] = {
	{ "no-route", 0 }, { "admin-prohibited", 1 }, { "addr-unreachable", 3 },
	{ "port-unreachable", 4 }, { "policy-fail", 5 }, { "reject-route", 6 }, { NULL, 0 },
};

static const struct name_number tcp_flags[] = {
	{ "fin", 0x01 }, { "syn", 0x02 }, { "rst", 0x04 }, { "psh", 0x08 },
	{ "ack", 0x10 }, { "urg", 0x20 }, { "ecn", 0x40 }, { "cwr", 0x80 }, { NULL, 0 },
};

static int lookup_name(const struct name_number *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t->number;
	return -1;
}

int filter_icmp_type_number(bool v6, const char *name)
{
	return lookup_name(v6 ? icmpv6_types : icmp_types, name);
}

int filter_icmp_code_number(bool v6, const char *name)
{
	return lookup_name(v6 ? icmpv6_codes : icmp_codes, name);
}

int filter_tcp_flag_bit(const char *name)
{
	return lookup_name(tcp_flags, name);
}

const char *const filter_ct_names[FILTER_CT_NSTATES + 1] = {
	[FILTER_CT_INVALID] = "invalid",
	[FILTER_CT_NEW] = "new",
	[FILTER_CT_ESTABLISHED] = "established",
	[FILTER_CT_RELATED] = "related",
	[FILTER_CT_UNTRACKED] = "untracked",
};

int filter_ct_number(const char *name)
{
	for (int i = 0; i < FILTER_CT_NSTATES; i++)
		if (!strcmp(filter_ct_names[i], name))
			return i;
	return -1;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* The L4 header of the test packet; returns its length. */
static int build_l4(const struct filter_packet_desc *d, uint8_t *l4)
{
	int proto = d->proto < 0 ? 6 : d->proto;

	if (proto == 6) {
		put16(l4, d->sport);
		put16(l4 + 2, d->dport);
		l4[12] = 5 << 4;
		l4[13] = d->tcp_flags;
		put16(l4 + 14, 65535);
		return 20;
	}
	if (proto == 17) {
		put16(l4, d->sport);
		put16(l4 + 2, d->dport);
		put16(l4 + 4, 8);
		return 8;
	}
	if (proto == 1 || proto == 58) {
		l4[0] = d->icmp_type >= 0 ? d->icmp_type : proto == 1 ? 8 : 128; /* echo request */
		l4[1] = d->icmp_code >= 0 ? d->icmp_code : 0;
		return 8;
	}
	return 0;
}

int filter_packet_build(const struct filter_packet_desc *d, uint8_t *buf, size_t size)
{
	int proto = d->proto < 0 ? 6 : d->proto, l3 = d->src.family == 6 ? 40 : 20, l4len, total;
	uint8_t *ip = buf + 14;

	if (size < 1514 || (d->src.family != d->dst.family))
		return -EINVAL;
	memset(buf, 0, 1514);
	memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	put16(buf + 12, d->src.family == 6 ? 0x86dd : 0x0800);
	l4len = build_l4(d, ip + l3);
	total = 14 + l3 + l4len;
	if (d->len > (uint32_t)total)
		total = d->len > 1514 ? 1514 : d->len;
	if (d->iplen)
		total = 14 + (d->iplen > 1500 ? 1500 : d->iplen);
	if (total < 14 + l3)
		return -EINVAL;
	if (d->src.family == 6) {
		ip[0] = 0x60;
		put16(ip + 4, total - 14 - 40);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, d->src.addr, 16);
		memcpy(ip + 24, d->dst.addr, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, total - 14);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, d->src.addr, 4);
		memcpy(ip + 16, d->dst.addr, 4);
	}
	return total;
}
