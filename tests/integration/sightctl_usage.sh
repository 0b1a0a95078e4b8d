#!/bin/sh
# Wrong sightctl usage is refused before any bus is touched: exit status 2 and
# a message that says what is wrong; a bus without the daemon is named as
# such (exit status 1). Usage: sightctl_usage.sh SIGHTCTL
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

# A bus without the daemon: say so, not the bus's "not provided by any
# .service files". A private bus; the host's are never touched.
if command -v dbus-daemon >/dev/null 2>&1; then
	cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:dir=$tmp</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/></policy></busconfig>
EOF
	dbus-daemon --config-file="$tmp/bus.conf" --print-address=3 --print-pid=4 --fork 3>"$tmp/addr" 4>"$tmp/pid"
	"$bin" --address "$(cat "$tmp/addr")" status >/dev/null 2>"$tmp/err"
	rc=$?
	kill "$(cat "$tmp/pid")" 2>/dev/null
	if [ "$rc" -ne 1 ] || ! grep -q "sightlined is not running" "$tmp/err"; then
		echo "FAIL: sightctl status without a daemon -> exit $rc, stderr: $(cat "$tmp/err")"
		status=1
	else
		echo "ok: sightctl status without a daemon -> $(cat "$tmp/err")"
	fi
else
	echo "note: dbus-daemon not found, skipped the no-daemon check"
fi
exit $status
