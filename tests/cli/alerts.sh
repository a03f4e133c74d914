# SPDX-License-Identifier: Apache-2.0
# One alert per problem (issue 15, point 6), against a real vsftpd and a
# real rsyslogd: under cron a persisting problem (an expired channel,
# every server down) prints once when it starts, once when it changes and
# once when it clears; a channel about to expire warns once a day; every
# run writes one syslog line (facility daemon, ident upgr) whether or not
# it printed.
#
# rsyslogd runs here on a socket of its own (imuxsock), and upgr sends to
# it through UPGR_SYSLOG_SOCKET (runlog.h says why not /dev/log).
. "$(dirname "$0")/../lib/testlib.sh"
if ! command -v rsyslogd >/dev/null 2>&1; then
	echo "ok - # SKIP alerts: no rsyslogd (tests/lib/deps.sh installs rsyslog)"
	exit 0
fi
. "$UPGR_TOP/tests/lib/agentrepo.sh"

# --- a private rsyslogd -------------------------------------------------------
mkdir -p "$T/rsyslog"
cat >"$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$T/log.sock")
template(name="line" type="string"
	string="%syslogfacility-text% %syslogseverity-text% %programname% %msg%\n")
*.* action(type="omfile" file="$T/syslog.out" template="line")
EOF
rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.pid" >"$T/rsyslog.log" 2>&1 &
RSYSLOG_PID=$!
stop_rsyslog() { kill "$RSYSLOG_PID" 2>/dev/null; wait "$RSYSLOG_PID" 2>/dev/null; }
at_exit stop_rsyslog
n=0; while [ ! -S "$T/log.sock" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -S "$T/log.sock" ] || { not_ok "rsyslogd listens"; cat "$T/rsyslog.log"; exit 1; }
UPGR_SYSLOG_SOCKET=$T/log.sock; export UPGR_SYSLOG_SOCKET

# loglines N: wait until rsyslogd has written N upgr lines; print the count.
loglines() {
	_n=0
	while [ "$(grep -c ' upgr ' "$T/syslog.out" 2>/dev/null)" -lt "$1" ] 2>/dev/null &&
		[ $_n -lt 200 ]; do sleep 0.05; _n=$((_n + 1)); done
	grep -c ' upgr ' "$T/syslog.out" 2>/dev/null || true
}

# ticks N: N cron ticks; the lines they printed, together, in $T/ticks.
ticks() {
	: >"$T/ticks"
	_i=0
	while [ $_i -lt "$1" ]; do
		run $UPGR $A
		cat "$T/out" "$T/err" >>"$T/ticks"
		_i=$((_i + 1))
	done
}

agent_config a
A="-c $T/a.yaml"
release 1.0.0
channel 1 1.0.0
expect_exit 0 "1.0.0 installs" $UPGR $A
[ "$(loglines 1)" = 1 ] && ok "the install wrote one syslog line" ||
	not_ok "syslog lines: $(loglines 1)"
expect_grep "$T/syslog.out" "^daemon info upgr +run exit 0: hello success 1\.0\.0$" \
	"the line is facility daemon, ident upgr, and names the outcome"
ticks 1
[ ! -s "$T/ticks" ] && [ "$(loglines 2)" = 2 ] && ok "a quiet tick still writes its syslog line" ||
	not_ok "quiet tick: printed $(wc -l <"$T/ticks"), syslog $(loglines 2)"
expect_grep "$T/syslog.out" "run exit 0: hello current 1\.0\.0$" "a current app's line"

# --- an expired channel over five ticks ---------------------------------------
CH_EXPIRES=$(utc '-1 minute') channel 2 1.0.0
ticks 5
[ "$rc" = 77 ] && ok "the fifth tick still exits 77" || not_ok "fifth tick exit $rc"
[ "$(wc -l <"$T/ticks")" = 1 ] && ok "an expired channel over 5 ticks prints once" ||
	{ not_ok "5 ticks printed $(wc -l <"$T/ticks") lines"; sed 's/^/#   /' "$T/ticks"; }
expect_grep "$T/ticks" "expired" "the one line says expired"
[ "$(loglines 7)" = 7 ] && ok "the 5 ticks wrote one syslog line each" ||
	not_ok "syslog lines after 5 ticks: $(loglines 7), want 7"
