// SPDX-License-Identifier: GPL-2.0

//! Per network namespace integer sysctls (`register_net_sysctl_sz`).

use super::{bindings, net::Net};
use core::{
    ffi::{c_int, c_void},
    ptr::null_mut,
    sync::atomic::{AtomicI32, AtomicPtr, Ordering},
};
use kernel::{prelude::*, str::CStr, types::Opaque};

/// An integer setting in `[min, max]`; writes outside the range fail with
/// EINVAL and change nothing (`proc_dointvec_minmax`).
pub(crate) struct IntSetting {
    value: AtomicI32,
    min: i32,
    max: i32,
    /// Called in process context after a write changed the value; if it
    /// fails, the old value is put back and the write fails with its error.
    on_change: Option<fn(&Net) -> Result>,
    /// Only the host's administrator may write it (see
    /// [`IntSetting::host_only`]).
    host_only: bool,
}

impl IntSetting {
    /// A setting with its default and range.
    pub(crate) const fn new(default: i32, min: i32, max: i32) -> Self {
        Self {
            value: AtomicI32::new(default),
            min,
            max,
            on_change: None,
            host_only: false,
        }
    }

    /// A setting whose writes call `on_change` (see [`IntSetting`]).
    pub(crate) const fn with_hook(
        default: i32,
        min: i32,
        max: i32,
        on_change: fn(&Net) -> Result,
    ) -> Self {
        Self {
            value: AtomicI32::new(default),
            min,
            max,
            on_change: Some(on_change),
            host_only: false,
        }
    }

    /// The same setting, writable only with `CAP_NET_ADMIN` in the initial
    /// user namespace: for what bounds the host's memory and the time spent
    /// with bottom halves off, which the root of a container (a user
    /// namespace) must not choose for the host. Everybody else's writes fail
    /// with EPERM; reads are as for any setting.
    pub(crate) const fn host_only(self) -> Self {
        Self {
            host_only: true,
            ..self
        }
    }

    /// The current value.
    pub(crate) fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
}

/// Most entries in one table.
pub(crate) const MAX_ENTRIES: usize = 8;

/// The handler of a setting with a hook: `proc_dointvec_minmax` on a copy
/// of the value, then the hook.
///
/// # Safety
///
/// Called by the sysctl core for an entry that [`SysctlTable::register`]
/// filled for a setting with a hook or writable only by the host
/// (`host_only`): `extra1` points to the
/// [`IntSetting`], `extra2` to its live namespace (both outlive the
/// registration, by the type invariant of [`SysctlTable`], and the core
/// waits for running handlers before unregistering returns).
unsafe extern "C" fn hooked_handler(
    table: *const bindings::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> c_int {
    // SAFETY: By the function's safety section, `table` is a valid entry
    // for this call, whose `extra1` points to a live `IntSetting` and
    // `extra2` to the namespace (only kept as a pointer here).
    let (setting, net) = unsafe {
        (
            &*(*table).extra1.cast::<IntSetting>(),
            (*table).extra2.cast::<bindings::net>(),
        )
    };
    // Before the value is even parsed, as `proc_dointvec_minmax_sysadmin()`
    // checks its writer.
    if write != 0 && setting.host_only {
        // SAFETY: `capable` only looks at the current task's credentials.
        if !unsafe { bindings::capable(bindings::CAP_NET_ADMIN as c_int) } {
            return EPERM.to_errno();
        }
    }
    let mut v = setting.get();
    // SAFETY: `table` is valid for reads (the function's safety section);
    // `ctl_table` is plain old data without `Drop`, so a bitwise copy is a
    // valid, independent value.
    let mut tmp: bindings::ctl_table = unsafe { core::ptr::read(table) };
    tmp.data = (&mut v as *mut i32).cast();
    tmp.extra1 = (&setting.min as *const i32).cast_mut().cast();
    tmp.extra2 = (&setting.max as *const i32).cast_mut().cast();
    // SAFETY: `tmp` is a valid integer entry whose `data`, `extra1` and
    // `extra2` point to `v` and the setting's bounds, all alive through the
    // call; the buffer arguments are the core's own, passed on unchanged,
    // which is what `proc_dointvec_minmax` expects of a handler.
    let ret = unsafe { bindings::proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos) };
    if ret != 0 || write == 0 {
        return ret;
    }
    let old = setting.value.swap(v, Ordering::Relaxed);
    if old == v {
        return 0;
    }
    if let Some(hook) = setting.on_change {
        // SAFETY: `extra2` is the namespace the table is registered in (the
        // function's safety section), which outlives the registration (type
        // invariant of `SysctlTable`); handlers run only while registered.
        let net = unsafe { Net::from_raw(net) };
        if let Err(e) = hook(net) {
            setting.value.store(old, Ordering::Relaxed);
            return e.to_errno();
        }
    }
    0
}

