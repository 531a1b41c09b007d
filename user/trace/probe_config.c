// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Compiles a probe's options (filter, strings, count/hist/lhist/sum/min/
 * max/avg with by, kstack, ustack, strlen; struct probe_opts, which the
 * binding reads from Lua) into one struct lbpf_attach_config per attach
 * point. Names resolve per attach point, since a wildcard spans
 * tracepoints of different layouts; a name that one of them lacks is an
 * error that names both.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "probe.h"

static const struct { const char *name; enum lbpf_source source; } builtins[] = {
	{ "pid", LBPF_SRC_PID }, { "tid", LBPF_SRC_TID }, { "uid", LBPF_SRC_UID },
	{ "gid", LBPF_SRC_GID }, { "cpu", LBPF_SRC_CPU }, { "cgroup", LBPF_SRC_CGROUP },
	{ "comm", LBPF_SRC_COMM }, { "probe", LBPF_SRC_PROBE }, { "kstack", LBPF_SRC_KSTACK },
	{ "ustack", LBPF_SRC_USTACK }, { "latency", LBPF_SRC_LATENCY },
};

/* Leaves the message in errbuf; returns -EINVAL. */
static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool probe_is_return(const struct probe *p)
{
	return p->type == PROBE_KRETPROBE || p->type == PROBE_URETPROBE;
}

/* Appends s to buf (of size) at *len, cutting at the end of buf. */
static void append(char *buf, size_t size, size_t *len, const char *s)
{
	int n = snprintf(buf + *len, size - *len, "%s", s);

	*len += n < 0 ? 0 : (size_t)n < size - *len ? (size_t)n : size - *len - 1;
}

/* The names valid for a point, for error messages, into buf. */
static const char *valid_names(const struct probe *p, const struct attach_point *ap, char *buf,
			       size_t size)
{
	size_t len = 0;
	int i;

	append(buf, size, &len, "pid, tid, uid, gid, cpu, cgroup, comm, probe");
	for (i = 0; i < ap->npaths; i++) {
		append(buf, size, &len, ", ");
		append(buf, size, &len, ap->paths[i].name);
	}
	for (i = 0; ap->have_args && i < ap->args.n && i < 6; i++) {
		if (!ap->args.names[i][0])
			continue;
		append(buf, size, &len, ", ");
		append(buf, size, &len, ap->args.names[i]);
	}
	if (p->type == PROBE_TRACEPOINT) {
		for (i = 0; i < ap->format.nfields; i++) {
			if (ap->format.fields[i].is_common)
				continue;
			append(buf, size, &len, ", ");
			append(buf, size, &len, ap->format.fields[i].name);
		}
	} else if (probe_is_return(p)) {
		append(buf, size, &len, ", ret, latency");
	} else if (p->type == PROBE_RAW_TRACEPOINT || p->type == PROBE_USDT) {
		int n = p->type == PROBE_USDT ? ap->usdt.nargs : ap->args.n;
		char argn[32];

		snprintf(argn, sizeof(argn), ", arg1..arg%d", n < 6 ? n : 6);
		if (n)
			append(buf, size, &len, argn);
	} else {
		append(buf, size, &len, ", arg1..arg6");
	}
	return buf;
}

/* A field path's value as a number: its place in the event data. */
static int resolve_path(const struct attach_point *ap, const struct probe_path *pp,
			struct lbpf_ref *ref, const char *what, char *errbuf, size_t errlen)
{
	const struct btf_path *bp = &pp->bp;

	if (bp->kind == BTF_VALUE_CHARS || bp->kind == BTF_VALUE_BYTES ||
	    bp->kind == BTF_VALUE_STRPTR)
		return fail(errbuf, errlen, "%s: field '%s' of %s is a %s; only numbers can be "
			    "compared or aggregated", what, pp->name, ap->name,
			    bp->kind == BTF_VALUE_BYTES ? "byte string" : "string");
	ref->source = LBPF_SRC_FIELD;
	ref->offset = bp->steps.dest;
	ref->size = bp->kind == BTF_VALUE_PTR ? 8 : bp->size;
	ref->is_signed = bp->is_signed;
	return 0;
}

