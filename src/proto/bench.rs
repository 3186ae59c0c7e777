// SPDX-License-Identifier: GPL-2.0

//! Requests of the test-only benchmark file (`/proc/net/tcp_stealth_bench`)
//! and the arithmetic of its results.
//!
//! A request is the number of iterations as decimal ASCII (`N`: time the
//! micro-benchmarks N times each), or `replay N` (flood a scratch replay
//! cache with N distinct valid knocks), optionally followed by one newline
//! (what `echo` writes). Anything else, and numbers outside
//! `1..=MAX_BENCH_ITERATIONS`, is refused, so that a write can neither run
//! unbounded nor be misread.

use super::Error;

/// Most iterations one request may ask for. The loops run in the writer's
/// process context; under the test kernel (TCG, KASAN) a million SipHash
/// calls take a few seconds, far below the soft-lockup threshold, and the
/// loops also yield to the scheduler every [`BENCH_YIELD_EVERY`] iterations.
pub const MAX_BENCH_ITERATIONS: u32 = 1_000_000;

/// The loops call `cond_resched()` once per this many iterations.
pub const BENCH_YIELD_EVERY: u32 = 4096;

/// A parsed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchRequest {
    /// Time each micro-benchmark this many times.
    Ops(u32),
    /// Push this many distinct valid knocks through a scratch replay cache.
    ReplayFlood(u32),
}

/// Parses a request: `N` or `replay N`, `N` decimal digits in
/// `1..=MAX_BENCH_ITERATIONS`, with an optional trailing `\n`.
pub fn parse_bench_request(buf: &[u8]) -> Result<BenchRequest, Error> {
    let line = buf.strip_suffix(b"\n").unwrap_or(buf);
    match line.strip_prefix(b"replay ") {
        Some(digits) => parse_count(digits).map(BenchRequest::ReplayFlood),
        None => parse_count(line).map(BenchRequest::Ops),
    }
}

fn parse_count(digits: &[u8]) -> Result<u32, Error> {
    if digits.is_empty() || digits.len() > 7 {
        return Err(Error::BenchRequest);
    }
    let mut n: u32 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(Error::BenchRequest);
        }
        n = n * 10 + u32::from(d - b'0');
    }
    if n == 0 || n > MAX_BENCH_ITERATIONS {
        return Err(Error::BenchRequest);
    }
    Ok(n)
}

/// Nanoseconds per operation in hundredths (`1234` = 12.34 ns), from the
/// elapsed time of `n` operations; `n == 0` gives 0.
pub fn centi_ns_per_op(elapsed_ns: u64, n: u32) -> u64 {
    if n == 0 {
        return 0;
    }
    elapsed_ns.saturating_mul(100) / u64::from(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        use BenchRequest::{Ops, ReplayFlood};
        assert_eq!(parse_bench_request(b"1"), Ok(Ops(1)));
        assert_eq!(parse_bench_request(b"100000\n"), Ok(Ops(100_000)));
        assert_eq!(
            parse_bench_request(b"1000000"),
            Ok(Ops(MAX_BENCH_ITERATIONS))
        );
        assert_eq!(parse_bench_request(b"replay 7\n"), Ok(ReplayFlood(7)));
        assert_eq!(
            parse_bench_request(b"replay 1000000"),
            Ok(ReplayFlood(MAX_BENCH_ITERATIONS))
        );
        for bad in [
            &b""[..],
            b"replay",
            b"replay ",
            b"replay 0",
            b"replay 1000001",
            b"replay  5",
            b"replay 5 ",
            b"replay\n5",
            b"Replay 5",
            b"flood 5",
            b"\n",
            b"0",
            b"1000001",
            b"9999999",
            b"12345678",
            b"-1",
            b"+5",
            b" 5",
            b"5 ",
            b"5\n\n",
            b"0x10",
            b"1e3",
        ] {
            assert_eq!(
                parse_bench_request(bad),
                Err(Error::BenchRequest),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn per_op() {
        assert_eq!(centi_ns_per_op(1_000, 100), 1_000);
        assert_eq!(centi_ns_per_op(1_234, 100), 1_234);
        assert_eq!(centi_ns_per_op(5, 0), 0);
        assert_eq!(centi_ns_per_op(u64::MAX, 1), u64::MAX);
    }
}
