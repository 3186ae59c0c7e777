// SPDX-License-Identifier: GPL-2.0

//! Connections held until their first bytes pass a check.
//!
//! A ULP whose `Ulp::clone_check` (in [`super::ulp`]) returns a
//! check for a child gives it a [`Hold`]: until the check ([`HoldCheck`])
//! succeeds, the application can neither read nor see readable data:
//!
//! - `sk_data_ready` is ours: it feeds the check from the receive queue and
//!   wakes readers only once the bytes are verified; so is `sk_state_change`,
//!   because TCP queues the data of a Fast Open SYN without calling
//!   `sk_data_ready` (the check then runs when the handshake completes);
//! - `recvmsg`, `ioctl(SIOCINQ, SIOCATMARK)` and `TCP_ZEROCOPY_RECEIVE` of
//!   the ULP's protos, and `poll`, `splice_read`, `read_sock` and `peek_len`
//!   of its `proto_ops` ([`super::ops`]) wait, report nothing, or fail;
//! - a deadline on the module's workqueue resets the connection if the bytes
//!   do not come in time, and carries out the reset when the check fails in
//!   softirq context (`tcp_abort()` needs process context).
//!
//! TCP itself still receives, acknowledges and queues the bytes; they just
//! stay in the receive queue, invisible, until they are verified.

use super::{bindings, sock::Sock};
use core::{
    cell::UnsafeCell,
    ffi::c_int,
    marker::PhantomData,
    ptr::addr_of_mut,
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{error::to_result, prelude::*};

/// [`Hold`] states: the check is running.
const PENDING: u32 = 0;
/// The bytes matched; the connection is an ordinary one now.
const VERIFIED: u32 = 1;
// Any other value: the check failed with that (positive) errno.

/// `SIOCINQ` (`FIONREAD`).
const SIOCINQ: c_int = 0x541b;
/// `SIOCATMARK`: whether urgent data is next.
const SIOCATMARK: c_int = 0x8905;

/// How the hold's callbacks find the hold of a socket: implemented for every
/// ULP by [`super::ulp`] (whose context carries the hold), so that this
/// module does not depend on it.
pub(super) trait HoldOf: 'static {
    /// The check the holds run.
    type Check: HoldCheck;

    /// Where socket `s` stands.
    ///
    /// # Safety
    ///
    /// The caller must keep the socket from being destroyed while it uses the
    /// result: by holding its lock, or as the owner of a socket call (whose
    /// file holds the socket, which TCP destroys only after it is closed).
    unsafe fn hold_state(s: &Sock) -> HoldState<'_, Self::Check>;

    /// The hold of `s`, if it has one.
    ///
    /// # Safety
    ///
    /// As for [`HoldOf::hold_state`].
    unsafe fn hold_of(s: &Sock) -> Option<&Hold<Self::Check>> {
        // SAFETY: This function's `# Safety` section is `hold_state`'s: the
        // caller keeps the socket from being destroyed during the call.
        match unsafe { Self::hold_state(s) } {
            HoldState::Ctx(hold) => hold,
            _ => None,
        }
    }
}

/// Where a socket stands, for [`HoldOf`].
pub(super) enum HoldState<'a, C> {
    /// Not a socket of the ULP.
    NotOurs,
    /// A socket of the ULP whose context could not be allocated: fail
    /// closed.
    NoContext,
    /// A socket of the ULP with its context, and the context's hold, if any.
    Ctx(Option<&'a Hold<C>>),
}

/// The check a held connection runs on its first bytes.
pub(crate) trait HoldCheck: Send + 'static {
    /// Feeds the check with the bytes that arrived since the last call.
    /// `deadline`: the time for the bytes is up.
    fn advance(&mut self, rx: &RxQueue<'_>, deadline: bool) -> Outcome;
}

/// Where a check stands.
pub(crate) enum Outcome {
    Pending,
    Verified,
    Failed(Failure),
}

/// Why a check failed. The application's reads fail with the errno in
/// parentheses (see the uapi header).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Failure {
    /// The bytes differ from the commitment (`EBADMSG`).
    Mismatch,
    /// Urgent data inside the first bytes: the application would not read
    /// the bytes that were checked (`EBADMSG`).
    Urgent,
    /// The peer closed before sending them all (`ECONNABORTED`).
    Short,
    /// The bytes did not come in time (`ETIMEDOUT`).
    Timeout,
    /// Nothing to check against (`EBADMSG`).
    Lost,
}

