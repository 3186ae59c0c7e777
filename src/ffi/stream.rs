// SPDX-License-Identifier: GPL-2.0

//! The receive path of connections that must prove their first bytes.
//!
//! A listener that requires payload integrity keeps the ULP on its children.
//! Each child gets a [`Hold`]: until the check of its first bytes succeeds,
//! the application can neither read nor see readable data:
//!
//! - `sk_data_ready` is ours: it feeds the check from the receive queue and
//!   wakes readers only once the bytes are verified; so is `sk_state_change`,
//!   because TCP queues the data of a Fast Open SYN without calling
//!   `sk_data_ready` (the check then runs when the handshake completes);
//! - `recvmsg`, `ioctl(SIOCINQ, SIOCATMARK)` and `TCP_ZEROCOPY_RECEIVE` of
//!   our protos, and `poll`, `splice_read`, `read_sock` and `peek_len` of our
//!   `proto_ops` (which accepted sockets inherit from the listener's socket)
//!   wait, report nothing, or fail; a held connection accepted through a
//!   socket without our `proto_ops` gets them when `accept()` grafts it
//!   ([`adopt_ops`]);
//! - urgent data pointing into the first bytes fails the check: a read
//!   would skip the urgent byte;
//! - a deadline on the module's workqueue resets the connection if the bytes
//!   do not come in time, and carries out the reset when the check fails in
//!   softirq context (`tcp_abort()` needs process context).
//!
//! TCP itself still receives, acknowledges and queues the bytes; they just
//! stay in the receive queue, invisible, until they are verified.

use super::{
    bindings,
    sock::{LockedSock, Sock},
    KernelStatic,
};
use crate::integrity::{Check, Failure, Outcome};
use core::{
    cell::UnsafeCell,
    ffi::{c_int, c_uint},
    mem::MaybeUninit,
    ptr::{addr_of, addr_of_mut, null_mut},
    sync::atomic::{AtomicPtr, AtomicU32, Ordering},
};
use kernel::{error::to_result, prelude::*};

/// [`Hold`] states: the check is running.
const PENDING: u32 = 0;
/// The bytes matched; the connection is an ordinary one now.
const VERIFIED: u32 = 1;
// Any other value: the check failed with that (positive) errno.

const EPOLLIN: u32 = 0x0001;
const EPOLLPRI: u32 = 0x0002;
const EPOLLERR: u32 = 0x0008;
const EPOLLRDNORM: u32 = 0x0040;
const EPOLLRDBAND: u32 = 0x0080;
const EPOLLRDHUP: u32 = 0x2000;
/// What `poll` of a held socket does not show: anything to read, urgent
/// data (`EPOLLPRI`) included.
const EPOLL_READ: u32 = EPOLLIN | EPOLLPRI | EPOLLRDNORM | EPOLLRDBAND | EPOLLRDHUP;
/// `SIOCINQ` (`FIONREAD`).
const SIOCINQ: c_int = 0x541b;
/// `SIOCATMARK`: whether urgent data is next.
const SIOCATMARK: c_int = 0x8905;
/// `MSG_DONTWAIT`.
const MSG_DONTWAIT: c_int = 0x40;
/// `SPLICE_F_NONBLOCK`.
const SPLICE_F_NONBLOCK: c_uint = 0x02;

/// What a reader of the socket may do now.
pub(crate) enum Gate {
    /// Read as usual.
    Open,
    /// The first bytes are not verified yet.
    Pending,
    /// The check failed (or the connection has no state to check with).
    Failed(Error),
}

/// The hold of one connection, in its ULP context.
///
/// # Invariants
///
/// - `check` is only used with the socket lock held: by `sk_data_ready` and
///   `sk_state_change` (called by TCP with the socket locked) and by the
///   deadline (which takes the bh lock of a socket no user owns).
/// - `deadline` comes from `tcp_stealth_deadline_new` for `sk` and is freed
///   only by `drop`.
pub(crate) struct Hold {
    state: AtomicU32,
    check: UnsafeCell<Check>,
    deadline: *mut bindings::tcp_stealth_deadline,
    sk: *mut bindings::sock,
    /// The sequence number of the connection's first byte.
    start: u32,
    base_data_ready: Option<unsafe extern "C" fn(*mut bindings::sock)>,
    base_state_change: Option<unsafe extern "C" fn(*mut bindings::sock)>,
}

