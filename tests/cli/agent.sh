# SPDX-License-Identifier: Apache-2.0
# The cron agent (`upgr run`) against real vsftpd servers on loopback:
# install and upgrade, the quiet no-op, failover past a dead server, all
# servers down, each update-metadata attack (replay, freeze, mix-and-match,
# app/version mismatch, downgrade, oversized payload, untrusted key, no
# keys), scheduling (not_before, rollout), the lock, a server killed
# mid-download then resumed, two agents against one server, and the report.
#
# The repository is built by hand (tests/lib/release.sh seals and signs a
# release; the channel file is written here and signed with minisign), so
# these tests do not depend on `upgr publish`.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

upgr_copy
ftpd_or_skip 2 "agent tests"

REPO=$T/repo-master              # what every server serves, under /repo
APPDIR=$REPO/apps/hello
TGT=$T/root/opt/hello
release_key
minisign -G -W -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1

# sync: copy the master repository to every server's root.
sync() {
	for _r in "$FTPD_ROOT_1" "$FTPD_ROOT_2"; do
		mkdir -p "$_r/repo"
		cp -R "$REPO/." "$_r/repo/"
		chown -R "$FTPD_USER:" "$_r"
	done
}

# release VERSION [EXTRA]: seal and sign hello VERSION into the repository.
release() {
	svc_src "$1" "$T/src-$1" "${2:-}"
	release_make "$T/src-$1/manifest.yaml" "$T/src-$1" "$APPDIR/releases/$1"
}

utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# channel SERIAL VERSION [EXTRA-LINES]: write and sign the stable channel,
# then sync. CH_REL, CH_SHA_FROM, CH_EXPIRES and CH_KEY override the
# manifest path, the file whose hash is named, the expiry and the key.
channel() {
	_rel=${CH_REL:-releases/$2/manifest.yaml}
	_sha=$(sha256sum "${CH_SHA_FROM:-$APPDIR/$_rel}" | cut -d' ' -f1)
	mkdir -p "$APPDIR/channels"
	cat >"$APPDIR/channels/stable.yaml" <<-EOF
	upgr: 1
	app: hello
	channel: stable
	serial: $1
	version: $2
	manifest: $_rel
	manifest_sha256: $_sha
	published: $(utc '-1 hour')
	expires: ${CH_EXPIRES:-$(utc '+30 days')}
	${3:-}
	EOF
	rm -f "$APPDIR/channels/stable.yaml.minisig"
	printf '' | minisign -S -s "${CH_KEY:-$T/rel.key}" -m "$APPDIR/channels/stable.yaml" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" \
		>/dev/null 2>&1 || not_ok "minisign -S of the channel"
	sync
}

# agent_config NAME SERVER-URL...: an agent config $T/NAME.yaml.
agent_config() {
	_an=$1; shift
	agent_yaml "$_an" "trusted_keys: [$T/rel.pub]" $(for _u in "$@"; do echo "${_u}repo"; done)
}

running() { [ "$(cat "$T/svc/running" 2>/dev/null)" = "$1" ]; }

