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
//!   [`policy`], [`sockopt`] and [`stats`]. It has no `unsafe` code: the
//!   crate denies it, and only [`ffi`] is allowed it (bindings included,
//!   which are private to [`ffi`]).

#![deny(unsafe_code)]

use core::{
    fmt::Write,
    pin::Pin,
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
};
use kernel::{c_str, new_spinlock, prelude::*, sync::SpinLock};

// The test-only benchmark file, only in a build with TCP_STEALTH_BENCH=1
// (`make bench`; see Kbuild).
#[cfg(tcp_stealth_bench)]
mod bench;
#[allow(unsafe_code)]
mod ffi;
mod integrity;
mod keys;
mod knock;
mod policy;
// `proto` is also the host crate of the knock CLI, the fuzz targets and the
// host tests (proto/), which use parts of it the module does not (and so
// does the benchmark file, in a TCP_STEALTH_BENCH=1 build).
#[allow(dead_code)]
mod proto;
mod sockopt;
mod stats;

use ffi::{
    netfilter::{HookArgs, HookPoint, HookSpec, HookState, Verdict},
    pernet::{Net, Pernet, PernetState},
    seq,
    skb::{Family, SkBuff},
    sysctl::{IntSetting, SysctlSettings, SysctlTable},
};
use proto::{Admitted, ReplayCache, ReplayLimits, Slot};
use stats::Counters;

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

/// Default and largest `net.tcp_stealth.integrity_timeout_secs`.
const DEFAULT_INTEGRITY_TIMEOUT_SECS: i32 = 10;
const MAX_INTEGRITY_TIMEOUT_SECS: i32 = 600;

/// Seconds between two "replay cache full" warnings of a namespace.
const REPLAY_WARN_SECS: u64 = 10;

/// Slots of the table of peers that knocked, per namespace (8 bytes each;
/// see `proto::Admitted`). Only listeners that may answer with SYN cookies
/// record into it.
const ADMIT_SLOTS: usize = 1024;

/// A namespace's replay cache: its slots are one `kvmalloc()` allocation,
/// made in process context (namespace creation, or a write of the
/// `replay_max` / `replay_key_max` sysctls), never in the packet path.
pub(crate) type Replay = ReplayCache<KVVec<Slot>>;

/// An empty replay cache for `limits`, as a namespace has (charged to the
/// caller's memory cgroup).
pub(crate) fn new_replay_cache(limits: ReplayLimits, hash_key: [u8; 16]) -> Result<Replay> {
    let slots = KVVec::from_elem(Slot::EMPTY, limits.slots(), GFP_KERNEL_ACCOUNT)?;
    ReplayCache::new(slots, limits, hash_key).map_err(|_| EINVAL)
}

const fn hook(family: Family, point: HookPoint, priority: i32) -> HookSpec {
    HookSpec {
        family,
        point,
        priority,
    }
}

/// Settings of a namespace, under `net.tcp_stealth` (see
/// [`SysctlSettings`]).
pub(crate) struct Settings {
    /// `skew_secs`: how far a knock's time may be from ours.
    skew: IntSetting,
    /// `reject`: 0 answers failed knocks as a closed port (RST), 1 drops them.
    reject: IntSetting,
    /// `integrity_timeout_secs`: how long a connection may take to send the
    /// first bytes it committed to.
    integrity_timeout: IntSetting,
    /// `replay_max`: knocks the replay cache remembers at most.
    replay_max: IntSetting,
    /// `replay_key_max`: knocks of one key it remembers at most (at most
    /// `replay_max`; `replay_max / replay_key_max` keys at once).
    replay_key_max: IntSetting,
}

