#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: fetch only what is missing (issue 17.1, src/objects.h). A
# release of 20,000 files / 200 MB (BENCH_FETCH: "FILES BYTES") published
# with `upgr publish` to a local vsftpd, installed by a host over FTP; then
# a release changing 10 of its files. Bytes on the wire are the vsftpd
# log's (OK DOWNLOAD lines) between two points:
#   - the upgrade's bytes vs the budget 1.2 x the changed files' objects
#     (their compressed size) + the metadata (channel, manifest, the
#     change index from 1.0.0, and their signatures); and vs the whole
#     payload, what a host fetched
#     before (no target, for sizing);
#   - the upgrade's time vs rsync -a --delete of the same change between
#     the two trees (each the best of BENCH_TRIES; the upgrade rolled back
#     and unheld, untimed, between tries);
#   - a no-op tick of the 20,000-file app (host current: nothing to
#     parse, no file looked at), the peer tick.sh's 10-file app, both
#     timed per tick over batches of TICKS ticks;
#   - a first install's time (best of BENCH_TRIES, each on a fresh host)
#     vs the same host fetching the same release from a repository without
#     objects (what `upgr publish` made before), or with BENCH_OLD (an
#     upgr binary built before objects) that binary on that repository.
. "$(dirname "$0")/lib/common.sh"
. "$TOP/tests/lib/ftpd.sh"
: "${BENCH_FETCH:=20000 209715200}"
set -- $BENCH_FETCH
nfiles=$1 nbytes=$2
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"
ftpd_can_run || exit 1
ftpd_start 2 >/dev/null || exit 1
export SVC_LOG=/dev/null
OLD=${BENCH_OLD:-$UPGR}

"$UPGR" keygen -W "$B/pk" >/dev/null 2>&1 || { echo "fetch: keygen failed" >&2; exit 1; }
$mkrel tree "$B/s1" "$nfiles" "$nbytes" 1 && $mkrel author "$B/s1" bench 1.0.0 &&
	$mkrel tree "$B/s2" "$nfiles" "$nbytes" 2 "$B/s1" 10 && $mkrel author "$B/s2" bench 2.0.0 ||
	exit 1
