#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the management console reading a fleet. CONSOLE_HOSTS
# (10,000) hosts' reports (tests/lib/fleetgen.py, an hour old) on one local
# vsftpd; `upgr fleet status` lists reports/ and fetches every status.yaml
# over its parallel connections: a first run with an empty cache and a
# second with the cache of the first (it asks each file's SIZE and MDTM,
# fetches none), vs the peer: curl listing the same directory and fetching
# the same files over one connection (a URL glob). Also counts the logins
# of a run, and reads a CONSOLE_BIG_HOSTS (100,000) report tree from
# file:// for time and peak memory.
dir=$(dirname "$0")
. "$dir/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"
: "${CONSOLE_HOSTS:=10000}"
: "${CONSOLE_BIG_HOSTS:=100000}"

FTPD_PASV_PORTS=400
ftpd_start 1 >/dev/null || exit 1
repo=$FTPD_ROOT_1/repo
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
python3 "$TOP/tests/lib/fleetgen.py" "$repo" "$CONSOLE_HOSTS" "$now" >/dev/null
find "$repo" -type f -exec touch -d '-1 hour' {} +
chown -R "$FTPD_USER:" "$repo"
last=$(printf '%05d' "$CONSOLE_HOSTS")

status() {
	$UPGR fleet status --repo "${FTPD_URL_1}repo" --netrc "$FTPD_NETRC" --cache "$B/cache" \
		--json >"$B/fleet.json"
	[ $? -le 1 ] || return 1      # 1 is "not all healthy", fine here
	[ "$(grep -c '"host": "host-' "$B/fleet.json")" = "$CONSOLE_HOSTS" ]
}
first() { rm -rf "$B/cache" && status; }

peer() {
	curl -s --netrc-file "$FTPD_NETRC" -l "${FTPD_URL_1}repo/reports/" >/dev/null &&
	curl -s --netrc-file "$FTPD_NETRC" -o /dev/null \
		"${FTPD_URL_1}repo/reports/host-[00001-$last]/status.yaml"
}

before=$(ftpd_logins 1)
first || { echo "bench: upgr fleet status failed" >&2; exit 1; }
logins=$(($(ftpd_logins 1) - before))
u1=$(best first)
status
u2=$(best status)
p=$(best peer)
record console_hosts "$CONSOLE_HOSTS"
record console_upgr "$u1"
record console_upgr_cached "$u2"
record console_curl "$p"
record console_logins "$logins"
echo "fleet status over $CONSOLE_HOSTS hosts: upgr $u1 ms first, $u2 ms cached ($logins logins), curl $p ms" >&2

# A large fleet's tree read from file://: the console's own work and memory.
big=$B/big
python3 "$TOP/tests/lib/fleetgen.py" "$big" "$CONSOLE_BIG_HOSTS" "$now" >/dev/null
big_console() {
	$UPGR fleet status --no-cache --repo "file://$big" --problems >"$B/big.txt"
	[ $? -le 1 ]
}
bt=$(best big_console)
/usr/bin/time -f '%M' -o "$B/big.rss" $UPGR fleet status --no-cache --repo "file://$big" \
	--problems >/dev/null
record console_big_hosts "$CONSOLE_BIG_HOSTS"
record console_big_ms "$bt"
record console_big_kb "$(tail -1 "$B/big.rss")"
echo "fleet status --problems over $CONSOLE_BIG_HOSTS hosts (file://): $bt ms, $(tail -1 "$B/big.rss") KB peak" >&2

# The wide case: CONSOLE_WIDE_HOSTS hosts x CONSOLE_WIDE_APPS apps (200 x
# 256, the most a report may list) from a file:// repository, so the time
# is the console's own work (parsing, classifying, counting, rendering).
: "${CONSOLE_WIDE_HOSTS:=200}"
: "${CONSOLE_WIDE_APPS:=256}"
wide=$B/wide
python3 - "$wide" "$CONSOLE_WIDE_HOSTS" "$CONSOLE_WIDE_APPS" "$now" <<'PY'
import os, sys
root, hosts, apps, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for h in range(1, hosts + 1):
    name = "host-%04d" % h
    d = os.path.join(root, "reports", name)
    os.makedirs(d)
    lines = ['upgr: 1', 'host: "%s"' % name, 'time: "%s"' % now, 'apps:']
    for a in range(apps):
        v = "1.%d.0" % (h % 3)
        lines += ['  - app: "app-%03d"' % a, '    version: "%s"' % v,
                  '    result: "success"', '    time: "%s"' % now,
                  '    action: "upgrade"', '    from: "1.0.0"', '    to: "%s"' % v,
                  '    error: ""']
    open(os.path.join(d, "status.yaml"), "w").write("\n".join(lines) + "\n")
PY
wide_console() {
	$UPGR fleet status --repo "file://$wide" --json >"$B/wide.json"
	[ $? -le 1 ] || return 1
	[ "$(grep -c '"host": "host-' "$B/wide.json")" = $((CONSOLE_WIDE_HOSTS * CONSOLE_WIDE_APPS)) ]
}
w=$(best wide_console)
record console_wide_rows $((CONSOLE_WIDE_HOSTS * CONSOLE_WIDE_APPS))
record console_wide_upgr "$w"
echo "fleet status --json over $CONSOLE_WIDE_HOSTS hosts x $CONSOLE_WIDE_APPS apps (file://): upgr $w ms" >&2
