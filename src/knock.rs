// SPDX-License-Identifier: GPL-2.0

//! The knock on the wire: added to SYNs on output, checked on input.

use crate::ffi::{
    crypto::KernelCrypto,
    netfilter::{HookArgs, Verdict},
    now_secs, random_bytes,
    skb::{Family, SkBuff},
    sock::TcpState,
};
use crate::proto::{self, FindResult, Reject, ReplayVerdict, Skew};
use crate::sockopt::{KeySet, Mode, SockCtx};
use crate::stats::Counter;
use crate::NetState;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;
const IPPROTO_TCP: u8 = 6;

/// The parts of a TCP packet the module looks at.
pub(crate) struct TcpPacket {
    /// Offset of the TCP header from the network header.
    th: usize,
    flags: u8,
    sport: u16,
    dport: u16,
    seq: u32,
    /// Source address, IPv4 as IPv4-mapped IPv6.
    saddr: [u8; 16],
    /// Destination address: 4 bytes for IPv4, 16 for IPv6.
    daddr: [u8; 16],
    daddr_len: usize,
    opts: [u8; 40],
    opts_len: usize,
}

impl TcpPacket {
    /// Reads the headers of a TCP packet; `None` for anything else, including
    /// IPv4 fragments other than the first.
    pub(crate) fn parse(skb: &SkBuff, family: Family) -> Option<Self> {
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        let (th, daddr_len) = match family {
            Family::Ipv4 => {
                let mut ip = [0u8; 20];
                skb.read_network(0, &mut ip)?;
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
                if ip[9] != IPPROTO_TCP || ihl < 20 || frag_off != 0 {
                    return None;
                }
                saddr[10] = 0xff;
                saddr[11] = 0xff;
                saddr[12..].copy_from_slice(&ip[12..16]);
                daddr[..4].copy_from_slice(&ip[16..20]);
                (ihl, 4)
            }
            Family::Ipv6 => {
                skb.read_network(8, &mut saddr)?;
                skb.read_network(24, &mut daddr)?;
                (skb.ipv6_tcp_offset()?, 16)
            }
        };
        let mut hdr = [0u8; 20];
        skb.read_network(th, &mut hdr)?;
        let doff = usize::from(hdr[12] >> 4) * 4;
        if doff < 20 {
            return None;
        }
        let mut opts = [0u8; 40];
        let opts_len = doff - 20;
        skb.read_network(th + 20, &mut opts[..opts_len])?;
        Some(Self {
            th,
            flags: hdr[13],
            sport: u16::from_be_bytes([hdr[0], hdr[1]]),
            dport: u16::from_be_bytes([hdr[2], hdr[3]]),
            seq: u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]),
            saddr,
            daddr,
            daddr_len,
            opts,
            opts_len,
        })
    }

    fn is_syn(&self) -> bool {
        self.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_SYN
    }

    fn options(&self) -> &[u8] {
        &self.opts[..self.opts_len]
    }

    fn daddr(&self) -> &[u8] {
        &self.daddr[..self.daddr_len]
    }

    /// The TSval of the timestamp option, 0 without one (as the original
    /// Knock takes it).
    fn tsval(&self) -> u32 {
        proto::find_tsval(self.options()).map_or(0, |(_, v)| v)
    }
}

/// Offset of the sequence number in the TCP header.
const TCP_SEQ_OFFSET: usize = 4;

