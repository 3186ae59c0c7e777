#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: builds the benchmark kernel (TCP_STEALTH_KERNEL=bench
# scripts/kernel.sh: the test kernel without KASAN, lockdep and kmemleak;
# cached like it), the module against it with its benchmark file
# (TCP_STEALTH_BENCH=1, in build/bench/module) and the tools in bench/, runs bench/guest.sh in one boot of that kernel
# (scripts/vm-run) and prints one table of ratios, also written to
# build/bench/table.txt (the raw guest output is in build/bench/vm.log).
# Exits non-zero if the VM or any benchmark did not complete; times never
# fail it. Parameters: see bench/guest.sh (TCP_STEALTH_BENCH_*), whatever
# scripts/vm-run takes, and TCP_STEALTH_BENCH_KERNEL=test to run on the
# test kernel (with its detectors) instead, the module built for it the
# same way.
#
#   scripts/bench.sh               build, run the VM, print the table
#   scripts/bench.sh --table-only  print the table of the last run again
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$top/build/bench
mkdir -p "$out"

rc=0
kernel=${TCP_STEALTH_BENCH_KERNEL:-bench}
if [ "${1:-}" != --table-only ]; then
	make -s -C bench
	case $kernel in
	bench)
		KDIR=$(TCP_STEALTH_KERNEL=bench scripts/kernel.sh)
		# 50k SYNs per flood case and round: 50 ticks of softirq time
		# each under icount (below), some 10 s of host time.
		export TCP_STEALTH_BENCH_SYNS=${TCP_STEALTH_BENCH_SYNS:-50000}
		# The in-kernel replay flood has its million knocks; on the
		# wire (single-threaded under icount) 200k, or set it.
		export TCP_STEALTH_BENCH_MEM_KNOCKS=${TCP_STEALTH_BENCH_MEM_KNOCKS:-200000}
		;;
	test) KDIR=${KDIR:-$(scripts/kernel.sh --kdir)} ;;
	*) echo "bench: TCP_STEALTH_BENCH_KERNEL must be bench or test" >&2; exit 2 ;;
	esac
	# The module with the benchmark file (TCP_STEALTH_BENCH=1, see
	# Kbuild), built from a copy of the sources: the work tree's own
	# build is for the test kernel and has no benchmark file.
	# Guest time counts instructions (QEMU -icount, 1 ns each, idle time
	# skipped), not host time: on a shared host the figures then do not
	# move with the host's load, and rounds repeat to within a few per
	# cent. The price: one host thread for all vCPUs, and every instruction
	# costs the same (cache misses, atomics and cache-line bouncing are
	# not seen). TCP_STEALTH_BENCH_ICOUNT=0 measures host time instead.
	icount=${TCP_STEALTH_BENCH_ICOUNT:-1}
	if [ "$icount" = 1 ]; then
		export TCP_STEALTH_VM_QEMU_OPTS="-icount shift=0,sleep=off"
	fi
	mod=$out/module
	rm -rf "$mod"
	mkdir -p "$mod"
	# The sources as they are in the work tree, without build output.
	git ls-files -z --cached --others --exclude-standard \
		Kbuild Makefile src include |
		tar -c --null -T - | tar -x -C "$mod"
	make -s -C "$KDIR" M="$mod" $(cat "$KDIR/.tcp_stealth_make_args") \
		TCP_STEALTH_BENCH=1 modules
	export KDIR TCP_STEALTH_MODULE=$mod/tcp_stealth.ko
	# What the table's header says of the kernel: its detectors, from its
	# config (TCP_STEALTH_BENCH_KERNEL=test KDIR=... may name any tree).
	grep -q '^CONFIG_KASAN=y' "$KDIR/.config" && detectors=detectors || detectors=nodetectors
	echo "kernel $kernel $detectors icount $icount" > "$out/vm.log"
	scripts/vm-run -- bench/guest.sh >> "$out/vm.log" || rc=$?
	# Scaling with cores: the floods (a), (c) and the connection loop
	# again on 1 vCPU, beside the full run's 2 (TCP_STEALTH_BENCH_SCALE=0
	# skips it; so does a partial run, TCP_STEALTH_BENCH_ONLY).
	rm -f "$out/vm1.log"
	if [ "$rc" = 0 ] && [ "${TCP_STEALTH_BENCH_SCALE:-1}" = 1 ] &&
		[ -z "${TCP_STEALTH_BENCH_ONLY:-}" ]; then
		echo "kernel $kernel $detectors icount $icount" > "$out/vm1.log"
		TCP_STEALTH_VM_CPUS=1 TCP_STEALTH_BENCH_ONLY=scale \
			scripts/vm-run -- bench/guest.sh >> "$out/vm1.log" || rc=$?
		if [ "$rc" != 0 ] || ! grep -q '^bench done' "$out/vm1.log"; then
			cat "$out/vm1.log"
			echo "bench: the 1-vCPU VM run did not complete (vm-run exit $rc)" >&2
			exit 1
		fi
	fi
