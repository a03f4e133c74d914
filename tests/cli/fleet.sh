#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# upgr fleet status and fleet verify: the management console, against a
# real vsftpd holding the reports of real agents (`upgr run` against a
# repository made with `upgr publish`): hosts that are current, one rolled
# back by a failing health check, one stale, one with a tampered audit log,
# one with a hostile report (markup in its error) and one unreadable. The
# JSON is asserted exactly; the HTML page is opened in headless Chromium,
# its DOM checked after its script ran, and a screenshot kept in
# build/test-artifacts/fleet.png.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/fakesvc.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"
. "$UPGR_TOP/tests/lib/agentconf.sh"

# --- usage (no server needed) -------------------------------------------
expect_exit 0 "fleet --help exits 0" $UPGR fleet --help
expect_grep "$T/out" "upgr fleet status --repo URL" "--help shows fleet status"
expect_grep "$T/out" "upgr fleet verify --repo URL" "--help shows fleet verify"
expect_exit 2 "fleet without a command is a usage error" $UPGR fleet
expect_exit 2 "an unknown fleet command is a usage error" $UPGR fleet frobnicate
expect_exit 2 "status needs --repo" $UPGR fleet status
expect_exit 2 "--json and --html exclude each other" \
	$UPGR fleet status --repo file:///nonexistent --json --html "$T/x.html"
expect_exit 2 "--stale must be minutes" $UPGR fleet status --repo file:///x --stale 5h
expect_exit 2 "verify needs --repo" $UPGR fleet verify --keys "$T/k"
expect_exit 2 "a password in --repo is refused" $UPGR fleet status --repo ftp://u:secret@127.0.0.1:1/r
expect_grep "$T/err" "netrc" "... pointing to netrc"
expect_no_grep "$T/err" "secret" "... without echoing the password"
expect_exit 2 "... by fleet verify too" $UPGR fleet verify --keys "$T/k" --repo ftp://u:secret@127.0.0.1:1/r

if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP fleet tests: $(cat "$T/why")"
	exit 0
fi
ftpd_start 1 || { not_ok "vsftpd server starts"; exit 1; }
FTP=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
SRV=$FTPD_ROOT_1/repo
RPT=$SRV/reports

# --- the repository and the agents ---------------------------------------
keys "$T/rel"
publish() {
	svc_src "$1" "$T/src-$1"
	"$UPGR" publish $N --key "$T/rel.key" --repo "$FTP" --from "$T/src-$1" \
		"$T/src-$1/manifest.yaml" >"$T/pub.out" 2>&1 ||
		{ not_ok "publish $1"; sed 's/^/#   /' "$T/pub.out"; exit 1; }
}

agent() {     # NAME
	agent_yaml "$1" "trusted_keys: [$T/rel.pub]" "$FTP"
}

HOSTS="a b rb st tp"
publish 1.0.0
for h in $HOSTS; do
	agent "$h"
	"$UPGR" run -c "$T/$h.yaml" >/dev/null 2>&1 || not_ok "host-$h installs 1.0.0"
done
publish 1.1.0
touch "$T/svc/unhealthy-1.1.0"
expect_exit 1 "host-rb's upgrade fails its health check and rolls back" \
	"$UPGR" run -c "$T/rb.yaml"
rm -f "$T/svc/unhealthy-1.1.0"
for h in a b st tp; do
	"$UPGR" run -c "$T/$h.yaml" >/dev/null 2>&1 || not_ok "host-$h upgrades to 1.1.0"
done
for h in $HOSTS; do
	[ -s "$RPT/host-$h/status.yaml" ] || not_ok "host-$h reported"
done

