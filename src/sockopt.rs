// SPDX-License-Identifier: GPL-2.0

//! Per-socket state and the TCP_STEALTH socket options (see
//! `include/uapi/linux/tcp_stealth.h`).

use crate::ffi::{
    crypto::KernelCrypto,
    errno,
    hold::Hold,
    listen::{ListenerAnswer, ListenerSeg},
    pernet::Net,
    rcu::SockRcu,
    sock::{LockedSock, OptOut, OptVal, Sock, TcpState},
    uapi::{
        self, TCP_STEALTH, TCP_STEALTH_INTEGRITY, TCP_STEALTH_INTEGRITY_LEN, TCP_STEALTH_KEY,
        TCP_STEALTH_MODE,
    },
    ulp::{CtxLock, Ulp, UlpVtable, SOCK_GFP},
    RcuSection,
};
use crate::integrity::{from_isn, from_knock, Check};
use crate::keys::{derive, KeySet};
use crate::proto::{
    self, KeyOp, SecretBytes, SynHeaders, KEY_REQUEST_LEN, MAX_INTEGRITY_LEN, MAX_KEYS,
    MAX_SECRET_LEN,
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::{alloc::KVVec, prelude::*};

/// The range of option names the kernel patch reserves for the module.
const OPT_FIRST: i32 = 0x5354;
const OPT_LAST: i32 = 0x535f;

/// `sizeof(int)`.
const INT_LEN: usize = 4;

/// TCP options that use SYN option space the knock needs.
const TCP_MD5SIG: i32 = 14;
const TCP_FASTOPEN_CONNECT: i32 = 30;
const TCP_MD5SIG_EXT: i32 = 32;
const TCP_AO_ADD_KEY: i32 = 38;

/// The "stealth" ULP: its `tcp_ulp_ops`, filled at compile time, and the
/// copies of TCP's protos and `proto_ops` its sockets get.
pub(crate) static STEALTH_ULP: UlpVtable<SockCtx> = UlpVtable::new(uapi::ULP_NAME);

#[vtable]
impl Ulp for SockCtx {
    type Check = Check;

    fn vtable() -> &'static UlpVtable<Self> {
        &STEALTH_ULP
    }

    /// A socket with the ULP but no key yet: it behaves as plain TCP.
    fn new() -> Self {
        Self {
            keys: SockRcu::new(),
            integrity_len: AtomicU32::new(0),
            commit_bytes: SockRcu::new(),
            commit: AtomicU64::new(0),
            isn_ih: AtomicU32::new(0),
            hold: None,
            mode: AtomicU8::new(Mode::Option as u8),
            sent: AtomicU64::new(0),
            sent_valid: AtomicBool::new(false),
        }
    }

    fn child(hold: Hold<Check>) -> Self {
        Self {
            hold: Some(hold),
            ..<Self as Ulp>::new()
        }
    }

    fn hold(&self) -> Option<&Hold<Check>> {
        self.hold.as_ref()
    }

    fn owns_option(optname: i32) -> bool {
        (OPT_FIRST..=OPT_LAST).contains(&optname)
    }

    /// The options that take the SYN option space the knock needs.
    const BLOCKABLE_OPTIONS: &'static [i32] = &[
        TCP_MD5SIG,
        TCP_MD5SIG_EXT,
        TCP_FASTOPEN_CONNECT,
        TCP_AO_ADD_KEY,
    ];

    /// A socket that knocks or wants knocks keeps its option space.
    fn blocks_option(&self, _optname: i32) -> bool {
        self.enabled()
    }

    fn setsockopt(sk: &CtxLock<'_, Self>, optname: i32, val: &OptVal) -> Result {
        sk.ctx().set(sk, optname, val)
    }

    fn getsockopt(sk: &CtxLock<'_, Self>, optname: i32, out: &OptOut) -> Result {
        sk.ctx().get(sk, optname, out)
    }

    fn clone_check(&self, syn: Option<(&[u8], usize)>, rcu: &RcuSection) -> Option<Check> {
        child_check(self, syn, rcu)
    }

    fn hold_timeout_secs(net: &Net) -> u32 {
        net.state::<crate::netns::NetState>().integrity_timeout()
    }

    fn listen(&self, net: &Net) -> Result {
        // Keys set before `listen()`: the replay cache now.
        if self.keys.is_set() {
            crate::netns::prepare_listener(net)?;
        }
        Ok(())
    }

    fn unhooked(&self, sk: &Sock, seg: &ListenerSeg<'_>, rcu: &RcuSection) -> ListenerAnswer {
        sk.net()
            .state::<crate::netns::NetState>()
            .unhooked(sk, seg, rcu)
    }

    fn release(&self, net: &Net) {
        if self.keys.is_set() {
            net.state::<crate::netns::NetState>().stealth_socket(false);
        }
    }
}

