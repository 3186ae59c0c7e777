// SPDX-License-Identifier: GPL-2.0

//! The ULP's copies of the stream `proto_ops`: accepted sockets inherit them
//! from the listener's socket, and a held connection ([`super::hold`]) must
//! not be polled, spliced or peeked at before its first bytes are verified.

use super::{
    bindings,
    hold::{self, HoldOf},
    sock::{LockedSock, Sock, SockCommon, SOL_TCP},
    KernelStatic,
};
use core::{
    ffi::{c_int, c_uint},
    mem::MaybeUninit,
    ptr::{addr_of, addr_of_mut, null_mut},
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::prelude::*;

const EPOLLIN: u32 = 0x0001;
const EPOLLPRI: u32 = 0x0002;
const EPOLLERR: u32 = 0x0008;
const EPOLLRDNORM: u32 = 0x0040;
const EPOLLRDBAND: u32 = 0x0080;
const EPOLLRDHUP: u32 = 0x2000;
/// What `poll` of a held socket does not show: anything to read, urgent
/// data (`EPOLLPRI`) included.
const EPOLL_READ: u32 = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP;
/// `SPLICE_F_NONBLOCK`.
const SPLICE_F_NONBLOCK: c_uint = 0x02;
/// `IPV6_ADDRFORM`.
const IPV6_ADDRFORM: c_int = 1;
/// `SOL_IPV6`.
const SOL_IPV6: c_int = 41;
/// `TCP_ULP`.
const TCP_ULP: c_int = 31;
const AF_INET: c_int = 2;
const AF_INET6: c_int = 10;

/// How the `proto_ops` callbacks find their ULP's copies: implemented for
/// every ULP by [`super::ulp`], whose vtable holds them, so that this module
/// does not depend on it.
pub(super) trait OpsOf: HoldOf {
    /// The ULP's `proto_ops` copies.
    fn copies() -> &'static OpsCopies;
    /// Whether the full socket `sk` has the ULP.
    fn owns(sk: &SockCommon) -> bool;
}

/// Our copies of the stream `proto_ops` of IPv4 and IPv6 sockets, and the
/// originals.
///
/// # Invariants
///
/// `ops[i]` is initialised whenever `base[i]` is set; `build` writes both,
/// before the ULP is registered, and nothing changes them afterwards.
pub(crate) struct OpsCopies {
    ops: KernelStatic<[MaybeUninit<bindings::proto_ops>; 2]>,
    base: [AtomicPtr<bindings::proto_ops>; 2],
}

impl OpsCopies {
    pub(super) const fn new() -> Self {
        Self {
            ops: KernelStatic::new([MaybeUninit::uninit(), MaybeUninit::uninit()]),
            base: [AtomicPtr::new(null_mut()), AtomicPtr::new(null_mut())],
        }
    }

    /// Our copy `i`, if its base is known.
    fn ours(&self, i: usize) -> Option<*mut bindings::proto_ops> {
        if self.base[i].load(Ordering::Acquire).is_null() {
            return None;
        }
        // SAFETY: A place in the static array (in bounds: `base[i]` was
        // indexed above); no reference to it is made.
        Some(unsafe { addr_of_mut!((*self.ops.get())[i]) }.cast())
    }
}

/// Builds the `proto_ops` copies of ULP `T` from those of a kernel TCP
/// socket of each family (`inet6_stream_ops` is not exported) and makes the
/// deadlines' workqueue. `owner` is this module: the copies name it as their
/// owner, so that the socket layer pins the module for every socket that has
/// them (see [`install`]).
///
/// # Safety
///
/// The caller must own `copies` exclusively, and call this at most once per
/// load of the module: the ULP registration, which consumed the module's one
/// `ulp::Token`, before the ULP is published.
pub(super) unsafe fn build<T: OpsOf>(copies: &OpsCopies, owner: *mut bindings::module) -> Result {
    for (i, family) in [AF_INET, AF_INET6].into_iter().enumerate() {
        let mut sock: *mut bindings::socket = null_mut();
        // SAFETY: `init_net` always exists; `sock` receives the new socket.
        let ret = unsafe {
            bindings::sock_create_kern(
                addr_of!(bindings::init_net).cast_mut(),
                family,
                bindings::sock_type_SOCK_STREAM as c_int,
                bindings::IPPROTO_TCP as c_int,
                &mut sock,
            )
        };
        if ret != 0 {
            // No IPv6 (ipv6.disable=1): no IPv6 sockets to protect either.
            continue;
        }
        // SAFETY: `sock` is a live socket whose ops are a static of the
        // kernel. The caller owns `copies`, so writing `ops[i]` races with
        // nothing.
        unsafe {
            let base = (*sock).ops;
            let ops = (*copies.ops.get())[i].write(base.read());
            // Every `struct socket` with these ops holds a reference on
            // `owner`: `accept()` takes one for the new socket
            // (`__module_get(ops->owner)`) and `sock_release()` drops it;
            // `install` trades the base owner's for ours.
            ops.owner = owner;
            ops.poll = Some(poll::<T>);
            ops.splice_read = Some(splice_read::<T>);
            ops.read_sock = Some(read_sock::<T>);
            ops.peek_len = Some(peek_len::<T>);
            ops.setsockopt = Some(setsockopt::<T>);
            // INVARIANT: `ops[i]` is initialised before `base[i]` is set.
            copies.base[i].store(base.cast_mut(), Ordering::Release);
            bindings::sock_release(sock);
        }
    }
    // SAFETY: Once per load of the module, before the ULP is published (the
    // function's safety section).
    unsafe { hold::wq_init() }
}

/// Undoes [`build`]'s workqueue, once no socket uses the module any more.
/// Waits for deadlines that still run.
///
/// # Safety
///
/// [`build`] succeeded, this is called once, and no socket has a ULP
/// context any more (the ULP is unregistered and, after an RCU barrier,
/// every context is freed), or the ULP was never published.
pub(super) unsafe fn teardown() {
    // SAFETY: The function's safety section is `wq_exit`'s.
    unsafe { hold::wq_exit() };
}

/// Gives the listener's socket our `proto_ops`, so that the sockets accept()
/// makes for it get them too.
///
/// The socket layer drops a reference on `ops->owner` when it releases the
/// socket, and took one on the owner of the ops the socket was created with:
/// so this takes a reference on this module for our ops and drops the one on
/// the base ops' owner. The ops are never swapped back: the listener (and
/// every socket accepted from it) pins the module until it is released.
pub(super) fn install(copies: &OpsCopies, sk: &LockedSock<'_>) -> Result {
    // SAFETY: The socket is locked; `sk_socket` of a user socket is set for
    // its whole life, and its `ops` change only under the socket lock.
    unsafe {
        let socket = (*sk.sock().as_ptr()).sk_socket;
        if socket.is_null() {
            return Err(EINVAL);
        }
        let cur = (*socket).ops;
        for (i, base) in copies.base.iter().enumerate() {
            let Some(ours) = copies.ours(i) else {
                continue;
            };
            if cur == ours.cast_const() {
                return Ok(());
            }
            if cur == base.load(Ordering::Acquire).cast_const() {
                // A plain `__module_get` is enough: the socket has our ULP
                // (the caller checked), which holds a reference already.
                bindings::__module_get((*ours).owner);
                addr_of_mut!((*socket).ops).write_volatile(ours);
                // The base owner is TCP's (built in, or IPv6, which this
                // module depends on, so it outlives us): never the last
                // reference.
                bindings::module_put((*cur).owner);
                return Ok(());
            }
        }
    }
    // Somebody else's socket layer.
    Err(EBUSY)
}

/// Gives the socket that a held connection was just grafted onto our
/// `proto_ops`, if it has TCP's. `accept()` hands on the ops of the
/// listener's socket it was called on, which lack ours when the connection
/// migrated there from its own listener (`net.ipv4.tcp_migrate_req`, BPF) or
/// when the `accept()` began before the listener set
/// `TCP_STEALTH_INTEGRITY_LEN`. `inet_accept()` releases the connection's
/// lock right after grafting it and before the new socket's file is
/// installed, so the change races with no user of the socket.
///
/// # Safety
///
/// Only the ULP's `release_cb` calls it, with the socket owned.
pub(super) unsafe fn adopt<T: OpsOf>(s: &Sock) {
    // SAFETY: The caller owns the socket, so its ULP context stays.
    if !unsafe { hold::is_held::<T>(s) } {
        return;
    }
    let copies = T::copies();
    // SAFETY: The socket is owned: `sk_socket` changes under its lock only,
    // and the `struct socket` lives while the socket is grafted on it.
    let socket = unsafe { (*s.as_ptr()).sk_socket };
    if socket.is_null() {
        return;
    }
    // SAFETY: `socket` is the live `struct socket` the owned socket is
    // grafted on (see above); its `ops` change only under the socket lock,
    // which the caller owns.
    let cur = unsafe { (*socket).ops };
    for (i, base) in copies.base.iter().enumerate() {
        let Some(ours) = copies.ours(i) else {
            continue;
        };
        if cur == base.load(Ordering::Acquire).cast_const() {
            // SAFETY: Our copy `i` is built (its base is set); nobody uses
            // the socket yet (see above).
            unsafe { bindings::tcp_stealth_socket_set_ops(socket, ours) };
            return;
        }
    }
}

/// The original ops behind our copy `ops`.
///
/// # Safety
///
/// `ops` must be one of ULP `T`'s copies (the socket has our ops).
unsafe fn base_ops<T: OpsOf>(ops: *const bindings::proto_ops) -> &'static bindings::proto_ops {
    let copies = T::copies();
    let i = usize::from(ops != copies.ops.get().cast::<bindings::proto_ops>());
    // SAFETY: Our copies exist only for families whose base is set
    // (invariant of `OpsCopies`), and the kernel's ops are statics.
    unsafe { &*copies.base[i].load(Ordering::Acquire) }
}

