#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# `lbpf run --format json`: every record type as bpftrace's -f json writes it,
# read back by an independent parser (python3's json): printed lines, maps,
# averages, log2 and linear histograms (with and without keys), attached
# probes, lost events, errors with file and line, lbpf's own lines; strings
# with quotes, control characters, invalid UTF-8 and newlines; stdout holds
# JSON lines alone; the default (text) output is unchanged; and the same
# aggregations of one tracepoint, run under bpftrace 0.17 at the same time,
# give the same records (SKIP when bpftrace is not installed).
#
# Probes filter on the comm of tests/helpers/getppid_loop, so other processes
# on the machine never count.
. "$(dirname "$0")/../lib.sh"

W=/tmp/lbpf-test-output-json
LOOP=$HELPERS/getppid_loop
PY=/usr/bin/python3
TOP_PID=$$

# Kills what this file started (pids in $W/*.pid, each checked by name) and
# removes the work folder; also runs first, for an earlier run's.
cleanup() {
	[ "$BASHPID" = "$TOP_PID" ] || return 0
	local f pid
	for f in "$W"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		grep -qaE 'lbpf|bpftrace' "/proc/$pid/cmdline" 2>/dev/null || continue
		pkill -KILL -P "$pid" 2>/dev/null # timeout's bpftrace
		kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$W"
}
t_cleanup cleanup
mkdir -p "$W"

need() {
	t_need_root
	[ -x "$LOOP" ] || t_fail "$LOOP is not built (make)"
	[ -x "$PY" ] || t_skip "no $PY to parse JSON with"
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
		"$LBPF" run -e 'lbpf.exit()' >/dev/null 2>&1 # mounts tracefs
	[ -d /sys/kernel/tracing/events/syscalls/sys_enter_getppid ] ||
		t_skip "no syscalls tracepoints here (CONFIG_FTRACE_SYSCALLS)"
}

# json_check FILE: each line of FILE must be one JSON object with "type" and
# "data"; prints nothing, or why not.
json_check() {
	"$PY" - "$1" <<'PY'
import json, sys
for i, line in enumerate(open(sys.argv[1], "rb").read().split(b"\n")[:-1], 1):
    try:
        rec = json.loads(line.decode("utf-8"))
    except Exception as e:
        print("line %d is no JSON (%s): %r" % (i, e, line[:200])); break
    if not isinstance(rec, dict) or "type" not in rec or "data" not in rec:
        print("line %d lacks type or data: %r" % (i, line[:200])); break
PY
}

# run_json NAME [ARGS...]: runs $W/NAME.lua with --format json; output in
# $W/NAME.out and .err; fails unless every line of stdout is a record.
run_json() {
	local name=$1 bad
	shift
	timeout -k 2 30 "$LBPF" run --format json "$W/$name.lua" "$@" > "$W/$name.out" \
		2> "$W/$name.err" || echo "$?" > "$W/$name.rc"
	bad=$(json_check "$W/$name.out")
	[ -z "$bad" ] || t_fail "$name: $bad"
}

