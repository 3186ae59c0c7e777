// SPDX-License-Identifier: GPL-2.0

//! Network namespaces (`struct net`). Their per-module state is reached
//! through [`super::pernet`], which implements [`Net::state`].

use super::bindings;
use kernel::types::Opaque;

/// A network namespace (`struct net`).
///
/// # Invariants
///
/// References to this type only exist while the namespace is alive.
#[repr(transparent)]
pub(crate) struct Net(Opaque<bindings::net>);

impl Net {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live namespace that outlives `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::net) -> &'a Self {
        // SAFETY: `Net` is a transparent wrapper of `struct net`, and the
        // caller guarantees (`# Safety`) a live namespace for `'a`.
        // INVARIANT: Hence the reference only exists while it is alive.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw pointer.
    pub(super) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }
}
