// SPDX-License-Identifier: GPL-2.0

//! Per network namespace state (`register_pernet_subsys`).
//!
//! The kernel allocates a [`Slot`] for every namespace, existing and future;
//! the user's [`PernetState`] is built in place there when the namespace (or
//! the module) comes up, and its sysctl table is registered next to it. Its
//! netfilter hooks are registered only when the user first asks for them in
//! that namespace ([`Net::activate`]): until then the module costs the
//! namespace's packets nothing. All go away with the namespace (or the
//! module): the hooks first (`pre_exit`), the state only after an RCU grace
//! period (`exit`), since netfilter does not wait for a hook that is running
//! when it is unregistered. The user declares one `static` [`Pernet`] for its state type
//! (`Pernet::new()`, a `const fn` that fills the `pernet_operations`) and
//! registers it with [`Registration`], which takes the module's one
//! [`Token`].

use super::{
    bindings,
    netfilter::{self, HookData, HookSpec, HookState},
    sysctl::{SysctlSettings, SysctlTable},
    KernelStatic,
};
use core::{
    ffi::c_int,
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::{addr_of_mut, null_mut},
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{error::to_result, new_mutex, prelude::*, sync::Mutex};

pub(crate) use super::net::Net;

impl Net {
    /// Returns this namespace's state of type `T`.
    pub(crate) fn state<T: PernetState>(&self) -> &T {
        let pernet = T::pernet();
        // SAFETY: `T::pernet()`'s id was set by `register_pernet_subsys` before
        // any namespace could be handed to the module (the `Registration`
        // holds it while the module runs), and by the invariant of `Slot` its
        // state is initialised for as long as the namespace lives (the module
        // only sees namespaces between `net_init` and `net_exit`).
        unsafe { (*slot::<T>(self.as_ptr(), pernet)).state.assume_init_ref() }
    }

    /// Registers `T`'s netfilter hooks in this namespace (and, with
    /// [`PernetState::WHOLE_IPV6`], IPv6 reassembly before them), unless
    /// they are registered already. They stay until the namespace or the
    /// module goes. Called before the namespace first needs them: when it
    /// returns `Ok`, every packet from then on passes them. Fails with
    /// ENODEV once the namespace (or the module) is going. May sleep.
    pub(crate) fn activate<T: PernetState>(&self) -> Result {
        let net = self.as_ptr();
        // SAFETY: As in `state()`: the id is set, `net` is alive.
        let slot = unsafe { slot::<T>(net, T::pernet()) };
        // SAFETY: By the invariant of `Slot`, `active` is initialised while
        // the namespace lives; it is only read here.
        let active = unsafe { (*slot).active.assume_init_ref() };
        let mut hooks = active.lock();
        match *hooks {
            Hooks::On => Ok(()),
            Hooks::Gone => Err(ENODEV),
            // SAFETY: `slot` is this namespace's; `hooks` is its `active`
            // lock, held, and says the hooks are not registered.
            Hooks::Off => unsafe { register_hooks::<T>(net, slot, &mut hooks) },
        }
    }
}

/// What the module keeps and does in every namespace.
pub(crate) trait PernetState: HookState + Sized + Send + 'static {
    /// The `pernet_operations` of this state: a `static` made with
    /// [`Pernet::new`].
    fn pernet() -> &'static Pernet<Self>;
    /// The netfilter hooks to run on the state, in every namespace where
    /// [`Net::activate`] asked for them.
    const HOOKS: &'static [HookSpec];
    /// Whether the hooks must see IPv6 packets whole. IPv6 reassembles in
    /// the fragment header's handler, after `NF_INET_LOCAL_IN`, so a hook
    /// there sees each fragment alone unless `nf_defrag_ipv6` reassembles
    /// them first, as it does for conntrack and the socket match; this turns
    /// it on in a namespace for as long as the hooks are registered there.
    const WHOLE_IPV6: bool;
    /// The settings of the state's sysctl table.
    type Settings: SysctlSettings;
    /// Builds the state of a new namespace.
    fn new() -> Result<Self>;
    /// The state's sysctl table: registered in the namespace once the state
    /// is in place there, before [`PernetState::start`], and unregistered
    /// after [`PernetState::stop`]. It must return the same table every
    /// time (a field of the state).
    fn sysctl(&self) -> &SysctlTable<Self::Settings>;
    /// Starts work in `net`; the sysctl table is registered already, the
    /// hooks are not (they come with [`Net::activate`]).
    fn start(&self, net: &Net) -> Result;
    /// Stops work in `net`; the hooks, if any, are already unregistered,
    /// the sysctl table is unregistered right after.
    fn stop(&self, net: &Net);
}

