// SPDX-License-Identifier: GPL-2.0

//! `ReplayCache::check_and_insert` over sequences of knocks of a few keys,
//! against a plain model of what the cache promises (docs/PROTOCOL.md,
//! section 8), whatever its pool looks like inside:
//!
//! - a knock it accepted is never accepted as new again, whatever the skew
//!   does meanwhile, and is accepted again at all only in a copy of its own
//!   SYN (same source and sequence number) within `DUPLICATE_SECS` of the
//!   first sighting;
//! - a knock never accepted is refused as a replay only if it is no newer
//!   than some accepted knock that had expired (the cache may have dropped
//!   that one, and must then refuse every knock it cannot vouch for);
//! - a knock is refused for want of room (`Full`) only if its own key has
//!   `key_max` knocks that still verify, or the cache `max`, or its key has
//!   none and as many other keys as there are key records have knocks that
//!   still verify: one key's knocks never crowd out another's.
//!
//! A knock's MAC fixes its time (the MAC covers it), so each knock of the
//! pool gets its time when first sent and keeps it. The clock only moves
//! forward, the skew (`net.tcp_stealth.skew_secs`) may change between
//! knocks, and a knock is only offered while it is within the skew of the
//! moment, as `verify` would let it through.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{
    KnockKey, ReplayCache, ReplayLimits, ReplayVerdict, Skew, Slot, SynSource, DUPLICATE_SECS,
    MAX_SKEW_SECS, MIN_KEY_ENTRIES,
};
use tcp_stealth_fuzz::Ref;

#[derive(Arbitrary, Debug)]
struct Input {
    /// `max`: KEY_MAX * (1 + size % 3).
    size: u8,
    /// Keys knocking: 1 + keys % 16 (more than there are key records).
    keys: u8,
    skew: u16,
    start: u64,
    /// Seed of the pool's MACs.
    seed: u64,
    hash_key: [u8; 16],
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct Op {
    /// Seconds the clock moves on first.
    advance: u8,
    /// Which knock of the pool (its key: `knock % keys`).
    knock: u8,
    /// Client time minus now, for a knock sent the first time.
    age: i16,
    /// Which of eight SYNs (two addresses, two ports, two sequence numbers)
    /// carries it.
    source: u8,
    /// If not 0: the skew changes to `1 + new_skew % 3600` first.
    new_skew: u16,
}

const MAX: u64 = MAX_SKEW_SECS as u64;
const KEY_MAX: u32 = MIN_KEY_ENTRIES;

fn expired(t: u64, now: u64, skew: u64) -> bool {
    u128::from(t) + u128::from(skew) < u128::from(now)
}

/// What the model knows of a knock of the pool.
#[derive(Clone, Copy, Default)]
struct Known {
    /// Its time, fixed when first sent.
    t: Option<u64>,
    /// The SYN and second of its acceptance.
    accepted: Option<(SynSource, u64)>,
}

fuzz_target!(|inp: Input| {
    let max = KEY_MAX * (1 + u32::from(inp.size % 3));
    let nkeys = 1 + usize::from(inp.keys % 16);
    let limits = ReplayLimits::new(max, KEY_MAX).unwrap();
    let records = limits.keys();
    let mut slots = vec![Slot::EMPTY; limits.slots()];
    let mut cache = ReplayCache::new(&mut slots[..], limits, inp.hash_key).unwrap();
    let keys: Vec<KnockKey> = (0..nkeys)
        .map(|k| KnockKey::from_bytes(&[k as u8 + 1; 32]))
        .collect();
    let mut skew = 1 + u64::from(inp.skew) % MAX;
    let mut known = [Known::default(); 256];
    // `t + MAX` of the newest accepted knock seen expired so far.
    let mut expired_bound = 0u64;
    // The second in which the skew was last lowered.
    let mut lowered = None;
    let mut now = inp.start;
    for op in inp.ops.iter().take(512) {
        now = now.saturating_add(u64::from(op.advance));
        if op.new_skew != 0 {
            let new = 1 + u64::from(op.new_skew) % MAX;
            if new < skew {
                lowered = Some(now);
            }
            skew = new;
        }
        for k in known.iter() {
            if let (Some(t), Some(_)) = (k.t, k.accepted) {
                if expired(t, now, skew) {
                    expired_bound = expired_bound.max(t.saturating_add(MAX));
                }
            }
        }
        let i = usize::from(op.knock);
        let key = i % nkeys;
        let mac = (inp.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes();
        let t = *known[i]
            .t
            .get_or_insert_with(|| now.wrapping_add_signed(i64::from(op.age) % (skew as i64 + 1)));
        if (t as i128 - now as i128).abs() > skew as i128 {
            continue; // verify says Stale
        }
        let mut addr = [0u8; 16];
        addr[15] = op.source % 2;
        let source = SynSource {
            addr,
            port: 1000 + u16::from(op.source / 2 % 2),
            isn: u32::from(op.source / 4 % 2),
        };
        let s = Skew::new(skew).unwrap();

        let got = cache.check_and_insert(&Ref, &keys[key], &mac, &source, t, now, s);

        // Knocks of each key that still verify.
        let live = |known: &[Known; 256], k: usize| {
            (0..256)
                .filter(|&j| j % nkeys == k)
                .filter(|&j| known[j].accepted.is_some())
                .filter(|&j| known[j].t.is_some_and(|t| !expired(t, now, skew)))
                .count()
        };
        match got {
            ReplayVerdict::Fresh => {
                assert!(known[i].accepted.is_none(), "knock {i} accepted twice");
                known[i].accepted = Some((source, now));
            }
            ReplayVerdict::Duplicate => {
                let (from, seen) = known[i].accepted.expect("duplicate of an unknown knock");
                assert_eq!(from, source, "duplicate of another SYN");
                assert!(now - seen <= DUPLICATE_SECS, "duplicate too late");
            }
            ReplayVerdict::Replay => {
                let latest = t.saturating_add(MAX);
                if known[i].accepted.is_none() && latest <= u64::from(u32::MAX) {
                    assert!(
                        latest <= expired_bound,
                        "new knock {i} (t {t}) refused as a replay at {now}, skew {skew}"
                    );
                }
            }
            ReplayVerdict::Full => {
                assert!(known[i].accepted.is_none(), "known knock {i} said full");
                if lowered != Some(now) {
                    let own = live(&known, key);
                    let others = (0..nkeys)
                        .filter(|&k| k != key && live(&known, k) > 0)
                        .count();
                    let total: usize = (0..nkeys).map(|k| live(&known, k)).sum();
                    // (The model may count knocks the cache dropped when
                    // they expired under a smaller skew: it only counts
                    // more than the cache holds. So a key the model has
                    // live knocks of may have no record in the cache: with
                    // `others >= records` it has none.)
                    assert!(
                        own >= KEY_MAX as usize || total >= max as usize || others >= records,
                        "knock {i} of key {key} refused for room: own {own} live, {total} in all, {others} other keys, {records} records"
                    );
                }
            }
        }
        let total: usize = (0..nkeys).map(|k| live(&known, k)).sum();
        assert!(cache.live(now, s) <= total);
        assert!(cache.keys() <= records);
    }
});
