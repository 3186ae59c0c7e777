// SPDX-License-Identifier: GPL-2.0

//! A listener's own check of the SYNs that reach it without the input hook.
//!
//! The netfilter hook at `NF_INET_LOCAL_IN` judges every SYN on its way to
//! TCP, except one that never passes that hook as TCP: a receive port of
//! Foo-over-UDP or GUE (`ip fou add port P ipproto 6`) hands the segment it
//! carries straight to TCP from inside the UDP handler. A listener with the
//! ULP therefore gets a copy of its `inet_connection_sock_af_ops` whose
//! `conn_request` (TCP's last step before it answers a SYN) asks the ULP
//! ([`SynCheckOf::check`]) about every SYN that the hook did not vouch for
//! ([`super::netfilter::HookArgs::vouch`]; see `src/tcp_stealth_listen.c`),
//! and whose `syn_recv_sock` asks it about every ACK of a SYN cookie (the
//! hook vouches for none), before TCP makes a connection of it.
//!
//! The copies live in the ULP's vtable, one per table TCP gives listeners
//! (IPv4, IPv6 and IPv6's for IPv4-mapped peers), made the first time a
//! listener with that table asks. A listener keeps its copy while it has
//! the ULP, which holds a reference on the module; children get the base
//! table back as they are cloned ([`restore`]), before anybody sees them.

use super::{
    bindings,
    net::Net,
    skb::{Family, SkBuff},
    sock::Sock,
    RcuSection,
};
use core::{
    cell::UnsafeCell,
    ffi::c_int,
    mem::MaybeUninit,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::prelude::*;

type AfOps = bindings::inet_connection_sock_af_ops;

/// What a listener does with a segment the input hook did not vouch for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ListenerAnswer {
    /// TCP goes on with it (a SYN-ACK, a connection from a cookie).
    Accept,
    /// TCP forgets it; the check answered it, or not, itself
    /// ([`ListenerSeg::send_reset`]).
    Refuse,
}

/// A segment that TCP is about to answer at a listener: a SYN
/// (`conn_request`), or the ACK of a SYN cookie (`syn_recv_sock`).
///
/// # Invariants
///
/// `skb` is the segment TCP passes to `conn_request` or `syn_recv_sock`,
/// valid for `'a`, its TCP header `th` bytes after its network header;
/// `net` is the listener's namespace.
pub(crate) struct ListenerSeg<'a> {
    skb: &'a SkBuff,
    family: Family,
    th: usize,
    net: &'a Net,
}

impl ListenerSeg<'_> {
    /// The packet (its IP header at the network header).
    pub(crate) fn skb(&self) -> &SkBuff {
        self.skb
    }

    /// The family of its IP header (IPv4 at an IPv6 listener, from an IPv4
    /// peer).
    pub(crate) fn family(&self) -> Family {
        self.family
    }

    /// The offset of its TCP header from the network header (past a UDP
    /// header, for a segment that Foo-over-UDP carried).
    pub(crate) fn th(&self) -> usize {
        self.th
    }

    /// Answers it with the RST that TCP sends for a closed port; whether one
    /// was sent (none to a destination that is not a local unicast address).
    pub(crate) fn send_reset(&self) -> bool {
        // SAFETY: The namespace and the segment are valid for the call (type
        // invariant), which runs with BHs off under RCU (`conn_request`,
        // `syn_recv_sock`); the helper reads the segment and TCP's control
        // block, and builds a new packet.
        unsafe { bindings::tcp_stealth_send_reset_tcp(self.net.as_ptr(), self.skb.as_ptr()) }
    }
}

/// How our copies' callbacks find the ULP's copies and its check: implemented
/// for every ULP by [`super::ulp`], so that this module does not name it.
pub(super) trait SynCheckOf: 'static {
    /// The ULP's copies.
    fn af_copies() -> &'static AfOpsCopies;
    /// The check of `seg`, which the input hook did not vouch for, at the
    /// listener `sk` (a full socket with the ULP, or that had it).
    fn check(sk: &Sock, seg: &ListenerSeg<'_>, rcu: &RcuSection) -> ListenerAnswer;
}

/// How many distinct tables TCP gives listeners: `ipv4_specific`,
/// `ipv6_specific`, and `ipv6_mapped` (left on an IPv6 socket that
/// connected to an IPv4-mapped address and then listened).
const SLOTS: usize = 3;
/// [`AfOpsCopies::base`]: a free slot.
const FREE: usize = 0;
/// [`AfOpsCopies::base`]: a slot being filled.
const FILLING: usize = 1;