impl Failure {
    /// The errno the application's reads fail with.
    fn errno(self) -> u32 {
        match self {
            Failure::Mismatch | Failure::Urgent | Failure::Lost => bindings::EBADMSG,
            Failure::Short => bindings::ECONNABORTED,
            Failure::Timeout => bindings::ETIMEDOUT,
        }
    }
}

/// What a reader of the socket may do now.
enum Gate {
    /// Read as usual.
    Open,
    /// The first bytes are not verified yet.
    Pending,
    /// The check failed (or the connection has no state to check with).
    Failed(Error),
}

/// A socket callback (`sk_data_ready`, `sk_state_change`).
type SockCallback = unsafe extern "C" fn(*mut bindings::sock);

/// The hold of one connection, in its ULP context.
///
/// # Invariants
///
/// - `check` is only used with the socket lock held: by `sk_data_ready` and
///   `sk_state_change` (called by TCP with the socket locked) and by the
///   deadline (which takes the bh lock of a socket no user owns).
/// - `deadline` comes from `tcp_stealth_deadline_new` for `sk` and is freed
///   only by `drop`.
/// - `sk` is the socket whose ULP context holds the hold, so it outlives it.
pub(crate) struct Hold<C> {
    state: AtomicU32,
    check: UnsafeCell<C>,
    deadline: *mut bindings::tcp_stealth_deadline,
    sk: *mut bindings::sock,
    /// The sequence number of the connection's first byte.
    start: u32,
    base_data_ready: Option<SockCallback>,
    base_state_change: Option<SockCallback>,
    ours_data_ready: SockCallback,
    ours_state_change: SockCallback,
}

// SAFETY: `check` is serialised by the socket lock (type invariant), and
// `C: Send` may be used from any thread; the other fields are atomics or
// written once before the hold is shared.
unsafe impl<C: Send> Sync for Hold<C> {}
// SAFETY: Nothing in the hold is tied to a thread (`C: Send`).
unsafe impl<C: Send> Send for Hold<C> {}

impl<C: HoldCheck> Hold<C> {
    /// A hold for the new child `sk` of a listener with ULP `T`, with its
    /// deadline; its first byte has sequence number `start`.
    ///
    /// # Safety
    ///
    /// `sk` must be a child socket being cloned, not visible to anybody
    /// else, whose ULP `T` context the hold will be part of.
    pub(super) unsafe fn new<T: HoldOf<Check = C>>(
        sk: *mut bindings::sock,
        check: C,
        start: u32,
        gfp: u32,
    ) -> Result<Self> {
        // SAFETY: `sk` is a valid socket (the function's safety section);
        // the deadline only keeps a pointer, and takes a reference on the
        // socket whenever it is queued. `deadline_fn::<T>` stays valid while
        // a deadline exists (`ops::teardown` waits for the last one).
        let deadline =
            unsafe { bindings::tcp_stealth_deadline_new(sk, Some(deadline_fn::<T>), gfp) };
        if deadline.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: `deadline` was just made for `sk`; the caller puts the
        // hold into `sk`'s context.
        Ok(Self {
            state: AtomicU32::new(PENDING),
            check: UnsafeCell::new(check),
            deadline,
            sk,
            start,
            // SAFETY: `sk` is a valid child that nobody else sees yet (the
            // function's safety section), so reading its callbacks races
            // with no writer.
            base_data_ready: unsafe { (*sk).sk_data_ready },
            // SAFETY: Likewise: `sk` is valid and not visible to anybody else.
            base_state_change: unsafe { (*sk).sk_state_change },
            ours_data_ready: data_ready::<T>,
            ours_state_change: state_change::<T>,
        })
    }

