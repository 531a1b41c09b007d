#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# Boots Debian cloud kernels under qemu (TCG, no KVM) with an initramfs made of
# busybox, the built binaries, tests/ and lua/, runs tests/vm/test_*.sh inside
# (tests/vm/init.sh is the guest's /init) and prints the guest's results in the
# protocol of tests/run.sh, prefixed with the kernel: "PASS vm-6.12/<name>".
#
#   scripts/vmtest.sh [--kernel 6.12|6.1]...    default: 6.12, then 6.1
#
# Environment:
#   BUILD                 build folder (build); work files go to $BUILD/vm/
#   LBPF_VM_CACHE         where kernel packages are kept (/var/cache/lbpf-vmtest)
#   LBPF_VM_TIMEOUT       seconds one boot may take, tests included (360; the 6.1 guest
#                         ran every test file in 159 s on a shared 2-core machine, and one
#                         CI run lost ~100 s of it to an RCU stall of the emulated CPU)
#   LBPF_VM_TEST_TIMEOUT  seconds one test file may take inside the guest (150: under TCG the 6.12 guest's test_filter ran past 90 s while the host was busy)
#   LBPF_VM_MODULES       kernel modules to load, dependencies are added
#   LBPF_VM_TESTS         test files to run, by name ("kprobe usdt": tests/vm/test_kprobe.sh,
#                         tests/vm/test_usdt.sh) or by path (scripts/bench/vm/fentry_guest.sh,
#                         which scripts/bench/fentry.sh runs); default: every tests/vm/test_*.sh
#   LBPF_VM_TOOLS         host programs to copy into the guest (bash ip tc bpftool setpriv unshare)
#   LBPF_VM_REQUIRED      1: a kernel that cannot be had is a FAIL, not a SKIP (.ci/run sets it)
#
# A kernel that cannot be had (no package, download fails, no qemu) is a SKIP, or a
# FAIL under LBPF_VM_REQUIRED=1; a kernel that was obtained but hangs, panics or
# reports nothing is a FAIL (one that dies before /init, where nothing of lbpf's
# has run, is booted once more first, and the run says so). Exits non-zero when
# anything failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build}
CACHE=${LBPF_VM_CACHE:-/var/cache/lbpf-vmtest}
BOOT_TIMEOUT=${LBPF_VM_TIMEOUT:-360}
TEST_TIMEOUT=${LBPF_VM_TEST_TIMEOUT:-150}
# nft_ct brings nf_conntrack (and its BTF: the conntrack kfuncs) and nf_tables;
# null_blk has a raw tracepoint (test_kprobe.sh reads it through its module BTF)
MODULES=${LBPF_VM_MODULES:-veth sch_ingress cls_bpf act_bpf nf_defrag_ipv4 nf_defrag_ipv6 nft_ct null_blk}
TOOLS=${LBPF_VM_TOOLS:-bash ip tc bpftool setpriv unshare}
TESTS=${LBPF_VM_TESTS:-}
QEMU=${QEMU:-qemu-system-x86_64}
MARK='@@LBPF@@'
WORK=$BUILD/vm

kernels=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) [ $# -ge 2 ] || { echo "vmtest.sh: --kernel needs a version" >&2; exit 2; }
		kernels+=("$2"); shift 2 ;;
	--kernel=*) kernels+=("${1#--kernel=}"); shift ;;
	-h|--help) sed -n '3,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "vmtest.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
