// SPDX-License-Identifier: GPL-2.0
//! Fleets: a server's own secret derived from one master secret and the
//! server's name (docs/PROTOCOL.md, section 14), so that servers hold only
//! their own key, a stolen server key opens no other server, and clients
//! holding the master derive the key of the server they name.
//!
//! Version 1:
//!
//! ```text
//! name' = the host name, ASCII lowercased, one trailing '.' removed
//! MK    = BLAKE2s-256("tcp-stealth fleet v1 master" || master)
//! S     = BLAKE2s-256(key = MK, "tcp-stealth fleet v1" || 0x00 || name')
//! ```

use blake2::digest::{Digest, Mac};

/// The label of the master's hash (no NUL).
pub const MASTER_LABEL: &[u8] = b"tcp-stealth fleet v1 master";
/// The label before the name (with its NUL separator).
pub const NAME_LABEL: &[u8] = b"tcp-stealth fleet v1\0";
/// The longest DNS name, without the trailing dot.
pub const NAME_MAX: usize = 253;

/// The name as the derivation uses it: ASCII lowercased, without one
/// trailing dot; 1..=253 printable ASCII characters, no spaces.
pub fn normalize(name: &str) -> Result<String, String> {
    let n = name.strip_suffix('.').unwrap_or(name);
    if n.is_empty() {
        return Err(format!("name {name:?}: empty"));
    }
    if n.len() > NAME_MAX {
        return Err(format!(
            "name {name:?}: {} characters, more than {NAME_MAX}",
            n.len()
        ));
    }
    if let Some(c) = n.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "name {name:?}: character {c:?} (want printable ASCII without spaces; \
             an internationalized name in its xn-- form)"
        ));
    }
    Ok(n.to_ascii_lowercase())
}

/// The 32-byte secret of server `name` in the fleet of `master`.
pub fn derive(master: &[u8], name: &str) -> Result<[u8; 32], String> {
    let name = normalize(name)?;
    let mut h = blake2::Blake2s256::new();
    Digest::update(&mut h, MASTER_LABEL);
    Digest::update(&mut h, master);
    let mk: [u8; 32] = h.finalize().into();
    let mut m = <blake2::Blake2sMac256 as Mac>::new_from_slice(&mk)
        .map_err(|_| "BLAKE2s refused a 32-byte key".to_string())?;
    Mac::update(&mut m, NAME_LABEL);
    Mac::update(&mut m, name.as_bytes());
    Ok(m.finalize().into_bytes().into())
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The derived secret in an anonymous memory file (memfd, not
/// close-on-exec, mode 0600, sealed), for the shim of `knock exec`: its
/// path is `/proc/self/fd/N` in the program that inherits it.
pub fn memfd_key(secret: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: a constant C string; the result is checked.
    let fd = unsafe { libc::memfd_create(c"knock-derived-key".as_ptr(), libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    crate::pipe::write_all_fd(fd.as_raw_fd(), secret)?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: plain calls on our own descriptor.
    let ok = unsafe {
        libc::fchmod(fd.as_raw_fd(), 0o600) == 0
            && libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) == 0
    };
    if !ok {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The vectors of docs/PROTOCOL.md, section 14.
    #[test]
    fn protocol_vectors() {
        let master: Vec<u8> = (0u8..32).collect();
        let v = [
            (
                "server1.example.org",
                "469b2339bb1c5662048ac732916742684efcd9aecbf9d5c164c5a929a3b2df31",
            ),
            (
                "Server1.Example.ORG.",
                "469b2339bb1c5662048ac732916742684efcd9aecbf9d5c164c5a929a3b2df31",
            ),
            (
                "db.example.org",
                "2a2150a10e333096a6d556d2759791b134939cd2b817bfb40180f681f61b26b5",
            ),
        ];
        for (name, want) in v {
            assert_eq!(
                derive(&master, name).unwrap().to_vec(),
                unhex(want),
                "{name}"
            );
        }
        assert_eq!(
            hex(&derive(b"This is my magic ID.", "10.0.1.2").unwrap()),
            "f32e0e3b6d609472e614ac8d7a87fd4bad11669d8cf71c5f8545842667c5044b"
        );
    }

    #[test]
    fn names_and_masters_separate_keys() {
        let m = [7u8; 32];
        let a = derive(&m, "a.example").unwrap();
        assert_ne!(a, derive(&m, "b.example").unwrap());
        assert_ne!(a, derive(&[8u8; 32], "a.example").unwrap());
        // Only one trailing dot goes; case never counts.
        assert_eq!(a, derive(&m, "A.EXAMPLE.").unwrap());
        assert_ne!(a, derive(&m, "a.example..").unwrap());
        // Masters of any length a key file allows.
        assert_ne!(
            derive(&[1u8], "x").unwrap(),
            derive(&[1u8; 64], "x").unwrap()
        );
    }

    #[test]
    fn bad_names() {
        for bad in ["", ".", "a b", "tab\there", "caf\u{e9}.example", "nul\0"] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize(&"a".repeat(253)).is_ok());
        assert!(normalize(&"a".repeat(254)).is_err());
        assert_eq!(normalize("FD00::2").unwrap(), "fd00::2");
    }
}
