#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# fleetsim: size your version servers. Simulates a fleet of hosts on this
# machine, each with its own root, state directory, device key and config,
# all running `upgr run` against M local vsftpd servers (balance: random)
# that serve one release of a given payload size; reports the time until
# every host is upgraded and has reported, and each server's connections
# and logins (from vsftpd's log).
#
#   usage: sh tests/bench/fleetsim.sh [-n HOSTS] [-m SERVERS] [-s BYTES]
#                                     [-p PARALLEL] [-f FILES]
#     -n HOSTS     simulated hosts (default 100)
#     -m SERVERS   vsftpd servers (default 1)
#     -s BYTES     payload size, incompressible (default 1000000; k/M suffix ok)
#     -f FILES     files in the release (default 10)
#     -p PARALLEL  hosts running at once (default: all HOSTS: a fleet whose
#                  cron fires at the same second). Lower it to model
#                  `upgr run --splay`: the fleet then arrives in waves.
#
# For profiling one host: FLEETSIM_DEBUG=1 first runs the hosts one by one,
# each under $FLEETSIM_WRAP if set (e.g. "strace -c -f -o FILE"), printing
# each one's time (the timed run then finds them all current).
# Needs root (vsftpd logs in a local user and chroots) and the packages of
# `make deps`. Prints one summary line; with BENCH_RESULTS set (make
# bench) also records fleet_* measures. Exits 1 if a host did not end
# upgraded and reported.
. "$(dirname "$0")/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"

usage() { sed -n '/^#   usage/,/^#$/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
hosts=100 servers=1 size=1000000 files=10 par=""
while getopts n:m:s:f:p:h o; do
	case $o in
	n) hosts=$OPTARG ;; m) servers=$OPTARG ;; s) size=$OPTARG ;;
	f) files=$OPTARG ;; p) par=$OPTARG ;; *) usage ;;
	esac
done
case $size in *k) size=$((${size%k} * 1000)) ;; *M) size=$((${size%M} * 1000000)) ;; esac
for v in "$hosts" "$servers" "$size" "$files" "${par:-1}"; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
: "${par:=$hosts}"
ftpd_can_run || exit 1

# Passive ports: one per data connection open at a time on a server.
FTPD_PASV_PORTS=$((par / servers + 100))
[ "$FTPD_PASV_PORTS" -gt 2000 ] && FTPD_PASV_PORTS=2000
ftpd_start "$servers" >/dev/null || exit 1

# The release, published once and copied to every server.
"$UPGR" keygen -W "$B/pk" >/dev/null 2>&1 || { echo "fleetsim: keygen failed" >&2; exit 1; }
python3 "$TOP/tests/bench/lib/mkrel.py" tree "$B/src" "$files" "$size" 1 &&
	python3 "$TOP/tests/bench/lib/mkrel.py" author "$B/src" bench 1.0.0 || exit 1
"$UPGR" publish --repo "file://$B/repo" --key "$B/pk.key" "$B/src/manifest.yaml" \
	>/dev/null 2>"$B/publish.err" || { cat "$B/publish.err" >&2; exit 1; }
i=1
urls=""
while [ "$i" -le "$servers" ]; do
	eval "r=\$FTPD_ROOT_$i u=\$FTPD_URL_$i"
	cp -R "$B/repo" "$r/repo"
	chown -R "$FTPD_USER:" "$r"
	urls="$urls \"${u}repo\","
	i=$((i + 1))
done

# Each host's config (its own root, state, key and log).
mkdir -p "$B/h"
i=1
while [ "$i" -le "$hosts" ]; do
	cat >"$B/h/$i.yaml" <<-EOF
	host: sim-$i
	servers: [${urls%,} ]
	balance: random
	netrc: $FTPD_NETRC
	apps: [ bench ]
	root: $B/h/$i-root
	state_dir: $B/h/$i-state
	trusted_keys: [ $B/pk.pub ]
	device_key: $B/h/$i-device.key
	audit_log: $B/h/$i-audit.log
	EOF
	i=$((i + 1))
done
chmod 0644 "$B"/h/*.yaml
sync

# Go: PARALLEL hosts at once, each `upgr run` once (the cron tick).
export SVC_LOG=/dev/null
t0=$(ms)
[ -n "${FLEETSIM_DEBUG:-}" ] && for i in $(seq 1 "$hosts"); do a=$(ms); ${FLEETSIM_WRAP:-} "$UPGR" -c "$B/h/$i.yaml"; echo "host $i $(($(ms) - a)) ms"; done
seq 1 "$hosts" | xargs -P "$par" -I@ sh -c \
	'"$1" -c "$2/@.yaml" >"$2/@.out" 2>&1 || echo "host @: exit $?" >>"$2/failed"' \
	sh "$UPGR" "$B/h"
t=$(($(ms) - t0))

# Every host upgraded (its status says 1.0.0) and reported (its status on
# one of the servers).
done_local=$(grep -l "1.0.0" "$B"/h/*-state/apps/bench/status.yaml 2>/dev/null | wc -l)
reported=0 conns="" logins=""
i=1
while [ "$i" -le "$servers" ]; do
	eval "r=\$FTPD_ROOT_$i l=\$FTPD_LOG_$i"
	n=$(find "$r/repo/reports" -name status.yaml 2>/dev/null | wc -l)
	reported=$((reported + n))
	conns="$conns $(grep -c '\] CONNECT: ' "$l" || true)"
	logins="$logins $(grep -c 'OK LOGIN' "$l" || true)"
	i=$((i + 1))
done
echo "fleetsim: $hosts hosts, $servers server(s), payload $(stat -c %s "$B/repo/apps/bench/releases/1.0.0/payload.tar.gz") bytes ($files files), $par at once: $done_local upgraded, $reported reported in $t ms; connections per server:$conns; logins:$logins"
if [ -s "$B/h/failed" ]; then
	echo "fleetsim: $(wc -l <"$B/h/failed") host(s) failed, e.g.:" >&2
	head -3 "$B/h/failed" >&2
	f=$(sed -n '1s/host \([0-9]*\):.*/\1/p' "$B/h/failed")
	[ -n "$f" ] && sed 's/^/  /' "$B/h/$f.out" | head -5 >&2
fi
if [ -n "${BENCH_RECORD_FLEET:-}" ]; then
	record "${BENCH_RECORD_FLEET}_ms" "$t"
	record "${BENCH_RECORD_FLEET}_hosts" "$hosts"
	record "${BENCH_RECORD_FLEET}_ok" "$((done_local < reported ? done_local : reported))"
	record "${BENCH_RECORD_FLEET}_par" "$par"
	record "${BENCH_RECORD_FLEET}_servers" "$servers"
	record "${BENCH_RECORD_FLEET}_conns" "$(echo $conns | awk '{ for (i = 1; i <= NF; i++) s += $i; print s + 0 }')"
fi
[ "$done_local" = "$hosts" ] && [ "$reported" = "$hosts" ]
