#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# lbpfd --policy-dir: files appear, change, break and go, written as an editor
# or configuration management would (a new file renamed over the old) and as
# a Kubernetes ConfigMap volume does (a ..data link swapped to a new folder);
# settings in the header; policies loaded by hand beside the folder's; a
# restart that reads the folder again. The daemon runs on its own socket,
# state, bpffs and policy folders.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../daemon.sh"

daemon_folders pdir
PDIR=$W/policies
PORT=$((18700 + $$ % 300))

cleanup() {
	daemon_kill_all
	rm -rf "$W" "$BPFFS"
}
t_cleanup cleanup

start() {
	daemon_launch --policy-dir "$PDIR" --metrics "127.0.0.1:$PORT"
	disown "$(daemon_pid)" # killed on purpose below: no notice from the shell
}

# put NAME CODE: writes PDIR/NAME as a whole (a temporary file renamed over it)
put() {
	printf '%s\n' "$2" > "$PDIR/.$1.tmp"
	mv -f "$PDIR/.$1.tmp" "$PDIR/$1"
}

# field NAME KEY: a field of NAME's entry in list --json
field() {
	"$LBPF" list --json | grep -o "{\"name\":\"$1\"[^}]*" | grep -o "\"$2\":\(\"[^\"]*\"\|[0-9a-z]*\)" |
		cut -d: -f2- | tr -d '"'
}

