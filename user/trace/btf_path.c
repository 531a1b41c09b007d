// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Field paths from BTF (btf_path.h). A path is
 *   base accessor*
 * where base is an argument's name, argN, ret, or a cast of one,
 * "((struct sock *)arg1)", and an accessor is "->member", ".member" or
 * "[N]". Members of anonymous structs and unions are found through them, as
 * C finds them. The walk keeps the value's type and its offset from the last
 * pointer read; each "->" through a pointer that lies in memory adds a read,
 * and the end adds the read of the value itself. Types come from libbpf's BTF
 * API; nothing here parses BTF.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lbpf/lbpf.h>

#include "btf_path.h"
#include "btf_types.h"

/* The kernel's BTF is 5 MB or more and the same for every probe: one copy
 * per process, shared by the probes that hold it (lbpfd's workers too). */
static pthread_mutex_t kernel_btf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct btf *kernel_btf;
static unsigned kernel_btf_refs;

/* Kernels from 6.16 let /sys/kernel/btf/vmlinux be mapped: libbpf then
 * copies the BTF once, where reading the file first holds two copies at
 * the peak. NULL (and errno) where it cannot be mapped. */
static struct btf *kernel_btf_mapped(void)
{
	int fd = open("/sys/kernel/btf/vmlinux", O_RDONLY | O_CLOEXEC), saved;
	struct btf *btf = NULL;
	struct stat st;
	void *data;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (data != MAP_FAILED) {
			btf = btf__new(data, st.st_size);
			saved = errno;
			munmap(data, st.st_size);
			errno = saved;
		}
	}
	close(fd);
	return btf;
}

struct btf *btf_kernel_get(void)
{
	struct btf *btf;

	pthread_mutex_lock(&kernel_btf_lock);
	if (!kernel_btf) {
		kernel_btf = kernel_btf_mapped();
		if (!kernel_btf)
			kernel_btf = btf__load_vmlinux_btf();
	}
	btf = kernel_btf;
	if (btf)
		kernel_btf_refs++;
	pthread_mutex_unlock(&kernel_btf_lock);
	return btf;
}

void btf_kernel_put(struct btf *btf)
{
	if (!btf)
		return;
	pthread_mutex_lock(&kernel_btf_lock);
	if (btf == kernel_btf && --kernel_btf_refs == 0) {
		btf__free(kernel_btf);
		kernel_btf = NULL;
	}
	pthread_mutex_unlock(&kernel_btf_lock);
}

/* returns err, the message in (errbuf, errlen) */
#define fail lbpf_errmsg

/* ---- the kernel's BTF: vmlinux's, then modules' ---- */

struct btf_module {
	char name[64];
	struct btf *btf;               /* split on vmlinux's */
};

struct btf_kernel {
	char dir[200];                 /* where vmlinux and the modules' BTF lie */
	struct btf *vmlinux;           /* btf_kernel_get's when shared */
	bool shared;
	struct btf_module *modules;    /* parsed so far, on a miss in vmlinux's */
	int nmodules;
	int nlisted;                   /* modules with BTF in dir at the last search */
};

struct btf_kernel *btf_kernel_open(const char *dir)
{
	struct btf_kernel *k = calloc(1, sizeof(*k));
	char path[256];
	int err;

	if (!k)
		return NULL;
	snprintf(k->dir, sizeof(k->dir), "%s", dir ? dir : "/sys/kernel/btf");
	snprintf(path, sizeof(path), "%s/vmlinux", k->dir);
	k->shared = !dir;
	k->vmlinux = dir ? btf__parse(path, NULL) : btf_kernel_get();
	if (!k->vmlinux) {
		err = errno;
		free(k);
		errno = err;
		return NULL;
	}
	return k;
}

void btf_kernel_free(struct btf_kernel *k)
{
	int i;

	if (!k)
		return;
	for (i = 0; i < k->nmodules; i++) /* before the base they split from */
		btf__free(k->modules[i].btf);
	free(k->modules);
	if (k->shared)
		btf_kernel_put(k->vmlinux);
	else
		btf__free(k->vmlinux);
	free(k);
}

/* The id of the `kind` type named name among a module's own types (not
 * its base's, which were searched first), or 0. */