[ "$(grep -c '^daemon err upgr  *run exit 77: hello refused 1\.0\.0 (hello: .*expired' "$T/syslog.out")" = 5 ] &&
	ok "each says exit 77, refused, why, at priority err" ||
	{ not_ok "syslog lines"; sed 's/^/#   /' "$T/syslog.out"; }

# --- it changes: every server down ------------------------------------------
ftpd_stop 1
ticks 3
[ "$rc" = 69 ] && ok "every server down: 69" || not_ok "servers down exit $rc"
[ "$(wc -l <"$T/ticks")" = 1 ] && ok "the problem changed: said once over 3 ticks" ||
	{ not_ok "printed $(wc -l <"$T/ticks")"; sed 's/^/#   /' "$T/ticks"; }
expect_grep "$T/ticks" "no server answered" "the line says no server answered"
ftpd_restart 1

# --- it clears -----------------------------------------------------------------
channel 3 1.0.0
ticks 3
[ "$rc" = 0 ] && ok "a fresh channel: exit 0" || not_ok "exit $rc"
[ "$(wc -l <"$T/ticks")" = 1 ] && ok "the problem clearing is said once over 3 ticks" ||
	{ not_ok "printed $(wc -l <"$T/ticks")"; sed 's/^/#   /' "$T/ticks"; }
expect_grep "$T/ticks" "^hello: recovered \(was: unavailable, channel stable\)$" "the line names what cleared"

# --- a channel about to expire: a warning once a day ----------------------
CH_EXPIRES=$(utc '+3 days') channel 4 1.0.0
ticks 3
[ "$(wc -l <"$T/ticks")" = 1 ] && ok "a channel expiring in 3 days warns once over 3 ticks" ||
	{ not_ok "printed $(wc -l <"$T/ticks")"; sed 's/^/#   /' "$T/ticks"; }
expect_grep "$T/ticks" "^upgr: warning: hello: channel stable expires at .* \(in 7[012]h [0-9]{2}m\)" \
	"the warning says when"
# A day later (the note of the last warning set back a day): once more.
echo $(( $(date +%s) - 86401 )) >"$T/a-state/apps/hello/expiry-warned"
ticks 2
[ "$(grep -c 'expires at' "$T/ticks")" = 1 ] && ok "a day later it warns once again" ||
	not_ok "a day later: $(grep -c 'expires at' "$T/ticks") warnings"
cp "$T/a.yaml" "$T/b.yaml"
echo "expiry_warning: 2d" >>"$T/b.yaml"
rm -f "$T/a-state/apps/hello/expiry-warned"
expect_exit 0 "expiry_warning: 2d" $UPGR -c "$T/b.yaml"
quiet "a channel 3 days from expiry is not within expiry_warning: 2d"
cp "$T/a.yaml" "$T/b.yaml"
echo "expiry_warning: 7 days" >>"$T/b.yaml"
expect_exit 65 "a malformed expiry_warning is refused" $UPGR -c "$T/b.yaml"
expect_grep "$T/err" "expiry_warning: expected days" "and says what it wants"

# --- no trusted key: refused metadata before any poll --------------------------
sed 's/^trusted_keys:.*/trusted_keys: []/' "$T/a.yaml" >"$T/nokeys.yaml"
chmod 0644 "$T/nokeys.yaml"
A="-c $T/nokeys.yaml"
ticks 3
A="-c $T/a.yaml"
[ "$rc" = 77 ] && ok "no trusted keys: 77" || not_ok "no trusted keys: exit $rc"
[ "$(wc -l <"$T/ticks")" = 1 ] && ok "no trusted keys over 3 ticks: said once" ||
	{ not_ok "printed $(wc -l <"$T/ticks")"; sed 's/^/#   /' "$T/ticks"; }

# --- on a terminal, every tick says it ------------------------------------
CH_EXPIRES=$(utc '-1 minute') channel 5 1.0.0
if command -v script >/dev/null 2>&1; then
	script -qec "$UPGR $A; $UPGR $A" /dev/null >"$T/tty.out" 2>&1
	[ "$(grep -c expired "$T/tty.out")" = 2 ] && ok "on a terminal each tick says the problem" ||
		{ not_ok "terminal: $(grep -c expired "$T/tty.out") lines"; sed 's/^/#   /' "$T/tty.out"; }
fi
