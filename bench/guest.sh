#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The guest half of `make bench` (scripts/bench.sh boots the test VM with
# scripts/vm-run and runs this, as root, with tcp_stealth loaded). Prints raw
# "key value" result lines; scripts/bench.sh turns them into the table.
#
# Topology: the VM's initial namespace is the server (veth0 10.9.0.2); the
# namespace bcli is the flooding client (veth0 10.9.0.1). Connection set-up
# runs on loopback in its own namespace bconn. Parameters (environment):
#   TCP_STEALTH_BENCH_SYNS        SYNs per flood case and round (4000; make bench
#                                 on the benchmark kernel: 200000)
#   TCP_STEALTH_BENCH_FLOOD_ROUNDS rounds of the four flood cases (5)
#   TCP_STEALTH_BENCH_SECS        time bound per flood, seconds (120)
#   TCP_STEALTH_BENCH_MEM_KNOCKS  distinct valid knocks of the memory flood (50000;
#                                 make bench on the benchmark kernel: 1000000)
#   TCP_STEALTH_BENCH_REPLAY_KNOCKS  distinct valid knocks of the in-kernel
#                                 replay-cache flood (1000000)
#   TCP_STEALTH_BENCH_CONNS       connections per case and round (300)
#   TCP_STEALTH_BENCH_ROUNDS      rounds of the connection benchmark (5)
#   TCP_STEALTH_BENCH_INTLEN      integrity length, bytes (64)
#   TCP_STEALTH_BENCH_KITER       in-kernel iterations (1000000)
#   TCP_STEALTH_BENCH_KROUNDS     runs of the in-kernel operations (5)
#   TCP_STEALTH_BENCH_PERF        1: perf profiles of flood cases a and c and
#                                 of the connection loop (0: a profile takes
#                                 minutes under TCG)
#   TCP_STEALTH_BENCH_RST_PROBES  knockless SYNs to each of the protected and the
#                                 closed port for the answer-time comparison (2000)
#   TCP_STEALTH_BENCH_ISO_KNOCKS  key-B knocks of the isolation flood (20000)
#   TCP_STEALTH_BENCH_ISO_CONNS   key-A connects during it (200)
#   TCP_STEALTH_BENCH_ONLY        rstlat: only that comparison (after the set-up);
#                                 run it alone with
#                                 TCP_STEALTH_BENCH_ONLY=rstlat scripts/vm-run -- bench/guest.sh
#                                 replay: only the replay-cache cases (isolation,
#                                 the wire flood, the in-kernel flood and the
#                                 connection loop; no perf)
#                                 scale: only floods (a) and (c) and the
#                                 connection loop (scripts/bench.sh runs this
#                                 on 1 vCPU, to set beside the full run's 2)
#                                 pingpong: only section 8
#   TCP_STEALTH_BENCH_PP_RT       round trips per pingpong round (5000)
#   TCP_STEALTH_BENCH_PP_ROUNDS   pingpong rounds per case (3)
set -euo pipefail

syns=${TCP_STEALTH_BENCH_SYNS:-4000}
flood_rounds=${TCP_STEALTH_BENCH_FLOOD_ROUNDS:-5}
secs=${TCP_STEALTH_BENCH_SECS:-120}
mem_knocks=${TCP_STEALTH_BENCH_MEM_KNOCKS:-50000}
replay_knocks=${TCP_STEALTH_BENCH_REPLAY_KNOCKS:-1000000}
conns=${TCP_STEALTH_BENCH_CONNS:-300}
rounds=${TCP_STEALTH_BENCH_ROUNDS:-5}
intlen=${TCP_STEALTH_BENCH_INTLEN:-64}
kiter=${TCP_STEALTH_BENCH_KITER:-1000000}
krounds=${TCP_STEALTH_BENCH_KROUNDS:-5}
do_perf=${TCP_STEALTH_BENCH_PERF:-0}
rst_probes=${TCP_STEALTH_BENCH_RST_PROBES:-2000}
iso_knocks=${TCP_STEALTH_BENCH_ISO_KNOCKS:-20000}
iso_conns=${TCP_STEALTH_BENCH_ISO_CONNS:-200}
only=${TCP_STEALTH_BENCH_ONLY:-}
here=$(cd "$(dirname "$0")" && pwd)
flood=$here/synflood
rstlat=$here/rstlat
connb=$here/connbench
pingpong=$here/pingpong
pp_rt=${TCP_STEALTH_BENCH_PP_RT:-5000}
pp_rounds=${TCP_STEALTH_BENCH_PP_ROUNDS:-3}
CLI=10.9.0.1 SRV=10.9.0.2
P_CLOSED=5001 P_DROP=5002 P_PROT=5003 P_ISO=5004 P_PROT4=5005 P_ISN=5006
# Key A of the isolation case; the floods' key B is synflood's (PROTOCOL.md,
# section 12).
SECRET_A="bench isolation key A"
BENCH=/proc/net/tcp_stealth_bench
# A counter of /proc/net/tcp_stealth_stats in namespace $1 ("" = this one).
counter() {
	local k v
	while read -r k v; do
		[ "$k" = "$2" ] && { echo "$v"; return; }
	done < <(if [ -n "$1" ]; then ip netns exec "$1" cat /proc/net/tcp_stealth_stats; else cat /proc/net/tcp_stealth_stats; fi)
	echo 0
}

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	ip netns del bcli 2>/dev/null || true
	ip netns del bconn 2>/dev/null || true
	ip netns del bpps 2>/dev/null || true
	ip netns del bppc 2>/dev/null || true
	nft delete table inet bench 2>/dev/null || true
}
trap cleanup EXIT

