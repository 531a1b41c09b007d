# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
# Shared helpers for shell tests (sourced). Speaks the protocol of tests/run.sh.
#
#   t_run NAME FUNC   runs FUNC in a subshell; it passes unless it calls t_fail
#                     or t_skip, or a command under `set -e` fails.
#   t_fail WHY / t_skip WHY   end the current test.
#   t_cleanup FUNC    registers the file's cleanup: it runs now (leftovers of an
#                     earlier run), on exit and on every signal.
#   t_wait_file FILE PATTERN  waits up to 10 s for PATTERN in FILE, else fails.
set -u
LBPF_TOP=${LBPF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$LBPF_TOP/build}
LBPF=${LBPF:-$BUILD/lbpf}
case $BUILD in /*) ;; *) BUILD=$LBPF_TOP/$BUILD ;; esac
case $LBPF in /*) ;; *) LBPF=$LBPF_TOP/$LBPF ;; esac
HELPERS=$BUILD/tests/helpers
T_RESULT=$(mktemp)

t_fail() { echo "fail:$*" > "$T_RESULT"; exit 1; }
t_skip() { echo "skip:$*" > "$T_RESULT"; exit 0; }

t_run() {
	local name=$1 fn=$2 rc res
	: > "$T_RESULT"
	( set -e; "$fn" )
	rc=$?
	res=$(cat "$T_RESULT")
	case "$res" in
	fail:*) echo "FAIL $name: ${res#fail:}" ;;
	skip:*) echo "SKIP $name: ${res#skip:}" ;;
	*) if [ $rc -eq 0 ]; then echo "PASS $name"; else echo "FAIL $name: exited with $rc"; fi ;;
	esac
}

t_cleanup() {
	T_CLEANUP_FN=$1
	"$T_CLEANUP_FN" >/dev/null 2>&1 || true
	trap '"$T_CLEANUP_FN" >/dev/null 2>&1; rm -f "$T_RESULT"' EXIT
	trap 'exit 130' INT TERM HUP
}

# t_wait_file FILE PATTERN: waits up to 10 s for PATTERN (grep's) to appear in FILE.
t_wait_file() {
	local i
	for i in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	t_fail "timed out waiting for '$2' in $1: $(head -c 400 "$1" 2>/dev/null)"
}

t_need_root() { [ "$(id -u)" -eq 0 ] || t_skip "needs root"; }

# t_expect_contains HAYSTACK NEEDLE [WHAT]
t_expect_contains() {
	case "$1" in *"$2"*) ;; *) t_fail "${3:-output} lacks '$2': $(printf '%s' "$1" | head -c 600)" ;; esac
}
