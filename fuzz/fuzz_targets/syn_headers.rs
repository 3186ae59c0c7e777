// SPDX-License-Identifier: GPL-2.0

//! `SynHeaders::parse` on a saved SYN (IP header, then TCP header) and
//! `find_tsval` on its options, against a plain parser.
//!
//! Input: one byte selecting the IP header length (20, 40, or any), then
//! the saved headers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{find_tsval, SynHeaders};
use tcp_stealth_fuzz::tsval_in;

/// (daddr, dport, seq, options) read field by field.
fn model(h: &[u8], ip_len: usize) -> Option<(&[u8], u16, u32, &[u8])> {
    if h.is_empty() {
        return None;
    }
    let (from, to) = match h[0] >> 4 {
        4 => (16, 20),
        6 => (24, 40),
        _ => return None,
    };
    if h.len() < to || h.len() < ip_len + 20 {
        return None;
    }
    let th = &h[ip_len..];
    let doff = (th[12] >> 4) as usize * 4;
    if doff < 20 || doff > th.len() {
        return None;
    }
    let dport = (th[2] as u16) << 8 | th[3] as u16;
    let seq = (th[4] as u32) << 24 | (th[5] as u32) << 16 | (th[6] as u32) << 8 | th[7] as u32;
    Some((&h[from..to], dport, seq, &th[20..doff]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, headers)) = data.split_first() else {
        return;
    };
    let ip_len = match sel {
        0..=99 => 20,
        100..=199 => 40,
        n => usize::from(n - 200) * 4,
    };
    let got = SynHeaders::parse(headers, ip_len);
    let want = model(headers, ip_len);
    assert_eq!(got.map(|h| (h.daddr, h.dport, h.seq, h.options)), want);
    if let Some(h) = got {
        assert_eq!(find_tsval(h.options), tsval_in(h.options));
    }
});
