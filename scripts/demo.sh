#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: boot the test kernel with tcp_stealth and tell its story.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
echo "Booting the test kernel in QEMU (TCG; a minute or two) ..."
exec "$top/scripts/vm-run" -- "$top/scripts/demo-guest.sh"
