// SPDX-License-Identifier: GPL-2.0

//! What IPv6 will do with the extension headers in front of a TCP header.
//!
//! At `NF_INET_LOCAL_IN` only a leading hop-by-hop header has been
//! processed; destination options, routing headers, AH and any other header
//! are handled after the hook (`ip6_protocol_deliver_rcu()`). Some of them
//! make IPv6 drop the packet there, silently or with an ICMPv6 parameter
//! problem, so TCP never sees the segment and a closed port never answers
//! it. The input check must then not answer either, or one probe tells a
//! protected port from a closed one.
//!
//! [`ext_chain_fate`] mirrors Linux 6.12's rules (`net/ipv6/exthdrs.c`,
//! `ip6_input.c`), but only says [`ChainFate::Dropped`] where the drop does
//! not depend on configuration the caller cannot see: anything that needs a
//! sysctl, Mobile IPv6, segment routing or IPsec is [`ChainFate::Judge`],
//! and the segment is judged as if it reached TCP (answered as by a closed
//! port, never let through unjudged). A wrong `Judge` costs a difference in
//! the answer; a wrong `Dropped` would let a segment reach TCP unjudged, so
//! every `Dropped` rule is one the kernel applies unconditionally.

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

/// What IPv6 does with a packet after `NF_INET_LOCAL_IN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainFate {
    /// IPv6 drops it for certain: TCP never sees the segment.
    Dropped,
    /// TCP may see the segment: judge it.
    Judge,
}

/// The fate of a packet whose fixed IPv6 header names `first` as the next
/// header, with the bytes `chain` between the fixed header and the TCP
/// header (as `ipv6_find_hdr()` found it). `dst_multicast`: the destination
/// is a multicast address. `handled(p)`: IPv6 has a handler for next header
/// `p` (`inet6_protos[p]`).
pub fn ext_chain_fate(
    first: u8,
    chain: &[u8],
    dst_multicast: bool,
    handled: impl Fn(u8) -> bool,
) -> ChainFate {
    let mut nh = first;
    let mut off = 0usize;
    let mut leading = true;
    loop {
        let rest = chain.get(off..).unwrap_or(&[]);
        let len = match nh {
            TCP => return ChainFate::Judge,
            // IPv6 only accepts hop-by-hop options first (handled before the
            // hook); anywhere else it has no handler: parameter problem.
            HOP if !leading => return ChainFate::Dropped,
            HOP => ext_len(rest),
            DEST => match dest_options(rest) {
                Some(DestVerdict::Pass(len)) => Some(len),
                Some(DestVerdict::Dropped) => return ChainFate::Dropped,
                None => return ChainFate::Judge,
            },
            ROUTING => {
                let (Some(&ty), Some(&left)) = (rest.get(2), rest.get(3)) else {
                    return ChainFate::Judge;
                };
                // `ipv6_rthdr_rcv()`: never to a multicast destination;
                // types 3 and 4 (RPL, SRv6) and 2 (Mobile IPv6) depend on
                // configuration; any other type is ignored when no segment
                // is left and refused otherwise.
                if dst_multicast {
                    return ChainFate::Dropped;
                }
                match (ty, left) {
                    (2..=4, _) => return ChainFate::Judge,
                    (_, 0) => ext_len(rest),
                    _ => return ChainFate::Dropped,
                }
            }
            // An atomic fragment (the caller has refused the others).
            FRAGMENT => Some(8),
            AUTH if handled(AUTH) => return ChainFate::Judge,
            p if !handled(p) => return ChainFate::Dropped,
            _ => return ChainFate::Judge,
        };
        let Some(len) = len else {
            return ChainFate::Judge;
        };
        let Some(&next) = rest.first() else {
            return ChainFate::Judge;
        };
        if len > rest.len() {
            return ChainFate::Judge;
        }
        nh = next;
        off += len;
        leading = false;
    }
}

/// Length of a hop-by-hop, destination options or routing header.
fn ext_len(h: &[u8]) -> Option<usize> {
    h.get(1).map(|&l| (usize::from(l) + 1) * 8)
}

enum DestVerdict {
    /// IPv6 accepts the header; it is this long.
    Pass(usize),
    Dropped,
}

