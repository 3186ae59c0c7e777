// SPDX-License-Identifier: GPL-2.0

//! Bounded replay cache of accepted knocks.
//!
//! The cache is set-associative: a knock's MAC (already a PRF output) picks
//! a bucket of [`WAYS`] slots. When a bucket is full, the entry that expires
//! first is evicted and that bucket's `floor` is raised to its expiry; from
//! then on every knock of that bucket that is not in the cache and expires
//! at or before the floor is treated as a replay. A replayed knock has the
//! same MAC, so it lands in the bucket it was evicted from: the memory is
//! fixed, yet no accepted knock can be replayed while it still verifies.
//! The price is that knocks that map to an overflowing bucket in the same
//! second as the evicted entry may be refused; other buckets are not
//! affected. As time passes the floor falls below the expiry of any fresh
//! knock and has no effect. The floor is kept in 32 bits: once an evicted
//! expiry exceeds `u32::MAX` (a clock past 2106) the bucket refuses every
//! knock it does not hold.

use super::{Error, Skew};
use core::ops::DerefMut;

/// Slots per bucket.
pub const WAYS: usize = 4;

/// One cache entry: an accepted knock and who sent it.
///
/// Invariant: the all-zero bit pattern ([`Slot::EMPTY`], also `Default`) is
/// an empty slot, because a zero `expiry` means empty. So the storage may be
/// allocated zeroed (`kvzalloc()`). Live entries always have `expiry >= 1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    mac: [u8; 8],
    /// Source address; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    addr: [u8; 16],
    port: u16,
    /// In the first slot of a bucket: the bucket's eviction floor (see the
    /// module documentation), saturated to `u32::MAX`; 0 if none. It lives
    /// in what would be padding, so a slot stays 40 bytes.
    floor: u32,
    /// Last second at which the knock still verifies (`t + skew`), 0 if empty.
    expiry: u64,
}

impl Slot {
    /// An empty slot (all zero).
    pub const EMPTY: Slot = Slot {
        mac: [0; 8],
        addr: [0; 16],
        port: 0,
        floor: 0,
        expiry: 0,
    };

    fn live(&self, now: u64) -> bool {
        self.expiry != 0 && self.expiry >= now
    }
}

/// Outcome of [`ReplayCache::check_and_insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// First sighting; the knock is now recorded. Accept.
    Fresh,
    /// Same knock from the same source address and port: the client's own
    /// SYN retransmission. Accept.
    Retransmit,
    /// Same knock from another source, or an unknown knock at or below its
    /// bucket's eviction floor. Reject.
    Replay,
}

/// The replay cache over caller-provided slot storage `S` (e.g.
/// `&mut [Slot]` or an owned boxed slice).
pub struct ReplayCache<S> {
    slots: S,
    floor: u64,
    evictions: u64,
}

impl<S: DerefMut<Target = [Slot]>> ReplayCache<S> {
    /// Uses `slots` (normally all empty) as storage. Its length must be a
    /// non-zero multiple of [`WAYS`].
    pub fn new(slots: S) -> Result<Self, Error> {
        if slots.is_empty() || slots.len() % WAYS != 0 {
            return Err(Error::SlotCount);
        }
        Ok(Self {
            slots,
            floor: 0,
            evictions: 0,
        })
    }