/// The ULP's copies of TCP's `inet_connection_sock_af_ops`.
///
/// # Invariants
///
/// `base[i]` is [`FREE`], [`FILLING`] (claimed by one [`Self::copy_of`]
/// call, which alone writes `copies[i]`), or the address of the table that
/// `copies[i]` is a copy of, with our `conn_request` and `syn_recv_sock`;
/// once it is an
/// address, it and `copies[i]` never change until the module is unloaded.
pub(crate) struct AfOpsCopies {
    copies: Slots,
    base: [AtomicUsize; SLOTS],
}

/// The memory of [`AfOpsCopies`]'s copies: not a [`super::KernelStatic`], whose
/// writes all happen before the kernel sees it, since slots are filled
/// while TCP reads the others.
struct Slots(UnsafeCell<[MaybeUninit<AfOps>; SLOTS]>);

// SAFETY: A slot is written only by the one `AfOpsCopies::copy_of` call that
// claimed it (`FILLING`), before its base is published with release
// ordering, and only read afterwards (type invariant of `AfOpsCopies`);
// the slots are disjoint.
unsafe impl Sync for Slots {}

impl AfOpsCopies {
    pub(super) const fn new() -> Self {
        Self {
            copies: Slots(UnsafeCell::new([const { MaybeUninit::uninit() }; SLOTS])),
            base: [const { AtomicUsize::new(FREE) }; SLOTS],
        }
    }

    fn copy_ptr(&self, i: usize) -> *mut AfOps {
        // SAFETY: A place in the static array (`i < SLOTS` for every
        // caller); no reference to it is made.
        unsafe { core::ptr::addr_of_mut!((*self.copies.0.get())[i]) }.cast()
    }

    /// The table `ops` is a copy of, if it is one of ours.
    fn base_of(&self, ops: *const AfOps) -> Option<*const AfOps> {
        (0..SLOTS).find_map(|i| {
            let b = self.base[i].load(Ordering::Acquire);
            (b > FILLING && self.copy_ptr(i).cast_const() == ops).then_some(b as *const AfOps)
        })
    }

    /// Our copy of `base`, made now if there is none yet; `EBUSY` if all
    /// slots hold copies of other tables.
    fn copy_of<T: SynCheckOf>(&self, base: *const AfOps) -> Result<*const AfOps> {
        let want = base as usize;
        for i in 0..SLOTS {
            loop {
                // Claimed and filled with BHs (so preemption) off, so that
                // a caller waiting for the slot waits for a few dozen stores.
                let claimed = super::with_bh_disabled(|| {
                    let r = self.base[i].compare_exchange(
                        FREE,
                        FILLING,
                        Ordering::Acquire,
                        Ordering::Acquire,
                    );
                    if r.is_ok() {
                        // SAFETY: The slot is ours to fill (type invariant:
                        // this call claimed it); `base` is the table of a
                        // live TCP socket with our ULP, a static of the
                        // kernel or of IPv6 (which this module depends on):
                        // TCP's, since no other layer that replaces the
                        // table takes a ULP (SMC refuses `TCP_ULP`, MPTCP
                        // subflows have their own) and `IPV6_ADDRFORM`
                        // gives TCP's.
                        unsafe {
                            let copy = (*self.copies.0.get())[i].write(base.read());
                            copy.conn_request = Some(conn_request::<T>);
                            copy.syn_recv_sock = Some(syn_recv_sock::<T>);
                        }
                        // INVARIANT: The copy is written before its base is
                        // published (release).
                        self.base[i].store(want, Ordering::Release);
                    }
                    r
                });
                match claimed {
                    Ok(_) => return Ok(self.copy_ptr(i)),
                    Err(b) if b == want => return Ok(self.copy_ptr(i)),
                    // Another listener's call is filling it: wait, then look
                    // again.
                    Err(FILLING) => core::hint::spin_loop(),
                    Err(_) => break,
                }
            }
        }
        Err(EBUSY)
    }
}

