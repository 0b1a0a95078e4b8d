#!/bin/sh
# `sightline infer` with BlazeFace finds Grace Hopper's face, and only it, with
# both backends. Usage: sightline_detect.sh SIGHTLINE
set -u
bin=$1
shared=${SL_SHARED_DIR:-}
model=$shared/models/blazeface_short_range.tflite
image=$shared/data/images/grace_hopper.bmp
for f in "$model" "$image"; do
	if [ -z "$shared" ] || [ ! -r "$f" ]; then
		echo "SKIP: $f not available (set SL_SHARED_DIR to the shared data folder)"
		exit 77
	fi
done
status=0
for backend in ref xnnpack; do
	out=$("$bin" infer "$model" "$image" --backend "$backend") || {
		echo "FAIL: sightline infer --backend $backend exited with $?"
		status=1
		continue
	}
	echo "$out"
	# The face spans about x 167..366, y 143..343 of the 512x600 photo.
	printf '%s\n' "$out" | awk -v b="$backend" '
		/^  [0-9]+\. class/ {
			n++
			gsub(/[(),-]/, " ")
			score = $5; x0 = $7; y0 = $8; x1 = $9; y1 = $10
		}
		END {
			if (n != 1) { printf "FAIL: %s: %d detections, expected 1\n", b, n; exit 1 }
			if (score < 0.8 || x0 < 140 || x0 > 195 || y0 < 115 || y0 > 170 ||
			    x1 < 340 || x1 > 395 || y1 < 315 || y1 > 370) {
				printf "FAIL: %s: score %s box %s,%s-%s,%s\n", b, score, x0, y0, x1, y1; exit 1
			}
			printf "ok: %s: face at %s,%s-%s,%s score %s\n", b, x0, y0, x1, y1, score
		}' || status=1
done
exit $status
