// SPDX-License-Identifier: GPL-2.0

//! Secrets as `setsockopt(TCP_STEALTH)`, `TCP_STEALTH_KEY` and the policy
//! netlink command pass them: `KnockKey::derive` against
//! `BLAKE2s(label || secret || zeros)`, and `IsnSecret::new`'s length
//! rule.
//!
//! Input: the secret.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{Error, IsnSecret, KnockKey};
use tcp_stealth_fuzz::{key_bytes, Ref};

fuzz_target!(|secret: &[u8]| {
    let key = KnockKey::derive(secret, &Ref);
    match key_bytes(secret) {
        Some(k) => {
            let key = key.unwrap();
            assert_eq!(key.mac_key()[..], k[..16]);
            assert_eq!(key.integrity_key()[..], k[16..]);
            let again = KnockKey::from_bytes(&k);
            assert_eq!(again.mac_key(), key.mac_key());
            assert_eq!(again.integrity_key(), key.integrity_key());
            assert!(IsnSecret::new(secret).is_ok());
        }
        None => {
            assert_eq!(key.unwrap_err(), Error::SecretLength);
            assert_eq!(IsnSecret::new(secret).unwrap_err(), Error::SecretLength);
        }
    }
});
