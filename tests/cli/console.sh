#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The console's states, groups, page and scale (issue 16, points 5 and 6),
# against reports on a real vsftpd and on file:// trees made by
# tests/lib/fleetgen.py: held hosts are no problem, waiting and staged
# hosts say why, a rolled-back host stays so until a later success (or a
# channel taken back after the failure), problems are grouped by cause,
# --problems shows only them, --refresh reloads the page; the page is read
# in headless Chromium at 3 and at 10,000 hosts (DOM asserted, screenshots
# in build/test-logs/); the cache fetches only what changed (RETR lines in
# the vsftpd log) and refuses a directory others can write; the work grows
# as n log n (comparisons counted, not time).
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"

GEN="python3 $UPGR_TOP/tests/lib/fleetgen.py"
ART=$UPGR_TOP/build/test-logs
mkdir -p "$ART"
export XDG_CACHE_HOME="$T/cache"

expect_exit 2 "--refresh needs --html" $UPGR fleet status --repo file:///x --refresh 30
expect_exit 2 "--refresh must be seconds" $UPGR fleet status --repo file:///x --html "$T/x.html" --refresh 5m
expect_exit 2 "--problems and --json exclude each other" $UPGR fleet status --repo file:///x --problems --json
expect_exit 2 "fleet ack needs a host" $UPGR fleet ack --repo file:///x
expect_exit 2 "--jobs is 1 to 32" $UPGR fleet status --repo file:///x --jobs 0

if ! ftpd_can_run 2>"$T/why"; then
	not_ok "vsftpd cannot run here: $(cat "$T/why") (make deps)"
	exit 1
fi
ftpd_start 1 || { not_ok "vsftpd server starts"; exit 1; }
FTP=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
SRV=$FTPD_ROOT_1/repo
RPT=$SRV/reports
NOW=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
LATER=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%S.000Z)

# report HOST VERSION RESULT [ERROR [STATE WAITING [TIME]]]
report() {
	mkdir -p "$RPT/$1"
	{
		printf 'upgr: 1\nhost: "%s"\ntime: "%s"\napps:\n' "$1" "${7:-$NOW}"
		printf '  - app: "hello"\n    version: "%s"\n    result: "%s"\n' "$2" "$3"
		printf '    time: "%s"\n    action: "upgrade"\n    from: "1.0.0"\n' "${7:-$NOW}"
		printf '    to: "1.1.0"\n    error: "%s"\n' "${4:-}"
		[ -z "${5:-}" ] || printf '    state: "%s"\n    waiting: "%s"\n' "$5" "$6"
	} >"$RPT/$1/status.yaml"
}
# channel VERSION PUBLISHED [ROLLOUT]
channel() {
	mkdir -p "$SRV/apps/hello/channels"
	printf 'upgr: 1\napp: hello\nchannel: stable\nserial: %s\nversion: %s\n' "$(date +%s%N)" "$1" \
		>"$SRV/apps/hello/channels/stable.yaml"
	printf 'manifest: releases/%s/manifest.yaml\nmanifest_sha256: %s\n' "$1" \
		"abababababababababababababababababababababababababababababababab" \
		>>"$SRV/apps/hello/channels/stable.yaml"
	printf 'published: %s\nexpires: 2099-01-01T00:00:00Z\nrollout: %s\n' "$2" "${3:-100}" \
		>>"$SRV/apps/hello/channels/stable.yaml"
}
S="$UPGR fleet status $N --repo $FTP"

# Host names the 50% rollout of 1.1.0 includes (IN) and leaves out (OUT),
# by the agent's hash (sha256 of "HOST/VERSION", first 4 bytes, mod 100).
python3 - >"$T/names" <<'EOF'
import hashlib
inc, out = [], []
for i in range(1, 400):
    h = "web-%03d" % i
    d = hashlib.sha256(("%s/1.1.0" % h).encode()).digest()
    (inc if int.from_bytes(d[:4], "big") % 100 < 50 else out).append(h)
