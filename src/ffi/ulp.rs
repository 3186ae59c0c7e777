// SPDX-License-Identifier: GPL-2.0

//! A TCP upper-layer protocol (ULP), generic over what it keeps per socket.
//!
//! The user implements [`Ulp`] for its per-socket context and declares one
//! `static` [`UlpVtable`] for it (`UlpVtable::new()`, a `const fn` that
//! fills the `tcp_ulp_ops` at compile time with the callbacks of
//! [`Adapter<T>`]), as a PHY driver declares its `phy_driver` table; then
//! [`UlpRegistration::new`] registers it.
//!
//! As kTLS does, the ULP gives a socket its own copy of `struct proto` whose
//! `setsockopt`/`getsockopt` see the ULP's options first and pass all others
//! to TCP. The context hangs off `icsk_ulp_data`; it is freed after an RCU
//! grace period, so netfilter hooks, which run under RCU, can read it
//! without taking the socket lock ([`Sock::ulp`]).
//!
//! Children of a listener do not inherit the ULP (`clone` gives them back
//! TCP's own proto), unless [`Ulp::clone_check`] wants their first bytes
//! checked: then each child gets a context of its own with a [`Hold`] (see
//! [`super::hold`]).

use super::{
    bindings,
    hold::{Hold, HoldCheck, HoldOf, HoldState},
    listen::{self, AfOpsCopies, ListenerAnswer, ListenerSeg, SynCheckOf},
    net::Net,
    ops::{self, OpsCopies, OpsOf},
    sock::{LockedSock, OptOut, OptVal, Sock, SockCommon, TcpState, SOL_TCP},
    KernelStatic, RcuSection,
};
use core::{
    ffi::{c_int, c_uint},
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::{addr_of, addr_of_mut, null_mut},
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    error::{from_result, to_result, VTABLE_DEFAULT_ERROR},
    prelude::*,
    types::Opaque,
    uaccess::UserPtr,
};

/// Allocations made for the calling process's socket (the ULP context, and
/// whatever its socket options keep): charged to its memory cgroup, so that
/// a container's `memory.max` bounds them.
pub(crate) const SOCK_GFP: kernel::alloc::Flags = GFP_KERNEL_ACCOUNT;

