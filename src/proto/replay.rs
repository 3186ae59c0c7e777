// SPDX-License-Identifier: GPL-2.0

//! Replay cache of accepted knocks: every knock is remembered for as long
//! as it verifies, each key in a table of its own, within bounds the
//! administrator sets.
//!
//! Storage is one caller-provided array of [`Slot`]s (16 bytes each),
//! divided into [`ReplayLimits::tables`] equal tables of
//! [`ReplayLimits::table_slots`] slots. A key (identified by a keyed hash
//! of its `K_mac`) that has knocks to remember holds one table; a table is
//! free again once every knock in it has expired, and goes to the next key
//! that needs one. So the knocks made with one key never take the place of
//! another key's: a flood of valid knocks made with key B can fill B's
//! table, never A's.
//!
//! A table is open addressing with linear probing. A slot holds a 48-bit
//! keyed fingerprint of the knock (of its MAC, its time and its key), the
//! second it was first seen (modulo 2^16), `t + MAX_SKEW_SECS` (the last
//! second it could verify under any skew; 0 marks an empty slot) and a
//! 32-bit keyed hash of the SYN that carried it (source address, port,
//! sequence number). A knock is found again by its fingerprint and time.
//!
//! Nothing is evicted while it verifies:
//! - a knock is accepted only if its key's table has room: fewer than
//!   [`ReplayLimits::key_max`] knocks in it. Slots of expired knocks are
//!   reused first; when none is at hand and the table is at its bound, the
//!   expired knocks are removed from it (at most once a second per table:
//!   within a second no more knocks expire) and the knock is tried again;
//!   if every knock in the table still verifies, it is refused
//!   ([`ReplayVerdict::Full`]): the cache fails closed;
//! - a key without a table gets a free one, or one whose knocks have all
//!   expired; if every table holds live knocks of other keys, its knock is
//!   refused ([`ReplayVerdict::Full`]).
//!
//! Knocks that are dropped from the cache have expired under the skew of
//! the moment; if the skew is raised later they may verify again. The
//! cache keeps the latest time of any knock it dropped (`forgotten`) and
//! refuses every knock it does not find whose time is not newer
//! ([`ReplayVerdict::Replay`]). At a constant skew such a knock is stale
//! anyway, so this never refuses a knock `verify` lets through; after the
//! skew was raised it refuses the knocks the cache can no longer vouch for
//! until they are stale.
//!
//! A knock seen again is accepted only as a duplicate of the same SYN: same
//! source address, port and sequence number (by their 32-bit hash), within
//! [`DUPLICATE_SECS`] of the first sighting (docs/PROTOCOL.md, section 8).
//!
//! Times are kept in 32 bits: from 2106 on (a knock time beyond
//! `u32::MAX - MAX_SKEW_SECS`) every knock is refused rather than forgotten.

use super::{wire::MAX_SKEW_SECS, Crypto, Error, KnockKey, Skew};
use core::ops::DerefMut;

/// How long after its first sighting a knock is still accepted again from
/// the same source address, port and sequence number, as a SYN the network
/// duplicated.
pub const DUPLICATE_SECS: u64 = 2;

/// Most tables (keys with knocks to remember at once) in one cache.
pub const MAX_TABLES: usize = 64;

/// Smallest per-key bound.
pub const MIN_KEY_ENTRIES: u32 = 16;

/// Largest per-namespace bound (2^26 knocks, 1.4 GB of slots).
pub const MAX_ENTRIES: u32 = 1 << 26;

/// Default per-namespace bound (`net.tcp_stealth.replay_max`).
pub const DEFAULT_MAX_ENTRIES: u32 = 16384;

/// Default per-key bound (`net.tcp_stealth.replay_key_max`).
pub const DEFAULT_KEY_ENTRIES: u32 = 2048;

// An entry lives at most `2 * MAX_SKEW_SECS` after its first sighting (from
// `t - skew` to `t + skew`), so the time of first sight modulo 2^16 is
// unambiguous while it lives.
const _: () = assert!(2 * MAX_SKEW_SECS as u64 + DUPLICATE_SECS < 1 << 16);

/// The low 16 bits of [`Slot::tag`] hold the second of first sight.
const SEEN_MASK: u64 = 0xffff;

/// One slot: a remembered knock.
///
/// Invariant: the all-zero bit pattern ([`Slot::EMPTY`], also `Default`) is
/// an empty slot, because a zero `latest` means empty. So the storage may be
/// allocated zeroed. Live entries always have `latest >= MAX_SKEW_SECS >= 1`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// High 48 bits: the knock's fingerprint; low 16: the second of first
    /// sight modulo 2^16.
    tag: u64,
    /// `t + MAX_SKEW_SECS`; 0 if empty. The knock verifies until `t + skew`.
    latest: u32,
    /// 32-bit keyed hash of the SYN's source address, port and sequence
    /// number.
    syn: u32,
}

impl Slot {
    /// An empty slot (all zero).
    pub const EMPTY: Slot = Slot {
        tag: 0,
        latest: 0,
        syn: 0,
    };

    fn is_empty(&self) -> bool {
        self.latest == 0
    }
}

