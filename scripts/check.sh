#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything `make check` runs (after scripts/setup.sh --no-kernel), with one
# summary:
#   0. the test kernel (scripts/kernel.sh), in the background: with the
#      kernel cached it only prints its path, otherwise it builds while the
#      host-side steps below run at nice 19 in the CPU it leaves idle;
#   1. host-side, all at nice 19 and in the background: the userspace tools
#      (make tools: target/release/knock and tools/shim/libtcpstealth.so,
#      which tests/tcp_stealth_tools uses) and their package's checks
#      (scripts/pkg-check.sh); cargo test --workspace --no-fail-fast (if
#      there is a Cargo.toml); the lints that need no kernel
#      (scripts/lint.sh fmt modgraph host fuzz), then, once the kernel and the
#      module are built, the others (scripts/lint.sh module kdoc); each lint
#      is one pass or failure;
#   2. the kselftests in tests/, built on the host (make -C tests, at nice
#      19, once the kernel's source is unpacked), and run in two VM boots,
#      one after the other once the module is built:
#      scripts/vm-run -- tests/run_all.sh (every program), and the
#      unpatched kernel (vm-run --unpatched) for the tests of the
#      socket-option API, the CLI and the shim whose path depends on the
#      kernel patch; the tools and their package are finished first;
#   3. every fuzz target of fuzz/ for FUZZ_CHECK_SECONDS (default 2; 0:
#      none) each: scripts/fuzz.sh. A target that ran without a crash is one
#      pass, a crashing target one failure (its input is saved under
#      build/fuzz/artifacts/), a failed build one failure.
# A kselftest program that crashes or prints no "# Totals" line, and a VM
# that reports a kernel detector hit (scripts/vm-run exit 125) or fails
# otherwise, each count as one failure.
#
#   scripts/check.sh
#
# Logs go to build/check/. The last line is "N passed, N failed" (plus
# ", N skipped" if any were skipped). Exits non-zero if anything failed or
# if no test ran at all. Environment: whatever scripts/vm-run takes
# (TCP_STEALTH_KVM=1, TCP_STEALTH_VM_TIMEOUT, ...).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
logs=$top/build/check
mkdir -p "$logs"

passed=0 failed=0 skipped=0
summaries=()

# add SUITE PASSED FAILED SKIPPED [NOTE]: record one suite's result.
add() {
	passed=$((passed + $2)) failed=$((failed + $3)) skipped=$((skipped + $4))
	summaries+=("$1: $2 passed, $3 failed, $4 skipped${5:+ ($5)}")
}

# --- 0. the kernel, built in the background if it is not yet --------------
# Everything host-side (tools, package, cargo test, most lints, fuzz) needs
# no kernel: on a cold run it is built at nice 19 while the kernel builds,
# filling the CPU the kernel build leaves idle (its serial Rust crates and
# link steps). With the kernel cached, kernel.sh only prints its path.
kernel_pid=
if [ -z "${KDIR:-}" ]; then
	scripts/kernel.sh >"$logs/kernel.log" 2>&1 &
	kernel_pid=$!
fi

# bg VAR LOG CMD...: CMD (a command or a function) in the background at
# nice 19, its output in LOG, its pid in VAR.
bg() {
	local var=$1 out=$2
	shift 2
	(
		renice -n 19 -p "$BASHPID" >/dev/null
		"$@"
	) >"$out" 2>&1 &
	printf -v "$var" %s $!
}

# --- 2a. the kselftests' build, from the start -----------------------------
# They need only the kernel's source (its kselftest_harness.h), not its
# build: built at nice 19 as soon as scripts/kernel.sh has unpacked the tree
# (it logs "configuring" next, or "built" at the end; with the kernel cached
# it exits at once), beside the kernel build rather than after it.
tests_job() {
	local kdir=${KDIR:-}
	if [ -n "$kernel_pid" ]; then
		until grep -qE 'kernel\.sh: [0-9]+ s: (configuring|built)' \
			"$logs/kernel.log" 2>/dev/null; do
			kill -0 "$kernel_pid" 2>/dev/null || break
			sleep 1
		done
	fi
	[ -n "$kdir" ] || kdir=$(scripts/kernel.sh --kdir)
	KDIR=$kdir make -C tests
}
bg tests_pid "$logs/tests-build.log" tests_job

