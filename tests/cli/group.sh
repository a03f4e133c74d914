# SPDX-License-Identifier: Apache-2.0
# HA groups (issue 16, point 3), against a real vsftpd: two hosts of one
# group (`group: web`), started by "cron" in the same instant 20 times,
# never have their service down at the same time, judged from the
# services' own stop/start timestamps; the loser waits (exit 0, quiet,
# `state: waiting` in its status); a lease another host holds is never
# taken before it expires; the lease of a host killed while it holds it
# expires (UPGR_NOW, the test clock) and the other host proceeds; the
# killed host's next run recovers and leaves no lease behind.
. "$(dirname "$0")/../lib/testlib.sh"
. "$UPGR_TOP/tests/lib/agentrepo.sh"

LOG=$T/downtime.log
# The service of a host: its stop and start append "HOST stop|start TIME"
# (date +%s.%N) to $LOG; the stop takes a while, so that two downtimes
# begun together would overlap; $T/hang-HOST makes the stop hang.
svc_src() {
	mkdir -p "$2/bin" "$2/etc"
	cat >"$2/bin/hello-ctl" <<EOC
#!/bin/sh
d=\$(cd "\$(dirname "\$0")/.." && pwd)
h=\${d#$T/root-}; h=\${h%%/*}
case "\$1" in
stop)   echo "\$h stop \$(date +%s.%N)" >>"$LOG"
	while [ -e "$T/hang-\$h" ]; do echo \$\$ >"$T/hung-\$h"; sleep 0.1; done
	sleep 0.3; rm -f "\$d/running" ;;
start)  echo "$1" >"\$d/running"; echo "\$h start \$(date +%s.%N)" >>"$LOG" ;;
status) [ "\$(cat "\$d/running" 2>/dev/null)" = "$1" ] ;;
esac
EOC
	echo "version = $1" >"$2/etc/hello.conf"
	cat >"$2/manifest.yaml" <<EOC
upgr: 1
app: hello
version: $1
target: /opt/hello
files:
  - { path: bin/hello-ctl, mode: "0755" }
  - { path: etc/hello.conf, mode: "0644" }
stop: [ { run: "bin/hello-ctl stop", timeout: 600 } ]
start: [ "bin/hello-ctl start" ]
health: [ "bin/hello-ctl status" ]
EOC
}

# no_overlap NAME MIN: the downtimes in $LOG (a host's stop line to the
# start line after it) are at least MIN and never overlap across hosts.
no_overlap() {
	awk '$2 == "stop" { s[$1] = $3 } $2 == "start" && ($1 in s) { print s[$1], $3, $1; delete s[$1] }' \
		"$LOG" | sort -n >"$T/intervals"
	_n=$(wc -l <"$T/intervals")
	awk 'NR > 1 && $1 < end && $3 != host { print "overlap: " $0 " with " host " until " end; bad++ }
	     $2 > end { end = $2; host = $3 } END { exit bad > 0 }' "$T/intervals" >"$T/overlaps"
	if [ $? = 0 ] && [ "$_n" -ge "$2" ]; then ok "$1: $_n downtimes, none overlapping"; else
		not_ok "$1: overlapping downtimes, or too few (of $_n)"
		head -5 "$T/overlaps" | sed 's/^/#   /'
	fi
}

# race NAME H1 H2 MAJOR SERIAL ROUNDS [HOOK]: ROUNDS releases MAJOR.I.0, each
# published (then HOOK run) and started on both hosts in the same instant,
# then ticked until both run it; their downtimes must not overlap.
race() {
	: >"$LOG"
	_stuck=0
	for i in $(seq 1 "$6"); do
		v=$4.$i.0
		release $v
		channel $(($5 + i)) $v
		${7:-:}
		"$UPGR" -c "$T/$2.yaml" >/dev/null 2>&1 & _p1=$!
		"$UPGR" -c "$T/$3.yaml" >/dev/null 2>&1 & _p2=$!
		wait $_p1 $_p2
		for tick in 1 2 3; do
			for h in $2 $3; do at $h $v || "$UPGR" -c "$T/$h.yaml" >/dev/null 2>&1; done
		done
		at $2 $v && at $3 $v || _stuck=$((_stuck + 1))
	done
	[ $_stuck = 0 ] && ok "$1: both hosts reach each version" ||
		not_ok "$1: $_stuck rounds left a host behind"
	no_overlap "$1" $((2 * $6))
}

