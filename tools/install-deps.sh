#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need, on a fresh
# Debian 12 (bookworm) machine. Idempotent; does nothing when all is present.
# Usage: tools/install-deps.sh [--cross] [--vm]
set -euo pipefail

want_cross=0 want_vm=0
for a in "$@"; do
	case $a in
	--cross) want_cross=1 ;;
	--vm) want_vm=1 ;;
	*) echo "install-deps: unknown option $a" >&2; exit 2 ;;
	esac
done

pkgs=(build-essential pkg-config meson ninja-build clang libclang-rt-14-dev
	libxnnpack-dev libpthreadpool-dev libcpuinfo-dev libv4l-dev libturbojpeg0-dev libsystemd-dev
	libcriterion-dev libsimde-dev libjson-c-dev libinih-dev dbus-daemon dbus util-linux
	valgrind python3)
# The aarch64 cross build runs its unit tests under qemu-user. Debian's XNNPACK,
# pthreadpool and cpuinfo packages are not co-installable across architectures
# (installing the arm64 ones removes the amd64 ones), so their arm64 builds are
# unpacked into a private sysroot instead (cross_sysroot below); the headers are
# architecture-independent.
# libc6-dev-arm64-cross is only a Recommends of gcc-aarch64-linux-gnu, which
# --no-install-recommends leaves out: without it the cross compiler cannot link
# a program (no Scrt1.o / crti.o), as a fresh machine showed.
cross_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user qemu-user-binfmt binutils-aarch64-linux-gnu
	libturbojpeg0-dev:arm64 libv4l-dev:arm64 libsystemd-dev:arm64 libjson-c-dev:arm64 libinih-dev:arm64
	libgit2-1.5:arm64 libffi8:arm64 libboxfort-dev:arm64)
cross_sysroot=/opt/sightline/sysroot-aarch64
cross_sysroot_debs=(libxnnpack0:arm64 libxnnpack-dev:arm64 libpthreadpool0:arm64 libpthreadpool-dev:arm64
	libcpuinfo0:arm64 libcpuinfo-dev:arm64 libcriterion3:arm64 libcriterion-dev:arm64 libnanomsg5:arm64)
# The VM tests boot Debian's kernel (it has vivid) with this machine's userland.
vm_pkgs=(qemu-system-x86 linux-image-amd64 busybox-static kmod bc systemd cpio binutils gzip xz-utils zstd)

missing() {
	local p out=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
	done
	echo "${out[@]:-}"
}

all=("${pkgs[@]}")
((want_cross)) && all+=("${cross_pkgs[@]}")
((want_vm)) && all+=("${vm_pkgs[@]}")

if ((want_cross)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	[ "$(id -u)" = 0 ] || { echo "install-deps: run as root to add the arm64 architecture" >&2; exit 1; }
	dpkg --add-architecture arm64
	need_update=1
fi

todo=$(missing "${all[@]}")
if [ -n "$todo" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: $todo" >&2
		echo "install-deps: run as root (or: sudo apt-get install $todo)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	need_update=0
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $todo
fi

if ((want_cross)) && [ ! -e "$cross_sysroot/.complete" ]; then
	[ "$(id -u)" = 0 ] || { echo "install-deps: run as root to create $cross_sysroot" >&2; exit 1; }
	[ "${need_update:-0}" = 1 ] && apt-get update -qq
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt downloads as _apt
	(cd "$tmp" && apt-get download -qq "${cross_sysroot_debs[@]}")
	mkdir -p "$cross_sysroot"
	for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$cross_sysroot"; done
	rm -rf "$tmp"
	touch "$cross_sysroot/.complete"
fi
# Criterion runs each test in a child it spawns by re-executing itself: under
# qemu-user that execve needs the kernel to hand aarch64 binaries to qemu.
if ((want_cross)) && [ "$(id -u)" = 0 ]; then
	binfmt=/proc/sys/fs/binfmt_misc
	[ -e $binfmt/register ] || mount -t binfmt_misc binfmt_misc $binfmt 2>/dev/null || true
	if [ -e $binfmt/register ] && [ ! -e $binfmt/qemu-aarch64 ]; then
		cat /usr/lib/binfmt.d/qemu-aarch64.conf >$binfmt/register 2>/dev/null ||
			echo "install-deps: could not register qemu-aarch64 with binfmt_misc" >&2
	fi
fi
exit 0
