/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/* Symbolization of kernel and user addresses, and function names of ELF files for uprobes.
 * Plain C, no Lua. Functions return 0 / -errno or NULL + errno, and print nothing. */
#ifndef LBPF_SYMBOLS_H
#define LBPF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* /proc/kallsyms text symbols, sorted by address. */
struct ksyms;
/* NULL + errno; EPERM when kallsyms hides the addresses (kptr_restrict, not root). */
struct ksyms *ksyms_load(void);
void ksyms_free(struct ksyms *ksyms);
/* "name+0xoff" into buf, or NULL when addr is below every symbol (callers print the hex). */
const char *ksyms_format(const struct ksyms *ksyms, uint64_t addr, char *buf, size_t size);

/* Symbolizer of user addresses: caches the executable mappings of each pid and the symbol
 * table of each ELF file. */
struct usyms;
struct usyms *usyms_new(void);
void usyms_free(struct usyms *usyms);
/* "func+0xoff (basename-of-binary)", or "0xELFADDR (binary)" when the binary has no symbol
 * there (ELFADDR is the address in the ELF file, stable across runs and usable with addr2line),
 * or NULL + errno when the pid or its mapping is gone, or addr is not in a file mapping. */
const char *usyms_format(struct usyms *usyms, int pid, uint64_t addr, char *buf, size_t size);

/* Calls fn for each defined FUNC symbol (of .symtab and .dynsym) of the ELF file that matches
 * the glob, deduplicated by name, sorted by name. offset is the symbol's file offset, what a
 * uprobe attaches to. path is resolved as elf_resolve_path does. Returns the count, or -errno
 * (-ENOENT no file, -ENOEXEC not ELF); fn returning non-zero stops and that value is returned. */
int elf_glob_functions(const char *path, const char *glob,
		       int (*fn)(const char *name, uint64_t offset, void *ctx), void *ctx);
/* Resolves a binary path as libbpf does for uprobes: a path with a slash as is; a name
 * containing ".so" in /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64, /usr/lib,
 * /lib; other names in $PATH. 0, -ENOENT, -ENAMETOOLONG (out too small). */
int elf_resolve_path(const char *path, char *out, size_t size);
/* 0 when path is an ELF file; -errno of open, or -ENOEXEC. */
int elf_check(const char *path);
/* Opens path as an ELF file for reading: 0 with *fd and *elf (elf_end and
 * close them), -errno of open, or -ENOEXEC. */
typedef struct Elf Elf;
int elf_open(const char *path, int *fd, Elf **elf);

#endif /* LBPF_SYMBOLS_H */
