// SPDX-License-Identifier: GPL-2.0

//! Replay cache of accepted knocks: every knock is remembered for as long
//! as it verifies, in one pool shared by all keys, within bounds the
//! administrator sets.
//!
//! Storage is one caller-provided array of [`Slot`]s (16 bytes each) in
//! three parts:
//! - the pool: [`ReplayLimits::pool_slots`] slots, open addressing with
//!   linear probing, holding at most [`ReplayLimits::max`] knocks (75 %
//!   full at most, which keeps probe sequences short);
//! - the key records: [`ReplayLimits::keys`] slots, one per key that has
//!   knocks in the pool, each counting its key's knocks;
//! - the key index: open addressing from a key to its record (4 entries of
//!   32 bits per slot).
//!
//! A knock's slot holds a 48-bit keyed fingerprint of the knock (of its
//! MAC, its time and its key) and the number of its key's record (16 bits)
//! in 8 bytes, `t + MAX_SKEW_SECS` (the last second it could verify under
//! any skew; 0 marks an empty slot) and a 32-bit keyed hash of the SYN that
//! carried it (source address, port, sequence number) and the second it was
//! first seen. A knock is found again by its fingerprint, key and time.
//!
//! Nothing is evicted while it verifies. A knock is accepted only if there
//! is room: its key has fewer than [`ReplayLimits::key_max`] knocks in the
//! pool, the pool fewer than [`ReplayLimits::max`], and a key without
//! knocks a free record. Each knock first removes the expired knocks
//! among the next few slots of the pool (a sweep going round it), and
//! slots of expired knocks are reused; when a bound is reached all the
//! same, the expired knocks are removed from the whole pool (at most once
//! a second: within a second no more knocks expire) and the knock is tried
//! again; if it still does not fit, it is refused
//! ([`ReplayVerdict::Full`]): the cache fails closed. So the knocks made
//! with one key never take more than `key_max` of the pool: a flood of
//! valid knocks made with key B fills B's share, never A's; and any number
//! of keys, up to [`ReplayLimits::keys`], can have knocks remembered at
//! once.
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
//! source address, port and sequence number, within [`DUPLICATE_SECS`] of
//! the first sighting (docs/PROTOCOL.md, section 8).
//!
//! Times are kept in 32 bits: from 2106 on (a knock time beyond
//! `u32::MAX - MAX_SKEW_SECS`) every knock is refused rather than forgotten.

use super::{wire::MAX_SKEW_SECS, Crypto, Error, KnockKey, Skew};
use core::ops::DerefMut;

/// How long after its first sighting a knock is still accepted again from
/// the same source address, port and sequence number, as a SYN the network
/// duplicated.
pub const DUPLICATE_SECS: u64 = 2;

/// Most keys with knocks remembered at once in one cache (a slot names its
/// key's record in 16 bits).
pub const MAX_REMEMBERED_KEYS: u32 = 1 << OWNER_BITS;

/// Knocks of `replay_max` per key record: a cache for `max` knocks has
/// records for `max / KNOCKS_PER_KEY` keys (at most [`MAX_REMEMBERED_KEYS`]).
pub const KNOCKS_PER_KEY: u32 = 4;

/// Smallest per-key bound.
pub const MIN_KEY_ENTRIES: u32 = 16;

/// Largest per-namespace bound (2^26 knocks, 1.4 GB of slots).
pub const MAX_ENTRIES: u32 = 1 << 26;

/// Default per-namespace bound (`net.tcp_stealth.replay_max`).
pub const DEFAULT_MAX_ENTRIES: u32 = 16384;

/// Default per-key bound (`net.tcp_stealth.replay_key_max`).
pub const DEFAULT_KEY_ENTRIES: u32 = 2048;

/// Bits of [`Slot::tag`] naming the key's record (the low ones); the other
/// 48 are the fingerprint.
const OWNER_BITS: u32 = 16;
const OWNER_MASK: u64 = (1 << OWNER_BITS) - 1;

// An entry lives at most `2 * MAX_SKEW_SECS` after its first sighting (from
// `t - skew` to `t + skew`), so the second of first sight modulo 2^16, which
// the SYN hash covers, is unambiguous while it lives.
const _: () = assert!(2 * MAX_SKEW_SECS as u64 + DUPLICATE_SECS < 1 << 16);

