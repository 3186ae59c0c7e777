// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks. They are registered per network namespace by
//! [`super::pernet`], which keeps them next to the state they run on, so that
//! the state always outlives them.

use super::{bindings, skb::Family, skb::SkBuff};
use core::ffi::c_void;

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
    fn hook(&self, spec: &HookSpec, skb: &SkBuff) -> Verdict;
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

unsafe extern "C" fn trampoline<S: HookState>(
    priv_: *mut c_void,
    skb: *mut bindings::sk_buff,
    _state: *const bindings::nf_hook_state,
) -> core::ffi::c_uint {
    // SAFETY: `priv` is the `HookData` given to `fill_ops`; `pernet` keeps it
    // and the state it points to alive and in place while the hook is
    // registered, which is the only time netfilter calls it.
    let data = unsafe { &*priv_.cast::<HookData<S>>() };
    // SAFETY: As above.
    let state = unsafe { &*data.state };
    // SAFETY: Netfilter passes a valid skb that it owns for this call.
    let skb = unsafe { SkBuff::from_raw(skb) };
    match state.hook(data.spec, skb) {
        Verdict::Accept => bindings::NF_ACCEPT,
        Verdict::Drop => bindings::NF_DROP,
    }
}
