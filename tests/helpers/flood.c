// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A UDP flood for the drop-rate benchmark (scripts/bench/filter_drop.sh): one
 * fixed 60-byte Ethernet + IPv4 + UDP frame, sent as fast as one core allows
 * through an AF_PACKET socket that bypasses the qdisc, 64 frames per
 * sendmmsg(). Bounded by a deadline and a count, whichever comes first.
 *   flood IFNAME DST_MAC SRC_IP DST_IP DPORT SECONDS [COUNT]
 * Prints "sent=N seconds=S pps=R" at the end. Run it only on interfaces of a
 * namespace made for the purpose: the frames go out as they are.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_LEN 60

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint16_t ip_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* The frame: source MAC zero (the veth does not care), UDP checksum 0 (none). */
static int build_frame(uint8_t *f, const char *mac, const char *src, const char *dst, int dport)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t sum;

	memset(f, 0, FRAME_LEN);
	if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &f[0], &f[1], &f[2], &f[3], &f[4],
		   &f[5]) != 6)
		return -1;
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	if (inet_pton(AF_INET, src, ip + 12) != 1 || inet_pton(AF_INET, dst, ip + 16) != 1)
		return -1;
	sum = ip_checksum(ip, 20);
	ip[10] = sum >> 8;
	ip[11] = sum;
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = dport >> 8;
	udp[3] = dport;
	udp[5] = FRAME_LEN - 14 - 20;
	return 0;
}

static int open_socket(const char *ifname)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	int fd = socket(AF_PACKET, SOCK_RAW, 0), one = 1;

	ll.sll_ifindex = if_nametoindex(ifname);
	if (fd < 0 || !ll.sll_ifindex || bind(fd, (void *)&ll, sizeof(ll))) {
		perror("flood: AF_PACKET socket");
		return -1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t frame[FRAME_LEN];
	struct iovec iov = { frame, FRAME_LEN };
	struct mmsghdr msgs[BATCH];
	long count, sent = 0;
	double start, end;
	int fd, n;

	if (argc < 7 || argc > 8) {
		fprintf(stderr, "usage: flood IFNAME DST_MAC SRC_IP DST_IP DPORT SECONDS [COUNT]\n");
		return 2;
	}
	if (build_frame(frame, argv[2], argv[3], argv[4], atoi(argv[5]))) {
		fprintf(stderr, "flood: bad MAC or address\n");
		return 2;
	}
	fd = open_socket(argv[1]);
	if (fd < 0)
		return 1;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	count = argc > 7 ? atol(argv[7]) : 1L << 62;
	start = now();
	end = start + atof(argv[6]);
	while (sent < count && now() < end) {
		n = sendmmsg(fd, msgs, count - sent < BATCH ? count - sent : BATCH, 0);
		if (n > 0)
			sent += n;
	}
	end = now();
	printf("sent=%ld seconds=%.3f pps=%.0f\n", sent, end - start, sent / (end - start));
	return 0;
}
