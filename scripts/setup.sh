#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything tcp_stealth needs to build and test, then build the test
# kernel. Safe to run any number of times; a second run only checks.
#
#   - Debian packages (kernel source, compilers, QEMU, network tools)
#   - the Rust toolchain pinned in rust-toolchain.toml, with rust-src
#   - bindgen-cli at the version the kernel build is keyed on (the module and
#     the knock CLI read include/uapi/linux/tcp_stealth.h with it)
#   - virtme-ng in a virtualenv under the cache directory
#   - the nightly toolchain and cargo-fuzz, for the fuzz targets in fuzz/
#   - the test kernel (scripts/kernel.sh), cached outside the work tree
#
#   scripts/setup.sh           everything
#   scripts/setup.sh --fuzz    only what `make fuzz` needs (nightly, cargo-fuzz)
#   scripts/setup.sh --no-kernel   everything but the kernel (scripts/check.sh
#                              builds it while the host-side checks run)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCP_STEALTH_CACHE:-$HOME/.cache/tcp-stealth}
BINDGEN_VERSION=0.73.2
VIRTME_NG_VERSION=1.42
CARGO_FUZZ_VERSION=0.13.2
export PATH=$HOME/.cargo/bin:$PATH

log() { echo "setup: $*" >&2; }

# cargo-fuzz needs a nightly compiler (sanitizer-coverage flags); everything
# else keeps the toolchain pinned in rust-toolchain.toml.
fuzz_tools() {
	if ! command -v rustup >/dev/null; then
		log "rustup is missing: install it from your distribution or rustup.rs, then rerun"
		exit 1
	fi
	if ! rustup run nightly rustc --version >/dev/null 2>&1; then
		log "installing the nightly Rust toolchain (fuzzing only)"
		rustup toolchain install nightly --profile minimal
	fi
	if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
		log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
		(cd "$top" && cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION")
	fi
}

if [ "${1:-}" = --fuzz ]; then
	fuzz_tools
	exit 0
fi

# lz4: the test kernel's image is LZ4-compressed (scripts/tcp_stealth.config).
#
# dpkg-dev, debhelper, dkms: scripts/packages.sh makes Debian packages of the
# test kernel with bindeb-pkg, and scripts/dkms-test.sh installs the module
# through DKMS against them in the VM (make check-dkms), which also tries
# scripts/distro-kernel.sh --config-only on Debian's own configuration
# (linux-config-6.12).
#
# go-md2man, groff-base, man-db (and dpkg-dev): the man pages (make man) and
# the tools package (make deb-tools), which scripts/pkg-check.sh renders,
# reads and installs with dpkg --root.
#
# openssh-server/-client: tcp_stealth_tools's ssh fixture runs sshd, ssh and
# scp in the VM. Debian enables and starts ssh.service when it installs
# openssh-server; if this run installs it, the service is disabled and
# stopped again, so that setting up the tests does not open an ssh server
# on this machine (`systemctl enable --now ssh` if you want one).
packages=(
	linux-source-6.12 build-essential bc bison flex cpio kmod xz-utils lz4 rsync
	libelf-dev libssl-dev libclang-dev clang lld llvm
	qemu-system-x86 python3-venv
	iproute2 nftables tcpdump socat busybox-static ethtool curl
	nmap liburing-dev openssh-server openssh-client
	dpkg-dev debhelper dkms linux-config-6.12
	go-md2man groff-base man-db
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing Debian packages: ${missing[*]}"
	sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
	if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null &&
		[ -d /run/systemd/system ]; then
		log "openssh-server was installed for the tests only: disabling ssh.service"
		$sudo systemctl disable --now ssh.service || true
	fi
fi

if ! command -v rustup >/dev/null; then
	log "rustup is missing: install it from your distribution or rustup.rs, then rerun"
	exit 1
fi
# rustup reads rust-toolchain.toml and installs the pinned toolchain with its
# components on first use.
(cd "$top" && rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install)
(cd "$top" && rustc --version >/dev/null)
rust_src=$(cd "$top" && rustc --print sysroot)/lib/rustlib/src/rust/library
[ -d "$rust_src" ] || (cd "$top" && rustup component add rust-src)

if [ "$(bindgen --version 2>/dev/null)" != "bindgen $BINDGEN_VERSION" ]; then
	log "installing bindgen-cli $BINDGEN_VERSION"
	(cd "$top" && cargo install --locked bindgen-cli --version "$BINDGEN_VERSION")
fi

fuzz_tools

if [ "$("$cache/venv/bin/vng" --version 2>/dev/null | awk '{print $2}')" != "$VIRTME_NG_VERSION" ]; then
	log "installing virtme-ng $VIRTME_NG_VERSION"
	mkdir -p "$cache"
	python3 -m venv "$cache/venv"
	"$cache/venv/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION"
fi

if [ "${1:-}" = --no-kernel ]; then
	log "ready (the kernel is left to scripts/kernel.sh)"
	exit 0
fi
"$top/scripts/kernel.sh" >/dev/null
log "ready: kernel in $("$top/scripts/kernel.sh" --kdir)"
