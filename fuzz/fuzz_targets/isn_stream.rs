// SPDX-License-Identifier: GPL-2.0

//! The ISN mode's payload check: `Md5` streaming, `isn_integrity_hash`
//! and `IsnVerifier` fed in arbitrary pieces, against the fuzz crate's
//! whole-message MD5 and IH.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{
    isn_integrity_hash, IntegrityStatus, IsnSecret, IsnVerifier, Md5, PayloadVerifier,
};
use tcp_stealth_fuzz::{ih_model, md5_model, pieces, secret64};

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    payload: Vec<u8>,
    n: u16,
    /// An IH other than the client's.
    forged: Option<u16>,
    flip: Option<(u16, u8)>,
    arrived: u16,
    cuts: Vec<u16>,
}

fuzz_target!(|inp: Input| {
    // Md5 itself, streamed.
    let mut h = Md5::new();
    for piece in pieces(&inp.payload, &inp.cuts) {
        h.update(piece);
    }
    assert_eq!(h.finalize(), md5_model(&inp.payload));

    let Some(s64) = secret64(&inp.secret) else {
        assert!(IsnSecret::new(&inp.secret).is_err());
        return;
    };
    let secret = IsnSecret::new(&inp.secret).unwrap();
    let n = 1 + usize::from(inp.n) % (inp.payload.len() + 64);
    let mut committed = inp.payload.clone();
    committed.resize(n, 0);
    let ih = isn_integrity_hash(&secret, &committed);
    assert_eq!(ih, ih_model(&s64, &committed));
    let ih = inp.forged.unwrap_or(ih);

    let mut stream = committed.clone();
    let mut changed = false;
    if let Some((at, mask)) = inp.flip {
        let at = usize::from(at) % n;
        stream[at] ^= mask;
        changed = mask != 0;
    }
    let arrived = usize::from(inp.arrived) % (n + 1);
    let stream = &stream[..arrived];

    let mut v = IsnVerifier::new(&secret, ih, n).unwrap();
    for piece in pieces(stream, &inp.cuts) {
        let before = v.remaining();
        assert_eq!(v.feed(piece), piece.len().min(before));
    }
    if arrived < n {
        assert_eq!(v.status(), IntegrityStatus::Pending);
        assert_eq!(v.remaining(), n - arrived);
    } else {
        let good = ih_model(&s64, stream) == ih;
        assert_eq!(v.status() == IntegrityStatus::Match, good);
        assert_eq!(v.status() == IntegrityStatus::Mismatch, !good);
        if inp.forged.is_none() && !changed {
            assert!(good);
        }
    }
});
