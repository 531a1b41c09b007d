/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * state.c: the state folder, STATE_DIR/policies/NAME.{lua,json}. It knows
 * records, not policies: the policy part hands it a record to save and
 * takes the records back through a callback at start.
 */
#ifndef LBPFD_STATE_H
#define LBPFD_STATE_H

#include "lbpfd.h"

/* How a policy was loaded: what NAME.json holds. */
struct state_record {
	const char *name;
	const char *file;
	char **args;
	int nargs;
	size_t memory;
	uint32_t generation;
	bool trusted;              /* root loaded it with the full library */
	bool untagged;             /* restored: a record that does not say (sandboxed) */
	bool folder;               /* from --policy-dir: its file decides once read */
	uint64_t instructions;     /* its own instruction limit, 0 = lbpfd's */
};

/* Creates the folder (logged). 0 or -errno. */
int state_init(const char *dir);
/* Saves the script's code and writes the record. 0 or -errno (logged). */
int state_save(const struct state_record *rec, const char *code);
void state_remove(const char *name);
/* Whether the folder holds a record of this name. */
bool state_has(const char *name);
/* The saved copy of name's script (malloc'd); NULL (logged) when it cannot
 * be read or is empty. */
char *state_script(const char *name);
/* Calls restore for each valid record; one it refuses with -EEXIST (a name
 * already taken) is logged as ignored, like an invalid one. */
void state_restore(int (*restore)(const struct state_record *rec));

#endif /* LBPFD_STATE_H */