/* An argument by its BTF name (the first six), or -1. */
static int arg_index(const struct attach_point *ap, const char *name)
{
	int i;

	for (i = 0; ap->have_args && i < ap->args.n && i < 6; i++)
		if (ap->args.names[i][0] && !strcmp(ap->args.names[i], name))
			return i;
	return -1;
}

/* Resolves `name` for attach point ap into ref. 0, or -EINVAL with a
 * message that starts with `what`. */
static int resolve(const struct probe *p, const struct attach_point *ap, const char *name,
		   struct lbpf_ref *ref, const char *what, char *errbuf, size_t errlen)
{
	const struct tp_field *f;
	char names[2048];
	size_t i;

	memset(ref, 0, sizeof(*ref));
	for (i = 0; i < (size_t)ap->npaths; i++)
		if (!strcmp(ap->paths[i].name, name))
			return resolve_path(ap, &ap->paths[i], ref, what, errbuf, errlen);
	if (!probe_is_return(p) && arg_index(ap, name) >= 0) {
		ref->source = LBPF_SRC_ARG;
		ref->arg = arg_index(ap, name);
		return 0;
	}
	if (p->type == PROBE_TRACEPOINT && (f = tracefs_field(&ap->format, name))) {
		if (f->is_string || f->is_data_loc || strchr(f->type, '['))
			return fail(errbuf, errlen, "%s: field '%s' of %s is a %s; only numbers "
				    "can be compared or aggregated (comm is the exception)", what,
				    name, ap->name,
				    f->is_string || f->is_data_loc ? "string" : "byte array");
		ref->source = LBPF_SRC_FIELD;
		ref->offset = f->offset;
		ref->size = f->value_size;
		ref->is_signed = f->is_signed;
		if (f->offset + 8 > LBPF_MAX_DATA)
			return fail(errbuf, errlen, "%s: field '%s' of %s lies beyond the %d bytes "
				    "lbpf copies", what, name, ap->name, LBPF_MAX_DATA);
		return 0;
	}
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		if (strcmp(name, builtins[i].name))
			continue;
		if (builtins[i].source == LBPF_SRC_LATENCY && !p->latency)
			break;
		ref->source = builtins[i].source;
		return 0;
	}
	if (p->type != PROBE_TRACEPOINT && !probe_is_return(p) && !strncmp(name, "arg", 3) &&
	    name[3] >= '1' && name[3] <= '6' && !name[4] &&
	    (p->type != PROBE_RAW_TRACEPOINT || name[3] - '0' <= ap->args.n) &&
	    (p->type != PROBE_USDT || name[3] - '0' <= ap->usdt.nargs)) {
		ref->source = LBPF_SRC_ARG;
		ref->arg = name[3] - '1';
		if (p->type == PROBE_USDT) { /* BPF extends it so already; said for the record */
			ref->size = ap->usdt.args[ref->arg].size;
			ref->is_signed = ap->usdt.args[ref->arg].is_signed;
		}
		return 0;
	}
	if (probe_is_return(p) && !strcmp(name, "ret")) {
		ref->source = LBPF_SRC_RET;
		ref->is_signed = 1;
		return 0;
	}
	return fail(errbuf, errlen, "%s: unknown name '%s' for %s (valid: %s)", what, name,
		    ap->name, valid_names(p, ap, names, sizeof(names)));
}