# host-st went quiet five hours ago: its status is edited (without --keys
# the console cannot tell; with --keys its signature no longer holds).
OLD=$(date -u -d '-5 hours' +%Y-%m-%dT%H:%M:%S.000Z)
sed -i "s/^time: \".*\"$/time: \"$OLD\"/" "$RPT/host-st/status.yaml"
# host-tp's uploaded log loses a byte to an editor.
cp "$RPT/host-tp/audit.log" "$T/tp-audit.good"
sed -i '0,/result: "success"/s//result: "succes5"/' "$RPT/host-tp/audit.log"
cmp -s "$RPT/host-tp/audit.log" "$T/tp-audit.good" && not_ok "host-tp's log was edited"
# host-evil is not an agent: its report carries markup in every place it can.
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
mkdir -p "$RPT/host-evil" "$RPT/host-bad"
cat >"$RPT/host-evil/status.yaml" <<EOF
upgr: 1
host: "host-evil"
time: "$NOW"
apps:
  - app: "hello"
    version: "1.0.0"
    result: "failed"
    time: "$NOW"
    action: "upgrade"
    from: "1.0.0"
    to: "1.1.0"
    error: "<script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror=\"document.body.setAttribute('data-pwned','2')\"> & \"quotes\""
EOF
printf 'upgr: 1\nhost: [not, a, string]\ntime: "%s"\napps: []\n' "$NOW" >"$RPT/host-bad/status.yaml"
chown -R "$FTPD_USER:" "$SRV"

# --- fleet status: text --------------------------------------------------
S="$UPGR fleet status $N --repo $FTP"
expect_exit 1 "fleet status exits 1 when some hosts have problems" $S
cp "$T/out" "$T/text"
awk 'NR > 1 && NF { print $1 } /^$/ { exit }' "$T/text" >"$T/order"
printf '%s\n' host-bad host-evil host-rb host-st host-a host-b host-tp >"$T/order.want"
expect_same "$T/order" "$T/order.want" "the table lists problems first (unreadable, failed, rolled back, stale), then the rest by name"
expect_grep "$T/text" "^HOST +APP +VERSION +RESULT +STATE +REPORTED +ERROR$" "the table has a header"
expect_grep "$T/text" "^host-rb +hello +1\.0\.0 +rolled-back +rolled-back .*health" "host-rb: rolled back, runs 1.0.0, with the health error"
expect_grep "$T/text" "^host-st +hello +1\.1\.0 +success +stale +$OLD" "host-st is stale, with its last report time"
expect_grep "$T/text" "^host-a +hello +1\.1\.0 +success +ok" "host-a is ok"
expect_grep "$T/text" "^host-bad .*unreadable .*status\.yaml:2:7: host: expected a string" "an invalid report is a row with a positioned error"
expect_grep "$T/text" "^7 hosts, 4 with problems" "the summary counts hosts and problems"
expect_grep "$T/text" "^hello: latest 1\.1\.0 \(channel stable\); 1\.0\.0: 2, 1\.1\.0: 4$|^hello: latest 1\.1\.0 \(channel stable\); 1\.1\.0: 4, 1\.0\.0: 2$" "hosts per version, the channel's version as latest"
expect_grep "$T/text" "^results: unreadable 1, failed 1, rolled-back 1, success 4$" "hosts per result"
expect_grep "$T/text" "^stale: host-st$" "the stale hosts"
L0=$(ftpd_logins 1)
expect_exit 1 "--app hello gives the same verdict" $S --app hello
[ $(($(ftpd_logins 1) - L0)) -le 5 ] && ok "fleet status lists and reads every report over at most 5 FTP logins (4 in parallel, 1 for the listing)" ||
	not_ok "fleet status logged in $(($(ftpd_logins 1) - L0)) times"
expect_exit 1 "--app of an app nobody runs: exit 1" $S --app nothing
expect_no_grep "$T/out" "^host-[a-z]+ +hello" "... and no row of another app"
mkdir -p "$T/empty/reports"
expect_exit 1 "a repository without reports: exit 1" $UPGR fleet status --repo "file://$T/empty"
expect_grep "$T/out" "no host has reported" "... and says so"
expect_exit 1 "--stale 600 forgives host-st but not the others" $S --stale 600
expect_grep "$T/out" "^host-st +hello +1\.1\.0 +success +ok" "... host-st is ok within 600 minutes"

