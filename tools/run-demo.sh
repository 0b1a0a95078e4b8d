#!/usr/bin/env bash
# The main job (README): installs what it needs, builds, and runs sightlined on a
# default source and model with no camera attached, on a private D-Bus bus (the
# host's buses are left alone), and shows live results with `sightctl watch`.
#
#   tools/run-demo.sh [--seconds N] [--source URI] [-- SIGHTLINED_OPTIONS...]
#
# Models: ../shared when present (a MobileNet ladder on its test photos); otherwise
# MediaPipe's BlazeFace from PyPI (tools/fetch-blazeface.sh) on a synthetic source.
# --seconds: how long to watch (default: until Ctrl-C on a terminal, 30 s otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds= source_uri=
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--source) source_uri=$2; shift 2 ;;
	--) shift; extra+=("$@"); break ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) extra+=("$1"); shift ;;
	esac
done
if [ -z "$seconds" ]; then
	[ -t 0 ] && seconds=0 || seconds=30
fi

tools/install-deps.sh
build=${SL_BUILD_DIR:-$root/build}/demo
if [ ! -d "$build" ]; then
	meson setup "$build" -Dbuildtype=release -Dtests=false >/dev/null
fi
meson compile -C "$build" >/dev/null

run=$(mktemp -d "${TMPDIR:-/tmp}/sightline-demo.XXXXXX")
cleanup() {
	[ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	[ -n "${bus_pid:-}" ] && kill "$bus_pid" 2>/dev/null
	rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

shared=$(cd "$root/.." && pwd)/shared
args=(--config "$root/configs/sightline.conf")
if [ -d "$shared/models" ]; then
	echo "demo: MobileNet ladder from $shared/models"
	args+=(--ladder "$root/configs/ladder/manifest.json" --models-dir "$shared/models")
	[ -d "$shared/data/images" ] && args+=(--source "file:$shared/data/images")
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/sightline/models
	model=$(tools/fetch-blazeface.sh "$cache")
	echo "demo: no ../shared; BlazeFace face detector from PyPI: $model"
	cat >"$run/manifest.json" <<EOF
{
  "name": "blazeface",
  "task": "detection",
  "models_dir": "$cache",
  "preprocessing": { "fit": "letterbox", "resize": "bilinear", "size": [128, 128], "range": [-1, 1] },
  "variants": [
    { "name": "blazeface_short_range", "file": "$(basename "$model")", "precision": "fp16",
      "sparsity_kind": "dense", "sparsity": 0.0 }
  ]
}
EOF
	args+=(--ladder "$run/manifest.json" --models-dir "$cache" --source testsrc)
fi
[ -n "$source_uri" ] && args+=(--source "$source_uri")

# A private bus that allows everything: the demo needs no system policy installed.
cat >"$run/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$run/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$run/bus.conf" --fork --print-pid=3 3>"$run/bus.pid"
bus_pid=$(cat "$run/bus.pid")
address=unix:path=$run/bus

"$build/daemon/sightlined" "${args[@]}" --address "$address" "${extra[@]}" 2>"$run/daemon.log" &
daemon_pid=$!
ctl=("$build/tools/sightctl" --address "$address")
# Wait until the first variant is loaded and serving (State=running).
for _ in $(seq 1 300); do
	"${ctl[@]}" status 2>/dev/null | grep -q '^State: *running' && break
	kill -0 "$daemon_pid" 2>/dev/null || { cat "$run/daemon.log" >&2; exit 1; }
	sleep 0.1
done
"${ctl[@]}" status
echo
"${ctl[@]}" variants
echo
if [ "$seconds" = 0 ]; then
	"${ctl[@]}" watch
else
	"${ctl[@]}" watch --timeout "$seconds"
fi
echo
"${ctl[@]}" status
echo "demo: daemon log:"
tail -20 "$run/daemon.log"
