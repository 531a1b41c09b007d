#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Holds user/ to its shape (user/README.md): each folder is a part, and a part
# may include and call only the parts below it. Reads the #include lines of
# the sources and the symbols of the built objects (nm), so a call counts even
# when it hides behind a macro. Speaks the test protocol (PASS/FAIL lines).
#   scripts/check-layers.sh            (objects from $BUILD, default build)
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

# Lowest first. A part may use itself and the parts it lists.
declare -A may_use=(
	[core]=""
	[protocol]=""
	[trace]="core"
	[filter]="core"
	[object]="core trace filter"
	[daemon]="core protocol trace filter"
	[cli]="core protocol trace filter"
)
# The engines: plain C under the bindings, usable without Lua. The Lua side
# of a part is its binding, l<name>.c, and the files that help it, *_lua.c.
engine_files() { ls user/trace/*.c user/filter/*.c user/object/*.c | grep -v -e '/l[a-z_]*\.c$' -e '_lua\.c$'; }

part_of() { # user/core/x.c or BUILD/user/core/x.o -> core
	local p=${1#"$BUILD"/}
	p=${p#user/}
	echo "${p%%/*}"
}

allowed() { # allowed FROM TO
	[ "$1" = "$2" ] && return 0
	[[ " ${may_use[$1]:-} " == *" $2 "* ]]
}

fail=0
report() { # report NAME PROBLEMS-FILE
	if [ -s "$2" ]; then
		echo "FAIL layers/$1: $(wc -l < "$2") problem(s)"
		sed 's/^/    /' "$2"
		fail=1
	else
		echo "PASS layers/$1"
	fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every folder of user/ is a known part.
for d in user/*/; do
	d=${d%/}; d=${d#user/}
	[ -n "${may_use[$d]+x}" ] || echo "user/$d: a folder that is no part (add it to check-layers.sh and user/README.md)"
done > "$tmp/parts"
report parts "$tmp/parts"

# Includes: "part/file.h" names a part; a bare "file.h" is the same folder.
for f in user/*/*.[ch]; do
	from=$(part_of "$f")
	grep -n '^#include "' "$f" | while IFS= read -r line; do
		inc=${line#*\"}; inc=${inc%%\"*}
		case $inc in
		../*) echo "$f:${line%%:*}: includes $inc (climbs out of its folder)" ;;
		*/*)  to=${inc%%/*}
		      [[ $inc == *.skel.h ]] && continue
		      allowed "$from" "$to" || echo "$f:${line%%:*}: $from includes $inc, of $to" ;;
		esac
	done
done > "$tmp/includes"
report includes "$tmp/includes"

# Calls and data references, from the objects' symbol tables.
objs=$(ls "$BUILD"/user/*/*.o 2>/dev/null)
if [ -z "$objs" ]; then
	echo "FAIL layers/calls: no objects under $BUILD/user (build first)"
	exit 1
fi
for o in $objs; do
	nm --defined-only "$o" | awk -v o="$o" '$2 ~ /^[TDBRCGSVW]$/ { print $3, o }'
done | sort > "$tmp/defs"
for o in $objs; do
	nm -u "$o" | awk -v o="$o" '{ print $2, o }'
done | sort > "$tmp/uses"
# "user-object symbol definer-object" for every symbol defined in the tree
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $1, $3 }' > "$tmp/edges"

while read -r user sym definer; do
	from=$(part_of "$user") to=$(part_of "$definer")
	allowed "$from" "$to" ||
		echo "${user#"$BUILD"/} ($from) uses $sym of ${definer#"$BUILD"/} ($to)"
done < "$tmp/edges" > "$tmp/calls"
report calls "$tmp/calls"

# No circles between files, inside a part either: tsort names each loop's
# files; the lines under each say what ties them (who uses what of whom).
awk '{ print $3, $1 }' "$tmp/edges" | sort -u | sed "s|$BUILD/||g" > "$tmp/pairs"
sed "s|$BUILD/||g" "$tmp/edges" | sort -u > "$tmp/named"
tsort "$tmp/pairs" 2>&1 >/dev/null | awk -v named="$tmp/named" '
	function flush(   i, j, line) {
		if (n < 2) { n = 0; return }
		out = "circle:"
		for (i = 1; i <= n; i++) out = out " " m[i]
		print out
		for (i = 1; i <= n; i++) in_loop[m[i]] = 1
		while ((getline line < named) > 0) {
			split(line, f, " ")
			if ((f[1] in in_loop) && (f[3] in in_loop) && !seen[f[1] " " f[3]]++)
				print "    " f[1] " uses " f[2] " of " f[3]
		}
		close(named); delete in_loop; delete seen; n = 0
	}
	/input contains a loop/ { flush(); next }
	{ sub(/^tsort: /, ""); m[++n] = $0 }
	END { flush() }' > "$tmp/circles"
report circles "$tmp/circles"

# Engines speak C: no Lua, no runtime; errors go up as return values.
for f in $(engine_files); do
	o=$BUILD/${f%.c}.o
	nm -u "$o" 2>/dev/null | awk -v f="$f" \
		'$2 ~ /^(lua_|luaL_|lbpf_throw$|lbpf_runtime_|lbpf_toruntime$|lbpf_call$)/ {
			print f ": uses " $2 }'
done > "$tmp/engines"
report engines "$tmp/engines"

exit $fail