/// Most hooks a state may ask for.
const MAX_HOOKS: usize = 4;

/// Where a namespace's hooks are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hooks {
    /// Not registered (yet).
    Off,
    /// Registered ([`Net::activate`]).
    On,
    /// Unregistered for good (`net_pre_exit`): the namespace or the module
    /// is going.
    Gone,
}

/// What the kernel allocates for each namespace.
///
/// # Invariants
///
/// Between `net_init` and `net_exit`, `state` and `active` are initialised
/// and the state's sysctl table is registered in the namespace. While
/// `active` holds [`Hooks::On`], for each `i < T::HOOKS.len()` `ops[i]` is
/// registered with netfilter in the namespace, with `priv` pointing to
/// `data[i]`, which points to `state`, and with `T::WHOLE_IPV6` IPv6
/// reassembly is on (one reference of the namespace's); otherwise none of
/// them is. `ops` and `data` are written, and the hooks registered or
/// unregistered, only with `active` locked. It holds [`Hooks::Gone`] from
/// `net_pre_exit` on, so when `net_exit` runs, an RCU grace period after,
/// no hook runs on the state any more. The slot never moves: the
/// kernel frees it only after `net_exit`. Only `net_init` and `net_exit`
/// register and unregister the sysctl table, and the kernel calls them once
/// per namespace, one after the other.
struct Slot<T> {
    ops: [bindings::nf_hook_ops; MAX_HOOKS],
    data: [MaybeUninit<HookData<T>>; MAX_HOOKS],
    state: MaybeUninit<T>,
    /// Whether the hooks are registered ([`Net::activate`]).
    active: MaybeUninit<Pin<KBox<Mutex<Hooks>>>>,
}

/// The `pernet_operations` of state `T`, and the id the kernel gives it.
///
/// # Invariants
///
/// `ops` is written (its `id`) only by [`Registration::new`], which consumes
/// the module's one [`Token`] (so it runs at most once per load of the
/// module), before `register_pernet_subsys` publishes it.
pub(crate) struct Pernet<T: PernetState> {
    ops: KernelStatic<bindings::pernet_operations>,
    id: AtomicU32,
    _state: PhantomData<T>,
}

impl<T: PernetState> Pernet<T> {
    /// The operations of `T`, filled at compile time.
    pub(crate) const fn new() -> Self {
        Self {
            ops: KernelStatic::new(bindings::pernet_operations {
                init: Some(net_init::<T>),
                pre_exit: Some(net_pre_exit::<T>),
                exit: Some(net_exit::<T>),
                // Set to `&self.id` when registered.
                id: null_mut(),
                size: core::mem::size_of::<Slot<T>>(),
                // SAFETY: All-zero is a valid `pernet_operations`: NULL
                // pointers and `None` callbacks.
                ..unsafe { core::mem::zeroed() }
            }),
            id: AtomicU32::new(0),
            _state: PhantomData,
        }
    }
}

/// Looks up the slot of `net`.
///
/// # Safety
///
/// `net` must be alive and `pernet` registered.
unsafe fn slot<T: PernetState>(net: *mut bindings::net, pernet: &Pernet<T>) -> *mut Slot<T> {
    // SAFETY: The caller guarantees `net` is alive and the id is set.
    unsafe { bindings::tcp_stealth_net_generic(net, pernet.id.load(Ordering::Relaxed)) }.cast()
}

/// Unregisters the first `n` hooks of `slot`. A call of a hook that runs
/// meanwhile may go on after this returns (`nf_unregister_net_hook` does not
/// wait for it), until the end of its RCU read-side section.
///
/// # Safety
///
/// They must be registered in `net`.
unsafe fn unregister_hooks<T>(net: *mut bindings::net, slot: *mut Slot<T>, n: usize) {
    for i in (0..n).rev() {
        // SAFETY: The caller guarantees `ops[i]` is registered in `net`.
        unsafe { bindings::nf_unregister_net_hook(net, addr_of_mut!((*slot).ops[i])) };
    }
}

