// SPDX-License-Identifier: GPL-2.0

//! Host microbenchmarks of the pure protocol logic: `cargo bench -p
//! tcp-stealth-proto` (divan). The cryptography is the reference crates'
//! (`siphasher`, `blake2`), not the kernel's, so these time the logic around
//! it on the host CPU; the in-kernel costs come from `make bench`.

use divan::{black_box, Bencher};
use tcp_stealth_proto::reference::Ref;
use tcp_stealth_proto::{
    build, find_knock, verify, FindResult, Knock, KnockKey, ReplayCache, ReplayLimits, Skew, Slot,
    SynSource,
};

fn main() {
    divan::main();
}

const NOW: u64 = 1_700_000_000;
const DPORT: u16 = 22;

fn keys() -> Vec<KnockKey> {
    (0u8..4)
        .map(|k| KnockKey::derive(&[b'k', k], &Ref).expect("valid secret"))
        .collect()
}

fn knock() -> [u8; 20] {
    build(&Ref, &keys()[0], DPORT, NOW, [1, 2, 3, 4, 5, 6], None)
}

/// A SYN's option area as Linux sends it with a knock: MSS, SACK-permitted,
/// timestamps, window scale (20 bytes), then the knock.
fn syn_options() -> [u8; 40] {
    let mut o = [0u8; 40];
    o[..20].copy_from_slice(&[
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7,
    ]);
    o[20..].copy_from_slice(&knock());
    o
}

#[divan::bench]
fn find_knock_in_syn_options(b: Bencher<'_, '_>) {
    let opts = syn_options();
    b.bench(|| matches!(find_knock(black_box(&opts)), FindResult::Found { .. }));
}

#[divan::bench]
fn parse_option(b: Bencher<'_, '_>) {
    let opt = knock();
    b.bench(|| Knock::parse(black_box(&opt)));
}

#[divan::bench]
fn encode_option(b: Bencher<'_, '_>) {
    let k = Knock::parse(&knock()).expect("valid knock");
    b.bench(|| black_box(k).to_bytes());
}

#[divan::bench]
fn build_knock(b: Bencher<'_, '_>) {
    let key = &keys()[0];
    b.bench(|| build(&Ref, key, DPORT, black_box(NOW), [1, 2, 3, 4, 5, 6], None));
}

#[divan::bench(args = [1, 4])]
fn verify_valid(b: Bencher<'_, '_>, nkeys: usize) {
    // The matching key is the last one tried.
    let mut keys = keys();
    keys.truncate(nkeys);
    keys.reverse();
    let opt = knock();
    b.bench(|| {
        verify(
            &Ref,
            black_box(&keys),
            black_box(&opt),
            DPORT,
            NOW,
            Skew::DEFAULT,
        )
        .is_ok()
    });
}

#[divan::bench(args = [1, 4])]
fn verify_bad_mac(b: Bencher<'_, '_>, nkeys: usize) {
    let mut keys = keys();
    keys.truncate(nkeys);
    let mut opt = knock();
    opt[19] ^= 1;
    b.bench(|| {
        verify(
            &Ref,
            black_box(&keys),
            black_box(&opt),
            DPORT,
            NOW,
            Skew::DEFAULT,
        )
        .is_err()
    });
}

#[divan::bench]
fn verify_stale(b: Bencher<'_, '_>) {
    let keys = keys();
    let opt = knock();
    b.bench(|| {
        verify(
            &Ref,
            black_box(&keys),
            black_box(&opt),
            DPORT,
            NOW + 1000,
            Skew::DEFAULT,
        )
        .is_err()
    });
}

#[divan::bench]
fn replay_check_and_insert(b: Bencher<'_, '_>) {
    // Room for a million knocks of one key: every call is a new knock.
    let limits = ReplayLimits::new(1 << 20, 1 << 20).expect("valid limits");
    let mut slots = vec![Slot::EMPTY; limits.slots()];
    let mut cache = ReplayCache::new(&mut slots[..], limits, [7; 16]).expect("valid size");
    let key = KnockKey::from_bytes(&[1; 32]);
    let src = SynSource {
        addr: [0u8; 16],
        port: 1,
        isn: 1,
    };
    let mut x = 0x0123_4567_89ab_cdefu64;
    b.bench_local(|| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cache.check_and_insert(&Ref, &key, &x.to_le_bytes(), &src, NOW, NOW, Skew::DEFAULT)
    });
}

#[divan::bench]
fn derive_key(b: Bencher<'_, '_>) {
    b.bench(|| KnockKey::derive(black_box(b"This is my magic ID."), &Ref));
}
