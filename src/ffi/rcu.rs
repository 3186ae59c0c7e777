// SPDX-License-Identifier: GPL-2.0

//! Values that readers follow under RCU while their owner replaces them.

use super::{bindings, sock::LockedSock, RcuSection};
use core::{
    ptr::null_mut,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::prelude::*;

/// A pointer that readers follow under RCU and the owner replaces under the
/// socket lock, freeing the old value after a grace period.
///
/// # Invariants
///
/// The pointer is NULL or comes from `KBox::into_raw`; it is only replaced by
/// [`RcuBox::replace`], which frees the old value after all RCU readers that
/// could see it are done.
pub(crate) struct RcuBox<T>(AtomicPtr<T>);

impl<T> RcuBox<T> {
    /// An empty pointer.
    pub(crate) const fn new() -> Self {
        Self(AtomicPtr::new(null_mut()))
    }

    /// Whether there is a value.
    pub(crate) fn is_set(&self) -> bool {
        !self.0.load(Ordering::Relaxed).is_null()
    }

    /// Reads the value inside an RCU read-side section.
    pub(crate) fn read<'a>(&'a self, _rcu: &'a RcuSection) -> Option<&'a T> {
        // SAFETY: By the invariant the value stays alive until a grace period
        // after it is replaced, which cannot end during `'a`.
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    /// Reads the value with the socket lock held, which excludes writers.
    pub(crate) fn get<'a>(&'a self, _lock: &'a LockedSock<'_>) -> Option<&'a T> {
        // SAFETY: Writers hold the socket lock, so the value cannot be freed
        // during `'a`.
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    /// Replaces the value without a socket lock (the owner serialises its
    /// writers some other way, and never uses [`RcuBox::get`]), and frees
    /// the old one once no reader can see it. May sleep.
    pub(crate) fn publish(&self, new: Option<KBox<T>>) {
        let new = new.map_or(null_mut(), KBox::into_raw);
        // The swap hands the old value to exactly one caller, whoever races.
        let old = self.0.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: Called in process context (see above).
            unsafe { bindings::synchronize_rcu() };
            // SAFETY: `old` came from `KBox::into_raw`, this call took it out
            // of the box, and no reader is left.
            drop(unsafe { KBox::from_raw(old) });
        }
    }

    /// Replaces the value and frees the old one once no reader can see it.
    /// May sleep.
    pub(crate) fn replace(&self, _lock: &LockedSock<'_>, new: Option<KBox<T>>) {
        let new = new.map_or(null_mut(), KBox::into_raw);
        let old = self.0.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: Called in process context (socket option calls).
            unsafe { bindings::synchronize_rcu() };
            // SAFETY: `old` came from `KBox::into_raw` and no reader is left.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: The owner is dropped after a grace period (`UlpData` is
            // freed by `call_rcu`), so no reader is left.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: The value is shared between threads only as `&T`.
unsafe impl<T: Sync + Send> Sync for RcuBox<T> {}
// SAFETY: Ownership of the value moves with the box.
unsafe impl<T: Send> Send for RcuBox<T> {}
