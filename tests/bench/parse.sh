#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: reading a 20,000-file release's metadata (issue 17: each parse
# at most about 2x libyaml's bare event loop over the same file). The
# release is written by `upgr publish` (manifest.yaml, objects.yaml); the
# program tests/bench/parse.c times ydoc_parse, manifest_parse and
# objects_index_parse against libyaml's event loop, and quickcheck_load
# against splitting the same record into fields, and prints the ratios.
#   BENCH_PARSE="FILES TRIES"  default "20000 7"
. "$(dirname "$0")/lib/common.sh"
set -- ${BENCH_PARSE:-20000 7}
nfiles=$1 tries=$2
build=${UPGR_BUILD:-build/plain}
prog="$TOP/$build/bench/parse"
mkrel="python3 $TOP/tests/bench/lib/mkrel.py"

make -C "$TOP" --no-print-directory "$build/bench/parse" >/dev/null ||
	{ echo "parse: cannot build $prog" >&2; exit 1; }
# The files' bytes do not matter here: 16 each keeps the setup short.
$mkrel tree "$B/src" "$nfiles" $((nfiles * 16)) 1 && $mkrel author "$B/src" bench 1.0.0 ||
	{ echo "parse: mkrel failed" >&2; exit 1; }
"$UPGR" keygen -W "$B/pk" >/dev/null 2>&1 || { echo "parse: keygen failed" >&2; exit 1; }
"$UPGR" publish --repo "file://$B/repo" --key "$B/pk.key" --from "$B/src" \
	"$B/src/manifest.yaml" >/dev/null 2>"$B/publish.err" || { cat "$B/publish.err" >&2; exit 1; }
rel="$B/repo/apps/bench/releases/1.0.0"
mkdir -p "$B/state"
record parse_files "$nfiles"
"$prog" "$rel/manifest.yaml" "$rel/objects.yaml" "$B/state" "$tries" >>"$BENCH_RESULTS" ||
	{ echo "parse: $prog failed" >&2; exit 1; }
