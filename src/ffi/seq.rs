// SPDX-License-Identifier: GPL-2.0

//! Read-only `/proc/net` files, one per network namespace.

use super::{bindings, pernet::Net};
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
