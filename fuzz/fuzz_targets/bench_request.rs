// SPDX-License-Identifier: GPL-2.0

//! The benchmark file's request parser and result arithmetic against a
//! model on `str` and `u128`.
//!
//! Input: the bytes written to /proc/net/tcp_stealth_bench; the first 12
//! bytes also serve as `(elapsed_ns, n)` for `centi_ns_per_op`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{
    centi_ns_per_op, parse_bench_request, BenchRequest, Error, MAX_BENCH_ITERATIONS,
};

/// `N`: 1 to 7 ASCII digits (MAX_BENCH_ITERATIONS has 7) whose value is in
/// 1..=MAX_BENCH_ITERATIONS.
fn count(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 7 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (1..=MAX_BENCH_ITERATIONS).contains(&n).then_some(n)
}

fn model(buf: &[u8]) -> Option<BenchRequest> {
    let s = std::str::from_utf8(buf).ok()?;
    let line = s.strip_suffix('\n').unwrap_or(s);
    match line.strip_prefix("replay ") {
        Some(rest) => count(rest).map(BenchRequest::ReplayFlood),
        None => count(line).map(BenchRequest::Ops),
    }
}

fuzz_target!(|buf: &[u8]| {
    let got = parse_bench_request(buf);
    match model(buf) {
        Some(want) => assert_eq!(got, Ok(want)),
        None => assert_eq!(got, Err(Error::BenchRequest)),
    }
    if buf.len() >= 12 {
        let elapsed = u64::from_le_bytes(buf[..8].try_into().unwrap());
        let n = u32::from_le_bytes(buf[8..12].try_into().unwrap());
        let want = match n {
            0 => 0,
            n => ((elapsed as u128 * 100).min(u64::MAX as u128) / n as u128) as u64,
        };
        assert_eq!(centi_ns_per_op(elapsed, n), want);
    }
});
