// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * `lbpf test [--json] [--ct STATE] POLICY.lua CAPTURE`: runs the policy's body with its
 * filters loaded but never attached, then judges every packet of the capture
 * (pcap or pcapng) with every filter the policy created, each by the program
 * of its own hook (XDP, tc or netfilter, through BPF_PROG_TEST_RUN), and
 * prints the verdict and the rule of each, then a summary that counts what
 * was judged, skipped and could not be run. A capture has no conntrack:
 * --ct says which state ct rules see its packets in (default new).
 *
 * Exit status: 0 when every packet was judged by every filter and the capture
 * was read to its end; 3 when a packet was skipped (a link type we do not
 * read, a record too short for its link header) or could not be run, or the
 * capture is truncated or unreadable part way; 1 when the policy or the
 * capture cannot be opened at all; 2 for a usage error.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/filter.h"
#include "protocol/json.h"
#include "core/internal.h"

#define EXIT_INCOMPLETE 3

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

/* A filter of the policy and what it did with the capture. */
struct tested {
	struct filter_engine *e;
	struct filter_place at;    /* at.where points into name */
	char where[96];            /* as the policy placed it */
	char name[112];            /* where, and #N when another filter is there too */
	uint64_t passed, dropped, defaulted, unparsed, unseen;
	uint64_t *by_rule;         /* by rule id */
};

struct pcaptest {
	struct tested *filters;
	unsigned nfilters, width;  /* width: of the longest filter name */
	bool json, lost;           /* lost: a filter could not be taken note of */
	int ct;                    /* every packet's ct state (enum filter_ct) */
	uint64_t packets, skipped, failed;
	uint64_t snapped;          /* records shorter than their packet (snap length) */
	bool truncated;
};

/* One verdict of one filter on one packet. */
struct judgement {
	int verdict;               /* FILTER_PASS / FILTER_DROP */
	uint32_t rule, why;        /* why: enum filter_why, or WHY_UNSEEN */
	const char *unseen;        /* why the hook never sees it */
};

#define WHY_UNSEEN 100

