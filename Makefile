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
#   make lint       rustfmt --check, the module graph (scripts/modgraph.py),
#                   clippy on the module, the host crates and fuzz/
#                   (scripts/lint.sh; make check runs it too)
#   make install    install the module into KDIR's modules (modules_install)
#   make tools      build the knock CLI (target/release/knock) and the shim
#                   (tools/shim/libtcpstealth.so)
#   make man        render the man pages of docs/ into build/man/
#                   (scripts/md2man, go-md2man)
#   make install-tools [PREFIX=/usr/local] [DESTDIR=]
#                   install knock, the shim, the man pages, shell completions,
#                   the systemd unit and, if there is none yet, a policy file
#                   of comments only (/etc/tcp-stealth/policy.conf); builds
#                   what is missing first (make tools man, as your user,
#                   then sudo make install-tools)
#   make uninstall-tools [PREFIX=...]   remove them again (the policy file
#                   only if it is still the example)
#   make deb-tools  build/deb/tcp-stealth-tools_VERSION_ARCH.deb of the same
#                   files, laid out the Debian way (scripts/deb-tools.sh)
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
.PHONY: man install-tools uninstall-tools deb-tools

all: modules

# Kbuild rebuilds an object when its sources or its command line change. The
# command line names KDIR's files by relative paths, and the recorded
# dependencies by KDIR's old absolute ones: after KDIR changes (another
# kernel, or the cached one rebuilt under a new key) every object looks up to
# date, and the module is linked from objects compiled for the other kernel's
# config (it loads, and misbehaves). So the kernel the objects were compiled
# for is recorded in $(KERNEL_STAMP); when it differs, or a build has no
# record, the module's objects are removed first. Only the module's own:
# kbuild's `clean` sweeps the whole directory, the cargo target directory
# included, under a cargo build that make check runs beside this one.
KERNEL_STAMP := .tcp_stealth_kernel
kernel_id = $(KDIR) $(KMAKE_ARGS) $$(cat $(KDIR)/.config $(KDIR)/Module.symvers 2>/dev/null | cksum)
MODULE_PRODUCTS = *.o .*.o *.ko *.mod *.mod.c .*.cmd modules.order Module.symvers \
	src/ffi/bindings_generated.rs
remove_module_products = rm -f $(MODULE_PRODUCTS) && \
	find src \( -name '*.o' -o -name '.*.cmd' -o -name '.*.d' \) -type f -delete

modules:
	@id="$(kernel_id)"; \
	if [ "$$(cat $(KERNEL_STAMP) 2>/dev/null)" != "$$id" ]; then \
		if [ -e tcp_stealth.o ] || [ -e src/tcp_stealth_main.o ]; then \
			echo "  STEALTH objects not known to be built for $(KDIR): removing them"; \
		fi; \
		$(remove_module_products) && echo "$$id" >$(KERNEL_STAMP); \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) modules

install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(KMAKE_ARGS) modules_install

setup:
	scripts/setup.sh

kernel:
	scripts/kernel.sh

# After setup: KDIR is handed on only if it was given (command line or
# environment). The default above was computed before setup installed what
# the kernel's cache key names (bindgen, rustc, clang), so on a fresh machine
# it names the wrong tree; the commands below compute it again.
AFTER_SETUP := $(if $(filter file,$(origin KDIR)),env -u KDIR)

# check.sh builds the kernel itself (beside the host-side checks), then the
# module.
check:
	scripts/setup.sh --no-kernel
	$(AFTER_SETUP) scripts/check.sh

demo: setup
	$(AFTER_SETUP) $(MAKE) modules tools
	$(AFTER_SETUP) scripts/demo.sh

tools:
	cargo build --release -p knock
	$(MAKE) -C tools/shim

# --- the user tools, installed ------------------------------------------------
# The version of the tools: knock's (what `knock --version` says).
TOOLS_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' tools/knock/Cargo.toml | head -n 1)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# knock exec finds the shim at ../lib/tcp-stealth/ from knock's directory.
SHIMDIR ?= $(PREFIX)/lib/tcp-stealth
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# systemd looks in /usr/local/lib/systemd/system and /usr/lib/systemd/system.
UNITDIR ?= $(PREFIX)/lib/systemd/system
# knock apply reads /etc/tcp-stealth/policy.conf, whatever the prefix.
SYSCONFDIR ?= /etc

KNOCK_BIN := target/release/knock
SHIM_SO := tools/shim/libtcpstealth.so
MAN_PAGES := build/man/knock.1 build/man/policy.conf.5 build/man/tcp_stealth.7
COMPLETIONS := build/completions/knock.bash build/completions/_knock build/completions/knock.fish

