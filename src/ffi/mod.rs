// SPDX-License-Identifier: GPL-2.0

//! The abstractions over the kernel's C APIs: every `unsafe` block of the
//! module lives below here.
//!
//! Each submodule wraps one kernel C API that the `kernel` crate of Linux 6.12
//! lacks, and offers the glue a safe interface to it:
//!
//! - [`net`]: network namespaces (`struct net`).
//! - [`pernet`]: per network namespace state (`register_pernet_subsys`), with
//!   its sysctl table ([`sysctl`], `register_net_sysctl_sz`) and its
//!   netfilter hooks ([`netfilter`], `nf_register_net_hook`).
//! - [`skb`]: access to packet headers (`skb_header_pointer`), and the two
//!   changes the output hook makes to a SYN.
//! - [`seq`]: `/proc/net` files backed by a `seq_file`.
//! - [`sock`]: sockets, locked sockets, socket option values.
//! - [`ulp`]: a TCP upper-layer protocol ([`ulp::Ulp`], implemented by the
//!   glue) and its protos.
//! - [`hold`]: connections held until their first bytes pass a check
//!   ([`hold::HoldCheck`], implemented by the glue).
//! - [`ops`]: the ULP's `proto_ops` copies, for held connections.
//! - [`genl`]: the generic netlink family of the policy
//!   ([`genl::GenlPolicy`], implemented by the glue).
//! - [`rcu`]: values read under RCU.
//! - [`crypto`]: the kernel's SipHash and BLAKE2s.
//! - [`percpu`]: per-CPU counters.
//! - [`uapi`]: the module's uapi header, through bindgen.
//! - [`tokens`]: the rights to the one-time registrations ([`Tokens`]).
//!
//! The import graph has no cycle: [`ulp`] uses [`hold`] and [`ops`], which
//! reach the ULP only through traits it implements ([`hold::HoldOf`],
//! [`ops::OpsOf`]), and [`pernet`] uses [`netfilter`] and [`sysctl`].
//! Registrations that may happen only once consume a token of [`Tokens`].
//!
//! Nothing here names a type of the glue: the glue implements the traits
//! ([`ulp::Ulp`], [`hold::HoldCheck`], [`pernet::PernetState`],
//! [`netfilter::HookState`], [`sysctl::SysctlSettings`], [`genl::GenlPolicy`],
//! [`seq::Show`]) and the callbacks here are generic over them.

mod bindings;
pub(crate) mod crypto;
pub(crate) mod genl;
pub(crate) mod hold;
pub(crate) mod listen;
pub(crate) mod net;
pub(crate) mod netfilter;
mod ops;
pub(crate) mod percpu;
pub(crate) mod pernet;
pub(crate) mod rcu;
pub(crate) mod seq;
pub(crate) mod skb;
pub(crate) mod sock;
pub(crate) mod sysctl;
pub(crate) mod uapi;
pub(crate) mod ulp;

mod tokens;

pub(crate) use tokens::Tokens;

use core::{cell::UnsafeCell, marker::PhantomData};

/// A C structure that the kernel keeps a pointer to for as long as it is
/// registered, such as a `pernet_operations`. It lives in a `static`, as its C
/// counterparts do.
///
/// # Invariants
///
/// The value is written only through [`KernelStatic::get`], and only while
/// the writer has it to itself: before the kernel is given the pointer, by
/// the registration that consumed the module's one token of its kind
/// ([`Tokens`]). While the kernel has the pointer, Rust code only reads the
/// value, through the raw pointer.
pub(crate) struct KernelStatic<T>(UnsafeCell<T>);

// SAFETY: By the type invariant, writes happen only while the writer has the
// value to itself (the one registration of its kind, before publishing it),
// and everybody else only reads it; the kernel synchronises its own
// accesses.
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

/// Proof that the code holding it runs inside an RCU read-side critical
/// section; values read under RCU borrow from it.
///
/// # Invariants
///
/// Only made where the kernel guarantees an RCU read-side section for the
/// lifetime of the value (netfilter hooks run under `rcu_read_lock()`). It is
/// neither `Send` nor `Sync`, so it cannot leave that context.
pub(crate) struct RcuSection(PhantomData<*mut ()>);

impl RcuSection {
    /// # Safety
    ///
    /// The caller must be inside an RCU read-side section that lasts as long
    /// as the returned value.
    pub(crate) unsafe fn assume() -> Self {
        Self(PhantomData)
    }
}

/// The current UNIX time in seconds.
pub(crate) fn now_secs() -> u64 {
    // SAFETY: `ktime_get_real_seconds()` has no precondition: it reads the
    // timekeeper from any context.
    let t = unsafe { bindings::ktime_get_real_seconds() };
    u64::try_from(t).unwrap_or(0)
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// A monotonic clock in nanoseconds (`ktime_get_ns()`).
pub(crate) fn now_ns() -> u64 {
    u64::try_from(kernel::time::Ktime::ktime_get().to_ns()).unwrap_or(0)
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// Lets the scheduler run something else (`cond_resched()`). Only for
/// process context, where the benchmark loops run.
pub(crate) fn cond_resched() {
    // SAFETY: Called from process context only (the benchmark file's write),
    // which may sleep.
    unsafe { bindings::tcp_stealth_cond_resched() };
}

/// Runs `f` with bottom halves disabled on this CPU, so that process context
/// can take a lock that the netfilter hooks take in softirq context.
pub(crate) fn with_bh_disabled<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Balanced by the enable below; `f` cannot skip it (the kernel
    // is built with panic=abort, so there is no unwinding).
    unsafe { bindings::tcp_stealth_local_bh_disable() };
    let r = f();
    // SAFETY: BHs were disabled just above, by this function.
    unsafe { bindings::tcp_stealth_local_bh_enable() };
    r
}

/// Fills `buf` with random bytes.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// A random 64-bit word (`get_random_u64()`): from the same CRNG as
/// [`random_bytes`], through its per-CPU batch of ChaCha20 output, so it
/// costs a fraction of a `get_random_bytes()` call, which runs a ChaCha20
/// block every time (about 1400 instructions more).
pub(crate) fn random_u64() -> u64 {
    // SAFETY: `get_random_u64()` has no precondition; it may be called from
    // any context.
    unsafe { bindings::get_random_u64() }
}

/// Errors that the `kernel` crate of Linux 6.12 does not name.
pub(crate) mod errno {
    use super::bindings;
    use kernel::error::Error;

    fn err(e: u32) -> Error {
        Error::from_errno(-(e as i32))
    }

    /// `EISCONN`.
    pub(crate) fn eisconn() -> Error {
        err(bindings::EISCONN)
    }

    /// `ENOPROTOOPT`.
    pub(crate) fn enoprotoopt() -> Error {
        err(bindings::ENOPROTOOPT)
    }

    /// `EMSGSIZE`.
    pub(crate) fn emsgsize() -> Error {
        err(bindings::EMSGSIZE)
    }

    /// `EOPNOTSUPP`.
    pub(crate) fn eopnotsupp() -> Error {
        err(bindings::EOPNOTSUPP)
    }

    /// `ENOKEY`.
    pub(crate) fn enokey() -> Error {
        err(bindings::ENOKEY)
    }
}