/* filter_dry_run_hook: takes note of each filter the policy creates. */
static void remember(void *ctx, struct filter_engine *e, const struct filter_place *at)
{
	struct pcaptest *t = ctx;
	struct tested *f = realloc(t->filters, (t->nfilters + 1) * sizeof(*f));
	unsigned same = 0;

	if (!f) {
		t->lost = true;
		return;
	}
	t->filters = f;
	f += t->nfilters++;
	memset(f, 0, sizeof(*f));
	f->e = e;
	f->at = *at;
	snprintf(f->where, sizeof(f->where), "%s", at->where);
	for (unsigned i = 0; i + 1 < t->nfilters; i++)
		same += !strcmp(t->filters[i].where, f->where);
	if (same)
		snprintf(f->name, sizeof(f->name), "%s #%u", at->where, same + 1);
	else
		snprintf(f->name, sizeof(f->name), "%s", at->where);
	f->at.where = f->name;
	if (strlen(f->name) > t->width)
		t->width = strlen(f->name);
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* An Ethernet header of ethertype type, then len bytes of data; returns the
 * frame's length (cut to size). */
static uint32_t ethernet(uint16_t type, const uint8_t *data, uint32_t len, uint8_t *out,
			 size_t size)
{
	uint32_t n = min_u32(len, size - 14);

	memset(out, 0, 12);
	out[12] = type >> 8;
	out[13] = type & 0xff;
	memcpy(out + 14, data, n);
	return n + 14;
}

/* The ethertype of a DLT_NULL or DLT_LOOP record's address family (either
 * byte order: DLT_NULL is the capturing host's), 0 if not IP. */
static uint16_t loop_type(const uint8_t *h)
{
	uint32_t be = (uint32_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
	uint32_t le = (uint32_t)h[3] << 24 | h[2] << 16 | h[1] << 8 | h[0];
	uint32_t af = be < 256 ? be : le;

	if (af == 2)
		return 0x0800;
	if (af == 10 || af == 24 || af == 28 || af == 30) /* AF_INET6 of Linux and the BSDs */
		return 0x86dd;
	return 0;
}

/* Makes an Ethernet frame of a capture record; returns its length, or 0
 * with the reason the record is skipped in why. Linux cooked captures (SLL,
 * SLL2) give their protocol field as the ethertype. */
static uint32_t to_ethernet(int linktype, const uint8_t *data, uint32_t len, uint8_t *out,
			    size_t size, char *why, size_t whylen)
{
	uint32_t head;
	uint16_t type;

	switch (linktype) {
	case DLT_EN10MB:
		head = 14;
		break;
	case DLT_RAW:
	case 228 /* DLT_IPV4 */:
	case 229 /* DLT_IPV6 */:
		head = 0;
		break;
	case DLT_NULL:
	case DLT_LOOP:
		head = 4;
		break;
	case DLT_LINUX_SLL:
		head = 16;
		break;
	case DLT_LINUX_SLL2:
		head = 20;
		break;
	default:
		snprintf(why, whylen, "link type %d (%s) not supported", linktype,
			 pcap_datalink_val_to_name(linktype) ?: "unknown");
		return 0;
	}
	if (len < head + (head == 14 ? 0 : 1)) {
		snprintf(why, whylen, "record of %u bytes is too short for its %s header (%u bytes)",
			 len, pcap_datalink_val_to_name(linktype) ?: "link", head);
		return 0;
	}
	if (linktype == DLT_EN10MB) {
		memcpy(out, data, min_u32(len, size));
		return min_u32(len, size);
	}
	if (linktype == DLT_LINUX_SLL)
		type = data[14] << 8 | data[15];
	else if (linktype == DLT_LINUX_SLL2)
		type = data[0] << 8 | data[1];
	else if (head == 4)
		type = loop_type(data);
	else if (linktype == 228 || linktype == 229)
		type = linktype == 228 ? 0x0800 : 0x86dd;
	else
		type = data[0] >> 4 == 6 ? 0x86dd : data[0] >> 4 == 4 ? 0x0800 : 0;
	if (!type) {
		snprintf(why, whylen, "%s record that is neither IPv4 nor IPv6",
			 pcap_datalink_val_to_name(linktype) ?: "link");
		return 0;
	}
	return ethernet(type, data + head, len - head, out, size);
}

/* Where the frame's IP header starts past its VLAN tags (0 if the frame
 * holds no IP packet); *v6 says which. */
static uint32_t ip_offset(const uint8_t *f, uint32_t len, bool *v6)
{
	uint32_t off = 12;
	uint16_t type;

	for (;;) {
		if (off + 2 > len)
			return 0;
		type = f[off] << 8 | f[off + 1];
		if (type != 0x8100 && type != 0x88a8)
			break;
		off += 4;
	}
	*v6 = type == 0x86dd;
	return type == 0x0800 || type == 0x86dd ? off + 2 : 0;
}

/* Judges a frame with the netfilter program, as the hook would see it: the
 * IP packet, whatever tags it came in (the stack untags it on a VLAN device). */
static int judge_nf(struct tested *f, const uint8_t *frame, uint32_t len, int ct,
		    struct judgement *j)
{
	bool v6 = false;
	uint32_t ip = ip_offset(frame, len, &v6);

	j->verdict = FILTER_PASS;
	j->why = WHY_UNSEEN;
	if (!ip) {
		j->unseen = "not IP: netfilter's inet hooks never see it";
		return 0;
	}
	if (f->at.nf_family && f->at.nf_family != (v6 ? 6 : 4)) {
		j->unseen = v6 ? "IPv6: this IPv4 hook never sees it"
			       : "IPv4: this IPv6 hook never sees it";
		return 0;
	}
	if (len - ip < (v6 ? 40u : 20u) || frame[ip] >> 4 != (v6 ? 6 : 4) ||
	    (!v6 && (frame[ip] & 15) < 5)) {
		j->verdict = FILTER_DROP;
		j->unseen = "IP header cut short or malformed: the IP stack discards it before "
			    "netfilter";
		return 0;
	}
	return filter_test_at(f->e, &f->at, frame + ip, len - ip, ct, &j->verdict, &j->rule,
			      &j->why);
}

static int judge(struct tested *f, const uint8_t *frame, uint32_t len, int ct,
		 struct judgement *j)
{
	memset(j, 0, sizeof(*j));
	if (f->at.hook == FILTER_HOOK_NF)
		return judge_nf(f, frame, len, ct, j);
	return filter_test_at(f->e, &f->at, frame, len, ct, &j->verdict, &j->rule, &j->why);
}

/* "vlan 5 10.0.0.1:1234 > 10.0.0.2:80 tcp" for an Ethernet frame. */
static void describe(const uint8_t *f, uint32_t len, char *buf, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], tags[32] = "";
	bool v6 = false;
	uint32_t off = ip_offset(f, len, &v6);
	const uint8_t *ip = f + off, *l4;
	int proto, n = 0;
	const char *name;

	for (uint32_t o = 12; off && o + 4 < off && n < (int)sizeof(tags) - 12; o += 4)
		n += snprintf(tags + n, sizeof(tags) - n, "vlan %u ", (f[o + 2] & 15) << 8 | f[o + 3]);
	if (off && !v6 && len >= off + 20) {
		proto = ip[9];
		l4 = ip + (ip[0] & 15) * 4;
		inet_ntop(AF_INET, ip + 12, src, sizeof(src));
		inet_ntop(AF_INET, ip + 16, dst, sizeof(dst));
	} else if (off && v6 && len >= off + 40) {
		proto = ip[6];
		l4 = ip + 40;
		inet_ntop(AF_INET6, ip + 8, src, sizeof(src));
		inet_ntop(AF_INET6, ip + 24, dst, sizeof(dst));
	} else {
		uint16_t type = len >= 14 ? f[12] << 8 | f[13] : 0;

		snprintf(buf, size, "%s", type == 0x0806 ? "arp" : off ? "IP header cut short" : "");
		if (!*buf)
			snprintf(buf, size, "ethertype 0x%04x", type);
		return;
	}
	name = filter_proto_name(proto);
	if ((proto == 6 || proto == 17) && l4 + 4 <= f + len)
		snprintf(buf, size, "%s%s%s%s:%u > %s%s%s:%u %s", tags, v6 ? "[" : "", src,
			 v6 ? "]" : "", l4[0] << 8 | l4[1], v6 ? "[" : "", dst, v6 ? "]" : "",
			 l4[2] << 8 | l4[3], name);
	else if (name)
		snprintf(buf, size, "%s%s > %s %s", tags, src, dst, name);
	else
		snprintf(buf, size, "%s%s > %s proto %d", tags, src, dst, proto);
}

static const char *rule_name(struct filter_engine *e, uint32_t id, char *buf, size_t size)
{
	struct filter_spec *s = id == ~0U ? NULL : filter_rule_find(e, id);

	if (id == ~0U)
		return "default";
	if (s && s->comment)
		snprintf(buf, size, "rule %u (%s)", id, s->comment);
	else
		snprintf(buf, size, "rule %u", id);
	return buf;
}

/* What decided, in a word for --json. */
static const char *why_word(const struct judgement *j)
{
	static const char *const words[] = { "rule", "default", "nonip", "unparsed", "fragment",
					     "flow" };

	if (j->why == WHY_UNSEEN)
		return "unseen";
	return j->why < sizeof(words) / sizeof(words[0]) ? words[j->why] : "?";
}

/* What decided, for the text output. */
static const char *why_text(struct tested *f, const struct judgement *j, char *buf, size_t size)
{
	if (j->why == WHY_UNSEEN)
		snprintf(buf, size, "(%s)", j->unseen);
	else if (j->why == FILTER_WHY_UNPARSED)
		return "unparsed";
	else if (j->why == FILTER_WHY_FRAGMENT)
		return "later fragment";
	else if (j->why == FILTER_WHY_NONIP)
		return "non-IP";
	else if (j->why == FILTER_WHY_FLOW)
		return "flow";
	else
		return rule_name(f->e, j->why == FILTER_WHY_RULE ? j->rule : ~0U, buf, size);
	return buf;
}

/* Prints one JSON object and its newline. */
static void json_line(struct json_writer *w)
{
	if (!w->failed)
		printf("%.*s\n", (int)w->len, w->data);
	json_writer_free(w);
	memset(w, 0, sizeof(*w));
}

/* "  12  drop  rule 1 (ssh)  10.0.0.1:40000 > 10.0.0.2:22 tcp", with the
 * filter's name after the number when the policy has several. */
static void print_text(struct pcaptest *t, struct tested *f, const struct judgement *j,
		       const char *what)
{
	char buf[160];

	if (t->nfilters > 1)
		printf("%6" PRIu64 "  %-*s %-4s  %-28s %s\n", t->packets, t->width, f->name,
		       j->verdict ? "drop" : "pass", why_text(f, j, buf, sizeof(buf)), what);
	else
		printf("%6" PRIu64 "  %-4s  %-28s %s\n", t->packets, j->verdict ? "drop" : "pass",
		       why_text(f, j, buf, sizeof(buf)), what);
}

static void print_judgement(struct pcaptest *t, struct tested *f, const struct judgement *j,
			    const char *what)
{
	struct json_writer w = { 0 };
	struct filter_spec *s;

	if (!t->json) {
		print_text(t, f, j, what);
		return;
	}
	json_object_begin(&w);
	json_kv_integer(&w, "index", (long long)t->packets);
	json_kv_string(&w, "filter", f->name);
	json_kv_string(&w, "verdict", j->verdict ? "drop" : "pass");
	json_key(&w, "rule");
	if (j->why == FILTER_WHY_RULE)
		json_integer(&w, j->rule);
	else
		json_null(&w);
	s = j->why == FILTER_WHY_RULE ? filter_rule_find(f->e, j->rule) : NULL;
	if (s && s->comment)
		json_kv_string(&w, "comment", s->comment);
	json_kv_string(&w, "why", why_word(j));
	json_kv_string(&w, "packet", what);
	json_object_end(&w);
	json_line(&w);
}

/* A packet that was skipped (filter NULL) or that a filter could not run. */
static void print_miss(struct pcaptest *t, struct tested *f, const char *reason)
{
	struct json_writer w = { 0 };

	if (!t->json) {
		if (f)
			printf("%6" PRIu64 "  fail  %s: %s\n", t->packets, f->name, reason);
		else
			printf("%6" PRIu64 "  skip  (%s)\n", t->packets, reason);
		return;
	}
	json_object_begin(&w);
	json_kv_integer(&w, "index", (long long)t->packets);
	if (f)
		json_kv_string(&w, "filter", f->name);
	json_kv_string(&w, f ? "error" : "skipped", reason);
	json_object_end(&w);
	json_line(&w);
}

static void count(struct tested *f, const struct judgement *j)
{
	*(j->verdict ? &f->dropped : &f->passed) += 1;
	if (j->why == WHY_UNSEEN)
		f->unseen++;
	else if (j->why == FILTER_WHY_UNPARSED || j->why == FILTER_WHY_FRAGMENT)
		f->unparsed++;
	else if (j->why == FILTER_WHY_DEFAULT)
		f->defaulted++;
	else if (j->why == FILTER_WHY_RULE && j->rule < f->e->max_rules)
		f->by_rule[j->rule]++;
}

/* Judges one frame with every filter. */
static void judge_frame(struct pcaptest *t, const uint8_t *frame, uint32_t len)
{
	struct judgement j;
	char what[160];
	bool failed = false;

	describe(frame, len, what, sizeof(what));
	for (unsigned i = 0; i < t->nfilters; i++) {
		struct tested *f = &t->filters[i];

		if (judge(f, frame, len, t->ct, &j)) {
			print_miss(t, f, f->e->error);
			failed = true;
			continue;
		}
		count(f, &j);
		print_judgement(t, f, &j, what);
	}
	t->failed += failed;
}

/* Judges and prints each packet of the capture; -errno if it cannot be
 * opened. A capture that ends in a broken record sets t->truncated. */
static int judge_capture(struct pcaptest *t, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE], why[160];
	struct pcap_pkthdr *hdr;
	const uint8_t *data;
	uint8_t frame[FILTER_TEST_MAX];
	uint32_t len;
	int rc;
	pcap_t *p = pcap_open_offline(path, errbuf);

	if (!p) {
		fprintf(stderr, "lbpf: %s\n", errbuf);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
		t->packets++;
		t->snapped += hdr->caplen < hdr->len;
		len = to_ethernet(pcap_datalink(p), data, hdr->caplen, frame, sizeof(frame), why,
				  sizeof(why));
		if (!len) {
			t->skipped++;
			print_miss(t, NULL, why);
			continue;
		}
		judge_frame(t, frame, len);
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "lbpf: %s: after packet %" PRIu64 ": %s\n", path, t->packets,
			pcap_geterr(p));
		t->truncated = true;
	}
	pcap_close(p);
	return 0;
}