/// `proto_ops.setsockopt`: the base one, except for the two options that
/// would make the socket lose our ops while keeping the module reference
/// they came with (see [`install`]).
///
/// - `TCP_ULP` on a socket without our ULP (a connection accepted as an
///   ordinary one): another ULP (kTLS) replaces the socket's ops with a copy
///   of them it keeps for all its sockets, ours included (pointers into this
///   module, owner this module): refused with `EBUSY`. A socket with our ULP
///   gets TCP's answer (`EEXIST`).
/// - `IPV6_ADDRFORM` turns an IPv6 socket into an IPv4 one with the kernel's
///   IPv4 ops: it gets our IPv4 copy instead, which has the same owner.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ops, with `optval`
/// valid for `optlen` bytes.
unsafe extern "C" fn setsockopt<T: OpsOf>(
    sock: *mut bindings::socket,
    level: c_int,
    optname: c_int,
    optval: bindings::sockptr_t,
    optlen: c_uint,
) -> c_int {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops::<T>((*sock).ops), (*sock).sk) };
    if level == SOL_TCP && optname == TCP_ULP {
        // SAFETY: The socket lives while its file is in use.
        if !T::owns(unsafe { Sock::from_raw(sk) }) {
            return EBUSY.to_errno();
        }
    }
    let Some(f) = base.setsockopt else {
        return super::errno::eopnotsupp().to_errno();
    };
    // SAFETY: `base` is the ops the socket had before ours (`base_ops`),
    // whose `setsockopt` accepts what the socket layer passes to ours: the same
    // socket and arguments, unchanged, in the same context.
    let ret = unsafe { f(sock, level, optname, optval, optlen) };
    if ret == 0 && level == SOL_IPV6 && optname == IPV6_ADDRFORM {
        let copies = T::copies();
        let inet = copies.base[0].load(Ordering::Acquire);
        // SAFETY: `sock` is held by the caller, and the socket layer cannot
        // release it during the call. `ipv6_setsockopt` replaced the ops
        // (under the socket lock, which is released now) with the kernel's
        // IPv4 ones; any reader sees either those or ours, both valid. Our
        // IPv4 copy exists whenever the IPv4 base does.
        unsafe {
            if let Some(ours) = copies.ours(0) {
                if addr_of!((*sock).ops).read_volatile() == inet.cast_const() {
                    addr_of_mut!((*sock).ops).write_volatile(ours);
                }
            }
        }
    }
    ret
}

