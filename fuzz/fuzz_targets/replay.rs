// SPDX-License-Identifier: GPL-2.0

//! `ReplayCache::check_and_insert` over sequences of knocks, against a
//! plain model of the set-associative cache (one `Vec` per bucket), and the
//! property it exists for: while a knock it accepted still verifies, the
//! same knock is never accepted as new again, and only its own sender gets
//! it through as a retransmission.
//!
//! A knock's MAC fixes its time (the MAC covers it), so each knock of the
//! pool gets its time when first sent and keeps it. The clock only moves
//! forward, and a knock is only offered while it is within the skew, as
//! `verify` would let it through.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{ReplayCache, ReplayVerdict, Skew, Slot, WAYS};

#[derive(Arbitrary, Debug)]
struct Input {
    buckets: u8,
    skew: u16,
    start: u64,
    /// Pool of MACs the knocks are drawn from.
    macs: [u64; 8],
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct Op {
    /// Seconds the clock moves on first.
    advance: u8,
    /// Which knock of the pool.
    knock: u8,
    /// Client time minus now, for a knock sent the first time.
    age: i16,
    /// Which of four sources sends it.
    source: u8,
}

/// Source address and port.
type Source = ([u8; 16], u16);

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: [u8; 8],
    source: Source,
    expiry: u64,
}

/// The cache as replay.rs describes it, written plainly: each bucket has
/// `WAYS` places; a new knock takes the first place that is empty or
/// expired, else evicts the first of those that expire first.
struct Model {
    buckets: Vec<[Option<Entry>; WAYS]>,
    floors: Vec<u64>,
    floor: u64,
    evictions: u64,
}

impl Model {
    fn check_and_insert(
        &mut self,
        mac: [u8; 8],
        source: Source,
        t: u64,
        now: u64,
        skew: u64,
    ) -> ReplayVerdict {
        let expiry = t.saturating_add(skew);
        let b = (u64::from_le_bytes(mac) % self.buckets.len() as u64) as usize;
        let bucket = &mut self.buckets[b];
        for e in bucket.iter_mut() {
            if e.is_some_and(|e| e.expiry < now) {
                *e = None;
            }
        }
        for e in bucket.iter().flatten() {
            if e.mac == mac {
                return if e.source == source {
                    ReplayVerdict::Retransmit
                } else {
                    ReplayVerdict::Replay
                };
            }
        }
        // The floor is kept in 32 bits: past u32::MAX it refuses all.
        if expiry <= self.floors[b] || self.floors[b] >= u64::from(u32::MAX) {
            return ReplayVerdict::Replay;
        }
        let place = match bucket.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let mut oldest = 0;
                for i in 1..WAYS {
                    if bucket[i].unwrap().expiry < bucket[oldest].unwrap().expiry {
                        oldest = i;
                    }
                }
                let gone = bucket[oldest].unwrap().expiry;
                self.floors[b] = self.floors[b].max(gone);
                self.floor = self.floor.max(gone);
                self.evictions += 1;
                oldest
            }
        };
        bucket[place] = Some(Entry {
            mac,
            source,
            expiry,
        });
        ReplayVerdict::Fresh
    }

    fn live(&self, now: u64) -> usize {
        self.buckets
            .iter()
            .flatten()
            .flatten()
            .filter(|e| e.expiry >= now)
            .count()
    }
}

fuzz_target!(|inp: Input| {
    let buckets = 1 + usize::from(inp.buckets % 8);
    let skew = 1 + u64::from(inp.skew) % 3600;
    let mut slots = vec![Slot::EMPTY; buckets * WAYS];
    let mut cache = ReplayCache::new(&mut slots[..]).unwrap();
    let mut model = Model {
        buckets: vec![[None; WAYS]; buckets],
        floors: vec![0; buckets],
        floor: 0,
        evictions: 0,
    };
    // Per knock of the pool: its time, and the source it was last
    // accepted from with the expiry of that acceptance.
    let mut time: [Option<u64>; 8] = [None; 8];
    let mut accepted: [Option<(Source, u64)>; 8] = [None; 8];
    let mut now = inp.start;
    for op in inp.ops.iter().take(256) {
        now = now.saturating_add(u64::from(op.advance));
        let k = usize::from(op.knock % 8);
        // Two knocks of the pool with the same MAC are the same knock.
        let k = inp.macs.iter().position(|&m| m == inp.macs[k]).unwrap();
        let mac = inp.macs[k].to_le_bytes();
        let t = *time[k]
            .get_or_insert_with(|| now.wrapping_add_signed(i64::from(op.age) % (skew as i64 + 1)));
        if (t as i128 - now as i128).abs() > skew as i128 {
            continue; // verify says Stale
        }
        let mut addr = [0u8; 16];
        addr[15] = op.source % 2;
        let source = (addr, 1000 + u16::from(op.source / 2 % 2));

        let got =
            cache.check_and_insert(&mac, &source.0, source.1, t, now, Skew::new(skew).unwrap());
        let want = model.check_and_insert(mac, source, t, now, skew);
        assert_eq!(got, want, "knock {k} t {t} now {now}");

        if let Some((from, expiry)) = accepted[k] {
            if now <= expiry {
                assert_ne!(
                    got,
                    ReplayVerdict::Fresh,
                    "knock {k} accepted twice while valid"
                );
                if got == ReplayVerdict::Retransmit {
                    assert_eq!(from, source, "retransmit from another source");
                }
            }
        }
        if got == ReplayVerdict::Fresh {
            accepted[k] = Some((source, t.saturating_add(skew)));
        }
        assert_eq!(cache.floor(), model.floor);
        assert_eq!(cache.evictions(), model.evictions);
        assert_eq!(cache.live(now), model.live(now));
        assert!(cache.live(now) <= cache.capacity());
    }
});
