// SPDX-License-Identifier: GPL-2.0
//! The policy file (`/etc/tcp-stealth/policy.conf`, see
//! docs/policy.conf.5.md) and `knock apply`, which makes the namespace's
//! policy what the file says.
//!
//! One port per line:
//!
//! ```text
//! # comment
//! port 22 key /etc/tcp-stealth/ssh.key key /etc/tcp-stealth/ssh-next.key integrity 32
//! port 53 key dns.key family ipv4
//! ```
//!
//! `port N` first, then `key FILE` (1 to 4 times), `integrity N` (0 to
//! 512, at most once) and `family ipv4|ipv6|both` (default both, at most
//! once) in any order. `#` at the start of a word starts a
//! comment; blank lines are ignored. Relative key paths are relative to the
//! file's directory.

use crate::keyfile;
use crate::policy::{self, Family, Listed, Protection, MAX_INTEGRITY_LEN, MAX_KEYS};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where `knock apply` reads the policy by default.
pub const DEFAULT_PATH: &str = "/etc/tcp-stealth/policy.conf";

/// Most ports one namespace can protect (`TCP_STEALTH_POLICY_MAX`).
pub use crate::uapi::POLICY_MAX as MAX_PORTS;

/// One `port` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRule {
    /// Line number (from 1).
    pub line: usize,
    pub port: u16,
    /// Key files as written (relative ones resolved against the file's
    /// directory).
    pub keys: Vec<PathBuf>,
    pub integrity: u32,
    pub family: Family,
}

/// Parses the text of a policy file; `name` prefixes the messages
/// (`name:LINE: ...`), `dir` resolves relative key paths. Reports the first
/// bad line.
pub fn parse(text: &str, name: &str, dir: &Path) -> Result<Vec<PortRule>, String> {
    let mut rules: Vec<PortRule> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |msg: String| format!("{name}:{line}: {msg}");
        let mut words = Vec::new();
        for w in raw.split_whitespace() {
            if w.starts_with('#') {
                break;
            }
            words.push(w);
        }
        let Some((&first, rest)) = words.split_first() else {
            continue;
        };
        if first != "port" {
            return Err(err(format!(
                "unknown keyword {first:?} (a line starts with \"port\")"
            )));
        }
        let mut it = rest.iter();
        let port_s = it
            .next()
            .ok_or_else(|| err("\"port\" needs a port number".into()))?;
        let port = match port_s.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(err(format!("bad port {port_s:?} (want 1..65535)"))),
        };
        if let Some(prev) = rules.iter().find(|r| r.port == port) {
            return Err(err(format!(
                "port {port} is already listed on line {}",
                prev.line
            )));
        }
        let mut rule = PortRule {
            line,
            port,
            keys: Vec::new(),
            integrity: 0,
            family: Family::Both,
        };
        let (mut integrity_seen, mut family_seen) = (false, false);
        while let Some(&kw) = it.next() {
            let mut value = || {
                it.next()
                    .copied()
                    .ok_or_else(|| err(format!("{kw:?} needs a value")))
            };
            match kw {
                "key" => {
                    let v = value()?;
                    let path = dir.join(v);
                    if rule.keys.contains(&path) {
                        return Err(err(format!("key file {v:?} listed twice")));
                    }
                    if rule.keys.len() == MAX_KEYS {
                        return Err(err(format!("more than {MAX_KEYS} keys for port {port}")));
                    }
                    rule.keys.push(path);
                }
                "integrity" => {
                    let v = value()?;
                    if integrity_seen {
                        return Err(err("\"integrity\" given twice".into()));
                    }
                    integrity_seen = true;
                    rule.integrity = match v.parse::<u32>() {
                        Ok(n) if n <= MAX_INTEGRITY_LEN => n,
                        _ => {
                            return Err(err(format!(
                                "bad integrity length {v:?} (want 0..{MAX_INTEGRITY_LEN})"
                            )))
                        }
                    };
                }
                "family" => {
                    let v = value()?;
                    if family_seen {
                        return Err(err("\"family\" given twice".into()));
                    }
                    family_seen = true;
                    rule.family = Family::from_name(v).ok_or_else(|| {
                        err(format!("bad family {v:?} (want ipv4, ipv6 or both)"))
                    })?;
                }
                "port" => {
                    return Err(err(
                        "a second \"port\" on one line (one port per line)".into()
                    ))
                }
                _ => {
                    return Err(err(format!(
                        "unknown keyword {kw:?} (want \"key\", \"integrity\" or \"family\")"
                    )))
                }
            }
        }
        if rule.keys.is_empty() {
            return Err(err(format!("port {port} has no key (add \"key FILE\")")));
        }
        if rules.len() == MAX_PORTS {
            return Err(err(format!("more than {MAX_PORTS} ports")));
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// A port ready to apply: its secrets read.
pub struct Loaded {
    pub rule: PortRule,
    pub secrets: Vec<Vec<u8>>,
}

/// Whether two secrets give the same key (the module pads them with
/// zeros to 64 bytes).
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let t = |s: &[u8]| s.len() - s.iter().rev().take_while(|&&b| b == 0).count();
    a[..t(a)] == b[..t(b)]
}

