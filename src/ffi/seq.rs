// SPDX-License-Identifier: GPL-2.0

//! `/proc/net` files, one per network namespace: read-only ones, and ones
//! that also take short writes from a namespace administrator.

use super::{bindings, net::Net};
use core::ffi::{c_int, c_void};
use kernel::{prelude::*, str::CStr};

/// A `seq_file` being filled by a show callback; it takes `write!`.
///
/// # Invariants
///
/// The pointer is the valid `seq_file` of the running show callback.
pub(crate) struct SeqFile(*mut bindings::seq_file);

impl core::fmt::Write for SeqFile {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // SAFETY: By the type invariant the seq_file is valid, and `s` is
        // readable for `s.len()` bytes. An overflow is not an error here:
        // seq_file notices it and calls the show callback again with a bigger
        // buffer.
        unsafe { bindings::seq_write(self.0, s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// Something that prints the contents of a `/proc/net` file.
pub(crate) trait Show {
    /// Writes the file's contents for `net`.
    fn show(net: &Net, m: &mut SeqFile);
}

/// Creates `/proc/net/<name>` in `net`, printed by `S`.
pub(crate) fn create<S: Show>(net: &Net, name: &'static CStr) -> Result {
    // SAFETY: `net` is alive, so `proc_net` is its valid /proc/net directory.
    let parent = unsafe { (*net.as_ptr()).proc_net };
    // SAFETY: `name` is a NUL-terminated static string and `parent` is valid.
    // The entry is removed with `remove` before the module is unloaded.
    let pde = unsafe {
        bindings::proc_create_net_single(
            name.as_char_ptr(),
            0o444,
            parent,
            Some(show_trampoline::<S>),
            core::ptr::null_mut(),
        )
    };
    if pde.is_null() {
        return Err(ENOMEM);
    }
    Ok(())
}

/// Removes `/proc/net/<name>` from `net`; waits for readers to finish.
pub(crate) fn remove(net: &Net, name: &'static CStr) {
    // SAFETY: `net` is alive and `name` is NUL-terminated.
    unsafe { bindings::remove_proc_entry(name.as_char_ptr(), (*net.as_ptr()).proc_net) };
}

/// The `show` callback of the files made by [`create`].
///
/// # Safety
///
/// Only the seq_file core calls it, for a file opened by `single_open_net`,
/// with a valid `seq_file`.
unsafe extern "C" fn show_trampoline<S: Show>(
    m: *mut bindings::seq_file,
    _v: *mut c_void,
) -> c_int {
    // SAFETY: `proc_create_net_single` files are opened with `single_open_net`,
    // which stores the namespace in `private` and holds a reference on it while
    // the file is open.
    let net = unsafe { Net::from_raw((*m).private.cast()) };
    // INVARIANT: `m` is the valid seq_file of this callback.
    S::show(net, &mut SeqFile(m));
    0
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// Something that takes writes to a `/proc/net` file.
pub(crate) trait Store {
    /// Handles one write of `input` (the whole write, 1 to `PAGE_SIZE - 1`
    /// bytes) in `net`. The writer has `CAP_NET_ADMIN` there.
    fn store(net: &Net, input: &[u8]) -> Result;
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// Creates `/proc/net/<name>` in `net` with `mode`, printed by `S` and
/// written through `S`. Writes from callers without `CAP_NET_ADMIN` in the
/// namespace fail with `EPERM` (besides what `mode` already refuses).
/// Removed with [`remove`].
pub(crate) fn create_writable<S: Show + Store>(
    net: &Net,
    name: &'static CStr,
    mode: u16,
) -> Result {
    // SAFETY: `net` is alive, so `proc_net` is its valid /proc/net directory.
    let parent = unsafe { (*net.as_ptr()).proc_net };
    // SAFETY: `name` is a NUL-terminated static string and `parent` is valid.
    // The entry is removed with `remove` before the module is unloaded.
    let pde = unsafe {
        bindings::proc_create_net_single_write(
            name.as_char_ptr(),
            mode,
            parent,
            Some(show_trampoline::<S>),
            Some(write_trampoline::<S>),
            core::ptr::null_mut(),
        )
    };
    if pde.is_null() {
        return Err(ENOMEM);
    }
    Ok(())
}

#[cfg(tcp_stealth_bench)] // Only the benchmark file uses it.
/// The `write` callback of the files made by [`create_writable`].
///
/// # Safety
///
/// Only `proc_simple_write()` calls it, for a file opened by
/// `single_open_net`, with a kernel copy `buf` of the `size` bytes written.
unsafe extern "C" fn write_trampoline<S: Store>(
    file: *mut bindings::file,
    buf: *mut kernel::ffi::c_char,
    size: usize,
) -> c_int {
    // SAFETY: The function's safety section: the file was opened by
    // `single_open_net` (see `create_writable`), so its seq_file holds a
    // reference on the namespace while the file is open, which outlasts
    // this call.
    let net = unsafe { Net::from_raw(bindings::tcp_stealth_seq_file_single_net(file)) };
    // SAFETY: `net` is alive for this call (see above); `ns_capable` only
    // reads its user namespace.
    if !unsafe { bindings::tcp_stealth_net_capable(net.as_ptr(), bindings::CAP_NET_ADMIN as i32) } {
        return EPERM.to_errno();
    }
    // SAFETY: `proc_simple_write` passes a kernel buffer of `size` bytes (plus
    // a NUL), valid for the duration of the call.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>().cast_const(), size) };
    match S::store(net, input) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
