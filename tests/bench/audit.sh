#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `upgr audit verify` on a 100,000-record log. Target (issue 6):
# under 2 s by default (every hash, the newest signature). Also the cost of
# --every-signature, on 2,000 records. The logs are written in one go by
# the unit test binary through audit_format (placeholder signatures but the
# newest in the big one: the default verify checks only that one).
# Prints one line per measure; exits 1 if the target is missed.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${UPGR_BUILD:-build/plain}
gen="$top/$build/tests/test_audit"
upgr=${UPGR:-$top/upgr}
[ -x "$gen" ] || make -C "$top" --no-print-directory "$build/tests/test_audit" >/dev/null
n=${AUDIT_BENCH_RECORDS:-100000}
t=$(mktemp -d "${TMPDIR:-/tmp}/upgr-bench.XXXXXX")
trap 'rm -rf "$t"' EXIT
ms() { echo $(($(date +%s%N) / 1000000)); }

"$gen" --bench "$t/big.log" "$t/device.key" "$n" | sed 's/^/  /'
t0=$(ms)
"$upgr" audit verify -p "$t/device.pub" "$t/big.log" >/dev/null
t1=$(ms)
"$gen" --bench "$t/small.log" "$t/device.key" 2000 all | sed 's/^/  /'
t2=$(ms)
"$upgr" audit verify -p "$t/device.pub" --every-signature "$t/small.log" >/dev/null
t3=$(ms)
printf 'audit verify, %d records, default:  %5d ms (target < 2000 ms)\n' "$n" $((t1 - t0))
printf 'audit verify, 2000 records, --every-signature: %5d ms (%s ms per signature)\n' \
	$((t3 - t2)) "$(awk -v t=$((t3 - t2)) 'BEGIN { printf "%.2f", t / 2000 }')"
# For the table of make bench (tests/bench/run).
if [ -n "${BENCH_RESULTS:-}" ]; then
	printf 'audit_records %s\naudit_ms %s\n' "$n" $((t1 - t0)) >>"$BENCH_RESULTS"
fi
[ $((t1 - t0)) -lt 2000 ]
