// SPDX-License-Identifier: GPL-2.0
//! `knock protect` / `knock unprotect`: the administrator's per-port policy,
//! over the module's generic netlink family (include/uapi/linux/tcp_stealth.h).

use std::io;

const NETLINK_GENERIC: i32 = 16;
const NETLINK_EXT_ACK: i32 = 11;
const NETLINK_CAP_ACK: i32 = 10;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;

use crate::uapi::{
    A_FAMILY, A_INTEGRITY_LEN, A_PORT, A_SECRET, GENL_NAME as FAMILY, GENL_VERSION as VERSION,
};
pub use crate::uapi::{
    CMD_PROTECT, CMD_UNPROTECT, MAX_KEYS, POLICY_INTEGRITY_MAX as MAX_INTEGRITY_LEN,
};

/// The address families a policy port is protected for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// IPv4 and IPv6
    #[default]
    Both,
    /// IPv4 only: the port stays open over IPv6
    Ipv4,
    /// IPv6 only: the port stays open over IPv4
    Ipv6,
}

impl Family {
    /// The word of the policy file, the listing and `--family`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Both => "both",
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// The family named `word` (`ipv4`, `ipv6` or `both`).
    pub fn from_name(word: &str) -> Option<Self> {
        [Family::Both, Family::Ipv4, Family::Ipv6]
            .into_iter()
            .find(|f| f.name() == word)
    }

    /// `TCP_STEALTH_A_FAMILY`'s value (`AF_INET`/`AF_INET6`); none for
    /// both, which modules older than the attribute understand too.
    fn attr(self) -> Option<u16> {
        match self {
            Family::Both => None,
            Family::Ipv4 => Some(libc::AF_INET as u16),
            Family::Ipv6 => Some(libc::AF_INET6 as u16),
        }
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A netlink request: header, genl header, attributes. `ack`: ask for an
/// acknowledgement (the answer to a command that returns no data); a query
/// gets its answer only, so that no stray ACK is left for the next call.
pub fn message(ty: u16, cmd: u8, version: u8, ack: bool, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; 20];
    m[16] = cmd;
    m[17] = version;
    for (t, data) in attrs {
        let len = 4 + data.len();
        m.extend_from_slice(&(len as u16).to_ne_bytes());
        m.extend_from_slice(&t.to_ne_bytes());
        m.extend_from_slice(data);
        m.resize(align4(m.len()), 0);
    }
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&ty.to_ne_bytes());
    let flags = if ack {
        NLM_F_REQUEST | NLM_F_ACK
    } else {
        NLM_F_REQUEST
    };
    m[6..8].copy_from_slice(&flags.to_ne_bytes());
    m
}

/// The attributes in `buf`: (type, payload).
pub fn attrs(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((ty, &buf[4..len]));
        buf = &buf[align4(len).min(buf.len())..];
    }
    out
}

/// What the kernel answered: a genl message's attributes, or an error
/// (negative errno and the extended ACK's message, if any).
pub enum Reply {
    Attrs(Vec<u8>),
    Error(i32, Option<String>),
}

/// Parses the first message of a reply.
pub fn parse_reply(buf: &[u8]) -> Result<Reply, String> {
    if buf.len() < 16 {
        return Err("short netlink reply".into());
    }
    let len = (u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize).min(buf.len());
    let ty = u16::from_ne_bytes([buf[4], buf[5]]);
    let flags = u16::from_ne_bytes([buf[6], buf[7]]);
    if ty == NLMSG_ERROR {
        if len < 20 {
            return Err("short netlink error".into());
        }
        let err = i32::from_ne_bytes(buf[16..20].try_into().unwrap());
        // With NETLINK_CAP_ACK the request comes back as its header only.
        let msg = (flags & NLM_F_ACK_TLVS != 0 && len > 36)
            .then(|| attrs(&buf[36..len]))
            .and_then(|a| {
                a.into_iter()
                    .find(|(t, _)| *t == NLMSGERR_ATTR_MSG)
                    .map(|(_, v)| {
                        String::from_utf8_lossy(v)
                            .trim_end_matches('\0')
                            .to_string()
                    })
            });
        return Ok(Reply::Error(err, msg));
    }
    Ok(Reply::Attrs(buf[20.min(len)..len].to_vec()))
}

struct Socket(i32);

