// SPDX-License-Identifier: GPL-2.0

//! Integrity commitment to the first `n` payload bytes of a connection.
//!
//! `D = BLAKE2s-256(key = K_int, be16(n) || payload[0..n])` and the
//! commitment `C32` is `D[0..4]` read as a big-endian `u32`, which is how it
//! appears in option bytes 8..12.

use super::{ct_eq, Blake2s, Crypto, Error, KnockKey};

/// Largest number of payload bytes an integrity commitment can cover.
pub const MAX_INTEGRITY_LEN: usize = u16::MAX as usize;

fn checked_len(n: usize) -> Result<u16, Error> {
    match u16::try_from(n) {
        Ok(n) if n != 0 => Ok(n),
        _ => Err(Error::IntegrityLength),
    }
}

fn start<B: Blake2s>(key: &KnockKey, n: u16) -> B {
    let mut h = B::init_key(key.integrity_key());
    h.update(&n.to_be_bytes());
    h
}

/// The client's one-shot commitment `C32` to all of `payload`, which must be
/// 1 to [`MAX_INTEGRITY_LEN`] bytes long.
pub fn commitment<C: Crypto>(_crypto: &C, key: &KnockKey, payload: &[u8]) -> Result<u32, Error> {
    let n = checked_len(payload.len())?;
    let mut h = start::<C::Blake2s>(key, n);
    h.update(payload);
    let d = h.finalize();
    Ok(u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
}

/// State of an [`IntegrityVerifier`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityStatus {
    /// Fewer than `n` bytes have been fed.
    Pending,
    /// All `n` bytes were fed and the commitment matched.
    Match,
    /// All `n` bytes were fed and the commitment did not match.
    Mismatch,
}

/// A receiver's check of the first payload bytes of a connection, fed in
/// order as they arrive: [`IntegrityVerifier`] (this protocol) or
/// [`IsnVerifier`](super::IsnVerifier) (the original Knock's).
pub trait PayloadVerifier {
    /// Feeds the next in-order payload bytes and returns how many were used:
    /// never more than [`remaining`](Self::remaining), so the rest of `data`
    /// is ordinary payload. When the last byte is fed the digest is compared
    /// (in constant time) and the status becomes final.
    fn feed(&mut self, data: &[u8]) -> usize;
    /// The current status.
    fn status(&self) -> IntegrityStatus;
    /// Number of payload bytes still to be fed.
    fn remaining(&self) -> usize;
}

/// The digest side of a [`StreamVerifier`]: absorbs the payload, then tells
/// (in constant time) whether it matches what the handshake promised.
pub trait PayloadDigest {
    /// Absorbs more payload.
    fn update(&mut self, data: &[u8]);
    /// Whether the payload absorbed matches.
    fn matches(self) -> bool;
}

/// Checks the first `n` payload bytes with a [`PayloadDigest`] as they
/// arrive, in any number of pieces.
#[derive(Clone)]
pub struct StreamVerifier<D> {
    /// `None` once all `n` bytes have been fed.
    digest: Option<D>,
    remaining: u16,
    status: IntegrityStatus,
}

impl<D: PayloadDigest> StreamVerifier<D> {
    /// Starts checking the first `n` bytes, 1 to [`MAX_INTEGRITY_LEN`].
    pub fn start(digest: D, n: usize) -> Result<Self, Error> {
        Ok(Self {
            digest: Some(digest),
            remaining: checked_len(n)?,
            status: IntegrityStatus::Pending,
        })
    }
}

impl<D: PayloadDigest> PayloadVerifier for StreamVerifier<D> {
    fn feed(&mut self, data: &[u8]) -> usize {
        let Some(digest) = self.digest.as_mut() else {
            return 0;
        };
        let used = &data[..data.len().min(usize::from(self.remaining))];
        digest.update(used);
        // `used.len() <= self.remaining`, so this cannot underflow.
        self.remaining -= used.len() as u16;
        if self.remaining == 0 {
            if let Some(digest) = self.digest.take() {
                self.status = if digest.matches() {
                    IntegrityStatus::Match
                } else {
                    IntegrityStatus::Mismatch
                };
            }
        }
        used.len()
    }

    fn status(&self) -> IntegrityStatus {
        self.status
    }

    fn remaining(&self) -> usize {
        usize::from(self.remaining)
    }
}

/// The commitment digest: `BLAKE2s(K_int, be16(n) || payload)[0..4] == C32`.
#[derive(Clone)]
pub struct CommitDigest<B> {
    state: B,
    expected: [u8; 4],
}

impl<B: Blake2s> PayloadDigest for CommitDigest<B> {
    fn update(&mut self, data: &[u8]) {
        self.state.update(data);
    }

    fn matches(self) -> bool {
        ct_eq(&self.state.finalize()[..4], &self.expected)
    }
}

/// Receiver side: checks `C32` against payload bytes as they arrive.
pub type IntegrityVerifier<B> = StreamVerifier<CommitDigest<B>>;

impl<B: Blake2s> StreamVerifier<CommitDigest<B>> {
    /// Starts checking commitment `c32` over the first `n` payload bytes,
    /// `n` being 1 to [`MAX_INTEGRITY_LEN`].
    pub fn new(key: &KnockKey, c32: u32, n: usize) -> Result<Self, Error> {
        Ok(Self::resume(CommitStart::new(key, n)?, c32))
    }

    /// Starts checking commitment `c32` from a [`CommitStart`] (of the key
    /// and length it was made for): the same check as [`Self::new`].
    pub fn resume(start: CommitStart<B>, c32: u32) -> Self {
        Self {
            digest: Some(CommitDigest {
                state: start.state,
                expected: c32.to_be_bytes(),
            }),
            remaining: start.n,
            status: IntegrityStatus::Pending,
        }
    }
}

/// Where every check of one key's commitments over `n` bytes starts: the
/// keyed BLAKE2s with `K_int`'s key block and `be16(n)` absorbed, i.e. with
/// the key block compressed. A receiver that checks many connections with
/// the same key and length makes it once and starts each check from a copy
/// ([`IntegrityVerifier::resume`]), one BLAKE2s compression fewer per
/// connection. It holds key material: keep it with the key it came from.
#[derive(Clone)]
pub struct CommitStart<B> {
    state: B,
    n: u16,
}

impl<B: Blake2s> CommitStart<B> {
    /// The start for commitments of `key` over `n` bytes, 1 to
    /// [`MAX_INTEGRITY_LEN`].
    pub fn new(key: &KnockKey, n: usize) -> Result<Self, Error> {
        let n = checked_len(n)?;
        Ok(Self {
            state: start(key, n),
            n,
        })
    }

    /// The number of bytes its checks cover (1 or more).
    pub fn covers(&self) -> usize {
        usize::from(self.n)
    }
}
