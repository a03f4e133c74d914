#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# upgr rollout: the closed-loop controller against a simulated fleet of
# 200 hosts (each its own config, root, state dir and device key, running
# `upgr run` in batches) and one real vsftpd. Two rollouts:
#   1. 1.0.0 -> 1.1.0 in waves 1,10,50,100 (soak 0s), paused and resumed in
#      wave 2, advancing by `tick` to 100%;
#   2. 1.1.0 -> 1.2.0, whose health check fails on 5% of the fleet (a
#      marker file in their root), all of them in wave 2: the tick halts it
#      with one line, no host of wave 3 is upgraded (every host's installed
#      version checked), then abort returns every host to 1.1.0.
# Also: status --json fields, the decision log verified by `upgr audit
# verify` and its checkpoint by minisign -V, a forged plan refused by
# tick, ticks with nothing new quiet and idempotent.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/ftpd.sh"

# --- usage (no server needed) -------------------------------------------
R="$UPGR rollout"
expect_exit 0 "rollout --help exits 0" $R --help
expect_grep "$T/out" "upgr rollout start  --repo URL --key KEY" "--help shows start"
expect_exit 2 "rollout without a command is a usage error" $R
expect_exit 2 "an unknown rollout command is a usage error" $R frobnicate
expect_exit 2 "tick needs --repo and --key" $R tick
expect_exit 2 "start needs --waves, --soak and --max-failed" \
	$R start --repo file:///x --key k hello 1.0.0 --waves 1,100 --soak 0s
expect_exit 2 "waves must grow" \
	$R start --repo file:///x --key k --waves 10,5 --soak 0s --max-failed 2% a 1.0.0
expect_exit 2 "a soak needs a unit" \
	$R start --repo file:///x --key k --waves 5 --soak 10 --max-failed 2% a 1.0.0
expect_exit 2 "max-failed is a percentage" \
	$R start --repo file:///x --key k --waves 5 --soak 0s --max-failed 120% a 1.0.0
expect_exit 2 "--json is for status" $R tick --repo file:///x --key k --json
expect_exit 2 "a password in --repo is refused" $R status --repo ftp://u:secret@127.0.0.1:1/r --key k
expect_no_grep "$T/err" "secret" "... without echoing the password"

if ! ftpd_can_run 2>"$T/why"; then
	echo "ok - # SKIP rollout tests: $(cat "$T/why")"
	exit 0
fi
command -v minisign >/dev/null || { echo "ok - # SKIP rollout tests: no minisign"; exit 0; }
ftpd_start 1 || { not_ok "vsftpd server starts"; exit 1; }
FTP=${FTPD_URL_1}repo
N="--netrc $FTPD_NETRC"
SRV=$FTPD_ROOT_1/repo
NHOSTS=200
PAR=16

# --- keys, releases, hosts ------------------------------------------------
for k in rel ctl evil; do
	"$UPGR" keygen -W "$T/$k" >/dev/null 2>&1 || { not_ok "upgr keygen $k"; exit 1; }
done
CTL="--repo $FTP $N --key $T/ctl.key"

# web VERSION: a one-file release whose health check fails on a host with
# ROOT/fail-VERSION (UPGR_ROOT is the host's root).
publish() {
	d=$T/src-$1
	mkdir -p "$d/bin"
	printf '#!/bin/sh\necho web %s\n' "$1" >"$d/bin/web"
	cat >"$d/manifest.yaml" <<-EOF
	upgr: 1
	app: web
	version: $1
	target: /opt/web
	files:
	  - path: bin/web
	    mode: "0755"
	health:
	  - run: test ! -e "\$UPGR_ROOT/fail-\$UPGR_VERSION"
	EOF
	shift
	"$UPGR" publish $N --key "$T/rel.key" --channel-key "$T/ctl.key" --repo "$FTP" \
		"$@" "$d/manifest.yaml" >"$T/pub.out" 2>&1 ||
		{ not_ok "publish $d"; sed 's/^/#   /' "$T/pub.out"; exit 1; }
}

