#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Mirror failover after a trust failure, bounded refusal records, and the
# replay serial per channel (issue 14 points 6, 5 and 8), against two real
# vsftpd servers that each serve their own copy of the repository:
#   - a first server whose channel, manifest or payload is tampered with,
#     and a good second one: the host upgrades, and the audit log names
#     the server that lied; both lying: exit 77 naming both;
#   - a server alternating a tampered channel and a garbage signature
#     over several ticks: at most one record (and one report upload) per
#     cause class and server;
#   - a host on beta at serial 10 moved to stable at serial 3 installs;
#     a replay on stable is still refused.
# And a refused server URL is shown without any of its password (point 10).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/release.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

upgr_copy

# --- point 10: the password of a refused server URL is never shown -----------
cat >"$T/pw.yaml" <<EOF
servers:
  - "ftp://agent:s3cr@tP4ss@127.0.0.1:1/repo"
apps: [hello]
root: $T/pwroot
state_dir: $T/pw-state
trusted_keys: [$T/rel.pub]
EOF
chmod 0644 "$T/pw.yaml"
expect_exit 65 "a password in a config others can read is refused" "$UPGR" run -c "$T/pw.yaml"
expect_grep "$T/err" "ftp://127.0.0.1:1/repo" "... naming the server"
expect_no_grep "$T/err" "s3cr|tP4ss|agent:" "... without any part of the user information"

ftpd_or_skip 2 "mirror tests"

REPO=$T/repo-master
APPDIR=$REPO/apps/hello
release_key
minisign -G -W -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1

# serve I...: copy the master repository to each server I (its own copy).
serve() {
	for _i in "$@"; do
		eval _r=\$FTPD_ROOT_$_i
		rm -rf "$_r/repo"
		mkdir -p "$_r/repo"
		cp -R "$REPO/." "$_r/repo/"
		chown -R "$FTPD_USER:" "$_r"
	done
}
on() { eval echo "\$FTPD_ROOT_$1/repo/apps/hello/$2"; }

release() {
	svc_src "$1" "$T/src-$1"
	release_make "$T/src-$1/manifest.yaml" "$T/src-$1" "$APPDIR/releases/$1"
}

utc() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }

# chan NAME SERIAL VERSION: write and sign channels/NAME.yaml in the master.
chan() {
	_f=$APPDIR/channels/$1.yaml
	mkdir -p "$APPDIR/channels"
	cat >"$_f" <<-EOF
	upgr: 1
	app: hello
	channel: $1
	serial: $2
	version: $3
	manifest: releases/$3/manifest.yaml
	manifest_sha256: $(sha256sum "$APPDIR/releases/$3/manifest.yaml" | cut -d' ' -f1)
	published: $(utc '-1 hour')
	expires: $(utc '+30 days')
	EOF
	rm -f "$_f.minisig"
	printf '' | minisign -S -s "$T/rel.key" -m "$_f" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/%s.yaml' "$1")" \
		>/dev/null 2>&1 || not_ok "minisign -S of the channel"
}

# agent NAME CHANNEL SERVER-URL...: an agent config $T/NAME.yaml.
agent() {
	_an=$1 _c=$2; shift 2
	agent_yaml "$_an" "trusted_keys: [$T/rel.pub]
channel: $_c" $(for _u in "$@"; do echo "${_u}repo"; done)
}

running() { [ "$(cat "$T/svc/running" 2>/dev/null)" = "$1" ]; }
refusals() { grep -Ec '^result: "?refused' "$T/$1-audit.log" 2>/dev/null || true; }
S1="127.0.0.1:$FTPD_PORT_1"
S2="127.0.0.1:$FTPD_PORT_2"

# --- point 6: a lying first server, a good second one --------------------------
agent a stable "$FTPD_URL_1" "$FTPD_URL_2"
release 1.0.0
chan stable 1 1.0.0
serve 1 2
expect_exit 0 "both servers good: 1.0.0 installs" "$UPGR" -c "$T/a.yaml"
running 1.0.0 && ok "... 1.0.0 runs" || not_ok "1.0.0 is not running"

# lied NAME VERSION: the run upgraded to VERSION through server 2 and the
# audit log names server 1, not server 2, as the one that lied.
lied() {
	running "$2" && ok "$1: the host upgrades to $2 from the good server" ||
		not_ok "$1: $2 is not running ($(cat "$T/svc/running" 2>/dev/null))"
	grep -E '^(error|result):' "$T/a-audit.log" | tail -4 >"$T/last-records"
	expect_grep "$T/a-audit.log" "server ftp://$S1/repo refused" "$1: the audit log names the lying server"
	expect_no_grep "$T/a-audit.log" "server ftp://$S2/repo refused" "$1: ... and not the good one"
	expect_grep "$T/err" "$S1" "$1: stderr names the lying server"
}

release 1.1.0
chan stable 2 1.1.0
serve 1 2
sed -i 's/^version: .*/version: 9.9.9/' "$(on 1 channels/stable.yaml)"
expect_exit 0 "a tampered channel on the first server: exit 0" "$UPGR" -c "$T/a.yaml"
lied "tampered channel" 1.1.0

release 1.2.0
chan stable 3 1.2.0
serve 1 2
echo "# tampered" >>"$(on 1 releases/1.2.0/manifest.yaml)"
expect_exit 0 "a tampered manifest on the first server: exit 0" "$UPGR" -c "$T/a.yaml"
lied "tampered manifest" 1.2.0
expect_grep "$T/a-audit.log" "server ftp://$S1/repo refused: .*mix-and-match" "tampered manifest: ... saying why"

