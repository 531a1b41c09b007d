// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* The USDT probes of an ELF file, read from its .note.stapsdt section (the layout <sys/sdt.h>
 * writes: owner "stapsdt", type 3, a description of three addresses, the probe's site, the
 * base and the semaphore, then "provider\0name\0args\0"). Only the names and the argument sizes
 * are taken: attaching, and reading the arguments' operands, is libbpf's. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "symbols.h"
#include "usdt.h"

#define NT_STAPSDT 3

int usdt_arg_parse(const char *spec, size_t len, struct usdt_arg *out)
{
	const char *at = memchr(spec, '@', len);
	char num[8];
	long size;
	char *end;

	if (!at || at == spec || (size_t)(at - spec) >= sizeof(num))
		return -EINVAL;
	memcpy(num, spec, at - spec);
	num[at - spec] = '\0';
	size = strtol(num, &end, 10);
	if (*end || (labs(size) != 1 && labs(size) != 2 && labs(size) != 4 && labs(size) != 8))
		return -EINVAL;
	out->size = labs(size);
	out->is_signed = size < 0;
	return 0;
}

/* The arguments of one note, "-4@%eax 8@-16(%rbp)", into probe; an argument whose spec is not
 * understood reads as 8 bytes, unsigned (libbpf says what is wrong with it when attaching). */
static void parse_args(const char *args, struct usdt_probe *probe)
{
	const char *s = args;
	size_t n;

	probe->nargs = 0;
	while (*s && probe->nargs < USDT_MAX_ARGS) {
		s += strspn(s, " \t");
		n = strcspn(s, " \t");
		if (!n)
			break;
		if (usdt_arg_parse(s, n, &probe->args[probe->nargs]))
			probe->args[probe->nargs] = (struct usdt_arg){ .size = 8 };
		probe->nargs++;
		s += n;
	}
}

/* Adds one note's probe to out, merged with a probe of the same name. 0 or -ENOMEM. */
static int add_probe(struct usdt_probes *out, const struct usdt_probe *probe)
{
	struct usdt_probe *v;
	size_t i;

	for (i = 0; i < out->n; i++) {
		v = &out->v[i];
		if (strcmp(v->provider, probe->provider) || strcmp(v->name, probe->name))
			continue;
		v->nsites++;
		v->nargs = probe->nargs < v->nargs ? probe->nargs : v->nargs;
		v->semaphore |= probe->semaphore;
		return 0;
	}
	if (!(out->n & (out->n - 1))) { /* 0 or a power of two: full */
		v = realloc(out->v, (out->n ? out->n * 2 : 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		out->v = v;
	}
	out->v[out->n++] = *probe;
	return 0;
}

/* One note's description: three addresses of addr_size bytes, then three strings. A note that
 * does not hold them is skipped: 0, or -ENOMEM. */
static int read_note(const char *desc, size_t size, size_t addr_size, struct usdt_probes *out)
{
	struct usdt_probe probe = { .nsites = 1 };
	const char *provider = desc + 3 * addr_size, *name, *args, *end = desc + size;
	uint64_t sema = 0;

	if (size <= 3 * addr_size)
		return 0;
	memcpy(&sema, desc + 2 * addr_size, addr_size); /* little-endian hosts and files */
	name = memchr(provider, '\0', end - provider);
	args = name ? memchr(name + 1, '\0', end - name - 1) : NULL;
	if (!args || args + 1 >= end || !memchr(args + 1, '\0', end - args - 1))
		return 0;
	name++;
	args++;
	if (strlen(provider) >= sizeof(probe.provider) || strlen(name) >= sizeof(probe.name))
		return 0;
	strcpy(probe.provider, provider);
	strcpy(probe.name, name);
	probe.semaphore = sema != 0;
	parse_args(args, &probe);
	return add_probe(out, &probe);
}

/* The notes of one SHT_NOTE section. 0 or -ENOMEM. */
static int read_notes(Elf_Scn *scn, size_t addr_size, struct usdt_probes *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;
	int err;

	while (data && (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (nh.n_type != NT_STAPSDT || nh.n_namesz != sizeof("stapsdt") ||
		    memcmp((char *)data->d_buf + name_off, "stapsdt", sizeof("stapsdt")))
			continue;
		err = read_note((char *)data->d_buf + desc_off, nh.n_descsz, addr_size, out);
		if (err)
			return err;
	}
	return 0;
}

static int compare_probes(const void *a, const void *b)
{
	const struct usdt_probe *x = a, *y = b;
	int c = strcmp(x->provider, y->provider);

	return c ? c : strcmp(x->name, y->name);
}

/* Finds the .note.stapsdt section of elf: NULL when there is none. */
static Elf_Scn *find_section(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstrndx;
	const char *name;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".note.stapsdt"))
			return scn;
	}
	return NULL;
}

int usdt_probes_read(const char *path, struct usdt_probes *out)
{
	Elf *elf = NULL;
	Elf_Scn *scn;
	int fd, err;

	memset(out, 0, sizeof(*out));
	if ((err = elf_open(path, &fd, &elf)) < 0)
		return err;
	scn = find_section(elf);
	if (!scn) {
		err = -ENODATA;
		goto cleanup;
	}
	err = read_notes(scn, gelf_getclass(elf) == ELFCLASS32 ? 4 : 8, out);
	if (!err && out->n)
		qsort(out->v, out->n, sizeof(*out->v), compare_probes);
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

void usdt_probes_free(struct usdt_probes *probes)
{
	if (!probes)
		return;
	free(probes->v);
	probes->v = NULL;
	probes->n = 0;
}

/* Whether one line of /proc/PID/maps maps the file of st (by device number and inode), or
 * names path itself (file systems such as overlayfs show another device). */
static bool line_maps(const char *line, const struct stat *st, const char *path)
{
	unsigned long long ino;
	unsigned major, minor;
	int n = 0;

	if (sscanf(line, "%*s %*s %*s %x:%x %llu %n", &major, &minor, &ino, &n) < 3)
		return false;
	if (ino == (unsigned long long)st->st_ino &&
	    makedev(major, minor) == st->st_dev)
		return true;
	return n > 0 && !strncmp(line + n, path, strlen(path)) &&
	       (line[n + strlen(path)] == '\n' || !line[n + strlen(path)]);
}

int usdt_pid_maps(int pid, const char *path)
{
	char maps[64], line[4096 + 128];
	struct stat st;
	FILE *f;
	int err = -ENOENT;

	if (stat(path, &st))
		return -errno;
	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (err == -ENOENT && fgets(line, sizeof(line), f))
		if (line_maps(line, &st, path))
			err = 0;
	fclose(f);
	return err;
}