agent_config a "group: web"
agent_config b "group: web"
at() { [ "$(cat "$T/root-$1/opt/hello/running" 2>/dev/null)" = "$2" ]; }
LEASE=$FTPD_ROOT_1/repo/groups/web/lease

release 1.0.0
channel 1 1.0.0
expect_exit 0 "a: 1.0.0 installs with group: web" $UPGR -c "$T/a.yaml"
expect_exit 0 "b: 1.0.0 installs with group: web" $UPGR -c "$T/b.yaml"
[ ! -e "$LEASE" ] && ok "no lease is left after the installs" ||
	not_ok "a lease is left after the installs"

# --- 20 upgrades, both hosts started in the same instant --------------------
: >"$LOG"
bad=0 waited=0 stuck=0 noisy=0
for i in $(seq 1 20); do
	v=1.$i.0
	release $v
	channel $((i + 1)) $v
	"$UPGR" -c "$T/a.yaml" >"$T/a.out" 2>&1 & pa=$!
	"$UPGR" -c "$T/b.yaml" >"$T/b.out" 2>&1 & pb=$!
	wait $pa; ra=$?
	wait $pb; rb=$?
	[ $ra = 0 ] && [ $rb = 0 ] || bad=$((bad + 1))
	# Under cron an upgrade is said; a wait is not.
	if grep -qv '^hello: upgraded ' "$T/a.out" "$T/b.out"; then
		noisy=$((noisy + 1)); cat "$T/a.out" "$T/b.out" >>"$T/noise"
	fi
	grep -qs '^state: "waiting"' "$T/a-state/apps/hello/status.yaml" "$T/b-state/apps/hello/status.yaml" &&
		waited=$((waited + 1))
	# The next cron tick of whoever waited.
	for tick in 1 2 3; do
		for h in a b; do at $h $v || "$UPGR" -c "$T/$h.yaml" >/dev/null 2>&1; done
	done
	at a $v && at b $v || stuck=$((stuck + 1))
done
[ $bad = 0 ] && ok "20 rounds: every run exits 0" || not_ok "20 rounds: $bad rounds had a failing run"
[ $noisy = 0 ] && ok "20 rounds: the runs say their upgrade and nothing else (cron)" ||
	{ not_ok "20 rounds: $noisy rounds printed more than the upgrades"; head -5 "$T/noise" | sed 's/^/#   /'; }
[ $stuck = 0 ] && ok "20 rounds: both hosts reach each version" ||
	not_ok "20 rounds: $stuck rounds left a host behind"
[ $waited -gt 0 ] && ok "20 rounds: the host that lost the race said waiting ($waited rounds)" ||
	not_ok "20 rounds: no run ever said waiting"
no_overlap "20 rounds" 40
[ ! -e "$LEASE" ] && ok "20 rounds: no lease is left" || not_ok "20 rounds: a lease is left"

# --- a lease another host holds is never taken before it expires ------------
release 2.0.0
channel 30 2.0.0
mkdir -p "$LEASE"
printf 'host: host-z\nexpires: %s\nnonce: 0123456789abcdef\n' "$(utc '+30 minutes')" >"$LEASE/holder"
chown -R "$FTPD_USER:" "$FTPD_ROOT_1/repo/groups"
cp "$LEASE/holder" "$T/z-holder"
expect_exit 0 "host-z holds the lease: a waits, exit 0" $UPGR -c "$T/a.yaml"
quiet "host-z holds the lease: a prints nothing under cron"
expect_grep "$T/a-state/apps/hello/status.yaml" '^waiting: "group lease held by host-z until ' \
	"a's status says who holds the lease and until when"
