// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family of the administrator's policy. The family and
//! its attribute policy (a first check of the attribute types) are C, in
//! `src/tcp_stealth_genl.c`; each request's attribute stream lands here and
//! is parsed by the glue (its [`GenlPolicy`]).

use super::{bindings, net::Net};
use crate::proto::PolicyCmd;
use core::{ffi::c_int, marker::PhantomData};
use kernel::{error::to_result, prelude::*, str::CStr};

/// `TCP_STEALTH_CMD_PROTECT`.
const CMD_PROTECT: u8 = bindings::TCP_STEALTH_CMD_PROTECT as u8;
/// `TCP_STEALTH_CMD_UNPROTECT`.
const CMD_UNPROTECT: u8 = bindings::TCP_STEALTH_CMD_UNPROTECT as u8;

/// What the family's requests do, in the sender's namespace.
pub(crate) trait GenlPolicy {
    /// Handles request `cmd` with attributes `req` from `net`.
    fn request(net: &Net, req: &GenlRequest<'_>, cmd: PolicyCmd) -> Result;
}

/// The right to register the family, once: one exists per load of the
/// module (in [`super::Tokens`]), and [`GenlRegistration::new`] consumes it.
/// The family is a single C static (`src/tcp_stealth_genl.c`).
pub(crate) struct Token(());

impl Token {
    /// # Safety
    ///
    /// Only [`super::Tokens::take`] makes one, once per load of the module.
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

/// The registered family, its requests handled by `T`; dropping it
/// unregisters it.
///
/// # Invariants
///
/// The family is registered, by this registration, the only one of this
/// load of the module (it consumed the [`Token`]), with `policy_request::<T>`
/// as its handler.
pub(crate) struct GenlRegistration<T: GenlPolicy>(PhantomData<T>);

impl<T: GenlPolicy> GenlRegistration<T> {
    /// Registers the family. Every namespace must have its state already.
    pub(crate) fn new(token: Token) -> Result<Self> {
        // Consumed: no other registration of this load touches the family.
        let Token(()) = token;
        // SAFETY: `tcp_stealth_genl_register()` stores the handler in a C
        // static and registers the single family: this call consumed the
        // module's one `Token`, so nothing else writes the static or
        // registers the family. The handler is a function of this module,
        // valid until `drop` unregisters the family.
        to_result(unsafe { bindings::tcp_stealth_genl_register(Some(policy_request::<T>)) })?;
        // INVARIANT: Registered above, with the module's one token.
        Ok(Self(PhantomData))
    }
}

impl<T: GenlPolicy> Drop for GenlRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: The family is registered, by this registration only (type
        // invariant); `genl_unregister_family()` waits for running requests.
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
unsafe extern "C" fn policy_request<T: GenlPolicy>(
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
        CMD_PROTECT => PolicyCmd::Protect,
        CMD_UNPROTECT => PolicyCmd::Unprotect,
        _ => return EINVAL.to_errno(),
    };
    let req = GenlRequest { attrs, extack };
    match T::request(net, &req, cmd) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
