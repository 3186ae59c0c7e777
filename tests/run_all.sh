#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run tcp_stealth selftest programs and print one TAP 13 stream, the way
# the kselftest runner does: each program's own TAP is nested with a "# "
# prefix and followed by "ok N selftests: tcp_stealth: NAME" or "not ok ...".
#
#   tests/run_all.sh [PROG...]     default: every program in TEST_GEN_PROGS
#
# Meant to run as root in the test VM, with the module loaded:
#   scripts/vm-run -- tests/run_all.sh
# Environment: OUTPUT (where the binaries are, default tests/),
# TCP_STEALTH_TEST_TIMEOUT (seconds per program, default 1200),
# TCP_STEALTH_TEST_JOBS (units run at once, default 2 per CPU).
# Exits 0 only if every program passed (or skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUTPUT:-$here}
per_prog_timeout=${TCP_STEALTH_TEST_TIMEOUT:-1200}

if [ $# -gt 0 ]; then
	progs=("$@")
else
	read -r -a progs <<<"$(make -s --no-print-directory -C "$here" print-progs)"
fi

# Units of work: a program, or, for a program whose fixture has an ipv4 and
# an ipv6 variant, each half of it (the harness's -V/-v filters): the halves
# run side by side. A unit is named PROG or PROG.ipv4 / PROG.ipv6.
units=()
for prog in "${progs[@]}"; do
	name=$(basename "$prog")
	if grep -qE 'FIXTURE_VARIANT_ADD\([a-z_]*, ipv6\)|include "stealth_fixture.h"' \
		"$here/$name.c" 2>/dev/null; then
		units+=("$name.ipv4" "$name.ipv6")
	else
		units+=("$name")
	fi
done

echo "TAP version 13"
echo "1..${#units[@]}"
n=0 failed=0
# The programs make their own namespaces, so units can run side by side:
# most of their time is spent waiting (for replies that must not come, for
# retransmissions, for deadlines), so more of them than CPUs
# (TCP_STEALTH_TEST_JOBS, default 2 per CPU).
jobs=${TCP_STEALTH_TEST_JOBS:-$(($(nproc) * 2))}
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
run_one() {
	local unit=$1 prog=${1%.ipv[46]} rc=0 t0=$SECONDS args=()
	case $unit in
	*.ipv4) args=(-V ipv6) ;;
	*.ipv6) args=(-v ipv6) ;;
	esac
	(cd "$out" && timeout -k 10 "$per_prog_timeout" "./$prog" "${args[@]}") \
		>"$logdir/$unit.log" 2>&1 || rc=$?
	echo "$rc" >"$logdir/$unit.rc"
	echo "$((SECONDS - t0))" >"$logdir/$unit.time"
}
# Longest first (source size as a guess), so the last to start is short.
for unit in $(for u in "${units[@]}"; do
		echo "$(wc -c < "$here/${u%.ipv[46]}.c" 2>/dev/null || echo 0) $u"
	done | sort -rn | cut -d' ' -f2); do
	[ -x "$out/${unit%.ipv[46]}" ] || continue
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	run_one "$unit" &
done
wait

for unit in "${units[@]}"; do
	n=$((n + 1))
	prog=${unit%.ipv[46]}
	echo "# selftests: tcp_stealth: $unit"
	if [ ! -x "$out/$prog" ]; then
		echo "# $out/$prog: not built (make -C tests)"
		echo "not ok $n selftests: tcp_stealth: $unit # not built"
		failed=$((failed + 1))
		continue
	fi
	sed 's/^/# /' "$logdir/$unit.log"
	rc=$(cat "$logdir/$unit.rc")
	echo "# $unit: $(cat "$logdir/$unit.time") s"
	case $rc in
	0) echo "ok $n selftests: tcp_stealth: $unit" ;;
	4) echo "ok $n selftests: tcp_stealth: $unit # SKIP" ;;
	124) echo "not ok $n selftests: tcp_stealth: $unit # TIMEOUT ${per_prog_timeout}s"
	     failed=$((failed + 1)) ;;
	*) echo "not ok $n selftests: tcp_stealth: $unit # exit=$rc"
	   failed=$((failed + 1)) ;;
	esac
done
[ "$failed" -eq 0 ]