# --- 1. host-side: tools and their package, unit tests, lints ---------------
# The tools (target/release/knock, the shim) and their Debian package, which
# tests/tcp_stealth_tools uses in the VM: done before the VM starts. The
# package is checked on the host too (a missing summary line counts as one
# failure).
tools_job() {
	make tools >"$logs/tools-build.log" 2>&1 || return 10
	scripts/pkg-check.sh
}
bg tools_pid "$logs/pkg.log" tools_job

cargo_pid=
if [ -f Cargo.toml ]; then
	bg cargo_pid "$logs/cargo.log" cargo test --workspace --no-fail-fast
fi

# The lints that need no kernel now; module and kdoc once it is built.
bg lint_pid "$logs/lint.log" scripts/lint.sh fmt modgraph host fuzz

# --- 3. fuzz targets, niced, from the start -------------------------------
# The kernel build and then the VMs keep both CPUs busy most of the time; at
# nice 19 the fuzzers take what they leave and add little to their time.
fuzz_pid=
if [ "${FUZZ_CHECK_SECONDS:-2}" != 0 ]; then
	bg fuzz_pid "$logs/fuzz.log" scripts/fuzz.sh "${FUZZ_CHECK_SECONDS:-2}"
fi

# --- the kernel, then the module and the lints that need them -----------------
kernel_ok=1
if [ -n "$kernel_pid" ]; then
	echo "=== kernel (scripts/kernel.sh, log in build/check/kernel.log)"
	if ! wait "$kernel_pid"; then
		kernel_ok=0
		tail -40 "$logs/kernel.log"
		add "kernel build" 0 1 0 "scripts/kernel.sh failed"
	fi
fi
module_ok=0
if [ $kernel_ok = 1 ]; then
	echo "=== make modules"
	if make modules >"$logs/module-build.log" 2>&1; then
		module_ok=1
	else
		cat "$logs/module-build.log"
		add "module build" 0 1 0 "make modules failed"
	fi
	bg lint2_pid "$logs/lint-kernel.log" scripts/lint.sh module kdoc
fi

echo "=== tools (make tools, scripts/pkg-check.sh)"
rc=0
wait "$tools_pid" || rc=$?
if [ "$rc" = 10 ]; then
	cat "$logs/tools-build.log"
	add "tools build" 0 1 0 "make tools failed"
else
	[ "$rc" = 0 ] || cat "$logs/pkg.log"
	p= f= s=
	read -r p f s < <(sed -n 's/^pkg: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
		"$logs/pkg.log") || true
	add "tools package (scripts/pkg-check.sh)" "${p:-0}" "${f:-1}" "${s:-0}"
fi