static int find_own(const struct btf *btf, const struct btf *base, const char *name, int kind)
{
	unsigned i, n = btf__type_cnt(btf);

	for (i = btf__type_cnt(base); i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, i);

		if (btf_kind(t) == kind && !strcmp(btf__name_by_offset(btf, t->name_off), name))
			return i;
	}
	return 0;
}

/* Whether the file at path holds name among its strings ("\0name\0"):
 * only those modules' BTF is parsed. */
static bool file_has_name(const char *path, const char *name)
{
	size_t len = strlen(name);
	char needle[len + 2];
	bool has = false;
	FILE *f = fopen(path, "rb");
	void *data = NULL;
	long n;

	if (!f)
		return false;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
		goto cleanup;
	data = malloc(n);
	if (!data || fread(data, 1, n, f) != (size_t)n)
		goto cleanup;
	needle[0] = '\0';
	memcpy(needle + 1, name, len);
	needle[len + 1] = '\0';
	has = memmem(data, n, needle, len + 2) != NULL;
cleanup:
	free(data);
	fclose(f);
	return has;
}

/* Parses module `name`'s BTF at path into k's list; its index, or -1.
 * (libbpf 1.1 does not export btf__new_split, so the file is read again.) */
static int add_module(struct btf_kernel *k, const char *name, const char *path)
{
	struct btf_module *m = realloc(k->modules, (k->nmodules + 1) * sizeof(*m));
	struct btf *btf;

	if (!m)
		return -1;
	k->modules = m;
	btf = btf__parse_split(path, k->vmlinux);
	if (!btf)
		return -1;
	m = &k->modules[k->nmodules];
	snprintf(m->name, sizeof(m->name), "%.63s", name);
	m->btf = btf;
	return k->nmodules++;
}

static bool parsed(const struct btf_kernel *k, const char *module)
{
	int i;

	for (i = 0; i < k->nmodules; i++)
		if (!strcmp(k->modules[i].name, module))
			return true;
	return false;
}

/* Parses the modules of k->dir not parsed yet whose strings hold name,
 * until one has the `kind` type named name: its index in k->modules, the
 * type's id in *id; -1 when none has it. Counts the modules into
 * k->nlisted, for messages. */
static int scan_modules(struct btf_kernel *k, const char *name, int kind, int *id)
{
	DIR *d = opendir(k->dir);
	struct dirent *de;
	int i = -1;

	k->nlisted = 0;
	*id = 0;
	while (d && *id <= 0 && (de = readdir(d))) {
		char path[512];

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		k->nlisted++;
		snprintf(path, sizeof(path), "%s/%s", k->dir, de->d_name);
		if (parsed(k, de->d_name) || !file_has_name(path, name))
			continue;
		i = add_module(k, de->d_name, path);
		*id = i >= 0 ? find_own(k->modules[i].btf, k->vmlinux, name, kind) : 0;
	}
	if (d)
		closedir(d);
	return *id > 0 ? i : -1;
}

/* The `kind` type named name: in vmlinux's BTF, else in a loaded module's
 * (those parsed before first). Its id, the BTF that has it in *btf and the
 * module's name (or "") in *module; 0 when none has it. */
static int kernel_find(struct btf_kernel *k, const char *name, int kind, const struct btf **btf,
		       const char **module)
{
	int i, id = btf__find_by_name_kind(k->vmlinux, name, kind);

	*btf = k->vmlinux;
	*module = "";
	if (id > 0)
		return id;
	for (i = 0; i < k->nmodules; i++) {
		id = find_own(k->modules[i].btf, k->vmlinux, name, kind);
		if (id > 0)
			break;
	}
	if (i == k->nmodules)
		i = scan_modules(k, name, kind, &id);
	if (i < 0)
		return 0;
	*btf = k->modules[i].btf;
	*module = k->modules[i].name;
	return id;
}

/* Where kernel_find looked, for messages. */
static const char *searched(const struct btf_kernel *k, char *buf, size_t size)
{
	snprintf(buf, size, "%s: vmlinux and %d module%s", k->dir, k->nlisted,
		 k->nlisted == 1 ? "" : "s");
	return buf;
}

/* The FUNC_PROTO of the FUNC named name, or of the typedef named name of a
 * pointer to one, in the BTF that has it, or NULL; out->btf and
 * out->module say where. */
