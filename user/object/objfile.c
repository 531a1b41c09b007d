// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * A user's BPF object (objfile.h): libbpf opens and loads it; the globals
 * are the variables of the data sections' BTF (DATASEC), written into the
 * sections' initial values before load; the maps are described by their
 * BTF key and value types; programs attach as their section says (libbpf's
 * auto-attach) or where the caller says, the packet hooks through the
 * filter engine's tc and netfilter functions.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <lbpf/lbpf.h>

#include "objfile.h"

#define EM_BPF_ 247
#define PROG_TYPE_NETFILTER 32  /* libbpf 1.1 predates it (KERNEL-NOTES) */
#define ATTACH_NETFILTER 45

/* returns err, the message in (errbuf, errlen) */
#define fail lbpf_errmsg

/* Whether path is an ELF file for BPF: the magic, then e_machine. */
static int check_elf(const char *path, const char *name, char *errbuf, size_t errlen)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;
	ssize_t n;

	if (fd < 0) {
		err = -errno;
		return fail(errbuf, errlen, err, "object %s: %s", path, strerror(-err));
	}
	n = read(fd, h, sizeof(h));
	close(fd);
	if (n < (ssize_t)sizeof(h) || memcmp(h, "\177ELF", 4))
		return fail(errbuf, errlen, -ENOEXEC, "object %s: not an ELF file (build it with "
			    "clang -target bpf -g -O2 -c)", name);
	if ((h[18] | h[19] << 8) != EM_BPF_)
		return fail(errbuf, errlen, -ENOEXEC, "object %s: an ELF file for machine %d, not "
			    "a BPF object (build it with clang -target bpf)", name,
			    h[18] | h[19] << 8);
	return 0;
}

/* libbpf 1.1 has no "netfilter" section: such programs get their type here. */
static void type_netfilter(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!strcmp(sec, "netfilter") || !strncmp(sec, "netfilter/", 10)) {
			bpf_program__set_type(prog, PROG_TYPE_NETFILTER);
			bpf_program__set_expected_attach_type(prog, ATTACH_NETFILTER);
		}
	}
}

int objfile_open(struct objfile **out, const char *path, char *errbuf, size_t errlen)
{
	struct objfile *o = calloc(1, sizeof(*o));
	char copy[4096];
	int err;

	*out = NULL;
	if (!o)
		return fail(errbuf, errlen, -ENOMEM, "object %s: out of memory", path);
	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(o->name, sizeof(o->name), "%s", basename(copy));
	err = check_elf(path, o->name, errbuf, errlen);
	if (err)
		goto cleanup;
	lbpf_libbpf_log_clear();
	o->obj = bpf_object__open_file(path, NULL);
	if (!o->obj) {
		err = -errno;
		fail(errbuf, errlen, err, "object %s: open: %s (%s)%s%s", o->name, lbpf_strerror(err),
		     lbpf_errname(err), *lbpf_libbpf_log() ? "; libbpf said:\n" : "",
		     lbpf_libbpf_log_tail(6));
		goto cleanup;
	}
	type_netfilter(o->obj);
	*out = o;
	return 0;
cleanup:
	free(o);
	return err;
}

void objfile_close(struct objfile *o)
{
	if (!o)
		return;
	bpf_object__close(o->obj);
	free(o);
}

const struct btf *objfile_btf(const struct objfile *o)
{
	return bpf_object__btf(o->obj);
}

int objfile_load(struct objfile *o, char *errbuf, size_t errlen)
{
	int err;

	lbpf_libbpf_log_clear();
	err = bpf_object__load(o->obj);
	if (err)
		return fail(errbuf, errlen, err, "object %s: load: %s (%s)%s%s", o->name,
			    lbpf_strerror(err), lbpf_errname(err),
			    *lbpf_libbpf_log() ? "; libbpf and the verifier said:\n" : "",
			    lbpf_libbpf_log_tail(12));
	o->loaded = true;
	return 0;
}

/* ---- globals ---- */

/* The names of a DATASEC's variables, ", "-separated, into buf. */
static const char *var_names(const struct btf *btf, const struct btf_type *sec, char *buf,
			     size_t size)
{
	const struct btf_var_secinfo *vi = btf_var_secinfos(sec);
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < btf_vlen(sec) && used < size; i++, vi++) {
		const struct btf_type *v = btf__type_by_id(btf, vi->type);

		if (v && btf_is_var(v))
			used += snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
					 btf__name_by_offset(btf, v->name_off));
	}
	return buf[0] ? buf : "none";
}

