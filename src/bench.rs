// SPDX-License-Identifier: GPL-2.0

//! The test-only benchmark file `/proc/net/tcp_stealth_bench` (`make bench`,
//! see BENCHMARKS.md).
//!
//! Writing a number `N` (1 to [`proto::MAX_BENCH_ITERATIONS`], decimal, e.g.
//! `echo 100000 > /proc/net/tcp_stealth_bench`) runs each in-kernel
//! micro-benchmark `N` times in the writer's process context and stores the
//! mean cost per operation; any other input fails with `EINVAL`. Reading the
//! file shows the last results and the module's memory figures:
//!
//! - `verify_ok_ns`: `proto::verify` of a valid knock with one key (parse,
//!   freshness, SipHash-2-4, constant-time compare), as a SYN costs;
//! - `verify_bad_mac_ns`, `verify_bad_mac_4keys_ns`: a knock with a wrong MAC
//!   against one and four keys (every key is tried);
//! - `siphash_3u64_ns`: the kernel's `siphash_3u64()` alone;
//! - `secure_tcp_seq_ns`: the kernel's `secure_tcp_seq()`, the SipHash every
//!   SYN to a listener already costs, as the reference;
//! - `derive_key_ns`: `KnockKey::derive` (BLAKE2s of the padded secret), what
//!   setting a secret on a socket costs in hashing (`N / 16` iterations);
//! - `ulp_ctx_bytes`, `keyset_bytes`: what one protected socket allocates
//!   (its ULP context, and its keys once it has a secret);
//! - `replay_*`: the namespace's replay cache: bytes per entry, its limits
//!   (`replay_max`, `replay_key_max`), slots, total bytes, entries live
//!   now, keys with knocks remembered, knocks refused for want of room so
//!   far (all but the limits 0 while the namespace has no cache).
//!
//!
//! Writing `replay N` pushes `N` distinct valid knocks of one key, 100000
//! per second of simulated time (each built, verified and checked against
//! the cache, as the input hook does), through a scratch replay cache of
//! the namespace's type with limits of `N` knocks (as an administrator
//! would set them for that rate), and shows:
//!
//! - `flood_knocks`, `flood_fresh`: knocks pushed, and those the cache took
//!   as fresh (the rest it refused);
//! - `flood_peak_live`, `flood_peak_bytes`: the most entries live at once
//!   (sampled every 1024 knocks and at the end) and the cache's bytes;
//! - `flood_full` (refused for want of room), `flood_ns_per_knock`.
//!
//! It is harmless in production: mode 0600, writes need `CAP_NET_ADMIN` in
//! the namespace, the work per write is bounded, and it touches no packet,
//! socket or namespace replay state (it only reads the replay cache's size).

use core::{fmt::Write, hint::black_box, sync::atomic::Ordering};
use kernel::{c_str, prelude::*, str::CStr};

use crate::ffi::{
    self,
    crypto::{secure_tcp_seq, KernelCrypto},
    pernet::Net,
    seq,
};
use crate::keys::KeySet;
use crate::netns::{FLOOD_FIGURES, OPS};
use crate::proto::{
    self, BenchRequest, Crypto, KnockKey, ReplayVerdict, Skew, Slot, SynSource, MAX_KEYS,
};

/// Name of the benchmark file in `/proc/net`.
pub(crate) const BENCH_FILE: &CStr = c_str!("tcp_stealth_bench");

/// The file's mode: root only.
pub(crate) const BENCH_MODE: u16 = 0o600;

/// The timed operations, in the order shown.
#[derive(Clone, Copy)]
#[repr(usize)]
enum Op {
    VerifyOk,
    VerifyBadMac,
    VerifyBadMac4Keys,
    Siphash,
    SecureTcpSeq,
    DeriveKey,
}

const OP_NAMES: [&str; OPS] = [
    "verify_ok_ns",
    "verify_bad_mac_ns",
    "verify_bad_mac_4keys_ns",
    "siphash_3u64_ns",
    "secure_tcp_seq_ns",
    "derive_key_ns",
];

/// [`Op::DeriveKey`] runs this many times fewer iterations (a BLAKE2s of
/// two blocks costs tens of SipHashes).
const DERIVE_DIVISOR: u32 = 16;

const FLOOD_NAMES: [&str; FLOOD_FIGURES] = [
    "flood_knocks",
    "flood_fresh",
    "flood_peak_live",
    "flood_peak_bytes",
    "flood_full",
    "flood_ns_per_knock",
];