release 1.3.0
chan stable 4 1.3.0
serve 1 2
_p=$(on 1 releases/1.3.0/payload.tar.gz)
_size=$(stat -c %s "$_p")
head -c "$_size" /dev/urandom >"$_p"
chown "$FTPD_USER:" "$_p"
expect_exit 0 "a tampered payload (same size) on the first server: exit 0" "$UPGR" -c "$T/a.yaml"
lied "tampered payload" 1.3.0
expect_grep "$T/a-audit.log" "server ftp://$S1/repo refused: .*differs from the manifest" \
	"tampered payload: ... saying why"

# Both servers lie: 77, naming each.
release 1.4.0
chan stable 5 1.4.0
serve 1 2
sed -i 's/^version: .*/version: 9.9.9/' "$(on 1 channels/stable.yaml)" "$(on 2 channels/stable.yaml)"
_before=$(refusals a)
expect_exit 77 "both servers serve a tampered channel: exit 77" "$UPGR" -c "$T/a.yaml"
expect_grep "$T/err" "refused from every server.*$S1.*$S2" "... the message names both servers"
running 1.3.0 && ok "... and nothing changed" || not_ok "the service changed"
[ "$(refusals a)" -eq $((_before + 2)) ] && ok "... one record per lying server" ||
	not_ok "records: $_before -> $(refusals a)"

# --- point 5: alternating causes do not defeat the de-duplication --------------
agent b stable "$FTPD_URL_1"
serve 1
expect_exit 0 "a single-server host installs 1.4.0" "$UPGR" -c "$T/b.yaml"
release 1.5.0
chan stable 6 1.5.0
serve 1
cp "$(on 1 channels/stable.yaml)" "$T/good.yaml"
cp "$(on 1 channels/stable.yaml.minisig)" "$T/good.yaml.minisig"
uploads() { grep -c 'OK UPLOAD.*reports/host-b/audit.log' "$FTPD_LOG_1" || true; }
_recs=$(refusals b)
_ups=$(uploads)
bad=0
for tick in 1 2 3 4 5 6; do
	cp "$T/good.yaml" "$(on 1 channels/stable.yaml)"
	cp "$T/good.yaml.minisig" "$(on 1 channels/stable.yaml.minisig)"
	if [ $((tick % 2)) = 1 ]; then
		sed -i 's/^version: .*/version: 9.9.9/' "$(on 1 channels/stable.yaml)"
	else
		printf 'untrusted comment: x\ngarbage %s\n' "$tick" >"$(on 1 channels/stable.yaml.minisig)"
	fi
	chown "$FTPD_USER:" "$(on 1 channels/stable.yaml)" "$(on 1 channels/stable.yaml.minisig)"
	run "$UPGR" -c "$T/b.yaml"
	[ "$rc" = 77 ] || bad=$((bad + 1))
done
[ $bad = 0 ] && ok "six ticks alternating a tampered channel and a garbage signature: 77 each" ||
	not_ok "$bad ticks did not exit 77"
_added=$(( $(refusals b) - _recs ))
[ "$_added" -ge 1 ] && [ "$_added" -le 2 ] &&
	ok "... at most one record per cause class and server ($_added)" ||
	not_ok "... $_added records added over six ticks"
_upl=$(( $(uploads) - _ups ))
[ "$_upl" -le "$_added" ] && ok "... and no more report uploads than records ($_upl)" ||
	not_ok "... $_upl uploads for $_added records"
cp "$T/good.yaml" "$(on 1 channels/stable.yaml)"
cp "$T/good.yaml.minisig" "$(on 1 channels/stable.yaml.minisig)"
chown "$FTPD_USER:" "$(on 1 channels/stable.yaml)" "$(on 1 channels/stable.yaml.minisig)"
expect_exit 0 "the good channel again: 1.5.0 installs" "$UPGR" -c "$T/b.yaml"
[ ! -e "$T/b-state/apps/hello/refused" ] && ok "... and the recorded refusals are forgotten" ||
	not_ok "refusals still remembered: $(cat "$T/b-state/apps/hello/refused")"
sed -i 's/^version: .*/version: 9.9.9/' "$(on 1 channels/stable.yaml)"
_recs=$(refusals b)
expect_exit 77 "after a clean poll, the same attack is recorded again" "$UPGR" -c "$T/b.yaml"
[ "$(refusals b)" -eq $((_recs + 1)) ] && ok "... once" || not_ok "records: $_recs -> $(refusals b)"

# --- point 8: the replay serial per channel --------------------------------------
agent c beta "$FTPD_URL_2"
chan beta 10 1.0.0
chan stable 3 1.1.0
serve 2
expect_exit 0 "a host on beta at serial 10 installs 1.0.0" "$UPGR" -c "$T/c.yaml"
running 1.0.0 && ok "... 1.0.0 runs" || not_ok "1.0.0 is not running"
sed -i 's/^channel: .*/channel: stable/' "$T/c.yaml"
expect_exit 0 "moved to stable at serial 3: installs, not a replay" "$UPGR" -c "$T/c.yaml"
running 1.1.0 && ok "... 1.1.0 runs" || not_ok "1.1.0 is not running"
chan stable 2 1.0.0
serve 2
expect_exit 77 "a replay on stable itself (serial 2 < 3) is still refused" "$UPGR" -c "$T/c.yaml"
expect_grep "$T/err" "serial 2 is lower than 3" "... naming the serials"
running 1.1.0 && ok "... and nothing changed" || not_ok "the service changed"
chan beta 9 1.0.0
chan stable 3 1.1.0
serve 2
sed -i 's/^channel: .*/channel: beta/' "$T/c.yaml"
echo "downgrade: true" >>"$APPDIR/channels/beta.yaml"
expect_exit 77 "back on beta, beta's own serial still counts (9 < 10)" "$UPGR" -c "$T/c.yaml"
expect_grep "$T/err" "serial 9 is lower than 10" "... naming beta's serials"
