// SPDX-License-Identifier: GPL-2.0
//! The module's uapi header, include/uapi/linux/tcp_stealth.h, as bindgen
//! reads it at build time (build.rs): its socket options, generic netlink
//! numbers, names and limits, typed as the CLI uses them. The header is
//! their one source; nothing here is a copy.

use std::os::raw::c_int;

/// bindgen's output for the header.
#[allow(non_camel_case_types, non_upper_case_globals, dead_code)]
mod raw {
    include!(concat!(env!("OUT_DIR"), "/uapi.rs"));
}

/// A socket option's number (or value) as `setsockopt()` takes it.
const fn int(v: u32) -> c_int {
    assert!(v <= c_int::MAX as u32);
    v as c_int
}

/// A C string of the header without its NUL.
const fn name(s: &'static [u8]) -> &'static [u8] {
    match s.split_last() {
        Some((0, name)) => name,
        _ => panic!("not a C string"),
    }
}

/// `TCP_STEALTH_ULP_NAME`: the ULP's name, for `setsockopt(TCP_ULP)`.
pub const ULP_NAME: &[u8] = name(raw::TCP_STEALTH_ULP_NAME);
/// `TCP_STEALTH`: set the secret.
pub const TCP_STEALTH: c_int = int(raw::TCP_STEALTH);
/// `TCP_STEALTH_INTEGRITY`: commit the knock to the first bytes.
pub const TCP_STEALTH_INTEGRITY: c_int = int(raw::TCP_STEALTH_INTEGRITY);
/// `TCP_STEALTH_MODE`: where the knock goes.
pub const TCP_STEALTH_MODE: c_int = int(raw::TCP_STEALTH_MODE);
/// `TCP_STEALTH_MODE_OPTION`: the knock option (the default).
pub const TCP_STEALTH_MODE_OPTION: c_int = int(raw::TCP_STEALTH_MODE_OPTION);
/// `TCP_STEALTH_MODE_ISN`: the original Knock's initial sequence number.
pub const TCP_STEALTH_MODE_ISN: c_int = int(raw::TCP_STEALTH_MODE_ISN);
/// `TCP_STEALTH_SECRET_MAX`: the longest secret.
pub const SECRET_MAX: usize = raw::TCP_STEALTH_SECRET_MAX as usize;
/// `TCP_STEALTH_INTEGRITY_MAX`: the most first bytes a knock commits to.
pub const INTEGRITY_MAX: usize = raw::TCP_STEALTH_INTEGRITY_MAX as usize;

/// `TCP_STEALTH_GENL_NAME`: the policy's generic netlink family.
pub const GENL_NAME: &str = match std::str::from_utf8(name(raw::TCP_STEALTH_GENL_NAME)) {
    Ok(s) => s,
    Err(_) => panic!("TCP_STEALTH_GENL_NAME is not UTF-8"),
};
/// `TCP_STEALTH_GENL_VERSION`.
pub const GENL_VERSION: u8 = raw::TCP_STEALTH_GENL_VERSION as u8;
/// `TCP_STEALTH_CMD_PROTECT`.
pub const CMD_PROTECT: u8 = raw::TCP_STEALTH_CMD_PROTECT as u8;
/// `TCP_STEALTH_CMD_UNPROTECT`.
pub const CMD_UNPROTECT: u8 = raw::TCP_STEALTH_CMD_UNPROTECT as u8;
/// `TCP_STEALTH_A_PORT`.
pub const A_PORT: u16 = raw::TCP_STEALTH_A_PORT as u16;
/// `TCP_STEALTH_A_SECRET`.
pub const A_SECRET: u16 = raw::TCP_STEALTH_A_SECRET as u16;
/// `TCP_STEALTH_A_INTEGRITY_LEN`.
pub const A_INTEGRITY_LEN: u16 = raw::TCP_STEALTH_A_INTEGRITY_LEN as u16;
/// `TCP_STEALTH_A_FAMILY`.
pub const A_FAMILY: u16 = raw::TCP_STEALTH_A_FAMILY as u16;
/// `TCP_STEALTH_MAX_KEYS`: the most keys of a socket or a policy port.
pub const MAX_KEYS: usize = raw::TCP_STEALTH_MAX_KEYS as usize;
/// `TCP_STEALTH_POLICY_MAX`: the most ports a namespace's policy protects.
pub const POLICY_MAX: usize = raw::TCP_STEALTH_POLICY_MAX as usize;
/// `TCP_STEALTH_POLICY_INTEGRITY_MAX`: a policy port's longest integrity
/// length.
pub const POLICY_INTEGRITY_MAX: u32 = raw::TCP_STEALTH_POLICY_INTEGRITY_MAX;

// The narrowing casts above keep every value.
const _: () = {
    assert!(raw::TCP_STEALTH_GENL_VERSION <= u8::MAX as u32);
    assert!(raw::TCP_STEALTH_CMD_PROTECT <= u8::MAX as u32);
    assert!(raw::TCP_STEALTH_CMD_UNPROTECT <= u8::MAX as u32);
    assert!(raw::__TCP_STEALTH_A_MAX <= u16::MAX as u32);
};

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../../../include/uapi/linux/tcp_stealth.h");

    /// The value of `NAME` in the header, read without bindgen: a
    /// `#define NAME number`, or an enum constant (counted from 0 in its
    /// `enum { }`; the header gives none an explicit value).
    fn header_value(name: &str) -> i64 {
        let mut in_enum = None;
        for line in HEADER.lines() {
            let line = line.trim();
            if line.starts_with("enum {") {
                in_enum = Some(0);
                continue;
            }
            if line.starts_with('}') {
                in_enum = None;
            }
            if let Some(n) = in_enum.as_mut() {
                let word = line.split([',', ' ', '\t']).next().unwrap_or("");
                if word.is_empty() || word.starts_with("/*") {
                    continue;
                }
                assert!(!line.contains('='), "enum constant with a value: {line}");
                if word == name {
                    return *n;
                }
                *n += 1;
                continue;
            }
            let Some(def) = line.strip_prefix("#define ") else {
                continue;
            };
            let mut words = def.split_whitespace();
            if words.next() != Some(name) {
                continue;
            }
            let value = words.next().unwrap_or("");
            return match value.strip_prefix("0x") {
                Some(hex) => i64::from_str_radix(hex, 16).unwrap(),
                None => value.parse().unwrap(),
            };
        }
        panic!("{name} is not in the uapi header");
    }

    /// `#define NAME "string"` in the header.
    fn header_string(name: &str) -> String {
        HEADER
            .lines()
            .filter_map(|l| l.strip_prefix("#define "))
            .find_map(|l| {
                let (n, v) = l.split_once(char::is_whitespace)?;
                (n == name).then(|| v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("{name} is not in the uapi header"))
    }

    /// What bindgen made (and the casts above kept) is what the header
    /// says, read a second way.
    #[test]
    fn constants_match_the_uapi_header() {
        for (name, ours) in [
            ("TCP_STEALTH", i64::from(TCP_STEALTH)),
            ("TCP_STEALTH_INTEGRITY", i64::from(TCP_STEALTH_INTEGRITY)),
            ("TCP_STEALTH_MODE", i64::from(TCP_STEALTH_MODE)),
            (
                "TCP_STEALTH_MODE_OPTION",
                i64::from(TCP_STEALTH_MODE_OPTION),
            ),
            ("TCP_STEALTH_MODE_ISN", i64::from(TCP_STEALTH_MODE_ISN)),
            ("TCP_STEALTH_SECRET_MAX", SECRET_MAX as i64),
            ("TCP_STEALTH_INTEGRITY_MAX", INTEGRITY_MAX as i64),
            ("TCP_STEALTH_GENL_VERSION", i64::from(GENL_VERSION)),
            ("TCP_STEALTH_CMD_PROTECT", i64::from(CMD_PROTECT)),
            ("TCP_STEALTH_CMD_UNPROTECT", i64::from(CMD_UNPROTECT)),
            ("TCP_STEALTH_A_PORT", i64::from(A_PORT)),
            ("TCP_STEALTH_A_SECRET", i64::from(A_SECRET)),
            ("TCP_STEALTH_A_INTEGRITY_LEN", i64::from(A_INTEGRITY_LEN)),
            ("TCP_STEALTH_A_FAMILY", i64::from(A_FAMILY)),
            ("TCP_STEALTH_MAX_KEYS", MAX_KEYS as i64),
            ("TCP_STEALTH_POLICY_MAX", POLICY_MAX as i64),
            (
                "TCP_STEALTH_POLICY_INTEGRITY_MAX",
                i64::from(POLICY_INTEGRITY_MAX),
            ),
        ] {
            assert_eq!(header_value(name), ours, "{name}");
        }
        assert_eq!(header_string("TCP_STEALTH_ULP_NAME").as_bytes(), ULP_NAME);
        assert_eq!(header_string("TCP_STEALTH_GENL_NAME"), GENL_NAME);
    }

    /// The second reading finds what it should (it is not vacuous).
    #[test]
    fn header_reader() {
        assert_eq!(header_value("TCP_STEALTH"), 0x5354);
        assert_eq!(header_value("TCP_STEALTH_CMD_UNSPEC"), 0);
        assert_eq!(header_value("TCP_STEALTH_A_FAMILY"), 4);
        assert_eq!(header_string("TCP_STEALTH_ULP_NAME"), "stealth");
    }
}
