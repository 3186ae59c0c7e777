// SPDX-License-Identifier: GPL-2.0

//! Requests of the administrator's policy (generic netlink family
//! `tcp_stealth`, see `include/uapi/linux/tcp_stealth.h`).
//!
//! The kernel's netlink core checks the attribute types against the
//! family's attribute policy first; this parser reads the attribute stream
//! itself (it is the only place that sees repeated `TCP_STEALTH_A_SECRET`
//! attributes) and checks everything again, so that every bad request is
//! refused here with a reason, whatever the netlink core let through.
//!
//! Attributes are `struct nlattr` (native-endian `u16` length, header
//! included, and `u16` type) followed by the payload, each padded to 4
//! bytes; the last one's padding may be missing.

use super::{MAX_KEYS, MAX_SECRET_LEN};

/// `TCP_STEALTH_A_PORT`: `u16`, 1..65535.
pub const POLICY_A_PORT: u16 = 1;
/// `TCP_STEALTH_A_SECRET`: 1 to [`MAX_SECRET_LEN`] bytes, once per key, up
/// to [`MAX_KEYS`] times.
pub const POLICY_A_SECRET: u16 = 2;
/// `TCP_STEALTH_A_INTEGRITY_LEN`: `u32`, 0 to [`MAX_POLICY_INTEGRITY_LEN`].
pub const POLICY_A_INTEGRITY_LEN: u16 = 3;
/// `TCP_STEALTH_A_FAMILY`: `u16`, `AF_INET` or `AF_INET6`; absent: both.
pub const POLICY_A_FAMILY: u16 = 4;

/// Linux's `AF_INET`.
const AF_INET: u16 = 2;
/// Linux's `AF_INET6`.
const AF_INET6: u16 = 10;

/// Longest integrity length of a policy port. The input hook checks the
/// first bytes of a connection to a policy port in the segment that
/// carries them, which must hold all of them: 512 bytes fit in one segment
/// on every path (IPv4's default segment size of 536 bytes, less the 12 of
/// the timestamp option, still holds them; IPv6's minimum MTU leaves more).
pub const MAX_POLICY_INTEGRITY_LEN: usize = 512;

/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`.
const NLA_FLAGS: u16 = 0xc000;

/// The policy commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyCmd {
    /// `TCP_STEALTH_CMD_PROTECT`: a port, its secrets, its integrity length.
    Protect,
    /// `TCP_STEALTH_CMD_UNPROTECT`: a port.
    Unprotect,
}

/// The address families a policy port is protected for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyFamily {
    /// IPv4 and IPv6 (no `TCP_STEALTH_A_FAMILY`).
    Both,
    /// IPv4 only: the port stays open over IPv6.
    Ipv4,
    /// IPv6 only: the port stays open over IPv4.
    Ipv6,
}

impl PolicyFamily {
    /// Whether a segment over IPv6 (`true`) or IPv4 (`false`) is covered.
    pub fn covers(self, ipv6: bool) -> bool {
        match self {
            Self::Both => true,
            Self::Ipv4 => !ipv6,
            Self::Ipv6 => ipv6,
        }
    }

    /// What the policy listing appends to a port's line: `""` for both,
    /// else `" family ipv4"` or `" family ipv6"`.
    pub fn listing_suffix(self) -> &'static str {
        match self {
            Self::Both => "",
            Self::Ipv4 => " family ipv4",
            Self::Ipv6 => " family ipv6",
        }
    }
}

/// A request that passed [`parse_policy_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyRequest<'a> {
    /// The port, never 0.
    pub port: u16,
    secrets: [&'a [u8]; MAX_KEYS],
    n_secrets: usize,
    /// Bytes a client's knock must commit to (0: none), at most
    /// [`MAX_POLICY_INTEGRITY_LEN`]. Always 0 for
    /// [`PolicyCmd::Unprotect`].
    pub integrity_len: u16,
    /// The families it protects ([`PolicyFamily::Both`] for
    /// [`PolicyCmd::Unprotect`]).
    pub family: PolicyFamily,
}