mkdir -p "$T/h"
i=1
while [ "$i" -le "$NHOSTS" ]; do
	h=$(printf 'h%03d' "$i")
	cat >"$T/h/$h.yaml" <<-EOF
	host: $h
	servers: [ "$FTP" ]
	netrc: $FTPD_NETRC
	apps: [web]
	root: $T/h/$h-root
	state_dir: $T/h/$h-state
	trusted_keys: [$T/rel.pub, $T/ctl.pub]
	device_key: $T/h/$h-device.key
	audit_log: $T/h/$h-audit.log
	EOF
	mkdir -p "$T/h/$h-root"
	echo "$h" >>"$T/hosts"
	i=$((i + 1))
done
chmod 0644 "$T"/h/*.yaml

# fleet_run [FILE]: every host (of FILE, default all) runs `upgr run`
# once, PAR at a time; $T/h/failed lists those that exited non-zero.
fleet_run() {
	: >"$T/h/failed"
	xargs -P "$PAR" -I@ sh -c '"$1" -c "$2/@.yaml" >"$2/@.out" 2>&1 || echo "@ $?" >>"$2/failed"' \
		sh "$UPGR" "$T/h" <"${1:-$T/hosts}"
}

# installed HOST: the version HOST runs, "-" when none.
installed() {
	sed -n 's/^version: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' \
		"$T/h/$1-state/apps/web/manifest.yaml" 2>/dev/null | head -1 | grep . || echo -
}

# bucket VERSION: "HOST BUCKET" lines, the agents' hash (repo.h): the first
# four bytes of sha256(HOST/VERSION) mod 100; HOST is in a rollout of P% when
# its bucket is below P.
bucket() {
	while read -r h; do
		x=$(printf '%s/%s' "$h" "$1" | sha256sum | cut -c1-8)
		echo "$h $((0x$x % 100))"
	done <"$T/hosts" >"$T/bucket-$1"
}

# versions_ok VERSION LO HI OTHER NAME: hosts with a bucket in [LO, HI) run
# VERSION (except those listed in $T/failing, which run OTHER), all the
# others run OTHER.
versions_ok() {
	bad=0
	while read -r h b; do
		want=$5
		[ "$b" -ge "$2" ] && [ "$b" -lt "$3" ] && want=$1
		grep -qx "$h" "$T/failing" 2>/dev/null && want=$5
		[ "$(installed "$h")" = "$want" ] || { bad=$((bad + 1)); echo "$h ($b): $(installed "$h"), want $want"; }
	done <"$T/bucket-$1" >"$T/versions.bad"
	if [ "$bad" = 0 ]; then ok "$4"; else
		not_ok "$4: $bad host(s) wrong"; sed 's/^/#   /' "$T/versions.bad" | head -10
	fi
}

in_wave() { awk -v lo="$1" -v hi="$2" '$2 >= lo && $2 < hi' "$T/bucket-$3" | wc -l; }

plan=$SRV/apps/web/rollout/stable.yaml
log=$SRV/apps/web/rollout/stable.log

# --- rollout 1: four waves to 100% ----------------------------------------
publish 1.0.0
fleet_run
n=$(grep -l '1.0.0' "$T"/h/*-state/apps/web/manifest.yaml | wc -l)
[ "$n" = "$NHOSTS" ] && ok "all $NHOSTS hosts install 1.0.0" ||
	{ not_ok "all hosts install 1.0.0: $n"; head -3 "$T/h/failed"; exit 1; }

publish 1.1.0 --rollout 0
expect_exit 0 "rollout start web 1.1.0" \
	$R start $CTL --waves 1,10,50,100 --soak 0s --max-failed 2% web 1.1.0
expect_grep "$T/out" "wave 1 \(1%\) opened by start" "... opens wave 1"
expect_grep "$SRV/apps/web/channels/stable.yaml" "^rollout: 1$" "... the channel says rollout: 1"
expect_grep "$plan" '^from: "1.0.0"$' "... the plan's from is the release before"
check "... the plan verifies with minisign -V" minisign -Vm "$plan" -p "$T/ctl.pub"
expect_exit 65 "a second start is refused while one runs" \
	$R start $CTL --trusted-key "$T/rel.pub" --waves 50,100 --soak 0s --max-failed 2% web 1.1.0

bucket 1.1.0
fleet_run
versions_ok 1.1.0 0 1 "wave 1: exactly the hosts of the 1% upgrade ($(in_wave 0 1 1.1.0))" 1.0.0
expect_exit 0 "tick" $R tick $CTL
expect_grep "$T/out" "wave 2 \(10%\) opened" "... opens wave 2"
[ "$(wc -l <"$T/out")" = 1 ] && ok "... in one line" || not_ok "... in one line: $(cat "$T/out")"

# Pause in wave 2: hosts that have not upgraded stay where they are.
expect_exit 0 "pause" $R pause $CTL web
expect_grep "$SRV/apps/web/channels/stable.yaml" "^rollout: 0$" "... the channel says rollout: 0"
awk '$2 < 10 { print $1 }' "$T/bucket-1.1.0" >"$T/wave2"
fleet_run "$T/wave2"
versions_ok 1.1.0 0 1 "paused: no host of wave 2 upgrades" 1.0.0
expect_exit 0 "tick while paused" $R tick $CTL
quiet_out() { [ ! -s "$T/out" ] && ok "$1" || { not_ok "$1"; sed 's/^/#   /' "$T/out"; }; }
quiet_out "... prints nothing"
log0=$(wc -l <"$FTPD_LOG_1")
expect_exit 0 "status while paused" $R status $CTL
expect_grep "$T/out" "web 1.1.0 on stable: paused, wave 2 of 4 \(10%\)" "... says paused in wave 2"
# What status read: the plan once (the reports' reading took it again), and
# each host's status once.
downloads() { sed -n "$((log0 + 1)),\$p" "$FTPD_LOG_1" | grep 'OK DOWNLOAD' | grep -c "$1"; }
n=$(downloads '/rollout/stable\.yaml"')
[ "$n" = 1 ] && ok "... fetching the plan once" || not_ok "... fetched the plan $n times"
n=$(downloads '/status\.yaml"')
[ "$n" = "$NHOSTS" ] && ok "... and each of the $NHOSTS hosts' status once" ||
	not_ok "... fetched $n host statuses for $NHOSTS hosts"
expect_exit 0 "resume" $R resume $CTL web
expect_grep "$SRV/apps/web/channels/stable.yaml" "^rollout: 10$" "... the channel says rollout: 10"

# A host that has not reported since the wave opened holds it.
expect_exit 0 "status before wave 2 ran" $R status $CTL --json web
python3 - "$T/out" "$(in_wave 1 10 1.1.0)" >"$T/py.out" 2>&1 <<'EOF' && ok "status --json: wave 2 held by its silent hosts" || { not_ok "status --json: silent hosts"; sed 's/^/#   /' "$T/py.out"; }
import json, sys
r = json.load(open(sys.argv[1]))["rollouts"][0]
n = int(sys.argv[2])
assert r["state"] == "running" and r["wave"] == 2 and r["percent"] == 10, r
assert r["silent"] == n and len(r["holding"]) == n, (r["silent"], n)
EOF
expect_exit 0 "tick before wave 2 ran" $R tick $CTL
quiet_out "... prints nothing: the wave is held"

wave=2
for pct in 10 50 100; do
	fleet_run
	versions_ok 1.1.0 0 "$pct" "wave $wave: the hosts of the $pct% run 1.1.0, the others 1.0.0" 1.0.0
	expect_exit 0 "tick after wave $wave" $R tick $CTL
	if [ "$pct" = 100 ]; then
		expect_grep "$T/out" "web 1.1.0 on stable: done: wave 4 of 4" "... the rollout is done"
	else
		expect_grep "$T/out" "wave $((wave + 1)) \([0-9]+%\) opened" "... opens wave $((wave + 1))"
	fi
	wave=$((wave + 1))
done
n=$(grep -l '1.1.0' "$T"/h/*-state/apps/web/manifest.yaml | wc -l)
[ "$n" = "$NHOSTS" ] && ok "all $NHOSTS hosts run 1.1.0" || not_ok "all hosts run 1.1.0: $n"
cp "$plan" "$T/plan.before"
expect_exit 0 "a tick after done" $R tick $CTL
quiet_out "... prints nothing"
expect_same "$T/plan.before" "$plan" "... and leaves the plan alone"

# --- rollout 2: wave 2 fails on 5% of the fleet and halts -----------------
publish 1.2.0 --rollout 0
bucket 1.2.0
# 10 hosts (5% of 200) of wave 2 but not wave 1 fail their health check.
awk '$2 >= 1 && $2 < 10 { print $1 }' "$T/bucket-1.2.0" | head -10 >"$T/failing"
nfail=$(wc -l <"$T/failing")
[ "$nfail" -ge 2 ] && ok "wave 2 holds $nfail failing hosts" || not_ok "wave 2 holds failing hosts: $nfail"
while read -r h; do touch "$T/h/$h-root/fail-1.2.0"; done <"$T/failing"
expect_exit 0 "rollout start web 1.2.0" \
	$R start $CTL --waves 1,10,50,100 --soak 0s --max-failed 2% web 1.2.0
fleet_run
versions_ok 1.2.0 0 1 "wave 1 of 1.2.0 upgrades" 1.1.0
expect_exit 0 "tick" $R tick $CTL
expect_grep "$T/out" "wave 2 \(10%\) opened" "... opens wave 2"
fleet_run
n=$(grep -c . "$T/h/failed")
[ "$n" = "$nfail" ] && ok "the $nfail failing hosts roll back (exit 1)" || not_ok "failing hosts roll back: $n"
expect_exit 0 "tick after the failures" $R tick $CTL
expect_grep "$T/out" "^upgr rollout: web 1.2.0 on stable halted in wave 2 \(10%\): $nfail of [0-9]+ hosts that tried failed or rolled back" \
	"... halts, saying why"
[ "$(wc -l <"$T/out")" = 1 ] && ok "... in one line for cron mail" || not_ok "... in one line: $(cat "$T/out")"
expect_grep "$SRV/apps/web/channels/stable.yaml" "^rollout: 0$" "... the channel says rollout: 0"
fleet_run
versions_ok 1.2.0 0 10 "halted: no host of wave 3 is upgraded, the failed ones run 1.1.0" 1.1.0
expect_exit 0 "a tick after the halt" $R tick $CTL
quiet_out "... prints nothing"

expect_exit 0 "status --json" $R status $CTL --json
python3 - "$T/out" "$nfail" "$(in_wave 0 10 1.2.0)" "$T/failing" >"$T/py.out" 2>&1 <<'EOF' && ok "status --json: fields of the halted rollout" || { not_ok "status --json fields"; sed 's/^/#   /' "$T/py.out"; }
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["channel"] == "stable"
r = doc["rollouts"][0]
nfail, nwave = int(sys.argv[2]), int(sys.argv[3])
failing = sorted(open(sys.argv[4]).read().split())
want = {"app": "web", "channel": "stable", "version": "1.2.0", "from": "1.1.0",
        "state": "halted", "wave": 2, "waves": [1, 10, 50, 100], "percent": 10,
        "soak": 0, "max_failed": 2, "hosts": 200, "in_wave": nwave,
        "failed": nfail, "succeeded": nwave - nfail, "pending": 0, "silent": 0,
        "unverified": 0}
for k, v in want.items():
    assert r[k] == v, (k, r[k], v)
assert sorted(r["failed_hosts"]) == failing, r["failed_hosts"]
assert r["holding"] == []
assert abs(r["failed_percent"] - 100.0 * nfail / nwave) < 0.01, r["failed_percent"]
for k in ("started", "wave_started", "soak_until", "reason"):
    assert isinstance(r[k], str) and r[k], k
assert "halted in wave 2" in r["reason"]
EOF
expect_exit 0 "status (text)" $R status $CTL web
expect_grep "$T/out" "web 1.2.0 on stable: halted, wave 2 of 4 \(10%\), from 1.1.0" "... says halted"
expect_grep "$T/out" "^  failed: " "... lists the failed hosts"

# --- a forged plan is refused ----------------------------------------------
cp "$plan" "$T/plan.good"; cp "$plan.minisig" "$T/plan.good.minisig"
sed 's/^state: halted$/state: running/; s/^waves: .*/waves: [1, 10, 100]/' "$T/plan.good" >"$T/forged"
"$UPGR" sign -k "$T/evil.key" "$T/forged" >/dev/null 2>&1
cp "$T/forged" "$plan"; cp "$T/forged.minisig" "$plan.minisig"
serial=$(grep '^serial:' "$SRV/apps/web/channels/stable.yaml")
expect_exit 77 "tick refuses a plan signed by another key" $R tick $CTL
expect_grep "$T/err" "does not verify" "... saying it does not verify"
expect_grep "$SRV/apps/web/channels/stable.yaml" "^$serial$" "... and leaves the channel alone"
expect_exit 77 "status refuses it too" $R status $CTL
cp "$T/plan.good" "$plan"; cp "$T/plan.good.minisig" "$plan.minisig"