/// Where a socket's knock goes (`TCP_STEALTH_MODE_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Mode {
    /// The knock option of version 1 (the default).
    Option = 0,
    /// The original Knock's initial sequence number.
    Isn = 1,
}

impl Mode {
    fn from_raw(v: i32) -> Option<Self> {
        match v {
            uapi::TCP_STEALTH_MODE_OPTION => Some(Self::Option),
            uapi::TCP_STEALTH_MODE_ISN => Some(Self::Isn),
            _ => None,
        }
    }

    fn to_raw(self) -> i32 {
        match self {
            Self::Option => uapi::TCP_STEALTH_MODE_OPTION,
            Self::Isn => uapi::TCP_STEALTH_MODE_ISN,
        }
    }
}

/// `SockCtx::commit` flag: the value holds a commitment.
const COMMIT_SET: u64 = 1 << 32;
/// `SockCtx::isn_ih` flag: the value holds an integrity hash.
const ISN_IH_SET: u32 = 1 << 16;

/// The stealth state of one socket with the ULP.
pub(crate) struct SockCtx {
    keys: SockRcu<KeySet>,
    /// Listener: how many first bytes each connection must commit to (0:
    /// none).
    integrity_len: AtomicU32,
    /// Client: the bytes it commits to (changed under the socket lock).
    commit_bytes: SockRcu<KVVec<u8>>,
    /// Client: `COMMIT_SET | C32` of those bytes with the first key, or 0.
    commit: AtomicU64,
    /// Client, ISN mode: `ISN_IH_SET | IH` of those bytes with the first
    /// key's secret, or 0.
    isn_ih: AtomicU32,
    /// Accepted connection of a listener that requires integrity.
    hold: Option<Hold<Check>>,
    /// A [`Mode`], written under the socket lock, read by the hooks.
    mode: AtomicU8,
    /// ISN mode, client: `(isn << 32) | tsval` of the first SYN of the
    /// current connection attempt, valid once `sent_valid` is set. Written
    /// while that SYN passes the output hook inside `connect()` (socket
    /// owned), read when TCP retransmits it (socket locked by the timer),
    /// so the two never race; atomics keep that free of `unsafe`.
    sent: AtomicU64,
    sent_valid: AtomicBool,
}

impl SockCtx {
    /// Listener: the number of first bytes connections must commit to.
    pub(crate) fn integrity_len(&self) -> usize {
        self.integrity_len.load(Ordering::Acquire) as usize
    }

    /// Client: the commitment `C32` its knock carries, if any.
    pub(crate) fn commitment(&self) -> Option<u32> {
        let c = self.commit.load(Ordering::Acquire);
        (c & COMMIT_SET != 0).then_some(c as u32)
    }

    /// Client, ISN mode: the integrity hash `IH` its ISN carries, if any.
    pub(crate) fn isn_ih(&self) -> Option<u16> {
        let v = self.isn_ih.load(Ordering::Acquire);
        (v & ISN_IH_SET != 0).then_some(v as u16)
    }