// SAFETY: `check` is serialised by the socket lock (type invariant); the other
// fields are atomics or written once before the hold is shared.
unsafe impl Sync for Hold {}
// SAFETY: Nothing in the hold is tied to a thread.
unsafe impl Send for Hold {}

impl Hold {
    /// A hold for the new child `sk` of a listener, with its deadline; its
    /// first byte has sequence number `start`.
    ///
    /// # Safety
    ///
    /// `sk` must be a child socket being cloned, which the hold will belong
    /// to (through its ULP context).
    pub(crate) unsafe fn new(
        sk: *mut bindings::sock,
        check: Check,
        start: u32,
        gfp: u32,
    ) -> Result<Self> {
        // SAFETY: `sk` is a valid socket; the deadline only keeps a pointer,
        // and takes a reference on the socket whenever it is queued.
        let deadline = unsafe { bindings::tcp_stealth_deadline_new(sk, Some(deadline_fn), gfp) };
        if deadline.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self {
            state: AtomicU32::new(PENDING),
            check: UnsafeCell::new(check),
            deadline,
            sk,
            start,
            // SAFETY: The child is not visible to anybody else yet.
            base_data_ready: unsafe { (*sk).sk_data_ready },
            // SAFETY: As above.
            base_state_change: unsafe { (*sk).sk_state_change },
        })
    }

    /// Starts holding: takes over `sk_data_ready` and `sk_state_change` and
    /// arms the deadline. Called once the hold sits at its final place in the
    /// ULP context.
    pub(crate) fn start(&self, timeout_secs: u32) {
        // SAFETY: The child is not visible to anybody else yet (we are in the
        // ULP's clone callback), so the writes race with nothing.
        unsafe {
            addr_of_mut!((*self.sk).sk_data_ready).write(Some(hold_data_ready));
            addr_of_mut!((*self.sk).sk_state_change).write(Some(hold_state_change));
        }
        // SAFETY: `deadline` is valid (type invariant); plain arithmetic.
        unsafe {
            bindings::tcp_stealth_deadline_set(
                self.deadline,
                bindings::tcp_stealth_secs_to_jiffies(timeout_secs),
            )
        };
    }

    /// The socket is being destroyed (socket lock held): no more deadline,
    /// and no more calls into this module from the socket. Called by the
    /// ULP's release, before the ULP drops its module reference.
    pub(crate) fn stop(&self) {
        // SAFETY: `deadline` is valid (type invariant); the socket is locked
        // (the caller), as the helper requires.
        unsafe { bindings::tcp_stealth_deadline_stop(self.deadline) };
        // SAFETY: The socket is locked and TCP calls `sk_data_ready` and
        // `sk_state_change` with the lock held only, so the writes race with
        // no call. Ours are pointers into this module, which the socket must
        // not keep once its ULP is gone.
        unsafe {
            restore_callback(
                addr_of_mut!((*self.sk).sk_data_ready),
                hold_data_ready,
                self.base_data_ready,
            );
            restore_callback(
                addr_of_mut!((*self.sk).sk_state_change),
                hold_state_change,
                self.base_state_change,
            );
        }
    }

    fn gate(&self) -> Gate {
        match self.state.load(Ordering::Acquire) {
            PENDING => Gate::Pending,
            VERIFIED => Gate::Open,
            e => Gate::Failed(Error::from_errno(-(e as i32))),
        }
    }

    /// Feeds the check with what has arrived. Returns the errno to reset
    /// the connection with, if it has failed. `deadline`: time is up.
    ///
    /// # Safety
    ///
    /// The caller must hold the socket lock.
    unsafe fn advance(&self, deadline: bool) -> Option<u32> {
        match self.state.load(Ordering::Acquire) {
            PENDING => {}
            VERIFIED => return None,
            e => return deadline.then_some(e),
        }
        let rx = RxQueue {
            // SAFETY: The socket lives while we run (the caller locked it).
            sk: unsafe { Sock::from_raw(self.sk) },
            start: self.start,
        };
        // SAFETY: The socket lock is held (caller), which serialises all
        // users of `check` (type invariant).
        let check = unsafe { &mut *self.check.get() };
        match crate::integrity::advance(check, &rx, deadline) {
            Outcome::Pending => None,
            Outcome::Verified => {
                self.state.store(VERIFIED, Ordering::Release);
                // SAFETY: `deadline` is valid (type invariant).
                unsafe { bindings::tcp_stealth_deadline_cancel(self.deadline) };
                // SAFETY: Socket locked (caller): TCP calls `sk_data_ready`
                // and `sk_state_change` with the lock held only, so restoring
                // them races with no call.
                unsafe {
                    addr_of_mut!((*self.sk).sk_data_ready).write(self.base_data_ready);
                    addr_of_mut!((*self.sk).sk_state_change).write(self.base_state_change);
                }
                if let Some(f) = self.base_data_ready {
                    // SAFETY: The socket's own data_ready, as TCP would call it.
                    unsafe { f(self.sk) };
                }
                None
            }
            Outcome::Failed(f) => {
                let e = failure_errno(f);
                self.state.store(e, Ordering::Release);
                if !deadline {
                    // Reset from process context, as soon as possible.
                    // SAFETY: `deadline` is valid (type invariant).
                    unsafe { bindings::tcp_stealth_deadline_set(self.deadline, 0) };
                }
                Some(e)
            }
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // SAFETY: `deadline` is valid and this is its owner (type invariant).
        unsafe { bindings::tcp_stealth_deadline_free(self.deadline) };
    }
}

