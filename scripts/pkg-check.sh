#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of the tools package (make deb-tools), which
# tests/tcp_stealth_tools.c (installed_package) then installs with dpkg -i
# in the VM and uses with the module:
#
#   control    the control fields: name, version = `knock --version`,
#              architecture, Depends (libc6 from dpkg-shlibdeps), maintainer
#   files      the exact file list, owners root:root, modes
#   conffiles  /etc/tcp-stealth/policy.conf, and nothing else
#   man        each page renders without a groff warning (-ww), has NAME,
#              SYNOPSIS and DESCRIPTION, bold and italics, a NAME line
#              lexgrog (whatis) reads; knock(1) names every subcommand
#   completions  as `knock completions` writes them; bash's parses
#   install    dpkg --root installs it into an empty root (maintainer
#              scripts run, but leave the host alone: DPKG_ROOT)
#   run        the installed knock runs, checks the shipped policy.conf and
#              finds the installed shim by itself (knock exec)
#   conffile   a changed policy.conf survives reinstalling and removing;
#              purging removes it
#   systemd    systemd-analyze verify of the installed unit, no warning
#              (skipped without systemd-analyze)
#   install-tools  make install-tools DESTDIR=... (PREFIX /usr/local): the
#              same files, the unit running /usr/local/bin/knock, the shim
#              found from there; a second install keeps a changed
#              policy.conf; uninstall-tools removes everything else
#
#   scripts/pkg-check.sh
#
# One line per check, "pkg: NAME: ok|FAIL|skipped ..." and a last line
# "pkg: N passed, N failed, N skipped". Exits non-zero if one failed.
# Leaves the package in build/deb/ for the VM test.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH=$HOME/.cargo/bin:$PATH
passed=0 failed=0 skipped=0
tmp=$(mktemp -d /tmp/pkg-check.XXXXXX) && [ -d "$tmp" ] || { echo "pkg: no temporary directory" >&2; exit 1; }
trap 'rm -rf "$tmp"' EXIT

ok() { echo "pkg: $1: ok"; passed=$((passed + 1)); }
fail() { echo "pkg: $1: FAIL: $2"; failed=$((failed + 1)); }
skip() { echo "pkg: $1: skipped: $2"; skipped=$((skipped + 1)); }
# check NAME: ok if $errs is empty, else FAIL with it.
errs=
err() { errs+="${errs:+; }$*"; }
check() { if [ -z "$errs" ]; then ok "$1"; else fail "$1" "$errs"; fi; errs=; }
summary() {
	echo "pkg: $passed passed, $failed failed, $skipped skipped"
	[ "$failed" = 0 ]
}

if ! deb=$(make -s deb-tools 2>"$tmp/build.log" | tail -n 1) || [ ! -f "$deb" ]; then
	cat "$tmp/build.log"
	fail build "make deb-tools failed"
	summary
	exit
fi
ok build

# --- control ---------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
version=$(target/release/knock --version | awk '{ print $2 }')
[ "$(field Package)" = tcp-stealth-tools ] || err "Package $(field Package)"
[ -n "$version" ] && [ "$(field Version)" = "$version" ] ||
	err "Version $(field Version), knock --version says $version"
[ "$(field Architecture)" = "$(dpkg --print-architecture)" ] || err "Architecture $(field Architecture)"
[[ $(field Depends) =~ (^|, )libc6\ \(\>=\ [0-9.]+\) ]] || err "Depends: $(field Depends)"
[[ $(field Maintainer) =~ .+\ \<.+@.+\>$ ]] || err "Maintainer: $(field Maintainer)"
[[ $(field Installed-Size) =~ ^[0-9]+$ ]] || err "Installed-Size: $(field Installed-Size)"
[ "$(basename "$deb")" = "tcp-stealth-tools_${version}_$(dpkg --print-architecture).deb" ] ||
	err "file name $(basename "$deb")"
check control

