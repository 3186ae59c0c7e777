#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo's script inside the VM (scripts/demo.sh boots the VM and runs
# this with tcp_stealth loaded). Two network namespaces joined by veth:
# "server" (10.0.0.2) runs two services, "client" (10.0.0.1) scans and knocks.
set -euo pipefail

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() { ip netns del server 2>/dev/null; ip netns del client 2>/dev/null; kill $(jobs -p) 2>/dev/null || true; }
trap cleanup EXIT

ip netns add server
ip netns add client
ip link add veth0 netns client type veth peer name veth0 netns server
ip -n client addr add 10.0.0.1/24 dev veth0
ip -n server addr add 10.0.0.2/24 dev veth0
for ns in client server; do ip -n $ns link set lo up; ip -n $ns link set veth0 up; done

# A tiny service: answers each connection with a greeting. With a secret it
# makes its listening socket stealthy with one setsockopt (two on a kernel
# without the tcp_stealth patch: TCP_ULP first).
cat > /tmp/demo_server.py <<'PY'
import socket, sys
port, secret = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if secret:
    s.setsockopt(socket.IPPROTO_TCP, 0x5354, secret.encode())   # TCP_STEALTH
s.bind(("0.0.0.0", port)); s.listen(8)
while True:
    c, peer = s.accept()
    c.sendall(b"hello from port %d, %s\n" % (port, peer[0].encode())); c.close()
PY
cat > /tmp/demo_client.py <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.settimeout(3)
if len(sys.argv) > 3:
    s.setsockopt(socket.IPPROTO_TCP, 0x5354, sys.argv[3].encode())  # TCP_STEALTH
try:
    s.connect((host, port)); print("  connected:", s.recv(100).decode().strip())
except OSError as e:
    print("  connect failed:", e.strerror)
PY
cat > /tmp/demo_scan.py <<'PY'
import socket, sys
host = sys.argv[1]
for port in range(int(sys.argv[2]), int(sys.argv[3]) + 1):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((host, port)); state = "open"
    except ConnectionRefusedError:
        state = "closed"
    except OSError:
        state = "filtered"
    if state != "closed" or port in (2222, 8080):
        print("  %5d/tcp %s" % (port, state))
    s.close()
print("  (all other ports closed)")
PY

say "tcp_stealth is loaded"
run grep tcp_stealth /proc/modules
run cat /proc/sys/net/ipv4/tcp_available_ulp

say "The server runs a public web service on 8080 and a secret service on 2222"
ip netns exec server python3 /tmp/demo_server.py 8080 &
ip netns exec server python3 /tmp/demo_server.py 2222 "correct horse battery staple" &
sleep 3
echo "  2222 is protected by one call: setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, len)"

say "A port scanner sweeps ports 2200-2230 and 8080"
ip netns exec client python3 /tmp/demo_scan.py 10.0.0.2 2200 2230
ip netns exec client python3 /tmp/demo_scan.py 10.0.0.2 8080 8080
echo "  Port 2222 answers exactly like a closed port: an immediate RST."

say "A client without the secret"
ip netns exec client python3 /tmp/demo_client.py 10.0.0.2 2222

say "A client with the wrong secret"
ip netns exec client python3 /tmp/demo_client.py 10.0.0.2 2222 "wrong horse"

say "A client that knows the secret knocks in its SYN and gets through"
ip netns exec client python3 /tmp/demo_client.py 10.0.0.2 2222 "correct horse battery staple"

say "Payload integrity: the knock also commits to the client's first message"
cat > /tmp/demo_int_server.py <<'PY'
import socket, struct
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_TCP, 0x5354, b"correct horse battery staple")  # TCP_STEALTH
s.setsockopt(socket.IPPROTO_TCP, 0x5356, struct.pack("i", 16))   # TCP_STEALTH_INTEGRITY_LEN
s.bind(("0.0.0.0", 2223)); s.listen(8)
while True:
    c, peer = s.accept()
    try:
        msg = c.recv(100)
        print("  server read:", msg.decode().strip())
        c.sendall(b"welcome\n")
    except OSError as e:
        print("  server read failed:", e.strerror, "- it never saw the bytes")
    c.close()