/// Times `n` calls of `f(i)` and returns the mean in hundredths of a ns.
/// The clock is read around chunks of [`proto::BENCH_YIELD_EVERY`] calls and
/// the scheduler gets its chance between chunks, outside the timed part.
fn time_op(n: u32, mut f: impl FnMut(u32)) -> u64 {
    let mut elapsed = 0u64;
    let mut i = 0u32;
    while i < n {
        let end = n.min(i.saturating_add(proto::BENCH_YIELD_EVERY));
        let t0 = ffi::now_ns();
        while i < end {
            f(black_box(i));
            i += 1;
        }
        elapsed = elapsed.saturating_add(ffi::now_ns().saturating_sub(t0));
        ffi::cond_resched();
    }
    proto::centi_ns_per_op(elapsed, n)
}

/// Runs every operation `n` times; returns the costs in [`Op`] order.
fn run(n: u32) -> [u64; OPS] {
    let crypto = KernelCrypto;
    // Fixed, distinct keys: the cost does not depend on their value.
    let keys: [KnockKey; MAX_KEYS] = core::array::from_fn(|k| {
        let mut raw = [0u8; 32];
        for (j, b) in raw.iter_mut().enumerate() {
            *b = (k * 32 + j) as u8;
        }
        KnockKey::from_bytes(&raw)
    });
    let now = ffi::now_secs();
    let dport = 4242;
    let good = proto::build(&crypto, &keys[0], dport, now, [1, 2, 3, 4, 5, 6], None);
    let mut bad = good;
    bad[19] ^= 1;
    let skew = Skew::DEFAULT;
    let verify = |keys: &[KnockKey], opt: &[u8; proto::OPT_LEN]| {
        let r = proto::verify(&crypto, black_box(keys), black_box(opt), dport, now, skew);
        black_box(r.is_ok());
    };

    let mut out = [0u64; OPS];
    out[Op::VerifyOk as usize] = time_op(n, |_| verify(&keys[..1], &good));
    out[Op::VerifyBadMac as usize] = time_op(n, |_| verify(&keys[..1], &bad));
    out[Op::VerifyBadMac4Keys as usize] = time_op(n, |_| verify(&keys, &bad));
    let mac_key = keys[0].mac_key();
    out[Op::Siphash as usize] = time_op(n, |i| {
        black_box(crypto.siphash_3u64(mac_key, 1, 2, u64::from(i)));
    });
    out[Op::SecureTcpSeq as usize] = time_op(n, |i| {
        black_box(secure_tcp_seq(i, 0x0200_000a, 0x1234, 0x9210));
    });
    // What a socket's `TCP_STEALTH` option costs in BLAKE2s.
    out[Op::DeriveKey as usize] = time_op(n.div_ceil(DERIVE_DIVISOR), |i| {
        let secret = i.to_le_bytes();
        black_box(KnockKey::derive(black_box(&secret), &crypto).is_ok());
    });
    out
}

/// Knocks per second of simulated time in the replay flood: the rate
/// issue 14 designs for.
const FLOOD_KNOCKS_PER_SEC: u32 = 100_000;

