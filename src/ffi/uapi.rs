// SPDX-License-Identifier: GPL-2.0

//! The module's uapi (`include/uapi/linux/tcp_stealth.h`), as bindgen reads
//! it: the one source of the socket options' numbers and limits. The
//! protocol crate (`proto`, built on the host too, without bindgen) keeps
//! its own copies of the limits; the assertions below fail the build if they
//! ever differ from the header.

use super::bindings;
use crate::proto;
use kernel::str::CStr;

/// `TCP_STEALTH_ULP_NAME`: the ULP's name, for `setsockopt(TCP_ULP)`.
pub(crate) const ULP_NAME: &CStr = match CStr::from_bytes_with_nul(bindings::TCP_STEALTH_ULP_NAME) {
    Ok(name) => name,
    Err(_) => panic!("TCP_STEALTH_ULP_NAME is not a C string"),
};

/// `TCP_STEALTH`: set the secret (replacing all keys); read the info.
pub(crate) const TCP_STEALTH: i32 = bindings::TCP_STEALTH as i32;
/// `TCP_STEALTH_INTEGRITY`: commit the knock to the first bytes (client).
pub(crate) const TCP_STEALTH_INTEGRITY: i32 = bindings::TCP_STEALTH_INTEGRITY as i32;
/// `TCP_STEALTH_INTEGRITY_LEN`: require that commitment (listener).
pub(crate) const TCP_STEALTH_INTEGRITY_LEN: i32 = bindings::TCP_STEALTH_INTEGRITY_LEN as i32;
/// `TCP_STEALTH_KEY`: add or remove one key.
pub(crate) const TCP_STEALTH_KEY: i32 = bindings::TCP_STEALTH_KEY as i32;
/// `TCP_STEALTH_MODE`: where the knock goes (an `int`).
pub(crate) const TCP_STEALTH_MODE: i32 = bindings::TCP_STEALTH_MODE as i32;
/// `TCP_STEALTH_MODE_OPTION`: the knock option (the default).
pub(crate) const TCP_STEALTH_MODE_OPTION: i32 = bindings::TCP_STEALTH_MODE_OPTION as i32;
/// `TCP_STEALTH_MODE_ISN`: the original Knock's initial sequence number.
pub(crate) const TCP_STEALTH_MODE_ISN: i32 = bindings::TCP_STEALTH_MODE_ISN as i32;
/// `TCP_STEALTH_INFO_ENABLED`: `struct tcp_stealth_info.flags` bit.
pub(crate) const TCP_STEALTH_INFO_ENABLED: u32 = bindings::TCP_STEALTH_INFO_ENABLED;
/// `TCP_STEALTH_POLICY_MAX`: ports a namespace's policy protects at most.
pub(crate) const POLICY_MAX: usize = bindings::TCP_STEALTH_POLICY_MAX as usize;
/// `sizeof(struct tcp_stealth_info)`.
pub(crate) const INFO_LEN: usize = core::mem::size_of::<bindings::tcp_stealth_info>();

// The protocol crate's copies of the header's limits and layouts.
const _: () = {
    assert!(proto::MAX_SECRET_LEN == bindings::TCP_STEALTH_SECRET_MAX as usize);
    assert!(proto::MAX_KEYS == bindings::TCP_STEALTH_MAX_KEYS as usize);
    assert!(proto::MAX_INTEGRITY_LEN == bindings::TCP_STEALTH_INTEGRITY_MAX as usize);
    assert!(proto::KEY_ADD == bindings::TCP_STEALTH_KEY_ADD);
    assert!(proto::KEY_DEL == bindings::TCP_STEALTH_KEY_DEL);
    assert!(proto::KEY_REQUEST_LEN == core::mem::size_of::<bindings::tcp_stealth_key>());
    assert!(proto::POLICY_A_PORT as u32 == bindings::TCP_STEALTH_A_PORT);
    assert!(proto::POLICY_A_SECRET as u32 == bindings::TCP_STEALTH_A_SECRET);
    assert!(proto::POLICY_A_INTEGRITY_LEN as u32 == bindings::TCP_STEALTH_A_INTEGRITY_LEN);
    assert!(proto::POLICY_A_FAMILY as u32 == bindings::TCP_STEALTH_A_FAMILY);
    assert!(proto::MAX_POLICY_INTEGRITY_LEN == bindings::TCP_STEALTH_POLICY_INTEGRITY_MAX as usize);
    assert!(INFO_LEN == 8);
};