print(" ".join(inc[:40]))
print(" ".join(out[:3]))
EOF
IN=$(sed -n 1p "$T/names")
OUT=$(sed -n 2p "$T/names")
set -- $IN
OK1=$1 OK2=$2 OUTD=$3 RB=$4 WAIT=$5 STG=$6 FAIL=$7 STALE=$8
shift 8
HEALTH="$*"                         # 32 hosts whose health check fails
HELD=$(echo "$OUT" | cut -d' ' -f1)

# --- the states ------------------------------------------------------------
channel 1.1.0 2026-11-01T00:00:00Z 50
report "$OK1" 1.1.0 success
report "$OK2" 1.1.0 success
report "$HELD" 1.0.0 success
report "$OUTD" 1.0.0 success
report "$RB" 1.0.0 rolled-back "health 'bin/hello-ctl status' exited 1"
report "$WAIT" 1.0.0 success "" waiting "window Sat,Sun 01:00-05:00 Europe/Paris"
report "$STG" 1.0.0 success "" staged "group web: lease held by web-900"
report "$FAIL" 1.0.0 failed "rollback: start 'bin/hello-ctl start' exited 2"
report "$STALE" 1.1.0 success "" "" "" 2026-11-20T00:00:00.000Z
n=0
for h in $HEALTH; do
	n=$((n + 1))
	[ "$n" -le 26 ] && report "$h" 1.0.0 rolled-back "health 'bin/x status' exited 1" ||
		report "$h" 1.0.0 rolled-back "health 'bin/x status' timed out after 10 s"
done
chown -R "$FTPD_USER:" "$SRV"

expect_exit 1 "fleet status over the mixed fleet: exit 1" $S
cp "$T/out" "$T/all.txt"
state_is() {  # HOST STATE
	expect_grep "$T/all.txt" "^$1 +hello +[^ ]+ +[^ ]+ +$2 " "$1 is $2"
}
state_is "$OK1" ok
state_is "$HELD" held
state_is "$OUTD" outdated
state_is "$RB" rolled-back
state_is "$WAIT" waiting
state_is "$STG" staged
state_is "$FAIL" failed
state_is "$STALE" stale
expect_grep "$T/all.txt" "^held +hello +outside the rollout: 1 host: $HELD$" "the held host is grouped as outside the rollout"
expect_grep "$T/all.txt" "^waiting +hello +window Sat,Sun 01:00-05:00 Europe/Paris: 1 host: $WAIT$" "the waiting host says why"
expect_grep "$T/all.txt" "^staged +hello +staged: group web: lease held by web-900: 1 host: $STG$" "the staged host says why"
expect_grep "$T/all.txt" "^rolled-back +hello +health 'bin/x status' exited 1: 26 hosts: " "26 hosts with one failing health check are one group"
expect_grep "$T/all.txt" "^rolled-back +hello +health 'bin/x status' timed out after 10 s: 6 hosts: " "... the 6 that timed out another"
expect_grep "$T/all.txt" "\(\+21 more\)" "... naming five hosts and how many more"
expect_grep "$T/all.txt" "^41 hosts, 36 with problems" "held, waiting and staged are not counted as problems"

expect_exit 1 "--problems exits 1" $S --problems
cp "$T/out" "$T/problems.txt"
expect_grep "$T/problems.txt" "^rolled-back +hello +health 'bin/x status' exited 1: 26 hosts" "--problems shows the group of 26"
expect_grep "$T/problems.txt" "^failed +hello +rollback: start" "--problems shows the failed host's cause"
expect_grep "$T/problems.txt" "^outdated +hello +runs 1\.0\.0: 1 host: $OUTD$" "--problems shows the outdated host (inside the rollout)"
expect_no_grep "$T/problems.txt" "held|waiting|staged|^ok|$HELD|$OK1" "--problems shows no held, waiting, staged or ok host"
[ "$(wc -l <"$T/problems.txt")" = 7 ] && ok "--problems: six groups and the count line" ||
	not_ok "--problems printed $(wc -l <"$T/problems.txt") lines"

