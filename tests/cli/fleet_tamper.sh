#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# One host rewrites another's report: every agent may share one upload
# account, so host-b can write reports/host-a/status.yaml. With --keys DIR
# (the device keys fleet verify pinned) the console must show host-a as
# `tampered` (exit 1), never ok, whether the forged status is unsigned,
# signed by host-b's own device key, or host-a's own older signed status
# put back while host-a's audit log says its last upgrade rolled back.
# Honest hosts stay ok. Real agents (`upgr run`), a real vsftpd, and the
# forgeries uploaded over FTP with the shared account, as host-b would.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP fleet tamper tests: $(cat "$T/why")"
	exit 0
fi
ftpd_start 1 || { not_ok "vsftpd server starts"; exit 1; }
FTP=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
RPT=$FTPD_ROOT_1/repo/reports
K=$T/keys

keys "$T/rel"
publish() {   # VERSION [CHANNEL]
	svc_src "$1" "$T/src-$1"
	"$UPGR" publish $N --key "$T/rel.key" --repo "$FTP" --from "$T/src-$1" \
		--channel "${2:-stable}" "$T/src-$1/manifest.yaml" >"$T/pub.out" 2>&1 ||
		{ not_ok "publish $1"; sed 's/^/#   /' "$T/pub.out"; exit 1; }
}
agent() {     # NAME
	agent_yaml "$1" "trusted_keys: [$T/rel.pub]" "$FTP"
}
# Upload as host-b would, through the shared account.
upload() {    # FILE NAME-UNDER-reports/host-a
	curl -sS --netrc-file "$FTPD_NETRC" -T "$1" "$FTP/reports/host-a/$2" >/dev/null 2>"$T/curl.err" ||
		{ not_ok "upload $2"; sed 's/^/#   /' "$T/curl.err"; }
}
remove() {    # NAME-UNDER-reports/host-a
	curl -sS --netrc-file "$FTPD_NETRC" -Q "DELE repo/reports/host-a/$1" \
		"${FTPD_URL_1}" >/dev/null 2>"$T/curl.err" ||
		{ not_ok "delete $1"; sed 's/^/#   /' "$T/curl.err"; }
}
# The console's latest is channel "fleet" (1.1.0), which no agent follows,
# so that stable can move on to a release that fails on host-a.
S="$UPGR fleet status $N --repo $FTP --keys $K --channel fleet"

publish 1.0.0
for h in a b c; do
	agent "$h"
	"$UPGR" run -c "$T/$h.yaml" >/dev/null 2>&1 || not_ok "host-$h installs 1.0.0"
done
publish 1.1.0
publish 1.1.0 fleet
for h in a b c; do
	"$UPGR" run -c "$T/$h.yaml" >/dev/null 2>&1 || not_ok "host-$h upgrades to 1.1.0"
done

# --- the agent signs its status -----------------------------------------
check "host-a uploaded status.yaml.minisig" test -s "$RPT/host-a/status.yaml.minisig"
cp "$RPT/host-a/status.yaml" "$T/a-status.1"
cp "$RPT/host-a/status.yaml.minisig" "$T/a-status.1.minisig"
check "minisign -V accepts host-a's status with its device key" \
	minisign -V -q -p "$T/a-device.pub" -m "$T/a-status.1" -x "$T/a-status.1.minisig"
CP=$(sed -n 's/^trusted comment: upgr audit checkpoint //p' "$RPT/host-a/audit.log.minisig")
expect_grep "$RPT/host-a/status.yaml.minisig" "^trusted comment: upgr status host:host-a $CP\$" \
	"its trusted comment names the host and the audit log it was made with"

# --- honest hosts are ok -------------------------------------------------
expect_exit 0 "fleet verify: every log intact, every key pinned" \
	$UPGR fleet verify $N --repo "$FTP" --keys "$K"
expect_exit 0 "fleet status --keys: three honest hosts are ok (exit 0)" $S
expect_grep "$T/out" "^3 hosts, 0 with problems" "... no problems"

# stable's 1.2.0 fails its health check on host-a (the others do not run
# yet): the console, whose latest is 1.1.0, shows host-a rolled back.
publish 1.2.0
touch "$T/svc/unhealthy-1.2.0"
expect_exit 1 "host-a's upgrade to 1.2.0 fails and rolls back" "$UPGR" run -c "$T/a.yaml"
rm -f "$T/svc/unhealthy-1.2.0"
expect_exit 1 "fleet status --keys: host-a rolled back" $S
expect_grep "$T/out" "^host-a +hello +1\.1\.0 +rolled-back +rolled-back " "... shown as rolled-back, not tampered"
expect_grep "$T/out" "^host-b +hello +1\.1\.0 +success +ok" "... host-b ok"
cp "$RPT/host-a/status.yaml" "$T/a-status.2"
cp "$RPT/host-a/status.yaml.minisig" "$T/a-status.2.minisig"

# The status host-b writes for host-a: healthy at the latest version.
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
cat >"$T/forged" <<EOF
upgr: 1
host: "host-a"
time: "$NOW"
apps:
  - app: "hello"
    version: "1.1.0"
    result: "success"
    time: "$NOW"
    action: "upgrade"
    from: "1.0.0"
    to: "1.1.0"
    error: ""
EOF

