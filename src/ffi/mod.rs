// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer: every `unsafe` block of the module lives below here.
//!
//! Each submodule wraps one kernel C API that the `kernel` crate of Linux 6.12
//! lacks, and offers the glue a safe interface to it:
//!
//! - [`pernet`]: per network namespace state (`register_pernet_subsys`).
//! - [`netfilter`]: netfilter hooks (`nf_register_net_hook`).
//! - [`skb`]: read-only access to packet headers (`skb_header_pointer`).
//! - [`seq`]: `/proc/net` files backed by a `seq_file`.

pub(crate) mod bindings;
pub(crate) mod netfilter;
pub(crate) mod pernet;
pub(crate) mod seq;
pub(crate) mod skb;

use core::cell::UnsafeCell;

/// A C structure that the kernel keeps a pointer to for as long as it is
/// registered, such as a `pernet_operations`. It lives in a `static`, as its C
/// counterparts do.
///
/// # Invariants
///
/// The Rust side never creates references to the inner value; it is only
/// accessed through raw pointers by the kernel, which serialises its own
/// accesses (registration and unregistration happen at module load and unload).
pub(crate) struct KernelStatic<T>(UnsafeCell<T>);

// SAFETY: By the type invariant, Rust code never reads or writes the value; the
// kernel, which does, synchronises those accesses itself.
unsafe impl<T> Sync for KernelStatic<T> {}

impl<T> KernelStatic<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Returns the pointer to hand to the kernel.
    pub(crate) const fn get(&self) -> *mut T {
        self.0.get()
    }
}
