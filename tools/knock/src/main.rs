// SPDX-License-Identifier: GPL-2.0
//! `knock`: the userspace side of tcp_stealth. See docs/knock.1.md.

mod completions;
mod config;
mod derive;
mod keyfile;
mod pipe;
mod policy;
mod sock;
mod stats;
mod uapi;

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "knock",
    version,
    about = "Tools for tcp_stealth, stealth port knocking for TCP",
    long_about = "Tools for tcp_stealth, stealth port knocking for TCP.\n\n\
        A key file holds the secret as raw bytes (1 to 64; `knock keygen` writes 32 \
        random ones) and must not be readable or writable by group or others."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Write a new random secret (32 raw bytes) to FILE, mode 0600
    Keygen {
        /// Where to write the key; an existing file is never overwritten
        file: PathBuf,
    },
    /// Connect with a knock, then copy stdin to the connection and the
    /// connection to stdout (like netcat)
    Connect(ConnectArgs),
    /// Show whether the module is loaded, the kernel patch present, and the
    /// knock modes available
    Status,
    /// Show the module's counters (/proc/net/tcp_stealth_stats)
    Stats {
        /// Network namespace (a name under /run/netns, or a path to a
        /// namespace file)
        #[arg(long, value_name = "NAME")]
        netns: Option<String>,
    },
    /// Run PROG with the LD_PRELOAD shim (libtcpstealth.so), so that its TCP
    /// connects knock and its TCP listeners want knocks
    Exec(ExecArgs),
    /// Administrator: protect PORT with the key for every listener of the
    /// namespace that has no secret of its own (needs CAP_NET_ADMIN)
    Protect {
        /// TCP port, 1..65535
        #[arg(value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Key file (raw secret, 1..64 bytes, mode 0600 or stricter); up to
        /// 4 times, for key rotation (a knock with any of them is accepted)
        #[arg(long, short, value_name = "FILE", required = true)]
        key: Vec<PathBuf>,
        /// Require every client's knock to commit to its first N bytes
        /// (1..512; 0: no commitment)
        #[arg(long, value_name = "N", default_value_t = 0,
              value_parser = clap::value_parser!(u32).range(0..=512))]
        integrity: u32,
        /// Protect the port over this address family only (the other one
        /// stays open)
        #[arg(long, value_enum, default_value_t = policy::Family::Both)]
        family: policy::Family,
        /// Network namespace (a name under /run/netns, or a path)
        #[arg(long, value_name = "NAME")]
        netns: Option<String>,
    },
    /// Administrator: stop protecting PORT (or every port, with --all)
    Unprotect {
        /// TCP port, 1..65535
        #[arg(value_parser = clap::value_parser!(u16).range(1..),
              required_unless_present = "all")]
        port: Option<u16>,
        /// Every port the namespace protects
        #[arg(long, conflicts_with = "port")]
        all: bool,
        /// Network namespace (a name under /run/netns, or a path)
        #[arg(long, value_name = "NAME")]
        netns: Option<String>,
    },
    /// Administrator: make the namespace's policy what the policy file
    /// says (see policy.conf(5)): protect the ports it lists, stop
    /// protecting the others
    Apply(ApplyArgs),
    /// Fleets: derive server NAME's own secret from the master secret
    /// (docs/PROTOCOL.md, section 14); hex on stdout, or a key file
    Derive {
        /// The master key file (raw secret, 1..64 bytes, mode 0600 or stricter)
        #[arg(long, value_name = "FILE")]
        master: PathBuf,
        /// The server's host name (case and one trailing dot do not count)
        #[arg(long, value_name = "HOST")]
        name: String,
        /// Write the secret to this new key file (mode 0600) instead
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh or fish) on stdout
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: completions::Shell,
    },
}

#[derive(Args, Debug)]
struct ApplyArgs {
    /// The policy file
    #[arg(long = "config", short = 'c', value_name = "FILE",
          default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Only check the file and its key files; change nothing
    #[arg(long)]
    check: bool,
    /// Say nothing unless something fails
    #[arg(long, short)]
    quiet: bool,
    /// Network namespace (a name under /run/netns, or a path)
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
}

