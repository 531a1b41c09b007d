/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * pins.c: what lbpfd pins under its bpffs folder. The runtimes and objects
 * maps (<lbpf/pin.h>), keyed by runtime id, and the policies' packet
 * filters, BPFFS/filters/NAME/N. It knows ids and names, not runners: the
 * owner callback given to pin_init names the runtime an object belongs to.
 */
#ifndef LBPFD_PINS_H
#define LBPFD_PINS_H

#include "lbpfd.h"
#include "core/internal.h"

/* The id of the runtime whose runner owns rt, or 0; kind is the class of an
 * object rt attached. Called from any thread, for each object. */
typedef uint64_t pin_owner_fn(lbpf_runtime_t *rt, const char *kind);

/* Opens (or creates) and empties the maps in bpffs, and mirrors objects
 * from now on. 0 or -errno (logged). */
int pin_init(const char *bpffs, pin_owner_fn *owner);
/* Sets a runtime's entry; name and generation are kept from the first call. */
void pin_runtime(uint64_t id, const char *name, uint32_t generation,
		 enum lbpf_runtime_state state);
void pin_runtime_delete(uint64_t id);
/* The runtimes map, for lbpf_runtime_opts_t.runtimes_fd; -1 when none. */
int pin_runtimes_fd(void);
void pin_close(void);

/* BPFFS/filters/NAME, where a policy's runtimes pin their filters
 * (malloc'd); NULL without memory. */
char *pin_filter_dir(const char *name);
/* Detaches and unpins a policy's filters (NULL: every policy's). */
void filters_remove(const char *name);
/* Removes the folders N of dir that held(ctx, N) says no runtime holds. */
void filters_prune(const char *dir, bool (*held)(void *ctx, unsigned long n), void *ctx);
/* At start: fail_open removes what a crashed lbpfd left; otherwise only the
 * filters of policies the state folder does not hold. */
void filters_startup(bool fail_open);

#endif /* LBPFD_PINS_H */
