// SPDX-License-Identifier: GPL-2.0

//! Secrets are wiped when dropped (security review, L5): each test drops a
//! value in place with `ptr::drop_in_place` and reads the memory it leaves
//! behind. This test crate is host-only and needs `unsafe` for that; the
//! protocol code itself has none.

use core::mem::{size_of, MaybeUninit};
use tcp_stealth_proto::{IsnSecret, KnockKey, Md5, SecretBytes};

/// A byte no test secret's wiped memory may still contain.
const S: u8 = 0xa5;

/// Drops `value` where it lies and returns the bytes it leaves there. `T`
/// must have no padding (all the types below are arrays of integers).
fn bytes_after_drop<T>(value: T) -> Vec<u8> {
    let mut slot = MaybeUninit::new(value);
    // SAFETY: `slot` holds an initialised `T`, dropped exactly once here and
    // never used as a `T` again.
    unsafe { core::ptr::drop_in_place(slot.as_mut_ptr()) };
    // SAFETY: the memory is still `slot`'s; every byte of a `T` without
    // padding was initialised, and dropping only writes to them.
    unsafe { core::slice::from_raw_parts(slot.as_ptr().cast::<u8>(), size_of::<T>()) }.to_vec()
}

#[test]
fn knock_key() {
    let left = bytes_after_drop(KnockKey::from_bytes(&[S; 32]));
    assert_eq!(left, [0; 32]);
}

#[test]
fn isn_secret() {
    let left = bytes_after_drop(IsnSecret::new(&[S; 64]).unwrap());
    assert_eq!(left, [0; 64]);
}

#[test]
fn secret_bytes() {
    let mut b = SecretBytes::<72>::new();
    b.fill(S);
    assert_eq!(bytes_after_drop(b), [0; 72]);
}

/// The ISN mode's MD5 hashes the 64-byte secret first: after that block its
/// buffer still held the secret, and its state a keyed digest.
#[test]
fn md5_with_secret() {
    let mut h = Md5::new();
    h.update(&[S; 64]);
    h.update(b"abc");
    let left = bytes_after_drop(h);
    assert!(!left.contains(&S), "{left:02x?}");
    assert_eq!(left.iter().filter(|&&b| b != 0).count(), 2, "{left:02x?}");
}

/// Whether `bytes` has a run of 8 secret bytes.
fn has_secret_run(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w.iter().all(|&b| b == S))
}

/// A live MD5 that has absorbed the secret's block no longer holds it, so
/// the copies that moves of the verifier leave behind do not either.
#[test]
fn md5_forgets_absorbed_blocks() {
    let mut h = Md5::new();
    h.update(&[S; 64]);
    // SAFETY: `h` is a live, initialised `Md5`, which has no padding; the
    // slice is only read while `h` is not used otherwise.
    let live =
        unsafe { core::slice::from_raw_parts((&h as *const Md5).cast::<u8>(), size_of::<Md5>()) };
    assert!(!has_secret_run(live), "{live:02x?}");
    h.update(b"payload");
    let _ = h.finalize();
}
