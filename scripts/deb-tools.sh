#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian package of the user tools, tcp-stealth-tools, with
# dpkg-deb (make deb-tools runs it once knock, the shim, the man pages and
# the completions are built):
#
#   /usr/bin/knock
#   /usr/lib/tcp-stealth/libtcpstealth.so           the LD_PRELOAD shim
#   /usr/share/man/man{1,5,7}/*.gz                  knock(1), policy.conf(5),
#                                                   tcp_stealth(7)
#   /usr/share/bash-completion/completions/knock, /usr/share/zsh/
#   vendor-completions/_knock, /usr/share/fish/vendor_completions.d/knock.fish
#   /lib/systemd/system/tcp-stealth.service        not enabled: the admin
#                                                   enables it
#   /etc/tcp-stealth/policy.conf                   conffile, comments only
#   /usr/share/doc/tcp-stealth-tools/{copyright,changelog.Debian.gz}
#
# Depends: from dpkg-shlibdeps (the libraries knock and the shim link).
# The kernel module is another package (DKMS or a kernel build): the tools
# say so clearly when it is not loaded.
#
#   scripts/deb-tools.sh [OUTDIR]   print the path of the .deb it made:
#                                   OUTDIR/tcp-stealth-tools_VERSION_ARCH.deb
#                                   (OUTDIR default: build/deb)
#
# Environment: DEB_MAINTAINER (default: tcp-stealth-dkms's maintainer),
# SOURCE_DATE_EPOCH (default: the time of the last commit), for the
# changelog's date, the man pages' and the files' times.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pkg=tcp-stealth-tools
version=$(sed -n 's/^version = "\(.*\)"/\1/p' tools/knock/Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
outdir=${1:-$top/build/deb}
out=$outdir/${pkg}_${version}_${arch}.deb
# dpkg-shlibdeps wants the files in debian/PACKAGE/ under a directory with
# debian/control.
work=$(mktemp -d "${TMPDIR:-/tmp}/tcp-stealth-tools-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/debian/$pkg

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
# The same as tcp-stealth-dkms's (scripts/deb-dkms.sh).
maintainer=${DEB_MAINTAINER:-tcp_stealth developers <tcp-stealth@localhost>}

mkdir -p "$root" "$outdir"
make -s install-tools DESTDIR="$root" PREFIX=/usr UNITDIR=/lib/systemd/system \
	ZSHCOMPDIR=/usr/share/zsh/vendor-completions SYSCONFDIR=/etc >&2

# As dh_strip and dh_installman would: no symbols, man pages gzipped with
# no name or time in them.
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
	"$root/usr/bin/knock" "$root/usr/lib/tcp-stealth/libtcpstealth.so"
gzip -9n "$root"/usr/share/man/man*/*

doc=$root/usr/share/doc/$pkg
install -d "$doc"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: tcp_stealth
Comment: knock, the libtcpstealth.so shim, their man pages and the systemd
 unit, from the tcp_stealth source tree (tools/, docs/).

Files: *
Copyright: the tcp_stealth authors
License: GPL-2
 This program is free software; you can redistribute it and/or modify it
 under the terms of the GNU General Public License version 2 as published by
 the Free Software Foundation.
 .
 This program is distributed in the hope that it will be useful, but WITHOUT
 ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or
 FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for
 more details.
 .
 On Debian systems, the complete text of the GNU General Public License
 version 2 can be found in /usr/share/common-licenses/GPL-2.
EOF
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "$version"
	printf '  * Built from the tcp_stealth source tree, commit %s.\n\n' "$rev"
	printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 644 "$doc"/*

# Maintainer scripts: systemd learns of the unit and forgets it; a running
# policy is stopped (its ExecStop needs knock) before knock goes. Nothing is
# enabled or started: the admin writes the policy first. Under
# dpkg --root/--instdir (DPKG_ROOT set) they leave the running system alone.
install -d "$root/DEBIAN"
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl stop tcp-stealth.service >/dev/null 2>&1 || true
fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	if [ "$1" = purge ]; then
		systemctl disable tcp-stealth.service >/dev/null 2>&1 || true
	fi
	systemctl --system daemon-reload >/dev/null || true
fi
EOF
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
find "$root/etc" -type f | sed "s|^$root||" | sort >"$root/DEBIAN/conffiles"

# Depends from the libraries the binaries link.
printf 'Source: tcp-stealth\n\nPackage: %s\nArchitecture: any\n' "$pkg" >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O -e"debian/$pkg/usr/bin/knock" \
	-e"debian/$pkg/usr/lib/tcp-stealth/libtcpstealth.so" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "deb-tools: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)

cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Suggests: tcp-stealth-dkms, openssh-client
Section: net
Priority: optional
Description: user tools of tcp_stealth, stealth port knocking for TCP
 tcp_stealth is a Linux kernel module (packaged separately) that makes TCP
 listeners answer like closed ports unless a SYN carries a valid knock, a
 MAC in a TCP option.
 .
 This package has the tools around it: knock (key files, a knocking netcat
 for ssh's ProxyCommand, status, counters, the administrator's per-port
 policy), libtcpstealth.so (an LD_PRELOAD shim that makes unmodified
 programs knock or want knocks), the man pages knock(1), policy.conf(5) and
 tcp_stealth(7), shell completions, and tcp-stealth.service, which applies
 /etc/tcp-stealth/policy.conf at boot before sshd listens.
EOF

# Root-owned files whatever builds it; times no later than the commit.
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zgzip --build "$root" "$out" >&2
echo "$out"
