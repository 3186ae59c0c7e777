// SPDX-License-Identifier: GPL-2.0

//! The module's one-time registrations' rights ([`Tokens`]). Apart from
//! `mod.rs`, so that the items there, which every submodule uses, use no
//! submodule in turn (no cycle in the import graph).

use super::{genl, pernet, ulp};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::prelude::*;

/// The rights to make the module's one-time registrations: the
/// per-namespace state, the ULP and the generic netlink family. Each
/// registration consumes its token by value, so none can happen twice; one
/// set of tokens exists per load of the module.
pub(crate) struct Tokens {
    /// For [`pernet::Registration::new`].
    pub(crate) pernet: pernet::Token,
    /// For [`ulp::UlpRegistration::new`].
    pub(crate) ulp: ulp::Token,
    /// For [`genl::GenlRegistration::new`].
    pub(crate) genl: genl::Token,
}

impl Tokens {
    /// The module's tokens: the first call of this load of the module gets
    /// them (the module's `init`), any later one `EBUSY`.
    pub(crate) fn take() -> Result<Self> {
        static TAKEN: AtomicBool = AtomicBool::new(false);
        if TAKEN.swap(true, Ordering::Relaxed) {
            return Err(EBUSY);
        }
        // SAFETY: `TAKEN` was false and is true now, so this is the one call
        // that makes the tokens in this load of the module (statics start
        // afresh with each load).
        Ok(unsafe {
            Self {
                pernet: pernet::Token::new(),
                ulp: ulp::Token::new(),
                genl: genl::Token::new(),
            }
        })
    }
}
