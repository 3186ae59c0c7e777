#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Prepare the test kernel: Debian's linux-source-6.12, the patches in
# patches/series, tinyconfig plus scripts/tcp_stealth.config, built with the
# pinned Rust toolchain and bindgen.
#
# The build lives outside the work tree, in $TCP_STEALTH_CACHE (default
# ~/.cache/tcp-stealth), in a directory named by a hash of every input that
# affects it. A second run with the same inputs does nothing.
#
#   scripts/kernel.sh            build if needed, print the kernel tree
#   scripts/kernel.sh --kdir     only print where the tree for these inputs is
#   scripts/kernel.sh --key      print the cache key and its inputs
#   scripts/kernel.sh --unpatched  print the unpatched kernel image's path
#
# The test kernel is built twice from one tree: first without the patches
# (its image is kept as unpatched/bzImage, so the tests can boot a kernel
# where an application must attach the ULP itself), then with them, which
# rebuilds only net/ipv4/tcp.c. The tree is left patched, and modules are
# built against it; the patch changes no structure or symbol, so the same
# module binary loads on both kernels.
#
# TCP_STEALTH_KERNEL=bench selects the benchmark kernel instead: the same
# plus scripts/tcp_stealth-bench.config (no KASAN, lockdep, kmemleak), kept
# in its own directory (linux-bench-KEY) next to the test kernel.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${TCP_STEALTH_CACHE:-$HOME/.cache/tcp-stealth}
tarball=/usr/src/linux-source-6.12.tar.xz
fragment=$top/scripts/tcp_stealth.config
variant=${TCP_STEALTH_KERNEL:-test}
case $variant in
test) overlay= prefix=linux- ;;
bench) overlay=$top/scripts/tcp_stealth-bench.config prefix=linux-bench- ;;
*) echo "kernel.sh: TCP_STEALTH_KERNEL must be test or bench" >&2; exit 2 ;;
esac
# LLVM=1 is needed for KASAN with Rust (init/Kconfig: RUST depends on
# !KASAN || CC_IS_CLANG).
llvm=${TCP_STEALTH_LLVM:-1}
export PATH=$HOME/.cargo/bin:$PATH

key_inputs() {
	echo "script: $(sha256sum < "$0" | cut -d' ' -f1)"
	echo "source: $(dpkg-query -W -f='${Version}' linux-source-6.12)"
	echo "fragment: $(sha256sum < "$fragment" | cut -d' ' -f1)"
	[ -z "$overlay" ] || echo "overlay: $(sha256sum < "$overlay" | cut -d' ' -f1)"
	echo "patches: $(cd "$top/patches" && cat series $(grep -v '^#' series) 2>/dev/null | sha256sum | cut -d' ' -f1)"
	echo "rustc: $(cd "$top" && rustc --version)"
	echo "bindgen: $(bindgen --version)"
	echo "llvm: $llvm $( [ "$llvm" = 1 ] && clang --version | head -1)"
}

key=$(key_inputs | sha256sum | cut -c1-16)
kdir=$cache/$prefix$key

case "${1:-}" in
--kdir) echo "$kdir"; exit 0 ;;
--key) key_inputs; echo "key: $key"; exit 0 ;;
--unpatched) echo "$kdir/unpatched/bzImage"; exit 0 ;;
esac

if [ -f "$kdir/.tcp_stealth_built" ]; then
	echo "$kdir"
	exit 0
fi

# Each line with the seconds since the start, to see where a build's time goes.
log() { echo "kernel.sh: ${SECONDS} s: $*" >&2; }

mkdir -p "$cache"
# Built in place (absolute paths recorded by the build, e.g. objtool's, must
# stay valid so that later incremental builds such as bindeb-pkg stay
# incremental); .tcp_stealth_built marks a complete tree.
rm -rf "$kdir"
log "unpacking $tarball (key $key)"
mkdir "$kdir"
tar -C "$kdir" --strip-components=1 -xf "$tarball"
cd "$kdir"

make_args=(ARCH=x86_64)
[ "$llvm" = 1 ] && make_args+=(LLVM=1)
rust_sysroot=$(cd "$top" && rustc --print sysroot)
make_args+=(RUSTC="$rust_sysroot/bin/rustc" RUSTFMT="$rust_sysroot/bin/rustfmt")

log "configuring"
make "${make_args[@]}" tinyconfig >/dev/null
# The fragment, then the overlay's settings in place of the fragment's.
cat "$fragment" $overlay | awk '
	/^CONFIG_[A-Za-z0-9_]+=/ {
		k = $0; sub(/=.*/, "", k)
		if (!(k in v)) order[++n] = k
		v[k] = $0
	}
	END { for (i = 1; i <= n; i++) print v[order[i]] }' > .tcp_stealth.config
fragment=$PWD/.tcp_stealth.config
scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make "${make_args[@]}" olddefconfig >/dev/null
# Fail early and loudly if a requested option did not stick (a missing
# dependency silently drops options in Kconfig).
missing=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -q "^$opt=" .config && { log "$opt should be off"; missing=1; }
	else
		grep -qx "$line" .config || { log "$line did not stick"; missing=1; }
	fi
done < "$fragment"
[ $missing = 0 ] || { log "config fragment not satisfied"; exit 1; }

jobs=$(( $(nproc) + 1 ))
build() {
	make "${make_args[@]}" -j"$jobs" >>build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
}
if [ "$variant" = test ]; then
	log "building the unpatched kernel with -j$jobs (a few minutes)"
	build
	mkdir -p unpatched
	cp arch/x86/boot/bzImage System.map unpatched/
fi
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	log "applying $p"
	patch -p1 --quiet --forward < "$top/patches/$p"
done < "$top/patches/series"
log "building the patched kernel with -j$jobs"
build
echo "${make_args[*]}" > .tcp_stealth_make_args
touch .tcp_stealth_built
cd /
# One kernel of each variant is kept: drop this variant's older builds
# (unless TCP_STEALTH_KEEP_OLD=1, for work trees still using them).
[ "${TCP_STEALTH_KEEP_OLD:-0}" = 1 ] ||
for old in "$cache/$prefix"*; do
	case ${old#"$cache/$prefix"} in
	bench-*) continue ;;	# the test variant's prefix matches these too
	esac
	[ "$old" = "$kdir" ] || rm -rf "$old"
done
log "built $kdir"
echo "$kdir"
