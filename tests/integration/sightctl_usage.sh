#!/bin/sh
# Wrong sightctl usage is refused before any bus is touched: exit status 2 and
# a message that says what is wrong. Usage: sightctl_usage.sh SIGHTCTL
set -u
bin=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0

# expect WANT_TEXT ARGS...: exit 2, stderr contains WANT_TEXT.
expect() {
	want=$1
	shift
	"$bin" "$@" >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 2 ] || ! grep -q -- "$want" "$tmp/err"; then
		echo "FAIL: sightctl $* -> exit $rc, stderr: $(cat "$tmp/err")"
		status=1
	else
		echo "ok: sightctl $* -> $(tail -n1 "$tmp/err")"
	fi
}

expect "Usage"
expect "negative number" auto -5
expect "not a D-Bus address" --address garbage status
expect "alternatives" --user --address unix:path=/nonexistent status
expect "takes one argument" use
expect "takes no argument" status extra
expect "positive number" --count 0 watch
exit $status
