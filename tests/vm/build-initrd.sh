#!/bin/bash
# build-initrd.sh KVER OUT.gz: a small initramfs with static busybox, the
# modules needed to reach the host root (virtio-pci, 9p, overlay) and
# guest/init. Media modules are loaded later from the host's /lib/modules.
set -euo pipefail
KVER=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$(dirname "$OUT")"
STAGE=$(mktemp -d "$(dirname "$OUT")/initrd-stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
BUSYBOX=$(readlink -f "${SL_VM_BUSYBOX:-/bin/busybox}")
if readelf -lW "$BUSYBOX" | grep -q interpreter; then echo "$BUSYBOX is not static (busybox-static)" >&2; exit 1; fi
cp "$BUSYBOX" "$STAGE/bin/busybox"
: > "$STAGE/modules.order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
	# dependencies first, in the order modprobe would load them
	modprobe -S "$KVER" --show-depends "$m" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		name=$(basename "$path"); name=${name%.xz}; name=${name%.zst}; name=${name%.gz}
		grep -qx "$name" "$STAGE/modules.order" && continue
		case $path in
		*.xz) xz -dc "$path" ;;
		*.zst) zstd -qdc "$path" ;;
		*.gz) gzip -dc "$path" ;;
		*) cat "$path" ;;
		esac > "$STAGE/lib/modules/$name"
		echo "$name" >> "$STAGE/modules.order"
	done
done
install -m 0755 "$HERE/guest/init" "$STAGE/init"
(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
