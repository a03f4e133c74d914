#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: peak memory (maximum resident set size, /usr/bin/time -v) of
# `upgr apply` installing a release whose payload is about 1 GB
# (MEM_BYTES; incompressible data, 256 files), and of the same with a
# 64 MB payload, to show it does not grow with the payload. Needs about
# 4 x MEM_BYTES free where the scratch directory is (BENCH_TMP).
. "$(dirname "$0")/lib/common.sh"
: "${MEM_BYTES:=1073741824}"
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"
export SVC_LOG=/dev/null
free=$(($(df -Pk "$B" | awk 'NR == 2 { print $4 }') * 1024))
if [ "$free" -lt $((MEM_BYTES * 4)) ]; then
	echo "memory: $B has $free bytes free, needs $((MEM_BYTES * 4)); set BENCH_TMP" >&2
	exit 1
fi
bench_key

# rss BYTES: peak RSS in kB of installing a release of BYTES.
rss() {
	$mkrel tree "$B/src" 256 "$1" 1 &&
		$mkrel seal "$B/src" bench 1.0.0 "$B/rel" 0 &&
		bench_sign "$B/rel" bench 1.0.0 || exit 1
	rm -rf "$B/src" "$B/root" "$B/m-state"
	bench_config m "$B/root"
	/usr/bin/time -v -o "$B/time.out" "$UPGR" apply -c "$B/m.yaml" "$B/rel" >/dev/null ||
		{ echo "memory: upgr apply failed" >&2; exit 1; }
	rm -rf "$B/rel" "$B/root" "$B/m-state" "$B/m-audit.log"
	sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$B/time.out"
}
small=$(rss 67108864)
big=$(rss "$MEM_BYTES")
echo "peak RSS of upgr apply: $big kB with a $MEM_BYTES-byte payload, $small kB with 64 MB" >&2
record mem_big_kb "$big"
record mem_small_kb "$small"
record mem_bytes "$MEM_BYTES"
