/* SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only) */
/*
 * Small questions about BTF types, asked through libbpf's BTF API: the type
 * under typedefs and qualifiers, a type as C writes it (for messages), a
 * member by name (through anonymous members, as C finds it) and whether a
 * type is a char. Shared by probes' field paths and users' objects.
 */
#ifndef LBPF_USER_BTF_TYPES_H
#define LBPF_USER_BTF_TYPES_H

#include <stdbool.h>
#include <stddef.h>

struct btf;
struct btf_type;

/* The type under typedefs and qualifiers, its id in *out; NULL (and 0)
 * for void. */
const struct btf_type *btf_resolved(const struct btf *btf, unsigned id, unsigned *out);
/* Type id as C writes it ("struct sock", "int", "char *", "u8[4]") in buf. */
const char *btf_type_text(const struct btf *btf, unsigned id, char *buf, size_t size);
/* Member `name` of the struct or union `id` (found inside anonymous
 * members too): its bit offset, type and bitfield size (0: none). */
bool btf_find_member(const struct btf *btf, unsigned id, const char *name, unsigned *bits,
		     unsigned *type, unsigned *bitfield);
/* Whether type is char (any_byte: any 1-byte integer). */
bool btf_is_char(const struct btf *btf, unsigned type, bool any_byte);

#endif /* LBPF_USER_BTF_TYPES_H */