static const struct btf_type *find_proto(struct btf_kernel *k, const char *name, int kind,
					 struct btf_args *out)
{
	const struct btf *btf;
	const char *module;
	int id = kernel_find(k, name, kind, &btf, &module);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, id) : NULL;

	t = t ? btf__type_by_id(btf, t->type) : NULL;
	if (t && kind == BTF_KIND_TYPEDEF)
		t = btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_func_proto(t))
		return NULL;
	out->btf = btf;
	snprintf(out->module, sizeof(out->module), "%s", module);
	return t;
}

/* The arguments of a FUNC_PROTO into out, skipping its first `skip`;
 * out->btf and out->module are kept. */
static int proto_args(const struct btf_type *proto, int skip, struct btf_args *out)
{
	const struct btf_param *pa = btf_params(proto);
	const struct btf *btf = out->btf;
	int i, n = btf_vlen(proto);

	out->n = 0;
	out->ret = proto->type;
	for (i = skip; i < n && out->n < BTF_MAX_ARGS; i++) {
		const char *name = btf__name_by_offset(btf, pa[i].name_off);

		if (!pa[i].type && i == n - 1)
			break; /* "...": a variadic function's tail */
		snprintf(out->names[out->n], sizeof(out->names[0]), "%s",
			 name && *name ? name : "");
		out->types[out->n++] = pa[i].type;
	}
	return 0;
}

int btf_func_args(struct btf_kernel *k, const char *func, struct btf_args *out, char *errbuf,
		  size_t errlen)
{
	const struct btf_type *t;
	char where[320];

	memset(out, 0, sizeof(*out));
	t = find_proto(k, func, BTF_KIND_FUNC, out);
	if (!t)
		return fail(errbuf, errlen, -ENOENT, "%s: the kernel's BTF has no function %s "
			    "(searched %s; inlined, or in a module not loaded?)", func, func,
			    searched(k, where, sizeof(where)));
	return proto_args(t, 0, out);
}

int btf_raw_tp_args(struct btf_kernel *k, const char *name, struct btf_args *out, char *errbuf,
		    size_t errlen)
{
	char tname[256], where[320];
	const struct btf_type *t;

	memset(out, 0, sizeof(*out));
	/* __bpf_trace_<name> names its arguments; the typedef does not */
	snprintf(tname, sizeof(tname), "__bpf_trace_%s", name);
	t = find_proto(k, tname, BTF_KIND_FUNC, out);
	if (t && btf_vlen(t) >= 1)
		return proto_args(t, 1, out);
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	t = find_proto(k, tname, BTF_KIND_TYPEDEF, out);
	if (!t)
		return fail(errbuf, errlen, -ENOENT, "raw tracepoint '%s' not found (the kernel's "
			    "BTF has no %s; searched %s)", name, tname,
			    searched(k, where, sizeof(where)));
	return proto_args(t, 1, out); /* the first is the tracepoint's void *__data */
}

/* ---- the walk ---- */

struct walk {
	const struct btf *btf;
	const char *path;      /* all of it, for messages */
	const char *s;         /* the next character to read */
	struct btf_path *out;
	unsigned type;         /* the value's type, as declared */
	bool in_arg;           /* the value is the argument: nothing read yet */
	unsigned off;          /* the value's offset from the last pointer read */
	unsigned root;         /* what that pointer points to, if a struct or union */
	char *errbuf;
	size_t errlen;
};

static void skip_space(struct walk *w)
{
	while (isspace((unsigned char)*w->s))
		w->s++;
}

/* Reads an identifier into buf; false when none is there. */
static bool ident(struct walk *w, char *buf, size_t size)
{
	size_t n = 0;

	skip_space(w);
	if (!isalpha((unsigned char)*w->s) && *w->s != '_')
		return false;
	while ((isalnum((unsigned char)w->s[n]) || w->s[n] == '_') && n + 1 < size)
		n++;
	memcpy(buf, w->s, n);
	buf[n] = '\0';
	w->s += n;
	return true;
}

static bool eat(struct walk *w, const char *tok)
{
	skip_space(w);
	if (strncmp(w->s, tok, strlen(tok)))
		return false;
	w->s += strlen(tok);
	return true;
}

static int syntax(struct walk *w, const char *expected)
{
	return fail(w->errbuf, w->errlen, -EINVAL, "%s: expected %s at '%s'", w->path, expected,
		    *w->s ? w->s : "the end");
}