/// One slot of storage: a remembered knock in the pool, a key record, or
/// four entries of the key index.
///
/// Invariant: the all-zero bit pattern ([`Slot::EMPTY`], also `Default`) is
/// an empty pool slot, a free key record and four empty index entries. So
/// the storage may be allocated zeroed. Live knocks always have
/// `latest >= MAX_SKEW_SECS >= 1`; key records in use a `tag` (the key's
/// hash) with its low bit set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// A knock: high 48 bits its fingerprint, low 16 its key's record. A
    /// key record: the key's hash, or 0 if free.
    tag: u64,
    /// A knock: `t + MAX_SKEW_SECS`, or 0 if empty; it verifies until
    /// `t + skew`. A key record: the next free record plus one (free list).
    latest: u32,
    /// A knock: 32-bit keyed hash of the SYN's source address, port and
    /// sequence number and of the second (modulo 2^16) it was first seen.
    /// A key record: how many slots of the pool hold its key's knocks.
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

    /// The record number of a knock's key.
    fn owner(&self) -> usize {
        (self.tag & OWNER_MASK) as usize
    }

    /// Where a knock's probe sequence starts in a pool of `n` slots.
    fn home(&self, n: usize) -> usize {
        index(self.tag >> OWNER_BITS, n)
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

/// Whether an entry at `j` whose probe sequence starts at `home` may stay
/// when slot `gap` before it is emptied: its home lies cyclically in
/// `(gap, j]`, so a lookup from there reaches it without the gap.
fn stays(home: usize, gap: usize, j: usize) -> bool {
    if gap <= j {
        gap < home && home <= j
    } else {
        gap < home || home <= j
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
    /// [`ReplayLimits::key_max`] knocks that verify, or the cache
    /// [`ReplayLimits::max`], or its key has none and
    /// [`ReplayLimits::keys`] other keys have some. Reject (fail closed).
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
    /// one key. `MIN_KEY_ENTRIES <= key_max <= max <= MAX_ENTRIES`.
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

    /// Keys with knocks remembered at once: one per [`KNOCKS_PER_KEY`]
    /// knocks of `max`, at most [`MAX_REMEMBERED_KEYS`].
    pub fn keys(&self) -> usize {
        ((self.max / KNOCKS_PER_KEY) as usize).clamp(1, MAX_REMEMBERED_KEYS as usize)
    }

    /// Slots of the pool: a third more than `max` (at most 75 % full), and
    /// never full.
    pub fn pool_slots(&self) -> usize {
        let n = self.max as usize;
        n + n / 3 + 1
    }

    /// Entries of the key index: a third more than [`Self::keys`].
    fn index_len(&self) -> usize {
        let k = self.keys();
        k + k / 3 + 1
    }

    /// Slots of storage the cache needs: the pool, the key records and the
    /// key index.
    pub fn slots(&self) -> usize {
        self.pool_slots() + self.keys() + self.index_len().div_ceil(4)
    }
}

/// Pool slots each new knock looks at for expired knocks to remove
/// ([`ReplayCache::sweep`]).
const SWEEP_SLOTS: usize = 4;

/// Domain separation of the cache's hashes (the third word).
const KEY_DOMAIN: u64 = 0x6b65_795f_7461_6721;

/// The replay cache over caller-provided slot storage `S` (e.g.
/// `&mut [Slot]` or an owned boxed slice).
///
/// Invariants: `slots` has `limits.slots()` slots. Every knock in the pool
/// names a record in use (a nonzero `tag`) whose count counts it; every
/// record in use has a nonzero count and exactly one index entry; `used` is
/// the number of knocks in the pool, `keys_used` of records in use.
pub struct ReplayCache<S> {
    slots: S,
    limits: ReplayLimits,
    /// SipHash key of the fingerprints (random, never leaves the cache).
    hash_key: [u8; 16],
    /// Knocks in the pool (live, or expired but not yet removed).
    used: u32,
    /// Key records in use.
    keys_used: u32,
    /// Records handed out at least once: the ones from here on are free
    /// and not on the free list.
    keys_touched: u32,
    /// First record of the free list plus one; 0 if empty.
    free_key: u32,
    /// The second (modulo 2^32) of the last removal of expired knocks.
    purged: Option<u32>,
    /// Removals of all expired knocks at once ([`Self::purges`]).
    purges: u64,
    /// Next pool slot [`Self::sweep`] looks at.
    cursor: usize,
    /// `latest` of the newest knock dropped so far; 0 if none.
    forgotten: u32,
    /// Knocks refused as [`ReplayVerdict::Full`].
    full: u64,
}

/// A knock as the cache stores it.
#[derive(Clone, Copy)]
struct Probe {
    /// Fingerprint; its key's record is added when stored.
    fp: u64,
    latest: u32,
    syn: u32,
}

/// What a lookup in the pool found.
enum Found {
    /// The knock, at this slot.
    At(usize),
    /// Not there: the first empty slot of its probe sequence, and the first
    /// slot of an expired knock before it, if any.
    Absent { empty: usize, reuse: Option<usize> },
}

impl<S: DerefMut<Target = [Slot]>> ReplayCache<S> {
    /// Uses `slots` (all empty) as storage for a cache with `limits`; its
    /// length must be `limits.slots()`. `hash_key` must be random and
    /// secret: it keeps a key holder from aiming knocks at chosen slots.
    pub fn new(slots: S, limits: ReplayLimits, hash_key: [u8; 16]) -> Result<Self, Error> {
        if slots.len() != limits.slots() {
            return Err(Error::SlotCount);
        }
        // INVARIANT: all slots are empty: no knock, no record in use.
        Ok(Self {
            slots,
            limits,
            hash_key,
            used: 0,
            keys_used: 0,
            keys_touched: 0,
            free_key: 0,
            purged: None,
            purges: 0,
            cursor: 0,
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
        self.sweep(now, skew);
        let id = self.key_id(crypto, key);
        let h = crypto.siphash_3u64(&self.hash_key, u64::from_le_bytes(*mac), t, id);
        let p = Probe {
            fp: h >> OWNER_BITS,
            latest,
            syn: self.syn_hash(crypto, src, now),
        };
        let record = self.find_key(id);
        let found = self.lookup(record, &p, now, skew);
        if let Found::At(i) = found {
            let first = self.slots[i].syn;
            let duplicate = first == p.syn
                || (1..=DUPLICATE_SECS)
                    .any(|d| now >= d && self.syn_hash(crypto, src, now - d) == first);
            return if duplicate {
                ReplayVerdict::Duplicate
            } else {
                ReplayVerdict::Replay
            };
        }
        // Never seen, unless dropped.
        if latest <= self.forgotten {
            return ReplayVerdict::Replay;
        }
        if self.store(id, record, &p, now, skew, found) {
            ReplayVerdict::Fresh
        } else {
            self.full = self.full.wrapping_add(1);
            ReplayVerdict::Full
        }
    }

    /// 64-bit keyed hash of `key` (odd: never 0, which marks a free record).
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

    /// 32-bit keyed hash of the SYN and of the second `seen` it was first
    /// seen (modulo 2^16: port and sequence number take 48 bits of the
    /// third word).
    fn syn_hash<C: Crypto>(&self, crypto: &C, src: &SynSource, seen: u64) -> u32 {
        let mut w = [[0u8; 8]; 2];
        w[0].copy_from_slice(&src.addr[..8]);
        w[1].copy_from_slice(&src.addr[8..]);
        let h = crypto.siphash_3u64(
            &self.hash_key,
            u64::from_le_bytes(w[0]),
            u64::from_le_bytes(w[1]),
            (seen & 0xffff) << 48 | u64::from(src.port) << 32 | u64::from(src.isn),
        );
        (h ^ h >> 32) as u32
    }

    /// Offset of the key records in the storage.
    fn records(&self) -> usize {
        self.limits.pool_slots()
    }

    /// Entry `i` of the key index: a record number plus one, or 0.
    fn index_get(&self, i: usize) -> u32 {
        let s = &self.slots[self.records() + self.limits.keys() + i / 4];
        match i % 4 {
            0 => s.tag as u32,
            1 => (s.tag >> 32) as u32,
            2 => s.latest,
            _ => s.syn,
        }
    }

    fn index_set(&mut self, i: usize, v: u32) {
        let at = self.records() + self.limits.keys() + i / 4;
        let s = &mut self.slots[at];
        match i % 4 {
            0 => s.tag = s.tag & !0xffff_ffff | u64::from(v),
            1 => s.tag = s.tag & 0xffff_ffff | u64::from(v) << 32,
            2 => s.latest = v,
            _ => s.syn = v,
        }
    }

    /// The record of key `id`, if it has knocks in the pool.
    fn find_key(&self, id: u64) -> Option<usize> {
        let n = self.limits.index_len();
        let mut i = index(id, n);
        // The index always has an empty entry (more entries than records);
        // the bound only keeps a broken invariant from looping.
        for _ in 0..n {
            let e = self.index_get(i) as usize;
            if e == 0 {
                return None;
            }
            if self.slots[self.records() + e - 1].tag == id {
                return Some(e - 1);
            }
            i = next(i, n);
        }
        None
    }

    /// A free record for key `id`, entered in the index; `None` if every
    /// record is in use.
    fn add_key(&mut self, id: u64) -> Option<usize> {
        let r = if self.free_key != 0 {
            let r = (self.free_key - 1) as usize;
            self.free_key = self.slots[self.records() + r].latest;
            r
        } else if (self.keys_touched as usize) < self.limits.keys() {
            self.keys_touched += 1;
            (self.keys_touched - 1) as usize
        } else {
            return None;
        };
        let at = self.records() + r;
        self.slots[at] = Slot {
            tag: id,
            latest: 0,
            syn: 0,
        };
        let n = self.limits.index_len();
        let mut i = index(id, n);
        for _ in 0..n {
            if self.index_get(i) == 0 {
                break;
            }
            i = next(i, n);
        }
        self.index_set(i, r as u32 + 1);
        self.keys_used += 1;
        Some(r)
    }

    /// Record `r` counts one knock more (`by` 1) or less (`by` -1); a
    /// record that counts none is freed.
    fn count(&mut self, r: usize, by: i32) {
        let at = self.records() + r;
        let c = self.slots[at].syn.saturating_add_signed(by);
        self.slots[at].syn = c;
        if c == 0 {
            self.free_record(r);
        }
    }

    /// Takes record `r` out of the index (linear probing's deletion) and
    /// puts it on the free list.
    fn free_record(&mut self, r: usize) {
        let id = self.slots[self.records() + r].tag;
        let n = self.limits.index_len();
        let mut gap = index(id, n);
        for _ in 0..n {
            if self.index_get(gap) as usize == r + 1 {
                break;
            }
            gap = next(gap, n);
        }
        self.index_set(gap, 0);
        let mut j = gap;
        for _ in 0..n {
            j = next(j, n);
            let e = self.index_get(j) as usize;
            if e == 0 {
                break;
            }
            let home = index(self.slots[self.records() + e - 1].tag, n);
            if !stays(home, gap, j) {
                self.index_set(gap, e as u32);
                self.index_set(j, 0);
                gap = j;
            }
        }
        let at = self.records() + r;
        self.slots[at] = Slot {
            tag: 0,
            latest: self.free_key,
            syn: 0,
        };
        self.free_key = r as u32 + 1;
        self.keys_used -= 1;
    }

    /// Looks knock `p` of record `r` up in the pool (`r` is `None` for a
    /// key without knocks there, whose knock cannot be found).
    fn lookup(&self, r: Option<usize>, p: &Probe, now: u64, skew: Skew) -> Found {
        let n = self.limits.pool_slots();
        let mut i = index(p.fp, n);
        let mut reuse = None;
        // The pool is never full (`max < pool_slots`), so this ends at an
        // empty slot; the bound only keeps a broken invariant from looping.
        for _ in 0..n {
            let s = &self.slots[i];
            if s.is_empty() {
                break;
            }
            if r.is_some_and(|r| s.tag == p.fp << OWNER_BITS | r as u64) && s.latest == p.latest {
                return Found::At(i);
            }
            if reuse.is_none() && expired(s.latest, now, skew) {
                reuse = Some(i);
            }
            i = next(i, n);
        }
        Found::Absent { empty: i, reuse }
    }

    /// Stores knock `p`, new to the cache, of key `id` (whose record is
    /// `record`, if it has one; `found` is what [`Self::lookup`] found of
    /// it), if there is room; removes the expired knocks first if that
    /// makes room. Whether it was stored.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        id: u64,
        mut record: Option<usize>,
        p: &Probe,
        now: u64,
        skew: Skew,
        mut found: Found,
    ) -> bool {
        let mut purged = false;
        loop {
            let Found::Absent { empty, reuse } = found else {
                // Unreachable: the caller looked it up.
                return false;
            };
            let own = record.map_or(0, |r| self.slots[self.records() + r].syn);
            // A slot of an expired knock of the same key frees one of the
            // key's own; any other takes one more of its share.
            let own_reuse = reuse.is_some_and(|i| Some(self.slots[i].owner()) == record);
            let fits = (own_reuse || own < self.limits.key_max)
                && (reuse.is_some() || self.used < self.limits.max)
                && (record.is_some() || self.keys_used < self.limits.keys() as u32);
            if fits {
                let r = match record {
                    Some(r) => r,
                    // Room checked above.
                    None => match self.add_key(id) {
                        Some(r) => r,
                        None => return false,
                    },
                };
                let new = Slot {
                    tag: p.fp << OWNER_BITS | r as u64,
                    latest: p.latest,
                    syn: p.syn,
                };
                match reuse {
                    Some(i) => {
                        // An expired knock makes room: forget it.
                        let old = self.slots[i];
                        self.forgotten = self.forgotten.max(old.latest);
                        self.slots[i] = new;
                        self.count(r, 1);
                        self.count(old.owner(), -1);
                    }
                    None => {
                        self.slots[empty] = new;
                        self.used += 1;
                        self.count(r, 1);
                    }
                }
                return true;
            }
            let second = now as u32;
            if purged || self.purged == Some(second) {
                return false;
            }
            self.purged = Some(second);
            self.purges = self.purges.wrapping_add(1);
            purged = true;
            self.purge(now, skew);
            // The key's record may have gone with its expired knocks.
            record = self.find_key(id);
            found = self.lookup(record, p, now, skew);
        }
    }

    /// Removes the expired knocks among the next [`SWEEP_SLOTS`] slots of
    /// the pool, going round it: each new knock pays for a little of the
    /// removal, so that at a steady rate expired knocks leave the pool
    /// within `pool_slots / SWEEP_SLOTS` knocks and the pool rarely reaches
    /// its bound, where [`Self::purge`] scans all of it at once.
    fn sweep(&mut self, now: u64, skew: Skew) {
        let n = self.limits.pool_slots();
        for _ in 0..SWEEP_SLOTS {
            let i = self.cursor;
            let s = self.slots[i];
            if !s.is_empty() && expired(s.latest, now, skew) {
                // The next knock of the run may move into `i`: look again.
                self.drop_expired(i);
            } else {
                self.cursor = next(i, n);
            }
        }
    }

    /// Removes the expired knocks from the pool, keeping every live one
    /// findable: linear probing's deletion, which moves later knocks of the
    /// same run back into the gap.
    fn purge(&mut self, now: u64, skew: Skew) {
        let n = self.limits.pool_slots();
        for i in 0..n {
            while !self.slots[i].is_empty() && expired(self.slots[i].latest, now, skew) {
                self.drop_expired(i);
            }
        }
    }

    /// Drops the expired knock in pool slot `i` ([`Self::remove`]): counts
    /// it out of the pool and its key's record, and remembers that a knock
    /// this new was forgotten.
    fn drop_expired(&mut self, i: usize) {
        let old = self.slots[i];
        self.forgotten = self.forgotten.max(old.latest);
        self.remove(i);
        self.used -= 1;
        self.count(old.owner(), -1);
    }

    /// Empties pool slot `gap`, moving back the knocks after it (up to the
    /// next empty slot) that would no longer be found.
    fn remove(&mut self, mut gap: usize) {
        let n = self.limits.pool_slots();
        self.slots[gap] = Slot::EMPTY;
        let mut j = gap;
        for _ in 0..n {
            j = next(j, n);
            let s = self.slots[j];
            if s.is_empty() {
                return;
            }
            if !stays(s.home(n), gap, j) {
                self.slots[gap] = s;
                self.slots[j] = Slot::EMPTY;
                gap = j;
            }
        }
    }

    /// `latest` of the newest knock the cache dropped (0 if none): unknown
    /// knocks no newer are refused.
    pub fn forgotten(&self) -> u32 {
        self.forgotten
    }

    /// How often the pool was scanned whole for expired knocks, at a bound.
    pub fn purges(&self) -> u64 {
        self.purges
    }

    /// Knocks refused so far for want of room ([`ReplayVerdict::Full`]).
    pub fn full(&self) -> u64 {
        self.full
    }

    /// Number of knocks that still verify at `now` with `skew`.
    pub fn live(&self, now: u64, skew: Skew) -> usize {
        self.slots[..self.limits.pool_slots()]
            .iter()
            .filter(|s| !s.is_empty() && !expired(s.latest, now, skew))
            .count()
    }

    /// Number of keys with knocks in the pool (live, or expired but not yet
    /// removed).
    pub fn keys(&self) -> usize {
        self.keys_used as usize
    }

    /// Number of slots of storage.
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
        let mut dropped = 0;
        to.forgotten = to.forgotten.max(self.forgotten);
        to.full = self.full;
        for i in 0..self.limits.pool_slots() {
            let s = self.slots[i];
            if s.is_empty() {
                continue;
            }
            let id = self.slots[self.records() + s.owner()].tag;
            let p = Probe {
                fp: s.tag >> OWNER_BITS,
                latest: s.latest,
                syn: s.syn,
            };
            let kept = !expired(s.latest, now, skew) && to.place(id, &p, now, skew);
            if !kept {
                to.forgotten = to.forgotten.max(s.latest);
                dropped += 1;
            }
        }
        dropped
    }

    /// Stores a knock moved from another cache (so new to this one), if
    /// there is room.
    fn place(&mut self, id: u64, p: &Probe, now: u64, skew: Skew) -> bool {
        let record = self.find_key(id);
        let found = self.lookup(record, p, now, skew);
        self.store(id, record, p, now, skew, found)
    }

    /// Gives the storage back.
    pub fn into_inner(self) -> S {
        self.slots
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

    /// Checks every invariant of the type and of its storage: the counts,
    /// the records, the key index, and that every knock is found from
    /// where its probe sequence starts.
    fn check(c: &Cache) {
        let n = c.limits.pool_slots();
        let pool = &c.slots[..n];
        let used = pool.iter().filter(|s| !s.is_empty()).count();
        assert_eq!(used, c.used as usize, "used");
        assert!(used <= c.limits.max as usize);
        let keys = c.limits.keys();
        let mut counts = vec![0u32; keys];
        for (i, s) in pool.iter().enumerate() {
            if s.is_empty() {
                continue;
            }
            assert!(s.owner() < keys, "slot {i} names record {}", s.owner());
            counts[s.owner()] += 1;
            // Reachable from its home without crossing an empty slot.
            let mut j = s.home(n);
            while j != i {
                assert!(!pool[j].is_empty(), "slot {i} cut off at {j}");
                j = next(j, n);
            }
        }
        let mut in_use = 0;
        for (r, &count) in counts.iter().enumerate() {
            let rec = c.slots[n + r];
            assert_eq!(rec.tag != 0, count != 0, "record {r} with {count} knocks");
            if rec.tag != 0 {
                in_use += 1;
                assert_eq!(rec.syn, count, "record {r}'s count");
                assert_eq!(c.find_key(rec.tag), Some(r), "record {r} indexed");
                let entries = (0..c.limits.index_len())
                    .filter(|&i| c.index_get(i) as usize == r + 1)
                    .count();
                assert_eq!(entries, 1, "record {r}'s index entries");
            }
        }
        assert_eq!(in_use, c.keys_used, "keys_used");
        let indexed = (0..c.limits.index_len())
            .filter(|&i| c.index_get(i) != 0)
            .count();
        assert_eq!(indexed, in_use as usize, "index entries");
        assert!(c.cursor < n);
    }

    /// Keys of any number, knocks at any times, the skew changed, the
    /// limits changed: the counts, the records and the index stay exact
    /// after every step.
    #[test]
    fn invariants_hold_under_churn() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..40u64 {
            let max = 16 * (1 + round % 4) as u32;
            let mut c = cache(max, 16);
            let mut now = 20_000_000 + round * 1000;
            let mut n = 0u64;
            for step in 0..600u64 {
                now += xorshift(&mut x) % 3;
                let s = Skew::new(1 + xorshift(&mut x) % SKEW).unwrap();
                let kb = (xorshift(&mut x) % 24) as u8;
                let t = now + s.secs() - xorshift(&mut x) % (2 * s.secs() + 1);
                n += 1;
                let i = if xorshift(&mut x) % 4 == 0 { n / 2 } else { n };
                c.check_and_insert(&Ref, &key(kb), &i.to_le_bytes(), &src(A, 1, 1), t, now, s);
                check(&c);
                if step % 150 == 149 {
                    let m = 16 * (1 + xorshift(&mut x) % 4) as u32;
                    let mut to = cache(m, 16);
                    c.move_into(&mut to, now, s);
                    check(&to);
                    c = to;
                }
            }
        }
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
        assert_eq!((l.pool_slots(), l.keys(), l.index_len()), (1334, 250, 334));
        assert_eq!(l.slots(), 1334 + 250 + 84);
        // At most MAX_REMEMBERED_KEYS keys.
        let l = ReplayLimits::new(MAX_ENTRIES, MIN_KEY_ENTRIES).unwrap();
        assert_eq!(l.keys(), MAX_REMEMBERED_KEYS as usize);
        // The smallest cache still has room for several keys.
        let l = ReplayLimits::new(MIN_KEY_ENTRIES, MIN_KEY_ENTRIES).unwrap();
        assert_eq!(l.keys(), 4);
        // The default: 16384 knocks of up to 4096 keys, 2048 of one key;
        // 26.7 bytes per knock of the bound.
        let d = ReplayLimits::DEFAULT;
        assert_eq!(
            (d.pool_slots(), d.keys(), d.index_len()),
            (21846, 4096, 5462)
        );
        assert_eq!(d.slots() * core::mem::size_of::<Slot>(), 436_928);
        // The storage must fit the limits.
        let l = ReplayLimits::new(64, 16).unwrap();
        assert!(ReplayCache::new(vec![Slot::EMPTY; l.slots() - 1], l, [0; 16]).is_err());
        let c = ReplayCache::new(vec![Slot::EMPTY; l.slots()], l, [0; 16]).unwrap();
        assert_eq!(c.capacity(), 86 + 16 + 6);
        assert_eq!(c.into_inner().len(), 108);
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

    /// At a steady rate, with room for twice the knocks that verify at
    /// once, each new knock's share of the sweep removes the expired ones
    /// before the pool reaches its bound: the whole pool is never scanned
    /// in the packet path (without the sweep it was, every 160 s here).
    #[test]
    fn steady_rate_needs_no_full_scan() {
        const RATE: u64 = 50;
        let live_max = (RATE * (SKEW + 1)) as u32;
        let mut c = cache(2 * live_max, 2 * live_max);
        let k = key(5);
        let mut x = 3u64;
        let mut n = 0u64;
        for now in 13_000_000..13_000_000 + 10 * SKEW {
            for _ in 0..RATE {
                // Clients' clocks a few seconds off.
                let t = now + 5 - xorshift(&mut x) % 10;
                n += 1;
                assert_eq!(
                    knock(&mut c, &k, n, &src(A, 1, 1), t, now),
                    ReplayVerdict::Fresh
                );
            }
        }
        assert_eq!(c.purges(), 0);
        assert_eq!(c.full(), 0);
    }

    /// H1: a flood of valid knocks made with key B, at any times the window
    /// allows (the edges included), refuses none of key A's knocks, and
    /// takes none of A's share.
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

    /// The defect of the cache of one table per key (`max / key_max`
    /// tables, 2 here): a third key's valid knock was refused while the
    /// first two had knocks to remember. Now every key up to
    /// `max / KNOCKS_PER_KEY` has room, as long as the knocks fit `max`.
    #[test]
    fn more_keys_than_max_over_key_max() {
        let mut c = cache(2 * 16, 16);
        let now = 5_000_000;
        for kb in 1..=8u8 {
            assert_eq!(
                knock(&mut c, &key(kb), 1, &src(A, 1, 1), now, now),
                ReplayVerdict::Fresh,
                "key {kb}"
            );
        }
        assert_eq!(c.keys(), 8);
        // A key's share is still key_max: key 1 takes 15 more, then no more.
        for i in 2..=16 {
            assert_eq!(
                knock(&mut c, &key(1), i, &src(A, 1, 1), now, now),
                ReplayVerdict::Fresh
            );
        }
        assert_eq!(
            knock(&mut c, &key(1), 17, &src(A, 1, 1), now, now),
            ReplayVerdict::Full
        );
        // Every knock is still known.
        for kb in 1..=8u8 {
            assert_eq!(
                knock(&mut c, &key(kb), 1, &src(B, 1, 1), now, now + 1),
                ReplayVerdict::Replay
            );
        }
    }

    /// With more keys knocking at once than there are key records, a new
    /// key is refused (fail closed) until some key's knocks have all
    /// expired; keys holding a record are not affected.
    #[test]
    fn key_records_run_out_then_come_back() {
        let mut c = cache(16, 16);
        assert_eq!(c.limits().keys(), 4);
        let now = 5_000_000;
        let s = src(A, 1, 1);
        assert_eq!(
            knock(&mut c, &key(1), 1, &s, now, now),
            ReplayVerdict::Fresh
        );
        for kb in 2..=4u8 {
            assert_eq!(
                knock(&mut c, &key(kb), 1, &s, now + SKEW, now),
                ReplayVerdict::Fresh
            );
        }
        assert_eq!(knock(&mut c, &key(5), 1, &s, now, now), ReplayVerdict::Full);
        assert_eq!(
            knock(&mut c, &key(1), 2, &s, now, now),
            ReplayVerdict::Fresh
        );
        // Key 1's knocks expire: its record goes to key 5.
        let later = now + SKEW + 1;
        assert_eq!(
            knock(&mut c, &key(5), 1, &s, later, later),
            ReplayVerdict::Fresh
        );
        assert_eq!(c.keys(), 4);
        assert_eq!(
            knock(&mut c, &key(1), 3, &s, later, later),
            ReplayVerdict::Full
        );
        // The other keys' knocks still verify and are still refused.
        for kb in 2..=4u8 {
            assert_eq!(
                knock(&mut c, &key(kb), 1, &src(B, 1, 1), now + SKEW, later),
                ReplayVerdict::Replay
            );
        }
        assert_eq!(c.full(), 2);
    }

    /// Keys come and go (their knocks expire, their records are freed and
    /// reused, the key index shrinks and grows): every knock remembered is
    /// found again after every step, and a key's records never leak.
    #[test]
    fn keys_come_and_go() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut c = cache(4 * 64, 64);
        let keys = c.limits().keys();
        let mut live: Vec<(u8, u64, u64)> = vec![];
        let mut n = 0;
        for now in 12_000_000..12_000_000 + 4 * SKEW {
            live.retain(|&(_, _, t)| t + SKEW >= now);
            for _ in 0..3 {
                let kb = (xorshift(&mut x) % 200) as u8;
                let t = now - xorshift(&mut x) % 30;
                n += 1;
                match knock(&mut c, &key(kb), n, &src(A, 1, 1), t, now) {
                    ReplayVerdict::Fresh => live.push((kb, n, t)),
                    ReplayVerdict::Full => {
                        let mut distinct: Vec<u8> = live.iter().map(|k| k.0).collect();
                        distinct.sort_unstable();
                        distinct.dedup();
                        assert!(
                            distinct.len() >= keys && !distinct.contains(&kb)
                                || live.len() >= 4 * 64,
                            "refused with {} keys, {} knocks",
                            distinct.len(),
                            live.len()
                        );
                    }
                    v => panic!("{v:?}"),
                }
            }
            for &(kb, i, t) in &live {
                assert_eq!(
                    knock(&mut c, &key(kb), i, &src(B, 2, 2), t, now),
                    ReplayVerdict::Replay
                );
            }
            assert!(c.keys() <= keys);
        }
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

        // Dropped, as its knocks had all expired and the key records ran
        // out (key 5 takes key 1's): the cache remembers that it forgot.
        let mut c = cache(16, 16);
        assert_eq!(
            knock(&mut c, &k, 1, &src(A, 1, 1), t, t),
            ReplayVerdict::Fresh
        );
        for i in 2..=16 {
            assert_eq!(
                knock(&mut c, &key(i as u8), i, &src(A, 1, 1), later, later),
                if i <= 5 {
                    ReplayVerdict::Fresh
                } else {
                    ReplayVerdict::Full
                }
            );
        }
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
    /// caches, knocks expiring in random order, every remembered knock
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
        // Smaller: 32 knocks kept, 16 of each of two keys (the per-key
        // bound), then the cache is full; the rest dropped, yet refused.
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
