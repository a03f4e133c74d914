# SPDX-License-Identifier: Apache-2.0
# Installing and packaging: make install / uninstall into a scratch DESTDIR,
# make deb, lintian, the systemd units (systemd-analyze verify), and the
# .deb installed by dpkg into a scratch root (its own dpkg database; the
# maintainer scripts run chrootless with DPKG_ROOT, so the system's /, /etc,
# /usr and dpkg database are not touched), used there as an operator would,
# then removed and purged. The binary is never rebuilt here: the test
# packages the one under test ($UPGR: ./upgr, or build/san/upgr in a
# sanitizer run).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/tinyrel.sh"

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
installed /usr/share/doc/upgr/server.md 644 "install: the server guide"
installed /usr/share/doc/upgr/server/vsftpd.conf 644 "install: the vsftpd recipe"
installed /usr/share/doc/upgr/server/repo-setup.sh 644 "install: repo-setup.sh (run with sh)"
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
dpkg-deb -f "$deb" Maintainer >"$T/maint"
expect_grep "$T/maint" '^upgr developers <upgr@localhost>$' "control: the project's Maintainer"
dpkg-deb -I "$deb" postrm >"$T/postrm" 2>&1
expect_grep "$T/postrm" 'DPKG_ROOT' "postrm: honours DPKG_ROOT (chrootless scratch roots)"

