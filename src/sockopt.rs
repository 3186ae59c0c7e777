// SPDX-License-Identifier: GPL-2.0

//! Per-socket state and the TCP_STEALTH socket options (see
//! `include/uapi/linux/tcp_stealth.h`).

use crate::ffi::{
    crypto::KernelCrypto,
    errno,
    pernet::Net,
    sock::{LockedSock, OptOut, OptVal, RcuBox, TcpState},
    RcuSection,
};
use crate::proto::{KnockKey, MAX_KEYS, MAX_SECRET_LEN};
use kernel::prelude::*;

/// `TCP_STEALTH`: set the secret (replacing all keys); read the info.
pub(crate) const TCP_STEALTH: i32 = 0x5354;
/// `TCP_STEALTH_KEY`: add or remove one key.
pub(crate) const TCP_STEALTH_KEY: i32 = 0x5357;
/// The range of option names the kernel patch reserves for the module.
const OPT_FIRST: i32 = 0x5354;
const OPT_LAST: i32 = 0x535f;

const KEY_ADD: u32 = 1 << 0;
const KEY_DEL: u32 = 1 << 1;
/// `sizeof(struct tcp_stealth_key)`.
const KEY_STRUCT_LEN: usize = 8 + MAX_SECRET_LEN;

const INFO_ENABLED: u32 = 1 << 0;

/// TCP options that use SYN option space the knock needs.
const TCP_MD5SIG: i32 = 14;
const TCP_FASTOPEN_CONNECT: i32 = 30;
const TCP_MD5SIG_EXT: i32 = 32;
const TCP_AO_ADD_KEY: i32 = 38;

/// Whether `optname` at `SOL_TCP` belongs to the module.
pub(crate) fn is_ours(optname: i32) -> bool {
    (OPT_FIRST..=OPT_LAST).contains(&optname)
}

/// Whether `optname` would take the option space the knock needs.
pub(crate) fn conflicts(optname: i32) -> bool {
    matches!(
        optname,
        TCP_MD5SIG | TCP_MD5SIG_EXT | TCP_FASTOPEN_CONNECT | TCP_AO_ADD_KEY
    )
}

/// The keys of a socket. A client knocks with the first; a listener accepts
/// a knock made with any.
pub(crate) struct KeySet {
    keys: [KnockKey; MAX_KEYS],
    n: usize,
}

impl KeySet {
    fn one(key: KnockKey) -> Self {
        let mut set = Self::empty();
        set.keys[0] = key;
        set.n = 1;
        set
    }

    fn empty() -> Self {
        Self {
            keys: core::array::from_fn(|_| KnockKey::from_bytes(&[0; 32])),
            n: 0,
        }
    }

    /// The keys held.
    pub(crate) fn keys(&self) -> &[KnockKey] {
        &self.keys[..self.n]
    }

    fn position(&self, key: &KnockKey) -> Option<usize> {
        self.keys()
            .iter()
            .position(|k| crate::proto::ct_eq(k.mac_key(), key.mac_key()))
    }
}

/// The stealth state of one socket with the ULP.
pub(crate) struct SockCtx {
    keys: RcuBox<KeySet>,
}

impl SockCtx {
    /// A socket with the ULP but no key yet: it behaves as plain TCP.
    pub(crate) fn new() -> Self {
        Self {
            keys: RcuBox::new(),
        }
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
    fn set_keys(&self, sk: &LockedSock<'_>, keys: Option<KBox<KeySet>>) {
        let (was, now) = (self.keys.is_set(), keys.is_some());
        self.keys.replace(sk, keys);
        if was != now {
            sk.sock().net().state().stealth_socket(now);
        }
    }

    /// The socket is going away.
    pub(crate) fn release(&self, net: &Net) {
        if self.keys.is_set() {
            net.state().stealth_socket(false);
        }
    }

    /// Handles `setsockopt(IPPROTO_TCP, optname)` for the module's options.
    pub(crate) fn setsockopt(&self, sk: &LockedSock<'_>, optname: i32, val: &OptVal) -> Result {
        match optname {
            TCP_STEALTH => {
                if val.len() == 0 || val.len() > MAX_SECRET_LEN {
                    return Err(EINVAL);
                }
                let mut secret = [0u8; MAX_SECRET_LEN];
                val.read(&mut secret[..val.len()])?;
                check_state(sk)?;
                let key = derive(&secret[..val.len()])?;
                self.set_keys(sk, Some(KBox::new(KeySet::one(key), GFP_KERNEL)?));
                Ok(())
            }
            TCP_STEALTH_KEY => {
                if val.len() != KEY_STRUCT_LEN {
                    return Err(EINVAL);
                }
                let mut raw = [0u8; KEY_STRUCT_LEN];
                val.read(&mut raw)?;
                let flags = u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
                let len = u32::from_ne_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
                if (flags != KEY_ADD && flags != KEY_DEL) || len == 0 || len > MAX_SECRET_LEN {
                    return Err(EINVAL);
                }
                check_state(sk)?;
                let key = derive(&raw[8..8 + len])?;
                let mut set = KBox::new(KeySet::empty(), GFP_KERNEL)?;
                if let Some(old) = self.keys.get(sk) {
                    set.keys[..old.n].clone_from_slice(old.keys());
                    set.n = old.n;
                }
                match (flags, set.position(&key)) {
                    (KEY_ADD, Some(_)) => return Err(EEXIST),
                    (KEY_ADD, None) if set.n == MAX_KEYS => return Err(ENOSPC),
                    (KEY_ADD, None) => {
                        // The newest key goes first: a client knocks with it.
                        let n = set.n;
                        set.keys[..=n].rotate_right(1);
                        set.keys[0] = key;
                        set.n += 1;
                    }
                    (_, None) => return Err(ENOENT),
                    (_, Some(i)) => {
                        let n = set.n;
                        set.keys[i..n].rotate_left(1);
                        set.n -= 1;
                    }
                }
                let set = if set.n == 0 { None } else { Some(set) };
                self.set_keys(sk, set);
                Ok(())
            }
            _ => Err(errno::enoprotoopt()),
        }
    }

    /// Handles `getsockopt(IPPROTO_TCP, optname)` for the module's options.
    pub(crate) fn getsockopt(&self, sk: &LockedSock<'_>, optname: i32, out: &OptOut) -> Result {
        match optname {
            TCP_STEALTH => {
                let n = self.keys.get(sk).map_or(0, |k| k.n) as u32;
                let flags = if n > 0 { INFO_ENABLED } else { 0 };
                let mut info = [0u8; 8];
                info[..4].copy_from_slice(&flags.to_ne_bytes());
                info[4..].copy_from_slice(&n.to_ne_bytes());
                out.write(&info)
            }
            TCP_STEALTH_KEY => Err(errno::eopnotsupp()),
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

fn derive(secret: &[u8]) -> Result<KnockKey> {
    KnockKey::derive(secret, &KernelCrypto).map_err(|_| EINVAL)
}