    /// Recomputes the commitment after the keys, the bytes or the mode
    /// changed: the socket's mode's only (the option mode's `C32`, a
    /// BLAKE2s, or the ISN mode's `IH`, an MD5), the other one cleared.
    /// The mode cannot change once the SYN is out (`check_state`), and a
    /// change recomputes it.
    fn update_commitment(&self, sk: &CtxLock<'_, Self>) -> Result {
        let keys = self.keys.get(sk);
        let (c, ih) = match (keys, self.commit_bytes.get(sk)) {
            (Some(keys), Some(bytes)) => {
                let (Some(key), Some(secret)) = (keys.keys().first(), keys.isn().first()) else {
                    return Ok(());
                };
                match self.mode() {
                    Mode::Option => {
                        let c32 =
                            proto::commitment(&KernelCrypto, key, bytes).map_err(|_| EINVAL)?;
                        (COMMIT_SET | u64::from(c32), 0)
                    }
                    Mode::Isn => {
                        let ih = proto::isn_integrity_hash(secret, bytes);
                        (0, ISN_IH_SET | u32::from(ih))
                    }
                }
            }
            _ => (0, 0),
        };
        self.commit.store(c, Ordering::Release);
        self.isn_ih.store(ih, Ordering::Release);
        Ok(())
    }

    /// Where the knock goes.
    pub(crate) fn mode(&self) -> Mode {
        if self.mode.load(Ordering::Relaxed) == Mode::Isn as u8 {
            Mode::Isn
        } else {
            Mode::Option
        }
    }

    /// ISN mode, client: remembers the ISN and TSval of the first SYN.
    pub(crate) fn record_isn(&self, isn: u32, tsval: u32) {
        self.sent
            .store(u64::from(isn) << 32 | u64::from(tsval), Ordering::Relaxed);
        self.sent_valid.store(true, Ordering::Release);
    }

    /// ISN mode, client: the ISN and TSval of the first SYN, if it was sent.
    pub(crate) fn sent_isn(&self) -> Option<(u32, u32)> {
        if !self.sent_valid.load(Ordering::Acquire) {
            return None;
        }
        let v = self.sent.load(Ordering::Relaxed);
        Some(((v >> 32) as u32, v as u32))
    }

    /// The keys, read from a netfilter hook.
    pub(crate) fn keys<'a>(&'a self, rcu: &'a RcuSection) -> Option<&'a KeySet> {
        self.keys.read(rcu)
    }

    /// Whether the socket knocks or wants knocks.
    pub(crate) fn enabled(&self) -> bool {
        self.keys.is_set()
    }

    /// Replaces the keys, keeping the namespace's count of sockets with keys.
    fn set_keys(&self, sk: &CtxLock<'_, Self>, mut keys: Option<KBox<KeySet>>) {
        if let Some(keys) = keys.as_mut() {
            keys.prepare(self.integrity_len());
        }
        let (was, now) = (self.keys.is_set(), keys.is_some());
        self.keys.replace(sk, keys);
        if was != now {
            sk.sock()
                .net()
                .state::<crate::netns::NetState>()
                .stealth_socket(now);
        }
        // Cannot fail: the committed bytes were checked when they were set.
        let _ = self.update_commitment(sk);
    }

