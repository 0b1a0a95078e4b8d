#!/bin/sh
# `sightline eval` top-1 within 2 points of the independent reference figure:
# ArmNN CpuRef's, from ../shared/reference/MODEL.DATASET.txt, or REF_TOP1 (a
# fraction) for models whose figure is not precomputed there.
# Usage: sightline_accuracy.sh SIGHTLINE MODEL DATASET LABEL_OFFSET CROP [REF_TOP1]
set -u
bin=$1 model=$2 dataset=$3 offset=$4 crop=$5 ref_top1=${6:-} backend=xnnpack
shared=${SL_SHARED_DIR:-}
mfile=$shared/models/$model.tflite
dir=$shared/data/$dataset
ref=$shared/reference/$model.$dataset.txt
[ -n "$ref_top1" ] && ref=
for f in "$mfile" "$dir/labels.txt" ${ref:+"$ref"}; do
	if [ -z "$shared" ] || [ ! -r "$f" ]; then
		echo "SKIP: $f not available (set SL_SHARED_DIR to the shared data folder)"
		exit 77
	fi
done
out=$("$bin" eval "$mfile" "$dir" --label-offset "$offset" --crop "$crop" --backend "$backend" --json) || {
	echo "FAIL: sightline eval exited with $?"
	exit 1
}
echo "$out"
ours=$(printf '%s\n' "$out" | sed -n 's/.*"top1" *: *\([0-9.eE+-]*\).*/\1/p')
if [ -n "$ref_top1" ]; then
	theirs=$ref_top1
	echo "reference: top1=$theirs (given)"
else
	theirs=$(sed -n 's/.* top1=\([0-9.]*\).*/\1/p' "$ref")
	echo "reference: $(cat "$ref")"
fi
if [ -z "$ours" ] || [ -z "$theirs" ]; then
	echo "FAIL: could not read top-1 (ours '$ours', reference '$theirs')"
	exit 1
fi
awk -v a="$ours" -v b="$theirs" 'BEGIN {
	d = (a - b) * 100; if (d < 0) d = -d
	printf "top-1 %.2f%% vs reference %.2f%%: %.2f points apart (limit 2)\n", a * 100, b * 100, d
	exit !(d <= 2)
}'
