# Installing and packaging: make install / uninstall into a scratch DESTDIR,
# make deb, and the .deb installed by dpkg into a scratch root (its own
# dpkg database; the system's /, /etc, /usr and dpkg database are not
# touched). The binary is never rebuilt here: the test packages the one
# under test ($UPGR: ./upgr, or build/san/upgr in a sanitizer run).
. "$(dirname "$0")/../lib/testlib.sh"

top=$UPGR_TOP
# Isolate the nested make from the `make check` that runs us.
unset MAKEFLAGS MFLAGS MAKELEVEL
mk() { make -s --no-print-directory -C "$top" UPGR_BIN="$UPGR" "$@"; }
if [ ! -x "$UPGR" ]; then
	not_ok "no $UPGR to package: run make first"
	exit 0
fi

# --- make install ---------------------------------------------------------
inst=$T/inst
check "make install DESTDIR PREFIX=/usr" mk install DESTDIR="$inst" PREFIX=/usr

# installed FILE MODE NAME: FILE exists under $inst with permission MODE.
installed() {
	if [ -f "$inst$1" ] && [ "$(stat -c %a "$inst$1")" = "$2" ]; then ok "$3"
	else not_ok "$3: $1 missing or not mode $2"; fi
}
installed /usr/bin/upgr 755 "install: the binary"
installed /usr/share/bash-completion/completions/upgr 644 "install: bash completion"
for f in "$top"/docs/*.1; do
	[ -f "$f" ] && installed "/usr/share/man/man1/${f##*/}" 644 "install: man1 ${f##*/}"
done
for f in "$top"/docs/*.5; do
	[ -f "$f" ] && installed "/usr/share/man/man5/${f##*/}" 644 "install: man5 ${f##*/}"
done
for f in "$top"/schema/*.json; do
	[ -f "$f" ] && installed "/usr/share/upgr/schema/${f##*/}" 644 "install: schema ${f##*/}"
done
if [ -f "$top/audit/verify" ]; then
	installed /usr/share/upgr/audit/verify 755 "install: the auditor's verifier, executable"
fi
installed /usr/share/doc/upgr/examples/upgr.yaml 644 "install: example agent config"
installed /usr/share/doc/upgr/examples/systemd/upgr.timer 644 "install: example systemd timer"
run "$inst/usr/bin/upgr" --version
expect_grep "$T/out" '^upgr [0-9]' "installed binary runs"
# Nothing outside PREFIX.
expect_no_grep_find() {
	find "$inst" -mindepth 1 -maxdepth 1 ! -name usr >"$T/outside"
	if [ -s "$T/outside" ]; then not_ok "$1"; sed 's/^/#   /' "$T/outside"; else ok "$1"; fi
}
expect_no_grep_find "install writes nothing outside PREFIX"

check "make uninstall" mk uninstall DESTDIR="$inst" PREFIX=/usr
find "$inst" ! -type d >"$T/left"
if [ -s "$T/left" ]; then not_ok "uninstall leaves no file"; sed 's/^/#   /' "$T/left" | head
else ok "uninstall leaves no file"; fi

# --- make deb -------------------------------------------------------------
check "make deb" mk deb DEB_OUT="$T/deb"
deb=$(ls "$T"/deb/upgr_*.deb 2>/dev/null | head -1)
if [ -n "$deb" ]; then ok "make deb wrote a .deb"; else not_ok "make deb wrote a .deb"; deb=/nonexistent; fi

dpkg-deb -I "$deb" >"$T/info" 2>&1
expect_grep "$T/info" '^ Package: upgr$' "control: Package"
expect_grep "$T/info" '^ Version: [0-9]+\.[0-9]+\.[0-9]+' "control: Version"
# Depends names the package of every library the binary links.
dpkg-deb -f "$deb" Depends >"$T/depends"
for lib in $(objdump -p "$UPGR" | awk '$1 == "NEEDED" { print $2 }'); do
	case $lib in
	libcurl*) pat=libcurl ;; libarchive*) pat=libarchive ;;
	libyaml*) pat=libyaml ;; libgcrypt*) pat=libgcrypt ;; libc.so*) pat=libc6 ;;
	*) continue ;;
	esac
	expect_grep "$T/depends" "$pat" "control: Depends covers $lib"