expect_exit 1 "--json" $S --json
check "--json: the states of the rows and the groups" python3 - "$T/out" "$HELD" "$WAIT" "$STG" "$RB" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = {h["host"]: h["problem"] for h in d["hosts"]}
assert p[sys.argv[2]] == "held" and p[sys.argv[3]] == "waiting" and p[sys.argv[4]] == "staged", p
assert p[sys.argv[5]] == "rolled-back", p
w = [h for h in d["hosts"] if h["host"] == sys.argv[3]][0]
assert w["state"] == "waiting" and w["waiting"].startswith("window Sat,Sun"), w
g = {(x["problem"], x["cause"]): x for x in d["summary"]["groups"]}
assert g[("rolled-back", "health 'bin/x status' exited 1")]["hosts"] == 26, g
assert g[("held", "outside the rollout")]["is_problem"] is False
assert d["summary"]["problems"] == 36, d["summary"]["problems"]
EOF

# Only held, waiting, staged and ok: no problem, exit 0.
mkdir -p "$T/aside"
for h in "$OUTD" "$RB" "$FAIL" "$STALE" $HEALTH; do mv "$RPT/$h" "$T/aside/"; done
expect_exit 0 "held, waiting and staged hosts only: exit 0" $S --problems
expect_grep "$T/out" "^5 hosts, 0 with problems" "... with no problem"

# A rolled-back host: a problem until a later success clears it.
mv "$T/aside/$RB" "$RPT/"
expect_exit 1 "rolled back: exit 1" $S --problems
expect_grep "$T/out" "^rolled-back +hello +health 'bin/hello-ctl status' exited 1: 1 host: $RB$" "... $RB is rolled-back"
report "$RB" 1.1.0 success "" "" "" "$LATER"
chown -R "$FTPD_USER:" "$RPT/$RB"
expect_exit 0 "a later success clears it: exit 0" $S
expect_grep "$T/out" "^$RB +hello +1\.1\.0 +success +ok " "... $RB is ok"
# ... and a channel taken back to the version it runs, after the failure.
report "$RB" 1.0.0 rolled-back "health 'bin/hello-ctl status' exited 1"
chown -R "$FTPD_USER:" "$RPT/$RB"
channel 1.0.0 2026-11-01T00:00:00Z
expect_exit 1 "rolled back, the channel back at 1.0.0 since before the failure: still a problem" $S
expect_grep "$T/out" "^$RB +hello +1\.0\.0 +rolled-back +rolled-back " "... rolled-back"
channel 1.0.0 "$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)"
run $S
expect_grep "$T/out" "^$RB +hello +1\.0\.0 +rolled-back +ok " "a channel taken back to 1.0.0 after the failure makes it current and ok"
rm -rf "$RPT/$RB"
channel 1.1.0 2026-11-01T00:00:00Z 50