impl<'a> PolicyRequest<'a> {
    /// The secrets in the order given (1 to [`MAX_KEYS`] for
    /// [`PolicyCmd::Protect`], none for [`PolicyCmd::Unprotect`]), no two
    /// of them giving the same key.
    pub fn secrets(&self) -> &[&'a [u8]] {
        &self.secrets[..self.n_secrets]
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyReject {
    /// An attribute header is cut short, or its length is below 4 or runs
    /// past the message.
    Malformed,
    /// A type this family does not define.
    UnknownAttribute,
    /// The nested or network-byte-order flag on an attribute.
    AttributeFlags,
    /// An attribute that this command does not take.
    NotForCommand,
    /// The port, the integrity length or the family twice.
    Twice,
    /// No `TCP_STEALTH_A_PORT`.
    NoPort,
    /// A port attribute that is not 2 bytes.
    PortSize,
    /// Port 0.
    PortZero,
    /// No `TCP_STEALTH_A_SECRET` in a protect request.
    NoSecret,
    /// An empty secret.
    SecretEmpty,
    /// A secret over [`MAX_SECRET_LEN`] bytes.
    SecretLong,
    /// More than [`MAX_KEYS`] secrets.
    TooManySecrets,
    /// Two secrets that give the same key (equal once zero-padded).
    SameSecret,
    /// An integrity-length attribute that is not 4 bytes.
    IntegritySize,
    /// An integrity length over [`MAX_POLICY_INTEGRITY_LEN`].
    IntegrityRange,
    /// A family attribute that is not 2 bytes.
    FamilySize,
    /// A family other than `AF_INET` and `AF_INET6`.
    FamilyValue,
}

/// The errno class of a [`PolicyReject`], as the uapi header documents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyErrno {
    /// `EINVAL`.
    Inval,
    /// `ERANGE`: a value out of its range.
    Range,
    /// `E2BIG`: more secrets than a port can hold.
    TooBig,
    /// `EEXIST`: the same key twice.
    Exists,
}

impl PolicyReject {
    /// The errno the request fails with.
    pub fn errno(self) -> PolicyErrno {
        match self {
            Self::PortZero | Self::SecretLong | Self::IntegrityRange => PolicyErrno::Range,
            Self::TooManySecrets => PolicyErrno::TooBig,
            Self::SameSecret => PolicyErrno::Exists,
            _ => PolicyErrno::Inval,
        }
    }

    /// The extended ACK's message, NUL-terminated (netlink sends it as a C
    /// string).
    pub fn message_nul(self) -> &'static [u8] {
        match self {
            Self::Malformed => b"malformed attribute\0",
            Self::UnknownAttribute => b"unknown attribute\0",
            Self::AttributeFlags => b"nested or byte-order flag on an attribute\0",
            Self::NotForCommand => b"attribute not taken by this command\0",
            Self::Twice => b"attribute given twice\0",
            Self::NoPort => b"no port\0",
            Self::PortSize => b"port must be a u16\0",
            Self::PortZero => b"port 0\0",
            Self::NoSecret => b"no secret\0",
            Self::SecretEmpty => b"empty secret\0",
            Self::SecretLong => b"secret longer than 64 bytes\0",
            Self::TooManySecrets => b"more secrets than a port can hold (4)\0",
            Self::SameSecret => b"the same secret twice\0",
            Self::IntegritySize => b"integrity length must be a u32\0",
            Self::IntegrityRange => b"integrity length over 512\0",
            Self::FamilySize => b"family must be a u16\0",
            Self::FamilyValue => b"family must be AF_INET or AF_INET6\0",
        }
    }

    /// The message without its NUL.
    pub fn message(self) -> &'static str {
        let m = self.message_nul();
        core::str::from_utf8(&m[..m.len() - 1]).unwrap_or("")
    }
}

/// A refused request: why, and the offset in the attribute stream of the
/// attribute at fault (`None`: a missing attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// Why.
    pub reason: PolicyReject,
    /// Where the attribute at fault starts.
    pub offset: Option<usize>,
}

fn fail<T>(reason: PolicyReject, offset: Option<usize>) -> Result<T, PolicyError> {
    Err(PolicyError { reason, offset })
}

/// Whether two secrets derive the same key: the key is made from the
/// secret zero-padded to [`MAX_SECRET_LEN`] bytes.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    (0..n).all(|i| a.get(i).copied().unwrap_or(0) == b.get(i).copied().unwrap_or(0))
}

/// Checks an attribute that only protect takes, and at most once; `seen`
/// records that it came.
fn protect_once(cmd: PolicyCmd, seen: &mut bool) -> Result<(), PolicyReject> {
    if cmd != PolicyCmd::Protect {
        return Err(PolicyReject::NotForCommand);
    }
    if core::mem::replace(seen, true) {
        return Err(PolicyReject::Twice);
    }
    Ok(())
}

