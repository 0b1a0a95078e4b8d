#!/bin/bash
# The daemon on a real system (issue 4): runs in the shared VM boot as root,
# with systemd, the system bus and vivid at /dev/video0. Installs sightlined
# with its unit, policy and user (the overlay throws it all away), then checks:
# start and State=running, real results from vivid, policy (nobody refused, a
# member of group sightline allowed), reload keeps serving, Disconnect ->
# degraded -> running, a SIGSTOPped daemon restarted by the watchdog, the
# hardening score, and a clean stop.
set -u
B=${SL_BUILD_ROOT:?}
S=${SL_SOURCE_ROOT:?}
SHARED=${SL_SHARED_DIR:-$S/../shared}
OUT=${SL_VM_OUT:-/tmp}
NAME=org.sightline.Sightline1
OBJ=/org/sightline/Sightline1
fails=0

log() { printf '%s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*"; }
ok() { log "ok: $*"; }
bad() { log "FAIL: $*"; fails=$((fails + 1)); }
prop() { busctl --system get-property $NAME $OBJ $NAME "$1" 2>/dev/null | sed -e 's/^[a-z] //' -e 's/^"//' -e 's/"$//'; }
# wait_prop PROP VALUE SECONDS
wait_prop() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ "$(prop "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
seq_now() { busctl --system call $NAME $OBJ $NAME GetLatestResult 2>/dev/null | awk '{print $2}'; }
cleanup() {
	systemctl stop sightline.service >/dev/null 2>&1
	journalctl -b -u sightline.service --no-pager > "$OUT/sightline.journal" 2>&1
}
trap cleanup EXIT

if [ ! -r "$SHARED/models/mobilenet_v1_0.25_128_quant.tflite" ]; then
	echo "skip: shared models not found under $SHARED" >&2
	exit 77
fi
[ -c /dev/video0 ] || { echo "skip: no /dev/video0 (vivid)" >&2; exit 77; }

# --- install ---------------------------------------------------------------
meson install -C "$B" --no-rebuild --quiet > "$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
PREFIX=$(meson introspect "$B" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
# dbus-daemon reads policy from /usr/share and /etc only; systemd finds units,
# sysusers and tmpfiles under /usr/local/lib too.
[ "$PREFIX" = /usr ] || cp "$PREFIX/share/dbus-1/system.d/$NAME.conf" /etc/dbus-1/system.d/
systemd-sysusers && systemd-tmpfiles --create >/dev/null 2>&1
getent passwd sightline >/dev/null && ok "system user sightline created" || bad "no sightline user"
conf=$PREFIX/etc/sightline/sightline.conf
sed -i -e "s|^ModelsDir=.*|ModelsDir=$SHARED/models|" -e 's|^Variant=.*||' "$conf"
# the smallest model keeps the TCG guest responsive; a shorter watchdog keeps the check short
printf '[daemon]\nVariant=mobilenet_v1_0.25_128\n' >> "$conf"
mkdir -p /etc/systemd/system/sightline.service.d
{
	echo "[Service]"
	echo "WatchdogSec=6s"
	[ -n "${LD_LIBRARY_PATH:-}" ] && echo "Environment=LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
} > /etc/systemd/system/sightline.service.d/vm-test.conf
systemctl daemon-reload
busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null

# --- start -----------------------------------------------------------------
systemctl start sightline.service || bad "systemctl start"
if wait_prop State running 90; then ok "State=running"; else bad "State=$(prop State) after start"; fi
[ "$(prop SourceState)" = streaming ] && ok "SourceState=streaming" || bad "SourceState=$(prop SourceState)"
sleep 3
s1=$(seq_now)
res=$(busctl --system call $NAME $OBJ $NAME GetLatestResult 2>&1)
echo "$res" > "$OUT/result.txt"
if [ -n "$s1" ] && [ "$s1" -gt 0 ] && echo "$res" | grep -q mobilenet_v1_0.25_128; then
	ok "results from vivid frames: $res"
else
	bad "no result: $res"
fi
"$B/tools/sightctl" status > "$OUT/status.txt" 2>&1 && ok "sightctl status" || bad "sightctl status"

# --- policy ----------------------------------------------------------------
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
if as_nobody busctl --system call $NAME $OBJ $NAME ListVariants >/dev/null 2>&1; then
	ok "nobody may ListVariants"
else bad "nobody cannot ListVariants"; fi
if out=$(as_nobody busctl --system call $NAME $OBJ $NAME SetAuto d 500 2>&1); then
	bad "nobody could SetAuto"
else ok "nobody refused: $out"; fi
useradd -M -N -G sightline sltest 2>/dev/null
if out=$(setpriv --reuid=sltest --regid=nogroup --init-groups busctl --system call $NAME $OBJ $NAME SetAuto d 500 2>&1); then
	ok "a member of group sightline may SetAuto"
else bad "group sightline refused: $out"; fi
[ "$(prop Mode)" = auto ] && ok "Mode=auto" || bad "Mode=$(prop Mode)"
busctl --system call $NAME $OBJ $NAME SetVariant s mobilenet_v1_0.25_128 >/dev/null || bad "root SetVariant"

# --- reload keeps serving --------------------------------------------------
s1=$(seq_now)
systemctl reload sightline.service || bad "systemctl reload"
sleep 3
s2=$(seq_now)
if [ "$(prop State)" = running ] && [ "${s2:-0}" -gt "${s1:-0}" ]; then
	ok "reload keeps serving (result $s1 -> $s2)"
else bad "after reload: State=$(prop State), result $s1 -> $s2"; fi

# --- camera unplugged and back ---------------------------------------------
echo vivid.0 > /sys/bus/platform/drivers/vivid/unbind
if wait_prop State degraded 30; then ok "unplugged: State=degraded ($(prop SourceState))"; else bad "unplugged: State=$(prop State)"; fi
pid1=$(systemctl show -p MainPID --value sightline.service)
sleep 8 # longer than the watchdog: backoff is legitimate, no restart
pid2=$(systemctl show -p MainPID --value sightline.service)
[ "$pid1" = "$pid2" ] && ok "no watchdog restart while the camera is away" || bad "restarted while in backoff"
echo vivid.0 > /sys/bus/platform/drivers/vivid/bind
if wait_prop State running 60; then ok "replugged: State=running"; else bad "replugged: State=$(prop State) $(prop SourceState)"; fi

# --- hung daemon: the watchdog restarts it --------------------------------
pid1=$(systemctl show -p MainPID --value sightline.service)
kill -STOP "$pid1"
restarted=0
for ((i = 0; i < 60; i++)); do
	sleep 1
	pid2=$(systemctl show -p MainPID --value sightline.service)
	if [ -n "$pid2" ] && [ "$pid2" != 0 ] && [ "$pid2" != "$pid1" ]; then restarted=1; break; fi
done
if [ $restarted = 1 ]; then ok "SIGSTOPped daemon restarted by the watchdog ($pid1 -> $pid2)"; else bad "no watchdog restart"; fi
if wait_prop State running 90; then ok "running again after the restart"; else bad "State=$(prop State) after restart"; fi

# --- hardening ---------------------------------------------------------------
systemd-analyze security sightline.service > "$OUT/security.txt" 2>&1
score=$(awk '/Overall exposure level/ {print $(NF-2)}' "$OUT/security.txt")
if awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.5) }'; then ok "systemd-analyze security: $score"; else bad "exposure $score"; fi

# --- stop ------------------------------------------------------------------
systemctl stop sightline.service
st=$(systemctl show -p Result --value sightline.service)
[ "$st" = success ] && ok "clean stop" || bad "stop result: $st"

log "$fails failure(s)"
[ $fails = 0 ]
