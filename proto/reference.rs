// SPDX-License-Identifier: GPL-2.0

//! Reference [`Crypto`](crate::Crypto) and [`Blake2s`](crate::Blake2s) on
//! the `siphasher` and `blake2` crates, for the unit tests and for the
//! fuzz targets in `fuzz/` (feature `reference`). Never part of the module.

use blake2::digest::{Digest, Mac};
use core::hash::Hasher;

/// SipHash-2-4 from `siphasher`, BLAKE2s from `blake2`.
pub struct Ref;

/// BLAKE2s-256 from `blake2`, plain or keyed.
#[derive(Clone)]
pub enum RefBlake2s {
    /// Unkeyed.
    Plain(blake2::Blake2s256),
    /// Keyed (MAC mode).
    Keyed(blake2::Blake2sMac256),
}

impl crate::Crypto for Ref {
    type Blake2s = RefBlake2s;

    fn siphash_3u64(&self, key: &[u8; 16], a: u64, b: u64, c: u64) -> u64 {
        let mut h = siphasher::sip::SipHasher24::new_with_key(key);
        for w in [a, b, c] {
            h.write(&w.to_le_bytes());
        }
        h.finish()
    }
}

impl crate::Blake2s for RefBlake2s {
    fn init() -> Self {
        Self::Plain(blake2::Blake2s256::new())
    }

    fn init_key(key: &[u8; 16]) -> Self {
        match blake2::Blake2sMac256::new_from_slice(key) {
            Ok(h) => Self::Keyed(h),
            // A 16-byte key is always within BLAKE2s's 1..=32.
            Err(_) => unreachable!("16-byte BLAKE2s key refused"),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Plain(h) => Digest::update(h, data),
            Self::Keyed(h) => Mac::update(h, data),
        }
    }

    fn finalize(self) -> [u8; 32] {
        match self {
            Self::Plain(h) => h.finalize().into(),
            Self::Keyed(h) => h.finalize().into_bytes().into(),
        }
    }
}
