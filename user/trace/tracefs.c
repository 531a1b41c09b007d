// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Tracepoint formats, and the names of tracepoints and kernel functions matched by globs. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tracefs.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A C type the format may name, with the size and signedness C gives it on this target. */
struct c_type {
	const char *name;
	uint8_t size;
	bool is_signed;
};

#define INT_TYPES(bits, bytes)                                                                     \
	{ "s" #bits, bytes, true }, { "u" #bits, bytes, false }, { "__s" #bits, bytes, true },     \
	{ "__u" #bits, bytes, false }, { "int" #bits "_t", bytes, true },                          \
	{ "uint" #bits "_t", bytes, false }

static const struct c_type c_types[] = {
	INT_TYPES(8, 1), INT_TYPES(16, 2), INT_TYPES(32, 4), INT_TYPES(64, 8),
	{ "signed char", 1, true }, { "unsigned char", 1, false },
	{ "bool", 1, false }, { "_Bool", 1, false },
	{ "short", 2, true }, { "short int", 2, true }, { "signed short", 2, true },
	{ "unsigned short", 2, false }, { "unsigned short int", 2, false },
	{ "int", 4, true }, { "signed", 4, true }, { "signed int", 4, true },
	{ "unsigned", 4, false }, { "unsigned int", 4, false }, { "uint", 4, false },
	{ "long", sizeof(long), true }, { "long int", sizeof(long), true },
	{ "signed long", sizeof(long), true }, { "unsigned long", sizeof(long), false },
	{ "unsigned long int", sizeof(long), false }, { "ulong", sizeof(long), false },
	{ "long long", 8, true }, { "long long int", 8, true }, { "signed long long", 8, true },
	{ "unsigned long long", 8, false }, { "unsigned long long int", 8, false },
	{ "pid_t", 4, true }, { "uid_t", 4, false }, { "gid_t", 4, false },
	{ "size_t", sizeof(long), false }, { "ssize_t", sizeof(long), true },
	{ "loff_t", 8, true }, { "off_t", sizeof(long), true }, { "umode_t", 2, false },
	{ "dev_t", 4, false }, { "ino_t", sizeof(long), false }, { "sector_t", 8, false },
	{ "gfp_t", 4, false }, { "clockid_t", 4, true }, { "timer_t", 4, true },
	{ "key_t", 4, true }, { "mqd_t", 4, true }, { "time64_t", 8, true },
	{ "aio_context_t", sizeof(long), false }, { "rwf_t", 4, true }, { "qid_t", 4, false },
	{ "key_serial_t", 4, true },
};

static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* The mounted tracefs directory (one with events/), or NULL. */
static const char *tracefs_root(void)
{
	char path[64];
	struct stat st;

	for (size_t i = 0; i < ARRAY_LEN(tracefs_roots); i++) {
		snprintf(path, sizeof(path), "%s/events", tracefs_roots[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return tracefs_roots[i];
	}
	return NULL;
}

/* Reads a whole file (tracefs files have no size) into a NUL-terminated malloc'd buffer. */
static int read_text(const char *path, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *grown;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		err = fd < 0 ? -errno : -ENOMEM;
		goto cleanup;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (len + 1 < cap)
			continue;
		grown = realloc(buf, cap *= 2);
		if (!grown) {
			err = -ENOMEM;
			goto cleanup;
		}
		buf = grown;
	}
	if (n < 0)
		err = -errno;
cleanup:
	if (fd >= 0)
		close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* Copies at most n bytes of src into dst of size dstsize, truncating, always terminated. */
static void copy_text(char *dst, size_t dstsize, const char *src, size_t n)
{
	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Writes the words of type into out, one space apart, without const and volatile:
 * "const  unsigned int" -> "unsigned int". */
static void normalize_type(const char *type, char *out, size_t size)
{
	size_t len = 0, n;

	out[0] = '\0';
	while (*type) {
		type += strspn(type, " \t");
		n = strcspn(type, " \t");
		if (n && !(n == 5 && !strncmp(type, "const", 5)) &&
		    !(n == 8 && !strncmp(type, "volatile", 8)) && len + n + 2 < size) {
			len += sprintf(out + len, "%s%.*s", len ? " " : "", (int)n, type);
		}
		type += n;
	}
}

static const struct c_type *find_c_type(const char *normalized)
{
	for (size_t i = 0; i < ARRAY_LEN(c_types); i++)
		if (!strcmp(c_types[i].name, normalized))
			return &c_types[i];
	return NULL;
}

/* Fills value_size, is_signed and the kind flags of f from its type text; format_signed is the
 * format's own signed: flag, used only when the type is not one we know. */
static void classify_field(struct tp_field *f, const char *type, bool format_signed)
{
	char raw[96], base[96];
	const char *bracket = strchr(type, '[');
	const struct c_type *ct;

	f->is_common = !strncmp(f->name, "common_", 7);
	f->value_size = f->size > UINT8_MAX ? UINT8_MAX : f->size;
	f->is_signed = format_signed;
	if (!strncmp(type, "__data_loc", 10)) {
		normalize_type(type + 10, base, sizeof(base));
		f->is_data_loc = true;
		f->is_signed = false;
		f->value_size = 4;
		f->is_string = !strcmp(base, "char[]") || !strcmp(base, "char []");
		return;
	}
	f->is_pointer = strchr(type, '*') != NULL;
	if (f->is_pointer) {
		f->is_signed = false;
		return;
	}
	copy_text(raw, sizeof(raw), type, bracket ? (size_t)(bracket - type) : strlen(type));
	normalize_type(raw, base, sizeof(base));
	f->is_string = bracket && !strcmp(base, "char");
	ct = find_c_type(base);
	if (f->is_string || !ct)
		return; /* char arrays, structs, enums and unknown typedefs: as the format says */
	f->is_signed = ct->is_signed; /* for arrays, the element's */
	if (ct->size < f->value_size)
		f->value_size = ct->size;
}

/* Splits a declaration "unsigned char addr[6]" into name "addr" and type "unsigned char[6]".
 * Returns 0, or -EINVAL when the name or the type is missing. */
static int split_declaration(char *decl, struct tp_field *f, char *type, size_t type_size)
{
	size_t end = strlen(decl), start;
	const char *suffix = "";

	while (end && (decl[end - 1] == ' ' || decl[end - 1] == '\t'))
		decl[--end] = '\0';
	if (end && decl[end - 1] == ']') {
		char *bracket = strrchr(decl, '[');

		if (!bracket)
			return -EINVAL;
		suffix = bracket;
		end = bracket - decl;
		while (end && decl[end - 1] == ' ')
			end--;
	}
	start = end;
	while (start && (decl[start - 1] == '_' || isalnum((unsigned char)decl[start - 1])))
		start--;
	if (start == end || !start)
		return -EINVAL; /* no name, or no type */
	copy_text(f->name, sizeof(f->name), decl + start, end - start);
	while (start && decl[start - 1] == ' ')
		start--;
	snprintf(type, type_size, "%.*s%s", (int)start, decl, suffix);
	return 0;
}

/* Parses "field:TYPE NAME;<tab>offset:N;<tab>size:N;<tab>signed:N;" into f. 0 or -EINVAL. */
static int parse_field(char *line, struct tp_field *f)
{
	char type[256], *decl = strstr(line, "field:"), *semi;
	unsigned int offset, size;
	int is_signed = 0, err;

	if (!decl || !(semi = strchr(decl, ';')))
		return -EINVAL;
	*semi = '\0';
	if (sscanf(semi + 1, " offset:%u; size:%u; signed:%d", &offset, &size, &is_signed) < 2 ||
	    offset > UINT16_MAX || size > UINT16_MAX)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	err = split_declaration(decl + 6, f, type, sizeof(type));
	if (err)
		return err;
	copy_text(f->type, sizeof(f->type), type, strlen(type));
	f->offset = offset;
	f->size = size;
	classify_field(f, type, is_signed);
	return 0;
}

/* Appends the field described by line to fmt and extends fmt->size over it. */
static int add_field(struct tp_format *fmt, char *line)
{
	struct tp_field *fields = fmt->fields;
	unsigned int end;
	int err;

	if ((fmt->nfields & (fmt->nfields - 1)) == 0) { /* grow at powers of two */
		fields = realloc(fmt->fields, sizeof(*fields) * (fmt->nfields ? fmt->nfields * 2 : 8));
		if (!fields)
			return -ENOMEM;
		fmt->fields = fields;
	}
	err = parse_field(line, &fields[fmt->nfields]);
	if (err)
		return err;
	end = fields[fmt->nfields].offset + fields[fmt->nfields].size;
	if (end > fmt->size)
		fmt->size = end > UINT16_MAX ? UINT16_MAX : end;
	fmt->nfields++;
	return 0;
}

/* Takes in one line of a format file: the name, the ID or a field; ignores the rest. */
static int parse_line(char *line, struct tp_format *fmt)
{
	line += strspn(line, " \t");
	if (!strncmp(line, "name:", 5)) {
		line += 5 + strspn(line + 5, " \t");
		copy_text(fmt->name, sizeof(fmt->name), line, strcspn(line, " \t\r"));
	} else if (!strncmp(line, "ID:", 3)) {
		fmt->id = atoi(line + 3);
	} else if (!strncmp(line, "field:", 6)) {
		return add_field(fmt, line);
	}
	return 0;
}

int tracefs_format_parse(const char *text, struct tp_format *fmt)
{
	char *copy = strdup(text), *rest = copy, *line;
	int err = copy ? 0 : -ENOMEM;

	memset(fmt, 0, sizeof(*fmt));
	while (!err && (line = strsep(&rest, "\n")))
		err = parse_line(line, fmt);
	if (!err && (!fmt->name[0] || !fmt->nfields))
		err = -EINVAL;
	free(copy);
	if (err)
		tracefs_format_free(fmt);
	return err;
}

/* A tracefs path component: no slash, not empty, not a dot entry. */
static bool valid_component(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

int tracefs_format_read(const char *category, const char *name, struct tp_format *fmt)
{
	const char *root = tracefs_root();
	char path[512], *text = NULL;
	int err;

	memset(fmt, 0, sizeof(*fmt));
	if (!valid_component(category) || !valid_component(name))
		return -EINVAL;
	if (!root)
		return -ENOENT;
	if (snprintf(path, sizeof(path), "%s/events/%s/%s/format", root, category, name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	err = read_text(path, &text);
	if (!err)
		err = tracefs_format_parse(text, fmt);
	if (!err)
		copy_text(fmt->category, sizeof(fmt->category), category, strlen(category));
	free(text);
	return err;
}

void tracefs_format_free(struct tp_format *fmt)
{
	if (!fmt)
		return;
	free(fmt->fields);
	fmt->fields = NULL;
	fmt->nfields = 0;
}

const struct tp_field *tracefs_field(const struct tp_format *fmt, const char *name)
{
	for (int i = 0; fmt && i < fmt->nfields; i++)
		if (!strcmp(fmt->fields[i].name, name))
			return &fmt->fields[i];
	return NULL;
}

bool tracefs_is_glob(const char *s)
{
	return s && strpbrk(s, "*?[") != NULL;
}

/* A growable list of names, each stored as "first\0second\0" so that pairs (category, name)
 * and single names sort the same way. */
struct name_list {
	char **items;
	size_t len, cap;
};

static int name_list_add(struct name_list *l, const char *first, const char *second)
{
	size_t n1 = strlen(first) + 1, n2 = strlen(second) + 1;
	char *item = malloc(n1 + n2), **items;

	if (!item)
		return -ENOMEM;
	memcpy(item, first, n1);
	memcpy(item + n1, second, n2);
	if (l->len == l->cap) {
		items = realloc(l->items, sizeof(*items) * (l->cap ? l->cap * 2 : 64));
		if (!items) {
			free(item);
			return -ENOMEM;
		}
		l->items = items;
		l->cap = l->cap ? l->cap * 2 : 64;
	}
	l->items[l->len++] = item;
	return 0;
}

static const char *second_of(const char *item)
{
	return item + strlen(item) + 1;
}

static int compare_items(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	int c = strcmp(x, y);

	return c ? c : strcmp(second_of(x), second_of(y));
}

/* Sorts the list and drops duplicates. */
static void name_list_sort_unique(struct name_list *l)
{
	size_t kept = 0;

	if (l->len)
		qsort(l->items, l->len, sizeof(*l->items), compare_items);
	for (size_t i = 0; i < l->len; i++) {
		if (kept && !compare_items(&l->items[kept - 1], &l->items[i]))
			free(l->items[i]);
		else
			l->items[kept++] = l->items[i];
	}
	l->len = kept;
}

static void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
}

static bool entry_is_dir(DIR *d, const struct dirent *e)
{
	struct stat st;

	if (e->d_type != DT_UNKNOWN)
		return e->d_type == DT_DIR;
	return fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Adds (prefix, entry) to l for every subdirectory of dir whose name matches glob; with an
 * empty prefix, adds (entry, ""). */
static int add_matching_dirs(const char *dir, const char *glob, const char *prefix,
			     struct name_list *l)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int err = 0;

	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		if (e->d_name[0] == '.' || fnmatch(glob, e->d_name, 0) || !entry_is_dir(d, e))
			continue;
		err = *prefix ? name_list_add(l, prefix, e->d_name) : name_list_add(l, e->d_name, "");
	}
	closedir(d);
	return err;
}

/* Lists the tracepoints matching the globs into tps, sorted. */
static int list_tracepoints(const char *cat_glob, const char *name_glob, struct name_list *tps)
{
	struct name_list cats = { 0 };
	const char *root = tracefs_root();
	char events[64], dir[512];
	int err;

	if (!root)
		return -ENOENT;
	snprintf(events, sizeof(events), "%s/events", root);
	err = add_matching_dirs(events, cat_glob, "", &cats);
	for (size_t i = 0; !err && i < cats.len; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", events, cats.items[i]);
		err = add_matching_dirs(dir, name_glob, cats.items[i], tps);
	}
	name_list_free(&cats);
	name_list_sort_unique(tps);
	return err;
}

int tracefs_glob_tracepoints(const char *cat_glob, const char *name_glob,
			     int (*fn)(const char *cat, const char *name, void *ctx), void *ctx)
{
	struct name_list tps = { 0 };
	int ret = list_tracepoints(cat_glob, name_glob, &tps);

	for (size_t i = 0; !ret && i < tps.len; i++)
		ret = fn(tps.items[i], second_of(tps.items[i]), ctx);
	if (!ret)
		ret = tps.len;
	name_list_free(&tps);
	return ret;
}

/* The function name on a line of available_filter_functions ("name [module]") or of
 * /proc/kallsyms ("addr t name [module]"), NUL-terminated in place; NULL to skip the line. */
static const char *function_name(char *line, bool kallsyms)
{
	char *name = line, type;

	if (kallsyms) {
		name = strchr(line, ' ');
		if (!name || !name[1] || name[2] != ' ')
			return NULL;
		type = name[1];
		name += 3;
		if (type != 't' && type != 'T')
			return NULL;
		/* patchable-entry padding, not functions */
		if (!strncmp(name, "__pfx_", 6) || !strncmp(name, "__cfi_", 6))
			return NULL;
	}
	name[strcspn(name, " \t\r\n")] = '\0';
	return *name ? name : NULL;
}

/* Adds the function names of f that match glob to l. */
static int add_matching_functions(FILE *f, bool kallsyms, const char *glob, struct name_list *l)
{
	char *line = NULL;
	size_t cap = 0;
	const char *name;
	int err = 0;

	while (!err && getline(&line, &cap, f) > 0) {
		name = function_name(line, kallsyms);
		if (name && !fnmatch(glob, name, 0))
			err = name_list_add(l, name, "");
	}
	free(line);
	return err;
}

/* Lists the kernel functions matching glob into l, sorted and unique. */
static int list_functions(const char *glob, struct name_list *l)
{
	const char *root = tracefs_root();
	char path[64];
	FILE *f = NULL;
	bool kallsyms = false;
	int err;

	if (root) {
		snprintf(path, sizeof(path), "%s/available_filter_functions", root);
		f = fopen(path, "re");
	}
	if (!f) {
		kallsyms = true;
		f = fopen("/proc/kallsyms", "re");
		if (!f)
			return -errno;
	}
	err = add_matching_functions(f, kallsyms, glob, l);
	fclose(f);
	name_list_sort_unique(l);
	return err;
}

int tracefs_glob_functions(const char *glob, int (*fn)(const char *name, void *ctx), void *ctx)
{
	struct name_list names = { 0 };
	int ret = list_functions(glob, &names);

	for (size_t i = 0; !ret && i < names.len; i++)
		ret = fn(names.items[i], ctx);
	if (!ret)
		ret = names.len;
	name_list_free(&names);
	return ret;
}
