#!/bin/sh
# `sightline infer` on grace_hopper.bmp names "military uniform" first with
# both backends (issue 2 acceptance). Usage: sightline_infer.sh SIGHTLINE
set -u
bin=$1
shared=${SL_SHARED_DIR:-}
model=$shared/models/mobilenet_v2_1.0_224_quant.tflite
image=$shared/data/images/grace_hopper.bmp
labels=$shared/models/imagenet_labels.txt
for f in "$model" "$image" "$labels"; do
	if [ -z "$shared" ] || [ ! -r "$f" ]; then
		echo "SKIP: $f not available (set SL_SHARED_DIR to the shared data folder)"
		exit 77
	fi
done
status=0
for backend in ref xnnpack; do
	out=$("$bin" infer "$model" "$image" --labels "$labels" --backend "$backend") || {
		echo "FAIL: sightline infer --backend $backend exited with $?"
		status=1
		continue
	}
	echo "$out"
	first=$(printf '%s\n' "$out" | grep -m1 '^  1\. ')
	case "$first" in
	*" military uniform") echo "ok: $backend: $first" ;;
	*) echo "FAIL: $backend: first class is '$first', expected military uniform"; status=1 ;;
	esac
done
exit $status
