// SPDX-License-Identifier: GPL-2.0

//! Time reconstruction, freshness and the skew range, against integer
//! (`i128`) models.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{is_fresh, reconstruct_time, Error, Skew, MAX_SKEW_SECS};
use tcp_stealth_fuzz::window_time;

#[derive(Arbitrary, Debug)]
struct Input {
    now: u64,
    t14: u16,
    t: u64,
    skew: u64,
    /// Use a skew in range (else `skew` as is, mostly out of range).
    valid_skew: bool,
}

/// `t - now` modulo 2^64, as a signed distance in `-2^63..2^63`.
fn distance(t: u64, now: u64) -> i128 {
    let d = (t as i128 - now as i128).rem_euclid(1 << 64);
    if d >= 1 << 63 {
        d - (1 << 64)
    } else {
        d
    }
}

fuzz_target!(|inp: Input| {
    let t14 = inp.t14 & 0x3fff;
    let t = reconstruct_time(inp.now, t14);
    assert_eq!(t as i128, window_time(inp.now, t14).rem_euclid(1 << 64));
    assert_eq!(t % (1 << 14), u64::from(t14));

    // A client time within 2^13 s of ours comes back exactly.
    let d = distance(inp.t, inp.now);
    if (-(1 << 13)..1 << 13).contains(&d) {
        assert_eq!(reconstruct_time(inp.now, (inp.t % (1 << 14)) as u16), inp.t);
    }

    let secs = if inp.valid_skew {
        1 + inp.skew % u64::from(MAX_SKEW_SECS)
    } else {
        inp.skew
    };
    match Skew::new(secs) {
        Ok(skew) => {
            assert!((1..=u64::from(MAX_SKEW_SECS)).contains(&secs));
            assert_eq!(skew.secs(), secs);
            assert_eq!(is_fresh(inp.t, inp.now, skew), d.abs() <= secs as i128);
            assert_eq!(
                is_fresh(t, inp.now, skew),
                distance(t, inp.now).abs() <= secs as i128
            );
        }
        Err(e) => {
            assert_eq!(e, Error::SkewRange);
            assert!(secs == 0 || secs > u64::from(MAX_SKEW_SECS));
        }
    }
});
