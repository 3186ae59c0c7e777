#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build your distribution's kernel with Rust turned on and the tcp_stealth
# patches applied, as Debian packages (linux-image, linux-headers) made by
# the kernel's own bindeb-pkg. Install both, then tcp-stealth-dkms (make
# deb-dkms), and DKMS builds the module for it. See README.md, "Installing".
#
#   scripts/distro-kernel.sh [options]
#
#   --source S      kernel source: a tarball or an unpacked tree
#                   (default /usr/src/linux-source-6.12.tar.xz, Debian's
#                   linux-source-6.12; its version must match the config's)
#   --config F      the distribution's kernel config (default
#                   /boot/config-$(uname -r); Debian's are also in the
#                   linux-config-6.12 package)
#   --out D         where to build (default ./tcp-stealth-kernel): the
#                   tree is D/linux, and the packages are written to D
#   --llvm          build with clang/LLVM (LLVM=1) instead of the
#                   distribution's GCC
#   --localversion V  appended to the release (default -stealth)
#   --config-only   stop after writing D/linux/.config (and checking it)
#   -j N            parallel jobs (default: number of CPUs)
#
# What it changes in the configuration, and why (6.12's init/Kconfig):
#   CONFIG_RUST=y            the point of it
#   CONFIG_MODVERSIONS=n     RUST depends on !MODVERSIONS in 6.12
#   CONFIG_DEBUG_INFO_BTF=n  only when pahole is older than 1.26: RUST
#                            depends on !DEBUG_INFO_BTF unless pahole can
#                            exclude Rust units (and not with LTO). Without
#                            BTF, BPF programs relying on CO-RE of this
#                            kernel do not load: install pahole >= 1.26 to
#                            keep it.
#   CONFIG_RANDSTRUCT_NONE=y RUST depends on !RANDSTRUCT
#   CONFIG_LOCALVERSION      so the packages do not replace the distro's
# Everything else stays as the distribution set it. The script checks that
# CONFIG_RUST=y survived `make olddefconfig` and says which dependency
# dropped it if not.
#
# Needs: the Rust toolchain and bindgen that scripts/setup.sh installs (the
# same rustc must later build the module), dpkg-dev, debhelper, and the
# kernel's usual build dependencies. A full distribution kernel takes hours
# on two cores.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
source=/usr/src/linux-source-6.12.tar.xz
config=/boot/config-$(uname -r)
out=$PWD/tcp-stealth-kernel
llvm=0
localversion=-stealth
config_only=0
jobs=$(nproc)
export PATH=$HOME/.cargo/bin:$PATH

die() { echo "distro-kernel.sh: $*" >&2; exit 2; }
log() { echo "distro-kernel.sh: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	--source) source=${2:?}; shift 2 ;;
	--config) config=${2:?}; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	--llvm) llvm=1; shift ;;
	--localversion) localversion=${2?}; shift 2 ;;
	--config-only) config_only=1; shift ;;
	-j) jobs=${2:?}; shift 2 ;;
	-h|--help) sed -n '3,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

[ -e "$source" ] || die "no kernel source at $source (apt install linux-source-6.12, or --source)"
[ -f "$config" ] || die "no config at $config (use --config; Debian's are in linux-config-6.12)"
case $config in *.xz) reader=(xz -dc) ;; *) reader=(cat) ;; esac

mkdir -p "$out"
tree=$out/linux
rm -rf "$tree"
if [ -d "$source" ]; then
	log "copying $source"
	cp -a "$source" "$tree"
else
	log "unpacking $source"
	mkdir "$tree"
	tar -C "$tree" --strip-components=1 -xf "$source"
fi
cd "$tree"
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	log "applying $p"
	patch -p1 --quiet --forward < "$top/patches/$p"
done < "$top/patches/series"

make_args=(ARCH=x86_64)
if [ "$llvm" = 1 ]; then
	make_args+=(LLVM=1)
fi
rust_sysroot=$(cd "$top" && rustc --print sysroot)
make_args+=(RUSTC="$rust_sysroot/bin/rustc" RUSTFMT="$rust_sysroot/bin/rustfmt")

"${reader[@]}" "$config" > .config
set_opt() { scripts/config --file .config "$@"; }
set_opt --enable RUST --disable MODVERSIONS \
	--disable RANDSTRUCT_FULL --disable RANDSTRUCT_PERFORMANCE --enable RANDSTRUCT_NONE \
	--set-str LOCALVERSION "$localversion"
# Debian's trusted-keys settings name certificates that only its build has.
set_opt --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS ""
pahole_ok=0
if command -v pahole >/dev/null; then
	v=$(pahole --version | tr -dc '0-9')
	[ "${v:-0}" -ge 126 ] && pahole_ok=1
fi
if [ "$pahole_ok" = 0 ] && grep -q '^CONFIG_DEBUG_INFO_BTF=y' .config; then
	log "pahole older than 1.26 (or missing): turning off DEBUG_INFO_BTF, which RUST excludes then"
	set_opt --disable DEBUG_INFO_BTF
fi
log "make olddefconfig"
make "${make_args[@]}" olddefconfig >/dev/null
if ! grep -qx 'CONFIG_RUST=y' .config; then
	log "CONFIG_RUST did not stick. Its dependencies in this tree:"
	awk '/^config RUST$/,/help/' init/Kconfig | grep depends >&2
	make "${make_args[@]}" rustavailable >&2 || true
	exit 1
fi
log "CONFIG_RUST=y; release $(make -s "${make_args[@]}" kernelrelease 2>/dev/null)"
if [ "$config_only" = 1 ]; then
	echo "$tree/.config"
	exit 0
fi

log "make bindeb-pkg -j$jobs (this takes long)"
make "${make_args[@]}" -j"$jobs" bindeb-pkg DPKG_FLAGS=-d
log "packages in $out:"
ls "$out"/*.deb >&2
