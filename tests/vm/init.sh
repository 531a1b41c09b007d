#!/bin/sh
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# /init of the test VM that scripts/vmtest.sh boots (busybox sh, PID 1).
# Mounts the pseudo file systems, loads the kernel modules the host packed, runs
# every tests/vm/test_*.sh (or those LBPF_VM_TESTS names) and powers off.
# Result lines (PASS/FAIL/SKIP) go to the serial console behind the marker
# "@@LBPF@@ " so the host can find them among kernel messages; everything else
# a test prints is indented.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The kernel may have found no /dev/console in the archive to give us.
exec </dev/null >/dev/console 2>&1

M='@@LBPF@@'
LBPF_VM_TEST_TIMEOUT=90 LBPF_VM_SHELL=sh
[ -r /lbpf-vm/env ] && . /lbpf-vm/env    # LBPF_VM, LBPF_VM_RELEASE, LBPF_VM_TEST_TIMEOUT, LBPF_VM_SHELL,
                                          # LBPF_VM_TESTS (names or files; empty: all)

echo "$M BOOTED $(uname -r)"

mkdir -p /proc /sys /tmp /run /dev/pts /dev/shm
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mkdir -p /run/netns
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/mounts /etc/mtab
hostname lbpf-vm
ip link set lo up

# Dependencies come first in modules.order (the host resolved modules.dep).
while read -r mod; do
	[ -n "$mod" ] || continue
	if out=$(insmod "/lib/modules/lbpf/$mod" 2>&1); then
		echo "    module ${mod%.ko}: loaded"
	else
		echo "    module ${mod%.ko}: insmod failed: $out"
	fi
done < /lib/modules/lbpf/modules.order

cd /lbpf || { echo "$M FAIL init: no /lbpf in the initramfs"; poweroff -f; }
export LBPF_TOP=/lbpf BUILD=/lbpf/build LBPF=/lbpf/build/lbpf
export LUA_PATH='/lbpf/lua/?.lua;/lbpf/lua/?/init.lua;;'

# run_test FILE: runs one test file in its own process group, killed whole after
# LBPF_VM_TEST_TIMEOUT seconds; marks its result lines, and turns a non-zero exit
# without any FAIL line into one failure (as tests/run.sh does).
run_test() {
	name=$(basename "$1" .sh)
	failed=
	rm -f /tmp/vm-out /tmp/vm-timeout
	mkfifo /tmp/vm-out
	setsid "$LBPF_VM_SHELL" "$1" > /tmp/vm-out 2>&1 < /dev/null &
	pid=$!
	setsid sh -c "sleep $LBPF_VM_TEST_TIMEOUT; : > /tmp/vm-timeout; kill -TERM -$pid
		sleep 5; kill -KILL -$pid" 2>/dev/null &
	watchdog=$!
	while IFS= read -r line; do
		case "$line" in
		"FAIL "*) echo "$M $line"; failed=1 ;;
		"PASS "*|"SKIP "*) echo "$M $line" ;;
		*) echo "    $line" ;;
		esac
	done < /tmp/vm-out
	wait "$pid"
	rc=$?
	kill -TERM -"$watchdog" 2>/dev/null
	if [ -e /tmp/vm-timeout ]; then
		echo "$M FAIL $name: killed after ${LBPF_VM_TEST_TIMEOUT}s (LBPF_VM_TEST_TIMEOUT)"
	elif [ "$rc" -ne 0 ] && [ -z "$failed" ]; then
		echo "$M FAIL $name: exited with code $rc"
	fi
}

tests=
for name in ${LBPF_VM_TESTS:-}; do
	case $name in
	*/*) tests="$tests $name" ;;   # a file (scripts/bench/vm/fentry_guest.sh)
	*) tests="$tests tests/vm/test_$name.sh" ;;
	esac
done
for t in ${tests:-tests/vm/test_*.sh}; do
	[ -e "$t" ] && run_test "$t"
done

echo "$M DONE"
sync
poweroff -f