/// Parses the attributes of a policy request (the generic netlink
/// message's payload after the genl header) for command `cmd`.
///
/// Protect takes one port, 1 to [`MAX_KEYS`] distinct secrets, at most
/// one integrity length and at most one family; unprotect takes one port
/// only. The secrets are
/// borrowed from `attrs`.
pub fn parse_policy_request(
    cmd: PolicyCmd,
    attrs: &[u8],
) -> Result<PolicyRequest<'_>, PolicyError> {
    let mut req = PolicyRequest {
        port: 0,
        secrets: [&[]; MAX_KEYS],
        n_secrets: 0,
        integrity_len: 0,
        family: PolicyFamily::Both,
    };
    let (mut port_seen, mut integrity_seen, mut family_seen) = (false, false, false);
    let mut at = 0usize;
    while at < attrs.len() {
        let here = Some(at);
        let Some(hdr) = attrs.get(at..at + 4) else {
            return fail(PolicyReject::Malformed, here);
        };
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        let raw_type = u16::from_ne_bytes([hdr[2], hdr[3]]);
        let Some(payload) = attrs.get(at + 4..at + len.max(4)).filter(|_| len >= 4) else {
            return fail(PolicyReject::Malformed, here);
        };
        if raw_type & NLA_FLAGS != 0 {
            return fail(PolicyReject::AttributeFlags, here);
        }
        match raw_type {
            POLICY_A_PORT => {
                if port_seen {
                    return fail(PolicyReject::Twice, here);
                }
                port_seen = true;
                let p: [u8; 2] = match payload.try_into() {
                    Ok(p) => p,
                    Err(_) => return fail(PolicyReject::PortSize, here),
                };
                req.port = u16::from_ne_bytes(p);
                if req.port == 0 {
                    return fail(PolicyReject::PortZero, here);
                }
            }
            POLICY_A_SECRET => {
                if cmd != PolicyCmd::Protect {
                    return fail(PolicyReject::NotForCommand, here);
                }
                if payload.is_empty() {
                    return fail(PolicyReject::SecretEmpty, here);
                }
                if payload.len() > MAX_SECRET_LEN {
                    return fail(PolicyReject::SecretLong, here);
                }
                if req.n_secrets == MAX_KEYS {
                    return fail(PolicyReject::TooManySecrets, here);
                }
                if req.secrets().iter().any(|s| same_key(s, payload)) {
                    return fail(PolicyReject::SameSecret, here);
                }
                req.secrets[req.n_secrets] = payload;
                req.n_secrets += 1;
            }
            POLICY_A_INTEGRITY_LEN => {
                if let Err(r) = protect_once(cmd, &mut integrity_seen) {
                    return fail(r, here);
                }
                let n: [u8; 4] = match payload.try_into() {
                    Ok(n) => n,
                    Err(_) => return fail(PolicyReject::IntegritySize, here),
                };
                match u16::try_from(u32::from_ne_bytes(n)) {
                    Ok(n) if usize::from(n) <= MAX_POLICY_INTEGRITY_LEN => req.integrity_len = n,
                    _ => return fail(PolicyReject::IntegrityRange, here),
                }
            }
            POLICY_A_FAMILY => {
                if let Err(r) = protect_once(cmd, &mut family_seen) {
                    return fail(r, here);
                }
                let f: [u8; 2] = match payload.try_into() {
                    Ok(f) => f,
                    Err(_) => return fail(PolicyReject::FamilySize, here),
                };
                req.family = match u16::from_ne_bytes(f) {
                    AF_INET => PolicyFamily::Ipv4,
                    AF_INET6 => PolicyFamily::Ipv6,
                    _ => return fail(PolicyReject::FamilyValue, here),
                };
            }
            _ => return fail(PolicyReject::UnknownAttribute, here),
        }
        // The next attribute starts at the next multiple of 4; the last
        // one's padding may be missing.
        at = (at + len + 3) & !3;
    }
    if !port_seen {
        return fail(PolicyReject::NoPort, None);
    }
    if cmd == PolicyCmd::Protect && req.n_secrets == 0 {
        return fail(PolicyReject::NoSecret, None);
    }
    Ok(req)
}