    /// Handles `setsockopt(IPPROTO_TCP, optname)` for the module's options.
    fn set(&self, sk: &CtxLock<'_, Self>, optname: i32, val: &OptVal) -> Result {
        match optname {
            TCP_STEALTH => {
                if val.len() == 0 || val.len() > MAX_SECRET_LEN {
                    return Err(EINVAL);
                }
                // The secret's copies are wiped on every way out.
                let mut secret = SecretBytes::<MAX_SECRET_LEN>::new();
                val.read(&mut secret[..val.len()])?;
                check_state(sk)?;
                let (key, isn) = derive(&secret[..val.len()])?;
                let keys = KBox::new(KeySet::one(key, isn), SOCK_GFP)?;
                prepare(sk)?;
                self.set_keys(sk, Some(keys));
                Ok(())
            }
            TCP_STEALTH_KEY => {
                if val.len() != KEY_REQUEST_LEN {
                    return Err(EINVAL);
                }
                // Holds the secret too.
                let mut raw = SecretBytes::<KEY_REQUEST_LEN>::new();
                val.read(&mut raw[..])?;
                let (op, secret) = proto::parse_key_request(&raw[..]).map_err(|_| EINVAL)?;
                check_state(sk)?;
                let (key, isn) = derive(secret)?;
                let mut set = KBox::new(KeySet::empty(), SOCK_GFP)?;
                if let Some(old) = self.keys.get(sk) {
                    set.keys[..old.n].clone_from_slice(old.keys());
                    set.isn[..old.n].clone_from_slice(old.isn());
                    set.n = old.n;
                }
                match (op, set.position(&key)) {
                    (KeyOp::Add, Some(_)) => return Err(EEXIST),
                    (KeyOp::Add, None) if set.n == MAX_KEYS => return Err(ENOSPC),
                    // The newest key goes first: a client knocks with it.
                    (KeyOp::Add, None) => set.push_front(key, isn),
                    (KeyOp::Del, None) => return Err(ENOENT),
                    (KeyOp::Del, Some(i)) => set.remove(i),
                }
                let set = if set.n == 0 {
                    None
                } else {
                    prepare(sk)?;
                    Some(set)
                };
                self.set_keys(sk, set);
                Ok(())
            }
            TCP_STEALTH_INTEGRITY => {
                if val.len() == 0 || val.len() > MAX_INTEGRITY_LEN {
                    return Err(EINVAL);
                }
                if sk.sock().state() == TcpState::Listen {
                    // A listener does not send the first bytes.
                    return Err(EINVAL);
                }
                check_state(sk)?;
                let mut bytes = KVVec::from_elem(0u8, val.len(), SOCK_GFP)?;
                val.read(&mut bytes)?;
                self.commit_bytes
                    .replace(sk, Some(KBox::new(bytes, SOCK_GFP)?));
                self.update_commitment(sk)
            }
            TCP_STEALTH_INTEGRITY_LEN => {
                let n = read_int(val)?;
                let n = u32::try_from(n)
                    .ok()
                    .filter(|&n| n as usize <= MAX_INTEGRITY_LEN)
                    .ok_or(EINVAL)?;
                check_state(sk)?;
                if n > 0 && !self.keys.is_set() {
                    // Only the socket's own keys can check a commitment (an
                    // administrator's policy key does not count). Keys
                    // removed later make each connection fail the check
                    // instead (`child_check` below).
                    return Err(errno::enokey());
                }
                // The keys again, with the check starts for `n` (allocated
                // first: a failure changes nothing).
                let prepared = match self.keys.get(sk) {
                    Some(old) if old.prepared_len() != n as usize => {
                        let mut set = KBox::new(old.clone(), SOCK_GFP)?;
                        set.prepare(n as usize);
                        Some(set)
                    }
                    _ => None,
                };
                if n > 0 {
                    STEALTH_ULP.install_ops(sk)?;
                    sk.save_syn();
                }
                // Release: whoever sees `n` sees our ops on the socket.
                self.integrity_len.store(n, Ordering::Release);
                // A check that finds starts for another length (made before
                // this) starts from the key instead.
                if prepared.is_some() {
                    self.keys.replace(sk, prepared);
                }
                Ok(())
            }
            TCP_STEALTH_MODE => {
                // As TCP's own int options: at least an int, extra ignored.
                if val.len() < INT_LEN {
                    return Err(EINVAL);
                }
                let mut raw = [0u8; INT_LEN];
                val.read(&mut raw)?;
                let mode = Mode::from_raw(i32::from_ne_bytes(raw)).ok_or(EINVAL)?;
                check_state(sk)?;
                if mode == Mode::Isn {
                    // Before the listener may judge a SYN in ISN mode.
                    sk.sock()
                        .net()
                        .state::<crate::netns::NetState>()
                        .isn_mode_used();
                }
                self.mode.store(mode as u8, Ordering::Relaxed);
                // Cannot fail: the committed bytes were checked when they
                // were set.
                let _ = self.update_commitment(sk);
                Ok(())
            }
            _ => Err(errno::enoprotoopt()),
        }
    }

