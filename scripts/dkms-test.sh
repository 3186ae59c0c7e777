#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS, end to end (make check-dkms): the test kernel's own Debian packages
# (bindeb-pkg, scripts/packages.sh) and tcp-stealth-dkms
# (scripts/deb-dkms.sh) installed with dpkg in the VM, the module built there
# by DKMS against the installed headers, modprobe, and knocks
# (scripts/dkms-guest.sh). The VM boots the very kernel that was packaged.
#
# The module is compiled inside the VM under TCG, which takes minutes: this
# is not part of `make check`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

# The administrator's route starts from the distribution's configuration:
# Debian's own amd64 config must come out of scripts/distro-kernel.sh with
# CONFIG_RUST=y (only the configuration: the build would take hours).
debian_config=/usr/src/linux-config-6.12/config.amd64_none_amd64.xz
if [ -f "$debian_config" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/tcp-stealth-distro.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	config=$("$top/scripts/distro-kernel.sh" --config-only --config "$debian_config" --out "$work")
	for want in CONFIG_RUST=y CONFIG_NETFILTER=y CONFIG_IPV6=y; do
		grep -qx "$want" "$config" || { echo "dkms-test: $want missing from $config" >&2; exit 1; }
	done
	echo "dkms-test: Debian's config with Rust: ok ($(grep -c '^CONFIG_.*=[ym]' "$config") options set)"
	rm -rf "$work"
	trap - EXIT
else
	echo "dkms-test: no $debian_config (linux-config-6.12): distro-kernel.sh not tried" >&2
	exit 1
fi
debs=$("$top/scripts/packages.sh")
dkms_deb=$("$top/scripts/deb-dkms.sh")
make -s -C "$top/tests" >/dev/null

# dpkg and dkms write under /usr, /var, /boot and /root (rustup): give the
# guest throwaway overlays there; the compiler needs more than 1 GiB.
export TCP_STEALTH_VM_OVERLAYS="/usr /var /boot /root /etc"
export TCP_STEALTH_VM_MEMORY=${TCP_STEALTH_VM_MEMORY:-3G}
exec "$top/scripts/vm-run" --no-module -- scripts/dkms-guest.sh "$debs" "$dkms_deb"