/// Whether a knock with `latest = t + MAX_SKEW_SECS` no longer verifies at
/// `now` with `skew`: `t + skew < now`.
fn expired(latest: u32, now: u64, skew: Skew) -> bool {
    u64::from(latest) + skew.secs() < now.saturating_add(MAX_SKEW_SECS.into())
}

/// `h mod n`, and 0 for `n == 0` (never the case: this only keeps a
/// division panic out of the kernel build).
fn index(h: u64, n: usize) -> usize {
    h.checked_rem(n as u64).unwrap_or(0) as usize
}

/// The slot after `i` in a ring of `n`.
fn next(i: usize, n: usize) -> usize {
    if i + 1 >= n {
        0
    } else {
        i + 1
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
    /// Same knock in any other SYN, or an unknown knock no newer than one
    /// the cache dropped, or a knock time the cache cannot store. Reject.
    Replay,
    /// A new knock the cache has no room for: its key already has
    /// [`ReplayLimits::key_max`] knocks that verify, or every table holds
    /// knocks of other keys that verify. Reject (fail closed).
    Full,
}

/// The bounds of a cache, as the administrator sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayLimits {
    max: u32,
    key_max: u32,
}

impl ReplayLimits {
    /// At most `max` knocks per namespace, at most `key_max` of them with
    /// one key. `MIN_KEY_ENTRIES <= key_max <= max <= MAX_ENTRIES`;
    /// `max / key_max` keys (at most [`MAX_TABLES`]) can have knocks
    /// remembered at once.
    pub fn new(max: u32, key_max: u32) -> Result<Self, Error> {
        if key_max < MIN_KEY_ENTRIES || key_max > max || max > MAX_ENTRIES {
            return Err(Error::SlotCount);
        }
        Ok(Self { max, key_max })
    }

    /// The defaults, [`DEFAULT_MAX_ENTRIES`] and [`DEFAULT_KEY_ENTRIES`].
    pub const DEFAULT: Self = Self {
        max: DEFAULT_MAX_ENTRIES,
        key_max: DEFAULT_KEY_ENTRIES,
    };

    /// Knocks per namespace.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Knocks per key.
    pub fn key_max(&self) -> u32 {
        self.key_max
    }

    /// Number of tables: keys with knocks remembered at once.
    pub fn tables(&self) -> usize {
        ((self.max / self.key_max) as usize).clamp(1, MAX_TABLES)
    }

    /// Slots per table: a third more than `key_max` (at most 75 % full,
    /// which keeps probe sequences short), and never full.
    pub fn table_slots(&self) -> usize {
        let k = self.key_max as usize;
        k + k / 3 + 1
    }

    /// Slots of storage the cache needs.
    pub fn slots(&self) -> usize {
        self.tables() * self.table_slots()
    }
}

/// Bookkeeping of one table.
#[derive(Clone, Copy, Debug, Default)]
struct Table {
    /// Hash of the key whose table it is; 0 if free.
    key: u64,
    /// Occupied slots (knocks live or expired but not yet removed).
    used: u32,
    /// Largest `latest` ever stored: once that expired, all did.
    newest: u32,
    /// The second (modulo 2^32) of the last removal of expired knocks.
    purged: u32,
}

/// Domain separation of the cache's hashes (the third word).
const KEY_DOMAIN: u64 = 0x6b65_795f_7461_6721;

/// The replay cache over caller-provided slot storage `S` (e.g.
/// `&mut [Slot]` or an owned boxed slice).
pub struct ReplayCache<S> {
    slots: S,
    limits: ReplayLimits,
    /// SipHash key of the fingerprints (random, never leaves the cache).
    hash_key: [u8; 16],
    tables: [Table; MAX_TABLES],
    /// `latest` of the newest knock dropped so far; 0 if none.
    forgotten: u32,
    /// Knocks refused as [`ReplayVerdict::Full`].
    full: u64,
}

/// What a knock looks like to one table.
#[derive(Clone, Copy)]
struct Probe {
    fp: u64,
    latest: u32,
    seen: u16,
    syn: u32,
}

impl<S: DerefMut<Target = [Slot]>> ReplayCache<S> {
    /// Uses `slots` (all empty) as storage for a cache with `limits`; its
    /// length must be `limits.slots()`. `hash_key` must be random and
    /// secret: it keeps a key holder from aiming knocks at chosen slots.
    pub fn new(slots: S, limits: ReplayLimits, hash_key: [u8; 16]) -> Result<Self, Error> {
        if slots.len() != limits.slots() {
            return Err(Error::SlotCount);
        }
        Ok(Self {
            slots,
            limits,
            hash_key,
            tables: [Table::default(); MAX_TABLES],
            forgotten: 0,
            full: 0,
        })
    }

    /// The bounds.
    pub fn limits(&self) -> ReplayLimits {
        self.limits
    }

