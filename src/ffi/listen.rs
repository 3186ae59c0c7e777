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
//! ([`super::netfilter::HookArgs::vouch`]; see `src/tcp_stealth_listen.c`).
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
    KernelStatic, RcuSection,
};
use core::{
    ffi::c_int,
    mem::MaybeUninit,
    sync::atomic::{AtomicUsize, Ordering},
};
use kernel::prelude::*;

type AfOps = bindings::inet_connection_sock_af_ops;

/// What a listener does with a SYN the input hook did not vouch for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SynAnswer {
    /// TCP answers it (a SYN-ACK, or whatever TCP does).
    Accept,
    /// TCP forgets it; the check answered it, or not, itself
    /// ([`ListenerSyn::send_reset`]).
    Refuse,
}

/// A SYN that TCP is about to answer at a listener (`conn_request`).
///
/// # Invariants
///
/// `skb` is the SYN TCP passes to `conn_request`, valid for `'a`, its TCP
/// header `th` bytes after its network header; `net` is the listener's
/// namespace.
pub(crate) struct ListenerSyn<'a> {
    skb: &'a SkBuff,
    family: Family,
    th: usize,
    net: &'a Net,
}

impl ListenerSyn<'_> {
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
        // SAFETY: The namespace and the SYN are valid for the call (type
        // invariant), which runs with BHs off under RCU (`conn_request`); the
        // helper reads the SYN and TCP's control block, and builds a new
        // packet.
        unsafe { bindings::tcp_stealth_send_reset_tcp(self.net.as_ptr(), self.skb.as_ptr()) }
    }
}

/// How [`conn_request`] finds the ULP's copies and its check: implemented
/// for every ULP by [`super::ulp`], so that this module does not name it.
pub(super) trait SynCheckOf: 'static {
    /// The ULP's copies.
    fn af_copies() -> &'static AfOpsCopies;
    /// The check of `syn`, which the input hook did not vouch for, at the
    /// listener `sk` (a full socket with the ULP, or that had it).
    fn check(sk: &Sock, syn: &ListenerSyn<'_>, rcu: &RcuSection) -> SynAnswer;
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
/// `copies[i]` is a copy of, with our `conn_request`; once it is an
/// address, it and `copies[i]` never change until the module is unloaded.
pub(crate) struct AfOpsCopies {
    copies: KernelStatic<[MaybeUninit<AfOps>; SLOTS]>,
    base: [AtomicUsize; SLOTS],
}

impl AfOpsCopies {
    pub(super) const fn new() -> Self {
        Self {
            copies: KernelStatic::new([const { MaybeUninit::uninit() }; SLOTS]),
            base: [const { AtomicUsize::new(FREE) }; SLOTS],
        }
    }

    fn copy_ptr(&self, i: usize) -> *mut AfOps {
        // SAFETY: A place in the static array (`i < SLOTS` for every
        // caller); no reference to it is made.
        unsafe { core::ptr::addr_of_mut!((*self.copies.get())[i]) }.cast()
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
                        // this call claimed it); `base` is a table of TCP's
                        // that a live socket points to, a static of the
                        // kernel or of IPv6 (which this module depends on).
                        unsafe {
                            let copy = (*self.copies.get())[i].write(base.read());
                            copy.conn_request = Some(conn_request::<T>);
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
    let copies = T::af_copies();
    // SAFETY: A full TCP socket (a listener), valid for the call.
    let cur = unsafe { bindings::tcp_stealth_af_ops(sk) };
    // TCP called us through our copy; the listener may have been given its
    // base back since (being destroyed), which is then `cur` itself. Our
    // copies are never another copy's base, so this does not loop.
    let base = copies.base_of(cur).unwrap_or(cur);
    // SAFETY: The socket and the SYN are valid for the call (the function's
    // safety section), with its TCP header at the transport header; the
    // helper compares them with this CPU's word (BHs are off: the word is
    // the one the input hook wrote for the packet this CPU is processing,
    // if any) and clears it.
    if !unsafe { bindings::tcp_stealth_vouched(skb, sk) } {
        let mut ipv6 = false;
        // SAFETY: The SYN is in TCP's hands (the function's safety section):
        // its network and transport headers are set.
        let th = unsafe { bindings::tcp_stealth_tcp_skb_th(skb, &mut ipv6) };
        // SAFETY: A full socket valid for the call.
        let s = unsafe { Sock::from_raw(sk) };
        let answer = match usize::try_from(th) {
            // INVARIANT: The SYN TCP passed, its TCP header `th` bytes after
            // its network header; the listener's namespace.
            Ok(th) => {
                let syn = ListenerSyn {
                    // SAFETY: TCP owns the SYN for the call.
                    skb: unsafe { SkBuff::from_raw(skb) },
                    family: if ipv6 { Family::Ipv6 } else { Family::Ipv4 },
                    th,
                    net: s.net(),
                };
                // SAFETY: TCP calls `conn_request` under `rcu_read_lock()`
                // (the function's safety section), for longer than `rcu`
                // lives.
                let rcu = unsafe { RcuSection::assume() };
                T::check(s, &syn, &rcu)
            }
            // No TCP header after the network header: nothing TCP parsed.
            Err(_) => SynAnswer::Refuse,
        };
        if answer == SynAnswer::Refuse {
            // TCP frees the SYN; no request is made.
            return 0;
        }
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
