// SPDX-License-Identifier: GPL-2.0

//! Keys: the [`KeySet`] of a socket (`TCP_STEALTH`, `TCP_STEALTH_KEY`) or of
//! a port the administrator protects, each key derived from its secret in
//! both forms ([`derive`]).

use crate::ffi::crypto::KernelCrypto;
use crate::proto::{IsnSecret, KnockKey, MAX_KEYS};
use kernel::prelude::*;

/// The keys of a socket. A client knocks with the first; a listener accepts
/// a knock made with any.
///
/// Each key is held in both forms: the derived v1 key of the option mode,
/// and the zero-padded raw secret that the ISN mode uses as is, so that the
/// mode can change independently of the keys.
#[derive(Clone)]
pub(crate) struct KeySet {
    pub(crate) keys: [KnockKey; MAX_KEYS],
    pub(crate) isn: [IsnSecret; MAX_KEYS],
    pub(crate) n: usize,
}

impl KeySet {
    /// The key set of 1 to [`MAX_KEYS`] secrets (1 to 64 bytes each), in
    /// the order given.
    pub(crate) fn from_secrets(secrets: &[&[u8]]) -> Result<Self> {
        if secrets.is_empty() || secrets.len() > MAX_KEYS {
            return Err(EINVAL);
        }
        let mut set = Self::empty();
        for secret in secrets.iter().rev() {
            let (key, isn) = derive(secret)?;
            set.push_front(key, isn);
        }
        Ok(set)
    }

    pub(crate) fn one(key: KnockKey, isn: IsnSecret) -> Self {
        let mut set = Self::empty();
        set.push_front(key, isn);
        set
    }

    pub(crate) fn empty() -> Self {
        Self {
            keys: core::array::from_fn(|_| KnockKey::from_bytes(&[0; 32])),
            isn: core::array::from_fn(|_| IsnSecret::default()),
            n: 0,
        }
    }

    /// The keys held (option mode).
    pub(crate) fn keys(&self) -> &[KnockKey] {
        &self.keys[..self.n]
    }

    /// The same keys as raw secrets (ISN mode), in the same order.
    pub(crate) fn isn(&self) -> &[IsnSecret] {
        &self.isn[..self.n]
    }

    /// Makes `key` the first (newest) key; the caller checks there is room.
    pub(crate) fn push_front(&mut self, key: KnockKey, isn: IsnSecret) {
        let n = self.n;
        self.keys[..=n].rotate_right(1);
        self.isn[..=n].rotate_right(1);
        self.keys[0] = key;
        self.isn[0] = isn;
        self.n += 1;
    }

    /// Removes the key at `i`.
    pub(crate) fn remove(&mut self, i: usize) {
        let n = self.n;
        self.keys[i..n].rotate_left(1);
        self.isn[i..n].rotate_left(1);
        self.n -= 1;
    }

    pub(crate) fn position(&self, key: &KnockKey) -> Option<usize> {
        self.keys()
            .iter()
            .position(|k| crate::proto::ct_eq(k.mac_key(), key.mac_key()))
    }
}

/// Both forms of a key: the v1 key and the original's padded secret.
pub(crate) fn derive(secret: &[u8]) -> Result<(KnockKey, IsnSecret)> {
    let key = KnockKey::derive(secret, &KernelCrypto).map_err(|_| EINVAL)?;
    let isn = IsnSecret::new(secret).map_err(|_| EINVAL)?;
    Ok((key, isn))
}
