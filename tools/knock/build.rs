// SPDX-License-Identifier: GPL-2.0
//! Reads the module's uapi header, include/uapi/linux/tcp_stealth.h, with
//! bindgen (the `bindgen` command, bindgen-cli, which scripts/setup.sh
//! installs for the module's build too), into `$OUT_DIR/uapi.rs` for
//! src/uapi.rs: the header is the one source of the CLI's socket options,
//! netlink numbers and limits. `BINDGEN` names another bindgen.

use std::env;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::{exit, Command};

fn main() {
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let header = dir.join("../../include/uapi/linux/tcp_stealth.h");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("uapi.rs");
    println!("cargo:rerun-if-changed={}", header.display());
    println!("cargo:rerun-if-env-changed=BINDGEN");

    // `bindgen` on PATH, else where `cargo install` puts it.
    let mut candidates: Vec<OsString> = Vec::new();
    match env::var_os("BINDGEN") {
        Some(b) => candidates.push(b),
        None => {
            candidates.push("bindgen".into());
            let home = env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
            if let Some(home) = home {
                candidates.push(home.join("bin/bindgen").into());
            }
        }
    }
    for bindgen in &candidates {
        let run = Command::new(bindgen)
            .arg(&header)
            // Only what the header itself declares (not <linux/types.h>'s).
            .args(["--allowlist-file", ".*/tcp_stealth\\.h"])
            .args(["--no-layout-tests", "--no-doc-comments", "-o"])
            .arg(&out)
            .status();
        match run {
            Ok(s) if s.success() => return,
            Ok(s) => {
                eprintln!(
                    "{} {} failed ({s})",
                    bindgen.to_string_lossy(),
                    header.display()
                );
                exit(1);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => {
                eprintln!("{}: {e}", bindgen.to_string_lossy());
                exit(1);
            }
        }
    }
    eprintln!(
        "knock's build reads {} with bindgen, and found none: install bindgen-cli \
         (scripts/setup.sh does) or set BINDGEN=/path/to/bindgen",
        header.display()
    );
    exit(1);
}
