#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Builds lbpf's OCI image from Debian 12's own packages: mmdebstrap extracts the
# runtime libraries lbpf links (liblua5.4-0, libbpf1, libelf1, zlib1g,
# libpcap0.8 and what they depend on) into a root file system, `make install`
# puts lbpf's binaries, Lua modules and examples into it, and podman imports
# the result. No base image is pulled from a registry.
#
#   scripts/image.sh [--force] [TAG]   default TAG: localhost/lbpf:<version>, also :latest
#
# The image is labelled with a hash of its inputs (lbpf's sources, this script,
# the package list); when TAG already holds an image with the same hash, nothing
# is built. Debian's packages are not part of the hash: --force rebuilds anyway,
# to take their updates.
#
# The image runs `lbpfd --foreground --policy-dir /etc/lbpf/policies.d` (as
# Tetragon's image runs its policy folder): mount policies there (a ConfigMap,
# or a host folder read-only). `lbpf` in the image talks to that lbpfd.
# Run it privileged, with the host's bpffs and tracefs, e.g.
#   podman run --privileged --network host -v /sys/fs/bpf:/sys/fs/bpf \
#     -v /sys/kernel/tracing:/sys/kernel/tracing localhost/lbpf
set -euo pipefail
cd "$(dirname "$0")/.."

force=0
[ "${1:-}" = "--force" ] && { force=1; shift; }
version=$(sed -n 's/^#define LBPF_VERSION "\(.*\)"/\1/p' include/lbpf/lbpf.h)
default_tag=localhost/lbpf:$version
tag=${1:-$default_tag}
work=$(realpath -m "${IMAGE_WORK:-build/image}")
libs=libc6,liblua5.4-0,libbpf1,libelf1,zlib1g,libpcap0.8
label=org.lbpf.inputs

for tool in mmdebstrap podman; do
	command -v $tool >/dev/null ||
		{ echo "image.sh: $tool is not installed (scripts/deps.sh installs it)" >&2; exit 1; }
done

# A hash of everything the image is made of here: the files `make install`
# builds from and installs, this script and the package list.
inputs_hash() {
	{
		echo "$libs"
		find bpf include lua user vmlinux Makefile scripts/image.sh scripts/lbpfd.service \
			-type f -print0 | sort -z | xargs -0 sha256sum
	} | sha256sum | cut -d' ' -f1
}

# Tags the default tag's image :latest too (not a TAG given by the caller).
tag_latest() {
	[ "$tag" = "$default_tag" ] && podman tag "$tag" localhost/lbpf:latest
	return 0
}

# Prints the image's size.
report() {
	local size
	size=$(podman image inspect --format '{{.Size}}' "$tag")
	echo "image.sh: $1 $tag, $((size / 1000000)) MB uncompressed"
}

hash=$(inputs_hash)
old=$(podman image inspect --format "{{.Id}} {{index .Labels \"$label\"}}" "$tag" 2>/dev/null || true)
if [ $force = 0 ] && [ "${old#* }" = "$hash" ]; then
	tag_latest
	report "up to date:"
	exit 0
fi

# Built apart, with the image's prefix, so the compiled-in data folder is /usr's.
rm -rf "$work/stage"
make -s BUILD="$work/build" PREFIX=/usr DESTDIR="$work/stage" install
rm -rf "$work/stage/usr/share/man"

# extract: the packages' files only, no shell, no package manager, no scripts
# (and no customize hooks, which this variant does not run: the rest is done
# here). Its extract hook writes dpkg's status file from the packages' control
# files, so that image scanners can list them: "installed", though their
# maintainer scripts did not run (for these libraries they only run ldconfig,
# which the loader does without). gconv (iconv's character sets, a third of
# the image) goes: nothing lbpf runs converts character sets.
status_hook='for deb in "$1"/var/cache/apt/archives/*.deb; do
	dpkg-deb -f "$deb" | sed "/^Package:/a Status: install ok installed"; echo
done > "$1/var/lib/dpkg/status"'
root=$work/rootfs
rm -rf "$root"
mmdebstrap --quiet --variant=extract --include="$libs" --extract-hook="$status_hook" \
	bookworm "$root"
rm -rf "$root"/usr/share/{doc,man,info,lintian,locale} "$root"/var/cache/apt \
	"$root"/var/lib/apt "$root"/usr/lib/x86_64-linux-gnu/gconv
cp -a "$work/stage/." "$root/"
mkdir -p "$root/etc/lbpf/policies.d" "$root/run/lbpf" "$root/var/lib/lbpf" "$root/tmp" \
	"$root/sys/fs/bpf" "$root/sys/kernel/tracing" "$root/proc"
chmod 0700 "$root/var/lib/lbpf"
chmod 1777 "$root/tmp"
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .

podman import --quiet \
	--change 'CMD ["/usr/bin/lbpfd", "--foreground", "--policy-dir", "/etc/lbpf/policies.d"]' \
	--change 'ENV PATH=/usr/bin:/usr/sbin' \
	--change 'ENV LBPF_SOCKET=/run/lbpf/lbpfd.sock' \
	--change 'LABEL org.opencontainers.image.title=lbpf' \
	--change "LABEL org.opencontainers.image.version=$version" \
	--change "LABEL $label=$hash" \
	"$work/rootfs.tar" "$tag" >/dev/null
rm -f "$work/rootfs.tar"
tag_latest
# the image this one replaced, unless another tag or a container holds it
[ -n "$old" ] && podman rmi "${old%% *}" >/dev/null 2>&1 || true
report built
