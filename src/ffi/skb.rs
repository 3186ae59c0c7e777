// SPDX-License-Identifier: GPL-2.0

//! Read-only access to the headers of a packet (`struct sk_buff`).

use super::bindings;
use kernel::{prelude::*, types::Opaque};

/// A packet seen by a netfilter hook.
///
/// # Invariants
///
/// The wrapped `sk_buff` is valid and not freed for the lifetime of any
/// reference to this type (netfilter owns it for the duration of the hook).
#[repr(transparent)]
pub(crate) struct SkBuff(Opaque<bindings::sk_buff>);

/// `IP6_FH_F_FRAG` of `ipv6_find_hdr()` (an anonymous enum in
/// `include/net/ipv6.h`): the packet has a fragment header.
const IP6_FH_F_FRAG: core::ffi::c_int = 1;
/// `IP6_FH_F_AUTH` of `ipv6_find_hdr()`: stop at an authentication header.
const IP6_FH_F_AUTH: core::ffi::c_int = 1 << 1;

/// `NEXTHDR_AUTH` of `include/net/ipv6.h` (a macro).
const NEXTHDR_AUTH: core::ffi::c_int = 51;

/// `NEXTHDR_FRAGMENT` of `include/net/ipv6.h` (a macro).
const NEXTHDR_FRAGMENT: core::ffi::c_int = 44;

/// Where IPv6 takes up a packet's header chain after the input hooks
/// ([`SkBuff::ipv6_resume`]).
pub(crate) struct Ipv6Resume {
    /// Offset of the header it handles first, from the network header.
    pub(crate) offset: usize,
    /// Bytes from there to the end of the packet.
    pub(crate) avail: usize,
    /// The next header it takes that header to be.
    pub(crate) nexthdr: u8,
    /// The namespace's `net.ipv6.max_dst_opts_number`.
    pub(crate) max_dst_opts_count: i32,
    /// The namespace's `net.ipv6.max_dst_opts_length`.
    pub(crate) max_dst_opts_len: i32,
    /// Segment routing headers are accepted on the input device.
    pub(crate) seg6: bool,
    /// RPL routing headers are accepted on the input device.
    pub(crate) rpl: bool,
    /// The packet was reassembled already (`IP6SKB_FRAGMENTED`).
    pub(crate) fragmented: bool,
    /// The packet is a jumbogram (payload length 0).
    pub(crate) jumbo: bool,
}