/// Gives the listener `sk` our copy of its `inet_connection_sock_af_ops`,
/// in `listen()` (or when a listener attaches the ULP), before its children
/// are made from it; a listener that already has ours keeps it. `EBUSY` if
/// its table is none that TCP gives listeners.
///
/// # Safety
///
/// `sk` is a full TCP socket with the ULP, locked by the caller, whose
/// `icsk_af_ops` TCP changes only under that lock.
pub(super) unsafe fn install<T: SynCheckOf>(sk: *mut bindings::sock) -> Result {
    let copies = T::af_copies();
    // SAFETY: A locked full TCP socket (the function's safety section).
    let cur = unsafe { bindings::tcp_stealth_af_ops(sk) };
    if cur.is_null() || copies.base_of(cur).is_some() {
        return Ok(());
    }
    let ours = copies.copy_of::<T>(cur)?;
    // SAFETY: The socket is locked; the copy is a static of this module,
    // which the socket's ULP keeps loaded for as long as it has the ULP, and
    // [`restore`] takes it back before the ULP goes.
    unsafe { bindings::tcp_stealth_set_af_ops(sk, ours) };
    Ok(())
}

/// Gives `sk` back the table our copy was made of, if it has our copy.
///
/// # Safety
///
/// `sk` is a full TCP socket that the caller has to itself: being destroyed
/// (the ULP's `release`), or a child not yet visible to anybody (`clone`).
pub(super) unsafe fn restore<T: SynCheckOf>(sk: *mut bindings::sock) {
    // SAFETY: A full TCP socket, by the function's safety section.
    let cur = unsafe { bindings::tcp_stealth_af_ops(sk) };
    if let Some(base) = T::af_copies().base_of(cur) {
        // SAFETY: Nobody else writes the socket's fields (the function's
        // safety section); a lockless reader of a listener being destroyed
        // may still call our copy, and finds its base in [`conn_request`].
        unsafe { bindings::tcp_stealth_set_af_ops(sk, base) };
    }
}

/// The ULP's check of `skb`, a segment that TCP is about to answer at the
/// listener `sk` and that the input hook did not vouch for.
///
/// # Safety
///
/// `sk` is a full TCP socket (a listener) and `skb` a segment in TCP's
/// hands (network and transport headers set), both valid for the call,
/// which runs with BHs off under `rcu_read_lock()`.
unsafe fn check<T: SynCheckOf>(
    sk: *mut bindings::sock,
    skb: *mut bindings::sk_buff,
) -> ListenerAnswer {
    let mut ipv6 = false;
    // SAFETY: The segment is in TCP's hands (the function's safety
    // section): its network and transport headers are set.
    let th = unsafe { bindings::tcp_stealth_tcp_skb_th(skb, &mut ipv6) };
    // SAFETY: A full socket valid for the call.
    let s = unsafe { Sock::from_raw(sk) };
    let Ok(th) = usize::try_from(th) else {
        // No TCP header after the network header: nothing TCP parsed.
        return ListenerAnswer::Refuse;
    };
    // INVARIANT: The segment TCP passed, its TCP header `th` bytes after
    // its network header; the listener's namespace.
    let seg = ListenerSeg {
        // SAFETY: TCP owns the segment for the call.
        skb: unsafe { SkBuff::from_raw(skb) },
        family: if ipv6 { Family::Ipv6 } else { Family::Ipv4 },
        th,
        net: s.net(),
    };
    // SAFETY: The caller runs under `rcu_read_lock()` (the function's
    // safety section), for longer than `rcu` lives.
    let rcu = unsafe { RcuSection::assume() };
    T::check(s, &seg, &rcu)
}

/// Whether TCP may make a child at listener `sk` from `skb`: `false` for
/// the ACK of a SYN cookie ([`bindings::tcp_stealth_cookie_ack`]; the input
/// hook vouches for none) that the ULP refuses, in which case `dst` is
/// released, as TCP's `syn_recv_sock` does when it makes no child.
///
/// # Safety
///
/// The arguments of a `syn_recv_sock` call by TCP, valid for the call, at a
/// listener, with BHs off under `rcu_read_lock()`.
unsafe fn child_allowed<T: SynCheckOf>(
    sk: *const bindings::sock,
    skb: *mut bindings::sk_buff,
    dst: *mut bindings::dst_entry,
    req_unhash: *mut bindings::request_sock,
) -> bool {
    let sk = sk.cast_mut();
    // A request TCP kept (`req_unhash`) was made by `conn_request`, which
    // checked its SYN.
    // SAFETY: TCP's segment, valid for the call.
    if !req_unhash.is_null() || !unsafe { bindings::tcp_stealth_cookie_ack(skb) } {
        return true;
    }
    // SAFETY: The function's safety section is `check`'s.
    if unsafe { check::<T>(sk, skb) } == ListenerAnswer::Accept {
        return true;
    }
    if !dst.is_null() {
        // SAFETY: TCP hands `syn_recv_sock` a reference on `dst`, which it
        // drops when it makes no child (`tcp_v4_syn_recv_sock()`).
        unsafe { bindings::dst_release(dst) };
    }
    false
}