# A repository whose every host is current and healthy exits 0 (file://).
mkdir -p "$T/clean"
cp -R "$SRV/." "$T/clean/"
rm -rf "$T/clean/reports/host-rb" "$T/clean/reports/host-st" \
	"$T/clean/reports/host-evil" "$T/clean/reports/host-bad"
expect_exit 0 "all hosts current and healthy: exit 0 (file://)" \
	$UPGR fleet status --repo "file://$T/clean"
expect_grep "$T/out" "^3 hosts, 0 with problems" "... three hosts, no problems"
# An HTTP server cannot list: --hosts FILE names the hosts.
HTTP_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$T/clean" "$HTTP_PORT" >"$T/httpd.log" 2>&1 &
HTTPD=$!
stop_httpd() { kill "$HTTPD" 2>/dev/null; wait "$HTTPD" 2>/dev/null; }
at_exit stop_httpd
n=0
until curl -sf "http://127.0.0.1:$HTTP_PORT/" >/dev/null 2>&1 || [ $n -ge 100 ]; do
	sleep 0.1; n=$((n + 1))
done
printf '# the fleet\nhost-a\n\n  host-b  \nhost-tp\n' >"$T/hosts"
expect_exit 2 "http:// without --hosts is a usage error" \
	$UPGR fleet status --repo "http://127.0.0.1:$HTTP_PORT"
expect_grep "$T/err" "--hosts FILE" "... that points to --hosts"
expect_exit 0 "http:// with --hosts: every host current and healthy" \
	$UPGR fleet status --repo "http://127.0.0.1:$HTTP_PORT" --hosts "$T/hosts"
expect_grep "$T/out" "^3 hosts, 0 with problems" "... the three named hosts read over HTTP"
echo host-gone >>"$T/hosts"
expect_exit 1 "a named host without a report is a problem" \
	$UPGR fleet status --repo "http://127.0.0.1:$HTTP_PORT" --hosts "$T/hosts"
expect_grep "$T/out" "^host-gone +- +- +- +unreadable .*no status\.yaml" "... shown as unreadable: no status.yaml"
stop_httpd

# Without a channel file, the highest version reported is the latest.
rm -rf "$T/clean/apps"
cp -R "$RPT/host-rb" "$T/clean/reports/"
expect_exit 1 "without a channel file, a host below the highest version is a problem" \
	$UPGR fleet status --repo "file://$T/clean"
expect_grep "$T/out" "^hello: latest 1\.1\.0 \(highest reported\)" "... the highest reported is latest"
expect_exit 69 "a server that does not answer: exit 69" \
	$UPGR fleet status --repo "ftp://127.0.0.1:1/repo"

# --- fleet status --json: the exact shape ---------------------------------
expect_exit 1 "--json exits 1 too" $S --json
cp "$T/out" "$T/fleet.json"
check "--json is exactly the documented shape" /usr/bin/python3 - "$T/fleet.json" "$FTP" "$OLD" <<'EOF'
import json, re, sys
doc = json.load(open(sys.argv[1]))
ftp, old = sys.argv[2], sys.argv[3]
t = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
assert t.match(doc.pop("generated")), "generated"
for h in doc["hosts"]:
    for k in ("time", "reported"):
        if h[k]:
            assert t.match(h[k]), (h["host"], k, h[k])
            if h["host"] == "host-st" and k == "reported":
                assert h[k] == old, h[k]
            h[k] = "T"
rb_error = next(h["error"] for h in doc["hosts"] if h["host"] == "host-rb")
assert "health" in rb_error, rb_error
evil = ("<script>document.body.setAttribute('data-pwned','1')</script><img src=x "
        "onerror=\"document.body.setAttribute('data-pwned','2')\"> & \"quotes\"")
def row(host, version, result, action, frm, to, error, stale, current, problem, t="T"):
    return {"host": host, "app": "hello", "version": version, "result": result,
            "action": action, "from": frm, "to": to, "time": t, "reported": "T",
            "error": error, "stale": stale, "current": current, "state": "",
            "waiting": "", "problem": problem}