# --- the page at 3 hosts, in Chromium ---------------------------------------
browse() {
	_p=$(mktemp -d "$T/chromium.XXXXXX")
	chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$_p" "$@" 2>"$T/chromium.err"
}
mv "$RPT/$WAIT" "$RPT/$STG" "$RPT/$OK2" "$T/aside/"
for h in $(ls "$RPT"); do [ "$h" = "$OK1" ] || [ "$h" = "$HELD" ] || mv "$RPT/$h" "$T/aside/"; done
mv "$T/aside/$FAIL" "$RPT/"
mkdir -p "$SRV/apps/hello/rollout"
cat >"$SRV/apps/hello/rollout/stable.yaml" <<EOF
upgr: 1
type: rollout
app: hello
channel: stable
version: "1.1.0"
from: "1.0.0"
waves: [1, 10, 50, 100]
wave: 3
soak: 1800
max_failed: 2
state: paused
started: 2026-11-20T00:00:00Z
wave_started: 2026-11-30T00:00:00Z
reason: "wave 3: 1 of 3 hosts failed (33%, over 2%)"
EOF
chown -R "$FTPD_USER:" "$SRV"
expect_exit 1 "--html --refresh 60 over 3 hosts" $S --html "$T/three.html" --refresh 60
expect_grep "$T/three.html" '<meta http-equiv="refresh" content="60">' "--refresh 60: the page reloads itself"
$S --html "$T/norefresh.html" >/dev/null 2>&1
expect_no_grep "$T/norefresh.html" 'http-equiv="refresh"' "... and without --refresh it does not"
if ! command -v chromium >/dev/null 2>&1; then
	not_ok "chromium is not installed (make deps installs it): the page is not checked"
	exit 1
fi
browse --dump-dom "file://$T/three.html" >"$T/dom3.html"
check "chromium dumps the 3-host page's DOM" test -s "$T/dom3.html"
expect_grep "$T/dom3.html" '<body data-ready="1"' "the page's script ran"
expect_grep "$T/dom3.html" "<tr data-problem=\"held\" data-host=\"$HELD\">" "the table shows $HELD held"
expect_grep "$T/dom3.html" "<tr data-problem=\"failed\" data-host=\"$FAIL\">" "... $FAIL failed"
expect_grep "$T/dom3.html" "<tr data-problem=\"ok\" data-host=\"$OK1\">" "... $OK1 ok"
expect_grep "$T/dom3.html" '<ul class="problems" id="problems"><li class="p-failed" data-state="failed" data-hosts="1">' "the only problem group is the failed host"
expect_no_grep "$T/dom3.html" '<ul class="problems" id="problems">.*data-state="held".*</ul><h2>Not yet' "the held host is not among the problems"
expect_grep "$T/dom3.html" '<ul class="problems" id="pending"><li class="p-held" data-state="held" data-hosts="1">.*outside the rollout' "... but among the hosts not yet current"
expect_grep "$T/dom3.html" '<div class="rollout" data-app="hello" data-state="paused">' "the rollout is shown, paused"
expect_grep "$T/dom3.html" 'data-wave="3"><div class="pc">50%</div>wave 3 \(current\)' "... its third wave current at 50%"
expect_grep "$T/dom3.html" 'wave 3: 1 of 3 hosts failed' "... with the reason it paused"
expect_grep "$T/dom3.html" 'started 2026-11-20 00:00:00 UTC' "plan times are labelled UTC"
expect_grep "$T/dom3.html" 'generated <time id="generated" datetime="[^"]*">[0-9-]+ [0-9:]+ UTC</time>' "the generation time is labelled UTC"
expect_grep "$T/dom3.html" '<th data-key="reported" data-type="text"[^>]*>Reported \(UTC\)</th>' "the table's times are labelled UTC"
expect_grep "$T/dom3.html" 'data-card="held"><div class="n">1<' "a card counts the held host"
browse --screenshot="$ART/console-3.png" --window-size=1280,1300 "file://$T/three.html" >/dev/null
[ -s "$ART/console-3.png" ] && ok "screenshot build/test-logs/console-3.png" ||
	{ not_ok "no screenshot"; sed 's/^/#   /' "$T/chromium.err" | tail -5; }

