#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian packages of the patched test kernel and its headers, made by the
# kernel's own `make bindeb-pkg` in the cached kernel tree (scripts/kernel.sh),
# so that the DKMS route can be tried end to end (scripts/dkms-test.sh). The
# headers package carries the Rust metadata an out-of-tree Rust module needs
# (patches/0002-...).
#
#   scripts/packages.sh         build them if needed, print their directory
#   scripts/packages.sh --dir   only print where they are for this kernel
#
# They are kept in $TCP_STEALTH_CACHE/debs-KEY (KEY: the kernel's cache key),
# one set per kernel. A second run with the same kernel does nothing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCP_STEALTH_CACHE:-$HOME/.cache/tcp-stealth}
kdir=$("$top/scripts/kernel.sh" --kdir)
key=${kdir##*/linux-}
out=$cache/debs-$key

log() { echo "packages.sh: $*" >&2; }

if [ "${1:-}" = --dir ]; then
	echo "$out"
	exit 0
fi
if [ -f "$out/.tcp_stealth_built" ]; then
	echo "$out"
	exit 0
fi

"$top/scripts/kernel.sh" >/dev/null
for tool in dpkg-buildpackage dh_testdir; do
	command -v "$tool" >/dev/null || { log "$tool is missing (scripts/setup.sh installs it)"; exit 2; }
done

# The kernel tree's make arguments (LLVM=1, the pinned rustc).
read -r -a make_args < "$kdir/.tcp_stealth_make_args"
release=$(cat "$kdir/include/config/kernel.release")
jobs=$(( $(nproc) + 1 ))

rm -rf "$out"
mkdir -p "$out"
log "make bindeb-pkg for $release (a few minutes)"
# DPKG_FLAGS=-d: the Build-Depends that mkdebian writes name a cross
# compiler package (gcc-x86-64-linux-gnu) that a native clang build does not
# use; everything the build does use is installed by setup.sh.
if ! make -C "$kdir" "${make_args[@]}" -j"$jobs" bindeb-pkg \
	DPKG_FLAGS=-d KDEB_PKGVERSION="$release-1" >"$out/bindeb-pkg.log" 2>&1; then
	tail -40 "$out/bindeb-pkg.log" >&2
	exit 1
fi
# bindeb-pkg writes the packages next to the tree, into the cache.
shopt -s nullglob
debs=("$cache"/linux-*_"$release-1"_*.deb)
[ ${#debs[@]} -gt 0 ] || { log "bindeb-pkg made no packages (see $out/bindeb-pkg.log)"; exit 1; }
mv "${debs[@]}" "$out/"
rm -f "$cache"/linux-upstream_"$release-1"_*.{buildinfo,changes}
for p in linux-image linux-headers; do
	[ -f "$out/${p}-${release}_${release}-1_amd64.deb" ] ||
		{ log "no $p package for $release"; exit 1; }
done
echo "$release" > "$out/release"
touch "$out/.tcp_stealth_built"
log "built $(cd "$out" && echo *.deb)"
echo "$out"
