// SPDX-License-Identifier: GPL-2.0
//! The socket options of include/uapi/linux/tcp_stealth.h, and the knocking
//! connect.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub use crate::uapi::{
    TCP_STEALTH, TCP_STEALTH_INTEGRITY, TCP_STEALTH_MODE, TCP_STEALTH_MODE_ISN,
    TCP_STEALTH_MODE_OPTION, ULP_NAME,
};

pub const TCP_ULP: libc::c_int = 31;

/// A new TCP socket (close-on-exec).
pub fn tcp_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_TCP,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// setsockopt(fd, IPPROTO_TCP, opt, buf).
pub fn set_tcp_opt(fd: &OwnedFd, opt: libc::c_int, buf: &[u8]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `buf`.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            opt,
            buf.as_ptr().cast(),
            buf.len() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A stealth option, attaching the ULP first if this kernel needs it: try
/// the option alone (enough with the kernel patch); on ENOPROTOOPT attach
/// the "stealth" ULP and try again.
pub fn set_stealth_opt(fd: &OwnedFd, opt: libc::c_int, buf: &[u8]) -> Result<(), String> {
    match set_tcp_opt(fd, opt, buf) {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
        Err(e) => return Err(format!("{}: {}", opt_name(opt), explain(opt, &e))),
    }
    set_tcp_opt(fd, TCP_ULP, ULP_NAME).map_err(|e| {
        format!(
            "TCP_ULP \"stealth\": {} (is the tcp_stealth module loaded? try `modprobe tcp_stealth`)",
            e
        )
    })?;
    set_tcp_opt(fd, opt, buf).map_err(|e| format!("{}: {}", opt_name(opt), explain(opt, &e)))
}

pub fn opt_name(opt: libc::c_int) -> &'static str {
    match opt {
        TCP_STEALTH => "TCP_STEALTH",
        TCP_STEALTH_INTEGRITY => "TCP_STEALTH_INTEGRITY",
        TCP_STEALTH_MODE => "TCP_STEALTH_MODE",
        TCP_ULP => "TCP_ULP",
        _ => "setsockopt",
    }
}

/// The error with a hint from the uapi header's list.
fn explain(opt: libc::c_int, e: &io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(libc::ENOPROTOOPT) => " (is the tcp_stealth module loaded?)",
        Some(libc::EBUSY) => " (TCP-MD5, TCP-AO or TCP Fast Open leave no room for the knock)",
        Some(libc::EINVAL) if opt == TCP_STEALTH => " (a secret is 1 to 64 bytes)",
        _ => "",
    };
    format!("{e}{hint}")
}

fn family_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

fn to_raw(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// Why one address failed.
pub enum ConnectError {
    /// Setting the knock up failed: never connect without it.
    Knock(String),
    /// The connection itself failed (try the next address).
    Connect(io::Error),
}

/// Connects to `addr` with the knock: TCP_STEALTH with `secret` and, if
/// given, TCP_STEALTH_INTEGRITY with `commit`, both before connect().
pub fn knock_connect(
    addr: &SocketAddr,
    secret: &[u8],
    commit: Option<&[u8]>,
) -> Result<TcpStream, ConnectError> {
    let fd =
        tcp_socket(family_of(addr)).map_err(|e| ConnectError::Knock(format!("socket: {e}")))?;
    set_stealth_opt(&fd, TCP_STEALTH, secret).map_err(ConnectError::Knock)?;
    if let Some(c) = commit {
        set_stealth_opt(&fd, TCP_STEALTH_INTEGRITY, c).map_err(ConnectError::Knock)?;
    }
    let (ss, len) = to_raw(addr);
    // SAFETY: `ss` holds a valid address of `len` bytes.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&ss as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if r != 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(ConnectError::Connect(e));
        }
        // An interrupted blocking connect goes on in the background: wait
        // for it like a non-blocking one.
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        while unsafe { libc::poll(&mut pfd, 1, -1) } < 0 {}
        let mut err: libc::c_int = 0;
        let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `elen` are valid for writing.
        unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut elen,
            )
        };
        if err != 0 {
            return Err(ConnectError::Connect(io::Error::from_raw_os_error(err)));
        }
    }
    Ok(TcpStream::from(fd))
}

/// Which way a socket gets the module's ULP on this kernel.
#[derive(Debug, PartialEq, Eq)]
pub enum KernelPath {
    /// The kernel patch: TCP_STEALTH attached the "stealth" ULP itself
    /// (seen with getsockopt(TCP_ULP) on the probe socket).
    Patched,
    /// No patch: TCP_STEALTH alone fails with ENOPROTOOPT, and works after
    /// TCP_ULP "stealth", which knock and the shim set first.
    Ulp,
    /// Not found out (the reason).
    Unknown(String),
}

