// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A small traffic tool for the filter tests (no ping/nc needed), IPv4 or IPv6
 * by the address given. Every loop is bounded by a count or a deadline.
 *   pkt udp-send ADDR PORT COUNT [PPS]   sends COUNT datagrams (PPS: paced)
 *   pkt udp-recv PORT SECONDS            prints how many datagrams arrived
 *   pkt tcp-listen PORT SECONDS          accepts connections until the deadline
 *   pkt tcp-connect ADDR PORT MS         prints "ok" or "fail"
 *   pkt ping ADDR COUNT MS               ICMP echo; prints how many replies came
 *   pkt tcp-echo PORT SECONDS            echoes what each connection sends
 *   pkt tcp-talk ADDR PORT MS            connects, sends, reads it back: "ok" or "fail"
 *   pkt tcp-raw ADDR PORT FLAGS MS       sends one bare TCP segment (FLAGS: S, A or SA;
 *                                        IPv4) and prints "reply" if ADDR answers it
 *                                        (a RST, say) within MS, else "none"
 *   pkt pcap FILE                        writes a capture of 4 known frames
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
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

static int udp_recv(int port, double seconds)
{
	int fd = bind_any(SOCK_DGRAM, port);
	double end = now() + seconds;
	long n = 0;
	char buf[2048];

	printf("ready\n");
	fflush(stdout);
	while (now() < end) {
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
	fprintf(stderr, "usage: see the comment at the top of tests/helpers/pkt.c\n");
	return 2;
}
