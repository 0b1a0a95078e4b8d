#!/bin/bash
# Runs in the guest as sl-vm-checks.service once boot has finished: every
# check of /harness/checks.list in turn (NAME<TAB>SECONDS<TAB>COMMAND), each
# with its own time limit, results in /harness/results/NAME/{stdout,stderr,rc,
# seconds}. The unit powers the VM off when this returns.
H=/harness
. $H/config.sh
[ -r $H/env.sh ] && . $H/env.sh
systemctl is-system-running > $H/system-state 2>&1
cut -d' ' -f1 /proc/uptime > $H/t_checks_start
cd "$SL_VM_CWD" 2>/dev/null || cd /
mkdir -p $H/results
while IFS=$'\t' read -r name secs cmd; do
	[ -n "$name" ] || continue
	out=$H/results/$name
	mkdir -p "$out"
	# the whole boot has a hard limit on the host side: never outlive it
	left=$(( SL_VM_DEADLINE - $(cut -d. -f1 /proc/uptime) - 15 ))
	[ "$secs" -le "$left" ] || secs=$left
	if [ "$secs" -lt 1 ]; then echo 124 > "$out/rc"; echo "no time left" > "$out/stderr"; continue; fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	SL_VM_CHECK=$name SL_VM_OUT=$out timeout -k 5 "$secs" /bin/bash -c "$cmd" \
		> "$out/stdout" 2> "$out/stderr" < /dev/null
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$out/seconds"
	echo $rc > "$out/rc"
	sync
done < $H/checks.list
systemctl list-units --failed --no-legend --plain > $H/failed-units 2>&1
[ "${SL_VM_JOURNAL:-0}" = 1 ] && journalctl -b --no-pager -o short-monotonic > $H/journal.txt 2>&1
dmesg > $H/dmesg.txt 2>&1
echo done > $H/finished
sync
exit 0
