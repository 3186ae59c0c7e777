// SPDX-License-Identifier: GPL-2.0

//! The administrator's policy: ports of a network namespace protected with a
//! secret, for listeners that have none of their own (a daemon nobody wants
//! to touch). Set over generic netlink (`ffi::genl`), listed in
//! `/proc/net/tcp_stealth_policy`, applied by the input hook.
//!
//! Writers (netlink requests, process context) change the master list under
//! a mutex and publish a copy for the hook, which reads it under RCU.

use crate::ffi::{rcu::RcuBox, seq::SeqFile, RcuSection};
use crate::sockopt::KeySet;
use core::fmt::Write;
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// Ports one namespace can protect this way.
pub(crate) const MAX_PORTS: usize = 64;

/// One protected port.
#[derive(Clone)]
struct Entry {
    port: u16,
    keys: KeySet,
}

/// The policy of one namespace.
pub(crate) struct Policy {
    master: Pin<KBox<Mutex<KVec<Entry>>>>,
    /// What the input hook reads: a copy of `master`, or nothing while it is
    /// empty.
    table: RcuBox<KVec<Entry>>,
}

impl Policy {
    /// No port protected.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            master: KBox::pin_init(new_mutex!(KVec::new(), "tcp_stealth_policy"), GFP_KERNEL)?,
            table: RcuBox::new(),
        })
    }

    /// Whether no port is protected.
    pub(crate) fn is_empty(&self) -> bool {
        !self.table.is_set()
    }

    /// The keys that protect `port`, if it is protected.
    pub(crate) fn keys<'a>(&'a self, port: u16, rcu: &'a RcuSection) -> Option<&'a KeySet> {
        let table = self.table.read(rcu)?;
        table.iter().find(|e| e.port == port).map(|e| &e.keys)
    }

    /// Protects `port` with `secret` (1 to 64 bytes), or replaces its secret.
    pub(crate) fn protect(&self, port: u16, secret: &[u8]) -> Result {
        if port == 0 {
            return Err(EINVAL);
        }
        let keys = KeySet::from_secret(secret)?;
        let mut master = self.master.lock();
        let len = master.len();
        match master.iter_mut().find(|e| e.port == port) {
            Some(e) => e.keys = keys,
            None if len >= MAX_PORTS => return Err(ENOSPC),
            None => master.push(Entry { port, keys }, GFP_KERNEL)?,
        }
        self.publish(&master)
    }

    /// Stops protecting `port`.
    pub(crate) fn unprotect(&self, port: u16) -> Result {
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
        self.table.publish(copy);
        Ok(())
    }

    /// Writes the protected ports, one per line (never the secrets).
    pub(crate) fn show(&self, m: &mut SeqFile) {
        let master = self.master.lock();
        for e in master.iter() {
            let _ = writeln!(m, "port {}", e.port);
        }
    }
}