static void summarize_text(struct pcaptest *t)
{
	char name[96];

	printf("\n%" PRIu64 " packets: %" PRIu64 " judged, %" PRIu64 " skipped, %" PRIu64
	       " could not be run; %s\n", t->packets, t->packets - t->skipped - t->failed,
	       t->skipped, t->failed,
	       t->truncated ? "the capture is truncated or unreadable" : "read to its end");
	if (t->snapped)
		printf("%" PRIu64 " records were cut by the capture's snap length: judged on the "
		       "bytes captured\n", t->snapped);
	for (unsigned i = 0; i < t->nfilters; i++) {
		struct tested *f = &t->filters[i];

		printf("%s: %" PRIu64 " passed, %" PRIu64 " dropped, %" PRIu64
		       " by the default, %" PRIu64 " by the unparsed or fragment verdict", f->name,
		       f->passed, f->dropped, f->defaulted, f->unparsed);
		if (f->unseen)
			printf(", %" PRIu64 " not seen by the hook", f->unseen);
		printf("\n");
		for (uint32_t r = 0; r < f->e->nspecs; r++) {
			uint32_t id = f->e->specs[r]->id;

			printf("  %-36s %8" PRIu64 " packets\n",
			       rule_name(f->e, id, name, sizeof(name)), f->by_rule[id]);
		}
	}
}

