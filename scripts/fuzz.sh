#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fuzz the protocol crate: the cargo-fuzz targets in fuzz/ (nightly
# toolchain, installed by scripts/setup.sh). Builds every target once, then
# runs each for SECONDS.
#
#   scripts/fuzz.sh [SECONDS [TARGET...]]
#
# SECONDS: $FUZZ_SECONDS, else 60 (make check passes a few). TARGETs: all of
# `cargo fuzz list` by default. Each target reads the seeds in
# fuzz/corpus/TARGET (never written) and what earlier runs found in
# build/fuzz/corpus/TARGET (where new inputs go); a crashing input is saved
# in build/fuzz/artifacts/TARGET/, the log in build/fuzz/TARGET.log.
#
# Prints one line per target, "fuzz: TARGET: ok, N runs in S s" or
# "fuzz: TARGET: CRASH ..." with the input's path and the panic message,
# then "fuzz: N runs in total, N ok, N crashed". Exits 1 if the build failed
# or any target crashed. Reproduce a crash with
#   cargo +nightly fuzz run -s none TARGET build/fuzz/artifacts/TARGET/crash-...
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
secs=${1:-${FUZZ_SECONDS:-60}}
shift || true
case $secs in
'' | *[!0-9]* | 0) echo "fuzz: SECONDS must be a whole number >= 1, not '$secs'" >&2; exit 2 ;;
esac
out=$top/build/fuzz
mkdir -p "$out"

# -s none: src/proto forbids unsafe code, so AddressSanitizer would find
# nothing that bounds checks do not; without it, each run goes further.
# cargo-fuzz builds with debug assertions and overflow checks on.
if ! cargo +nightly fuzz build -s none >"$out/build.log" 2>&1; then
	cat "$out/build.log"
	echo "fuzz: build failed (see build/fuzz/build.log)"
	exit 1
fi
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin=$top/fuzz/target/$triple/release

if [ $# -gt 0 ]; then
	targets=("$@")
else
	mapfile -t targets < <(cargo +nightly fuzz list)
fi

total=0 ok=0 crashed=0
for t in "${targets[@]}"; do
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	seeds=()
	[ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
	rc=0
	"$bin/$t" -max_total_time="$secs" -timeout=10 \
		-artifact_prefix="$out/artifacts/$t/" \
		"$out/corpus/$t" "${seeds[@]}" >"$out/$t.log" 2>&1 || rc=$?
	# "Done 123456 runs in 3 second(s)"
	read -r runs took < <(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' \
		"$out/$t.log" | tail -n 1) || true
	runs=${runs:-0} took=${took:-$secs}
	total=$((total + runs))
	if [ "$rc" = 0 ]; then
		ok=$((ok + 1))
		echo "fuzz: $t: ok, $runs runs in $took s"
	else
		crashed=$((crashed + 1))
		input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out/$t.log" | tail -n 1)
		echo "fuzz: $t: CRASH (exit $rc), input saved as ${input:-?} (log build/fuzz/$t.log)"
		grep -m 3 -A 3 'panicked at' "$out/$t.log" | sed 's/^/    /' || true
	fi
done
echo "fuzz: $total runs in total, $ok ok, $crashed crashed"
[ "$crashed" = 0 ]