/* One condition of opts.filter into f. 0 or -EINVAL with the message. */
static int compile_filter(const struct probe *p, const struct attach_point *ap,
			  const struct probe_filter_opt *o, struct lbpf_filter *f, char *errbuf,
			  size_t errlen)
{
	char *what = NULL;
	int err;

	memset(f, 0, sizeof(*f));
	if (!strcmp(o->name, "comm")) {
		f->op = LBPF_OP_STREQ;
		strncpy(f->str, o->comm, sizeof(f->str) - 1);
		return 0;
	}
	f->op = o->op;
	f->value = o->value;
	/* allocated: a message names the filter however long its name */
	if (asprintf(&what, "filter.%s", o->name) < 0) {
		what = NULL;
		fail(errbuf, errlen, "filter.%s: out of memory", o->name);
		err = -ENOMEM;
		goto cleanup;
	}
	err = resolve(p, ap, o->name, &f->ref, what, errbuf, errlen);
	if (!err && (f->ref.source == LBPF_SRC_KSTACK || f->ref.source == LBPF_SRC_USTACK))
		err = fail(errbuf, errlen, "filter.%s: stacks cannot be filtered on", o->name);
cleanup:
	free(what);
	return err;
}

/* opts.filter for ap, in the order given. 0 or -EINVAL with the message. */
static int compile_filters(const struct probe *p, struct attach_point *ap,
			   const struct probe_opts *o, char *errbuf, size_t errlen)
{
	struct lbpf_attach_config *c = &ap->config;
	int i, err;

	for (i = 0; i < o->nfilters; i++) {
		err = compile_filter(p, ap, &o->filters[i], &c->filters[i], errbuf, errlen);
		if (err)
			return err;
	}
	c->nfilters = o->nfilters;
	return 0;
}

/* Default memory of a captured pointer: syscall arguments point to user
 * memory, other tracepoints' pointers to kernel memory; a program's own
 * (uprobes, USDT) to user memory. */
static bool default_user(const struct probe *p, const struct attach_point *ap)
{
	if (p->type == PROBE_TRACEPOINT)
		return !strcmp(ap->format.category, "syscalls");
	return p->type == PROBE_UPROBE || p->type == PROBE_URETPROBE || p->type == PROBE_USDT;
}

/* One string to capture at ap. 0 or -EINVAL with the message. */
static int add_string(const struct probe *p, struct attach_point *ap,
		      const struct probe_string_opt *o, char *errbuf, size_t errlen)
{
	struct lbpf_attach_config *c = &ap->config;
	struct lbpf_strcap *sc = &c->strings[c->nstrings];
	const struct tp_field *f;
	int err;

	if (c->nstrings == LBPF_MAX_STRINGS)
		return fail(errbuf, errlen, "strings: at most %d strings, char * fields included",
			    LBPF_MAX_STRINGS);
	f = p->type == PROBE_TRACEPOINT ? tracefs_field(&ap->format, o->name) : NULL;
	if (f && !f->is_pointer)
		return fail(errbuf, errlen, "strings: field '%s' of %s is not a pointer (%s)%s",
			    o->name, ap->name, f->type, f->is_string ? "; it is a string already" : "");
	err = resolve(p, ap, o->name, &sc->ref, "strings", errbuf, errlen);
	if (err)
		return err;
	if (sc->ref.source != LBPF_SRC_FIELD && sc->ref.source != LBPF_SRC_ARG &&
	    sc->ref.source != LBPF_SRC_RET)
		return fail(errbuf, errlen, "strings: '%s' is not a pointer argument or field",
			    o->name);
	sc->user = o->memory == PROBE_MEMORY_DEFAULT ? default_user(p, ap)
						     : o->memory == PROBE_MEMORY_USER;
	snprintf(ap->strings[c->nstrings], sizeof(ap->strings[0]), "%s", o->name);
	c->nstrings++;
	return 0;
}

/* strlen and strings for ap. 0 or -EINVAL with the message. */
static int compile_strings(const struct probe *p, struct attach_point *ap,
			   const struct probe_opts *o, char *errbuf, size_t errlen)
{
	int i, err;

	if (o->strlen < 2 || o->strlen > LBPF_MAX_STRLEN)
		return fail(errbuf, errlen, "strlen: expected 2..%d, got %d", LBPF_MAX_STRLEN,
			    (int)o->strlen);
	ap->config.strlen = o->strlen;
	for (i = 0; i < o->nstrings; i++) {
		err = add_string(p, ap, &o->strings[i], errbuf, errlen);
		if (err)
			return err;
	}
	return 0;
}

