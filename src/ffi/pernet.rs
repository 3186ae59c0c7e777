// SPDX-License-Identifier: GPL-2.0

//! Per network namespace state (`register_pernet_subsys`).
//!
//! The kernel allocates a [`Slot`] for every namespace, existing and future;
//! the module's [`NetState`] is built in place there when the namespace (or the
//! module) comes up, its netfilter hooks are registered next to it, and both go
//! away with the namespace (or the module).

use super::{
    bindings,
    netfilter::{self, HookData, HookSpec, HookState},
    KernelStatic,
};
use crate::NetState;
use core::{
    ffi::c_int,
    mem::MaybeUninit,
    ptr::addr_of_mut,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{error::to_result, prelude::*, types::Opaque};

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
        // SAFETY: `Net` is a transparent wrapper and the caller guarantees the
        // pointer is valid for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// Returns the raw pointer.
    pub(super) fn as_ptr(&self) -> *mut bindings::net {
        self.0.get()
    }

    /// Returns this namespace's state.
    pub(crate) fn state(&self) -> &NetState {
        // SAFETY: `NET_ID` was set by `register_pernet_subsys` before any
        // namespace could be handed to the module, and by the invariant of
        // `Slot` its state is initialised for as long as the namespace lives
        // (the module only sees namespaces between `net_init` and `net_exit`).
        unsafe { (*slot(self.as_ptr())).state.assume_init_ref() }
    }
}

/// What the module keeps and does in every namespace.
pub(crate) trait PernetState: HookState + Sized {
    /// The netfilter hooks to run on the state, in every namespace.
    const HOOKS: &'static [HookSpec];
    /// Whether the hooks must see IPv6 packets whole. IPv6 reassembles in
    /// the fragment header's handler, after `NF_INET_LOCAL_IN`, so a hook
    /// there sees each fragment alone unless `nf_defrag_ipv6` reassembles
    /// them first, as it does for conntrack and the socket match; this turns
    /// it on in every namespace for as long as the hooks are registered.
    const WHOLE_IPV6: bool;
    /// Builds the state of a new namespace.
    fn new() -> Result<Self>;
    /// Starts work in `net`; the hooks are registered right after.
    fn start(&self, net: &Net) -> Result;
    /// Stops work in `net`; the hooks are already unregistered.
    fn stop(&self, net: &Net);
}

/// Most hooks a state may ask for.
const MAX_HOOKS: usize = 4;

/// What the kernel allocates for each namespace.
///
/// # Invariants
///
/// Between `net_init` and `net_exit`, `state` is initialised, and for each
/// `i < NetState::HOOKS.len()` `ops[i]` is registered with netfilter in the
/// namespace, with `priv` pointing to `data[i]`, which points to `state`.
/// The slot never moves: the kernel frees it only after `net_exit`.
struct Slot {
    ops: [bindings::nf_hook_ops; MAX_HOOKS],
    data: [MaybeUninit<HookData<NetState>>; MAX_HOOKS],
    state: MaybeUninit<NetState>,
}

static NET_ID: AtomicU32 = AtomicU32::new(0);

static PERNET_OPS: KernelStatic<bindings::pernet_operations> =
    KernelStatic::new(bindings::pernet_operations {
        init: Some(net_init),
        exit: Some(net_exit),
        id: NET_ID.as_ptr(),
        size: core::mem::size_of::<Slot>(),
        // SAFETY: All-zero is a valid `pernet_operations`: NULL pointers and
        // `None` callbacks.
        ..unsafe { core::mem::zeroed() }
    });

/// Looks up the slot of `net`.
///
/// # Safety
///
/// `net` must be alive and the subsystem registered.
unsafe fn slot(net: *mut bindings::net) -> *mut Slot {
    // SAFETY: The caller guarantees `net` is alive and `NET_ID` is set.
    unsafe { bindings::tcp_stealth_net_generic(net, NET_ID.load(Ordering::Relaxed)) }.cast()
}

/// Unregisters the first `n` hooks of `slot`.
///
/// # Safety
///
/// They must be registered in `net`.
unsafe fn unregister_hooks(net: *mut bindings::net, slot: *mut Slot, n: usize) {
    for i in (0..n).rev() {
        // SAFETY: The caller guarantees `ops[i]` is registered in `net`.
        // `nf_unregister_net_hook` waits until no call of the hook runs.
        unsafe { bindings::nf_unregister_net_hook(net, addr_of_mut!((*slot).ops[i])) };
    }
}

