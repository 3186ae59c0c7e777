// SPDX-License-Identifier: GPL-2.0

//! Bounded replay cache of accepted knocks.
//!
//! The cache is set-associative: a knock's MAC (already a PRF output) picks
//! a bucket of [`WAYS`] slots. A slot is free once its knock no longer
//! verifies. When a knock overwrites a slot that held another knock (a free
//! one, or, if the bucket is full, the live entry that expires first), that
//! bucket's `floor` is raised to the old knock's time; from then on every
//! knock of that bucket that is not in the cache and is no newer than the
//! floor is treated as a replay. A replayed knock has the same MAC, so it
//! lands in the bucket it was forgotten in: the memory is fixed, yet no
//! accepted knock can be replayed while it still verifies, whatever the
//! skew is now or was when the knock came. The price is that knocks that
//! map to an overflowing bucket in the same second as the evicted entry may
//! be refused; other buckets are not affected. As time passes the floor
//! falls behind the time of any fresh knock and has no effect.
//!
//! A knock seen again is accepted only as a duplicate of the same SYN: same
//! source address, port and sequence number, within [`DUPLICATE_SECS`] of
//! the first sighting (docs/PROTOCOL.md, section 8).
//!
//! Times are kept in 32 bits: from 2106 on (a knock time beyond
//! `u32::MAX - MAX_SKEW_SECS`) every knock is refused rather than forgotten.

use super::{wire::MAX_SKEW_SECS, Error, Skew};
use core::ops::DerefMut;

/// Slots per bucket.
pub const WAYS: usize = 4;

/// How long after its first sighting a knock is still accepted again from
/// the same source address, port and sequence number, as a SYN the network
/// duplicated.
pub const DUPLICATE_SECS: u64 = 2;

// An entry lives at most `2 * MAX_SKEW_SECS` after its first sighting (from
// `t - skew` to `t + skew`), so the time of first sight modulo 2^16 is
// unambiguous while it lives.
const _: () = assert!(2 * MAX_SKEW_SECS as u64 + DUPLICATE_SECS < 1 << 16);

/// One cache entry: an accepted knock and the SYN that carried it.
///
/// Invariant: the all-zero bit pattern ([`Slot::EMPTY`], also `Default`) is
/// an empty slot, because a zero `latest` means empty. So the storage may be
/// allocated zeroed (`kvzalloc()`). Live entries always have
/// `latest >= MAX_SKEW_SECS >= 1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    mac: [u8; 8],
    /// Source address; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    addr: [u8; 16],
    port: u16,
    /// The second of the first sighting, modulo 2^16.
    seen: u16,
    /// In the first slot of a bucket: the bucket's floor (see the module
    /// documentation) in the units of `latest`; 0 if none.
    floor: u32,
    /// The sequence number (ISN) of the SYN.
    isn: u32,
    /// `t + MAX_SKEW_SECS`: the last second at which the knock could verify
    /// under any skew; 0 if empty. It verifies until `t + skew`.
    latest: u32,
}

impl Slot {
    /// An empty slot (all zero).
    pub const EMPTY: Slot = Slot {
        mac: [0; 8],
        addr: [0; 16],
        port: 0,
        seen: 0,
        floor: 0,
        isn: 0,
        latest: 0,
    };

    /// Whether the knock still verifies at `now` with `skew`: `t + skew >=
    /// now`.
    fn live(&self, now: u64, skew: Skew) -> bool {
        self.latest != 0
            && u64::from(self.latest) + skew.secs() >= now.saturating_add(MAX_SKEW_SECS.into())
    }
}

/// The SYN that carried a knock: where it came from and its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynSource {
    /// Source address; IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`).
    pub addr: [u8; 16],
    /// Source port.
    pub port: u16,
    /// Sequence number.
    pub isn: u32,
}

