#!/usr/bin/env bash
# Fetches a real model on a machine without ../shared: MediaPipe's BlazeFace short-range
# face detector (Apache-2.0), shipped inside the mediapipe wheel on PyPI.
# Usage: tools/fetch-blazeface.sh DEST_DIR   -> prints the path of the .tflite file
set -euo pipefail
dest=${1:?usage: fetch-blazeface.sh DEST_DIR}
out=$dest/face_detection_short_range.tflite
[ -s "$out" ] && { echo "$out"; exit 0; }
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 0.10.14 is the last release whose wheel carries the bundled .tflite modules; any
# CPython/platform tag will do since we only unpack a data file.
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
	--platform manylinux2014_x86_64 -d "$tmp" "mediapipe==0.10.14" >&2
python3 - "$tmp" "$out" <<'PY'
import glob, sys, zipfile
whl = glob.glob(sys.argv[1] + "/mediapipe-*.whl")[0]
with zipfile.ZipFile(whl) as z:
    data = z.read("mediapipe/modules/face_detection/face_detection_short_range.tflite")
open(sys.argv[2], "wb").write(data)
PY
echo "$out"