/// `pernet_operations.init`.
///
/// # Safety
///
/// Only the kernel calls it, once per namespace, with a live namespace whose
/// slot is allocated and zeroed.
unsafe extern "C" fn net_init(net: *mut bindings::net) -> c_int {
    const { assert!(NetState::HOOKS.len() <= MAX_HOOKS) };
    // SAFETY: The kernel calls this with a live namespace.
    let netref = unsafe { Net::from_raw(net) };
    let state = match NetState::new() {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The kernel allocated the slot for this namespace, zeroed and
    // aligned by kmalloc; nothing else uses it yet.
    let slot = unsafe { slot(net) };
    // SAFETY: See above; the fields are disjoint, so these references do not
    // alias.
    let (ops, data, state_slot) =
        unsafe { (&mut (*slot).ops, &mut (*slot).data, &mut (*slot).state) };
    let state: &NetState = state_slot.write(state);
    if let Err(e) = state.start(netref) {
        // SAFETY: `state` was initialised above and is not used after this.
        unsafe { state_slot.assume_init_drop() };
        return e.to_errno();
    }
    if NetState::WHOLE_IPV6 {
        // SAFETY: `net` is alive; `net_exit` (or the error path below) drops
        // the reference taken here, after the hooks are gone.
        let ret = unsafe { bindings::tcp_stealth_defrag_enable(net) };
        if ret != 0 {
            state.stop(netref);
            // SAFETY: No hook refers to the state.
            unsafe { (*slot).state.assume_init_drop() };
            return ret;
        }
    }
    for (i, spec) in NetState::HOOKS.iter().enumerate() {
        let hook_data = data[i].write(HookData { spec, state });
        netfilter::fill_ops(&mut ops[i], spec, hook_data);
        // SAFETY: `net` is alive and `ops[i]` is filled in and stays in place,
        // as do `data[i]` and the state, until `net_exit` unregisters it.
        let ret = unsafe { bindings::nf_register_net_hook(net, &ops[i]) };
        if ret != 0 {
            // SAFETY: The hooks before `i` were registered in `net`.
            unsafe { unregister_hooks(net, slot, i) };
            if NetState::WHOLE_IPV6 {
                // SAFETY: Enabled above; no hook of ours runs any more.
                unsafe { bindings::tcp_stealth_defrag_disable(net) };
            }
            state.stop(netref);
            // SAFETY: No hook refers to the state any more.
            unsafe { (*slot).state.assume_init_drop() };
            return ret;
        }
    }
    // INVARIANT: The state is initialised and all hooks are registered.
    0
}

/// `pernet_operations.exit`.
///
/// # Safety
///
/// Only the kernel calls it, once per namespace for which `net_init`
/// succeeded, before it frees the slot.
unsafe extern "C" fn net_exit(net: *mut bindings::net) {
    // SAFETY: The kernel calls this with a namespace that is still alive.
    let netref = unsafe { Net::from_raw(net) };
    // SAFETY: `net_init` succeeded for this namespace (otherwise the kernel
    // would not call `exit`), so by the invariant of `Slot` the state is
    // initialised and the hooks registered.
    let slot = unsafe { slot(net) };
    // SAFETY: See above.
    unsafe { unregister_hooks(net, slot, NetState::HOOKS.len()) };
    if NetState::WHOLE_IPV6 {
        // SAFETY: `net_init` enabled it for this namespace and succeeded;
        // the hooks that needed it are gone.
        unsafe { bindings::tcp_stealth_defrag_disable(net) };
    }
    // SAFETY: The state is initialised; no hook uses it any more.
    let state = unsafe { (*slot).state.assume_init_ref() };
    state.stop(netref);
    // SAFETY: The state is initialised and not used after this.
    unsafe { (*slot).state.assume_init_drop() };
}

/// The registration of the per-namespace state; dropping it unregisters it,
/// which stops and drops the state of every namespace.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the subsystem; this builds and starts a state in every
    /// existing namespace.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: `PERNET_OPS` is a static, fully initialised, and registered
        // at most once: only `TcpStealth::init` calls this.
        to_result(unsafe { bindings::register_pernet_subsys(PERNET_OPS.get()) })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: `PERNET_OPS` was registered by `new`.
        unsafe { bindings::unregister_pernet_subsys(PERNET_OPS.get()) };
    }
}