echo "machine guest_kernel $(uname -r) cpus $(nproc)"

# --- set-up ------------------------------------------------------------------
ip link set lo up
ip netns add bcli
ip link add veth0 type veth peer name veth0 netns bcli
ip addr add $SRV/24 dev veth0
ip link set veth0 up
ip -n bcli addr add $CLI/24 dev veth0
ip -n bcli link set veth0 up
ip -n bcli link set lo up
nft add table inet bench
nft add chain inet bench in '{ type filter hook input priority 0; }'
nft add rule inet bench in tcp dport $P_DROP drop
# wait_ready FILE WHAT [TRIES]: until a program started in the background
# has written its first line to FILE (TRIES tenths of a second, 50 unless
# given); fails, saying that WHAT did not start, if it has not.
wait_ready() {
	for _ in $(seq "${3:-50}"); do [ -s "$1" ] && return 0; sleep 0.1; done
	echo "bench: $2 did not start" >&2
	return 1
}
"$connb" listen $P_PROT > /tmp/bench-listen.out &
pids+=($!)
wait_ready /tmp/bench-listen.out "protected listener"
# A listener with TCP_STEALTH_MAX_KEYS keys (section 5: a bad knock's cost
# must not depend on how many keys the listener has).
"$connb" listen $P_PROT4 4 > /tmp/bench-listen4.out &
pids+=($!)
wait_ready /tmp/bench-listen4.out "4-key listener"
# Warm up ARP and the paths.
ip netns exec bcli "$flood" $CLI $SRV $P_CLOSED 2000 10 badmac > /dev/null

