// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A small traffic tool for the filter tests (no ping/nc needed), IPv4 or IPv6
 * by the address given. Every loop is bounded by a count or a deadline.
 *   pkt udp-send ADDR PORT COUNT [PPS]   sends COUNT datagrams (PPS: paced)
 *   pkt udp-recv PORT SECONDS            prints how many datagrams arrived (SIGTERM
 *                                        ends it early)
 *   pkt tcp-listen PORT SECONDS          accepts connections until the deadline
 *   pkt tcp-connect ADDR PORT MS         prints "ok" or "fail"
 *   pkt udp-refused ADDR PORT MS         sends a datagram to a closed port on a
 *                                        connected socket: "refused" when the ICMP
 *                                        port-unreachable came back within MS, else
 *                                        "silent"
 *   pkt ping ADDR COUNT MS               ICMP echo; prints how many replies came
 *   pkt tcp-echo PORT SECONDS            echoes what each connection sends
 *   pkt tcp-talk ADDR PORT MS            connects, sends, reads it back: "ok" or "fail"
 *   pkt tcp-raw ADDR PORT FLAGS MS       sends one bare TCP segment (FLAGS: S, A or SA;
 *                                        IPv4) and prints "reply" if ADDR answers it
 *                                        (a RST, say) within MS, else "none"
 *   pkt pcap FILE                        writes a capture of 4 known frames
 *   pkt capture FILE LINKTYPE HEX...     writes a capture of link type LINKTYPE
 *                                        (1 Ethernet, 113 SLL, 276 SLL2, ...)
 *                                        holding one record per HEX (its bytes;
 *                                        HEX/N: a packet of N bytes cut to HEX)
 *   pkt shape IFACE DSTMAC SRC DST DPORT COUNT SHAPE
 *        sends COUNT crafted frames (AF_PACKET) of a UDP datagram (or a TCP
 *        SYN) from SRC to DST:DPORT, shaped by SHAPE, a comma list of:
 *          tcp          a TCP SYN instead of UDP
 *          vlan:ID      an 802.1Q tag; qinq:ID an 802.1ad tag (outer first)
 *          opts:N       N words of IPv4 options (NOPs)
 *          hop, dst, rt, frag, ah   an IPv6 extension header, in order
 *                       (rt: type 0, segments left 0; frag: an atomic fragment)
 *          split:N      fragments: the first carries N transport bytes
 *          cut:N        the frame ends N bytes after the Ethernet header
 *          flags:N      TCP with these flags (a number: 0x29 is FIN PSH URG)
 *          sport:N      the source port (default 40000)
 *          icmp:N       an ICMP (ICMPv6 to an IPv6 address) message of type N
 *          proto:N      protocol N with 8 bytes of zeros as its payload
 *          ext:N        an IPv6 extension header of kind N (8 bytes)
 *          id:N         an id (1..32767) the receiver can see: the source
 *                       MAC ends in it (in N | 0x8000 for later fragments),
 *                       and it is the IPv4 ID or IPv6 fragment identification
 *        with valid checksums, so the receiver's stack takes what passes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int parse_addr(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "pkt: bad address %s\n", text);
	exit(2);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int udp_send(const char *addr, int port, long count, double pps)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(parse_addr(addr, port, &ss, &len), SOCK_DGRAM, 0);
	double start = now();
	char payload[32] = "lbpf";

	for (long i = 0; i < count; i++) {
		if (pps > 0)
			while (now() < start + i / pps)
				;
		sendto(fd, payload, sizeof(payload), 0, (void *)&ss, len);
	}
	return 0;
}

/* Binds a socket of type on the wildcard address (IPv6, dual-stack). */
static int bind_any(int type, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	int fd = socket(AF_INET6, type, 0), off = 0, on = 1;

	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (void *)&a, sizeof(a))) {
		perror("pkt: bind");
		exit(1);
	}
	return fd;
}

static volatile sig_atomic_t stop_recv;

static void on_term(int sig)
{
	(void)sig;
	stop_recv = 1;
}

/* Counts datagrams for `seconds`, or until SIGTERM (a test that knows when
 * its traffic is over ends it early), then prints the count. */
