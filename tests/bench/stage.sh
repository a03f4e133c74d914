#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: making staged files durable (issue 14 point 12). A first
# install of a release of 20,000 small files (BENCH_STAGE: "FILES BYTES"),
# staged and flushed with one syncfs (what upgr does on ext4, XFS, btrfs,
# tmpfs) vs an fsync per staged file (UPGR_STAGE_FSYNC=1: what it does on
# FUSE and every file system not known to honour syncfs). Best of
# BENCH_TRIES, the two interleaved, `sync` before each. BENCH_TMP's file
# system decides what is measured: on tmpfs both are nearly free.
. "$(dirname "$0")/lib/common.sh"
: "${BENCH_STAGE:=20000 20480000}"
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"
export SVC_LOG=/dev/null
bench_key
set -- $BENCH_STAGE
n=$1 bytes=$2
$mkrel tree "$B/stage-src" "$n" "$bytes" 5 || exit 1
$mkrel seal "$B/stage-src" bench 1.0.0 "$B/rel/stage-1.0.0" &&
	bench_sign "$B/rel/stage-1.0.0" bench 1.0.0 || exit 1

# install_trial: a first install into an empty root, timed; prints ms.
install_trial() {
	rm -rf "$B/sroot" "$B/s-state" "$B/s-audit.log"
	bench_config s "$B/sroot"
	sync
	_t0=$(ms)
	"$UPGR" apply -c "$B/s.yaml" "$B/rel/stage-1.0.0" >/dev/null || exit 1
	echo $(($(ms) - _t0))
}

best_syncfs="" best_fsync=""
i=0
while [ "$i" -lt "$BENCH_TRIES" ]; do
	t=$(install_trial) || exit 1
	[ -z "$best_syncfs" ] || [ "$t" -lt "$best_syncfs" ] && best_syncfs=$t
	t=$(UPGR_STAGE_FSYNC=1 install_trial) || exit 1
	[ -z "$best_fsync" ] || [ "$t" -lt "$best_fsync" ] && best_fsync=$t
	i=$((i + 1))
done
echo "stage $n files on $(stat -f -c %T "$B"): syncfs ${best_syncfs} ms, fsync each ${best_fsync} ms" >&2
record stage_files "$n"
record stage_syncfs "$best_syncfs"
record stage_fsync "$best_fsync"
