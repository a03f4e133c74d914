# SPDX-License-Identifier: Apache-2.0
# Maintenance windows and freezes, and pre-staging (issue 16, point 4),
# against a real vsftpd. UPGR_NOW (a test hook, docs/upgr.yaml.5) sets the
# clock the window, the freezes and the group lease are judged by.
#   - weekly windows with a time zone, several in a list; spring-forward
#     and fall-back dates in Europe/Paris; freeze dates and ranges
#   - outside the window the release is downloaded, verified and staged
#     (status state "staged"), and the run inside the window downloads no
#     payload again: only stop, swap and start are left
#   - a staged payload changed on disk is caught before use; a cache
#     directory others can write is refused
#   - a bad window or freeze is a config error at its line and column
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/agentrepo.sh"

STATUS=$T/w-state/apps/hello/status.yaml
CACHE=$T/w-state/cache/hello
# config EXTRA...: the agent config w with these lines.
config() { agent_config w "$(printf '%s\n' "$@")"; }
# at TIME CMD...: the command with the schedule's clock at TIME (UTC).
at() { _t=$1; shift; run env UPGR_NOW="$_t" "$@"; }
downloads() { grep -c 'OK DOWNLOAD.*payload' "$FTPD_LOG_1" || true; }
staged() {
	expect_grep "$STATUS" '^state: "staged"' "$1: status says staged"
	expect_grep "$STATUS" "^staged: \"$2\"" "$1: status names the staged $2"
}

release 1.0.0
release 1.1.0
release 1.2.0
release 1.3.0
release 1.4.0
channel 1 1.0.0

# --- a weekly window with a zone, and pre-staging ---------------------------
config 'window: "Sat,Sun 01:00-05:00 Europe/Paris"'
# Friday 2026-12-04 13:00 in Paris.
at 2026-12-04T12:00:00Z $UPGR -c "$T/w.yaml"
[ "$rc" = 0 ] && ok "outside the window: exit 0" || not_ok "outside the window: exit $rc"
quiet "outside the window: nothing said under cron"
running 1.0.0 && not_ok "outside the window: installed" || ok "outside the window: nothing installed"
staged "outside the window" 1.0.0
expect_grep "$STATUS" '^waiting: "outside the maintenance window Sat,Sun 01:00-05:00 Europe/Paris"' \
	"outside the window: status says which window"
[ -s "$CACHE/1.0.0/payload.tar.gz" ] && [ -s "$CACHE/1.0.0/manifest.yaml.minisig" ] &&
	ok "outside the window: the release is downloaded and verified into the cache" ||
	not_ok "outside the window: nothing staged"
at 2026-12-04T12:00:00Z $UPGR --dry-run -c "$T/w.yaml"
expect_grep "$T/out" "hello: 1\.0\.0 staged: outside the maintenance window" \
	"outside the window: --dry-run says it is staged and why"
expect_exit 0 "upgr status" $UPGR status -c "$T/w.yaml"
expect_grep "$T/out" "^hello: 1\.0\.0 downloaded, verified and staged, not installed yet: outside the maintenance window Sat,Sun 01:00-05:00 Europe/Paris$" \
	"outside the window: status says what is staged and why"
# Another tick outside the window fetches the channel alone: the staged
# manifest is checked again from the cache (each tick took it again).
mdl() { grep -c 'OK DOWNLOAD.*/manifest\.yaml"' "$FTPD_LOG_1" || true; }
m0=$(mdl) before=$(downloads)
ASAN_OPTIONS=detect_leaks=0 UPGR_NOW=2026-12-04T12:05:00Z strace -f -qq -e trace=open,openat -o "$T/open.log" \
	$UPGR -c "$T/w.yaml" >"$T/out" 2>"$T/err"
staged "a second tick outside the window" 1.0.0
n=$(grep 'payload\.tar\.gz"' "$T/open.log" | grep -vc ' = -1 ')
[ "$n" = 0 ] && ok "... reads the staged payload no more (its verified stamp holds)" ||
	not_ok "... opened the staged payload $n times"
[ "$(mdl)" = "$m0" ] && [ "$(downloads)" = "$before" ] &&
	ok "... downloads no manifest nor payload again" ||
	not_ok "... downloaded $(($(mdl) - m0)) manifests, $(($(downloads) - before)) payloads"
# A cached manifest that no longer checks out is fetched again.
printf '# changed\n' >>"$CACHE/1.0.0/manifest.yaml"
at 2026-12-04T12:10:00Z $UPGR -c "$T/w.yaml"
staged "a changed cached manifest" 1.0.0
[ "$(mdl)" = $((m0 + 1)) ] && ok "... a changed cached manifest is fetched again" ||
	not_ok "... manifest downloads: $(($(mdl) - m0)), want 1"
before=$(downloads)
# Saturday 2026-12-05 02:00 in Paris.
at 2026-12-05T01:00:00Z $UPGR -c "$T/w.yaml"
[ "$rc" = 0 ] && running 1.0.0 && ok "inside the window: the staged release installs" ||
	not_ok "inside the window: exit $rc, not installed"
