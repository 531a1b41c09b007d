#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Installs the Debian packages lbpf needs to build and test, and only those that
# are missing. Silent and quick when everything is there (it runs before every
# `make run` and `make test`).
#   scripts/deps.sh [EXTRA_PACKAGE...]     e.g. scripts/deps.sh bpftrace iptables nftables
set -euo pipefail

packages=(
	clang llvm libbpf-dev bpftool liblua5.4-dev libelf-dev zlib1g-dev libpcap-dev
	pkg-config make gcc iproute2 qemu-system-x86 busybox-static cpio kmod util-linux
	ca-certificates xz-utils curl systemd lua5.4 python3-yaml python3-kubernetes jq nftables
	mmdebstrap podman runc # make image and its test (runc: the runtime the test names)
	systemtap-sdt-dev # <sys/sdt.h>, for the USDT probes of tests/helpers/usdt_target
	"$@"
)

# promtool, Prometheus's own checker of /metrics pages, for the tests: taken
# out of Debian's prometheus package into build/tools, because installing the
# package would also start a Prometheus server on the machine.
fetch_promtool() {
	local tools tmp
	tools=$(cd "$(dirname "$0")/.." && pwd)/build/tools
	command -v promtool >/dev/null || [ -x "$tools/promtool" ] && return 0
	tmp=$(mktemp -d)
	if (cd "$tmp" && { apt-get download -qq prometheus 2>/dev/null ||
			   { apt-get update -qq && apt-get download -qq prometheus; }; }) &&
	   dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"; then
		install -D -m 755 "$tmp/x/usr/bin/promtool" "$tools/promtool"
		echo "deps.sh: promtool from Debian's prometheus package in $tools"
	else
		echo "deps.sh: could not fetch Debian's prometheus package for promtool" >&2
	fi
	rm -rf "$tmp"
}

missing=()
for pkg in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && { fetch_promtool; exit 0; }

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (run as root to install): ${missing[*]}" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}"
fetch_promtool