static void summarize_json(struct pcaptest *t)
{
	struct json_writer w = { 0 };

	json_object_begin(&w);
	json_key(&w, "summary");
	json_object_begin(&w);
	json_kv_integer(&w, "packets", (long long)t->packets);
	json_kv_integer(&w, "judged", (long long)(t->packets - t->skipped - t->failed));
	json_kv_integer(&w, "skipped", (long long)t->skipped);
	json_kv_integer(&w, "failed", (long long)t->failed);
	json_kv_bool(&w, "truncated", t->truncated);
	json_kv_integer(&w, "snapped", (long long)t->snapped);
	json_key(&w, "filters");
	json_array_begin(&w);
	for (unsigned i = 0; i < t->nfilters; i++) {
		struct tested *f = &t->filters[i];

		json_object_begin(&w);
		json_kv_string(&w, "filter", f->name);
		json_kv_integer(&w, "passed", (long long)f->passed);
		json_kv_integer(&w, "dropped", (long long)f->dropped);
		json_kv_integer(&w, "default", (long long)f->defaulted);
		json_kv_integer(&w, "unparsed", (long long)f->unparsed);
		json_kv_integer(&w, "unseen", (long long)f->unseen);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_end(&w);
	json_object_end(&w);
	json_line(&w);
}

/* Commits each filter's pending rules and sizes its counters. */
static int prepare_filters(struct pcaptest *t)
{
	for (unsigned i = 0; i < t->nfilters; i++) {
		struct tested *f = &t->filters[i];
		int err;

		f->by_rule = calloc(f->e->max_rules, sizeof(*f->by_rule));
		if (!f->by_rule)
			return -ENOMEM;
		err = f->e->dirty ? filter_commit(f->e) : 0;
		if (err) {
			fprintf(stderr, "lbpf: %s: %s\n", f->name, f->e->error);
			return err;
		}
	}
	return 0;
}

/* Takes --json and --ct STATE out of argv; returns the number of arguments
 * left, or -1 after a message. */
static int take_options(int argc, char **argv, struct pcaptest *t)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			t->json = true;
		} else if (!strcmp(argv[i], "--ct") && i + 1 < argc) {
			t->ct = filter_ct_number(argv[++i]);
			if (t->ct < 0) {
				fprintf(stderr, "lbpf: --ct: expected new, established, related, "
						"invalid or untracked, got '%s'\n", argv[i]);
				return -1;
			}
		} else {
			argv[n++] = argv[i];
		}
	}
	return n;
}

