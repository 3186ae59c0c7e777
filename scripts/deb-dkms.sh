#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian package tcp-stealth-dkms: the module's sources in
# /usr/src/tcp_stealth-VERSION with dkms.conf, built and installed by DKMS
# for every kernel with Rust whose headers are installed (now and whenever a
# new kernel's headers arrive), the way Debian's *-dkms packages work.
#
#   scripts/deb-dkms.sh [OUTDIR]    print the path of the .deb it made
#                                   (OUTDIR default: build/deb)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/build/deb}
name=tcp_stealth
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")
[ -n "$version" ] || { echo "deb-dkms.sh: no PACKAGE_VERSION in dkms.conf" >&2; exit 1; }
pkg=tcp-stealth-dkms

root=$(mktemp -d "${TMPDIR:-/tmp}/tcp-stealth-deb.XXXXXX")
trap 'rm -rf "$root"' EXIT
src=$root/usr/src/$name-$version
mkdir -p "$src" "$root/DEBIAN" "$root/usr/share/doc/$pkg"
make -s -C "$top" --no-print-directory dkms-source DESTDIR="$src"
cp "$top/LICENSE" "$root/usr/share/doc/$pkg/copyright"

cat > "$root/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: all
Maintainer: tcp_stealth developers <tcp-stealth@localhost>
Section: kernel
Priority: optional
Depends: dkms (>= 2.1.0.0), make, clang, lld, llvm
Recommends: tcp-stealth-tools
Installed-Size: $(du -sk "$root/usr" | cut -f1)
Description: stealth port knocking for TCP (DKMS module sources)
 tcp_stealth makes TCP listeners invisible to port scanners: a listener with
 a secret accepts only SYNs that carry a valid knock, a MAC in a TCP option,
 and everyone else sees a closed port.
 .
 This package holds the sources of the tcp_stealth kernel module, written in
 Rust, for DKMS to build against every installed kernel that has CONFIG_RUST
 and whose headers package carries the Rust metadata. The build needs the
 rustc and bindgen that built the kernel.
CONTROL

# DKMS's own helper adds, builds and installs the module for the running
# and the newest kernel; DKMS's kernel hooks do it for kernels to come.
cat > "$root/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
case "\$1" in
configure)
	/usr/lib/dkms/common.postinst $name $version "" "" "\$2"
	;;
esac
POSTINST
cat > "$root/DEBIAN/prerm" <<PRERM
#!/bin/sh
set -e
case "\$1" in
remove|upgrade|deconfigure)
	if dkms status -m $name -v $version | grep -q .; then
		dkms remove -m $name -v $version --all
	fi
	;;
esac
PRERM
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm"

mkdir -p "$out"
deb=$out/${pkg}_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
