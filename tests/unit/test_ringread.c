// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * core/ringread.c against a real ring buffer map on this kernel. A
 * five-instruction XDP program writes one 16-byte record per run
 * (bpf_ringbuf_output of its stack, holding the run's packet length), and
 * BPF_PROG_TEST_RUN runs it. libbpf's own consumer, fed the same records,
 * is the oracle for what gets delivered.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/ringread.h"
#include "unit.h"

#define RING (64 * 1024)
#define REC 16

/* A ring buffer map and a program that outputs one record per run into
 * it: the record's first 8 bytes are the packet's length, so each
 * BPF_PROG_TEST_RUN writes a record naming its own run. */
struct feeder {
	int map_fd;
	int prog_fd;
};

static int feeder_open(struct feeder *f)
{
	f->map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ut_ring", 0, 0, RING, NULL);
	if (f->map_fd < 0)
		return -errno;
	struct bpf_insn insns[] = {
		/* r2 = ctx->data_end - ctx->data: the packet's length */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1,
		  .off = offsetof(struct xdp_md, data_end) },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1,
		  .off = offsetof(struct xdp_md, data) },
		{ .code = BPF_ALU64 | BPF_SUB | BPF_X, .dst_reg = 2, .src_reg = 3 },
		{ .code = BPF_STX | BPF_MEM | BPF_DW, .dst_reg = 10, .src_reg = 2, .off = -16 },
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = 10, .off = -8, .imm = 0x5a5a },
		/* bpf_ringbuf_output(map, fp - 16, 16, 0) */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD,
		  .imm = f->map_fd },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -16 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = REC },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 4, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	f->prog_fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "ut_ring", "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), NULL);
	if (f->prog_fd < 0) {
		int err = -errno;

		close(f->map_fd);
		return err;
	}
	return 0;
}

static void feeder_close(struct feeder *f)
{
	close(f->prog_fd);
	close(f->map_fd);
}

/* Writes records for packet lengths from, from + 1, ..., from + n - 1. */
static bool feed(struct feeder *f, int from, int n)
{
	static uint8_t pkt[2048];
	int i;

	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = from + i);

		if (bpf_prog_test_run_opts(f->prog_fd, &o) || o.retval != XDP_PASS)
			return false;
	}
	return true;
}

struct seen {
	int n;
	int lens[2048];
	bool bad;                  /* a record of another size or content */
	int stop_at;               /* return -1 from this record (1-based), 0: never */
	const struct ring_reader *rd;
	uint64_t base;             /* the consumer position when the drain began */
	uint64_t lag;              /* the most bytes read but not handed back */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	const uint64_t *v = data;

	if (size != REC || v[1] != 0x5a5a || s->n >= 2048) {
		s->bad = true;
		return 0;
	}
	s->lens[s->n++] = (int)v[0];
	if (s->rd) { /* read so far (this record included) less what is handed back */
		uint64_t read = s->base + s->n * (uint64_t)(REC + 8);
		uint64_t published = __atomic_load_n(s->rd->consumer_pos, __ATOMIC_ACQUIRE);

		if (read - published > s->lag)
			s->lag = read - published;
	}
	return s->stop_at && s->n == s->stop_at ? -1 : 0;
}

static bool have_bpf(struct feeder *f)
{
	int err;

	if (geteuid() != 0) {
		unit_skip("needs root (BPF)");
		return false;
	}
	err = feeder_open(f);
	if (err) {
		unit_skip("cannot load an XDP program writing a ring buffer: %s", strerror(-err));
		return false;
	}
	return true;
}

/* 1000 records come out in order, each once, as libbpf's consumer gives
 * them; the position is handed back to the kernel in steps, and all of it
 * at the end of the drain. */