dpkg-deb -c "$deb" >"$T/contents" 2>&1
expect_grep "$T/contents" '^-rwxr-xr-x root/root .* \./usr/bin/upgr$' "deb: binary, root-owned, 0755"
expect_grep "$T/contents" ' \./usr/share/man/man1/upgr\.1\.gz$' "deb: upgr.1.gz"
for f in "$top"/docs/*.5; do
	[ -f "$f" ] && expect_grep "$T/contents" " \./usr/share/man/man5/${f##*/}\.gz$" "deb: ${f##*/}.gz"
done
expect_no_grep "$T/contents" '/usr/share/man/.*[15]$' "deb: every man page compressed"
expect_grep "$T/contents" ' \./usr/share/bash-completion/completions/upgr$' "deb: completion"
expect_grep "$T/contents" ' \./usr/share/doc/upgr/copyright$' "deb: copyright"
expect_grep "$T/contents" ' \./usr/share/doc/upgr/changelog\.gz$' "deb: changelog, compressed"
expect_grep "$T/contents" ' \./lib/systemd/system/upgr\.service$' "deb: systemd service"
expect_grep "$T/contents" ' \./lib/systemd/system/upgr\.timer$' "deb: systemd timer"
expect_no_grep "$T/contents" '/etc/systemd/' "deb: the timer is not enabled by the package"
expect_grep "$T/contents" ' \./usr/share/lintian/overrides/upgr$' "deb: lintian overrides"
expect_grep "$T/contents" ' \./etc/upgr/upgr\.yaml$' "deb: default config"
expect_grep "$T/contents" ' \./etc/cron\.d/upgr$' "deb: cron.d entry"
expect_grep "$T/contents" '^drwx------ root/root .* \./var/lib/upgr/$' "deb: state dir, 0700"
expect_grep "$T/contents" '^drwxr-x--- root/root .* \./var/log/upgr/$' "deb: log dir, 0750"
expect_no_grep "$T/contents" ' \./usr/local/' "deb: nothing under /usr/local"

# --- lintian ---------------------------------------------------------------
# No error and no warning, and each override justified by a comment just
# above it (lintian prints that comment as the override's reason) and
# still needed (an override nothing matches is a stale excuse).
ov=$top/pkg/deb/lintian-overrides
if command -v lintian >/dev/null 2>&1; then
	expect_exit 0 "lintian: no error, no warning" lintian --fail-on error,warning "$deb"
	grep -E '^(E|W):' "$T/out" | sed 's/^/#   /'
	awk '/^#/ { c = 1; next } /^[^ ]/ && !c { print "uncommented: " $0 }
	     /^$/ { c = 0 }' "$ov" >"$T/ovbad"
	if [ -s "$T/ovbad" ]; then not_ok "lintian: every override has a comment saying why"
		sed 's/^/#   /' "$T/ovbad"
	else ok "lintian: every override has a comment saying why"; fi
	lintian --show-overrides "$deb" 2>/dev/null | grep -c '^O: ' >"$T/nused"
	nov=$(grep -c '^upgr: ' "$ov")
	if [ "$(cat "$T/nused")" -ge "$nov" ]; then ok "lintian: every override is used"
	else not_ok "lintian: every override is used ($(cat "$T/nused") of $nov)"; fi
else
	not_ok "lintian is not installed (make deps)"
fi
dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/upgr/changelog.gz |
	gzip -dc >"$T/changelog" 2>/dev/null
if command -v dpkg-parsechangelog >/dev/null 2>&1; then
	dpkg-parsechangelog -l "$T/changelog" -S Version >"$T/chver" 2>&1
	[ "$(cat "$T/chver")" = "$(dpkg-deb -f "$deb" Version)" ] &&
		ok "changelog: its newest entry is the package's version" ||
		not_ok "changelog: its newest entry is the package's version ($(cat "$T/chver"))"
fi

# --- dpkg into a scratch root --------------------------------------------
# The real /etc/upgr, /var/lib/upgr, /var/log/upgr before: compared at the end.
ls -la /etc/upgr /var/lib/upgr /var/log/upgr >"$T/real.before" 2>&1
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

# --- the systemd units, as installed ----------------------------------------
# systemd-analyze verify loads them as systemd would and checks that
# ExecStart's binary and the Documentation= man pages exist. It runs with
# --root on a copy of the scratch root's files plus this machine's own
# systemd units (sysinit.target, timers.target, ...: what any unit
# depends on, which the scratch root does not have).
svc=$root/lib/systemd/system/upgr.service tmr=$root/lib/systemd/system/upgr.timer
expect_grep "$svc" '^SuccessExitStatus=75$' "service: exit 75 (lock held) is not a failure"
expect_grep "$svc" '^ExecStart=/usr/bin/upgr run$' "service: runs upgr run"
expect_grep "$tmr" '^WantedBy=timers\.target$' "timer: installable into timers.target"
if [ ! -e "$root/etc/systemd/system/timers.target.wants/upgr.timer" ]; then
	ok "timer: not enabled by the package"
else not_ok "timer: not enabled by the package"; fi
if command -v systemd-analyze >/dev/null 2>&1; then
	sys=$T/sysroot
	mkdir -p "$sys/lib/systemd/system" "$sys/usr/bin" "$sys/usr/share"
	cp -a /lib/systemd/system/. "$sys/lib/systemd/system/"
	cp -a "$root/usr/bin/upgr" "$sys/usr/bin/"
	cp -a "$root/usr/share/man" "$sys/usr/share/"
	cp -a "$svc" "$tmr" "$sys/lib/systemd/system/"
	verify() { env MANPATH="$sys/usr/share/man" systemd-analyze verify --root="$sys" "$@"; }
	expect_exit 0 "systemd-analyze verify upgr.service upgr.timer" \
		verify /lib/systemd/system/upgr.service /lib/systemd/system/upgr.timer
	# And it does check: a unit naming a binary that is not there fails.
	sed 's|^ExecStart=/usr/bin/upgr|ExecStart=/usr/bin/upgr-missing|' "$svc" \
		>"$sys/lib/systemd/system/upgr-broken.service"
	run verify /lib/systemd/system/upgr-broken.service
	if [ "$rc" != 0 ] && grep -q 'upgr-missing' "$T/err"; then
		ok "systemd-analyze verify catches a missing ExecStart binary"
	else not_ok "systemd-analyze verify catches a missing ExecStart binary (exit $rc)"; fi
else
	not_ok "systemd-analyze is not installed (make deps)"
fi

# --- used as an operator would -----------------------------------------------
# Configure the installed agent (paths under the scratch root), run it once
# against a file:// repository, so the state, the audit log and the device
# key are what a real host has when the package is removed.
pre=$root
if tinyrel_publish "$root/usr/bin/upgr" "file://$T/repo" 1.0.0 >"$T/pub.out" 2>&1; then
	ok "the installed upgr publishes a release"
else not_ok "the installed upgr publishes a release"; sed 's/^/#   /' "$T/pub.out"; fi
cp "$T/rel.pub" "$root/etc/upgr/release.pub"
mkdir -p "$root/srv"
# An operator's edit of the conffile: this host's settings.
cat >"$T/cfg" <<EOC
host: pkg-host
servers: [ "file://$T/repo" ]
apps: [ hello ]
root: $pre/srv
state_dir: $pre/var/lib/upgr
trusted_keys: [ $pre/etc/upgr/release.pub ]
device_key: $pre/etc/upgr/device.key
audit_log: $pre/var/log/upgr/audit.log
EOC
cat "$T/cfg" >"$root/etc/upgr/upgr.yaml"
expect_exit 0 "the configured agent installs the release" \
	"$root/usr/bin/upgr" run -c "$root/etc/upgr/upgr.yaml"
if [ -x "$root/srv/opt/hello/bin/hello" ]; then ok "... its files are in place"
else not_ok "... its files are in place"; fi
# A run that finds the lock held exits 75: what SuccessExitStatus=75 is for.
python3 -c '
import fcntl, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
sys.exit(subprocess.call(sys.argv[2:], stderr=subprocess.DEVNULL))
' "$root/var/lib/upgr/lock" "$root/usr/bin/upgr" run -c "$root/etc/upgr/upgr.yaml"
rc=$?
if [ "$rc" = 75 ]; then ok "a run while another holds the lock exits 75"
else not_ok "a run while another holds the lock exits 75 (exit $rc)"; fi
mkdir -p "$root/var/lib/upgr/cache" && : >"$root/var/lib/upgr/cache/leftover"
for f in etc/upgr/device.key etc/upgr/device.pub var/log/upgr/audit.log \
	var/lib/upgr/lock; do
	[ -e "$root/$f" ] || not_ok "after a run: no /$f"
done
find "$root/var/lib/upgr" -path '*/cache' -prune -o -type f ! -name lock -print |
	sed "s|^$root||" | LC_ALL=C sort >"$T/state.before"
[ -s "$T/state.before" ] && ok "after a run: state in /var/lib/upgr" ||
	not_ok "after a run: state in /var/lib/upgr"

# --- remove: the program goes, configuration, state and logs stay ---------
check "dpkg -r" dpkgr -r upgr
if [ -f "$root/etc/upgr/upgr.yaml" ] && [ ! -e "$root/usr/bin/upgr" ]; then
	ok "dpkg -r: binary gone, edited config kept"
else not_ok "dpkg -r: binary gone, edited config kept"; fi
for f in etc/upgr/device.key etc/cron.d/upgr var/log/upgr/audit.log; do
	[ -e "$root/$f" ] && ok "dpkg -r: keeps /$f" || not_ok "dpkg -r: keeps /$f"
done
for f in lib/systemd/system/upgr.service lib/systemd/system/upgr.timer \
	usr/share/man/man1/upgr.1.gz; do
	[ -e "$root/$f" ] && not_ok "dpkg -r: removes /$f" || ok "dpkg -r: removes /$f"
done

# --- purge: configuration and secrets go, state and the audit log stay ----
check "dpkg -P" dpkgr -P upgr
for f in etc/upgr etc/cron.d/upgr var/lib/upgr/cache var/lib/upgr/lock; do
	[ -e "$root/$f" ] && not_ok "dpkg -P: removes /$f" || ok "dpkg -P: removes /$f"
done
for f in var/log/upgr/audit.log var/log/upgr/device.pub srv/opt/hello/bin/hello; do
	[ -e "$root/$f" ] && ok "dpkg -P: keeps /$f" || not_ok "dpkg -P: keeps /$f"
done
find "$root/var/lib/upgr" -path '*/cache' -prune -o -type f ! -name lock -print |
	sed "s|^$root||" | LC_ALL=C sort >"$T/state.after"
expect_same "$T/state.before" "$T/state.after" \
	"dpkg -P: keeps the state (installed manifests, serials, journals)"
# The kept log still verifies, with the public key moved beside it.
expect_exit 0 "dpkg -P: the kept audit log verifies with the kept device.pub" \
	"$UPGR" audit verify -p "$root/var/log/upgr/device.pub" "$root/var/log/upgr/audit.log"
dpkg-query --admindir="$root/var/lib/dpkg" -W upgr >/dev/null 2>&1 &&
	not_ok "dpkg -P: package forgotten" || ok "dpkg -P: package forgotten"

# Reinstalling over the kept state: the agent knows what it installed.
check "dpkg -i again over the kept state" dpkgr -i "$deb"
cat "$T/cfg" >"$root/etc/upgr/upgr.yaml"
cp "$T/rel.pub" "$root/etc/upgr/release.pub"
run "$root/usr/bin/upgr" status -c "$root/etc/upgr/upgr.yaml"
expect_grep "$T/out" 'hello.*1\.0\.0' "reinstalled: upgr status still knows hello 1.0.0"

ls -la /etc/upgr /var/lib/upgr /var/log/upgr >"$T/real.after" 2>&1
expect_same "$T/real.before" "$T/real.after" \
	"the system's own /etc/upgr, /var/lib/upgr, /var/log/upgr are untouched"