done
for t in $TESTS; do
	case $t in
	*/*) f=$t ;;
	*) f=tests/vm/test_$t.sh ;;
	esac
	[ -f "$f" ] || { echo "vmtest.sh: no $f (LBPF_VM_TESTS)" >&2; exit 2; }
done
[ ${#kernels[@]} -gt 0 ] || kernels=(6.12 6.1)

failed=0
qemu_pid=
trap '[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

result() {	# result PASS|FAIL|SKIP NAME [WHY]
	[ "$1" = FAIL ] && failed=1
	echo "$1 $2${3:+: $3}"
}

# unavailable NAME WHY: a guest that cannot be booted here. CI must not go green
# with the kernels it exists for untested, so there it fails.
unavailable() {
	if [ "${LBPF_VM_REQUIRED:-0}" = 1 ]; then
		result FAIL "$1" "$2 (LBPF_VM_REQUIRED=1: the vm layer must run)"
	else
		result SKIP "$1" "$2"
	fi
}

# apt_packages VERSION: names of the cloud kernel packages of VERSION, oldest first.
# "6.1" matches linux-image-6.1.0-N-cloud-amd64-unsigned but not 6.12.*.
apt_packages() {
	local re="^linux-image-${1//./\\.}[.-][0-9][0-9a-z.+~-]*-cloud-amd64-unsigned\$"
	apt-cache search linux-image 2>/dev/null | grep cloud-amd64-unsigned |
		awk '{ print $1 }' | grep -E "$re" | sort -V
}

# apt_update: refreshes the package lists once per run, when allowed to.
apt_updated=
apt_update() {
	[ -z "$apt_updated" ] && [ "$(id -u)" -eq 0 ] || return 1
	apt_updated=1
	apt-get update -qq >/dev/null 2>&1
}

# fetch_deb PACKAGE: prints the path of PACKAGE's .deb in the cache, downloading
# it when it is not there yet.
fetch_deb() {
	local pkg=$1 deb tmp
	deb=$(ls "$CACHE/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$deb" ]; then
		tmp=$(mktemp -d "$CACHE/.download.XXXXXX") || return 1
		if ! (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null 2>&1); then
			apt_update && (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null 2>&1)
		fi
		mv "$tmp"/*.deb "$CACHE/" 2>/dev/null
		rm -rf "$tmp"
		deb=$(ls "$CACHE/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -n "$deb" ] && echo "$deb"
}

# extract_deb DEB: prints the folder holding DEB's files, extracting it (and
# generating modules.dep, which the package leaves to its postinst) once.
extract_deb() {
	local deb=$1 dir=${1%.deb} tmp release
	if [ ! -e "$dir/.complete" ]; then
		tmp=$(mktemp -d "$dir.XXXXXX") || return 1
		dpkg -x "$deb" "$tmp" || { rm -rf "$tmp"; return 1; }
		release=$(ls "$tmp/lib/modules" 2>/dev/null | head -n 1)
		[ -z "$release" ] || PATH=$PATH:/sbin:/usr/sbin depmod -b "$tmp" "$release" 2>/dev/null ||
			echo "    no depmod (kmod): modules are loaded without their dependencies" >&2
		touch "$tmp/.complete"
		rm -rf "$dir"
		mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
	fi
	echo "$dir"
}

# cached_series VERSION: the cached .deb files of VERSION's cloud kernels.
cached_series() {
	local deb
	for deb in "$CACHE"/linux-image-"$1"[.-]*-cloud-amd64-unsigned_*.deb; do
		deb=${deb##*/}
		[[ $deb =~ ^linux-image-${1//./\\.}[.-][^_]*-cloud-amd64-unsigned_ ]] && echo "$deb"
	done
}

# obtain_kernel VERSION: sets kpkg and kdir to the newest cloud kernel package of
# VERSION and its extracted files, or sets why and returns 1.
obtain_kernel() {
	local ver=$1 candidates deb
	mkdir -p "$CACHE" 2>/dev/null && [ -w "$CACHE" ] || CACHE=$WORK/cache
	mkdir -p "$CACHE" || { why="cannot create $CACHE"; return 1; }
	candidates=$(apt_packages "$ver")
	[ -n "$candidates" ] || { apt_update; candidates=$(apt_packages "$ver"); }
	kpkg=$(tail -n 1 <<< "$candidates")
	if [ -z "$kpkg" ] || ! deb=$(fetch_deb "$kpkg"); then
		# Offline or a stale list: fall back on a package downloaded earlier.
		deb=$(cached_series "$ver" | sort -V | tail -n 1)
		if [ -z "$deb" ]; then
			why=${kpkg:+cannot download $kpkg}
			why=${why:-apt-cache knows no linux-image-$ver*-cloud-amd64-unsigned package}
			return 1
		fi
		kpkg=${deb%%_*} deb=$CACHE/$deb
	fi
	kdir=$(extract_deb "$deb") || { why="cannot extract $deb"; return 1; }
	ls "$kdir"/boot/vmlinuz-* >/dev/null 2>&1 || { why="$deb holds no boot/vmlinuz-*"; return 1; }
	# Older kernels of the same series are not needed any more.
	cached_series "$ver" | grep -vF "$(basename "$deb")" | sed "s|^|$CACHE/|; s|\.deb\$||" |
		while read -r old; do rm -rf "$old" "$old.deb"; done
	return 0
}

# copy_with_libs ROOT FILE [DEST]: copies a program to DEST (default: the same path)
# under ROOT, with the shared libraries (and loader) that ldd lists for it.
copy_with_libs() {
	local root=$1 file=$2 dest=${3:-$2} lib
	install -D -m 755 "$file" "$root$dest"
	ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
		[ -e "$root$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$root$lib"
	done
}

# build_common ROOT: the kernel-independent part of the guest's file system.
build_common() {
	local root=$1 tool path f
	rm -rf "$root"
	mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,root,etc,mnt,lbpf-vm}
	for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
	install -m 755 "$(command -v busybox)" "$root/usr/bin/busybox"
	for tool in $TOOLS; do
		path=$(PATH=$PATH:/sbin:/usr/sbin command -v "$tool") || continue
		copy_with_libs "$root" "$(readlink -f "$path")" "/usr/bin/$tool"
	done
	# Applet links where no real program was copied (busybox's ip in /usr/sbin
	# would shadow the real one in /usr/bin, and it has no netns).
	"$root/usr/bin/busybox" --list-full | while read -r f; do
		[ -e "$root/usr/bin/${f##*/}" ] && continue
		[ -e "$root/$f" ] || [ -L "$root/$f" ] || ln -s /usr/bin/busybox "$root/$f"
	done
	[ -e "$root/usr/bin/bash" ] || ln -s busybox "$root/usr/bin/bash"
	echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
	echo "root:x:0:" > "$root/etc/group"
	: > "$root/etc/fstab"
	[ "$(id -u)" -eq 0 ] && mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null

	mkdir -p "$root/lbpf/build/tests/helpers"
	cp -a tests lua "$root/lbpf/"
	mkdir -p "$root/lbpf/scripts/bench"
	cp -a scripts/bench/vm scripts/bench/counted.lua "$root/lbpf/scripts/bench/"
	for f in "$BUILD"/lbpf "$BUILD"/lbpfd "$BUILD"/tests/helpers/*; do
		[ -f "$f" ] && [ -x "$f" ] && copy_with_libs "$root" "$f" "/lbpf/build/${f#"$BUILD"/}"
	done
	[ -d "$BUILD/bpf" ] && cp -a "$BUILD/bpf" "$root/lbpf/build/"
	# Where an installed lbpf looks for its Lua library (Makefile DATADIR).
	mkdir -p "$root/usr/local/share/lbpf"
	ln -s /lbpf/lua "$root/usr/local/share/lbpf/lua"
	ln -s /lbpf/lua/examples "$root/usr/local/share/lbpf/examples"
	install -m 755 tests/vm/init.sh "$root/init"
}

# build_modules ROOT KDIR: the modules of $MODULES and their dependencies, decompressed,
# under ROOT/usr/lib/modules/lbpf, with modules.order listing them in load order. Sets release.
build_modules() {
	local root=$1 kdir=$2 moddir dep mod line path deps i out
	local -a order=()
	release=$(ls "$kdir/lib/modules" | head -n 1)
	moddir=$kdir/lib/modules/$release
	dep=$moddir/modules.dep
	out=$root/usr/lib/modules/lbpf
	mkdir -p "$out"
	for mod in $MODULES; do
		line=$(grep -E "(^|/)(${mod//_/[-_]})\.ko(\.[a-z]+)?:" "$dep" 2>/dev/null | head -n 1)
		if [ -z "$line" ]; then
			path=$(cd "$moddir" && find kernel -name "$mod.ko*" 2>/dev/null | head -n 1)
			[ -n "$path" ] || { echo "    $release has no module $mod (built in or absent)"; continue; }
			line="$path:"
		fi
		read -r -a deps <<< "${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do order+=("${deps[i]}"); done
		order+=("${line%%:*}")
	done
	for path in "${order[@]}"; do
		mod=$(basename "$path"); mod=${mod%%.ko*}.ko
		grep -qxF "$mod" "$out/modules.order" 2>/dev/null && continue
		case $path in
		*.ko.xz) xz -dc "$moddir/$path" > "$out/$mod" ;;
		*.ko.zst) zstd -qdc "$moddir/$path" > "$out/$mod" ;;
		*.ko.gz) gzip -dc "$moddir/$path" > "$out/$mod" ;;
		*) cp "$moddir/$path" "$out/$mod" ;;
		esac || { echo "    cannot decompress $path"; rm -f "$out/$mod"; continue; }
		echo "$mod" >> "$out/modules.order"
	done
	touch "$out/modules.order"
}

# make_cpio ROOT OUT: a gzip'd newc archive of ROOT, owned by root.
make_cpio() {
	(cd "$1" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$2"
}

# show_console LOG: the last 40 console lines, indented (tests/run.sh shows them).
show_console() {
	echo "    --- last 40 console lines ($1)"
	tr -d '\r' < "$1" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | tail -n 40 | sed 's/^/    | /'
}

# boot VERSION: boots one kernel and reports the guest's results as vm-VERSION/*.
boot() {
	local ver=$1 label=vm-$1 why='' kpkg kdir release vmlinuz dir log start rc n line rest bad=0
	if ! command -v "$QEMU" >/dev/null; then
		unavailable "$label" "$QEMU not installed (scripts/deps.sh installs qemu-system-x86)"
		return
	fi
	if ! obtain_kernel "$ver"; then
		unavailable "$label" "$why"
		return
	fi
	dir=$WORK/$ver
	rm -rf "$dir"
	mkdir -p "$dir/root/lbpf-vm"
	build_modules "$dir/root" "$kdir"
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n 1)
	cat > "$dir/root/lbpf-vm/env" <<-EOF
		export LBPF_VM=$ver LBPF_VM_RELEASE='$release' LBPF_VM_TEST_TIMEOUT=$TEST_TIMEOUT
		export LBPF_VM_TESTS='$TESTS'
		export LBPF_VM_SHELL=$([ -x "$WORK/common/usr/bin/bash" ] && ! [ -L "$WORK/common/usr/bin/bash" ] && echo bash || echo sh)
	EOF
	make_cpio "$dir/root" "$dir/kernel.cpio.gz"
	cat "$WORK/common.cpio.gz" "$dir/kernel.cpio.gz" > "$dir/initrd.gz"

	log=$dir/console.log
	start=$SECONDS
	# A kernel that dies before /init has run nothing of lbpf's: under TCG
	# the 6.12 guest once took an int3 Oops in sched_clock_cpu at 3 s into
	# boot (the emulator racing the kernel's own code patching). Such a boot
	# is tried once more, and said so; anything after /init stands.
	for attempt in 1 2; do
		timeout -k 5 "$BOOT_TIMEOUT" "$QEMU" -accel tcg -cpu max -m 1024 -smp 2 -nic none \
			-kernel "$vmlinuz" -initrd "$dir/initrd.gz" \
			-append "console=ttyS0 panic=-1 quiet" -nographic -no-reboot \
			< /dev/null > "$log" 2>&1 &
		qemu_pid=$!
		wait "$qemu_pid"
		rc=$?
		qemu_pid=
		grep -aq "$MARK BOOTED" "$log" || [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$attempt" -eq 2 ] && break
		echo "# $label: the kernel died before /init ($(grep -a -m 1 -E 'Kernel panic|Oops' "$log" | tr -d '\r' || echo "qemu exit $rc")); booting it again"
		cp "$log" "$log.boot$attempt"
	done

	n=0
	while IFS= read -r line; do
		case $line in
		"PASS "* | "SKIP "* | "FAIL "*)
			n=$((n + 1))
			rest=${line#* }
			[ "${line%% *}" = FAIL ] && bad=1
			case $rest in
			*": "*) result "${line%% *}" "$label/${rest%%: *}" "${rest#*: }" ;;
			*) result "${line%% *}" "$label/$rest" ;;
			esac ;;
		esac
	done < <(tr -d '\r' < "$log" | grep -a -o "$MARK .*" | sed "s/^$MARK //")

	echo "$label: $kpkg, $n results in $((SECONDS - start)) s, console in $log"
	why=
	if grep -aq "Kernel panic" "$log"; then
		why="kernel panic: $(grep -a -m 1 'Kernel panic' "$log" | tr -d '\r')"
	elif ! grep -aq "$MARK BOOTED" "$log"; then
		why="the guest never reached /init (qemu exit $rc)"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="no power-off within ${BOOT_TIMEOUT}s (LBPF_VM_TIMEOUT)"
	elif ! grep -aq "$MARK DONE" "$log"; then
		why="the guest stopped before finishing its tests (qemu exit $rc)"
	elif [ "$n" -eq 0 ]; then
		why="the guest reported no results"
	fi
	[ -z "$why" ] || { bad=1; result FAIL "$label" "$why"; }
	[ "$bad" -eq 0 ] || show_console "$log"
}

mkdir -p "$WORK"
for tool in busybox cpio gzip; do
	command -v "$tool" >/dev/null && continue
	for ver in "${kernels[@]}"; do
		unavailable "vm-$ver" "$tool not installed (scripts/deps.sh installs it)"
	done
	exit "$failed"
done
build_common "$WORK/common"
make_cpio "$WORK/common" "$WORK/common.cpio.gz"

for ver in "${kernels[@]}"; do
	boot "$ver"
done
exit "$failed"
