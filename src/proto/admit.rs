// SPDX-License-Identifier: GPL-2.0

//! Peers that knocked, remembered briefly for SYN cookies.
//!
//! A listener under SYN flood (or with `net.ipv4.tcp_syncookies=2`) keeps no
//! state for a SYN it answers: the SYN-ACK carries a cookie, and TCP creates
//! the connection from any later ACK whose acknowledgment number is a valid
//! cookie. That ACK carries no knock, and a blind attacker who guesses a
//! cookie (a few hundred million tries) would get a connection that never
//! knocked. So the input hook lets an ACK reach a protected listener only if
//! its 4-tuple sent a valid knock shortly before; every other ACK gets what
//! TCP gives an ACK to a listener that has no cookie for it (an RST).
//!
//! The table is set-associative over caller-provided `u64` words: a keyed hash
//! of the 4-tuple (the caller's, e.g. SipHash with a random key, so a peer
//! cannot aim at a bucket) picks a bucket with its low 32 bits; a slot holds
//! the hash's high 32 bits and the second until which the peer is admitted.
//! A zero word is an empty slot. Lookups and inserts are lock-free: a race
//! between two inserts into one bucket can lose one entry, whose peer's
//! cookie ACK is then refused (it fails closed; the client sees a reset).

use super::Error;
use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};

/// Slots per bucket.
pub const ADMIT_WAYS: usize = 4;

/// How long a peer stays admitted after its knock, in seconds. A client
/// acknowledges the SYN-ACK one round trip after it, and resends its first
/// data within its retransmission backoff; TCP itself takes cookies up to
/// about two minutes old, but a knocked peer that waits that long to
/// complete a handshake is not worth remembering for.
pub const ADMIT_SECS: u32 = 64;

/// Recently admitted peers over slot storage `S` (e.g. `&[AtomicU64]`).
pub struct Admitted<S> {
    slots: S,
}

fn slot_value(tag: u64, until: u32) -> u64 {
    (tag & !0xffff_ffff) | u64::from(until)
}

impl<S: Deref<Target = [AtomicU64]>> Admitted<S> {
    /// Uses `slots` (normally all zero) as storage. Its length must be a
    /// non-zero multiple of [`ADMIT_WAYS`].
    pub fn new(slots: S) -> Result<Self, Error> {
        if slots.is_empty() || slots.len() % ADMIT_WAYS != 0 {
            return Err(Error::SlotCount);
        }
        Ok(Self { slots })
    }

    fn bucket(&self, tag: u64) -> &[AtomicU64] {
        let buckets = self.slots.len() / ADMIT_WAYS;
        // `buckets >= 1` and `i < buckets` (constructor): never the
        // fallbacks, which only keep panics out of the kernel build.
        let i = ((tag & 0xffff_ffff) as usize)
            .checked_rem(buckets)
            .unwrap_or(0);
        self.slots.chunks_exact(ADMIT_WAYS).nth(i).unwrap_or(&[])
    }

    /// Admits the peer whose 4-tuple hashes to `tag`, at second `now`, for
    /// [`ADMIT_SECS`].
    pub fn insert(&self, tag: u64, now: u32) {
        let until = now.saturating_add(ADMIT_SECS);
        let bucket = self.bucket(tag);
        let high = tag & !0xffff_ffff;
        // Its own slot if it has one, else the slot that expires first.
        let mut victim: Option<(&AtomicU64, u32)> = None;
        for s in bucket {
            let v = s.load(Ordering::Relaxed);
            if v & !0xffff_ffff == high && v != 0 {
                victim = Some((s, 0));
                break;
            }
            let exp = v as u32;
            if victim.map_or(true, |(_, e)| exp < e) {
                victim = Some((s, exp));
            }
        }
        if let Some((s, _)) = victim {
            s.store(slot_value(tag, until), Ordering::Relaxed);
        }
    }

    /// Whether the peer whose 4-tuple hashes to `tag` knocked at most
    /// [`ADMIT_SECS`] before `now`.
    pub fn contains(&self, tag: u64, now: u32) -> bool {
        let high = tag & !0xffff_ffff;
        self.bucket(tag).iter().any(|s| {
            let v = s.load(Ordering::Relaxed);
            v != 0 && v & !0xffff_ffff == high && v as u32 >= now
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn table(n: usize) -> Admitted<Vec<AtomicU64>> {
        Admitted::new((0..n).map(|_| AtomicU64::new(0)).collect()).unwrap()
    }

    #[test]
    fn storage_must_be_whole_buckets() {
        assert_eq!(
            Admitted::new(Vec::<AtomicU64>::new()).err(),
            Some(Error::SlotCount)
        );
        let six: Vec<AtomicU64> = (0..6).map(|_| AtomicU64::new(0)).collect();
        assert_eq!(Admitted::new(six).err(), Some(Error::SlotCount));
    }

    #[test]
    fn admitted_for_its_window_only() {
        let t = table(16);
        let tag = 0x1234_5678_9abc_def0;
        assert!(!t.contains(tag, 1000));
        t.insert(tag, 1000);
        assert!(t.contains(tag, 1000));
        assert!(t.contains(tag, 1000 + ADMIT_SECS));
        assert!(!t.contains(tag, 1000 + ADMIT_SECS + 1));
    }

    #[test]
    fn same_bucket_other_peer_not_admitted() {
        let t = table(16);
        let tag = 0x1111_1111_0000_0005;
        t.insert(tag, 50);
        // Same bucket (low half), another peer (high half).
        assert!(!t.contains(0x2222_2222_0000_0005, 50));
        // Same high half, other bucket.
        assert!(!t.contains(0x1111_1111_0000_0006, 50));
    }

    #[test]
    fn full_bucket_evicts_the_oldest() {
        let t = table(ADMIT_WAYS);
        let tags: Vec<u64> = (1..=ADMIT_WAYS as u64 + 1).map(|i| i << 32).collect();
        for (i, &tag) in tags.iter().enumerate() {
            t.insert(tag, 100 + i as u32);
        }
        assert!(!t.contains(tags[0], 110), "oldest evicted");
        for &tag in &tags[1..] {
            assert!(t.contains(tag, 110));
        }
    }

    #[test]
    fn readmission_refreshes_in_place() {
        let t = table(ADMIT_WAYS);
        let a = 7 << 32;
        t.insert(a, 10);
        for i in 0..ADMIT_WAYS as u64 - 1 {
            t.insert((i + 100) << 32, 20);
        }
        // Re-admitting `a` must not take another slot from the others.
        t.insert(a, 30);
        for i in 0..ADMIT_WAYS as u64 - 1 {
            assert!(t.contains((i + 100) << 32, 30));
        }
        assert!(t.contains(a, 30 + ADMIT_SECS));
    }
}
