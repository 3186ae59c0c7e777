// SPDX-License-Identifier: GPL-2.0

//! `build()` -> `verify()` round trips: a knock verifies exactly for the key
//! that built it (if among the first four), at its port, within the skew;
//! any change to it, another port or a time outside the skew is refused.
//! `build` is also checked against the option the model puts together.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{self, Knock, KnockKey, Reject, Skew, MAX_KEYS};
use tcp_stealth_fuzz::{key_bytes, mac, verify_model, Ref};

#[derive(Arbitrary, Debug)]
struct Input {
    /// The receiver's secrets (cut to 64 bytes, empty ones left out).
    secrets: Vec<Vec<u8>>,
    /// Index of the secret the client knocks with.
    signer: u8,
    dport: u16,
    t: u64,
    nonce: [u8; 6],
    integrity: Option<u32>,
    skew: u16,
    /// The receiver's clock minus the client's.
    offset: i16,
    /// One byte of the option XORed with a mask.
    flip: Option<(u8, u8)>,
    /// The SYN arrives on another port.
    port_xor: u16,
}

fuzz_target!(|inp: Input| {
    let secrets: Vec<&[u8]> = inp
        .secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| &s[..s.len().min(64)])
        .take(6)
        .collect();
    if secrets.is_empty() {
        return;
    }
    let keys: Vec<KnockKey> = secrets
        .iter()
        .map(|s| KnockKey::derive(s, &Ref).unwrap())
        .collect();
    let ks: Vec<[u8; 32]> = secrets.iter().map(|s| key_bytes(s).unwrap()).collect();
    let signer = usize::from(inp.signer) % keys.len();
    let skew = 1 + u64::from(inp.skew) % 3600;

    let opt = proto::build(
        &Ref,
        &keys[signer],
        inp.dport,
        inp.t,
        inp.nonce,
        inp.integrity,
    );

    // The model's option: header, ctl, n48 (with C32), MAC.
    let mut n48 = inp.nonce;
    if let Some(c) = inp.integrity {
        n48[2..].copy_from_slice(&c.to_be_bytes());
    }
    let ctl = (inp.t % (1 << 14)) as u16 | if inp.integrity.is_some() { 0x8000 } else { 0 };
    let mut want = vec![254, 20, 0x4b, 0x4e];
    want.extend_from_slice(&ctl.to_be_bytes());
    want.extend_from_slice(&n48);
    want.extend_from_slice(&mac(
        &ks[signer],
        inp.integrity.is_some(),
        inp.dport,
        inp.t,
        &n48,
    ));
    assert_eq!(opt[..], want[..]);
    let k = Knock::parse(&opt).unwrap();
    assert_eq!(k.commitment(), inp.integrity);

    let mut wire = opt;
    let mut changed = false;
    if let Some((at, mask)) = inp.flip {
        wire[usize::from(at) % wire.len()] ^= mask;
        changed = mask != 0;
    }
    let port = inp.dport ^ inp.port_xor;
    let now = inp.t.wrapping_add_signed(i64::from(inp.offset));
    let got = proto::verify(&Ref, &keys, &wire, port, now, Skew::new(skew).unwrap());

    // The first of the keys tried that is the signer's own key.
    let first = ks.iter().take(MAX_KEYS).position(|k| *k == ks[signer]);
    let in_window = u64::from(inp.offset.unsigned_abs()) <= skew;
    match got {
        Ok(v) => {
            assert!(!changed && port == inp.dport && in_window, "accepted {v:?}");
            assert_eq!(Some(v.key_index), first);
            assert_eq!((v.t, v.integrity), (inp.t, inp.integrity));
            assert_eq!(v.mac[..], opt[12..]);
        }
        Err(e) => {
            assert!(
                changed || port != inp.dport || !in_window || first.is_none(),
                "{e:?}"
            );
            if !changed && !in_window && inp.offset.unsigned_abs() < 1 << 13 {
                assert_eq!(e, Reject::Stale);
            }
        }
    }
    // And the same verdict from the model.
    let model = verify_model(&ks, &wire, port, now, skew);
    assert_eq!(got.is_ok(), model.is_ok(), "{got:?} {model:?}");
});
