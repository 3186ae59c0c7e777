// SPDX-License-Identifier: GPL-2.0

//! What IPv6 will do with the extension headers in front of a TCP header.
//!
//! At `NF_INET_LOCAL_IN` IPv6 has processed a leading hop-by-hop header
//! (`ip6_rcv_core()`) and, through `nf_defrag_ipv6`, a fragment header;
//! every other header is handled after the hook by
//! `ip6_protocol_deliver_rcu()`. That function resumes at the skb's
//! transport header with the next header found at `IP6CB(skb)->nhoff`.
//! Some headers make IPv6 drop the packet, silently or with an ICMPv6
//! parameter problem: TCP never sees the segment and a closed port never
//! answers it. The input check must then not answer either, or one probe
//! tells a protected port from a closed one. And the TCP header it judges
//! must be the one IPv6 walks to.
//!
//! [`ipv6_walk`] walks the chain from where IPv6 resumes, with Linux 6.12's
//! rules (`net/ipv6/exthdrs.c`, `reassembly.c`, `ip6_input.c`), and says
//! where the packet goes: to TCP at a given offset, elsewhere, nowhere, or
//! [`Walk::Unsure`] where that depends on more than it knows (Mobile IPv6,
//! enabled segment routing, IPsec). Each of the other verdicts is one the
//! kernel reaches unconditionally: a wrong `Dropped` or `Other` would let a
//! segment reach TCP unjudged. [`ipv6_on_chain`] says whether IPv6's walk
//! follows the chain `ipv6_find_hdr()` reads, which is what the caller may
//! rely on when the walk is unsure.

/// `NEXTHDR_HOP`.
const HOP: u8 = 0;
/// `NEXTHDR_TCP`.
const TCP: u8 = 6;
/// `NEXTHDR_ROUTING`.
const ROUTING: u8 = 43;
/// `NEXTHDR_FRAGMENT`.
const FRAGMENT: u8 = 44;
/// `NEXTHDR_AUTH`.
const AUTH: u8 = 51;
/// `NEXTHDR_DEST`.
const DEST: u8 = 60;
/// `IPV6_TLV_PAD1`, `IPV6_TLV_PADN`, `IPV6_TLV_HAO`.
const PAD1: u8 = 0;
const PADN: u8 = 1;
const HAO: u8 = 0xc9;

/// Where IPv6 takes a packet after `NF_INET_LOCAL_IN` ([`ipv6_walk`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// To TCP, whose header starts this many bytes after the resume point.
    Tcp(usize),
    /// To another upper-layer protocol (or "no next header").
    Other,
    /// Nowhere: IPv6 drops it, silently or with a parameter problem.
    Dropped,
    /// It depends on more than the walk knows (Mobile IPv6 options,
    /// enabled segment routing, AH, a fragment to reassemble, headers past
    /// the bytes given).
    Unsure,
}

/// What, besides the header bytes, decides IPv6's verdict on an extension
/// header: the packet's reassembly state and the namespace's, device's and
/// kernel's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Context {
    /// `net.ipv6.max_dst_opts_number`: the most non-padding options a
    /// destination options header may hold; negative, also no unknown one.
    pub max_dst_opts_count: i32,
    /// `net.ipv6.max_dst_opts_length`: the longest destination options
    /// header, in bytes.
    pub max_dst_opts_len: i32,
    /// Segment routing headers (type 4) accepted on the input device
    /// (`seg6_enabled`, all and device).
    pub seg6: bool,
    /// RPL source routing headers (type 3) accepted on the input device
    /// (`rpl_seg_enabled`, all and device).
    pub rpl: bool,
    /// The kernel has Mobile IPv6 (`CONFIG_IPV6_MIP6`): type 2 routing
    /// headers and the Home Address option are handled.
    pub mip6: bool,
    /// The packet was reassembled, or passed an atomic fragment header
    /// (`IP6SKB_FRAGMENTED`): a further fragment header is refused.
    pub fragmented: bool,
    /// The fixed header's payload length is 0 (a jumbogram): a fragment
    /// header is refused.
    pub jumbo: bool,
}

