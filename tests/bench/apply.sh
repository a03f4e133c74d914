#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: applying an upgrade where every file changes, for a small
# (1000 files, 64 MB) and a large (20,000 files, 200 MB) release: upgr vs
# tests/bench/patent.sh (curl, tar, cp -a backup, stop, cp -a, start) vs
# rsync -a --delete from an unpacked tree (between stop and start) vs the
# limit (bsdtar -xf of the payload plus sha256sum of its files). Then an
# upgrade changing 10 of the 20,000 files, upgr vs rsync: upgr apply of the
# release as `upgr publish` left it in a file:// repository (objects
# beside the payload), and of a release directory with only the payload;
# and how many renames it makes in the target (strace). Each figure is the best of
# BENCH_TRIES runs, the methods interleaved so that load hits them alike;
# `sync` before each run so no one pays for the setup's writes.
# Sizes: BENCH_SMALL and BENCH_LARGE ("FILES BYTES").
. "$(dirname "$0")/lib/common.sh"
: "${BENCH_SMALL:=1000 67108864}"
: "${BENCH_LARGE:=20000 209715200}"
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"
export SVC_LOG=/dev/null
bench_key

# release LABEL VER SRC: seal and sign SRC as bench VER into $B/rel/LABEL-VER.
release() {
	$mkrel seal "$3" bench "$2" "$B/rel/$1-$2" &&
		bench_sign "$B/rel/$1-$2" bench "$2"
}

# down_of LOG: downtime_ms of the last audit record.
down_of() { last_field "$1" downtime_ms; }

# upgr_install LABEL VER: a fresh root, state and log with VER installed.
upgr_install() {
	rm -rf "$B/uroot" "$B/u-state" "$B/u-audit.log"
	bench_config u "$B/uroot"
	"$UPGR" apply -c "$B/u.yaml" "$B/rel/$1-$2" >/dev/null || exit 1
}

# upgr_trial LABEL TO [DIR]: time the upgrade of the installed root to TO
# (from DIR, default $B/rel/LABEL-TO), then (untimed) roll back to where
# it was, for the next trial.
upgr_trial() {
	sync
	_t0=$(ms)
	"$UPGR" apply -c "$B/u.yaml" "${3:-$B/rel/$1-$2}" >/dev/null || exit 1
	t_upgr=$(($(ms) - _t0))
	d_upgr=$(down_of "$B/u-audit.log")
	"$UPGR" rollback -c "$B/u.yaml" bench >/dev/null || exit 1
}

patent_trial() {
	rm -rf "$B/proot"
	mkdir -p "$B/proot"
	cp -a "$2" "$B/proot/bench"
	sync
	_t0=$(ms)
	sh "$TOP/tests/bench/patent.sh" "file://$B/rel/$1/payload.tar.gz" "$B/proot/bench" \
		>"$B/patent.out" || exit 1
	t_patent=$(($(ms) - _t0))
	d_patent=$(sed -n 's/^downtime_ms //p' "$B/patent.out")
}

# rsync_trial FROM-TREE TO-TREE: the service is down while rsync runs.
rsync_trial() {
	rm -rf "$B/rroot"
	mkdir -p "$B/rroot"
	cp -a "$1" "$B/rroot/bench"
	sync
	_t0=$(ms)
	"$B/rroot/bench/bin/svc-ctl" stop
	rsync -a --delete "$2/" "$B/rroot/bench/" || exit 1
	"$B/rroot/bench/bin/svc-ctl" start
	t_rsync=$(($(ms) - _t0))
}

# rsync_next TO-TREE BACK-TREE: time the rsync of the installed tree to
# TO-TREE, then (untimed) back to BACK-TREE for the next try.
rsync_next() {
	sync
	_t0=$(ms)
	"$B/rroot/bench/bin/svc-ctl" stop
	rsync -a --delete "$1/" "$B/rroot/bench/" || exit 1
	"$B/rroot/bench/bin/svc-ctl" start
	t_rsync=$(($(ms) - _t0))
	rsync -a --delete "$2/" "$B/rroot/bench/" || exit 1
}

limit_trial() {
	rm -rf "$B/lim"
	mkdir -p "$B/lim"
	sync
	_t0=$(ms)
	bsdtar -xf "$B/rel/$1/payload.tar.gz" -C "$B/lim" || exit 1
	(cd "$B/lim" && find . -type f -print0 | xargs -0 sha256sum >/dev/null) || exit 1
	t_limit=$(($(ms) - _t0))
	# And made durable, as upgr makes its staged files (one syncfs).
	sync -f "$B/lim"
	t_limit_sync=$(($(ms) - _t0))
}