impl Drop for Socket {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

impl Socket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let s = Socket(fd);
        for opt in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            let one: i32 = 1;
            // SAFETY: `one` outlives the call; errors only lose the messages.
            unsafe { libc::setsockopt(fd, libc::SOL_NETLINK, opt, (&one as *const i32).cast(), 4) };
        }
        Ok(s)
    }

    fn call(&self, msg: &[u8]) -> Result<Reply, String> {
        // SAFETY: `msg` is valid for its length.
        if unsafe { libc::send(self.0, msg.as_ptr().cast(), msg.len(), 0) } < 0 {
            return Err(format!("netlink send: {}", io::Error::last_os_error()));
        }
        let mut buf = vec![0u8; 8192];
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(format!("netlink recv: {}", io::Error::last_os_error()));
        }
        parse_reply(&buf[..n as usize])
    }
}

fn family_id(s: &Socket) -> Result<u16, String> {
    let mut name = FAMILY.as_bytes().to_vec();
    name.push(0);
    let msg = message(
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        1,
        false,
        &[(CTRL_ATTR_FAMILY_NAME, &name)],
    );
    match s.call(&msg)? {
        Reply::Error(e, _) if e == -libc::ENOENT => Err(
            "the tcp_stealth generic netlink family is not there: is the module loaded? (modprobe tcp_stealth)"
                .into(),
        ),
        Reply::Error(e, _) => Err(format!("looking up the netlink family: {}", io::Error::from_raw_os_error(-e))),
        Reply::Attrs(a) => attrs(&a)
            .into_iter()
            .find(|(t, v)| *t == CTRL_ATTR_FAMILY_ID && v.len() >= 2)
            .map(|(_, v)| u16::from_ne_bytes([v[0], v[1]]))
            .ok_or_else(|| "no family id in the controller's answer".into()),
    }
}

/// What to protect a port with: 1 to [`MAX_KEYS`] secrets, an integrity
/// length (0: none) and the families.
#[derive(Default)]
pub struct Protection<'a> {
    pub secrets: &'a [Vec<u8>],
    pub integrity: u32,
    pub family: Family,
}

/// The attributes of a policy request: for `CMD_PROTECT`, `p`'s.
fn request_attrs(cmd: u8, port: u16, p: &Protection<'_>) -> Vec<(u16, Vec<u8>)> {
    let mut attrs = vec![(A_PORT, port.to_ne_bytes().to_vec())];
    if cmd != CMD_PROTECT {
        return attrs;
    }
    for secret in p.secrets {
        attrs.push((A_SECRET, secret.clone()));
    }
    if p.integrity > 0 {
        attrs.push((A_INTEGRITY_LEN, p.integrity.to_ne_bytes().to_vec()));
    }
    if let Some(af) = p.family.attr() {
        attrs.push((A_FAMILY, af.to_ne_bytes().to_vec()));
    }
    attrs
}

/// Sends one policy command for `port`: for `CMD_PROTECT`, with `p`.
pub fn request(cmd: u8, port: u16, p: &Protection<'_>) -> Result<(), String> {
    let s = Socket::open().map_err(|e| format!("netlink socket: {e}"))?;
    let id = family_id(&s)?;
    let owned = request_attrs(cmd, port, p);
    let attrs: Vec<(u16, &[u8])> = owned.iter().map(|(t, v)| (*t, &v[..])).collect();
    match s.call(&message(id, cmd, VERSION, true, &attrs))? {
        Reply::Error(0, _) | Reply::Attrs(_) => Ok(()),
        Reply::Error(e, msg) => {
            let what = if cmd == CMD_PROTECT {
                "protect"
            } else {
                "unprotect"
            };
            let mut m = format!("{what} port {port}: {}", io::Error::from_raw_os_error(-e));
            let unknown = msg
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().contains("unknown attribute"));
            if let Some(msg) = msg {
                m.push_str(&format!(" ({msg})"));
            }
            if e == -libc::EPERM {
                m.push_str(" (needs CAP_NET_ADMIN in the namespace)");
            }
            if unknown && p.family != Family::Both {
                m.push_str(" (this module predates `family`: it protects both families only)");
            }
            Err(m)
        }
    }
}

/// A port as /proc/net/tcp_stealth_policy lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub port: u16,
    pub keys: usize,
    pub integrity: u32,
    pub family: Family,
}

/// Parses /proc/net/tcp_stealth_policy: `port P keys K integrity N` lines,
/// ending in `family ipv4` or `family ipv6` for a port protected for one
/// family (an older module writes `port P` only).
pub fn parse_listing(text: &str) -> Result<Vec<Listed>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<u32, String> {
            w.get(i)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("unexpected line in the policy listing: {line:?}"))
        };
        let bad = || format!("unexpected line in the policy listing: {line:?}");
        let listed = match w.as_slice() {
            ["port", _] => Listed {
                port: num(1)? as u16,
                keys: 1,
                integrity: 0,
                family: Family::Both,
            },
            ["port", _, "keys", _, "integrity", _, rest @ ..] => Listed {
                port: u16::try_from(num(1)?).map_err(|e| e.to_string())?,
                keys: num(3)? as usize,
                integrity: num(5)?,
                family: match rest {
                    [] => Family::Both,
                    ["family", f] => Family::from_name(f)
                        .filter(|f| *f != Family::Both)
                        .ok_or_else(bad)?,
                    _ => return Err(bad()),
                },
            },
            _ => return Err(bad()),
        };
        out.push(listed);
    }
    Ok(out)
}