# --- 2. kselftests in the VM ----------------------------------------------
# vm_suite NAME LOG [VM-RUN-OPTION...] [-- PROG...]: run tests/run_all.sh
# (all programs, or PROG...) in one VM boot (scripts/vm-run OPTION... --
# tests/run_all.sh PROG...), its output shown and kept in
# build/check/LOG.log and the guest's dmesg in build/check/LOG-dmesg.log,
# and record the result as suite NAME. The units that took longest in LOG's
# previous run start first.
vm_suite() {
	local name=$1 log=$logs/$2.log dmesg=$logs/$2-dmesg.log rc=0 order p f s progs notes note
	local opts=() run=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -eq 0 ] || { shift; run=("$@"); }
	echo "=== $name (scripts/vm-run ${opts[*]} -- tests/run_all.sh ${run[*]})"
	# "# UNIT: N s" lines of the previous run, longest first.
	order=$(awk '/^# [a-z0-9_.]+: [0-9]+ s$/ {
		sub(/:$/, "", $2); print $3, $2 }' "$log" 2>/dev/null |
		sort -rn | awk '{ printf "%s ", $2 }') || true
	TCP_STEALTH_TEST_ORDER=$order TCP_STEALTH_DMESG=$dmesg \
		scripts/vm-run "${opts[@]}" -- tests/run_all.sh "${run[@]}" 2>&1 | tee "$log" ||
		rc=${PIPESTATUS[0]}
	read -r p f s progs notes < <(kselftest_totals "$log")
	note="$progs program(s)"
	[ "$notes" = - ] || note+=", ${notes%,}"
	case $rc in
	0) ;;
	125) f=$((f + 1)) note+=", kernel detector report (see ${dmesg#"$top"/})" ;;
	124) f=$((f + 1)) note+=", VM timed out" ;;
	123) f=$((f + 1)) note+=", insmod/rmmod failed" ;;
	122) f=$((f + 1)) note+=", VM failed or guest died" ;;
	*) if [ "$f" = 0 ]; then
		f=1 note+=", vm-run exited $rc"
	   fi ;;
	esac
	add "$name" "$p" "$f" "$s" "$note"
}

# kselftest_totals LOG: "PASSED FAILED SKIPPED UNITS NOTES" of run_all.sh's
# TAP in LOG. Per unit (between "# selftests: tcp_stealth: NAME" and its
# "ok/not ok N selftests: ..." line) add up its "# Totals" line. A unit
# without one (crash, timeout) counts its "# ok"/"# not ok" lines instead,
# plus one failure; "not ok" with no failure counted is one failure too.
kselftest_totals() {
	awk '
		/^# selftests: tcp_stealth: / {
			totals = 0; bad = 0; np = 0; nf = 0; ns = 0
			next
		}
		/^# # Totals: pass:/ {
			for (i = 1; i <= NF; i++) {
				split($i, kv, ":")
				if (kv[1] == "pass" || kv[1] == "xfail") p += kv[2]
				if (kv[1] == "fail" || kv[1] == "xpass" ||
				    kv[1] == "error") { f += kv[2]; bad += kv[2] }
				if (kv[1] == "skip") s += kv[2]
			}
			totals = 1
			next
		}
		/^# not ok [0-9]+ / { nf++; next }
		/^# ok [0-9]+ .*# (SKIP|skip)/ { ns++; next }
		/^# ok [0-9]+ / { np++; next }
		/^(not )?ok [0-9]+ selftests: tcp_stealth: / {
			progs++
			name = $0
			sub(/.*selftests: tcp_stealth: /, "", name)
			sub(/ .*/, "", name)
			if (!totals) {
				p += np; f += nf + 1; s += ns
				notes = notes name ":no-Totals(crashed/timed-out),"
			} else if ($1 == "not" && !bad) {
				f++; notes = notes name ":failed,"
			}
		}
		END { print p + 0, f + 0, s + 0, progs + 0, (notes ? notes : "-") }
	' "$1"
}

# The two boots run one after the other: side by side (tried in session 7)
# they took longer, 398 s against 237 + 85 s alone, as the guests keep the
# host's CPUs busy and compete for them.
if [ $module_ok = 1 ]; then
	echo "=== build: make -C tests (started beside the kernel build)"
	if ! wait "$tests_pid"; then
		cat "$logs/tests-build.log"
		add "kselftests" 0 1 0 "make -C tests failed"
	else
		vm_suite kselftests kselftest
		# The same kernel built without patches/ (scripts/kernel.sh keeps
		# its image), where an application must attach the ULP with
		# TCP_ULP itself: only the tests whose path or expected result
		# depends on the patch. The socket-option API's single call and
		# its errors (sockopt); knock status's report (plain); the knock
		# CLI's and the shim's ENOPROTOOPT fallback for clients and
		# listeners, blocking and not (dual: connect_round_trip,
		# shim_http_server_and_clients, shim_nonblocking_...), and the
		# shim failing closed when the ULP cannot be attached. All other
		# tests of these programs set TCP_ULP themselves or go through
		# the module's policy, the same code on both kernels, and run on
		# the patched one (as does ssh, through the same CLI and shim).
		TCP_STEALTH_TEST_SKIP="tcp_stealth_tools.ssh.*" \
		TCP_STEALTH_TEST_ONLY="single_setsockopt setsockopt_errors status_matches_kernel
			connect_round_trip shim_http_server_and_clients
			shim_nonblocking_and_setsockopt_errors shim_fails_closed" \
			vm_suite "kselftests, unpatched kernel" kselftest-unpatched --unpatched -- \
			tcp_stealth_sockopt tcp_stealth_tools
	fi
