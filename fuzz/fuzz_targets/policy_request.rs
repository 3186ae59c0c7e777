// SPDX-License-Identifier: GPL-2.0

//! `parse_policy_request`, the attributes of a generic netlink policy
//! request, against the model `policy_model`.
//!
//! Input: one byte whose low bit picks the command (protect or unprotect),
//! then the attribute stream as the kernel hands it over.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tcp_stealth_fuzz::policy_model;
use tcp_stealth_fuzz::proto::{parse_policy_request, PolicyCmd, PolicyError, PolicyFamily};

fuzz_target!(|raw: &[u8]| {
    let Some((&first, attrs)) = raw.split_first() else {
        return;
    };
    let protect = first & 1 == 0;
    let cmd = if protect {
        PolicyCmd::Protect
    } else {
        PolicyCmd::Unprotect
    };
    let got = parse_policy_request(cmd, attrs);
    match policy_model(protect, attrs) {
        Ok((port, secrets, n, family)) => {
            let r = got.expect("the model accepts it");
            assert_eq!((r.port, r.integrity_len), (port, n));
            let want = match family {
                0 => PolicyFamily::Both,
                2 => PolicyFamily::Ipv4,
                _ => PolicyFamily::Ipv6,
            };
            assert_eq!(r.family, want);
            assert_eq!(r.secrets().len(), secrets.len());
            for (a, b) in r.secrets().iter().zip(&secrets) {
                assert_eq!(a, &&b[..]);
            }
        }
        Err((reason, offset)) => assert_eq!(got, Err(PolicyError { reason, offset })),
    }
});
