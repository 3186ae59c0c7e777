// SPDX-License-Identifier: GPL-2.0

//! TCP sockets: any kind ([`SockCommon`]), full ([`Sock`]), locked
//! ([`LockedSock`]), and the values of their socket option calls
//! ([`OptVal`], [`OptOut`]). The ULP that the module attaches to them is in
//! [`super::ulp`].

use super::{bindings, net::Net};
use core::{ops::Deref, ptr::addr_of};
use kernel::{
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

/// A socket of any kind: full, request (`TCP_NEW_SYN_RECV`) or timewait;
/// only the `struct sock_common` they all start with is known to exist.
///
/// # Invariants
///
/// References only exist while the socket is alive (its refcount is held by
/// somebody, or RCU keeps it, for the lifetime of the reference).
#[repr(transparent)]
pub(crate) struct SockCommon(Opaque<bindings::sock_common>);

/// A full socket (`struct sock`), never a request or timewait socket.
///
/// # Invariants
///
/// As for [`SockCommon`], and the socket is a full one: a whole `struct
/// sock` is there.
#[repr(transparent)]
pub(crate) struct Sock(Opaque<bindings::sock>);

impl SockCommon {
    /// # Safety
    ///
    /// `ptr` must be a live socket of any kind for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: Transparent wrapper; every kind of socket starts with a
        // `sock_common` (the first member of `struct sock`,
        // `request_sock` and `inet_timewait_sock`); the caller guarantees
        // that it lives for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The socket as a `struct sock` pointer, as the kernel passes every
    /// kind of socket; only its `__sk_common` may be used unless it is full.
    pub(super) fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get().cast()
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

    /// The interface the socket is bound to (`SO_BINDTODEVICE`, or a VRF
    /// device), 0 for none.
    pub(crate) fn bound_dev_if(&self) -> i32 {
        // SAFETY: The socket is alive (type invariant); TCP reads
        // `skc_bound_dev_if` locklessly (READ_ONCE) in its lookups, and
        // `sock_bindtoindex_locked()` writes it with WRITE_ONCE.
        unsafe { addr_of!((*self.as_ptr()).__sk_common.skc_bound_dev_if).read_volatile() }
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
        // SAFETY: A TCP listener is a full `tcp_sock` (`is_full_tcp()`),
        // alive (type invariant); the helper only reads sysctls and the
        // listener's queue fields with READ_ONCE.
        self.state() == TcpState::Listen
            && self.is_full_tcp()
            && unsafe { bindings::tcp_stealth_syncookies_possible(self.as_ptr()) }
    }

    /// Whether this is a full TCP socket (a `tcp_sock`, so an
    /// `inet_connection_sock`): not a request or timewait socket, and not a
    /// raw or MPTCP socket, which a packet's `skb->sk` may be as well.
    fn is_full_tcp(&self) -> bool {
        if !self.is_full() {
            return false;
        }
        // SAFETY: A full socket is a whole `struct sock`, alive (type
        // invariant); `sk_type` and `sk_protocol` are set when it is made and
        // never change.
        let (ty, proto) = unsafe {
            let sk = self.as_ptr();
            (
                addr_of!((*sk).sk_type).read(),
                addr_of!((*sk).sk_protocol).read(),
            )
        };
        u32::from(ty) == bindings::sock_type_SOCK_STREAM
            && u32::from(proto) == bindings::IPPROTO_TCP
    }

    /// Client side: whether this socket sent its SYN again (an RTO fired
    /// since `connect()`). `false` for any socket but a full TCP one.
    pub(crate) fn syn_retransmitted(&self) -> bool {
        // SAFETY: `is_full_tcp()`: a `tcp_sock`, so the
        // `inet_connection_sock` fields exist; the helper only reads
        // `icsk_retransmits` (with READ_ONCE).
        self.is_full_tcp() && unsafe { bindings::tcp_stealth_syn_retransmits(self.as_ptr()) } != 0
    }
}

impl Sock {
    /// # Safety
    ///
    /// `ptr` must be a live full socket for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sock) -> &'a Self {
        // SAFETY: `Sock` is a transparent wrapper of `struct sock`, and the
        // caller guarantees (`# Safety`) a live full socket for `'a`.
        // INVARIANT: Hence the reference only exists while it is alive.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::sock {
        self.0.get()
    }
}

impl Deref for Sock {
    type Target = SockCommon;

    fn deref(&self) -> &SockCommon {
        // SAFETY: `__sk_common` is the first member of `struct sock`, and
        // the socket lives as long as `self` (type invariant).
        unsafe { SockCommon::from_raw(self.as_ptr()) }
    }
}

/// A socket locked with `lock_sock`; unlocks when dropped.
///
/// # Invariants
///
/// This guard locked the live full socket with `lock_sock` and releases it
/// when dropped, once.
pub(crate) struct LockedSock<'a>(&'a Sock);

impl<'a> LockedSock<'a> {
    pub(crate) fn lock(sk: &'a Sock) -> Self {
        // SAFETY: `sk` is a live full socket for `'a` (type invariant of
        // `Sock`); `lock_sock` may sleep, and socket option calls run in
        // process context.
        unsafe { bindings::lock_sock_nested(sk.as_ptr(), 0) };
        // INVARIANT: Locked just above, by this guard.
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
}

impl Drop for LockedSock<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this guard locked the socket, which
        // is still alive (`'a`), and nothing else releases its lock.
        unsafe { bindings::release_sock(self.0.as_ptr()) };
    }
}

/// The value of a setsockopt call (`sockptr_t` and length).
pub(crate) struct OptVal {
    ptr: bindings::sockptr_t,
    len: usize,
}

impl OptVal {
    /// The value of a setsockopt call.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for `len` bytes (user or kernel memory, as the
    /// `sockptr_t` says) for the lifetime of the value.
    pub(super) unsafe fn new(ptr: bindings::sockptr_t, len: usize) -> Self {
        Self { ptr, len }
    }

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
    /// Where a getsockopt call wants its value: user pointers to the buffer
    /// and to its length (checked on every access).
    pub(super) fn new(val: UserPtr, len: UserPtr) -> Self {
        Self { val, len }
    }

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