/* A pointer type to `to`, found among the kernel's types. */
static unsigned pointer_to(const struct btf *btf, unsigned to)
{
	unsigned i, n = btf__type_cnt(btf);

	for (i = 1; i < n; i++) {
		const struct btf_type *t = btf__type_by_id(btf, i);

		if (btf_is_ptr(t) && t->type == to)
			return i;
	}
	return 0;
}

/* "(struct sock *" of a cast, the opening parentheses read: the pointer
 * type into *type. */
static int cast_type(struct walk *w, unsigned *type)
{
	char word[128], name[128];
	int kind = BTF_KIND_TYPEDEF, id;

	if (!ident(w, word, sizeof(word)))
		return syntax(w, "a type name");
	if (!strcmp(word, "struct") || !strcmp(word, "union") || !strcmp(word, "enum")) {
		kind = word[0] == 's' ? BTF_KIND_STRUCT : word[0] == 'u' ? BTF_KIND_UNION :
			BTF_KIND_ENUM;
		if (!ident(w, name, sizeof(name)))
			return syntax(w, "a type name");
	} else {
		snprintf(name, sizeof(name), "%s", word);
	}
	id = btf__find_by_name_kind(w->btf, name, kind);
	if (id <= 0 && kind == BTF_KIND_TYPEDEF)
		id = btf__find_by_name_kind(w->btf, name, BTF_KIND_INT);
	if (id <= 0)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: the kernel's BTF has no type %s%s%s",
			    w->path, kind == BTF_KIND_TYPEDEF ? "" : word,
			    kind == BTF_KIND_TYPEDEF ? "" : " ", name);
	if (!eat(w, "*"))
		return syntax(w, "'*' (a cast is to a pointer type)");
	*type = pointer_to(w->btf, id);
	if (!*type)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: the kernel's BTF has no pointer "
			    "to %s", w->path, name);
	return 0;
}

/* The base: an argument by name, argN or ret, maybe cast. */
static int base(struct walk *w, const struct btf_args *args, bool ret)
{
	unsigned cast = 0;
	char name[64];
	int i, err;

	if (eat(w, "((")) {
		err = cast_type(w, &cast);
		if (err)
			return err;
		if (!eat(w, ")"))
			return syntax(w, "')' after the cast's type");
	}
	if (!ident(w, name, sizeof(name)))
		return syntax(w, "an argument's name");
	if (cast && !eat(w, ")"))
		return syntax(w, "')' closing the cast");
	w->in_arg = true;
	if (ret && !strcmp(name, "ret")) {
		w->out->steps.arg = LBPF_PATH_RET;
		w->type = cast ? cast : args->ret;
		return 0;
	}
	if (ret) /* the argument registers are gone by the return */
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: a return probe's paths start at "
			    "ret", w->path);
	for (i = 0; i < args->n; i++) {
		char argn[16];

		snprintf(argn, sizeof(argn), "arg%d", i + 1);
		if (!strcmp(name, args->names[i]) || !strcmp(name, argn))
			break;
	}
	if (i == args->n)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: no argument named %s", w->path, name);
	if (i >= 6)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is argument %d; lbpf reads the "
			    "first 6", w->path, name, i + 1);
	w->out->steps.arg = i;
	w->type = cast ? cast : args->types[i];
	return 0;
}

/* Adds a read of the pointer at the value's place; the value becomes what
 * it points to. */
static int deref(struct walk *w, const char *what)
{
	char text[160];
	unsigned id;
	const struct btf_type *t = btf_resolved(w->btf, w->type, &id);
	struct lbpf_path *st = &w->out->steps;

	if (!t || !btf_is_ptr(t))
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is not a pointer (%s)%s", w->path,
			    what, btf_type_text(w->btf, w->type, text, sizeof(text)),
			    t && btf_is_composite(t) ? "; use '.'" : "");
	if (!w->in_arg) {
		if (st->nreads + 1 >= LBPF_MAX_STEPS)
			return fail(w->errbuf, w->errlen, -EINVAL, "%s: more than %d pointers to "
				    "follow", w->path, LBPF_MAX_STEPS - 1);
		w->out->casts[st->nreads] = w->root;
		st->offsets[st->nreads++] = w->off;
	}
	w->in_arg = false;
	w->off = 0;
	w->type = t->type;
	t = btf_resolved(w->btf, w->type, &id);
	w->root = t && btf_is_composite(t) ? id : 0;
	return 0;
}