# --- files -----------------------------------------------------------------
dpkg-deb -c "$deb" >"$tmp/contents"
awk '$1 !~ /^d/ { print $6 }' "$tmp/contents" | sed 's|^\./|/|' | sort >"$tmp/files"
sort >"$tmp/want" <<'EOF'
/etc/tcp-stealth/policy.conf
/lib/systemd/system/tcp-stealth.service
/usr/bin/knock
/usr/lib/tcp-stealth/libtcpstealth.so
/usr/share/bash-completion/completions/knock
/usr/share/doc/tcp-stealth-tools/changelog.Debian.gz
/usr/share/doc/tcp-stealth-tools/copyright
/usr/share/fish/vendor_completions.d/knock.fish
/usr/share/man/man1/knock.1.gz
/usr/share/man/man5/policy.conf.5.gz
/usr/share/man/man7/tcp_stealth.7.gz
/usr/share/zsh/vendor-completions/_knock
EOF
diff -u "$tmp/want" "$tmp/files" >"$tmp/diff" || err "file list differs: $(grep '^[-+]/' "$tmp/diff" | tr '\n' ' ')"
awk '$2 != "root/root" { print $6 }' "$tmp/contents" | grep . >/dev/null && err "not root/root: $(awk '$2 != "root/root" { print $6 }' "$tmp/contents" | tr '\n' ' ')"
mode() { awk -v f="./${1#/}" '$6 == f || $6 == f "/" { print $1 }' "$tmp/contents"; }
[ "$(mode /etc/tcp-stealth)" = drwx------ ] || err "/etc/tcp-stealth is $(mode /etc/tcp-stealth), want drwx------ (it holds the keys)"
[ "$(mode /etc/tcp-stealth/policy.conf)" = -rw-r--r-- ] || err "policy.conf is $(mode /etc/tcp-stealth/policy.conf)"
[ "$(mode /usr/bin/knock)" = -rwxr-xr-x ] || err "knock is $(mode /usr/bin/knock)"
[ "$(mode /usr/lib/tcp-stealth/libtcpstealth.so)" = -rw-r--r-- ] || err "the shim is $(mode /usr/lib/tcp-stealth/libtcpstealth.so)"
dpkg-deb -x "$deb" "$tmp/x"
for f in usr/bin/knock usr/lib/tcp-stealth/libtcpstealth.so; do
	readelf -S "$tmp/x/$f" | grep -q '\.symtab' && err "$f is not stripped"
done
check files

dpkg-deb -e "$deb" "$tmp/ctl"
[ "$(cat "$tmp/ctl/conffiles")" = /etc/tcp-stealth/policy.conf ] ||
	err "conffiles: $(tr '\n' ' ' <"$tmp/ctl/conffiles")"
for s in postinst prerm postrm; do
	[ -x "$tmp/ctl/$s" ] && sh -n "$tmp/ctl/$s" || err "$s missing or not sh"
done
check conffiles

