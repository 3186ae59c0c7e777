// SPDX-License-Identifier: GPL-2.0

//! tcp_stealth: stealth port knocking for TCP.
//!
//! A listening socket with a secret accepts only connections whose SYN carries
//! a valid knock; everybody else sees a closed port. See `README.md` and
//! `docs/PROTOCOL.md`.
//!
//! The module is split three ways:
//! - [`proto`]: the pure protocol logic, safe Rust without kernel types, also
//!   built and tested on the host;
//! - [`ffi`]: the thin layer over the kernel C APIs that the `kernel` crate
//!   lacks, which holds all `unsafe` code;
//! - this file and [`stats`]: the glue between them.

use kernel::{c_str, prelude::*};

mod ffi;
#[allow(dead_code)]
mod proto;
mod stats;

use ffi::{
    netfilter::{HookPoint, HookSpec, HookState, Verdict},
    pernet::{Net, PernetState},
    seq,
    skb::{Family, SkBuff},
};
use stats::{Counter, Counters};

module! {
    type: TcpStealth,
    name: "tcp_stealth",
    author: "tcp_stealth developers",
    description: "Stealth port knocking for TCP",
    license: "GPL",
}

/// Name of the per-namespace counters file in `/proc/net`.
const STATS_FILE: &CStr = c_str!("tcp_stealth_stats");

/// Netfilter priority of the input hooks: after conntrack and NAT have
/// rewritten the destination (so a DNAT'ed SYN is seen with its local port),
/// before the packet reaches TCP.
const PRI_LOCAL_IN: i32 = 100;

/// The module's state in one network namespace.
pub(crate) struct NetState {
    counters: Counters,
}

impl PernetState for NetState {
    const HOOKS: &'static [HookSpec] = &[
        HookSpec {
            family: Family::Ipv4,
            point: HookPoint::LocalIn,
            priority: PRI_LOCAL_IN,
        },
        HookSpec {
            family: Family::Ipv6,
            point: HookPoint::LocalIn,
            priority: PRI_LOCAL_IN,
        },
    ];

    fn new() -> Result<Self> {
        Ok(Self {
            counters: Counters::new(),
        })
    }

    fn start(&self, net: &Net) -> Result {
        seq::create::<Self>(net, STATS_FILE)
    }

    fn stop(&self, net: &Net) {
        seq::remove(net, STATS_FILE);
    }
}

impl seq::Show for NetState {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        net.state().counters.show(m);
    }
}

impl HookState for NetState {
    fn hook(&self, spec: &HookSpec, skb: &SkBuff) -> Verdict {
        if spec.point == HookPoint::LocalIn {
            if let Some(flags) = tcp_flags(skb, spec.family) {
                if flags & (TCP_SYN | TCP_ACK) == TCP_SYN {
                    self.counters.inc(Counter::SynIn);
                }
            }
        }
        Verdict::Accept
    }
}

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

/// Returns the TCP flags of a TCP packet, or `None` for anything else
/// (including IPv4 fragments other than the first).
fn tcp_flags(skb: &SkBuff, family: Family) -> Option<u8> {
    let th = match family {
        Family::Ipv4 => {
            let mut ip = [0u8; 20];
            skb.read_network(0, &mut ip)?;
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
            if ip[9] != ffi::bindings::IPPROTO_TCP as u8 || ihl < 20 || frag_off != 0 {
                return None;
            }
            ihl
        }
        Family::Ipv6 => skb.ipv6_tcp_offset()?,
    };
    let mut flags = [0u8; 1];
    skb.read_network(th + 13, &mut flags)?;
    Some(flags[0])
}

/// The module: while loaded, every network namespace has a [`NetState`].
struct TcpStealth {
    _pernet: ffi::pernet::Registration,
}

impl kernel::Module for TcpStealth {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let pernet = ffi::pernet::Registration::new()?;
        pr_info!("loaded\n");
        Ok(Self { _pernet: pernet })
    }
}

impl Drop for TcpStealth {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
