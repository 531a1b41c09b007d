#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Builds lbpf's OCI image from Debian 12's own packages: mmdebstrap extracts the
# runtime libraries lbpf links (liblua5.4-0, libbpf1, libelf1, zlib1g,
# libpcap0.8 and what they depend on) into a root file system, `make install`
# puts lbpf's binaries, Lua modules and examples into it, and podman imports
# the result. No base image is pulled from a registry.
#
#   scripts/image.sh [TAG]        default TAG: localhost/lbpf:<version>, also :latest
#
# The image runs `lbpfd --foreground`, and `lbpf` in it talks to that lbpfd.
# Run it privileged, with the host's bpffs and tracefs, e.g.
#   podman run --privileged -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /sys/kernel/tracing:/sys/kernel/tracing localhost/lbpf
# (/etc/lbpf/policies.d is made for the policy folder lbpfd does not read yet.)
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^#define LBPF_VERSION "\(.*\)"/\1/p' include/lbpf/lbpf.h)
tag=${1:-localhost/lbpf:$version}
work=$(realpath -m "${IMAGE_WORK:-build/image}")
libs=libc6,liblua5.4-0,libbpf1,libelf1,zlib1g,libpcap0.8

for tool in mmdebstrap podman; do
	command -v $tool >/dev/null ||
		{ echo "image.sh: $tool is not installed (scripts/deps.sh $tool)" >&2; exit 1; }
done

# Built apart, with the image's prefix, so the compiled-in data folder is /usr's.
rm -rf "$work/stage"
make -s BUILD="$work/build" PREFIX=/usr DESTDIR="$work/stage" install
rm -rf "$work/stage/usr/share/man"

# extract: the packages' files only, no shell, no package manager, no scripts
# (and no hooks, which this variant does not run: the rest is done here).
root=$work/rootfs
rm -rf "$root"
mmdebstrap --quiet --variant=extract --include="$libs" bookworm "$root"
rm -rf "$root"/usr/share/{doc,man,info,lintian} "$root"/var/cache/apt "$root"/var/lib/apt
cp -a "$work/stage/." "$root/"
mkdir -p "$root/etc/lbpf/policies.d" "$root/run/lbpf" "$root/var/lib/lbpf" "$root/tmp" \
	"$root/sys/fs/bpf" "$root/sys/kernel/tracing" "$root/proc"
chmod 0700 "$root/var/lib/lbpf"
chmod 1777 "$root/tmp"
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .

podman import --quiet \
	--change 'CMD ["/usr/bin/lbpfd", "--foreground"]' \
	--change 'ENV LBPF_SOCKET=/run/lbpf/lbpfd.sock' \
	--change "LABEL org.opencontainers.image.title=lbpf org.opencontainers.image.version=$version" \
	"$work/rootfs.tar" "$tag" >/dev/null
[ "$tag" = "localhost/lbpf:latest" ] || podman tag "$tag" localhost/lbpf:latest
size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image.sh: built $tag, $((size / 1000000)) MB uncompressed"