/// Defines `syn_recv_sock`, the callback of our copies: [`child_allowed`],
/// then TCP's own. TCP's arguments are the six every 6.12 kernel passes
/// plus `$extra`: later 6.12.y kernels pass `opt_child_init` too (see
/// `Kbuild`), and one body serves both.
macro_rules! syn_recv_sock {
    ($($extra:ident: $ty:ty),*) => {
        /// The `syn_recv_sock` of our copies: [`child_allowed`], then TCP's
        /// own.
        ///
        /// # Safety
        ///
        /// Only TCP calls it through one of our copies, at a listener, with
        /// arguments valid for the call, BHs off and under
        /// `rcu_read_lock()`.
        unsafe extern "C" fn syn_recv_sock<T: SynCheckOf>(
            sk: *const bindings::sock,
            skb: *mut bindings::sk_buff,
            req: *mut bindings::request_sock,
            dst: *mut bindings::dst_entry,
            req_unhash: *mut bindings::request_sock,
            own_req: *mut bool,
            $($extra: $ty),*
        ) -> *mut bindings::sock {
            // SAFETY: The function's safety section is `child_allowed`'s.
            if !unsafe { child_allowed::<T>(sk, skb, dst, req_unhash) } {
                return core::ptr::null_mut();
            }
            // SAFETY: A full TCP socket (a listener), valid for the call.
            let base = unsafe { base_of::<T>(sk) };
            // SAFETY: `base` is TCP's table (or the listener's current one):
            // its `syn_recv_sock` takes what TCP passed to ours, unchanged,
            // in the same context.
            match unsafe { (*base).syn_recv_sock } {
                // SAFETY: As above.
                Some(f) => unsafe { f(sk, skb, req, dst, req_unhash, own_req $(, $extra)*) },
                None => core::ptr::null_mut(),
            }
        }
    };
}

#[cfg(tcp_stealth_opt_child_init)]
syn_recv_sock!(
    opt_child_init: Option<unsafe extern "C" fn(*mut bindings::sock, *const bindings::sock)>
);
#[cfg(not(tcp_stealth_opt_child_init))]
syn_recv_sock!();

/// The table TCP's call through one of our copies continues with: the one
/// the listener's copy was made of, or, if the listener has been given
/// that back since (being destroyed), its current one. Our copies are never
/// another copy's base, so this does not loop.
///
/// # Safety
///
/// `sk` is a full TCP socket, valid for the call.
unsafe fn base_of<T: SynCheckOf>(sk: *const bindings::sock) -> *const AfOps {
    // SAFETY: A full TCP socket, valid for the call (the function's safety
    // section).
    let cur = unsafe { bindings::tcp_stealth_af_ops(sk) };
    T::af_copies().base_of(cur).unwrap_or(cur)
}

/// The `conn_request` of our copies: the ULP's check for a SYN that the
/// input hook did not vouch for, then TCP's own.
///
/// # Safety
///
/// Only TCP calls it (`tcp_rcv_state_process()` of a listener, or
/// `tcp_v6_conn_request()` for an IPv4 SYN at an IPv6 listener) through one
/// of our copies, with a listener and a SYN valid for the call, BHs off and
/// under `rcu_read_lock()`.
unsafe extern "C" fn conn_request<T: SynCheckOf>(
    sk: *mut bindings::sock,
    skb: *mut bindings::sk_buff,
) -> c_int {
    // SAFETY: A full TCP socket (a listener), valid for the call.
    let base = unsafe { base_of::<T>(sk) };
    // SAFETY: The socket and the SYN are valid for the call (the function's
    // safety section), with its TCP header at the transport header; the
    // helper only compares them with this CPU's word, never dereferencing
    // the word's pointers, and clears it. (What a match proves, and where
    // the helper trusts none, is `src/tcp_stealth_listen.c`'s business.)
    if !unsafe { bindings::tcp_stealth_vouched(skb, sk) }
        // SAFETY: As above: TCP's listener and segment, under RCU.
        && unsafe { check::<T>(sk, skb) } == ListenerAnswer::Refuse
    {
        // TCP frees the SYN; no request is made.
        return 0;
    }
    // SAFETY: `base` is TCP's table (or the listener's current one), a
    // static of the kernel: its `conn_request` takes what TCP passed to
    // ours, unchanged, in the same context.
    match unsafe { (*base).conn_request } {
        // SAFETY: As above.
        Some(f) => unsafe { f(sk, skb) },
        None => 0,
    }
}
