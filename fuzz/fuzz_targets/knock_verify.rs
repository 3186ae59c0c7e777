// SPDX-License-Identifier: GPL-2.0

//! `Knock::parse` / `to_bytes` and `verify` on arbitrary option bytes,
//! against the from-scratch receiver check of the fuzz crate.
//!
//! Input: a length byte (0..=24) and that many option bytes, then the
//! receiver's clock, skew, port and keys. An input that ends early gets
//! the PROTOCOL.md vector's values (`now` = its time, port 22, its secret),
//! so the vector option alone is a seed that verifies.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{self, Knock, KnockKey, Reject, Skew};
use tcp_stealth_fuzz::{key_bytes, verify_model, Ref, Refused};

const V_SECRET: &[u8] = b"This is my magic ID.";
const V_T: u64 = 1_700_000_000;

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let len = u.int_in_range(0..=24)?;
    let opt = u.bytes(len.min(u.len()))?;
    let now = match u.int_in_range(0..=3)? {
        0 => V_T.wrapping_add_signed(i64::from(u.arbitrary::<i16>()?)),
        1 => u.arbitrary::<u64>()?,
        2 => u64::MAX - u64::from(u.arbitrary::<u16>()?),
        _ => u64::from(u.arbitrary::<u16>()?),
    };
    let skew = 1 + u64::from(u.arbitrary::<u16>()?) % 3600;
    let dport = 22 ^ u.arbitrary::<u16>()?;
    // The vector's secret first unless told otherwise, then up to 5 more.
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    if !u.arbitrary::<bool>()? {
        secrets.push(V_SECRET.to_vec());
    }
    for _ in 0..u.int_in_range(0..=5)? {
        let n = u.int_in_range(1..=64)?;
        let mut s = u.bytes(n.min(u.len()))?.to_vec();
        s.resize(n, 0);
        secrets.push(s);
    }

    let keys: Vec<KnockKey> = secrets
        .iter()
        .map(|s| KnockKey::derive(s, &Ref).expect("1..=64 bytes"))
        .collect();
    let ks: Vec<[u8; 32]> = secrets.iter().map(|s| key_bytes(s).unwrap()).collect();

    match Knock::parse(opt) {
        Ok(k) => {
            assert_eq!(k.to_bytes()[..], opt[..]);
            assert_eq!(k.t14, u16::from_be_bytes([opt[4] & 0x3f, opt[5]]));
            let c = u32::from_be_bytes([opt[8], opt[9], opt[10], opt[11]]);
            assert_eq!(k.commitment(), k.integrity.then_some(c));
        }
        Err(e) => assert_eq!(e, Reject::Malformed),
    }

    let got = proto::verify(&Ref, &keys, opt, dport, now, Skew::new(skew).unwrap());
    match (got, verify_model(&ks, opt, dport, now, skew)) {
        (Ok(v), Ok(a)) => {
            assert_eq!(
                (v.key_index, v.t, v.integrity),
                (a.key_index, a.t, a.integrity)
            );
            assert_eq!(v.mac[..], opt[12..20]);
        }
        (Err(Reject::Malformed), Err(Refused::Malformed))
        | (Err(Reject::Stale), Err(Refused::Stale))
        | (Err(Reject::BadMac), Err(Refused::BadMac)) => {}
        (got, want) => panic!("verify {got:?}, model {want:?}"),
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