R1=$FTPD_ROOT_1/repo R2=$FTPD_ROOT_2/repo
pub() {
	"$UPGR" publish --repo "file://$R1" --key "$B/pk.key" --from "$B/$1" \
		"$B/$1/manifest.yaml" >/dev/null 2>"$B/publish.err" || { cat "$B/publish.err" >&2; exit 1; }
	chown -R "$FTPD_USER:" "$FTPD_ROOT_1"
}
t0=$(ms); pub s1; echo "fetch: publish of 1.0.0 (objects included): $(($(ms) - t0)) ms" >&2
# Server 2: the same release as a publish without objects left it.
mkdir -p "$R2" && cp -R "$R1/." "$R2/" && rm -rf "$R2/apps/bench/objects" &&
	rm -f "$R2"/apps/bench/releases/*/objects.yaml* && chown -R "$FTPD_USER:" "$FTPD_ROOT_2"

# first_new, first_old: one first install each, timed into t.
# (and its CPU time, user + system, in ms into c: steadier on a shared
# machine than the wall clock).
first() {
	bench_ftp_host "$1" "$2"; sync
	t0=$(ms)
	/usr/bin/time -f '%U %S' -o "$B/cpu" "$3" run -c "$B/$1.yaml" >/dev/null || exit 1
	t=$(($(ms) - t0))
	c=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$B/cpu")
}
first_new() {
	first n "$FTPD_URL_1" "$UPGR"
	{ [ -z "$bn" ] || [ "$t" -lt "$bn" ]; } && bn=$t
	{ [ -z "$cn" ] || [ "$c" -lt "$cn" ]; } && cn=$c
}
first_old() {
	first o "$FTPD_URL_2" "$OLD"
	{ [ -z "$bo" ] || [ "$t" -lt "$bo" ]; } && bo=$t
	{ [ -z "$co" ] || [ "$c" -lt "$co" ]; } && co=$c
}
# First installs, interleaved (which goes first alternates): objects
# published (new) vs none (before). Host n ends with 1.0.0 installed.
bn="" bo="" cn="" co="" i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	if [ $((i % 2)) = 0 ]; then first_old; first_new; else first_new; first_old; fi
	i=$((i + 1))
done
echo "fetch: first install $bn ms ($cn ms CPU), before objects $bo ms ($co ms CPU)" >&2

# The upgrade: host n has 1.0.0 installed.
pub s2
cp "$R1/apps/bench/channels/stable.yaml"* "$R2/apps/bench/channels/" 2>/dev/null
L1=$FTPD_LOG_1
n0=$(wc -l <"$L1")
t0=$(ms); "$UPGR" run -c "$B/n.yaml" >/dev/null || { echo "fetch: upgrade failed" >&2; exit 1; }
tu=$(($(ms) - t0))
n1=$(wc -l <"$L1")
wire_bytes=$(sed -n "$((n0 + 1)),${n1}p" "$L1" | grep 'OK DOWNLOAD' |
	sed -n 's/.*", \([0-9]*\) bytes,.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
nobj=$(sed -n "$((n0 + 1)),${n1}p" "$L1" | grep 'OK DOWNLOAD' | grep -c '/objects/')
A=$R1/apps/bench
# The changed files' objects: contents in 2.0.0's manifest and not in 1.0.0's.
sed -n 's/^ *sha256: "*\([0-9a-f]*\)"*$/\1/p' "$A/releases/1.0.0/manifest.yaml" | sort -u >"$B/h1"
sed -n 's/^ *sha256: "*\([0-9a-f]*\)"*$/\1/p' "$A/releases/2.0.0/manifest.yaml" | sort -u >"$B/h2"
changed=0 nchanged=0
for h in $(comm -13 "$B/h1" "$B/h2"); do
	f=$A/objects/$(echo "$h" | cut -c1-2)/$h.gz
	[ -f "$f" ] || continue          # the payload's own hash line
	changed=$((changed + $(stat -c %s "$f"))); nchanged=$((nchanged + 1))
done
# The metadata: the channel file, the manifest and the index a host with
# 1.0.0 reads (the change index from 1.0.0, where publish wrote one), each
# with its signature.
ix=releases/2.0.0/objects.yaml
[ -f "$A/releases/2.0.0/delta/1.0.0.yaml" ] && ix=releases/2.0.0/delta/1.0.0.yaml
meta=0
for f in channels/stable.yaml channels/stable.yaml.minisig releases/2.0.0/manifest.yaml \
	releases/2.0.0/manifest.yaml.minisig $ix $ix.minisig; do
	meta=$((meta + $(stat -c %s "$A/$f")))
done
payload=$(stat -c %s "$A/releases/2.0.0/payload.tar.gz")
budget=$(awk -v c="$changed" -v m="$meta" 'BEGIN { printf "%d", 1.2 * c + m }')
echo "fetch: upgrade of $nchanged changed files: $wire_bytes bytes on the wire ($nobj objects; changed objects $changed, metadata $meta, budget $budget), payload $payload; first try $tu ms" >&2
record fetch_first_new "$bn"
record fetch_first_old "$bo"
record fetch_first_cpu_new "$cn"
record fetch_first_cpu_old "$co"
record fetch_inc_wire "$wire_bytes"
record fetch_inc_budget "$budget"
record fetch_inc_changed "$changed"
record fetch_inc_meta "$meta"
record fetch_inc_payload "$payload"

# The same change by rsync -a --delete between the two trees (local: no
# network, no check of any byte), the peer of the whole upgrade above
# (fetch of the objects over FTP, the quick check, stage, swap, commit),
# interleaved with the upgrade again, so that the machine's moods fall on
# both alike: each the best of BENCH_TRIES (the upgrade's first try is
# the one above, whose bytes are counted; before each other one it is
# rolled back and unheld, and the rsync target put back, untimed).
br=""
i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	rm -rf "$B/rs"; cp -a "$B/s1" "$B/rs"; sync
	t0=$(ms); rsync -a --delete "$B/s2/" "$B/rs/" || exit 1; t=$(($(ms) - t0))
	{ [ -z "$br" ] || [ "$t" -lt "$br" ]; } && br=$t
	i=$((i + 1))
	[ "$i" -lt "$BENCH_TRIES" ] || break
	"$UPGR" rollback -c "$B/n.yaml" bench >/dev/null && "$UPGR" unhold -c "$B/n.yaml" bench >/dev/null ||
		{ echo "fetch: rollback for the next try failed" >&2; exit 1; }
	sync
	t0=$(ms); "$UPGR" run -c "$B/n.yaml" >/dev/null || { echo "fetch: upgrade failed" >&2; exit 1; }
	t=$(($(ms) - t0)); [ "$t" -lt "$tu" ] && tu=$t
done
rm -rf "$B/rs"
echo "fetch: upgrade of $nchanged changed files, best of $BENCH_TRIES: $tu ms" >&2
echo "fetch: rsync -a --delete of the same change: $br ms" >&2
record fetch_inc_ms "$tu"
record fetch_inc_rsync "$br"

# A no-op tick of the 20,000-file app (host n is current): the cost of no
# change, which should not grow with the release (tick.sh's 10-file app
# is the peer); and the same tick by the binary before (BENCH_OLD). Timed
# as tick.sh times its peer: per tick, the best of BENCH_TRIES batches of
# TICKS (default 20) ticks, so neither figure carries the clock's own
# cost (a date process) or a single run's jitter.
: "${TICKS:=20}"
idle() {
	_best=""
	for _i in $(seq "$BENCH_TRIES"); do
		t0=$(ms)
		_k=0
		while [ "$_k" -lt "$TICKS" ]; do
			"$1" run -c "$B/n.yaml" >/dev/null || return 1
			_k=$((_k + 1))
		done
		_t=$(($(ms) - t0))
		{ [ -z "$_best" ] || [ "$_t" -lt "$_best" ]; } && _best=$_t
	done
	awk -v t="$_best" -v n="$TICKS" 'BEGIN { printf "%.1f", t / n }'
}
ti=$(idle "$UPGR") || { echo "fetch: no-op tick failed" >&2; exit 1; }
to=$(idle "$OLD") || to="?"
echo "fetch: no-op tick of the 20,000-file app: $ti ms (the binary before: $to ms)" >&2
record fetch_idle_ms "$ti"