/// A TCP ULP: what it keeps per socket (the implementing type) and what it
/// does with it. Every callback gets a safe view of the socket; the
/// [`Adapter`] owns the C side.
#[vtable]
pub(crate) trait Ulp: Sized + Send + Sync + 'static {
    /// The check that a held child runs on its first bytes.
    type Check: HoldCheck;

    /// The vtable of this ULP: a `static` made with [`UlpVtable::new`].
    fn vtable() -> &'static UlpVtable<Self>;

    /// The context of a socket that attaches the ULP (`setsockopt(TCP_ULP)`).
    fn new() -> Self;

    /// The context of a child that [`Ulp::clone_check`] wanted held.
    fn child(hold: Hold<Self::Check>) -> Self;

    /// The hold of a child made by [`Ulp::child`].
    fn hold(&self) -> Option<&Hold<Self::Check>>;

    /// Whether `optname` at `SOL_TCP` is one of the ULP's own options, which
    /// [`Ulp::setsockopt`] and [`Ulp::getsockopt`] handle.
    fn owns_option(optname: i32) -> bool;

    /// TCP's options at `SOL_TCP` that [`Ulp::blocks_option`] may refuse.
    const BLOCKABLE_OPTIONS: &'static [i32] = &[];

    /// Whether TCP's option `optname` (one of [`Ulp::BLOCKABLE_OPTIONS`])
    /// must be refused (`EBUSY`) on this socket now; called with the socket
    /// locked. Optional: without it, TCP sees all its options.
    fn blocks_option(&self, _optname: i32) -> bool {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `setsockopt` of one of the ULP's options, on the locked socket `sk`
    /// whose context `sk.ctx()` is.
    fn setsockopt(sk: &CtxLock<'_, Self>, optname: i32, val: &OptVal) -> Result;

    /// `getsockopt` of one of the ULP's options (as for
    /// [`Ulp::setsockopt`]).
    fn getsockopt(sk: &CtxLock<'_, Self>, optname: i32, out: &OptOut) -> Result;

    /// The check for a new child of `listener`, made from the headers of the
    /// SYN it came from (`syn`: IP and TCP headers, and the IP headers'
    /// length), in softirq context: `None` makes it an ordinary TCP socket.
    /// Optional: without it, every child is an ordinary TCP socket.
    fn clone_check(&self, _syn: Option<(&[u8], usize)>, _rcu: &RcuSection) -> Option<Self::Check> {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Seconds a held child of a listener in `net` has for its first bytes.
    fn hold_timeout_secs(net: &Net) -> u32;

    /// The socket in `net` starts to listen (`listen()`), before any peer
    /// can find it; process context, may sleep. An error fails `listen()`
    /// with it. Optional: without it, listening is TCP's alone.
    fn listen(&self, _net: &Net) -> Result {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A segment that TCP is about to answer at this listener `sk`, which
    /// the input hook did not vouch for (it came another way: Foo-over-UDP,
    /// GUE; see [`super::listen`]): a SYN, or the ACK of a SYN cookie, which
    /// would make a connection. In softirq context (BHs off) under RCU.
    /// Optional: without it, listeners answer every segment that reaches
    /// them.
    fn unhooked(&self, _sk: &Sock, _seg: &ListenerSeg<'_>, _rcu: &RcuSection) -> ListenerAnswer {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The socket is being destroyed.
    fn release(&self, net: &Net);
}

/// What `icsk_ulp_data` points to.
struct UlpData<T> {
    rcu: Opaque<bindings::callback_head>,
    ctx: T,
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// Bytes the ULP allocates for every socket that has it (besides what the
/// context itself allocates).
pub(crate) const fn data_bytes<T: Ulp>() -> usize {
    core::mem::size_of::<UlpData<T>>()
}

/// The C tables of ULP `T`: its `tcp_ulp_ops` (filled at compile time), and
/// the copies of TCP's `proto`s and stream `proto_ops` that its sockets get
/// (filled when it is registered).
///
/// # Invariants
///
/// `protos` and `ops` are written only by [`UlpRegistration::new`], which
/// consumes the module's one [`Token`] (so it runs at most once per load of
/// the module), before `tcp_register_ulp` publishes them. Once published, only the kernel reads
/// them until the registration is dropped. A socket whose proto is one of
/// `protos` has our ULP, and its `icsk_ulp_data` is NULL or points to an
/// `UlpData<T>`.
pub(crate) struct UlpVtable<T: Ulp> {
    ulp: KernelStatic<bindings::tcp_ulp_ops>,
    protos: KernelStatic<[MaybeUninit<bindings::proto>; 2]>,
    pub(super) ops: OpsCopies,
    af_ops: AfOpsCopies,
    /// This module, as `ulp.owner` names it (readable without touching the
    /// `KernelStatic`).
    owner: AtomicPtr<bindings::module>,
    _ctx: PhantomData<T>,
}

impl<T: Ulp> UlpVtable<T> {
    /// The tables of a ULP called `name` (at most 15 bytes).
    pub(crate) const fn new(name: &CStr) -> Self {
        let mut raw = [0 as kernel::ffi::c_char; 16];
        let bytes = name.as_bytes_with_nul();
        assert!(bytes.len() <= raw.len());
        let mut i = 0;
        while i < bytes.len() {
            raw[i] = bytes[i] as kernel::ffi::c_char;
            i += 1;
        }
        Self {
            ulp: KernelStatic::new(bindings::tcp_ulp_ops {
                init: Some(Adapter::<T>::init),
                release: Some(Adapter::<T>::release),
                // Always there: without it, TCP would copy the listener's
                // context pointer into every child.
                clone: Some(Adapter::<T>::clone),
                name: raw,
                // SAFETY: All-zero is valid for the remaining fields: NULL
                // pointers and `None` callbacks.
                ..unsafe { core::mem::zeroed() }
            }),
            protos: KernelStatic::new([MaybeUninit::uninit(), MaybeUninit::uninit()]),
            ops: OpsCopies::new(),
            af_ops: AfOpsCopies::new(),
            owner: AtomicPtr::new(null_mut()),
            _ctx: PhantomData,
        }
    }

    /// Whether the full socket `sk` has this ULP: then its proto is one of
    /// ours (children of our listeners get TCP's back in `clone`).
    pub(super) fn owns(&self, sk: &SockCommon) -> bool {
        // `skc_prot` is in `sock_common`, valid for every kind of socket, but
        // only full sockets can have a ULP.
        if !sk.is_full() {
            return false;
        }
        // SAFETY: The socket is alive (type invariant of `Sock`); `sk_prot`
        // is read locklessly by the stack (READ_ONCE) and only changes under
        // the socket lock. The helper reads it with acquire ordering: seeing
        // our proto, the caller also sees the context `init` published
        // before it.
        let prot = unsafe { bindings::tcp_stealth_sk_prot(sk.as_ptr()) }.cast_const();
        let ours = self.protos.get().cast::<bindings::proto>().cast_const();
        prot == ours || prot == ours.wrapping_add(1)
    }

    /// Our proto for a socket whose proto is `base`, if it is TCP's.
    fn our_proto(&self, base: *const bindings::proto) -> Option<*mut bindings::proto> {
        let protos = self.protos.get().cast::<bindings::proto>();
        if base == addr_of!(bindings::tcp_prot) {
            Some(protos)
        } else if base == addr_of!(bindings::tcpv6_prot) {
            Some(protos.wrapping_add(1))
        } else {
            None
        }
    }

    /// Gives the listener's socket our `proto_ops`, so that the sockets
    /// `accept()` makes for it get them too (see [`ops::install`]).
    pub(crate) fn install_ops(&'static self, sk: &LockedSock<'_>) -> Result {
        // INVARIANT (of `OpsCopies`): a socket option call on a socket with
        // our ULP runs while the ULP is registered, so the copies are built.
        if !self.owns(sk.sock()) {
            return Err(EINVAL);
        }
        ops::install(&self.ops, sk)
    }
}

/// TCP's proto behind our proto `prot` (any other proto: itself).
fn base_proto_of<T: Ulp>(
    vt: &UlpVtable<T>,
    prot: *const bindings::proto,
) -> *const bindings::proto {
    let ours = vt.protos.get().cast::<bindings::proto>().cast_const();
    if prot == ours {
        addr_of!(bindings::tcp_prot)
    } else if prot == ours.wrapping_add(1) {
        addr_of!(bindings::tcpv6_prot)
    } else {
        prot
    }
}

/// What a socket's ULP context is.
pub(super) enum UlpState<'a, T> {
    /// Not one of ours.
    None,
    /// One of ours whose context could not be allocated: fail closed.
    NoContext,
    /// Ours.
    Ctx(&'a T),
}

impl SockCommon {
    /// The context of ULP `T` of this socket, read under RCU; `None` for a
    /// socket without the ULP (or any socket that is not a full one).
    pub(crate) fn ulp<'a, T: Ulp>(&'a self, _rcu: &'a RcuSection) -> Option<&'a T> {
        if !T::vtable().owns(self) {
            return None;
        }
        // SAFETY: A socket with one of our protos is a full TCP socket, so an
        // `inet_connection_sock`. The ULP data is written under the socket
        // lock; the helper reads it as `rcu_dereference()` does, and we are
        // in an RCU read-side section (the `RcuSection` witness). It was
        // published (with `rcu_assign_pointer()`) before the proto `owns`
        // read with acquire ordering, so it is initialised.
        let data = unsafe { bindings::tcp_stealth_ulp_data(self.as_ptr()) };
        // SAFETY: By the invariant of `UlpVtable`, the data of a socket with
        // our proto is NULL or an `UlpData<T>`, which `release` frees only
        // through `call_rcu`, after a grace period that cannot end during
        // `'a`.
        unsafe { data.cast::<UlpData<T>>().as_ref() }.map(|d| &d.ctx)
    }

    /// ISN mode, client side: whether the SYN with sequence number `seq`
    /// that this socket is sending passes the output hooks for the first
    /// time (inside `connect()`), rather than as a retransmission. `false`
    /// for a socket without ULP `T`.
    pub(crate) fn syn_is_first<T: Ulp>(&self, seq: u32) -> bool {
        // SAFETY: A socket with our ULP is a full TCP socket (`owns`), and
        // the helper only reads `snd_nxt` (with READ_ONCE).
        T::vtable().owns(self) && unsafe { bindings::tcp_stealth_syn_is_first(self.as_ptr(), seq) }
    }

    /// ISN mode, client side: moves the send sequence space from ISN `old`
    /// to `isn` while the first SYN passes the output hooks. EBUSY (and
    /// nothing changed) unless the socket is exactly there, with the socket
    /// owned by the process in `connect()`; EINVAL without ULP `T`.
    pub(crate) fn set_isn<T: Ulp>(&self, old: u32, isn: u32) -> Result {
        if !T::vtable().owns(self) {
            return Err(EINVAL);
        }
        // SAFETY: A socket with our ULP is a full TCP socket. The helper
        // changes it only if it runs in process context with the socket
        // owned, i.e. inside `tcp_connect()` under `lock_sock()`, the only
        // place that transmits a connection's first SYN.
        to_result(unsafe { bindings::tcp_stealth_set_isn(self.as_ptr(), old, isn) })
    }
}

impl Sock {
    /// The context of ULP `T` of this socket.
    ///
    /// # Safety
    ///
    /// The caller must keep the socket from being destroyed while it uses the
    /// result: by holding its lock, or as the owner of a socket call (whose
    /// file holds the socket, which TCP destroys only after it is closed).
    pub(super) unsafe fn ulp_state<T: Ulp>(&self) -> UlpState<'_, T> {
        if !T::vtable().owns(self) {
            return UlpState::None;
        }
        // SAFETY: The socket has one of our protos, so it is a full TCP
        // socket; `icsk_ulp_data` is written under the socket lock only, and
        // published before the proto (`init`).
        let data = unsafe { bindings::tcp_stealth_ulp_data(self.as_ptr()) };
        // SAFETY: NULL or an `UlpData<T>` (invariant of `UlpVtable`), which
        // lives until the socket is destroyed, which the caller rules out.
        match unsafe { data.cast::<UlpData<T>>().as_ref() } {
            None => UlpState::NoContext,
            Some(d) => UlpState::Ctx(&d.ctx),
        }
    }
}

// The hold and the `proto_ops` copies find a socket's hold and the ULP's
// copies through these, without naming `Ulp`.
impl<T: Ulp> HoldOf for T {
    type Check = T::Check;

    unsafe fn hold_state(s: &Sock) -> HoldState<'_, T::Check> {
        // SAFETY: This function's `# Safety` section is `ulp_state`'s: the
        // caller keeps the socket from being destroyed during the call.
        match unsafe { s.ulp_state::<T>() } {
            UlpState::None => HoldState::NotOurs,
            UlpState::NoContext => HoldState::NoContext,
            UlpState::Ctx(ctx) => HoldState::Ctx(ctx.hold()),
        }
    }
}

impl<T: Ulp> SynCheckOf for T {
    fn af_copies() -> &'static AfOpsCopies {
        &T::vtable().af_ops
    }

    fn check(sk: &Sock, seg: &ListenerSeg<'_>, rcu: &RcuSection) -> ListenerAnswer {
        match sk.ulp::<T>(rcu) {
            Some(ctx) if T::HAS_UNHOOKED => ctx.unhooked(sk, seg, rcu),
            _ => ListenerAnswer::Accept,
        }
    }
}

impl<T: Ulp> OpsOf for T {
    fn copies() -> &'static OpsCopies {
        &T::vtable().ops
    }

    fn owns(sk: &SockCommon) -> bool {
        T::vtable().owns(sk)
    }
}

/// A locked socket with ULP `T`, and its context: the evidence that the lock
/// held is the one of the socket that owns the context (see
/// [`SockRcu`](super::rcu::SockRcu)).
///
/// # Invariants
///
/// `ctx` is the ULP context of the socket `locked` locks.
pub(crate) struct CtxLock<'a, T> {
    locked: &'a LockedSock<'a>,
    ctx: &'a T,
}

impl<T> CtxLock<'_, T> {
    /// The context.
    pub(crate) fn ctx(&self) -> &T {
        self.ctx
    }
}