# --- helpers (builtins: every fork costs under TCG) ----------------------------
# cpu ticks (USER_HZ) of all CPUs: "busy softirq".
cpu_ticks() {
	local cpu user nice system idle iowait irq softirq rest
	read -r cpu user nice system idle iowait irq softirq rest < /proc/stat
	echo "$((user + nice + system + irq + softirq)) $softirq"
}
# IP datagrams received by this namespace.
in_receives() {
	local hdr vals
	{ read -r -a hdr; read -r -a vals; } < /proc/net/snmp
	for i in "${!hdr[@]}"; do
		[ "${hdr[$i]}" = InReceives ] && { echo "${vals[$i]}"; return; }
	done
	echo 0
}
# run_flood CASE PORT MODE COUNT: one bounded flood from bcli; adds the
# server's received datagrams, CPU ticks and the wall time (centiseconds)
# around it to the case's totals.
declare -A f_syns f_soft f_busy f_wall f_sent
run_flood() {
	local name=$1 port=$2 mode=$3 count=$4 b0 s0 r0 b1 s1 r1 out t0 t1 n
	read -r b0 s0 < <(cpu_ticks)
	r0=$(in_receives)
	read -r t0 _ < /proc/uptime
	out=$(ip netns exec bcli "$flood" $CLI $SRV "$port" "$count" "$secs" "$mode")
	read -r t1 _ < /proc/uptime
	read -r b1 s1 < <(cpu_ticks)
	r1=$(in_receives)
	echo "round $name syns $((r1 - r0)) softirq_ticks $((s1 - s0)) busy_ticks $((b1 - b0)) $out wall_cs $((${t1/./} - ${t0/./}))"
	f_syns[$name]=$((${f_syns[$name]:-0} + r1 - r0))
	f_soft[$name]=$((${f_soft[$name]:-0} + s1 - s0))
	f_busy[$name]=$((${f_busy[$name]:-0} + b1 - b0))
	f_wall[$name]=$((${f_wall[$name]:-0} + ${t1/./} - ${t0/./}))
	n=${out#sent }
	f_sent[$name]=$((${f_sent[$name]:-0} + ${n%% *}))
}

# --- 8. round trips of a connection that is up, over veth ------------------------
# Two namespaces of their own, bppc (client, 10.11.0.1) and bpps (server,
# 10.11.0.2), on a veth pair, so that early demux runs as for a device.
# "untouched": no socket in either has a secret, so the module has no hooks
# there (before that was made lazy: its hooks parsed every segment);
# "in_use": each gets a socket with a secret (pingpong secret), which
# brings the hooks, and the same connection runs again. It comes second:
# the hooks stay.
pingpong_case() {
	local name=$1 r out
	for r in $(seq "$pp_rounds"); do
		ip netns exec bpps "$pingpong" serve 10.11.0.2 6001 > /tmp/bench-pp-serve.out &
		pids+=($!)
		wait_ready /tmp/bench-pp-serve.out "pingpong serve" 100
		out=$(ip netns exec bppc "$pingpong" run 10.11.0.2 6001 "$pp_rt")
		wait "${pids[-1]}"
		: > /tmp/bench-pp-serve.out
		echo "pp_round $name $r ${out#pingpong }"
	done
}
pingpong_section() {
	ip netns add bpps
	ip netns add bppc
	ip link add veth1 netns bpps type veth peer name veth1 netns bppc
	ip -n bpps addr add 10.11.0.2/24 dev veth1
	ip -n bppc addr add 10.11.0.1/24 dev veth1
	ip -n bpps link set veth1 up
	ip -n bppc link set veth1 up
	ip -n bpps link set lo up
	ip -n bppc link set lo up
	pingpong_case untouched
	echo "pp_stats untouched $(ip netns exec bpps cat /proc/net/tcp_stealth_stats | tr '\n' ' ')"
	local ns
	for ns in bpps bppc; do
		ip netns exec $ns "$pingpong" secret > /tmp/bench-pp-secret-$ns.out &
		pids+=($!)
		wait_ready /tmp/bench-pp-secret-$ns.out "pingpong secret in $ns" 100
	done
	pingpong_case in_use
	echo "pp_stats in_use $(ip netns exec bpps cat /proc/net/tcp_stealth_stats | tr '\n' ' ')"
}
# --- 5b. time to answer a SYN at a port in ISN mode -------------------------------
# The original Knock's ISN mode: a listener with one key in ISN mode against
# the closed port, a plain SYN (which an ISN port checks as a knock) and one
# with a knock option (which an ISN port ignores). Run last: the first socket
# in ISN mode makes every SYN this namespace judges cost the ISN check too.
isn_section() {
	"$connb" listen $P_ISN 1 isn > /tmp/bench-listen-isn.out &
	pids+=($!)
	wait_ready /tmp/bench-listen-isn.out "ISN listener"
	ip netns exec bcli "$rstlat" $CLI $SRV $P_ISN $P_CLOSED "$rst_probes" plain rstlat_isn
	ip netns exec bcli "$rstlat" $CLI $SRV $P_ISN $P_CLOSED "$rst_probes" knock rstlat_isn_knock
}

if [ "$only" = pingpong ]; then
	pingpong_section
	echo "bench done"
	exit 0
fi

# --- 5. time to answer a knockless SYN ------------------------------------------
# One SYN at a time from bcli, protected and closed port taking turns; the
# time from the SYN leaving bcli's veth0 to the RST arriving there.
case $only in replay | scale) ;; *) ip netns exec bcli "$rstlat" $CLI $SRV $P_PROT $P_CLOSED "$rst_probes" ;; esac
# The same with a well-formed knock whose MAC is wrong: the protected port
# verifies it against its keys (SipHash) before it answers.
case $only in replay | scale) ;; *) ip netns exec bcli "$rstlat" $CLI $SRV $P_PROT $P_CLOSED "$rst_probes" knock ;; esac
# Again at the listener with four keys.
case $only in replay | scale) ;; *) ip netns exec bcli "$rstlat" $CLI $SRV $P_PROT4 $P_CLOSED "$rst_probes" knock rstlat_knock4 ;; esac
if [ "$only" = rstlat ]; then
	isn_section
	echo "stats $(tr '\n' ' ' < /proc/net/tcp_stealth_stats)"
	echo "bench done"
	exit 0