want = {
    "repo": ftp, "channel": "stable", "stale_minutes": 120, "verified": False,
    "hosts": [
        {"host": "host-bad", "app": "", "version": "", "result": "", "action": "",
         "from": "", "to": "", "time": "", "reported": "",
         "error": "status.yaml:2:7: host: expected a string, got a sequence",
         "stale": False, "current": False, "state": "", "waiting": "",
         "problem": "unreadable"},
        row("host-evil", "1.0.0", "failed", "upgrade", "1.0.0", "1.1.0", evil,
            False, False, "failed"),
        row("host-rb", "1.0.0", "rolled-back", "upgrade", "1.0.0", "1.1.0", rb_error,
            False, False, "rolled-back"),
        row("host-st", "1.1.0", "success", "upgrade", "1.0.0", "1.1.0", "",
            True, True, "stale"),
        row("host-a", "1.1.0", "success", "upgrade", "1.0.0", "1.1.0", "",
            False, True, "ok"),
        row("host-b", "1.1.0", "success", "upgrade", "1.0.0", "1.1.0", "",
            False, True, "ok"),
        row("host-tp", "1.1.0", "success", "upgrade", "1.0.0", "1.1.0", "",
            False, True, "ok"),
    ],
    "summary": {
        "hosts": 7,
        "latest": {"hello": "1.1.0"},
        "approval": {},
        "versions": {"hello": {"1.0.0": 2, "1.1.0": 4}},
        "results": {"unreadable": 1, "failed": 1, "rolled-back": 1, "success": 4},
        "stale": ["host-st"],
        "warnings": [],
        "groups": [
            {"problem": "unreadable", "is_problem": True, "app": "",
             "cause": "status.yaml:2:7: host: expected a string, got a sequence", "hosts": 1},
            {"problem": "failed", "is_problem": True, "app": "hello", "cause": evil, "hosts": 1},
            {"problem": "rolled-back", "is_problem": True, "app": "hello", "cause": rb_error,
             "hosts": 1},
            {"problem": "stale", "is_problem": True, "app": "hello",
             "cause": "no report for more than 120 min", "hosts": 1},
            {"problem": "ok", "is_problem": False, "app": "hello",
             "cause": "current and healthy", "hosts": 3},
        ],
        "problems": 4,
    },
}
if doc != want:
    for k in want:
        if doc.get(k) != want[k]:
            print("differs at", k)
            print(" got ", json.dumps(doc.get(k), indent=1)[:3000])
            print(" want", json.dumps(want[k], indent=1)[:3000])
    sys.exit(1)
assert list(doc) == ["repo", "channel", "stale_minutes", "verified", "hosts", "summary"], list(doc)
EOF

# --- fleet verify ---------------------------------------------------------
K=$T/keys
V="$UPGR fleet verify $N --repo $FTP --keys $K"
expect_exit 1 "fleet verify exits 1 when a log is tampered with" $V
cp "$T/out" "$T/verify1"
expect_grep "$T/verify1" "^host-a: ok \([0-9]+ records, key pinned now\)$" "host-a's log verifies and its key is pinned"
expect_grep "$T/verify1" "^host-rb: ok " "host-rb's log verifies"
expect_grep "$T/verify1" "^host-tp: tampered: " "host-tp's edited log is tampered"
expect_grep "$T/verify1" "^host-evil: missing: " "a host without device.pub is missing"
[ "$(stat -c %a "$K")" = 700 ] && ok "the keys directory is 0700" || not_ok "keys dir $(stat -c %a "$K")"
[ "$(stat -c %a "$K/host-a.pub")" = 644 ] && ok "a pinned key is 0644" || not_ok "pin mode $(stat -c %a "$K/host-a.pub" 2>&1)"
expect_same "$K/host-a.pub" "$T/a-device.pub" "the pinned key is host-a's device key"
[ ! -e "$K/host-tp.pub" ] && ok "a key is not pinned from a tampered log" || not_ok "host-tp pinned"
expect_grep "$K/seen" "^host-a [0-9]+ [0-9a-f]{64}$" "the seq and head seen are kept"