# A plan that is not signed by the channel key given is not shown as one.
"$UPGR" keygen -W "$T/ch" >/dev/null 2>&1
expect_exit 1 "--channel-key: the unsigned plan" $S --channel-key "$T/ch.pub" --html "$T/signed.html"
expect_grep "$T/signed.html" '<div class="rollout" data-app="hello" data-state="error">.*signature: ' "... is shown as unreadable, with why"
expect_no_grep "$T/signed.html" 'data-wave=' "... and none of its waves"
# Signed by the key, but for no named file: not this plan's signature.
"$UPGR" sign -k "$T/ch.key" "$SRV/apps/hello/rollout/stable.yaml" >/dev/null 2>&1
chown -R "$FTPD_USER:" "$SRV"
expect_exit 1 "--channel-key: a plan signed for no named file" $S --channel-key "$T/ch.pub" --html "$T/signed.html"
expect_grep "$T/signed.html" 'data-state="error">.*signature: .*another file' "... is shown as unreadable, with why"
# Signed as the controller signs it: the trusted comment names the app
# and the file (a signature of another file is not this plan's).
"$UPGR" sign -k "$T/ch.key" -t "$(printf 'timestamp:0\tapp:hello\tfile:rollout/stable.yaml')" \
	"$SRV/apps/hello/rollout/stable.yaml" >/dev/null 2>&1
chown -R "$FTPD_USER:" "$SRV"
expect_exit 1 "--channel-key: the signed plan" $S --channel-key "$T/ch.pub" --html "$T/signed.html"
expect_grep "$T/signed.html" 'data-state="paused"><h3>hello .*<span class="badge k-ok">signed</span>' "... is shown as signed"

# --- the page at 10,000 hosts (file://) --------------------------------------
$GEN "$T/big" 10000 "$NOW" 3 >"$T/big.counts"
expect_exit 1 "--html over 10,000 hosts" $UPGR fleet status --repo "file://$T/big" --html "$T/big.html"
browse --dump-dom "file://$T/big.html" >"$T/dom10k.html"
check "chromium dumps the 10,000-host page's DOM" test -s "$T/dom10k.html"
expect_grep "$T/dom10k.html" '<body data-ready="1"' "the 10,000-host page's script ran"
check "the page's table has each state as many times as the fleet has" python3 - "$T/dom10k.html" "$T/big.counts" <<'EOF'
import re, sys
dom = open(sys.argv[1]).read()
want = dict(l.split() for l in open(sys.argv[2]))
got = {}
for s in re.findall(r'<tr data-problem="([a-z-]+)"', dom):
    got[s] = got.get(s, 0) + 1
assert got == {k: int(v) for k, v in want.items()}, (got, want)
EOF
check "... and its groups say how many hosts share each cause" python3 - "$T/dom10k.html" "$T/big.counts" <<'EOF'
import re, sys
dom = open(sys.argv[1]).read()
want = {k: int(v) for k, v in (l.split() for l in open(sys.argv[2]))}
groups = re.findall(r'<li class="p-[a-z-]+" data-state="([a-z-]+)" data-hosts="(\d+)">', dom)
got = {s: int(n) for s, n in groups}
del want["ok"]
assert got == want, (got, want)
assert len(groups) == len(want), groups
EOF
browse --screenshot="$ART/console-10000.png" --window-size=1280,1500 "file://$T/big.html" >/dev/null
[ -s "$ART/console-10000.png" ] && ok "screenshot build/test-logs/console-10000.png" ||
	{ not_ok "no screenshot"; sed 's/^/#   /' "$T/chromium.err" | tail -5; }

# --- linear (n log n) work: comparisons at 1,000 and 10,000 hosts -------------
$GEN "$T/small" 1000 "$NOW" >/dev/null
for f in small big; do
	UPGR_FLEET_STATS=1 $UPGR fleet status --no-cache --repo "file://$T/$f" >/dev/null 2>"$T/$f.stats"
done
c1=$(sed -n 's/.*compares \([0-9]*\).*/\1/p' "$T/small.stats")
c2=$(sed -n 's/.*compares \([0-9]*\).*/\1/p' "$T/big.stats")
if [ -n "$c1" ] && [ -n "$c2" ] && [ "$c2" -lt $((c1 * 16)) ]; then
	ok "10x the hosts, $c2 vs $c1 comparisons: under 16x (n log n; n^2 would be 100x)"
