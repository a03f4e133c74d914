# SPDX-License-Identifier: Apache-2.0
# `upgr status` tells the truth (issue 15, point 4): the server the last
# poll used and those that failed it (one unreachable, one lying), and the
# app stays "current" when a lying server was got past (not "refused");
# why a host waits (not_before, rollout); config files whose new version
# waits in .upgr-new; an upgrade killed (SIGKILL) in the middle of its
# swap reads "interrupted during the swap: run upgr recover" with exit 3,
# in text and JSON, and the recovery's audit record has the real downtime
# and the step the crash hit. And the metric upgr_last_fetched_bytes is
# the bytes downloaded this run: the payload's size, then 0.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/agentrepo.sh"

A="-c $T/a.yaml"
js() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); a=d['apps'][0]; print($1)"; }
DEAD=$(ftpd_free_ports 1)

# A file:// mirror that lies: every file as the good server has it, but
# the channel's signature is another key's.
mirror_lie() {
	rm -rf "$T/liar"; mkdir -p "$T/liar"; cp -R "$REPO/." "$T/liar/"
	minisign -G -W -p "$T/other.pub" -s "$T/other.key" >/dev/null 2>&1 || true
	rm -f "$T/liar/apps/hello/channels/stable.yaml.minisig"
	printf '' | minisign -S -s "$T/other.key" -m "$T/liar/apps/hello/channels/stable.yaml" \
		-t "$(printf 'timestamp:0\tapp:hello\tfile:channels/stable.yaml')" >/dev/null 2>&1
}

release 1.0.0
channel 1 1.0.0
agent_config a "metrics_file: $T/a.prom"
expect_exit 0 "install 1.0.0" $T/upgr run $A
size1=$(stat -c %s "$APPDIR/releases/1.0.0/payload.tar.gz")
# The release's bytes on the wire: the payload, its signed metadata too.
got=$(sed -n 's/^upgr_last_fetched_bytes{app="hello"} //p' "$T/a.prom")
[ -n "$got" ] && [ "$got" -ge "$size1" ] && [ "$got" -lt $((size1 + 65536)) ] &&
	ok "metrics: the bytes fetched are the payload's $size1 and its metadata ($got)" ||
	not_ok "metrics: bytes fetched $got, want $size1 and the metadata"
run $T/upgr status $A --json
[ "$(js "a['state'], a['server']" <"$T/out")" = "current ${FTPD_URL_1}repo" ] &&
	ok "status: current, answered by the server" ||
	{ not_ok "status state/server"; sed 's/^/#   /' "$T/out"; }
expect_exit 0 "a tick with nothing to do" $T/upgr run $A
expect_grep "$T/a.prom" '^upgr_last_fetched_bytes\{app="hello"\} 0$' \
	"metrics: nothing fetched on a current tick: 0"

# Server 1 does not answer, server 2 lies (bad signature), server 3 is good.
mirror_lie
set_servers "$T/a.yaml" "ftp://127.0.0.1:$DEAD/repo" "file://$T/liar" "${FTPD_URL_1}repo"
expect_exit 0 "a dead server and a lying one, a good one: exit 0" $T/upgr run $A
run $T/upgr status $A --json
[ "$(js "a['result'], a['state']" <"$T/out")" = "success current" ] &&
	ok "status after a lie got past: success, current (not refused)" ||
	{ not_ok "status after a lie got past"; sed 's/^/#   /' "$T/out"; }
js "a['servers_failed']" <"$T/out" >"$T/failed"
expect_grep "$T/failed" "server 1 \(ftp://127.0.0.1:$DEAD/repo\) unreachable" \
	"status: the unreachable server is listed"
expect_grep "$T/failed" "server file://$T/liar refused: channels/stable.yaml: signed by key .*not a trusted key" \
	"status: the lying server is listed"
run $T/upgr status $A
expect_grep "$T/out" "^hello: servers that failed the last poll: .*; used ${FTPD_URL_1}repo" \
	"status text: the failed servers and the one used"