# fleet status --keys DIR shows what the last verify found.
expect_exit 1 "fleet status --keys marks the tampered host" $S --keys "$K"
expect_grep "$T/out" "^host-tp +hello +1\.1\.0 +success +tampered .*audit log tampered: " "host-tp is tampered, with the verdict as its error"
awk 'NR > 1 && NF { print $1 } /^$/ { exit }' "$T/out" >"$T/order"
printf '%s\n' host-bad host-st host-tp host-evil host-rb host-a host-b >"$T/order.want"
expect_same "$T/order" "$T/order.want" "tampered hosts sort right after the unreadable, then the unverified"
expect_grep "$T/out" "^host-st +hello +1\.1\.0 +success +tampered .*status\.yaml tampered: status\.yaml\.minisig: " "host-st's edited status is tampered: its signature fails"
expect_grep "$T/out" "^host-evil +hello .*unverified .*no device key pinned" "host-evil, with no pinned key, is unverified"
expect_no_grep "$T/out" "^reports unverified" "with --keys the view does not say it is unverified"
expect_exit 1 "without --keys the view says plainly it is unverified" $S
expect_grep "$T/out" "^reports unverified: .*--keys DIR" "... in its last line"

# --- fleet status --html --------------------------------------------------
mkdir -p "$T/www"
expect_exit 1 "--html writes the page and exits 1" $S --keys "$K" --html "$T/www/fleet.html"
[ ! -s "$T/out" ] && ok "--html prints nothing on stdout" || not_ok "--html printed $(head -3 "$T/out")"
[ "$(stat -c %a "$T/www/fleet.html")" = 644 ] && ok "the page is 0644" ||
	not_ok "page mode $(stat -c %a "$T/www/fleet.html")"
[ -z "$(find "$T/www" -name '.*')" ] && ok "no temporary file is left beside the page" ||
	not_ok "left: $(find "$T/www" -name '.*')"
expect_no_grep "$T/www/fleet.html" "<script>document|<img src=x" "the hostile error is escaped in the page"
expect_grep "$T/www/fleet.html" '<td data-v="[0-9]+"><span class="badge k-unverified">unverified</span>' "an unverified row has its own badge"
expect_exit 1 "--html without --keys" $S --html "$T/www/unverified.html"
expect_grep "$T/www/unverified.html" '<div class="trust" id="trust">Reports unverified' "... says on the page that the reports are unverified"
expect_grep "$T/www/fleet.html" "&lt;script&gt;document.body" "... shown as text"
expect_no_grep "$T/www/fleet.html" "(src|href)=\"(https?:)?//|@import|url\(" "the page loads nothing from anywhere"
[ "$(grep -o '<script' "$T/www/fleet.html" | wc -l)" = 1 ] && ok "the page has exactly one script, its own" ||
	not_ok "scripts: $(grep -o '<script' "$T/www/fleet.html" | wc -l)"

if ! command -v chromium >/dev/null 2>&1; then
	not_ok "chromium is not installed (make deps): the HTML page is not checked in a browser"
else
	ART=$UPGR_TOP/build/test-artifacts
	mkdir -p "$ART"
	browse() {
		_p=$(mktemp -d "$T/chromium.XXXXXX")
		timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic \
			--no-first-run --disable-background-networking --disable-component-update \
			--disable-sync --user-data-dir="$_p" "$@" 2>"$T/chromium.err"
	}
	browse --dump-dom "file://$T/www/fleet.html" >"$T/dom.html"
	check "chromium dumps the page's DOM" test -s "$T/dom.html"
	expect_grep "$T/dom.html" '<body data-ready="1"' "the page's script ran (body data-ready)"
	expect_no_grep "$T/dom.html" "<body[^>]*data-pwned" "the hostile report's script did not run"
	expect_no_grep "$T/dom.html" "<img|<script>document" "... and its markup is no element in the DOM"
	expect_grep "$T/dom.html" "&lt;script&gt;document.body.setAttribute\\('data-pwned','1'\\)&lt;/script&gt;&lt;img src=x" "... but text, shown as it is"
	expect_grep "$T/dom.html" '<table id="hosts" data-sort="state:asc">' "the script sorted the table by state"
	for h in a b st tp rb evil bad; do
		expect_grep "$T/dom.html" "<tr data-problem=\"[a-z-]+\" data-host=\"host-$h\"" "the table has a row for host-$h"
	done
	for want in "bad unreadable" "evil unverified" "rb rolled-back" "st tampered" "a ok" "b ok" "tp tampered"; do
		set -- $want
		expect_grep "$T/dom.html" "<tr data-problem=\"$2\" data-host=\"host-$1\"" "host-$1 is shown as $2"
	done
	check "the rows are in problems-first order in the DOM" /usr/bin/python3 - "$T/dom.html" <<'EOF'
