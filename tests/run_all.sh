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
# TCP_STEALTH_TEST_TIMEOUT (seconds per program, default 600).
# Exits 0 only if every program passed (or skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUTPUT:-$here}
per_prog_timeout=${TCP_STEALTH_TEST_TIMEOUT:-600}

if [ $# -gt 0 ]; then
	progs=("$@")
else
	read -r -a progs <<<"$(make -s --no-print-directory -C "$here" print-progs)"
fi

echo "TAP version 13"
echo "1..${#progs[@]}"
n=0 failed=0
# The programs make their own namespaces, so they can run side by side: up
# to one per CPU (TCP_STEALTH_TEST_JOBS), each into its own log, printed in
# order once all are done.
jobs=${TCP_STEALTH_TEST_JOBS:-$(nproc)}
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
run_one() {
	local name=$1 rc=0 t0=$SECONDS
	(cd "$out" && timeout -k 10 "$per_prog_timeout" "./$name") \
		>"$logdir/$name.log" 2>&1 || rc=$?
	echo "$rc" >"$logdir/$name.rc"
	echo "$((SECONDS - t0))" >"$logdir/$name.time"
}
# Longest first (source size as a guess), so the last to start is short.
for prog in $(cd "$here" && for p in "${progs[@]}"; do
		b=$(basename "$p"); echo "$(wc -c < "$b.c" 2>/dev/null || echo 0) $b"
	done | sort -rn | cut -d' ' -f2); do
	name=$(basename "$prog")
	[ -x "$out/$name" ] || continue
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n || true
	done
	run_one "$name" &
done
wait

for prog in "${progs[@]}"; do
	n=$((n + 1))
	name=$(basename "$prog")
	echo "# selftests: tcp_stealth: $name"
	if [ ! -x "$out/$name" ]; then
		echo "# $out/$name: not built (make -C tests)"
		echo "not ok $n selftests: tcp_stealth: $name # not built"
		failed=$((failed + 1))
		continue
	fi
	sed 's/^/# /' "$logdir/$name.log"
	rc=$(cat "$logdir/$name.rc")
	echo "# $name: $(cat "$logdir/$name.time") s"
	case $rc in
	0) echo "ok $n selftests: tcp_stealth: $name" ;;
	4) echo "ok $n selftests: tcp_stealth: $name # SKIP" ;;
	124) echo "not ok $n selftests: tcp_stealth: $name # TIMEOUT ${per_prog_timeout}s"
	     failed=$((failed + 1)) ;;
	*) echo "not ok $n selftests: tcp_stealth: $name # exit=$rc"
	   failed=$((failed + 1)) ;;
	esac
done
[ "$failed" -eq 0 ]