    /// Starts holding: takes over `sk_data_ready` and `sk_state_change` and
    /// arms the deadline.
    ///
    /// # Safety
    ///
    /// The caller (the ULP's `clone`) must call it once, with the hold at its
    /// final place in the ULP context of a child that nobody else sees yet.
    pub(super) unsafe fn start(&self, timeout_secs: u32) {
        // SAFETY: The child is not visible to anybody else yet (the caller's
        // guarantee), so the writes race with nothing.
        unsafe {
            addr_of_mut!((*self.sk).sk_data_ready).write(Some(self.ours_data_ready));
            addr_of_mut!((*self.sk).sk_state_change).write(Some(self.ours_state_change));
        }
        let delay = kernel::time::msecs_to_jiffies(timeout_secs.saturating_mul(1000));
        // SAFETY: `deadline` is valid (type invariant). The helper wants the
        // socket locked: the ULP's `clone` runs with the child bh-locked by
        // `sk_clone_lock()`, before anybody else sees it (the caller's
        // guarantee).
        unsafe { bindings::tcp_stealth_deadline_set(self.deadline, delay) };
    }

    /// The socket is being destroyed: no more deadline, and no more calls
    /// into this module from the socket.
    ///
    /// # Safety
    ///
    /// The caller (the ULP's `release`, before the ULP drops its module
    /// reference) must hold the socket lock.
    pub(super) unsafe fn stop(&self) {
        // SAFETY: `deadline` is valid (type invariant); the socket is locked
        // (the caller's guarantee), as the helper requires.
        unsafe { bindings::tcp_stealth_deadline_stop(self.deadline) };
        // SAFETY: The socket is locked and TCP calls `sk_data_ready` and
        // `sk_state_change` with the lock held only, so the writes race with
        // no call. Ours are pointers into this module, which the socket must
        // not keep once its ULP is gone.
        unsafe {
            restore_callback(
                addr_of_mut!((*self.sk).sk_data_ready),
                self.ours_data_ready,
                self.base_data_ready,
            );
            restore_callback(
                addr_of_mut!((*self.sk).sk_state_change),
                self.ours_state_change,
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
        // INVARIANT: The socket lock is held (caller) for as long as `rx`
        // lives.
        let rx = RxQueue {
            // SAFETY: `self.sk` is the full socket whose context holds this
            // hold (type invariant), alive while the caller holds its lock
            // (this function's `# Safety` section), which bounds `rx`.
            sk: unsafe { Sock::from_raw(self.sk) },
            start: self.start,
            _locked: PhantomData,
        };
        // SAFETY: The socket lock is held (caller), which serialises all
        // users of `check` (type invariant).
        let check = unsafe { &mut *self.check.get() };
        match check.advance(&rx, deadline) {
            Outcome::Pending => None,
            Outcome::Verified => {
                self.state.store(VERIFIED, Ordering::Release);
                // SAFETY: `deadline` is valid (type invariant); cancelling
                // needs no lock (the helper drops the references of a
                // pending work only if it took the work off the queue).
                unsafe { bindings::tcp_stealth_deadline_cancel(self.deadline) };
                // SAFETY: Socket locked (caller): TCP calls `sk_data_ready`
                // and `sk_state_change` with the lock held only, so restoring
                // them races with no call.
                unsafe {
                    addr_of_mut!((*self.sk).sk_data_ready).write(self.base_data_ready);
                    addr_of_mut!((*self.sk).sk_state_change).write(self.base_state_change);
                }
                if let Some(f) = self.base_data_ready {
                    // SAFETY: The socket's own data_ready, as TCP would call
                    // it (socket locked).
                    unsafe { f(self.sk) };
                }
                None
            }
            Outcome::Failed(f) => {
                let e = f.errno();
                self.state.store(e, Ordering::Release);
                if !deadline {
                    // Reset from process context, as soon as possible.
                    // SAFETY: `deadline` is valid (type invariant), and the
                    // socket is locked (this function's `# Safety` section),
                    // as `tcp_stealth_deadline_set()` requires.
                    unsafe { bindings::tcp_stealth_deadline_set(self.deadline, 0) };
                }
                Some(e)
            }
        }
    }
}

impl<C> Drop for Hold<C> {
    fn drop(&mut self) {
        // SAFETY: `deadline` is valid and this is its owner (type invariant).
        unsafe { bindings::tcp_stealth_deadline_free(self.deadline) };
    }
}

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

/// The in-order bytes a held connection has received, which nobody has read.
///
/// # Invariants
///
/// The socket is locked for as long as the value lives (only
/// `Hold::advance` makes one), so its receive queue cannot change.
pub(crate) struct RxQueue<'a> {
    sk: &'a Sock,
    /// The sequence number of the connection's first byte.
    start: u32,
    /// Not `Send`: it stands for a lock held by this thread.
    _locked: PhantomData<*mut ()>,
}

impl RxQueue<'_> {
    /// Copies received bytes from offset `off` (from the first byte of the
    /// connection) into `buf`; returns how many were there.
    pub(crate) fn copy(&self, off: usize, buf: &mut [u8]) -> usize {
        let (Ok(off), Ok(len)) = (u32::try_from(off), u32::try_from(buf.len())) else {
            return 0;
        };
        // SAFETY: The socket is locked (type invariant), so its queue cannot
        // change; `buf` is writable for `len` bytes.
        let n = unsafe {
            bindings::tcp_stealth_rcvq_copy(self.sk.as_ptr(), off, buf.as_mut_ptr(), len)
        };
        n as usize
    }