/// `proto_ops.poll`.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ops.
unsafe extern "C" fn poll<T: OpsOf>(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops::<T>((*sock).ops), (*sock).sk) };
    let Some(f) = base.poll else {
        return EPOLLERR;
    };
    // SAFETY: `base` is the ops the socket had before ours (`base_ops`),
    // whose `poll` accepts what the socket layer passes to ours: the same
    // socket and arguments, unchanged, in the same context.
    let mask = unsafe { f(file, sock, wait) };
    if sk.is_null() {
        return mask;
    }
    // SAFETY: The socket lives while its file is polled (a socket call of
    // its owner).
    unsafe { hold::poll_mask::<T>(Sock::from_raw(sk), mask, EPOLL_READ, EPOLLERR) }
}

/// `proto_ops.splice_read`.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ops.
unsafe extern "C" fn splice_read<T: OpsOf>(
    sock: *mut bindings::socket,
    ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops::<T>((*sock).ops), (*sock).sk) };
    // SAFETY: The socket layer passes a live socket, held by its file for
    // the call (the function's safety section); the helper reads its file's
    // flags.
    let nonblock =
        flags & SPLICE_F_NONBLOCK != 0 || unsafe { bindings::tcp_stealth_file_nonblock(sock) };
    // SAFETY: The socket lives while its file is in use (a socket call of
    // its owner), and the socket layer does not lock it around this call.
    if let Err(e) = unsafe { hold::wait_verified::<T>(Sock::from_raw(sk), nonblock) } {
        return e.to_errno() as isize;
    }
    let Some(f) = base.splice_read else {
        return super::errno::eopnotsupp().to_errno() as isize;
    };
    // SAFETY: `base` is the ops the socket had before ours (`base_ops`),
    // whose `splice_read` accepts what the socket layer passes to ours: the same
    // socket and arguments, unchanged, in the same context.
    unsafe { f(sock, ppos, pipe, len, flags) }
}

