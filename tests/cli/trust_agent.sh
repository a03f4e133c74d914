#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The agent under a trust root (issue 13, agent side), against real vsftpd
# servers: roles, thresholds and scopes decide what installs; the root is
# walked N+1, N+2, ... (also by a host that skipped a version); a root
# short of the old or new root threshold, a revoked key, an expired root,
# a forged approval, a scoped key out of scope and a channel-key-only
# downgrade are each refused with 77, the target unchanged and exactly one
# audit record naming the check; missing approvals only wait ("waiting for
# approval (0 of 1)") and record nothing, nor fetch the index; an upgrade
# checks the signatures before the parse, against the target the top of
# the manifest names (held to the parse's); a lying first mirror with a good
# second one is got past. trusted_keys: alone works as before (agent.sh,
# mirror.sh).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

n=0; while [ ! -x "$UPGR" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
cp "$UPGR" "$T/upgr" && chmod 0755 "$T/upgr" && UPGR=$T/upgr
cd "$T" || exit 1
umask 022

if ! ftpd_can_run 2>"$T/why"; then
	ok "trust agent # SKIP $(cat "$T/why")"
	exit 0
fi
ftpd_start 2 || { not_ok "vsftpd servers start"; exit 1; }

KEYS="ops1 ops2 ops3 ops4 ops5 ops6 alice bob erin carol dave console"
for k in $KEYS mallory; do
	minisign -G -W -p "$T/$k.pub" -s "$T/$k.key" >/dev/null 2>&1 || not_ok "minisign -G $k"
done
pub() { sed -n 2p "$T/$1.pub"; }
utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# write_root FILE VERSION ROOTKEYS RELEASEKEYS APPROVEKEYS [EXPIRES]
write_root() {
	{
		printf 'upgr: 1\ntype: root\nversion: %s\nexpires: %s\nkeys:\n' "$2" "${6:-2099-01-01T00:00:00Z}"
		for k in $KEYS; do printf '  %s: %s\n' "$k" "$(pub $k)"; done
		printf 'roles:\n  root: { keys: [%s], threshold: 2 }\n' "$3"
		printf '  release: { keys: [%s], threshold: 1 }\n' "$4"
		printf '  approve: { keys: [%s], threshold: 1 }\n' "$5"
		printf '  channel: { keys: [console], threshold: 1 }\n'
		printf 'scopes:\n'
		case " $4 " in *" alice,"*|*" alice "*) printf '  alice: { apps: ["hello"], targets: ["/opt/hello"] }\n' ;; esac
		case "$4" in *bob*) printf '  bob: { apps: ["payments-*"] }\n' ;; esac
		case "$4" in *erin*) printf '  erin: { apps: ["hel*"] }\n' ;; esac
	} >"$1"
}

REPO=$FTPD_ROOT_1/repo
APPDIR=$REPO/apps/hello
mkdir -p "$REPO/root" "$APPDIR/channels"
own() { chown -R "$FTPD_USER:" "$FTPD_ROOT_1" "$FTPD_ROOT_2"; }