min() { if [ -z "$1" ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }

# size LABEL FILES BYTES: the every-file-changes upgrade, all four ways.
size() {
	$mkrel tree "$B/$1-src1" "$2" "$3" 1
	$mkrel tree "$B/$1-src2" "$2" "$3" 2 "$B/$1-src1" all
	release "$1" 1.0.0 "$B/$1-src1"
	release "$1" 2.0.0 "$B/$1-src2"
	bu="" bp="" br="" bl="" bs="" du="" dp=""
	upgr_install "$1" 1.0.0
	i=0
	while [ "$i" -lt "$BENCH_TRIES" ]; do
		upgr_trial "$1" 2.0.0
		bu=$(min "$bu" "$t_upgr") du=$(min "$du" "$d_upgr")
		patent_trial "$1-2.0.0" "$B/$1-src1"
		bp=$(min "$bp" "$t_patent") dp=$(min "$dp" "$d_patent")
		rsync_trial "$B/$1-src1" "$B/$1-src2"
		br=$(min "$br" "$t_rsync")
		limit_trial "$1-2.0.0"
		bl=$(min "$bl" "$t_limit") bs=$(min "$bs" "$t_limit_sync")
		i=$((i + 1))
	done
	echo "apply $1 ($2 files, $3 bytes): upgr $bu ms (down $du), script $bp ms (down $dp), rsync $br ms, limit $bl ms ($bs with sync -f)" >&2
	record "apply_${1}_upgr" "$bu"
	record "apply_${1}_patent" "$bp"
	record "apply_${1}_rsync" "$br"
	record "apply_${1}_limit" "$bl"
	record "apply_${1}_limit_sync" "$bs"
	record "down_${1}_upgr" "$du"
	record "down_${1}_patent" "$dp"
	record "down_${1}_rsync" "$br"
}

# shellcheck disable=SC2086
size small $BENCH_SMALL
# shellcheck disable=SC2086
size large $BENCH_LARGE
rm -rf "$B/small-src1" "$B/small-src2" "$B/rel"/small-* "$B/lim" "$B/proot"

# --- 10 of the large release's files change ---------------------------------
# As `upgr publish` leaves them in a file:// repository (the objects
# beside the payload: upgr apply takes the 10 from there), and as a
# release directory with only the payload (which upgr must read whole to
# check its sha256): the second is shown, not held to rsync.
n=${BENCH_LARGE%% *} bytes=${BENCH_LARGE#* }
$mkrel tree "$B/large-src3" "$n" "$bytes" 3 "$B/large-src2" 10
$mkrel tree "$B/large-src4" "$n" "$bytes" 4 "$B/large-src2" 10
release large 2.0.1 "$B/large-src3"
RD=$B/repo/apps/bench/releases
for v in 2:2.0.0 3:2.0.1 4:2.0.2; do
	$mkrel author "$B/large-src${v%%:*}" bench "${v#*:}" &&
		"$UPGR" publish --repo "file://$B/repo" --key "$B/rel.key" --from "$B/large-src${v%%:*}" \
			--state-dir "$B/pub-state" "$B/large-src${v%%:*}/manifest.yaml" >/dev/null 2>"$B/pub.err" ||
		{ cat "$B/pub.err" >&2; exit 1; }
done
bu="" br="" du="" bw=""
rm -rf "$B/uroot" "$B/u-state" "$B/u-audit.log"
"$UPGR" apply -c "$B/u.yaml" "$RD/2.0.0" >/dev/null || exit 1
rm -rf "$B/rroot"
mkdir -p "$B/rroot"
cp -a "$B/large-src2" "$B/rroot/bench"
i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	upgr_trial large 2.0.1 "$RD/2.0.1"
	bu=$(min "$bu" "$t_upgr") du=$(min "$du" "$d_upgr")
	rsync_next "$B/large-src3" "$B/large-src2"
	br=$(min "$br" "$t_rsync")
	upgr_trial large 2.0.1
	bw=$(min "$bw" "$t_upgr")
	i=$((i + 1))
done
# Count the renames of one more such upgrade (2.0.0 -> 2.0.2): those
# into the target (strace -y names the directory fds), and all of them.
sync
strace -f -y -qq -e trace=rename,renameat,renameat2 -o "$B/strace.out" \
	"$UPGR" apply -c "$B/u.yaml" "$RD/2.0.2" >/dev/null || exit 1
total=$(grep -c '^[0-9]* *rename' "$B/strace.out")
# The third argument names the destination: count those in the target.
into=$(awk -v t="<$B/uroot/opt/bench" '/rename/ {
	n = split($0, a, ", "); if (index(a[3], t) > 0) c++ } END { print c + 0 }' "$B/strace.out")
echo "apply 10 of $n changed: upgr $bu ms from the repository (down $du), $bw ms from the payload alone, rsync $br ms; renames into the target: $into of $total" >&2
record apply_inc_upgr "$bu"
record apply_inc_upgr_payload "$bw"
record apply_inc_rsync "$br"
record down_inc_upgr "$du"
record inc_renames_target "$into"
record inc_renames_total "$total"
record inc_changed 10
record inc_files "$n"
