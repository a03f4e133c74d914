# SPDX-License-Identifier: Apache-2.0
# Hold and a rollback that sticks (issue 15, point 3), against a real
# vsftpd: a manual `upgr rollback` holds the app through ten cron ticks;
# `upgr unhold` lets it upgrade; a new channel version releases a
# rollback's hold; a rollback with nothing older refuses and never moves
# forward; `upgr hold` keeps an app where it is; status shows the hold.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/agentrepo.sh"

agent_config a
A="-c $T/a.yaml"

release 1.0.0
release 2.0.0
channel 1 1.0.0
expect_exit 0 "1.0.0 installs" $UPGR $A
expect_exit 65 "a rollback with no earlier version kept is refused with 65" \
	$UPGR rollback $A hello
expect_grep "$T/err" "^upgr: hello 1\.0\.0: no previous version kept to roll back to$" \
	"the refusal names the installed version"
channel 2 2.0.0
expect_exit 0 "2.0.0 upgrades" $UPGR $A
running 2.0.0 && ok "2.0.0 runs" || not_ok "2.0.0 is not running"

# --- a manual rollback sticks ----------------------------------------------
expect_exit 0 "upgr rollback 2.0.0 -> 1.0.0" $UPGR rollback $A hello
expect_grep "$T/out" "^hello: rolled back 2\.0\.0 -> 1\.0\.0; held at 1\.0\.0" \
	"the rollback says the app is held"
expect_grep "$T/a-state/apps/hello/hold" '^reason: "rollback"' "the hold file names the reason"
expect_grep "$T/a-state/apps/hello/hold" '^from: "2\.0\.0"' "the hold file names the version rolled back from"
bad=0 noisy=0 log0=$(wc -l <"$FTPD_LOG_1")
for tick in 1 2 3 4 5 6 7 8 9 10; do
	run $UPGR $A
	[ "$rc" = 0 ] && running 1.0.0 || bad=$((bad + 1))
	{ [ -s "$T/out" ] || [ -s "$T/err" ]; } && noisy=$((noisy + 1))
done
[ $bad = 0 ] && ok "ten cron ticks leave the rolled-back 1.0.0 running" ||
	not_ok "$bad of ten ticks moved off 1.0.0 (running $(cat "$T/svc/running"))"
[ $noisy = 0 ] && ok "a held app is quiet under cron" || not_ok "$noisy ticks printed"
# A held app does not fetch what it will not apply (each tick took the
# whole release again: manifest, index, payload or objects).
got=$(sed -n "$((log0 + 1)),\$p" "$FTPD_LOG_1" | grep 'OK DOWNLOAD' | grep -c '/releases/\|/objects/')
[ "$got" = 0 ] && ok "ten held ticks download nothing of the held-off release" ||
	not_ok "ten held ticks downloaded $got release files"
expect_exit 0 "--dry-run of a held app exits 0" $UPGR --dry-run $A
expect_grep "$T/out" "^hello: held at 1\.0\.0 \(rollback, by .*\); 2\.0\.0 is available: upgr unhold hello$" \
	"--dry-run says the app is held and what is available"
expect_exit 0 "status exits 0" $UPGR status $A
expect_grep "$T/out" "^hello: held at 1\.0\.0 \(rollback from 2\.0\.0, by " "status shows the hold"
check "status --json has the hold" sh -c "$UPGR status $A --json | /usr/bin/python3 -c \"
import json, sys; h = json.load(sys.stdin)['apps'][0]['held']
assert h['version'] == '1.0.0' and h['reason'] == 'rollback' and h['from'] == '2.0.0' and h['user'], h\""

# --- a second rollback never goes forward ------------------------------------
expect_exit 65 "a second rollback (the backup is 2.0.0, newer) is refused with 65" \
	$UPGR rollback $A hello
expect_grep "$T/err" "hello 1\.0\.0: nothing older to roll back to .*never moves forward" \
	"the refusal says there is nothing older"
