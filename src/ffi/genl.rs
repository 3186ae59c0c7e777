// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family of the administrator's policy (the family, its
//! attribute policy and its request parsing are C, in
//! `tcp_stealth_helpers.c`; the requests land here).

use super::{bindings, pernet::Net};
use core::{ffi::c_int, marker::PhantomData};
use kernel::{error::to_result, prelude::*};

/// What the family's requests do, in the sender's namespace.
pub(crate) trait GenlPolicy {
    /// `TCP_STEALTH_CMD_PROTECT`: protect `port` with `secret`.
    fn protect(net: &Net, port: u16, secret: &[u8]) -> Result;
    /// `TCP_STEALTH_CMD_UNPROTECT`: stop protecting `port`.
    fn unprotect(net: &Net, port: u16) -> Result;
}

/// The registered family, its requests handled by `T`; dropping it
/// unregisters it.
pub(crate) struct GenlRegistration<T: GenlPolicy>(PhantomData<T>);

impl<T: GenlPolicy> GenlRegistration<T> {
    /// Registers the family. Every namespace must have its state already.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: The callbacks stay valid while the module is loaded; the
        // family is unregistered in `drop`.
        to_result(unsafe {
            bindings::tcp_stealth_genl_register(Some(policy_set::<T>), Some(policy_del::<T>))
        })?;
        Ok(Self(PhantomData))
    }
}

impl<T: GenlPolicy> Drop for GenlRegistration<T> {
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
unsafe extern "C" fn policy_set<T: GenlPolicy>(
    net: *mut bindings::net,
    port: u16,
    secret: *const u8,
    len: u32,
) -> c_int {
    // SAFETY: The sender's namespace lives while its request is handled.
    let net = unsafe { Net::from_raw(net) };
    // SAFETY: The attribute's payload, `len` bytes.
    let secret = unsafe { core::slice::from_raw_parts(secret, len as usize) };
    match T::protect(net, port, secret) {
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
unsafe extern "C" fn policy_del<T: GenlPolicy>(net: *mut bindings::net, port: u16) -> c_int {
    // SAFETY: The sender's namespace lives while its request is handled.
    let net = unsafe { Net::from_raw(net) };
    match T::unprotect(net, port) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