/* Runs the policy's body; under --json what it prints goes to stderr, so
 * stdout holds JSON alone. */
static int run_body(lbpf_runtime_t **rt, const char *path, bool json)
{
	lbpf_runtime_opts_t opts = { .argc = 0, .argv = NULL };
	int out = -1, err;

	fflush(stdout);
	if (json)
		out = dup(STDOUT_FILENO);
	if (out >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	err = lbpf_runtime_new(rt, path, &opts);
	err = err ?: lbpf_runtime_start(*rt);
	fflush(stdout);
	if (out >= 0) {
		dup2(out, STDOUT_FILENO);
		close(out);
	}
	return err;
}

int lbpf_cmd_test(int argc, char **argv)
{
	struct pcaptest t = { .ct = FILTER_CT_NEW };
	lbpf_runtime_t *rt = NULL;
	int err;

	argc = take_options(argc, argv, &t);
	if (argc < 0)
		return 2;
	if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-') {
		fprintf(stderr, "usage: lbpf test [--json] [--ct STATE] POLICY.lua CAPTURE.pcap\n");
		return 2;
	}
	lbpf_libbpf_logging();
	lbpf_mount_filesystems();
	filter_dry_run_hook = remember;
	filter_dry_run_ctx = &t;
	filter_dry_run_ct = t.ct;
	err = run_body(&rt, argv[1], t.json);
	if (err) {
		fprintf(stderr, "lbpf: %s\n", lbpf_runtime_error(rt) ?: strerror(-err));
		goto out;
	}
	if (t.lost) {
		fprintf(stderr, "lbpf: %s\n", strerror(ENOMEM));
		err = -ENOMEM;
		goto out;
	}
	if (!t.nfilters) {
		fprintf(stderr, "lbpf: %s creates no lbpf.filter\n", argv[1]);
		err = -EINVAL;
		goto out;
	}
	err = prepare_filters(&t);
	err = err ?: judge_capture(&t, argv[2]);
	if (err)
		goto out;
	if (t.json)
		summarize_json(&t);
	else
		summarize_text(&t);
out:
	for (unsigned i = 0; i < t.nfilters; i++)
		free(t.filters[i].by_rule);
	free(t.filters);
	filter_dry_run_hook = NULL;
	lbpf_runtime_free(rt);
	if (err)
		return 1;
	return t.skipped || t.failed || t.truncated ? EXIT_INCOMPLETE : 0;
}
