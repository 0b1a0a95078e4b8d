#!/bin/bash
# extract-vmlinux.sh BZIMAGE OUT: the ELF vmlinux inside a bzImage, which
# qemu boots directly through its PVH note; that skips the kernel's own
# decompression (several seconds under TCG). Exit 1 when there is none.
set -uo pipefail
IN=$1 OUT=$2 TMP=$2.tmp.$$
try() { # MAGIC DECOMPRESSOR...
	local magic=$1 off
	shift
	command -v "$1" > /dev/null || return 1
	for off in $(LC_ALL=C grep -obUaP "$magic" "$IN" | head -3 | cut -d: -f1); do
		tail -c +$((off + 1)) "$IN" | "$@" > "$TMP" 2> /dev/null
		# PVH entry = ELF note type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY)
		if readelf -n "$TMP" 2> /dev/null | grep -q 'Xen .*0x00000012\|Unknown note type: (0x00000012)'; then
			mv "$TMP" "$OUT"
			return 0
		fi
	done
	rm -f "$TMP"
	return 1
}
try '\xfd7zXZ\x00' xz -dc --single-stream || try '\x28\xb5\x2f\xfd' zstd -dcq ||
	try '\x1f\x8b\x08' gzip -dc || try '\x02\x21\x4c\x18' lz4 -dc || exit 1
