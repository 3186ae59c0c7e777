// SPDX-License-Identifier: GPL-2.0

//! The SYN-cookie admission table (`Admitted`): sequences of inserts and
//! lookups against a plain model (one array of optional entries per
//! bucket), and its promise: a peer is admitted right after its knock, and
//! never a peer whose tag (bucket and high half) was not inserted within
//! the last `ADMIT_SECS`.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::sync::atomic::AtomicU64;
use tcp_stealth_fuzz::proto::{Admitted, ADMIT_SECS, ADMIT_WAYS};

#[derive(Arbitrary, Debug)]
struct Input {
    buckets: u8,
    start: u32,
    /// Tags the operations draw from.
    tags: [u64; 6],
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
struct Op {
    advance: u8,
    tag: u8,
    insert: bool,
}

/// Per bucket, `ADMIT_WAYS` places of (high half of the tag, until).
struct Model {
    buckets: Vec<[Option<(u32, u32)>; ADMIT_WAYS]>,
}

impl Model {
    fn bucket(&mut self, tag: u64) -> &mut [Option<(u32, u32)>; ADMIT_WAYS] {
        let n = self.buckets.len();
        &mut self.buckets[(tag as u32) as usize % n]
    }

    /// The peer's own place if it has one, else the first of those that
    /// expire first (an empty place counts as expired at 0).
    fn insert(&mut self, tag: u64, now: u32) {
        let high = (tag >> 32) as u32;
        let until = now.saturating_add(ADMIT_SECS);
        let b = self.bucket(tag);
        let place = match b.iter().position(|e| e.is_some_and(|(h, _)| h == high)) {
            Some(i) => i,
            None => {
                let mut first = 0;
                for i in 1..ADMIT_WAYS {
                    if b[i].map_or(0, |e| e.1) < b[first].map_or(0, |e| e.1) {
                        first = i;
                    }
                }
                first
            }
        };
        b[place] = Some((high, until));
    }

    fn contains(&mut self, tag: u64, now: u32) -> bool {
        let high = (tag >> 32) as u32;
        self.bucket(tag)
            .iter()
            .any(|e| e.is_some_and(|(h, until)| h == high && until >= now))
    }
}

fuzz_target!(|inp: Input| {
    let buckets = 1 + usize::from(inp.buckets % 8);
    let slots: Vec<AtomicU64> = (0..buckets * ADMIT_WAYS)
        .map(|_| AtomicU64::new(0))
        .collect();
    let table = Admitted::new(slots).unwrap();
    let mut model = Model {
        buckets: vec![[None; ADMIT_WAYS]; buckets],
    };
    // Per tag of the pool: when it was last admitted.
    let mut admitted: [Option<u32>; 6] = [None; 6];
    let mut now = inp.start;
    for op in inp.ops.iter().take(256) {
        now = now.saturating_add(u32::from(op.advance));
        let k = usize::from(op.tag) % 6;
        let tag = inp.tags[k];
        if op.insert {
            table.insert(tag, now);
            model.insert(tag, now);
            admitted[k] = Some(now);
            // Admitted right away.
            assert!(table.contains(tag, now));
        }
        let got = table.contains(tag, now);
        assert_eq!(got, model.contains(tag, now), "tag {tag:#x} now {now}");
        // Never a peer that was not admitted or whose window has passed.
        if got {
            let same = |t: u64| {
                (t >> 32, t as u32 as usize % buckets) == (tag >> 32, tag as u32 as usize % buckets)
            };
            assert!((0..6).any(|j| same(inp.tags[j])
                && admitted[j]
                    .is_some_and(|at| u64::from(now) <= u64::from(at) + u64::from(ADMIT_SECS))));
        }
    }
});
