// SPDX-License-Identifier: GPL-2.0

//! The option walks of a SYN: `find_knock`, `TcpOptions`, `find_tsval`,
//! `tcp_drops_auth_options` and `option_fits`, against the plain walk and
//! the transcription of Linux's parser in the fuzz crate.
//!
//! Input: the option area itself (any length; real areas are at most 40
//! bytes, longer ones must still be handled).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::proto::{self, FindResult, TcpOptions, OPT_LEN};
use tcp_stealth_fuzz::{knock_in, linux_drops_auth, tsval_in, walk};

fuzz_target!(|area: &[u8]| {
    let plain = walk(area);

    // TcpOptions yields exactly the options of the plain walk, then one
    // Err if it broke, then nothing.
    let mut it = TcpOptions::new(area);
    for (at, o) in &plain.options {
        assert_eq!(it.next(), Some(Ok((*at, &o[..]))));
    }
    if plain.broken {
        assert_eq!(it.next(), Some(Err(())));
    }
    assert_eq!(it.next(), None);

    match (proto::find_knock(area), knock_in(area)) {
        (FindResult::Found { offset, option }, Ok(Some(at))) => {
            assert_eq!(offset, at);
            assert_eq!(&area[offset..offset + OPT_LEN], &option[..]);
        }
        (FindResult::Absent, Ok(None)) | (FindResult::Malformed, Err(())) => {}
        (got, want) => panic!("find_knock {got:?}, model {want:?}"),
    }

    let ts = proto::find_tsval(area);
    assert_eq!(ts, tsval_in(area));
    if let Some((at, v)) = ts {
        assert_eq!(area[at - 2..at], [8, 10]);
        assert_eq!(u32::from_be_bytes(area[at..at + 4].try_into().unwrap()), v);
    }

    for ao in [false, true] {
        assert_eq!(
            proto::tcp_drops_auth_options(area, ao),
            linux_drops_auth(area, ao),
            "ao_enabled {ao}"
        );
    }

    assert_eq!(proto::option_fits(area.len()), area.len() + OPT_LEN <= 40);
});