/// getsockopt(fd, IPPROTO_TCP, TCP_ULP): the name of the socket's ULP
/// ("" if none).
pub fn ulp_name(fd: &OwnedFd) -> io::Result<String> {
    let mut buf = [0u8; 16];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `len` are valid for writing, `len` is buf's size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            TCP_ULP,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let name = &buf[..(len as usize).min(buf.len())];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Ok(String::from_utf8_lossy(&name[..end]).into_owned())
}

/// What a probe of the running kernel found.
pub struct Probe {
    /// TCP_STEALTH worked on a fresh socket without TCP_ULP.
    pub patched: Result<(), io::Error>,
    /// Which way sockets get the ULP.
    pub path: KernelPath,
    /// Knock modes the module accepted.
    pub modes: Vec<&'static str>,
}

/// Probes the kernel: TCP_STEALTH alone on a fresh socket (works only with
/// the patch and the module), then which TCP_STEALTH_MODE values a socket
/// with the ULP accepts. `module_loaded`: only then is the ULP attached
/// (attaching it could load the module, and `status` changes nothing).
pub fn probe(module_loaded: bool) -> io::Result<Probe> {
    let fd = tcp_socket(libc::AF_INET)?;
    let patched = set_tcp_opt(&fd, TCP_STEALTH, b"knock status probe");
    let path = match &patched {
        // Accepted: the ULP must be on the socket now.
        Ok(()) => match ulp_name(&fd) {
            Ok(n) if n == "stealth" => KernelPath::Patched,
            Ok(n) => KernelPath::Unknown(format!(
                "TCP_STEALTH accepted, but the socket's ULP is {n:?}"
            )),
            Err(e) => KernelPath::Unknown(format!("getsockopt(TCP_ULP): {e}")),
        },
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) && !module_loaded => {
            KernelPath::Unknown("module not loaded".into())
        }
        // No patch: TCP_ULP first must make TCP_STEALTH work.
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            let fd = tcp_socket(libc::AF_INET)?;
            match set_tcp_opt(&fd, TCP_ULP, ULP_NAME)
                .and_then(|()| set_tcp_opt(&fd, TCP_STEALTH, b"knock status probe"))
            {
                Ok(()) => KernelPath::Ulp,
                Err(e) => {
                    KernelPath::Unknown(format!("TCP_ULP \"stealth\", then TCP_STEALTH: {e}"))
                }
            }
        }
        Err(e) => KernelPath::Unknown(format!("TCP_STEALTH: {e}")),
    };
    let mut modes = Vec::new();
    if module_loaded {
        for (v, name) in [
            (TCP_STEALTH_MODE_OPTION, "option"),
            (TCP_STEALTH_MODE_ISN, "isn"),
        ] {
            let fd = tcp_socket(libc::AF_INET)?;
            if set_stealth_opt(&fd, TCP_STEALTH_MODE, &v.to_ne_bytes()).is_ok() {
                modes.push(name);
            }
        }
    }
    Ok(Probe {
        patched,
        path,
        modes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_addresses() {
        let a: SocketAddr = "10.0.1.2:4242".parse().unwrap();
        let (ss, len) = to_raw(&a);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in>());
        // SAFETY: written as a sockaddr_in above.
        let sin: libc::sockaddr_in =
            unsafe { std::ptr::read(&ss as *const _ as *const libc::sockaddr_in) };
        assert_eq!(sin.sin_family as i32, libc::AF_INET);
        assert_eq!(u16::from_be(sin.sin_port), 4242);
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [10, 0, 1, 2]);
        let a6: SocketAddr = "[fd00::2]:80".parse().unwrap();
        let (ss, len) = to_raw(&a6);
        assert_eq!(len as usize, std::mem::size_of::<libc::sockaddr_in6>());
        // SAFETY: written as a sockaddr_in6 above.
        let sin6: libc::sockaddr_in6 =
            unsafe { std::ptr::read(&ss as *const _ as *const libc::sockaddr_in6) };
        assert_eq!(sin6.sin6_family as i32, libc::AF_INET6);
        assert_eq!(u16::from_be(sin6.sin6_port), 80);
        assert_eq!(sin6.sin6_addr.s6_addr[0], 0xfd);
        assert_eq!(sin6.sin6_addr.s6_addr[15], 2);
    }
}
