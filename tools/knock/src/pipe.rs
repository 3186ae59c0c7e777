// SPDX-License-Identifier: GPL-2.0
//! `knock connect`'s data path: a faithful byte pipe between stdin/stdout
//! and the connection, for any protocol (ssh's `ProxyCommand` among them).
//!
//! - Raw reads and writes on the descriptors: nothing is buffered in this
//!   process, so every byte that arrives is passed on at once, newline or
//!   not (Rust's `stdout()` is line-buffered, which stalled ssh's binary
//!   key exchange).
//! - Partial writes are finished, `EINTR` is retried, and a descriptor
//!   someone left non-blocking is waited on with poll().
//! - Half-close both ways: EOF on stdin shuts the connection's sending side
//!   down (`shutdown(SHUT_WR)`) and the connection is still read to its
//!   end; EOF from the connection closes stdout (so its reader sees EOF) and
//!   stdin is still sent until it ends. Only when both directions are done
//!   does `knock` exit.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

/// Size of the copy buffer of each direction.
const BUF: usize = 64 * 1024;

/// Waits until `fd` is ready for `events` (after an `EAGAIN`).
fn wait_ready(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, -1) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// One read(2) of up to `buf.len()` bytes; 0 at EOF. Retries `EINTR`,
/// waits out `EAGAIN`.
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: the pointer and length describe `buf`, which is writable.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_ready(fd, libc::POLLIN)?,
            _ => return Err(e),
        }
    }
}

/// Writes all of `buf` to `fd`: finishes partial writes, retries `EINTR`,
/// waits out `EAGAIN`.
pub fn write_all_fd(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: the pointer and length describe `buf`.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n > 0 {
            buf = &buf[n as usize..];
            continue;
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => wait_ready(fd, libc::POLLOUT)?,
            _ => return Err(e),
        }
    }
    Ok(())
}

/// Reads exactly `n` bytes of `fd` (nothing more: the rest stays for the
/// pipe). `Ok(bytes)` may be shorter at EOF.
pub fn read_upto(fd: RawFd, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match read_fd(fd, &mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Copies `from` to `to` until EOF on `from`: the number of bytes, or which
/// side failed.
fn copy(from: RawFd, to: RawFd) -> Result<u64, (bool, io::Error)> {
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = read_fd(from, &mut buf).map_err(|e| (true, e))?;
        if n == 0 {
            return Ok(total);
        }
        write_all_fd(to, &buf[..n]).map_err(|e| (false, e))?;
        total += n as u64;
    }
}

/// Replaces stdout by /dev/null, so that its reader sees EOF while this
/// process goes on (and nothing else lands on a reused descriptor 1).
fn close_stdout() {
    // SAFETY: a plain open of a constant C string.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if null >= 0 {
        // SAFETY: both descriptors are valid; dup2 closes the old stdout.
        unsafe {
            libc::dup2(null, libc::STDOUT_FILENO);
            libc::close(null);
        }
    } else {
        // SAFETY: closing our own stdout; nothing in this process uses it
        // after this.
        unsafe { libc::close(libc::STDOUT_FILENO) };
    }
}

/// Sends `first` (if any), then stdin until its EOF, then shuts the
/// connection's sending side down; meanwhile copies the connection to
/// stdout until the peer's EOF, then closes stdout. Returns when both
/// directions are done, or at the first error.
pub fn run(stream: TcpStream, first: Option<&[u8]>) -> Result<(), String> {
    let fd = stream.as_raw_fd();
    if let Some(b) = first {
        write_all_fd(fd, b).map_err(|e| format!("sending: {e}"))?;
    }
    let tx = stream.try_clone().map_err(|e| format!("socket: {e}"))?;
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let r = copy(libc::STDIN_FILENO, tx.as_raw_fd());
        // The peer sees our EOF (even after a failed read of stdin).
        let _ = tx.shutdown(Shutdown::Write);
        match r {
            Ok(_) => Ok(()),
            Err((true, e)) => Err(format!("reading stdin: {e}")),
            Err((false, e)) => Err(format!("sending: {e}")),
        }
    });
    match copy(fd, libc::STDOUT_FILENO) {
        Ok(_) => close_stdout(),
        // A reset or other failure of the connection: nothing more can be
        // sent either.
        Err((true, e)) => return Err(format!("receiving: {e}")),
        // Nobody reads our stdout any more: say so, stop.
        Err((false, e)) => {
            let _ = stream.shutdown(Shutdown::Read);
            return Err(format!("writing stdout: {e}"));
        }
    }
    // The peer is done sending; our side goes on until stdin ends.
    sender
        .join()
        .map_err(|_| "sender thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::fd::FromRawFd;

    fn pipe() -> (std::fs::File, std::fs::File) {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for two descriptors.
        assert_eq!(0, unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) });
        // SAFETY: fresh descriptors that nothing else owns.
        unsafe {
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        }
    }

    #[test]
    fn write_all_finishes_partial_writes_on_a_nonblocking_pipe() {
        let (mut r, w) = pipe();
        // SAFETY: setting a flag on our own descriptor.
        unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        // Several times a pipe's capacity: partial writes and EAGAIN.
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            got
        });
        write_all_fd(w.as_raw_fd(), &data).unwrap();
        drop(w);
        assert_eq!(reader.join().unwrap(), data);
    }

    #[test]
    fn read_upto_takes_no_more_than_asked() {
        let (r, mut w) = pipe();
        w.write_all(b"0123456789").unwrap();
        drop(w);
        assert_eq!(read_upto(r.as_raw_fd(), 4).unwrap(), b"0123");
        assert_eq!(read_upto(r.as_raw_fd(), 100).unwrap(), b"456789");
        assert_eq!(read_upto(r.as_raw_fd(), 1).unwrap(), b"");
    }

    #[test]
    fn copy_is_binary_and_unbuffered() {
        // A byte without a newline comes out before its source ends.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        let (r, mut w) = pipe();
        let sfd = s.as_raw_fd();
        let wfd = w.as_raw_fd();
        let t = std::thread::spawn(move || {
            let _keep = &s;
            copy(sfd, wfd).unwrap()
        });
        let mut r = r;
        for b in [0u8, 0xff, b'\r', 0x80] {
            c.write_all(&[b]).unwrap();
            let mut one = [0u8; 1];
            r.read_exact(&mut one).unwrap();
            assert_eq!(one[0], b);
        }
        drop(c);
        assert_eq!(t.join().unwrap(), 4);
        w.flush().unwrap();
    }
}