static int udp_recv(int port, double seconds)
{
	struct sigaction sa = { .sa_handler = on_term };
	int fd = bind_any(SOCK_DGRAM, port);
	double end = now() + seconds;
	long n = 0;
	char buf[2048];

	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (now() < end && !stop_recv) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 50) > 0 && recv(fd, buf, sizeof(buf), 0) >= 0)
			n++;
	}
	printf("%ld\n", n);
	return 0;
}

static int tcp_listen(int port, double seconds)
{
	int fd = bind_any(SOCK_STREAM, port), c;
	double end = now() + seconds;

	listen(fd, 64);
	while (now() < end) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 50) > 0 && (c = accept(fd, NULL, NULL)) >= 0)
			close(c);
	}
	return 0;
}

static int tcp_connect(const char *addr, int port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(parse_addr(addr, port, &ss, &len), SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
	struct pollfd p = { fd, POLLOUT, 0 };
	socklen_t elen = sizeof(err);

	if (connect(fd, (void *)&ss, len) && errno != EINPROGRESS)
		err = errno;
	else if (poll(&p, 1, ms) <= 0)
		err = ETIMEDOUT;
	else
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	printf("%s\n", err ? "fail" : "ok");
	return 0;
}

/* The ICMP error a closed port answers with reaches the socket as
 * ECONNREFUSED: the answer conntrack calls "related" to the datagram's flow. */
static int udp_refused(const char *addr, int port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(parse_addr(addr, port, &ss, &len), SOCK_DGRAM, 0), refused = 0;
	struct pollfd p = { fd, POLLIN, 0 };
	char byte;

	if (fd < 0 || connect(fd, (void *)&ss, len) || send(fd, "x", 1, 0) != 1) {
		perror("pkt: udp-refused");
		return 1;
	}
	if (poll(&p, 1, ms) > 0)
		refused = recv(fd, &byte, 1, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED;
	printf("%s\n", refused ? "refused" : "silent");
	return 0;
}

static int tcp_echo(int port, double seconds)
{
	int fd = bind_any(SOCK_STREAM, port), c;
	double end = now() + seconds;
	char buf[64];
	ssize_t n;

	listen(fd, 64);
	printf("ready\n");
	fflush(stdout);
	while (now() < end) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, 50) <= 0 || (c = accept(fd, NULL, NULL)) < 0)
			continue;
		p = (struct pollfd){ c, POLLIN, 0 };
		if (poll(&p, 1, 1000) > 0 && (n = recv(c, buf, sizeof(buf), 0)) > 0)
			send(c, buf, n, 0);
		close(c);
	}
	return 0;
}

static int tcp_talk(const char *addr, int port, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(parse_addr(addr, port, &ss, &len), SOCK_STREAM, 0);
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
	char buf[16] = "";
	bool ok;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ok = !connect(fd, (void *)&ss, len) && send(fd, "lbpf-ct", 7, 0) == 7 &&
	     recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL) == 7 && !strcmp(buf, "lbpf-ct");
	printf("%s\n", ok ? "ok" : "fail");
	return 0;
}

static uint16_t checksum(const void *data, size_t len);

/* A bare TCP segment to addr:port from a port nobody here uses; waits for
 * addr to answer it. */
static int tcp_raw(const char *addr, int port, const char *flags, int ms)
{
	struct sockaddr_storage ss, me;
	socklen_t len, mlen = sizeof(me);
	int udp, fd, sport = 40000 + getpid() % 20000;
	uint8_t seg[12 + 20] = { 0 }, *tcp = seg + 12, buf[2048];
	double end = now() + ms / 1000.0;
	uint16_t sum;

	if (parse_addr(addr, port, &ss, &len) != AF_INET)
		return 2;
	udp = socket(AF_INET, SOCK_DGRAM, 0); /* the source address routing picks */
	if (connect(udp, (void *)&ss, len) || getsockname(udp, (void *)&me, &mlen))
		return 1;
	memcpy(seg, &((struct sockaddr_in *)&me)->sin_addr, 4); /* pseudo header */
	memcpy(seg + 4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	seg[9] = 6;
	seg[11] = 20;
	tcp[0] = sport >> 8;
	tcp[1] = sport;
	tcp[2] = port >> 8;
	tcp[3] = port;
	tcp[7] = 1;           /* seq */
	tcp[11] = 1;          /* ack */
	tcp[12] = 5 << 4;
	tcp[13] = (strchr(flags, 'S') ? 0x02 : 0) | (strchr(flags, 'A') ? 0x10 : 0);
	tcp[14] = 0xff;
	sum = checksum(seg, sizeof(seg));
	tcp[16] = sum >> 8;
	tcp[17] = sum;
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_TCP);
	if (fd < 0 || sendto(fd, tcp, 20, 0, (void *)&ss, len) != 20)
		return 1;
	while (now() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t n;
		uint8_t *t;

		if (poll(&p, 1, 20) <= 0 || (n = recv(fd, buf, sizeof(buf), 0)) < 40)
			continue;
		t = buf + (buf[0] & 15) * 4;
		if (!memcmp(buf + 12, seg + 4, 4) && (t[2] << 8 | t[3]) == sport) {
			printf("reply\n");
			return 0;
		}
	}
	printf("none\n");
	return 0;
}