#[derive(Args, Debug)]
struct ConnectArgs {
    /// Host name or address
    host: String,
    /// TCP port
    port: u16,
    /// Key file (raw secret, 1..64 bytes, mode 0600 or stricter)
    #[arg(long, short, value_name = "FILE", required_unless_present = "master")]
    key: Option<PathBuf>,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Commit the knock to this file's bytes, and send them first
    #[arg(long, value_name = "F", conflicts_with = "integrity_stdin_bytes")]
    integrity_file: Option<PathBuf>,
    /// Commit the knock to the first N bytes of stdin (read before
    /// connecting), sent first
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65535))]
    integrity_stdin_bytes: Option<u32>,
    /// IPv4 only
    #[arg(short = '4', conflicts_with = "ipv6")]
    ipv4: bool,
    /// IPv6 only
    #[arg(short = '6')]
    ipv6: bool,
}

/// Fleets: the key derived from a master key file and a host name.
#[derive(Args, Debug)]
struct FleetArgs {
    /// Fleet master key file: knock with the key derived from it for the
    /// server's name (HOST, or --name), instead of --key
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    master: Option<PathBuf>,
    /// With --master: derive for this name instead of HOST
    #[arg(long, value_name = "HOST", requires = "master")]
    name: Option<String>,
}

#[derive(Args, Debug)]
struct ExecArgs {
    /// Key file (default: $TCP_STEALTH_KEY_FILE)
    #[arg(long, short, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Fleet master key file: the program gets the key derived for --name
    #[arg(long, value_name = "FILE", conflicts_with = "key", requires = "name")]
    master: Option<PathBuf>,
    /// With --master: the server's host name to derive the key for
    #[arg(long, value_name = "HOST", requires = "master")]
    name: Option<String>,
    /// Clients: commit every connection's knock to this file's bytes (the
    /// program must send exactly them first)
    #[arg(long, value_name = "F")]
    integrity_file: Option<PathBuf>,
    /// Listeners: require every client to commit to its first N bytes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=65535))]
    integrity_len: Option<u32>,
    /// Only these TCP ports (e.g. 22,8000-8080; default: all)
    #[arg(long, value_name = "LIST", value_parser = parse_ports)]
    ports: Option<String>,
    /// The shim (default: $TCP_STEALTH_SHIM, then next to the build tree,
    /// then ../lib/tcp-stealth/ of knock's directory, then /usr/local/lib
    /// and /usr/lib)
    #[arg(long, value_name = "PATH")]
    shim: Option<PathBuf>,
    /// The program and its arguments
    #[arg(required = true, last = true, value_name = "PROG")]
    prog: Vec<OsString>,
}