    /// Records a verified knock made with `key` (`mac` and reconstructed
    /// time `t` from [`Verified`](super::Verified)) received at `now` in a
    /// SYN from `src`, unless it is a replay or there is no room for it.
    /// `skew` is the one the knock was verified with.
    #[allow(clippy::too_many_arguments)]
    pub fn check_and_insert<C: Crypto>(
        &mut self,
        crypto: &C,
        key: &KnockKey,
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
        let id = self.key_id(crypto, key);
        let h = crypto.siphash_3u64(&self.hash_key, u64::from_le_bytes(*mac), t, id);
        let probe = Probe {
            fp: h & !SEEN_MASK,
            latest,
            seen: now as u16,
            syn: self.syn_hash(crypto, src),
        };
        let table = match self.table_of(id, now, skew) {
            Some(i) => i,
            None => {
                // Not in any table (it has none), so never seen, unless
                // dropped.
                if latest <= self.forgotten {
                    return ReplayVerdict::Replay;
                }
                match self.claim_table(id, now, skew) {
                    Some(i) => i,
                    None => {
                        self.full = self.full.wrapping_add(1);
                        return ReplayVerdict::Full;
                    }
                }
            }
        };
        self.insert(table, &probe, now, skew)
    }

    /// 64-bit keyed hash of `key` (never 0, which marks a free table).
    fn key_id<C: Crypto>(&self, crypto: &C, key: &KnockKey) -> u64 {
        let k = key.mac_key();
        let mut w = [[0u8; 8]; 2];
        w[0].copy_from_slice(&k[..8]);
        w[1].copy_from_slice(&k[8..]);
        crypto.siphash_3u64(
            &self.hash_key,
            u64::from_le_bytes(w[0]),
            u64::from_le_bytes(w[1]),
            KEY_DOMAIN,
        ) | 1
    }

    fn syn_hash<C: Crypto>(&self, crypto: &C, src: &SynSource) -> u32 {
        let mut w = [[0u8; 8]; 2];
        w[0].copy_from_slice(&src.addr[..8]);
        w[1].copy_from_slice(&src.addr[8..]);
        let h = crypto.siphash_3u64(
            &self.hash_key,
            u64::from_le_bytes(w[0]),
            u64::from_le_bytes(w[1]),
            u64::from(src.port) << 32 | u64::from(src.isn),
        );
        (h ^ h >> 32) as u32
    }

    /// The table of key `id`, if it has one. A table whose knocks have all
    /// expired is dropped here, so that an idle key never pins one.
    fn table_of(&mut self, id: u64, now: u64, skew: Skew) -> Option<usize> {
        let n = self.limits.tables();
        let mut i = index(id, n);
        for _ in 0..n {
            if self.tables[i].key == id {
                break;
            }
            i = next(i, n);
        }
        if self.tables.get(i)?.key != id {
            return None;
        }
        if self.tables[i].newest != 0 && expired(self.tables[i].newest, now, skew) {
            self.drop_table(i);
            return None;
        }
        Some(i)
    }

    /// Gives key `id` a free table, or one whose knocks have all expired.
    fn claim_table(&mut self, id: u64, now: u64, skew: Skew) -> Option<usize> {
        let n = self.limits.tables();
        let free = |t: &Table| t.key == 0 || t.newest == 0 || expired(t.newest, now, skew);
        let mut i = index(id, n);
        for _ in 0..n {
            if free(&self.tables[i]) {
                break;
            }
            i = next(i, n);
        }
        if !free(self.tables.get(i)?) {
            return None;
        }
        self.drop_table(i);
        self.tables[i].key = id;
        Some(i)
    }

    /// Empties table `i` wholesale (its knocks have all expired).
    fn drop_table(&mut self, i: usize) {
        let m = self.limits.table_slots();
        self.forgotten = self.forgotten.max(self.tables[i].newest);
        if self.tables[i].used != 0 {
            if let Some(region) = self.slots.get_mut(i * m..(i + 1) * m) {
                region.fill(Slot::EMPTY);
            }
        }
        self.tables[i] = Table::default();
    }

    /// Looks the knock up in table `t`, and records it if it is new and
    /// there is room.
    fn insert(&mut self, t: usize, p: &Probe, now: u64, skew: Skew) -> ReplayVerdict {
        let m = self.limits.table_slots();
        let key_max = self.limits.key_max;
        let Some(region) = self.slots.get_mut(t * m..(t + 1) * m) else {
            // Unreachable: the storage has `tables * m` slots.
            return ReplayVerdict::Replay;
        };
        let mut i = index(p.fp >> 16, m);
        let mut reuse = None;
        // The table is never full (`key_max < m`), so this ends at an empty
        // slot; the bound only keeps a broken invariant from looping.
        for _ in 0..m {
            let s = region[i];
            if s.is_empty() {
                break;
            }
            if s.tag & !SEEN_MASK == p.fp && s.latest == p.latest {
                let duplicate = s.syn == p.syn
                    && u64::from(p.seen.wrapping_sub(s.tag as u16)) <= DUPLICATE_SECS;
                return if duplicate {
                    ReplayVerdict::Duplicate
                } else {
                    ReplayVerdict::Replay
                };
            }
            if reuse.is_none() && expired(s.latest, now, skew) {
                reuse = Some(i);
            }
            i = next(i, m);
        }
        if p.latest <= self.forgotten {
            return ReplayVerdict::Replay;
        }
        let new = Slot {
            tag: p.fp | u64::from(p.seen),
            latest: p.latest,
            syn: p.syn,
        };
        let table = &mut self.tables[t];
        if let Some(r) = reuse {
            // An expired knock makes room: forget it.
            self.forgotten = self.forgotten.max(region[r].latest);
            region[r] = new;
        } else if table.used < key_max && region[i].is_empty() {
            region[i] = new;
            table.used += 1;
        } else {
            let second = now as u32;
            if table.purged == second {
                self.full = self.full.wrapping_add(1);
                return ReplayVerdict::Full;
            }
            table.purged = second;
            let (removed, newest_gone) = purge(region, now, skew);
            table.used -= removed.min(table.used);
            self.forgotten = self.forgotten.max(newest_gone);
            return self.insert(t, p, now, skew);
        }
        table.newest = table.newest.max(p.latest);
        ReplayVerdict::Fresh
    }

