// SPDX-License-Identifier: GPL-2.0

//! Pure protocol logic of TCP Stealth v1 (see `docs/PROTOCOL.md`).
//!
//! Everything here is safe Rust over `core` only: no allocation, no I/O, no
//! clock and no cryptography of its own (except the MD5 compression needed by
//! the original Knock's ISN mode). The caller provides SipHash-2-4 and BLAKE2s
//! through the [`Crypto`] and [`Blake2s`] traits, the current time, random
//! nonces and the storage of the replay cache.
//!
//! All parsers are total: they return an error for every malformed input and
//! never panic, and all arithmetic on untrusted values is checked, wrapping
//! or saturating, so the module is safe with overflow checks enabled.

// This module is also the library `tcp-stealth-proto` on the host, where its
// `pub` items are the crate's API. In the kernel module they are crate-private
// and some are only used by tests: hence `allow(unreachable_pub)` here and
// `allow(unused_imports)` on the re-exports below.
#![allow(unreachable_pub)]
#![forbid(unsafe_code)]

mod admit;
mod bench;
mod crypto;
mod integrity;
mod ipv6;
mod isn;
mod key;
mod policy;
mod replay;
mod wire;

#[cfg(test)]
mod tests;

#[allow(unused_imports)]
pub use admit::{Admitted, ADMIT_SECS, ADMIT_WAYS};
#[allow(unused_imports)]
pub use bench::{
    centi_ns_per_op, parse_bench_request, BenchRequest, BENCH_YIELD_EVERY, MAX_BENCH_ITERATIONS,
};
#[allow(unused_imports)]
pub use crypto::{Blake2s, Crypto};
#[allow(unused_imports)]
pub use integrity::{
    commitment, CommitDigest, CommitStart, IntegrityStatus, IntegrityVerifier, PayloadDigest,
    PayloadVerifier, StreamVerifier, MAX_INTEGRITY_LEN,
};
#[allow(unused_imports)]
pub use ipv6::{ipv6_on_chain, ipv6_walk, Ipv6Context, Walk};
#[allow(unused_imports)]
pub use isn::{
    check_isn, check_isn_any, find_tsval, isn_integrity_hash, make_isn, md5_compress, IsnDigest,
    IsnSecret, IsnVerifier, Md5, SynHeaders,
};
#[allow(unused_imports)]
pub use key::{
    parse_key_request, KeyOp, KnockKey, KEY_ADD, KEY_DEL, KEY_LABEL, KEY_REQUEST_LEN,
    MAX_SECRET_LEN,
};
#[allow(unused_imports)]
pub use policy::{
    parse_policy_request, PolicyCmd, PolicyErrno, PolicyError, PolicyFamily, PolicyReject,
    PolicyRequest, MAX_POLICY_INTEGRITY_LEN, POLICY_A_FAMILY, POLICY_A_INTEGRITY_LEN,
    POLICY_A_PORT, POLICY_A_SECRET,
};
#[allow(unused_imports)]
pub use replay::{
    ReplayCache, ReplayLimits, ReplayVerdict, Slot, SynSource, DEFAULT_KEY_ENTRIES,
    DEFAULT_MAX_ENTRIES, DUPLICATE_SECS, MAX_ENTRIES, MAX_REMEMBERED_KEYS, MIN_KEY_ENTRIES,
};
#[allow(unused_imports)]
pub use wire::{
    build, compute_mac, find_knock, is_fresh, mac_words, needs_knock, option_fits,
    reconstruct_time, tcp_drops_auth_options, verify, FindResult, Knock, Reject, Skew, TcpOptions,
    Verified, CTL_INTEGRITY, CTL_RESERVED, CTL_TIME_MASK, DEFAULT_SKEW_SECS, EXID, MAC_TAG,
    MAX_KEYS, MAX_OPTION_SPACE, MAX_SKEW_SECS, OPT_KIND, OPT_LEN, TIME_BITS,
};

/// Errors of the configuration-time functions (key derivation, parameter
/// validation). Packet processing uses [`Reject`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A secret must be 1 to [`MAX_SECRET_LEN`] bytes long.
    SecretLength,
    /// The clock skew must be 1 to [`MAX_SKEW_SECS`] seconds.
    SkewRange,
    /// The integrity length must be 1 to [`MAX_INTEGRITY_LEN`] bytes.
    IntegrityLength,
    /// The replay cache's bounds are out of range or its storage does not
    /// fit them; the admission table needs a non-empty multiple of
    /// [`ADMIT_WAYS`] slots.
    SlotCount,
    /// A benchmark request must be 1 to [`MAX_BENCH_ITERATIONS`] in decimal.
    BenchRequest,
    /// A `TCP_STEALTH_KEY` request is [`KEY_REQUEST_LEN`] bytes with one
    /// of [`KEY_ADD`] and [`KEY_DEL`] and a secret length of 1 to
    /// [`MAX_SECRET_LEN`].
    KeyRequest,
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Lengths are treated as public. The contents are combined with XOR/OR into
/// one accumulator with no data-dependent branch or early exit, and the
/// accumulator goes through [`core::hint::black_box`] so that the optimizer
/// cannot turn the loop back into an early-exit comparison. This is the same
/// approach as the kernel's `crypto_memneq()`, minus its assembly barriers.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// Overwrites `buf` with zeros (`T::default()`) in a way the optimiser
/// keeps although the memory is about to be freed or go out of scope: the
/// kernel's `memzero_explicit()`.
///
/// That function is `memset()` followed by `barrier_data()`, an empty asm
/// statement that takes the pointer and clobbers memory. `black_box` on the
/// slice compiles to the same kind of statement in rustc's LLVM backend (the
/// one the kernel uses), so the stores before it cannot be dropped as dead;
/// the compiler fence keeps later code from being moved above them. This
/// module forbids `unsafe`, hence no `ptr::write_volatile` here; the FFI
/// layer wipes the kernel's own structures with volatile writes.
pub fn wipe<T: Copy + Default>(buf: &mut [T]) {
    buf.fill(T::default());
    core::hint::black_box(&mut *buf);
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// A fixed-size buffer for secret bytes (a secret, or a copy of one) that
/// is wiped with [`wipe`] when it goes out of scope, on every path out of
/// the function that holds it, errors included.
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> SecretBytes<N> {
    /// An all-zero buffer.
    pub const fn new() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> Default for SecretBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::ops::Deref for SecretBytes<N> {
    type Target = [u8; N];

    fn deref(&self) -> &[u8; N] {
        &self.0
    }
}

impl<const N: usize> core::ops::DerefMut for SecretBytes<N> {
    fn deref_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}
