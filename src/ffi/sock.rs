// SPDX-License-Identifier: GPL-2.0

//! TCP sockets and the "stealth" upper-layer protocol (ULP).
//!
//! As kTLS does, the ULP gives a socket its own copy of `struct proto` whose
//! `setsockopt`/`getsockopt` see the module's options first and pass all others
//! to TCP. The per-socket context ([`SockCtx`]) hangs off
//! `icsk_ulp_data`; it is freed after an RCU grace period, so netfilter hooks,
//! which run under RCU, can read it without taking the socket lock.
//!
//! Children of a listener do not inherit the ULP (`clone` gives them back
//! TCP's own proto), unless the listener requires payload integrity: then each
//! child gets a context of its own with a [`Hold`] (see [`super::stream`]).

use super::{
    bindings,
    pernet::Net,
    stream::{self, Hold, UlpState},
    KernelStatic, RcuSection,
};
use crate::sockopt::SockCtx;
use core::{
    ffi::{c_int, c_uint},
    mem::MaybeUninit,
    ptr::{addr_of, addr_of_mut, null_mut},
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    error::to_result,
    prelude::*,
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

/// `SOL_TCP`.
pub(crate) const SOL_TCP: i32 = bindings::IPPROTO_TCP as i32;

/// TCP states, as `sk_state` holds them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TcpState {
    /// `TCP_CLOSE`: not connected yet (or any more).
    Close,
    /// `TCP_LISTEN`.
    Listen,
    /// `TCP_SYN_SENT`: connect() in progress.
    SynSent,
    /// `TCP_TIME_WAIT` (a timewait socket).
    TimeWait,
    /// Any other state.
    Other,
}

/// A socket (`struct sock`).
///
/// # Invariants
///
/// References only exist while the socket is alive (its refcount is held by
/// somebody for the lifetime of the reference).
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

impl Sock {
    /// # Safety
    ///
    /// `ptr` must be a live socket for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }

    fn raw_state(&self) -> u8 {
        // SAFETY: The socket is alive; `skc_state` is read locklessly all over
        // the stack (it is `volatile`).
        unsafe { addr_of!((*self.as_ptr()).__sk_common.skc_state).read_volatile() }
    }

    /// The socket's network namespace.
    pub(crate) fn net(&self) -> &Net {
        // SAFETY: A socket keeps its namespace alive for as long as it exists
        // (user sockets hold a reference; kernel sockets die with it).
        unsafe { Net::from_raw((*self.as_ptr()).__sk_common.skc_net.net) }
    }

    /// The TCP state.
    pub(crate) fn state(&self) -> TcpState {
        match u32::from(self.raw_state()) {
            bindings::TCP_CLOSE => TcpState::Close,
            bindings::TCP_LISTEN => TcpState::Listen,
            bindings::TCP_SYN_SENT => TcpState::SynSent,
            bindings::TCP_TIME_WAIT => TcpState::TimeWait,
            _ => TcpState::Other,
        }
    }

    /// Whether this is a full socket (not a request or timewait socket), for
    /// which the `inet_connection_sock` fields exist.
    pub(crate) fn is_full(&self) -> bool {
        let s = u32::from(self.raw_state());
        s != bindings::TCP_TIME_WAIT && s != bindings::TCP_NEW_SYN_RECV
    }

    /// The local port (`inet_num`, in host order), for every kind of socket.
    pub(crate) fn local_port(&self) -> u16 {
        // SAFETY: The socket is alive (type invariant); `skc_num` is in
        // `sock_common`, set before the socket is hashed and not changed
        // while it is.
        unsafe {
            addr_of!(
                (*self.as_ptr())
                    .__sk_common
                    .__bindgen_anon_3
                    .__bindgen_anon_1
                    .skc_num
            )
            .read_volatile()
        }
    }

    /// Whether this listener may answer a SYN with a SYN cookie now (or has
    /// lately, so that TCP takes cookie ACKs): `false` for any other socket.
    pub(crate) fn syncookies_possible(&self) -> bool {
        // SAFETY: A listener is a full socket, alive (type invariant); the
        // helper only reads sysctls and the listener's queue fields with
        // READ_ONCE.
        self.state() == TcpState::Listen
            && unsafe { bindings::tcp_stealth_syncookies_possible(self.as_ptr()) }
    }