/// `ip6_parse_tlv(false, ...)` as far as its verdict does not depend on
/// configuration: `None` where it might (Home Address option, the
/// `max_dst_opts_*` sysctls only ever drop more).
fn dest_options(h: &[u8]) -> Option<DestVerdict> {
    let total = ext_len(h)?;
    let opts = h.get(2..total)?;
    let mut off = 0usize;
    let mut padlen = 0usize;
    while off < opts.len() {
        let ty = opts[off];
        if ty == PAD1 {
            padlen += 1;
            if padlen > 7 {
                return Some(DestVerdict::Dropped);
            }
            off += 1;
            continue;
        }
        let Some(&l) = opts.get(off + 1) else {
            return Some(DestVerdict::Dropped);
        };
        let optlen = usize::from(l) + 2;
        let Some(body) = opts.get(off + 2..off + optlen) else {
            return Some(DestVerdict::Dropped);
        };
        if ty == PADN {
            padlen += optlen;
            if padlen > 7 || body.iter().any(|&b| b != 0) {
                return Some(DestVerdict::Dropped);
            }
        } else {
            if ty == HAO {
                return None;
            }
            // Unknown: the two high bits say skip (00) or drop (01, 10, 11).
            if ty >> 6 != 0 {
                return Some(DestVerdict::Dropped);
            }
            padlen = 0;
        }
        off += optlen;
    }
    Some(DestVerdict::Pass(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const ALL: fn(u8) -> bool = |_| true;
    const NO_AH: fn(u8) -> bool = |p| p != AUTH;

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
            ext_chain_fate(DEST, &dest(TCP, &[]), false, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(DEST, &dest(TCP, &[PAD1, PAD1]), false, ALL),
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
            (HAO, ChainFate::Judge),
        ] {
            let h = dest(TCP, &[ty, 2, 1, 2]);
            assert_eq!(ext_chain_fate(DEST, &h, false, ALL), fate, "type {ty:#x}");
            assert_eq!(
                ext_chain_fate(DEST, &h, true, ALL),
                fate,
                "type {ty:#x}, multicast"
            );
        }
    }

    #[test]
    fn bad_padding_is_dropped() {
        // PadN with a non-zero byte.
        let mut h = dest(TCP, &[PADN, 2, 0, 1]);
        assert_eq!(ext_chain_fate(DEST, &h, false, ALL), ChainFate::Dropped);
        // Eight Pad1 in a row.
        h = std::vec![TCP, 1];
        h.extend([PAD1; 14]);
        assert_eq!(ext_chain_fate(DEST, &h, false, ALL), ChainFate::Dropped);
        // An option running past the header.
        h = std::vec![TCP, 0, 0x1e, 9, 0, 0, 0, 0];
        assert_eq!(ext_chain_fate(DEST, &h, false, ALL), ChainFate::Dropped);
    }

    #[test]
    fn hop_by_hop_only_first() {
        let hbh = dest(TCP, &[]);
        assert_eq!(ext_chain_fate(HOP, &hbh, false, ALL), ChainFate::Judge);
        let mut chain = dest(HOP, &[]);
        chain.extend(hbh);
        assert_eq!(ext_chain_fate(DEST, &chain, false, ALL), ChainFate::Dropped);
    }

    #[test]
    fn routing_header_rules() {
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 0), false, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 1), false, ALL),
            ChainFate::Dropped
        );
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 9, 3), false, ALL),
            ChainFate::Dropped
        );
        for ty in 2..=4 {
            assert_eq!(
                ext_chain_fate(ROUTING, &routing(TCP, ty, 1), false, ALL),
                ChainFate::Judge
            );
        }
        assert_eq!(
            ext_chain_fate(ROUTING, &routing(TCP, 0, 0), true, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn later_headers_count_after_a_good_one() {
        let mut chain = routing(DEST, 0, 0);
        chain.extend(dest(TCP, &[0x9e, 0]));
        assert_eq!(
            ext_chain_fate(ROUTING, &chain, false, ALL),
            ChainFate::Dropped
        );
    }

    #[test]
    fn authentication_header_needs_a_handler() {
        let ah =
            std::vec![TCP, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(ext_chain_fate(AUTH, &ah, false, ALL), ChainFate::Judge);
        assert_eq!(ext_chain_fate(AUTH, &ah, false, NO_AH), ChainFate::Dropped);
    }

    #[test]
    fn truncated_chains_are_judged() {
        assert_eq!(ext_chain_fate(DEST, &[TCP], false, ALL), ChainFate::Judge);
        assert_eq!(
            ext_chain_fate(ROUTING, &[TCP, 0, 0], false, ALL),
            ChainFate::Judge
        );
        assert_eq!(
            ext_chain_fate(DEST, &[TCP, 3, 0, 0], false, ALL),
            ChainFate::Judge
        );
    }
}