    /// `latest` of the newest knock the cache dropped (0 if none): unknown
    /// knocks no newer are refused.
    pub fn forgotten(&self) -> u32 {
        self.forgotten
    }

    /// Knocks refused so far for want of room ([`ReplayVerdict::Full`]).
    pub fn full(&self) -> u64 {
        self.full
    }

    /// Number of knocks that still verify at `now` with `skew`.
    pub fn live(&self, now: u64, skew: Skew) -> usize {
        self.slots
            .iter()
            .filter(|s| !s.is_empty() && !expired(s.latest, now, skew))
            .count()
    }

    /// Number of keys holding a table.
    pub fn keys(&self) -> usize {
        self.tables.iter().filter(|t| t.key != 0).count()
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Moves every knock `self` remembers into `to`, a new cache over
    /// storage for other limits (the administrator changed them). A knock
    /// `to` has no room for is dropped, and from then on refused as
    /// `to`'s `forgotten` says. Returns the number dropped.
    pub fn move_into<T: DerefMut<Target = [Slot]>>(
        &mut self,
        to: &mut ReplayCache<T>,
        now: u64,
        skew: Skew,
    ) -> usize {
        let m = self.limits.table_slots();
        let mut dropped = 0;
        to.forgotten = to.forgotten.max(self.forgotten);
        to.full = self.full;
        for t in 0..self.limits.tables() {
            let id = self.tables[t].key;
            if id == 0 {
                continue;
            }
            let Some(region) = self.slots.get(t * m..(t + 1) * m) else {
                continue;
            };
            let dest = to
                .table_of(id, now, skew)
                .or_else(|| to.claim_table(id, now, skew));
            for s in region.iter().filter(|s| !s.is_empty()) {
                let p = Probe {
                    fp: s.tag & !SEEN_MASK,
                    latest: s.latest,
                    seen: s.tag as u16,
                    syn: s.syn,
                };
                let kept = !expired(s.latest, now, skew)
                    && dest.is_some_and(|d| to.place(d, &p, now, skew));
                if !kept {
                    to.forgotten = to.forgotten.max(s.latest);
                    dropped += 1;
                }
            }
        }
        dropped
    }

    /// Stores an entry moved from another cache into table `t`, if there
    /// is room.
    fn place(&mut self, t: usize, p: &Probe, now: u64, skew: Skew) -> bool {
        let full = self.full;
        let forgotten = self.forgotten;
        // `p` is new to this cache and newer than anything it dropped.
        self.forgotten = 0;
        let v = self.insert(t, p, now, skew);
        self.forgotten = self.forgotten.max(forgotten);
        self.full = full;
        v == ReplayVerdict::Fresh
    }

    /// Gives the storage back.
    pub fn into_inner(self) -> S {
        self.slots
    }
}

/// Removes the expired knocks of a table (`region`), keeping every live one
/// findable: linear probing's deletion, which moves later knocks of the
/// same run back into the gap. Returns how many were removed and the
/// largest `latest` among them.
fn purge(region: &mut [Slot], now: u64, skew: Skew) -> (u32, u32) {
    let m = region.len();
    let (mut removed, mut newest) = (0u32, 0u32);
    for i in 0..m {
        while !region[i].is_empty() && expired(region[i].latest, now, skew) {
            newest = newest.max(region[i].latest);
            remove(region, i);
            removed += 1;
        }
    }
    (removed, newest)
}

/// Empties slot `gap` of a linear-probing table, moving back the knocks
/// after it (up to the next empty slot) that would no longer be found.
fn remove(region: &mut [Slot], mut gap: usize) {
    let m = region.len();
    region[gap] = Slot::EMPTY;
    let mut j = gap;
    for _ in 0..m {
        j = next(j, m);
        let s = region[j];
        if s.is_empty() {
            return;
        }
        let home = index(s.tag >> 16, m);
        // The knock at `j` may stay if its home lies cyclically in
        // (gap, j]: a lookup from there reaches it without the gap.
        let stays = if gap <= j {
            gap < home && home <= j
        } else {
            gap < home || home <= j
        };
        if !stays {
            region[gap] = s;
            region[j] = Slot::EMPTY;
            gap = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::Ref;
    use std::{vec, vec::Vec};

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

    fn key(b: u8) -> KnockKey {
        KnockKey::from_bytes(&[b; 32])
    }

    type Cache = ReplayCache<Vec<Slot>>;

    fn cache(max: u32, key_max: u32) -> Cache {
        let limits = ReplayLimits::new(max, key_max).unwrap();
        ReplayCache::new(vec![Slot::EMPTY; limits.slots()], limits, [0x5a; 16]).unwrap()
    }

    /// Knock `i` of key `k` at time `t`, received at `now` from `s`.
    fn knock(
        c: &mut Cache,
        k: &KnockKey,
        i: u64,
        s: &SynSource,
        t: u64,
        now: u64,
    ) -> ReplayVerdict {
        c.check_and_insert(&Ref, k, &i.to_le_bytes(), s, t, now, skew())
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn slots_are_small_and_zero_is_empty() {
        assert_eq!(core::mem::size_of::<Slot>(), 16);
        assert_eq!(Slot::default(), Slot::EMPTY);
        let Slot { tag, latest, syn } = Slot::EMPTY;
        assert_eq!((tag, latest, syn), (0, 0, 0));
        // The all-zero MAC is a valid MAC and must not match empty slots.
        let mut c = cache(64, 16);
        let k = key(1);
        let z = src([0; 16], 0, 0);
        let v = c.check_and_insert(&Ref, &k, &[0; 8], &z, MAX, MAX, skew());
        assert_eq!(v, ReplayVerdict::Fresh);
        let v = c.check_and_insert(&Ref, &k, &[0; 8], &src(A, 0, 0), MAX, MAX, skew());
        assert_eq!(v, ReplayVerdict::Replay);
    }

    #[test]
    fn limits() {
        assert!(ReplayLimits::new(100, MIN_KEY_ENTRIES - 1).is_err());
        assert!(ReplayLimits::new(100, 101).is_err());
        assert!(ReplayLimits::new(MAX_ENTRIES + 1, 100).is_err());
        let l = ReplayLimits::new(1000, 100).unwrap();
        assert_eq!((l.tables(), l.table_slots()), (10, 134));
        assert_eq!(l.slots(), 1340);
        // At most MAX_TABLES tables.
        let l = ReplayLimits::new(MAX_ENTRIES, MIN_KEY_ENTRIES).unwrap();
        assert_eq!(l.tables(), MAX_TABLES);
        // The default: 8 keys of 2048 knocks, 21.3 bytes per knock of the
        // bound.
        let d = ReplayLimits::DEFAULT;
        assert_eq!((d.tables(), d.table_slots()), (8, 2731));
        assert_eq!(d.slots() * core::mem::size_of::<Slot>(), 349_568);
        // The storage must fit the limits.
        let l = ReplayLimits::new(64, 16).unwrap();
        assert!(ReplayCache::new(vec![Slot::EMPTY; l.slots() - 1], l, [0; 16]).is_err());
        let c = ReplayCache::new(vec![Slot::EMPTY; l.slots()], l, [0; 16]).unwrap();
        assert_eq!(c.capacity(), 4 * 22);
        assert_eq!(c.into_inner().len(), 88);
    }

    #[test]
    fn duplicate_replay_expiry() {
        let mut c = cache(64, 16);
        let k = key(1);
        let t = 1_000_000;
        let syn = src(A, 5000, 0x1234_5678);
        assert_eq!(knock(&mut c, &k, 7, &syn, t, t), ReplayVerdict::Fresh);
        // The same SYN again within DUPLICATE_SECS: the network duplicated
        // it.
        for d in 0..=DUPLICATE_SECS {
            assert_eq!(
                knock(&mut c, &k, 7, &syn, t, t + d),
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
                knock(&mut c, &k, 7, &other, t, t + 1),
                ReplayVerdict::Replay
            );
        }
        // Still refused at the last second the knock verifies.
        assert_eq!(
            knock(&mut c, &k, 7, &src(B, 5000, 1), t, t + SKEW),
            ReplayVerdict::Replay
        );
        // The same MAC with another time, or made with another key, is
        // another knock.
        assert_eq!(
            knock(&mut c, &k, 7, &syn, t + 1, t + 1),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            knock(&mut c, &key(2), 7, &syn, t, t + 1),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.keys(), 2);
        assert_eq!(c.live(t + 1, skew()), 3);
        assert_eq!(c.live(t + SKEW + 1, skew()), 1);
        assert_eq!(c.full(), 0);
    }

    /// An on-path observer resends the client's SYN, byte for byte, after
    /// the client's connection ended: refused once the duplicate window is
    /// over, for as long as the knock verifies.
    #[test]
    fn same_syn_later_is_a_replay() {
        let mut c = cache(64, 16);
        let k = key(1);
        let t = 50_000;
        let syn = src(A, 40_000, 0xdead_beef);
        assert_eq!(knock(&mut c, &k, 9, &syn, t, t), ReplayVerdict::Fresh);
        for now in t + DUPLICATE_SECS + 1..=t + SKEW {
            assert_eq!(
                knock(&mut c, &k, 9, &syn, t, now),
                ReplayVerdict::Replay,
                "t + {}",
                now - t
            );
        }
    }

    /// The duplicate window counts from the first sighting, not from the
    /// knock's time.
    #[test]
    fn duplicate_window_from_first_sighting() {
        let mut c = cache(64, 16);
        let k = key(1);
        let syn = src(B, 1, 2);
        // The client's clock is 100 s behind ours.
        let (t, now) = (70_000, 70_100);
        assert_eq!(knock(&mut c, &k, 3, &syn, t, now), ReplayVerdict::Fresh);
        assert_eq!(
            knock(&mut c, &k, 3, &syn, t, now + DUPLICATE_SECS),
            ReplayVerdict::Duplicate
        );
        assert_eq!(
            knock(&mut c, &k, 3, &syn, t, now + DUPLICATE_SECS + 1),
            ReplayVerdict::Replay
        );
        // Our clock stepped back: not a duplicate either (fail closed).
        assert_eq!(
            knock(&mut c, &k, 3, &syn, t, now - 1),
            ReplayVerdict::Replay
        );
    }

    /// Below its bound a key's knocks are all taken, whatever their times
    /// in the window; at the bound the cache fails closed, still refusing
    /// every replay; once knocks expire there is room again.
    #[test]
    fn no_refusal_below_the_bound_then_fails_closed() {
        const K: u32 = 500;
        let mut c = cache(4 * K, K);
        let k = key(1);
        let now = 2_000_000;
        let mut x = 17u64;
        let mut times = vec![];
        for i in 0..u64::from(K) {
            // Any time the window allows.
            let t = now - SKEW + xorshift(&mut x) % (2 * SKEW + 1);
            times.push(t);
            assert_eq!(
                knock(&mut c, &k, i, &src(A, 1, 1), t, now),
                ReplayVerdict::Fresh,
                "knock {i}"
            );
        }
        assert_eq!(c.live(now, skew()), K as usize);
        // One more: no room, refused, counted.
        assert_eq!(
            knock(&mut c, &k, 9999, &src(A, 1, 1), now, now),
            ReplayVerdict::Full
        );
        assert_eq!(
            knock(&mut c, &k, 9998, &src(B, 1, 1), now, now),
            ReplayVerdict::Full
        );
        assert_eq!(c.full(), 2);
        // Remembered knocks are still replays, not "full".
        for (i, &t) in times.iter().enumerate() {
            assert_eq!(
                knock(&mut c, &k, i as u64, &src(B, 2, 2), t, now),
                ReplayVerdict::Replay
            );
        }
        // The oldest knock expires: room for exactly one more (each later
        // second frees the knocks that expire in it).
        let oldest = *times.iter().min().unwrap();
        let gone = times.iter().filter(|&&t| t == oldest).count();
        let later = oldest + SKEW + 1;
        for j in 0..gone as u64 {
            assert_eq!(
                knock(&mut c, &k, 10_000 + j, &src(A, 1, 1), later, later),
                ReplayVerdict::Fresh
            );
        }
        assert_eq!(
            knock(&mut c, &k, 20_000, &src(A, 1, 1), later, later),
            ReplayVerdict::Full
        );
        // Other keys are not affected.
        assert_eq!(
            knock(&mut c, &key(2), 1, &src(A, 1, 1), later, later),
            ReplayVerdict::Fresh
        );
    }

    /// A sustained rate whose knocks within one skew fit the bound is
    /// taken in full, for a long time, with knocks from all over the window.
    #[test]
    fn sustained_rate_below_the_bound() {
        let mut c = cache(4096, 1024);
        let k = key(3);
        let mut x = 99u64;
        let mut n = 0u64;
        // 3 knocks a second, times anywhere in the window: at most
        // 3 * (2 * SKEW + 1) = 723 live knocks.
        for now in 3_000_000..3_000_000 + 10 * SKEW {
            for _ in 0..3 {
                let t = now - SKEW + xorshift(&mut x) % (2 * SKEW + 1);
                n += 1;
                assert_eq!(
                    knock(&mut c, &k, n, &src(A, 1, 1), t, now),
                    ReplayVerdict::Fresh,
                    "knock {n}"
                );
            }
        }
        assert_eq!(c.full(), 0);
        assert_eq!(c.keys(), 1);
    }

    /// H1: a flood of valid knocks made with key B, at any times the window
    /// allows (the edges included), refuses none of key A's knocks, and
    /// takes none of A's table.
    #[test]
    fn one_key_cannot_crowd_out_another() {
        let mut c = cache(4 * 256, 256);
        let (a, b) = (key(0xa), key(0xb));
        let mut x = 5u64;
        let mut n = 0u64;
        let mut accepted_a = vec![];
        for now in 4_000_000..4_000_000 + 3 * SKEW {
            // B: 100 knocks a second, many at the far edge of the window.
            for j in 0..100 {
                let t = if j % 2 == 0 {
                    now + SKEW
                } else {
                    now - SKEW + xorshift(&mut x) % (2 * SKEW + 1)
                };
                n += 1;
                let v = knock(&mut c, &b, n, &src(B, 2, 2), t, now);
                assert_ne!(v, ReplayVerdict::Duplicate);
            }
            // A: one knock a second, from a client whose clock is behind.
            n += 1;
            let t = now - 30;
            assert_eq!(
                knock(&mut c, &a, n, &src(A, 1, 1), t, now),
                ReplayVerdict::Fresh
            );
            accepted_a.push((n, t));
        }
        // B hit its own bound and was refused, A never.
        assert!(c.full() > 10_000);
        let end = 4_000_000 + 3 * SKEW;
        for &(i, t) in &accepted_a {
            if t + SKEW >= end {
                assert_eq!(
                    knock(&mut c, &a, i, &src(B, 9, 9), t, end),
                    ReplayVerdict::Replay
                );
            }
        }
    }

    /// With more keys knocking at once than there are tables, a new key is
    /// refused (fail closed) until some key's knocks have all expired; keys
    /// holding a table are not affected.
    #[test]
    fn tables_run_out_then_come_back() {
        let mut c = cache(2 * 16, 16);
        let now = 5_000_000;
        let s = src(A, 1, 1);
        assert_eq!(
            knock(&mut c, &key(1), 1, &s, now, now),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            knock(&mut c, &key(2), 1, &s, now + SKEW, now),
            ReplayVerdict::Fresh
        );
        assert_eq!(knock(&mut c, &key(3), 1, &s, now, now), ReplayVerdict::Full);
        assert_eq!(
            knock(&mut c, &key(1), 2, &s, now, now),
            ReplayVerdict::Fresh
        );
        // Key 1's knocks expire: its table goes to key 3.
        let later = now + SKEW + 1;
        assert_eq!(
            knock(&mut c, &key(3), 1, &s, later, later),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            knock(&mut c, &key(1), 3, &s, later, later),
            ReplayVerdict::Full
        );
        // Key 2's knock still verifies and is still refused.
        assert_eq!(
            knock(&mut c, &key(2), 1, &src(B, 1, 1), now + SKEW, later),
            ReplayVerdict::Replay
        );
    }

    /// net.tcp_stealth.skew_secs raised: knocks accepted under the old skew
    /// verify for longer, so the cache must keep refusing them, whether
    /// they were kept or dropped meanwhile.
    #[test]
    fn skew_raised_keeps_refusing() {
        let wide = Skew::new(600).unwrap();
        let (t, later) = (6_000_000, 6_000_000 + SKEW + 80);
        let k = key(1);
        // Kept: found again.
        let mut c = cache(64, 16);
        assert_eq!(
            knock(&mut c, &k, 1, &src(A, 1, 1), t, t),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.live(later, skew()), 0);
        assert_eq!(c.live(later, wide), 1);
        let v = c.check_and_insert(&Ref, &k, &1u64.to_le_bytes(), &src(B, 2, 2), t, later, wide);
        assert_eq!(v, ReplayVerdict::Replay);

        // Dropped, as the table's knocks had all expired: the cache
        // remembers that it forgot.
        let mut c = cache(64, 16);
        assert_eq!(
            knock(&mut c, &k, 1, &src(A, 1, 1), t, t),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            knock(&mut c, &k, 2, &src(A, 1, 1), later, later),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.forgotten() as u64, t + MAX);
        let v = c.check_and_insert(&Ref, &k, &1u64.to_le_bytes(), &src(B, 2, 2), t, later, wide);
        assert_eq!(v, ReplayVerdict::Replay);
        // Dropped to make room (slot reused, or removed at the bound).
        let mut c = cache(16, 16);
        assert_eq!(
            knock(&mut c, &k, 1, &src(A, 1, 1), t, t),
            ReplayVerdict::Fresh
        );
        for i in 0..15 {
            assert_eq!(
                knock(&mut c, &k, 100 + i, &src(A, 1, 1), t + 1, t + 1),
                ReplayVerdict::Fresh
            );
        }
        for i in 0..16 {
            let v = knock(
                &mut c,
                &k,
                200 + i,
                &src(A, 1, 1),
                t + SKEW + 1,
                t + SKEW + 1,
            );
            assert_eq!(
                v,
                if i == 0 {
                    ReplayVerdict::Fresh
                } else {
                    ReplayVerdict::Full
                }
            );
        }
        let v = c.check_and_insert(&Ref, &k, &1u64.to_le_bytes(), &src(B, 2, 2), t, later, wide);
        assert_eq!(v, ReplayVerdict::Replay);
    }

    /// What the cache drops never refuses a knock that verifies under the
    /// skew in force: at a constant skew, a cache at its bound refuses only
    /// for want of room.
    #[test]
    fn forgetting_is_harmless_at_constant_skew() {
        let mut c = cache(4 * 64, 64);
        let k = key(1);
        let mut x = 5u64;
        let mut live: Vec<(u64, u64)> = vec![];
        let mut n = 0;
        for now in 7_000_000..7_000_000 + 10 * SKEW {
            live.retain(|&(_, t)| t + SKEW >= now);
            for _ in 0..(now % 3) {
                let t = now - SKEW + xorshift(&mut x) % (2 * SKEW + 1);
                n += 1;
                let v = knock(&mut c, &k, n, &src(A, 1, 1), t, now);
                match v {
                    ReplayVerdict::Fresh => live.push((n, t)),
                    ReplayVerdict::Full => assert_eq!(live.len(), 64, "refused below the bound"),
                    _ => panic!("{v:?} for a new knock at {now}"),
                }
            }
        }
        assert!(c.full() > 0);
    }

    /// Removing expired knocks keeps the live ones findable: many small
    /// tables, knocks expiring in random order, every remembered knock
    /// checked after every step.
    #[test]
    fn purge_keeps_live_knocks() {
        let mut x = 0x0123_4567_89ab_cdefu64;
        for round in 0..50u64 {
            let mut c = cache(16, 16);
            let k = key(round as u8);
            let mut live: Vec<(u64, u64)> = vec![];
            let mut n = 0;
            for now in 8_000_000..8_000_000 + 3 * SKEW {
                live.retain(|&(_, t)| t + SKEW >= now);
                let t = now - SKEW + xorshift(&mut x) % (2 * SKEW + 1);
                n += 1;
                match knock(&mut c, &k, n, &src(A, 1, 1), t, now) {
                    ReplayVerdict::Fresh => live.push((n, t)),
                    ReplayVerdict::Full => assert_eq!(live.len(), 16),
                    v => panic!("{v:?}"),
                }
                for &(i, t) in &live {
                    assert_eq!(
                        knock(&mut c, &k, i, &src(B, 2, 2), t, now),
                        ReplayVerdict::Replay
                    );
                }
            }
        }
    }

    /// Past 2106 the times no longer fit: refuse rather than forget.
    #[test]
    fn times_past_u32_are_refused() {
        let mut c = cache(64, 16);
        let k = key(1);
        let last = u64::from(u32::MAX) - MAX;
        assert_eq!(
            knock(&mut c, &k, 1, &src(A, 1, 1), last, last),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            knock(&mut c, &k, 2, &src(A, 1, 1), last + 1, last + 1),
            ReplayVerdict::Replay
        );
        assert_eq!(
            knock(&mut c, &k, 2, &src(A, 1, 1), u64::MAX, u64::MAX),
            ReplayVerdict::Replay
        );
    }

    /// New limits (the administrator wrote the sysctls): every remembered
    /// knock moves to the new cache; what does not fit is dropped and
    /// refused from then on.
    #[test]
    fn move_to_new_limits() {
        let now = 9_000_000;
        let mut c = cache(4 * 64, 64);
        for kb in 1..=4u8 {
            for i in 0..40 {
                assert_eq!(
                    knock(&mut c, &key(kb), i, &src(A, 1, 1), now - i, now),
                    ReplayVerdict::Fresh
                );
            }
        }
        // Larger: all kept.
        let mut big = cache(8 * 128, 128);
        assert_eq!(c.move_into(&mut big, now, skew()), 0);
        assert_eq!(big.live(now, skew()), 160);
        for kb in 1..=4u8 {
            for i in 0..40 {
                assert_eq!(
                    knock(&mut big, &key(kb), i, &src(B, 1, 1), now - i, now),
                    ReplayVerdict::Replay
                );
            }
            assert_eq!(
                knock(&mut big, &key(kb), 99, &src(A, 1, 1), now, now),
                ReplayVerdict::Fresh
            );
        }
        // Smaller: two keys of 16 knocks kept; the rest dropped, yet
        // refused.
        let mut small = cache(2 * 16, 16);
        let dropped = big.move_into(&mut small, now, skew());
        assert_eq!(dropped, 164 - 32);
        for kb in 1..=4u8 {
            for i in 0..40 {
                let v = knock(&mut small, &key(kb), i, &src(B, 1, 1), now - i, now);
                assert_eq!(v, ReplayVerdict::Replay, "key {kb} knock {i}");
            }
        }
        assert_eq!(small.forgotten() as u64, now + MAX);
    }

    /// Review M6: with payload integrity a knock keeps 16 random bits, so
    /// two clients committing to the same bytes in the same second send the
    /// same knock once in 2^16 pairs, and the second is refused as a
    /// replay. The client's retransmission carries a fresh knock (new
    /// nonce), which is taken: what the client-side retry relies on.
    #[test]
    fn integrity_collision_then_retry() {
        use crate::proto::{build, verify};
        let k = key(4);
        let (dport, now) = (22, 11_000_000);
        let commit = Some(0x31df_2514);
        let mut c = cache(64, 16);
        let mut take = |nonce: [u8; 6], s: &SynSource, now: u64| {
            let opt = build(&Ref, &k, dport, now, nonce, commit);
            let v = verify(&Ref, core::slice::from_ref(&k), &opt, dport, now, skew()).unwrap();
            c.check_and_insert(&Ref, &k, &v.mac, s, v.t, now, skew())
        };
        // Two clients, the same committed bytes, the same two random bytes
        // (the other four of the nonce field are the commitment).
        assert_eq!(
            take([1, 2, 0, 0, 0, 0], &src(A, 1000, 1), now),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            take([1, 2, 9, 9, 9, 9], &src(B, 2000, 2), now),
            ReplayVerdict::Replay
        );
        // The second client's SYN again, one RTO later, with a new nonce.
        assert_eq!(
            take([7, 7, 0, 0, 0, 0], &src(B, 2000, 2), now + 1),
            ReplayVerdict::Fresh
        );
    }

    /// A million distinct knocks of one key at 1000 a second, times spread
    /// over 4 s: a per-key bound above rate * skew takes all of them.
    #[test]
    fn sized_cache_accepts_a_flood() {
        let mut c = cache(1 << 18, 1 << 17);
        let k = key(1);
        let mut x = 1u64;
        for i in 0..1_000_000u64 {
            let now = 10_000_000 + i / 1000;
            let t = now - xorshift(&mut x) % 4;
            assert_eq!(
                knock(&mut c, &k, i, &src(A, 1, 1), t, now),
                ReplayVerdict::Fresh,
                "knock {i}"
            );
        }
        assert_eq!(c.full(), 0);
    }
}
