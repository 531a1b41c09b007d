// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* Kernel symbols from /proc/kallsyms, user symbols from ELF files mapped by processes, and the
 * function names of an ELF file for uprobe globs. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols.h"

/* A symbol: its address, its size (0 when unknown) and its name's offset in the name pool. */
struct sym {
	uint64_t addr, size;
	uint32_t name;
};

/* Symbols and their names, sorted by address once loaded. */
struct sym_table {
	struct sym *syms;
	size_t len, cap;
	char *names;
	size_t names_len, names_cap;
};

/* Grows *buf (of *cap elements of elem bytes) to hold need elements. 0 or -ENOMEM. */
static int grow(void **buf, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = realloc(*buf, n * elem);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

static int table_add(struct sym_table *t, uint64_t addr, uint64_t size, const char *name)
{
	size_t n = strlen(name) + 1;

	if (t->names_len + n > UINT32_MAX ||
	    grow((void **)&t->names, &t->names_cap, t->names_len + n, 1) ||
	    grow((void **)&t->syms, &t->cap, t->len + 1, sizeof(*t->syms)))
		return -ENOMEM;
	memcpy(t->names + t->names_len, name, n);
	t->syms[t->len++] = (struct sym){ .addr = addr, .size = size, .name = t->names_len };
	t->names_len += n;
	return 0;
}

static void table_free(struct sym_table *t)
{
	free(t->syms);
	free(t->names);
}

/* By address; among aliases, the one added first (names are pooled in insertion order). */
static int compare_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->name < y->name ? -1 : x->name > y->name;
}

static void table_sort(struct sym_table *t)
{
	if (t->len)
		qsort(t->syms, t->len, sizeof(*t->syms), compare_addr);
}

/* The symbol at or below addr (the first alias at that address), or NULL. */
static const struct sym *table_find(const struct sym_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->len;

	while (lo < hi) { /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	while (lo > 1 && t->syms[lo - 2].addr == t->syms[lo - 1].addr)
		lo--;
	return &t->syms[lo - 1];
}

/* ---- kernel ---- */

struct ksyms {
	struct sym_table table;
};

/* Adds the text symbol on a kallsyms line ("addr t name [module]") to t, if it is one. */
static int ksyms_add_line(struct sym_table *t, char *line)
{
	char *end, *name;
	uint64_t addr = strtoull(line, &end, 16);

	if (end[0] != ' ' || (end[1] != 't' && end[1] != 'T') || end[2] != ' ' || !addr)
		return 0;
	name = end + 3;
	name[strcspn(name, " \t\r\n")] = '\0';
	if (!strncmp(name, "__pfx_", 6) || !strncmp(name, "__cfi_", 6))
		return 0; /* padding before functions, never in a stack */
	return table_add(t, addr, 0, name);
}

struct ksyms *ksyms_load(void)
{
	struct ksyms *ksyms = calloc(1, sizeof(*ksyms));
	FILE *f = fopen("/proc/kallsyms", "re");
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	if (!ksyms || !f) {
		err = ksyms ? -errno : -ENOMEM;
		goto cleanup;
	}
	while (!err && getline(&line, &cap, f) > 0)
		err = ksyms_add_line(&ksyms->table, line);
	if (!err && !ksyms->table.len)
		err = -EPERM; /* every address reads as 0: kptr_restrict */
	table_sort(&ksyms->table);
cleanup:
	free(line);
	if (f)
		fclose(f);
	if (err) {
		ksyms_free(ksyms);
		errno = -err;
		return NULL;
	}
	return ksyms;
}

void ksyms_free(struct ksyms *ksyms)
{
	if (!ksyms)
		return;
	table_free(&ksyms->table);
	free(ksyms);
}

const char *ksyms_format(const struct ksyms *ksyms, uint64_t addr, char *buf, size_t size)
{
	const struct sym *sym = ksyms ? table_find(&ksyms->table, addr) : NULL;

	if (!sym) {
		errno = ENOENT;
		return NULL;
	}
	snprintf(buf, size, "%s+0x%" PRIx64, ksyms->table.names + sym->name, addr - sym->addr);
	return buf;
}

/* ---- ELF files ---- */

/* A PT_LOAD segment: where bytes of the file land in the ELF's address space. */
struct segment {
	uint64_t vaddr, offset, filesz;
};

/* The function symbols and load segments of one ELF file. */
struct elf_file {
	struct elf_file *next; /* in the usyms cache */
	char *path;            /* as the process maps it */
	uint64_t inode;
	int err;               /* why it could not be read; 0 once read */
	struct sym_table table;
	struct segment *segs;
	size_t nsegs;
};

int elf_open(const char *path, int *fd, Elf **elf)
{
	*elf = NULL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	if (elf_version(EV_CURRENT) != EV_NONE)
		*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (*elf && elf_kind(*elf) == ELF_K_ELF)
		return 0;
	elf_end(*elf);
	close(*fd);
	return -ENOEXEC;
}

/* Adds the defined function symbols of one symbol table section to t. */
static int elf_read_section(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct sym_table *t)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	const char *name;
	GElf_Sym sym;
	int type, err = 0;

	for (size_t i = 0; data && !err && i < n; i++) {
		if (!gelf_getsym(data, i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
		    !sym.st_value)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && *name)
			err = table_add(t, sym.st_value, sym.st_size, name);
	}
	return err;
}