static uint16_t checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static int ping(const char *addr, int count, int ms)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int family = parse_addr(addr, 0, &ss, &len), replies = 0;
	int fd = socket(family, SOCK_RAW, family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
	uint8_t msg[16] = { family == AF_INET ? 8 : 128 }, buf[2048];

	for (int i = 0; i < count; i++) {
		double end = now() + ms / 1000.0;

		msg[6] = i >> 8;
		msg[7] = i;
		msg[2] = msg[3] = 0;
		if (family == AF_INET) {
			uint16_t c = checksum(msg, sizeof(msg));

			msg[2] = c >> 8;
			msg[3] = c;
		}
		sendto(fd, msg, sizeof(msg), 0, (void *)&ss, len);
		while (now() < end) {
			struct pollfd p = { fd, POLLIN, 0 };
			ssize_t n;
			uint8_t *icmp;

			if (poll(&p, 1, 20) <= 0)
				continue;
			n = recv(fd, buf, sizeof(buf), 0);
			icmp = family == AF_INET ? buf + (buf[0] & 15) * 4 : buf;
			if (n > 0 && icmp[0] == (family == AF_INET ? 0 : 129) && icmp[7] == (uint8_t)i) {
				replies++;
				break;
			}
		}
	}
	printf("%d\n", replies);
	return 0;
}

/* Ethernet + IPv4 + UDP/TCP frames with the given addresses and ports. */
static size_t frame(uint8_t *f, const char *src, const char *dst, int proto, int sport, int dport)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	size_t l4len = proto == 6 ? 20 : 8;

	memset(f, 0, 64);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 20 + l4len;
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	l4[0] = sport >> 8;
	l4[1] = sport;
	l4[2] = dport >> 8;
	l4[3] = dport;
	if (proto == 6) {
		l4[12] = 0x50;
		l4[13] = 0x02;
	} else {
		l4[5] = 8;
	}
	return 14 + 20 + l4len;
}

static int write_pcap(const char *path)
{
	uint32_t ghdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };
	FILE *out = fopen(path, "wb");
	uint8_t f[64];
	size_t n;
	struct { const char *src, *dst; int proto, sport, dport; } pk[] = {
		{ "10.0.0.1", "10.0.0.2", 6, 40000, 22 },
		{ "192.0.2.7", "10.0.0.2", 6, 40001, 22 },
		{ "192.0.2.7", "10.0.0.2", 17, 40002, 53 },
		{ "203.0.113.9", "10.0.0.2", 6, 40003, 80 },
	};

	if (!out)
		return 1;
	fwrite(ghdr, sizeof(ghdr), 1, out);
	for (size_t i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
		uint32_t rec[4] = { 1700000000 + i, 0, 0, 0 };

		n = frame(f, pk[i].src, pk[i].dst, pk[i].proto, pk[i].sport, pk[i].dport);
		rec[2] = rec[3] = n;
		fwrite(rec, sizeof(rec), 1, out);
		fwrite(f, n, 1, out);
	}
	return fclose(out) ? 1 : 0;
}