PY
cat > /tmp/demo_int_client.py <<'PY'
import socket, sys
committed, sent = sys.argv[1].encode(), sys.argv[2].encode()
s = socket.socket(); s.settimeout(3)
s.setsockopt(socket.IPPROTO_TCP, 0x5354, b"correct horse battery staple")  # TCP_STEALTH
s.setsockopt(socket.IPPROTO_TCP, 0x5355, committed)              # TCP_STEALTH_INTEGRITY
s.connect(("10.0.0.2", 2223))
s.sendall(sent)
try:
    print("  client got:", s.recv(100).decode().strip() or "(connection closed)")
except OSError as e:
    print("  client:", e.strerror)
PY
ip netns exec server python3 -u /tmp/demo_int_server.py &
sleep 2
echo "  Port 2223 wants the first 16 bytes committed: setsockopt(TCP_STEALTH_INTEGRITY_LEN, 16)."
echo "  A client commits to \"LOGIN alice 2026\" and sends exactly that:"
ip netns exec client python3 /tmp/demo_int_client.py "LOGIN alice 2026" "LOGIN alice 2026"
sleep 0.5
echo "  The same knock, but the first message was tampered with on the way:"
ip netns exec client python3 /tmp/demo_int_client.py "LOGIN alice 2026" "LOGIN mallory 26"
sleep 0.5
echo "  The server's kernel reset the connection; the application got EBADMSG, not the bytes."

say "A replayed SYN is refused"
cat > /tmp/demo_replay.py <<'PY'
# Capture the knocking client's SYN on the wire, then send it again from
# another source port, as an eavesdropper would.
import socket, struct
cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(3))  # ETH_P_ALL
cap.bind(("veth0", 3)); cap.settimeout(3)
c = socket.socket(); c.settimeout(3)
c.setsockopt(socket.IPPROTO_TCP, 0x5354, b"correct horse battery staple")
c.connect(("10.0.0.2", 2222)); c.recv(100); c.close()
while True:
    pkt, addr = cap.recvfrom(2048)
    ihl = (pkt[0] & 15) * 4
    tcp = bytearray(pkt[ihl:])
    if addr[1] == 0x0800 and addr[2] == socket.PACKET_OUTGOING and pkt[9] == 6 and \
       struct.unpack("!H", tcp[2:4])[0] == 2222 and tcp[13] & 0x12 == 0x02:
        break
sport = struct.unpack("!H", tcp[0:2])[0]
tcp[0:2] = struct.pack("!H", sport ^ 1); tcp[16:18] = b"\0\0"
data = pkt[12:20] + struct.pack("!BBH", 0, 6, len(tcp)) + bytes(tcp)
s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
while s >> 16: s = (s & 0xffff) + (s >> 16)
tcp[16:18] = struct.pack("!H", ~s & 0xffff)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
raw.sendto(bytes(tcp), ("10.0.0.2", 0))
print("  captured the knocking SYN from port %d, sent it again from port %d" % (sport, sport ^ 1))
PY
ip netns exec client python3 /tmp/demo_replay.py
sleep 0.5
echo "  The server's replay cache knew that knock: $(ip netns exec server grep knock_replay /proc/net/tcp_stealth_stats)"

knock=./target/release/knock
say "A daemon nobody wants to touch, protected by the administrator alone"
echo "  python3 -m http.server runs unmodified on port 8000; the administrator protects the port:"
ip netns exec server python3 -m http.server -b 10.0.0.2 8000 >/dev/null 2>&1 &
run $knock keygen /tmp/demo.key
sleep 2
run $knock protect 8000 --key /tmp/demo.key --netns server
run ip netns exec server cat /proc/net/tcp_stealth_policy
echo "  A plain curl:"
ip netns exec client curl -sS -m 3 -o /dev/null http://10.0.0.2:8000/ 2>&1 | sed 's/^/  /' || true

say "An unmodified program through the LD_PRELOAD shim knocks"
printf '$ knock exec --key /tmp/demo.key -- curl http://10.0.0.2:8000/\n'
ip netns exec client $knock exec --key /tmp/demo.key -- curl -sS -m 3 http://10.0.0.2:8000/ | head -3 | sed 's/^/  /'

say "What the server's kernel saw (per-namespace counters)"
ip netns exec server grep -v ' 0$' /proc/net/tcp_stealth_stats | sed 's/^/  /'
say "And the client's"
ip netns exec client grep -v ' 0$' /proc/net/tcp_stealth_stats | sed 's/^/  /'
