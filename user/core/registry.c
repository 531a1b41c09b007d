// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * The registry of Lua libraries, filled before main by constructors: each
 * binding registers its luaopen_lbpf_<name> (LBPF_REGISTER, which the build
 * emits for every user/<part>/l<name>.c), and module.c registers the `lbpf`
 * module itself. The runtime preloads the modules and `lbpf` merges the
 * libraries, so the core never names a binding. Lists are sorted by name:
 * constructors run in link order, the merge must not depend on it.
 */
#include <string.h>

#include "internal.h"

static lbpf_lib_t *modules;
static lbpf_lib_t *libraries;

/* Inserts lib into the list at head, sorted by name; once only. */
static void insert_sorted(lbpf_lib_t **head, lbpf_lib_t *lib)
{
	lbpf_lib_t **at = head;

	while (*at && strcmp((*at)->name, lib->name) < 0)
		at = &(*at)->next;
	if (*at == lib)
		return;
	lib->next = *at;
	*at = lib;
}

void lbpf_register_library(lbpf_lib_t *lib)
{
	insert_sorted(&libraries, lib);
}

void lbpf_register_module(lbpf_lib_t *lib)
{
	insert_sorted(&modules, lib);
}

const lbpf_lib_t *lbpf_libraries(void)
{
	return libraries;
}

const lbpf_lib_t *lbpf_modules(void)
{
	return modules;
}