impl<'a, T> core::ops::Deref for CtxLock<'a, T> {
    type Target = LockedSock<'a>;

    fn deref(&self) -> &LockedSock<'a> {
        self.locked
    }
}

impl<'a> LockedSock<'a> {
    /// The context of this socket, which has ULP `T`, with the lock as
    /// evidence.
    fn ctx_lock<T: Ulp>(&'a self) -> Result<CtxLock<'a, T>> {
        // INVARIANT: The context of the socket `self` locks.
        Ok(CtxLock {
            locked: self,
            ctx: self.ulp_ctx::<T>()?,
        })
    }

    /// The context of ULP `T` of this socket, which has the ULP (`ENOMEM`: a
    /// child whose context could not be allocated; `EINVAL`: no ULP `T`).
    fn ulp_ctx<T: Ulp>(&self) -> Result<&T> {
        // SAFETY: The socket is locked, so it is not destroyed while `self`
        // lives.
        match unsafe { self.sock().ulp_state::<T>() } {
            UlpState::Ctx(ctx) => Ok(ctx),
            UlpState::NoContext => Err(ENOMEM),
            UlpState::None => Err(EINVAL),
        }
    }
}

/// The right to register the module's ULP, once: one exists per load of
/// the module (in [`super::Tokens`]), and [`UlpRegistration::new`] consumes
/// it. The registration owns every [`UlpVtable`] and the deadlines'
/// workqueue.
pub(crate) struct Token(());

impl Token {
    /// # Safety
    ///
    /// Only [`super::Tokens::take`] makes one, once per load of the module.
    pub(super) const unsafe fn new() -> Self {
        Self(())
    }
}

/// The registration of ULP `T`; dropping it unregisters the ULP.
///
/// # Invariants
///
/// The ULP is registered with TCP, by this registration, the only ULP
/// registration of this load of the module (it consumed the [`Token`]).
pub(crate) struct UlpRegistration<T: Ulp> {
    vtable: &'static UlpVtable<T>,
}

impl<T: Ulp> UlpRegistration<T> {
    /// Builds the protos and `proto_ops` copies of `T::vtable()` and
    /// registers the ULP.
    ///
    /// It must be the last step of the module's `init` that can fail: once
    /// the ULP is registered, sockets can attach it (`try_module_get()`
    /// succeeds on a module still in its `init`), and if `init` then
    /// failed, `do_init_module()` would free the module under them, which
    /// dropping this registration cannot prevent.
    pub(crate) fn new(token: Token, module: &'static ThisModule) -> Result<Self> {
        // Consumed: no other registration of this load writes the vtables.
        let Token(()) = token;
        let vt = T::vtable();
        let protos = vt.protos.get();
        // SAFETY: This call consumed the module's one `Token`, so nothing
        // else writes the vtable (type invariant of `UlpVtable`), and the
        // kernel reads the copies only after `tcp_register_ulp` below, so
        // these writes race with nothing.
        // `tcp_prot` and `tcpv6_prot` are initialised statics of the kernel;
        // copying them is how kTLS builds its protos too.
        unsafe {
            (*protos)[0].write(addr_of!(bindings::tcp_prot).read());
            (*protos)[1].write(addr_of!(bindings::tcpv6_prot).read());
            for p in (*protos).iter_mut() {
                let p = p.assume_init_mut();
                // Children of a listener with our proto are allocated for
                // it: `sk_clone_lock()` makes it their `sk_prot_creator`,
                // and `sk_prot_alloc()` takes a reference on its owner,
                // which `sk_prot_free()` drops (so do timewait sockets made
                // from them). With this module as the owner, a child that
                // keeps the copy pins the module, and a child cannot be made
                // once the module is going away. `clone` hands children
                // TCP's proto back, and the reference over to their ULP.
                p.owner = module.as_ptr().cast();
                p.setsockopt = Some(Adapter::<T>::setsockopt);
                p.getsockopt = Some(Adapter::<T>::getsockopt);
                p.recvmsg = Some(Adapter::<T>::recvmsg);
                p.ioctl = Some(Adapter::<T>::ioctl);
                p.release_cb = Some(Adapter::<T>::release_cb);
                if T::HAS_LISTEN || T::HAS_UNHOOKED {
                    p.hash = Some(Adapter::<T>::hash);
                }
            }
            (*vt.ulp.get()).owner = module.as_ptr().cast();
        }
        vt.owner.store(module.as_ptr().cast(), Ordering::Relaxed);
        // SAFETY: `ops::build`'s contract: this call consumed the module's
        // one `Token`, so it alone writes the copies, and nothing is
        // published yet.
        unsafe { ops::build::<T>(&vt.ops, module.as_ptr().cast()) }?;
        // SAFETY: The `tcp_ulp_ops` is a static, fully initialised above,
        // and not registered (the `Token`: this is the only registration).
        if let Err(e) = to_result(unsafe { bindings::tcp_register_ulp(vt.ulp.get()) }) {
            // SAFETY: `build` succeeded above and the ULP was never
            // published, so no socket has a context.
            unsafe { ops::teardown() };
            return Err(e);
        }
        // INVARIANT: Registered above, with the module's one token.
        Ok(Self { vtable: vt })
    }
}

impl<T: Ulp> Drop for UlpRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: The ULP is registered (type invariant). No socket uses it
        // any more. Every pointer into this module that a socket can hold
        // comes with a reference on the module, so with none left there are
        // none:
        // - `sk_prot` (our proto), `icsk_ulp_ops`/`icsk_ulp_data` and our
        //   `sk_data_ready`: the ULP's reference (taken by `tcp_set_ulp()`
        //   or, for children, `sk_prot_alloc()`, see `clone`), dropped
        //   by `tcp_cleanup_ulp()` after `release` undid all three;
        // - `sk_prot_creator` (our proto): `sk_prot_alloc()`/`sk_prot_free()`
        //   (and `inet_twsk_alloc()`/`inet_twsk_free()`), as our proto's
        //   owner is this module;
        // - `socket->ops` (our ops): the socket layer's, as their owner is
        //   this module (see `ops::install`);
        // - the deadline work and its timer: stopped by `release` (see
        //   `Hold::stop`) before the ULP's reference goes; `ops::teardown`
        //   waits for one that still runs;
        // - the `call_rcu` callback that frees a context: the barrier below.
        unsafe { bindings::tcp_unregister_ulp(self.vtable.ulp.get()) };
        // Wait for the `call_rcu` callbacks that free contexts.
        // SAFETY: `rcu_barrier` has no precondition but process context,
        // which module unload is.
        unsafe { bindings::rcu_barrier() };
        // SAFETY: `new` built the copies (type invariant: registered); the
        // ULP is unregistered and the barrier above freed every context.
        unsafe { ops::teardown() };
    }
}