# --- man pages -------------------------------------------------------------
for page in man1/knock.1 man5/policy.conf.5 man7/tcp_stealth.7; do
	f=$tmp/x/usr/share/man/$page.gz
	name=$(basename "$page")
	zcat "$f" | groff -man -Tutf8 -ww -z 2>"$tmp/groff" || err "$name: groff failed"
	[ -s "$tmp/groff" ] && err "$name: groff: $(head -n 3 "$tmp/groff" | tr '\n' ' ')"
	MANWIDTH=80 MAN_KEEP_FORMATTING=1 man -l "$f" 2>"$tmp/man.err" >"$tmp/man.out" || err "$name: man -l failed"
	[ -s "$tmp/man.err" ] && err "$name: man -l: $(head -n 3 "$tmp/man.err" | tr '\n' ' ')"
	sed 's/.\x08//g' "$tmp/man.out" >"$tmp/man.txt"
	for sh in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -qx "$sh" "$tmp/man.txt" || err "$name: no $sh section"
	done
	# Overstrike: bold is X\bX, italics _\bX.
	grep -q $'\(.\)\x08\\1' "$tmp/man.out" || grep -qP '(.)\x08\1' "$tmp/man.out" || err "$name: nothing bold"
	grep -qP '_\x08[^_]' "$tmp/man.out" || err "$name: nothing in italics"
	head -n 1 "$tmp/man.txt" | grep -q "^${name%.*}(${name##*.})" -i || err "$name: header $(head -n 1 "$tmp/man.txt")"
	lexgrog "$f" >"$tmp/lexgrog" 2>&1 || err "$name: lexgrog: $(cat "$tmp/lexgrog")"
	grep -q "\"${name%.*} - " "$tmp/lexgrog" || err "$name: whatis line $(cat "$tmp/lexgrog")"
	[ "$name" = knock.1 ] || continue
	# Every subcommand of knock's parser is in the page's synopsis.
	for sub in $(target/release/knock --help | awk '/^Commands:/ { on = 1; next }
			on && /^  [a-z]/ && $1 != "help" { print $1 } on && /^$/ { exit }'); do
		grep -q "^ *knock $sub\b" "$tmp/man.txt" || err "knock.1: no \"knock $sub\" in SYNOPSIS"
	done
done
check man

# --- completions -------------------------------------------------------------
cmp -s <(target/release/knock completions bash) "$tmp/x/usr/share/bash-completion/completions/knock" ||
	err "bash completion is not knock completions bash"
cmp -s <(target/release/knock completions zsh) "$tmp/x/usr/share/zsh/vendor-completions/_knock" ||
	err "zsh completion is not knock completions zsh"
cmp -s <(target/release/knock completions fish) "$tmp/x/usr/share/fish/vendor_completions.d/knock.fish" ||
	err "fish completion is not knock completions fish"
bash -n "$tmp/x/usr/share/bash-completion/completions/knock" || err "bash completion does not parse"
bash -c ". '$tmp/x/usr/share/bash-completion/completions/knock' && complete -p knock" >/dev/null 2>&1 ||
	err "bash completion registers nothing for knock"
check completions

# --- install into an empty root ---------------------------------------------
root=$tmp/root
dpkgr() { dpkg --root="$root" --log=/dev/null --force-depends --force-script-chrootless "$@"; }
rm -rf "$root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: >"$root/var/lib/dpkg/status"
dpkgr -i "$deb" >"$tmp/dpkg.log" 2>&1 || err "dpkg -i: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ')"
dpkg --root="$root" -s tcp-stealth-tools 2>/dev/null | grep -qx 'Status: install ok installed' ||
	err "not installed: $(dpkg --root="$root" -s tcp-stealth-tools 2>&1 | grep Status)"
check install

k=$root/usr/bin/knock
[ "$("$k" --version 2>&1)" = "knock $version" ] || err "knock --version: $("$k" --version 2>&1)"
"$k" apply --check -c "$root/etc/tcp-stealth/policy.conf" 2>"$tmp/apply" ||
	err "apply --check of the shipped policy.conf: $(cat "$tmp/apply")"
grep -q "0 port(s), OK" "$tmp/apply" || err "the shipped policy.conf protects something: $(cat "$tmp/apply")"
"$k" keygen "$tmp/key" 2>/dev/null || err "keygen failed"
preload=$(env -u TCP_STEALTH_SHIM "$k" exec --key "$tmp/key" -- sh -c 'printf %s "$LD_PRELOAD"' 2>"$tmp/exec")
[ "$(realpath -m "$preload")" = "$root/usr/lib/tcp-stealth/libtcpstealth.so" ] ||
	err "knock exec preloads \"$preload\" ($(cat "$tmp/exec"))"
check run

conf=$root/etc/tcp-stealth/policy.conf
echo "# changed here" >>"$conf"
dpkgr -i "$deb" >"$tmp/dpkg.log" 2>&1 || err "reinstall: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ')"
grep -q '^# changed here' "$conf" || err "reinstalling replaced the changed policy.conf"
dpkgr -r tcp-stealth-tools >"$tmp/dpkg.log" 2>&1 || err "dpkg -r: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ')"
[ ! -e "$k" ] || err "knock still there after dpkg -r"
grep -q '^# changed here' "$conf" 2>/dev/null || err "dpkg -r removed policy.conf"
dpkgr -P tcp-stealth-tools >"$tmp/dpkg.log" 2>&1 || err "dpkg -P: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ')"
[ ! -e "$conf" ] || err "policy.conf still there after dpkg -P"
dpkgr -i "$deb" >"$tmp/dpkg.log" 2>&1 || err "installing again: $(tail -n 3 "$tmp/dpkg.log" | tr '\n' ' ')"
check conffile

# --- systemd ---------------------------------------------------------------
if ! command -v systemd-analyze >/dev/null; then
	skip systemd "no systemd-analyze"
else
	# A root with the unit and what it runs: knock from the package, a
	# stand-in for modprobe (verify checks that commands exist, not what
	# they do). --man=no: the Documentation= pages are the package's own.
	v=$tmp/verify
	mkdir -p "$v/lib/systemd/system" "$v/usr/bin" "$v/sbin"
	cp "$root/lib/systemd/system/tcp-stealth.service" "$v/lib/systemd/system/"
	cp "$k" "$v/usr/bin/knock"
	printf '#!/bin/sh\n' >"$v/sbin/modprobe"
	chmod 755 "$v/sbin/modprobe"
	systemd-analyze --root="$v" verify --man=no tcp-stealth.service >"$tmp/verify.out" 2>&1 ||
		err "systemd-analyze verify failed"
	[ -s "$tmp/verify.out" ] && err "systemd-analyze verify: $(head -n 5 "$tmp/verify.out" | tr '\n' ' ')"
	for d in $(sed -n 's/^Documentation=//p' "$v/lib/systemd/system/tcp-stealth.service"); do
		p=${d#man:} n=${p%(*} s=${p##*(}
		s=${s%)}
		[ -f "$root/usr/share/man/man$s/$n.$s.gz" ] || err "Documentation=$d is not in the package"
	done
	check systemd
fi

# --- make install-tools / uninstall-tools -----------------------------------
d=$tmp/dest
if ! make -s install-tools DESTDIR="$d" >"$tmp/inst.log" 2>&1; then
	err "make install-tools: $(tail -n 3 "$tmp/inst.log" | tr '\n' ' ')"
else
	(cd "$d" && find . ! -type d | sed 's|^\.||' | sort) >"$tmp/inst"
	sort >"$tmp/want" <<'EOF'
/etc/tcp-stealth/policy.conf
/usr/local/bin/knock
/usr/local/lib/systemd/system/tcp-stealth.service
/usr/local/lib/tcp-stealth/libtcpstealth.so
/usr/local/share/bash-completion/completions/knock
/usr/local/share/fish/vendor_completions.d/knock.fish
/usr/local/share/man/man1/knock.1
/usr/local/share/man/man5/policy.conf.5
/usr/local/share/man/man7/tcp_stealth.7
/usr/local/share/zsh/site-functions/_knock
EOF
	diff -u "$tmp/want" "$tmp/inst" >"$tmp/diff" ||
		err "installed files differ: $(grep '^[-+]/' "$tmp/diff" | tr '\n' ' ')"
	unit=$d/usr/local/lib/systemd/system/tcp-stealth.service
	grep -qx 'ExecStart=/usr/local/bin/knock apply -c /etc/tcp-stealth/policy.conf' "$unit" ||
		err "the unit does not run /usr/local/bin/knock"
	grep -q '/usr/bin/knock' "$unit" && err "the unit still names /usr/bin/knock"
	[ "$(stat -c %a "$d/etc/tcp-stealth")" = 700 ] || err "/etc/tcp-stealth is $(stat -c %a "$d/etc/tcp-stealth")"
	preload=$(env -u TCP_STEALTH_SHIM "$d/usr/local/bin/knock" exec --key "$tmp/key" -- \
		sh -c 'printf %s "$LD_PRELOAD"' 2>&1)
	[ "$(realpath -m "$preload")" = "$d/usr/local/lib/tcp-stealth/libtcpstealth.so" ] ||
		err "installed knock exec preloads \"$preload\""
	echo "port 22 key ssh.key" >>"$d/etc/tcp-stealth/policy.conf"
	make -s install-tools DESTDIR="$d" >"$tmp/inst.log" 2>&1 || err "second make install-tools failed"
	grep -qx 'port 22 key ssh.key' "$d/etc/tcp-stealth/policy.conf" || err "install-tools overwrote policy.conf"
	make -s uninstall-tools DESTDIR="$d" >"$tmp/inst.log" 2>&1 || err "make uninstall-tools failed"
	left=$(cd "$d" && find . ! -type d | sed 's|^\.||')
	[ "$left" = /etc/tcp-stealth/policy.conf ] || err "after uninstall-tools: $(echo "$left" | tr '\n' ' ')"
	cp tools/knock/policy.conf.example "$d/etc/tcp-stealth/policy.conf"
	make -s uninstall-tools DESTDIR="$d" >"$tmp/inst.log" 2>&1 || err "make uninstall-tools failed"
	[ ! -e "$d/etc/tcp-stealth" ] || err "uninstall-tools left the unchanged example"
fi
check install-tools

summary
