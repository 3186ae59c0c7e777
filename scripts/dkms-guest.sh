#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest half of scripts/dkms-test.sh (run by vm-run --no-module, with /usr,
# /var, /boot and /root writable overlays): the Debian way of installing
# tcp_stealth on a kernel with Rust, end to end.
#
#   scripts/dkms-guest.sh KERNEL_DEBS_DIR DKMS_DEB
set -euo pipefail

debs=$1 dkms_deb=$2
rel=$(uname -r)
name=tcp_stealth
version=$(dpkg-deb -f "$dkms_deb" Version)
# dkms runs make, which runs rustc and bindgen: the toolchain setup.sh put
# under root's home.
export PATH=/root/.cargo/bin:$PATH
step() { echo "dkms-guest: $*"; }
fail() { echo "dkms-guest: FAIL: $*" >&2; exit 1; }

[ "$rel" = "$(cat "$debs/release")" ] ||
	fail "booted $rel, but the packages are for $(cat "$debs/release")"
[ ! -e /sys/module/$name ] || fail "$name is loaded before the test"

step "dpkg -i linux-image-$rel linux-headers-$rel"
dpkg -i "$debs/linux-image-${rel}_${rel}-1_amd64.deb" \
	"$debs/linux-headers-${rel}_${rel}-1_amd64.deb"
hdr=/lib/modules/$rel/build
[ -f "$hdr/rust/libmacros.so" ] && [ -f "$hdr/rust/libkernel.rmeta" ] ||
	fail "the headers package has no Rust metadata under $hdr/rust"

step "dpkg -i $(basename "$dkms_deb") (DKMS builds the module here)"
dpkg -i "$dkms_deb"
status=$(dkms status -m $name -v "$version" -k "$rel")
echo "$status"
case $status in *installed*) ;; *) fail "dkms status: '$status'" ;; esac
ko=$(modinfo -n $name)
[ "$ko" = "/lib/modules/$rel/updates/dkms/$name.ko" ] || fail "modinfo finds $ko"
[ "$(modinfo -F vermagic $name | cut -d' ' -f1)" = "$rel" ] || fail "vermagic"

step "modprobe $name"
modprobe $name
[ -e /sys/module/$name ] || fail "modprobe loaded nothing"

# Knocks through the DKMS-built module: a protected listener, a knocked
# client, an unknocked one and one with the wrong secret, both families.
step "knocks: tests/tcp_stealth_core"
tests/tcp_stealth_core -t valid_knock_connects -t no_knock_is_refused \
	-t wrong_secret_is_refused

step "rmmod, then dpkg -r tcp-stealth-dkms"
rmmod $name
dpkg -r tcp-stealth-dkms
[ ! -e "$ko" ] || fail "$ko is still there after dpkg -r"
if dkms status -m $name | grep -q .; then fail "dkms still knows $name"; fi
step "ok"