/// Registers the hooks of `slot` in `net`, and IPv6 reassembly before them
/// (`T::WHOLE_IPV6`), and sets `hooks` to [`Hooks::On`]; on failure, none of
/// them is left registered and `hooks` stays [`Hooks::Off`].
///
/// # Safety
///
/// `slot` must be the slot of `net`, a live namespace between `net_init` and
/// `net_pre_exit`, and `hooks` the value of its `active`, locked by the
/// caller, [`Hooks::Off`].
unsafe fn register_hooks<T: PernetState>(
    net: *mut bindings::net,
    slot: *mut Slot<T>,
    hooks: &mut Hooks,
) -> Result {
    // SAFETY: By the invariant of `Slot`, `state` is initialised while the
    // namespace lives; `ops` and `data` are disjoint from it and from
    // `active`, and with `active` locked and `Off` nothing else writes them
    // and no hook is registered, nor running: a failed earlier attempt
    // waited for the calls of the hooks it unregistered (below). So these
    // references alias nothing.
    let (ops, data, state) = unsafe {
        (
            &mut (*slot).ops,
            &mut (*slot).data,
            (*slot).state.assume_init_ref(),
        )
    };
    if T::WHOLE_IPV6 {
        // SAFETY: `net` is alive; `net_pre_exit` (or the error path below)
        // drops the reference taken here, after the hooks are gone.
        to_result(unsafe { bindings::tcp_stealth_defrag_enable(net) })?;
    }
    for (i, spec) in T::HOOKS.iter().enumerate() {
        let hook_data = data[i].write(HookData { spec, state });
        netfilter::fill_ops(&mut ops[i], spec, hook_data);
        // SAFETY: `net` is alive and `ops[i]` is filled in and stays in place,
        // as do `data[i]` and the state, until `net_exit`, a grace period
        // after `net_pre_exit` unregisters it.
        let ret = unsafe { bindings::nf_register_net_hook(net, &ops[i]) };
        if ret != 0 {
            // SAFETY: The hooks before `i` were registered in `net`.
            unsafe { unregister_hooks(net, slot, i) };
            if T::WHOLE_IPV6 {
                // SAFETY: Enabled above; the hooks are unregistered (the
                // state stays for a call of one that may still run).
                unsafe { bindings::tcp_stealth_defrag_disable(net) };
            }
            // A call of a hook unregistered above may still run, reading its
            // `ops[i]` and `data[i]`, which a later attempt writes again:
            // wait for it, so that such writes race with no reader.
            // SAFETY: Process context (`activate` may sleep).
            unsafe { bindings::synchronize_rcu() };
            return to_result(ret);
        }
    }
    // INVARIANT: All hooks are registered, and reassembly is on.
    *hooks = Hooks::On;
    Ok(())
}

