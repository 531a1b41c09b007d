#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Proves that the VM guest gives the other vm tests what they need: the kernel the
# host meant to boot, bpffs and tracefs mounted, kernel BTF, a kprobe PMU (both
# Debian kernels have CONFIG_KPROBES), the packed veth module, and a runnable lbpf.
. "$(dirname "$0")/../lib.sh"

if [ -z "${LBPF_VM:-}" ]; then
	echo "SKIP boot: runs only inside the guest of scripts/vmtest.sh"
	exit 0
fi

test_kernel() {
	local release
	release=$(uname -r)
	echo "kernel $release ($(uname -v))"
	[ "$release" = "$LBPF_VM_RELEASE" ] || t_fail "booted $release, expected $LBPF_VM_RELEASE"
}

test_bpffs() {
	grep -q '^[^ ]* /sys/fs/bpf bpf ' /proc/mounts || t_fail "bpffs is not mounted at /sys/fs/bpf"
}

test_tracefs() {
	grep -q '^[^ ]* /sys/kernel/tracing tracefs ' /proc/mounts ||
		t_fail "tracefs is not mounted at /sys/kernel/tracing"
	[ -d /sys/kernel/tracing/events/syscalls ] || t_fail "no syscalls tracepoints in tracefs"
}

test_btf() {
	[ -e /sys/kernel/btf/vmlinux ] || t_fail "/sys/kernel/btf/vmlinux is missing"
}

test_kprobes() {
	[ -e /sys/bus/event_source/devices/kprobe ] ||
		t_fail "no kprobe PMU (/sys/bus/event_source/devices/kprobe); CONFIG_KPROBES unset?"
	echo "kprobe PMU type $(cat /sys/bus/event_source/devices/kprobe/type)"
}

test_veth() {
	ip link add lbpfvm0 type veth peer name lbpfvm1 || t_fail "cannot create a veth pair"
	ip link del lbpfvm0
}

test_lbpf_version() {
	[ -x "$LBPF" ] || t_skip "$LBPF is not in the initramfs (not built)"
	local out
	out=$("$LBPF" --version 2>&1) || t_fail "lbpf --version failed: $out"
	echo "$out"
	[ -n "$out" ] || t_fail "lbpf --version printed nothing"
}

t_run boot/kernel test_kernel
t_run boot/bpffs test_bpffs
t_run boot/tracefs test_tracefs
t_run boot/btf test_btf
t_run boot/kprobes test_kprobes
t_run boot/veth test_veth
t_run boot/lbpf-version test_lbpf_version
rm -f "$T_RESULT"