    /// Handles `getsockopt(IPPROTO_TCP, optname)` for the module's options.
    fn get(&self, sk: &CtxLock<'_, Self>, optname: i32, out: &OptOut) -> Result {
        match optname {
            TCP_STEALTH => {
                let n = self.keys.get(sk).map_or(0, |k| k.n) as u32;
                let flags = if n > 0 {
                    uapi::TCP_STEALTH_INFO_ENABLED
                } else {
                    0
                };
                let mut info = [0u8; uapi::INFO_LEN];
                info[..4].copy_from_slice(&flags.to_ne_bytes());
                info[4..].copy_from_slice(&n.to_ne_bytes());
                out.write(&info)
            }
            TCP_STEALTH_INTEGRITY => {
                let n = self.commit_bytes.get(sk).map_or(0, |b| b.len()) as i32;
                out.write(&n.to_ne_bytes())
            }
            TCP_STEALTH_INTEGRITY_LEN => {
                out.write(&(self.integrity_len.load(Ordering::Relaxed) as i32).to_ne_bytes())
            }
            TCP_STEALTH_KEY => Err(errno::eopnotsupp()),
            TCP_STEALTH_MODE => out.write(&self.mode().to_raw().to_ne_bytes()),
            _ => Err(errno::enoprotoopt()),
        }
    }
}

/// Readies the namespace of `sk`, about to get keys: a listener needs the
/// replay cache as well as the hooks (a closed socket gets it if it listens,
/// in [`SockCtx::listen`]).
fn prepare(sk: &LockedSock<'_>) -> Result {
    let net = sk.sock().net();
    if sk.sock().state() == TcpState::Listen {
        crate::netns::prepare_listener(net)
    } else {
        crate::netns::prepare(net)
    }
}

/// Keys can change on a closed or listening socket only: a connecting or
/// connected socket has sent its SYN already.
fn check_state(sk: &LockedSock<'_>) -> Result {
    match sk.sock().state() {
        TcpState::Close | TcpState::Listen => {}
        _ => return Err(errno::eisconn()),
    }
    if sk.syn_options_busy() {
        return Err(EBUSY);
    }
    Ok(())
}

/// An `int` option value (longer values are cut, as TCP's own options do).
fn read_int(val: &OptVal) -> Result<i32> {
    if val.len() < 4 {
        return Err(EINVAL);
    }
    let mut raw = [0u8; 4];
    val.read(&mut raw)?;
    Ok(i32::from_ne_bytes(raw))
}

/// The check for a new child of `listener`, made from the headers of the
/// SYN it came from (`syn`: IP and TCP headers, and the IP headers' length);
/// `None` if the listener does not require integrity (the child is an
/// ordinary connection). A listener that requires integrity but has lost its
/// keys (setting the length needs keys, removing them later does not) fails
/// closed: the child has nothing to check against ([`Check::Lost`]).
fn child_check(listener: &SockCtx, syn: Option<(&[u8], usize)>, rcu: &RcuSection) -> Option<Check> {
    let n = listener.integrity_len();
    if n == 0 {
        return None;
    }
    let Some(keys) = listener.keys(rcu) else {
        return Some(Check::Lost);
    };
    let syn = syn.and_then(|(h, ip_len)| SynHeaders::parse(h, ip_len));
    let check = match listener.mode() {
        Mode::Option => syn.and_then(|syn| from_knock(keys, &syn, n)),
        Mode::Isn => syn.and_then(|syn| from_isn(keys.isn(), &syn, n)),
    };
    Some(check.unwrap_or(Check::Lost))
}
