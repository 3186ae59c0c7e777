// SPDX-License-Identifier: GPL-2.0

//! The payload integrity check: `commitment()` against the model's BLAKE2s,
//! and `IntegrityVerifier` fed the stream in arbitrary pieces against the
//! one-shot check. The verifier must say Match exactly when the first `n`
//! bytes have the committed digest, consume no byte past them, and stay
//! Pending until it has them all.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{
    commitment, Error, IntegrityStatus, IntegrityVerifier, KnockKey, PayloadVerifier,
};
use tcp_stealth_fuzz::{commitment_model, key_bytes, pieces, Ref, RefBlake2s};

#[derive(Arbitrary, Debug)]
struct Input {
    secret: Vec<u8>,
    /// The bytes the client commits to (zero-padded or cut to `n`).
    payload: Vec<u8>,
    n: u16,
    /// A C32 other than the client's.
    forged: Option<u32>,
    /// One byte of what is received XORed with a mask.
    flip: Option<(u16, u8)>,
    /// Bytes after the committed ones.
    tail: Vec<u8>,
    /// How much of the stream arrives.
    arrived: u16,
    /// Where the stream is cut into segments.
    cuts: Vec<u16>,
}

fuzz_target!(|inp: Input| {
    let secret = if inp.secret.is_empty() || inp.secret.len() > 64 {
        &b"x"[..]
    } else {
        &inp.secret[..]
    };
    let key = KnockKey::derive(secret, &Ref).unwrap();
    let k = key_bytes(secret).unwrap();
    // n: 0 (refused), the largest (65535), else near the payload's length
    // to keep runs fast.
    let n = match inp.n {
        0 => 0,
        u16::MAX => usize::from(u16::MAX),
        n => 1 + usize::from(n) % (inp.payload.len() + 64),
    };
    if n == 0 {
        assert_eq!(commitment(&Ref, &key, &[]), Err(Error::IntegrityLength));
        assert!(IntegrityVerifier::<RefBlake2s>::new(&key, 0, 0).is_err());
        return;
    }
    let mut committed = inp.payload.clone();
    committed.resize(n, 0);
    let c32 = commitment(&Ref, &key, &committed).unwrap();
    assert_eq!(c32, commitment_model(&k, &committed));
    let c32 = inp.forged.unwrap_or(c32);

    let mut stream = committed.clone();
    stream.extend_from_slice(&inp.tail);
    let mut changed = false;
    if let Some((at, mask)) = inp.flip {
        let at = usize::from(at) % stream.len();
        stream[at] ^= mask;
        changed = at < n && mask != 0;
    }
    let arrived = usize::from(inp.arrived) % (stream.len() + 1);
    let stream = &stream[..arrived];

    let mut v = IntegrityVerifier::<RefBlake2s>::new(&key, c32, n).unwrap();
    let mut used = 0;
    for piece in pieces(stream, &inp.cuts) {
        let before = v.remaining();
        let took = v.feed(piece);
        assert_eq!(took, piece.len().min(before));
        assert_eq!(v.remaining(), before - took);
        used += took;
    }
    assert_eq!(used, arrived.min(n));
    let mut once = IntegrityVerifier::<RefBlake2s>::new(&key, c32, n).unwrap();
    assert_eq!(once.feed(stream), arrived.min(n));
    assert_eq!(once.status(), v.status());

    if arrived < n {
        assert_eq!(v.status(), IntegrityStatus::Pending);
        assert_eq!(v.remaining(), n - arrived);
    } else {
        let good = commitment_model(&k, &stream[..n]) == c32;
        let want = if good {
            IntegrityStatus::Match
        } else {
            IntegrityStatus::Mismatch
        };
        assert_eq!(v.status(), want);
        if inp.forged.is_none() && !changed {
            assert_eq!(v.status(), IntegrityStatus::Match);
        }
        assert_eq!(v.feed(b"more"), 0);
        assert_eq!(v.status(), want);
    }
});