fi

# --- 1. SYN floods -----------------------------------------------------------
# The cases take turns, so that drift (host load) hits all of them alike.
cases="a_closed b_nft_drop c_bad_mac d_replay"
[ "$only" != scale ] || cases="a_closed c_bad_mac"
[ "$only" != replay ] || flood_rounds=0
for _ in $(seq "$flood_rounds"); do
	for c in $cases; do
		case $c in
		a_closed) run_flood $c $P_CLOSED badmac "$syns" ;;
		b_nft_drop) run_flood $c $P_DROP badmac "$syns" ;;
		c_bad_mac) run_flood $c $P_PROT badmac "$syns" ;;
		d_replay) run_flood $c $P_PROT replay "$syns" ;;
		esac
	done
done
for c in $cases; do
	[ "$only" != replay ] || break
	echo "flood $c syns ${f_syns[$c]} softirq_ticks ${f_soft[$c]} busy_ticks ${f_busy[$c]} wall_cs ${f_wall[$c]} sent ${f_sent[$c]}"
done
echo "stats $(tr '\n' ' ' < /proc/net/tcp_stealth_stats)"

# Not on the scale run (1 vCPU): sections 3, 4 and 6 do not depend on the
# number of CPUs the way the floods and connections may.
if [ "$only" != scale ]; then
	# --- 3. in-kernel MAC verification, 4. memory -----------------------------------
	for bad in 0 abc 1000001 -5 "replay 0" "replay x"; do
		if echo "$bad" > $BENCH 2>/dev/null; then
			echo "bench: $BENCH accepted '$bad'" >&2
			exit 1
		fi
	done
	echo "kbench_einval ok"
	# Several runs, for the spread of the ratios; the table shows the last
	# run's figures and the median and range of verify/secure_tcp_seq().
	for r in $(seq "$krounds"); do
		[ "$only" != replay ] || break
		echo "$kiter" > $BENCH
		line="kbench_round $r"
		while read -r k v; do
			case $k in *_ns) line="$line $k $v" ;; esac
		done < $BENCH
		echo "$line"
	done
	while read -r k v; do
		case $k in flood_*) ;; *) echo "kbench $k $v" ;; esac
	done < $BENCH

	# 4. distinct valid knocks through a replay cache like a namespace's, in
	# the kernel: as many as asked for, at in-kernel speed.
	echo "replay $replay_knocks" > $BENCH
	flooded=0
	while read -r k v; do
		case $k in flood_*) echo "kbench $k $v" ;; esac
		[ "$k" != flood_knocks ] || flooded=$v
	done < $BENCH
	if [ "$flooded" != "$replay_knocks" ]; then
		echo "bench: the replay flood ran $flooded of $replay_knocks knocks" >&2
		exit 1
	fi

	# A chain after the module's input hook (priority 10) drops the SYNs the
	# module let through to the flooded port, so that each costs the server the
	# knock check and the cache, not a whole handshake (14 ms each under TCG).
	nft add chain inet bench late '{ type filter hook input priority 20; }'
	nft add rule inet bench late tcp dport $P_PROT tcp flags syn counter drop

	# 6. isolation (issue 14): key B's holder floods valid knocks timestamped at
	# the far edge of the window, far more than the cache keeps for one key
	# (default limits); meanwhile key A's clients connect from bcli, one after
	# the other. None may be refused; B's own excess is (knock_replay_full).
	"$connb" serve $P_ISO "$SECRET_A" > /tmp/bench-serve.out &
	pids+=($!)
	for _ in $(seq 50); do [ -s /tmp/bench-serve.out ] && break; sleep 0.1; done
	good0=$(counter "" knock_good) replay0=$(counter "" knock_replay) full0=$(counter "" knock_replay_full)
	ip netns exec bcli "$flood" $CLI $SRV $P_PROT "$iso_knocks" 600 edge > /tmp/bench-iso.out &
	fpid=$!
	pids+=($fpid)
	iso=$(ip netns exec bcli "$connb" knock $SRV $P_ISO "$iso_conns" "$SECRET_A")
	wait $fpid
	echo "iso flood $(cat /tmp/bench-iso.out) ${iso#knock } good $(($(counter "" knock_good) - good0)) replay $(($(counter "" knock_replay) - replay0)) full $(($(counter "" knock_replay_full) - full0)) limits $(sysctl -n net.tcp_stealth.replay_max) limits_key $(sysctl -n net.tcp_stealth.replay_key_max)"

	# 4. a flood of distinct valid knocks on the wire against the replay cache,
	# sampled, with limits the administrator set for it (raised, never lowered:
	# lowering would forget the isolation flood's knocks, docs/PROTOCOL.md
	# section 8).
	sysctl -q net.tcp_stealth.replay_max=$((mem_knocks + 4 * 4096))
	sysctl -q net.tcp_stealth.replay_key_max=$((mem_knocks + 4096))
	good0=$(counter "" knock_good) replay0=$(counter "" knock_replay) full0=$(counter "" knock_replay_full)
	ip netns exec bcli "$flood" $CLI $SRV $P_PROT "$mem_knocks" 600 valid > /tmp/bench-mem.out &
	fpid=$!
	pids+=($fpid)
	max_live=0 samples=0
	while kill -0 $fpid 2>/dev/null; do
		while read -r k v; do
			case $k in
			replay_live) [ "$v" -gt "$max_live" ] && max_live=$v; samples=$((samples + 1)) ;;
			esac
		done < $BENCH
		sleep 1
	done
	wait $fpid
	echo "mem flood $(cat /tmp/bench-mem.out) samples $samples max_live $max_live"
	echo "mem verdicts good $(($(counter "" knock_good) - good0)) replay $(($(counter "" knock_replay) - replay0)) full $(($(counter "" knock_replay_full) - full0))"
	echo "mem late_drop $(nft list chain inet bench late | grep -o 'packets [0-9]*')"
	nft delete chain inet bench late
	while read -r k v; do
		case $k in replay_*) echo "mem after $k $v" ;; esac
	done < $BENCH
	echo "stats $(tr '\n' ' ' < /proc/net/tcp_stealth_stats)"