impl Ipv6Context {
    /// The kernel's defaults (`IP6_DEFAULT_MAX_DST_OPTS_CNT`, `..._LEN`,
    /// segment routing off), without Mobile IPv6.
    pub const DEFAULT: Self = Self {
        max_dst_opts_count: 8,
        max_dst_opts_len: i32::MAX,
        seg6: false,
        rpl: false,
        mip6: false,
        fragmented: false,
        jumbo: false,
    };
}

/// Walks the header chain as `ip6_protocol_deliver_rcu()` will, from the
/// point where it resumes: next header `resume` (the byte at
/// `IP6CB(skb)->nhoff`), and `bytes` from the skb's transport header on.
/// `whole`: `bytes` run to the end of the packet (a header that runs past
/// them is then a certain drop). `dst_multicast`: the destination is a
/// multicast address. `cfg`: the state and configuration that decide
/// verdicts. `handled(p)`: IPv6 has a handler for next header `p`
/// (`inet6_protos[p]`).
///
/// Every verdict other than [`Walk::Unsure`] is one the kernel reaches
/// unconditionally from these inputs.
pub fn ipv6_walk(
    resume: u8,
    bytes: &[u8],
    whole: bool,
    dst_multicast: bool,
    mut cfg: Ipv6Context,
    handled: impl Fn(u8) -> bool,
) -> Walk {
    // Past the bytes given: the packet ends there (drop) or we cannot tell.
    let short = if whole { Walk::Dropped } else { Walk::Unsure };
    let mut nh = resume;
    let mut off = 0usize;
    loop {
        let rest = bytes.get(off..).unwrap_or(&[]);
        let len = match nh {
            TCP => return Walk::Tcp(off),
            // IPv6 only accepts hop-by-hop options first, and processed
            // those before the hook: past that point it has no handler for
            // them (parameter problem).
            HOP => return Walk::Dropped,
            DEST => {
                let Some(len) = ext_len(rest).filter(|&l| l <= rest.len()) else {
                    return short;
                };
                match dest_options(&rest[..len], cfg) {
                    DestVerdict::Pass => len,
                    DestVerdict::Dropped => return Walk::Dropped,
                    DestVerdict::Unsure => return Walk::Unsure,
                }
            }
            ROUTING => {
                let (Some(&ty), Some(&left)) = (rest.get(2), rest.get(3)) else {
                    return short;
                };
                // `ipv6_rthdr_rcv()`: never to a multicast destination;
                // segment routing (4) and RPL (3) only where enabled, and
                // then it depends on the header's content; Mobile IPv6's
                // type 2 with no segment left is discarded, with segments
                // left it depends on configuration; any other type (and
                // type 2 without Mobile IPv6) is ignored when no segment is
                // left and refused otherwise.
                if dst_multicast {
                    return Walk::Dropped;
                }
                match (ty, left) {
                    (4, _) if !cfg.seg6 => return Walk::Dropped,
                    (3, _) if !cfg.rpl => return Walk::Dropped,
                    (3 | 4, _) => return Walk::Unsure,
                    (2, 0) if cfg.mip6 => return Walk::Dropped,
                    (2, _) if cfg.mip6 => return Walk::Unsure,
                    (_, 0) => ext_len(rest).unwrap_or(usize::MAX),
                    _ => return Walk::Dropped,
                }
            }
            // `ipv6_frag_rcv()` refuses a second fragment header (after
            // reassembly or an atomic one) and one in a jumbogram, passes
            // an atomic fragment (offset 0, no more fragments) on, and
            // queues a real one for reassembly: what follows may reach TCP
            // later.
            FRAGMENT if cfg.fragmented || cfg.jumbo => return Walk::Dropped,
            FRAGMENT => match rest.get(2..4) {
                Some(&[hi, lo]) if u16::from_be_bytes([hi, lo]) & 0xfff9 == 0 => {
                    cfg.fragmented = true;
                    8
                }
                Some(_) => return Walk::Unsure,
                None => return short,
            },
            AUTH if handled(AUTH) => return Walk::Unsure,
            p if !handled(p) => return Walk::Dropped,
            _ => return Walk::Other,
        };
        let Some(&next) = rest.first() else {
            return short;
        };
        if len > rest.len() {
            return short;
        }
        nh = next;
        off += len;
    }
}