impl NetState {
    /// Input: every TCP packet addressed to this namespace.
    ///
    /// Packets with ACK or RST set get from a listener the same answer as from
    /// a closed port (an RST, or nothing), so they pass to TCP, which also
    /// completes SYN-cookie handshakes; unless they are addressed to a
    /// broadcast or anycast address, which a listener answers and a closed
    /// port does not. Frames the link layer did not address to this host
    /// pass too: TCP discards them. A SYN to a listener with keys must
    /// carry a valid, fresh, unreplayed knock. Other probes (FIN, NULL, Xmas,
    /// SYN+FIN) would be ignored silently by a listener where a closed port
    /// answers with an RST; they get the closed port's answer.
    pub(crate) fn local_in(&self, skb: &SkBuff, family: Family, args: &HookArgs<'_>) -> Verdict {
        let Some(pkt) = TcpPacket::parse(skb, family) else {
            return Verdict::Accept;
        };
        if pkt.is_syn() {
            self.counters.inc(Counter::SynIn);
        }
        // TCP discards what the link layer did not address to this host.
        if !skb.for_host() || !self.has_stealth_sockets() {
            return Verdict::Accept;
        }
        // A listener answers an ACK to a broadcast or anycast address, a
        // closed port does not: those are rejected below, silently.
        if pkt.flags & (TCP_ACK | TCP_RST) != 0 && skb.to_local_unicast(family) {
            return Verdict::Accept;
        }
        let Some(sock) = args.lookup_sock(skb, family) else {
            return Verdict::Accept;
        };
        let sk = match sock.sock().state() {
            TcpState::Listen => sock.sock(),
            // TCP gives a SYN that may reuse a TIME_WAIT 4-tuple to the
            // listener: it needs a knock as much as any other.
            TcpState::TimeWait if pkt.is_syn() => match args.lookup_listener(skb, family, pkt.th) {
                Some(l) => l,
                None => return Verdict::Accept,
            },
            _ => return Verdict::Accept,
        };
        // The listener's own keys, or else the administrator's for its port.
        let own = sk
            .stealth(args.rcu())
            .and_then(|ctx| Some((ctx, ctx.keys(args.rcu())?)));
        let (keys, mode, integrity_len) = match own {
            Some((ctx, keys)) => (keys, ctx.mode(), ctx.integrity_len()),
            None => match self.policy.keys(pkt.dport, args.rcu()) {
                Some(keys) => (keys, Mode::Option, 0),
                None => return Verdict::Accept,
            },
        };
        // What a closed port's TCP would do with it: drop a bad checksum or
        // unexpected authentication options silently, answer the rest.
        if !args.tcp_checksum_ok(skb, family, pkt.th) {
            return Verdict::Drop;
        }
        let tcp_silent = proto::tcp_drops_auth_options(pkt.options(), cfg!(CONFIG_TCP_AO));
        if !pkt.is_syn() {
            self.counters.inc(Counter::ProbeRejected);
            return self.reject(skb, family, args, tcp_silent);
        }
        if mode == Mode::Isn {
            let integrity = integrity_len > 0;
            return self.isn_in(skb, family, args, (keys, integrity), &pkt, tcp_silent);
        }
        let option = match proto::find_knock(pkt.options()) {
            FindResult::Found { option, .. } => option,
            FindResult::Absent => {
                self.counters.inc(Counter::KnockMissing);
                return self.reject(skb, family, args, tcp_silent);
            }
            FindResult::Malformed => {
                self.counters.inc(Counter::KnockMalformed);
                return self.reject(skb, family, args, tcp_silent);
            }
        };
        if tcp_silent {
            // A knock next to TCP-MD5/AO options: TCP would drop the SYN.
            self.counters.inc(Counter::KnockMalformed);
            return self.reject(skb, family, args, true);
        }
        let now = now_secs();
        let skew = self.skew();
        let v = match proto::verify(&KernelCrypto, keys.keys(), option, pkt.dport, now, skew) {
            Ok(v) => v,
            Err(r) => {
                self.counters.inc(match r {
                    Reject::Malformed => Counter::KnockMalformed,
                    Reject::Stale => Counter::KnockStale,
                    Reject::BadMac => Counter::KnockBadMac,
                });
                return self.reject(skb, family, args, false);
            }
        };
        match (integrity_len > 0, v.integrity.is_some()) {
            (true, false) => {
                // The listener wants the first bytes proven; this client
                // does not commit to any: the port stays closed to it.
                self.counters.inc(Counter::IntegrityMissing);
                return self.reject(skb, family, args, false);
            }
            (false, true) => self.counters.inc(Counter::IntegrityUnchecked),
            _ => {}
        }
        let verdict = self
            .replay
            .lock()
            .check_and_insert(&v.mac, &pkt.saddr, pkt.sport, v.t, now, skew);
        match verdict {
            ReplayVerdict::Fresh => self.counters.inc(Counter::KnockGood),
            ReplayVerdict::Retransmit => self.counters.inc(Counter::KnockRetransmit),
            ReplayVerdict::Replay => {
                self.counters.inc(Counter::KnockReplay);
                return self.reject(skb, family, args, false);
            }
        }
        Verdict::Accept
    }

