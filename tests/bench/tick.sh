#!/bin/sh
# Benchmark: a no-op cron tick (`upgr run` with nothing new: fetch the
# channel file and its signature, verify, see the installed version) vs
# one curl process fetching the same two files from the same local vsftpd
# over one connection. Per tick, the best of BENCH_TRIES batches of
# TICKS (default 20) ticks, the two interleaved.
. "$(dirname "$0")/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"
: "${TICKS:=20}"
ftpd_can_run || exit 1
ftpd_start 1 >/dev/null || exit 1
export SVC_LOG=/dev/null

"$UPGR" keygen -W "$B/pk" >/dev/null 2>&1 || { echo "tick: keygen failed" >&2; exit 1; }
python3 "$TOP/tests/bench/lib/mkrel.py" tree "$B/src" 10 100000 1 &&
	python3 "$TOP/tests/bench/lib/mkrel.py" author "$B/src" bench 1.0.0 || exit 1
"$UPGR" publish --repo "${FTPD_URL_1}repo" --netrc "$FTPD_NETRC" --key "$B/pk.key" \
	"$B/src/manifest.yaml" >/dev/null 2>"$B/publish.err" || { cat "$B/publish.err" >&2; exit 1; }
cat >"$B/a.yaml" <<EOF
host: tick
servers: [ "${FTPD_URL_1}repo" ]
netrc: $FTPD_NETRC
apps: [ bench ]
root: $B/root
state_dir: $B/state
trusted_keys: [ $B/pk.pub ]
device_key: $B/device.key
audit_log: $B/audit.log
EOF
chmod 644 "$B/a.yaml"
# Install, then one more run so that the report is up to date.
"$UPGR" -c "$B/a.yaml" >/dev/null && "$UPGR" -c "$B/a.yaml" >/dev/null ||
	{ echo "tick: the install failed" >&2; exit 1; }

ch=${FTPD_URL_1}repo/apps/bench/channels/stable.yaml
upgr_ticks() {
	_i=0
	while [ "$_i" -lt "$TICKS" ]; do
		"$UPGR" -c "$B/a.yaml" || return 1
		_i=$((_i + 1))
	done
}
curl_ticks() {
	_i=0
	while [ "$_i" -lt "$TICKS" ]; do
		curl -sSf --netrc-file "$FTPD_NETRC" -o "$B/ch" "$ch" -o "$B/ch.minisig" "$ch.minisig" ||
			return 1
		_i=$((_i + 1))
	done
}
logins0=$(ftpd_logins 1)
bu="" bc=""
i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	t0=$(ms); upgr_ticks >"$B/out" 2>&1 || { cat "$B/out" >&2; exit 1; }
	t=$(($(ms) - t0)); { [ -z "$bu" ] || [ "$t" -lt "$bu" ]; } && bu=$t
	t0=$(ms); curl_ticks || exit 1
	t=$(($(ms) - t0)); { [ -z "$bc" ] || [ "$t" -lt "$bc" ]; } && bc=$t
	i=$((i + 1))
done
[ -s "$B/out" ] && { echo "tick: the no-op tick printed:" >&2; head -3 "$B/out" >&2; }
logins=$(($(ftpd_logins 1) - logins0))
per_u=$(awk -v t="$bu" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }')
per_c=$(awk -v t="$bc" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }')
echo "no-op tick: upgr $per_u ms, curl $per_c ms (logins per tick, both: $((logins / (BENCH_TRIES * TICKS * 2))))" >&2
record tick_upgr "$per_u"
record tick_curl "$per_c"