    /// Whether TCP's urgent data handling touches the first `n` bytes: an
    /// urgent pointer into them, or bytes taken from the queue.
    pub(crate) fn urgent(&self, n: usize) -> bool {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        // SAFETY: The socket is locked (type invariant).
        unsafe { bindings::tcp_stealth_rcv_urgent(self.sk.as_ptr(), self.start, n) }
    }

    /// Whether the peer has closed its side (FIN received).
    pub(crate) fn peer_closed(&self) -> bool {
        // SAFETY: The socket is alive; the helper reads `sk_shutdown` once.
        unsafe { bindings::tcp_stealth_rcv_shutdown(self.sk.as_ptr()) }
    }

    /// The socket, for its namespace (counters).
    pub(crate) fn sock(&self) -> &Sock {
        self.sk
    }
}

/// Our `sk_data_ready` for held connections.
///
/// # Safety
///
/// Only TCP calls it, with the socket locked (bh lock, or owned by the
/// caller processing its backlog), for a socket with ULP `T`'s hold.
unsafe extern "C" fn data_ready<T: HoldOf>(sk: *mut bindings::sock) {
    // SAFETY: TCP calls `sk_data_ready` for a live socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context stays.
    if let Some(hold) = unsafe { T::hold_of(s) } {
        // SAFETY: The socket is locked (our caller).
        unsafe { hold.advance(false) };
    }
}