/// Validates a port list: comma-separated ports (1..65535) or ranges a-b.
fn parse_ports(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty port list".into());
    }
    for item in s.split(',') {
        let port = |p: &str| -> Result<u16, String> {
            match p.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("bad port {p:?} in {s:?} (want 1..65535)")),
                Ok(v) => Ok(v),
            }
        };
        match item.split_once('-') {
            Some((a, b)) => {
                if port(a)? > port(b)? {
                    return Err(format!("bad range {item:?} in {s:?}"));
                }
            }
            None => {
                port(item)?;
            }
        }
    }
    Ok(s.to_owned())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Keygen { file } => keyfile::keygen(&file)
            .map(|()| eprintln!("knock: wrote a new 32-byte key to {}", file.display()))
            .map_err(|e| e.to_string()),
        Cmd::Connect(a) => connect(a),
        Cmd::Status => status(),
        Cmd::Stats { netns } => stats::show(netns.as_deref()),
        Cmd::Exec(a) => exec(a),
        Cmd::Protect {
            port,
            key,
            integrity,
            family,
            netns,
        } => key
            .iter()
            .map(|k| keyfile::read_key(k).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .and_then(|secrets| {
                stats::in_netns(netns.as_deref())?;
                let p = policy::Protection {
                    secrets: &secrets,
                    integrity,
                    family,
                };
                policy::request(policy::CMD_PROTECT, port, &p)
            }),
        Cmd::Unprotect { port, all, netns } => {
            stats::in_netns(netns.as_deref()).and_then(|()| match port {
                Some(port) if !all => {
                    policy::request(policy::CMD_UNPROTECT, port, &policy::Protection::default())
                }
                _ => config::unprotect_all(false),
            })
        }
        Cmd::Apply(a) => {
            // A check needs no namespace; apply reads the whole file (and
            // its key files) before it changes anything.
            let enter = if a.check {
                Ok(())
            } else {
                stats::in_netns(a.netns.as_deref())
            };
            enter.and_then(|()| config::apply(&a.config, a.check, a.quiet))
        }
        Cmd::Derive { master, name, out } => derive_cmd(&master, &name, out.as_deref()),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            completions::write(shell, &mut Cli::command(), &mut std::io::stdout());
            Ok(())
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("knock: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Reads exactly `n` bytes of stdin, and not one more (the rest is for the
/// connection).
fn read_stdin_exact(n: usize) -> Result<Vec<u8>, String> {
    let buf = pipe::read_upto(libc::STDIN_FILENO, n).map_err(|e| format!("reading stdin: {e}"))?;
    if buf.len() != n {
        return Err(format!(
            "stdin ended after {} of the {} bytes to commit to",
            buf.len(),
            n
        ));
    }
    Ok(buf)
}

/// `knock derive`.
fn derive_cmd(master: &Path, name: &str, out: Option<&Path>) -> Result<(), String> {
    let m = keyfile::read_key(master).map_err(|e| e.to_string())?;
    let secret = derive::derive(&m, name)?;
    match out {
        Some(f) => keyfile::write_new(f, &secret)
            .map(|()| eprintln!("knock: wrote the key of {name} to {}", f.display()))
            .map_err(|e| e.to_string()),
        None => {
            println!("{}", derive::hex(&secret));
            Ok(())
        }
    }
}

/// `--name` goes with `--master` only (clap's `requires` does not catch
/// `--key K --name N` here).
fn check_name_needs_master(master: Option<&Path>, name: Option<&str>) -> Result<(), String> {
    match (master, name) {
        (None, Some(_)) => Err("--name goes with --master (the name to derive the key for)".into()),
        _ => Ok(()),
    }
}

/// The secret of `--key`, or derived from `--master` for `name`.
fn secret_of(key: Option<&Path>, master: Option<&Path>, name: &str) -> Result<Vec<u8>, String> {
    match (key, master) {
        (Some(k), _) => keyfile::read_key(k).map_err(|e| e.to_string()),
        (None, Some(m)) => {
            let m = keyfile::read_key(m).map_err(|e| e.to_string())?;
            derive::derive(&m, name).map(|s| s.to_vec())
        }
        (None, None) => Err("no key: give --key FILE or --master FILE".into()),
    }
}

fn connect(a: ConnectArgs) -> Result<(), String> {
    check_name_needs_master(a.fleet.master.as_deref(), a.fleet.name.as_deref())?;
    let secret = secret_of(
        a.key.as_deref(),
        a.fleet.master.as_deref(),
        a.fleet.name.as_deref().unwrap_or(&a.host),
    )?;
    let commit = match (&a.integrity_file, a.integrity_stdin_bytes) {
        (Some(f), _) => Some(keyfile::read_integrity(f)?),
        (None, Some(n)) => Some(read_stdin_exact(n as usize)?),
        (None, None) => None,
    };
    let addrs: Vec<SocketAddr> = (a.host.as_str(), a.port)
        .to_socket_addrs()
        .map_err(|e| format!("{}: {}", a.host, e))?
        .filter(|s| !(a.ipv4 && s.is_ipv6() || a.ipv6 && s.is_ipv4()))
        .collect();
    if addrs.is_empty() {
        return Err(format!("{}: no address of the wanted family", a.host));
    }
    let mut last = None;
    let mut stream = None;
    for addr in &addrs {
        match sock::knock_connect(addr, &secret, commit.as_deref()) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            // Never fall back to a connection without the knock.
            Err(sock::ConnectError::Knock(m)) => return Err(format!("cannot knock: {m}")),
            Err(sock::ConnectError::Connect(e)) => last = Some((addr, e)),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            let (addr, e) = last.expect("at least one address was tried");
            return Err(format!(
                "connect to {} port {} ({}): {}",
                a.host, a.port, addr, e
            ));
        }
    };
    pipe::run(stream, commit.as_deref())
}

fn module_loaded() -> bool {
    if Path::new("/sys/module/tcp_stealth").exists() {
        return true;
    }
    std::fs::read_to_string("/proc/modules")
        .map(|s| {
            s.lines()
                .any(|l| l.split(' ').next() == Some("tcp_stealth"))
        })
        .unwrap_or(false)
}

fn status() -> Result<(), String> {
    let loaded = module_loaded();
    println!(
        "module: {}",
        if loaded {
            "loaded"
        } else {
            "not loaded (modprobe tcp_stealth)"
        }
    );
    let read = |f: &str| {
        std::fs::read_to_string(format!("/sys/module/tcp_stealth/{f}"))
            .ok()
            .map(|s| s.trim().to_owned())
    };
    match (read("version"), read("srcversion")) {
        (Some(v), Some(s)) => println!("version: {v} (srcversion {s})"),
        (Some(v), None) => println!("version: {v}"),
        (None, Some(s)) => println!("version: not exposed (srcversion {s})"),
        (None, None) => println!("version: not exposed"),
    }
    let p = sock::probe(loaded).map_err(|e| format!("probe socket: {e}"))?;
    let patch = match (&p.patched, loaded) {
        (Ok(()), _) => "yes (TCP_STEALTH works without TCP_ULP)".to_string(),
        (Err(e), true) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            "no (applications must set TCP_ULP \"stealth\" first)".to_string()
        }
        (Err(e), false) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            "unknown (module not loaded)".to_string()
        }
        (Err(e), _) => format!("unknown (probe failed: {e})"),
    };
    println!("kernel patch: {patch}");
    println!(
        "kernel path: {}",
        match &p.path {
            sock::KernelPath::Patched =>
                "patched (TCP_STEALTH attaches the \"stealth\" ULP by itself)".to_string(),
            sock::KernelPath::Ulp =>
                "TCP_ULP (no patch: knock and the shim set TCP_ULP \"stealth\" first)".to_string(),
            sock::KernelPath::Unknown(why) => format!("unknown ({why})"),
        }
    );
    if loaded {
        println!(
            "modes: {}",
            if p.modes.is_empty() {
                "none (probe failed)".to_string()
            } else {
                p.modes.join(" ")
            }
        );
    } else {
        println!("modes: none (module not loaded)");
    }
    let stats = Path::new("/proc/net/tcp_stealth_stats").exists();
    println!(
        "counters: {}",
        if stats {
            "/proc/net/tcp_stealth_stats"
        } else {
            "none"
        }
    );
    Ok(())
}