# check NAME: runs the python on stdin with recs (the records of $W/NAME.out)
# and out (what it printed, or nothing); fails with what it prints.
check() {
	local why
	why=$("$PY" -c "
import json, sys
recs = [json.loads(l) for l in open('$W/$1.out', encoding='utf-8')]
def by(t): return [r['data'] for r in recs if r['type'] == t]
def expect(what, got, want):
    if got != want:
        print('%s: got %r, want %r' % (what, got, want)); sys.exit(0)
$(cat)
" 2>&1)
	[ -z "$why" ] || t_fail "$1: $why"
}

# The records of a script that exercises each type, and their shapes.
test_records() {
	need
	cat > "$W/records.lua" <<'EOF'
local f = { comm = "getppid_loop" }
local tp = "syscalls:sys_enter_getppid"
local c = lbpf.tracepoint(tp, { filter = f, count = "comm", name = "c" })
local s = lbpf.tracepoint(tp, { filter = f, sum = "__syscall_nr", name = "s", print = true })
local h = lbpf.tracepoint(tp, { filter = f, hist = "__syscall_nr", name = "h", print = true })
local a = lbpf.tracepoint(tp, { filter = f, avg = "__syscall_nr", name = "a", print = true })
local l = lbpf.tracepoint(tp, { filter = f, lhist = { "__syscall_nr", 0, 200, 50 }, by = "comm",
	name = "l", print = true })
lbpf.tracepoint("syscalls:sys_enter_getp*", { filter = f })
os.execute(arg[1] .. " 300 > /dev/null")
lbpf.after(100, function()
	print("plain", 1, true)
	c:print()
	lbpf.print_hist({ kind = "log2", { lo = -math.huge, hi = 0, count = 1 },
		{ lo = 0, hi = 1, count = 2 }, { lo = 1, hi = 2, count = 0 }, { lo = 2, hi = 4, count = 3 } },
		"by hand")
	lbpf.print_hist({ kind = "linear", { lo = 90, hi = 100, count = 4 },
		{ lo = 100, hi = math.huge, count = 5 } })
	lbpf.exit()
end)
EOF
	run_json records "$LOOP"
	[ ! -e "$W/records.rc" ] || t_fail "exit $(cat "$W/records.rc"): $(cat "$W/records.err")"
	[ ! -s "$W/records.err" ] || t_fail "stderr is not empty: $(head -c 400 "$W/records.err")"
	check records <<'PY'
expect("printf", by("printf"), ["plain\t1\ttrue\n"])
att = by("attached_probes")
expect("attached one", [d["probe"] for d in att if d["probes"] == 1],
       ["tracepoint:syscalls:sys_enter_getppid"] * 5)
expect("attached several", [d["probe"] for d in att if d["probes"] > 1],
       ["tracepoint:syscalls:sys_enter_getp*"])
maps = {k: v for d in by("map") for k, v in d.items()}
expect("map @c", maps.get("@c"), {"getppid_loop": 300})
expect("map @s", maps.get("@s"), 300 * 110)
expect("stats @a", by("stats"), [{"@a": 110}])
hists = {k: v for d in by("hist") for k, v in d.items()}
expect("hist @h", hists.get("@h"), [{"min": 64, "max": 127, "count": 300}])
expect("lhist @l", hists.get("@l"), {"getppid_loop": [{"min": 100, "max": 149, "count": 300}]})
expect("print_hist log2", hists.get("by hand"), [{"max": -1, "count": 1},
       {"min": 0, "max": 0, "count": 2}, {"min": 1, "max": 1, "count": 0},
       {"min": 2, "max": 3, "count": 3}])
expect("print_hist linear", hists.get("@"), [{"min": 90, "max": 99, "count": 4},
       {"min": 100, "count": 5}])
expect("types", sorted(set(r["type"] for r in recs)),
       ["attached_probes", "hist", "map", "printf", "stats"])
PY
}

# Quotes, backslashes, control characters, invalid UTF-8 and newlines in
# printed text, in map keys and in names come out as JSON strings that read
# back as the text, with U+FFFD for each byte that is not UTF-8.
test_escaping() {
	need
	cat > "$W/escape.lua" <<'EOF'
local nasty = 'q"b\\s\1\31\t\r\ne' .. "\xff\xfe" .. "é\127"
print(nasty)
print("two\nlines")
lbpf.print_hist({ [nasty] = { kind = "linear", { lo = 0, hi = 1, count = 1 } } }, nasty)
EOF
	run_json escape
	check escape <<'PY'
want = 'q"b\\s\x01\x1f\t\r\ne\ufffd\ufffd\u00e9\x7f'
expect("printf", by("printf"), [want + "\n", "two\nlines\n"])
expect("hist", by("hist"), [{want: {want: [{"min": 0, "max": 0, "count": 1}]}}])
PY
	grep -q 'q\\"b\\\\s\\u0001\\u001f\\t\\r\\ne\\ufffd\\ufffd' "$W/escape.out" ||
		t_fail "escapes: $(head -1 "$W/escape.out")"
}

# Errors: in a callback (the task dies, the script goes on), in the body
# (exit 1), and a syntax error; each a record with msg, file and line.
test_errors() {
	need
	printf '%s\n' 'lbpf.after(1, function()' '  error("boom \"x\"")' 'end)' \
		'lbpf.after(20, function() print("after") end)' > "$W/cb.lua"
	run_json cb
	check cb <<PY
e = by("error")
expect("count", len(e), 1)
expect("msg", e[0]["msg"], 'boom "x"')
expect("file", e[0]["file"], "$W/cb.lua")
expect("line", e[0]["line"], 2)
expect("in", e[0]["in"], "callback")
expect("traceback", e[0]["traceback"].startswith("stack traceback:\n"), True)
expect("went on", by("printf"), ["after\n"])
PY
	printf '%s\n' 'print(1)' 'local x = nil' 'x.y = 1' > "$W/body.lua"
	run_json body
	[ "$(cat "$W/body.rc" 2>/dev/null)" = 1 ] || t_fail "body error: exit $(cat "$W/body.rc" 2>/dev/null)"
	check body <<PY
expect("records", [r["type"] for r in recs], ["printf", "error"])
e = by("error")[0]
expect("error", (e["msg"], e["file"], e["line"], "in" in e),
       ("attempt to index a nil value (local 'x')", "$W/body.lua", 3, False))
PY
	printf 'print(1)\nlocal = 2\n' > "$W/syntax.lua"
	run_json syntax
	check syntax <<PY
e = by("error")[0]
expect("error", (e["file"], e["line"], "expected" in e["msg"]), ("$W/syntax.lua", 2, True))
PY
}

# A 4 KiB ring filled while the body runs: lost_events records whose events
# add up to what the probe counted as lost.
test_lost() {
	need
	cat > "$W/lost.lua" <<'EOF'
lbpf.config { ringbuf = "4K" }
local n = 0
local p = lbpf.tracepoint("syscalls:sys_enter_getppid", { filter = { comm = "getppid_loop" } },
	function() n = n + 1 end)
os.execute(arg[1] .. " 20000 > /dev/null") -- nothing drains the ring meanwhile
lbpf.after(1200, function() -- past the once-a-second report
	print("lost " .. p:stats().lost)
	lbpf.exit()
end)
EOF
	run_json lost "$LOOP"
	check lost <<'PY'
lost = int(by("printf")[0].split()[1])
ev = by("lost_events")
if lost == 0: print("nothing lost with a 4K ring"); sys.exit(0)
expect("sum of events", sum(d["events"] for d in ev), lost)
expect("probe", ev[0]["probe"], "syscalls:sys_enter_getppid")
PY
}

# lbpf's own lines are "log" records; --format rejects what it does not know.
test_log_and_usage() {
	need
	printf '%s\n' 'lbpf.spawn(function() lbpf.wait("never") end)' > "$W/log.lua"
	run_json log
	check log <<'PY'
expect("log", by("log"), ["exiting: 1 task(s) wait for a notify that nothing can send"])
PY
	local out rc=0
	out=$("$LBPF" run --format xml -e 'print(1)' 2>&1) || rc=$?
	[ "$rc" = 2 ] || t_fail "--format xml: exit $rc"
	t_expect_contains "$out" "--format xml: expected text or json" "--format xml"
	out=$("$LBPF" --format json -e 'print("x")')
	[ "$out" = '{"type": "printf", "data": "x\n"}' ] || t_fail "lbpf --format json -e: $out"
}

# Text stays the default, byte for byte as before, and --format text is it.
test_text_unchanged() {
	need
	cat > "$W/text.lua" <<'EOF'
print("a\tb", 1)
lbpf.print_hist({ kind = "log2", { lo = -math.huge, hi = 0, count = 1 },
	{ lo = 0, hi = 1, count = 2 }, { lo = 2, hi = 4, count = 4 }, { lo = 1024, hi = 2048, count = 0 } },
	"title")
lbpf.print_hist({ k = { kind = "linear", { lo = 0, hi = 10, count = 3 },
	{ lo = 10, hi = math.huge, count = 1 } } })
lbpf.after(1, function() error("cb") end)
EOF
	"$LBPF" run "$W/text.lua" > "$W/text.out" 2> "$W/text.err" || t_fail "text run failed"
	"$LBPF" run --format text "$W/text.lua" > "$W/text2.out" 2> "$W/text2.err"
	cmp -s "$W/text.out" "$W/text2.out" || t_fail "--format text differs: $(diff "$W/text.out" "$W/text2.out")"
	local bar52 bar26 bar13 want
	bar52=$(printf '@%.0s' $(seq 52))
	bar26=$(printf '@%.0s' $(seq 26))
	bar13=$(printf '@%.0s' $(seq 13))
	want=$(printf 'a\tb\t1\ntitle\n%-20s %8d |%-52s|\n%-20s %8d |%-52s|\n%-20s %8d |%-52s|\n%-20s %8d |%-52s|\n[k]:\n%-20s %8d |%-52s|\n%-20s %8d |%-52s|\n' \
		'(..., 0)' 1 "$bar13" '[0]' 2 "$bar26" '[2, 4)' 4 "$bar52" '[1K, 2K)' 0 '' \
		'[0, 10)' 3 "$bar52" '[10, ...)' 1 "$(printf '@%.0s' $(seq 17))")
	[ "$(cat "$W/text.out")" = "$want" ] ||
		t_fail "text output: $(diff <(echo "$want") "$W/text.out")"
	grep -q "^lbpf: error in callback: $W/text.lua:7: cb$" "$W/text.err" ||
		t_fail "stderr: $(cat "$W/text.err")"
	[ "$(grep -c . "$W/text.out")" = 9 ] || t_fail "line count: $(cat "$W/text.out")"
}

# The same aggregations of one tracepoint under bpftrace and lbpf, both
# attached while getppid_loop runs: the same record types, names, keys and
# numbers (bpftrace 0.17 writes lhist as "hist" and avg as "stats").
test_bpftrace_shapes() {
	need
	command -v bpftrace >/dev/null || t_skip "bpftrace is not installed (scripts/deps.sh bpftrace)"
	local f='/comm == "getppid_loop"/' nr='args->__syscall_nr' i bad
	# a background job ignores SIGINT: give bpftrace its default back
	timeout -s INT -k 5 60 env --default-signal=INT bpftrace -f json -e "tracepoint:syscalls:sys_enter_getppid $f { @c[comm] = count();
		@s = sum($nr); @h = hist($nr); @l = lhist($nr, 0, 200, 50); @a = avg($nr);
		@hk[comm] = hist($nr); }" > "$W/bt.out" 2> "$W/bt.err" &
	echo $! > "$W/bt.pid"
	cat > "$W/same.lua" <<'EOF'
local f = { comm = "getppid_loop" }
local tp = "syscalls:sys_enter_getppid"
lbpf.tracepoint(tp, { filter = f, count = "comm", name = "c", print = true })
lbpf.tracepoint(tp, { filter = f, sum = "__syscall_nr", name = "s", print = true })
lbpf.tracepoint(tp, { filter = f, hist = "__syscall_nr", name = "h", print = true })
lbpf.tracepoint(tp, { filter = f, lhist = { "__syscall_nr", 0, 200, 50 }, name = "l", print = true })
lbpf.tracepoint(tp, { filter = f, avg = "__syscall_nr", name = "a", print = true })
lbpf.tracepoint(tp, { filter = f, hist = "__syscall_nr", by = "comm", name = "hk", print = true })
EOF
	"$LBPF" run --format json "$W/same.lua" > "$W/same.out" 2> "$W/same.err" &
	echo $! > "$W/same.pid"
	t_wait_file "$W/bt.out" attached_probes
	for i in $(seq 100); do
		[ "$(grep -c attached_probes "$W/same.out" 2>/dev/null)" = 6 ] && break
		sleep 0.1
	done
	"$LOOP" 1000 > /dev/null
	kill -INT "$(cat "$W/bt.pid")" "$(cat "$W/same.pid")"
	wait "$(cat "$W/bt.pid")" "$(cat "$W/same.pid")" || true
	grep '^{' "$W/bt.out" > "$W/bt.json" || true
	"$PY" - "$W/bt.json" "$W/same.out" > "$W/compare" <<'PY' || true
import json, sys
def records(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r["type"] in ("map", "hist", "stats"):
            for name, value in r["data"].items():
                out[name] = (r["type"], value)
    return out
bt, lb = records(sys.argv[1]), records(sys.argv[2])
if sorted(bt) != ["@a", "@c", "@h", "@hk", "@l", "@s"]:
    print("bpftrace printed %s" % sorted(bt))
for name in sorted(bt):
    if bt[name] != lb.get(name):
        print("%s: bpftrace %r, lbpf %r" % (name, bt[name], lb.get(name)))
PY
	[ ! -s "$W/compare" ] || t_fail "$(head -c 800 "$W/compare") (bpftrace stderr: $(head -c 200 "$W/bt.err"))"
	bad=$(json_check "$W/same.out")
	[ -z "$bad" ] || t_fail "lbpf's output: $bad"
}

t_run output_json/records test_records
t_run output_json/escaping test_escaping
t_run output_json/errors test_errors
t_run output_json/lost test_lost
t_run output_json/log_and_usage test_log_and_usage
t_run output_json/text_unchanged test_text_unchanged
t_run output_json/bpftrace_shapes test_bpftrace_shapes
