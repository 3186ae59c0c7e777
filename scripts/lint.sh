#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The lints of `make lint`, each reported as one line "lint: NAME: ok" or
# "lint: NAME: FAIL (...)":
#   fmt     rustfmt --check of the module's sources (src/, from
#           src/tcp_stealth_main.rs), the host workspace and fuzz/;
#   module  clippy on the module (the kernel's CLIPPY=1 build), as built
#           for production and with the benchmark file (TCP_STEALTH_BENCH=1),
#           with any warning counted as a failure. It builds a copy of the
#           module's sources under build/lint/module, so that the
#           tcp_stealth.ko a VM may be loading at the same time is left alone;
#   kdoc    the kernel's scripts/kernel-doc -Wall on the C files (no
#           warning allowed), and a kernel-doc comment on every function of
#           the topic files (all of src/*.c but tcp_stealth_helpers.c, whose
#           wrappers are named after what they wrap);
#   host    cargo clippy --workspace --all-targets -D warnings (proto and
#           tools/knock);
#   fuzz    cargo +nightly clippy -D warnings on fuzz/ (skipped without the
#           nightly toolchain, which `make fuzz` installs);
#   modgraph  scripts/modgraph.py: the module graph of src/ has no cycle,
#           nothing uses the crate root, ffi uses no glue, proto nothing
#           outside proto.
# make check runs fmt, modgraph, host and fuzz in the background from the
# start (they need no kernel), module and kdoc once the kernel is built.
#
#   scripts/lint.sh [LINT...]     default: all six, in this order
#
# Logs go to build/lint/NAME.log. Exits 1 if any lint failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
logs=$top/build/lint
mkdir -p "$logs"
status=0

# run NAME CMD...: one lint; its output goes to build/lint/NAME.log.
run() {
	local name=$1
	shift
	if "$@" >"$logs/$name.log" 2>&1; then
		echo "lint: $name: ok"
	else
		echo "lint: $name: FAIL (build/lint/$name.log)"
		sed 's/^/  /' "$logs/$name.log" | head -40
		status=1
	fi
}

rustfmt_bin=$(rustc --print sysroot)/bin/rustfmt

# (`set -e` does not apply inside `if`: every step's status is checked.)
fmt() {
	local rc=0
	"$rustfmt_bin" --edition 2021 --check src/tcp_stealth_main.rs || rc=1
	cargo fmt --check || rc=1
	cargo fmt --check --manifest-path fuzz/Cargo.toml || rc=1
	return $rc
}

# The module, in a copy of its sources: the kernel's CLIPPY=1 build writes
# its tcp_stealth.ko there. The copy keeps its build products between runs,
# so only what changed (and the crate, always) is rebuilt; with nothing
# changed since a clean run (a hash of the sources, the kernel and this
# script), that run's verdict is kept and nothing is rebuilt.
module() {
	local kdir=${KDIR:-$(scripts/kernel.sh --kdir)}
	local args
	args=$(cat "$kdir/.tcp_stealth_make_args" 2>/dev/null) || args=
	local copy=$logs/module
	mkdir -p "$copy" || return 1
	# -c: only files whose contents changed get a new mtime.
	rsync -rc --delete --exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' \
		--exclude='bindings_generated.rs' --exclude='*.mod*' \
		--exclude='Module.symvers' --exclude='modules.order' \
		--exclude='.*.d' --exclude='*.rmeta' --exclude='.tcp_stealth_kernel' \
		Kbuild Makefile include src "$copy/" || return 1
	# Unchanged sources, kernel and rules since the last clean run: that
	# run's verdict stands (clippy would say the same again).
	local stamp=$logs/module.clean sum
	sum=$( (cd "$copy" && find Kbuild Makefile include src -type f \
		\( -name '*.rs' -o -name '*.[ch]' -o -name Kbuild -o -name Makefile \
		-o -name bindgen_parameters \) -print0 | sort -z | xargs -0 sha256sum;
		echo "$kdir $args"; sha256sum "$top/scripts/lint.sh") | sha256sum)
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
		echo "module: unchanged since the last clean clippy run ($stamp)"
		return 0
	fi
	rm -f "$stamp"
	local bench rc=0
	for bench in 0 1; do
		# Clippy speaks only when the crate is compiled.
		touch "$copy/src/tcp_stealth_main.rs" || return 1
		# Through the Makefile: it cleans objects built for another
		# kernel (KERNEL_STAMP there).
		make -C "$copy" KDIR="$kdir" KMAKE_ARGS="$args" CLIPPY=1 \
			TCP_STEALTH_BENCH=$bench modules >"$logs/module-build.log" 2>&1 || rc=1
		cat "$logs/module-build.log"
		! grep -qE '^(warning|error)(\[|:)' "$logs/module-build.log" || rc=1
	done
	[ "$rc" != 0 ] || echo "$sum" >"$stamp"
	return $rc
}

# kernel-doc: no warning from the kernel's checker, and in the topic files
# no function without a kernel-doc comment right above it.
kdoc() {
	local kdir=${KDIR:-$(scripts/kernel.sh --kdir)} rc=0 out f
	out=$("$kdir/scripts/kernel-doc" -none -Wall src/*.c 2>&1) || rc=1
	[ -z "$out" ] || { echo "$out"; rc=1; }
	for f in src/*.c; do
		[ "$f" != src/tcp_stealth_helpers.c ] || continue
		# A definition starts at column 0 with a name and "(" and has no
		# ";" on that line; its comment ends right above it (or above
		# its return type's own line).
		awk -v f="$f" '
			/^\/\*\*/ { doc = 1 }
			/^\/\*[^*]/ || /^\/\*$/ { doc = 0 }
			/^ \*\/$/ { end = NR; next }
			/^(static |const |struct |unsigned |bool |int |u8 |u32 |void |__sum16 )[^;=]*$/ && !/\(/ { if (end == NR - 1) end = NR; next }
			/^[a-z_].*[a-z0-9_]+\(/ && !/;$/ && !/^#/ && !/=/ {
				if (!(doc && end == NR - 1)) {
					print f ":" NR ": no kernel-doc comment: " $0; bad = 1
				}
				doc = 0
			}
			END { exit bad }' "$f" || rc=1
	done
	return $rc
}

host() {
	cargo clippy --workspace --all-targets -- -D warnings
}

fuzz() {
	cargo +nightly clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
}

modgraph() {
	python3 scripts/modgraph.py
}

[ $# -gt 0 ] || set -- fmt modgraph module kdoc host fuzz
for step in "$@"; do
	case $step in
	fmt | modgraph | module | kdoc | host) run "$step" "$step" ;;
	fuzz)
		if rustup run nightly true >/dev/null 2>&1; then
			run fuzz fuzz
		else
			echo "lint: fuzz: skipped (no nightly toolchain; make fuzz installs it)"
		fi
		;;
	*)
		echo "lint.sh: no lint named '$step' (fmt, modgraph, module, kdoc, host, fuzz)" >&2
		exit 2
		;;
	esac
done
exit "$status"
