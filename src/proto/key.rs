// SPDX-License-Identifier: GPL-2.0

//! Key derivation from the shared secret.

use super::{Blake2s, Crypto, Error, SecretBytes};

/// Longest secret in bytes (the MD5 block size of the original Knock).
pub const MAX_SECRET_LEN: usize = 64;

/// Domain-separation label hashed in front of the padded secret.
pub const KEY_LABEL: &[u8; 18] = b"tcp_stealth v1 key";

/// Size of `struct tcp_stealth_key`, the argument of `TCP_STEALTH_KEY`:
/// `u32 flags`, `u32 secret_len`, `u8 secret[64]`.
pub const KEY_REQUEST_LEN: usize = 8 + MAX_SECRET_LEN;
/// `TCP_STEALTH_KEY_ADD`.
pub const KEY_ADD: u32 = 1 << 0;
/// `TCP_STEALTH_KEY_DEL`.
pub const KEY_DEL: u32 = 1 << 1;

/// What a `TCP_STEALTH_KEY` request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOp {
    /// Add the key (it becomes the one a client knocks with).
    Add,
    /// Remove the key with this secret.
    Del,
}

/// Parses a `struct tcp_stealth_key` as the application wrote it (native
/// byte order): exactly [`KEY_REQUEST_LEN`] bytes, `flags` exactly one of
/// [`KEY_ADD`] and [`KEY_DEL`], `secret_len` 1 to [`MAX_SECRET_LEN`].
/// Returns the operation and the secret, borrowed from `raw`.
pub fn parse_key_request(raw: &[u8]) -> Result<(KeyOp, &[u8]), Error> {
    let raw: &[u8; KEY_REQUEST_LEN] = raw.try_into().map_err(|_| Error::KeyRequest)?;
    let flags = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let len = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]);
    let op = match flags {
        KEY_ADD => KeyOp::Add,
        KEY_DEL => KeyOp::Del,
        _ => return Err(Error::KeyRequest),
    };
    match usize::try_from(len) {
        Ok(n @ 1..=MAX_SECRET_LEN) => Ok((op, &raw[8..8 + n])),
        _ => Err(Error::KeyRequest),
    }
}

/// The two keys derived from one shared secret.
///
/// `K = BLAKE2s-256(KEY_LABEL || secret || 0^(64 - len))`, `K_mac = K[0..16]`
/// (SipHash-2-4 key of the knock MAC) and `K_int = K[16..32]` (BLAKE2s key
/// of the integrity commitment). `Debug` does not print the keys.
#[derive(Clone)]
pub struct KnockKey {
    mac: [u8; 16],
    int: [u8; 16],
}

impl KnockKey {
    /// The all-zero key: a filler for unused key slots, never used to knock.
    pub const ZERO: Self = Self {
        mac: [0; 16],
        int: [0; 16],
    };

    /// Derives the keys from a secret of 1 to [`MAX_SECRET_LEN`] bytes.
    ///
    /// The secret is zero-padded to 64 bytes first, so secrets that differ
    /// only in trailing NUL bytes (`"abc"` and `"abc\0"`) give the same key,
    /// as in the original TCP Stealth.
    pub fn derive<C: Crypto>(secret: &[u8], _crypto: &C) -> Result<Self, Error> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(Error::SecretLength);
        }
        let mut padded = SecretBytes::<MAX_SECRET_LEN>::new();
        padded[..secret.len()].copy_from_slice(secret);
        let mut h = C::Blake2s::init();
        h.update(KEY_LABEL);
        h.update(&padded[..]);
        let mut k = SecretBytes::<32>::new();
        *k = h.finalize();
        Ok(Self::from_bytes(&k))
    }

    /// Builds a key from the 32-byte `K` directly.
    pub fn from_bytes(k: &[u8; 32]) -> Self {
        let mut key = Self {
            mac: [0; 16],
            int: [0; 16],
        };
        key.mac.copy_from_slice(&k[..16]);
        key.int.copy_from_slice(&k[16..]);
        key
    }

    /// `K_mac`, the SipHash-2-4 key.
    pub fn mac_key(&self) -> &[u8; 16] {
        &self.mac
    }

    /// `K_int`, the BLAKE2s key of the integrity commitment.
    pub fn integrity_key(&self) -> &[u8; 16] {
        &self.int
    }
}

impl core::fmt::Debug for KnockKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KnockKey { .. }")
    }
}

impl Drop for KnockKey {
    /// Wipes the key material, so that freed memory does not keep it.
    fn drop(&mut self) {
        super::wipe(&mut self.mac);
        super::wipe(&mut self.int);
    }
}
