#!/bin/sh
# Runs one libFuzzer target for a bounded time over a fresh working corpus:
#   run_fuzz.sh FUZZER SECONDS WORKDIR [SEED_DIR_OR_GENERATOR]...
# A SEED argument that is an executable generator is run with a folder to fill;
# a folder is passed to libFuzzer as read-only seeds. Exit status is libFuzzer's:
# 0 only when it found no crash, leak, timeout or UB in the time given.
set -eu
fuzzer=$1 seconds=$2 work=$3
shift 3
rm -rf "$work"
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
dirs=""
for s in "$@"; do
	if [ -d "$s" ]; then
		dirs="$dirs $s"
	elif [ -x "$s" ]; then
		"$s" "$work/seeds"
	fi
done
: "${ASAN_OPTIONS:=detect_leaks=1:abort_on_error=1}"
: "${UBSAN_OPTIONS:=print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS UBSAN_OPTIONS
# shellcheck disable=SC2086
# libFuzzer reports a crash with exit code 77 by default, which meson reads as
# "skipped": make every finding a failure
exec "$fuzzer" -error_exitcode=1 -timeout_exitcode=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-262144}" \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" $dirs
