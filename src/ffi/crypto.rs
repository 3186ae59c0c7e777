// SPDX-License-Identifier: GPL-2.0

//! The kernel's lib/crypto behind the protocol's [`Crypto`] traits.

use super::bindings;
use crate::proto::{Blake2s, Crypto};

/// SipHash-2-4 and BLAKE2s from lib/crypto.
pub(crate) struct KernelCrypto;

impl Crypto for KernelCrypto {
    type Blake2s = KernelBlake2s;

    fn siphash_3u64(&self, key: &[u8; 16], a: u64, b: u64, c: u64) -> u64 {
        let mut k = bindings::siphash_key_t::default();
        let (k0, k1) = key.split_at(8);
        k.key[0] = u64::from_le_bytes(k0.try_into().unwrap_or([0; 8]));
        k.key[1] = u64::from_le_bytes(k1.try_into().unwrap_or([0; 8]));
        // SAFETY: `k` is a valid key for the duration of the call.
        let mac = unsafe { bindings::siphash_3u64(a, b, c, &k) };
        // The stack copy of the MAC key.
        scrub(&mut k);
        mac
    }
}

/// Overwrites `v` with its default value (all zero for bindgen's C
/// structures) with a volatile write and a compiler fence, as the kernel's
/// `memzero_explicit()` does: the write stays although `v` is dead after it.
/// `T: Copy`, so nothing is leaked by not dropping the old value.
fn scrub<T: Copy + Default>(v: &mut T) {
    // SAFETY: `v` is a valid, aligned and exclusive reference for a write
    // of a `T`.
    unsafe { core::ptr::write_volatile(v, T::default()) };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// A BLAKE2s-256 state of lib/crypto; wiped when dropped (it holds the key,
/// or the secret being hashed), finalized or not.
pub(crate) struct KernelBlake2s(bindings::blake2s_state);

impl Blake2s for KernelBlake2s {
    fn init() -> Self {
        // Built in place, not moved from a local that would stay unwiped.
        let mut s = Self(bindings::blake2s_state::default());
        // SAFETY: `s.0` is a valid state to initialise.
        unsafe { bindings::tcp_stealth_blake2s_init(&mut s.0) };
        s
    }

    fn init_key(key: &[u8; 16]) -> Self {
        let mut s = Self(bindings::blake2s_state::default());
        // SAFETY: `s.0` is a valid state and `key` is readable for 16 bytes,
        // within BLAKE2S_KEY_SIZE.
        unsafe { bindings::tcp_stealth_blake2s_init_key(&mut s.0, key.as_ptr(), key.len()) };
        s
    }

    fn update(&mut self, data: &[u8]) {
        // SAFETY: The state was initialised by `init*`; `data` is readable.
        unsafe { bindings::blake2s_update(&mut self.0, data.as_ptr(), data.len()) };
    }

    fn finalize(mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: The state was initialised; `out` has room for the 32-byte
        // digest the state was set up for.
        unsafe { bindings::blake2s_final(&mut self.0, out.as_mut_ptr()) };
        out
    }
}

impl Clone for KernelBlake2s {
    /// A copy of the state, wiped on its own when dropped.
    fn clone(&self) -> Self {
        Self(self.0)
    }
}

impl Drop for KernelBlake2s {
    fn drop(&mut self) {
        scrub(&mut self.0);
    }
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// The kernel's `secure_tcp_seq()`: the SipHash-based initial sequence
/// number of a passive IPv4 connection (addresses and ports in network byte
/// order). Used as the benchmark's reference cost of a per-SYN MAC.
pub(crate) fn secure_tcp_seq(saddr: u32, daddr: u32, sport: u16, dport: u16) -> u32 {
    // SAFETY: `secure_tcp_seq()` has no precondition: it takes its
    // arguments by value and reads the kernel's net_secret (initialising it
    // once, with `net_get_random_once()`) from any context.
    unsafe { bindings::tcp_stealth_secure_tcp_seq(saddr, daddr, sport, dport) }
}