int probe_load_args(struct probe *p, struct attach_point *ap, char *errbuf, size_t errlen)
{
	int err;

	if (ap->have_args)
		return 0;
	if (!p->kernel_btf) {
		p->kernel_btf = btf_kernel_open(NULL);
		if (!p->kernel_btf) {
			err = -errno;
			snprintf(errbuf, errlen, "%s: read the kernel's BTF (/sys/kernel/btf/vmlinux): "
				 "%s", ap->name, strerror(-err));
			return err;
		}
	}
	if (p->type == PROBE_RAW_TRACEPOINT)
		err = btf_raw_tp_args(p->kernel_btf, ap->target, &ap->args, errbuf, errlen);
	else
		err = btf_func_args(p->kernel_btf, ap->target, &ap->args, errbuf, errlen);
	ap->have_args = !err;
	return err;
}

/* A field's name must not hide a name the point answers to already. */
static int check_field_name(const struct probe *p, const struct attach_point *ap,
			    const char *name, char *errbuf, size_t errlen)
{
	static const char *const taken[] = {
		"pid", "tid", "uid", "gid", "cpu", "cgroup", "ts", "comm", "probe", "kstack",
		"ustack", "latency", "ret", "truncated", "table", "arg1", "arg2", "arg3", "arg4",
		"arg5", "arg6",
	};
	size_t i;

	for (i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		if (!strcmp(name, taken[i]))
			return fail(errbuf, errlen, "fields.%s: %s is a built-in name; name the field "
				    "otherwise", name, name);
	if (arg_index(ap, name) >= 0)
		return fail(errbuf, errlen, "fields.%s: %s is an argument of %s already", name,
			    name, ap->name);
	return 0;
}

/* The format a field asked for, checked against its value. */
static int check_format(const struct attach_point *ap, struct probe_path *pp,
			const char *path, char *errbuf, size_t errlen)
{
	const struct btf_path *bp = &pp->bp;
	bool ok = true;

	switch (pp->format) {
	case FIELD_IPV4: ok = bp->size == 4 && bp->kind != BTF_VALUE_PTR; break;
	case FIELD_IPV6: ok = bp->size == 16 && bp->kind == BTF_VALUE_BYTES; break;
	case FIELD_PORT: ok = bp->size == 2 && bp->kind == BTF_VALUE_INT && bp->steps.nreads; break;
	case FIELD_USER: ok = bp->kind == BTF_VALUE_STRPTR; break;
	default: break;
	}
	if (!ok) {
		static const char *const need[] = {
			"", "4 bytes (an IPv4 address)", "16 bytes (an IPv6 address)",
			"a 16-bit integer in memory (a port)", "a char *",
		};
		return fail(errbuf, errlen, "fields.%s: %s: %s is not %s", pp->name, ap->target,
			    path, need[pp->format]);
	}
	if (pp->format == FIELD_PORT) {
		pp->bp.steps.flags |= LBPF_PATH_SWAP16;
		pp->bp.is_signed = false;
	}
	return 0;
}

/* A char * field: its pointer lies in the event data; its string is one of
 * the captured strings. */
static int add_path_string(struct attach_point *ap, struct probe_path *pp, char *errbuf,
			   size_t errlen)
{
	struct lbpf_attach_config *c = &ap->config;
	struct lbpf_strcap *sc = &c->strings[c->nstrings];

	if (c->nstrings == LBPF_MAX_STRINGS)
		return fail(errbuf, errlen, "fields.%s: at most %d strings, char * fields included",
			    pp->name, LBPF_MAX_STRINGS);
	memset(sc, 0, sizeof(*sc));
	sc->ref.source = LBPF_SRC_FIELD;
	sc->ref.offset = pp->bp.steps.dest;
	sc->ref.size = 8;
	sc->user = pp->format == FIELD_USER;
	memcpy(ap->strings[c->nstrings], pp->name, sizeof(ap->strings[0])); /* both 64 bytes */
	pp->string = c->nstrings++;
	return 0;
}

/* One field path of opts.fields at ap, its value at *dest (8-aligned) in
 * the event data. 0 or -errno with the message. */
static int add_path(struct probe *p, struct attach_point *ap, const struct probe_field_opt *o,
		    uint32_t *dest, char *errbuf, size_t errlen)
{
	struct probe_path *pp = &ap->paths[ap->npaths];
	char msg[512];
	int err;

	memset(pp, 0, sizeof(*pp));
	snprintf(pp->name, sizeof(pp->name), "%s", o->name);
	pp->format = o->format;
	pp->string = -1;
	err = check_field_name(p, ap, o->name, errbuf, errlen);
	if (err)
		return err;
	err = btf_path_compile(&ap->args, probe_is_return(p), o->path, &pp->bp, msg, sizeof(msg));
	if (err)
		return fail(errbuf, errlen, "%s: %s", ap->target, msg);
	err = check_format(ap, pp, o->path, errbuf, errlen);
	if (err)
		return err;
	if (*dest + LBPF_MAX_PATH_BYTES > LBPF_MAX_DATA)
		return fail(errbuf, errlen, "fields.%s: the fields take more than the %d bytes an "
			    "event carries", o->name, LBPF_MAX_DATA);
	pp->bp.steps.dest = *dest;
	*dest += (pp->bp.steps.size + 7) & ~7u;
	ap->config.paths[ap->npaths++] = pp->bp.steps;
	return pp->bp.kind == BTF_VALUE_STRPTR ? add_path_string(ap, pp, errbuf, errlen) : 0;
}

/* opts.fields for ap: the kernel's BTF is read here, and only here. */
static int compile_paths(struct probe *p, struct attach_point *ap, const struct probe_opts *o,
			 char *errbuf, size_t errlen)
{
	uint32_t dest = 0;
	int i, err;

	if (!o->nfields)
		return 0;
	if (p->type != PROBE_KPROBE && p->type != PROBE_KRETPROBE &&
	    p->type != PROBE_RAW_TRACEPOINT)
		return fail(errbuf, errlen, "fields: %s has no typed arguments (fields are for "
			    "kprobes, kretprobes and raw tracepoints)", ap->name);
	err = probe_load_args(p, ap, errbuf, errlen);
	if (err)
		return err;
	for (i = 0; i < o->nfields; i++) {
		err = add_path(p, ap, &o->fields[i], &dest, errbuf, errlen);
		if (err)
			return err;
	}
	ap->config.npaths = ap->npaths;
	ap->config.data_size = dest;
	return 0;
}

static const char *const agg_names[] = {
	"", "count", "hist", "lhist", "sum", "min", "max", "avg",
};

const char *probe_agg_name(enum probe_agg_kind agg)
{
	return (size_t)agg < sizeof(agg_names) / sizeof(agg_names[0]) ? agg_names[agg] : "?";
}

/* The aggregation, its keys and value into p; resolution per point comes
 * later. 0 or -EINVAL with the message. */
static int compile_agg_spec(struct probe *p, const struct probe_opts *o, char *errbuf,
			    size_t errlen)
{
	const char *opt = probe_agg_name(o->agg);
	int i;

	p->agg = o->agg;
	for (i = 0; i < o->nkeys; i++)
		snprintf(p->keys[i], sizeof(p->keys[i]), "%s", o->keys[i]);
	p->nkeys = o->nkeys;
	if (p->agg == AGG_NONE || p->agg == AGG_COUNT)
		return 0;
	snprintf(p->value, sizeof(p->value), "%s", o->value ? o->value : "");
	if (p->agg == AGG_LHIST) {
		/* the width in unsigned: max - min of two int64 can overflow */
		if (o->lhist_step <= 0 || o->lhist_max <= o->lhist_min ||
		    ((uint64_t)o->lhist_max - (uint64_t)o->lhist_min) / (uint64_t)o->lhist_step > 1000)
			return fail(errbuf, errlen, "lhist: need min < max, step > 0 and at most "
				    "1000 buckets");
		p->points[0].config.lhist_min = o->lhist_min;
		p->points[0].config.lhist_max = o->lhist_max;
		p->points[0].config.lhist_step = o->lhist_step;
	}
	if (!strcmp(p->value, "latency")) {
		if (!probe_is_return(p))
			return fail(errbuf, errlen, "%s: latency needs a return probe (kretprobe, "
				    "uretprobe or lbpf.latency)", opt);
		p->latency = true;
	}
	return 0;
}

/* Resolves the keys and the value for ap, asking for the stack map when a
 * key is a stack. 0 or -EINVAL with the message. */
static int compile_agg(const struct probe *p, struct attach_point *ap, char *errbuf,
		       size_t errlen)
{
	struct lbpf_attach_config *c = &ap->config;
	int i, err;

	if (p->agg == AGG_NONE || p->by_point)
		return 0;
	c->agg = p->agg == AGG_COUNT ? LBPF_AGG_COUNT : p->agg == AGG_HIST ? LBPF_AGG_HIST :
		 p->agg == AGG_LHIST ? LBPF_AGG_LHIST : LBPF_AGG_SUM;
	c->lhist_min = p->points[0].config.lhist_min;
	c->lhist_max = p->points[0].config.lhist_max;
	c->lhist_step = p->points[0].config.lhist_step;
	for (i = 0; i < p->nkeys; i++) {
		err = resolve(p, ap, p->keys[i], &c->keys[i], p->agg == AGG_COUNT ? "count" : "by",
			      errbuf, errlen);
		if (err)
			return err;
		if (c->keys[i].source == LBPF_SRC_KSTACK)
			c->kstack = c->kstack ? c->kstack : 2; /* 2: stack map only, no event stack */
		if (c->keys[i].source == LBPF_SRC_USTACK)
			c->ustack = c->ustack ? c->ustack : 2;
	}
	c->nkeys = p->nkeys;
	if (p->agg != AGG_COUNT)
		return resolve(p, ap, p->value, &c->agg_value, "value", errbuf, errlen);
	return 0;
}

static bool uses(const struct lbpf_ref *ref, enum lbpf_source source)
{
	return ref->source == source;
}

/* What the BPF side must fetch for every hit: the tracepoint record when a
 * field is used, uid/gid when asked for. Emitting events needs both. Field
 * paths are walked after the filters unless a filter reads one, so the hits
 * a filter drops make no reads. */
static void set_needs(struct lbpf_attach_config *c)
{
	unsigned i;
	bool f = uses(&c->agg_value, LBPF_SRC_FIELD);
	bool ids = uses(&c->agg_value, LBPF_SRC_UID) || uses(&c->agg_value, LBPF_SRC_GID);

	c->filter_paths = 0;
	for (i = 0; i < c->nfilters; i++) {
		c->filter_paths |= c->npaths && uses(&c->filters[i].ref, LBPF_SRC_FIELD);
		f |= uses(&c->filters[i].ref, LBPF_SRC_FIELD);
		ids |= uses(&c->filters[i].ref, LBPF_SRC_UID) || uses(&c->filters[i].ref, LBPF_SRC_GID);
	}
	for (i = 0; i < c->nkeys; i++) {
		f |= uses(&c->keys[i], LBPF_SRC_FIELD);
		ids |= uses(&c->keys[i], LBPF_SRC_UID) || uses(&c->keys[i], LBPF_SRC_GID);
	}
	for (i = 0; i < c->nstrings; i++)
		f |= uses(&c->strings[i].ref, LBPF_SRC_FIELD);
	c->read_fields = f || c->emit;
	c->read_ids = ids || c->emit;
}

void probe_config_finish(struct probe *p)
{
	int i;

	for (i = 0; i < p->npoints; i++)
		set_needs(&p->points[i].config);
}

/* Bytes of the tracepoint record BPF copies: all of it, up to LBPF_MAX_DATA,
 * and that much when dynamic (__data_loc) data follows the fixed fields. */
static uint32_t data_size(const struct tp_format *format)
{
	bool dynamic = false;
	int f;

	for (f = 0; f < format->nfields; f++)
		dynamic |= format->fields[f].is_data_loc;
	return dynamic || format->size > LBPF_MAX_DATA ? LBPF_MAX_DATA : format->size;
}

/* One attach point's config. 0 or -EINVAL with the message. */
static int compile_point(struct probe *p, struct attach_point *ap,
			 const struct probe_opts *o, char *errbuf, size_t errlen)
{
	struct lbpf_attach_config *c = &ap->config;
	int err;

	c->enabled = 1;
	c->is_return = probe_is_return(p);
	c->strlen = 256;
	if (p->type == PROBE_TRACEPOINT)
		c->data_size = data_size(&ap->format);
	err = compile_paths(p, ap, o, errbuf, errlen);
	err = err ?: compile_filters(p, ap, o, errbuf, errlen);
	err = err ?: compile_strings(p, ap, o, errbuf, errlen);
	err = err ?: compile_agg(p, ap, errbuf, errlen);
	if (err)
		return err;
	c->kstack = o->kstack ? 1 : c->kstack;
	c->ustack = o->ustack ? 1 : c->ustack;
	return 0;
}

/* Which keys are field paths (of the first point), to show them by type. */
static void set_key_paths(struct probe *p)
{
	const struct attach_point *ap = &p->points[0];
	int i, j;

	for (i = 0; i < LBPF_MAX_KEYS; i++) {
		p->key_path[i] = -1;
		for (j = 0; i < p->nkeys && j < ap->npaths; j++)
			if (!strcmp(ap->paths[j].name, p->keys[i]))
				p->key_path[i] = j;
	}
}

int probe_compile(struct probe *p, const struct probe_opts *o, char *errbuf, size_t errlen)
{
	int i, err;

	/* what the Lua side can never pass; a C caller may */
	if (o->nkeys < 0 || o->nkeys > LBPF_MAX_KEYS || o->nfilters < 0 ||
	    o->nfilters > LBPF_MAX_FILTERS || o->nstrings < 0 || o->nstrings > LBPF_MAX_STRINGS ||
	    o->nfields < 0 || o->nfields > LBPF_MAX_PATHS)
		return fail(errbuf, errlen, "options: at most %d keys, %d filters, %d strings and "
			    "%d fields", LBPF_MAX_KEYS, LBPF_MAX_FILTERS, LBPF_MAX_STRINGS,
			    LBPF_MAX_PATHS);
	p->print = o->print;
	if (o->name && strlen(o->name) >= sizeof(p->name))
		return fail(errbuf, errlen, "name: expected 1 to %d characters", PROBE_NAME_MAX - 1);
	snprintf(p->name, sizeof(p->name), "%s", o->name ? o->name : "");
	err = compile_agg_spec(p, o, errbuf, errlen);
	if (err)
		return err;
	if (p->latency && p->agg == AGG_NONE)
		p->agg = AGG_HIST;
	p->by_point = p->agg == AGG_COUNT && p->nkeys == 1 && !strcmp(p->keys[0], "probe");
	for (i = 0; i < p->npoints; i++) {
		err = compile_point(p, &p->points[i], o, errbuf, errlen);
		if (err)
			return err;
	}
	set_key_paths(p);
	return 0;
}