/// A socket callback (`sk_data_ready`, `sk_state_change`).
type SockCallback = unsafe extern "C" fn(*mut bindings::sock);

/// Puts `base` back into the callback at `f` if it is still `ours`.
///
/// # Safety
///
/// `f` must point to a callback field of a socket that is locked, and that
/// TCP calls with the lock held only.
unsafe fn restore_callback(
    f: *mut Option<SockCallback>,
    ours: SockCallback,
    base: Option<SockCallback>,
) {
    // SAFETY: The caller's guarantee: nobody calls or changes it meanwhile.
    unsafe {
        if f.read().map(|g| g as usize) == Some(ours as usize) {
            f.write(base);
        }
    }
}

fn failure_errno(f: Failure) -> u32 {
    match f {
        Failure::Mismatch | Failure::Urgent | Failure::Lost => bindings::EBADMSG,
        Failure::Short => bindings::ECONNABORTED,
        Failure::Timeout => bindings::ETIMEDOUT,
    }
}

/// The in-order bytes a held connection has received, which nobody has read.
pub(crate) struct RxQueue<'a> {
    sk: &'a Sock,
    /// The sequence number of the connection's first byte.
    start: u32,
}

impl RxQueue<'_> {
    /// Copies received bytes from offset `off` (from the first byte of the
    /// connection) into `buf`; returns how many were there.
    pub(crate) fn copy(&self, off: usize, buf: &mut [u8]) -> usize {
        let (Ok(off), Ok(len)) = (u32::try_from(off), u32::try_from(buf.len())) else {
            return 0;
        };
        // SAFETY: An `RxQueue` exists only while the socket lock is held
        // (`Hold::advance`), so the queue cannot change; `buf` is writable
        // for `len` bytes.
        let n = unsafe {
            bindings::tcp_stealth_rcvq_copy(self.sk.as_ptr(), off, buf.as_mut_ptr(), len)
        };
        n as usize
    }

    /// Whether TCP's urgent data handling touches the first `n` bytes: an
    /// urgent pointer into them, or bytes taken from the queue.
    pub(crate) fn urgent(&self, n: usize) -> bool {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        // SAFETY: The socket is locked while an `RxQueue` exists (see `copy`).
        unsafe { bindings::tcp_stealth_rcv_urgent(self.sk.as_ptr(), self.start, n) }
    }

    /// Whether the peer has closed its side (FIN received).
    pub(crate) fn peer_closed(&self) -> bool {
        // SAFETY: The socket is alive; the helper reads `sk_shutdown` once.
        unsafe { bindings::tcp_stealth_rcv_shutdown(self.sk.as_ptr()) }
    }

    /// The socket's namespace, for counters.
    pub(crate) fn sock(&self) -> &Sock {
        self.sk
    }
}

