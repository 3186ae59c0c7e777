// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters (`alloc_percpu()`, `this_cpu_inc()`), which the
//! `kernel` crate of Linux 6.12 does not wrap. The C side is
//! `src/tcp_stealth_percpu.c`.

use super::bindings;
use core::ptr::NonNull;
use kernel::prelude::*;

/// `N` 64-bit counters, each with one copy per CPU: an increment touches
/// only the running CPU's copy (no shared cache line, no atomic
/// read-modify-write across CPUs); a read adds up all CPUs' copies.
///
/// # Invariants
///
/// `ptr` is a per-CPU array of `N` `u64` from `tcp_stealth_percpu_alloc()`,
/// owned by this value and freed only when it is dropped.
pub(crate) struct PerCpuCounters<const N: usize> {
    ptr: NonNull<u64>,
}

// SAFETY: The per-CPU array is only changed by `this_cpu_inc()`, which is
// safe from any context on any CPU, and read with `READ_ONCE()`; the value
// can move between threads and be shared by them.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: See above.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// `N` counters at zero. Process context (it may sleep).
    pub(crate) fn new() -> Result<Self> {
        let n = u32::try_from(N).map_err(|_| EINVAL)?;
        // SAFETY: Always safe to call in process context; it returns NULL or
        // a zeroed per-CPU array of `n` counters.
        let ptr = unsafe { bindings::tcp_stealth_percpu_alloc(n) };
        // INVARIANT: A non-NULL result is such an array, and now ours.
        NonNull::new(ptr).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    /// Adds one to counter `i` (on this CPU); an `i` of `N` or more is
    /// ignored. Any context.
    pub(crate) fn inc(&self, i: usize) {
        if i < N {
            // SAFETY: `ptr` is a live array of `N` counters (type
            // invariant) and `i < N`.
            unsafe { bindings::tcp_stealth_percpu_inc(self.ptr.as_ptr(), i as u32) };
        }
    }

    /// Counter `i` summed over all CPUs (0 for an `i` of `N` or more).
    /// Any context.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        if i >= N {
            return 0;
        }
        // SAFETY: As in `inc`; the sum only reads.
        unsafe { bindings::tcp_stealth_percpu_sum(self.ptr.as_ptr(), i as u32) }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is ours (type invariant), and with `&mut self` no
        // one else uses it any more.
        unsafe { bindings::tcp_stealth_percpu_free(self.ptr.as_ptr()) };
    }
}