/// `proto_ops.read_sock` (in-kernel readers, socket locked): nothing to read
/// until the bytes are verified.
///
/// # Safety
///
/// Only the kernel calls it, for a locked socket with our ops.
unsafe extern "C" fn read_sock<T: OpsOf>(
    sk: *mut bindings::sock,
    desc: *mut bindings::read_descriptor_t,
    actor: bindings::sk_read_actor_t,
) -> c_int {
    // SAFETY: The caller holds the locked socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked.
    if let Err(e) = unsafe { hold::readable::<T>(s) } {
        return e.to_errno();
    }
    // SAFETY: The socket's `sk_socket` has our ops.
    let base = unsafe { base_ops::<T>((*(*sk).sk_socket).ops) };
    let Some(f) = base.read_sock else {
        return super::errno::eopnotsupp().to_errno();
    };
    // SAFETY: `base` is the ops the socket had before ours (`base_ops`),
    // whose `read_sock` accepts what the socket layer passes to ours: the same
    // socket and arguments, unchanged, in the same context.
    unsafe { f(sk, desc, actor) }
}

/// `proto_ops.peek_len`: nothing to peek at until the bytes are verified.
///
/// # Safety
///
/// Only the kernel calls it, for a socket with our ops.
unsafe extern "C" fn peek_len<T: OpsOf>(sock: *mut bindings::socket) -> c_int {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops::<T>((*sock).ops), (*sock).sk) };
    // SAFETY: The socket lives while the caller holds it.
    if unsafe { hold::readable::<T>(Sock::from_raw(sk)) }.is_err() {
        return 0;
    }
    let Some(f) = base.peek_len else {
        return 0;
    };
    // SAFETY: `base` is the ops the socket had before ours (`base_ops`),
    // whose `peek_len` accepts what the socket layer passes to ours: the same
    // socket and arguments, unchanged, in the same context.
    unsafe { f(sock) }
}