    /// Whether this full socket has our ULP: then its proto is one of ours
    /// (children of our listeners get TCP's back in `ulp_clone`).
    fn has_ulp(&self) -> bool {
        // `skc_prot` is in `sock_common`, valid for every kind of socket, but
        // only full sockets can have a ULP.
        if !self.is_full() {
            return false;
        }
        // SAFETY: The socket is alive; `sk_prot` is read locklessly by the
        // stack (READ_ONCE) and only changes under the socket lock. The
        // helper reads it with acquire ordering: seeing our proto, the
        // caller also sees the context `ulp_init` published before it.
        let prot = unsafe { bindings::tcp_stealth_sk_prot(self.as_ptr()) };
        let ours = PROTOS.get().cast::<bindings::proto>();
        // SAFETY: `PROTOS` has two elements.
        prot == ours || prot == unsafe { ours.add(1) }
    }

    /// ISN mode, client side: whether the SYN with sequence number `seq`
    /// that this socket is sending passes the output hooks for the first
    /// time (inside `connect()`), rather than as a retransmission. `false`
    /// for a socket without our ULP.
    pub(crate) fn syn_is_first(&self, seq: u32) -> bool {
        // SAFETY: A socket with our ULP is a full TCP socket (`has_ulp`), and
        // the helper only reads `snd_nxt` (with READ_ONCE).
        self.has_ulp() && unsafe { bindings::tcp_stealth_syn_is_first(self.as_ptr(), seq) }
    }

    /// Client side: whether this socket sent its SYN again (an RTO fired
    /// since `connect()`). `false` for a request or timewait socket.
    pub(crate) fn syn_retransmitted(&self) -> bool {
        // SAFETY: `is_full()`: the `inet_connection_sock` fields exist; the
        // helper only reads `icsk_retransmits` (with READ_ONCE).
        self.is_full() && unsafe { bindings::tcp_stealth_syn_retransmits(self.as_ptr()) } != 0
    }

    /// ISN mode, client side: moves the send sequence space from ISN `old`
    /// to `isn` while the first SYN passes the output hooks. EBUSY (and
    /// nothing changed) unless the socket is exactly there, with the socket
    /// owned by the process in `connect()`; EINVAL without our ULP.
    pub(crate) fn set_isn(&self, old: u32, isn: u32) -> Result {
        if !self.has_ulp() {
            return Err(EINVAL);
        }
        // SAFETY: A socket with our ULP is a full TCP socket. The helper
        // changes it only if it runs in process context with the socket
        // owned, i.e. inside `tcp_connect()` under `lock_sock()`, the only
        // place that transmits a connection's first SYN.
        to_result(unsafe { bindings::tcp_stealth_set_isn(self.as_ptr(), old, isn) })
    }

    fn icsk(&self) -> *mut bindings::inet_connection_sock {
        // `struct sock` is the first member of `inet_connection_sock`, for the
        // full TCP sockets this is used with.
        self.as_ptr().cast()
    }