# Built only if missing: `make tools` rebuilds them when the sources change.
$(KNOCK_BIN) $(SHIM_SO):
	$(MAKE) tools

man: $(MAN_PAGES)

build/man/%: docs/%.md scripts/md2man tools/knock/Cargo.toml
	scripts/md2man $< $@ $(TOOLS_VERSION)

build/completions/knock.bash: $(KNOCK_BIN)
	@mkdir -p $(@D)
	$(KNOCK_BIN) completions bash >$@
build/completions/_knock: $(KNOCK_BIN)
	@mkdir -p $(@D)
	$(KNOCK_BIN) completions zsh >$@
build/completions/knock.fish: $(KNOCK_BIN)
	@mkdir -p $(@D)
	$(KNOCK_BIN) completions fish >$@

install-tools: $(KNOCK_BIN) $(SHIM_SO) $(MAN_PAGES) $(COMPLETIONS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHIMDIR) $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 755 $(KNOCK_BIN) $(DESTDIR)$(BINDIR)/knock
	install -m 644 $(SHIM_SO) $(DESTDIR)$(SHIMDIR)/libtcpstealth.so
	install -m 644 build/man/knock.1 $(DESTDIR)$(MANDIR)/man1/knock.1
	install -m 644 build/man/policy.conf.5 $(DESTDIR)$(MANDIR)/man5/policy.conf.5
	install -m 644 build/man/tcp_stealth.7 $(DESTDIR)$(MANDIR)/man7/tcp_stealth.7
	install -m 644 build/completions/knock.bash $(DESTDIR)$(BASHCOMPDIR)/knock
	install -m 644 build/completions/_knock $(DESTDIR)$(ZSHCOMPDIR)/_knock
	install -m 644 build/completions/knock.fish $(DESTDIR)$(FISHCOMPDIR)/knock.fish
	sed 's|/usr/bin/knock|$(BINDIR)/knock|g' tools/knock/systemd/tcp-stealth.service \
		>$(DESTDIR)$(UNITDIR)/tcp-stealth.service
	chmod 644 $(DESTDIR)$(UNITDIR)/tcp-stealth.service
	[ -d $(DESTDIR)$(SYSCONFDIR)/tcp-stealth ] || install -d -m 700 $(DESTDIR)$(SYSCONFDIR)/tcp-stealth
	[ -e $(DESTDIR)$(SYSCONFDIR)/tcp-stealth/policy.conf ] || \
		install -m 644 tools/knock/policy.conf.example $(DESTDIR)$(SYSCONFDIR)/tcp-stealth/policy.conf

uninstall-tools:
	rm -f $(DESTDIR)$(BINDIR)/knock $(DESTDIR)$(SHIMDIR)/libtcpstealth.so \
		$(DESTDIR)$(MANDIR)/man1/knock.1 $(DESTDIR)$(MANDIR)/man5/policy.conf.5 \
		$(DESTDIR)$(MANDIR)/man7/tcp_stealth.7 $(DESTDIR)$(BASHCOMPDIR)/knock \
		$(DESTDIR)$(ZSHCOMPDIR)/_knock $(DESTDIR)$(FISHCOMPDIR)/knock.fish \
		$(DESTDIR)$(UNITDIR)/tcp-stealth.service
	rmdir $(DESTDIR)$(SHIMDIR) 2>/dev/null || true
	! cmp -s tools/knock/policy.conf.example $(DESTDIR)$(SYSCONFDIR)/tcp-stealth/policy.conf || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/tcp-stealth/policy.conf
	rmdir $(DESTDIR)$(SYSCONFDIR)/tcp-stealth 2>/dev/null || true

# Always from fresh binaries (cargo and make -C tools/shim do nothing when
# they are up to date).
deb-tools: tools
	$(MAKE) man
	scripts/deb-tools.sh

vm: modules
	scripts/vm-run -- $(CMD)

bench: setup
	$(AFTER_SETUP) scripts/bench.sh

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
	$(AFTER_SETUP) scripts/packages.sh

# DKMS end to end in the VM: the kernel's packages and tcp-stealth-dkms
# installed with dpkg, the module built by DKMS there, modprobe, a knock.
check-dkms: setup
	$(AFTER_SETUP) scripts/dkms-test.sh

# Only the module's build products (what DKMS cleans).
clean-module:
	$(remove_module_products)
	rm -f $(KERNEL_STAMP)

clean: clean-module
	-$(MAKE) -C tests clean
	-$(MAKE) -C bench clean
	-$(MAKE) -C tools/shim clean
	rm -rf build/man build/completions build/deb/tcp-stealth-tools_*.deb
	cargo clean