/// Our `sk_data_ready` for held connections.
///
/// # Safety
///
/// Only TCP calls it, with the socket locked (bh lock, or owned by the
/// caller processing its backlog).
unsafe extern "C" fn hold_data_ready(sk: *mut bindings::sock) {
    // SAFETY: TCP calls `sk_data_ready` for a live socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context stays.
    if let Some(hold) = unsafe { s.hold_locked() } {
        // SAFETY: The socket is locked (our caller).
        unsafe { hold.advance(false) };
    }
}

/// Our `sk_state_change` for held connections: TCP queues the data of a
/// Fast Open SYN without calling `sk_data_ready`, so the check looks at a
/// queue with bytes in it again when the handshake completes (and on every
/// other change). With nothing queued it waits for `sk_data_ready`, as
/// before: a connection without a commitment (`Check::Lost`) fails on its
/// first bytes, not as soon as it is established.
///
/// # Safety
///
/// Only TCP calls it, with the socket locked.
unsafe extern "C" fn hold_state_change(sk: *mut bindings::sock) {
    // SAFETY: TCP calls `sk_state_change` for a live socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context stays.
    if let Some(hold) = unsafe { s.hold_locked() } {
        if let Some(f) = hold.base_state_change {
            // SAFETY: The socket's own state_change, as TCP would call it.
            unsafe { f(sk) };
        }
        // SAFETY: The socket is locked (our caller), so the queue is stable.
        if !unsafe { bindings::tcp_stealth_rcvq_empty(sk) } {
            // SAFETY: The socket is locked (our caller).
            unsafe { hold.advance(false) };
        }
    }
}

/// The deadline of a held connection, on the module's workqueue. Returns
/// the errno to reset the connection with, or 0.
///
/// # Safety
///
/// Only the deadline work calls it, holding a reference on the socket and
/// its lock (bh lock, not owned by a user).
unsafe extern "C" fn deadline_fn(sk: *mut bindings::sock) -> c_int {
    // SAFETY: The work holds a reference on the socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context cannot go away; after
    // TCP destroyed the socket it has none.
    match unsafe { s.hold_locked() } {
        // SAFETY: The socket is locked.
        Some(hold) => unsafe { hold.advance(true) }.map_or(0, |e| e as c_int),
        None => 0,
    }
}

/// What the reader of `sk` may do.
pub(crate) fn gate(s: &Sock) -> Gate {
    // SAFETY: Called from socket calls of the owner (who holds the socket
    // through its file) or with the socket locked, so its ULP context stays.
    match unsafe { s.ulp_state() } {
        UlpState::None => Gate::Open,
        UlpState::NoContext => Gate::Failed(ENOMEM),
        UlpState::Ctx(ctx) => ctx.hold().map_or(Gate::Open, Hold::gate),
    }
}

/// What a socket's ULP context is, as [`gate`] needs it.
pub(crate) enum UlpState<'a> {
    /// Not one of ours.
    None,
    /// One of ours whose context could not be allocated: fail closed.
    NoContext,
    /// Ours.
    Ctx(&'a crate::sockopt::SockCtx),
}

