/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * A consumer of one BPF ring buffer map, read through its mapping as
 * libbpf's ring_buffer is, that hands the kernel back its space once per
 * batch of records (16 KiB) rather than after every record. The consumer position
 * sits on a cache line the producing BPF program reads at every reserve;
 * storing to it per record, while the consumer runs beside the producer on
 * another CPU, cost the producer 60 ns per event here (see ringread.c).
 */
#ifndef LBPF_RINGREAD_H
#define LBPF_RINGREAD_H

#include <stddef.h>
#include <stdint.h>

/* A record's callback: < 0 stops the drain after this record. */
typedef int (*ring_read_fn)(void *ctx, void *data, size_t size);

struct ring_reader {
	int map_fd;                /* a duplicate, owned; readable when records wait */
	size_t page;
	size_t size;               /* data bytes, a power of two */
	size_t publish;            /* bytes read between stores of the position */
	uint64_t *consumer_pos;    /* the page we write */
	const uint64_t *producer_pos;
	const uint8_t *data;       /* mapped twice in a row: records never wrap */
	ring_read_fn fn;
	void *ctx;
};

/* Maps the ring buffer map_fd, keeping a duplicate of it (the caller's
 * may close first). 0 or -errno, rd->map_fd -1. */
int ring_reader_open(struct ring_reader *rd, int map_fd, ring_read_fn fn, void *ctx);
void ring_reader_close(struct ring_reader *rd);
/* Delivers every record committed so far, in order. Records delivered, or
 * the callback's negative return (that record consumed, the rest left). */
int ring_reader_consume(struct ring_reader *rd);

#endif
