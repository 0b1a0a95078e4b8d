#!/bin/sh
# Bad input to `sightline` gives a message on stderr and a non-zero exit code,
# never a crash (exit code >= 128 means a signal). Usage: sightline_errors.sh SIGHTLINE
set -u
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# expect WANT_RC ARGS...: run sightline, check the exit code and that stderr explains.
expect() {
	want=$1
	shift
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne "$want" ] || [ ! -s "$tmp/err" ]; then
		echo "FAIL: sightline $* -> exit $rc (want $want), stderr: $(cat "$tmp/err")"
		status=1
	else
		echo "ok: sightline $* -> $rc: $(head -n1 "$tmp/err")"
	fi
}

head -c 4096 /dev/urandom >"$tmp/random.tflite"
printf 'TFL3' >"$tmp/tiny.tflite"
head -c 3000 /dev/urandom >"$tmp/random.jpg"
printf 'P6\n64 64\n255\nxyz' >"$tmp/truncated.ppm"
printf 'BM' >"$tmp/truncated.bmp"
mkdir "$tmp/ds"
printf 'a.jpg 1\nbroken line with words\n' >"$tmp/ds/labels.txt"

expect 2
expect 2 frobnicate
expect 2 infer
expect 1 inspect "$tmp/missing.tflite"
expect 1 inspect "$tmp/random.tflite"
expect 1 inspect "$tmp/tiny.tflite"
expect 1 inspect "$tmp"
expect 1 infer "$tmp/random.tflite" "$tmp/random.jpg"

shared=${SL_SHARED_DIR:-}
model=$shared/models/mobilenet_v1_0.25_128_quant.tflite
if [ -n "$shared" ] && [ -r "$model" ]; then
	expect 2 infer "$model" "$tmp/random.jpg" --backend gpu
	expect 2 infer "$model" "$tmp/random.jpg" --threads 0
	expect 2 infer "$model" "$tmp/random.jpg" --crop 1.5
	expect 2 infer "$model" "$tmp/random.jpg" --input-range 1
	expect 1 infer "$model" "$tmp/random.jpg"
	expect 1 infer "$model" "$tmp/truncated.ppm"
	expect 1 infer "$model" "$tmp/truncated.bmp"
	expect 1 infer "$model" "$tmp/missing.jpg"
	expect 1 infer "$model" "$tmp/random.jpg" --labels "$tmp/missing.txt"
	expect 1 eval "$model" "$tmp/ds"
	expect 1 eval "$model" "$tmp/missing"

	# A set with one unreadable image: the rest is measured, the image named
	# and counted, the exit status 1.
	mkdir "$tmp/ds2"
	cp "$shared/data/images/cat.bmp" "$tmp/ds2/a.bmp"
	cp "$tmp/random.jpg" "$tmp/ds2/b.jpg"
	printf 'a.bmp 1\nb.jpg 2\n' >"$tmp/ds2/labels.txt"
	expect 1 eval "$model" "$tmp/ds2" --json
	if ! grep -q '"images":1' "$tmp/out" || ! grep -q '"unreadable":1' "$tmp/out" ||
		! grep -q 'b.jpg' "$tmp/err"; then
		echo "FAIL: eval with an unreadable image: $(cat "$tmp/out" "$tmp/err")"
		status=1
	fi

	# fast numerics exist only on the xnnpack backend: said, and reported as tflite.
	"$bin" infer "$model" "$shared/data/images/cat.bmp" --backend ref --numerics fast --json \
		>"$tmp/out" 2>"$tmp/err"
	if ! grep -q '"numerics":"tflite"' "$tmp/out" || ! grep -q 'changes nothing' "$tmp/err"; then
		echo "FAIL: --numerics fast with --backend ref: $(cat "$tmp/out" "$tmp/err")"
		status=1
	fi

	# compress: a variant listed twice (refused before any work), --out naming
	# a file (refused before calibration).
	expect 2 compress "$model" --calib "$tmp/ds2" --out "$tmp/L" --variants int8,fp32,int8
	expect 2 compress "$model" --calib "$tmp/ds2" --out "$tmp/L" --method minmax --percentile 99.9
	# Options that change nothing for a subcommand are refused, not ignored.
	expect 2 compress "$model" --calib "$tmp/ds2" --out "$tmp/L" --nms hard
	expect 2 compress "$model" --calib "$tmp/ds2" --out "$tmp/L" --json
	expect 2 eval "$model" "$tmp/ds2" --top 3
	expect 2 bench "$tmp/L" "$tmp/ds2" --labels "$tmp/ds2/labels.txt"
	# The manifest says how calibration preprocessed its images, for the daemon.
	if "$bin" compress "$model" --calib "$tmp/ds2" --out "$tmp/M" --variants fp32 --fit stretch \
		>"$tmp/out" 2>"$tmp/err"; then
		tr -d ' \n' <"$tmp/M/manifest.json" >"$tmp/manifest"
		if ! grep -q '"fit":"stretch"' "$tmp/manifest" || ! grep -q '"resize":"area"' "$tmp/manifest"; then
			echo "FAIL: compress --fit stretch: manifest preprocessing: $(cat "$tmp/manifest")"
			status=1
		fi
	else
		echo "FAIL: compress --variants fp32 --fit stretch: $(cat "$tmp/err")"
		status=1
	fi
	# --calib-limit spreads its picks over the list: of a b c d it takes a and
	# c (the first two would include the corrupt b.jpg).
	mkdir "$tmp/ds4"
	cp "$shared/data/images/cat.bmp" "$tmp/ds4/a.bmp"
	cp "$shared/data/images/cat.bmp" "$tmp/ds4/c.bmp"
	cp "$tmp/random.jpg" "$tmp/ds4/b.jpg"
	cp "$tmp/random.jpg" "$tmp/ds4/d.jpg"
	printf 'a.bmp 1\nb.jpg 2\nc.bmp 3\nd.jpg 4\n' >"$tmp/ds4/labels.txt"
	if ! "$bin" compress "$model" --calib "$tmp/ds4" --calib-limit 2 --out "$tmp/N" --variants fp32 \
		>"$tmp/out" 2>"$tmp/err" || grep -q 'b.jpg\|d.jpg' "$tmp/err" ||
		! grep -q '2 calibration inputs' "$tmp/err"; then
		echo "FAIL: compress --calib-limit 2 should take a.bmp and c.bmp: $(cat "$tmp/err")"
		status=1
	fi
	touch "$tmp/afile"
	expect 1 compress "$model" --calib "$tmp/ds2" --out "$tmp/afile" --variants fp32
	grep -q 'not a directory' "$tmp/err" || {
		echo "FAIL: compress --out FILE: $(cat "$tmp/err")"
		status=1
	}
else
	echo "note: $model not available, skipped the checks that need a valid model"
fi
exit $status