/// Our `sk_state_change` for held connections: TCP queues the data of a
/// Fast Open SYN without calling `sk_data_ready`, so the check looks at a
/// queue with bytes in it again when the handshake completes (and on every
/// other change). With nothing queued it waits for `sk_data_ready`, as
/// before: a connection without a commitment fails on its first bytes, not
/// as soon as it is established.
///
/// # Safety
///
/// Only TCP calls it, with the socket locked, for a socket with ULP `T`'s
/// hold.
unsafe extern "C" fn state_change<T: HoldOf>(sk: *mut bindings::sock) {
    // SAFETY: TCP calls `sk_state_change` for a live socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context stays.
    if let Some(hold) = unsafe { T::hold_of(s) } {
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
unsafe extern "C" fn deadline_fn<T: HoldOf>(sk: *mut bindings::sock) -> c_int {
    // SAFETY: The work holds a reference on the socket.
    let s = unsafe { Sock::from_raw(sk) };
    // SAFETY: The socket is locked, so its ULP context cannot go away; after
    // TCP destroyed the socket it has none.
    match unsafe { T::hold_of(s) } {
        // SAFETY: The socket is locked.
        Some(hold) => unsafe { hold.advance(true) }.map_or(0, |e| e as c_int),
        None => 0,
    }
}

/// What the reader of `s` may do.
///
/// # Safety
///
/// The caller must keep the socket from being destroyed during the call (as
/// for [`HoldOf::hold_state`]): a socket call of its owner, or the socket
/// lock.
unsafe fn gate<T: HoldOf>(s: &Sock) -> Gate {
    // SAFETY: `hold_state` needs the socket kept from being destroyed during
    // the call, which is this function's own `# Safety` requirement.
    match unsafe { T::hold_state(s) } {
        HoldState::NotOurs => Gate::Open,
        HoldState::NoContext => Gate::Failed(ENOMEM),
        HoldState::Ctx(hold) => hold.map_or(Gate::Open, Hold::gate),
    }
}

/// `Ok` if `s` may be read now, else `EAGAIN` (pending) or why the check
/// failed.
///
/// # Safety
///
/// As for [`gate`].
pub(super) unsafe fn readable<T: HoldOf>(s: &Sock) -> Result {
    // SAFETY: `gate` has the same `# Safety` requirement as this function
    // (the socket is kept alive for the call), which the caller meets.
    match unsafe { gate::<T>(s) } {
        Gate::Open => Ok(()),
        Gate::Pending => Err(EAGAIN),
        Gate::Failed(e) => Err(e),
    }
}

/// `poll` bits of `s`: `mask` as is, without the read bits while held, or
/// with `err` once the check failed.
///
/// # Safety
///
/// As for [`gate`].
pub(super) unsafe fn poll_mask<T: HoldOf>(s: &Sock, mask: u32, read: u32, err: u32) -> u32 {
    // SAFETY: `gate` has the same `# Safety` requirement as this function
    // (the socket is kept alive for the call), which the caller meets.
    match unsafe { gate::<T>(s) } {
        Gate::Open => mask,
        Gate::Pending => mask & !read,
        Gate::Failed(_) => mask | err,
    }
}

/// Waits, as a blocking read would, until the first bytes of `s` are
/// verified; fails as a read would fail.
///
/// # Safety
///
/// As for [`gate`], and the caller must not hold the socket lock (this may
/// take it and sleep).
pub(super) unsafe fn wait_verified<T: HoldOf>(s: &Sock, nonblock: bool) -> Result {
    // SAFETY: `hold_state` needs the socket kept from being destroyed during
    // the call, which this function's `# Safety` section requires of the
    // caller.
    let hold = match unsafe { T::hold_state(s) } {
        HoldState::NotOurs | HoldState::Ctx(None) => return Ok(()),
        HoldState::NoContext => return Err(ENOMEM),
        HoldState::Ctx(Some(h)) => h,
    };
    if let Gate::Pending = hold.gate() {
        // SAFETY: The socket is alive and not locked by us (the caller's
        // guarantee); `state` lives as long as the socket's ULP context,
        // which outlives this call. The helper locks the socket, sleeps while
        // the state is PENDING and returns 0 or a negative errno (EAGAIN,
        // EINTR, the socket's error).
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

/// `ioctl(SIOCINQ)` and `ioctl(SIOCATMARK)` of a held socket: nothing to
/// read yet, no urgent data.
///
/// # Safety
///
/// As for [`gate`].
pub(super) unsafe fn hide_inq<T: HoldOf>(s: &Sock, cmd: c_int) -> bool {
    // SAFETY: `gate` has the same `# Safety` requirement as this function
    // (the socket is kept alive for the call), which the caller meets.
    (cmd == SIOCINQ || cmd == SIOCATMARK) && !matches!(unsafe { gate::<T>(s) }, Gate::Open)
}

/// Whether `s` has ULP `T` with a hold.
///
/// # Safety
///
/// As for [`gate`].
pub(super) unsafe fn is_held<T: HoldOf>(s: &Sock) -> bool {
    // SAFETY: `hold_of` has `hold_state`'s requirement, the socket kept alive
    // for the call, which is this function's `# Safety` section too.
    unsafe { T::hold_of(s) }.is_some()
}

/// Makes the workqueue of the deadlines.
///
/// # Safety
///
/// Called at most once per load of the module, before any deadline can be
/// armed (the ULP registration, which consumed the module's one
/// `ulp::Token`, before the ULP is published).
pub(super) unsafe fn wq_init() -> Result {
    // SAFETY: The workqueue is a C static that only this call writes, once
    // (the function's safety section), before any reader exists.
    to_result(unsafe { bindings::tcp_stealth_wq_init() })
}

/// Destroys the workqueue, once no socket uses the module any more. Waits
/// for deadlines that still run.
///
/// # Safety
///
/// [`wq_init`] succeeded, this is called once, and no deadline can be armed
/// any more: no socket holds a ULP context (the ULP is unregistered and an
/// RCU barrier has freed every context).
pub(super) unsafe fn wq_exit() {
    // SAFETY: The function's safety section: the workqueue exists, and no
    // deadline is pending or can be queued again (`tcp_stealth_wq_exit()`'s
    // kernel-doc: each socket stopped its deadline before its ULP context
    // went); `destroy_workqueue()` waits for one that still runs.
    unsafe { bindings::tcp_stealth_wq_exit() };
}