/* Adds the function symbols of every section of type sh_type (SHT_SYMTAB, SHT_DYNSYM) to t. */
static int elf_read_symbols(Elf *elf, Elf64_Word sh_type, struct sym_table *t)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	int err = 0;

	while (!err && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == sh_type)
			err = elf_read_section(elf, scn, &sh, t);
	return err;
}

static int elf_read_segments(Elf *elf, struct elf_file *file)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	file->segs = calloc(n ? n : 1, sizeof(*file->segs));
	if (!file->segs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD)
			file->segs[file->nsegs++] =
				(struct segment){ ph.p_vaddr, ph.p_offset, ph.p_filesz };
	return 0;
}

/* Frees what file holds, not file itself. */
static void elf_file_clear(struct elf_file *file)
{
	table_free(&file->table);
	free(file->segs);
	memset(&file->table, 0, sizeof(file->table));
	file->segs = NULL;
	file->nsegs = 0;
}

/* Reads the segments and the function symbols (.symtab first, then .dynsym) of the ELF file at
 * path into file, symbols sorted by address. 0 or -errno; file is left empty on error. */
static int elf_file_read(struct elf_file *file, const char *path)
{
	Elf *elf;
	int fd, err = elf_open(path, &fd, &elf);

	if (err)
		return err;
	err = elf_read_segments(elf, file);
	if (!err)
		err = elf_read_symbols(elf, SHT_SYMTAB, &file->table);
	if (!err)
		err = elf_read_symbols(elf, SHT_DYNSYM, &file->table);
	table_sort(&file->table);
	elf_end(elf);
	close(fd);
	if (err)
		elf_file_clear(file);
	return err;
}

/* A file offset as an ELF address, through the PT_LOAD segment holding it (as is if none). */
static uint64_t offset_to_vaddr(const struct elf_file *file, uint64_t offset)
{
	for (size_t i = 0; i < file->nsegs; i++) {
		const struct segment *s = &file->segs[i];

		if (offset >= s->offset && offset < s->offset + s->filesz)
			return offset - s->offset + s->vaddr;
	}
	return offset;
}

/* An ELF address as a file offset, through the PT_LOAD segment mapping it (as is if none). */
static uint64_t vaddr_to_offset(const struct elf_file *file, uint64_t vaddr)
{
	for (size_t i = 0; i < file->nsegs; i++) {
		const struct segment *s = &file->segs[i];

		if (vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz)
			return vaddr - s->vaddr + s->offset;
	}
	return vaddr;
}