/* .name: a member of the struct or union in place; `what` is the path so
 * far, for messages. */
static int member(struct walk *w, const char *what)
{
	char name[128], text[160];
	unsigned id, bits, type, bitfield;
	const struct btf_type *t = btf_resolved(w->btf, w->type, &id);

	if (!ident(w, name, sizeof(name)))
		return syntax(w, "a member's name");
	if (t && btf_is_ptr(t))
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is a pointer (%s); use '->'",
			    w->path, what, btf_type_text(w->btf, w->type, text, sizeof(text)));
	if (!t || !btf_is_composite(t))
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is not a struct or union, it "
			    "has no member %s", w->path, btf_type_text(w->btf, w->type, text,
			    sizeof(text)), name);
	if (w->in_arg)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: a path goes through pointers; "
			    "the argument is %s", w->path, btf_type_text(w->btf, w->type, text,
			    sizeof(text)));
	if (!btf_find_member(w->btf, id, name, &bits, &type, &bitfield))
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s has no member %s", w->path,
			    btf_type_text(w->btf, id, text, sizeof(text)), name);
	if (bitfield || bits % 8)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: member %s is a bitfield; paths "
			    "read whole bytes", w->path, name);
	w->off += bits / 8;
	w->type = type;
	return 0;
}

/* [N]: an element of an array in place, or of what a pointer points to. */
static int element(struct walk *w)
{
	char *end, text[160];
	unsigned long n = strtoul(w->s, &end, 0);
	unsigned id;
	const struct btf_type *t = btf_resolved(w->btf, w->type, &id);
	__s64 size;
	int err;

	if (end == w->s || (w->s = end, !eat(w, "]")))
		return syntax(w, "an index and ']'");
	if (t && btf_is_ptr(t)) {
		err = deref(w, "the indexed value");
		if (err)
			return err;
	} else if (t && btf_is_array(t)) {
		if (n >= btf_array(t)->nelems)
			return fail(w->errbuf, w->errlen, -EINVAL, "%s: index %lu is past the end "
				    "of %s", w->path, n, btf_type_text(w->btf, id, text, sizeof(text)));
		w->type = btf_array(t)->type;
	} else {
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is neither an array nor a "
			    "pointer", w->path, btf_type_text(w->btf, w->type, text, sizeof(text)));
	}
	size = btf__resolve_size(w->btf, w->type);
	if (size <= 0 || n * size > 1u << 20)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: cannot index %s", w->path,
			    btf_type_text(w->btf, w->type, text, sizeof(text)));
	w->off += n * size;
	return 0;
}

/* What the value is and how many bytes the last read takes. */
static int classify(struct walk *w)
{
	struct btf_path *out = w->out;
	char text[160];
	unsigned id;
	const struct btf_type *t = btf_resolved(w->btf, w->type, &id);
	__s64 size = t ? btf__resolve_size(w->btf, id) : -1;

	out->type = id;
	out->size = size > 0 ? size : 0;
	if (t && btf_is_int(t) && (size == 1 || size == 2 || size == 4 || size == 8)) {
		out->kind = BTF_VALUE_INT;
		out->is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
	} else if (t && btf_is_any_enum(t) && size <= 8) {
		out->kind = BTF_VALUE_ENUM;
		out->is_signed = btf_kflag(t);
	} else if (t && btf_is_ptr(t)) {
		out->kind = btf_is_char(w->btf, t->type, true) ? BTF_VALUE_STRPTR : BTF_VALUE_PTR;
	} else if (t && btf_is_array(t) && btf_is_char(w->btf, btf_array(t)->type, false)) {
		out->kind = BTF_VALUE_CHARS;
	} else if (t && (btf_is_composite(t) || btf_is_array(t)) && size > 0) {
		out->kind = BTF_VALUE_BYTES;
	} else {
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: lbpf cannot read a value of type %s",
			    w->path, btf_type_text(w->btf, w->type, text, sizeof(text)));
	}
	if (out->size > LBPF_MAX_PATH_BYTES)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: %s is %u bytes; a path reads at "
			    "most %d", w->path, btf_type_text(w->btf, w->type, text, sizeof(text)),
			    out->size, LBPF_MAX_PATH_BYTES);
	if (w->in_arg && out->kind >= BTF_VALUE_CHARS && out->kind != BTF_VALUE_STRPTR)
		return fail(w->errbuf, w->errlen, -EINVAL, "%s: an argument of type %s", w->path,
			    btf_type_text(w->btf, w->type, text, sizeof(text)));
	return 0;
}