# quiet NAME: the last command printed nothing at all.
quiet() {
	if [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then ok "$1"; else
		not_ok "$1"; sed 's/^/#   /' "$T/out" "$T/err" | head -10
	fi
}

# one_line NAME: stderr is exactly one line.
one_line() {
	[ "$(wc -l <"$T/err")" = 1 ] && ok "$1" || { not_ok "$1"; sed 's/^/#   /' "$T/err"; }
}

refusals() { cat "$T/a-audit.log" 2>/dev/null | grep -Ec "^result: \"?refused"; }

agent_config a "$FTPD_URL_1" "$FTPD_URL_2"
A="-c $T/a.yaml"
TGT=$T/root-a/opt/hello

# --- first install ------------------------------------------------------
release 1.0.0
channel 1 1.0.0
expect_exit 0 "--dry-run exits 0" $UPGR --dry-run $A
expect_grep "$T/out" "install hello \(nothing\) -> 1.0.0" "--dry-run prints the plan"
[ ! -e "$TGT" ] && [ ! -e "$T/a-state/apps/hello/serial" ] &&
	ok "--dry-run installs nothing and stores no serial" || not_ok "--dry-run changed the host"
expect_exit 0 "first run installs" $UPGR $A
running 1.0.0 && ok "1.0.0 runs" || not_ok "1.0.0 is not running"
expect_same "$T/src-1.0.0/share/data.txt" "$TGT/share/data.txt" "installed file has the release's bytes"
expect_grep "$T/out" "^hello: installed 1\.0\.0$" "an install prints one line"
[ ! -s "$T/err" ] && ok "an install prints no error" || not_ok "stderr: $(cat "$T/err")"
[ "$(cat "$T/a-state/apps/hello/serial")" = "stable 1" ] && ok "the serial seen is stored" ||
	not_ok "serial file: $(cat "$T/a-state/apps/hello/serial" 2>&1)"

# --- the report ---------------------------------------------------------
RPT=$FTPD_ROOT_1/repo/reports/host-a
expect_grep "$RPT/status.yaml" '^host: "host-a"' "the report names the host"
expect_grep "$RPT/status.yaml" '^    version: "1.0.0"' "the report has the installed version"
expect_grep "$RPT/status.yaml" '^    result: "success"' "the report has the result"
check "the report is YAML with upgr, host, time, apps" /usr/bin/python3 -c "
import yaml; r = yaml.safe_load(open('$RPT/status.yaml'))
assert r['upgr'] == 1 and r['host'] == 'host-a' and r['time']
a = r['apps'][0]
assert set(a) == {'app','version','result','time','action','from','to','error'}, a
assert a['app'] == 'hello' and a['to'] == '1.0.0' and a['action'] == 'install', a"
check "the report's device.pub verifies its audit log" \
	minisign -V -p "$RPT/device.pub" -m "$RPT/audit.log" -x "$RPT/audit.log.minisig"
[ ! -e "$T/a-state/report-pending" ] && ok "no report pending after a good upload" ||
	not_ok "report-pending left"

# --- the same version again: a quiet no-op ------------------------------
cp "$RPT/status.yaml" "$T/report-before"
expect_exit 0 "the same version again exits 0" $UPGR $A
quiet "the same version again prints nothing"
expect_same "$T/report-before" "$RPT/status.yaml" "a no-op run within the heartbeat sends no report"
expect_exit 0 "upgr run is the same command" $UPGR run $A
quiet "upgr run with nothing to do prints nothing"
expect_exit 0 "--dry-run with nothing to do exits 0" $UPGR --dry-run $A
expect_grep "$T/out" "^hello: 1\.0\.0 is installed and current$" "--dry-run says the app is current"

# --- failover past a dead server ----------------------------------------
release 1.1.0
channel 2 1.1.0
ftpd_stop 1
expect_exit 0 "failover: a dead first server, the second one serves" $UPGR $A
running 1.1.0 && ok "failover: 1.1.0 runs" || not_ok "failover: 1.1.0 is not running"
[ -s "$FTPD_ROOT_2/repo/reports/host-a/status.yaml" ] &&
	ok "failover: the report went to the live server" || not_ok "failover: no report on server 2"

# --- all servers down ---------------------------------------------------
ftpd_stop 2
# The last result stays; only the servers that failed the poll change.
grep -v '^failed: ' "$T/a-state/apps/hello/status.yaml" >"$T/status-before"
expect_exit 69 "all servers down: exit 69" $UPGR $A
one_line "all servers down: one line on stderr"
expect_grep "$T/err" "no server answered" "all servers down: says so"
running 1.1.0 && ok "all servers down: nothing changed" || not_ok "all servers down: service changed"
grep -v '^failed: ' "$T/a-state/apps/hello/status.yaml" >"$T/status-after"
expect_same "$T/status-before" "$T/status-after" "all servers down: status untouched"
ftpd_restart 1
ftpd_restart 2

# An app that is not on any server: 69, and a message that says so.
sed 's/^apps:.*/apps: [hello, nosuch]/' "$T/a.yaml" >"$T/nosuch.yaml"
chmod 0644 "$T/nosuch.yaml"
expect_exit 69 "an app on no server: exit 69" $UPGR -c "$T/nosuch.yaml"
expect_grep "$T/err" "nosuch: channels/stable.yaml: not on any server" "an app on no server: says so"
one_line "an app on no server: one line; the other app stays quiet"

# --- attacks: each refused with 77, nothing changed, recorded -------------
# attack NAME: the run exits 77, 1.1.0 still runs, one more refusal recorded.
# A refusal is recorded once per class and server until a clean poll, and
# several attacks below share a class: each starts with none recorded.
attack() {
	rm -f "$T/a-state/apps/hello/refused"
	_before=$(refusals)
	expect_exit 77 "$1: refused with 77" $UPGR $A
	one_line "$1: one line on stderr"
	running 1.1.0 && ok "$1: nothing changed" || not_ok "$1: the service changed"
	[ "$(refusals)" -gt "$_before" ] && ok "$1: the refusal is in the audit log" ||
		not_ok "$1: no refusal recorded"
}

release 1.2.0
channel 1 1.0.0
attack "replayed older channel (serial 1 < 2)"
expect_grep "$T/err" "serial 1 is lower than 2" "replay: the message names the serials"
_before=$(refusals)
expect_exit 77 "--dry-run refuses a replayed channel too" $UPGR --dry-run $A
[ "$(refusals)" = "$_before" ] && ok "--dry-run records nothing" || not_ok "--dry-run recorded a refusal"
expect_exit 77 "the same refusal on the next tick: 77 again" $UPGR $A
quiet "the same refusal on the next tick: said once under cron, not again"
[ "$(refusals)" = "$_before" ] && ok "the same refusal is not recorded twice" ||
	not_ok "the same refusal was recorded again"

CH_EXPIRES=$(utc '-1 minute') channel 10 1.2.0
attack "expired channel (freeze)"
expect_grep "$T/err" "expired" "freeze: the message says expired"
[ "$(cat "$T/a-state/apps/hello/serial")" = "stable 2" ] &&
	ok "freeze: a refused channel's serial is not stored" || not_ok "freeze: serial stored"

CH_SHA_FROM=$APPDIR/releases/1.1.0/manifest.yaml channel 3 1.2.0
attack "mix-and-match (channel hash is another manifest's)"
expect_grep "$T/err" "mix-and-match" "mix-and-match: says so"

CH_REL=releases/1.2.0/manifest.yaml channel 4 1.3.0
attack "manifest version differs from the channel's"

CH_KEY=$T/other.key channel 5 1.2.0
attack "channel signed by an untrusted key"

# A signature for another file: the 1.2.0 manifest's signature on the channel.
channel 6 1.2.0
for _r in "$FTPD_ROOT_1" "$FTPD_ROOT_2"; do
	cp "$APPDIR/releases/1.2.0/manifest.yaml.minisig" "$_r/repo/apps/hello/channels/stable.yaml.minisig"
done
attack "a signature made for another file"

channel 7 1.2.0
cp "$APPDIR/releases/1.2.0/payload.tar.gz" "$T/payload.keep"
for _r in "$FTPD_ROOT_1" "$FTPD_ROOT_2"; do
	head -c 100000 /dev/urandom >>"$_r/repo/apps/hello/releases/1.2.0/payload.tar.gz"
done
attack "payload larger than declared"
expect_grep "$T/err" "larger than" "oversized payload: says larger than declared"
[ -z "$(find "$T/a-state/cache" -name '*.part' -size +0 2>/dev/null)" ] &&
	ok "oversized payload: the partial download is discarded" || not_ok "a .part file was kept"
sync    # the honest payload again

# An installed manifest broken below its version line: a tick reads the
# version from its top without a parse (state_installed_peek), but an
# upgrade parses it whole before using any of it, and says why it stops.
cp "$T/a-state/apps/hello/manifest.yaml" "$T/installed.keep"
printf 'rollback: [ broken\n' >>"$T/a-state/apps/hello/manifest.yaml"
_before=$(refusals)
expect_exit 65 "installed manifest broken below its version: exit 65" $UPGR $A
expect_grep "$T/err" "installed manifest: .*manifest.yaml:[0-9]+:[0-9]+" \
	"... the message names the installed manifest, line and column"
running 1.1.0 && ok "... nothing changed" || not_ok "... the service changed"
[ "$(refusals)" = "$_before" ] && ok "... no server is blamed: no refusal recorded" ||
	{ not_ok "... recorded as a refusal"; tail -n 12 "$T/a-audit.log" | sed 's/^/#   /'; }
$UPGR status $A >"$T/out" 2>"$T/err"
expect_grep "$T/err" "installed manifest: .*manifest.yaml:[0-9]+:[0-9]+" "... and upgr status says what is broken, and where"
cp "$T/installed.keep" "$T/a-state/apps/hello/manifest.yaml"

sed 's/^trusted_keys:.*/trusted_keys: []/' "$T/a.yaml" >"$T/nokeys.yaml"
chmod 0644 "$T/nokeys.yaml"
_before=$(refusals)
expect_exit 77 "no trusted keys: refused with 77" $UPGR -c "$T/nokeys.yaml"
one_line "no trusted keys: one line on stderr"
running 1.1.0 && ok "no trusted keys: nothing changed" || not_ok "no trusted keys: changed"

# --- scheduling: not_before and rollout -----------------------------------
channel 8 1.2.0 "not_before: $(utc '+1 day')"
expect_exit 0 "not_before in the future: exit 0" $UPGR $A
expect_grep "$T/out" "^hello: recovered \(was: trust " "the first clean poll says the problem cleared"
expect_exit 0 "not_before in the future: the next tick exits 0" $UPGR $A
quiet "not_before in the future: prints nothing"
running 1.1.0 && ok "not_before: nothing changed" || not_ok "not_before: upgraded early"
expect_exit 0 "not_before: --dry-run exits 0" $UPGR --dry-run $A
expect_grep "$T/out" "not yet: not before" "not_before: --dry-run says why it waits"

channel 9 1.2.0 "rollout: 0"
expect_exit 0 "rollout 0%: exit 0" $UPGR $A
quiet "rollout 0%: prints nothing"
running 1.1.0 && ok "rollout 0%: nothing changed" || not_ok "rollout 0%: upgraded"

# A maintenance window that is not now: the upgrade waits, quietly.
channel 10 1.2.0
cp "$T/a.yaml" "$T/win.yaml"
echo "window: \"$(date -d '+2 hours' +%H:%M)-$(date -d '+3 hours' +%H:%M)\"" >>"$T/win.yaml"
expect_exit 0 "outside the maintenance window: exit 0" $UPGR -c "$T/win.yaml"
quiet "outside the maintenance window: prints nothing"
running 1.1.0 && ok "outside the window: nothing changed" || not_ok "outside the window: upgraded"
expect_exit 0 "outside the window: --dry-run exits 0" $UPGR --dry-run -c "$T/win.yaml"
expect_grep "$T/out" "maintenance window" "outside the window: --dry-run says why it waits"

# --- the upgrade, then downgrades -------------------------------------------
channel 11 1.2.0 "rollout: 100"
expect_exit 0 "upgrade to 1.2.0" $UPGR $A
running 1.2.0 && ok "1.2.0 runs" || not_ok "1.2.0 is not running"
expect_grep "$T/out" "^hello: upgraded 1\.1\.0 -> 1\.2\.0$" "an upgrade prints one line"
[ ! -e "$T/a-state/cache/hello" ] && ok "the cache is dropped after an upgrade" ||
	not_ok "cache left: $(ls -R "$T/a-state/cache" | head)"

# balance: random starts anywhere, and still gets past a dead server.
sed 's/^apps:/balance: random\napps:/' "$T/a.yaml" >"$T/random.yaml"
chmod 0644 "$T/random.yaml"
ftpd_stop 2
fails=0
for i in 1 2 3 4 5 6; do
	run $UPGR -c "$T/random.yaml"
	[ "$rc" = 0 ] && [ ! -s "$T/err" ] || fails=$((fails + 1))
done
[ $fails = 0 ] && ok "balance: random gets past a dead server every time" ||
	not_ok "balance: random failed $fails of 6 runs: $(cat "$T/err")"
ftpd_restart 2

# A release whose health check fails is rolled back once, and not tried
# again every tick: only a newer channel file (publish again) retries it.
release 1.3.0
touch "$T/svc/unhealthy-1.3.0"
channel 12 1.3.0
expect_exit 1 "a failing upgrade is rolled back: exit 1" $UPGR $A
running 1.2.0 && ok "rolled back: 1.2.0 runs again" || not_ok "rolled back: 1.2.0 is not running"
cp "$T/svc/log" "$T/svc-log-before"
expect_exit 0 "the failed release is not retried on the next tick" $UPGR $A
quiet "the failed release: the next tick is quiet"
expect_same "$T/svc-log-before" "$T/svc/log" "the failed release: the service is not stopped again"
expect_exit 0 "the failed release: --dry-run exits 0" $UPGR --dry-run $A
expect_grep "$T/out" "rolled back; waiting for a newer channel" "the failed release: --dry-run says why"
rm -f "$T/svc/unhealthy-1.3.0"
channel 13 1.3.0
expect_exit 0 "published again (a newer serial), the release is retried" $UPGR $A
running 1.3.0 && ok "the retried release runs" || not_ok "1.3.0 is not running"

channel 14 1.1.0
expect_exit 77 "downgrade without downgrade: true is refused" $UPGR $A
running 1.3.0 && ok "refused downgrade: nothing changed" || not_ok "refused downgrade: changed"
channel 15 1.1.0 "downgrade: true"
expect_exit 0 "downgrade: true in the signed channel allows it" $UPGR $A
running 1.1.0 && ok "downgraded: 1.1.0 runs" || not_ok "downgrade did not happen"
expect_grep "$T/out" "^hello: downgraded 1\.3\.0 -> 1\.1\.0$" "a downgrade says so"

# --- the lock ---------------------------------------------------------------
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close(); time.sleep(30)' "$T/a-state/lock" "$T/locked" &
locker=$!
n=0; while [ ! -e "$T/locked" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
expect_exit 75 "another upgr holds the lock: exit 75" $UPGR $A
one_line "locked: one line on stderr"
kill "$locker"; wait "$locker" 2>/dev/null

# --- usage ------------------------------------------------------------------
expect_exit 2 "an unknown option is a usage error" $UPGR run --bogus
expect_exit 2 "--splay wants a number" $UPGR run --splay soon $A
expect_exit 0 "--splay 0 is fine" $UPGR --splay 0 $A
expect_exit 0 "run --help exits 0" $UPGR run --help
expect_grep "$T/out" "--splay" "run --help lists --splay"
chmod 0666 "$T/a.yaml"
expect_exit 65 "a config others can write is refused" $UPGR $A
expect_grep "$T/err" "writable by group or others" "the refusal says why"
chmod 0644 "$T/a.yaml"
chmod 0666 "$T/rel.pub"
expect_exit 65 "a trusted key others can write is refused" $UPGR $A
expect_grep "$T/err" "rel.pub: writable by group or others" "the key's refusal says why"
chmod 0644 "$T/rel.pub"
chmod 0644 "$FTPD_NETRC"
expect_exit 65 "a netrc others can read is refused" $UPGR $A
expect_grep "$T/err" "netrc: a secret readable by group or others" "the netrc's refusal says why"
chmod 0600 "$FTPD_NETRC"

# --- a server killed mid-download; the next run resumes ----------------------
agent_config r "$FTPD_URL_1"
head -c 3000000 /dev/urandom >"$T/big.bin"
svc_src 2.0.0 "$T/src-2.0.0" "  - { path: share/big.bin, mode: \"0644\" }"
cp "$T/big.bin" "$T/src-2.0.0/share/big.bin"
release_make "$T/src-2.0.0/manifest.yaml" "$T/src-2.0.0" "$APPDIR/releases/2.0.0"
channel 16 2.0.0
ftpd_throttle 1 400000
$UPGR -c "$T/r.yaml" >"$T/r.out" 2>"$T/r.err" &
agent=$!
part=$T/r-state/cache/hello/2.0.0/payload.tar.gz.part
n=0; while [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -lt 500000 ] && [ $n -lt 200 ]; do
	sleep 0.05; n=$((n + 1))
done
ftpd_stop 1
wait "$agent"; rc=$?
[ "$rc" = 69 ] && ok "killed mid-download: exit 69" || { not_ok "killed mid-download: exit $rc"; cat "$T/r.err"; }
got=$(stat -c %s "$part" 2>/dev/null || echo 0)
[ "$got" -gt 0 ] && [ "$got" -lt "$(stat -c %s "$APPDIR/releases/2.0.0/payload.tar.gz")" ] &&
	ok "killed mid-download: a partial payload is kept ($got bytes)" || not_ok "no partial payload ($got)"
ftpd_throttle 1 0
expect_exit 0 "the next run finishes the download and upgrades" $UPGR -c "$T/r.yaml"
grep -Eq "REST [1-9]" "$FTPD_LOG_1" && ok "the download resumed (REST)" ||
	not_ok "no REST in the server log"
[ -x "$T/root-r/opt/hello/bin/hello-ctl" ] && cmp -s "$T/big.bin" "$T/root-r/opt/hello/share/big.bin" &&
	ok "the resumed payload installed intact" || not_ok "resumed install differs"

# --- two agents against one server, at once ----------------------------------
agent_config b "$FTPD_URL_1"
agent_config c "$FTPD_URL_1"
$UPGR -c "$T/b.yaml" >"$T/b.out" 2>"$T/b.err" & pb=$!
$UPGR -c "$T/c.yaml" >"$T/c.out" 2>"$T/c.err" & pc=$!
wait $pb; rb=$?
wait $pc; rcc=$?
[ "$rb" = 0 ] && [ "$rcc" = 0 ] && ok "two agents at once both exit 0" ||
	{ not_ok "two agents: exits $rb $rcc"; cat "$T/b.err" "$T/c.err"; }
cmp -s "$T/big.bin" "$T/root-b/opt/hello/share/big.bin" &&
	cmp -s "$T/big.bin" "$T/root-c/opt/hello/share/big.bin" &&
	ok "two agents: both installed 2.0.0" || not_ok "two agents: an install differs"
[ -s "$FTPD_ROOT_1/repo/reports/host-b/status.yaml" ] && [ -s "$FTPD_ROOT_1/repo/reports/host-c/status.yaml" ] &&
	ok "two agents: both reported" || not_ok "two agents: a report is missing"

# --- a server that trickles is abandoned; the next run succeeds ---------------
agent_config t "$FTPD_URL_1"
printf 'low_speed_limit: 2000\nlow_speed_time: 2\n' >>"$T/t.yaml"
ftpd_throttle 1 300
start=$(date +%s)
expect_exit 69 "a trickling server is abandoned: exit 69" $UPGR -c "$T/t.yaml"
[ $(( $(date +%s) - start )) -lt 40 ] && ok "a trickling server is abandoned at the low-speed limit" ||
	not_ok "the trickle took $(( $(date +%s) - start )) s"
ftpd_throttle 1 0
expect_exit 0 "after the trickle, the next run upgrades" $UPGR -c "$T/t.yaml"
cmp -s "$T/big.bin" "$T/root-t/opt/hello/share/big.bin" && ok "after the trickle: 2.0.0 installed" ||
	not_ok "after the trickle: not installed"

# --- a failed report waits for the next run ----------------------------------
channel 17 2.0.0
chmod 0555 "$FTPD_ROOT_1/repo/reports"
chmod -R a-w "$FTPD_ROOT_1/repo/reports/host-b"
rm -f "$T/b-state/report-last"
run $UPGR -c "$T/b.yaml"
[ -e "$T/b-state/report-pending" ] && ok "a failed report leaves report-pending" ||
	not_ok "no report-pending after a failed upload (exit $rc: $(cat "$T/err"))"
chmod -R u+w,go+rx "$FTPD_ROOT_1/repo/reports"
chown -R "$FTPD_USER:" "$FTPD_ROOT_1/repo/reports"
chmod -R u+w "$FTPD_ROOT_1/repo/reports"
rm -f "$FTPD_ROOT_1/repo/reports/host-b/status.yaml"
run $UPGR -c "$T/b.yaml"
[ ! -e "$T/b-state/report-pending" ] && [ -s "$FTPD_ROOT_1/repo/reports/host-b/status.yaml" ] &&
	ok "the next run sends the pending report" || not_ok "pending report not sent: $(cat "$T/err")"

# --- upgr publish, then the agent ---------------------------------------------
agent_config p "$FTPD_URL_1"
sed -i "s|${FTPD_URL_1}repo|${FTPD_URL_1}pubrepo|" "$T/p.yaml"
PUB="$UPGR publish --repo ${FTPD_URL_1}pubrepo --key $T/rel.key --netrc $FTPD_NETRC"
expect_exit 0 "publish 1.0.0" $PUB "$T/src-1.0.0/manifest.yaml"
expect_exit 0 "the agent installs what publish published" $UPGR -c "$T/p.yaml"
[ "$(cat "$T/root-p/opt/hello/share/data.txt" 2>/dev/null)" = "data of 1.0.0" ] &&
	ok "published 1.0.0 is installed" || not_ok "published 1.0.0 is not installed"
expect_exit 0 "publish 1.2.0 to no host (rollout 0)" $PUB --rollout 0 "$T/src-1.2.0/manifest.yaml"
expect_exit 0 "rollout 0 from publish: exit 0" $UPGR -c "$T/p.yaml"
quiet "rollout 0 from publish: prints nothing"
expect_exit 0 "publish 1.2.0 again to every host" $PUB "$T/src-1.2.0/manifest.yaml"
expect_exit 0 "the agent upgrades to the published 1.2.0" $UPGR -c "$T/p.yaml"
[ "$(cat "$T/root-p/opt/hello/share/data.txt" 2>/dev/null)" = "data of 1.2.0" ] &&
	ok "published 1.2.0 is installed" || not_ok "published 1.2.0 is not installed"
expect_exit 0 "after publish, the same version again exits 0" $UPGR -c "$T/p.yaml"
quiet "after publish, the same version again prints nothing"

# --- many agents at once against one server -------------------------------------
# Started together, as cron starts a fleet (with --splay to spread them).
# A server out of passive ports answers some with an error: those exit 69
# and the next tick picks up, as under cron. Every agent must be done
# within three ticks, and none may refuse anything.
# The release has no commands: the fake service's files are shared by
# every agent of this script, and a fleet of one host each would race.
mkdir -p "$T/src-fleet/share"
echo "fleet data" >"$T/src-fleet/share/data.txt"
cat >"$T/src-fleet/manifest.yaml" <<EOF
upgr: 1
app: hello
version: 3.0.0
target: /opt/hello
files:
  - { path: share/data.txt, mode: "0644" }
EOF
expect_exit 0 "publish a release for the fleet" $UPGR publish --repo "${FTPD_URL_1}fleetrepo" \
	--key "$T/rel.key" --netrc "$FTPD_NETRC" "$T/src-fleet/manifest.yaml"
N=${AGENT_FLEET:-100}
i=1
while [ $i -le $N ]; do
	agent_config "f$i" "$FTPD_URL_1"
	sed -i "s|${FTPD_URL_1}repo|${FTPD_URL_1}fleetrepo|" "$T/f$i.yaml"
	echo 69 >"$T/f$i.rc"
	i=$((i + 1))
done
start=$(date +%s)
tick=0 left=$N other=""
while [ $tick -lt 3 ] && [ $left -gt 0 ]; do
	tick=$((tick + 1)) pids=""
	i=1
	while [ $i -le $N ]; do
		if [ "$(cat "$T/f$i.rc")" = 69 ]; then
			( $UPGR --splay 2 -c "$T/f$i.yaml" >"$T/f$i.out" 2>"$T/f$i.err"
			  echo $? >"$T/f$i.rc" ) &
			pids="$pids $!"
		fi
		i=$((i + 1))
	done
	wait $pids
	left=0
	i=1
	while [ $i -le $N ]; do
		case $(cat "$T/f$i.rc") in
		0) ;;
		69) left=$((left + 1)) ;;
		*) other="$other f$i:$(cat "$T/f$i.rc")" ;;
		esac
		i=$((i + 1))
	done
done
[ -z "$other" ] && ok "$N agents at once: none refused or failed" || not_ok "$N agents at once: exits$other"
bad=0
i=1
while [ $i -le $N ]; do
	[ "$(cat "$T/root-f$i/opt/hello/share/data.txt" 2>/dev/null)" = "fleet data" ] &&
		[ -s "$FTPD_ROOT_1/fleetrepo/reports/host-f$i/status.yaml" ] || bad=$((bad + 1))
	i=$((i + 1))
done
[ $bad = 0 ] && ok "$N agents at once: all installed and reported in $tick ticks ($(( $(date +%s) - start )) s)" ||
	{ not_ok "$N agents at once: $bad not done after $tick ticks"; cat "$T"/f*.err | sort | uniq -c | head -5; }