/* Searches the colon-separated dirs for name, readable; the first hit goes into out. */
static int search_dirs(const char *dirs, const char *name, char *out, size_t size)
{
	size_t n;

	for (; *dirs; dirs += n + (dirs[n] == ':')) {
		n = strcspn(dirs, ":");
		if (!n)
			continue;
		if (snprintf(out, size, "%.*s/%s", (int)n, dirs, name) >= (int)size)
			continue;
		if (access(out, R_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int elf_check(const char *path)
{
	Elf *elf;
	int fd, err = elf_open(path, &fd, &elf);

	if (err)
		return err;
	elf_end(elf);
	close(fd);
	return 0;
}

int elf_resolve_path(const char *path, char *out, size_t size)
{
	const char *dirs = getenv("PATH");

	if (strchr(path, '/')) {
		if ((size_t)snprintf(out, size, "%s", path) >= size)
			return -ENAMETOOLONG;
		return access(path, F_OK) ? -errno : 0;
	}
	if (strstr(path, ".so"))
		dirs = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib:/lib";
	else if (!dirs)
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	return search_dirs(dirs, path, out, size);
}

/* By name, then address: for qsort_r over indices into a sym_table. */
static int compare_index_names(const void *a, const void *b, void *table)
{
	const struct sym_table *t = table;
	const struct sym *x = &t->syms[*(const size_t *)a], *y = &t->syms[*(const size_t *)b];
	int c = strcmp(t->names + x->name, t->names + y->name);

	return c ? c : compare_addr(x, y);
}

/* The indices of the symbols of t whose names match glob, sorted by name, one per name. */
static int match_names(const struct sym_table *t, const char *glob, size_t **out, size_t *len)
{
	size_t *idx = malloc(sizeof(*idx) * (t->len ? t->len : 1)), n = 0, kept = 0;

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < t->len; i++)
		if (!fnmatch(glob, t->names + t->syms[i].name, 0))
			idx[n++] = i;
	qsort_r(idx, n, sizeof(*idx), compare_index_names, (void *)t);
	for (size_t i = 0; i < n; i++)
		if (!kept || strcmp(t->names + t->syms[idx[kept - 1]].name,
				    t->names + t->syms[idx[i]].name))
			idx[kept++] = idx[i];
	*out = idx;
	*len = kept;
	return 0;
}

int elf_glob_functions(const char *path, const char *glob,
		       int (*fn)(const char *name, uint64_t offset, void *ctx), void *ctx)
{
	struct elf_file file = { 0 };
	char full[PATH_MAX];
	size_t *idx = NULL, n = 0;
	int ret = elf_resolve_path(path, full, sizeof(full));

	if (!ret)
		ret = elf_file_read(&file, full);
	if (!ret)
		ret = match_names(&file.table, glob, &idx, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		const struct sym *s = &file.table.syms[idx[i]];

		ret = fn(file.table.names + s->name, vaddr_to_offset(&file, s->addr), ctx);
	}
	if (!ret)
		ret = n;
	free(idx);
	elf_file_clear(&file);
	return ret;
}

/* ---- user addresses ---- */

/* An executable mapping of a process. */
struct mapping {
	uint64_t start, end, offset, inode;
	char *path;             /* "" for anonymous memory, "[vdso]" and the like */
	struct elf_file *file;  /* once looked up, owned by the usyms cache */
};

struct process {
	struct process *next;
	int pid;
	struct mapping *maps;
	size_t len, cap;
};

#define PROCESS_BUCKETS 256
#define PROCESS_LIMIT 4096 /* beyond this many pids, the cache starts over */

struct usyms {
	struct process *buckets[PROCESS_BUCKETS];
	size_t nprocesses;
	struct elf_file *files;
};

static void process_clear(struct process *p)
{
	for (size_t i = 0; i < p->len; i++)
		free(p->maps[i].path);
	p->len = 0;
}

/* Adds the executable mapping on a line of /proc/PID/maps to p, if it is one. */
static int process_add_line(struct process *p, const char *line)
{
	struct mapping m = { 0 };
	char perms[8];
	int pos = 0;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %" SCNu64 " %n", &m.start,
		   &m.end, perms, &m.offset, &m.inode, &pos) < 5 || perms[2] != 'x')
		return 0;
	m.path = pos ? strndup(line + pos, strcspn(line + pos, "\n")) : strdup("");
	if (!m.path || grow((void **)&p->maps, &p->cap, p->len + 1, sizeof(m))) {
		free(m.path);
		return -ENOMEM;
	}
	p->maps[p->len++] = m;
	return 0;
}

/* (Re)reads the executable mappings of p's pid. 0 or -errno (-ENOENT: the process is gone). */
static int process_read_maps(struct process *p)
{
	char path[32], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	process_clear(p);
	while (!err && getline(&line, &cap, f) > 0)
		err = process_add_line(p, line);
	free(line);
	fclose(f);
	return err;
}

static struct mapping *process_find(struct process *p, uint64_t addr)
{
	for (size_t i = 0; i < p->len; i++)
		if (addr >= p->maps[i].start && addr < p->maps[i].end)
			return &p->maps[i];
	return NULL;
}

static void process_free(struct process *p)
{
	process_clear(p);
	free(p->maps);
	free(p);
}

static void usyms_drop_processes(struct usyms *u)
{
	for (size_t i = 0; i < PROCESS_BUCKETS; i++) {
		while (u->buckets[i]) {
			struct process *p = u->buckets[i];

			u->buckets[i] = p->next;
			process_free(p);
		}
	}
	u->nprocesses = 0;
}

/* The cached process pid, or a new entry with its maps read (*fresh set); NULL + errno. */
static struct process *usyms_process(struct usyms *u, int pid, bool *fresh)
{
	struct process **bucket = &u->buckets[(unsigned int)pid % PROCESS_BUCKETS], *p;
	int err;

	for (p = *bucket; p; p = p->next)
		if (p->pid == pid)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	err = process_read_maps(p);
	if (err) {
		process_free(p);
		errno = -err;
		return NULL;
	}
	if (u->nprocesses >= PROCESS_LIMIT)
		usyms_drop_processes(u);
	p->next = *bucket;
	*bucket = p;
	u->nprocesses++;
	*fresh = true;
	return p;
}

/* The executable mapping of pid holding addr, reading the maps again once if none does. */
static struct mapping *usyms_mapping(struct usyms *u, int pid, uint64_t addr)
{
	bool fresh = false;
	struct process *p = usyms_process(u, pid, &fresh);
	struct mapping *m;
	int err;

	if (!p)
		return NULL;
	m = process_find(p, addr);
	if (m || fresh)
		goto out;
	err = process_read_maps(p);
	if (err) {
		errno = -err;
		return NULL;
	}
	m = process_find(p, addr);
out:
	if (!m)
		errno = ENOENT;
	return m;
}

/* Reads the file of mapping m through pid's root (its mount namespace), else through
 * map_files (which also reaches deleted files). */
static int elf_file_read_mapped(struct elf_file *file, int pid, const struct mapping *m)
{
	char path[PATH_MAX + 32];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, m->path);
	err = elf_file_read(file, path);
	if (err != -ENOENT)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid, m->start,
		 m->end);
	return elf_file_read(file, path);
}