int objfile_global(struct objfile *o, const char *section, const char *name,
		   struct objfile_var *out, char *errbuf, size_t errlen)
{
	const struct btf *btf = objfile_btf(o);
	const struct btf_type *sec;
	const struct btf_var_secinfo *vi;
	char secname[128], names[512];
	int id, i;

	snprintf(secname, sizeof(secname), ".%s", section);
	id = btf ? btf__find_by_name_kind(btf, secname, BTF_KIND_DATASEC) : -ENOENT;
	out->map = bpf_object__find_map_by_name(o->obj, secname);
	if (id <= 0 || !out->map)
		return fail(errbuf, errlen, -ENOENT, "object %s: no section %s (no global variable "
			    "is there%s)", o->name, secname, btf ? "" : ", or the object has no BTF: "
			    "build it with -g");
	sec = btf__type_by_id(btf, id);
	vi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vi++) {
		const struct btf_type *v = btf__type_by_id(btf, vi->type);

		if (!v || !btf_is_var(v) || strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		out->section = btf__name_by_offset(btf, sec->name_off);
		out->type = v->type;
		out->offset = vi->offset;
		out->size = vi->size;
		return 0;
	}
	return fail(errbuf, errlen, -ENOENT, "object %s: %s has no global '%s' (it has: %s)",
		    o->name, section, name, var_names(btf, sec, names, sizeof(names)));
}

int objfile_global_set(const struct objfile_var *var, const void *value)
{
	size_t size = 0;
	const char *data = bpf_map__initial_value(var->map, &size);
	char *copy;
	int err;

	if (!data || var->offset + var->size > size)
		return -EINVAL;
	copy = malloc(size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, size);
	memcpy(copy + var->offset, value, var->size);
	err = bpf_map__set_initial_value(var->map, copy, size);
	free(copy);
	return err;
}

size_t objfile_section_size(const struct objfile_var *var)
{
	return bpf_map__value_size(var->map);
}

int objfile_section_read(const struct objfile_var *var, void *buf)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(bpf_map__fd(var->map), &zero, buf) < 0 ? -errno : 0;
}

int objfile_section_write(const struct objfile_var *var, const void *buf)
{
	uint32_t zero = 0;

	if (bpf_map__map_flags(var->map) & BPF_F_RDONLY_PROG)
		return -EPERM;
	return bpf_map_update_elem(bpf_map__fd(var->map), &zero, buf, BPF_ANY) < 0 ? -errno : 0;
}

/* ---- maps and types ---- */

bool objfile_map_is_user(const struct bpf_map *map)
{
	return !bpf_map__is_internal(map);
}

int objfile_map_describe(struct bpf_map *map, struct objfile_map *out)
{
	int type = bpf_map__type(map);

	out->map = map;
	out->name = bpf_map__name(map);
	out->fd = bpf_map__fd(map);
	out->type = type;
	out->key_type = bpf_map__btf_key_type_id(map);
	out->value_type = bpf_map__btf_value_type_id(map);
	out->key_size = bpf_map__key_size(map);
	out->value_size = bpf_map__value_size(map);
	out->ncpus = 1;
	if (type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
	    type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE)
		out->ncpus = libbpf_num_possible_cpus();
	return out->ncpus > 0 ? 0 : out->ncpus;
}

int objfile_find_type(struct objfile *o, const char *text, unsigned *type, char *errbuf,
		      size_t errlen)
{
	const struct btf *btf = objfile_btf(o);
	int id = -ENOENT;

	if (btf && !strncmp(text, "struct ", 7))
		id = btf__find_by_name_kind(btf, text + 7, BTF_KIND_STRUCT);
	else if (btf && !strncmp(text, "union ", 6))
		id = btf__find_by_name_kind(btf, text + 6, BTF_KIND_UNION);
	else if (btf)
		id = btf__find_by_name_kind(btf, text, BTF_KIND_TYPEDEF);
	if (id <= 0)
		return fail(errbuf, errlen, -ENOENT, "object %s: its BTF has no type '%s'%s", o->name,
			    text, btf ? " (a type only the BPF code names must be used there to be "
			    "kept, e.g. in a map's or a variable's type)" : " (build it with -g)");
	*type = id;
	return 0;
}

/* ---- attaching ---- */