# --- abort: every host back to 1.1.0 ----------------------------------------
expect_exit 77 "abort refuses to point to a release no --trusted-key signed" $R abort $CTL web
expect_grep "$T/err" "not a trusted key" "... saying why"
expect_grep "$SRV/apps/web/channels/stable.yaml" '^version: "1.2.0"$' "... the channel still names 1.2.0"
expect_grep "$SRV/apps/web/channels/stable.yaml" "^rollout: 0$" "... paused"
expect_exit 0 "abort with the release key" $R abort $CTL --trusted-key "$T/rel.pub" web
expect_grep "$T/out" "aborted in wave 2 .* every host back to 1.1.0" "... says so"
expect_grep "$SRV/apps/web/channels/stable.yaml" '^version: "1.1.0"$' "... the channel names 1.1.0"
expect_grep "$SRV/apps/web/channels/stable.yaml" "^downgrade: true$" "... with downgrade: true"
fleet_run
n=$(grep -l '"\{0,1\}1.1.0' "$T"/h/*-state/apps/web/manifest.yaml | wc -l)
[ "$n" = "$NHOSTS" ] && ok "after abort all $NHOSTS hosts run 1.1.0" || not_ok "after abort all hosts run 1.1.0: $n"
expect_exit 65 "a second abort: nothing live" $R abort $CTL web

# --- the decision log -------------------------------------------------------
cp "$log" "$T/log"; cp "$log.minisig" "$T/log.minisig"
expect_exit 0 "upgr audit verify -p ctl.pub the decision log" "$UPGR" audit verify -p "$T/ctl.pub" "$T/log"
check "minisign -V of the decision log's checkpoint" minisign -Vm "$T/log" -p "$T/ctl.pub"
check "the standalone verifier (audit/verify) accepts the decision log" \
	sh "$UPGR_TOP/audit/verify" "$T/ctl.pub" "$T/log"
expect_exit 0 "audit show --json of the log" "$UPGR" audit show --json "$T/log"
python3 - "$T/out" >"$T/py.out" 2>&1 <<'EOF' && ok "the log tells every decision in order" || { not_ok "the log's decisions"; sed 's/^/#   /' "$T/py.out"; }
import json, sys
text = open(sys.argv[1]).read().strip()
recs = json.loads(text) if text.startswith("[") else [json.loads(l) for l in text.splitlines()]
acts = [r["action"] for r in recs]
want = ["rollout-start", "rollout-advance", "rollout-pause", "rollout-resume",
        "rollout-advance", "rollout-advance", "rollout-done",
        "rollout-start", "rollout-advance", "rollout-halt", "rollout-abort"]
assert acts == want, acts
EOF
expect_exit 77 "the log does not verify with another key" "$UPGR" audit verify -p "$T/evil.pub" "$T/log"

# --- an encrypted controller key: one passphrase per command ---------------
# pty_answer ANSWER CMD...: run CMD on a terminal, typing ANSWER at every
# password or passphrase prompt; the transcript in $T/out.
pty_answer() { python3 "$UPGR_TOP/tests/lib/onpty.py" pass "$@" >"$T/out" 2>&1; }
cp "$T/ctl.key" "$T/ctl-enc.key"
pty_answer "a passphrase" minisign -C -s "$T/ctl-enc.key"
grep -q "^untrusted comment:.*encrypted\|^RWRTY0Iy" "$T/ctl-enc.key" &&
	! cmp -s "$T/ctl.key" "$T/ctl-enc.key" && ok "the controller key, encrypted (minisign -C)" ||
	not_ok "minisign -C did not encrypt the key"
pty_answer "a passphrase" $R start --repo "$FTP" $N --key "$T/ctl-enc.key" --trusted-key "$T/rel.pub" \
	--waves 1,100 --soak 0s --max-failed 2% web 1.2.0; rc=$?
[ $rc = 0 ] && ok "start with the encrypted key on a terminal" || not_ok "start: exit $rc"
n=$(grep -c "Passphrase for" "$T/out")
[ "$n" = 1 ] && ok "... asks for its passphrase once" ||
	not_ok "... asked for its passphrase $n times (it opened the key again for the channel)"
