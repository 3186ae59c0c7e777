#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run tcp_stealth selftest programs and print one TAP 13 stream, the way
# the kselftest runner does: each unit's own TAP is nested with a "# "
# prefix and followed by "ok N selftests: tcp_stealth: UNIT" or "not ok ...".
#
#   tests/run_all.sh [PROG...]     default: every tests/tcp_stealth_*.c
#
# Meant to run as root in the test VM, with the module loaded:
#   scripts/vm-run -- tests/run_all.sh
# Environment: OUTPUT (where the binaries are, default tests/),
# TCP_STEALTH_TEST_TIMEOUT (seconds per unit, default: timeout= in
# tests/settings),
# TCP_STEALTH_TEST_JOBS (units run at once, default 2 per CPU),
# TCP_STEALTH_TEST_ORDER (unit names, longest first: scripts/check.sh passes
# the order of the previous run's times), TCP_STEALTH_TEST_SKIP (unit names
# or glob patterns to leave out, e.g. "tcp_stealth_tools.ssh.*"),
# TCP_STEALTH_TEST_ONLY (test names: each unit runs only these of its tests),
# TCP_STEALTH_TEST_LIST=1 (only print the units and their harness arguments).
# Exits 0 only if every unit passed (or skipped).
#
# A program whose source has a line "/* run_all.sh: alone */" (it unloads the
# module, say) runs after all others, one unit at a time.
#
# Under TCG every fork+exec costs a good fraction of a second of guest CPU,
# so this script sticks to bash builtins.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${OUTPUT:-$here}
# The limit per unit: TCP_STEALTH_TEST_TIMEOUT, else settings' timeout=
# (kselftest's per-program limit; TCG with KASAN is slow), else 1200 s.
per_unit_timeout=1200
if [ -r "$here/settings" ]; then
	while IFS='=' read -r key val; do
		[ "$key" != timeout ] || per_unit_timeout=$val
	done <"$here/settings"
fi
per_unit_timeout=${TCP_STEALTH_TEST_TIMEOUT:-$per_unit_timeout}

