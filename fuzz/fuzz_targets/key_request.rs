// SPDX-License-Identifier: GPL-2.0

//! `parse_key_request`, the argument of `setsockopt(TCP_STEALTH_KEY)`,
//! against a field-by-field model of `struct tcp_stealth_key`.
//!
//! Input: the option value as the application passes it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{parse_key_request, Error, KeyOp, KnockKey};
use tcp_stealth_fuzz::{key_bytes, Ref};

fuzz_target!(|raw: &[u8]| {
    let want = if raw.len() != 72 {
        None
    } else {
        let flags = u32::from_ne_bytes(raw[0..4].try_into().unwrap());
        let len = u32::from_ne_bytes(raw[4..8].try_into().unwrap()) as u64;
        let op = match flags {
            1 => Some(KeyOp::Add),
            2 => Some(KeyOp::Del),
            _ => None,
        };
        op.filter(|_| (1..=64).contains(&len))
            .map(|op| (op, &raw[8..8 + len as usize]))
    };
    let got = parse_key_request(raw);
    match want {
        Some(w) => {
            assert_eq!(got, Ok(w));
            // What the socket option then does with the secret.
            let k = KnockKey::derive(w.1, &Ref).unwrap();
            assert_eq!(k.mac_key()[..], key_bytes(w.1).unwrap()[..16]);
        }
        None => assert_eq!(got, Err(Error::KeyRequest)),
    }
});