static const int point_prog_types[] = {
	[OBJFILE_TRACEPOINT] = BPF_PROG_TYPE_TRACEPOINT,
	[OBJFILE_RAW_TRACEPOINT] = BPF_PROG_TYPE_RAW_TRACEPOINT,
	[OBJFILE_KPROBE] = BPF_PROG_TYPE_KPROBE,
	[OBJFILE_KRETPROBE] = BPF_PROG_TYPE_KPROBE,
	[OBJFILE_UPROBE] = BPF_PROG_TYPE_KPROBE,
	[OBJFILE_URETPROBE] = BPF_PROG_TYPE_KPROBE,
	[OBJFILE_XDP] = BPF_PROG_TYPE_XDP,
	[OBJFILE_TC] = BPF_PROG_TYPE_SCHED_CLS,
	[OBJFILE_NETFILTER] = PROG_TYPE_NETFILTER,
};

static const char *prog_type_text(int type)
{
	const char *s = type == PROG_TYPE_NETFILTER ? "netfilter" : libbpf_bpf_prog_type_str(type);

	return s ? s : "unknown";
}

/* Whether prog may go where pt says, by program type. */
static int check_type(struct objfile *o, struct bpf_program *prog,
		      const struct objfile_point *pt, char *errbuf, size_t errlen)
{
	int have = bpf_program__type(prog), want = point_prog_types[pt->kind];

	if (have == want || (want == BPF_PROG_TYPE_SCHED_CLS && have == BPF_PROG_TYPE_SCHED_ACT) ||
	    (want == BPF_PROG_TYPE_RAW_TRACEPOINT && have == BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE))
		return 0;
	return fail(errbuf, errlen, -EINVAL, "object %s: program %s is of type %s (section "
		    "'%s'); %s needs one of type %s", o->name, bpf_program__name(prog),
		    prog_type_text(have), bpf_program__section_name(prog), pt->where,
		    prog_type_text(want));
}

/* The length of "category" in "category:name" (or category/name), or 0. */
static size_t tracepoint_category(const char *target)
{
	size_t n = strcspn(target, ":/");

	return target[n] && target[n + 1] && n < 128 ? n : 0;
}

static int attach_tracepoint(struct bpf_program *prog, const char *target,
			     struct objfile_link *out)
{
	char cat[128];
	size_t n = tracepoint_category(target);

	snprintf(cat, sizeof(cat), "%.*s", (int)n, target);
	out->link = bpf_program__attach_tracepoint(prog, cat, target + n + 1);
	return out->link ? 0 : -errno;
}

static int attach_uprobe(struct bpf_program *prog, const struct objfile_point *pt,
			 struct objfile_link *out)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = pt->kind == OBJFILE_URETPROBE,
		    .func_name = pt->target);

	out->link = bpf_program__attach_uprobe_opts(prog, pt->pid, pt->binary, pt->offset, &opts);
	return out->link ? 0 : -errno;
}

static int attach_xdp(struct bpf_program *prog, const struct objfile_point *pt,
		      struct objfile_link *out)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts);
	int fd;

	if (!pt->mode) {
		out->link = bpf_program__attach_xdp(prog, pt->ifindex);
		return out->link ? 0 : -errno;
	}
	opts.flags = !strcmp(pt->mode, "generic") ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	fd = bpf_link_create(bpf_program__fd(prog), pt->ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	out->fds[0] = fd;
	return 0;
}

/* Netfilter links for the families pt asks for (both when 0). */
static int attach_nf(struct bpf_program *prog, const struct objfile_point *pt,
		     struct objfile_link *out)
{
	static const int pfs[2] = { 2 /* NFPROTO_IPV4 */, 10 /* NFPROTO_IPV6 */ };
	int i, fd;

	for (i = 0; i < 2; i++) {
		if (pt->nf_family && pt->nf_family != (i ? 6 : 4))
			continue;
		fd = filter_nf_link(bpf_program__fd(prog), pfs[i], pt->nf_hooknum, pt->nf_priority);
		if (fd < 0)
			return fd;
		out->fds[i] = fd;
	}
	return 0;
}