running 1.0.0 && ok "the refused rollback left 1.0.0 running" ||
	not_ok "the second rollback moved to $(cat "$T/svc/running")"

# --- unhold lets it upgrade -------------------------------------------------
expect_exit 0 "upgr unhold" $UPGR unhold $A hello
expect_grep "$T/out" "^hello: no longer held" "unhold says so"
[ ! -e "$T/a-state/apps/hello/hold" ] && ok "unhold removes the hold" || not_ok "hold file left"
expect_exit 0 "the tick after unhold upgrades" $UPGR $A
running 2.0.0 && ok "after unhold 2.0.0 runs" || not_ok "after unhold: $(cat "$T/svc/running")"
expect_exit 0 "unhold of an app not held exits 0" $UPGR unhold $A hello
expect_grep "$T/out" "^hello: was not held$" "unhold of an app not held says so"

# --- a new channel version releases a rollback's hold -----------------------
expect_exit 0 "rollback again 2.0.0 -> 1.0.0" $UPGR rollback $A hello
expect_exit 0 "a tick while the channel still names 2.0.0" $UPGR $A
running 1.0.0 && ok "still held at 1.0.0" || not_ok "moved to $(cat "$T/svc/running")"
release 3.0.0
channel 3 3.0.0
expect_exit 0 "the channel names 3.0.0: the tick upgrades" $UPGR $A
running 3.0.0 && ok "a new version released the hold: 3.0.0 runs" ||
	not_ok "3.0.0 not running: $(cat "$T/svc/running")"
[ ! -e "$T/a-state/apps/hello/hold" ] && ok "the released hold is gone" || not_ok "hold left"

# --- the channel names the restored version: the hold has done its work --
expect_exit 0 "rollback 3.0.0 -> 1.0.0" $UPGR rollback $A hello
expect_grep "$T/out" "^hello: rolled back 3\.0\.0 -> 1\.0\.0" "back to 1.0.0, the version before 3.0.0"
channel 4 1.0.0
expect_exit 0 "a tick with the channel at the restored 1.0.0" $UPGR $A
running 1.0.0 && ok "1.0.0 still runs" || not_ok "running $(cat "$T/svc/running")"
[ ! -e "$T/a-state/apps/hello/hold" ] && ok "a channel naming the restored version ends the hold" ||
	not_ok "hold left with the channel at 1.0.0"
channel 5 3.0.0
expect_exit 0 "the channel names 3.0.0 again" $UPGR $A
running 3.0.0 && ok "and the agent follows it: 3.0.0 runs" || not_ok "running $(cat "$T/svc/running")"

# --- upgr hold --------------------------------------------------------------
expect_exit 0 "upgr hold" $UPGR hold $A hello
expect_grep "$T/out" "^hello: held at 3\.0\.0$" "hold says the version"
expect_grep "$T/a-state/apps/hello/hold" '^reason: "manual"' "a manual hold's reason"
release 4.0.0
channel 6 4.0.0
bad=0
for tick in 1 2 3; do
	run $UPGR $A
	[ "$rc" = 0 ] && running 3.0.0 && [ ! -s "$T/out" ] && [ ! -s "$T/err" ] || bad=$((bad + 1))
done
[ $bad = 0 ] && ok "a manual hold survives a new channel version, quietly" ||
	not_ok "$bad ticks moved or printed (running $(cat "$T/svc/running"))"
expect_exit 0 "unhold the manual hold" $UPGR unhold $A hello
expect_exit 0 "the tick after unhold upgrades to 4.0.0" $UPGR $A
running 4.0.0 && ok "4.0.0 runs" || not_ok "4.0.0 not running: $(cat "$T/svc/running")"

# --- usage ------------------------------------------------------------------
expect_exit 2 "hold without an app is a usage error" $UPGR hold $A
expect_exit 65 "hold of an app not installed" $UPGR hold $A nosuch
expect_grep "$T/err" "nosuch: nothing installed to hold" "says nothing is installed"