    /// The ULP context, if the socket has the ULP.
    ///
    /// # Safety
    ///
    /// The caller must keep the socket from being destroyed while it uses the
    /// result: by holding its lock, or as the owner of a socket call (whose
    /// file holds the socket, which TCP destroys only after it is closed).
    pub(crate) unsafe fn ulp_state(&self) -> UlpState<'_> {
        if !self.has_ulp() {
            return UlpState::None;
        }
        // SAFETY: The socket has one of our protos, so it is a full TCP
        // socket; `icsk_ulp_data` is written under the socket lock only, and
        // published before the proto (`ulp_init`); the caller keeps the
        // socket, so the context, alive.
        let data = unsafe { bindings::tcp_stealth_ulp_data(self.as_ptr()) };
        if data.is_null() {
            return UlpState::NoContext;
        }
        // SAFETY: The context lives until the socket is destroyed, which the
        // caller rules out.
        UlpState::Ctx(unsafe { &(*data.cast::<UlpData>()).ctx })
    }

    /// The hold of a connection whose first bytes are checked.
    ///
    /// # Safety
    ///
    /// As for [`Sock::ulp_state`].
    pub(crate) unsafe fn hold_locked(&self) -> Option<&Hold> {
        // SAFETY: The caller's guarantee.
        match unsafe { self.ulp_state() } {
            UlpState::Ctx(ctx) => ctx.hold(),
            _ => None,
        }
    }

    /// The stealth context of a full TCP socket with the ULP, read under RCU.
    pub(crate) fn stealth<'a>(&'a self, _rcu: &'a RcuSection) -> Option<&'a SockCtx> {
        if !self.has_ulp() {
            return None;
        }
        // SAFETY: A socket with one of our protos is a full TCP socket, so an
        // `inet_connection_sock`. The ULP data is written under the socket
        // lock; the helper reads it as `rcu_dereference()` does, and we are
        // in an RCU read-side section. It was published (with
        // `rcu_assign_pointer()`) before the proto `has_ulp` read with
        // acquire ordering, so it is initialised.
        let data = unsafe { bindings::tcp_stealth_ulp_data(self.as_ptr()) };
        if data.is_null() {
            return None;
        }
        // SAFETY: `icsk_ulp_data` of a socket with our ULP points to an
        // `UlpData`, which `ulp_release` frees only after an RCU grace period;
        // we are inside an RCU read-side section for `'a`.
        Some(unsafe { &(*data.cast::<UlpData>()).ctx })
    }
}

/// What `icsk_ulp_data` points to.
struct UlpData {
    rcu: Opaque<bindings::callback_head>,
    ctx: SockCtx,
}

/// Bytes the module allocates for every socket with the ULP (one
/// `UlpData`), not counting its keys.
pub(crate) const ULP_DATA_BYTES: usize = core::mem::size_of::<UlpData>();

/// The ULP registration; dropping it unregisters the ULP.
pub(crate) struct UlpRegistration(());

static ULP_OPS: KernelStatic<bindings::tcp_ulp_ops> = KernelStatic::new(bindings::tcp_ulp_ops {
    init: Some(ulp_init),
    release: Some(ulp_release),
    clone: Some(ulp_clone),
    name: *b"stealth\0\0\0\0\0\0\0\0\0",
    // SAFETY: All-zero is valid for the remaining fields: NULL pointers and
    // `None` callbacks.
    ..unsafe { core::mem::zeroed() }
});

/// This module, as `ULP_OPS.owner` names it (readable without touching the
/// `KernelStatic`).
static ULP_OPS_OWNER: AtomicPtr<bindings::module> = AtomicPtr::new(null_mut());

/// Our copies of TCP's protos, for IPv4 and IPv6 sockets.
static PROTOS: KernelStatic<[MaybeUninit<bindings::proto>; 2]> =
    KernelStatic::new([MaybeUninit::uninit(), MaybeUninit::uninit()]);

impl UlpRegistration {
    /// Builds the protos and registers the ULP.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let protos = PROTOS.get();
        // SAFETY: Nothing uses `PROTOS` or `ULP_OPS` before the ULP is
        // registered below, so these writes race with nothing. `tcp_prot` and
        // `tcpv6_prot` are initialised statics of the kernel; copying them is
        // how kTLS builds its protos too.
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
                // once the module is going away. `ulp_clone` hands children
                // TCP's proto back, and the reference over to their ULP.
                p.owner = module.as_ptr().cast();
                p.setsockopt = Some(stealth_setsockopt);
                p.getsockopt = Some(stealth_getsockopt);
                p.recvmsg = Some(stealth_recvmsg);
                p.ioctl = Some(stealth_ioctl);
                p.release_cb = Some(stealth_release_cb);
            }
            (*ULP_OPS.get()).owner = module.as_ptr().cast();
            ULP_OPS_OWNER.store(module.as_ptr().cast(), Ordering::Relaxed);
        }
        stream::init(module.as_ptr().cast())?;
        // SAFETY: `ULP_OPS` is fully initialised and static.
        if let Err(e) = to_result(unsafe { bindings::tcp_register_ulp(ULP_OPS.get()) }) {
            stream::exit();
            return Err(e);
        }
        Ok(Self(()))
    }
}

