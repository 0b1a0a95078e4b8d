#!/bin/bash
# run-vm.sh [options] --check NAME SECONDS 'COMMAND' [--check ...]
# run-vm.sh [options] -- COMMAND [ARGS...]          (one check called "cmd")
#
# Boots this machine's own userland (root over 9p, read-only, tmpfs overlay)
# on a real kernel (Debian's linux-image-amd64) in qemu with the vivid V4L2
# driver loaded and systemd as PID 1, then runs every check in turn inside
# that ONE boot, each with its own time limit, and powers off.
#
#   -t SECS      hard limit for the whole boot (default 540)
#   -w DIR       work dir for the kernel/initramfs cache and run folders
#                (default $SL_VM_WORK, else $TMPDIR/sightline-vm)
#   -m 'MOD opt=v ...'  module to load in the guest (repeatable; default
#                'vivid n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0')
#   -e VAR[=VAL] export VAR to the checks (repeatable; SL_* and
#                LD_LIBRARY_PATH are passed by default)
#   -q           print only the summary
#
# A check runs as root in the guest with bash -c, in the host's working
# directory (writes there go to the overlay and are discarded); $SL_VM_OUT is
# a folder shared with the host for its artifacts. Exit 77 means "skipped".
#
# Exit code: 0 every check passed or skipped, 1 a check failed, 77 nothing to
# run here (no qemu, kernel, busybox-static or vivid), 124 the VM hit the
# time limit, 125 the harness itself failed. Results stay in WORK/out/run.*.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${SL_VM_WORK:-${TMPDIR:-/tmp}/sightline-vm}
TIMEOUT=540 QUIET=0 MODS=() ENVS=() CHECKS=()
while [ $# -gt 0 ]; do
	case $1 in
	-t) TIMEOUT=$2; shift 2 ;;
	-w) WORK=$2; shift 2 ;;
	-m) MODS+=("$2"); shift 2 ;;
	-e) ENVS+=("$2"); shift 2 ;;
	-q) QUIET=1; shift ;;
	--check)
		[ $# -ge 4 ] || { echo "run-vm.sh: --check NAME SECONDS COMMAND" >&2; exit 125; }
		case $2 in *[!A-Za-z0-9_.-]* | '') echo "run-vm.sh: bad check name '$2'" >&2; exit 125 ;; esac
		CHECKS+=("$2"$'\t'"$3"$'\t'"$4"); shift 4 ;;
	--) shift; [ $# -gt 0 ] && CHECKS+=("cmd"$'\t'"$TIMEOUT"$'\t'"$(printf '%q ' "$@")"); break ;;
	-h | --help) sed -n '2,27p' "$0"; exit 0 ;;
	*) echo "run-vm.sh: unknown argument $1 (see --help)" >&2; exit 125 ;;
	esac
