#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The upgrade as the patent describes it, done plainly in shell, for the
# benchmarks to compare upgr with:
#   usage: patent.sh URL TARGET
# download the package with curl, unpack it with tar into a temporary
# directory, back up the installed copy with cp -a (TARGET.bak), stop the
# service, copy the new files over the target with cp -a, start the
# service. Prints "downtime_ms N" (stop started -> start finished).
set -eu
[ $# = 2 ] || { echo "usage: patent.sh URL TARGET" >&2; exit 2; }
url=$1 target=$2
ms() { echo $(($(date +%s%N) / 1000000)); }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/patent.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

curl -sSf -o "$tmp/package.tar.gz" "$url"
mkdir "$tmp/new"
tar -xzf "$tmp/package.tar.gz" -C "$tmp/new"
rm -rf "$target.bak"
cp -a "$target" "$target.bak"
t0=$(ms)
"$target/bin/svc-ctl" stop
cp -a "$tmp/new/." "$target/"
"$target/bin/svc-ctl" start
t1=$(ms)
echo "downtime_ms $((t1 - t0))"