impl Drop for UlpRegistration {
    fn drop(&mut self) {
        // SAFETY: The ULP was registered in `new`. No socket uses it any more.
        // Every pointer into this module that a socket can hold comes with a
        // reference on the module, so with none left there are none:
        // - `sk_prot` (our proto), `icsk_ulp_ops`/`icsk_ulp_data` and our
        //   `sk_data_ready`: the ULP's reference (taken by `tcp_set_ulp()`
        //   or, for children, `sk_prot_alloc()`, see `ulp_clone`), dropped
        //   by `tcp_cleanup_ulp()` after `ulp_release` undid all three;
        // - `sk_prot_creator` (our proto): `sk_prot_alloc()`/`sk_prot_free()`
        //   (and `inet_twsk_alloc()`/`inet_twsk_free()`), as our proto's
        //   owner is this module;
        // - `socket->ops` (our ops): the socket layer's, as their owner is
        //   this module (see `stream::install_ops`);
        // - the deadline work and its timer: stopped by `ulp_release` (see
        //   `Hold::stop`) before the ULP's reference goes; `stream::exit`
        //   waits for one that still runs;
        // - the `call_rcu` callback that frees a context: the barrier below.
        unsafe { bindings::tcp_unregister_ulp(ULP_OPS.get()) };
        // Wait for the `call_rcu` callbacks that free contexts.
        // SAFETY: Always safe to call from process context.
        unsafe { bindings::rcu_barrier() };
        stream::exit();
    }
}

/// TCP's proto behind our proto `prot` (any other proto: itself).
fn base_proto(prot: *const bindings::proto) -> *const bindings::proto {
    let ours = PROTOS.get().cast::<bindings::proto>().cast_const();
    if prot == ours {
        addr_of!(bindings::tcp_prot)
    } else if prot == ours.wrapping_add(1) {
        addr_of!(bindings::tcpv6_prot)
    } else {
        prot
    }
}

/// TCP's proto behind a socket with our proto.
///
/// # Safety
///
/// The socket must have one of our protos, and be held by the caller.
unsafe fn base_of(sk: *mut bindings::sock) -> &'static bindings::proto {
    // SAFETY: The socket is alive; `sk_prot` stays ours while it has the ULP.
    let prot = unsafe { addr_of!((*sk).__sk_common.skc_prot).read_volatile() };
    // SAFETY: `tcp_prot` and `tcpv6_prot` are statics of the kernel.
    unsafe { &*base_proto(prot) }
}

/// Our proto for a socket whose proto is `base`, if it is TCP's.
fn our_proto(base: *const bindings::proto) -> Option<*mut bindings::proto> {
    let protos = PROTOS.get().cast::<bindings::proto>();
    if base == addr_of!(bindings::tcp_prot) {
        Some(protos)
    } else if base == addr_of!(bindings::tcpv6_prot) {
        // SAFETY: `PROTOS` has two elements.
        Some(unsafe { protos.add(1) })
    } else {
        None
    }
}

/// `tcp_ulp_ops.init`.
///
/// # Safety
///
/// Only the ULP core calls it, with a locked, full TCP socket.
unsafe extern "C" fn ulp_init(sk: *mut bindings::sock) -> c_int {
    // SAFETY: The kernel calls `init` with a live socket, locked.
    let s = unsafe { Sock::from_raw(sk) };
    match s.state() {
        TcpState::Close | TcpState::Listen => {}
        _ => return super::errno::eisconn().to_errno(),
    }
    // SAFETY: The socket is locked, so `sk_prot` does not change under us.
    let base = unsafe { (*sk).__sk_common.skc_prot.cast_const() };
    let Some(ours) = our_proto(base) else {
        // Another layer (sockmap, say) already replaced TCP's proto.
        return EBUSY.to_errno();
    };
    let data = match KBox::new(
        UlpData {
            rcu: Opaque::uninit(),
            ctx: SockCtx::new(),
        },
        // Made in process context for the caller's socket: charged to the
        // caller's memory cgroup.
        crate::sockopt::SOCK_GFP,
    ) {
        Ok(d) => d,
        Err(_) => return ENOMEM.to_errno(),
    };
    // SAFETY: The socket is a locked full TCP socket (the ULP core checks),
    // so its `inet_connection_sock` fields may be written. Lockless readers
    // (the hooks, on a listener that attaches the ULP while it listens) may
    // look at once: the helper publishes the context with
    // `rcu_assign_pointer()` (release), then the proto with
    // `smp_store_release()`, which `has_ulp` reads with acquire ordering.
    unsafe { bindings::tcp_stealth_ulp_publish(sk, KBox::into_raw(data).cast(), ours) };
    0
}

