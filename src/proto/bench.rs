// SPDX-License-Identifier: GPL-2.0

//! Requests of the test-only benchmark file (`/proc/net/tcp_stealth_bench`)
//! and the arithmetic of its results.
//!
//! A request is the number of iterations as decimal ASCII, optionally
//! followed by one newline (what `echo N >` writes). Anything else, and
//! numbers outside `1..=MAX_BENCH_ITERATIONS`, is refused, so that a write
//! can neither run unbounded nor be misread.

use super::Error;

/// Most iterations one request may ask for. The loops run in the writer's
/// process context; under the test kernel (TCG, KASAN) a million SipHash
/// calls take a few seconds, far below the soft-lockup threshold, and the
/// loops also yield to the scheduler every [`BENCH_YIELD_EVERY`] iterations.
pub const MAX_BENCH_ITERATIONS: u32 = 1_000_000;

/// The loops call `cond_resched()` once per this many iterations.
pub const BENCH_YIELD_EVERY: u32 = 4096;

/// Parses a request: decimal digits, an optional trailing `\n`, the value in
/// `1..=MAX_BENCH_ITERATIONS`.
pub fn parse_bench_request(buf: &[u8]) -> Result<u32, Error> {
    let digits = buf.strip_suffix(b"\n").unwrap_or(buf);
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
        assert_eq!(parse_bench_request(b"1"), Ok(1));
        assert_eq!(parse_bench_request(b"100000\n"), Ok(100_000));
        assert_eq!(parse_bench_request(b"1000000"), Ok(MAX_BENCH_ITERATIONS));
        for bad in [
            &b""[..],
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