/// Waits, as a blocking read would, until the first bytes of `s` are
/// verified; fails as a read would fail.
pub(crate) fn wait_verified(s: &Sock, nonblock: bool) -> Result {
    // SAFETY: See `gate`.
    let hold = match unsafe { s.ulp_state() } {
        UlpState::None => return Ok(()),
        UlpState::NoContext => return Err(ENOMEM),
        UlpState::Ctx(ctx) => match ctx.hold() {
            None => return Ok(()),
            Some(h) => h,
        },
    };
    if let Gate::Pending = hold.gate() {
        // SAFETY: The socket is alive and not locked by us; `state` lives as
        // long as the socket's ULP context, which outlives this call. The
        // helper locks the socket, sleeps while the state is PENDING and
        // returns 0 or a negative errno (EAGAIN, EINTR, the socket's error).
        let ret = unsafe {
            bindings::tcp_stealth_wait_state(s.as_ptr(), hold.state.as_ptr(), PENDING, nonblock)
        };
        to_result(ret)?;
    }
    match hold.gate() {
        Gate::Open => Ok(()),
        Gate::Failed(e) => Err(e),
        Gate::Pending => Err(EAGAIN),
    }
}

/// Our `recvmsg` flag for "do not wait".
pub(crate) fn recv_nonblock(flags: c_int) -> bool {
    flags & MSG_DONTWAIT != 0
}

/// `ioctl(SIOCINQ)` and `ioctl(SIOCATMARK)` of a held socket: nothing to
/// read yet, no urgent data.
pub(crate) fn hide_inq(s: &Sock, cmd: c_int) -> bool {
    (cmd == SIOCINQ || cmd == SIOCATMARK) && !matches!(gate(s), Gate::Open)
}

// ---------------------------------------------------------------------------
// proto_ops: accepted sockets inherit them from the listener's socket.

/// Our copies of the stream `proto_ops` of IPv4 and IPv6 sockets, and the
/// originals.
static OPS: KernelStatic<[MaybeUninit<bindings::proto_ops>; 2]> =
    KernelStatic::new([MaybeUninit::uninit(), MaybeUninit::uninit()]);
static BASE_OPS: [AtomicPtr<bindings::proto_ops>; 2] =
    [AtomicPtr::new(null_mut()), AtomicPtr::new(null_mut())];

const AF_INET: c_int = 2;
const AF_INET6: c_int = 10;

/// Builds our `proto_ops` from those of a kernel TCP socket of each family
/// (`inet6_stream_ops` is not exported) and makes the workqueue. `owner` is
/// this module: the copies name it as their owner, so that the socket layer
/// pins the module for every socket that has them (see [`install_ops`]).
pub(crate) fn init(owner: *mut bindings::module) -> Result {
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
        // kernel. Nothing uses `OPS[i]` before `BASE_OPS[i]` is set below
        // (module init, before the ULP is registered).
        unsafe {
            let base = (*sock).ops;
            let ops = (*OPS.get())[i].write(base.read());
            // Every `struct socket` with these ops holds a reference on
            // `owner`: `accept()` takes one for the new socket
            // (`__module_get(ops->owner)`) and `sock_release()` drops it;
            // `install_ops` trades the base owner's for ours.
            ops.owner = owner;
            ops.poll = Some(stealth_poll);
            ops.splice_read = Some(stealth_splice_read);
            ops.read_sock = Some(stealth_read_sock);
            ops.peek_len = Some(stealth_peek_len);
            ops.setsockopt = Some(stealth_ops_setsockopt);
            BASE_OPS[i].store(base.cast_mut(), Ordering::Release);
            bindings::sock_release(sock);
        }
    }
    // SAFETY: Called once, at module init.
    to_result(unsafe { bindings::tcp_stealth_wq_init() })
}

/// Undoes [`init`], once no socket uses the module any more. Waits for
/// deadlines that still run.
pub(crate) fn exit() {
    // SAFETY: `init` made the workqueue; nothing queues work any more.
    unsafe { bindings::tcp_stealth_wq_exit() };
}