expect_grep "$T/a-state/apps/hello/status.yaml" '^staged: "2\.0\.0"' "a's status names the staged version"
expect_exit 0 "host-z holds the lease: b waits too, 29 minutes later" \
	env UPGR_NOW=$(date -d '+29 minutes' +%s) $UPGR -c "$T/b.yaml"
at a 1.20.0 && at b 1.20.0 && ok "neither host stopped under host-z's lease" ||
	not_ok "a host upgraded under another host's lease"
expect_same "$T/z-holder" "$LEASE/holder" "host-z's lease is untouched"
expect_exit 0 "host-z holds the lease: a --dry-run exits 0" $UPGR --dry-run -c "$T/a.yaml"
expect_same "$T/z-holder" "$LEASE/holder" "a dry run leaves host-z's lease alone"
expect_exit 0 "host-z's lease expired: a takes over" \
	env UPGR_NOW=$(date -d '+31 minutes' +%s) $UPGR -c "$T/a.yaml"
at a 2.0.0 && ok "a upgraded once host-z's lease expired" || not_ok "a did not upgrade"
expect_no_grep "$T/a-state/apps/hello/status.yaml" '^state: "(waiting|staged)' "a's status no longer says waiting"
[ ! -e "$LEASE" ] && ok "a released the lease after its health check" ||
	not_ok "a left the lease"
expect_exit 0 "b upgrades after a" $UPGR -c "$T/b.yaml"
at b 2.0.0 && ok "b runs 2.0.0" || not_ok "b did not upgrade"

