#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the management console reading a fleet. 1000 hosts' reports
# (CONSOLE_HOSTS) on one local vsftpd; `upgr fleet status` lists
# reports/ and fetches every status.yaml and the channel file over one
# connection, vs the peer: curl listing the same directory and fetching
# the same 1000 files over one connection (a URL glob). Also counts the
# logins upgr made (one is the aim: libcurl connection reuse).
dir=$(dirname "$0")
. "$dir/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"
: "${CONSOLE_HOSTS:=1000}"

ftpd_start 1 >/dev/null || exit 1
repo=$FTPD_ROOT_1/repo
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
i=1
while [ "$i" -le "$CONSOLE_HOSTS" ]; do
	h=$(printf 'host-%04d' "$i")
	mkdir -p "$repo/reports/$h"
	cat >"$repo/reports/$h/status.yaml" <<-EOF
	upgr: 1
	host: "$h"
	time: "$now"
	apps:
	  - app: "hello"
	    version: "1.0.0"
	    result: "success"
	    time: "$now"
	    action: "install"
	    from: ""
	    to: "1.0.0"
	    error: ""
	EOF
	i=$((i + 1))
done
chown -R "$FTPD_USER:" "$repo"
last=$(printf '%04d' "$CONSOLE_HOSTS")

console() {
	$UPGR fleet status --repo "${FTPD_URL_1}repo" --netrc "$FTPD_NETRC" --json >"$B/fleet.json"
	[ $? -le 1 ] || return 1      # 1 is "not all healthy", fine here
	[ "$(grep -c '"host": "host-' "$B/fleet.json")" = "$CONSOLE_HOSTS" ]
}

peer() {
	curl -s --netrc-file "$FTPD_NETRC" -l "${FTPD_URL_1}repo/reports/" >/dev/null &&
	curl -s --netrc-file "$FTPD_NETRC" -o /dev/null \
		"${FTPD_URL_1}repo/reports/host-[0001-$last]/status.yaml"
}

before=$(ftpd_logins 1)
console || { echo "bench: upgr fleet status failed" >&2; exit 1; }
logins=$(($(ftpd_logins 1) - before))
u=$(best console)
p=$(best peer)
record console_hosts "$CONSOLE_HOSTS"
record console_upgr "$u"
record console_curl "$p"
record console_logins "$logins"
echo "fleet status over $CONSOLE_HOSTS hosts: upgr $u ms ($logins login), curl $p ms" >&2

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
