// SPDX-License-Identifier: GPL-2.0

//! The module's state in one network namespace ([`NetState`]): its
//! settings (the `net.tcp_stealth` sysctls), counters, replay cache, the
//! peers that just knocked, the administrator's policy, and, in a
//! `TCP_STEALTH_BENCH=1` build, the benchmark file's last results. The
//! crate root registers it per namespace (`ffi::pernet`); the hooks
//! (`knock`), the socket options (`sockopt`), the integrity check and the
//! proc files use it.

use core::{
    pin::Pin,
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};
use kernel::{c_str, new_spinlock, prelude::*, str::CStr, sync::SpinLock};

use crate::ffi::{
    self,
    pernet::Net,
    sysctl::{IntSetting, SysctlSettings, SysctlTable},
};
use crate::policy::Policy;
use crate::proto::{self, Admitted, ReplayCache, ReplayLimits, Skew, Slot};
use crate::stats::Counters;

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
/// made in process context (when a socket of the namespace first gets a
/// secret or a port is first protected, or at a write of the
/// `replay_max` / `replay_key_max` sysctls), never in the packet path.
pub(crate) type Replay = ReplayCache<KVVec<Slot>>;

/// An empty replay cache for `limits`, as a namespace has (charged to the
/// caller's memory cgroup).
pub(crate) fn new_replay_cache(limits: ReplayLimits, hash_key: [u8; 16]) -> Result<Replay> {
    let slots = KVVec::from_elem(Slot::EMPTY, limits.slots(), GFP_KERNEL_ACCOUNT)?;
    ReplayCache::new(slots, limits, hash_key).map_err(|_| EINVAL)
}

/// Settings of a namespace, under `net.tcp_stealth` (see
/// [`SysctlSettings`]).
pub(crate) struct Settings {
    /// `skew_secs`: how far a knock's time may be from ours.
    pub(crate) skew: IntSetting,
    /// `reject`: 0 answers failed knocks as a closed port (RST), 1 drops them.
    pub(crate) reject: IntSetting,
    /// `answer_closed`: 1 (with `reject` 0) has the module answer segments
    /// to closed ports itself, as fast as a protected port's; 0 leaves them
    /// to TCP.
    pub(crate) answer_closed: IntSetting,
    /// `integrity_timeout_secs`: how long a connection may take to send the
    /// first bytes it committed to.
    pub(crate) integrity_timeout: IntSetting,
    /// `replay_max`: knocks the replay cache remembers at most.
    pub(crate) replay_max: IntSetting,
    /// `replay_key_max`: knocks of one key it remembers at most (at most
    /// `replay_max`; up to `replay_max / 4` keys at once).
    pub(crate) replay_key_max: IntSetting,
    /// `integrity_max_conns`: connections to policy ports with integrity
    /// whose first bytes are checked at a time, at most.
    pub(crate) integrity_max_conns: IntSetting,
}

/// The module's state in one network namespace.
pub(crate) struct NetState {
    /// Sockets with keys here; while there are none, the input hook has
    /// nothing to look up.
    pub(crate) stealth_sockets: AtomicUsize,
    /// Set once a socket here is put in ISN mode (never cleared): from then
    /// on every SYN judged here costs the ISN check too, so that a port in
    /// ISN mode answers in the same time as any other.
    isn_used: AtomicBool,
    pub(crate) counters: Counters,
    /// The settings, and their sysctl table in this namespace.
    pub(crate) settings: SysctlTable<Settings>,
    /// The replay cache; `None` until something here first needs it (see
    /// [`prepare_listener`]): most namespaces never do.
    pub(crate) replay: Pin<KBox<SpinLock<Option<Replay>>>>,
    /// Key of the replay cache's fingerprints; kept across resizes.
    pub(crate) replay_hash_key: [u8; 16],
    /// Second of the last "replay cache full" warning.
    pub(crate) replay_warned: AtomicU64,
    /// Peers that knocked just now, whose ACK may complete a SYN cookie.
    pub(crate) admitted: Admitted<KVec<AtomicU64>>,
    /// Key of the hash [`Admitted`] files 4-tuples under.
    pub(crate) admit_key: [u8; 16],
    /// Ports the administrator protects.
    pub(crate) policy: Policy,
    /// Results of the test-only benchmark file (see `bench`).
    #[cfg(tcp_stealth_bench)]
    pub(crate) bench: BenchResults,
}

