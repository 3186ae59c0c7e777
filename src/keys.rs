// SPDX-License-Identifier: GPL-2.0

//! Keys: the [`KeySet`] of a socket (`TCP_STEALTH`, `TCP_STEALTH_KEY`) or of
//! a port the administrator protects, each key derived from its secret in
//! both forms ([`derive`]).

use crate::ffi::{
    crypto::{KernelBlake2s, KernelCrypto},
    ulp::SOCK_GFP,
};
use crate::proto::{CommitStart, IsnSecret, KnockKey, MAX_KEYS};
use kernel::prelude::*;

/// The keys of a socket. A client knocks with the first; a listener accepts
/// a knock made with any.
///
/// Each key is held in both forms: the derived v1 key of the option mode,
/// and the zero-padded raw secret that the ISN mode uses as is, so that the
/// mode can change independently of the keys.
pub(crate) struct KeySet {
    pub(crate) keys: [KnockKey; MAX_KEYS],
    pub(crate) isn: [IsnSecret; MAX_KEYS],
    pub(crate) n: usize,
    /// A listener that requires integrity: the [`CommitStart`] of each key
    /// for its length, from which each connection's check starts (one
    /// BLAKE2s compression fewer per connection). Made from these keys
    /// only, for this socket's connections only, and wiped with them.
    starts: Option<KBox<CommitStarts>>,
}

/// [`KeySet::starts`], in the order of the keys.
type CommitStarts = [Option<CommitStart<KernelBlake2s>>; MAX_KEYS];

impl Clone for KeySet {
    /// The same keys, without [`KeySet::starts`] (which
    /// [`KeySet::prepare`] makes again where wanted).
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            isn: self.isn.clone(),
            n: self.n,
            starts: None,
        }
    }
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

    /// The set of one key, filled in directly: building it as `empty()`
    /// then `push_front()` with fillers made by `from_fn` cost about 500
    /// instructions more per `setsockopt(TCP_STEALTH)`.
    pub(crate) fn one(key: KnockKey, isn: IsnSecret) -> Self {
        let mut set = Self::empty();
        set.keys[0] = key;
        set.isn[0] = isn;
        set.n = 1;
        set
    }

    pub(crate) fn empty() -> Self {
        Self {
            keys: [KnockKey::ZERO; MAX_KEYS],
            isn: [IsnSecret::ZERO; MAX_KEYS],
            n: 0,
            starts: None,
        }
    }

    /// The check start of key `i` for commitments over `n` bytes, if
    /// [`KeySet::prepare`] made it (for that `n`).
    pub(crate) fn commit_start(&self, i: usize, n: usize) -> Option<&CommitStart<KernelBlake2s>> {
        self.starts
            .as_deref()?
            .get(i)?
            .as_ref()
            .filter(|s| s.covers() == n)
    }

    /// The length [`KeySet::starts`] are for (0: none).
    pub(crate) fn prepared_len(&self) -> usize {
        self.starts
            .as_deref()
            .and_then(|s| s.first()?.as_ref())
            .map_or(0, |s| s.covers())
    }

    /// Makes [`KeySet::starts`] for connections that commit to `n` first
    /// bytes (none for 0). Best effort: without them (no memory), each
    /// check starts from the key.
    pub(crate) fn prepare(&mut self, n: usize) {
        self.starts = None;
        if n == 0 || self.n == 0 {
            return;
        }
        let Ok(mut starts) = KBox::new([const { None }; MAX_KEYS], SOCK_GFP) else {
            return;
        };
        for (start, key) in starts.iter_mut().zip(self.keys()) {
            *start = CommitStart::new(key, n).ok();
        }
        self.starts = Some(starts);
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