/// `tcp_ulp_ops.release`.
///
/// # Safety
///
/// Only the ULP core calls it, once, when a socket with our ULP is destroyed.
unsafe extern "C" fn ulp_release(sk: *mut bindings::sock) {
    // SAFETY: The kernel calls `release` once, with a socket being destroyed
    // that has our ULP, locked.
    let s = unsafe { Sock::from_raw(sk) };
    let icsk = s.icsk();
    // SAFETY: See above.
    let data = unsafe { addr_of!((*icsk).icsk_ulp_data).read() }.cast::<UlpData>();
    // SAFETY: The socket is being destroyed, so restoring TCP's proto and
    // clearing the pointer race with no writer.
    unsafe {
        let prot = (*sk).__sk_common.skc_prot;
        addr_of_mut!((*sk).__sk_common.skc_prot).write_volatile(base_proto(prot).cast_mut());
        addr_of_mut!((*icsk).icsk_ulp_data).write_volatile(null_mut());
    }
    if data.is_null() {
        return;
    }
    // SAFETY: `data` came from `KBox::into_raw` in `ulp_init` or `ulp_clone`
    // and is freed only below, after a grace period.
    let ctx = unsafe { &(*data).ctx };
    ctx.release(s.net());
    if let Some(hold) = ctx.hold() {
        hold.stop();
    }
    // SAFETY: As above; RCU readers that still see `data` are done before
    // `free_ulp_data` runs.
    unsafe { bindings::call_rcu((*data).rcu.get(), Some(free_ulp_data)) };
}

/// The RCU callback that frees an [`UlpData`].
///
/// # Safety
///
/// `head` must be the `rcu` field of an `UlpData` from `ulp_init`, passed to
/// `call_rcu` once.
unsafe extern "C" fn free_ulp_data(head: *mut bindings::callback_head) {
    // `rcu` is the first field of the `repr(Rust)` `UlpData`, so compute its
    // offset rather than assume it.
    let off = core::mem::offset_of!(UlpData, rcu);
    // SAFETY: `head` is the `rcu` field of an `UlpData` made by `ulp_init`
    // and passed to `call_rcu` exactly once; after the grace period no reader
    // is left.
    drop(unsafe { KBox::from_raw(head.cast::<u8>().sub(off).cast::<UlpData>()) });
}

