// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks. They are registered per network namespace by
//! [`super::pernet`], which keeps them next to the state they run on, so that
//! the state always outlives them.

use super::{
    bindings,
    skb::{Family, SkBuff},
    sock::SockCommon,
    RcuSection,
};
use core::{ffi::c_void, ptr::NonNull};

/// What a hook decides about a packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Verdict {
    /// Let the packet continue (`NF_ACCEPT`).
    Accept,
    /// Drop the packet silently (`NF_DROP`).
    Drop,
}

/// Where in the stack a hook runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HookPoint {
    /// Packets addressed to this host, after routing (`NF_INET_LOCAL_IN`).
    LocalIn,
    /// Packets sent by this host (`NF_INET_LOCAL_OUT`).
    LocalOut,
}

/// A hook to register in every namespace.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HookSpec {
    /// Address family.
    pub(crate) family: Family,
    /// Hook point.
    pub(crate) point: HookPoint,
    /// Netfilter priority; lower runs first.
    pub(crate) priority: i32,
}

/// Something that netfilter hooks run on.
pub(crate) trait HookState: Sync {
    /// Called for every packet of `spec`.
    fn hook(&self, spec: &HookSpec, skb: &SkBuff, args: &HookArgs<'_>) -> Verdict;
}

/// Fills in `ops` for `spec`, with `priv` pointing to `spec` and `state`.
pub(super) fn fill_ops<S: HookState>(
    ops: &mut bindings::nf_hook_ops,
    spec: &'static HookSpec,
    data: *const HookData<S>,
) {
    ops.hook = Some(trampoline::<S>);
    ops.priv_ = data.cast_mut().cast::<c_void>();
    ops.pf = match spec.family {
        Family::Ipv4 => bindings::NFPROTO_IPV4 as u8,
        Family::Ipv6 => bindings::NFPROTO_IPV6 as u8,
    };
    ops.hooknum = match spec.point {
        HookPoint::LocalIn => bindings::nf_inet_hooks_NF_INET_LOCAL_IN,
        HookPoint::LocalOut => bindings::nf_inet_hooks_NF_INET_LOCAL_OUT,
    };
    ops.priority = spec.priority;
}

/// What a hook's `priv` points to.
pub(super) struct HookData<S> {
    pub(super) spec: &'static HookSpec,
    pub(super) state: *const S,
}

/// The `nf_hookfn` of every hook.
///
/// # Safety
///
/// Only netfilter calls it, for a hook filled in by [`fill_ops`]: `priv_` is
/// its `HookData<S>`, and `skb` and `state` are valid for the call.
unsafe extern "C" fn trampoline<S: HookState>(
    priv_: *mut c_void,
    skb: *mut bindings::sk_buff,
    state: *const bindings::nf_hook_state,
) -> core::ffi::c_uint {
    // SAFETY: By the function's safety section `priv` is the `HookData`
    // given to `fill_ops`; `pernet` keeps it alive and in place while the
    // hook is registered and for an RCU grace period after it is
    // unregistered (invariant of its `Slot`), and netfilter calls it only
    // while it is registered, inside an RCU read-side section that this call
    // does not outlive (a call may still run when it is unregistered).
    let data = unsafe { &*priv_.cast::<HookData<S>>() };
    // SAFETY: `data.state` points to the namespace's state in the same
    // `Slot`, initialised for as long as `data` is (invariant of `Slot`).
    let st = unsafe { &*data.state };
    if data.spec.point == HookPoint::LocalIn {
        // Whatever this packet is, the input hook has not vouched for it
        // (yet): a SYN that a UDP datagram carries to TCP is checked at the
        // listener (see `super::listen`).
        // SAFETY: The helper only writes this CPU's word (with this_cpu
        // operations, safe in any context).
        unsafe { bindings::tcp_stealth_vouch_clear() };
    }
    // SAFETY: Netfilter passes a valid skb that it owns for this call.
    let skb = unsafe { SkBuff::from_raw(skb) };
    // INVARIANT: Netfilter passes a valid state and runs hooks under
    // `rcu_read_lock()`.
    let args = HookArgs {
        state,
        // SAFETY: Netfilter runs every hook inside `rcu_read_lock()`, which
        // lasts for the whole call, and `args` does not outlive the call.
        rcu: unsafe { RcuSection::assume() },
        _p: core::marker::PhantomData,
    };
    match st.hook(data.spec, skb, &args) {
        Verdict::Accept => bindings::NF_ACCEPT,
        Verdict::Drop => bindings::NF_DROP,
    }
}

/// What netfilter tells a hook besides the packet.
///
/// # Invariants
///
/// `state` is the valid `nf_hook_state` of the running hook call, which runs
/// inside an RCU read-side section.
pub(crate) struct HookArgs<'a> {
    state: *const bindings::nf_hook_state,
    rcu: RcuSection,
    _p: core::marker::PhantomData<&'a ()>,
}