static void test_order_and_oracle(void)
{
	struct feeder f;
	struct ring_reader rd;
	static struct seen ours, theirs;
	struct ring_buffer *oracle = NULL;
	int i, n, err;

	if (!have_bpf(&f))
		return;
	memset(&ours, 0, sizeof(ours));
	memset(&theirs, 0, sizeof(theirs));
	err = ring_reader_open(&rd, f.map_fd, on_record, &ours);
	if (!CHECK(!err, "ring_reader_open: %s", strerror(-err)))
		goto cleanup;
	ours.rd = &rd;
	if (!CHECK(feed(&f, 64, 1000), "test run: %s", strerror(errno)))
		goto cleanup;
	ours.base = *rd.consumer_pos;
	n = ring_reader_consume(&rd);
	CHECK(n == 1000 && ours.n == 1000 && !ours.bad, "delivered %d (%d), bad %d", n, ours.n,
	      ours.bad);
	for (i = 0; i < ours.n; i++)
		if (!CHECK(ours.lens[i] == 64 + i, "record %d is run %d", i, ours.lens[i] - 64))
			break;
	CHECK(*rd.consumer_pos == *rd.producer_pos, "consumer %llu, producer %llu",
	      (unsigned long long)*rd.consumer_pos, (unsigned long long)*rd.producer_pos);
	/* handed back in steps while reading (1000 records are 24,000 bytes,
	 * the step an eighth of 64 KiB): behind, but never a step and a record */
	CHECK(ours.lag >= rd.publish && ours.lag <= rd.publish + REC + 8 && rd.publish == RING / 8,
	      "lag %llu, step %zu", (unsigned long long)ours.lag, rd.publish);
	CHECK(ring_reader_consume(&rd) == 0, "a second drain found records");

	/* the oracle: libbpf's consumer on the same ring sees the same records */
	oracle = ring_buffer__new(f.map_fd, on_record, &theirs, NULL);
	if (!CHECK(oracle, "ring_buffer__new: %s", strerror(errno)))
		goto cleanup;
	feed(&f, 100, 500);
	memset(&ours, 0, sizeof(ours));
	n = ring_buffer__consume(oracle);
	CHECK(n == 500 && theirs.n == 500 && !theirs.bad, "libbpf delivered %d", n);
	for (i = 0; i < theirs.n; i++)
		if (!CHECK(theirs.lens[i] == 100 + i, "libbpf: record %d is run %d", i, theirs.lens[i] - 100))
			break;
	/* libbpf moved the position: ours starts where it stopped */
	CHECK(ring_reader_consume(&rd) == 0, "ours re-read what libbpf consumed");
	feed(&f, 700, 3);
	n = ring_reader_consume(&rd);
	CHECK(n == 3 && ours.n == 3 && ours.lens[0] == 700 && ours.lens[2] == 702, "after libbpf: %d",
	      n);
cleanup:
	ring_buffer__free(oracle);
	ring_reader_close(&rd);
	feeder_close(&f);
}

/* A callback's negative return stops the drain after its record, which is
 * consumed; the next drain goes on with the one after it. */
static void test_stop(void)
{
	struct feeder f;
	struct ring_reader rd;
	static struct seen s;
	int n, err;

	if (!have_bpf(&f))
		return;
	memset(&s, 0, sizeof(s));
	s.stop_at = 10;
	err = ring_reader_open(&rd, f.map_fd, on_record, &s);
	if (!CHECK(!err, "ring_reader_open: %s", strerror(-err)))
		goto cleanup;
	feed(&f, 64, 50);
	n = ring_reader_consume(&rd);
	CHECK(n == -1 && s.n == 10, "stopped drain: %d, %d delivered", n, s.n);
	s.stop_at = 0;
	n = ring_reader_consume(&rd);
	CHECK(n == 40 && s.n == 50 && s.lens[10] == 74, "rest: %d, record 11 is run %d", n,
	      s.lens[10] - 64);
cleanup:
	ring_reader_close(&rd);
	feeder_close(&f);
}

/* A map that is not a ring buffer is refused; the reader keeps its own
 * descriptor, so the caller's may close first. */
static void test_open(void)
{
	struct feeder f;
	struct ring_reader rd;
	static struct seen s;
	int fd, err;

	if (!have_bpf(&f))
		return;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ut_array", 4, 8, 1, NULL);
	err = ring_reader_open(&rd, fd, on_record, &s);
	CHECK(err == -EINVAL && rd.map_fd == -1, "array map: %d", err);
	CHECK(ring_reader_consume(&rd) == 0, "a reader that is not open delivered");
	close(fd);
	memset(&s, 0, sizeof(s));
	err = ring_reader_open(&rd, f.map_fd, on_record, &s);
	if (CHECK(!err, "ring_reader_open: %s", strerror(-err))) {
		feed(&f, 64, 5);
		close(f.map_fd);
		f.map_fd = -1;
		CHECK(ring_reader_consume(&rd) == 5 && s.n == 5, "after the caller closed: %d", s.n);
		ring_reader_close(&rd);
	}
	close(f.prog_fd);
}

int main(void)
{
	UNIT_RUN(test_order_and_oracle);
	UNIT_RUN(test_stop);
	UNIT_RUN(test_open);
	return unit_exit();
}