    /// Output: a SYN from a socket with keys gets a fresh knock, made with
    /// the socket's newest key. Every retransmission gets its own, so the
    /// server never sees one twice.
    pub(crate) fn local_out(&self, skb: &SkBuff, family: Family, args: &HookArgs<'_>) -> Verdict {
        let Some(sk) = skb.sk() else {
            return Verdict::Accept;
        };
        let Some(ctx) = sk.stealth(args.rcu()) else {
            return Verdict::Accept;
        };
        let Some(keys) = ctx.keys(args.rcu()) else {
            return Verdict::Accept;
        };
        let Some(key) = keys.keys().first() else {
            return Verdict::Accept;
        };
        let Some(pkt) = TcpPacket::parse(skb, family) else {
            return Verdict::Accept;
        };
        if !pkt.is_syn() {
            return Verdict::Accept;
        }
        if ctx.mode() == Mode::Isn {
            return self.isn_out(skb, sk, ctx, keys, &pkt);
        }
        if !proto::option_fits(pkt.opts_len) {
            self.counters.inc(Counter::KnockNoSpace);
            return Verdict::Drop;
        }
        let mut nonce = [0u8; 6];
        random_bytes(&mut nonce);
        let opt = proto::build(
            &KernelCrypto,
            key,
            pkt.dport,
            now_secs(),
            nonce,
            ctx.commitment(),
        );
        match skb.insert_tcp_option(family, pkt.th, &opt) {
            Ok(()) => {
                self.counters.inc(Counter::KnockSent);
                Verdict::Accept
            }
            Err(_) => {
                self.counters.inc(Counter::KnockNoSpace);
                Verdict::Drop
            }
        }
    }

    /// Input, ISN mode: a SYN to a listener in ISN mode must carry the
    /// original Knock's ISN for one of the listener's secrets, the SYN's
    /// destination address and port and its TSval (docs/PROTOCOL.md,
    /// section 13). There is no freshness or replay check: the original has
    /// none. A knock option in the SYN is ignored.
    fn isn_in(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        (keys, integrity): (&KeySet, bool),
        pkt: &TcpPacket,
        tcp_silent: bool,
    ) -> Verdict {
        if tcp_silent {
            // TCP-MD5/AO options: TCP would drop the SYN without an answer.
            self.counters.inc(Counter::IsnBad);
            return self.reject(skb, family, args, true);
        }
        let tsval = pkt.tsval();
        // With payload integrity the low 16 bits are IH: only the high 16
        // are checked here, IH when the bytes come (crate::integrity).
        // Every key is tried, so the time taken does not tell which matched.
        let ok = keys.legacy().iter().fold(false, |ok, secret| {
            ok | proto::legacy_check_isn(secret, pkt.seq, pkt.daddr(), pkt.dport, tsval, integrity)
        });
        if !ok {
            self.counters.inc(Counter::IsnBad);
            return self.reject(skb, family, args, false);
        }
        self.counters.inc(Counter::IsnGood);
        Verdict::Accept
    }

