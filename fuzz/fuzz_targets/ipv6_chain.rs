// SPDX-License-Identifier: GPL-2.0

//! What IPv6 does with the extension headers after the input hook
//! (`ext_chain_fate`): never a panic, and its "Dropped" only ever shrinks
//! when IPv6 handles more next headers or sees more bytes it never reads.
//!
//! Input: byte 0 the first next header, byte 1 bit 0 a multicast
//! destination, the rest the header chain.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{ext_chain_fate, ChainFate};

fuzz_target!(|buf: &[u8]| {
    let [first, flags, chain @ ..] = buf else {
        return;
    };
    let mcast = flags & 1 != 0;
    let all = ext_chain_fate(*first, chain, mcast, |_| true);
    let none = ext_chain_fate(*first, chain, mcast, |_| false);
    // More handlers can only turn a drop into a judgement.
    if all == ChainFate::Dropped {
        assert_eq!(none, ChainFate::Dropped);
    }
    // A drop is decided on bytes already there: more after them change
    // nothing.
    if all == ChainFate::Dropped {
        let mut longer = chain.to_vec();
        longer.extend_from_slice(&[0xff; 64]);
        assert_eq!(ext_chain_fate(*first, &longer, mcast, |_| true), ChainFate::Dropped);
    }
});
