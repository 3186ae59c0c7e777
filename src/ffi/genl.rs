// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family of the administrator's policy. The family and
//! its attribute policy (a first check of the attribute types) are C, in
//! `tcp_stealth_helpers.c`; each request's attribute stream lands here and
//! is parsed by the glue ([`crate::policy`]).

use super::{bindings, pernet::Net};
use core::ffi::c_int;
use kernel::{error::to_result, prelude::*, str::CStr};

/// `TCP_STEALTH_CMD_PROTECT`.
const CMD_PROTECT: u8 = 1;
/// `TCP_STEALTH_CMD_UNPROTECT`.
const CMD_UNPROTECT: u8 = 2;

/// The registered family; dropping it unregisters it.
pub(crate) struct GenlRegistration(());

impl GenlRegistration {
    /// Registers the family. Every namespace must have its state already.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: The callback stays valid while the module is loaded; the
        // family is unregistered in `drop`.
        to_result(unsafe { bindings::tcp_stealth_genl_register(Some(policy_request)) })?;
        Ok(Self(()))
    }
}

impl Drop for GenlRegistration {
    fn drop(&mut self) {
        // SAFETY: Registered in `new`; waits for running requests.
        unsafe { bindings::tcp_stealth_genl_unregister() };
    }
}

/// One request being handled: its attributes and its extended ACK.
pub(crate) struct GenlRequest<'a> {
    attrs: &'a [u8],
    extack: *mut bindings::netlink_ext_ack,
}

impl GenlRequest<'_> {
    /// The attribute stream after the genl header, as the sender wrote it
    /// (its types already checked against the family's attribute policy).
    pub(crate) fn attrs(&self) -> &[u8] {
        self.attrs
    }

    /// Tells the sender why the request failed, pointing at the attribute
    /// that starts `offset` bytes into [`Self::attrs`] if there is one.
    pub(crate) fn set_error(&self, offset: Option<usize>, msg: &'static CStr) {
        let attr = match offset {
            Some(o) if o < self.attrs.len() => self.attrs[o..].as_ptr(),
            _ => core::ptr::null(),
        };
        // SAFETY: `extack` is the request's (or NULL), valid while it is
        // handled; `msg` is a static C string, as netlink keeps the pointer;
        // `attr` is NULL or points into the request's message.
        unsafe { bindings::tcp_stealth_genl_error(self.extack, attr.cast(), msg.as_char_ptr()) };
    }
}

/// A policy request, attribute types checked by the C side.
///
/// # Safety
///
/// Only the family's request handler calls it, in process context, with the
/// sender's namespace, `attrs` valid for `len` bytes and `extack` the
/// request's extended ACK (or NULL).
unsafe extern "C" fn policy_request(
    net: *mut bindings::net,
    cmd: u8,
    attrs: *const u8,
    len: u32,
    extack: *mut bindings::netlink_ext_ack,
) -> c_int {
    // SAFETY: The sender's namespace lives while its request is handled.
    let net = unsafe { Net::from_raw(net) };
    let attrs = if len == 0 {
        &[][..]
    } else {
        // SAFETY: The message's payload after the genl header, `len` bytes.
        unsafe { core::slice::from_raw_parts(attrs, len as usize) }
    };
    let cmd = match cmd {
        CMD_PROTECT => crate::proto::PolicyCmd::Protect,
        CMD_UNPROTECT => crate::proto::PolicyCmd::Unprotect,
        _ => return EINVAL.to_errno(),
    };
    let req = GenlRequest { attrs, extack };
    match net.state().policy.request(&req, cmd) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
