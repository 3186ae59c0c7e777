// SPDX-License-Identifier: GPL-2.0

//! Values that readers follow under RCU while their owner replaces them:
//! [`RcuBox`], whose writers never read without RCU, and [`SockRcu`], part
//! of a socket's ULP context, which the socket's lock owner also reads.

use super::{bindings, ulp::CtxLock, RcuSection};
use core::{
    ops::Deref,
    ptr::null_mut,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::prelude::*;

/// The pointer both types keep, and what they both offer: readers under RCU
/// (the types dereference to it).
///
/// # Invariants
///
/// The pointer is NULL or comes from `KBox::into_raw`; [`RcuPtr::swap_free`]
/// is the only writer, and it frees the old value after all RCU readers that
/// could see it are done.
pub(crate) struct RcuPtr<T>(AtomicPtr<T>);

impl<T> RcuPtr<T> {
    const fn new() -> Self {
        Self(AtomicPtr::new(null_mut()))
    }

    /// Whether there is a value.
    pub(crate) fn is_set(&self) -> bool {
        !self.0.load(Ordering::Relaxed).is_null()
    }

    /// Reads the value inside an RCU read-side section.
    pub(crate) fn read<'a>(&'a self, _rcu: &'a RcuSection) -> Option<&'a T> {
        // SAFETY: By the invariant the value stays alive until a grace period
        // after it is replaced, which cannot end during `'a` (the
        // `RcuSection` witness lasts no longer than the read-side section).
        unsafe { self.0.load(Ordering::Acquire).as_ref() }
    }

    /// Replaces the value and frees the old one once no RCU reader can see
    /// it. May sleep.
    fn swap_free(&self, new: Option<KBox<T>>) {
        let new = new.map_or(null_mut(), KBox::into_raw);
        // The swap hands the old value to exactly one caller, whoever races.
        let old = self.0.swap(new, Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `synchronize_rcu` needs process context, which both
            // callers document as theirs (they may sleep).
            unsafe { bindings::synchronize_rcu() };
            // SAFETY: `old` came from `KBox::into_raw` (invariant), the swap
            // took it out of the pointer, and no RCU reader is left.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

impl<T> Drop for RcuPtr<T> {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw` (invariant). `&mut self`:
            // nothing borrows the pointer any more, and every value `read`
            // hands out borrows it.
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: The value is shared between threads only as `&T`, and handed
// over (freed) by whichever thread replaces it.
unsafe impl<T: Sync + Send> Sync for RcuPtr<T> {}
// SAFETY: Ownership of the value moves with the pointer.
unsafe impl<T: Send> Send for RcuPtr<T> {}

/// A value that readers follow under RCU, and that writers replace without
/// reading it any other way (they serialise among themselves as they like,
/// or not at all).
pub(crate) struct RcuBox<T>(RcuPtr<T>);

impl<T> RcuBox<T> {
    /// An empty pointer.
    pub(crate) const fn new() -> Self {
        Self(RcuPtr::new())
    }

    /// Replaces the value, and frees the old one once no reader can see it.
    /// May sleep (process context only).
    pub(crate) fn publish(&self, new: Option<KBox<T>>) {
        self.0.swap_free(new)
    }
}

/// A value of a socket's ULP context that readers follow under RCU, and that
/// the owner of the socket's lock reads and replaces.
///
/// The lock evidence is a [`CtxLock`], checked at run time to belong to the
/// context this value is part of (as `LockedBy` checks its owner): the lock
/// of another socket does not exclude this one's writers.
pub(crate) struct SockRcu<T>(RcuPtr<T>);

impl<T> SockRcu<T> {
    /// An empty pointer.
    pub(crate) const fn new() -> Self {
        Self(RcuPtr::new())
    }

    /// Panics unless `self` lies inside the context that `lock` locks.
    fn check_owner<U>(&self, lock: &CtxLock<'_, U>) {
        let ctx = core::ptr::from_ref(lock.ctx()) as usize;
        let me = core::ptr::from_ref(self) as usize;
        let inside =
            me >= ctx && me + core::mem::size_of::<Self>() <= ctx + core::mem::size_of::<U>();
        if !inside {
            panic!("SockRcu used under the lock of another socket");
        }
    }

    /// Reads the value under the socket's lock, which excludes writers.
    pub(crate) fn get<'a, U>(&'a self, lock: &'a CtxLock<'_, U>) -> Option<&'a T> {
        self.check_owner(lock);
        // SAFETY: `self` is part of the context that `lock` holds the socket
        // lock of (checked above), and `replace` takes that lock too, so the
        // value cannot be freed during `'a`. The pointer is NULL or from
        // `KBox::into_raw` (invariant of `RcuPtr`).
        unsafe { self.0 .0.load(Ordering::Acquire).as_ref() }
    }

    /// Replaces the value and frees the old one once no reader can see it:
    /// readers under RCU wait a grace period, readers under the lock
    /// ([`SockRcu::get`]) are excluded by `lock`. May sleep.
    pub(crate) fn replace<U>(&self, lock: &CtxLock<'_, U>, new: Option<KBox<T>>) {
        self.check_owner(lock);
        self.0.swap_free(new)
    }
}

impl<T> Deref for RcuBox<T> {
    type Target = RcuPtr<T>;

    fn deref(&self) -> &RcuPtr<T> {
        &self.0
    }
}

impl<T> Deref for SockRcu<T> {
    type Target = RcuPtr<T>;

    fn deref(&self) -> &RcuPtr<T> {
        &self.0
    }
}