done
[ ${#CHECKS[@]} -gt 0 ] || { echo "run-vm.sh: nothing to run (see --help)" >&2; exit 125; }
[ ${#MODS[@]} -gt 0 ] || MODS=("vivid n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0")
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "run-vm.sh: $*" >&2; exit 125; }

# --- what this machine must have --------------------------------------------
command -v qemu-system-x86_64 > /dev/null || skip "qemu-system-x86_64 not installed (apt install qemu-system-x86)"
[ "$(uname -m)" = x86_64 ] || skip "the VM tests boot an x86-64 kernel; this host is $(uname -m)"
KVER=${SL_VM_KVER:-}
if [ -z "$KVER" ]; then
	for k in $(ls -1 /boot/vmlinuz-* 2> /dev/null | sed 's|.*/vmlinuz-||' | sort -rV); do
		[ -d "/lib/modules/$k" ] && { KVER=$k; break; }
	done
fi
[ -n "$KVER" ] && [ -r "/boot/vmlinuz-$KVER" ] ||
	skip "no readable /boot/vmlinuz-* with matching /lib/modules (apt install linux-image-amd64)"
BB=$(readlink -f "${SL_VM_BUSYBOX:-/bin/busybox}")
# static = an ELF without a program interpreter (readelf: binutils, needed anyway)
readelf -lW "$BB" 2> /dev/null | grep -q 'Program Headers' && ! readelf -lW "$BB" | grep -q interpreter ||
	skip "no static busybox (apt install busybox-static)"
for m in "${MODS[@]}"; do
	read -r -a words <<< "$m"
	modinfo -k "$KVER" "${words[0]}" > /dev/null 2>&1 || skip "kernel $KVER has no module ${words[0]}"
done

# --- kernel and initramfs, cached across runs ---------------------------------
mkdir -p "$WORK/build" "$WORK/out" || fail "cannot create $WORK"
INITRD=$WORK/build/initrd-$KVER.gz
if [ ! -s "$INITRD" ] || [ "$HERE/guest/init" -nt "$INITRD" ] || [ "$HERE/build-initrd.sh" -nt "$INITRD" ]; then
	"$HERE/build-initrd.sh" "$KVER" "$INITRD" || fail "initramfs build failed"
fi
KERNEL=$WORK/build/vmlinux-$KVER
if [ ! -s "$KERNEL" ] && ! "$HERE/extract-vmlinux.sh" "/boot/vmlinuz-$KVER" "$KERNEL"; then
	KERNEL=/boot/vmlinuz-$KVER
fi

# --- the per-run share: config, checks, units ---------------------------------
# keep the last few runs for post-mortems
ls -1dt "$WORK"/out/run.* 2> /dev/null | tail -n +4 | xargs -r rm -rf
RUN=$(mktemp -d "$WORK/out/run.XXXXXX") || fail "mktemp"
printf '%s\n' "${CHECKS[@]}" > "$RUN/checks.list"
: > "$RUN/env.sh"
for v in $(compgen -e | grep -E '^(SL_[A-Z0-9_]+|LD_LIBRARY_PATH)$' | grep -vE '^SL_VM_(WORK|KVER|BUSYBOX)$'); do
	printf 'export %s=%q\n' "$v" "${!v}" >> "$RUN/env.sh"
done
for e in ${ENVS[@]+"${ENVS[@]}"}; do
	case $e in *=*) printf 'export %q\n' "$e" ;; *) printf 'export %s=%q\n' "$e" "${!e-}" ;; esac >> "$RUN/env.sh"
done
SEED=$RUN/seed U=$SEED/etc/systemd/system
mkdir -p "$U/multi-user.target.wants" "$SEED/etc/modprobe.d" "$SEED/etc/tmpfiles.d" "$SEED/etc/systemd/system-generators"
NAMES=
for m in "${MODS[@]}"; do
	read -r -a words <<< "$m"
	NAMES+=" ${words[0]}"
	[ ${#words[@]} -gt 1 ] && echo "options ${words[*]}" >> "$SEED/etc/modprobe.d/sightline-vm.conf"
done
cat > "$RUN/config.sh" << CFG
SL_VM_MODULES='${NAMES# }'
SL_VM_CWD=$(printf %q "$PWD")
SL_VM_DEADLINE=$TIMEOUT
SL_VM_JOURNAL=${SL_VM_JOURNAL:-1}
CFG
cp "$HERE/guest/run-checks.sh" "$RUN/run-checks.sh"
# the trigger waits for the boot to settle so that checks see a running system
cat > "$U/sl-vm-trigger.service" << 'UNIT'
[Unit]
Description=Sightline VM checks trigger
After=multi-user.target
[Service]
Type=exec
ExecStart=/bin/sh -c 'systemctl is-system-running --wait >/dev/null; exec systemctl start --no-block sl-vm-checks.service'
UNIT
cat > "$U/sl-vm-checks.service" << 'UNIT'
[Unit]
Description=Sightline VM checks
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
ExecStart=/bin/bash /harness/run-checks.sh
TimeoutStartSec=infinity
UNIT
ln -s ../sl-vm-trigger.service "$U/multi-user.target.wants/"
# units that are slow, fail, or make no sense in a throwaway VM
MASK="getty.target serial-getty@ttyS0.service getty@tty1.service console-getty.service
 systemd-udev-settle.service networking.service systemd-networkd-wait-online.service
 NetworkManager-wait-online.service ldconfig.service systemd-hwdb-update.service
 systemd-journal-catalog-update.service systemd-update-done.service systemd-firstboot.service
 systemd-pstore.service systemd-timesyncd.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
 systemd-repart.service apt-daily.timer apt-daily-upgrade.timer man-db.timer fstrim.timer e2scrub_all.timer
 e2scrub_reap.service dpkg-db-backup.timer dev-hugepages.mount sys-kernel-debug.mount sys-kernel-tracing.mount
 sys-fs-fuse-connections.mount sys-kernel-config.mount modprobe@drm.service modprobe@fuse.service
 modprobe@configfs.service systemd-random-seed.service systemd-update-utmp.service
 systemd-update-utmp-runlevel.service systemd-journal-flush.service systemd-sysusers.service
 systemd-pcrphase.service systemd-pcrphase-sysinit.service systemd-pcrphase-initrd.service ${SL_VM_MASK:-}"
# services the host's admin enabled (databases, web servers...) stay off
for f in /etc/systemd/system/*.wants/*; do
	[ -e "$f" ] || continue
	n=${f##*/}
	case $n in dbus* | systemd-journald* | systemd-udevd* | systemd-logind*) continue ;; esac
	MASK+=" $n"
done
for n in $MASK; do [ -e "$U/$n" ] || ln -s /dev/null "$U/$n"; done
for g in /lib/systemd/system-generators/*; do
	case ${g##*/} in systemd-debug-generator | systemd-fstab-generator | systemd-run-generator) ;;
	*) ln -s /dev/null "$SEED/etc/systemd/system-generators/${g##*/}" ;; esac
