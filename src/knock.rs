// SPDX-License-Identifier: GPL-2.0

//! The knock on the wire: added to SYNs on output, checked on input.

use crate::ffi::{
    crypto::KernelCrypto,
    listen::{ListenerAnswer, ListenerSeg},
    netfilter::{HookArgs, HookPoint, HookSpec, HookState, Verdict},
    now_secs, random_u64,
    skb::{Family, Ipv6Tcp, SkBuff},
    sock::{SockCommon, TcpState},
    with_bh_disabled, RcuSection,
};
use crate::keys::KeySet;
use crate::netns::NetState;
use crate::policy::{CutReason, FlowId, FlowPlace, Segment};
use crate::proto::{self, Crypto, FindResult, Reject, ReplayVerdict, SynSource};
use crate::sockopt::{Mode, SockCtx};
use crate::stats::Counter;
use core::hint::black_box;

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
    /// IPv6 drops the packet in an extension header after the hook (see
    /// [`ipv6_drops_later`]): TCP never sees it, and a closed port does not
    /// answer it.
    left_to_ipv6: bool,
}

/// A protected listener, as the input hook judges a segment to it.
struct Guard<'a> {
    /// The listener.
    sk: &'a SockCommon,
    /// Its keys: its own, or the administrator's for its port.
    keys: &'a KeySet,
    mode: Mode,
    integrity_len: usize,
    /// The keys are the administrator's ([`crate::policy`]).
    by_policy: bool,
}

/// Why [`TcpPacket::parse`] found no segment to judge.
pub(crate) enum NotParsed {
    /// Not TCP: none of the module's business.
    NotTcp,
    /// A fragment of a larger packet that the stack will reassemble after
    /// the hook (IPv6; IPv4 is reassembled before `NF_INET_LOCAL_IN`).
    Fragment,
    /// TCP (or so it says) with headers that run past the packet's end, or a
    /// data offset below 20 bytes: TCP drops it without an answer.
    Truncated,
}