impl NetState {
    /// The state of a new namespace.
    pub(crate) fn new() -> Result<Self> {
        let mut replay_hash_key = [0u8; 16];
        ffi::random_bytes(&mut replay_hash_key);
        let mut admit_slots = KVec::with_capacity(ADMIT_SLOTS, GFP_KERNEL)?;
        for _ in 0..ADMIT_SLOTS {
            admit_slots.push(AtomicU64::new(0), GFP_KERNEL)?;
        }
        let mut admit_key = [0u8; 16];
        ffi::random_bytes(&mut admit_key);
        Ok(Self {
            stealth_sockets: AtomicUsize::new(0),
            isn_used: AtomicBool::new(false),
            counters: Counters::new()?,
            settings: SysctlTable::new(Settings {
                skew: IntSetting::new(
                    proto::DEFAULT_SKEW_SECS as i32,
                    1,
                    proto::MAX_SKEW_SECS as i32,
                ),
                reject: IntSetting::new(0, 0, 1),
                answer_closed: IntSetting::new(1, 0, 1),
                integrity_timeout: IntSetting::new(
                    DEFAULT_INTEGRITY_TIMEOUT_SECS,
                    1,
                    MAX_INTEGRITY_TIMEOUT_SECS,
                ),
                // The cache's memory, and the time its full scans take
                // with bottom halves off: the host's to choose.
                replay_max: IntSetting::with_hook(
                    proto::DEFAULT_MAX_ENTRIES as i32,
                    proto::MIN_KEY_ENTRIES as i32,
                    proto::MAX_ENTRIES as i32,
                    resize_replay,
                )
                .host_only(),
                replay_key_max: IntSetting::with_hook(
                    proto::DEFAULT_KEY_ENTRIES as i32,
                    proto::MIN_KEY_ENTRIES as i32,
                    proto::MAX_ENTRIES as i32,
                    resize_replay,
                )
                .host_only(),
                // Memory, and the scans of the room with bottom halves off:
                // the host's too.
                integrity_max_conns: IntSetting::with_hook(
                    crate::policy::DEFAULT_FLOWS as i32,
                    1,
                    crate::policy::MAX_FLOWS as i32,
                    resize_flows,
                )
                .host_only(),
            }),
            replay: KBox::pin_init(new_spinlock!(None, "tcp_stealth_replay"), GFP_KERNEL)?,
            replay_hash_key,
            replay_warned: AtomicU64::new(0),
            admitted: Admitted::new(admit_slots).map_err(|_| EINVAL)?,
            admit_key,
            policy: Policy::new()?,
            #[cfg(tcp_stealth_bench)]
            bench: BenchResults::new(),
        })
    }
}

impl SysctlSettings for Settings {
    const PATH: &'static CStr = c_str!("net/tcp_stealth");