/* A hint for a refusal by the kernel, or "". */
static const char *attach_hint(const struct objfile_point *pt, int err)
{
	switch (pt->kind) {
	case OBJFILE_KPROBE:
	case OBJFILE_KRETPROBE:
		return err == -ENOENT || err == -EOPNOTSUPP ? " (no such function, or this kernel "
		       "has no kprobes: CONFIG_KPROBES)" : "";
	case OBJFILE_TRACEPOINT:
		return err == -ENOENT ? " (no such tracepoint, or tracefs is not mounted)" : "";
	case OBJFILE_XDP:
		return err == -EBUSY || err == -EEXIST ? ": another XDP program is attached" :
		       err == -EOPNOTSUPP ? ": the driver has no native XDP; try mode=\"generic\"" : "";
	case OBJFILE_NETFILTER:
		return err == -EBUSY ? ": another BPF hook has this priority" :
		       err == -EINVAL || err == -EOPNOTSUPP ? ": this kernel has no BPF netfilter "
		       "links (Linux 6.4 or later is needed)" : "";
	default:
		return "";
	}
}

static int attach_at(struct bpf_program *prog, const struct objfile_point *pt,
		     struct objfile_link *out)
{
	switch (pt->kind) {
	case OBJFILE_AUTO:
		out->link = bpf_program__attach(prog);
		return out->link ? 0 : -errno;
	case OBJFILE_TRACEPOINT:
		return attach_tracepoint(prog, pt->target, out);
	case OBJFILE_RAW_TRACEPOINT:
		out->link = bpf_program__attach_raw_tracepoint(prog, pt->target);
		return out->link ? 0 : -errno;
	case OBJFILE_KPROBE:
	case OBJFILE_KRETPROBE:
		out->link = bpf_program__attach_kprobe(prog, pt->kind == OBJFILE_KRETPROBE,
						       pt->target);
		return out->link ? 0 : -errno;
	case OBJFILE_UPROBE:
	case OBJFILE_URETPROBE:
		return attach_uprobe(prog, pt, out);
	case OBJFILE_XDP:
		return attach_xdp(prog, pt, out);
	case OBJFILE_TC:
		out->is_tc = true;
		out->tc = (struct filter_tc){ .ifindex = pt->ifindex, .egress = pt->egress };
		return filter_tc_add(&out->tc, bpf_program__fd(prog));
	case OBJFILE_NETFILTER:
		return attach_nf(prog, pt, out);
	}
	return -EINVAL;
}

int objfile_attach(struct objfile *o, struct bpf_program *prog, const struct objfile_point *pt,
		   struct objfile_link *out, char *errbuf, size_t errlen)
{
	int err;

	memset(out, 0, sizeof(*out));
	out->fds[0] = out->fds[1] = -1;
	out->prog_fd = bpf_program__fd(prog);
	if (pt->kind != OBJFILE_AUTO && (err = check_type(o, prog, pt, errbuf, errlen)))
		return err;
	if (pt->kind == OBJFILE_TRACEPOINT && !tracepoint_category(pt->target))
		return fail(errbuf, errlen, -EINVAL, "object %s: program %s: tracepoint '%s': "
			    "expected \"category:name\"", o->name, bpf_program__name(prog),
			    pt->target);
	err = attach_at(prog, pt, out);
	if (!err)
		return 0;
	objfile_detach(out);
	if (pt->kind == OBJFILE_AUTO && err == -EOPNOTSUPP)
		return fail(errbuf, errlen, err, "object %s: program %s (section '%s') has no "
			    "attach point of its own; give one, e.g. attach{xdp = \"eth0\"} or "
			    "attach{tracepoint = \"sched:sched_switch\"}", o->name,
			    bpf_program__name(prog), bpf_program__section_name(prog));
	return fail(errbuf, errlen, err, "object %s: attach program %s to %s: %s (%s)%s", o->name,
		    bpf_program__name(prog), pt->where, lbpf_strerror(err), lbpf_errname(err),
		    attach_hint(pt, err));
}

void objfile_detach(struct objfile_link *l)
{
	bpf_link__destroy(l->link);
	l->link = NULL;
	for (int i = 0; i < 2; i++) {
		if (l->fds[i] >= 0)
			close(l->fds[i]);
		l->fds[i] = -1;
	}
	if (l->is_tc)
		filter_tc_remove(&l->tc, true);
	l->is_tc = false;
}

uint32_t objfile_link_id(const struct objfile_link *l)
{
	if (l->link)
		return lbpf_bpf_id(bpf_link__fd(l->link));
	return lbpf_bpf_id(l->fds[0] >= 0 ? l->fds[0] : l->fds[1]);
}