/// Outcome of [`ReplayCache::check_and_insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// First sighting; the knock is now recorded. Accept.
    Fresh,
    /// Same knock in a SYN with the same source address, port and sequence
    /// number, at most [`DUPLICATE_SECS`] after the first: a duplicate the
    /// network made. Accept.
    Duplicate,
    /// Same knock in any other SYN, or an unknown knock at or below its
    /// bucket's floor, or a knock time the cache cannot store. Reject.
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
    /// [`Verified`](super::Verified)) received at `now` in a SYN from `src`,
    /// unless it is a replay. `skew` is the one the knock was verified
    /// with; the entry lives as long as the knock verifies with the skew of
    /// the moment.
    pub fn check_and_insert(
        &mut self,
        mac: &[u8; 8],
        src: &SynSource,
        t: u64,
        now: u64,
        skew: Skew,
    ) -> ReplayVerdict {
        let Some(latest) = t
            .checked_add(MAX_SKEW_SECS.into())
            .and_then(|l| u32::try_from(l).ok())
        else {
            // Past 2106: refuse rather than forget.
            return ReplayVerdict::Replay;
        };
        let buckets = (self.slots.len() / WAYS) as u64;
        let index = (u64::from_le_bytes(*mac) % buckets) as usize;
        let Some(bucket) = self.slots.chunks_exact_mut(WAYS).nth(index) else {
            // Unreachable given the constructor's check; fail closed.
            return ReplayVerdict::Replay;
        };
        let seen = (now & 0xffff) as u16;

        if let Some(s) = bucket.iter().find(|s| s.live(now, skew) && s.mac == *mac) {
            let duplicate = s.addr == src.addr
                && s.port == src.port
                && s.isn == src.isn
                && u64::from(seen.wrapping_sub(s.seen)) <= DUPLICATE_SECS;
            return if duplicate {
                ReplayVerdict::Duplicate
            } else {
                ReplayVerdict::Replay
            };
        }
        let mut floor = bucket[0].floor;
        if latest <= floor {
            return ReplayVerdict::Replay;
        }

        // A free slot if there is one (an empty one first), else the live
        // one expiring first.
        // Among free ones the oldest, which keeps the floor lowest.
        let victim = bucket.iter_mut().min_by_key(|s| {
            let class = if s.latest == 0 {
                0
            } else if s.live(now, skew) {
                2
            } else {
                1
            };
            (class, s.latest)
        });
        let Some(victim) = victim else {
            return ReplayVerdict::Replay;
        };
        // The knock forgotten here may verify again later (with a larger
        // skew, or at once if it is live): the floor covers it.
        floor = floor.max(victim.latest);
        if victim.live(now, skew) {
            self.floor = self.floor.max(victim.latest.into());
            self.evictions = self.evictions.wrapping_add(1);
        }
        *victim = Slot {
            mac: *mac,
            addr: src.addr,
            port: src.port,
            seen,
            floor: 0,
            isn: src.isn,
            latest,
        };
        bucket[0].floor = floor;
        ReplayVerdict::Fresh
    }

    /// `t + MAX_SKEW_SECS` of the newest live entry evicted so far from any
    /// bucket (0 if none).
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Number of live entries evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Number of entries still live at `now` with `skew` (at most
    /// [`Self::capacity`]).
    pub fn live(&self, now: u64, skew: Skew) -> usize {
        self.slots.iter().filter(|s| s.live(now, skew)).count()
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
    const MAX: u64 = MAX_SKEW_SECS as u64;
    const A: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
    const B: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2];

    fn skew() -> Skew {
        Skew::new(SKEW).unwrap()
    }

    fn src(addr: [u8; 16], port: u16, isn: u32) -> SynSource {
        SynSource { addr, port, isn }
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
            seen,
            floor,
            isn,
            latest,
        } = Slot::EMPTY;
        assert_eq!(
            (mac, addr, port, seen, floor, isn, latest),
            ([0; 8], [0; 16], 0, 0, 0, 0, 0)
        );
        // The ISN and the time of first sight did not make a slot larger
        // than 40 bytes.
        assert_eq!(core::mem::size_of::<Slot>(), 40);
        // The all-zero MAC is a valid MAC and must not match empty slots.
        let mut slots = [Slot::EMPTY; 8];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        assert_eq!(
            c.check_and_insert(&[0; 8], &src([0; 16], 0, 0), 0, 0, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&[0; 8], &src(A, 0, 0), 0, 0, skew()),
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
    fn duplicate_replay_expiry() {
        let mut slots = [Slot::EMPTY; 16];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let (mac, t) = ([7; 8], 1000);
        let syn = src(A, 5000, 0x1234_5678);
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, t, skew()),
            ReplayVerdict::Fresh
        );
        // The same SYN again within DUPLICATE_SECS: the network duplicated
        // it.
        for d in 0..=DUPLICATE_SECS {
            assert_eq!(
                c.check_and_insert(&mac, &syn, t, t + d, skew()),
                ReplayVerdict::Duplicate
            );
        }
        // Any other SYN with that knock is a replay: another port, address
        // or sequence number.
        for other in [
            src(A, 5001, syn.isn),
            src(B, 5000, syn.isn),
            src(A, 5000, syn.isn + 1),
        ] {
            assert_eq!(
                c.check_and_insert(&mac, &other, t, t + 1, skew()),
                ReplayVerdict::Replay
            );
        }
        // Still live at the last second the knock verifies ...
        let last = t + SKEW;
        assert_eq!(
            c.check_and_insert(&mac, &src(B, 5000, 1), t, last, skew()),
            ReplayVerdict::Replay
        );
        // ... and gone after it (verify would already say Stale by then).
        assert_eq!(
            c.check_and_insert(&mac, &src(B, 5000, 1), t, last + 1, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 0);
        assert_eq!(c.floor(), 0);
    }

    /// An on-path observer resends the client's SYN, byte for byte, after
    /// the client's connection ended (the hook sees SYNs only while TCP has
    /// no connection for the 4-tuple): refused once the duplicate window is
    /// over, for as long as the knock verifies.
    #[test]
    fn same_syn_later_is_a_replay() {
        let mut slots = [Slot::EMPTY; 16];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let (mac, t) = ([9; 8], 50_000);
        let syn = src(A, 40_000, 0xdead_beef);
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, t, skew()),
            ReplayVerdict::Fresh
        );
        for now in t + DUPLICATE_SECS + 1..=t + SKEW {
            assert_eq!(
                c.check_and_insert(&mac, &syn, t, now, skew()),
                ReplayVerdict::Replay,
                "at t + {}",
                now - t
            );
        }
    }

    /// The duplicate window counts from the first sighting, not from the
    /// knock's time, and does not move when duplicates come.
    #[test]
    fn duplicate_window_from_first_sighting() {
        let mut slots = [Slot::EMPTY; 16];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let mac = [3; 8];
        let syn = src(B, 1, 2);
        // The client's clock is 100 s behind ours.
        let (t, now) = (70_000, 70_100);
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, now + DUPLICATE_SECS, skew()),
            ReplayVerdict::Duplicate
        );
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, now + DUPLICATE_SECS + 1, skew()),
            ReplayVerdict::Replay
        );
        // Our clock stepped back: not a duplicate either (fail closed).
        assert_eq!(
            c.check_and_insert(&mac, &syn, t, now - 1, skew()),
            ReplayVerdict::Replay
        );
    }

    /// net.tcp_stealth.skew_secs raised: knocks accepted under the old skew
    /// verify for longer, so the cache must keep refusing them, whether their
    /// slot was kept or reused meanwhile.
    #[test]
    fn skew_raised_keeps_refusing() {
        let wide = Skew::new(600).unwrap();
        let (t, later) = (100_000, 100_000 + SKEW + 80);

        // Slot kept: the entry is live again under the wider skew.
        let mut slots = [Slot::EMPTY; WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let mac = mac_in(0, 1, 0);
        assert_eq!(
            c.check_and_insert(&mac, &src(A, 1, 1), t, t, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.live(later, skew()), 0);
        assert_eq!(c.live(later, wide), 1);
        assert_eq!(
            c.check_and_insert(&mac, &src(B, 2, 2), t, later, wide),
            ReplayVerdict::Replay
        );

        // Slot reused while the knock was stale under the old skew: the
        // bucket's floor covers it.
        let mut slots = [Slot::EMPTY; WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        assert_eq!(
            c.check_and_insert(&mac, &src(A, 1, 1), t, t, skew()),
            ReplayVerdict::Fresh
        );
        for i in 1..=WAYS as u64 {
            assert_eq!(
                c.check_and_insert(&mac_in(0, 1, i), &src(A, 1, 1), later, later, skew()),
                ReplayVerdict::Fresh
            );
        }
        assert_eq!(c.evictions(), 0, "only the stale slot was reused");
        assert_eq!(
            c.check_and_insert(&mac, &src(B, 2, 2), t, later, wide),
            ReplayVerdict::Replay
        );
        // Knocks of the other buckets, and newer ones of this bucket, are
        // not affected.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 1, 9), &src(B, 2, 2), t + 1, later, wide),
            ReplayVerdict::Fresh
        );
    }

    /// A floor from reusing a stale slot never refuses a knock that verifies
    /// under the skew in force (it is older than any of them): only live
    /// evictions refuse.
    #[test]
    fn reuse_floor_is_harmless_at_constant_skew() {
        let mut slots = [Slot::EMPTY; WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let mut x = 5u64;
        let mut refused = 0;
        for now in 1_000_000..1_000_000 + 20 * SKEW {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // One knock a second, from anywhere in the window.
            let t = now - SKEW + x % (2 * SKEW + 1);
            let v = c.check_and_insert(&x.to_le_bytes(), &src(A, 1, 1), t, now, skew());
            assert_ne!(v, ReplayVerdict::Duplicate);
            if v == ReplayVerdict::Replay {
                assert!(t + MAX <= c.floor(), "refused at {now}, t = {t}");
                refused += 1;
            }
        }
        assert!(c.evictions() > 0 && refused > 0);
    }

    /// Past 2106 the times no longer fit: refuse rather than forget.
    #[test]
    fn times_past_u32_are_refused() {
        let mut slots = [Slot::EMPTY; WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let last = u64::from(u32::MAX) - MAX;
        assert_eq!(
            c.check_and_insert(&[1; 8], &src(A, 1, 1), last, last, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&[2; 8], &src(A, 1, 1), last + 1, last + 1, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&[2; 8], &src(A, 1, 1), u64::MAX, u64::MAX, skew()),
            ReplayVerdict::Replay
        );
    }

    #[test]
    fn eviction_and_floor() {
        let mut slots = [Slot::EMPTY; 2 * WAYS];
        let mut c = ReplayCache::new(&mut slots[..]).unwrap();
        let now = 10_000;
        let a1 = src(A, 1, 1);
        // Fill bucket 1 with knocks of times now-4 .. now-1.
        for i in 0..WAYS as u64 {
            let t = now - 4 + i;
            assert_eq!(
                c.check_and_insert(&mac_in(1, 2, i), &a1, t, now, skew()),
                ReplayVerdict::Fresh
            );
        }
        // Bucket 0 is unaffected.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 0), &a1, now, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 0);

        // A fifth knock in bucket 1 evicts the oldest (t = now - 4).
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 9), &a1, now, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.evictions(), 1);
        assert_eq!(c.floor(), now - 4 + MAX);
        // The evicted knock can't come back, from anywhere.
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 0), &a1, now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 0), &src(B, 2, 2), now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        // Nor can any unseen knock of that bucket that is no newer.
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 5), &a1, now - 4, now, skew()),
            ReplayVerdict::Replay
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 5), &a1, now - 5, now, skew()),
            ReplayVerdict::Replay
        );
        // Other buckets keep taking such knocks.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 5), &a1, now - 4, now, skew()),
            ReplayVerdict::Fresh
        );
        // Newer ones are fine; cached ones keep their verdicts.
        assert_eq!(
            c.check_and_insert(&mac_in(0, 2, 6), &a1, now - 3, now, skew()),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 1), &a1, now - 3, now, skew()),
            ReplayVerdict::Duplicate
        );
        assert_eq!(
            c.check_and_insert(&mac_in(1, 2, 1), &src(B, 1, 1), now - 3, now, skew()),
            ReplayVerdict::Replay
        );
        // Expired slots are reused before live ones are evicted.
        let later = now + SKEW + 1;
        for i in 20..20 + WAYS as u64 {
            assert_eq!(
                c.check_and_insert(&mac_in(1, 2, i), &a1, later, later, skew()),
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
            match c.check_and_insert(&x.to_le_bytes(), &src(A, 1, 1), t, now, skew()) {
                ReplayVerdict::Fresh => accepted.push((x, t, now)),
                ReplayVerdict::Replay => {}
                ReplayVerdict::Duplicate => panic!("distinct MACs"),
            }
        }
        assert_eq!(c.capacity(), 64);
        assert!(c.live(1_000_000 + N / 1000, skew()) <= 64);
        assert!(c.evictions() > 0);
        // The cache is ~2000 times too small for this load, so most knocks
        // are refused, but the newest knock of each second still gets in.
        assert!(accepted.len() as u64 >= N / 1000);
        let end = 1_000_000 + N / 1000;
        for &(mac, t, _) in accepted.iter().rev().take(100_000) {
            if t + SKEW >= end {
                let v = c.check_and_insert(&mac.to_le_bytes(), &src(B, 2, 2), t, end, skew());
                assert_eq!(v, ReplayVerdict::Replay);
            }
        }
        // Once the flood is over the cache recovers.
        let later = end + 2 * SKEW;
        assert_eq!(
            c.check_and_insert(&[1; 8], &src(A, 1, 1), later, later, skew()),
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
            let v = c.check_and_insert(&x.to_le_bytes(), &src(A, 1, 1), now - x % 4, now, skew());
            assert_eq!(v, ReplayVerdict::Fresh, "knock {i}");
        }
    }
}