/// The module's state in one network namespace.
pub(crate) struct NetState {
    /// Sockets with keys here; while there are none, the input hook has
    /// nothing to look up.
    stealth_sockets: AtomicUsize,
    counters: Counters,
    /// The settings, and their sysctl table in this namespace.
    settings: SysctlTable<Settings>,
    replay: Pin<KBox<SpinLock<Replay>>>,
    /// Key of the replay cache's fingerprints; kept across resizes.
    replay_hash_key: [u8; 16],
    /// Second of the last "replay cache full" warning.
    replay_warned: AtomicU64,
    /// Peers that knocked just now, whose ACK may complete a SYN cookie.
    admitted: Admitted<KVec<AtomicU64>>,
    /// Key of the hash [`Admitted`] files 4-tuples under.
    admit_key: [u8; 16],
    /// Ports the administrator protects.
    policy: policy::Policy,
    /// Results of the test-only benchmark file (see `bench`).
    #[cfg(tcp_stealth_bench)]
    bench: bench::BenchResults,
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
        let mut replay_hash_key = [0u8; 16];
        ffi::random_bytes(&mut replay_hash_key);
        let cache = new_replay_cache(ReplayLimits::DEFAULT, replay_hash_key)?;
        let mut admit_slots = KVec::with_capacity(ADMIT_SLOTS, GFP_KERNEL)?;
        for _ in 0..ADMIT_SLOTS {
            admit_slots.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let mut admit_key = [0u8; 16];
        ffi::random_bytes(&mut admit_key);
        Ok(Self {
            stealth_sockets: AtomicUsize::new(0),
            counters: Counters::new()?,
            settings: SysctlTable::new(Settings {
                skew: IntSetting::new(
                    proto::DEFAULT_SKEW_SECS as i32,
                    1,
                    proto::MAX_SKEW_SECS as i32,
                ),
                reject: IntSetting::new(0, 0, 1),
                integrity_timeout: IntSetting::new(
                    DEFAULT_INTEGRITY_TIMEOUT_SECS,
                    1,
                    MAX_INTEGRITY_TIMEOUT_SECS,
                ),
                replay_max: IntSetting::with_hook(
                    proto::DEFAULT_MAX_ENTRIES as i32,
                    proto::MIN_KEY_ENTRIES as i32,
                    proto::MAX_ENTRIES as i32,
                    resize_replay,
                ),
                replay_key_max: IntSetting::with_hook(
                    proto::DEFAULT_KEY_ENTRIES as i32,
                    proto::MIN_KEY_ENTRIES as i32,
                    proto::MAX_ENTRIES as i32,
                    resize_replay,
                ),
            }),
            replay: KBox::pin_init(new_spinlock!(cache, "tcp_stealth_replay"), GFP_KERNEL)?,
            replay_hash_key,
            replay_warned: AtomicU64::new(0),
            admitted: Admitted::new(admit_slots).map_err(|_| EINVAL)?,
            admit_key,
            policy: policy::Policy::new()?,
            #[cfg(tcp_stealth_bench)]
            bench: bench::BenchResults::new(),
        })
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

impl SysctlSettings for Settings {
    const PATH: &'static CStr = c_str!("net/tcp_stealth");

    fn entries(&self, f: &mut dyn FnMut(&'static CStr, &IntSetting)) {
        f(c_str!("skew_secs"), &self.skew);
        f(c_str!("reject"), &self.reject);
        f(c_str!("integrity_timeout_secs"), &self.integrity_timeout);
        f(c_str!("replay_max"), &self.replay_max);
        f(c_str!("replay_key_max"), &self.replay_key_max);
    }
}

/// The replay limits the sysctls ask for (`replay_key_max` no larger than
/// `replay_max`).
fn replay_limits(settings: &Settings) -> Result<ReplayLimits> {
    let max = u32::try_from(settings.replay_max.get()).map_err(|_| EINVAL)?;
    let key_max = u32::try_from(settings.replay_key_max.get()).map_err(|_| EINVAL)?;
    ReplayLimits::new(max, key_max.min(max)).map_err(|_| EINVAL)
}

/// A write of `replay_max` or `replay_key_max`: a new cache for the new
/// limits, allocated here in process context; every knock the old one
/// remembers moves over under the lock (what no longer fits is dropped
/// and from then on refused as too old to tell). Fails with ENOMEM, and
/// the setting keeps its old value, if the allocation fails.
fn resize_replay(net: &Net) -> Result {
    let state = net.state::<NetState>();
    loop {
        let limits = replay_limits(&state.settings)?;
        let mut new = Some(new_replay_cache(limits, state.replay_hash_key)?);
        let (now, skew) = (ffi::now_secs(), state.skew());
        let old = ffi::with_bh_disabled(|| {
            let mut cur = state.replay.lock();
            // A concurrent write changed the limits meanwhile: again.
            if replay_limits(&state.settings).ok() != Some(limits) || cur.limits() == limits {
                return None;
            }
            let mut next = new.take()?;
            let dropped = cur.move_into(&mut next, now, skew);
            Some((core::mem::replace(&mut *cur, next), dropped))
        });
        // Freed outside the lock.
        drop(new);
        match old {
            Some((old, dropped)) => {
                drop(old);
                if dropped != 0 {
                    pr_info!(
                        "replay cache resized: {} remembered knocks did not fit and are refused until stale\n",
                        dropped
                    );
                }
                return Ok(());
            }
            None => {
                if replay_limits(&state.settings).ok() == Some(limits) {
                    return Ok(());
                }
            }
        }
    }
}

impl NetState {
    /// A valid knock was refused for want of room in the replay cache: a
    /// warning at most every [`REPLAY_WARN_SECS`].
    pub(crate) fn warn_replay_full(&self, now: u64) {
        let last = self.replay_warned.load(Ordering::Relaxed);
        if now >= last.saturating_add(REPLAY_WARN_SECS)
            && self
                .replay_warned
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            pr_warn!(
                "replay cache full: valid knocks refused (knock_replay_full); raise net.tcp_stealth.replay_key_max or replay_max\n"
            );
        }
    }

    fn drop_silently(&self) -> bool {
        self.settings.reject.get() == 1
    }

    /// A socket here got its first key (`true`) or lost its last.
    pub(crate) fn stealth_socket(&self, added: bool) {
        if added {
            self.stealth_sockets.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stealth_sockets.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Seconds a held connection has to send its committed bytes.
    pub(crate) fn integrity_timeout(&self) -> u32 {
        u32::try_from(self.settings.integrity_timeout.get())
            .unwrap_or(DEFAULT_INTEGRITY_TIMEOUT_SECS as u32)
    }

    /// Whether any socket in this namespace has keys, or any port is
    /// protected by the administrator.
    fn has_stealth_sockets(&self) -> bool {
        self.stealth_sockets.load(Ordering::Relaxed) != 0 || !self.policy.is_empty()
    }
}

impl seq::Show for NetState {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        let state = net.state::<NetState>();
        state.counters.show(m);
        // A gauge, not a counter: sockets that hold keys right now.
        let _ = writeln!(
            m,
            "stealth_sockets {}",
            state.stealth_sockets.load(Ordering::Relaxed)
        );
    }
}

/// `/proc/net/tcp_stealth_policy`: the ports the administrator protects,
/// and the generic netlink requests that change them.
struct PolicyFile;

impl ffi::genl::GenlPolicy for PolicyFile {
    fn request(net: &Net, req: &ffi::genl::GenlRequest<'_>, cmd: proto::PolicyCmd) -> Result {
        net.state::<NetState>().policy.request(req, cmd)
    }
}

impl seq::Show for PolicyFile {
    fn show(net: &Net, m: &mut seq::SeqFile) {
        net.state::<NetState>().policy.show(m);
    }
}

impl HookState for NetState {
    fn hook(&self, spec: &HookSpec, skb: &SkBuff, args: &HookArgs<'_>) -> Verdict {
        match spec.point {
            HookPoint::LocalIn => self.local_in(skb, spec.family, args),
            HookPoint::LocalOut => self.local_out(skb, spec.family, args),
        }
    }
}

/// The module: while loaded, every network namespace has a [`NetState`] and
/// sockets can attach the "stealth" ULP.
struct TcpStealth {
    // Dropped in this order: no more requests, then no more sockets, then
    // no more namespace state.
    _genl: ffi::genl::GenlRegistration<PolicyFile>,
    _ulp: ffi::ulp::UlpRegistration<sockopt::SockCtx>,
    _pernet: ffi::pernet::Registration<NetState>,
}

impl kernel::Module for TcpStealth {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let tokens = ffi::Tokens::take()?;
        // Namespaces first: once the ULP is registered, sockets can use it.
        let pernet = ffi::pernet::Registration::new(tokens.pernet)?;
        let ulp = ffi::ulp::UlpRegistration::new(tokens.ulp, module)?;
        let genl = ffi::genl::GenlRegistration::new(tokens.genl)?;
        pr_info!("loaded\n");
        Ok(Self {
            _genl: genl,
            _ulp: ulp,
            _pernet: pernet,
        })
    }
}

impl Drop for TcpStealth {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