/// `tcp_ulp_ops.clone`.
///
/// # Safety
///
/// Only the kernel calls it, in softirq context under RCU, with a child just
/// copied from one of our listeners and not yet visible to anybody else.
unsafe extern "C" fn ulp_clone(
    req: *const bindings::request_sock,
    newsk: *mut bindings::sock,
    priority: bindings::gfp_t,
) {
    let icsk = newsk.cast::<bindings::inet_connection_sock>();
    // SAFETY: The child is a copy of our listener (its ULP fields and proto
    // included). Listeners are not locked here (6.12 makes children on
    // lockless listeners); the listener's context stays alive because it is
    // freed only through `call_rcu` after being unpublished, and this runs
    // inside TCP's RCU read-side section.
    let listener = unsafe { (*icsk).icsk_ulp_data.cast::<UlpData>() };
    // SAFETY: The caller runs under RCU (TCP's receive path).
    let rcu = unsafe { RcuSection::assume() };
    let check = if listener.is_null() {
        None
    } else {
        let (mut ip_len, mut len) = (0u32, 0u32);
        // SAFETY: `req` is the request the child is made from; its saved SYN
        // (if any) lives until the request is freed, after this call.
        let syn = unsafe { bindings::tcp_stealth_req_syn(req, &mut ip_len, &mut len) };
        let syn = (!syn.is_null()).then(|| {
            // SAFETY: The helper returns the saved IP and TCP headers, `len`
            // bytes, of which the first `ip_len` are the IP headers.
            let headers = unsafe { core::slice::from_raw_parts(syn, len as usize) };
            (headers, ip_len as usize)
        });
        // SAFETY: See above: the listener's context is alive.
        crate::integrity::child_check(unsafe { &(*listener).ctx }, syn, &rcu)
    };
    // The child was allocated for the listener's proto. If that was ours,
    // `sk_prot_alloc()` took a reference on this module for it (see
    // `UlpRegistration::new`): hand the child TCP's proto as its creator, so
    // that nothing of it points here once it loses the ULP (its timewait
    // socket included), with a reference on that proto's owner instead.
    // SAFETY: Nobody else sees the child yet. TCP's protos are statics; their
    // owner (none, or IPv6, which this module depends on) is pinned while
    // this module is loaded, and the module is: the child holds a reference.
    let module_ref = unsafe {
        let creator = (*newsk).sk_prot_creator;
        let base = base_proto(creator).cast_mut();
        if base != creator {
            (*newsk).sk_prot_creator = base;
            bindings::__module_get((*base).owner);
            true
        } else {
            false
        }
    };
    let owner = ULP_OPS_OWNER.load(Ordering::Relaxed);
    // The child keeps the ULP only with a reference on the module for it:
    // the one `sk_prot_alloc()` took, or else a new one. (Without either,
    // the module is going away, so its listener is closing, and the child
    // is dropped before anybody can accept it.)
    // SAFETY: `try_module_get` may be called anytime.
    let check = check.filter(|_| module_ref || unsafe { bindings::try_module_get(owner) });
    let Some(check) = check else {
        // An ordinary child: TCP's proto, no ULP.
        // SAFETY: Nobody else sees the child yet.
        unsafe {
            let prot = (*newsk).__sk_common.skc_prot;
            (*newsk).__sk_common.skc_prot = base_proto(prot).cast_mut();
            (*icsk).icsk_ulp_ops = core::ptr::null();
            (*icsk).icsk_ulp_data = null_mut();
        }
        if module_ref {
            // Last: the child pins the module no more. The caller is TCP's
            // receive path under RCU (or a listener that holds the module
            // through its ULP), and the module's memory is freed only after
            // a grace period.
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
        if let Some(ours) = our_proto(base_proto(prot)) {
            (*newsk).__sk_common.skc_prot = ours;
        }
    }
    // SAFETY: `req` is the request the child is made from.
    let start = unsafe { bindings::tcp_stealth_req_rcv_start(req) };
    // SAFETY: The child is valid; its context is made just below.
    let data = unsafe { Hold::new(newsk, check, start, priority) }.and_then(|hold| {
        KBox::new(
            UlpData {
                rcu: Opaque::uninit(),
                ctx: SockCtx::child(hold),
            },
            // Children are made in softirq context (the caller's `priority` is
            // GFP_ATOMIC too).
            GFP_ATOMIC,
        )
        .map_err(|_| ENOMEM)
    });
    // SAFETY: Nobody else sees the child yet. Without a context (no memory)
    // the child keeps our proto with a NULL context: it fails closed, reads
    // get ENOMEM.
    unsafe {
        (*icsk).icsk_ulp_data = match data {
            Ok(d) => {
                let d = KBox::into_raw(d);
                let timeout = Sock::from_raw(newsk).net().state().integrity_timeout();
                if let Some(hold) = (*d).ctx.hold() {
                    hold.start(timeout);
                }
                d.cast()
            }
            Err(_) => null_mut(),
        };
    }
}

/// A socket locked with `lock_sock`; unlocks when dropped.
pub(crate) struct LockedSock<'a>(&'a Sock);

impl<'a> LockedSock<'a> {
    pub(crate) fn lock(sk: &'a Sock) -> Self {
        // SAFETY: The socket is alive; `lock_sock` may sleep, and socket
        // option calls run in process context.
        unsafe { bindings::lock_sock_nested(sk.as_ptr(), 0) };
        Self(sk)
    }

