// SPDX-License-Identifier: GPL-2.0

//! Read-only access to the headers of a packet (`struct sk_buff`).

use super::bindings;
use kernel::types::Opaque;

/// A packet seen by a netfilter hook.
///
/// # Invariants
///
/// The wrapped `sk_buff` is valid and not freed for the lifetime of any
/// reference to this type (netfilter owns it for the duration of the hook).
#[repr(transparent)]
pub(crate) struct SkBuff(Opaque<bindings::sk_buff>);

/// Address family of a packet, as netfilter passes it to the hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl SkBuff {
    /// Creates a reference from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `sk_buff` that stays valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a Self {
        // SAFETY: `SkBuff` is a transparent wrapper of `sk_buff`, and the caller
        // guarantees the pointer is valid for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Copies `buf.len()` bytes starting `offset` bytes after the network
    /// header into `buf`, following paged data. Returns `None` if the packet is
    /// shorter.
    pub(crate) fn read_network(&self, offset: usize, buf: &mut [u8]) -> Option<()> {
        // SAFETY: By the type invariant the skb is valid.
        let base = unsafe { bindings::tcp_stealth_skb_network_offset(self.as_ptr()) };
        let offset = i32::try_from(offset).ok()?.checked_add(base)?;
        let len = i32::try_from(buf.len()).ok()?;
        // SAFETY: The skb is valid (type invariant) and `buf` is writable for
        // `len` bytes. `skb_header_pointer` either returns a pointer into the
        // linear data of the skb, valid while the skb is, or copies into `buf`
        // and returns `buf`; it returns NULL if the range is out of bounds.
        let p = unsafe {
            bindings::tcp_stealth_skb_header_pointer(
                self.as_ptr(),
                offset,
                len,
                buf.as_mut_ptr().cast(),
            )
        };
        if p.is_null() {
            return None;
        }
        if p.cast::<u8>() != buf.as_mut_ptr() {
            // SAFETY: `p` points to `len` readable bytes of the linear data,
            // which cannot overlap the caller's buffer.
            unsafe { core::ptr::copy_nonoverlapping(p.cast::<u8>(), buf.as_mut_ptr(), buf.len()) };
        }
        Some(())
    }

    /// Finds the TCP header of an IPv6 packet after any extension headers and
    /// returns its offset from the network header. `None` if this is not TCP,
    /// or not the first fragment.
    pub(crate) fn ipv6_tcp_offset(&self) -> Option<usize> {
        let mut offset: core::ffi::c_uint = 0;
        // SAFETY: By the type invariant the skb is valid, and `offset` is a
        // valid location for the result. The fragment offset and flags
        // pointers may be NULL.
        let ret = unsafe {
            bindings::ipv6_find_hdr(
                self.as_ptr(),
                &mut offset,
                bindings::IPPROTO_TCP as i32,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        if ret != bindings::IPPROTO_TCP as i32 {
            return None;
        }
        // SAFETY: As above.
        let base = unsafe { bindings::tcp_stealth_skb_network_offset(self.as_ptr()) };
        usize::try_from(i64::from(offset) - i64::from(base)).ok()
    }
}
