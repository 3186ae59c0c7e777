// SPDX-License-Identifier: GPL-2.0

//! The administrator's policy: ports of a network namespace protected with
//! up to [`MAX_KEYS`] secrets, for listeners that have none of their own (a
//! daemon nobody wants to touch). Set over generic netlink (`ffi::genl`,
//! requests parsed by [`proto::parse_policy_request`]), listed in
//! `/proc/net/tcp_stealth_policy`, applied by the input hook.
//!
//! Writers (netlink requests, process context) change the master list under
//! a mutex and publish a copy for the hook, which reads it under RCU.
//!
//! A port may also require that a client's knock commit to the first `n`
//! bytes it sends (integrity). Its listeners are the daemon's own, with none
//! of the module's socket machinery that holds a connection until its first
//! bytes are proven; the input hook checks them instead. It remembers each
//! connection admitted with a commitment ([`Flows`]), lets through its data
//! only in the segment that carries all `n` first bytes, once they match,
//! and cuts the connection both ways (a reset to the client, the segment
//! turned into a reset for the server's socket) if they do not. Earlier
//! pieces and segments out of order are dropped (TCP sends them again, and
//! merges pieces when it does), so the server's application never reads a
//! byte that was not checked.

use crate::ffi::{
    crypto::KernelBlake2s, genl::GenlRequest, now_secs, rcu::RcuBox, seq::SeqFile, skb::Family,
    RcuSection,
};
use crate::keys::KeySet;
use crate::proto::{
    self, IntegrityStatus, IntegrityVerifier, KnockKey, PayloadVerifier, PolicyCmd, PolicyErrno,
    PolicyFamily, MAX_KEYS,
};
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::{c_str, new_mutex, new_spinlock, prelude::*, str::CStr, sync::Mutex, sync::SpinLock};

/// Ports one namespace can protect this way (`TCP_STEALTH_POLICY_MAX`).
pub(crate) const MAX_PORTS: usize = crate::ffi::uapi::POLICY_MAX;

/// Default of `net.tcp_stealth.integrity_max_conns`: connections to ports
/// with integrity whose first bytes one namespace checks at a time, shared
/// equally by those ports. A knock that finds no room in its port's share
/// is refused, so that whoever holds one port's key cannot take the room of
/// another port's clients.
pub(crate) const DEFAULT_FLOWS: usize = 128;

/// Largest `net.tcp_stealth.integrity_max_conns`: each knock to a port with
/// integrity scans the room with bottom halves off.
pub(crate) const MAX_FLOWS: usize = 4096;

/// One protected port.
#[derive(Clone)]
pub(crate) struct Entry {
    port: u16,
    keys: KeySet,
    integrity_len: u16,
    /// The families whose segments to the port it protects.
    family: PolicyFamily,
}

impl Entry {
    /// The keys, newest first.
    pub(crate) fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Bytes a client's knock must commit to (0: none).
    pub(crate) fn integrity_len(&self) -> usize {
        usize::from(self.integrity_len)
    }
}

/// A connection's 4-tuple, addresses as the input hook reads them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowId {
    pub(crate) saddr: [u8; 16],
    pub(crate) daddr: [u8; 16],
    pub(crate) sport: u16,
    pub(crate) dport: u16,
}

/// Where the SYN of a connection to a policy port came in, and which
/// listener took it.
#[derive(Clone, Copy)]
pub(crate) struct FlowPlace {
    /// The interfaces it came in on (input, L3 slave), by which TCP finds
    /// the connection.
    pub(crate) ifs: (i32, i32),
    /// The interface the listener is bound to (0: none), under which its
    /// 4-tuple is admitted for a SYN cookie's ACK.
    pub(crate) bound_dev: i32,
}