# sig FILE NAME KEY: FILE.NAME.minisig by KEY, the comment naming app and file.
sig() {
	_rel=${1#"$APPDIR"/}
	rm -f "$1.$2.minisig"
	printf '' | minisign -S -s "$T/$3.key" -m "$1" -x "$1.$2.minisig" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:%s' "$_rel")" >/dev/null 2>&1 ||
		not_ok "minisign -S $1 by $3"
}
# release VERSION SIGNER [TARGET] [APPROVER:KEY...]: a sealed release,
# signed by SIGNER as manifest.yaml.minisig and manifest.yaml.SIGNER.minisig.
release() {
	_v=$1 _s=$2 _tg=${3:-/opt/hello}; shift 3
	svc_src "$_v" "$T/src-$_v"
	sed -i "s|^target: .*|target: $_tg|" "$T/src-$_v/manifest.yaml"
	_d=$APPDIR/releases/$_v
	rm -rf "$_d"
	/usr/bin/python3 "$UPGR_TOP/tests/lib/seal.py" "$T/src-$_v/manifest.yaml" "$T/src-$_v" "$_d" ||
		not_ok "seal $_v"
	sig "$_d/manifest.yaml" "$_s" "$_s"
	cp "$_d/manifest.yaml.$_s.minisig" "$_d/manifest.yaml.minisig"
	for _a in "$@"; do sig "$_d/manifest.yaml" "${_a%%:*}" "${_a#*:}"; done
	own
}
# chan _ VERSION [EXTRA-LINE]: channels/stable.yaml signed by console, at
# the next serial.
S=0
chan() {
	S=$((S + 1))
	_f=$APPDIR/channels/stable.yaml
	cat >"$_f" <<-EOF
	upgr: 1
	app: hello
	channel: stable
	serial: $S
	version: $2
	manifest: releases/$2/manifest.yaml
	manifest_sha256: $(sha256sum "$APPDIR/releases/$2/manifest.yaml" | cut -d' ' -f1)
	published: $(utc '-1 hour')
	expires: $(utc '+30 days')
	EOF
	[ -n "${3:-}" ] && printf '%s\n' "$3" >>"$_f"
	sig "$_f" console console
	mv "$_f.console.minisig" "$_f.minisig"
	own
}
# root_up VERSION SIGNERS...: sign root VERSION by each and put it on server 1.
root_up() {
	_v=$1; shift
	for _k in "$@"; do
		"$UPGR" trust sign -k "$T/$_k.key" "$T/$_v.root.yaml" >/dev/null 2>&1 ||
			not_ok "trust sign $_v by $_k"
	done
	cp "$T/$_v.root.yaml" "$T/$_v".root.yaml.*.minisig "$REPO/root/"
	own
}

# agent NAME SERVER-URL...
agent() {
	_an=$1; shift
	agent_yaml "$_an" "trust_root: $T/host-root.yaml" $(for _u in "$@"; do echo "${_u}repo"; done)
}
running() { [ "$(cat "$T/svc/running" 2>/dev/null)" = "$1" ]; }
refusals() { cat "$T/$1-audit.log" 2>/dev/null | grep -Ec '^result: "?refused' || true; }
hostver() { sed -n 's/^version: //p' "$T/$1-state/trust/root.yaml"; }

# refused NAME CHECK-REGEX: run host a: exit 77, the target unchanged,
# one more audit record naming the check; a second run adds none.
refused() {
	_before=$(refusals a)
	_sum=$(tree_sum "$T/root-a/opt/hello" 2>/dev/null)
	expect_exit 77 "$1: refused (77)" "$UPGR" -c "$T/a.yaml"
	cp "$T/err" "$T/err.first"   # under cron the repeat says nothing new
	[ "$(tree_sum "$T/root-a/opt/hello" 2>/dev/null)" = "$_sum" ] &&
		ok "$1: the target is unchanged" || not_ok "$1: the target changed"
	[ "$(refusals a)" = $((_before + 1)) ] && ok "$1: exactly one audit record" ||
		not_ok "$1: $(($(refusals a) - _before)) audit records"
	grep -E '^(why|error|message|reason)?.*' "$T/a-audit.log" | tail -8 | grep -Eq "$2" &&
		ok "$1: the record names the check ($2)" || not_ok "$1: the record does not name '$2'"
	expect_exit 77 "$1: refused again" "$UPGR" -c "$T/a.yaml"
	[ "$(refusals a)" = $((_before + 1)) ] && ok "$1: ... and recorded once only" ||
		not_ok "$1: recorded again"
}
# clean [EXTRA-LINE]: the channel back at the running version; a clean
# poll forgets the refusals recorded (the next one is recorded again).
clean() {
	chan _ "$(cat "$T/svc/running")" "${1:-}"
	expect_exit 0 "a clean poll" "$UPGR" -c "$T/a.yaml"
}
# good SERIAL VERSION: a good release and a clean poll on host a (the
# refusal records are forgotten).
good() {
	release "$2" alice /opt/hello carol:carol
	chan "$1" "$2"
	expect_exit 0 "$2 by alice approved by carol installs" "$UPGR" -c "$T/a.yaml"
	running "$2" && ok "... $2 runs" || not_ok "$2 is not running"
}

# --- root 1, four-eyes, scopes -------------------------------------------------
write_root "$T/1.root.yaml" 1 "ops1, ops2, ops3" "alice, bob" "carol, dave"
root_up 1 ops1 ops2
cp "$T/1.root.yaml" "$T/host-root.yaml"
agent a "$FTPD_URL_1"
good 1 1.0.0
[ "$(hostver a)" = 1 ] && ok "the host stores root 1" || not_ok "host root is $(hostver a)"
# The idle tick reads the installed manifest once: the channel check
# (is the offer lower than what is installed?) and the decision share it.
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=open,openat -o "$T/open.log" \
	"$UPGR" -c "$T/a.yaml" >"$T/out" 2>"$T/err" && ok "an idle tick, traced" ||
	not_ok "an idle tick: $(cat "$T/err")"
_opens=$(grep -c "a-state/apps/hello/manifest.yaml\"" "$T/open.log" || true)
[ "$_opens" = 1 ] && ok "... reads the installed manifest once" ||
	not_ok "... opened the installed manifest $_opens times"

release 1.1.0 alice /opt/hello
chan 2 1.1.0
_before=$(refusals a)
expect_exit 0 "approval missing: the dry run only waits (0)" "$UPGR" --dry-run -c "$T/a.yaml"
expect_grep "$T/out" "waiting for approval \\(0 of 1\\)" "... and says waiting for approval (0 of 1)"
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -s 64 -e trace=sendto -o "$T/wait.log" \
	"$UPGR" -c "$T/a.yaml" >"$T/out" 2>"$T/err" && ok "approval missing: a real run waits (0)" ||
	not_ok "approval missing: a real run: $(cat "$T/err")"
# The index is fetched ahead of the manifest's parse only once its
# signatures are known to be enough (src/repo.c, check_manifest).
grep -Eq '(SIZE|RETR) objects.yaml' "$T/wait.log" && not_ok "... and asked for the release's index" ||
	ok "... and does not ask for the release's index"
expect_exit 0 "... twice" "$UPGR" -c "$T/a.yaml"
expect_exit 0 "upgr status" "$UPGR" status -c "$T/a.yaml"
expect_grep "$T/out" "^hello: not upgraded yet: waiting for approval \\(0 of 1\\)$" \
	"... says why the host waits: waiting for approval (0 of 1)"
running 1.0.0 && ok "... 1.0.0 still runs" || not_ok "an unapproved release installed"
[ "$(refusals a)" = "$_before" ] && ok "... and nothing is recorded" || not_ok "waiting was recorded"

release 1.1.0 alice /opt/hello carol:alice
chan 3 1.1.0
refused "approval by the release key itself (as carol)" "approv|threshold"
clean
release 1.1.0 alice /opt/hello carol:mallory
chan 4 1.1.0
refused "approval by a key outside the root" "approv|threshold"
clean
release 1.1.0 bob /opt/hello carol:carol
chan 5 1.1.0
refused "bob, scoped to payments-*, signs hello" "release|scope|threshold"
clean
release 1.1.0 alice /etc/hello carol:carol
chan 6 1.1.0
refused "alice, scoped to /opt/hello, targets /etc/hello" "release|scope|threshold"
clean
release 1.1.0 alice /opt/hello carol:carol
chan 7 1.1.0
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -s 64 -e trace=openat,sendto -o "$T/up.log" \
	"$UPGR" -c "$T/a.yaml" >"$T/out" 2>"$T/err" &&
	ok "1.1.0 by alice approved by carol installs, traced" || not_ok "1.1.0: $(cat "$T/err")"
running 1.1.0 && ok "... 1.1.0 runs" || not_ok "1.1.0 is not running"
# Its signatures checked against the target read off the top of the
# manifest, the index is asked for by a thread beside the manifest's
# parse (strace names the thread of each request), not after it by the
# thread that keeps the manifest.
ri=$(grep -En '(SIZE|RETR) objects.yaml' "$T/up.log" | head -n 1 | cut -d: -f1)
km=$(grep -n 'cache/hello/1.1.0/manifest.yaml.tmp' "$T/up.log" | head -n 1 | cut -d: -f1)
ti=$(sed -n "${ri:-1}s/ .*//p" "$T/up.log")
tm=$(sed -n "${km:-1}s/ .*//p" "$T/up.log")
[ -n "$ri" ] && [ -n "$km" ] && [ "$ti" != "$tm" ] &&
	ok "... the index was asked for by a thread beside the manifest's parse" ||
	not_ok "... the index asked for at trace line ${ri:-none} by $ti, the manifest kept by $tm"

chan 8 1.0.0 "downgrade: true"
refused "a channel-key-only downgrade to 1.0.0" "lower|downgrade|release"
clean
good 9 1.2.0

# --- rotation 1 -> 2 -> 3, a host that skipped 2 -----------------------------
# Root 2 swaps ops1 for ops4 and drops dave; root 3 drops alice for erin.
write_root "$T/2.root.yaml" 2 "ops2, ops3, ops4" "alice, bob" "carol"
root_up 2 ops1 ops2 ops3
chan 10 1.2.0 "root: 2"
expect_exit 0 "the channel names root 2: the host walks to it" "$UPGR" -c "$T/a.yaml"
[ "$(hostver a)" = 2 ] && ok "... and stores root 2" || not_ok "host root is $(hostver a)"

release 1.3.0 alice /opt/hello dave:dave
chan 11 1.3.0 "root: 2"
_before=$(refusals a)
expect_exit 0 "approval by dave only, dropped in root 2: waits (0)" "$UPGR" --dry-run -c "$T/a.yaml"
expect_grep "$T/out" "waiting for approval \\(0 of 1\\)" "... dave's approval does not count"
expect_exit 0 "... a real run waits too" "$UPGR" -c "$T/a.yaml"
running 1.2.0 && [ "$(refusals a)" = "$_before" ] && ok "... nothing installed, nothing recorded" ||
	not_ok "dave's approval counted, or was recorded"
release 1.3.0 alice /opt/hello carol:dave
chan 11 1.3.0 "root: 2"
refused "dave, dropped in root 2, signs as carol" "approv|threshold"
clean
good 12 1.3.0

write_root "$T/3.root.yaml" 3 "ops2, ops3, ops4" "erin, bob" "carol"
root_up 3 ops2 ops3
chan 13 1.3.0 "root: 3"
expect_exit 0 "host a walks 2 -> 3" "$UPGR" -c "$T/a.yaml"
[ "$(hostver a)" = 3 ] && ok "... and stores root 3" || not_ok "host a root is $(hostver a)"

release 1.4.0 alice /opt/hello carol:carol
chan 14 1.4.0 "root: 3"
refused "a new release by alice, revoked in root 3" "release|threshold"
clean "root: 3"
release 1.4.0 erin /opt/hello carol:carol
chan 15 1.4.0 "root: 3"
expect_exit 0 "erin's approved release installs" "$UPGR" -c "$T/a.yaml"
running 1.4.0 && ok "... 1.4.0 runs" || not_ok "1.4.0 is not running"
agent b "$FTPD_URL_1"
expect_exit 0 "a host that skipped root 2 walks 1 -> 2 -> 3 and installs erin's release" \
	"$UPGR" -c "$T/b.yaml"
[ "$(hostver b)" = 3 ] && ok "... and stores root 3" || not_ok "host b root is $(hostver b)"

# --- roots short of a threshold, hand-uploaded -------------------------------
write_root "$T/4.root.yaml" 4 "ops2, ops3, ops4" "erin, bob" "carol"
root_up 4 ops2
chan 16 1.4.0 "root: 4"
refused "root 4 signed by one of root 3's root keys" "root"
[ "$(hostver a)" = 3 ] && ok "... the host keeps root 3" || not_ok "host root is $(hostver a)"
rm -f "$REPO"/root/4.root.yaml*
clean
chan _ 1.4.0 "root: 4"
rm -f "$REPO"/root/4.root.yaml* "$T"/4.root.yaml.*.minisig
write_root "$T/4.root.yaml" 4 "ops5, ops6, ops4" "erin, bob" "carol"
root_up 4 ops2 ops3
refused "root 4 signed by root 3's keys but by only one of its own" "root"
rm -f "$REPO"/root/4.root.yaml*
chan 17 1.4.0
expect_exit 0 "root 4 gone, a clean poll" "$UPGR" -c "$T/a.yaml"

# --- a lying first mirror, a good second one -----------------------------------
rm -rf "$FTPD_ROOT_2/repo"; cp -R "$REPO" "$FTPD_ROOT_2/repo"
write_root "$T/4.root.yaml" 4 "ops2, ops3, ops4" "erin, bob" "carol" "$(utc '+10 days')"
rm -f "$T"/4.root.yaml.*.minisig
root_up 4 ops2 ops3 ops4
cp "$REPO"/root/4.root.yaml* "$FTPD_ROOT_2/repo/root/"
sed -i 's/^  release: .*/  release: { keys: [mallory], threshold: 1 }/' "$REPO/root/4.root.yaml"
chan 18 1.4.0 "root: 4"
cp "$APPDIR"/channels/stable.yaml* "$FTPD_ROOT_2/repo/apps/hello/channels/"
own
agent m "$FTPD_URL_1" "$FTPD_URL_2"
sed -i 's/^host: .*/host: host-a/; s|^root: .*|root: '"$T"'/root-a|; s|-state$|-state|' "$T/m.yaml"
cp -R "$T/a-state" "$T/m-state"
expect_exit 0 "a bad root 4 on server 1, a good one on server 2: exit 0" "$UPGR" -c "$T/m.yaml"
[ "$(hostver m)" = 4 ] && ok "... the host takes root 4 from server 2" || not_ok "host root is $(hostver m)"
expect_grep "$T/m-audit.log" "server ftp://127.0.0.1:$FTPD_PORT_1/repo refused" "... the audit log names server 1"
expect_no_grep "$T/m-audit.log" "server ftp://127.0.0.1:$FTPD_PORT_2/repo refused" "... and not server 2"

# --- expiry: a warning once a day, then refusal ------------------------------
expect_grep "$T/err" "trust root version 4 expires at" "root 4 expires in 10 days: a warning"
expect_exit 0 "a second run the same day" "$UPGR" -c "$T/m.yaml"
expect_no_grep "$T/err" "expires at" "... does not warn again"
# The console sees it too: status.yaml carries it on every report while it
# holds (not only once a day), and fleet status shows it.
rm -f "$T/m-state/report-last"
expect_exit 0 "a third run the same day, reporting" "$UPGR" -c "$T/m.yaml"
expect_no_grep "$T/err" "expires at" "... still no second warning on stderr"
st=$(ls -t "$FTPD_ROOT_1/repo/reports/host-a/status.yaml" \
	"$FTPD_ROOT_2/repo/reports/host-a/status.yaml" 2>/dev/null | head -1)
srv=$FTPD_URL_1; case $st in "$FTPD_ROOT_2"/*) srv=$FTPD_URL_2 ;; esac
expect_grep "${st:-$T/none}" '^warnings:$' "status.yaml has a warnings: list"
expect_grep "${st:-$T/none}" '^  - "trust root version 4 expires at .* \(in (9|10) days\)' \
	"... naming root 4's expiry"
run "$UPGR" fleet status -N "$FTPD_NETRC" -r "${srv}repo"
expect_grep "$T/out" "^WARNING: host-a: trust root version 4 expires at" \
	"fleet status shows the host's warning"
run "$UPGR" fleet status -N "$FTPD_NETRC" -r "${srv}repo" --json
check "fleet status --json lists it in summary.warnings" python3 -c "
import json, sys
w = json.load(open('$T/out'))['summary']['warnings']
assert len(w) == 1 and w[0].startswith('host-a: trust root version 4 expires at'), w"
# One connection: the page's check, not the parallel fetch's (once, under
# the sanitizer, this run wrote no page; its stderr is shown if it recurs).
run "$UPGR" fleet status -N "$FTPD_NETRC" -r "${srv}repo" --no-cache --jobs 1 --html "$T/w.html"
[ -f "$T/w.html" ] || sed 's/^/#   /' "$T/err"
expect_grep "$T/w.html" '<div class="trust warning">Warning: host-a: trust root version 4 expires at' \
	"the console's page shows it in its header"
write_root "$T/5.root.yaml" 5 "ops2, ops3, ops4" "erin, bob" "carol" "$(utc '-1 hour')"
root_up 5 ops2 ops3
cp "$REPO"/root/5.root.yaml* "$FTPD_ROOT_2/repo/root/"; own
cp -R "$T/m-state/trust/." "$T/a-state/trust/"
chan 19 1.4.0 "root: 5"
refused "the newest root, 5, expired" "expired"
expect_grep "$T/err.first" "trust root version 5 expired at .*all updates are refused" "... with a clear message"