fi

# --- 1. (continued) collect the host unit tests ---------------------------
if [ -n "$cargo_pid" ]; then
	echo "=== cargo test --workspace --no-fail-fast"
	rc=0
	wait "$cargo_pid" || rc=$?
	cat "$logs/cargo.log"
	# "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; ..."
	read -r p f s < <(awk '
		/^test result: / {
			for (i = 1; i <= NF; i++) {
				if ($(i + 1) ~ /^passed;?$/) p += $i
				if ($(i + 1) ~ /^failed;?$/) f += $i
				if ($(i + 1) ~ /^ignored;?$/) s += $i
			}
		}
		END { print p + 0, f + 0, s + 0 }' "$logs/cargo.log")
	note=
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 note="cargo exited $rc without a failing test: build error?"
	fi
	add "cargo test" "$p" "$f" "$s" "$note"
else
	add "cargo test" 0 0 0 "no Cargo.toml"
fi

# --- 1. (continued) collect the lints --------------------------------------
# lint_collect LOG PID: one suite "lint" per lint.sh run.
lint_collect() {
	local log=$1 rc=0 p f s note=
	wait "$2" || rc=$?
	cat "$log"
	p=$(grep -c '^lint: [a-z]*: ok' "$log") || true
	f=$(grep -c '^lint: [a-z]*: FAIL' "$log") || true
	s=$(grep -c '^lint: [a-z]*: skipped' "$log") || true
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 note="scripts/lint.sh exited $rc without a failed lint"
	fi
	add "lint (${log##*/})" "$p" "$f" "$s" "$note"
}
echo "=== lint (scripts/lint.sh)"
lint_collect "$logs/lint.log" "$lint_pid"
[ -z "${lint2_pid:-}" ] || lint_collect "$logs/lint-kernel.log" "$lint2_pid"

# --- 3. (continued) collect the fuzz targets --------------------------------
if [ -z "$fuzz_pid" ]; then
	add "fuzz" 0 0 0 "not run: FUZZ_CHECK_SECONDS=0"
else
	echo "=== fuzz (nice scripts/fuzz.sh ${FUZZ_CHECK_SECONDS:-2}, during the VM)"
	rc=0
	wait "$fuzz_pid" || rc=$?
	cat "$logs/fuzz.log"
	p=$(grep -c '^fuzz: [a-z0-9_]*: ok' "$logs/fuzz.log") || true
	f=$(grep -c '^fuzz: [a-z0-9_]*: CRASH' "$logs/fuzz.log") || true
	note=$(sed -n 's/^fuzz: \([0-9]* runs in total\).*/\1/p' "$logs/fuzz.log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		f=1 note="scripts/fuzz.sh exited $rc without a crash: build failed?"
	fi
	add "fuzz" "$p" "$f" 0 "$note"
fi

# --- summary ----------------------------------------------------------------
echo "=== summary"
for line in "${summaries[@]}"; do
	echo "  $line"
done
status=0
if [ "$failed" -gt 0 ]; then
	status=1
elif [ $((passed + failed)) -eq 0 ]; then
	echo "check: no test ran" >&2
	status=1
fi
result="$passed passed, $failed failed"
[ "$skipped" = 0 ] || result+=", $skipped skipped"
echo "$result"
exit "$status"
