# SPDX-License-Identifier: GPL-2.0
#
# tcp_stealth, built out of tree against a Rust-enabled kernel.
#
#   make            build tcp_stealth.ko (against the cached test kernel,
#                   or the kernel tree given as KDIR=); with
#                   TCP_STEALTH_BENCH=1 it has the test-only benchmark file
#                   (make bench builds it so, in a copy)
#   make demo       set everything up, then show the module at work in a VM
#   make check      set everything up, then run all tests
#   make setup      only install dependencies and build the test kernel
#   make vm CMD=... boot the test kernel with the module and run CMD
#   make bench      run the benchmarks in one VM and print a table of ratios
#                   (BENCHMARKS.md)
#   make fuzz       run every fuzz target of fuzz/ (cargo-fuzz, nightly) for
#                   FUZZ_SECONDS (default 60) each; make check runs them for
#                   FUZZ_CHECK_SECONDS (default 2) each
#   make fmt        rustfmt the module sources
#   make lint       rustfmt --check, clippy on the module, the host crates
#                   and fuzz/ (scripts/lint.sh; make check runs it too)
#   make install    install the module into KDIR's modules (modules_install)
#   make tools      build the knock CLI (target/release/knock) and the shim
#                   (tools/shim/libtcpstealth.so)
#   make deb-kernel Debian packages of the test kernel and its headers
#                   (bindeb-pkg; scripts/packages.sh)
#   make deb-dkms   the tcp-stealth-dkms package (build/deb/)
#   make check-dkms both installed in the VM, the module built there by
#                   DKMS, modprobe and a knock (scripts/dkms-test.sh)
#   make clean

# kbuild reads Kbuild, never this file (scripts/Makefile.build prefers
# Kbuild). No "ifneq ($(KERNELRELEASE),)" test either: DKMS runs this
# Makefile with KERNELRELEASE set in the environment.

KDIR ?= $(shell scripts/kernel.sh --kdir)
# The cached test kernel records how it was built (LLVM=1); reuse that. A
# kernel from elsewhere (a headers package, for DKMS) says in its config
# whether clang built it, and then the module must be built with LLVM=1 too.
KMAKE_ARGS ?= $(shell cat $(KDIR)/.tcp_stealth_make_args 2>/dev/null || \
	{ grep -qs '^CONFIG_CC_IS_CLANG=y' $(KDIR)/include/config/auto.conf && echo LLVM=1; })
# Computed once: sub-makes and the test scripts inherit it.
export KDIR
RUSTFMT ?= $(shell rustc --print sysroot)/bin/rustfmt

.PHONY: all modules setup kernel check demo vm bench fuzz fmt fmt-check lint clean clean-module install tools \
	dkms-source deb-dkms deb-kernel check-dkms

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) modules

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) modules_install

setup:
	scripts/setup.sh

kernel:
	scripts/kernel.sh

check: setup
	$(MAKE) modules
	scripts/check.sh

demo: setup
	$(MAKE) modules tools
	scripts/demo.sh

tools:
	cargo build --release -p knock
	$(MAKE) -C tools/shim

vm: modules
	scripts/vm-run -- $(CMD)

bench: setup
	scripts/bench.sh

FUZZ_SECONDS ?= 60

# Needs neither the kernel nor the VM: only nightly and cargo-fuzz.
fuzz:
	scripts/setup.sh --fuzz
	scripts/fuzz.sh $(FUZZ_SECONDS)

fmt:
	$(RUSTFMT) --edition 2021 src/tcp_stealth_main.rs

fmt-check:
	$(RUSTFMT) --edition 2021 --check src/tcp_stealth_main.rs
	cargo fmt --check
	cargo fmt --check --manifest-path fuzz/Cargo.toml

lint:
	scripts/lint.sh

# The module's sources as DKMS wants them in /usr/src/tcp_stealth-VERSION:
# what Kbuild compiles, nothing built.
DKMS_SOURCES := Kbuild Makefile dkms.conf LICENSE rust-toolchain.toml \
	$(wildcard include/*.h include/uapi/linux/*.h) \
	$(filter-out src/ffi/bindings_generated.rs, \
		$(wildcard src/*.rs src/*.c src/ffi/*.rs src/proto/*.rs)) \
	src/ffi/bindgen_parameters

dkms-source:
	@test -n "$(DESTDIR)" || { echo "make dkms-source needs DESTDIR=" >&2; exit 2; }
	mkdir -p $(DESTDIR)
	tar -cf - $(DKMS_SOURCES) | tar -xf - -C $(DESTDIR)

# The Debian packages: tcp-stealth-dkms (build/deb/), and the test kernel's
# image and headers made by bindeb-pkg (in the kernel cache).
deb-dkms:
	scripts/deb-dkms.sh

deb-kernel: setup
	scripts/packages.sh

# DKMS end to end in the VM: the kernel's packages and tcp-stealth-dkms
# installed with dpkg, the module built by DKMS there, modprobe, a knock.
check-dkms: setup
	$(MAKE) tools
	scripts/dkms-test.sh

# Only the module's build products (what DKMS cleans).
clean-module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) clean
	rm -f src/ffi/bindings_generated.rs

clean: clean-module
	-$(MAKE) -C tests clean
	-$(MAKE) -C bench clean
	-$(MAKE) -C tools/shim clean
	cargo clean