/* The cached symbols of m's file, read on first use; NULL + errno only when out of memory.
 * A file that cannot be read is cached too, empty, with its error. */
static struct elf_file *usyms_file(struct usyms *u, int pid, struct mapping *m)
{
	struct elf_file *f;

	if (m->file)
		return m->file;
	for (f = u->files; f; f = f->next)
		if (f->inode == m->inode && !strcmp(f->path, m->path))
			return m->file = f;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(m->path))) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	f->inode = m->inode;
	f->err = elf_file_read_mapped(f, pid, m);
	f->next = u->files;
	u->files = f;
	return m->file = f;
}

struct usyms *usyms_new(void)
{
	return calloc(1, sizeof(struct usyms));
}

void usyms_free(struct usyms *u)
{
	if (!u)
		return;
	usyms_drop_processes(u);
	while (u->files) {
		struct elf_file *f = u->files;

		u->files = f->next;
		elf_file_clear(f);
		free(f->path);
		free(f);
	}
	free(u);
}

const char *usyms_format(struct usyms *u, int pid, uint64_t addr, char *buf, size_t size)
{
	struct mapping *m = usyms_mapping(u, pid, addr);
	const struct sym *s;
	struct elf_file *f;
	uint64_t vaddr;

	if (!m)
		return NULL;
	if (m->path[0] != '/') {
		errno = ENOENT; /* anonymous or special memory: no file to read symbols from */
		return NULL;
	}
	f = usyms_file(u, pid, m);
	if (!f)
		return NULL;
	vaddr = offset_to_vaddr(f, addr - m->start + m->offset);
	s = table_find(&f->table, vaddr);
	if (s && s->size && vaddr - s->addr >= s->size)
		s = NULL;
	if (s)
		snprintf(buf, size, "%s+0x%" PRIx64 " (%s)", f->table.names + s->name,
			 vaddr - s->addr, strrchr(m->path, '/') + 1);
	else
		snprintf(buf, size, "0x%" PRIx64 " (%s)", vaddr, strrchr(m->path, '/') + 1);
	return buf;
}
