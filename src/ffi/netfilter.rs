// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks. They are registered per network namespace by
//! [`super::pernet`], which keeps them next to the state they run on, so that
//! the state always outlives them.

use super::{
    bindings,
    skb::{Family, SkBuff},
    sock::Sock,
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
    // SAFETY: `priv` is the `HookData` given to `fill_ops`; `pernet` keeps it
    // and the state it points to alive and in place while the hook is
    // registered, which is the only time netfilter calls it.
    let data = unsafe { &*priv_.cast::<HookData<S>>() };
    // SAFETY: As above.
    let st = unsafe { &*data.state };
    // SAFETY: Netfilter passes a valid skb that it owns for this call.
    let skb = unsafe { SkBuff::from_raw(skb) };
    // INVARIANT: Netfilter passes a valid state and runs hooks under
    // `rcu_read_lock()`.
    let args = HookArgs {
        state,
        // SAFETY: See above.
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

    /// Looks up the socket the packet is for, as TCP will: an established,
    /// request or timewait socket first, then a listener.
    pub(crate) fn lookup_sock(&self, skb: &SkBuff, family: Family) -> Option<SockRef> {
        // SAFETY: The namespace, skb and input device are valid for the hook
        // call (type invariant). The lookup returns a socket with a reference
        // taken, or NULL.
        let sk = unsafe {
            match family {
                Family::Ipv4 => bindings::nf_sk_lookup_slow_v4(
                    (*self.state).net,
                    skb.as_ptr(),
                    (*self.state).in_,
                ),
                Family::Ipv6 => bindings::nf_sk_lookup_slow_v6(
                    (*self.state).net,
                    skb.as_ptr(),
                    (*self.state).in_,
                ),
            }
        };
        // INVARIANT: We own the reference that the lookup took.
        NonNull::new(sk).map(SockRef)
    }

    /// Looks up the listener a SYN would reach, past any established or
    /// timewait socket of its 4-tuple; `th` is the TCP header's offset from
    /// the network header.
    pub(crate) fn lookup_listener(&self, skb: &SkBuff, family: Family, th: usize) -> Option<&Sock> {
        let thoff = i32::try_from(skb.network_offset()? + th).ok()?;
        // SAFETY: The namespace and skb are valid for the hook call (type
        // invariant). The helper returns a listener without a reference or
        // NULL; listeners are freed only after an RCU grace period, and the
        // hook runs under RCU, for as long as `self` (and so the result)
        // lives.
        unsafe {
            let sk = bindings::tcp_stealth_lookup_listener(
                (*self.state).net,
                skb.as_ptr(),
                thoff,
                family == Family::Ipv6,
            );
            (!sk.is_null()).then(|| Sock::from_raw(sk))
        }
    }

    /// Answers the packet with the RST that TCP sends for a closed port
    /// (including the reflected TOS / traffic class, the echoed IPv4
    /// options and, for IPv6, the automatic flow label). Returns whether an
    /// RST was sent: TCP sends none for a bad checksum, an RST, or a
    /// destination that is not a local unicast address.
    pub(crate) fn send_reset(&self, skb: &SkBuff, family: Family) -> bool {
        // SAFETY: The namespace and skb are valid for the hook call (type
        // invariant); the helper only reads the packet and builds a new one.
        unsafe {
            let st = &*self.state;
            let hook = i32::from(st.hook);
            match family {
                Family::Ipv4 => bindings::tcp_stealth_send_reset4(st.net, skb.as_ptr(), hook),
                Family::Ipv6 => bindings::tcp_stealth_send_reset6(st.net, skb.as_ptr(), hook),
            }
        }
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

/// A socket with a reference held; dropping it puts the reference.
///
/// # Invariants
///
/// Owns one reference on a socket of any kind (full, request or timewait).
pub(crate) struct SockRef(NonNull<bindings::sock>);

impl SockRef {
    /// The socket.
    pub(crate) fn sock(&self) -> &Sock {
        // SAFETY: The reference keeps the socket alive (type invariant).
        unsafe { Sock::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for SockRef {
    fn drop(&mut self) {
        // SAFETY: We own a reference (type invariant); `sock_gen_put` drops
        // it for every kind of socket.
        unsafe { bindings::sock_gen_put(self.0.as_ptr()) };
    }
}
