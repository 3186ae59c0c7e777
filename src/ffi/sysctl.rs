// SPDX-License-Identifier: GPL-2.0

//! Per network namespace integer sysctls (`register_net_sysctl_sz`).

use super::{bindings, pernet::Net};
use core::{
    ffi::{c_int, c_void},
    ptr::null_mut,
    sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering},
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
}

impl IntSetting {
    /// A setting with its default and range.
    pub(crate) const fn new(default: i32, min: i32, max: i32) -> Self {
        Self {
            value: AtomicI32::new(default),
            min,
            max,
            on_change: None,
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
        }
    }

    /// The current value.
    pub(crate) fn get(&self) -> i32 {
        self.value.load(Ordering::Relaxed)
    }
}

/// Most entries in one table.
const MAX_ENTRIES: usize = 8;

/// The handler of a setting with a hook: `proc_dointvec_minmax` on a copy
/// of the value, then the hook.
///
/// # Safety
///
/// Called by the sysctl core for an entry that [`SysctlTable::register`]
/// filled for a setting with a hook: `extra1` points to the
/// [`IntSetting`], `extra2` to its live namespace (both outlive the
/// registration, and the core waits for handlers before unregistering).
unsafe extern "C" fn hooked_handler(
    table: *const bindings::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut bindings::loff_t,
) -> c_int {
    // SAFETY: See the function's safety section: `table` is the entry,
    // `extra1` the setting.
    let (setting, net) = unsafe {
        (
            &*(*table).extra1.cast::<IntSetting>(),
            (*table).extra2.cast::<bindings::net>(),
        )
    };
    let mut v = setting.get();
    // SAFETY: `table` is valid; the copy is a plain struct.
    let mut tmp: bindings::ctl_table = unsafe { core::ptr::read(table) };
    tmp.data = (&mut v as *mut i32).cast();
    tmp.extra1 = (&setting.min as *const i32).cast_mut().cast();
    tmp.extra2 = (&setting.max as *const i32).cast_mut().cast();
    // SAFETY: `tmp` is a valid integer entry whose data, min and max live
    // through the call; the buffer arguments come from the core as they are.
    let ret = unsafe { bindings::proc_dointvec_minmax(&tmp, write, buffer, lenp, ppos) };
    if ret != 0 || write == 0 {
        return ret;
    }
    let old = setting.value.swap(v, Ordering::Relaxed);
    if old == v {
        return 0;
    }
    if let Some(hook) = setting.on_change {
        // SAFETY: The namespace is alive while its table is registered.
        let net = unsafe { Net::from_raw(net) };
        if let Err(e) = hook(net) {
            setting.value.store(old, Ordering::Relaxed);
            return e.to_errno();
        }
    }
    0
}

/// A table of [`IntSetting`]s under one path, in one namespace.
///
/// # Invariants
///
/// While `header` is not NULL, `table` is registered with the sysctl core and
/// points to settings that outlive the registration (they live next to the
/// table, in the same namespace state, which never moves once registered).
/// `table` is written only by the [`SysctlTable::register`] call that set
/// `claimed`, before it registers the table.
pub(crate) struct SysctlTable {
    table: Opaque<[bindings::ctl_table; MAX_ENTRIES]>,
    header: AtomicPtr<bindings::ctl_table_header>,
    claimed: AtomicBool,
}

impl SysctlTable {
    /// An unregistered table.
    pub(crate) fn new() -> Self {
        Self {
            // SAFETY: All-zero `ctl_table`s are valid (NULL pointers, no
            // handler).
            table: Opaque::new(unsafe { core::mem::zeroed() }),
            header: AtomicPtr::new(null_mut()),
            claimed: AtomicBool::new(false),
        }
    }

    /// Registers `entries` under `path` (such as `net/tcp_stealth`) in `net`.
    ///
    /// `self` and the settings must stay in place until [`Self::unregister`];
    /// both live in the namespace state, which does.
    pub(crate) fn register(
        &self,
        net: &Net,
        path: &'static CStr,
        entries: &[(&'static CStr, &IntSetting)],
    ) -> Result {
        if entries.len() > MAX_ENTRIES {
            return Err(EINVAL);
        }
        // One registration at a time owns the table (a second call, even a
        // concurrent one through `&self`, gets EBUSY).
        if self.claimed.swap(true, Ordering::Acquire) {
            return Err(EBUSY);
        }
        let table = self.table.get().cast::<bindings::ctl_table>();
        for (i, (name, s)) in entries.iter().enumerate() {
            // SAFETY: `table` has `MAX_ENTRIES` entries, is not registered
            // yet, and this call owns it (`claimed`, type invariant), so
            // nothing else accesses it.
            unsafe {
                let e = &mut *table.add(i);
                e.procname = name.as_char_ptr();
                e.data = s.value.as_ptr().cast::<c_void>();
                e.maxlen = core::mem::size_of::<i32>() as i32;
                e.mode = 0o644;
                if s.on_change.is_some() {
                    // INVARIANT: `hooked_handler`'s contract: the setting
                    // and the namespace, which outlive the registration.
                    e.proc_handler = Some(hooked_handler);
                    e.extra1 = (*s as *const IntSetting).cast_mut().cast();
                    e.extra2 = net.as_ptr().cast();
                } else {
                    e.proc_handler = Some(bindings::proc_dointvec_minmax);
                    e.extra1 = (&s.min as *const i32).cast_mut().cast();
                    e.extra2 = (&s.max as *const i32).cast_mut().cast();
                }
            }
        }
        // SAFETY: `net` is alive; the table and the settings it points to stay
        // in place until `unregister` (see above).
        let header = unsafe {
            bindings::register_net_sysctl_sz(net.as_ptr(), path.as_char_ptr(), table, entries.len())
        };
        if header.is_null() {
            self.claimed.store(false, Ordering::Release);
            return Err(ENOMEM);
        }
        // INVARIANT: Registered.
        self.header.store(header, Ordering::Relaxed);
        Ok(())
    }

    /// Unregisters the table; waits until no handler runs.
    pub(crate) fn unregister(&self) {
        let header = self.header.swap(null_mut(), Ordering::Relaxed);
        if !header.is_null() {
            // SAFETY: `header` was returned by `register_net_sysctl_sz`.
            unsafe { bindings::unregister_net_sysctl_table(header) };
            self.claimed.store(false, Ordering::Release);
        }
    }
}

// SAFETY: The table is only written before registration, by the one
// `register` call that claimed it (type invariant), and then only read by
// the sysctl core.
unsafe impl Sync for SysctlTable {}
// SAFETY: As above.
unsafe impl Send for SysctlTable {}
