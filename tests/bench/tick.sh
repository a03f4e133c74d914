#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: a no-op cron tick (`upgr run` with nothing new: fetch the
# channel file and its signature, verify, see the installed version) vs
# one curl process fetching the same two files from the same local vsftpd
# over one connection; and the same tick under a trust root (trust_root:,
# the publisher's key holding the release and channel roles: root/N+1 is
# looked for once a day, so the tick fetches the same two files) vs
# trusted_keys:. Per tick, the best of BENCH_TRIES batches of TICKS
# (default 20) ticks, interleaved.
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
bench_ftp_host a "$FTPD_URL_1"
# Install, then one more run so that the report is up to date.
"$UPGR" -c "$B/a.yaml" >/dev/null && "$UPGR" -c "$B/a.yaml" >/dev/null ||
	{ echo "tick: the install failed" >&2; exit 1; }

# The same host under a trust root (the same state: 1.0.0 is installed).
"$UPGR" keygen -W "$B/rv" >/dev/null 2>&1 || { echo "tick: keygen failed" >&2; exit 1; }
{
	printf 'upgr: 1\ntype: root\nversion: 1\nexpires: 2099-01-01T00:00:00Z\nkeys:\n'
	printf '  pk: %s\n  rv: %s\nroles:\n' "$(sed -n 2p "$B/pk.pub")" "$(sed -n 2p "$B/rv.pub")"
	printf '  root: { keys: [pk], threshold: 1 }\n  release: { keys: [pk], threshold: 1 }\n'
	printf '  approve: { keys: [rv], threshold: 1 }\n  channel: { keys: [pk], threshold: 1 }\n'
} >"$B/root.yaml"
sed "s|^trusted_keys: .*|trust_root: $B/root.yaml|" "$B/a.yaml" >"$B/r.yaml"
chmod 644 "$B/r.yaml" "$B/root.yaml"
"$UPGR" -c "$B/r.yaml" >/dev/null || { echo "tick: the trust root tick failed" >&2; exit 1; }

ch=${FTPD_URL_1}repo/apps/bench/channels/stable.yaml
upgr_ticks() {
	_i=0
	while [ "$_i" -lt "$TICKS" ]; do
		"$UPGR" -c "$B/${1:-a}.yaml" || return 1
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
bu="" bc="" br=""
i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	t0=$(ms); upgr_ticks >"$B/out" 2>&1 || { cat "$B/out" >&2; exit 1; }
	t=$(($(ms) - t0)); { [ -z "$bu" ] || [ "$t" -lt "$bu" ]; } && bu=$t
	t0=$(ms); curl_ticks || exit 1
	t=$(($(ms) - t0)); { [ -z "$bc" ] || [ "$t" -lt "$bc" ]; } && bc=$t
	t0=$(ms); upgr_ticks r >"$B/out-r" 2>&1 || { cat "$B/out-r" >&2; exit 1; }
	t=$(($(ms) - t0)); { [ -z "$br" ] || [ "$t" -lt "$br" ]; } && br=$t
	i=$((i + 1))
done
[ -s "$B/out" ] && { echo "tick: the no-op tick printed:" >&2; head -3 "$B/out" >&2; }
[ -s "$B/out-r" ] && { echo "tick: the trust root tick printed:" >&2; head -3 "$B/out-r" >&2; }
logins=$(($(ftpd_logins 1) - logins0))
per_u=$(awk -v t="$bu" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }')
per_c=$(awk -v t="$bc" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }')
per_r=$(awk -v t="$br" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }')
echo "no-op tick: upgr $per_u ms, with a trust root $per_r ms, curl $per_c ms (logins per tick: $((logins / (BENCH_TRIES * TICKS * 3))))" >&2
record tick_root "$per_r"
record tick_upgr "$per_u"
record tick_curl "$per_c"