/// Reads the policy file `path` and every key file it names, refusing a
/// policy file that others may write and key files that fail
/// [`keyfile::read_key`]'s checks.
pub fn load(path: &Path) -> Result<Vec<Loaded>, String> {
    let name = path.display().to_string();
    let md = fs::metadata(path).map_err(|e| format!("{name}: {e}"))?;
    if !md.is_file() {
        return Err(format!("{name}: not a regular file"));
    }
    if md.mode() & 0o022 != 0 {
        return Err(format!(
            "{name}: mode {:04o} lets group or others write it; run `chmod go-w {name}`",
            md.mode() & 0o7777
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let rules = parse(&text, &name, dir)?;
    let mut out = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        for k in &rule.keys {
            let s = keyfile::read_key(k).map_err(|e| format!("{name}:{}: {e}", rule.line))?;
            if let Some(j) = secrets.iter().position(|o| same_key(o, &s)) {
                return Err(format!(
                    "{name}:{}: key files {} and {} hold the same secret",
                    rule.line,
                    rule.keys[j].display(),
                    k.display()
                ));
            }
            secrets.push(s);
        }
        out.push(Loaded { rule, secrets });
    }
    Ok(out)
}

/// What applying `want` to a namespace whose policy is `have` does: the
/// ports to protect (all of `want`: their keys cannot be compared, so they
/// are set again) and the ports to stop protecting.
pub fn plan(want: &[Loaded], have: &[Listed]) -> Vec<u16> {
    have.iter()
        .map(|l| l.port)
        .filter(|p| !want.iter().any(|w| w.rule.port == *p))
        .collect()
}

/// `knock apply`: checks `path`; unless `check_only`, protects every port
/// it lists (replacing keys and integrity length) and then stops protecting
/// the ports it no longer lists. Listed ports are never unprotected on the
/// way. Reports what it did on stderr.
pub fn apply(path: &Path, check_only: bool, quiet: bool) -> Result<(), String> {
    let want = load(path)?;
    let say = |m: String| {
        if !quiet {
            eprintln!("knock: {m}");
        }
    };
    if check_only {
        say(format!("{}: {} port(s), OK", path.display(), want.len()));
        return Ok(());
    }
    let have = policy::listing()?;
    let before: BTreeMap<u16, &Listed> = have.iter().map(|l| (l.port, l)).collect();
    for w in &want {
        let r = &w.rule;
        let p = Protection {
            secrets: &w.secrets,
            integrity: r.integrity,
            family: r.family,
        };
        policy::request(policy::CMD_PROTECT, r.port, &p)?;
        let verb = if before.contains_key(&r.port) {
            "updated"
        } else {
            "protected"
        };
        say(format!(
            "{verb} port {} ({} key(s), integrity {}, family {})",
            r.port,
            w.secrets.len(),
            r.integrity,
            r.family.name()
        ));
    }
    for port in plan(&want, &have) {
        policy::request(policy::CMD_UNPROTECT, port, &Protection::default())?;
        say(format!("removed port {port}"));
    }
    Ok(())
}

/// `knock unprotect --all`: stops protecting every port of the namespace.
pub fn unprotect_all(quiet: bool) -> Result<(), String> {
    for l in policy::listing()? {
        policy::request(policy::CMD_UNPROTECT, l.port, &Protection::default())?;
        if !quiet {
            eprintln!("knock: removed port {}", l.port);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn p(text: &str) -> Result<Vec<PortRule>, String> {
        parse(text, "policy.conf", Path::new("/etc/tcp-stealth"))
    }

    #[test]
    fn good_file() {
        let r = p(
            "# sshd\n\n  port 22 key ssh.key key /k/next integrity 32 # rotation\n\
                   port 443 integrity 0 key /k/web\n#port 8080 key x\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 3);
        assert_eq!(r[0].port, 22);
        assert_eq!(
            r[0].keys,
            vec![
                PathBuf::from("/etc/tcp-stealth/ssh.key"),
                PathBuf::from("/k/next")
            ]
        );
        assert_eq!(r[0].integrity, 32);
        assert_eq!((r[1].port, r[1].integrity, r[1].keys.len()), (443, 0, 1));
        assert_eq!((r[0].family, r[1].family), (Family::Both, Family::Both));
        assert_eq!(p("").unwrap(), vec![]);
        assert_eq!(p("# nothing\n   \n").unwrap(), vec![]);
        // Four keys and the largest integrity length are fine.
        assert!(p("port 1 key a key b key c key d integrity 512").is_ok());
    }

    #[test]
    fn family_keyword() {
        let r = p(
            "port 22 family ipv4 key k\nport 23 key k family ipv6 integrity 8\n\
                   port 24 key k family both\n",
        )
        .unwrap();
        let f: Vec<Family> = r.iter().map(|r| r.family).collect();
        assert_eq!(f, vec![Family::Ipv4, Family::Ipv6, Family::Both]);
        assert_eq!(r[1].integrity, 8);
    }

    #[test]
    fn example_file_is_valid() {
        // The file `make install-tools` and the package put in /etc: all
        // comments, and its commented examples valid once uncommented.
        let text = include_str!("../policy.conf.example");
        assert_eq!(p(text).unwrap(), vec![]);
        let examples: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("#port "))
            .map(|l| format!("port {l}\n"))
            .collect();
        let r = p(&examples).unwrap();
        assert!(r.len() >= 2, "{examples}");
        assert!(r.iter().any(|r| r.family != Family::Both));
    }

    #[test]
    fn bad_lines() {
        let cases = [
            ("prot 22 key k", 1, "unknown keyword \"prot\""),
            ("\n\nport", 3, "\"port\" needs a port number"),
            ("port 0 key k", 1, "bad port \"0\""),
            ("port 65536 key k", 1, "bad port \"65536\""),
            ("port ssh key k", 1, "bad port \"ssh\""),
            ("port 22", 1, "port 22 has no key"),
            ("port 22 integrity 8", 1, "port 22 has no key"),
            ("port 22 key", 1, "\"key\" needs a value"),
            ("port 22 key k integrity", 1, "\"integrity\" needs a value"),
            (
                "port 22 key k integrity 513",
                1,
                "bad integrity length \"513\"",
            ),
            (
                "port 22 key k integrity -1",
                1,
                "bad integrity length \"-1\"",
            ),
            (
                "port 22 key k integrity 8 integrity 8",
                1,
                "\"integrity\" given twice",
            ),
            ("port 22 key k key k", 1, "key file \"k\" listed twice"),
            (
                "port 22 key a key b key c key d key e",
                1,
                "more than 4 keys",
            ),
            ("port 22 key k keys j", 1, "unknown keyword \"keys\""),
            ("port 22 key k family", 1, "\"family\" needs a value"),
            (
                "port 22 key k family ipv5",
                1,
                "bad family \"ipv5\" (want ipv4, ipv6 or both)",
            ),
            ("port 22 key k family IPv4", 1, "bad family \"IPv4\""),
            ("port 22 key k family inet", 1, "bad family \"inet\""),
            (
                "\nport 22 key k family ipv4 family ipv6",
                2,
                "\"family\" given twice",
            ),
            ("port 22 key k port 23", 1, "a second \"port\""),
            (
                "port 22 key a\n# x\nport 22 key b",
                3,
                "port 22 is already listed on line 1",
            ),
        ];
        for (text, line, want) in cases {
            let e = p(text).unwrap_err();
            let prefix = format!("policy.conf:{line}: ");
            assert!(e.starts_with(&prefix), "{text:?}: {e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let many: String = (1..=65).map(|i| format!("port {i} key k\n")).collect();
        assert!(p(&many)
            .unwrap_err()
            .starts_with("policy.conf:65: more than 64 ports"));
    }

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn tmpdir(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("knock-config-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn write(path: &Path, data: &[u8], mode: u32) {
        fs::write(path, data).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn load_checks_key_files() {
        let d = tmpdir("load");
        let conf = d.0.join("policy.conf");
        write(&d.0.join("a.key"), b"secret a", 0o600);
        write(&d.0.join("b.key"), b"secret b", 0o400);
        write(&d.0.join("open.key"), b"secret o", 0o644);
        write(&d.0.join("empty.key"), b"", 0o600);
        write(&d.0.join("long.key"), &[7u8; 65], 0o600);
        write(&d.0.join("same.key"), b"secret a\0\0", 0o600);

        write(&conf, b"port 22 key a.key key b.key integrity 16\n", 0o644);
        let l = load(&conf).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(
            l[0].secrets,
            vec![b"secret a".to_vec(), b"secret b".to_vec()]
        );

        let bad = [
            ("port 22 key open.key\n", "mode 0644 lets group or others"),
            ("port 22 key empty.key\n", "empty"),
            ("port 22 key long.key\n", "65 bytes"),
            ("port 22 key missing.key\n", "No such file"),
            ("port 22 key a.key key same.key\n", "hold the same secret"),
        ];
        for (text, want) in bad {
            write(&conf, format!("\n{text}").as_bytes(), 0o600);
            let e = load(&conf).err().unwrap();
            let prefix = format!("{}:2: ", conf.display());
            assert!(e.starts_with(&prefix), "{text:?}: {e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }

        // The policy file itself must not be writable by others.
        write(&conf, b"port 22 key a.key\n", 0o666);
        assert!(load(&conf)
            .err()
            .unwrap()
            .contains("lets group or others write it"));
        assert!(load(&d.0.join("nope.conf")).is_err());
    }

    #[test]
    fn plan_removes_unlisted_ports() {
        let rule = |port| Loaded {
            rule: PortRule {
                line: 1,
                port,
                keys: vec![],
                integrity: 0,
                family: Family::Both,
            },
            secrets: vec![],
        };
        let have = |port| Listed {
            port,
            keys: 1,
            integrity: 0,
            family: Family::Ipv4,
        };
        let want = [rule(22), rule(443)];
        assert_eq!(
            plan(&want, &[have(22), have(80), have(8080)]),
            vec![80, 8080]
        );
        assert_eq!(plan(&want, &[]), Vec::<u16>::new());
        assert_eq!(plan(&[], &[have(22)]), vec![22]);
    }
}