/// A connection admitted with a commitment, not yet proven.
struct Flow {
    id: FlowId,
    /// The protected port it counts against (its listener's).
    port: u16,
    place: FlowPlace,
    /// Sequence number of its first data byte.
    first: u32,
    /// The second after which its bytes come too late.
    until: u64,
    /// How many first bytes it commits to.
    n: usize,
    verifier: IntegrityVerifier<KernelBlake2s>,
}

/// What the input hook does with a segment of a connection to a port with
/// integrity.
pub(crate) enum Segment {
    /// Not a connection being checked (any more): judge it as usual.
    NotChecked,
    /// Let it through (no data, or the first bytes proven).
    Pass,
    /// Drop it: data out of order, or only part of the first bytes.
    Drop,
    /// The first bytes differ, or came too late: reset the connection.
    Cut(CutReason),
}

/// Why a connection was cut.
pub(crate) enum CutReason {
    Mismatch,
    Timeout,
}

/// The connections being checked: `max_flows` slots once a port with
/// integrity was protected, none before.
struct Flows {
    slots: KVec<Option<Flow>>,
}

/// The policy of one namespace.
pub(crate) struct Policy {
    master: Pin<KBox<Mutex<KVec<Entry>>>>,
    /// What the input hook reads: a copy of `master`, or nothing while it is
    /// empty.
    table: RcuBox<KVec<Entry>>,
    flows: Pin<KBox<SpinLock<Flows>>>,
    /// Slots of `flows` in use, for the hook's quick test.
    n_flows: AtomicUsize,
    /// Ports with integrity in the published table: each may have
    /// `max_flows / integrity_ports` connections checked at a time.
    integrity_ports: AtomicUsize,
    /// The room for connections being checked (`integrity_max_conns`):
    /// written with `master` locked, as is the room's size.
    max_flows: AtomicUsize,
}