if [ $# -gt 0 ]; then
	progs=("$@")
else
	# The same list as the Makefile's TEST_GEN_PROGS.
	progs=()
	for src in "$here"/tcp_stealth_*.c; do
		[ -e "$src" ] || continue
		name=${src##*/}
		progs+=("${name%.c}")
	done
fi

# Units of work, run side by side: one per fixture of a program, and one
# per half (the harness's -V/-v ipv6 filters) of a fixture with an ipv6
# variant. A unit is PROG[.FIXTURE][.ipv4|.ipv6] (the fixture is named
# only for programs with more than one), its harness arguments in args[].
units=()
declare -A args=() size=() alone=() headers=()
for prog in "${progs[@]}"; do
	name=${prog##*/}
	src=
	[ -r "$here/$name.c" ] && read -r -d '' src <"$here/$name.c" || true
	# The program's text plus that of any lib/ header it includes that
	# declares a fixture (lib/pair_fixture.h).
	text=$src rest=$src
	while [[ $rest =~ \#include\ \"([a-z0-9_]+\.h)\" ]]; do
		rest=${rest#*"${BASH_REMATCH[0]}"}
		hdr=${BASH_REMATCH[1]}
		if [ -z "${headers[$hdr]+x}" ]; then
			headers[$hdr]=
			[ -r "$here/lib/$hdr" ] &&
				read -r -d '' "headers[$hdr]" <"$here/lib/$hdr" || true
		fi
		[[ ${headers[$hdr]} != *$'\n'FIXTURE\(* ]] || text+=$'\n'${headers[$hdr]}
	done
	fixtures=()
	rest=$text
	while [[ $rest =~ (^|$'\n')FIXTURE\(([a-z0-9_]+)\) ]]; do
		fixtures+=("${BASH_REMATCH[2]}")
		rest=${rest#*"${BASH_REMATCH[0]}"}
	done
	# Tests outside a fixture (TEST(), TEST_SIGNAL()) are the harness's
	# fixture "global".
	if [[ $text =~ (^|$'\n')TEST(_SIGNAL)?\( ]]; then
		fixtures+=(global)
	fi
	[ ${#fixtures[@]} -gt 0 ] || fixtures=("")
	solo=
	[[ $src == *$'\n/* run_all.sh: alone */\n'* ]] && solo=1
	for fix in "${fixtures[@]}"; do
		unit=$name others=()
		if [ ${#fixtures[@]} -gt 1 ]; then
			unit=$name.$fix
			for f in "${fixtures[@]}"; do
				[ "$f" = "$fix" ] || others+=(-F "$f")
			done
		fi
		if [[ -n $fix && $text == *"FIXTURE_VARIANT_ADD($fix, ipv6)"* ]]; then
			units+=("$unit.ipv4" "$unit.ipv6")
			args[$unit.ipv4]="${others[*]} -V ipv6"
			args[$unit.ipv6]="${others[*]} -v ipv6"
			size[$unit.ipv4]=${#src} size[$unit.ipv6]=${#src}
			[ -z "$solo" ] || alone[$unit.ipv4]=1 alone[$unit.ipv6]=1
		else
			units+=("$unit")
			args[$unit]="${others[*]}"
			size[$unit]=${#src}
			[ -z "$solo" ] || alone[$unit]=1
		fi
	done
done

# TCP_STEALTH_TEST_SKIP: units (glob patterns) this run leaves out.
if [ -n "${TCP_STEALTH_TEST_SKIP:-}" ]; then
	read -r -a skip_pats <<<"$TCP_STEALTH_TEST_SKIP"
	kept=()
	for u in "${units[@]}"; do
		keep=1
		for pat in "${skip_pats[@]}"; do
			# shellcheck disable=SC2053 # a pattern on purpose
			[[ $u != $pat ]] || keep=
		done
		[ -z "$keep" ] || kept+=("$u")
	done
	units=("${kept[@]}")
fi

# TCP_STEALTH_TEST_ONLY: test names (the harness's -t), the only tests each
# unit runs. The harness goes by the first of its filters that matches a
# test, so the unit's own filters must all be exclusions (-F, -V), or they
# would take in the unit's tests before -t is looked at: an ipv6 half's
# "-v ipv6" becomes "-V ipv4" (the fixtures split in halves have just these
# two variants). A test named by no -t is then left out.
if [ -n "${TCP_STEALTH_TEST_ONLY:-}" ]; then
	read -r -d "" -a only_tests <<<"$TCP_STEALTH_TEST_ONLY" || true
	for u in "${units[@]}"; do
		args[$u]=${args[$u]/%-v ipv6/-V ipv4}
		for t in "${only_tests[@]}"; do
			args[$u]+=" -t $t"
		done
	done
fi

if [ "${TCP_STEALTH_TEST_LIST:-0}" = 1 ]; then
	for u in "${units[@]}"; do
		echo "$u: ${args[$u]}"
	done
	exit 0
fi

echo "TAP version 13"
echo "1..${#units[@]}"

# Start order: longest first, so that the last to start are short. The
# previous run's order if given, then the rest by source size.
order=()
declare -A seen=()
for u in ${TCP_STEALTH_TEST_ORDER:-}; do
	if [ -n "${args[$u]+x}" ] && [ -z "${seen[$u]+x}" ]; then
		order+=("$u")
		seen[$u]=1
	fi
done
rest=()
for u in "${units[@]}"; do
	[ -n "${seen[$u]+x}" ] || rest+=("${size[$u]} $u")
done
if [ ${#rest[@]} -gt 0 ]; then
	# Insertion sort by size, descending (a handful of entries).
	sorted=()
	for e in "${rest[@]}"; do
		placed=() done_=
		for s in "${sorted[@]}"; do
			if [ -z "$done_" ] && [ "${e%% *}" -gt "${s%% *}" ]; then
				placed+=("$e")
				done_=1
			fi
			placed+=("$s")
		done
		[ -n "$done_" ] || placed+=("$e")
		sorted=("${placed[@]}")
	done
	for e in "${sorted[@]}"; do
		order+=("${e#* }")
	done
fi

# The programs make their own namespaces, so units can run side by side;
# part of their time is spent waiting (for replies that must not come, for
# retransmissions, for deadlines), so more of them than CPUs
# (TCP_STEALTH_TEST_JOBS, default 2 per CPU).
ncpu=0
while read -r line; do
	[[ $line == processor* ]] && ncpu=$((ncpu + 1))
done </proc/cpuinfo
jobs=${TCP_STEALTH_TEST_JOBS:-$(( (ncpu > 0 ? ncpu : 1) * 2 ))}
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
# Seconds of uptime, into the variable named $1 (no subshell).
now() { local up _; read -r up _ </proc/uptime; printf -v "$1" %s "${up%.*}"; }
# Centiseconds of CPU time the guest's CPUs spent busy and idle, into
# cpu_busy and cpu_idle (/proc/stat's first line, USER_HZ = 100).
cpu_read() {
	local _cpu user nice sys idle iowait irq softirq steal _rest
	read -r _cpu user nice sys idle iowait irq softirq steal _rest </proc/stat
	cpu_busy=$((user + nice + sys + irq + softirq + steal))
	cpu_idle=$((idle + iowait))
}
# "XmY.ZZZs" from `times` as centiseconds, added to the variable named $1.
cs_add() {
	local m=${2%%m*} s=${2#*m}
	s=${s%s}
	printf -v "$1" %d $(( ${!1} + 10#$m * 6000 + 10#${s%.*} * 100 + 10#${s#*.} / 10 ))
}
# Run one unit in a subshell of its own, so that `times` there counts
# only the unit's processes: its wall time and CPU time (user + system,
# what its processes ran; not softirq work done for them elsewhere) go to
# $logdir/UNIT.rc and .times.
run_one() {
	local unit=$1 prog rc=0 t0 t1
	prog=${unit%%.*}
	now t0
	cd "$out"
	# shellcheck disable=SC2086 # args[] is a list of words
	timeout -k 10 "$per_unit_timeout" "./$prog" ${args[$unit]} \
		>"$logdir/$unit.log" 2>&1 || rc=$?
	now t1
	times >"$logdir/$unit.times"
	echo "$rc $(( t1 - t0 ))" >"$logdir/$unit.rc"
}
now run_t0
cpu_read
cpu_busy0=$cpu_busy cpu_idle0=$cpu_idle
running=0
for unit in "${order[@]}"; do
	[ -x "$out/${unit%%.*}" ] || continue
	[ -z "${alone[$unit]+x}" ] || continue
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run_one "$unit" &
	running=$((running + 1))
done
wait
for unit in "${order[@]}"; do
	[ -x "$out/${unit%%.*}" ] && [ -n "${alone[$unit]+x}" ] || continue
	run_one "$unit" &
	wait $! || true
done
now run_t1
cpu_read

n=0 failed=0
for unit in "${units[@]}"; do
	n=$((n + 1))
	prog=${unit%%.*}
	echo "# selftests: tcp_stealth: $unit"
	if [ ! -x "$out/$prog" ]; then
		echo "# $out/$prog: not built (make -C tests)"
		echo "not ok $n selftests: tcp_stealth: $unit # not built"
		failed=$((failed + 1))
		continue
	fi
	while IFS= read -r line || [ -n "$line" ]; do
		echo "# $line"
	done <"$logdir/$unit.log"
	read -r rc secs <"$logdir/$unit.rc"
	{ read -r _ _; read -r cu cs; } <"$logdir/$unit.times"
	cpu=0
	cs_add cpu "$cu"
	cs_add cpu "$cs"
	echo "# $unit: $secs s"
	printf '# %s: cpu %d.%02d s\n' "$unit" $((cpu / 100)) $((cpu % 100))
	case $rc in
	0) echo "ok $n selftests: tcp_stealth: $unit" ;;
	4) echo "ok $n selftests: tcp_stealth: $unit # SKIP" ;;
	124) echo "not ok $n selftests: tcp_stealth: $unit # TIMEOUT ${per_unit_timeout}s"
	     failed=$((failed + 1)) ;;
	*) echo "not ok $n selftests: tcp_stealth: $unit # exit=$rc"
	   failed=$((failed + 1)) ;;
	esac
done
busy=$((cpu_busy - cpu_busy0)) idle=$((cpu_idle - cpu_idle0))
printf '# run_all: %d units in %d s; guest CPUs busy %d.%02d s, idle %d.%02d s\n' \
	"${#units[@]}" $((run_t1 - run_t0)) $((busy / 100)) $((busy % 100)) \
	$((idle / 100)) $((idle % 100))
[ "$failed" -eq 0 ]
