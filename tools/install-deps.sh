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
# The aarch64 cross build runs its unit tests under qemu-user. libcpuinfo-dev is not
# co-installable across architectures, so arm64 gets the runtime library only
# (the header is architecture-independent; see meson.build).
cross_pkgs=(gcc-aarch64-linux-gnu qemu-user binutils-aarch64-linux-gnu
	libxnnpack-dev:arm64 libpthreadpool-dev:arm64 libcpuinfo0:arm64 libturbojpeg0-dev:arm64
	libv4l-dev:arm64 libsystemd-dev:arm64 libcriterion-dev:arm64 libjson-c-dev:arm64 libinih-dev:arm64)
# The VM tests boot Debian's kernel (it has vivid) with this machine's userland.
vm_pkgs=(qemu-system-x86 linux-image-amd64 busybox-static kmod bc systemd)

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
[ -z "$todo" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: $todo" >&2
	echo "install-deps: run as root (or: sudo apt-get install $todo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $todo