/* Writes a capture of link type linktype with one record per hex string. */
static int write_capture(const char *path, int linktype, char **hex, int n)
{
	uint32_t ghdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 262144, linktype };
	FILE *out = fopen(path, "wb");
	uint8_t rec[16384];

	if (!out)
		return 1;
	fwrite(ghdr, sizeof(ghdr), 1, out);
	for (int i = 0; i < n; i++) {
		char *slash = strchr(hex[i], '/');
		size_t len = (slash ? (size_t)(slash - hex[i]) : strlen(hex[i])) / 2;
		uint32_t h[4] = { 1700000000 + i, 0, len, slash ? (uint32_t)atoi(slash + 1) : len };

		if (len > sizeof(rec) || (slash ? slash - hex[i] : (long)strlen(hex[i])) % 2) {
			fprintf(stderr, "pkt: record %d: bad hex\n", i + 1);
			return 2;
		}
		for (size_t j = 0; j < len; j++)
			sscanf(hex[i] + 2 * j, "%2hhx", &rec[j]);
		fwrite(h, sizeof(h), 1, out);
		fwrite(rec, len, 1, out);
	}
	return fclose(out) ? 1 : 0;
}

/* ---- crafted frames (pkt shape) ---- */

struct shape {
	int tcp, ntags, opts, split, cut;
	int flags, sport, icmp, proto, tag; /* icmp, proto: -1 if not; tag: id:N */
	uint32_t id;               /* fragment identification, one per datagram */
	uint16_t tags[2][2];       /* tpid, vid */
	uint8_t exts[16];          /* IPv6 extension header kinds, in order */
	int nexts;
};

static int parse_shape(char *text, struct shape *s)
{
	s->flags = 0x02;
	s->sport = 40000;
	s->icmp = s->proto = -1;
	for (char *tok = strtok(text, ","); tok; tok = strtok(NULL, ",")) {
		if (!strcmp(tok, "tcp") || !strcmp(tok, "udp"))
			s->tcp = !strcmp(tok, "tcp");
		else if (!strncmp(tok, "flags:", 6))
			s->tcp = 1, s->flags = strtol(tok + 6, NULL, 0);
		else if (!strncmp(tok, "sport:", 6))
			s->sport = atoi(tok + 6);
		else if (!strncmp(tok, "icmp:", 5))
			s->icmp = atoi(tok + 5);
		else if (!strncmp(tok, "proto:", 6))
			s->proto = atoi(tok + 6);
		else if (!strncmp(tok, "id:", 3))
			s->tag = atoi(tok + 3) & 0x7fff;
		else if (!strncmp(tok, "ext:", 4) && s->nexts < 16)
			s->exts[s->nexts++] = atoi(tok + 4);
		else if ((!strncmp(tok, "vlan:", 5) || !strncmp(tok, "qinq:", 5)) && s->ntags < 2) {
			s->tags[s->ntags][0] = tok[0] == 'v' ? 0x8100 : 0x88a8;
			s->tags[s->ntags++][1] = atoi(tok + 5);
		} else if (!strncmp(tok, "opts:", 5))
			s->opts = atoi(tok + 5);
		else if (!strncmp(tok, "split:", 6))
			s->split = atoi(tok + 6);
		else if (!strncmp(tok, "cut:", 4))
			s->cut = atoi(tok + 4);
		else if (s->nexts < 16 && (!strcmp(tok, "hop") || !strcmp(tok, "dst") ||
					   !strcmp(tok, "rt") || !strcmp(tok, "frag") ||
					   !strcmp(tok, "ah")))
			s->exts[s->nexts++] = tok[0] == 'h' ? 0 : tok[0] == 'd' ? 60 :
					      tok[0] == 'r' ? 43 : tok[0] == 'f' ? 44 : 51;
		else
			return -1;
	}
	return 0;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* The transport protocol of the shape. */
static uint8_t shape_proto(const struct shape *s, int v6)
{
	if (s->proto >= 0)
		return s->proto;
	if (s->icmp >= 0)
		return v6 ? 58 : 1;
	return s->tcp ? 6 : 17;
}

/* An ICMP (v6: ICMPv6, checksummed with the pseudo-header) message of 16
 * bytes, or protocol proto's 8 bytes of zeros; returns its length. */
static size_t other_transport(uint8_t *l4, const struct shape *s, int v6, uint32_t pseudo)
{
	uint16_t c;

	if (s->proto >= 0) {
		memset(l4, 0, 8);
		return 8;
	}
	memset(l4, 0, 16);
	l4[0] = s->icmp;
	put16(l4 + 4, s->tag);
	c = fold(sum16(l4, 16, v6 ? pseudo + 16 : 0));
	put16(l4 + 2, c);
	return 16;
}

/* The transport segment (UDP with 24 bytes of data, a TCP segment of the
 * shape's flags, an ICMP message, or another protocol's payload) with its
 * checksum; returns its length. */
static size_t transport(uint8_t *l4, const struct shape *s, int v6, const uint8_t *src,
			const uint8_t *dst, int dport)
{
	size_t alen = v6 ? 16 : 4, len = s->tcp ? 20 : 32;
	uint8_t proto = shape_proto(s, v6);
	uint32_t sum = sum16(src, alen, 0) + sum16(dst, alen, 0) + proto;
	uint16_t c;

	if (proto != 6 && proto != 17)
		return other_transport(l4, s, v6, sum);
	memset(l4, 0, len);
	put16(l4, s->sport);
	put16(l4 + 2, dport);
	if (s->tcp) {
		l4[7] = 1;
		l4[12] = 0x50;
		l4[13] = s->flags;
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, len);
		memcpy(l4 + 8, "lbpf shaped datagram....", 24);
	}
	c = fold(sum16(l4, len, sum + len));
	put16(l4 + (s->tcp ? 16 : 6), c ? c : 0xffff);
	return len;
}