import re, sys
rows = re.findall(r'<tr data-problem="([a-z-]+)" data-host="([^"]+)"', open(sys.argv[1]).read())
assert [h for _, h in rows] == ["host-bad", "host-st", "host-tp", "host-evil",
                                "host-rb", "host-a", "host-b"], rows
EOF
	expect_grep "$T/dom.html" '<g data-version="1.1.0">' "the chart has a bar for 1.1.0"
	expect_grep "$T/dom.html" '<g data-version="1.0.0">' "... and for 1.0.0"
	expect_grep "$T/dom.html" 'data-card="rolled-back"><div class="n">1<' "a card counts the rolled-back hosts"
	expect_grep "$T/dom.html" 'id="shown">7 of 7 rows<' "the filter shows all rows at first"
	expect_grep "$T/dom.html" "<li class=\"p-rolled-back\" data-state=\"rolled-back\" data-hosts=\"1\">.*<summary>host-rb</summary>" "host-rb is in the problems section, grouped by its cause"
	expect_grep "$T/dom.html" '<rect data-state="tampered" [^>]*><title>tampered: 2</title>' "the health bar has a tampered segment of two"
	expect_grep "$T/dom.html" '<rect data-state="ok" [^>]*><title>ok: 2</title>' "... and an ok segment of two"
	# The address can carry a sort and a filter (links to share).
	browse --dump-dom "file://$T/www/fleet.html#sort=version:desc&q=host-r" >"$T/dom2.html"
	expect_grep "$T/dom2.html" '<table id="hosts" data-sort="version:desc">' "#sort=version:desc sorts by version, newest first"
	expect_grep "$T/dom2.html" 'id="shown">1 of 7 rows<' "#q=host-r filters the table to one row"
	check "... host-rb, shown; the others hidden; 1.1.0 before 1.0.0" /usr/bin/python3 - "$T/dom2.html" <<'EOF'
import re, sys
rows = re.findall(r'<tr data-problem="[a-z-]+" data-host="([^"]+)"( hidden="")?>.*?</td><td[^>]*>[^<]*</td><td>[^<]*</td><td>([^<]*)</td>', open(sys.argv[1]).read())
shown = [h for h, hid, _ in rows if not hid]
assert shown == ["host-rb"], rows
versions = [v for _, _, v in rows if v]
assert versions == sorted(versions, reverse=True), versions
EOF
	expect_grep "$T/dom.html" 'data-card="tampered"><div class="n">2<' "a card counts the tampered hosts"
	expect_no_grep "$T/dom.html" 'id="trust"' "with --keys the page has no unverified notice"
	expect_grep "$T/dom.html" 'data-card="unverified"><div class="n">1<' "a card counts the unverified hosts"
	rm -f "$ART/fleet.png"
	(cd "$T" && browse --screenshot="$ART/fleet.png" --window-size=1280,900 \
		"file://$T/www/fleet.html" >/dev/null)
	[ -s "$ART/fleet.png" ] && ok "a screenshot is written to build/test-artifacts/fleet.png" ||
		{ not_ok "no screenshot"; sed 's/^/#   /' "$T/chromium.err" | tail -5; }
fi