/// Where an IPv6 packet's TCP header is ([`SkBuff::ipv6_tcp`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ipv6Tcp {
    /// At this offset from the network header.
    At(usize),
    /// The packet is not TCP.
    NotTcp,
    /// A fragment of a larger packet, which IPv6 will reassemble after
    /// `NF_INET_LOCAL_IN`: whatever it holds is not the whole segment.
    Fragment,
    /// Its extension headers run past its end.
    Malformed,
}

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
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::sk_buff) -> &'a Self {
        // SAFETY: `SkBuff` is a transparent wrapper of `sk_buff`, and the caller
        // guarantees the pointer is valid for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    pub(super) fn as_ptr(&self) -> *mut bindings::sk_buff {
        self.0.get()
    }

    /// Offset of the network header from `skb->data` (negative once the
    /// stack has pulled the IP header; `None` then).
    pub(crate) fn network_offset(&self) -> Option<usize> {
        // SAFETY: By the type invariant the skb is valid.
        usize::try_from(unsafe { bindings::tcp_stealth_skb_network_offset(self.as_ptr()) }).ok()
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

    /// Finds the TCP header of an IPv6 packet after any extension headers.
    pub(crate) fn ipv6_tcp(&self) -> Ipv6Tcp {
        let mut offset: core::ffi::c_uint = 0;
        let mut flags: core::ffi::c_int = 0;
        // SAFETY: By the type invariant the skb is valid, and `offset` and
        // `flags` are valid locations for the results; the fragment offset
        // pointer may be NULL.
        let ret = unsafe {
            bindings::ipv6_find_hdr(
                self.as_ptr(),
                &mut offset,
                bindings::IPPROTO_TCP as i32,
                core::ptr::null_mut(),
                &mut flags,
            )
        };
        if flags & IP6_FH_F_FRAG != 0 && !self.ipv6_atomic_fragment() {
            return Ipv6Tcp::Fragment;
        }
        if ret == ENOENT.to_errno() {
            return Ipv6Tcp::NotTcp;
        }
        if ret != bindings::IPPROTO_TCP as i32 {
            return Ipv6Tcp::Malformed;
        }
        // SAFETY: By the type invariant the skb is valid; the helper only
        // reads its header offsets.
        let base = unsafe { bindings::tcp_stealth_skb_network_offset(self.as_ptr()) };
        match usize::try_from(i64::from(offset) - i64::from(base)) {
            Ok(off) => Ipv6Tcp::At(off),
            Err(_) => Ipv6Tcp::Malformed,
        }
    }

    /// Whether an authentication header comes before the upper-layer
    /// header: nftables then takes AH for the transport protocol (it reads
    /// the chain with `IP6_FH_F_AUTH`), and a `tcp dport` rule does not
    /// match.
    pub(crate) fn ipv6_auth_first(&self) -> bool {
        let mut offset: core::ffi::c_uint = 0;
        let mut flags: core::ffi::c_int = IP6_FH_F_AUTH;
        // SAFETY: As in `ipv6_tcp`.
        let ret = unsafe {
            bindings::ipv6_find_hdr(
                self.as_ptr(),
                &mut offset,
                -1,
                core::ptr::null_mut(),
                &mut flags,
            )
        };
        ret == NEXTHDR_AUTH
    }

    /// Where IPv6 takes up this packet's header chain after
    /// `NF_INET_LOCAL_IN` (see `tcp_stealth_ipv6_resume()`), or `None` if
    /// that point is not inside the linear headers.
    pub(crate) fn ipv6_resume(&self) -> Option<Ipv6Resume> {
        let mut res = bindings::tcp_stealth_ipv6_resume::default();
        // SAFETY: By the type invariant the skb is valid; `res` is a valid
        // location for the result. The helper reads only bytes it checked
        // lie in the linear data.
        if !unsafe { bindings::tcp_stealth_ipv6_resume(self.as_ptr(), &mut res) } {
            return None;
        }
        Some(Ipv6Resume {
            offset: usize::from(res.offset),
            avail: usize::try_from(res.avail).unwrap_or(usize::MAX),
            nexthdr: res.nexthdr,
            max_dst_opts_count: res.max_dst_opts_cnt,
            max_dst_opts_len: res.max_dst_opts_len,
            seg6: res.seg6_enabled,
            rpl: res.rpl_seg_enabled,
            fragmented: res.fragmented,
            jumbo: res.jumbo,
        })
    }

    /// Whether IPv6 has a handler for next header `nexthdr`: without one, it
    /// drops a packet whose chain names it, after the input hooks.
    pub(crate) fn ipv6_handles(nexthdr: u8) -> bool {
        // SAFETY: The helper only tests a pointer in a kernel array indexed
        // by a `u8`, which has 256 entries.
        unsafe { bindings::tcp_stealth_ipv6_handles(nexthdr) }
    }

    /// Whether the packet's IPv6 fragment header says it is the whole packet
    /// (offset 0, no more fragments: RFC 8200 section 4.5's "atomic
    /// fragment", which IPv6 delivers as it is).
    fn ipv6_atomic_fragment(&self) -> bool {
        let mut offset: core::ffi::c_uint = 0;
        // SAFETY: As in `ipv6_tcp`.
        let ret = unsafe {
            bindings::ipv6_find_hdr(
                self.as_ptr(),
                &mut offset,
                NEXTHDR_FRAGMENT,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
            )
        };
        if ret != NEXTHDR_FRAGMENT {
            return false;
        }
        // SAFETY: By the type invariant the skb is valid; the helper only
        // reads its header offsets.
        let base = unsafe { bindings::tcp_stealth_skb_network_offset(self.as_ptr()) };
        let Ok(rel) = usize::try_from(i64::from(offset) - i64::from(base)) else {
            return false;
        };
        let mut fh = [0u8; 8];
        if self.read_network(rel, &mut fh).is_none() {
            return false;
        }
        // Fragment offset (13 bits) and the M flag; the 2 bits between are
        // reserved.
        u16::from_be_bytes([fh[2], fh[3]]) & 0xfff9 == 0
    }

    /// Whether the link layer addressed this packet to this host (not a
    /// broadcast, multicast or other host's frame); TCP drops the others.
    pub(crate) fn for_host(&self) -> bool {
        // SAFETY: By the type invariant the skb is valid.
        unsafe { bindings::tcp_stealth_pkt_for_host(self.as_ptr()) }
    }

    /// Overwrites `new.len()` bytes of the TCP header that starts `th` bytes
    /// after the network header, `offset` bytes into it, and fixes up the
    /// TCP checksum, whether it is complete or left to offload
    /// (`CHECKSUM_PARTIAL`). The bytes must lie inside the TCP header
    /// (options included) and not touch the checksum field.
    ///
    /// Fails with EINVAL for a range outside the header and ENOMEM if the
    /// packet cannot be made writable.
    pub(crate) fn rewrite_tcp_header(&self, th: usize, offset: usize, new: &[u8]) -> Result {
        let skb = self.as_ptr();
        let end = offset.checked_add(new.len()).ok_or(EINVAL)?;
        if end > 60 || (offset < 18 && end > 16) {
            return Err(EINVAL);
        }
        let nh = self.network_offset().ok_or(EINVAL)?;
        let th_abs = nh.checked_add(th).ok_or(EINVAL)?;
        // The 16-bit words of the header that change, aligned to the start of
        // the TCP header as the checksum sums them.
        let (first, last) = (offset & !1, (end + 1) & !1);
        let span = th_abs + last.max(20);
        // SAFETY: By the type invariant the skb is valid and, on a netfilter
        // hook, ours to modify.
        let len = unsafe { (*skb).len } as usize;
        if span > len {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the skb is valid and ours to modify
        // on this hook; `skb_ensure_writable` makes the first `span` bytes
        // linear and not shared (copying a clone's header if needed).
        if unsafe { bindings::skb_ensure_writable(skb, span as u32) } != 0 {
            return Err(ENOMEM);
        }
        // SAFETY: The first `span` bytes at `data` are linear and writable
        // (above), and the TCP header starts at `th_abs`.
        let tcp = unsafe { (*skb).data.add(th_abs) };
        // SAFETY: `tcp` points to the first of `span - th_abs >= 20` linear,
        // readable bytes (`span = th_abs + max(last, 20)`), so byte 12 is in
        // range.
        let hdr = usize::from(unsafe { *tcp.add(12) } >> 4) * 4;
        if end > hdr || th_abs + hdr > len {
            return Err(EINVAL);
        }
        let mut old = [0u8; 60];
        let words = &mut old[first..last];
        // SAFETY: `first..last` lies within the first `span` bytes of the
        // TCP header, which are writable, and does not overlap `old`.
        unsafe {
            core::ptr::copy_nonoverlapping(tcp.add(first), words.as_mut_ptr(), words.len());
            core::ptr::copy_nonoverlapping(new.as_ptr(), tcp.add(offset), new.len());
        }
        // SAFETY: The checksum field (bytes 16..18) lies within the header.
        let check = unsafe { tcp.add(16) }.cast::<u16>();
        for (i, w) in words.chunks_exact(2).enumerate() {
            let at = first + 2 * i;
            // SAFETY: `at..at + 2` lies within the written range.
            let now = unsafe { [*tcp.add(at), *tcp.add(at + 1)] };
            // SAFETY: `check` points into the packet; the helper adjusts it
            // according to `skb->ip_summed`.
            unsafe {
                bindings::inet_proto_csum_replace4(
                    check,
                    skb,
                    u32::from(u16::from_ne_bytes([w[0], w[1]])),
                    u32::from(u16::from_ne_bytes(now)),
                    false,
                )
            };
        }
        Ok(())
    }

    /// Inserts `opt` (a multiple of 4 bytes) right after the fixed TCP header
    /// at `th` bytes after the network header, and fixes up the TCP data
    /// offset, the IP length and the checksums, whether the TCP checksum is
    /// complete or left to offload (`CHECKSUM_PARTIAL`).
    ///
    /// Fails with EMSGSIZE if the TCP options would exceed 40 bytes, and
    /// ENOMEM if the packet cannot be made writable or grown.
    pub(crate) fn insert_tcp_option(&self, family: Family, th: usize, opt: &[u8]) -> Result {
        let skb = self.as_ptr();
        let add = opt.len();
        if add % 4 != 0 {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant the skb is valid for reads.
        let len = unsafe { (*skb).len };
        // SAFETY: By the type invariant the skb is valid and, on a netfilter
        // hook, ours to modify; `skb_ensure_writable` makes its first `len`
        // bytes (all of it) linear and not shared.
        if unsafe { bindings::skb_ensure_writable(skb, len) } != 0 {
            return Err(ENOMEM);
        }
        // SAFETY: The skb is valid (type invariant); the helper only reads
        // its header offsets.
        let nh = unsafe { bindings::tcp_stealth_skb_network_offset(skb) };
        let nh = usize::try_from(nh).map_err(|_| EINVAL)?;
        let len = len as usize;
        let th_abs = nh + th;
        if th_abs + 20 > len {
            return Err(EINVAL);
        }
        // SAFETY: The first `len` bytes at `data` are linear and writable
        // (above), and `th_abs + 20 <= len`.
        let (doff_byte, old_word) = unsafe {
            let p = (*skb).data.add(th_abs + 12);
            (*p, u16::from_ne_bytes([*p, *p.add(1)]))
        };
        let hdr = usize::from(doff_byte >> 4) * 4;
        if hdr < 20 || th_abs + hdr > len {
            return Err(EINVAL);
        }
        if hdr + add > 60 {
            return Err(super::errno::emsgsize());
        }
        // Preferably the headers move into the headroom, which a SYN has
        // plenty of: no copy of the packet, and TCP's transmit clone keeps
        // sharing its data. Else the packet grows at its tail.
        // SAFETY: The skb is valid and ours to modify (type invariant); the
        // helper itself refuses (EINVAL) unless the data starts at the
        // network header and the `th_abs + 20` bytes to move are linear. On
        // success the data starts `add` bytes earlier; no pointer into it is
        // held across the call.
        let gap =
            unsafe { bindings::tcp_stealth_skb_open_gap(skb, (th_abs + 20) as u32, add as u32) };
        if gap != 0 {
            // SAFETY: The skb is valid (type invariant); the helper reads
            // its buffer offsets.
            let tailroom = unsafe { bindings::tcp_stealth_skb_tailroom(skb) } as usize;
            // A clone (TCP transmits clones of the SYN it keeps for
            // retransmission) shares its data, tail included: give it its
            // own.
            // SAFETY: The skb is valid (type invariant); the helper reads
            // its clone flag and the shared info's data reference count.
            let cloned = unsafe { bindings::tcp_stealth_skb_cloned(skb) };
            if cloned || tailroom < add {
                // SAFETY: The skb is valid and ours to modify (type
                // invariant), in atomic context (GFP_ATOMIC); on success the
                // data moves, so nothing below uses pointers taken before
                // this.
                let ret = unsafe {
                    bindings::pskb_expand_head(
                        skb,
                        0,
                        add.saturating_sub(tailroom) as i32,
                        bindings::TCP_STEALTH_GFP_ATOMIC,
                    )
                };
                if ret != 0 {
                    return Err(ENOMEM);
                }
            }
            // SAFETY: There is `add` bytes of tailroom now (above).
            unsafe { bindings::skb_put(skb, add as u32) };
            // SAFETY: The packet is now `len + add` linear writable bytes;
            // move everything after the fixed TCP header down.
            unsafe {
                let at = (*skb).data.add(th_abs + 20);
                core::ptr::copy(at, at.add(add), len - th_abs - 20);
            }
        }
        // SAFETY: Either way, `add` writable bytes follow the fixed TCP
        // header now, and the header itself is writable.
        let data = unsafe { (*skb).data };
        // SAFETY: `data` has `th_abs + 20 + add` linear, writable bytes (just
        // above), and `opt` (the caller's slice) cannot overlap the packet.
        unsafe {
            core::ptr::copy_nonoverlapping(opt.as_ptr(), data.add(th_abs + 20), add);
            *data.add(th_abs + 12) = ((((hdr + add) / 4) as u8) << 4) | (doff_byte & 0x0f);
        }
        // SAFETY: Bytes `th_abs + 12` and `+ 13` are within the writable TCP
        // header (`th_abs + 20 <= len`).
        let new_word =
            unsafe { u16::from_ne_bytes([*data.add(th_abs + 12), *data.add(th_abs + 13)]) };
        // SAFETY: The TCP checksum field lies within the writable header.
        let check = unsafe { data.add(th_abs + 16) }.cast::<u16>();
        let csum = |from: u32, to: u32, pseudo: bool| {
            // SAFETY: `check` points into the packet; the helper adjusts it
            // (and `skb->csum`) according to `skb->ip_summed`.
            unsafe { bindings::inet_proto_csum_replace4(check, skb, from, to, pseudo) }
        };
        // The new option words: inserted at an even offset, so everything
        // after them keeps its 16-bit alignment and checksum contribution.
        for w in opt.chunks_exact(4) {
            csum(0, u32::from_ne_bytes([w[0], w[1], w[2], w[3]]), false);
        }
        csum(u32::from(old_word), u32::from(new_word), false);
        // The TCP length in the pseudo-header.
        let old_tcp = u16::try_from(len - th_abs).map_err(|_| EINVAL)?;
        let new_tcp = old_tcp.checked_add(add as u16).ok_or(EINVAL)?;
        csum(
            u32::from(u16::from_ne_bytes(old_tcp.to_be_bytes())),
            u32::from(u16::from_ne_bytes(new_tcp.to_be_bytes())),
            true,
        );
        // SAFETY: The IP header lies at `nh` within the linear data.
        unsafe {
            let iph = data.add(nh);
            match family {
                Family::Ipv4 => {
                    let tot = u16::from_be_bytes([*iph.add(2), *iph.add(3)]);
                    let b = tot.wrapping_add(add as u16).to_be_bytes();
                    *iph.add(2) = b[0];
                    *iph.add(3) = b[1];
                    bindings::ip_send_check(iph.cast());
                }
                Family::Ipv6 => {
                    let pl = u16::from_be_bytes([*iph.add(4), *iph.add(5)]);
                    let b = pl.wrapping_add(add as u16).to_be_bytes();
                    *iph.add(4) = b[0];
                    *iph.add(5) = b[1];
                }
            }
        }
        Ok(())
    }
}
