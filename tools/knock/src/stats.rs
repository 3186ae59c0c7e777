// SPDX-License-Identifier: GPL-2.0
//! `knock stats`: /proc/net/tcp_stealth_stats, aligned.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

const STATS: &str = "tcp_stealth_stats";

/// Parses "name value" lines. Every line must be one.
pub fn parse(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.split_whitespace();
        match (it.next(), it.next().map(str::parse::<u64>), it.next()) {
            (Some(name), Some(Ok(v)), None) => out.push((name.to_owned(), v)),
            _ => return Err(format!("line {}: cannot parse {:?}", i + 1, line)),
        }
    }
    Ok(out)
}

/// Names left-aligned, values right-aligned, one counter a line.
pub fn format(counters: &[(String, u64)]) -> String {
    let nw = counters.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let vw = counters
        .iter()
        .map(|(_, v)| v.to_string().len())
        .max()
        .unwrap_or(0);
    counters
        .iter()
        .map(|(n, v)| format!("{n:<nw$}  {v:>vw$}\n"))
        .collect()
}

/// Moves this thread into the network namespace `ns` (a name under
/// /run/netns, or a path).
fn enter_netns(ns: &str) -> Result<(), String> {
    let path = if ns.contains('/') {
        PathBuf::from(ns)
    } else {
        PathBuf::from("/run/netns").join(ns)
    };
    let f = File::open(&path).map_err(|e| format!("netns {}: {}", path.display(), e))?;
    // SAFETY: plain syscall on a descriptor we own.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "netns {}: setns: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Moves this thread into `netns`, if given.
pub fn in_netns(netns: Option<&str>) -> Result<(), String> {
    match netns {
        Some(ns) => enter_netns(ns),
        None => Ok(()),
    }
}

pub fn show(netns: Option<&str>) -> Result<(), String> {
    in_netns(netns)?;
    // thread-self: the namespace this thread is in now.
    let path = format!("/proc/thread-self/net/{STATS}");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("/proc/net/{STATS} not found: is the tcp_stealth module loaded? (modprobe tcp_stealth)")
        } else {
            format!("/proc/net/{STATS}: {e}")
        }
    })?;
    let counters = parse(&text).map_err(|e| format!("/proc/net/{STATS}: {e}"))?;
    print!("{}", format(&counters));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_align() {
        let c = parse("syn_in 12\nknock_good 3\n\nstealth_sockets 0\n").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0], ("syn_in".to_string(), 12));
        let s = format(&c);
        assert_eq!(
            s,
            "syn_in           12\nknock_good        3\nstealth_sockets   0\n"
        );
    }

    #[test]
    fn parse_refuses_garbage() {
        assert!(parse("syn_in\n").is_err());
        assert!(parse("syn_in x\n").is_err());
        assert!(parse("syn_in 1 2\n").is_err());
        assert!(parse("syn_in -1\n").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