/* Ethernet header and tags into f; returns where the IP header goes. */
static size_t link_header(uint8_t *f, const uint8_t *dmac, const uint8_t *smac,
			  const struct shape *s, int v6)
{
	size_t off = 12;

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	for (int i = 0; i < s->ntags; i++, off += 4) {
		put16(f + off, s->tags[i][0]);
		put16(f + off + 2, s->tags[i][1]);
	}
	put16(f + off, v6 ? 0x86dd : 0x0800);
	return off + 2;
}

/* One IPv4 frame of the datagram: transport bytes [from, from + n). */
static size_t ipv4_frame(uint8_t *f, size_t l3, const struct shape *s, const uint8_t *src,
			 const uint8_t *dst, const uint8_t *l4, size_t from, size_t n, int more)
{
	uint8_t *ip = f + l3;
	size_t ihl = 20 + 4 * s->opts;

	memset(ip, 0, ihl);
	ip[0] = 0x40 | ihl / 4;
	put16(ip + 2, ihl + n);
	put16(ip + 4, s->id);
	put16(ip + 6, (more ? 0x2000 : 0) | from / 8);
	ip[8] = 64;
	ip[9] = shape_proto(s, 0);
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	memset(ip + 20, 1, ihl - 20); /* NOP options */
	put16(ip + 10, fold(sum16(ip, ihl, 0)));
	memcpy(ip + ihl, l4 + from, n);
	return l3 + ihl + n;
}

/* One IPv6 frame: the extension headers, a fragment header when split,
 * then transport bytes [from, from + n). */
static size_t ipv6_frame(uint8_t *f, size_t l3, const struct shape *s, const uint8_t *src,
			 const uint8_t *dst, const uint8_t *l4, size_t from, size_t n, int more)
{
	uint8_t *ip = f + l3, *h = ip + 40, *nh = ip + 6;

	memset(ip, 0, 40);
	ip[0] = 0x60;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	for (int i = 0; i < s->nexts; i++) {
		uint8_t kind = s->exts[i];
		size_t len = kind == 51 ? 24 : 8;

		*nh = kind;
		memset(h, 0, len);
		if (kind != 0 && kind != 60 && kind != 43 && kind != 44 && kind != 51) {
			/* ext:N: 8 bytes, next header first, length 0 */
		} else if (kind == 51) {
			h[1] = 4;
			h[7] = 1; /* SPI */
		} else if (kind == 43) {
			h[2] = 0; /* type 0, segments left 0 */
		} else if (kind != 44) {
			h[2] = 1; /* PadN */
			h[3] = 4;
		} else {
			put16(h + 4, 0x4c42);
		}
		nh = h;
		h += len;
	}
	if (s->split) {
		*nh = 44;
		memset(h, 0, 8);
		put16(h + 2, from | (more ? 1 : 0));
		put16(h + 4, s->id >> 16);
		put16(h + 6, s->id);
		nh = h;
		h += 8;
	}
	*nh = shape_proto(s, 1);
	memcpy(h, l4 + from, n);
	h += n;
	put16(ip + 4, h - ip - 40);
	return h - f;
}

