#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Two or more upgr builds side by side on fetch.sh's upgrade: a release of
# BENCH_FETCH ("FILES BYTES", default 20,000 files / 200 MB) published to a
# local vsftpd with objects and installed over FTP, then a release changing
# 10 of its files. Each build in turn runs that upgrade (after an untimed
# rollback and unhold), ROUNDS times (default 12), so the machine's moods
# fall on all of them alike; per build, the best and the mean wall time
# and CPU time (user + system); then rsync -a --delete of the same change
# between the two trees, best of 3. Not part of `make bench`: it compares
# builds with each other, not upgr with a peer.
#
#   AB="/tmp/old/upgr ./upgr" sh tests/bench/versus.sh
. "$(dirname "$0")/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"
: "${BENCH_FETCH:=20000 209715200}" "${ROUNDS:=12}" "${AB:=$UPGR}"
set -- $BENCH_FETCH
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"
ftpd_can_run || exit 1
ftpd_start 1 >/dev/null || exit 1
export SVC_LOG=/dev/null

"$UPGR" keygen -W "$B/pk" >/dev/null 2>&1 || { echo "versus: keygen failed" >&2; exit 1; }
$mkrel tree "$B/s1" "$1" "$2" 1 && $mkrel author "$B/s1" bench 1.0.0 &&
	$mkrel tree "$B/s2" "$1" "$2" 2 "$B/s1" 10 && $mkrel author "$B/s2" bench 2.0.0 ||
	exit 1
R=$FTPD_ROOT_1/repo
pub() {
	"$UPGR" publish --repo "file://$R" --key "$B/pk.key" --from "$B/$1" \
		"$B/$1/manifest.yaml" >/dev/null 2>"$B/publish.err" || { cat "$B/publish.err" >&2; exit 1; }
	chown -R "$FTPD_USER:" "$FTPD_ROOT_1"
}
bench_ftp_host n "$FTPD_URL_1"
pub s1
"$UPGR" run -c "$B/n.yaml" >/dev/null || { echo "versus: the first install failed" >&2; exit 1; }
pub s2
"$UPGR" run -c "$B/n.yaml" >/dev/null || { echo "versus: the upgrade failed" >&2; exit 1; }

round=0
while [ "$round" -lt "$ROUNDS" ]; do
	for u in $AB; do
		{ "$u" rollback -c "$B/n.yaml" bench && "$u" unhold -c "$B/n.yaml" bench; } >/dev/null ||
			exit 1
		sync
		t0=$(ms)
		/usr/bin/time -f '%U %S' -o "$B/cpu" "$u" run -c "$B/n.yaml" >/dev/null || exit 1
		echo "$u $(($(ms) - t0)) $(awk '{ printf "%d", ($1 + $2) * 1000 }' "$B/cpu")"
	done
	round=$((round + 1))
done >"$B/times"
awk '{ n[$1]++; w[$1] += $2; c[$1] += $3
       if (!($1 in bw) || $2 < bw[$1]) bw[$1] = $2
       if (!($1 in bc) || $3 < bc[$1]) bc[$1] = $3 }
     END { for (k in n) printf "%s: wall best %d ms, mean %d; cpu best %d ms, mean %d (%d rounds)\n",
                              k, bw[k], w[k] / n[k], bc[k], c[k] / n[k], n[k] }' "$B/times"

cp -a "$B/s1" "$B/rs"
br=""
for _i in 1 2 3; do
	sync
	t0=$(ms); rsync -a --delete "$B/s2/" "$B/rs/" || exit 1; t=$(($(ms) - t0))
	{ [ -z "$br" ] || [ "$t" -lt "$br" ]; } && br=$t
	rsync -a --delete "$B/s1/" "$B/rs/" || exit 1
done
echo "rsync -a --delete of the same change: best $br ms"