fi
if [ "$rc" != 0 ] || ! grep -q '^bench done' "$out/vm.log"; then
	cat "$out/vm.log"
	echo "bench: the VM run did not complete (vm-run exit $rc)" >&2
	exit 1
fi
scale_log=/dev/null
[ ! -f "$out/vm1.log" ] || scale_log=$out/vm1.log

host_cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
{
	echo "tcp_stealth benchmarks: make bench, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench scripts || echo +dirty)"
	echo "host: $host_cpu, $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(grep -m1 '^machine' "$out/vm.log" | cut -d' ' -f2-) $(grep -q '^kernel .* icount 1' "$out/vm.log" && echo '(QEMU TCG -icount: guest time = instructions, 1 ns each; ratios count)' || echo '(QEMU TCG: absolute costs are inflated, ratios count)'); $(grep -q '^kernel [a-z]* detectors' "$out/vm.log" && echo 'test kernel: KASAN, lockdep, kmemleak on' || echo 'bench kernel: the test config without KASAN, lockdep, kmemleak, with the x86 BLAKE2s')"
	awk -f - "$out/vm.log" "$scale_log" <<'AWK'
function r2(x) { return sprintf("%.2f", x) }
# The second file: the 1-vCPU run (floods a and c, the connection loop).
FNR == 1 { file++ }
file == 2 && /^machine / { s1cpus = $5 }
file == 2 && /^flood / { s1syns[$2] = $4; s1soft[$2] = $6; next }
file == 2 && /^round / {
	if ($2 == "a_closed") s1ra = $6 / $4
	s1rv[$2, ++s1rn[$2]] = ($6 / $4) / s1ra
	next
}
file == 2 && /^conn / { s1us[$2] = $4; next }
file == 2 && /^conn_ratio / { s1cr[$2] = $4; s1crmin[$2] = $6; s1crmax[$2] = $8; next }
file == 2 { next }
/^machine / { cpus = $5 }
/^kernel .* icount 1/ { icount = 1 }
/^kbench_round / {
	++nkr
	for (i = 3; i < NF; i += 2) kbr[$i, nkr] = $(i + 1)
	kr[nkr] = kbr["verify_ok_ns", nkr] / kbr["secure_tcp_seq_ns", nkr]
}
/^conn_ratio / { cr[$2] = $4; crmin[$2] = $6; crmax[$2] = $8; crn[$2] = $10 }
/^flood / {
	n = $2; syns[n] = $4; soft[n] = $6; busy[n] = $8; wall[n] = $10 / 100; sent[n] = $12
	order[++nf] = n
}
/^round / {
	# Rounds run a, b, c, d in turn: each case's cost relative to the
	# same round's (a).
	if ($2 == "a_closed") ra = $6 / $4
	rr = ($6 / $4) / ra
	if (!($2 in rmin) || rr < rmin[$2]) rmin[$2] = rr
	if (!($2 in rmax) || rr > rmax[$2]) rmax[$2] = rr
	rv[$2, ++rn[$2]] = rr
}
# rstlat's comparison r of a protected port (named p) with the closed one,
# if it ran: three lines of section 5
function rpair(p, r) {
	if (!r["n_p"]) return
	printf "   %-36s %8d %10.3f %10.3f %10.3f %6d\n", p, r["n_p"], r["median_p_us"], r["q1_p_us"], r["q3_p_us"], r["lost_p"]
	printf "   %-36s %8d %10.3f %10.3f %10.3f %6d\n", "closed port (same SYN)", r["n_q"], r["median_q_us"], r["q1_q_us"], r["q3_q_us"], r["lost_q"]
	printf "   Mann-Whitney U %.0f, z %s, two-sided p %s; P(protected slower than closed) %s\n", r["U"], r["z"], r["p"], r["auc"]
}
# median of v[1..k] (sorts v)
function vmed(v, k,    i, j, t) {
	for (i = 2; i <= k; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
# median of case n's per-round ratios (to (a)), in this run or the 1-vCPU one
function rmed(n,    i, v) {
	for (i = 1; i <= rn[n]; i++) v[i] = rv[n, i]
	return vmed(v, rn[n])
}
function s1med(n,    i, v) {
	for (i = 1; i <= s1rn[n]; i++) v[i] = s1rv[n, i]
	return vmed(v, s1rn[n])
}
/^conn / { cus[$2] = $4; cref[$2] = $6; corder[++nc] = $2 }
/^phases / { ph[$2] = $0; sub(/^phases [a-z]+ /, "", ph[$2]) }
/^kbench / { kb[$2] = $3 }
/^mem flood / { msent = $4; msecs = $6; msamples = $8; mmax = $10 }
/^mem after / { mafter[$3] = $4 }
/^mem late_drop / { mlate = $4 }
/^mem verdicts / { mgood = $4; mreplay = $6; mfull = $8 }
/^iso flood / { for (i = 3; i < NF; i += 2) iso[$i] = $(i + 1) }
/^conn_stats / { for (i = 2; i < NF; i += 2) cst[$i] = $(i + 1) }
/^rstlat / { for (i = 2; i < NF; i += 2) rl[$i] = $(i + 1) }
/^rstlat_knock / { for (i = 2; i < NF; i += 2) rk[$i] = $(i + 1) }
/^rstlat_knock4 / { for (i = 2; i < NF; i += 2) rk4[$i] = $(i + 1) }
/^rstlat_isn / { for (i = 2; i < NF; i += 2) ri[$i] = $(i + 1) }
/^rstlat_isn_knock / { for (i = 2; i < NF; i += 2) rik[$i] = $(i + 1) }
/^pp_round / { ppv[$2, ++ppn[$2]] = $5 }
/^pp_stats / { for (i = 3; i < NF; i += 2) if ($i == "syn_in") ppsyn[$2] = $(i + 1) }
END {
	label["a_closed"] = "(a) closed port"
	label["b_nft_drop"] = "(b) nftables drop rule"
	label["c_bad_mac"] = "(c) protected, bad MAC"
	label["d_replay"] = "(d) protected, replayed valid knock"
	print ""
	print "1. SYN flood: server CPU per SYN received (softirq time from /proc/stat, measured: IRQ_TIME_ACCOUNTING; cases interleaved over rounds)"
	printf "   %-36s %8s %12s %7s %11s %7s %12s %7s %8s\n", "case", "SYNs", "softirq us", "ratio", "per round", "median", "busy us", "ratio", "SYN/s"
	sa = soft["a_closed"] / syns["a_closed"]; ba = busy["a_closed"] / syns["a_closed"]
	for (i = 1; i <= nf; i++) {
		n = order[i]; s = soft[n] / syns[n]; b = busy[n] / syns[n]
		printf "   %-36s %8d %12.1f %7s %11s %7s %12.1f %7s %8.0f\n", label[n], syns[n],
			s * 1e4, r2(s / sa), r2(rmin[n]) "-" r2(rmax[n]), r2(rmed(n)), b * 1e4, r2(b / ba), syns[n] / wall[n]
	}
	print "   (us per SYN; /proc/stat counts in 10 ms units; busy = user+system+irq+softirq of both vCPUs, incl. the flooder)"
	print ""
	print "2. Connection set-up: connect + send n bytes + accept + read + close, loopback"
	printf "   %-36s %10s %8s %8s\n", "case", "us/conn", "ratio", "refused"
	for (i = 1; i <= nc; i++) {
		n = corder[i]
		printf "   %-36s %10.1f %8s %8d\n", n, cus[n], r2(cus["plain"] / cus[n]), cref[n]
	}
	for (i = 1; i <= nc; i++)
		printf "   phases %-10s (us): %s\n", corder[i], ph[corder[i]]
	print "   (ratio = connection rate relative to plain; median of the rounds; the cases take turns connection by connection)"
	printf "   default skew (120 s), replay limits 65536/65536; in the namespace: knock_good %d, knock_replay %d, knock_replay_full %d, refusal_hidden %d\n", cst["knock_good"], cst["knock_replay"], cst["knock_replay_full"], cst["refusal_hidden"]
	print ""
	split("verify_ok_ns verify_bad_mac_ns verify_bad_mac_4keys_ns siphash_3u64_ns secure_tcp_seq_ns derive_key_ns", ops, " ")
	# Each operation's median over the runs (the last run's if only one).
	for (i = 1; i <= 6 && nkr; i++) {
		for (j = 1; j <= nkr; j++) kv[j] = kbr[ops[i], j]
		kb[ops[i]] = vmed(kv, nkr)
	}
	print "3. In-kernel cost per operation (" kb["iterations"] " iterations each, derive_key_ns 1/16 of that; median of " nkr " runs)"
	printf "   %-36s %10s %18s %18s\n", "operation", "ns/op", "/secure_tcp_seq()", "/siphash_3u64()"
	for (i = 1; i <= 6; i++)
		printf "   %-36s %10.1f %18s %18s\n", ops[i], kb[ops[i]], r2(kb[ops[i]] / kb["secure_tcp_seq_ns"]), r2(kb[ops[i]] / kb["siphash_3u64_ns"])
	print ""
	print "4. Memory"
	printf "   ULP context per protected socket        %6d bytes (+ %d bytes of keys once a secret is set)\n", kb["ulp_ctx_bytes"], kb["keyset_bytes"]
	printf "   replay cache entry                      %6d bytes\n", kb["replay_entry_bytes"]
	printf "   replay cache per namespace              %6d bytes (%d slots for replay_max %d, replay_key_max %d)\n", kb["replay_bytes"], kb["replay_slots"], kb["replay_max"], kb["replay_key_max"]
	printf "   in-kernel flood of %d distinct valid knocks of one key, 100000/s of simulated time, limits of %d knocks: peak live entries %d (%d bytes), fresh %d, refused for room %d, %d ns/knock\n", kb["flood_knocks"], kb["flood_knocks"], kb["flood_peak_live"], kb["flood_peak_bytes"], kb["flood_fresh"], kb["flood_full"], kb["flood_ns_per_knock"]
	printf "   on-the-wire flood of %d distinct valid knocks (%.0f s), limits %d/%d: peak live entries %d (%d samples); verdicts: fresh %d, replay %d, refused for room %d; after: live %d, bytes %d\n", msent, msecs, mafter["replay_max"], mafter["replay_key_max"], mmax, msamples, mgood, mreplay, mfull, mafter["replay_live"], mafter["replay_bytes"]
	printf "   (of those, %d passed the module as fresh and were dropped by a later nft chain)\n", mlate
	print ""
	print "6. Isolation: key B floods valid knocks at the window's far edge (t = now + 119 s) while key A's clients connect"
	printf "   key-B knocks sent %d in %.0f s: fresh %d, replay %d, refused for room %d (limits %d/%d)\n", iso["sent"], iso["seconds"], iso["good"] - (iso["connects"] - iso["refused"] - iso["failed"]), iso["replay"], iso["full"], iso["limits"], iso["limits_key"]
	printf "   key-A connects %d: refused %d, failed otherwise %d\n", iso["connects"], iso["refused"], iso["failed"]
	print ""
	print "5. Time to answer a SYN (no knock; a knock with a bad MAC) with a RST, one SYN at a time (client veth0: SYN out -> RST in)"
	printf "   %-36s %8s %10s %10s %10s %6s\n", "port", "probes", "median us", "q1 us", "q3 us", "lost"
	printf "   %-36s %8d %10.3f %10.3f %10.3f %6d\n", "protected listener (no knock)", rl["n_p"], rl["median_p_us"], rl["q1_p_us"], rl["q3_p_us"], rl["lost_p"]
	printf "   %-36s %8d %10.3f %10.3f %10.3f %6d\n", "closed port", rl["n_q"], rl["median_q_us"], rl["q1_q_us"], rl["q3_q_us"], rl["lost_q"]
	printf "   Mann-Whitney U %.0f, z %s, two-sided p %s; P(protected slower than closed) %s (0.5: indistinguishable)\n", rl["U"], rl["z"], rl["p"], rl["auc"]
	rpair("protected listener (bad-MAC knock)", rk)
	rpair("4-key listener (bad-MAC knock)", rk4)
	rpair("ISN-mode listener (no knock)", ri)
	rpair("ISN-mode listener (bad-MAC knock)", rik)
	print "   (informational: the two ports take turns in random order; kernel capture timestamps)"
	print ""
	if (s1cpus) {
		printf "7. Scaling with cores: the same cases on %d and %d vCPUs (two boots of the same kernel; ratio = %d-vCPU figure / %d-vCPU figure)\n", s1cpus, cpus, cpus, s1cpus
		printf "   %-40s %18s %18s %8s\n", "case", s1cpus " vCPU", cpus " vCPUs", "ratio"
		for (i = 1; i <= 2; i++) {
			n = i == 1 ? "a_closed" : "c_bad_mac"
			x = s1soft[n] / s1syns[n] * 1e4; y = soft[n] / syns[n] * 1e4
			printf "   %-40s %18.1f %18.1f %8s\n", label[n] " softirq us/SYN", x, y, r2(y / x)
		}
		printf "   %-40s %18s %18s %8s\n", "(c)/(a), median of rounds", r2(s1med("c_bad_mac")), r2(rmed("c_bad_mac")), r2(rmed("c_bad_mac") / s1med("c_bad_mac"))
		for (i = 1; i <= nc; i++) {
			n = corder[i]
			printf "   %-40s %18.1f %18.1f %8s\n", "connection " n " us/conn", s1us[n], cus[n], r2(cus[n] / s1us[n])
		}
		for (i = 1; i <= 2; i++) {
			n = i == 1 ? "stealth" : "integrity"
			printf "   %-40s %18s %18s %8s\n", "rate " n "/plain, median (range)", r2(s1cr[n]) " (" r2(s1crmin[n]) "-" r2(s1crmax[n]) ")", r2(cr[n]) " (" r2(crmin[n]) "-" r2(crmax[n]) ")", r2(cr[n] / s1cr[n])
		}
		print "   (ratio: the " cpus "-vCPU value over the " s1cpus "-vCPU one. Costs above 1.00: dearer per SYN or connection with more vCPUs; (c)/(a) above"
		print "   1.00 or a rate ratio below 1.00: the module's share grew. On 1 vCPU the flooder or the client shares the server's CPU."
		if (icount)
			print "   Under -icount the vCPUs take turns on one host thread and every instruction costs 1 ns: this counts work; contention"
		if (icount)
			print "   (cache lines moving between CPUs, such as shared counters) does not show. Without it, the two boots' host load differs)"
		if (!icount)
			print "   The two boots ran one after the other: absolute figures move with the host's load, the within-boot ratios much less)"
		print ""
	}
	if (ppn["untouched"]) {
		print "8. Round trips (64 bytes each way) on one connection that is up, over veth, between two namespaces of their own"
		printf "   %-44s %8s %10s %14s\n", "case", "rounds", "us/rt", "range"
		for (i = 1; i <= 2; i++) {
			n = i == 1 ? "untouched" : "in_use"
			for (j = 1; j <= ppn[n]; j++) kv[j] = ppv[n, j]
			m = vmed(kv, ppn[n]); pp[n] = m
			printf "   %-44s %8d %10.1f %14s\n", (i == 1 ? "no secret in either namespace" : "a socket with a secret in each"), ppn[n], m, sprintf("%.1f-%.1f", kv[1], kv[ppn[n]])
		}
		printf "   in_use / untouched: %s; the server namespace's syn_in: %d, then %d (the hooks came with the secret)\n", sprintf("%.3f", pp["in_use"] / pp["untouched"]), ppsyn["untouched"], ppsyn["in_use"]
		print "   (us/rt: guest time per round trip, median of the rounds; whole guest, both ends. The module's hooks are in a"
		print "   namespace only once something there has a secret, and pass segments early demux gave to a connection at once)"
		print ""
	}
	print "Goals (issue 14)"
	c = (soft["c_bad_mac"] / syns["c_bad_mac"]) / sa
	m = rmed("c_bad_mac")
	printf "   (c) bad knock <= 0.9x (a) closed port, CPU per SYN: %s  %s (median of %d rounds, spread %s-%s; all rounds summed %s)\n", r2(m), (m <= 0.9 ? "met" : "MISSED"), rn["c_bad_mac"], r2(rmin["c_bad_mac"]), r2(rmax["c_bad_mac"]), r2(c)
	for (i = 1; i <= 2; i++) {
		n = i == 1 ? "stealth" : "integrity"; g = i == 1 ? 0.97 : 0.93
		printf "   connection rate, %-9s >= %.2fx plain:     %s  %s (median of %d rounds, spread %s-%s)\n", n, g, r2(cr[n]), (cr[n] >= g ? "met" : "MISSED"), crn[n], r2(crmin[n]), r2(crmax[n])
	}
	for (i = 1; i <= nkr; i++) kv[i] = kr[i]
	m = vmed(kv, nkr)
	lo = kv[1]; hi = kv[nkr]
	printf "   MAC verification <= 1.5x secure_tcp_seq():          %s  %s (median of %d runs of %d iterations, spread %s-%s)\n", r2(m), (m <= 1.5 ? "met" : "MISSED"), nkr, kb["iterations"], r2(lo), r2(hi)
}
AWK
} | tee "$out/table.txt"
