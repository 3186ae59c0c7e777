// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family of the administrator's policy (the family, its
//! attribute policy and its request parsing are C, in
//! `tcp_stealth_helpers.c`; the requests land here).

use super::{bindings, pernet::Net};
use core::ffi::c_int;
use kernel::{error::to_result, prelude::*};

/// The registered family; dropping it unregisters it.
pub(crate) struct GenlRegistration(());

impl GenlRegistration {
    /// Registers the family. Every namespace must have its state already.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: The callbacks stay valid while the module is loaded; the
        // family is unregistered in `drop`.
        to_result(unsafe {
            bindings::tcp_stealth_genl_register(Some(policy_set), Some(policy_del))
        })?;
        Ok(Self(()))
    }
}

impl Drop for GenlRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered in `new`; waits for running requests.
        unsafe { bindings::tcp_stealth_genl_unregister() };
    }
}

/// `TCP_STEALTH_CMD_PROTECT`, attributes checked by the C side.
///
/// # Safety
///
/// Only the family's request handler calls it, in process context, with the
/// sender's namespace and `secret` valid for `len` bytes.
unsafe extern "C" fn policy_set(
    net: *mut bindings::net,
    port: u16,
    secret: *const u8,
    len: u32,
) -> c_int {
    // SAFETY: The sender's namespace lives while its request is handled.
    let net = unsafe { Net::from_raw(net) };
    // SAFETY: The attribute's payload, `len` bytes.
    let secret = unsafe { core::slice::from_raw_parts(secret, len as usize) };
    match net.state().policy.protect(port, secret) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `TCP_STEALTH_CMD_UNPROTECT`.
///
/// # Safety
///
/// Only the family's request handler calls it, in process context, with the
/// sender's namespace.
unsafe extern "C" fn policy_del(net: *mut bindings::net, port: u16) -> c_int {
    // SAFETY: The sender's namespace lives while its request is handled.
    let net = unsafe { Net::from_raw(net) };
    match net.state().policy.unprotect(port) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