/// Gives the listener's socket our `proto_ops`, so that the sockets accept()
/// makes for it get them too. Socket lock held.
///
/// The socket layer drops a reference on `ops->owner` when it releases the
/// socket, and took one on the owner of the ops the socket was created with:
/// so this takes a reference on this module for our ops and drops the one on
/// the base ops' owner. The ops are never swapped back: the listener (and
/// every socket accepted from it) pins the module until it is released.
pub(crate) fn install_ops(sk: &LockedSock<'_>) -> Result {
    // SAFETY: The socket is locked; `sk_socket` of a user socket is set for
    // its whole life, and its `ops` change only under the socket lock.
    unsafe {
        let socket = (*sk.sock().as_ptr()).sk_socket;
        if socket.is_null() {
            return Err(EINVAL);
        }
        let cur = (*socket).ops;
        for (i, base) in BASE_OPS.iter().enumerate() {
            let ours = (*OPS.get())[i].as_ptr();
            if cur == ours {
                return Ok(());
            }
            if !base.load(Ordering::Acquire).is_null() && cur == base.load(Ordering::Acquire) {
                // A plain `__module_get` is enough: the socket has our ULP
                // (we are its setsockopt), which holds a reference already.
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
/// Called from `release_cb`, with the socket owned.
pub(crate) fn adopt_ops(s: &Sock) {
    // SAFETY: The caller owns the socket, so its ULP context stays.
    if unsafe { s.hold_locked() }.is_none() {
        return;
    }
    // SAFETY: The socket is owned: `sk_socket` changes under its lock only,
    // and the `struct socket` lives while the socket is grafted on it.
    let socket = unsafe { (*s.as_ptr()).sk_socket };
    if socket.is_null() {
        return;
    }
    // SAFETY: As above.
    let cur = unsafe { (*socket).ops };
    for (i, base) in BASE_OPS.iter().enumerate() {
        let base = base.load(Ordering::Acquire);
        if !base.is_null() && cur == base.cast_const() {
            // SAFETY: Our copy `i` exists since its base is set; nobody uses
            // the socket yet (see above).
            unsafe { bindings::tcp_stealth_socket_set_ops(socket, (*OPS.get())[i].as_ptr()) };
            return;
        }
    }
}

/// `IPV6_ADDRFORM`.
const IPV6_ADDRFORM: c_int = 1;
/// `SOL_IPV6`.
const SOL_IPV6: c_int = 41;
/// `TCP_ULP`.
const TCP_ULP: c_int = 31;

/// `proto_ops.setsockopt`: the base one, except for the two options that
/// would make the socket lose our ops while keeping the module reference
/// they came with (see [`install_ops`]).
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
unsafe extern "C" fn stealth_ops_setsockopt(
    sock: *mut bindings::socket,
    level: c_int,
    optname: c_int,
    optval: bindings::sockptr_t,
    optlen: c_uint,
) -> c_int {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops((*sock).ops), (*sock).sk) };
    if level == crate::ffi::sock::SOL_TCP && optname == TCP_ULP {
        // SAFETY: The socket lives while its file is in use.
        if matches!(unsafe { Sock::from_raw(sk).ulp_state() }, UlpState::None) {
            return EBUSY.to_errno();
        }
    }
    // SAFETY: The original setsockopt, with the caller's arguments.
    let ret = unsafe { (base.setsockopt.unwrap_unchecked())(sock, level, optname, optval, optlen) };
    if ret == 0 && level == SOL_IPV6 && optname == IPV6_ADDRFORM {
        let inet = BASE_OPS[0].load(Ordering::Acquire);
        // SAFETY: `sock` is held by the caller, and the socket layer cannot
        // release it during the call. `ipv6_setsockopt` replaced the ops
        // (under the socket lock, which is released now) with the kernel's
        // IPv4 ones; any reader sees either those or ours, both valid. Our
        // IPv4 copy exists whenever the IPv4 base does.
        unsafe {
            if !inet.is_null() && addr_of!((*sock).ops).read_volatile() == inet.cast_const() {
                addr_of_mut!((*sock).ops).write_volatile((*OPS.get())[0].as_ptr());
            }
        }
    }
    ret
}

/// The original ops behind our copy `ops`.
///
/// # Safety
///
/// `ops` must be one of our copies (the socket has our ops).
unsafe fn base_ops(ops: *const bindings::proto_ops) -> &'static bindings::proto_ops {
    let i = usize::from(ops != OPS.get().cast::<bindings::proto_ops>());
    // SAFETY: Our copies exist only for families whose base is set, and the
    // kernel's ops are statics.
    unsafe { &*BASE_OPS[i].load(Ordering::Acquire) }
}

/// `proto_ops.poll`.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ops.
unsafe extern "C" fn stealth_poll(
    file: *mut bindings::file,
    sock: *mut bindings::socket,
    wait: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops((*sock).ops), (*sock).sk) };
    // SAFETY: The original poll, with the caller's arguments.
    let mask = unsafe { (base.poll.unwrap_unchecked())(file, sock, wait) };
    if sk.is_null() {
        return mask;
    }
    // SAFETY: The socket lives while its file is polled.
    match gate(unsafe { Sock::from_raw(sk) }) {
        Gate::Open => mask,
        Gate::Pending => mask & !EPOLL_READ,
        Gate::Failed(_) => mask | EPOLLERR,
    }
}

