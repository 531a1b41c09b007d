#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Regenerates vmlinux/x86/vmlinux.h from the running kernel's BTF. The header is
# committed, so the build does not depend on the build machine's kernel.
#   scripts/gen-vmlinux.sh [BTF_FILE]      default /sys/kernel/btf/vmlinux
set -euo pipefail
cd "$(dirname "$0")/.."

btf=${1:-/sys/kernel/btf/vmlinux}
out=vmlinux/x86/vmlinux.h
bpftool=${BPFTOOL:-bpftool}

[ -r "$btf" ] || { echo "gen-vmlinux.sh: no kernel BTF at $btf" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
"$bpftool" btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "gen-vmlinux.sh: wrote $out ($(wc -l < "$out") lines, kernel $(uname -r))"
