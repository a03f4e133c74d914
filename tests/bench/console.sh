#!/bin/sh
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
