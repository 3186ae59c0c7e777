// SPDX-License-Identifier: GPL-2.0
//! Key files: the secret is the file's exact bytes (1..=64 of them), and the
//! file must be private to its owner. `knock keygen` writes 32 raw random
//! bytes.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The module takes secrets of 1..=`TCP_STEALTH_SECRET_MAX` bytes.
pub use crate::uapi::SECRET_MAX;
/// How many random bytes `keygen` writes.
pub const KEYGEN_LEN: usize = 32;

/// Why a key file was refused.
#[derive(Debug)]
pub enum KeyError {
    /// The file could not be opened or read.
    Io(PathBuf, io::Error),
    /// Not a regular file.
    NotAFile(PathBuf),
    /// Group or others may read or write it.
    Insecure(PathBuf, u32),
    /// Empty.
    Empty(PathBuf),
    /// More than `SECRET_MAX` bytes.
    TooLong(PathBuf, u64),
    /// `keygen`: the file already exists.
    Exists(PathBuf),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io(p, e) => write!(f, "key file {}: {}", p.display(), e),
            KeyError::NotAFile(p) => write!(f, "key file {}: not a regular file", p.display()),
            KeyError::Insecure(p, mode) => write!(
                f,
                "key file {}: mode {:04o} lets group or others read or write it; \
                 run `chmod 600 {}`",
                p.display(),
                mode & 0o7777,
                p.display()
            ),
            KeyError::Empty(p) => write!(
                f,
                "key file {}: empty (a secret is 1 to {} bytes)",
                p.display(),
                SECRET_MAX
            ),
            KeyError::TooLong(p, n) => write!(
                f,
                "key file {}: {} bytes, but a secret is 1 to {} bytes \
                 (the file's bytes are the secret, as is)",
                p.display(),
                n,
                SECRET_MAX
            ),
            KeyError::Exists(p) => write!(
                f,
                "{}: already exists; refusing to overwrite a key (remove it first)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks the length of a secret.
pub fn check_len(path: &Path, n: u64) -> Result<(), KeyError> {
    if n == 0 {
        Err(KeyError::Empty(path.to_owned()))
    } else if n > SECRET_MAX as u64 {
        Err(KeyError::TooLong(path.to_owned(), n))
    } else {
        Ok(())
    }
}

/// Checks the permission bits of a key file.
pub fn check_mode(path: &Path, mode: u32) -> Result<(), KeyError> {
    if mode & 0o077 != 0 {
        Err(KeyError::Insecure(path.to_owned(), mode))
    } else {
        Ok(())
    }
}

/// Reads and validates a key file: a regular file, mode without any group
/// or other bits, 1..=64 bytes. Returns the secret.
pub fn read_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io_err = |e| KeyError::Io(path.to_owned(), e);
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(io_err)?;
    // Checked on the open file, so what is checked is what is read.
    let md = f.metadata().map_err(io_err)?;
    if !md.is_file() {
        return Err(KeyError::NotAFile(path.to_owned()));
    }
    check_mode(path, md.mode())?;
    check_len(path, md.len())?;
    let mut buf = Vec::with_capacity(SECRET_MAX + 1);
    // Read at most one byte more than allowed, in case the file grew.
    (&mut f)
        .take(SECRET_MAX as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    check_len(path, buf.len() as u64)?;
    Ok(buf)
}

/// Fills `buf` from getrandom(2).
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n = unsafe { libc::getrandom(buf[done..].as_mut_ptr().cast(), buf.len() - done, 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

/// `keygen`: writes `KEYGEN_LEN` random bytes, raw, to a new file of mode
/// 0600. Refuses to overwrite anything (a dangling symlink included).
pub fn keygen(path: &Path) -> Result<(), KeyError> {
    let mut key = [0u8; KEYGEN_LEN];
    random_bytes(&mut key).map_err(|e| KeyError::Io(path.to_owned(), e))?;
    write_new(path, &key)
}

/// Writes `key`, raw, to a new file of mode 0600 (`keygen`, `derive`).
/// Refuses to overwrite anything (a dangling symlink included).
pub fn write_new(path: &Path, key: &[u8]) -> Result<(), KeyError> {
    let mut f: File = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(KeyError::Exists(path.to_owned()))
        }
        Err(e) => return Err(KeyError::Io(path.to_owned(), e)),
    };
    let res = (|| {
        // The umask can only remove bits; make sure of 0600 anyway.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(key)?;
        f.sync_all()
    })();
    if let Err(e) = res {
        // Leave no half-written key behind.
        drop(f);
        let _ = fs::remove_file(path);
        return Err(KeyError::Io(path.to_owned(), e));
    }
    Ok(())
}

/// Reads an integrity file: the 1..=65535 bytes the client commits to.
pub fn read_integrity(path: &Path) -> Result<Vec<u8>, String> {
    let buf = fs::read(path).map_err(|e| format!("integrity file {}: {}", path.display(), e))?;
    check_integrity_len(buf.len())
        .map_err(|e| format!("integrity file {}: {}", path.display(), e))?;
    Ok(buf)
}

/// The module accepts 1..=`TCP_STEALTH_INTEGRITY_MAX` committed bytes.
pub use crate::uapi::INTEGRITY_MAX;

/// Checks a number of committed bytes.
pub fn check_integrity_len(n: usize) -> Result<(), String> {
    if n == 0 || n > INTEGRITY_MAX {
        Err(format!(
            "{} bytes, but the committed first bytes are 1 to {} bytes",
            n, INTEGRITY_MAX
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh empty directory for one test.
    fn tmpdir() -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "knock-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        d
    }

    fn write(path: &Path, data: &[u8], mode: u32) {
        fs::write(path, data).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn keygen_makes_private_32_byte_file() {
        let d = tmpdir();
        let p = d.join("k");
        keygen(&p).unwrap();
        let md = fs::metadata(&p).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o600);
        assert_eq!(md.len(), KEYGEN_LEN as u64);
        assert_eq!(read_key(&p).unwrap().len(), KEYGEN_LEN);
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn keygen_refuses_to_overwrite() {
        let d = tmpdir();
        let p = d.join("k");
        write(&p, b"old secret", 0o600);
        assert!(matches!(keygen(&p), Err(KeyError::Exists(_))));
        assert_eq!(fs::read(&p).unwrap(), b"old secret");
        // A symlink, even a dangling one, is not followed or replaced.
        let l = d.join("link");
        std::os::unix::fs::symlink(d.join("nowhere"), &l).unwrap();
        assert!(keygen(&l).is_err());
        assert!(!d.join("nowhere").exists());
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn keygen_keys_differ() {
        let d = tmpdir();
        keygen(&d.join("a")).unwrap();
        keygen(&d.join("b")).unwrap();
        assert_ne!(
            fs::read(d.join("a")).unwrap(),
            fs::read(d.join("b")).unwrap()
        );
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn read_key_accepts_1_to_64_bytes() {
        let d = tmpdir();
        for n in [1usize, 32, 64] {
            let p = d.join(format!("k{n}"));
            let data: Vec<u8> = (0..n as u8).collect();
            write(&p, &data, 0o600);
            assert_eq!(read_key(&p).unwrap(), data);
        }
        // 0400 is fine too.
        let p = d.join("ro");
        write(&p, b"x", 0o400);
        assert_eq!(read_key(&p).unwrap(), b"x");
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn read_key_refuses_bad_files() {
        let d = tmpdir();
        let missing = d.join("missing");
        match read_key(&missing) {
            Err(KeyError::Io(_, e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
            other => panic!("missing file: {other:?}"),
        }
        let empty = d.join("empty");
        write(&empty, b"", 0o600);
        assert!(matches!(read_key(&empty), Err(KeyError::Empty(_))));
        let long = d.join("long");
        write(&long, &[7u8; 65], 0o600);
        assert!(matches!(read_key(&long), Err(KeyError::TooLong(_, 65))));
        for mode in [0o644, 0o640, 0o604, 0o602, 0o620, 0o666] {
            let p = d.join(format!("m{mode:o}"));
            write(&p, b"secret", mode);
            match read_key(&p) {
                Err(KeyError::Insecure(_, m)) => assert_eq!(m & 0o777, mode),
                other => panic!("mode {mode:o}: {other:?}"),
            }
        }
        assert!(matches!(read_key(&d), Err(KeyError::NotAFile(_))));
        fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let p = Path::new("/k");
        assert!(KeyError::Insecure(p.into(), 0o100644)
            .to_string()
            .contains("0644"));
        assert!(KeyError::TooLong(p.into(), 65)
            .to_string()
            .contains("65 bytes"));
        assert!(KeyError::Empty(p.into()).to_string().contains("empty"));
        assert!(KeyError::Exists(p.into()).to_string().contains("overwrite"));
    }

    #[test]
    fn integrity_lengths() {
        assert!(check_integrity_len(0).is_err());
        assert!(check_integrity_len(1).is_ok());
        assert!(check_integrity_len(INTEGRITY_MAX).is_ok());
        assert!(check_integrity_len(INTEGRITY_MAX + 1).is_err());
    }
}