impl HookArgs<'_> {
    /// The RCU read-side section the hook runs in.
    pub(crate) fn rcu(&self) -> &RcuSection {
        &self.rcu
    }

    /// The socket TCP will give the packet to, decided as TCP decides it
    /// (`__inet_lookup_skb()`): a socket assigned to the skb (TPROXY,
    /// `bpf_sk_assign()`, early demux) first, with reuseport selection for a
    /// prefetched listener, then an established, request or timewait socket,
    /// then a listener, chosen within a reuseport group by the same hash and
    /// BPF program, over the same bytes, as for TCP. `th` is the TCP header's
    /// offset from the network header. With `listener_only`, only the
    /// listener (what TCP asks for a SYN that finds a TIME_WAIT socket).
    /// A socket found in the established hash is assigned to the skb, as
    /// early demux does, so that TCP does not look it up again.
    pub(crate) fn lookup(
        &self,
        skb: &SkBuff,
        family: Family,
        th: usize,
        listener_only: bool,
    ) -> Option<SockRef<'_>> {
        let thoff = u32::try_from(skb.network_offset()?.checked_add(th)?).ok()?;
        let mut refcounted = false;
        // SAFETY: The namespace and skb are valid for the hook call (type
        // invariant); the hook runs under RCU, as the helper requires. The
        // helper may pull the headers into the linear area (no pointer into
        // the skb is held across the call) and returns the network header
        // where it was.
        let sk = unsafe {
            bindings::tcp_stealth_lookup(
                (*self.state).net,
                skb.as_ptr(),
                thoff,
                family == Family::Ipv6,
                listener_only,
                &mut refcounted,
            )
        };
        // INVARIANT: With `refcounted`, the helper took a reference that is
        // now ours. Without, the socket is a listener (freed only after an RCU
        // grace period, and the hook runs under RCU for `'_`) or the one the
        // skb holds for the whole hook call.
        NonNull::new(sk).map(|sk| SockRef {
            sk,
            refcounted,
            _p: core::marker::PhantomData,
        })
    }

    /// The interfaces (input, and L3 slave) by which TCP matches the
    /// connection of the TCP segment `skb` of `family` (what
    /// [`Self::conn_alive`] needs later).
    pub(crate) fn skb_ifs(&self, skb: &SkBuff, family: Family) -> (i32, i32) {
        let (mut dif, mut sdif) = (0, 0);
        // SAFETY: The skb is valid for the hook call (type invariant of
        // `SkBuff`); the helper only reads its control block and device.
        unsafe {
            bindings::tcp_stealth_skb_ifs(skb.as_ptr(), family == Family::Ipv6, &mut dif, &mut sdif)
        };
        (dif, sdif)
    }

    /// Whether TCP, in the hook's namespace, still has a connection (a
    /// request socket, or a full socket not closed) for the 4-tuple from
    /// `saddr`:`sport` (IPv4 as IPv4-mapped IPv6) to the local
    /// `daddr`:`dport` (IPv4 in its first 4 bytes), whose SYN came in on
    /// the interfaces `ifs` ([`Self::skb_ifs`]).
    pub(crate) fn conn_alive(
        &self,
        (saddr, sport): (&[u8; 16], u16),
        (daddr, dport): (&[u8; 16], u16),
        ifs: (i32, i32),
    ) -> bool {
        let ipv6 = saddr[..12] != [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        // SAFETY: The namespace is valid for the hook call and the hook runs
        // under RCU (type invariant); both addresses are 16 readable bytes,
        // all the helper reads.
        unsafe {
            bindings::tcp_stealth_conn_alive(
                (*self.state).net,
                ipv6,
                saddr.as_ptr(),
                sport,
                daddr.as_ptr(),
                dport,
                ifs.0,
                ifs.1,
            )
        }
    }

    /// Whether the stack already gave the packet to a TCP connection that is
    /// up: early demux did (as for every packet from a device, when the
    /// connection exists), or TPROXY or `bpf_sk_assign()` chose such a
    /// socket. TCP delivers it there without a lookup, so it reaches no
    /// listener and no connecting client.
    pub(crate) fn connected(&self, skb: &SkBuff) -> bool {
        // SAFETY: The skb is valid for the hook call (type invariant of
        // `SkBuff`) and the hook runs under RCU; the helper only reads the
        // socket the skb holds.
        unsafe { bindings::tcp_stealth_skb_connected(skb.as_ptr()) }
    }

    /// The socket that sends the packet, at `NF_INET_LOCAL_OUT` (`None` at
    /// any other hook, where `skb->sk` may be a socket early demux or TPROXY
    /// assigned without a reference the hook could rely on). It may be a
    /// request socket (a SYN-ACK) as well as a full one.
    pub(crate) fn output_sock<'s>(&self, skb: &'s SkBuff) -> Option<&'s SockCommon> {
        // SAFETY: The state is valid for the hook call (type invariant).
        let hook = unsafe { (*self.state).hook };
        if u32::from(hook) != bindings::nf_inet_hooks_NF_INET_LOCAL_OUT {
            return None;
        }
        // SAFETY: The skb is valid (type invariant of `SkBuff`); on the
        // output path `skb->sk` is NULL or the sending socket (full, or the
        // request socket of a SYN-ACK), which the skb holds a reference on
        // (`skb_set_owner_w()`/`skb_set_owner_edemux()`) until it is freed,
        // so for as long as `skb` is borrowed.
        let sk = unsafe { (*skb.as_ptr()).sk };
        // SAFETY: A non-NULL `sk` is a socket that the skb holds a reference
        // on for as long as `skb` is borrowed (see above), which bounds the
        // returned reference.
        (!sk.is_null()).then(|| unsafe { SockCommon::from_raw(sk) })
    }

    /// Answers the packet with the RST that TCP sends for a closed port
    /// (including the reflected TOS / traffic class, the echoed IPv4
    /// options and, for IPv6, the automatic flow label). Returns whether an
    /// RST was sent: TCP sends none for a bad checksum, an RST, or a
    /// destination that is not a local unicast address. `th`: the offset of
    /// the TCP header TCP would read, from the network header (IPv6 only:
    /// IPv4's is the IP header's length).
    pub(crate) fn send_reset(&self, skb: &SkBuff, family: Family, th: usize) -> bool {
        let Ok(thoff) = core::ffi::c_uint::try_from(th) else {
            return false;
        };
        // SAFETY: The namespace and skb are valid for the hook call (type
        // invariant); the helper only reads the packet (at most up to its
        // end, whatever `thoff` says) and builds a new one.
        unsafe {
            let st = &*self.state;
            let hook = i32::from(st.hook);
            match family {
                Family::Ipv4 => bindings::tcp_stealth_send_reset4(st.net, skb.as_ptr(), hook),
                Family::Ipv6 => {
                    bindings::tcp_stealth_send_reset6(st.net, skb.as_ptr(), hook, thoff)
                }
            }
        }
    }

    /// Vouches for `skb`, a SYN with sequence number `seq` that this input
    /// hook lets through to `listener` with a valid knock, so that the
    /// listener does not check it again (see [`super::listen`]; only in the
    /// NET_RX softirq, where the listener can rely on it).
    pub(crate) fn vouch(&self, skb: &SkBuff, listener: &SockCommon, seq: u32) {
        // SAFETY: Called from the input hook (a `HookArgs` exists only for
        // a hook call), after the trampoline cleared the word for this
        // packet; the helper only stores the values, and the pointers are
        // compared, never dereferenced.
        unsafe { bindings::tcp_stealth_vouch(skb.as_ptr(), listener.as_ptr(), seq) };
    }

    /// Whether the IPsec policy lets the packet reach TCP at `listener`, or
    /// with no socket (`xfrm4_policy_check()` / `xfrm6_policy_check()`,
    /// which TCP calls with the socket it found, or none, before it answers
    /// a segment). Always true on kernels without `CONFIG_XFRM`.
    pub(crate) fn xfrm_policy_ok(
        &self,
        skb: &SkBuff,
        family: Family,
        listener: Option<&SockCommon>,
    ) -> bool {
        let sk = listener.map_or(core::ptr::null_mut(), |l| l.as_ptr());
        // SAFETY: The skb is valid for the hook call (type invariant of
        // `SkBuff`), and so is a listener borrowed for it (the hook's RCU
        // section keeps it); the helper only reads them and the policies,
        // under that section.
        unsafe { bindings::tcp_stealth_xfrm_policy_ok(sk, skb.as_ptr(), family == Family::Ipv6) }
    }

    /// Whether the TCP checksum of the packet, whose TCP header is `th` bytes
    /// after the network header, is correct (or already verified).
    pub(crate) fn tcp_checksum_ok(&self, skb: &SkBuff, family: Family, th: usize) -> bool {
        let Some(dataoff) = skb
            .network_offset()
            .and_then(|nh| nh.checked_add(th))
            .and_then(|off| u32::try_from(off).ok())
        else {
            return false;
        };
        // SAFETY: The skb is valid for the hook call; `nf_checksum` verifies
        // (and caches the result in) the skb's checksum state.
        let sum = unsafe {
            bindings::tcp_stealth_checksum(
                skb.as_ptr(),
                (*self.state).hook.into(),
                dataoff,
                family == Family::Ipv6,
            )
        };
        sum == 0
    }
}

/// A socket found by [`HookArgs::lookup`], valid for the hook call; dropping
/// it puts the reference the lookup took, if it took one.
///
/// # Invariants
///
/// `sk` is a socket of any kind (full, request or timewait) that stays valid
/// for `'a`: if `refcounted`, because this owns one reference on it; else
/// because RCU or the skb keeps it for the hook call, which outlives `'a`.
pub(crate) struct SockRef<'a> {
    sk: NonNull<bindings::sock>,
    refcounted: bool,
    _p: core::marker::PhantomData<&'a ()>,
}

impl SockRef<'_> {
    /// The socket, of any kind (full, request or timewait).
    pub(crate) fn sock(&self) -> &SockCommon {
        // SAFETY: The socket, of any kind, is valid for as long as `self`
        // (type invariant).
        unsafe { SockCommon::from_raw(self.sk.as_ptr()) }
    }
}

impl Drop for SockRef<'_> {
    fn drop(&mut self) {
        if self.refcounted {
            // SAFETY: We own a reference (type invariant); `sock_gen_put`
            // drops it for every kind of socket.
            unsafe { bindings::sock_gen_put(self.sk.as_ptr()) };
        }
    }
}