done
dpkg-deb -f "$deb" Installed-Size >"$T/size"
expect_grep "$T/size" '^[0-9]+$' "control: Installed-Size"
dpkg-deb -I "$deb" conffiles >"$T/conffiles" 2>&1
expect_grep "$T/conffiles" '^/etc/upgr/upgr\.yaml$' "conffiles: /etc/upgr/upgr.yaml"
expect_grep "$T/conffiles" '^/etc/cron\.d/upgr$' "conffiles: /etc/cron.d/upgr"

dpkg-deb -c "$deb" >"$T/contents" 2>&1
expect_grep "$T/contents" '^-rwxr-xr-x root/root .* \./usr/bin/upgr$' "deb: binary, root-owned, 0755"
expect_grep "$T/contents" ' \./usr/share/man/man1/upgr\.1\.gz$' "deb: upgr.1.gz"
for f in "$top"/docs/*.5; do
	[ -f "$f" ] && expect_grep "$T/contents" " \./usr/share/man/man5/${f##*/}\.gz$" "deb: ${f##*/}.gz"
done
expect_no_grep "$T/contents" '/usr/share/man/.*[15]$' "deb: every man page compressed"
expect_grep "$T/contents" ' \./usr/share/bash-completion/completions/upgr$' "deb: completion"
expect_grep "$T/contents" ' \./usr/share/doc/upgr/copyright$' "deb: copyright"
expect_grep "$T/contents" ' \./etc/upgr/upgr\.yaml$' "deb: default config"
expect_grep "$T/contents" ' \./etc/cron\.d/upgr$' "deb: cron.d entry"
expect_grep "$T/contents" '^drwx------ root/root .* \./var/lib/upgr/$' "deb: state dir, 0700"
expect_grep "$T/contents" '^drwxr-x--- root/root .* \./var/log/upgr/$' "deb: log dir, 0750"
expect_no_grep "$T/contents" ' \./usr/local/' "deb: nothing under /usr/local"

# --- dpkg into a scratch root --------------------------------------------
root=$T/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" \
	"$root/var/lib/dpkg/triggers" "$root/var/log"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
dpkgr() {
	dpkg --root="$root" --admindir="$root/var/lib/dpkg" --log="$T/dpkg.log" \
		--force-not-root --force-depends --force-script-chrootless "$@"
}
check "dpkg -i into a scratch root" dpkgr -i "$deb"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}\n' upgr >"$T/status" 2>&1
expect_grep "$T/status" '^install ok installed$' "dpkg: package installed"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' upgr >"$T/cf" 2>&1
expect_grep "$T/cf" '^ /etc/upgr/upgr\.yaml [0-9a-f]{32}$' "dpkg: config registered as a conffile"
expect_grep "$root/etc/cron.d/upgr" '^#\* \* \* \* \* root /usr/bin/upgr' "cron.d entry installed, disabled"
expect_no_grep "$root/etc/cron.d/upgr" '^[^#A-Z]' "cron.d entry: no active line"
run "$root/usr/bin/upgr" --version
expect_grep "$T/out" '^upgr [0-9]+\.[0-9]+\.[0-9]+' "upgr --version from the installed package"
# The default configuration is refused until an app is listed, so the
# package does nothing before someone configures it.
if "$root/usr/bin/upgr" --help | grep -q '^  run '; then
	expect_exit 65 "default config refused until configured" \
		"$root/usr/bin/upgr" --dry-run -c "$root/etc/upgr/upgr.yaml"
	expect_grep "$T/err" 'apps' "the refusal names apps:"
fi
check "man page from the package renders" sh -c "MANWIDTH=80 man -l '$root/usr/share/man/man1/upgr.1.gz' >/dev/null"

# An edited conffile survives removal; purge removes it.
echo "# local edit" >>"$root/etc/upgr/upgr.yaml"
check "dpkg -r" dpkgr -r upgr
if [ -f "$root/etc/upgr/upgr.yaml" ] && [ ! -e "$root/usr/bin/upgr" ]; then
	ok "dpkg -r: binary gone, edited config kept"
else not_ok "dpkg -r: binary gone, edited config kept"; fi
check "dpkg -P" dpkgr -P upgr
if [ ! -e "$root/etc/upgr/upgr.yaml" ]; then ok "dpkg -P: config purged"
else not_ok "dpkg -P: config purged"; fi