    /// Output, ISN mode: the SYN's sequence number becomes the original
    /// Knock's ISN, made with the socket's newest key.
    ///
    /// TCP chose its own ISN in `connect()` before the SYN, and with it the
    /// TSval, exists; the ISN covers the TSval. So the first transmission
    /// (inside `connect()`, socket owned) gets the ISN computed from its own
    /// TSval, written into the packet, and the socket's send sequence space
    /// is moved to it (`Sock::set_isn`). A retransmission already carries
    /// that ISN (TCP builds it from its retransmit queue) but a newer TSval:
    /// its TSval is set back to the first one, so that the ISN still
    /// verifies. The SYN-ACK then echoes the first TSval, which
    /// `tcp_rcv_synsent_state_process()` accepts: its TSecr check
    /// (`PAWSACTIVEREJECTED`) wants the echo between `retrans_stamp`, set
    /// before the first SYN and not moved by retransmissions, and now. The
    /// cost: after a retransmitted SYN, the timestamp RTT sample of the
    /// handshake counts from the first SYN (the original Knock did the same).
    fn isn_out(
        &self,
        skb: &SkBuff,
        sk: &crate::ffi::sock::Sock,
        ctx: &SockCtx,
        keys: &KeySet,
        pkt: &TcpPacket,
    ) -> Verdict {
        let Some(secret) = keys.legacy().first() else {
            return Verdict::Accept;
        };
        let ts = proto::find_tsval(pkt.options());
        if sk.syn_is_first(pkt.seq) {
            let tsval = ts.map_or(0, |(_, v)| v);
            let isn = proto::legacy_isn(secret, pkt.daddr(), pkt.dport, tsval, ctx.legacy_ih());
            if sk.set_isn(pkt.seq, isn).is_err() {
                self.counters.inc(Counter::IsnFailed);
                return Verdict::Drop;
            }
            ctx.record_isn(isn, tsval);
            // Should this fail, the retransmission carries the ISN.
            if skb
                .rewrite_tcp_header(pkt.th, TCP_SEQ_OFFSET, &isn.to_be_bytes())
                .is_err()
            {
                self.counters.inc(Counter::IsnFailed);
                return Verdict::Drop;
            }
            self.counters.inc(Counter::IsnSent);
            return Verdict::Accept;
        }
        // A retransmission of the SYN whose ISN we set.
        let Some((isn, tsval)) = ctx.sent_isn() else {
            self.counters.inc(Counter::IsnFailed);
            return Verdict::Drop;
        };
        if isn != pkt.seq {
            self.counters.inc(Counter::IsnFailed);
            return Verdict::Drop;
        }
        match ts {
            Some((_, now)) if now == tsval => {}
            Some((off, _)) => {
                if skb
                    .rewrite_tcp_header(pkt.th, 20 + off, &tsval.to_be_bytes())
                    .is_err()
                {
                    self.counters.inc(Counter::IsnFailed);
                    return Verdict::Drop;
                }
            }
            None if tsval == 0 => {}
            None => {
                self.counters.inc(Counter::IsnFailed);
                return Verdict::Drop;
            }
        }
        self.counters.inc(Counter::IsnResent);
        Verdict::Accept
    }

    /// Answers a rejected packet as a closed port does, or drops it, as the
    /// namespace's `net.tcp_stealth.reject` says. `tcp_silent`: a closed
    /// port would not answer this packet either.
    fn reject(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        tcp_silent: bool,
    ) -> Verdict {
        if self.drop_silently() {
            self.counters.inc(Counter::Dropped);
        } else if !tcp_silent && args.send_reset(skb, family) {
            self.counters.inc(Counter::RstSent);
        }
        Verdict::Drop
    }

    fn skew(&self) -> Skew {
        u64::try_from(self.settings.skew.get())
            .ok()
            .and_then(|s| Skew::new(s).ok())
            .unwrap_or(Skew::DEFAULT)
    }
}
