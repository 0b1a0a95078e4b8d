#!/usr/bin/env bash
# The project's test command (README, CI): installs what the tests need, then builds
# and tests four configurations and prints meson's totals as one line at the end:
#   1. native gcc -Werror: unit, integration and VM suites
#   2. clang with ASan+UBSan: unit and integration suites, bounded libFuzzer runs
#   3. aarch64 cross build: unit suite under qemu-user
# Environment: SL_BUILD_DIR (default ./build), SL_FUZZ_SECONDS (default 60),
# SL_SKIP=cross,vm,asan (comma list of stages to leave out).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
builds=${SL_BUILD_DIR:-$root/build}
fuzz_seconds=${SL_FUZZ_SECONDS:-60}
skip=",${SL_SKIP:-},"
jobs=$(nproc)

tools/install-deps.sh --cross --vm || exit 1

passed=0 failed=0 skipped=0
stage_failed=()

# Adds one `meson test` run's summary to the totals. Meson prints lines such as
# "Ok:                 12" at the end of every run.
count() {
	local log=$1 ok fail xfail xpass to sk
	ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -1)
	xfail=$(awk '/^Expected Fail:/ {print $3}' "$log" | tail -1)
	fail=$(awk '/^Fail:/ {print $2}' "$log" | tail -1)
	xpass=$(awk '/^Unexpected Pass:/ {print $3}' "$log" | tail -1)
	to=$(awk '/^Timeout:/ {print $2}' "$log" | tail -1)
	sk=$(awk '/^Skipped:/ {print $2}' "$log" | tail -1)
	passed=$((passed + ${ok:-0} + ${xfail:-0}))
	failed=$((failed + ${fail:-0} + ${xpass:-0} + ${to:-0}))
	skipped=$((skipped + ${sk:-0}))
}

# run_stage NAME SETUP_ARGS... -- TEST_ARGS...
run_stage() {
	local name=$1 dir=$builds/$1
	shift
	local setup=() tests=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do setup+=("$1"); shift; done
	shift
	tests=("$@")
	echo "=== $name: setup"
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "${setup[@]}" >"$dir.setup.log" 2>&1
	else
		mkdir -p "$builds"
		meson setup "$dir" "${setup[@]}" >"$dir.setup.log" 2>&1
	fi || { cat "$dir.setup.log"; stage_failed+=("$name (setup)"); failed=$((failed + 1)); return; }
	echo "=== $name: build"
	if ! meson compile -C "$dir" -j "$jobs" >"$dir.build.log" 2>&1; then
		tail -60 "$dir.build.log"
		stage_failed+=("$name (build)")
		failed=$((failed + 1))
		return
	fi
	echo "=== $name: test ${tests[*]}"
	meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "${tests[@]}" 2>&1 | tee "$dir.test.log"
	[ "${PIPESTATUS[0]}" = 0 ] || stage_failed+=("$name (tests)")
	count "$dir.test.log"
}

run_stage native -Dwerror=true -Dbuildtype=debugoptimized -- --suite unit --suite integration \
	$([[ $skip == *,vm,* ]] || echo --suite vm)

if [[ $skip != *,asan,* ]]; then
	CC=clang run_stage asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dfuzz=true -Dfuzz_seconds="$fuzz_seconds" -Dvm_tests=false -- \
		--suite unit --suite integration --suite fuzz
fi

if [[ $skip != *,cross,* ]]; then
	run_stage aarch64 --cross-file "$root/configs/cross/aarch64-linux-gnu.ini" -Dwerror=true \
		-Dvm_tests=false -- --suite unit
fi

if [ ${#stage_failed[@]} -gt 0 ]; then
	echo "failed stages: ${stage_failed[*]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ ${#stage_failed[@]} = 0 ]