/// Where the shim is, if not given.
fn find_shim() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TCP_STEALTH_SHIM") {
        return Some(PathBuf::from(p));
    }
    let mut cands = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // <repo>/target/{debug,release}/knock -> <repo>/tools/shim/
        if let Some(top) = exe.parent().and_then(Path::parent).and_then(Path::parent) {
            cands.push(top.join("tools/shim/libtcpstealth.so"));
        }
        if let Some(dir) = exe.parent() {
            cands.push(dir.join("libtcpstealth.so"));
            // Installed (make install-tools, the package):
            // PREFIX/bin/knock -> PREFIX/lib/tcp-stealth/.
            cands.push(dir.join("../lib/tcp-stealth/libtcpstealth.so"));
        }
    }
    cands.push("/usr/local/lib/libtcpstealth.so".into());
    cands.push("/usr/lib/libtcpstealth.so".into());
    cands.into_iter().find(|p| p.is_file())
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::path::absolute(p).map_err(|e| format!("{}: {}", p.display(), e))
}

fn exec(a: ExecArgs) -> Result<(), String> {
    // Fleets: the derived key goes to the shim in a memfd the program
    // inherits (kept open until exec).
    check_name_needs_master(a.master.as_deref(), a.name.as_deref())?;
    let mut _derived = None;
    let key = match (&a.master, &a.name) {
        (Some(m), Some(n)) => {
            let secret = secret_of(None, Some(m), n)?;
            let fd = derive::memfd_key(&secret).map_err(|e| format!("memfd for the key: {e}"))?;
            let path = PathBuf::from(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ));
            _derived = Some(fd);
            path
        }
        _ => match a
            .key
            .or_else(|| std::env::var_os("TCP_STEALTH_KEY_FILE").map(PathBuf::from))
        {
            Some(k) => {
                // Checked here for a clear message now; the shim checks again.
                keyfile::read_key(&k).map_err(|e| e.to_string())?;
                absolute(&k)?
            }
            None => return Err("no key: give --key FILE or set TCP_STEALTH_KEY_FILE".into()),
        },
    };
    if let Some(f) = &a.integrity_file {
        keyfile::read_integrity(f)?;
    }
    let shim = match a.shim.or_else(find_shim) {
        Some(s) => absolute(&s)?,
        None => {
            return Err(
                "libtcpstealth.so not found: build it (make -C tools/shim) and give \
                 --shim PATH or set TCP_STEALTH_SHIM"
                    .into(),
            )
        }
    };
    if !shim.is_file() {
        return Err(format!("shim {}: not a file", shim.display()));
    }
    let mut preload = shim.into_os_string();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|o| !o.is_empty()) {
        preload.push(":");
        preload.push(old);
    }
    let mut cmd = std::process::Command::new(&a.prog[0]);
    cmd.args(&a.prog[1..])
        .env("LD_PRELOAD", preload)
        .env("TCP_STEALTH_KEY_FILE", &key);
    match &a.integrity_file {
        Some(f) => cmd.env("TCP_STEALTH_INTEGRITY_FILE", absolute(f)?),
        None => cmd.env_remove("TCP_STEALTH_INTEGRITY_FILE"),
    };
    if let Some(n) = a.integrity_len {
        cmd.env("TCP_STEALTH_INTEGRITY_LEN", n.to_string());
    }
    if let Some(p) = &a.ports {
        cmd.env("TCP_STEALTH_PORTS", p);
    }
    let e = cmd.exec();
    Err(format!("{}: {}", a.prog[0].to_string_lossy(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, ValueEnum};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("knock").chain(args.iter().copied()))
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn connect_args() {
        let c = parse(&["connect", "example.org", "22", "--key", "k"]).unwrap();
        match c.cmd {
            Cmd::Connect(a) => {
                assert_eq!(a.host, "example.org");
                assert_eq!(a.port, 22);
                assert_eq!(a.key, Some(PathBuf::from("k")));
                assert!(a.integrity_file.is_none() && a.integrity_stdin_bytes.is_none());
            }
            _ => panic!(),
        }
        // The key is required, the port must be a port.
        assert!(parse(&["connect", "h", "22"]).is_err());
        assert!(parse(&["connect", "h", "65536", "--key", "k"]).is_err());
        assert!(parse(&["connect", "h", "ssh", "--key", "k"]).is_err());
        // One source of committed bytes at most, and 1..65535 of them.
        assert!(parse(&[
            "connect",
            "h",
            "1",
            "--key",
            "k",
            "--integrity-file",
            "f",
            "--integrity-stdin-bytes",
            "3"
        ])
        .is_err());
        assert!(parse(&[
            "connect",
            "h",
            "1",
            "--key",
            "k",
            "--integrity-stdin-bytes",
            "0"
        ])
        .is_err());
        assert!(parse(&[
            "connect",
            "h",
            "1",
            "--key",
            "k",
            "--integrity-stdin-bytes",
            "65536"
        ])
        .is_err());
        assert!(parse(&[
            "connect",
            "h",
            "1",
            "--key",
            "k",
            "--integrity-stdin-bytes",
            "65535"
        ])
        .is_ok());
        assert!(parse(&["connect", "h", "1", "--key", "k", "-4", "-6"]).is_err());
    }

    #[test]
    fn exec_args() {
        let c = parse(&[
            "exec",
            "--key",
            "k",
            "--ports",
            "80,8000-8080",
            "--",
            "curl",
            "-s",
            "x",
        ])
        .unwrap();
        match c.cmd {
            Cmd::Exec(a) => {
                assert_eq!(a.prog, vec!["curl", "-s", "x"]);
                assert_eq!(a.ports.as_deref(), Some("80,8000-8080"));
            }
            _ => panic!(),
        }
        assert!(parse(&["exec", "--key", "k"]).is_err());
        assert!(parse(&["exec", "--key", "k", "--ports", "0", "--", "x"]).is_err());
        assert!(parse(&["exec", "--key", "k", "--integrity-len", "65536", "--", "x"]).is_err());
    }

    #[test]
    fn port_lists() {
        assert!(parse_ports("22").is_ok());
        assert!(parse_ports("22,80,1000-2000").is_ok());
        assert!(parse_ports("5-5").is_ok());
        for bad in ["", "0", "65536", "a", "22,", "10-5", "1-", "-3", "1-2-3"] {
            assert!(parse_ports(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn fleet_args() {
        match parse(&["connect", "h", "22", "--master", "m"]).unwrap().cmd {
            Cmd::Connect(a) => {
                assert!(a.key.is_none());
                assert_eq!(a.fleet.master, Some(PathBuf::from("m")));
                assert!(a.fleet.name.is_none());
            }
            _ => panic!(),
        }
        assert!(parse(&["connect", "h", "22", "--master", "m", "--name", "n"]).is_ok());
        // One key source, exactly; --name only with --master.
        assert!(parse(&["connect", "h", "22", "--master", "m", "--key", "k"]).is_err());
        assert!(check_name_needs_master(None, Some("n")).is_err());
        assert!(check_name_needs_master(Some(Path::new("m")), Some("n")).is_ok());
        assert!(check_name_needs_master(None, None).is_ok());
        assert!(parse(&["exec", "--master", "m", "--name", "n", "--", "x"]).is_ok());
        assert!(parse(&["exec", "--master", "m", "--", "x"]).is_err());
        assert!(parse(&["exec", "--key", "k", "--master", "m", "--name", "n", "--", "x"]).is_err());
        match parse(&["derive", "--master", "m", "--name", "h.example"])
            .unwrap()
            .cmd
        {
            Cmd::Derive { master, name, out } => {
                assert_eq!(master, PathBuf::from("m"));
                assert_eq!(name, "h.example");
                assert!(out.is_none());
            }
            _ => panic!(),
        }
        assert!(parse(&["derive", "--master", "m"]).is_err());
    }

    #[test]
    fn completions_cover_the_real_cli() {
        for sh in ["bash", "zsh", "fish"] {
            assert!(matches!(
                parse(&["completions", sh]).unwrap().cmd,
                Cmd::Completions { .. }
            ));
            let shell = completions::Shell::from_str(sh, false).unwrap();
            let mut out = Vec::new();
            completions::write(shell, &mut Cli::command(), &mut out);
            let s = String::from_utf8(out).unwrap();
            for word in [
                "keygen",
                "connect",
                "protect",
                "unprotect",
                "integrity-file",
            ] {
                assert!(s.contains(word), "{sh}: no {word}");
            }
        }
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn stats_netns_arg() {
        match parse(&["stats", "--netns", "blue"]).unwrap().cmd {
            Cmd::Stats { netns } => assert_eq!(netns.as_deref(), Some("blue")),
            _ => panic!(),
        }
        assert!(parse(&["stats", "extra"]).is_err());
        assert!(parse(&["keygen"]).is_err());
    }
}
