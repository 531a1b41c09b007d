// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/*
 * Small questions about BTF types (btf_types.h), shared by the field paths
 * of probes (btf_path.c) and the typed values of users' objects (object/).
 * Types come from libbpf's BTF API; nothing here parses BTF.
 */
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

#include "btf_types.h"

/* The type under typedefs and qualifiers (0 stays void). */
const struct btf_type *btf_resolved(const struct btf *btf, unsigned id, unsigned *out)
{
	int r = id ? btf__resolve_type(btf, id) : 0;

	*out = r > 0 ? (unsigned)r : 0;
	return r > 0 ? btf__type_by_id(btf, r) : NULL;
}

/* A type as C writes it, for messages: "struct sock", "int", "char *". */
const char *btf_type_text(const struct btf *btf, unsigned id, char *buf, size_t size)
{
	const struct btf_type *t = id ? btf__type_by_id(btf, id) : NULL;
	const char *name, *kind = "";
	char inner[128];

	if (!t)
		return snprintf(buf, size, "void"), buf;
	if (btf_is_ptr(t)) {
		snprintf(buf, size, "%s *", btf_type_text(btf, t->type, inner, sizeof(inner)));
		return buf;
	}
	if (btf_is_mod(t))
		return btf_type_text(btf, t->type, buf, size);
	name = btf__name_by_offset(btf, t->name_off);
	if (btf_is_struct(t))
		kind = "struct ";
	else if (btf_is_union(t))
		kind = "union ";
	else if (btf_is_any_enum(t))
		kind = "enum ";
	else if (btf_is_array(t))
		return snprintf(buf, size, "%s[%u]", btf_type_text(btf, btf_array(t)->type, inner,
				sizeof(inner)), btf_array(t)->nelems), buf;
	if (!name || !*name)
		snprintf(buf, size, "an anonymous %s", *kind ? kind : "type");
	else
		snprintf(buf, size, "%s%s", kind, name);
	return buf;
}

/* Finds member `name` of composite `id`, inside anonymous members too:
 * its bit offset and type. */
bool btf_find_member(const struct btf *btf, unsigned id, const char *name, unsigned *bits,
		     unsigned *type, unsigned *bitfield)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m = btf_members(t);
	int i;

	for (i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		const struct btf_type *mt;
		unsigned mid;

		if (mn && *mn) {
			if (strcmp(mn, name))
				continue;
			*bits = btf_member_bit_offset(t, i);
			*type = m->type;
			*bitfield = btf_member_bitfield_size(t, i);
			return true;
		}
		mt = btf_resolved(btf, m->type, &mid);
		if (mt && btf_is_composite(mt) && btf_find_member(btf, mid, name, bits, type, bitfield)) {
			*bits += btf_member_bit_offset(t, i);
			return true;
		}
	}
	return false;
}

/* char (and, behind a pointer, any byte: d_name.name is unsigned char *) */
bool btf_is_char(const struct btf *btf, unsigned type, bool any_byte)
{
	unsigned id;
	const struct btf_type *t = btf_resolved(btf, type, &id);
	const char *name = t ? btf__name_by_offset(btf, t->name_off) : NULL;

	return t && btf_is_int(t) && t->size == 1 && (any_byte || (name && !strcmp(name, "char")));
}