/// The settings of a [`SysctlTable`]: what they are called and where.
pub(crate) trait SysctlSettings: Send + Sync + 'static {
    /// Where the table appears, such as `net/tcp_stealth`.
    const PATH: &'static CStr;
    /// Calls `f` with the name and the setting of each entry, in the order
    /// they appear; at most [`MAX_ENTRIES`].
    fn entries(&self, f: &mut dyn FnMut(&'static CStr, &IntSetting));
}

/// A sysctl table of the settings `S` in one namespace. It owns the
/// settings, so they live as long as the table; [`super::pernet`] registers
/// it in the namespace whose state holds it, for as long as that state
/// lives there (see [`super::pernet::PernetState::sysctl`]), and nothing
/// else can.
///
/// # Invariants
///
/// While `header` is not NULL, `table` is registered with the sysctl core,
/// its entries point to `settings` (and, for hooked settings, to the
/// namespace it is registered in), and `self` does not move; the namespace
/// outlives the registration. `table` is written only by
/// [`SysctlTable::register`], while it is not registered.
pub(crate) struct SysctlTable<S: SysctlSettings> {
    settings: S,
    table: Opaque<[bindings::ctl_table; MAX_ENTRIES]>,
    header: AtomicPtr<bindings::ctl_table_header>,
}

impl<S: SysctlSettings> SysctlTable<S> {
    /// A table of `settings`, not registered.
    pub(crate) fn new(settings: S) -> Self {
        Self {
            settings,
            // SAFETY: All-zero `ctl_table`s are valid (NULL pointers, no
            // handler).
            table: Opaque::new(unsafe { core::mem::zeroed() }),
            header: AtomicPtr::new(null_mut()),
        }
    }

    /// Registers the table in `net`.
    ///
    /// # Safety
    ///
    /// The caller has the table to itself: nothing else calls
    /// [`Self::register`] or [`Self::unregister`] at the same time, and the
    /// table is not registered. `self` stays in place until
    /// [`Self::unregister`] is called, which the caller does before `net`
    /// goes away (a registered table is also unregistered when it is
    /// dropped).
    pub(super) unsafe fn register(&self, net: &Net) -> Result {
        let table = self.table.get().cast::<bindings::ctl_table>();
        let mut n = 0;
        let mut too_many = false;
        self.settings.entries(&mut |name, s| {
            if n == MAX_ENTRIES {
                too_many = true;
                return;
            }
            // SAFETY: `n < MAX_ENTRIES`, so `table.add(n)` is in the array;
            // the table is not registered and the caller has it to itself
            // (the function's safety section), so nothing else accesses it.
            let e = unsafe { &mut *table.add(n) };
            e.procname = name.as_char_ptr();
            e.data = s.value.as_ptr().cast::<c_void>();
            e.maxlen = core::mem::size_of::<i32>() as i32;
            e.mode = 0o644;
            if s.on_change.is_some() || s.host_only {
                // `hooked_handler`'s contract: the setting and the
                // namespace, which outlive the registration.
                e.proc_handler = Some(hooked_handler);
                e.extra1 = (s as *const IntSetting).cast_mut().cast();
                e.extra2 = net.as_ptr().cast();
            } else {
                e.proc_handler = Some(bindings::proc_dointvec_minmax);
                e.extra1 = (&s.min as *const i32).cast_mut().cast();
                e.extra2 = (&s.max as *const i32).cast_mut().cast();
            }
            n += 1;
        });
        if too_many {
            return Err(EINVAL);
        }
        // SAFETY: `net` is alive; the entries point to `self.settings` (or
        // `net`), which stay in place with `self` until `unregister`, before
        // `net` goes (the function's safety section).
        let header = unsafe {
            bindings::register_net_sysctl_sz(net.as_ptr(), S::PATH.as_char_ptr(), table, n)
        };
        if header.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: Registered, with the entries filled in above; the
        // caller keeps `self` in place and `net` alive until `unregister`.
        self.header.store(header, Ordering::Relaxed);
        Ok(())
    }

    /// Unregisters the table, if it is registered; waits until no handler
    /// runs.
    ///
    /// # Safety
    ///
    /// Nothing calls [`Self::register`] at the same time.
    pub(super) unsafe fn unregister(&self) {
        let header = self.header.swap(null_mut(), Ordering::Relaxed);
        if !header.is_null() {
            // SAFETY: By the type invariant, a non-NULL `header` was returned
            // by `register_net_sysctl_sz` and not unregistered since (the
            // swap above took it, so only this call unregisters it).
            unsafe { bindings::unregister_net_sysctl_table(header) };
        }
    }
}

impl<S: SysctlSettings> core::ops::Deref for SysctlTable<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.settings
    }
}

impl<S: SysctlSettings> Drop for SysctlTable<S> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: nothing else calls `register`. A table that
        // is still registered is unregistered here, before its settings and
        // entries are freed.
        unsafe { self.unregister() };
    }
}

// SAFETY: `table` is written only by `register`, whose caller has the table
// to itself (its safety section), and read by the sysctl core while it is
// registered; `header` is atomic and `settings` is `Sync` (its values are
// atomics).
unsafe impl<S: SysctlSettings> Sync for SysctlTable<S> {}
// SAFETY: The raw pointers in `table` point into `self` or to the
// namespace, neither tied to a thread; `S` is `Send`.
unsafe impl<S: SysctlSettings> Send for SysctlTable<S> {}