/// Whether the point where IPv6 resumes (`offset` bytes after the fixed
/// header's start, taken to be next header `nexthdr`) lies on the header
/// chain as read from the fixed header (whose next header is `first`, with
/// `bytes` from offset 40 on). If it does, IPv6 goes on along the chain
/// that `ipv6_find_hdr()` reads; if not, IPv6 would read some of the bytes
/// as other headers than those, and only [`ipv6_walk`] says where TCP is.
pub fn ipv6_on_chain(first: u8, bytes: &[u8], offset: usize, nexthdr: u8) -> bool {
    let mut nh = first;
    let mut off = 40usize;
    loop {
        if off == offset {
            return nh == nexthdr;
        }
        if off > offset {
            return false;
        }
        let Some(h) = bytes.get(off - 40..) else {
            return false;
        };
        let len = match nh {
            HOP | DEST | ROUTING => ext_len(h),
            FRAGMENT => Some(8),
            AUTH => h.get(1).map(|&l| (usize::from(l) + 2) * 4),
            _ => return false,
        };
        let (Some(len), Some(&next)) = (len, h.first()) else {
            return false;
        };
        nh = next;
        off += len;
    }
}

/// Length of a hop-by-hop, destination options or routing header.
fn ext_len(h: &[u8]) -> Option<usize> {
    h.get(1).map(|&l| (usize::from(l) + 1) * 8)
}

enum DestVerdict {
    /// IPv6 accepts the header.
    Pass,
    Dropped,
    /// It depends on rules of its own (Mobile IPv6's Home Address option).
    Unsure,
}

