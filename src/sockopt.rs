// SPDX-License-Identifier: GPL-2.0

//! Per-socket state and the TCP_STEALTH socket options (see
//! `include/uapi/linux/tcp_stealth.h`).

use crate::ffi::{
    crypto::{KernelBlake2s, KernelCrypto},
    errno,
    hold::Hold,
    pernet::Net,
    rcu::SockRcu,
    sock::{LockedSock, OptOut, OptVal, TcpState},
    uapi::{
        self, TCP_STEALTH, TCP_STEALTH_INTEGRITY, TCP_STEALTH_INTEGRITY_LEN, TCP_STEALTH_KEY,
        TCP_STEALTH_MODE,
    },
    ulp::{CtxLock, Ulp, UlpVtable, SOCK_GFP},
    RcuSection,
};
use crate::integrity::Check;
use crate::proto::{
    self, CommitStart, IsnSecret, KeyOp, KnockKey, SecretBytes, KEY_REQUEST_LEN, MAX_INTEGRITY_LEN,
    MAX_KEYS, MAX_SECRET_LEN,
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
        crate::integrity::child_check(self, syn, rcu)
    }

    fn hold_timeout_secs(net: &Net) -> u32 {
        net.state::<crate::NetState>().integrity_timeout()
    }

    fn release(&self, net: &Net) {
        if self.keys.is_set() {
            net.state::<crate::NetState>().stealth_socket(false);
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

/// The keys of a socket. A client knocks with the first; a listener accepts
/// a knock made with any.
///
/// Each key is held in both forms: the derived v1 key of the option mode,
/// and the zero-padded raw secret that the ISN mode uses as is, so that the
/// mode can change independently of the keys.
pub(crate) struct KeySet {
    keys: [KnockKey; MAX_KEYS],
    isn: [IsnSecret; MAX_KEYS],
    n: usize,
    /// A listener that requires integrity: the [`CommitStart`] of each key
    /// for its length, from which each connection's check starts (one
    /// BLAKE2s compression fewer per connection). Made from these keys
    /// only, for this socket's connections only, and wiped with them.
    starts: Option<KBox<CommitStarts>>,
}

/// [`KeySet::starts`], in the order of the keys.
type CommitStarts = [Option<CommitStart<KernelBlake2s>>; MAX_KEYS];

impl Clone for KeySet {
    /// The same keys, without [`KeySet::starts`] (which
    /// [`KeySet::prepare`] makes again where wanted).
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            isn: self.isn.clone(),
            n: self.n,
            starts: None,
        }
    }
}

impl KeySet {
    /// The key set of 1 to [`MAX_KEYS`] secrets (1 to 64 bytes each), in
    /// the order given.
    pub(crate) fn from_secrets(secrets: &[&[u8]]) -> Result<Self> {
        if secrets.is_empty() || secrets.len() > MAX_KEYS {
            return Err(EINVAL);
        }
        let mut set = Self::empty();
        for secret in secrets.iter().rev() {
            let (key, isn) = derive(secret)?;
            set.push_front(key, isn);
        }
        Ok(set)
    }

    /// The set of one key, filled in directly: building it as `empty()`
    /// then `push_front()` with fillers made by `from_fn` cost about 500
    /// instructions more per `setsockopt(TCP_STEALTH)`.
    fn one(key: KnockKey, isn: IsnSecret) -> Self {
        let mut set = Self::empty();
        set.keys[0] = key;
        set.isn[0] = isn;
        set.n = 1;
        set
    }

    fn empty() -> Self {
        Self {
            keys: [KnockKey::ZERO; MAX_KEYS],
            isn: [IsnSecret::ZERO; MAX_KEYS],
            n: 0,
            starts: None,
        }
    }

    /// The check start of key `i` for commitments over `n` bytes, if
    /// [`KeySet::prepare`] made it (for that `n`).
    pub(crate) fn commit_start(&self, i: usize, n: usize) -> Option<&CommitStart<KernelBlake2s>> {
        self.starts
            .as_deref()?
            .get(i)?
            .as_ref()
            .filter(|s| s.covers() == n)
    }

    /// The length [`KeySet::starts`] are for (0: none).
    fn prepared_len(&self) -> usize {
        self.starts
            .as_deref()
            .and_then(|s| s.first()?.as_ref())
            .map_or(0, |s| s.covers())
    }

    /// Makes [`KeySet::starts`] for connections that commit to `n` first
    /// bytes (none for 0). Best effort: without them (no memory), each
    /// check starts from the key.
    fn prepare(&mut self, n: usize) {
        self.starts = None;
        if n == 0 || self.n == 0 {
            return;
        }
        let Ok(mut starts) = KBox::new([const { None }; MAX_KEYS], SOCK_GFP) else {
            return;
        };
        for (start, key) in starts.iter_mut().zip(self.keys()) {
            *start = CommitStart::new(key, n).ok();
        }
        self.starts = Some(starts);
    }

    /// The keys held (option mode).
    pub(crate) fn keys(&self) -> &[KnockKey] {
        &self.keys[..self.n]
    }

    /// The same keys as raw secrets (ISN mode), in the same order.
    pub(crate) fn isn(&self) -> &[IsnSecret] {
        &self.isn[..self.n]
    }

    /// Makes `key` the first (newest) key; the caller checks there is room.
    fn push_front(&mut self, key: KnockKey, isn: IsnSecret) {
        let n = self.n;
        self.keys[..=n].rotate_right(1);
        self.isn[..=n].rotate_right(1);
        self.keys[0] = key;
        self.isn[0] = isn;
        self.n += 1;
    }

    /// Removes the key at `i`.
    fn remove(&mut self, i: usize) {
        let n = self.n;
        self.keys[i..n].rotate_left(1);
        self.isn[i..n].rotate_left(1);
        self.n -= 1;
    }

    fn position(&self, key: &KnockKey) -> Option<usize> {
        self.keys()
            .iter()
            .position(|k| crate::proto::ct_eq(k.mac_key(), key.mac_key()))
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
                .state::<crate::NetState>()
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
                let set = if set.n == 0 { None } else { Some(set) };
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
                    // instead (`integrity::child_check`).
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

/// Both forms of a key: the v1 key and the original's padded secret.
fn derive(secret: &[u8]) -> Result<(KnockKey, IsnSecret)> {
    let key = KnockKey::derive(secret, &KernelCrypto).map_err(|_| EINVAL)?;
    let isn = IsnSecret::new(secret).map_err(|_| EINVAL)?;
    Ok((key, isn))
}