# Each forgery: host-a tampered in text, JSON and HTML, exit 1; the
# others ok; then host-a's own report back.
tampered() {  # WHAT PATTERN
	expect_exit 1 "$1: fleet status --keys exits 1" $S
	expect_grep "$T/out" "^host-a +hello +1\.1\.0 +success +tampered +.*status\.yaml tampered: $2" \
		"$1: host-a is tampered ($2)"
	expect_grep "$T/out" "^host-b +hello +1\.1\.0 +success +ok" "$1: host-b is still ok"
	expect_grep "$T/out" "^host-c +hello +1\.1\.0 +success +ok" "$1: host-c is still ok"
	expect_exit 1 "$1: --json exits 1" $S --json
	check "$1: --json says tampered for host-a, ok for the others" \
		/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
p = {h["host"]: h["problem"] for h in d["hosts"]}
assert p == {"host-a": "tampered", "host-b": "ok", "host-c": "ok"}, p
assert d["verified"] is True, d["verified"]' "$T/out"
	expect_exit 1 "$1: --html exits 1" $S --html "$T/fleet.html"
	expect_grep "$T/fleet.html" '<tr data-problem="tampered" data-host="host-a">' "$1: the page shows host-a tampered"
	expect_no_grep "$T/fleet.html" 'data-problem="ok" data-host="host-a"' "$1: ... and never ok"
	upload "$T/a-status.2.minisig" status.yaml.minisig
	upload "$T/a-status.2" status.yaml
}

# 1. Unsigned: the forged status, no signature.
remove status.yaml.minisig
upload "$T/forged" status.yaml
tampered "unsigned" "status\.yaml is not signed"

# 2. The forged status beside host-a's real signature (of another status).
upload "$T/forged" status.yaml
tampered "host-a's signature beside a forged status" "status\.yaml\.minisig: "

# 3. Signed by host-b's own device key, with host-a's trusted comment.
TC=$(sed -n 's/^trusted comment: //p' "$T/a-status.2.minisig")
printf '' | minisign -S -s "$T/b-device.key" -m "$T/forged" -t "$TC" >/dev/null 2>&1 ||
	not_ok "minisign -S with host-b's device key"
upload "$T/forged.minisig" status.yaml.minisig
upload "$T/forged" status.yaml
tampered "signed by host-b's device key" "status\.yaml\.minisig: "

# 4. Replayed: host-a's own status from when 1.1.0 succeeded, with its
# genuine signature, while host-a's audit log says 1.2.0 rolled back.
upload "$T/a-status.1.minisig" status.yaml.minisig
upload "$T/a-status.1" status.yaml
tampered "host-a's older signed status replayed" "status\.yaml says hello 1\.1\.0 success, which the audit log's newest records of hello do not say"

# Back to host-a's own report: still tampered until someone looks (fleet
# ack), then rolled back, as it is.
expect_exit 1 "host-a's own report again: exit 1" $S
expect_grep "$T/out" "^host-a +hello +1\.1\.0 +rolled-back +tampered +[^ ]+ +tampered at .*not acknowledged \(upgr fleet ack host-a\)" "... host-a stays tampered until acknowledged"
expect_exit 0 "fleet ack host-a" $UPGR fleet ack $N --repo $FTP --keys $K --by "test operator" host-a
expect_exit 1 "after the ack: exit 1 (rolled back)" $S
expect_grep "$T/out" "^host-a +hello +1\.1\.0 +rolled-back +rolled-back " "... host-a is rolled-back, not tampered"
expect_no_grep "$T/out" "tampered" "... and nobody is tampered"
A=$FTPD_ROOT_1/repo/reports/host-a/ack.yaml
[ -f "$A" ] || A=$(find "$FTPD_ROOT_1" -path '*reports/host-a/ack.yaml' | head -1)
expect_grep "$A" '^by: "test operator"$' "ack.yaml on the server says who looked"
expect_grep "$A" '^seen: "[0-9a-f]{64}"$' "... and what was seen"
expect_grep "$A" '^time: "[0-9T:-]+Z"$' "... and when"
# A new tampering after the ack shows again, and stays until acked again.
upload "$T/a-status.1.minisig" status.yaml.minisig
upload "$T/a-status.1" status.yaml
expect_exit 1 "a new tampering after the ack" $S
expect_grep "$T/out" "^host-a +hello +1\.1\.0 +success +tampered " "... shows host-a tampered again"
upload "$T/a-status.2.minisig" status.yaml.minisig
upload "$T/a-status.2" status.yaml
expect_exit 1 "host-a's own report back" $S
expect_grep "$T/out" "^host-a +hello +1\.1\.0 +rolled-back +tampered +[^ ]+ +tampered at .*not acknowledged" "... still tampered: the old ack does not cover the new tampering"
expect_exit 0 "fleet ack host-a again" $UPGR fleet ack $N --repo $FTP --keys $K --by "test operator" host-a
expect_exit 1 "after the second ack" $S
expect_no_grep "$T/out" "tampered" "... nobody is tampered"
expect_exit 65 "fleet ack of a host with nothing recorded" $UPGR fleet ack $N --repo $FTP --keys $K host-b

# A host with no pinned key cannot be checked: unverified, never ok.
rm "$K/host-c.pub"
expect_exit 1 "a host without a pinned key: exit 1" $S
expect_grep "$T/out" "^host-c +hello +1\.1\.0 +success +unverified .*no device key pinned" "... host-c is unverified"