else
	not_ok "comparisons: ${c1:-none} at 1,000 hosts, ${c2:-none} at 10,000"
fi

# --- the cache: a second run fetches only what changed -------------------------
mkdir -p "$T/cachetest"
rm -rf "$RPT" && mkdir -p "$RPT"
$GEN "$T/gen" 100 "$NOW" >/dev/null
cp -r "$T/gen/reports/." "$RPT/"
find "$RPT" -type f -exec touch -d '-1 hour' {} +
chown -R "$FTPD_USER:" "$SRV"
retr() { grep -c '"RETR status.yaml"' "$FTPD_LOG_1" || true; }
C="--cache $T/cachetest/c"
r0=$(retr)
expect_exit 1 "first run with --cache" env UPGR_FLEET_STATS=1 $S $C
cp "$T/out" "$T/first.txt"
r1=$(retr)
[ $((r1 - r0)) = 100 ] && ok "the first run fetched all 100 reports (RETR)" || not_ok "first run: $((r1 - r0)) RETR"
[ "$(stat -c %a "$T/cachetest/c")" = 700 ] && ok "the cache directory is 0700" ||
	not_ok "cache dir mode $(stat -c %a "$T/cachetest/c")"
expect_exit 1 "second run" env UPGR_FLEET_STATS=1 $S $C
r2=$(retr)
[ $((r2 - r1)) = 0 ] && ok "the second run fetched none (RETR)" || not_ok "second run: $((r2 - r1)) RETR"
expect_grep "$T/err" "fetched 0, checked 100, cached 100" "... all 100 from the cache, each checked (SIZE/MDTM)"
# The same view, but for the time it was made (in the header line).
sed 's/ at [0-9T:-]*Z UTC / at TIME UTC /' "$T/first.txt" >"$T/first.v"
sed 's/ at [0-9T:-]*Z UTC / at TIME UTC /' "$T/out" >"$T/second.v"
cmp -s "$T/first.v" "$T/second.v" && ok "... with the same view" ||
	{ not_ok "the cached view differs"; diff "$T/first.v" "$T/second.v" | sed 's/^/#   /'; }
report host-00007 1.1.0 failed "changed since"
touch -d '-30 minutes' "$RPT/host-00007/status.yaml"
chown -R "$FTPD_USER:" "$RPT"
expect_exit 1 "a report changed" $S $C
r3=$(retr)
[ $((r3 - r2)) = 1 ] && ok "... the third run fetched only it" || not_ok "third run: $((r3 - r2)) RETR"
expect_grep "$T/out" "^host-00007 +hello +1\.1\.0 +failed +failed .*changed since" "... and shows what it says now"
# A cache entry whose bytes were changed: not used, fetched again.
f=$(ls "$T/cachetest/c"/*.cache)
sed -i 's/host-00011/host-00O11/' "$f"
expect_exit 1 "a cache file edited" $S $C
r4=$(retr)
[ $((r4 - r3)) = 1 ] && ok "... the edited entry is fetched again" || not_ok "edited cache: $((r4 - r3)) RETR"
expect_no_grep "$T/out" "host-00O11" "... and its edited bytes are not shown"
chmod 0777 "$T/cachetest/c"
expect_exit 77 "a cache directory others can write is refused" $S $C
expect_grep "$T/err" "cache" "... saying which"
chmod 0700 "$T/cachetest/c"
expect_exit 1 "--no-cache fetches everything again" $S --no-cache
r5=$(retr)
[ $((r5 - r4)) = 100 ] && ok "... 100 RETR" || not_ok "--no-cache: $((r5 - r4)) RETR"
mkdir -p "$T/cache/upgr/fleet" && chmod 0777 "$T/cache/upgr/fleet"
expect_exit 1 "an unsafe default cache directory: read without it" $S
expect_grep "$T/err" "reading without a cache" "... with a warning"
chmod 0700 "$T/cache/upgr/fleet"