/// The ports protected in the current namespace.
pub fn listing() -> Result<Vec<Listed>, String> {
    let path = "/proc/net/tcp_stealth_policy";
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            format!("{path} is not there: is the module loaded? (modprobe tcp_stealth)")
        } else {
            format!("{path}: {e}")
        }
    })?;
    parse_listing(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout() {
        let m = message(
            0x20,
            CMD_PROTECT,
            1,
            true,
            &[(A_PORT, &22u16.to_ne_bytes()), (A_SECRET, b"abc")],
        );
        // 16 header + 4 genl + 8 port (6 padded) + 8 secret (7 padded).
        assert_eq!(m.len(), 36);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 36);
        assert_eq!(m[16], CMD_PROTECT);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST | NLM_F_ACK);
        let q = message(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, false, &[]);
        assert_eq!(u16::from_ne_bytes([q[6], q[7]]), NLM_F_REQUEST);
        let a = attrs(&m[20..]);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0], (A_PORT, &22u16.to_ne_bytes()[..]));
        assert_eq!(a[1], (A_SECRET, &b"abc"[..]));
    }

    #[test]
    fn family_attribute() {
        let secrets = [b"k".to_vec()];
        let with = |family| Protection {
            secrets: &secrets,
            integrity: 0,
            family,
        };
        // Both families: no attribute, as modules before it expect.
        let a = request_attrs(CMD_PROTECT, 22, &with(Family::Both));
        assert!(a.iter().all(|(t, _)| *t != A_FAMILY));
        let a = request_attrs(CMD_PROTECT, 22, &with(Family::Ipv4));
        assert_eq!(a.last().unwrap(), &(A_FAMILY, 2u16.to_ne_bytes().to_vec()));
        let a = request_attrs(CMD_PROTECT, 22, &with(Family::Ipv6));
        assert_eq!(a.last().unwrap(), &(A_FAMILY, 10u16.to_ne_bytes().to_vec()));
        // Unprotect takes the port only.
        let a = request_attrs(CMD_UNPROTECT, 22, &with(Family::Ipv6));
        assert_eq!(a, vec![(A_PORT, 22u16.to_ne_bytes().to_vec())]);
        for f in [Family::Both, Family::Ipv4, Family::Ipv6] {
            assert_eq!(Family::from_name(f.name()), Some(f));
        }
        assert_eq!(Family::from_name("inet"), None);
    }

    #[test]
    fn error_reply_with_message() {
        let mut r = vec![0u8; 36];
        r[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        r[6..8].copy_from_slice(&NLM_F_ACK_TLVS.to_ne_bytes());
        r[16..20].copy_from_slice(&(-22i32).to_ne_bytes());
        let text = b"empty secret\0";
        r.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        r.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        r.extend_from_slice(text);
        let len = r.len() as u32;
        r[0..4].copy_from_slice(&len.to_ne_bytes());
        match parse_reply(&r).unwrap() {
            Reply::Error(e, Some(m)) => assert_eq!((e, m.as_str()), (-22, "empty secret")),
            _ => panic!("not parsed as an error with a message"),
        }
        assert!(parse_reply(&r[..10]).is_err());
    }

    #[test]
    fn listing() {
        let l = parse_listing("port 22 keys 2 integrity 32\nport 80\n\n").unwrap();
        assert_eq!(
            l,
            vec![
                Listed {
                    port: 22,
                    keys: 2,
                    integrity: 32,
                    family: Family::Both
                },
                Listed {
                    port: 80,
                    keys: 1,
                    integrity: 0,
                    family: Family::Both
                }
            ]
        );
        let l = parse_listing("port 53 keys 1 integrity 0 family ipv6\n").unwrap();
        assert_eq!((l[0].port, l[0].family), (53, Family::Ipv6));
        assert!(parse_listing("port x\n").is_err());
        assert!(parse_listing("ports 22\n").is_err());
        for bad in ["family both", "family ipv5", "family", "family ipv4 x", "x"] {
            let line = format!("port 22 keys 1 integrity 0 {bad}\n");
            assert!(parse_listing(&line).is_err(), "{line:?}");
        }
    }
}