impl TcpPacket {
    /// Reads the headers of a TCP packet seen at hook `point`. At
    /// `LocalIn` the TCP header of an IPv6 packet is the one IPv6 will hand
    /// to TCP ([`ipv6_tcp_header`]); at `LocalOut` it is the one TCP wrote.
    pub(crate) fn parse(skb: &SkBuff, family: Family, point: HookPoint) -> Result<Self, NotParsed> {
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        let mut left_to_ipv6 = false;
        let (th, daddr_len) = match family {
            Family::Ipv4 => {
                let mut ip = [0u8; 20];
                skb.read_network(0, &mut ip).ok_or(NotParsed::Truncated)?;
                if ip[9] != IPPROTO_TCP {
                    return Err(NotParsed::NotTcp);
                }
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                if ihl < 20 {
                    return Err(NotParsed::Truncated);
                }
                // Fragment offset or MF: never seen here (IPv4 reassembles
                // before the hook), refused all the same.
                if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
                    return Err(NotParsed::Fragment);
                }
                saddr[10] = 0xff;
                saddr[11] = 0xff;
                saddr[12..].copy_from_slice(&ip[12..16]);
                daddr[..4].copy_from_slice(&ip[16..20]);
                (ihl, 4)
            }
            Family::Ipv6 => {
                skb.read_network(8, &mut saddr)
                    .ok_or(NotParsed::Truncated)?;
                skb.read_network(24, &mut daddr)
                    .ok_or(NotParsed::Truncated)?;
                let th = match point {
                    HookPoint::LocalIn => {
                        let th;
                        (th, left_to_ipv6) = ipv6_tcp_header(skb, daddr[0] == 0xff)?;
                        th
                    }
                    HookPoint::LocalOut => match skb.ipv6_tcp() {
                        Ipv6Tcp::At(th) => th,
                        Ipv6Tcp::NotTcp => return Err(NotParsed::NotTcp),
                        Ipv6Tcp::Fragment => return Err(NotParsed::Fragment),
                        Ipv6Tcp::Malformed => return Err(NotParsed::Truncated),
                    },
                };
                (th, 16)
            }
        };
        Self::tcp_part(skb, th, (saddr, daddr, daddr_len), left_to_ipv6)
    }

    /// Reads the headers of a segment that TCP is about to answer at a
    /// listener ([`ListenerSeg`]): TCP found its header, after the network
    /// header.
    fn at_listener(seg: &ListenerSeg<'_>) -> Result<Self, NotParsed> {
        let skb = seg.skb();
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        let daddr_len = match seg.family() {
            Family::Ipv4 => {
                let mut a = [0u8; 8];
                skb.read_network(12, &mut a).ok_or(NotParsed::Truncated)?;
                saddr[10] = 0xff;
                saddr[11] = 0xff;
                saddr[12..].copy_from_slice(&a[..4]);
                daddr[..4].copy_from_slice(&a[4..]);
                4
            }
            Family::Ipv6 => {
                skb.read_network(8, &mut saddr)
                    .ok_or(NotParsed::Truncated)?;
                skb.read_network(24, &mut daddr)
                    .ok_or(NotParsed::Truncated)?;
                16
            }
        };
        Self::tcp_part(skb, seg.th(), (saddr, daddr, daddr_len), false)
    }

    /// The TCP header's part of [`Self::parse`] and [`Self::at_listener`]:
    /// the header `th` bytes after the network header, with the addresses
    /// (source, destination, destination's length) already read.
    fn tcp_part(
        skb: &SkBuff,
        th: usize,
        (saddr, daddr, daddr_len): ([u8; 16], [u8; 16], usize),
        left_to_ipv6: bool,
    ) -> Result<Self, NotParsed> {
        let mut hdr = [0u8; 20];
        skb.read_network(th, &mut hdr).ok_or(NotParsed::Truncated)?;
        let doff = usize::from(hdr[12] >> 4) * 4;
        if doff < 20 {
            return Err(NotParsed::Truncated);
        }
        let mut opts = [0u8; 40];
        let opts_len = doff - 20;
        skb.read_network(th + 20, &mut opts[..opts_len])
            .ok_or(NotParsed::Truncated)?;
        Ok(Self {
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
            left_to_ipv6,
        })
    }

    fn is_syn(&self) -> bool {
        self.flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_SYN
    }

    /// The connection's 4-tuple, as the policy remembers it.
    fn flow_id(&self) -> FlowId {
        FlowId {
            saddr: self.saddr,
            daddr: self.daddr,
            sport: self.sport,
            dport: self.dport,
        }
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

/// Most bytes of extension headers [`ipv6_tcp_header`] reads; a longer
/// chain is [`proto::Walk::Unsure`].
const MAX_IPV6_CHAIN: usize = 256;

/// Where TCP will find the TCP header of an IPv6 packet: its offset from the
/// network header, and whether IPv6 drops the packet after the hook instead
/// (the offset is then the one the fixed header's chain gives, which is
/// what nftables matches on).
///
/// IPv6 resumes its walk of the chain after the hook where
/// [`SkBuff::ipv6_resume`] says (after a leading hop-by-hop header), and the
/// header judged is the one that walk reaches, so that what the check reads
/// is what TCP will read. Where the walk cannot tell and IPv6 would not
/// follow the chain `ipv6_find_hdr()` reads, the packet is not parsed (and
/// dropped if the namespace protects listeners).
fn ipv6_tcp_header(skb: &SkBuff, dst_multicast: bool) -> Result<(usize, bool), NotParsed> {
    let resume = skb.ipv6_resume().ok_or(NotParsed::Truncated)?;
    // No extension header at all (the fixed header names TCP): the common
    // case needs neither `ipv6_find_hdr()` nor a walk.
    if resume.offset == 40 && resume.nexthdr == IPPROTO_TCP {
        return Ok((40, false));
    }
    let found = skb.ipv6_tcp();
    if let Ipv6Tcp::Fragment = found {
        return Err(NotParsed::Fragment);
    }
    let walk = if resume.nexthdr == IPPROTO_TCP {
        proto::Walk::Tcp(0)
    } else {
        let n = resume.avail.min(MAX_IPV6_CHAIN);
        let mut bytes = [0u8; MAX_IPV6_CHAIN];
        skb.read_network(resume.offset, &mut bytes[..n])
            .ok_or(NotParsed::Truncated)?;
        let cfg = proto::Ipv6Context {
            max_dst_opts_count: resume.max_dst_opts_count,
            max_dst_opts_len: resume.max_dst_opts_len,
            seg6: resume.seg6,
            rpl: resume.rpl,
            mip6: cfg!(CONFIG_IPV6_MIP6),
            fragmented: resume.fragmented,
            jumbo: resume.jumbo,
        };
        proto::ipv6_walk(
            resume.nexthdr,
            &bytes[..n],
            n == resume.avail,
            dst_multicast,
            cfg,
            SkBuff::ipv6_handles,
        )
    };
    match walk {
        proto::Walk::Tcp(off) => Ok((resume.offset + off, false)),
        proto::Walk::Other => Err(NotParsed::NotTcp),
        // nftables takes an authentication header for the transport.
        proto::Walk::Dropped => match found {
            Ipv6Tcp::At(th) if !skb.ipv6_auth_first() => Ok((th, true)),
            _ => Err(NotParsed::NotTcp),
        },
        proto::Walk::Unsure => match found {
            _ if !resume_on_chain(skb, resume.offset, resume.nexthdr) => Err(NotParsed::Truncated),
            Ipv6Tcp::At(th) => Ok((th, false)),
            Ipv6Tcp::NotTcp => Err(NotParsed::NotTcp),
            _ => Err(NotParsed::Truncated),
        },
    }
}

/// Whether IPv6 resumes (at `offset`, with next header `nexthdr`) on the
/// chain read from the fixed header ([`proto::ipv6_on_chain`]).
fn resume_on_chain(skb: &SkBuff, offset: usize, nexthdr: u8) -> bool {
    let mut fixed = [0u8; 8];
    let mut chain = [0u8; MAX_IPV6_CHAIN];
    let Some(n) = offset.checked_sub(40).filter(|&n| n <= MAX_IPV6_CHAIN) else {
        return false;
    };
    if skb.read_network(0, &mut fixed).is_none() || skb.read_network(40, &mut chain[..n]).is_none()
    {
        return false;
    }
    proto::ipv6_on_chain(fixed[6], &chain[..n], offset, nexthdr)
}

/// The current second, as [`proto::Admitted`] counts them (until 2106).
fn now_secs32() -> u32 {
    u32::try_from(now_secs()).unwrap_or(u32::MAX)
}

/// Offset of the sequence number in the TCP header.
const TCP_SEQ_OFFSET: usize = 4;
/// Offset of the flags byte in the TCP header.
const TCP_FLAGS_OFFSET: usize = 13;

impl NetState {
    /// Input: every TCP packet addressed to this namespace.
    ///
    /// The packet is judged by the socket TCP will give it to, found as TCP
    /// finds it. Packets for a connection, a request or an unprotected
    /// listener pass untouched. A packet for which TCP would find no socket
    /// at all is answered here as TCP would answer it ([`Self::closed_port`]),
    /// while the namespace has protected listeners, so that a closed port
    /// answers on the same path, in the same time, as a protected one. To a
    /// protected listener:
    /// - a SYN must carry a valid, fresh, unreplayed knock;
    /// - a segment with ACK (and not RST) passes only if its 4-tuple knocked
    ///   just before: it may complete a SYN-cookie handshake, which has no
    ///   other state; any other ACK gets what a listener without a cookie for
    ///   it and a closed port both answer, an RST;
    /// - other probes (FIN, NULL, Xmas, SYN+FIN), which a listener ignores
    ///   and a closed port answers with an RST, get the closed port's answer;
    /// - an RST passes (neither a listener nor a closed port answers it).
    ///
    /// Frames the link layer did not address to this host pass too: TCP
    /// discards them. Answers go only to packets for a local unicast address,
    /// as TCP's to a closed port (not to broadcast, multicast or anycast
    /// destinations, which a listener may answer).
    ///
    /// What cannot be parsed whole never reaches a protected listener
    /// unjudged: IPv6 is reassembled before this hook (see
    /// [`PernetState::WHOLE_IPV6`](crate::ffi::pernet::PernetState)), and a
    /// fragment or truncated segment that still gets here, which TCP would
    /// drop or never see whole, is dropped.
    pub(crate) fn local_in(&self, skb: &SkBuff, family: Family, args: &HookArgs<'_>) -> Verdict {
        // Most segments belong to a connection that is up, and early demux
        // already gave them to it: TCP takes that socket, no listener, so
        // there is nothing to judge (or count), unless the policy checks
        // some connection's first bytes. (Not on loopback, where early
        // demux does not run: the lookup below stands in for it.)
        if args.connected(skb) && !self.policy.checking() {
            return Verdict::Accept;
        }
        let pkt = match TcpPacket::parse(skb, family, HookPoint::LocalIn) {
            Ok(pkt) => pkt,
            Err(NotParsed::NotTcp) => return Verdict::Accept,
            Err(why) => {
                if !self.has_stealth_sockets() {
                    return Verdict::Accept;
                }
                self.counters.inc(match why {
                    NotParsed::Fragment => Counter::FragmentDropped,
                    _ => Counter::TruncatedDropped,
                });
                return Verdict::Drop;
            }
        };
        // What IPv6 drops after the hook gets its answer (silence or an
        // ICMPv6 parameter problem) as at a closed port; a filtered port
        // answers nothing, so in drop mode it is judged below.
        let drop_mode = self.drop_silently();
        if pkt.left_to_ipv6 && !drop_mode {
            return Verdict::Accept;
        }
        if pkt.is_syn() {
            self.counters.inc(Counter::SynIn);
        }
        // (An RST that IPv6 drops after the hook is judged below.)
        if pkt.flags & TCP_RST != 0 && !pkt.left_to_ipv6 {
            if self.hides_refusal(skb, family, args, &pkt) {
                self.counters.inc(Counter::RefusalHidden);
                return Verdict::Drop;
            }
            return Verdict::Accept;
        }
        // TCP discards what the link layer did not address to this host.
        if !skb.for_host() || !self.has_stealth_sockets() {
            return Verdict::Accept;
        }
        if !pkt.is_syn() {
            if let Some(v) = self.policy_segment(skb, family, args, &pkt) {
                return v;
            }
        }
        let Some(found) = args.lookup(skb, family, pkt.th, false) else {
            return self.closed_port(skb, family, args, &pkt, drop_mode);
        };
        let listener;
        let sk = match found.sock().state() {
            TcpState::Listen => found.sock(),
            // TCP gives a SYN that may reuse a TIME_WAIT 4-tuple to the
            // listener: it needs a knock as much as any other.
            TcpState::TimeWait if pkt.is_syn() => {
                listener = args.lookup(skb, family, pkt.th, true);
                match &listener {
                    Some(l) if l.sock().state() == TcpState::Listen => l.sock(),
                    _ => return Verdict::Accept,
                }
            }
            _ => return Verdict::Accept,
        };
        match self.guard(sk, family, args.rcu()) {
            Some(guard) => self.judge(skb, family, args, &pkt, Some(&guard)),
            None => Verdict::Accept,
        }
    }

    /// What protects the listener `sk` against a segment of `family`: its
    /// own keys, or else the administrator's for its port (the listener's:
    /// TPROXY may hand it a SYN for another port); `None` if nothing does.
    #[inline(always)]
    fn guard<'a>(
        &'a self,
        sk: &'a SockCommon,
        family: Family,
        rcu: &'a RcuSection,
    ) -> Option<Guard<'a>> {
        let own = sk
            .ulp::<SockCtx>(rcu)
            .and_then(|ctx| Some((ctx, ctx.keys(rcu)?)));
        Some(match own {
            Some((ctx, keys)) => Guard {
                sk,
                keys,
                mode: ctx.mode(),
                integrity_len: ctx.integrity_len(),
                by_policy: false,
            },
            None => {
                let e = self.policy.port(sk.local_port(), family, rcu)?;
                Guard {
                    sk,
                    keys: e.keys(),
                    mode: Mode::Option,
                    integrity_len: e.integrity_len(),
                    by_policy: true,
                }
            }
        })
    }

    /// A segment that TCP is about to answer at `sk`, a listener with the
    /// ULP, which the input hook did not vouch for ([`crate::ffi::listen`]):
    /// it came another way (Foo-over-UDP or GUE carry TCP past `LOCAL_IN`),
    /// or the hook's verdict on it was given on another CPU (an NFQUEUE
    /// reinjection). A SYN gets the checks a SYN gets at the hook, its
    /// knock's replay included (the hook's own SYN, checked again, is a
    /// duplicate there, which passes); the ACK of a SYN cookie passes only
    /// from a 4-tuple that knocked, as at the hook. A refusal gets the
    /// closed port's answer. The cost of answering in the same time as a
    /// closed port is not paid here: a closed port's answer to a segment
    /// carried this way comes from TCP, which the hook never saw either.
    ///
    /// A policy port whose first bytes are checked refuses such a SYN: its
    /// bytes would pass the hook unseen as well.
    pub(crate) fn unhooked(
        &self,
        sk: &SockCommon,
        seg: &ListenerSeg<'_>,
        rcu: &RcuSection,
    ) -> ListenerAnswer {
        let Some(g) = self.guard(sk, seg.family(), rcu) else {
            return ListenerAnswer::Accept;
        };
        let refuse = |why: Option<Counter>| {
            if let Some(c) = why {
                self.counters.inc(c);
            }
            if self.drop_silently() {
                self.counters.inc(Counter::Dropped);
            } else if seg.send_reset() {
                self.counters.inc(Counter::RstSent);
            }
            ListenerAnswer::Refuse
        };
        let Ok(pkt) = TcpPacket::at_listener(seg) else {
            return refuse(Some(Counter::TruncatedDropped));
        };
        if !pkt.is_syn() {
            // The ACK of a SYN cookie: its 4-tuple must have knocked.
            if self.admitted(Some(sk), &pkt) {
                return ListenerAnswer::Accept;
            }
            return refuse(Some(Counter::AckRefused));
        }
        self.counters.inc(Counter::SynUnhooked);
        if g.mode == Mode::Isn {
            let integrity = g.integrity_len > 0;
            let (seq, daddr, dport, tsval) = (pkt.seq, pkt.daddr(), pkt.dport, pkt.tsval());
            if !proto::check_isn_any(g.keys.isn(), seq, daddr, dport, tsval, integrity) {
                return refuse(Some(Counter::IsnBad));
            }
            self.counters.inc(Counter::IsnGood);
            self.admit(g.sk, &pkt);
            return ListenerAnswer::Accept;
        }
        if g.by_policy && g.integrity_len > 0 {
            return refuse(None);
        }
        let keys = g.keys.keys();
        let checked = knock_option(&pkt).and_then(|option| {
            let (v, now, skew) = self.verify_knock(keys, option, pkt.dport)?;
            self.accept_knock(keys, g.integrity_len, &v, &pkt, now, skew)
        });
        if let Err(c) = checked {
            return refuse(Some(c));
        }
        self.admit(g.sk, &pkt);
        ListenerAnswer::Accept
    }

    /// Verifies the knock `option` of a SYN to port `dport` with `keys`
    /// (none for a closed port: `verify` computes as many MACs either way):
    /// the knock, with the time and skew it was judged at, or the counter of
    /// the refusal.
    #[inline(always)]
    fn verify_knock(
        &self,
        keys: &[proto::KnockKey],
        option: &[u8],
        dport: u16,
    ) -> Result<(proto::Verified, u64, proto::Skew), Counter> {
        let (now, skew) = (now_secs(), self.skew());
        match proto::verify(&KernelCrypto, keys, option, dport, now, skew) {
            Ok(v) => Ok((v, now, skew)),
            Err(r) => Err(reject_counter(r)),
        }
    }

    /// The last checks of a knock `v` of `pkt` that verified with one of
    /// `keys`, at a listener that wants its first `integrity_len` bytes
    /// proven (0: none): that requirement, then the replay cache
    /// ([`Self::remember`]). `Err` names the refusal's counter.
    #[inline(always)]
    fn accept_knock(
        &self,
        keys: &[proto::KnockKey],
        integrity_len: usize,
        v: &proto::Verified,
        pkt: &TcpPacket,
        now: u64,
        skew: proto::Skew,
    ) -> Result<(), Counter> {
        match (integrity_len > 0, v.integrity.is_some()) {
            // The listener wants the first bytes proven; this client
            // does not commit to any: the port stays closed to it.
            (true, false) => return Err(Counter::IntegrityMissing),
            (false, true) => self.counters.inc(Counter::IntegrityUnchecked),
            _ => {}
        }
        self.remember(keys, v, pkt, now, skew)
    }

    /// A segment for which TCP finds no socket, in a namespace with
    /// protected listeners: TCP would answer it as a closed port (an RST,
    /// or nothing). The module answers it itself instead, on the path of a
    /// segment refused at a protected listener ([`Self::judge`] with no
    /// listener: the same checks, the same option walk, the same number of
    /// MAC computations, the same reset), so that a closed port and a
    /// protected one take the same time to answer (issue 13: otherwise the
    /// protected port answered a knockless SYN about 0.5 k instructions
    /// sooner, and one with a bad knock later, by its number of keys).
    ///
    /// In drop mode (`net.tcp_stealth.reject = 1`) a closed port keeps TCP's
    /// own answer: only protected ports are silent there, by the
    /// administrator's choice, and silence has no answer time. So it does
    /// with `net.tcp_stealth.answer_closed = 0`.
    fn closed_port(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        pkt: &TcpPacket,
        drop_mode: bool,
    ) -> Verdict {
        // (What IPv6 drops after the hook only gets here in drop mode.)
        if drop_mode || pkt.left_to_ipv6 || !self.answers_closed() {
            return Verdict::Accept;
        }
        self.counters.inc(Counter::ClosedAnswered);
        self.judge(skb, family, args, pkt, None)
    }

    /// Judges a segment to a protected listener (`guard`), or to a closed
    /// port (`None`, from [`Self::closed_port`]), which is refused on the
    /// same path whatever it carries. Only a protected listener counts its
    /// reasons; a closed port counted `closed_answered` already.
    fn judge(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        pkt: &TcpPacket,
        guard: Option<&Guard<'_>>,
    ) -> Verdict {
        let count = |c: Counter| {
            if guard.is_some() {
                self.counters.inc(c);
            }
        };
        if pkt.left_to_ipv6 {
            // Drop mode: silent, as behind a filter.
            return self.reject(skb, family, args, pkt, true, guard.is_some());
        }
        // What TCP would do with it, at this listener or a closed port: drop
        // it silently if an IPsec policy refuses it (the listener's own, or
        // the namespace's), if its checksum is bad or if it has unexpected
        // authentication options, answer the rest.
        if !args.xfrm_policy_ok(skb, family, guard.map(|g| g.sk))
            || !args.tcp_checksum_ok(skb, family, pkt.th)
        {
            return Verdict::Drop;
        }
        let tcp_silent = proto::tcp_drops_auth_options(pkt.options(), cfg!(CONFIG_TCP_AO));
        if pkt.flags & TCP_ACK != 0 && pkt.flags & TCP_SYN == 0 {
            // (At a closed port TCP answers an admitted ACK all the same.)
            if self.admitted(guard.map(|g| g.sk), pkt) {
                return Verdict::Accept;
            }
            count(Counter::AckRefused);
            return self.reject(skb, family, args, pkt, tcp_silent, guard.is_some());
        }
        if !pkt.is_syn() {
            count(Counter::ProbeRejected);
            return self.reject(skb, family, args, pkt, tcp_silent, guard.is_some());
        }
        // A SYN costs the same at every port of a namespace that has ports
        // in both modes (`isn_used`): a port in ISN mode does the option
        // mode's work with no keys, any other port the ISN mode's.
        let (keys, integrity_len) = match guard {
            Some(g) if g.mode == Mode::Isn => {
                if let FindResult::Found { option, .. } = proto::find_knock(pkt.options()) {
                    if !tcp_silent {
                        let (now, skew) = (now_secs(), self.skew());
                        let _ = black_box(proto::verify(
                            &KernelCrypto,
                            &[],
                            option,
                            pkt.dport,
                            now,
                            skew,
                        ));
                    }
                }
                let integrity = g.integrity_len > 0;
                let v = self.isn_in(skb, family, args, (g.keys, integrity), pkt, tcp_silent);
                if v == Verdict::Accept {
                    self.admit(g.sk, pkt);
                    args.vouch(skb, g.sk, pkt.seq);
                }
                return v;
            }
            g => {
                if self.isn_used() {
                    let (seq, daddr, dport, tsval) = (pkt.seq, pkt.daddr(), pkt.dport, pkt.tsval());
                    black_box(proto::check_isn_any(&[], seq, daddr, dport, tsval, false));
                }
                g.map_or((&[][..], 0), |g| (g.keys.keys(), g.integrity_len))
            }
        };
        let option = match knock_option(pkt) {
            Ok(option) => option,
            Err(c) => {
                count(c);
                return self.reject(skb, family, args, pkt, tcp_silent, guard.is_some());
            }
        };
        if tcp_silent {
            // A knock next to TCP-MD5/AO options: TCP would drop the SYN.
            count(Counter::KnockMalformed);
            return self.reject(skb, family, args, pkt, true, guard.is_some());
        }
        // As many MACs for a closed port (no keys) as for a listener with
        // one key or four: `verify` always computes `MAX_KEYS`.
        let (v, now, skew) = match self.verify_knock(keys, option, pkt.dport) {
            Ok(checked) => checked,
            Err(c) => {
                count(c);
                return self.reject(skb, family, args, pkt, false, guard.is_some());
            }
        };
        // No key verifies a knock for a closed port.
        let Some(g) = guard else {
            return self.reject(skb, family, args, pkt, false, false);
        };
        if let Err(c) = self.accept_knock(keys, integrity_len, &v, pkt, now, skew) {
            self.counters.inc(c);
            return self.reject(skb, family, args, pkt, false, true);
        }
        // Only a knock that passed every check takes one of the policy's
        // few connection slots: replayed knocks must not fill them.
        if g.by_policy
            && integrity_len > 0
            && !self.policy_expect(skb, family, args, g.sk, pkt, g.keys, &v, integrity_len)
        {
            return self.reject(skb, family, args, pkt, false, true);
        }
        self.admit(g.sk, pkt);
        args.vouch(skb, g.sk, pkt.seq);
        Verdict::Accept
    }

    /// Enters the knock `v` of `pkt`, verified with one of `keys`, in the
    /// replay cache: `Ok` for a fresh knock or a duplicate of its SYN
    /// (counted), else the counter of the refusal.
    fn remember(
        &self,
        keys: &[proto::KnockKey],
        v: &proto::Verified,
        pkt: &TcpPacket,
        now: u64,
        skew: proto::Skew,
    ) -> Result<(), Counter> {
        let src = SynSource {
            addr: pkt.saddr,
            port: pkt.sport,
            isn: pkt.seq,
        };
        // Softirq context as a rule, but process context with BHs on when
        // an NFQUEUE verdict reinjects the SYN (nf_reinject()): BHs off, or
        // a softirq on this CPU could spin on the lock it interrupted.
        let verdict = match keys.get(v.key_index) {
            Some(key) => with_bh_disabled(|| match self.replay.lock().as_mut() {
                Some(cache) => {
                    cache.check_and_insert(&KernelCrypto, key, &v.mac, &src, v.t, now, skew)
                }
                // A listener's keys come only after `netns::prepare_listener`; fail closed if not.
                None => ReplayVerdict::Full,
            }),
            // The key that verified it is in the list; fail closed if not.
            None => ReplayVerdict::Replay,
        };
        match verdict {
            ReplayVerdict::Fresh => self.counters.inc(Counter::KnockGood),
            ReplayVerdict::Duplicate => self.counters.inc(Counter::KnockRetransmit),
            ReplayVerdict::Replay => return Err(Counter::KnockReplay),
            ReplayVerdict::Full => {
                self.warn_replay_full(now);
                return Err(Counter::KnockReplayFull);
            }
        }
        Ok(())
    }

    /// Client side, review M6: whether to drop `pkt`, an RST, because it
    /// refuses the first SYN of a socket whose knock commits to its first
    /// bytes. Such a knock has 16 random bits (docs/PROTOCOL.md, section 3),
    /// so two clients committing to the same bytes (a protocol greeting)
    /// send the same knock in the same second with a chance of 2^-16, and
    /// the server refuses the second as a replay. Dropped, the RST never
    /// reaches TCP, which resends the SYN after its initial RTO (1 s) with a
    /// fresh knock (`local_out`): the application sees a slower connect, not
    /// a refusal. The RST answering that second SYN passes, so a port that
    /// really refuses still fails the connect, one RTO later.
    fn hides_refusal(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        pkt: &TcpPacket,
    ) -> bool {
        if !self.has_stealth_sockets() || pkt.flags & TCP_ACK == 0 || !skb.for_host() {
            return false;
        }
        let Some(found) = args.lookup(skb, family, pkt.th, false) else {
            return false;
        };
        let sk = found.sock();
        if sk.state() != TcpState::SynSent || sk.syn_retransmitted() {
            return false;
        }
        sk.ulp::<SockCtx>(args.rcu()).is_some_and(|ctx| {
            ctx.mode() == Mode::Option
                && ctx.commitment().is_some()
                && ctx.keys(args.rcu()).is_some()
        })
    }

    /// Output: a SYN from a socket with keys gets a fresh knock, made with
    /// the socket's newest key. Every retransmission gets its own, so the
    /// server never sees one twice. A SYN that passes the output hooks a
    /// second time keeps the knock it has: with a VRF device, LOCAL_OUT runs
    /// once for the VRF device (`vrf_ip_out_direct()`) and once for the real
    /// one. (Copies made by nft `dup` or `TEE` have no socket: not ours.)
    pub(crate) fn local_out(&self, skb: &SkBuff, family: Family, args: &HookArgs<'_>) -> Verdict {
        let Some(sk) = args.output_sock(skb) else {
            return Verdict::Accept;
        };
        // TCP sends a SYN (first or again) only in SYN_SENT: the segments
        // of a connection that is up are not even parsed.
        if sk.state() != TcpState::SynSent {
            return Verdict::Accept;
        }
        let Some(ctx) = sk.ulp::<SockCtx>(args.rcu()) else {
            return Verdict::Accept;
        };
        let Some(keys) = ctx.keys(args.rcu()) else {
            return Verdict::Accept;
        };
        let Some(key) = keys.keys().first() else {
            return Verdict::Accept;
        };
        let Ok(pkt) = TcpPacket::parse(skb, family, HookPoint::LocalOut) else {
            return Verdict::Accept;
        };
        if !pkt.is_syn() {
            return Verdict::Accept;
        }
        if ctx.mode() == Mode::Isn {
            return self.isn_out(skb, sk, ctx, keys, &pkt);
        }
        if !proto::needs_knock(pkt.options()) {
            return Verdict::Accept;
        }
        if !proto::option_fits(pkt.opts_len) {
            self.counters.inc(Counter::KnockNoSpace);
            return Verdict::Drop;
        }
        // 48 bits of `get_random_u64()` (its per-CPU batch, not a ChaCha20
        // block per SYN as `get_random_bytes()`).
        let mut nonce = [0u8; 6];
        nonce.copy_from_slice(&random_u64().to_ne_bytes()[..6]);
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
        let tsval = pkt.tsval();
        // With payload integrity the low 16 bits are IH: only the high 16
        // are checked here, IH when the bytes come (crate::integrity).
        // As many ISNs computed whatever the keys: the time taken does not
        // tell how many there are or which matched.
        let ok = proto::check_isn_any(
            keys.isn(),
            pkt.seq,
            pkt.daddr(),
            pkt.dport,
            tsval,
            integrity,
        );
        if tcp_silent {
            // TCP-MD5/AO options: TCP would drop the SYN without an answer.
            self.counters.inc(Counter::IsnBad);
            return self.reject(skb, family, args, pkt, true, true);
        }
        if !ok {
            self.counters.inc(Counter::IsnBad);
            return self.reject(skb, family, args, pkt, false, true);
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
    /// is moved to it (`SockCommon::set_isn`). A retransmission already carries
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
        sk: &SockCommon,
        ctx: &SockCtx,
        keys: &KeySet,
        pkt: &TcpPacket,
    ) -> Verdict {
        let Some(secret) = keys.isn().first() else {
            return Verdict::Accept;
        };
        let ts = proto::find_tsval(pkt.options());
        if sk.syn_is_first::<SockCtx>(pkt.seq) {
            let tsval = ts.map_or(0, |(_, v)| v);
            let isn = proto::make_isn(secret, pkt.daddr(), pkt.dport, tsval, ctx.isn_ih());
            if isn == pkt.seq {
                // It carries the ISN already: it passes the output hooks a
                // second time (see `local_out`).
                ctx.record_isn(isn, tsval);
                return Verdict::Accept;
            }
            if sk.set_isn::<SockCtx>(pkt.seq, isn).is_err() {
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
    /// port would not answer this packet either. `counted`: counts the
    /// RST or the drop (a protected listener's refusal; not a closed
    /// port's answer, see [`Self::closed_port`]).
    fn reject(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        pkt: &TcpPacket,
        tcp_silent: bool,
        counted: bool,
    ) -> Verdict {
        let count = |c: Counter| {
            if counted {
                self.counters.inc(c);
            }
        };
        if self.drop_silently() {
            count(Counter::Dropped);
        } else if !tcp_silent && args.send_reset(skb, family, pkt.th) {
            count(Counter::RstSent);
        }
        Verdict::Drop
    }

    /// A SYN with a valid knock and commitment to `listener` on a policy
    /// port that requires integrity: remembers its connection, whose first
    /// bytes the hook checks ([`crate::policy`]). False if the SYN must be refused:
    /// it carries data (TCP Fast Open would hand it to the application
    /// unchecked), or no room is left to remember it (in the port's share).
    #[allow(clippy::too_many_arguments)]
    fn policy_expect(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        listener: &SockCommon,
        pkt: &TcpPacket,
        keys: &KeySet,
        v: &proto::Verified,
        n: usize,
    ) -> bool {
        let (Some(c32), Some(key)) = (v.integrity, keys.keys().get(v.key_index)) else {
            return false;
        };
        let data = pkt.th + 20 + pkt.opts_len;
        if skb.read_network(data, &mut [0u8; 1]).is_some() {
            self.counters.inc(Counter::IntegrityLost);
            return false;
        }
        let timeout = self.integrity_timeout();
        let id = pkt.flow_id();
        let place = FlowPlace {
            ifs: args.skb_ifs(skb, family),
            bound_dev: listener.bound_dev_if(),
        };
        // TCP has the connection, or may still make it from a SYN cookie
        // (its ACK would pass as admitted).
        let now32 = now_secs32();
        let alive = |id: &FlowId, at: FlowPlace| {
            args.conn_alive((&id.saddr, id.sport), (&id.daddr, id.dport), at.ifs)
                || self
                    .admitted
                    .contains(self.tuple_tag(id, at.bound_dev), now32)
        };
        if self
            .policy
            .expect(
                (&id, listener.local_port(), place),
                pkt.seq.wrapping_add(1),
                key,
                c32,
                n,
                timeout,
                alive,
            )
            .is_err()
        {
            self.counters.inc(Counter::IntegrityLost);
            return false;
        }
        true
    }

    /// A segment (not a SYN) of a connection to a policy port whose first
    /// bytes are being checked: its verdict, or `None` if it is none of
    /// those. A connection whose bytes fail is reset both ways: the client
    /// gets a reset, and the segment itself, turned into a reset at the
    /// server's next expected sequence number, resets the server's socket
    /// before its application reads a byte.
    fn policy_segment(
        &self,
        skb: &SkBuff,
        family: Family,
        args: &HookArgs<'_>,
        pkt: &TcpPacket,
    ) -> Option<Verdict> {
        if !self.policy.checking() {
            return None;
        }
        let data = pkt.th + 20 + pkt.opts_len;
        // A damaged segment is TCP's to drop: its bytes prove nothing.
        if skb.read_network(data, &mut [0u8; 1]).is_some()
            && !args.tcp_checksum_ok(skb, family, pkt.th)
        {
            return None;
        }
        let end = pkt.flags & (TCP_FIN | TCP_RST) != 0;
        let payload = |off: usize, buf: &mut [u8]| skb.read_network(data + off, buf).is_some();
        match self.policy.segment(&pkt.flow_id(), pkt.seq, end, payload) {
            Segment::NotChecked => None,
            Segment::Pass => {
                if pkt.flags & TCP_RST == 0 && skb.read_network(data, &mut [0u8; 1]).is_some() {
                    self.counters.inc(Counter::IntegrityOk);
                }
                Some(Verdict::Accept)
            }
            Segment::Drop => Some(Verdict::Drop),
            Segment::Cut(why) => {
                self.counters.inc(match why {
                    CutReason::Mismatch => Counter::IntegrityMismatch,
                    CutReason::Timeout => Counter::IntegrityTimeout,
                });
                if args.send_reset(skb, family, pkt.th) {
                    self.counters.inc(Counter::RstSent);
                }
                // RST|ACK: TCP takes a reset whose sequence number is the
                // next it expects, which this segment's is.
                if skb
                    .rewrite_tcp_header(pkt.th, TCP_FLAGS_OFFSET, &[TCP_RST | TCP_ACK])
                    .is_ok()
                {
                    Some(Verdict::Accept)
                } else {
                    Some(Verdict::Drop)
                }
            }
        }
    }

    /// Remembers that `pkt`'s 4-tuple knocked, if `listener` may answer it
    /// with a SYN cookie (otherwise the ACK finds TCP's request socket, and
    /// the table stays small).
    fn admit(&self, listener: &SockCommon, pkt: &TcpPacket) {
        if listener.syncookies_possible() {
            let tag = self.tuple_tag(&pkt.flow_id(), listener.bound_dev_if());
            self.admitted.insert(tag, now_secs32());
        }
    }

    /// Whether `pkt`'s 4-tuple knocked within the last
    /// [`proto::ADMIT_SECS`] at a listener bound where `listener` is (none:
    /// a closed port, as if unbound).
    fn admitted(&self, listener: Option<&SockCommon>, pkt: &TcpPacket) -> bool {
        let dev = listener.map_or(0, SockCommon::bound_dev_if);
        self.admitted
            .contains(self.tuple_tag(&pkt.flow_id(), dev), now_secs32())
    }

    /// The keyed hash of `pkt`'s 4-tuple, at a listener bound to interface
    /// `dev` (0: none), that [`proto::Admitted`] files it under: all 36
    /// bytes of the 4-tuple, through two SipHash calls (the destination
    /// address, the ports and `dev` first).
    /// - Folding the destination address into one word instead let a peer
    ///   that knocked on one address of the host pass its ACKs to a
    ///   listener with another key on any address with the same fold (an
    ///   IPv6 address with two words swapped).
    /// - Without `dev`, a peer that knocked at a listener bound to one
    ///   interface or VRF passed its ACKs to a listener with another key on
    ///   the same address and port bound to another: the same 4-tuple
    ///   arriving by another link, or in another VRF with the same
    ///   addresses.
    fn tuple_tag(&self, id: &FlowId, dev: i32) -> u64 {
        let word = |b: &[u8], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        // (An interface index is positive: its 32 bits as they are.)
        let ports = u64::from(dev as u32) << 32 | u64::from(id.sport) << 16 | u64::from(id.dport);
        let dst = KernelCrypto.siphash_3u64(
            &self.admit_key,
            word(&id.daddr, 0),
            word(&id.daddr, 8),
            ports,
        );
        KernelCrypto.siphash_3u64(&self.admit_key, word(&id.saddr, 0), word(&id.saddr, 8), dst)
    }
}

/// The knock option of a SYN, or the counter of why it has none (no knock
/// option, or an option list that hides one).
#[inline(always)]
fn knock_option(pkt: &TcpPacket) -> Result<&[u8; proto::OPT_LEN], Counter> {
    match proto::find_knock(pkt.options()) {
        FindResult::Found { option, .. } => Ok(option),
        FindResult::Absent => Err(Counter::KnockMissing),
        FindResult::Malformed => Err(Counter::KnockMalformed),
    }
}

/// The counter of a knock that `proto::verify` refused.
fn reject_counter(r: Reject) -> Counter {
    match r {
        Reject::Malformed => Counter::KnockMalformed,
        Reject::Stale => Counter::KnockStale,
        Reject::BadMac => Counter::KnockBadMac,
    }
}

impl HookState for NetState {
    fn hook(&self, spec: &HookSpec, skb: &SkBuff, args: &HookArgs<'_>) -> Verdict {
        match spec.point {
            HookPoint::LocalIn => self.local_in(skb, spec.family, args),
            HookPoint::LocalOut => self.local_out(skb, spec.family, args),
        }
    }
}
