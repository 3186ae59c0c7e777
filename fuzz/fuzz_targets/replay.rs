// SPDX-License-Identifier: GPL-2.0

//! `ReplayCache::check_and_insert` over sequences of knocks, against a
//! plain model of the set-associative cache (one `Vec` per bucket), and the
//! property it exists for: a knock it accepted is never accepted as new
//! again, whatever the skew does meanwhile, and is accepted again at all
//! only in a copy of its own SYN (same source and sequence number) within
//! `DUPLICATE_SECS` of the first sighting.
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
    ReplayCache, ReplayVerdict, Skew, Slot, SynSource, DUPLICATE_SECS, MAX_SKEW_SECS, WAYS,
};

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
    /// Which of eight SYNs (two addresses, two ports, two sequence numbers)
    /// carries it.
    source: u8,
    /// If not 0: the skew changes to `1 + new_skew % 3600` first.
    new_skew: u16,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    mac: [u8; 8],
    source: SynSource,
    seen: u64,
    /// `t + MAX_SKEW_SECS`.
    latest: u64,
}

/// The cache as replay.rs describes it, written plainly: each bucket has
/// `WAYS` places; a new knock takes the first empty place, else the first
/// of the free ones (knock no longer verifies) with the oldest time, else
/// evicts the first of the live ones with the oldest time. Overwriting a
/// knock raises the bucket's floor to its time.
struct Model {
    buckets: Vec<[Option<Entry>; WAYS]>,
    floors: Vec<u64>,
    floor: u64,
    evictions: u64,
}

const MAX: u64 = MAX_SKEW_SECS as u64;

fn live(e: &Entry, now: u64, skew: u64) -> bool {
    e.latest - MAX + skew >= now
}

impl Model {
    fn check_and_insert(
        &mut self,
        mac: [u8; 8],
        source: SynSource,
        t: u64,
        now: u64,
        skew: u64,
    ) -> ReplayVerdict {
        let latest = t.saturating_add(MAX);
        if latest > u64::from(u32::MAX) {
            return ReplayVerdict::Replay;
        }
        let b = (u64::from_le_bytes(mac) % self.buckets.len() as u64) as usize;
        let bucket = &mut self.buckets[b];
        for e in bucket.iter().flatten() {
            if e.mac == mac && live(e, now, skew) {
                return if e.source == source && now - e.seen <= DUPLICATE_SECS {
                    ReplayVerdict::Duplicate
                } else {
                    ReplayVerdict::Replay
                };
            }
        }
        if latest <= self.floors[b] {
            return ReplayVerdict::Replay;
        }
        let place = match bucket.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                let key = |e: &Entry| (live(e, now, skew), e.latest);
                let mut best = 0;
                for i in 1..WAYS {
                    if key(&bucket[i].unwrap()) < key(&bucket[best].unwrap()) {
                        best = i;
                    }
                }
                let gone = bucket[best].unwrap();
                self.floors[b] = self.floors[b].max(gone.latest);
                if live(&gone, now, skew) {
                    self.floor = self.floor.max(gone.latest);
                    self.evictions += 1;
                }
                best
            }
        };
        bucket[place] = Some(Entry {
            mac,
            source,
            seen: now,
            latest,
        });
        ReplayVerdict::Fresh
    }

    fn live(&self, now: u64, skew: u64) -> usize {
        self.buckets
            .iter()
            .flatten()
            .flatten()
            .filter(|e| live(e, now, skew))
            .count()
    }
}

fuzz_target!(|inp: Input| {
    let buckets = 1 + usize::from(inp.buckets % 8);
    let mut skew = 1 + u64::from(inp.skew) % MAX;
    let mut slots = vec![Slot::EMPTY; buckets * WAYS];
    let mut cache = ReplayCache::new(&mut slots[..]).unwrap();
    let mut model = Model {
        buckets: vec![[None; WAYS]; buckets],
        floors: vec![0; buckets],
        floor: 0,
        evictions: 0,
    };
    // Per knock of the pool: its time, and the SYN and second of its
    // acceptance.
    let mut time: [Option<u64>; 8] = [None; 8];
    let mut accepted: [Option<(SynSource, u64)>; 8] = [None; 8];
    let mut now = inp.start;
    for op in inp.ops.iter().take(256) {
        now = now.saturating_add(u64::from(op.advance));
        if op.new_skew != 0 {
            skew = 1 + u64::from(op.new_skew) % MAX;
        }
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
        let source = SynSource {
            addr,
            port: 1000 + u16::from(op.source / 2 % 2),
            isn: u32::from(op.source / 4 % 2),
        };
        let s = Skew::new(skew).unwrap();

        let got = cache.check_and_insert(&mac, &source, t, now, s);
        let want = model.check_and_insert(mac, source, t, now, skew);
        assert_eq!(got, want, "knock {k} t {t} now {now} skew {skew}");

        if let Some((from, seen)) = accepted[k] {
            assert_ne!(got, ReplayVerdict::Fresh, "knock {k} accepted twice");
            if got == ReplayVerdict::Duplicate {
                assert_eq!(from, source, "duplicate of another SYN");
                assert!(now - seen <= DUPLICATE_SECS, "duplicate too late");
            }
        }
        if got == ReplayVerdict::Fresh {
            accepted[k] = Some((source, now));
        }
        assert_eq!(cache.floor(), model.floor);
        assert_eq!(cache.evictions(), model.evictions);
        assert_eq!(cache.live(now, s), model.live(now, skew));
        assert!(cache.live(now, s) <= cache.capacity());
    }
});