    /// The socket.
    pub(crate) fn sock(&self) -> &Sock {
        self.0
    }

    /// Makes TCP keep the SYN's headers for new connections of this
    /// listener (`TCP_SAVE_SYN`), unless it does already.
    pub(crate) fn save_syn(&self) {
        // SAFETY: A full TCP socket, locked: `save_syn` is written under the
        // socket lock.
        unsafe { bindings::tcp_stealth_set_save_syn(self.0.as_ptr()) }
    }

    /// Whether TCP-MD5 or TCP-AO keys or a Fast Open client request use
    /// option space in this socket's SYN.
    pub(crate) fn syn_options_busy(&self) -> bool {
        // SAFETY: A full TCP socket is a `tcp_sock`; the fields are stable
        // under the socket lock.
        unsafe { bindings::tcp_stealth_syn_options_busy(self.0.as_ptr()) }
    }

    /// The context of this socket, which has our ULP (`ENOMEM`: a child
    /// whose context could not be allocated).
    fn ctx(&self) -> Result<&SockCtx> {
        // SAFETY: The socket is locked.
        match unsafe { self.0.ulp_state() } {
            UlpState::Ctx(ctx) => Ok(ctx),
            _ => Err(ENOMEM),
        }
    }
}

impl Drop for LockedSock<'_> {
    fn drop(&mut self) {
        // SAFETY: Locked in `lock`.
        unsafe { bindings::release_sock(self.0.as_ptr()) };
    }
}

/// The value of a setsockopt call (`sockptr_t` and length).
pub(crate) struct OptVal {
    ptr: bindings::sockptr_t,
    len: usize,
}

impl OptVal {
    /// The length the caller passed.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies the first `buf.len()` bytes of the value (which must not be
    /// longer than `len()`).
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result {
        if buf.len() > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `buf` is writable for its length; the helper checks the
        // user or kernel source and returns nonzero on a fault.
        let ret = unsafe {
            bindings::tcp_stealth_copy_from_sockptr(buf.as_mut_ptr().cast(), self.ptr, buf.len())
        };
        if ret != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }
}

/// Where a getsockopt call wants its value.
pub(crate) struct OptOut {
    val: UserPtr,
    len: UserPtr,
}

impl OptOut {
    /// Writes `data` (truncated to the caller's buffer) and its length.
    pub(crate) fn write(&self, data: &[u8]) -> Result {
        let mut lenbuf = [0u8; 4];
        UserSlice::new(self.len, 4)
            .reader()
            .read_slice(&mut lenbuf)?;
        let want = i32::from_ne_bytes(lenbuf);
        let n = usize::try_from(want).map_err(|_| EINVAL)?.min(data.len());
        UserSlice::new(self.val, n)
            .writer()
            .write_slice(&data[..n])?;
        UserSlice::new(self.len, 4)
            .writer()
            .write_slice(&(n as i32).to_ne_bytes())
    }
}

