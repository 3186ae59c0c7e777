// SPDX-License-Identifier: GPL-2.0

//! Where IPv6 takes a packet after the input hook (`ipv6_walk`): never a
//! panic; a TCP header it finds lies inside the bytes; its certain verdicts
//! do not depend on bytes after the ones that decided them; and fewer
//! handlers or a stricter option limit never turn a drop into a delivery.
//! `ipv6_on_chain` never panics, and the chain's own start is on it.
//!
//! Input: byte 0 the next header IPv6 resumes with, byte 1 bit 0 a
//! multicast destination, bit 1 a negative option count (unknown options
//! refused), bits 2-6 segment routing, RPL and Mobile IPv6 on, reassembled,
//! jumbogram, bit 7 the bytes run to the packet's end; byte 2 the option
//! count limit, the rest the bytes from the resume point on.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{ipv6_on_chain, ipv6_walk, Ipv6Context, Walk};

fuzz_target!(|buf: &[u8]| {
    let [resume, flags, count, chain @ ..] = buf else {
        return;
    };
    let mcast = flags & 1 != 0;
    let whole = flags & 128 != 0;
    let sign = if flags & 2 != 0 { -1 } else { 1 };
    let cfg = Ipv6Context {
        max_dst_opts_count: sign * i32::from(*count),
        max_dst_opts_len: i32::MAX,
        seg6: flags & 4 != 0,
        rpl: flags & 8 != 0,
        mip6: flags & 16 != 0,
        fragmented: flags & 32 != 0,
        jumbo: flags & 64 != 0,
    };
    assert!(ipv6_on_chain(*resume, chain, 40, *resume));
    let _ = ipv6_on_chain(*resume, chain, 40 + chain.len(), 6);
    let walk = ipv6_walk(*resume, chain, whole, mcast, cfg, |_| true);
    if let Walk::Tcp(off) = walk {
        assert!(off <= chain.len());
    }
    // Decided before the end of the bytes: more bytes change nothing (a
    // TCP header right at the end is decided too).
    if walk != Walk::Unsure && !(whole && walk == Walk::Dropped) {
        let mut longer = chain.to_vec();
        longer.extend_from_slice(&[0xff; 64]);
        for w in [false, true] {
            assert_eq!(ipv6_walk(*resume, &longer, w, mcast, cfg, |_| true), walk);
        }
    }
    if walk == Walk::Dropped {
        // Fewer handlers, or unknown options refused: still dropped.
        assert_eq!(
            ipv6_walk(*resume, chain, whole, mcast, cfg, |_| false),
            Walk::Dropped
        );
        let stricter = Ipv6Context {
            max_dst_opts_count: -i32::from(*count),
            ..cfg
        };
        assert_eq!(
            ipv6_walk(*resume, chain, whole, mcast, stricter, |_| true),
            Walk::Dropped
        );
    }
});