/// The C callbacks of ULP `T`: `tcp_ulp_ops` and the overrides in our protos
/// (those of our `proto_ops` are in [`super::ops`], those of held children in
/// [`super::hold`]).
pub(super) struct Adapter<T: Ulp>(PhantomData<T>);

impl<T: Ulp> Adapter<T> {
    /// TCP's proto behind a socket with our proto.
    ///
    /// # Safety
    ///
    /// The socket must have one of our protos, and be held by the caller.
    unsafe fn base_of(sk: *mut bindings::sock) -> &'static bindings::proto {
        // SAFETY: The socket is alive; `sk_prot` stays ours while it has the
        // ULP.
        let prot = unsafe { addr_of!((*sk).__sk_common.skc_prot).read_volatile() };
        // SAFETY: `base_proto_of` returns `tcp_prot` or `tcpv6_prot`, statics
        // of the kernel (our protos are the only others it could return, and
        // `prot` is one of them by the caller's guarantee).
        unsafe { &*base_proto_of(T::vtable(), prot) }
    }

    /// `tcp_ulp_ops.init`.
    ///
    /// # Safety
    ///
    /// Only the ULP core calls it, with a locked, full TCP socket.
    unsafe extern "C" fn init(sk: *mut bindings::sock) -> c_int {
        // SAFETY: The kernel calls `init` with a live socket, locked.
        let s = unsafe { Sock::from_raw(sk) };
        match s.state() {
            TcpState::Close | TcpState::Listen => {}
            _ => return super::errno::eisconn().to_errno(),
        }
        // SAFETY: The socket is locked, so `sk_prot` does not change under us.
        let base = unsafe { (*sk).__sk_common.skc_prot.cast_const() };
        let Some(ours) = T::vtable().our_proto(base) else {
            // Another layer (sockmap, say) already replaced TCP's proto.
            return EBUSY.to_errno();
        };
        let data = match KBox::new(
            UlpData {
                rcu: Opaque::uninit(),
                ctx: T::new(),
            },
            // Made in process context for the caller's socket: charged to
            // the caller's memory cgroup.
            SOCK_GFP,
        ) {
            Ok(d) => d,
            Err(_) => return ENOMEM.to_errno(),
        };
        if T::HAS_UNHOOKED && s.state() == TcpState::Listen {
            // A listener already: the check of unhooked SYNs now (until the
            // context is published below, it lets every SYN through, as
            // the listener did without the ULP).
            // SAFETY: A locked full TCP socket (the ULP core's call).
            if let Err(e) = unsafe { listen::install::<T>(sk) } {
                return e.to_errno();
            }
        }
        // SAFETY: The socket is a locked full TCP socket (the ULP core
        // checks), so its `inet_connection_sock` fields may be written.
        // Lockless readers (the hooks, on a listener that attaches the ULP
        // while it listens) may look at once: the helper publishes the
        // context with `rcu_assign_pointer()` (release), then the proto with
        // `smp_store_release()`, which `owns` reads with acquire ordering.
        // INVARIANT: The data of a socket with our proto is an `UlpData<T>`.
        unsafe { bindings::tcp_stealth_ulp_publish(sk, KBox::into_raw(data).cast(), ours) };
        0
    }

    /// `tcp_ulp_ops.release`.
    ///
    /// # Safety
    ///
    /// Only the ULP core calls it, once, when a socket with our ULP is
    /// destroyed.
    unsafe extern "C" fn release(sk: *mut bindings::sock) {
        // SAFETY: The kernel calls `release` once, with a socket being
        // destroyed that has our ULP, locked.
        let s = unsafe { Sock::from_raw(sk) };
        // SAFETY: A full TCP socket being destroyed: nobody else writes it.
        unsafe { listen::restore::<T>(sk) };
        let icsk = sk.cast::<bindings::inet_connection_sock>();
        // SAFETY: A socket with our ULP is a full TCP socket, so an
        // `inet_connection_sock`; it is locked.
        let data = unsafe { addr_of!((*icsk).icsk_ulp_data).read() }.cast::<UlpData<T>>();
        // SAFETY: The socket is being destroyed, so restoring TCP's proto and
        // clearing the pointer race with no writer.
        unsafe {
            let prot = (*sk).__sk_common.skc_prot;
            addr_of_mut!((*sk).__sk_common.skc_prot)
                .write_volatile(base_proto_of(T::vtable(), prot).cast_mut());
            addr_of_mut!((*icsk).icsk_ulp_data).write_volatile(null_mut());
        }
        if data.is_null() {
            return;
        }
        // SAFETY: `data` came from `KBox::into_raw` in `init` or `clone` and
        // is freed only below, after a grace period.
        let ctx = unsafe { &(*data).ctx };
        ctx.release(s.net());
        if let Some(hold) = ctx.hold() {
            // SAFETY: The ULP core calls `release` with the socket locked,
            // before it drops the ULP's module reference.
            unsafe { hold.stop() };
        }
        // SAFETY: `data` is the live `UlpData` of this socket (above), now
        // unpublished (the pointer is cleared), and nothing frees it but this
        // callback; RCU readers that still see it are done before
        // `free_data` runs, after a grace period.
        unsafe { bindings::call_rcu((*data).rcu.get(), Some(Self::free_data)) };
    }

    /// The RCU callback that frees an [`UlpData`].
    ///
    /// # Safety
    ///
    /// `head` must be the `rcu` field of an `UlpData<T>` from `init` or
    /// `clone`, passed to `call_rcu` once.
    unsafe extern "C" fn free_data(head: *mut bindings::callback_head) {
        let off = core::mem::offset_of!(UlpData<T>, rcu);
        // SAFETY: `head` is the `rcu` field of an `UlpData<T>` made by `init`
        // or `clone` and passed to `call_rcu` exactly once; after the grace
        // period no reader is left.
        drop(unsafe { KBox::from_raw(head.cast::<u8>().sub(off).cast::<UlpData<T>>()) });
    }

    /// `tcp_ulp_ops.clone`.
    ///
    /// # Safety
    ///
    /// Only the kernel calls it, in softirq context under RCU, with a child
    /// just copied from one of our listeners and not yet visible to anybody
    /// else.
    unsafe extern "C" fn clone(
        req: *const bindings::request_sock,
        newsk: *mut bindings::sock,
        priority: bindings::gfp_t,
    ) {
        let vt = T::vtable();
        let icsk = newsk.cast::<bindings::inet_connection_sock>();
        // The child got the listener's `inet_connection_sock_af_ops`: TCP's
        // own, which it may keep after it loses the ULP.
        // SAFETY: A new full TCP socket that nobody else sees yet.
        unsafe { listen::restore::<T>(newsk) };
        // SAFETY: The child is a copy of our listener (its ULP fields and
        // proto included). Listeners are not locked here (6.12 makes
        // children on lockless listeners); the listener's context stays
        // alive because it is freed only through `call_rcu` after being
        // unpublished, and this runs inside TCP's RCU read-side section.
        let listener = unsafe { (*icsk).icsk_ulp_data.cast::<UlpData<T>>() };
        // SAFETY: The caller runs under RCU (TCP's receive path).
        let rcu = unsafe { RcuSection::assume() };
        let check = if !T::HAS_CLONE_CHECK || listener.is_null() {
            None
        } else {
            let (mut ip_len, mut len) = (0u32, 0u32);
            // SAFETY: `req` is the request the child is made from; its saved
            // SYN (if any) lives until the request is freed, after this call.
            let syn = unsafe { bindings::tcp_stealth_req_syn(req, &mut ip_len, &mut len) };
            let syn = (!syn.is_null()).then(|| {
                // SAFETY: The helper returns the saved IP and TCP headers,
                // `len` bytes, of which the first `ip_len` are the IP headers.
                let headers = unsafe { core::slice::from_raw_parts(syn, len as usize) };
                (headers, ip_len as usize)
            });
            // SAFETY: `listener` is not NULL (checked above) and its context
            // is alive for this call: it is freed only through `call_rcu`,
            // and this runs inside TCP's RCU read-side section (see above).
            unsafe { &(*listener).ctx }.clone_check(syn, &rcu)
        };
        // The child was allocated for the listener's proto. If that was
        // ours, `sk_prot_alloc()` took a reference on this module for it (see
        // `UlpRegistration::new`): hand the child TCP's proto as its
        // creator, so that nothing of it points here once it loses the ULP
        // (its timewait socket included), with a reference on that proto's
        // owner instead.
        // SAFETY: Nobody else sees the child yet. TCP's protos are statics;
        // their owner (none, or IPv6, which this module depends on) is
        // pinned while this module is loaded, and the module is: the child
        // holds a reference.
        let module_ref = unsafe {
            let creator = (*newsk).sk_prot_creator;
            let base = base_proto_of(vt, creator).cast_mut();
            if base != creator {
                (*newsk).sk_prot_creator = base;
                bindings::__module_get((*base).owner);
                true
            } else {
                false
            }
        };
        let owner = vt.owner.load(Ordering::Relaxed);
        // The child keeps the ULP only with a reference on the module for
        // it: the one `sk_prot_alloc()` took, or else a new one. (Without
        // either, the module is going away, so its listener is closing, and
        // the child is dropped before anybody can accept it.)
        // SAFETY: `try_module_get` may be called anytime.
        let check = check.filter(|_| module_ref || unsafe { bindings::try_module_get(owner) });
        let Some(check) = check else {
            // An ordinary child: TCP's proto, no ULP.
            // SAFETY: Nobody else sees the child yet.
            unsafe {
                let prot = (*newsk).__sk_common.skc_prot;
                (*newsk).__sk_common.skc_prot = base_proto_of(vt, prot).cast_mut();
                (*icsk).icsk_ulp_ops = core::ptr::null();
                (*icsk).icsk_ulp_data = null_mut();
            }
            if module_ref {
                // Last: the child pins the module no more. The caller is
                // TCP's receive path under RCU (or a listener that holds the
                // module through its ULP), and the module's memory is freed
                // only after a grace period.
                // SAFETY: The reference `sk_prot_alloc()` took.
                unsafe { bindings::module_put(owner) };
            }
            return;
        };
        // From here the child holds a reference on the module for its ULP,
        // which `tcp_cleanup_ulp()` drops. Its proto is ours.
        // SAFETY: Nobody else sees the child yet.
        unsafe {
            let prot = (*newsk).__sk_common.skc_prot;
            if let Some(ours) = vt.our_proto(base_proto_of(vt, prot)) {
                (*newsk).__sk_common.skc_prot = ours;
            }
        }
        // SAFETY: `req` is the request the child is made from.
        let start = unsafe { bindings::tcp_stealth_req_rcv_start(req) };
        // SAFETY: The child is valid, not visible to anybody else yet, and
        // the hold goes into its context just below.
        let data = unsafe { Hold::new::<T>(newsk, check, start, priority) }.and_then(|hold| {
            KBox::new(
                UlpData {
                    rcu: Opaque::uninit(),
                    ctx: T::child(hold),
                },
                // Children are made in softirq context (the caller's
                // `priority` is GFP_ATOMIC too).
                GFP_ATOMIC,
            )
            .map_err(|_| ENOMEM)
        });
        // SAFETY: Nobody else sees the child yet, and its context is at its
        // final place once `into_raw` returns: the hold starts there, once
        // (what `Hold::start` requires). Without a context (no memory) the
        // child keeps our proto with a NULL context: it fails closed, reads
        // get ENOMEM.
        // INVARIANT: The data of a socket with our proto is NULL or an
        // `UlpData<T>`.
        unsafe {
            (*icsk).icsk_ulp_data = match data {
                Ok(d) => {
                    let d = KBox::into_raw(d);
                    let timeout = T::hold_timeout_secs(Sock::from_raw(newsk).net());
                    if let Some(hold) = (*d).ctx.hold() {
                        hold.start(timeout);
                    }
                    d.cast()
                }
                Err(_) => null_mut(),
            };
        }
    }

    /// `setsockopt` of our protos.
    ///
    /// # Safety
    ///
    /// Only the socket layer calls it, for a socket with our ULP that the
    /// caller holds, with `optval` valid for `optlen` bytes.
    unsafe extern "C" fn setsockopt(
        sk: *mut bindings::sock,
        level: c_int,
        optname: c_int,
        optval: bindings::sockptr_t,
        optlen: c_uint,
    ) -> c_int {
        // SAFETY: The caller holds a reference on the socket for the call.
        let s = unsafe { Sock::from_raw(sk) };
        if level == SOL_TCP && T::owns_option(optname) {
            return from_result(|| {
                let locked = LockedSock::lock(s);
                // SAFETY: The socket layer's value, valid for `optlen` bytes.
                let val = unsafe { OptVal::new(optval, optlen as usize) };
                T::setsockopt(&locked.ctx_lock::<T>()?, optname, &val)?;
                Ok(0)
            });
        }
        if T::HAS_BLOCKS_OPTION && level == SOL_TCP && T::BLOCKABLE_OPTIONS.contains(&optname) {
            let locked = LockedSock::lock(s);
            if locked
                .ulp_ctx::<T>()
                .is_ok_and(|c| c.blocks_option(optname))
            {
                return EBUSY.to_errno();
            }
        }
        // SAFETY: The socket has our proto (we are its callback) and the
        // caller holds it.
        let base = unsafe { Self::base_of(sk) };
        let Some(f) = base.setsockopt else {
            return super::errno::eopnotsupp().to_errno();
        };
        // SAFETY: The base proto is TCP's (`base_of`), whose `setsockopt` takes
        // what the kernel passes to ours: the same socket and arguments,
        // unchanged, in the same context and with the same locks held.
        unsafe { f(sk, level, optname, optval, optlen) }
    }

    /// `hash` of our protos. For TCP only `inet_csk_listen_start()` calls
    /// it, in `listen()`, with the socket locked and already in
    /// `TCP_LISTEN`, to make it a listener peers can find: the check of
    /// unhooked SYNs ([`listen::install`]) and [`Ulp::listen`] first, then
    /// TCP's own.
    ///
    /// # Safety
    ///
    /// Only the socket layer calls it, for a socket with our proto that the
    /// caller owns (locked), in process context.
    unsafe extern "C" fn hash(sk: *mut bindings::sock) -> c_int {
        // SAFETY: The caller owns the socket for the call.
        let s = unsafe { Sock::from_raw(sk) };
        if T::HAS_UNHOOKED {
            // SAFETY: A full TCP socket with our ULP, locked by the caller,
            // not yet findable as a listener.
            if let Err(e) = unsafe { listen::install::<T>(sk) } {
                return e.to_errno();
            }
        }
        // SAFETY: The caller holds the socket's lock for the call.
        if let (true, UlpState::Ctx(ctx)) = (T::HAS_LISTEN, unsafe { s.ulp_state::<T>() }) {
            if let Err(e) = ctx.listen(s.net()) {
                return e.to_errno();
            }
        }
        // SAFETY: The socket has our proto (we are its callback) and the
        // caller holds it.
        let base = unsafe { Self::base_of(sk) };
        match base.hash {
            // SAFETY: The base proto is TCP's (`base_of`), whose `hash` takes
            // what the kernel passes to ours: the same socket, in the same
            // context and with the same locks held.
            Some(f) => unsafe { f(sk) },
            None => 0,
        }
    }

    /// `getsockopt` of our protos.
    ///
    /// # Safety
    ///
    /// Only the socket layer calls it, for a socket with our ULP that the
    /// caller holds, with user pointers `optval` and `optlen`.
    unsafe extern "C" fn getsockopt(
        sk: *mut bindings::sock,
        level: c_int,
        optname: c_int,
        optval: *mut u8,
        optlen: *mut c_int,
    ) -> c_int {
        // SAFETY: The caller holds a reference on the socket for the call.
        let s = unsafe { Sock::from_raw(sk) };
        if level == SOL_TCP && T::owns_option(optname) {
            return from_result(|| {
                let locked = LockedSock::lock(s);
                let out = OptOut::new(optval as UserPtr, optlen as UserPtr);
                T::getsockopt(&locked.ctx_lock::<T>()?, optname, &out)?;
                Ok(0)
            });
        }
        if level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE {
            // Zero-copy receive maps received pages: not before they are
            // verified.
            // SAFETY: The owner's socket call: the caller holds the socket.
            if let Err(e) = unsafe { super::hold::readable::<T>(s) } {
                return e.to_errno();
            }
        }
        // SAFETY: The socket has our proto (we are its callback) and the
        // caller holds it.
        let base = unsafe { Self::base_of(sk) };
        let Some(f) = base.getsockopt else {
            return super::errno::eopnotsupp().to_errno();
        };
        // SAFETY: The base proto is TCP's (`base_of`), whose `getsockopt` takes
        // what the kernel passes to ours: the same socket and arguments,
        // unchanged, in the same context and with the same locks held.
        unsafe { f(sk, level, optname, optval, optlen) }
    }

    /// `recvmsg` of our protos: a connection whose first bytes are not
    /// verified yet has nothing to read.
    ///
    /// # Safety
    ///
    /// Only the socket layer calls it, for a socket with our ULP that the
    /// caller holds, with a valid `msg`.
    unsafe extern "C" fn recvmsg(
        sk: *mut bindings::sock,
        msg: *mut bindings::msghdr,
        len: usize,
        flags: c_int,
        addr_len: *mut c_int,
    ) -> c_int {
        // SAFETY: The caller holds a reference on the socket for the call.
        let s = unsafe { Sock::from_raw(sk) };
        // SAFETY: The owner's socket call: the caller holds the socket, and
        // we do not hold its lock.
        if let Err(e) = unsafe { super::hold::wait_verified::<T>(s, recv_nonblock(flags)) } {
            return e.to_errno();
        }
        // SAFETY: The socket has our proto and the caller holds it.
        let base = unsafe { Self::base_of(sk) };
        let Some(f) = base.recvmsg else {
            return super::errno::eopnotsupp().to_errno();
        };
        // SAFETY: The base proto is TCP's (`base_of`), whose `recvmsg` takes
        // what the kernel passes to ours: the same socket and arguments,
        // unchanged, in the same context and with the same locks held.
        unsafe { f(sk, msg, len, flags, addr_len) }
    }

    /// `ioctl` of our protos: `SIOCINQ` shows no bytes before they are
    /// verified.
    ///
    /// # Safety
    ///
    /// Only the socket layer calls it, for a socket with our ULP that the
    /// caller holds, with `karg` valid.
    unsafe extern "C" fn ioctl(sk: *mut bindings::sock, cmd: c_int, karg: *mut c_int) -> c_int {
        // SAFETY: The caller holds a reference on the socket for the call.
        let s = unsafe { Sock::from_raw(sk) };
        // SAFETY: The owner's socket call: the caller holds the socket.
        if unsafe { super::hold::hide_inq::<T>(s, cmd) } {
            // SAFETY: `karg` is the kernel copy of the argument.
            unsafe { karg.write(0) };
            return 0;
        }
        // SAFETY: The socket has our proto and the caller holds it.
        let base = unsafe { Self::base_of(sk) };
        let Some(f) = base.ioctl else {
            return super::errno::eopnotsupp().to_errno();
        };
        // SAFETY: The base proto is TCP's (`base_of`), whose `ioctl` takes
        // what the kernel passes to ours: the same socket and arguments,
        // unchanged, in the same context and with the same locks held.
        unsafe { f(sk, cmd, karg) }
    }

    /// `release_cb` of our protos: TCP's, then, for a held connection,
    /// [`ops::adopt`].
    ///
    /// # Safety
    ///
    /// Only `release_sock()` calls it, for a socket with our proto that the
    /// caller owns.
    unsafe extern "C" fn release_cb(sk: *mut bindings::sock) {
        // SAFETY: The socket has our proto and the caller holds it.
        let base = unsafe { Self::base_of(sk) };
        if let Some(f) = base.release_cb {
            // SAFETY: The base proto is TCP's (`base_of`), whose `release_cb` takes
            // what the kernel passes to ours: the same socket and arguments,
            // unchanged, in the same context and with the same locks held.
            unsafe { f(sk) };
        }
        // SAFETY: The caller owns the socket.
        unsafe { ops::adopt::<T>(Sock::from_raw(sk)) };
    }
}

/// `TCP_ZEROCOPY_RECEIVE`.
const TCP_ZEROCOPY_RECEIVE: c_int = 35;
/// `MSG_DONTWAIT`.
const MSG_DONTWAIT: c_int = 0x40;

/// Our `recvmsg` flag for "do not wait".
fn recv_nonblock(flags: c_int) -> bool {
    flags & MSG_DONTWAIT != 0
}