    /// Records a verified knock (`mac` and reconstructed time `t` from
    /// [`Verified`](super::Verified)) received at `now` from `addr`:`port`,
    /// unless it is a replay. Its entry expires at `t + skew`.
    pub fn check_and_insert(
        &mut self,
        mac: &[u8; 8],
        addr: &[u8; 16],
        port: u16,
        t: u64,
        now: u64,
        skew: Skew,
    ) -> ReplayVerdict {
        // `skew >= 1`, so a stored entry never looks empty.
        let expiry = t.saturating_add(skew.secs());
        let buckets = (self.slots.len() / WAYS) as u64;
        let index = (u64::from_le_bytes(*mac) % buckets) as usize;
        let Some(bucket) = self.slots.chunks_exact_mut(WAYS).nth(index) else {
            // Unreachable given the constructor's check; fail closed.
            return ReplayVerdict::Replay;
        };

        if let Some(s) = bucket.iter().find(|s| s.live(now) && s.mac == *mac) {
            return if s.addr == *addr && s.port == port {
                ReplayVerdict::Retransmit
            } else {
                ReplayVerdict::Replay
            };
        }
        let mut floor = bucket[0].floor;
        // A saturated floor stands for an evicted expiry past `u32::MAX`
        // that is no longer known: refuse every knock the bucket does not
        // hold, rather than let that one back in.
        if expiry <= u64::from(floor) || floor == u32::MAX {
            return ReplayVerdict::Replay;
        }

        // A dead slot if there is one, else the live one expiring first.
        let victim = bucket
            .iter_mut()
            .min_by_key(|s| if s.live(now) { s.expiry } else { 0 });
        let Some(victim) = victim else {
            return ReplayVerdict::Replay;
        };
        if victim.live(now) {
            // Saturated: past u32::MAX the bucket refuses rather than
            // forgets.
            floor = floor.max(u32::try_from(victim.expiry).unwrap_or(u32::MAX));
            self.floor = self.floor.max(victim.expiry);
            self.evictions = self.evictions.wrapping_add(1);
        }
        *victim = Slot {
            mac: *mac,
            addr: *addr,
            port,
            floor: 0,
            expiry,
        };
        bucket[0].floor = floor;
        ReplayVerdict::Fresh
    }