[ "$(downloads)" = "$before" ] && ok "inside the window: no payload downloaded again" ||
	not_ok "inside the window: the payload was downloaded again"
expect_no_grep "$STATUS" '^state: "(waiting|staged)' "inside the window: status no longer says staged"

# --- a staged release changed on disk is not used ----------------------------
channel 2 1.1.0
at 2026-12-04T12:00:00Z $UPGR -c "$T/w.yaml"
staged "1.1.0 outside the window" 1.1.0
printf 'tampered' >>"$CACHE/1.1.0/payload.tar.gz"
at 2026-12-05T01:00:00Z $UPGR -c "$T/w.yaml"
[ "$rc" = 0 ] && running 1.1.0 && ok "a changed staged payload: fetched again and installed" ||
	not_ok "a changed staged payload: exit $rc"
expect_same "$T/src-1.1.0/etc/hello.conf" "$T/root-w/opt/hello/etc/hello.conf" \
	"a changed staged payload: the signed content is what is installed"
channel 3 1.2.0
at 2026-12-04T12:00:00Z $UPGR -c "$T/w.yaml"
chmod 0777 "$CACHE/1.2.0"
at 2026-12-05T01:00:00Z $UPGR -c "$T/w.yaml"
[ "$rc" = 77 ] && ok "a stage directory others can write is refused (77)" ||
	not_ok "a stage directory others can write: exit $rc, want 77"
running 1.1.0 && ok "a stage directory others can write: nothing installed" ||
	not_ok "installed from a stage directory others can write"
chmod 0700 "$CACHE/1.2.0"

# --- DST change dates in Europe/Paris ---------------------------------------
config 'window: ["Sun 01:00-05:00 Europe/Paris", "Wed 10:00-11:00 Asia/Tokyo"]'
# Spring forward, 2026-03-29: 03:00 UTC is 05:00 CEST (04:00 in winter time).
at 2026-03-29T03:00:00Z $UPGR -c "$T/w.yaml"
running 1.1.0 && ok "spring forward: 05:00 CEST is outside" || not_ok "spring forward: installed at 05:00 CEST"
at 2026-03-29T02:30:00Z $UPGR -c "$T/w.yaml"
running 1.2.0 && ok "spring forward: 04:30 CEST is inside" || not_ok "spring forward: not installed at 04:30 CEST"
# Fall back, 2026-10-25: 03:30 UTC is 04:30 CET (05:30 in summer time).
channel 4 1.3.0
at 2026-10-25T04:00:00Z $UPGR -c "$T/w.yaml"
running 1.2.0 && ok "fall back: 05:00 CET is outside" || not_ok "fall back: installed at 05:00 CET"
at 2026-10-25T03:30:00Z $UPGR -c "$T/w.yaml"
running 1.3.0 && ok "fall back: 04:30 CET is inside" || not_ok "fall back: not installed at 04:30 CET"

# --- freezes -----------------------------------------------------------------
channel 5 1.4.0
config 'freeze: ["2026-05-01", "2026-12-20..2027-01-03 Europe/Paris"]'
at 2026-12-24T12:00:00Z $UPGR -c "$T/w.yaml"
running 1.3.0 && ok "a freeze range: nothing installs" || not_ok "a freeze range: installed"
staged "a freeze range" 1.4.0
expect_grep "$STATUS" '^waiting: "frozen: 2026-12-20\.\.2027-01-03 Europe/Paris"' \
	"a freeze: status names the freeze"
at 2027-01-03T22:30:00Z $UPGR -c "$T/w.yaml"
running 1.3.0 && ok "a freeze ends at midnight in its zone, not UTC" || not_ok "installed on the last frozen day"
at 2026-05-01T12:00:00Z $UPGR -c "$T/w.yaml"
running 1.3.0 && ok "a freeze date: nothing installs" || not_ok "a freeze date: installed"
at 2027-01-04T12:00:00Z $UPGR -c "$T/w.yaml"
running 1.4.0 && ok "after the freeze: installs" || not_ok "after the freeze: not installed"

# --- bad windows and freezes: config errors at line:col ----------------------
config 'window:' '  - "Sat 01:00-05:00 Europe/Paris"' '  - "Sun 01:00-05:00 Europe/Nowhere"' \
	'freeze: "2026-12-20..2026-12-01"'
expect_exit 65 "a zone not in the tz database: exit 65" $UPGR -c "$T/w.yaml"
expect_grep "$T/err" "w\.yaml:[0-9]+:22: window\[1\]: not a time zone" \
	"the unknown zone is named at its line and column"
expect_grep "$T/err" "w\.yaml:[0-9]+:22: freeze: the range ends before it starts" \
	"a range that ends before it starts is named at its column"
config 'window: "Sat,Sux 01:00-05:00"'
expect_exit 65 "a bad day: exit 65" $UPGR -c "$T/w.yaml"
expect_grep "$T/err" "w\.yaml:[0-9]+:14: window: expected a day" "a bad day is named at its column"