/* Whether bpf_rdonly_cast can type every read of p: a struct or union of
 * vmlinux's (a module's BTF continues vmlinux's ids; the kfunc knows only
 * vmlinux's). */
static bool reads_castable(const struct btf_path *p)
{
	const struct btf *base = btf__base_btf(p->btf);
	unsigned i, vmlinux_types = base ? btf__type_cnt(base) : btf__type_cnt(p->btf);

	for (i = 0; i < p->steps.nreads; i++)
		if (!p->casts[i] || p->casts[i] >= vmlinux_types)
			return false;
	return true;
}

int btf_path_compile(const struct btf_args *args, bool ret, const char *path,
		     struct btf_path *out, char *errbuf, size_t errlen)
{
	struct walk w = { .btf = args->btf, .path = path, .s = path, .out = out,
			  .errbuf = errbuf, .errlen = errlen };
	struct lbpf_path *st = &out->steps;
	char what[64];
	int err;

	memset(out, 0, sizeof(*out));
	out->btf = args->btf;
	err = base(&w, args, ret);
	while (!err) {
		skip_space(&w);
		if (!*w.s)
			break;
		snprintf(what, sizeof(what), "%.*s", (int)(w.s - path), path);
		if (eat(&w, "->"))
			err = deref(&w, what) ?: member(&w, what);
		else if (eat(&w, "."))
			err = member(&w, what);
		else if (eat(&w, "["))
			err = element(&w);
		else
			err = syntax(&w, "'->', '.' or '['");
	}
	err = err ?: classify(&w);
	if (err)
		return err;
	if (w.in_arg) {
		st->nreads = 0;
		st->size = 8;
		out->direct = true; /* nothing to read */
		return 0;
	}
	out->casts[st->nreads] = w.root;
	st->offsets[st->nreads++] = w.off;
	st->size = out->kind == BTF_VALUE_STRPTR || out->kind == BTF_VALUE_PTR ? 8 : out->size;
	if (w.off != st->offsets[st->nreads - 1])
		return fail(errbuf, errlen, -EINVAL, "%s: offset %u is too far", path, w.off);
	out->direct = reads_castable(out);
	return 0;
}

int btf_kernel_func_id(struct btf_kernel *k, const char *name)
{
	int id = btf__find_by_name_kind(k->vmlinux, name, BTF_KIND_FUNC);

	return id > 0 ? id : -ENOENT;
}

const char *btf_enum_name(const struct btf *btf, unsigned type, long long v)
{
	const struct btf_type *t = btf__type_by_id(btf, type);
	int i;

	if (t && btf_is_enum(t)) {
		const struct btf_enum *e = btf_enum(t);

		for (i = 0; i < btf_vlen(t); i++)
			if ((__u32)e[i].val == (__u32)v)
				return btf__name_by_offset(btf, e[i].name_off);
	} else if (t && btf_is_enum64(t)) {
		const struct btf_enum64 *e = btf_enum64(t);

		for (i = 0; i < btf_vlen(t); i++)
			if (btf_enum64_value(&e[i]) == (__u64)v)
				return btf__name_by_offset(btf, e[i].name_off);
	}
	return NULL;
}

int btf_fentry_check(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_FENTRY);
	struct btf *btf = btf_kernel_get();
	int id, fd, link, err;

	if (!btf)
		return -errno;
	id = btf__find_by_name_kind(btf, "bpf_fentry_test1", BTF_KIND_FUNC);
	btf_kernel_put(btf);
	if (id <= 0)
		return -ENOENT;
	opts.attach_btf_id = id;
	fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "lbpf_fentry", "GPL", insns, 2, &opts);
	if (fd < 0)
		return -errno;
	link = bpf_link_create(fd, 0, BPF_TRACE_FENTRY, NULL);
	err = link < 0 ? -errno : 0;
	if (link >= 0)
		close(link);
	close(fd);
	return err;
}