/// `ipv6_destopt_rcv()` and `ip6_parse_tlv(false, ...)` on the whole header
/// `h` (its length as the header says).
fn dest_options(h: &[u8], cfg: Ipv6Context) -> DestVerdict {
    if i64::try_from(h.len()).unwrap_or(i64::MAX) > i64::from(cfg.max_dst_opts_len) {
        return DestVerdict::Dropped;
    }
    let opts = h.get(2..).unwrap_or(&[]);
    let disallow_unknowns = cfg.max_dst_opts_count < 0;
    let max_count = cfg.max_dst_opts_count.unsigned_abs();
    let mut count = 0u32;
    let mut off = 0usize;
    let mut padlen = 0usize;
    while off < opts.len() {
        let ty = opts[off];
        if ty == PAD1 {
            padlen += 1;
            if padlen > 7 {
                return DestVerdict::Dropped;
            }
            off += 1;
            continue;
        }
        let Some(&l) = opts.get(off + 1) else {
            return DestVerdict::Dropped;
        };
        let optlen = usize::from(l) + 2;
        let Some(body) = opts.get(off + 2..off + optlen) else {
            return DestVerdict::Dropped;
        };
        if ty == PADN {
            padlen += optlen;
            if padlen > 7 || body.iter().any(|&b| b != 0) {
                return DestVerdict::Dropped;
            }
        } else {
            count += 1;
            if count > max_count {
                return DestVerdict::Dropped;
            }
            // Mobile IPv6's Home Address option: handled by rules of its own.
            if ty == HAO && cfg.mip6 {
                return DestVerdict::Unsure;
            }
            // Unknown: refused by configuration, or the two high bits say
            // skip (00) or drop (01, 10, 11).
            if disallow_unknowns || ty >> 6 != 0 {
                return DestVerdict::Dropped;
            }
            padlen = 0;
        }
        off += optlen;
    }
    DestVerdict::Pass
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const ALL: fn(u8) -> bool = |_| true;
    const NO_AH: fn(u8) -> bool = |p| p != AUTH;
    const D: Ipv6Context = Ipv6Context::DEFAULT;

    /// The old two-way verdict: IPv6 drops it for certain, or TCP may see
    /// the segment right after `chain` (judge it).
    #[derive(Debug, PartialEq, Eq)]
    enum ChainFate {
        Dropped,
        Judge,
    }

    fn ext_chain_fate(
        resume: u8,
        chain: &[u8],
        mcast: bool,
        cfg: Ipv6Context,
        handled: fn(u8) -> bool,
    ) -> ChainFate {
        match ipv6_walk(resume, chain, false, mcast, cfg, handled) {
            Walk::Dropped => ChainFate::Dropped,
            Walk::Tcp(n) if n == chain.len() => ChainFate::Judge,
            Walk::Unsure => ChainFate::Judge,
            w => panic!("{w:?} for a chain that ends at TCP"),
        }
    }

    /// A destination options header (next header TCP) holding `opts`,
    /// padded with PadN to a multiple of 8.
    fn dest(next: u8, opts: &[u8]) -> Vec<u8> {
        let mut h = std::vec![next, 0];
        h.extend_from_slice(opts);
        let pad = (8 - h.len() % 8) % 8;
        match pad {
            0 => {}
            1 => h.push(PAD1),
            n => {
                h.push(PADN);
                h.push((n - 2) as u8);
                h.extend(core::iter::repeat(0).take(n - 2));
            }
        }
        h[1] = (h.len() / 8 - 1) as u8;
        h
    }

    fn routing(next: u8, ty: u8, left: u8) -> Vec<u8> {
        std::vec![next, 0, ty, left, 0, 0, 0, 0]
    }

    #[test]
    fn plain_padding_reaches_tcp() {
        assert_eq!(
            ext_chain_fate(DEST, &dest(TCP, &[]), false, D, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(DEST, &dest(TCP, &[PAD1, PAD1]), false, D, ALL),
            ChainFate::Judge
        );
    }

    #[test]
    fn unknown_destination_option_by_action_bits() {
        for (ty, fate) in [
            (0x1e, ChainFate::Judge),
            (0x5e, ChainFate::Dropped),
            (0x9e, ChainFate::Dropped),
            (0xde, ChainFate::Dropped),
            (HAO, ChainFate::Dropped),
        ] {
            let h = dest(TCP, &[ty, 2, 1, 2]);
            assert_eq!(
                ext_chain_fate(DEST, &h, false, D, ALL),
                fate,
                "type {ty:#x}"
            );
            assert_eq!(
                ext_chain_fate(DEST, &h, true, D, ALL),
                fate,
                "type {ty:#x}, multicast"
            );
        }
    }

    #[test]
    fn home_address_option_only_with_mobile_ipv6() {
        let h = dest(TCP, &[HAO, 2, 1, 2]);
        let mip6 = Ipv6Context { mip6: true, ..D };
        assert_eq!(ext_chain_fate(DEST, &h, false, mip6, ALL), ChainFate::Judge);
    }

    #[test]
    fn bad_padding_is_dropped() {
        // PadN with a non-zero byte.
        let mut h = dest(TCP, &[PADN, 2, 0, 1]);
        assert_eq!(ext_chain_fate(DEST, &h, false, D, ALL), ChainFate::Dropped);
        // Eight Pad1 in a row.
        h = std::vec![TCP, 1];
        h.extend([PAD1; 14]);
        assert_eq!(ext_chain_fate(DEST, &h, false, D, ALL), ChainFate::Dropped);
        // An option running past the header.
        h = std::vec![TCP, 0, 0x1e, 9, 0, 0, 0, 0];
        assert_eq!(ext_chain_fate(DEST, &h, false, D, ALL), ChainFate::Dropped);
    }

    #[test]
    fn hop_by_hop_past_the_resume_point_is_dropped() {
        // A leading one was processed before the hook: IPv6 never resumes
        // at a hop-by-hop header it accepts.
        let hbh = dest(TCP, &[]);
        assert_eq!(ext_chain_fate(HOP, &hbh, false, D, ALL), ChainFate::Dropped);
        let mut chain = dest(HOP, &[]);
        chain.extend(hbh);
        assert_eq!(
            ext_chain_fate(DEST, &chain, false, D, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn destination_option_limits() {
        // Nine skippable unknown options: one over the default count.
        let nine: Vec<u8> = (0..9).flat_map(|i| [0x01 + 2 * (i + 1), 0]).collect();
        let h = dest(TCP, &nine);
        assert_eq!(ext_chain_fate(DEST, &h, false, D, ALL), ChainFate::Dropped);
        let more = Ipv6Context {
            max_dst_opts_count: 9,
            ..D
        };
        assert_eq!(ext_chain_fate(DEST, &h, false, more, ALL), ChainFate::Judge);
        // A negative count refuses unknown options, even skippable ones.
        let strict = Ipv6Context {
            max_dst_opts_count: -8,
            ..D
        };
        let one = dest(TCP, &[0x1e, 0]);
        assert_eq!(ext_chain_fate(DEST, &one, false, D, ALL), ChainFate::Judge);
        assert_eq!(
            ext_chain_fate(DEST, &one, false, strict, ALL),
            ChainFate::Dropped
        );
        // Longer than the length limit.
        let short = Ipv6Context {
            max_dst_opts_len: 8,
            ..D
        };
        let sixteen = dest(TCP, &[0x1e, 6, 0, 0, 0, 0, 0, 0]);
        assert_eq!(sixteen.len(), 16);
        assert_eq!(
            ext_chain_fate(DEST, &sixteen, false, short, ALL),
            ChainFate::Dropped
        );
        assert_eq!(
            ext_chain_fate(DEST, &sixteen, false, D, ALL),
            ChainFate::Judge
        );
    }

    #[test]
    fn only_atomic_fragments_are_walked_past() {
        let mut atomic = std::vec![DEST, 0, 0, 0, 1, 2, 3, 4];
        atomic.extend(dest(TCP, &[0x5e, 0]));
        assert_eq!(
            ext_chain_fate(FRAGMENT, &atomic, false, D, ALL),
            ChainFate::Dropped
        );
        // More fragments, or an offset: IPv6 queues it; judge.
        for (hi, lo) in [(0, 1), (0, 8), (0x12, 0x30)] {
            let mut real = atomic.clone();
            real[2] = hi;
            real[3] = lo;
            assert_eq!(
                ext_chain_fate(FRAGMENT, &real, false, D, ALL),
                ChainFate::Judge,
                "frag_off {hi:#x}{lo:02x}"
            );
        }
        // The two reserved bits do not make a fragment.
        atomic[3] = 6;
        assert_eq!(
            ext_chain_fate(FRAGMENT, &atomic, false, D, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn a_second_fragment_header_is_refused() {
        // Hostile probe 60 of session 5: two atomic fragment headers and
        // harmless destination options. The first went to nf_defrag_ipv6,
        // which marked the packet reassembled; IPv6 refuses the second.
        let mut chain = std::vec![DEST, 0, 0, 0, 1, 2, 3, 4];
        chain.extend(dest(TCP, &[0x1e, 0]));
        let after_reassembly = Ipv6Context {
            fragmented: true,
            ..D
        };
        assert_eq!(
            ext_chain_fate(FRAGMENT, &chain, false, after_reassembly, ALL),
            ChainFate::Dropped
        );
        // Both still in the packet (no reassembly before the hook).
        let mut two = std::vec![FRAGMENT, 0, 0, 0, 1, 2, 3, 4];
        two.extend(&chain);
        assert_eq!(
            ext_chain_fate(FRAGMENT, &two, false, D, ALL),
            ChainFate::Dropped
        );
        assert_eq!(
            ext_chain_fate(FRAGMENT, &chain, false, D, ALL),
            ChainFate::Judge
        );
        // In a jumbogram, even one is refused.
        let jumbo = Ipv6Context { jumbo: true, ..D };
        assert_eq!(
            ext_chain_fate(FRAGMENT, &chain, false, jumbo, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn the_walk_starts_where_ipv6_resumes() {
        // Past the resume point only: a header in front of it (here one
        // with a "discard" option) is not walked again.
        let second = dest(TCP, &[]);
        assert_eq!(
            ext_chain_fate(DEST, &second, false, D, ALL),
            ChainFate::Judge
        );
        let mut whole = dest(DEST, &[0x5e, 0]);
        whole.extend(&second);
        assert_eq!(
            ext_chain_fate(DEST, &whole, false, D, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn routing_header_rules() {
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 0), false, D, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 1), false, D, ALL),
            ChainFate::Dropped
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 9, 3), false, D, ALL),
            ChainFate::Dropped
        );
        // Segment routing and RPL: dropped unless enabled.
        for (ty, on) in [
            (4, Ipv6Context { seg6: true, ..D }),
            (3, Ipv6Context { rpl: true, ..D }),
        ] {
            for left in [0, 1] {
                let h = routing(TCP, ty, left);
                assert_eq!(
                    ext_chain_fate(ROUTING, &h, false, D, ALL),
                    ChainFate::Dropped
                );
                assert_eq!(
                    ext_chain_fate(ROUTING, &h, false, on, ALL),
                    ChainFate::Judge
                );
            }
        }
        // Type 2: like any other type without Mobile IPv6.
        let mip6 = Ipv6Context { mip6: true, ..D };
        let h = routing(TCP, 2, 0);
        assert_eq!(ext_chain_fate(ROUTING, &h, false, D, ALL), ChainFate::Judge);
        assert_eq!(
            ext_chain_fate(ROUTING, &h, false, mip6, ALL),
            ChainFate::Dropped
        );
        let h = routing(TCP, 2, 1);
        assert_eq!(
            ext_chain_fate(ROUTING, &h, false, D, ALL),
            ChainFate::Dropped
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &h, false, mip6, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 0), true, D, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn later_headers_count_after_a_good_one() {
        let mut chain = routing(DEST, 0, 0);
        chain.extend(dest(TCP, &[0x9e, 0]));
        assert_eq!(
            ext_chain_fate(ROUTING, &chain, false, D, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn authentication_header_needs_a_handler() {
        let ah =
            std::vec![TCP, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(ext_chain_fate(AUTH, &ah, false, D, ALL), ChainFate::Judge);
        assert_eq!(
            ext_chain_fate(AUTH, &ah, false, D, NO_AH),
            ChainFate::Dropped
        );
    }

    #[test]
    fn truncated_chains_are_judged() {
        assert_eq!(
            ext_chain_fate(DEST, &[TCP], false, D, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &[TCP, 0, 0], false, D, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(DEST, &[TCP, 3, 0, 0], false, D, ALL),
            ChainFate::Judge
        );
    }

    /// A TCP header with ports `sport`, `dport` and the SYN flag.
    fn tcp(sport: u16, dport: u16) -> Vec<u8> {
        let mut h = std::vec![0u8; 20];
        h[0..2].copy_from_slice(&sport.to_be_bytes());
        h[2..4].copy_from_slice(&dport.to_be_bytes());
        h[12] = 5 << 4;
        h[13] = 0x02;
        h
    }

    #[test]
    fn the_walk_finds_tcp_where_ipv6_will() {
        assert_eq!(
            ipv6_walk(TCP, &tcp(1, 2), true, false, D, ALL),
            Walk::Tcp(0)
        );
        let mut chain = dest(ROUTING, &[]);
        chain.extend(routing(TCP, 0, 0));
        let at = chain.len();
        chain.extend(tcp(1, 2));
        assert_eq!(ipv6_walk(DEST, &chain, true, false, D, ALL), Walk::Tcp(at));
        // UDP, ICMPv6, "no next header": handled elsewhere.
        assert_eq!(ipv6_walk(17, &[0; 8], true, false, D, ALL), Walk::Other);
        assert_eq!(
            ipv6_walk(DEST, &dest(59, &[]), true, false, D, ALL),
            Walk::Other
        );
        assert_eq!(
            ipv6_walk(DEST, &dest(59, &[]), true, false, D, NO_AH),
            Walk::Other
        );
    }

    #[test]
    fn headers_past_the_packet_are_a_drop_only_when_it_ends_there() {
        for chain in [&[TCP][..], &[TCP, 3, 0, 0], &[TCP, 0, 0, 0, 0, 0]] {
            assert_eq!(ipv6_walk(DEST, chain, true, false, D, ALL), Walk::Dropped);
            assert_eq!(ipv6_walk(DEST, chain, false, false, D, ALL), Walk::Unsure);
            assert_eq!(
                ipv6_walk(ROUTING, chain, true, false, D, ALL),
                Walk::Dropped
            );
            assert_eq!(
                ipv6_walk(FRAGMENT, &chain[..1], true, false, D, ALL),
                Walk::Dropped
            );
        }
    }

    /// Should IPv6 ever resume off the fixed header's chain (at X, taken
    /// to be destination options, where `ipv6_find_hdr()` reads a TCP
    /// header), the walk finds the TCP header IPv6 would deliver, and
    /// `ipv6_on_chain` says the resume point is off the chain.
    #[test]
    fn a_tcp_header_hidden_from_the_fixed_header_chain_is_found() {
        // X as the sender built it: a TCP header to port 260, as
        // ipv6_find_hdr() sees it; as IPv6 sees it, destination options
        // (next header TCP, PadN) and then a SYN to port 22.
        let mut x = std::vec![TCP, 0, PADN, 4, 0, 0, 0, 0];
        x.extend(tcp(40000, 22));
        assert_eq!(
            u16::from_be_bytes([x[2], x[3]]),
            0x0104,
            "what the fixed-header chain takes for the destination port"
        );
        let after = Ipv6Context {
            fragmented: true,
            ..D
        };
        assert_eq!(ipv6_walk(DEST, &x, true, false, after, ALL), Walk::Tcp(8));
        // The chain as read from the fixed header: IPv6 (DEST) | DEST (TCP)
        // | X. Resuming at X (offset 48) with DEST is not on that chain.
        let mut from_fixed = dest(TCP, &[]);
        from_fixed.extend(&x);
        assert!(!ipv6_on_chain(DEST, &from_fixed, 48, DEST));
        assert!(ipv6_on_chain(DEST, &from_fixed, 48, TCP));
        assert!(ipv6_on_chain(DEST, &from_fixed, 40, DEST));
        // A plain TCP header read as destination options is dropped.
        assert_eq!(
            ipv6_walk(DEST, &tcp(0x1234, 80), true, false, after, ALL),
            Walk::Dropped
        );
    }

    #[test]
    fn on_chain_follows_every_extension_header() {
        let mut c = dest(ROUTING, &[]);
        c.extend(routing(FRAGMENT, 0, 0));
        c.extend([AUTH, 0, 0, 0, 0, 0, 0, 0]);
        c.extend([DEST, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        c.extend(dest(TCP, &[]));
        assert!(ipv6_on_chain(DEST, &c, 40, DEST));
        assert!(ipv6_on_chain(DEST, &c, 48, ROUTING));
        assert!(ipv6_on_chain(DEST, &c, 56, FRAGMENT));
        assert!(ipv6_on_chain(DEST, &c, 64, AUTH));
        assert!(ipv6_on_chain(DEST, &c, 76, DEST));
        assert!(ipv6_on_chain(DEST, &c, 84, TCP));
        assert!(!ipv6_on_chain(DEST, &c, 52, ROUTING));
        assert!(!ipv6_on_chain(DEST, &c, 200, TCP));
        assert!(!ipv6_on_chain(TCP, &c, 48, ROUTING));
    }
}
