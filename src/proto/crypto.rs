// SPDX-License-Identifier: GPL-2.0

//! The cryptographic primitives that the caller plugs in.
//!
//! In the kernel these map to `lib/crypto` (`siphash_3u64()`,
//! `blake2s_init()`, `blake2s_init_key()`, `blake2s_update()`,
//! `blake2s_final()`); the host tests use the `siphasher` and `blake2` crates.

/// Keyed pseudo-random function used for the knock MAC.
pub trait Crypto {
    /// The streaming BLAKE2s-256 implementation that goes with it.
    type Blake2s: Blake2s;

    /// SipHash-2-4 with the 16-byte `key` over the 24 bytes
    /// `le64(a) || le64(b) || le64(c)`.
    ///
    /// The kernel's `siphash_3u64(a, b, c, &k)` computes exactly this when
    /// `k.key[0] = le64(key[0..8])` and `k.key[1] = le64(key[8..16])`.
    fn siphash_3u64(&self, key: &[u8; 16], a: u64, b: u64, c: u64) -> u64;
}

/// Streaming BLAKE2s with a 32-byte digest (RFC 7693).
///
/// A state holds key material (the key of [`init_key`](Self::init_key), or
/// the secret that key derivation hashes): implementations wipe it when it
/// is dropped, finalized or not (the verifiers drop it as soon as the
/// verdict is known, or with the connection).
pub trait Blake2s: Sized {
    /// Starts an unkeyed hash with a 32-byte output.
    fn init() -> Self;
    /// Starts a hash keyed with `key` (BLAKE2 keyed mode, key length 16) and
    /// a 32-byte output.
    fn init_key(key: &[u8; 16]) -> Self;
    /// Absorbs `data`.
    fn update(&mut self, data: &[u8]);
    /// Returns the 32-byte digest.
    fn finalize(self) -> [u8; 32];
}