done
# Debian's tmp.conf cleans /tmp at boot: it would empty the overlay's view of the host /tmp
ln -s /dev/null "$SEED/etc/tmpfiles.d/tmp.conf"

# --- boot ------------------------------------------------------------------------
# TCG by default: KVM inside CI runners (nested) is often present but broken
# (qemu aborts setting MSRs); SL_VM_ACCEL=kvm opts in
if [ "${SL_VM_ACCEL:-tcg}" = kvm ]; then ACCEL=kvm CPU=host; else ACCEL=tcg CPU=max; fi
# one vCPU unless the host has cores to spare: TCG vCPUs compete with the host
SMP=${SL_VM_SMP:-$([ "$(nproc)" -ge 4 ] && echo 2 || echo 1)}
APPEND="console=ttyS0 panic=-1 loglevel=4 systemd.unit=multi-user.target systemd.show_status=1 systemd.log_color=0"
# with TCG the TSC looks unstable to the kernel, which then falls back to a slow clock source
[ $ACCEL = tcg ] && APPEND+=" tsc=reliable"
QEMU=(qemu-system-x86_64 -accel $ACCEL -cpu $CPU -smp "$SMP" -m "${SL_VM_MEM:-1024}"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND ${SL_VM_APPEND:-}"
	-serial "file:$RUN/console.log"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$RUN,mount_tag=harness,security_model=none")
printf '%q ' "${QEMU[@]}" > "$RUN/qemu-cmdline"
T0=$(date +%s.%N)
timeout -k 5 "$TIMEOUT" "${QEMU[@]}" > "$RUN/qemu.log" 2>&1 &
QPID=$!
trap 'kill $QPID 2> /dev/null; wait $QPID; exit 125' INT TERM
wait $QPID
QRC=$?
T1=$(date +%s.%N)

# --- results -----------------------------------------------------------------
WALL=$(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.1f", b - a }')
BOOT=$( [ -r "$RUN/t_checks_start" ] && cat "$RUN/t_checks_start" || echo "?")
echo "vm: kernel $KVER, $ACCEL, $SMP vCPU; boot to checks ${BOOT}s (guest), ${WALL}s wall in total; results in $RUN"
RC=0
while IFS=$'\t' read -r name secs cmd; do
	d=$RUN/results/$name
	if [ -r "$d/rc" ]; then crc=$(cat "$d/rc"); else crc=none; fi
	case $crc in
	0) verdict=PASS ;;
	77) verdict=SKIP ;;
	124) verdict=TIMEOUT RC=1 ;;
	none) verdict=NOT-RUN RC=1 ;;
	*) verdict="FAIL(rc=$crc)" RC=1 ;;
	esac
	echo "vm: $verdict $name ($(cat "$d/seconds" 2> /dev/null || echo '?')s of ${secs}s)"
	if [ $QUIET = 0 ] || [ "$verdict" != PASS ]; then
		[ -s "$d/stdout" ] && sed "s/^/  $name| /" "$d/stdout"
		[ -s "$d/stderr" ] && sed "s/^/  $name! /" "$d/stderr"
	fi
done < "$RUN/checks.list"
if [ -r "$RUN/init-failed" ]; then
	echo "vm: guest init failed: $(cat "$RUN/init-failed")"
	RC=125
elif [ ! -r "$RUN/finished" ]; then
	if [ $QRC -eq 124 ] || [ $QRC -eq 137 ]; then
		echo "vm: the VM was killed at the ${TIMEOUT}s limit"
		RC=124
	else
		echo "vm: the guest stopped before finishing (qemu rc $QRC)"
		RC=125
	fi
	echo "--- console.log (tail)"
	tail -30 "$RUN/console.log"
fi
[ -s "$RUN/failed-units" ] && { echo "vm: failed units in the guest:"; sed 's/^/  /' "$RUN/failed-units"; }
exit $RC
