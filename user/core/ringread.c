// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The ring buffer's layout is the kernel's ABI (kernel/bpf/ringbuf.c), the
 * one libbpf's ring_buffer reads: a consumer page the reader writes, then a
 * read-only producer page and the data, mapped twice in a row so a record
 * never wraps. Each record starts with a 32-bit length whose top bits say
 * it is still being written (BUSY) or was thrown away (DISCARD), then a
 * 32-bit page offset, then the record, padded to 8 bytes.
 *
 * libbpf stores the consumer position after every record. The producer
 * reads that line at every reserve, so while the consumer works beside it
 * on another CPU every record costs the producer a cache-line transfer:
 * tracing.sh's libbpf reference program went from 120 to 180 ns per run
 * when its consumer spent 100 loop turns on each record, and lbpf's from
 * 240 ns. Here the position is stored after every 16 KiB of records (an
 * eighth of a smaller ring) and at the end of each drain.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ringread.h"

#define HDR_SIZE 8        /* BPF_RINGBUF_HDR_SZ */
#define PUBLISH_MAX 16384 /* bytes read before the position is stored... */
#define PUBLISH_DIV 8     /* ...or an eighth of a smaller ring */

int ring_reader_open(struct ring_reader *rd, int map_fd, ring_read_fn fn, void *ctx)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	void *cons, *prod;

	memset(rd, 0, sizeof(*rd));
	rd->map_fd = -1;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	rd->page = sysconf(_SC_PAGESIZE);
	rd->size = info.max_entries;
	cons = mmap(NULL, rd->page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	prod = mmap(NULL, rd->page + 2 * rd->size, PROT_READ, MAP_SHARED, map_fd, rd->page);
	if (prod == MAP_FAILED) {
		int err = -errno;

		munmap(cons, rd->page);
		return err;
	}
	rd->map_fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 0);
	if (rd->map_fd < 0) {
		int err = -errno;

		munmap(prod, rd->page + 2 * rd->size);
		munmap(cons, rd->page);
		return err;
	}
	rd->consumer_pos = cons;
	rd->producer_pos = prod;
	rd->data = (const uint8_t *)prod + rd->page;
	rd->publish = rd->size / PUBLISH_DIV < PUBLISH_MAX ? rd->size / PUBLISH_DIV : PUBLISH_MAX;
	rd->fn = fn;
	rd->ctx = ctx;
	return 0;
}

void ring_reader_close(struct ring_reader *rd)
{
	if (rd->consumer_pos)
		munmap(rd->consumer_pos, rd->page);
	if (rd->producer_pos)
		munmap((void *)rd->producer_pos, rd->page + 2 * rd->size);
	if (rd->map_fd >= 0)
		close(rd->map_fd);
	memset(rd, 0, sizeof(*rd));
	rd->map_fd = -1;
}

int ring_reader_consume(struct ring_reader *rd)
{
	uint64_t cons, prod, published;
	int n = 0, err = 0;

	if (!rd->data)
		return 0; /* not open: a runtime with extra rings only */
	cons = published = *rd->consumer_pos;
	while ((prod = __atomic_load_n(rd->producer_pos, __ATOMIC_ACQUIRE)) != cons) {
		while (cons < prod) {
			const uint32_t *hdr = (const uint32_t *)(rd->data + (cons & (rd->size - 1)));
			uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);

			if (len & BPF_RINGBUF_BUSY_BIT)
				goto done; /* still being written: the rest waits */
			cons += (HDR_SIZE + (len & ~BPF_RINGBUF_DISCARD_BIT) + 7) & ~7ull;
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				n++;
				err = rd->fn(rd->ctx, (void *)(hdr + 2), len);
				if (err < 0)
					goto done;
			}
			if (cons - published >= rd->publish) {
				__atomic_store_n(rd->consumer_pos, cons, __ATOMIC_RELEASE);
				published = cons;
			}
		}
	}
done:
	if (cons != published)
		__atomic_store_n(rd->consumer_pos, cons, __ATOMIC_RELEASE);
	return err < 0 ? err : n;
}
