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
//! - [`ffi`]: the abstractions over the kernel C APIs that the `kernel` crate
//!   lacks, generic over traits the glue implements (it names no glue type),
//!   which hold all `unsafe` code;
//! - the glue between them: this file, `bench`, [`integrity`], [`keys`], [`knock`],
//!   [`netns`], [`policy`], [`sockopt`] and [`stats`]. It has no `unsafe` code: the
//!   crate denies it, and only [`ffi`] is allowed it (bindings included,
//!   which are private to [`ffi`]).

#![deny(unsafe_code)]

use core::{fmt::Write, sync::atomic::Ordering};
use kernel::{c_str, prelude::*};

// The test-only benchmark file, only in a build with TCP_STEALTH_BENCH=1
// (`make bench`; see Kbuild).
#[cfg(tcp_stealth_bench)]
mod bench;
#[allow(unsafe_code)]
mod ffi;
mod integrity;
mod keys;
mod knock;
mod netns;
mod policy;
// `proto` is also the host crate of the knock CLI, the fuzz targets and the
// host tests (proto/), which use parts of it the module does not (and so
// does the benchmark file, in a TCP_STEALTH_BENCH=1 build).
#[allow(dead_code)]
mod proto;
mod sockopt;
mod stats;

use ffi::{
    netfilter::{HookPoint, HookSpec},
    pernet::{Net, Pernet, PernetState},
    seq,
    skb::Family,
    sysctl::SysctlTable,
};
use netns::{NetState, Settings};

module! {
    type: TcpStealth,
    name: "tcp_stealth",
    author: "tcp_stealth developers",
    description: "Stealth port knocking for TCP",
    license: "GPL",
    alias: ["tcp-ulp-stealth"],
}

/// Name of the per-namespace counters file in `/proc/net`.
const STATS_FILE: &CStr = c_str!("tcp_stealth_stats");
/// Name of the per-namespace policy file in `/proc/net`.
const POLICY_FILE: &CStr = c_str!("tcp_stealth_policy");

/// Netfilter priority of the input hooks: after DNAT (in prerouting) and the
/// filter table, so a forwarded SYN is seen with its local port.
const PRI_LOCAL_IN: i32 = 10;
/// Netfilter priority of the output hooks: after output DNAT and the filter
/// table, so the knock covers the port the SYN really goes to.
const PRI_LOCAL_OUT: i32 = 300;

const fn hook(family: Family, point: HookPoint, priority: i32) -> HookSpec {
    HookSpec {
        family,
        point,
        priority,
    }
}

/// The `pernet_operations` of [`NetState`].
static PERNET: Pernet<NetState> = Pernet::new();

impl PernetState for NetState {
    fn pernet() -> &'static Pernet<Self> {
        &PERNET
    }

    const HOOKS: &'static [HookSpec] = &[
        hook(Family::Ipv4, HookPoint::LocalIn, PRI_LOCAL_IN),
        hook(Family::Ipv6, HookPoint::LocalIn, PRI_LOCAL_IN),
        hook(Family::Ipv4, HookPoint::LocalOut, PRI_LOCAL_OUT),
        hook(Family::Ipv6, HookPoint::LocalOut, PRI_LOCAL_OUT),
    ];
    // A SYN split into IPv6 fragments must be judged whole.
    const WHOLE_IPV6: bool = true;

    type Settings = Settings;

    fn new() -> Result<Self> {
        // The inherent constructor (netns.rs), not this function again.
        NetState::new()
    }

    fn sysctl(&self) -> &SysctlTable<Settings> {
        &self.settings
    }

    fn start(&self, net: &Net) -> Result {
        seq::create::<Self>(net, STATS_FILE)?;
        if let Err(e) = seq::create::<PolicyFile>(net, POLICY_FILE) {
            seq::remove(net, STATS_FILE);
            return Err(e);
        }
        #[cfg(tcp_stealth_bench)]
        if let Err(e) =
            seq::create_writable::<bench::Bench>(net, bench::BENCH_FILE, bench::BENCH_MODE)
        {
            seq::remove(net, POLICY_FILE);
            seq::remove(net, STATS_FILE);
            return Err(e);
        }
        Ok(())
    }

    fn stop(&self, net: &Net) {
        #[cfg(tcp_stealth_bench)]
        seq::remove(net, bench::BENCH_FILE);
        seq::remove(net, POLICY_FILE);
        seq::remove(net, STATS_FILE);
    }
}

impl seq::Show for NetState {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        let state = net.state::<NetState>();
        state.counters.show(m);
        // Gauges, not counters: sockets that hold keys right now, and the
        // bytes of the replay cache (0 until the namespace needs one).
        let _ = writeln!(
            m,
            "stealth_sockets {}",
            state.stealth_sockets.load(Ordering::Relaxed)
        );
        let _ = writeln!(m, "replay_cache_bytes {}", state.replay_bytes());
    }
}

/// `/proc/net/tcp_stealth_policy`: the ports the administrator protects,
/// and the generic netlink requests that change them.
struct PolicyFile;

impl ffi::genl::GenlPolicy for PolicyFile {
    fn request(net: &Net, req: &ffi::genl::GenlRequest<'_>, cmd: proto::PolicyCmd) -> Result {
        if cmd == proto::PolicyCmd::Protect {
            // The port's knocks need the hooks and the replay cache.
            netns::prepare_listener(net)?;
        }
        net.state::<NetState>().policy.request(req, cmd)
    }
}

impl seq::Show for PolicyFile {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        net.state::<NetState>().policy.show(m);
    }
}

/// The module: while loaded, every network namespace has a [`NetState`] and
/// sockets can attach the "stealth" ULP.
struct TcpStealth {
    // Dropped in this order, the reverse of `init`'s: no more sockets, then
    // no more requests, then no more namespace state.
    _ulp: ffi::ulp::UlpRegistration<sockopt::SockCtx>,
    _genl: ffi::genl::GenlRegistration<PolicyFile>,
    _pernet: ffi::pernet::Registration<NetState>,
}

impl kernel::Module for TcpStealth {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let tokens = ffi::Tokens::take()?;
        // Namespaces first: sockets and requests use their state.
        let pernet = ffi::pernet::Registration::new(tokens.pernet)?;
        // If a later step fails, dropping these unwinds safely: each
        // unregistration waits for its users (running requests; packets in
        // the hooks, readers of the proc files and sysctls), and none of
        // them keeps a pointer into the module after it.
        let genl = ffi::genl::GenlRegistration::new(tokens.genl)?;
        // The ULP last, and nothing that can fail after it: from here on,
        // sockets can attach it, and they keep pointers into the module
        // (its protos, ops, callbacks) for as long as they live, covered
        // only by a module reference. If `init` failed after this, the
        // module loader would free the module whatever its references
        // (`do_init_module()`), under those sockets; dropping the
        // registration cannot wait for them.
        let ulp = ffi::ulp::UlpRegistration::new(tokens.ulp, module)?;
        pr_info!("loaded\n");
        Ok(Self {
            _ulp: ulp,
            _genl: genl,
            _pernet: pernet,
        })
    }
}

impl Drop for TcpStealth {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