impl Policy {
    /// No port protected.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            master: KBox::pin_init(new_mutex!(KVec::new(), "tcp_stealth_policy"), GFP_KERNEL)?,
            table: RcuBox::new(),
            flows: KBox::pin_init(
                new_spinlock!(Flows { slots: KVec::new() }, "tcp_stealth_policy_flows"),
                GFP_KERNEL,
            )?,
            n_flows: AtomicUsize::new(0),
            integrity_ports: AtomicUsize::new(0),
            max_flows: AtomicUsize::new(DEFAULT_FLOWS),
        })
    }

    /// Whether no port is protected.
    pub(crate) fn is_empty(&self) -> bool {
        !self.table.is_set()
    }

    /// The policy of `port` for segments of `family`, if it protects them.
    pub(crate) fn port<'a>(
        &'a self,
        port: u16,
        family: Family,
        rcu: &'a RcuSection,
    ) -> Option<&'a Entry> {
        let table = self.table.read(rcu)?;
        table
            .iter()
            .find(|e| e.port == port && e.family.covers(family == Family::Ipv6))
    }

    /// Handles a netlink request: the attribute stream is checked by
    /// [`proto::parse_policy_request`], and a refusal names its reason in
    /// the extended ACK.
    pub(crate) fn request(&self, req: &GenlRequest<'_>, cmd: PolicyCmd) -> Result {
        let r = match proto::parse_policy_request(cmd, req.attrs()) {
            Ok(r) => r,
            Err(e) => {
                let msg = CStr::from_bytes_with_nul(e.reason.message_nul())
                    .unwrap_or(c_str!("bad request"));
                req.set_error(e.offset, msg);
                return Err(match e.reason.errno() {
                    PolicyErrno::Inval => EINVAL,
                    PolicyErrno::Range => ERANGE,
                    PolicyErrno::TooBig => E2BIG,
                    PolicyErrno::Exists => EEXIST,
                });
            }
        };
        let res = match cmd {
            PolicyCmd::Protect => self.protect(r.port, r.secrets(), r.integrity_len, r.family),
            PolicyCmd::Unprotect => self.unprotect(r.port),
        };
        match res {
            Err(e) if e == ENOENT => req.set_error(None, c_str!("port is not protected")),
            Err(e) if e == ENOSPC => req.set_error(None, c_str!("too many ports protected (64)")),
            _ => {}
        }
        res
    }

    /// Protects `port` with `secrets` (1 to [`MAX_KEYS`], each 1 to 64
    /// bytes, the newest first) and integrity length `n` (0: none) for
    /// segments of `family`, or replaces what protects it.
    fn protect(&self, port: u16, secrets: &[&[u8]], n: u16, family: PolicyFamily) -> Result {
        if port == 0 || secrets.is_empty() || secrets.len() > MAX_KEYS {
            return Err(EINVAL);
        }
        let keys = KeySet::from_secrets(secrets)?;
        if n > 0 {
            self.reserve_flows()?;
        }
        let entry = Entry {
            port,
            keys,
            integrity_len: n,
            family,
        };
        let mut master = self.master.lock();
        let len = master.len();
        match master.iter_mut().find(|e| e.port == port) {
            Some(e) => *e = entry,
            None if len >= MAX_PORTS => return Err(ENOSPC),
            None => master.push(entry, GFP_KERNEL)?,
        }
        self.publish(&master)
    }

    /// Stops protecting `port`.
    fn unprotect(&self, port: u16) -> Result {
        let mut master = self.master.lock();
        if !master.iter().any(|e| e.port == port) {
            return Err(ENOENT);
        }
        let mut rest = KVec::with_capacity(master.len(), GFP_KERNEL)?;
        for e in master.iter().filter(|e| e.port != port) {
            rest.push(e.clone(), GFP_KERNEL)?;
        }
        *master = rest;
        self.publish(&master)
    }

    /// Makes `entries` what the hook sees. Sleeps (RCU grace period).
    fn publish(&self, entries: &KVec<Entry>) -> Result {
        let copy = if entries.is_empty() {
            None
        } else {
            let mut v = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
            for e in entries.iter() {
                v.push(e.clone(), GFP_KERNEL)?;
            }
            Some(KBox::new(v, GFP_KERNEL)?)
        };
        let with_integrity = entries.iter().filter(|e| e.integrity_len > 0).count();
        self.integrity_ports
            .store(with_integrity, Ordering::Relaxed);
        self.table.publish(copy);
        Ok(())
    }

    /// Room for `n` connections being checked, all free.
    fn new_room(n: usize) -> Result<KVec<Option<Flow>>> {
        let mut room = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            room.push(None, GFP_KERNEL)?;
        }
        Ok(room)
    }

    /// Makes room for `integrity_max_conns` connections (process context),
    /// so that the hook never allocates.
    fn reserve_flows(&self) -> Result {
        let _master = self.master.lock();
        let mut room = Self::new_room(self.max_flows.load(Ordering::Relaxed))?;
        let unused = crate::ffi::with_bh_disabled(|| {
            let mut flows = self.flows.lock();
            if flows.slots.is_empty() {
                core::mem::swap(&mut flows.slots, &mut room);
            }
            room
        });
        drop(unused);
        Ok(())
    }

    /// A write of `net.tcp_stealth.integrity_max_conns` (`n`, in range): if
    /// the namespace has room for connections being checked already, it gets
    /// room for `n`, allocated here (process context), and the connections
    /// being checked move over. Fails with EBUSY, and nothing changes, if
    /// more than `n` are being checked (forgotten, their bytes would reach
    /// the application unchecked); with ENOMEM if the allocation fails.
    pub(crate) fn resize_flows(&self, n: usize) -> Result {
        let _master = self.master.lock();
        let has_room = crate::ffi::with_bh_disabled(|| !self.flows.lock().slots.is_empty());
        if !has_room {
            // The first reservation makes room for `n`.
            self.max_flows.store(n, Ordering::Relaxed);
            return Ok(());
        }
        let mut room = Self::new_room(n)?;
        let old = crate::ffi::with_bh_disabled(|| {
            let mut flows = self.flows.lock();
            if flows.slots.iter().flatten().count() > n {
                return Err(EBUSY);
            }
            for (to, from) in room
                .iter_mut()
                .zip(flows.slots.iter_mut().filter(|f| f.is_some()))
            {
                *to = from.take();
            }
            Ok(core::mem::replace(&mut flows.slots, room))
        })?;
        self.max_flows.store(n, Ordering::Relaxed);
        // Freed outside the lock (all its slots are empty now).
        drop(old);
        Ok(())
    }

    /// Remembers that connection `id` to protected port `port`, whose SYN
    /// came in at `place` and whose first data byte has sequence
    /// number `first`, must send `n` bytes matching commitment `c32` made
    /// with `key` within `timeout` seconds. Fails if no room is left, or the
    /// port has its share of the room already.
    ///
    /// A connection stays remembered until its first bytes pass, it is cut
    /// (its bytes differed or came too late), or, once its time is up, TCP
    /// no longer has it (`alive(id, place)` is false): forgotten while TCP
    /// still had it, its late bytes would reach the application unchecked.
    /// So the room of a connection whose time is up is only taken back when
    /// it is gone, and until then it counts against its port's share.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn expect(
        &self,
        (id, port, place): (&FlowId, u16, FlowPlace),
        first: u32,
        key: &KnockKey,
        c32: u32,
        n: usize,
        timeout: u32,
        alive: impl Fn(&FlowId, FlowPlace) -> bool,
    ) -> Result {
        let verifier = IntegrityVerifier::new(key, c32, n).map_err(|_| EINVAL)?;
        let now = now_secs();
        let flow = Flow {
            id: *id,
            port,
            place,
            first,
            until: now.saturating_add(u64::from(timeout)),
            n,
            verifier,
        };
        // Non-zero by type: the division below has no panic path (objtool,
        // which does not know Rust's division panic as noreturn, warned
        // about one at the end of the function).
        let ports = core::num::NonZeroUsize::new(self.integrity_ports.load(Ordering::Relaxed))
            .unwrap_or(core::num::NonZeroUsize::MIN);
        // Whether `f`'s room may go to another connection: it was cut, or
        // its time is up and TCP no longer has it.
        let reusable = |f: &Flow| f.until == 0 || (f.until < now && !alive(&f.id, f.place));
        let old = crate::ffi::with_bh_disabled(|| {
            let mut flows = self.flows.lock();
            let slots = flows.slots.as_mut_slice();
            // (At least one each: with less room than ports, the first come
            // take it.)
            let share = (slots.len() / ports).max(1);
            // A retransmitted SYN replaces what its first copy left; else,
            // within the port's share, a free slot, else one whose
            // connection is over (the port's own first).
            let again = slots
                .iter()
                .position(|f| f.as_ref().is_some_and(|f| f.id == *id));
            let slot = match again {
                Some(i) => i,
                None => {
                    // One pass: the port's connections still held, and the
                    // first free slot and the port's first reusable one
                    // (TCP is asked about each connection once at most).
                    let (mut held, mut free, mut own) = (0, None, None);
                    for (i, f) in slots.iter().enumerate() {
                        match f {
                            None => {
                                free.get_or_insert(i);
                            }
                            Some(f) if f.port == port => {
                                if reusable(f) {
                                    own.get_or_insert(i);
                                } else {
                                    held += 1;
                                }
                            }
                            Some(_) => {}
                        }
                    }
                    if held >= share {
                        return None;
                    }
                    free.or(own).or_else(|| {
                        slots
                            .iter()
                            .position(|f| f.as_ref().is_some_and(|f| f.port != port && reusable(f)))
                    })?
                }
            };
            let slot = slots.get_mut(slot)?;
            let old = slot.replace(flow);
            if old.is_none() {
                self.n_flows.fetch_add(1, Ordering::Relaxed);
            }
            Some(old)
        });
        // Dropped outside the lock: it wipes a BLAKE2s state.
        old.map(drop).ok_or(ENOSPC)
    }

    /// Whether any connection's first bytes are being checked.
    pub(crate) fn checking(&self) -> bool {
        self.n_flows.load(Ordering::Relaxed) != 0
    }

    /// Judges a segment of connection `id` (not a SYN) with sequence number
    /// `seq`. `payload(off, buf)` copies `buf.len()` bytes of the segment's
    /// data from offset `off` into `buf`, or says that it has not that
    /// many; `end`: the segment has FIN or RST.
    pub(crate) fn segment(
        &self,
        id: &FlowId,
        seq: u32,
        end: bool,
        payload: impl Fn(usize, &mut [u8]) -> bool,
    ) -> Segment {
        if !self.checking() {
            return Segment::NotChecked;
        }
        let mut one = [0u8; 1];
        let has_data = payload(0, &mut one);
        let now = now_secs();
        let taken = crate::ffi::with_bh_disabled(|| {
            let mut flows = self.flows.lock();
            let slot = flows
                .slots
                .as_mut_slice()
                .iter_mut()
                .find(|f| f.as_ref().is_some_and(|f| f.id == *id))?;
            let f = slot.as_ref()?;
            let keep = if !has_data {
                // A bare ACK (the handshake's) passes; a FIN or RST before
                // any data ends the connection unproven, with nothing read.
                !end
            } else if f.until < now {
                false
            } else {
                // Only the segment that starts at the first byte and holds
                // all `n` is checked; TCP sends the others again.
                seq != f.first || !payload(f.n - 1, &mut one)
            };
            if keep {
                return Some(Err(if has_data {
                    Segment::Drop
                } else {
                    Segment::Pass
                }));
            }
            let f = slot.take()?;
            self.n_flows.fetch_sub(1, Ordering::Relaxed);
            Some(if has_data { Ok(f) } else { Err(Segment::Pass) })
        });
        let mut flow = match taken {
            None => return Segment::NotChecked,
            Some(Err(s)) => return s,
            Some(Ok(f)) => f,
        };
        let why = if flow.until < now {
            CutReason::Timeout
        } else {
            // All `n` first bytes are in this segment: check them in pieces.
            let mut chunk = [0u8; 128];
            while flow.verifier.status() == IntegrityStatus::Pending {
                let left = flow.verifier.remaining();
                let want = left.min(chunk.len());
                if !payload(flow.n - left, &mut chunk[..want]) {
                    break;
                }
                flow.verifier.feed(&chunk[..want]);
            }
            if flow.verifier.status() == IntegrityStatus::Match {
                return Segment::Pass;
            }
            CutReason::Mismatch
        };
        // The connection stays remembered as out of time, so that whatever
        // else it sends is cut too, should the resets not reach both ends;
        // its slot is free for the next knock that needs one.
        flow.until = 0;
        self.put_back(flow);
        Segment::Cut(why)
    }

    /// Puts `flow` back in a free slot, if there is one.
    fn put_back(&self, flow: Flow) {
        let rest = crate::ffi::with_bh_disabled(|| {
            let mut flows = self.flows.lock();
            let Some(slot) = flows.slots.as_mut_slice().iter_mut().find(|f| f.is_none()) else {
                return Some(flow);
            };
            *slot = Some(flow);
            self.n_flows.fetch_add(1, Ordering::Relaxed);
            None
        });
        // Dropped outside the lock: it wipes a BLAKE2s state.
        drop(rest);
    }

    /// Writes the protected ports, one per line (never the secrets):
    /// `port P keys K integrity N`, then ` family ipv4` or ` family ipv6`
    /// for a port protected for one family only.
    pub(crate) fn show(&self, m: &mut SeqFile) {
        let master = self.master.lock();
        for e in master.iter() {
            let _ = writeln!(
                m,
                "port {} keys {} integrity {}{}",
                e.port,
                e.keys.keys().len(),
                e.integrity_len,
                e.family.listing_suffix()
            );
        }
    }
}
