// SPDX-License-Identifier: GPL-2.0

//! The original Knock's ISN: `md5_compress`, `make_isn` and
//! `check_isn` against the fuzz crate's RFC 1321 transcription. The
//! check accepts the client's ISN and, without integrity, no other; with
//! integrity (IH in the low half) exactly the ISNs whose high half matches
//! their own low half.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{check_isn, make_isn, md5_compress, IsnSecret};
use tcp_stealth_fuzz::{isn_model, md5_block, secret64};

#[derive(Arbitrary, Debug)]
struct Input {
    state: [u32; 4],
    block: Vec<u8>,
    secret: Vec<u8>,
    daddr: Vec<u8>,
    dport: u16,
    tsval: u32,
    ih: Option<u16>,
    /// XORed into the ISN the receiver sees.
    isn_xor: u32,
}

fuzz_target!(|inp: Input| {
    let mut block = [0u8; 64];
    let m = inp.block.len().min(64);
    block[..m].copy_from_slice(&inp.block[..m]);
    let mut state = inp.state;
    md5_compress(&mut state, &block);
    assert_eq!(state, md5_block(inp.state, &block));

    let Some(s64) = secret64(&inp.secret) else {
        assert!(IsnSecret::new(&inp.secret).is_err());
        return;
    };
    let secret = IsnSecret::new(&inp.secret).unwrap();
    let daddr = &inp.daddr[..inp.daddr.len().min(20)];
    let isn = make_isn(&secret, daddr, inp.dport, inp.tsval, inp.ih);
    assert_eq!(isn, isn_model(&s64, daddr, inp.dport, inp.tsval, inp.ih));

    let integrity = inp.ih.is_some();
    assert!(check_isn(
        &secret, isn, daddr, inp.dport, inp.tsval, integrity
    ));
    let seen = isn ^ inp.isn_xor;
    let ok = check_isn(&secret, seen, daddr, inp.dport, inp.tsval, integrity);
    if integrity {
        let want = isn_model(&s64, daddr, inp.dport, inp.tsval, Some(seen as u16)) == seen;
        assert_eq!(ok, want);
        if inp.isn_xor & 0xffff == 0 {
            assert_eq!(ok, inp.isn_xor == 0);
        }
    } else {
        assert_eq!(ok, inp.isn_xor == 0);
    }
});