# --- a host killed while it holds the lease ---------------------------------
release 3.0.0
channel 31 3.0.0
: >"$T/hang-a"
rm -f "$T/hung-a"
"$UPGR" -c "$T/a.yaml" >"$T/a.out" 2>&1 & pa=$!
n=0; while [ ! -s "$T/hung-a" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
grep -qs '^host: host-a' "$LEASE/holder" && ok "a holds the lease while it stops" ||
	not_ok "a stops without the lease"
kill -9 $pa; wait $pa 2>/dev/null
kill "$(cat "$T/hung-a")" 2>/dev/null
rm -f "$T/hang-a"
expect_exit 0 "a was killed: b waits while a's lease lasts" $UPGR -c "$T/b.yaml"
expect_grep "$T/b-state/apps/hello/status.yaml" '^waiting: "group lease held by host-a until ' \
	"b's status names host-a"
at b 2.0.0 && ok "b did not stop under the dead host's live lease" || not_ok "b upgraded"
expect_exit 0 "a's lease expired: b breaks it and upgrades" \
	env UPGR_NOW=$(date -d '+31 minutes' +%s) $UPGR -c "$T/b.yaml"
at b 3.0.0 && ok "b runs 3.0.0 after the dead host's lease expired" || not_ok "b did not upgrade"
[ ! -e "$LEASE" ] && ok "b released its lease" || not_ok "b left a lease"
# a's next run recovers its transaction first (rolls back to 2.0.0 and
# starts it), then upgrades under a lease of its own.
expect_exit 0 "a's next run recovers and upgrades" $UPGR -c "$T/a.yaml"
at a 3.0.0 && ok "a runs 3.0.0 after its recovery" || not_ok "a is not at 3.0.0"
[ ! -e "$LEASE" ] && ok "no lease left after a's recovery" || not_ok "a lease is left"
# Killed again, holding a lease that has not expired: its own next run
# recovers, releases that lease and takes a fresh one.
release 3.1.0
channel 32 3.1.0
: >"$T/hang-a"
rm -f "$T/hung-a"
"$UPGR" -c "$T/a.yaml" >"$T/a.out" 2>&1 & pa=$!
n=0; while [ ! -s "$T/hung-a" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
kill -9 $pa; wait $pa 2>/dev/null
kill "$(cat "$T/hung-a")" 2>/dev/null
rm -f "$T/hang-a"
grep -qs '^host: host-a' "$LEASE/holder" && ok "a was killed holding the lease" ||
	not_ok "a was killed without the lease"
expect_exit 0 "a's next run, within the lease: recovers and upgrades" $UPGR -c "$T/a.yaml"
at a 3.1.0 && ok "a runs 3.1.0" || not_ok "a is not at 3.1.0"
[ ! -e "$LEASE" ] && ok "a's recovery released its own lease" || not_ok "a's lease is left"
expect_exit 0 "b upgrades at once after a's recovery" $UPGR -c "$T/b.yaml"
at b 3.1.0 && ok "b runs 3.1.0" || not_ok "b is not at 3.1.0"
# A tick with nothing to do asks the server nothing about the lease (each
# tick read the holder, to release one a crashed run might have left: the
# local marker STATE/lease-taken now says when there can be one).
l0=$(wc -l <"$FTPD_LOG_1")
expect_exit 0 "a: a tick with nothing to do" $UPGR -c "$T/a.yaml"
n=$(sed -n "$((l0 + 1)),\$p" "$FTPD_LOG_1" | grep -c '"CWD lease"\|holder')
[ "$n" = 0 ] && ok "... asks the server nothing about the lease" ||
	not_ok "... made $n requests about the lease"
[ ! -e "$T/a-state/lease-taken" ] && [ ! -e "$T/b-state/lease-taken" ] &&
	ok "... and no lease marker is left on either host" || not_ok "a lease marker is left"
[ -z "$(ls -A "$FTPD_ROOT_1/repo/groups/web")" ] && ok "no temporary directory is left on the server" ||
	not_ok "left on the server: $(ls -A "$FTPD_ROOT_1/repo/groups/web")"

# --- the same over file:// (rename(2) and mkdir(2) are the atomic steps) -----
for h in c d; do
	agent_config $h "group: db"
	set_servers "$T/$h.yaml" "file://$FTPD_ROOT_1/repo"
	expect_exit 0 "$h: installs over file://" $UPGR -c "$T/$h.yaml"
done
race "file://, 5 rounds" c d 4 40 5
[ ! -e "$FTPD_ROOT_1/repo/groups/db/lease" ] && ok "file://: no lease is left" ||
	not_ok "file://: a lease is left"

# --- and over sftp:// (OpenSSH: mkdir, rmdir, rename) ------------------------
. "$UPGR_TOP/tests/lib/sshd.sh"
if ! sshd_can_run 2>"$T/why"; then
	ok "sftp:// # SKIP: $(cat "$T/why")"
elif ! sshd_start 2>"$T/why"; then
	not_ok "sshd starts: $(cat "$T/why")"
else
	sftp_repo() { mkdir -p "$SSHD_ROOT/repo"; cp -R "$REPO/." "$SSHD_ROOT/repo/"
		chown -R "$FTPD_USER:" "$SSHD_ROOT/repo"; }
	sftp_repo
	for h in e f; do
		agent_config $h "group: app"
		set_servers "$T/$h.yaml" "${SSHD_URL}repo"
		sed -i "/^netrc:/d" "$T/$h.yaml"
		printf 'ssh_key: %s\nssh_known_hosts: %s\n' "$SSHD_KEY" "$SSHD_KNOWN_HOSTS" >>"$T/$h.yaml"
		expect_exit 0 "$h: installs over sftp://" $UPGR -c "$T/$h.yaml"
	done
	race "sftp://, 5 rounds" e f 5 50 5 sftp_repo
	[ -z "$(ls -A "$SSHD_ROOT/repo/groups/app" 2>/dev/null)" ] &&
		ok "sftp://: no lease and no temporary directory is left" ||
		not_ok "sftp://: left: $(ls -A "$SSHD_ROOT/repo/groups/app")"
fi