static int parse_mac(const char *text, uint8_t mac[6])
{
	return sscanf(text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6 ? 0 : -1;
}

static int send_shape(char **argv)
{
	struct sockaddr_storage a, b;
	struct shape s = { 0 };
	uint8_t dmac[6], smac[6] = { 2, 0, 0x4c, 0x42, 0, 1 }, l4[64], f[256];
	const uint8_t *src, *dst;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	socklen_t len;
	int v6, fd, dport = atoi(argv[5]);
	long count = atol(argv[6]);
	size_t n, l3, tlen, first;

	v6 = parse_addr(argv[3], 0, &a, &len) == AF_INET6;
	parse_addr(argv[4], 0, &b, &len);
	src = v6 ? (void *)&((struct sockaddr_in6 *)&a)->sin6_addr
		 : (void *)&((struct sockaddr_in *)&a)->sin_addr;
	dst = v6 ? (void *)&((struct sockaddr_in6 *)&b)->sin6_addr
		 : (void *)&((struct sockaddr_in *)&b)->sin_addr;
	if (parse_mac(argv[2], dmac) || parse_shape(argv[7], &s)) {
		fprintf(stderr, "pkt: bad MAC or shape\n");
		return 2;
	}
	ll.sll_ifindex = if_nametoindex(argv[1]);
	ll.sll_halen = 6;
	memcpy(ll.sll_addr, dmac, 6);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || !ll.sll_ifindex) {
		perror("pkt: packet socket");
		return 1;
	}
	tlen = transport(l4, &s, v6, src, dst, dport);
	first = s.split && (size_t)s.split < tlen ? (size_t)s.split : tlen;
	for (long i = 0; i < count; i++) {
		s.id = s.tag ? (uint32_t)s.tag : (uint32_t)getpid() << 12 ^ (uint32_t)i;
		for (size_t from = 0, take; from < tlen; from += take) {
			take = from ? tlen - from : first;
			if (s.tag) /* the receiver tells fragments apart by the MAC */
				put16(smac + 4, s.tag | (from ? 0x8000 : 0));
			l3 = link_header(f, dmac, smac, &s, v6);
			n = v6 ? ipv6_frame(f, l3, &s, src, dst, l4, from, take, from + take < tlen)
			       : ipv4_frame(f, l3, &s, src, dst, l4, from, take, from + take < tlen);
			if (s.cut && l3 + s.cut < n)
				n = l3 + s.cut;
			if (sendto(fd, f, n, 0, (void *)&ll, sizeof(ll)) < 0)
				perror("pkt: send");
		}
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "udp-send") && argc >= 5)
		return udp_send(argv[2], atoi(argv[3]), atol(argv[4]), argc > 5 ? atof(argv[5]) : 0);
	if (!strcmp(cmd, "udp-recv") && argc == 4)
		return udp_recv(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "tcp-listen") && argc == 4)
		return tcp_listen(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "tcp-connect") && argc == 5)
		return tcp_connect(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "udp-refused") && argc == 5)
		return udp_refused(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "ping") && argc == 5)
		return ping(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "tcp-echo") && argc == 4)
		return tcp_echo(atoi(argv[2]), atof(argv[3]));
	if (!strcmp(cmd, "tcp-talk") && argc == 5)
		return tcp_talk(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(cmd, "tcp-raw") && argc == 6)
		return tcp_raw(argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
	if (!strcmp(cmd, "pcap") && argc == 3)
		return write_pcap(argv[2]);
	if (!strcmp(cmd, "capture") && argc >= 4)
		return write_capture(argv[2], atoi(argv[3]), argv + 4, argc - 4);
	if (!strcmp(cmd, "shape") && argc == 9)
		return send_shape(argv + 1);
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/pkt.c\n");
	return 2;
}