set_servers "$T/a.yaml" "${FTPD_URL_1}repo"

# Waiting: not before tomorrow; then outside the rollout.
release 2.0.0
CH_EXTRA="not_before: $(utc '+1 day')" channel 2 2.0.0
expect_exit 0 "2.0.0 not before tomorrow: exit 0" $T/upgr run $A
run $T/upgr status $A --json
[ "$(js "a['state']" <"$T/out")" = waiting ] && js "a['waiting']" <"$T/out" | grep -q '^not before ' &&
	ok "status: waiting, not before ..." || { not_ok "status waiting"; sed 's/^/#   /' "$T/out"; }
CH_EXTRA="rollout: 0" channel 3 2.0.0
expect_exit 0 "2.0.0 at rollout 0%" $T/upgr run $A
run $T/upgr status $A
expect_grep "$T/out" "^hello: not upgraded yet: rollout 0% does not include host host-a$" \
	"status text: why the host waits (rollout)"

# A locally edited config file: kept, its new version waits in .upgr-new.
echo "edited here" >"$T/root-a/opt/hello/etc/hello.conf"
channel 4 2.0.0
expect_exit 0 "upgrade to 2.0.0" $T/upgr run $A
run $T/upgr status $A --json
[ "$(js "a['config_pending'], a['state']" <"$T/out")" = "['etc/hello.conf'] current" ] &&
	ok "status json: config_pending lists etc/hello.conf" ||
	{ not_ok "status json config_pending"; sed 's/^/#   /' "$T/out"; }
run $T/upgr status $A
expect_grep "$T/out" "^hello: config kept: etc/hello.conf \(new version at etc/hello.conf.upgr-new\)" \
	"status text: the config waiting to be merged"

# kill -9 in the middle of the swap: the second rename of three.
release 3.0.0
ASAN_OPTIONS=detect_leaks=0 strace -o /dev/null -e trace=renameat -e inject=renameat:signal=KILL:when=2 \
	$T/upgr apply $A "$APPDIR/releases/3.0.0" >/dev/null 2>&1
[ -e "$T/a-state/apps/hello/journal" ] && ok "killed mid-swap: the journal is left" ||
	not_ok "killed mid-swap: no journal"
expect_exit 3 "status exits 3 while a transaction is interrupted" $T/upgr status $A
expect_grep "$T/out" "^hello: interrupted during the swap \(upgrade 2.0.0 -> 3.0.0; journal: started\): run upgr recover$" \
	"status text: interrupted during the swap: run upgr recover"
expect_grep "$T/out" "^hello +2.0.0 .* interrupted " "status table: RESULT interrupted"
run $T/upgr status $A --json
[ "$rc" = 3 ] && [ "$(js "a['state'], a['interrupted']['phase'], a['interrupted']['during']" <"$T/out")" = \
	"interrupted started the swap" ] && ok "status json: interrupted, phase started, during the swap" ||
	{ not_ok "status json interrupted (exit $rc)"; sed 's/^/#   /' "$T/out"; }
sleep 1
expect_exit 0 "upgr recover" $T/upgr recover $A
$T/upgr audit show --json "$T/a-audit.log" | /usr/bin/python3 -c '
import json,sys
recs = [r for r in json.load(sys.stdin) if r["action"] == "recover"]
r = recs[-1]
ok = r["downtime_ms"] >= 1000 and "the crash hit the swap" in r["error"]
print("ok" if ok else "bad: %s" % r)' >"$T/rec"
expect_grep "$T/rec" '^ok$' "recovery record: the real downtime (>= 1 s) and the step the crash hit"
expect_exit 0 "status exits 0 once recovered" $T/upgr status $A
expect_no_grep "$T/out" "^hello: interrupted" "status: nothing interrupted any more"
running 2.0.0 && ok "2.0.0 runs again" || not_ok "2.0.0 runs again"