# until_field NAME KEY VALUE: waits up to 10 s
until_field() {
	local i
	for i in $(seq 100); do
		[ "$(field "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	t_fail "$1: $2 never became '$3': $("$LBPF" list --json)"
}

test_policy_dir() {
	t_need_root
	mkdir -p "$PDIR"
	chmod 0755 "$W" "$PDIR"
	put a.lua 'print("a v1") lbpf.every(1000, function() end)'
	start
	until_field a state running
	[ "$(field a source)" = folder ] || t_fail "a is not from the folder: $("$LBPF" list --json)"
	"$LBPF" list | grep -A1 '^a ' | grep -q "from the policy folder" || t_fail "list: $("$LBPF" list)"
	# appears
	put b.lua 'print("b v1") lbpf.every(1000, function() end)'
	until_field b state running
	# changes: make-before-break, as lbpf reload
	put a.lua 'print("a v2") lbpf.every(1000, function() end)'
	until_field a generation 2
	"$LBPF" logs a | grep -qx "a v2" || t_fail "a v2 did not run: $("$LBPF" logs a)"
	# breaks: the running version stays, list and the metric say so
	put a.lua 'print("a v3" lbpf.every(1000, function() end)'
	until_field a load_failures 1
	[ "$(field a state)" = running ] && [ "$(field a generation)" = 2 ] ||
		t_fail "a broken file replaced the running a: $("$LBPF" list --json)"
	"$LBPF" list | grep -A2 '^a ' | grep -q "last reload failed (the running version stays)" ||
		t_fail "list does not say the reload failed: $("$LBPF" list)"
	curl -sf "http://127.0.0.1:$PORT/metrics" | grep -qx 'lbpf_policy_load_failures_total{policy="a"} 1' ||
		t_fail "no load failure metric: $(curl -sf "http://127.0.0.1:$PORT/metrics" | grep load_fail)"
	# a new file that fails is listed failed, and retried when it changes
	put c.lua 'error("c is broken")'
	until_field c state failed
	"$LBPF" list | grep -A2 '^c ' | grep -q "c is broken" || t_fail "c's reason: $("$LBPF" list)"
	put c.lua 'print("c fixed") lbpf.every(1000, function() end)'
	until_field c state running
	# goes
	rm "$PDIR/b.lua"
	for _ in $(seq 100); do "$LBPF" list | grep -q '^b ' || break; sleep 0.1; done
	"$LBPF" list | grep -q '^b ' && t_fail "b was not unloaded: $("$LBPF" list)"
	# header settings, and an unknown one named with its file and line
	put d.lua "$(printf -- '-- policy d\n-- lbpf: memory=8M arg=one arg=two\n-- lbpf: instructions=100000\nprint("d", ...) lbpf.every(1000, function() end)\nlbpf.after(300, function() while true do end end)')"
	until_field d state running
	[ "$(field d memory_limit)" = 8388608 ] || t_fail "memory=8M: $("$LBPF" list --json)"
	"$LBPF" logs d | grep -qx "d	one	two" || t_fail "args: $("$LBPF" logs d)"
	for _ in $(seq 50); do "$LBPF" logs d | grep -q "instruction limit of 100000 exceeded" && break; sleep 0.1; done
	"$LBPF" logs d | grep -q "instruction limit of 100000 exceeded" || t_fail "instructions=100000: $("$LBPF" logs d)"
	put e.lua "$(printf -- '-- lbpf: memroy=8M\nprint(1)')"
	until_field e state failed
	t_expect_contains "$(field e load_error)" "$PDIR/e.lua:1: unknown setting 'memroy' (memory=, instructions=, trusted=, arg=)" "e's error"
	# trusted=true gives the full library (only root writes the folder); the
	# others stay sandboxed
	put t.lua "$(printf -- '-- lbpf: trusted=true\nprint("io", io ~= nil) lbpf.every(1000, function() end)')"
	until_field t state running
	[ "$(field t trusted)" = true ] || t_fail "trusted=true: $("$LBPF" list --json)"
	"$LBPF" logs t | grep -qx "io	true" || t_fail "t has no io: $("$LBPF" logs t)"
	[ "$(field d trusted)" = false ] || t_fail "d is not sandboxed: $("$LBPF" list --json)"
	# beside a policy loaded by hand
	printf 'lbpf.every(1000, function() end)\n' > "$W/hand.lua"
	"$LBPF" load "$W/hand.lua" >/dev/null || t_fail "lbpf load failed"
	[ "$(field hand source)" = client ] || t_fail "hand: $("$LBPF" list --json)"
	# a restart brings back the last version that ran (saved, marked as the
	# folder's), then reads the folder: a.lua is still broken, so a v2 stays
	kill -KILL "$(tail -1 "$W/lbpfd.pid")"
	sleep 0.3
	start
	until_field a state running
	until_field c state running
	until_field hand state running
	"$LBPF" logs a | grep -qx "a v2" || t_fail "a after the restart is not v2: $("$LBPF" logs a)"
	until_field a load_failures 1 # the broken a.lua, tried again once
	[ "$(field a generation)" = 2 ] || t_fail "a after the restart: $("$LBPF" list --json)"
	grep -q '"folder":true' "$W/state/policies/a.json" || t_fail "a's record: $(cat "$W/state/policies/a.json")"
	rm "$PDIR/c.lua"
	for _ in $(seq 100); do "$LBPF" list | grep -q '^c ' || break; sleep 0.1; done
	"$LBPF" list | grep -q '^c ' && t_fail "c was not unloaded after the restart: $("$LBPF" list)"
	return 0
}

# A ConfigMap volume: NAME.lua -> ..data/NAME.lua, ..data -> ..TIMESTAMP; an
# update writes a new ..TIMESTAMP folder and renames a new ..data link over
# the old one.
test_configmap_swap() {
	t_need_root
	"$LBPF" status >/dev/null 2>&1 || start
	mkdir -p "$PDIR/..2026_01"
	printf 'print("cm v1") lbpf.every(1000, function() end)\n' > "$PDIR/..2026_01/cm.lua"
	ln -s ..2026_01 "$PDIR/..data"
	ln -s ..data/cm.lua "$PDIR/cm.lua"
	until_field cm state running
	mkdir -p "$PDIR/..2026_02"
	printf 'print("cm v2") lbpf.every(1000, function() end)\n' > "$PDIR/..2026_02/cm.lua"
	ln -s ..2026_02 "$PDIR/..data_tmp"
	mv -T "$PDIR/..data_tmp" "$PDIR/..data"
	rm -rf "$PDIR/..2026_01"
	until_field cm generation 2
	"$LBPF" logs cm | grep -qx "cm v2" || t_fail "cm v2 did not run: $("$LBPF" logs cm)"
}

# lbpfd refuses a folder that others may write to (and says which).
test_folder_modes() {
	t_need_root
	local out
	mkdir -p "$W/open"
	chmod 0777 "$W/open"
	out=$(timeout 5 "$LBPFD" --socket "$W/o.sock" --state-dir "$W/ostate" --bpffs "$BPFFS-o" \
		--policy-dir "$W/open" 2>&1) && t_fail "lbpfd took a folder anyone may write to"
	rm -rf "$BPFFS-o"
	t_expect_contains "$out" "policy folder $W/open" "the refusal"
}

t_run policy_dir/files test_policy_dir
t_run policy_dir/configmap_swap test_configmap_swap
t_run policy_dir/folder_modes test_folder_modes