    fn entries(&self, f: &mut dyn FnMut(&'static CStr, &IntSetting)) {
        f(c_str!("skew_secs"), &self.skew);
        f(c_str!("reject"), &self.reject);
        f(c_str!("answer_closed"), &self.answer_closed);
        f(c_str!("integrity_timeout_secs"), &self.integrity_timeout);
        f(c_str!("replay_max"), &self.replay_max);
        f(c_str!("replay_key_max"), &self.replay_key_max);
        f(c_str!("integrity_max_conns"), &self.integrity_max_conns);
    }
}

/// The replay limits the sysctls ask for (`replay_key_max` no larger than
/// `replay_max`).
fn replay_limits(settings: &Settings) -> Result<ReplayLimits> {
    let max = u32::try_from(settings.replay_max.get()).map_err(|_| EINVAL)?;
    let key_max = u32::try_from(settings.replay_key_max.get()).map_err(|_| EINVAL)?;
    ReplayLimits::new(max, key_max.min(max)).map_err(|_| EINVAL)
}

/// A write of `integrity_max_conns` ([`crate::policy::Policy::resize_flows`]).
fn resize_flows(net: &Net) -> Result {
    let state = net.state::<NetState>();
    let n = usize::try_from(state.settings.integrity_max_conns.get()).map_err(|_| EINVAL)?;
    state.policy.resize_flows(n)
}

/// A write of `replay_max` or `replay_key_max`: if the namespace has a
/// cache, a new cache for the new limits, allocated here in process context;
/// every knock the old one remembers moves over under the lock (what no
/// longer fits is dropped and from then on refused as too old to tell).
/// Fails with ENOMEM, and the setting keeps its old value, if the
/// allocation fails.
fn resize_replay(net: &Net) -> Result {
    let state = net.state::<NetState>();
    loop {
        let limits = replay_limits(&state.settings)?;
        // No cache yet (the first one will have the new limits), or one
        // with these limits: nothing to allocate. (Under the lock, which
        // `ensure_replay` reads the limits again under.)
        let cur = ffi::with_bh_disabled(|| state.replay.lock().as_ref().map(|c| c.limits()));
        if cur.map_or(true, |cur| cur == limits) {
            return Ok(());
        }
        let mut new = Some(new_replay_cache(limits, state.replay_hash_key)?);
        let (now, skew) = (ffi::now_secs(), state.skew());
        let old = ffi::with_bh_disabled(|| {
            let mut guard = state.replay.lock();
            // No cache yet: the first one will have the new limits.
            let cur = guard.as_mut()?;
            // A concurrent write changed the limits meanwhile: again.
            if replay_limits(&state.settings).ok() != Some(limits) || cur.limits() == limits {
                return None;
            }
            let mut next = new.take()?;
            let dropped = cur.move_into(&mut next, now, skew);
            Some((core::mem::replace(cur, next), dropped))
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

/// Readies `net` for a socket with keys, before it gets them: the module's
/// hooks (until then a namespace's packets never pass them). Process
/// context; fails with ENOMEM if the memory cannot be had. They stay until
/// the namespace goes.
pub(crate) fn prepare(net: &Net) -> Result {
    net.activate::<NetState>()
}

/// Readies `net` for a listener with keys, before it can be found (from
/// `listen()`, or when a listening socket gets keys), or for a port
/// protected by policy: the hooks, then the replay cache, which only
/// listeners use. A namespace whose sockets with keys only connect never
/// pays for one.
pub(crate) fn prepare_listener(net: &Net) -> Result {
    prepare(net)?;
    net.state::<NetState>().ensure_replay()
}

impl NetState {
    /// Gives the namespace its replay cache, with the limits its sysctls
    /// set, unless it has one (from [`prepare_listener`], so that the packet
    /// path finds it).
    fn ensure_replay(&self) -> Result {
        let has_cache = || ffi::with_bh_disabled(|| self.replay.lock().is_some());
        while !has_cache() {
            let limits = replay_limits(&self.settings)?;
            let new = new_replay_cache(limits, self.replay_hash_key)?;
            // Freed outside the lock, if not taken.
            let _spare = ffi::with_bh_disabled(|| {
                let mut cur = self.replay.lock();
                // Another caller was first, or a write of the limits
                // meanwhile found no cache to resize: again (with the new
                // limits), unless there is a cache now.
                if cur.is_some() || replay_limits(&self.settings).ok() != Some(limits) {
                    return Some(new);
                }
                *cur = Some(new);
                None
            });
        }
        Ok(())
    }

    /// Bytes of the replay cache's slots (0 while it has none).
    pub(crate) fn replay_bytes(&self) -> usize {
        let slots =
            ffi::with_bh_disabled(|| self.replay.lock().as_ref().map_or(0, |c| c.capacity()));
        slots * core::mem::size_of::<Slot>()
    }

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

    pub(crate) fn drop_silently(&self) -> bool {
        self.settings.reject.get() == 1
    }

    /// A socket here was put in ISN mode (before it can take a SYN in it).
    pub(crate) fn isn_mode_used(&self) {
        self.isn_used.store(true, Ordering::Relaxed);
    }

    /// Whether a socket here was ever put in ISN mode.
    pub(crate) fn isn_used(&self) -> bool {
        self.isn_used.load(Ordering::Relaxed)
    }

    /// Whether the module answers segments to closed ports itself
    /// (`answer_closed`).
    pub(crate) fn answers_closed(&self) -> bool {
        self.settings.answer_closed.get() == 1
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
    pub(crate) fn has_stealth_sockets(&self) -> bool {
        self.stealth_sockets.load(Ordering::Relaxed) != 0 || !self.policy.is_empty()
    }

    pub(crate) fn skew(&self) -> Skew {
        u64::try_from(self.settings.skew.get())
            .ok()
            .and_then(|s| Skew::new(s).ok())
            .unwrap_or(Skew::DEFAULT)
    }
}

/// Operations the benchmark file times (`bench::Op`).
#[cfg(tcp_stealth_bench)]
pub(crate) const OPS: usize = 6;
/// Figures of its replay flood (`bench::FLOOD_NAMES`).
#[cfg(tcp_stealth_bench)]
pub(crate) const FLOOD_FIGURES: usize = 6;

#[cfg(tcp_stealth_bench)]
/// Results of the benchmark file's last run in a namespace: the iteration
/// count and the cost per operation in hundredths of a nanosecond.
pub(crate) struct BenchResults {
    pub(crate) iterations: AtomicU64,
    pub(crate) centi_ns: [AtomicU64; OPS],
    /// The last replay flood, in `bench::FLOOD_NAMES` order.
    pub(crate) flood: [AtomicU64; FLOOD_FIGURES],
}

#[cfg(tcp_stealth_bench)]
impl BenchResults {
    /// No run yet.
    pub(crate) fn new() -> Self {
        Self {
            iterations: AtomicU64::new(0),
            centi_ns: [const { AtomicU64::new(0) }; OPS],
            flood: [const { AtomicU64::new(0) }; FLOOD_FIGURES],
        }
    }
}