    /// Highest expiry evicted so far from any bucket (0 if none).
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Number of live entries evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Number of entries still live at `now` (at most [`Self::capacity`]).
    pub fn live(&self, now: u64) -> usize {
        self.slots.iter().filter(|s| s.live(now)).count()
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Gives the storage back.
    pub fn into_inner(self) -> S {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    const SKEW: u64 = 120;
    const A: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
    const B: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2];

    fn skew() -> Skew {
        Skew::new(SKEW).unwrap()
    }

    /// A MAC that lands in `bucket` of a cache with `buckets` buckets.
    fn mac_in(bucket: u64, buckets: u64, i: u64) -> [u8; 8] {
        (bucket + i * buckets).to_le_bytes()
    }

    #[test]
    fn zeroed_storage_is_empty() {
        assert_eq!(Slot::default(), Slot::EMPTY);
        let Slot {
            mac,
            addr,
            port,
            floor,
            expiry,
        } = Slot::EMPTY;
        assert_eq!((mac, addr, port, floor, expiry), ([0; 8], [0; 16], 0, 0, 0));
        // The bucket floor lives in padding: a slot is still 40 bytes.
        assert_eq!(core::mem::size_of::<Slot>(), 40);
        // The all-zero MAC is a valid MAC and must not match empty slots.
        let mut slots = [Slot::EMPTY; 8];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        assert_eq!(
            c.check_and_insert(&[0; 8], &[0; 16], 0, 0, 0, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&[0; 8], &A, 0, 0, 0, skew()),
            ReplayVerdict::Replay
        );
    }

    #[test]
    fn slot_count() {
        assert!(ReplayCache::new(&mut [][..]).is_err());
        assert!(ReplayCache::new(&mut [Slot::EMPTY; 6][..]).is_err());
        assert_eq!(
            ReplayCache::new(&mut [Slot::EMPTY; 12][..])
                .unwrap()
                .capacity(),
            12
        );
        // Owned storage works too.
        let c = ReplayCache::new(vec![Slot::EMPTY; 16].into_boxed_slice()).unwrap();
        assert_eq!(c.into_inner().len(), 16);
    }

    #[test]
    fn retransmit_replay_expiry() {
        let mut slots = [Slot::EMPTY; 16];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let (mac, t) = ([7; 8], 1000);
        assert_eq!(
            c.check_and_insert(&mac, &A, 5000, t, t, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&mac, &A, 5000, t, t + 3, skew()),
            ReplayVerdict::Retransmit
        );
        assert_eq!(
            c.check_and_insert(&mac, &A, 5001, t, t + 3, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&mac, &B, 5000, t, t + 3, skew()),
            ReplayVerdict::Replay
        );
        // Still live at the last second the knock verifies ...
        let last = t + SKEW;
        assert_eq!(
            c.check_and_insert(&mac, &B, 5000, t, last, skew()),
            ReplayVerdict::Replay
        );
        // ... and gone after it (verify would already say Stale by then).
        assert_eq!(
            c.check_and_insert(&mac, &B, 5000, t, last + 1, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 0);
        assert_eq!(c.floor(), 0);
    }

    #[test]
    fn eviction_and_floor() {
        let mut slots = [Slot::EMPTY; 2 * WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let now = 10_000;
        // Fill bucket 1 with knocks of times now-4 .. now-1.
        for i in 0..WAYS as u64 {
            let t = now - 4 + i;
            assert_eq!(
                c.check_and_insert(&mac_in(1, 2, i), &A, 1, t, now, skew()),
                ReplayVerdict::Fresh
            );
        }
        // Bucket 0 is unaffected.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 0), &A, 1, now, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 0);

        // A fifth knock in bucket 1 evicts the oldest (t = now - 4).
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 9), &A, 1, now, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 1);
        assert_eq!(c.floor(), now - 4 + SKEW);
        // The evicted knock can't come back, from anywhere.
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 0), &A, 1, now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 0), &B, 2, now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        // Nor can any unseen knock of that bucket that expires no later.
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 5), &A, 1, now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 5), &A, 1, now - 5, now, skew()),
            ReplayVerdict::Replay
        );
        // Other buckets keep taking such knocks.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 5), &A, 1, now - 4, now, skew()),
            ReplayVerdict::Fresh
        );
        // Newer ones are fine; cached ones keep their verdicts.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 6), &A, 1, now - 3, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 1), &A, 1, now - 3, now, skew()),
            ReplayVerdict::Retransmit
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 1), &B, 1, now - 3, now, skew()),
            ReplayVerdict::Replay
        );
        // Expired slots are reused before live ones are evicted.
        let later = now + SKEW + 1;
        for i in 20..20 + WAYS as u64 {
            assert_eq!(
                c.check_and_insert(&mac_in(1, 2, i), &A, 1, later, later, skew()),
                ReplayVerdict::Fresh
            );
        }
        assert_eq!(c.evictions(), 1);
    }

    /// A flood of a million distinct knocks: memory stays as given, and no
    /// accepted knock can be replayed while it is still valid.
    #[test]
    fn flood_is_bounded_and_safe() {
        const N: u64 = 1_000_000;
        let mut slots = vec![Slot::EMPTY; 64];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let mut accepted = vec![];
        let mut x = 0x0123_4567_89ab_cdefu64;
        for i in 0..N {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Clock ticks every 1000 knocks; knock times jitter by 3 s.
            let now = 1_000_000 + i / 1000;
            let t = now - x % 4;
            match c.check_and_insert(&x.to_le_bytes(), &A, 1, t, now, skew()) {
                ReplayVerdict::Fresh => accepted.push((x, t, now)),
                ReplayVerdict::Replay => {}
                ReplayVerdict::Retransmit => panic!("distinct MACs"),
            }
        }
        assert_eq!(c.capacity(), 64);
        assert!(c.live(1_000_000 + N / 1000) <= 64);
        assert!(c.evictions() > 0);
        // The cache is ~2000 times too small for this load, so most knocks
        // are refused, but the newest knock of each second still gets in.
        assert!(accepted.len() as u64 >= N / 1000);
        let end = 1_000_000 + N / 1000;
        for &(mac, t, _) in accepted.iter().rev().take(100_000) {
            if t + SKEW >= end {
                let v = c.check_and_insert(&mac.to_le_bytes(), &B, 2, t, end, skew());
                assert_eq!(v, ReplayVerdict::Replay);
            }
        }
        // Once the flood is over the cache recovers.
        let later = end + 2 * SKEW;
        assert_eq!(
            c.check_and_insert(&[1; 8], &A, 1, later, later, skew()),
            ReplayVerdict::Fresh
        );
    }

    /// A cache sized for the load (rate * skew well below its capacity)
    /// accepts every distinct knock.
    #[test]
    fn sized_cache_accepts_all() {
        let mut slots = vec![Slot::EMPTY; 4096];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let mut x = 99u64;
        for i in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 5 knocks per second: about 600 live entries.
            let now = 1_000_000 + i / 5;
            let v = c.check_and_insert(&x.to_le_bytes(), &A, 1, now - x % 4, now, skew());
            assert_eq!(v, ReplayVerdict::Fresh, "knock {i}");
        }
    }
}