/// `proto_ops.splice_read`.
///
/// # Safety
///
/// Only the socket layer calls it, for a socket with our ops.
unsafe extern "C" fn stealth_splice_read(
    sock: *mut bindings::socket,
    ppos: *mut bindings::loff_t,
    pipe: *mut bindings::pipe_inode_info,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops((*sock).ops), (*sock).sk) };
    // SAFETY: As above.
    let nonblock =
        flags & SPLICE_F_NONBLOCK != 0 || unsafe { bindings::tcp_stealth_file_nonblock(sock) };
    // SAFETY: The socket lives while its file is in use.
    if let Err(e) = wait_verified(unsafe { Sock::from_raw(sk) }, nonblock) {
        return e.to_errno() as isize;
    }
    // SAFETY: The original splice_read, with the caller's arguments.
    unsafe { (base.splice_read.unwrap_unchecked())(sock, ppos, pipe, len, flags) }
}

/// `proto_ops.read_sock` (in-kernel readers, socket locked): nothing to read
/// until the bytes are verified.
///
/// # Safety
///
/// Only the kernel calls it, for a locked socket with our ops.
unsafe extern "C" fn stealth_read_sock(
    sk: *mut bindings::sock,
    desc: *mut bindings::read_descriptor_t,
    actor: bindings::sk_read_actor_t,
) -> c_int {
    // SAFETY: The caller holds the locked socket.
    let s = unsafe { Sock::from_raw(sk) };
    match gate(s) {
        Gate::Open => {}
        Gate::Pending => return EAGAIN.to_errno(),
        Gate::Failed(e) => return e.to_errno(),
    }
    // SAFETY: The socket's `sk_socket` has our ops.
    let base = unsafe { base_ops((*(*sk).sk_socket).ops) };
    // SAFETY: The original read_sock, with the caller's arguments.
    unsafe { (base.read_sock.unwrap_unchecked())(sk, desc, actor) }
}

/// `proto_ops.peek_len`: nothing to peek at until the bytes are verified.
///
/// # Safety
///
/// Only the kernel calls it, for a socket with our ops.
unsafe extern "C" fn stealth_peek_len(sock: *mut bindings::socket) -> c_int {
    // SAFETY: The caller holds the socket; its ops are ours.
    let (base, sk) = unsafe { (base_ops((*sock).ops), (*sock).sk) };
    // SAFETY: The socket lives while the caller holds it.
    if !matches!(gate(unsafe { Sock::from_raw(sk) }), Gate::Open) {
        return 0;
    }
    // SAFETY: The original peek_len, with the caller's arguments.
    unsafe { (base.peek_len.unwrap_unchecked())(sock) }
}