/// Pushes `n` distinct valid knocks, [`FLOOD_KNOCKS_PER_SEC`] per second of
/// simulated time, through a new replay cache like a namespace's, with
/// room for `n` knocks of one key; returns the figures in [`FLOOD_NAMES`]
/// order.
fn replay_flood(n: u32) -> Result<[u64; FLOOD_FIGURES]> {
    let crypto = KernelCrypto;
    let key = KnockKey::from_bytes(&[7u8; 32]);
    let room = n.max(proto::MIN_KEY_ENTRIES);
    let limits = proto::ReplayLimits::new(room, room).map_err(|_| EINVAL)?;
    let mut hash_key = [0u8; 16];
    ffi::random_bytes(&mut hash_key);
    let mut cache = crate::netns::new_replay_cache(limits, hash_key)?;
    let skew = Skew::DEFAULT;
    let dport = 4242;
    let start = ffi::now_secs();
    let (mut fresh, mut peak) = (0u64, 0usize);
    let t0 = ffi::now_ns();
    for i in 0..n {
        // A sustained flood: FLOOD_KNOCKS_PER_SEC knocks per second of
        // simulated time, so that knocks expire and the cache churns.
        let now = start + u64::from(i / FLOOD_KNOCKS_PER_SEC);
        let b = i.to_le_bytes();
        // Distinct knocks from distinct clients: the counter in the knock's
        // random bytes, the source address and the source port.
        let opt = proto::build(
            &crypto,
            &key,
            dport,
            now,
            [b[0], b[1], b[2], b[3], 0x5a, 0xa5],
            None,
        );
        let Ok(v) = proto::verify(&crypto, core::slice::from_ref(&key), &opt, dport, now, skew)
        else {
            // A knock built with the key must verify.
            return Err(EINVAL);
        };
        let mut addr = [0u8; 16];
        addr[10] = 0xff;
        addr[11] = 0xff;
        addr[12..].copy_from_slice(&[10, b[2], b[1], b[0]]);
        let src = SynSource {
            addr,
            port: 1024 + (i % 64512) as u16,
            isn: i,
        };
        if cache.check_and_insert(&crypto, &key, &v.mac, &src, v.t, now, skew)
            == ReplayVerdict::Fresh
        {
            fresh += 1;
        }
        if i % 1024 == 1023 || i + 1 == n {
            peak = peak.max(cache.live(now, skew));
            ffi::cond_resched();
        }
    }
    let elapsed = ffi::now_ns().saturating_sub(t0);
    let slot = core::mem::size_of::<Slot>() as u64;
    Ok([
        u64::from(n),
        fresh,
        peak as u64,
        cache.capacity() as u64 * slot,
        cache.full(),
        // (No panic path for objtool to trip over: 6.12's does not know that
        // the division-by-zero panic does not return.)
        elapsed.checked_div(u64::from(n)).unwrap_or(0),
    ])
}

/// The `/proc/net/tcp_stealth_bench` file.
pub(crate) struct Bench;

impl seq::Store for Bench {
    fn store(net: &Net, input: &[u8]) -> Result {
        let r = &net.state::<crate::netns::NetState>().bench;
        match proto::parse_bench_request(input).map_err(|_| EINVAL)? {
            BenchRequest::Ops(n) => {
                let costs = run(n);
                r.iterations.store(u64::from(n), Ordering::Relaxed);
                for (slot, cost) in r.centi_ns.iter().zip(costs) {
                    slot.store(cost, Ordering::Relaxed);
                }
            }
            BenchRequest::ReplayFlood(n) => {
                for (slot, v) in r.flood.iter().zip(replay_flood(n)?) {
                    slot.store(v, Ordering::Relaxed);
                }
            }
        }
        Ok(())
    }
}

impl seq::Show for Bench {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        let state = net.state::<crate::netns::NetState>();
        let r = &state.bench;
        let _ = writeln!(m, "iterations {}", r.iterations.load(Ordering::Relaxed));
        for (name, v) in OP_NAMES.iter().zip(r.centi_ns.iter()) {
            let v = v.load(Ordering::Relaxed);
            let _ = writeln!(m, "{} {}.{:02}", name, v / 100, v % 100);
        }
        let _ = writeln!(
            m,
            "ulp_ctx_bytes {}",
            ffi::ulp::data_bytes::<crate::sockopt::SockCtx>()
        );
        let _ = writeln!(m, "keyset_bytes {}", core::mem::size_of::<KeySet>());
        let (now, skew) = (ffi::now_secs(), state.skew());
        // (No cache until the namespace first needs one.)
        let (slots, live, keys, full) = ffi::with_bh_disabled(|| {
            state.replay.lock().as_ref().map_or((0, 0, 0, 0), |cache| {
                (
                    cache.capacity(),
                    cache.live(now, skew),
                    cache.keys(),
                    cache.full(),
                )
            })
        });
        let slot = core::mem::size_of::<Slot>();
        let _ = writeln!(m, "replay_entry_bytes {}", slot);
        let _ = writeln!(m, "replay_max {}", state.settings.replay_max.get());
        let _ = writeln!(m, "replay_key_max {}", state.settings.replay_key_max.get());
        let _ = writeln!(m, "replay_slots {}", slots);
        let _ = writeln!(m, "replay_bytes {}", slots * slot);
        let _ = writeln!(m, "replay_live {}", live);
        let _ = writeln!(m, "replay_keys {}", keys);
        let _ = writeln!(m, "replay_full {}", full);
        for (name, v) in FLOOD_NAMES.iter().zip(r.flood.iter()) {
            let _ = writeln!(m, "{} {}", name, v.load(Ordering::Relaxed));
        }
    }
}