# Repaired, and the rest unchanged: everyone but the fake hosts is ok.
cp "$T/tp-audit.good" "$RPT/host-tp/audit.log"
rm -rf "$RPT/host-evil" "$RPT/host-bad"
L0=$(ftpd_logins 1)
expect_exit 0 "all logs intact: fleet verify exits 0" $V
[ $(($(ftpd_logins 1) - L0)) = 1 ] && ok "fleet verify fetches every host's files over one FTP login" ||
	not_ok "fleet verify logged in $(($(ftpd_logins 1) - L0)) times"
expect_grep "$T/out" "^host-tp: ok \([0-9]+ records, key pinned now\)$" "host-tp verifies once repaired"
expect_grep "$T/out" "^host-a: ok \([0-9]+ records\)$" "host-a verifies against its pinned key"

# A replaced device key (and a log it signed) is flagged.
"$UPGR" keygen -W "$T/intruder" >/dev/null 2>&1
cp "$RPT/host-b/device.pub" "$T/b-device.server"
cp "$T/intruder.pub" "$RPT/host-b/device.pub"
expect_exit 1 "a replaced device.pub: exit 1" $V
expect_grep "$T/out" "^host-b: KEY CHANGED" "... host-b's key changed"
expect_grep "$T/out" "^host-a: ok" "... the others are still ok"
cp "$T/b-device.server" "$RPT/host-b/device.pub"

# host-a's log is cut to its first record and signed again with the device
# key: intact on its own, but shorter than what the last verify saw.
python3 - "$RPT/host-a/audit.log" "$T/a-cut.log" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
i = d.index(b"\n---\n") + 1
open(sys.argv[2], "wb").write(d[:i])
EOF
"$UPGR" audit verify -p "$T/a-device.pub" "$T/a-cut.log" >"$T/cut.out" 2>&1
expect_grep "$T/cut.out" "1 records, head [0-9a-f]{64}, intact" "the cut log is intact on its own"
HEAD=$(sed -n 's/.*head \([0-9a-f]*\), intact/\1/p' "$T/cut.out")
printf '' | minisign -S -s "$T/a-device.key" -m "$T/a-cut.log" \
	-t "upgr audit checkpoint seq:1 head:$HEAD" >/dev/null 2>&1 || not_ok "minisign -S the cut log"
cp "$T/a-cut.log" "$RPT/host-a/audit.log"
cp "$T/a-cut.log.minisig" "$RPT/host-a/audit.log.minisig"
expect_exit 1 "a log cut since the last verify: exit 1" $V
expect_grep "$T/out" "^host-a: tampered: log cut: 1 records, [0-9]+ were seen before" "... host-a's log was cut"
expect_grep "$K/seen" "^host-a [2-9][0-9]* " "the longer history seen is kept, not replaced by the cut log"

# host-a starts a new log from scratch (its state and log wiped, the same
# device key): as long as the old one, then longer, it is not the history
# seen before.
rm -rf "$T/a-state" "$T/root-a" "$T/a-audit.log"
mkdir -p "$T/root-a"
"$UPGR" run -c "$T/a.yaml" >/dev/null 2>&1 || not_ok "host-a installs 1.1.0 again"
publish 1.2.0
"$UPGR" run -c "$T/a.yaml" >/dev/null 2>&1 || not_ok "host-a upgrades to 1.2.0"
expect_exit 1 "a log rewritten to the same length: exit 1" $V
expect_grep "$T/out" "^host-a: tampered: log rewritten: record 2 is not the one seen before" "... host-a's log was rewritten"
publish 1.3.0
"$UPGR" run -c "$T/a.yaml" >/dev/null 2>&1 || not_ok "host-a upgrades to 1.3.0"
expect_exit 1 "a rewritten log that grew: exit 1" $V
expect_grep "$T/out" "^host-a: tampered: log rewritten: it does not extend record 2 seen before" "... still caught when it is longer"
expect_grep "$T/out" "^host-b: ok " "... host-b is still ok"

# A log seen before that disappears from the server is not "missing".
mv "$RPT/host-b/audit.log" "$T/b-audit.server"
expect_exit 1 "a log removed from the server: exit 1" $V
expect_grep "$T/out" "^host-b: tampered: log removed: [0-9]+ records were seen before" "... host-b's log was removed"