/// `setsockopt` of our protos.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ULP that the caller
/// holds, with `optval` valid for `optlen` bytes.
unsafe extern "C" fn stealth_setsockopt(
    sk: *mut bindings::sock,
    level: c_int,
    optname: c_int,
    optval: bindings::sockptr_t,
    optlen: c_uint,
) -> c_int {
    // SAFETY: The caller holds a reference on the socket for the call.
    let s = unsafe { Sock::from_raw(sk) };
    if level == SOL_TCP && crate::sockopt::is_ours(optname) {
        let locked = LockedSock::lock(s);
        let val = OptVal {
            ptr: optval,
            len: optlen as usize,
        };
        return match locked
            .ctx()
            .and_then(|c| c.setsockopt(&locked, optname, &val))
        {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
    }
    if level == SOL_TCP && crate::sockopt::conflicts(optname) {
        let locked = LockedSock::lock(s);
        if locked.ctx().is_ok_and(|c| c.enabled()) {
            return EBUSY.to_errno();
        }
    }
    // SAFETY: The socket has our proto (we are its callback) and the caller
    // holds it.
    let base = unsafe { base_of(sk) };
    // SAFETY: TCP's own setsockopt, with the caller's arguments.
    unsafe { (base.setsockopt.unwrap_unchecked())(sk, level, optname, optval, optlen) }
}

/// `getsockopt` of our protos.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ULP that the caller
/// holds, with user pointers `optval` and `optlen`.
unsafe extern "C" fn stealth_getsockopt(
    sk: *mut bindings::sock,
    level: c_int,
    optname: c_int,
    optval: *mut u8,
    optlen: *mut c_int,
) -> c_int {
    // SAFETY: The caller holds a reference on the socket for the call.
    let s = unsafe { Sock::from_raw(sk) };
    if level == SOL_TCP && crate::sockopt::is_ours(optname) {
        let locked = LockedSock::lock(s);
        let out = OptOut {
            val: optval as UserPtr,
            len: optlen as UserPtr,
        };
        return match locked
            .ctx()
            .and_then(|c| c.getsockopt(&locked, optname, &out))
        {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
    }
    if level == SOL_TCP && optname == TCP_ZEROCOPY_RECEIVE {
        // Zero-copy receive maps received pages: not before they are verified.
        match stream::gate(s) {
            stream::Gate::Open => {}
            stream::Gate::Pending => return EAGAIN.to_errno(),
            stream::Gate::Failed(e) => return e.to_errno(),
        }
    }
    // SAFETY: The socket has our proto (we are its callback) and the caller
    // holds it.
    let base = unsafe { base_of(sk) };
    // SAFETY: TCP's own getsockopt, with the caller's arguments.
    unsafe { (base.getsockopt.unwrap_unchecked())(sk, level, optname, optval, optlen) }
}

/// `TCP_ZEROCOPY_RECEIVE`.
const TCP_ZEROCOPY_RECEIVE: c_int = 35;

/// `recvmsg` of our protos: a connection whose first bytes are not verified
/// yet has nothing to read.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ULP that the caller
/// holds, with a valid `msg`.
unsafe extern "C" fn stealth_recvmsg(
    sk: *mut bindings::sock,
    msg: *mut bindings::msghdr,
    len: usize,
    flags: c_int,
    addr_len: *mut c_int,
) -> c_int {
    // SAFETY: The caller holds a reference on the socket for the call.
    let s = unsafe { Sock::from_raw(sk) };
    if let Err(e) = stream::wait_verified(s, stream::recv_nonblock(flags)) {
        return e.to_errno();
    }
    // SAFETY: The socket has our proto and the caller holds it.
    let base = unsafe { base_of(sk) };
    // SAFETY: TCP's own recvmsg, with the caller's arguments.
    unsafe { (base.recvmsg.unwrap_unchecked())(sk, msg, len, flags, addr_len) }
}

/// `ioctl` of our protos: `SIOCINQ` shows no bytes before they are verified.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ULP that the caller
/// holds, with `karg` valid.
unsafe extern "C" fn stealth_ioctl(sk: *mut bindings::sock, cmd: c_int, karg: *mut c_int) -> c_int {
    // SAFETY: The caller holds a reference on the socket for the call.
    let s = unsafe { Sock::from_raw(sk) };
    if stream::hide_inq(s, cmd) {
        // SAFETY: `karg` is the kernel copy of the argument.
        unsafe { karg.write(0) };
        return 0;
    }
    // SAFETY: The socket has our proto and the caller holds it.
    let base = unsafe { base_of(sk) };
    // SAFETY: TCP's own ioctl, with the caller's arguments.
    unsafe { (base.ioctl.unwrap_unchecked())(sk, cmd, karg) }
}

/// `release_cb` of our protos: TCP's, then, for a held connection,
/// [`stream::adopt_ops`].
///
/// # Safety
///
/// Only `release_sock()` calls it, for a socket with our proto that the
/// caller owns.
unsafe extern "C" fn stealth_release_cb(sk: *mut bindings::sock) {
    // SAFETY: The socket has our proto and the caller holds it.
    let base = unsafe { base_of(sk) };
    if let Some(f) = base.release_cb {
        // SAFETY: TCP's own release_cb, with the caller's argument.
        unsafe { f(sk) };
    }
    // SAFETY: The caller owns the socket.
    stream::adopt_ops(unsafe { Sock::from_raw(sk) });
}

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