fi

# --- 2. connection set-up ---------------------------------------------------------
ip netns add bconn
ip -n bconn link set lo up
# The default skew; room for every knock of the loop (and the profile's)
# within it, as an administrator would size it (1.4 MB).
ip netns exec bconn sysctl -q net.tcp_stealth.replay_max=65536
ip netns exec bconn sysctl -q net.tcp_stealth.replay_key_max=65536
ip netns exec bconn "$connb" run "$conns" "$rounds" "$intlen"
echo "conn_stats $(ip netns exec bconn cat /proc/net/tcp_stealth_stats | tr '\n' ' ')"

case $only in replay | scale) ;; *) pingpong_section ;; esac
case $only in replay | scale) ;; *) isn_section ;; esac

# --- perf profiles ------------------------------------------------------------------
if [ "$only" != replay ] && [ "$only" != scale ] && [ "$do_perf" = 1 ] && command -v perf > /dev/null; then
	for c in a_closed:$P_CLOSED c_bad_mac:$P_PROT; do
		name=${c%%:*} port=${c##*:}
		if perf record -q -F 199 -a -o /tmp/perf.$name.data -- \
			ip netns exec bcli "$flood" $CLI $SRV "$port" "$syns" "$secs" badmac > /dev/null 2>&1; then
			echo "=== perf $name begin"
			timeout 300 perf report -i /tmp/perf.$name.data --stdio --no-children \
				--sort sym --percent-limit 0.7 2>/dev/null | grep -v '^$' | head -50 || true
			echo "=== perf $name end"
		else
			echo "perf $name unavailable"
		fi
	done
	# The connection loop (all three cases taking turns, in bconn as in
	# section 2): the top symbols, and the module's with what they call.
	if ip netns exec bconn perf record -q -F 999 -a -g -o /tmp/perf.conn.data -- \
		"$connb" run "$conns" 5 "$intlen" > /dev/null 2>&1; then
		echo "=== perf conn begin"
		timeout 300 perf report -i /tmp/perf.conn.data --stdio --no-children \
			--sort sym --percent-limit 0.7 -g none 2>/dev/null | grep -v '^$' | head -40 || true
		echo "--- the module's functions, with their callees (children):"
		timeout 300 perf report -i /tmp/perf.conn.data --stdio --children \
			--sort sym -g none 2>/dev/null | grep -E '^ +[0-9]' |
			grep -E 'tcp_stealth|call_rcu|rcu_gp|blake2s|stealth_' | head -25 || true
		echo "=== perf conn end"
	else
		echo "perf conn unavailable"
	fi
fi
echo "bench done"