/// `pernet_operations.init`.
///
/// # Safety
///
/// Only the kernel calls it, once per namespace, with a live namespace whose
/// slot is allocated and zeroed.
unsafe extern "C" fn net_init<T: PernetState>(net: *mut bindings::net) -> c_int {
    const { assert!(T::HOOKS.len() <= MAX_HOOKS) };
    // SAFETY: The kernel calls this with a live namespace.
    let netref = unsafe { Net::from_raw(net) };
    let state = match T::new() {
        Ok(s) => s,
        Err(e) => return e.to_errno(),
    };
    let active = match KBox::pin_init(new_mutex!(Hooks::Off, "tcp_stealth_active"), GFP_KERNEL) {
        Ok(a) => a,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The kernel allocated the slot for this namespace, zeroed and
    // aligned by kmalloc, once `T::pernet()` was registered; nothing else
    // uses it yet.
    let slot = unsafe { slot(net, T::pernet()) };
    // SAFETY: `slot` is valid, aligned and used by nothing else yet (just
    // above); the two fields are disjoint, so these references do not
    // alias, and they are `MaybeUninit`.
    let (state_slot, active_slot) = unsafe { (&mut (*slot).state, &mut (*slot).active) };
    let state: &T = state_slot.write(state);
    // SAFETY: Only this call and `net_exit` of this namespace register and
    // unregister the table, one after the other (invariant of `Slot`), and
    // it is not registered yet; it is a field of the state, which stays in
    // place in the slot until `net_exit` (or the error paths below)
    // unregisters it, while `net` lives.
    if let Err(e) = unsafe { state.sysctl().register(netref) } {
        // SAFETY: `state` was initialised above and is not used after this.
        unsafe { state_slot.assume_init_drop() };
        return e.to_errno();
    }
    if let Err(e) = state.start(netref) {
        // SAFETY: Registered above, by this call; nothing else registers it.
        unsafe { state.sysctl().unregister() };
        // SAFETY: `state` was initialised above and is not used after this.
        unsafe { (*slot).state.assume_init_drop() };
        return e.to_errno();
    }
    active_slot.write(active);
    // INVARIANT: The state and `active` are initialised, the sysctl table is
    // registered, and no hook is (`active` holds `Off`).
    0
}

/// `pernet_operations.pre_exit`: unregisters the hooks for good. The kernel
/// waits for an RCU grace period before it calls `net_exit`, which frees
/// the state, so no call of a hook that was running here outlives it.
///
/// # Safety
///
/// Only the kernel calls it, once per namespace for which `net_init`
/// succeeded, before `net_exit`.
unsafe extern "C" fn net_pre_exit<T: PernetState>(net: *mut bindings::net) {
    // SAFETY: `net_init` succeeded for this namespace (otherwise the kernel
    // would not call this), so by the invariant of `Slot` `active` is
    // initialised; `net_exit`, which drops it, comes after this.
    let slot = unsafe { slot(net, T::pernet()) };
    // SAFETY: As just said.
    let active = unsafe { (*slot).active.assume_init_ref() };
    let mut hooks = active.lock();
    if *hooks == Hooks::On {
        // SAFETY: `On`: by the invariant of `Slot`, all `T::HOOKS.len()`
        // hooks are registered in `net`.
        unsafe { unregister_hooks(net, slot, T::HOOKS.len()) };
        if T::WHOLE_IPV6 {
            // SAFETY: Enabled with the hooks (invariant of `Slot`); the
            // hooks that needed it are unregistered.
            unsafe { bindings::tcp_stealth_defrag_disable(net) };
        }
    }
    // INVARIANT: No hook is registered, and none will be (`activate`).
    *hooks = Hooks::Gone;
}

/// `pernet_operations.exit`.
///
/// # Safety
///
/// Only the kernel calls it, once per namespace for which `net_init`
/// succeeded, before it frees the slot.
unsafe extern "C" fn net_exit<T: PernetState>(net: *mut bindings::net) {
    // SAFETY: The kernel calls this with a namespace that is still alive.
    let netref = unsafe { Net::from_raw(net) };
    // SAFETY: `net_init` succeeded for this namespace (otherwise the kernel
    // would not call `exit`), so by the invariant of `Slot` the state and
    // `active` are initialised.
    let slot = unsafe { slot(net, T::pernet()) };
    // SAFETY: Initialised (above), and nothing uses it after this: the
    // namespace is going, `net_pre_exit` left it `Gone`, and
    // `Net::activate` cannot be called on a namespace that is going.
    unsafe { (*slot).active.assume_init_drop() };
    // SAFETY: The state is initialised. No hook uses it any more: they were
    // unregistered in `net_pre_exit`, and the kernel waited for an RCU grace
    // period since, which every call of a hook (it runs under RCU) that was
    // still running then has finished.
    let state = unsafe { (*slot).state.assume_init_ref() };
    state.stop(netref);
    // SAFETY: `net_init` registered the table and nothing else registers it
    // (invariant of `Slot`); `net` is still alive.
    unsafe { state.sysctl().unregister() };
    // SAFETY: The state is initialised and not used after this.
    unsafe { (*slot).state.assume_init_drop() };
}

/// The right to register the module's per-namespace state, once: one
/// exists per load of the module (in [`super::Tokens`]), and
/// [`Registration::new`] consumes it.
pub(crate) struct Token(());

impl Token {
    /// # Safety
    ///
    /// Only [`super::Tokens::take`] makes one, once per load of the module.
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

/// The registration of the per-namespace state `T`; dropping it unregisters
/// it, which stops and drops the state of every namespace.
///
/// # Invariants
///
/// `T::pernet()` is registered, by this registration, the only one of this
/// load of the module (it consumed the [`Token`]).
pub(crate) struct Registration<T: PernetState>(PhantomData<T>);

impl<T: PernetState> Registration<T> {
    /// Registers the subsystem; this builds and starts a state in every
    /// existing namespace.
    pub(crate) fn new(token: Token) -> Result<Self> {
        // Consumed: no other registration of this load can write the ops.
        let Token(()) = token;
        let pernet = T::pernet();
        // SAFETY: This call consumed the module's one `Token`, so no other
        // call writes the ops (invariant of `Pernet`), and the kernel reads
        // them only once they are registered below.
        unsafe { (*pernet.ops.get()).id = pernet.id.as_ptr() };
        // SAFETY: The ops are a static, fully initialised, and not
        // registered (the `Token`: this is the only registration).
        to_result(unsafe { bindings::register_pernet_subsys(pernet.ops.get()) })?;
        // INVARIANT: Registered above, with the module's one token.
        Ok(Self(PhantomData))
    }
}

impl<T: PernetState> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `T::pernet()` was registered by `new` (type invariant), and
        // only this registration unregisters it.
        unsafe { bindings::unregister_pernet_subsys(T::pernet().ops.get()) };
    }
}
